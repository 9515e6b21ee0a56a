//! The plugin's audio engine, free of any plugin framework so the CLI, the tests and the
//! nice-plug glue drive the same code.
//!
//! * *FX clone*: live input → the FX chain with the current knobs. No added latency.
//! * *Tone clone*: live input (a mono guitar, a hexaphonic pickup, or MIDI notes) → the
//!   live trackers at the model rate ([`crate::live`], fed by [`downsample`]) → the tone
//!   controls ([`tone`]) → the decoder on its own thread ([`decoder_worker`]) → six
//!   oscillators + noise at the host rate → the FX chain.
//!
//! [`Engine::process`] is the audio thread's whole job: it never allocates, locks or
//! blocks once built (shown by `tests/no_alloc.rs`), flushes no NaN to the host (a block
//! that goes non-finite is silenced and the chain reset), and takes any block size.

pub mod decoder_worker;
pub mod downsample;
pub mod tone;

use crate::fx::FxChain;
use crate::inference::{Model, ModelInfo};
use crate::knobs::Knobs;
use crate::live::hex::HexTracker;
use crate::live::midi::{MidiEvent, MidiMapping, MidiVoices};
use crate::live::poly::PolyTracker;
use crate::live::{StringFrame, STRINGS};
use crate::synth::{Synth, SynthFrame};
use decoder_worker::{DecoderLink, DecoderWorker};
use downsample::Downsampler;
pub use tone::{db_to_gain, ToneControls, ToneShaper};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    FxClone,
    ToneClone,
}

/// Where tone clone reads the player's notes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveSource {
    /// The main input, mixed to mono: the polyphonic tracker.
    Mono,
    /// Six channels, one per string (channel 0 = low E): one tracker per string.
    Hex,
    /// MIDI notes (a MIDI guitar, one channel per string, or any keyboard).
    Midi,
}

/// Everything the host's parameters set, read once per block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineParams {
    pub mode: Mode,
    pub source: LiveSource,
    pub knobs: Knobs,
    /// 0 = only the dry input, 1 = only the processed signal.
    pub dry_wet: f32,
    pub output_gain_db: f32,
    pub tone: ToneControls,
}

impl Default for EngineParams {
    fn default() -> Self {
        EngineParams { mode: Mode::FxClone, source: LiveSource::Mono, knobs: Knobs::default(), dry_wet: 1.0, output_gain_db: 0.0, tone: ToneControls::default() }
    }
}

/// A fixed delay for the dry path, so dry and wet line up in tone clone. Its buffer is
/// sized for the longest latency up front; changing the delay only changes `len`.
struct DryDelay {
    buf: Vec<f32>,
    len: usize,
    pos: usize,
}

impl DryDelay {
    fn new(capacity: usize) -> Self {
        DryDelay { buf: vec![0.0; capacity], len: 0, pos: 0 }
    }

    fn set_len(&mut self, len: usize) {
        self.len = len.min(self.buf.len());
        self.pos = 0;
        self.buf.fill(0.0);
    }

    fn process(&mut self, x: &mut [f32]) {
        if self.len == 0 {
            return;
        }
        // Each sample trades places with the one `len` samples older, in runs up to the
        // ring's end (a swap and a modulo per sample were most of `Engine::process`'s
        // own samples in `perf`).
        let mut x = x;
        while !x.is_empty() {
            let n = (self.len - self.pos).min(x.len());
            let (run, rest) = x.split_at_mut(n);
            run.swap_with_slice(&mut self.buf[self.pos..self.pos + n]);
            self.pos = (self.pos + n) % self.len;
            x = rest;
        }
    }

    fn reset(&mut self) {
        self.buf.fill(0.0);
    }
}

/// The tone-clone path (present when a model is loaded).
struct ToneEngine {
    link: DecoderLink,
    shaper: ToneShaper,
    down: [Downsampler; STRINGS],
    at_model_rate: [Vec<f32>; STRINGS],
    mono: Vec<f32>,
    hex: HexTracker,
    poly: PolyTracker,
    midi: MidiVoices,
    /// Host samples since the last MIDI frame, and host samples per frame.
    midi_clock: f64,
    host_hop: f64,
    synth: Synth,
    wet: Vec<f32>,
    f0: [f32; STRINGS],
    controls: [f32; STRINGS * 3],
    /// Decoded frames allowed to wait for the synth (about one host block's worth).
    keep_ready: usize,
    frames_sent: u64,
    /// Per source: samples at the host rate between the playing and the sound.
    latency: [usize; 3],
}

impl ToneEngine {
    fn latency(&self, source: LiveSource) -> usize {
        self.latency[source as usize]
    }
}

pub struct Engine {
    host_rate: f32,
    max_block: usize,
    fx: FxChain,
    knobs: Knobs,
    tone: Option<ToneEngine>,
    dry: Vec<Vec<f32>>,
    dry_delay: Vec<DryDelay>,
    delayed_for: Option<(Mode, LiveSource)>,
    dry_wet: f32,
    gain: f32,
    silenced_blocks: u64,
}

impl Engine {
    /// An engine for `channels` main channels at `host_rate`, blocks of up to `max_block`
    /// samples (longer blocks are cut up), with FX clone only.
    pub fn new(host_rate: f32, max_block: usize, channels: usize, knobs: &Knobs) -> Self {
        let max_block = max_block.max(1);
        Engine {
            host_rate,
            max_block,
            fx: FxChain::new(host_rate, channels, knobs),
            knobs: *knobs,
            tone: None,
            dry: vec![vec![0.0; max_block]; channels],
            dry_delay: (0..channels).map(|_| DryDelay::new(0)).collect(),
            delayed_for: None,
            dry_wet: 1.0,
            gain: 1.0,
            silenced_blocks: 0,
        }
    }

    /// Adds tone clone with `model`'s decoder on its own thread, timbre `z` to start.
    /// Call off the audio thread; the returned worker owns the thread (drop it after the
    /// engine stops processing) and takes new timbres ([`DecoderWorker::set_z`]).
    pub fn attach_model(&mut self, model: &Model, z: Vec<f32>) -> std::io::Result<DecoderWorker> {
        let (worker, link) = DecoderWorker::spawn(model, z)?;
        let tone = ToneEngine::new(&model.info, link, self.host_rate, self.max_block);
        let longest = tone.latency.iter().copied().max().unwrap_or(0);
        self.dry_delay = (0..self.dry.len()).map(|_| DryDelay::new(longest)).collect();
        self.tone = Some(tone);
        self.delayed_for = None;
        Ok(worker)
    }

    pub fn has_model(&self) -> bool {
        self.tone.is_some()
    }

    /// Samples at the host rate between the input and the output in `mode` with `source`.
    pub fn latency_samples(&self, mode: Mode, source: LiveSource) -> usize {
        match (&self.tone, mode) {
            (Some(t), Mode::ToneClone) => t.latency(source),
            _ => 0,
        }
    }

    /// Frames the decoder has been sent and not returned yet (for tests and meters).
    pub fn decoder_backlog(&self) -> u64 {
        self.tone.as_ref().map_or(0, |t| t.frames_sent.saturating_sub(t.link.frames_decoded()))
    }

    /// Blocks silenced because they went non-finite.
    pub fn silenced_blocks(&self) -> u64 {
        self.silenced_blocks
    }

    pub fn reset(&mut self) {
        self.fx.reset();
        self.dry_delay.iter_mut().for_each(DryDelay::reset);
        if let Some(t) = &mut self.tone {
            t.reset();
        }
    }

    /// Processes one block in place. `main` is the main input/output (one slice per
    /// channel, equal lengths); `hex` the six string channels of an aux input, if the host
    /// gives one; `midi` the block's MIDI events (applied at the block's start).
    pub fn process(&mut self, params: &EngineParams, main: &mut [&mut [f32]], hex: Option<&[&[f32]]>, midi: &[MidiEvent]) {
        let len = main.iter().map(|c| c.len()).min().unwrap_or(0);
        if params.knobs != self.knobs {
            self.fx.set_knobs(&params.knobs);
            self.knobs = params.knobs;
        }
        let mode = if self.tone.is_some() { params.mode } else { Mode::FxClone };
        self.align_dry(mode, params.source);
        if let (Mode::ToneClone, Some(t)) = (mode, &mut self.tone) {
            for e in midi {
                t.midi.handle(*e);
            }
        }
        let mut start = 0;
        while start < len {
            let n = (len - start).min(self.max_block);
            self.process_chunk(params, mode, main, hex, start, n);
            start += n;
        }
    }

    fn align_dry(&mut self, mode: Mode, source: LiveSource) {
        if self.delayed_for == Some((mode, source)) {
            return;
        }
        let latency = self.latency_samples(mode, source);
        for d in &mut self.dry_delay {
            d.set_len(latency);
        }
        self.delayed_for = Some((mode, source));
    }

    fn process_chunk(&mut self, params: &EngineParams, mode: Mode, main: &mut [&mut [f32]], hex: Option<&[&[f32]]>, start: usize, n: usize) {
        for (dry, ch) in self.dry.iter_mut().zip(main.iter()) {
            dry[..n].copy_from_slice(&ch[start..start + n]);
        }
        match (mode, &mut self.tone) {
            (Mode::ToneClone, Some(t)) => {
                t.render(params, main, hex, start, n);
                for (c, ch) in main.iter_mut().enumerate() {
                    ch[start..start + n].copy_from_slice(&t.wet[..n]);
                    self.fx.process_channel(c, &mut ch[start..start + n]);
                }
            }
            _ => {
                for (c, ch) in main.iter_mut().enumerate() {
                    self.fx.process_channel(c, &mut ch[start..start + n]);
                }
            }
        }
        let (mix0, gain0) = (self.dry_wet, self.gain);
        let (mix1, gain1) = (params.dry_wet.clamp(0.0, 1.0), db_to_gain(params.output_gain_db.clamp(-60.0, 24.0)));
        let mut finite = true;
        for ((ch, dry), delay) in main.iter_mut().zip(self.dry.iter_mut()).zip(self.dry_delay.iter_mut()) {
            let dry = &mut dry[..n];
            delay.process(dry);
            for (i, (y, d)) in ch[start..start + n].iter_mut().zip(dry.iter()).enumerate() {
                // Linear ramps across the block: no zipper noise when a knob moves.
                let a = (i + 1) as f32 / n as f32;
                let mix = mix0 + (mix1 - mix0) * a;
                let gain = gain0 + (gain1 - gain0) * a;
                *y = (d + (*y - d) * mix) * gain;
                finite &= y.is_finite();
            }
        }
        self.dry_wet = mix1;
        self.gain = gain1;
        if !finite {
            for ch in main.iter_mut() {
                ch[start..start + n].fill(0.0);
            }
            self.silenced_blocks += 1;
            self.reset();
        }
    }
}

impl ToneEngine {
    fn new(info: &ModelInfo, link: DecoderLink, host_rate: f32, max_block: usize) -> Self {
        let spec = &info.spec;
        let model_rate = spec.sample_rate as f32;
        let down = std::array::from_fn(|_| Downsampler::new(host_rate, model_rate));
        let at_rate_len = down[0].max_output(max_block);
        let hex = HexTracker::new(model_rate, spec.hop);
        let poly = PolyTracker::new(model_rate, spec.hop);
        let n = &info.normalization;
        let frame_s = spec.hop as f32 / model_rate;
        let midi = MidiVoices::new(MidiMapping::Plain, frame_s, (n.voiced_loudness_db_p5, n.voiced_loudness_db_p95));
        let to_host = |model_samples: usize| (model_samples as f64 * host_rate as f64 / model_rate as f64).round() as usize;
        let host_hop = host_rate as f64 * frame_s as f64;
        // The tracker's onset delay (a note starts sounding in the first frame that
        // reports it), one frame to complete, one host block for the decoder's round trip
        // (frames decoded during a block are heard from the next).
        let latency = |onset_delay: usize| to_host(onset_delay + spec.hop) + max_block;
        ToneEngine {
            link,
            shaper: ToneShaper::new(n),
            down,
            at_model_rate: std::array::from_fn(|_| vec![0.0; at_rate_len]),
            mono: vec![0.0; max_block],
            latency: [latency(poly.onset_delay_samples()), latency(hex.onset_delay_samples()), latency(0)],
            hex,
            poly,
            midi,
            midi_clock: 0.0,
            host_hop,
            synth: Synth::new(spec, host_rate, 0x5eed),
            wet: vec![0.0; max_block],
            f0: [0.0; STRINGS],
            controls: [0.0; STRINGS * 3],
            keep_ready: (max_block as f64 / host_hop).ceil() as usize + 1,
            frames_sent: 0,
        }
    }

    fn reset(&mut self) {
        self.down.iter_mut().for_each(Downsampler::reset);
        self.hex.reset();
        self.poly.reset();
        self.midi.reset();
        self.midi_clock = 0.0;
        self.synth.reset();
        self.shaper.reset();
        self.link.reset();
    }

    /// Renders `n` samples of the six voices + noise into `self.wet`.
    fn render(&mut self, params: &EngineParams, main: &[&mut [f32]], hex: Option<&[&[f32]]>, start: usize, n: usize) {
        let ToneEngine { link, shaper, down, at_model_rate, mono, hex: hex_tracker, poly, midi, midi_clock, f0, controls, frames_sent, host_hop, .. } = self;
        let sent_before = *frames_sent;
        let mut send = |frame: &StringFrame| {
            shaper.shape(frame, &params.tone, f0, controls);
            if link.send(&f0[..], &controls[..], shaper.output_gains()) {
                *frames_sent += 1;
            }
        };
        match (params.source, hex) {
            (LiveSource::Hex, Some(strings)) if strings.len() >= STRINGS => {
                let mut got = [0usize; STRINGS];
                for s in 0..STRINGS {
                    got[s] = down[s].process(&strings[s][start..start + n], &mut at_model_rate[s]);
                }
                let [a, b, c, d, e, f] = at_model_rate;
                let m = got.iter().copied().min().unwrap_or(0);
                hex_tracker.process([&a[..m], &b[..m], &c[..m], &d[..m], &e[..m], &f[..m]], &mut send);
            }
            (LiveSource::Midi, _) => {
                // MIDI needs no audio, only the frame clock (counted in host samples).
                *midi_clock += n as f64;
                while *midi_clock >= *host_hop {
                    *midi_clock -= *host_hop;
                    send(&midi.frame());
                }
            }
            _ => {
                // Mono (and hex without its aux input): the main input mixed down.
                let channels = main.len().max(1) as f32;
                let mono = &mut mono[..n];
                mono.fill(0.0);
                for ch in main {
                    for (m, x) in mono.iter_mut().zip(&ch[start..start + n]) {
                        *m += x / channels;
                    }
                }
                let m = down[0].process(mono, &mut at_model_rate[0]);
                poly.process(&at_model_rate[0][..m], |f| send(&f.strings));
            }
        }
        if *frames_sent != sent_before {
            link.wake();
        }
        link.skip_to(self.keep_ready);
        let tone = params.tone;
        let link = &mut self.link;
        self.synth.process(&mut self.wet[..n], &mut |next: &mut SynthFrame| {
            if link.receive(next) {
                tone.apply_gains(next);
            }
        });
    }
}
