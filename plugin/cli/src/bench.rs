//! `gddsp bench`: real-time factors on one core at 48 kHz stereo, through the same
//! process calls the plugin makes (blocks of 128 samples); the live-input trackers at the
//! model rate, where the plugin runs them.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

use gddsp_core::fx::FxChain;
use gddsp_core::live::hex::HexTracker;
use gddsp_core::live::midi::{MidiEvent, MidiMapping, MidiVoices};
use gddsp_core::live::poly::PolyTracker;
use gddsp_core::live::STRINGS;
use gddsp_core::synth::{Synth, SynthFrame};
use gddsp_core::{Knob, Knobs, ModelSpec};

pub const SAMPLE_RATE: f32 = 48_000.0;
pub const BLOCK: usize = 128;

#[derive(Debug, Serialize)]
pub struct DecoderBench {
    pub native_us_per_frame: f64,
    pub tract_us_per_frame: f64,
    /// Share of one core the native decoder needs in real time (frames/s × time per frame).
    pub native_core_share: f64,
    pub backend: String,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// × real time of the FX chain alone (2 s reverb, every effect on), stereo.
    pub fx_realtime_factor: f64,
    /// × real time of six voices × 60 harmonics + noise + the FX chain, stereo.
    pub synth_realtime_factor: f64,
    /// × real time of the live inputs at the model rate, same block size: six per-string
    /// trackers on a hex pickup, the polyphonic tracker on a mono guitar, MIDI voices.
    pub hex_realtime_factor: f64,
    pub poly_realtime_factor: f64,
    pub midi_realtime_factor: f64,
    /// The streaming decoder, six strings, µs per control frame (250 frames per second of
    /// audio): native and tract, when the model loads.
    pub decoder: Option<DecoderBench>,
    pub sample_rate: f32,
    pub block: usize,
    pub seconds: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:.0} Hz stereo, blocks of {}, {:.0} s per measurement, one thread:", self.sample_rate, self.block, self.seconds)?;
        writeln!(f, "  FX chain (2 s reverb, all effects on)        {:>8.1} × real time", self.fx_realtime_factor)?;
        writeln!(f, "  6 voices × 60 harmonics + noise + FX chain   {:>8.1} × real time", self.synth_realtime_factor)?;
        writeln!(f, "live input at {:.0} Hz (the model rate), same blocks:", ModelSpec::default().sample_rate)?;
        writeln!(f, "  hex pickup, six per-string trackers          {:>8.1} × real time", self.hex_realtime_factor)?;
        writeln!(f, "  mono guitar, polyphonic tracker              {:>8.1} × real time", self.poly_realtime_factor)?;
        writeln!(f, "  MIDI, six voices (a note every 50 ms)        {:>8.1} × real time", self.midi_realtime_factor)?;
        match &self.decoder {
            Some(d) => {
                writeln!(f, "synth decoder, six strings, per control frame (plays with: {}):", d.backend)?;
                writeln!(f, "  native {:.1} µs, tract {:.1} µs ({:.1}× faster); native = {:.2} % of a core in real time", d.native_us_per_frame, d.tract_us_per_frame, d.tract_us_per_frame / d.native_us_per_frame, 100.0 * d.native_core_share)
            }
            None => writeln!(f, "synth decoder: not timed (no model loaded)"),
        }
    }
}

/// Every effect engaged, a 2 s reverb.
pub fn bench_knobs() -> Knobs {
    Knobs::default()
        .with(Knob::DistortionDriveDb, 20.0)
        .with(Knob::DistortionMix, 0.6)
        .with(Knob::DelayTimeMs, 350.0)
        .with(Knob::DelayFeedback, 0.4)
        .with(Knob::DelayMix, 0.3)
        .with(Knob::ReverbDecayS, 2.0)
        .with(Knob::ReverbMix, 0.3)
}

/// A strummed-chord-like test signal: decaying bursts of a few partials.
fn guitarish(len: usize) -> Vec<f32> {
    guitarish_at(SAMPLE_RATE, len)
}

fn guitarish_at(rate: f32, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let t = n as f32 / rate;
            let since = t % 0.5;
            let env = (-since * 6.0).exp() * 0.3;
            [110.0, 164.8, 220.0, 277.2].iter().map(|f| (std::f32::consts::TAU * f * t).sin()).sum::<f32>() * env
        })
        .collect()
}

pub fn run(seconds: f64, model: &std::path::Path) -> BenchReport {
    BenchReport {
        decoder: gddsp_core::inference::Model::load(model).ok().map(|m| decoder_bench(&m, seconds)),
        fx_realtime_factor: fx_factor(seconds),
        synth_realtime_factor: synth_factor(seconds),
        hex_realtime_factor: hex_factor(seconds),
        poly_realtime_factor: poly_factor(seconds),
        midi_realtime_factor: midi_factor(seconds),
        sample_rate: SAMPLE_RATE,
        block: BLOCK,
        seconds,
    }
}

fn fx_factor(seconds: f64) -> f64 {
    let len = (seconds * SAMPLE_RATE as f64) as usize;
    let input = guitarish(len);
    let mut chain = FxChain::new(SAMPLE_RATE, 2, &bench_knobs());
    let mut left = vec![0.0; BLOCK];
    let mut right = vec![0.0; BLOCK];
    let start = Instant::now();
    for block in input.chunks(BLOCK) {
        let (l, r) = (&mut left[..block.len()], &mut right[..block.len()]);
        l.copy_from_slice(block);
        r.copy_from_slice(block);
        chain.process(&mut [l, r]);
        std::hint::black_box(&left);
    }
    seconds / start.elapsed().as_secs_f64()
}

fn synth_factor(seconds: f64) -> f64 {
    let spec = ModelSpec::default();
    let frames = (seconds * spec.frame_rate()) as usize + 2;
    // Six strings of an open E chord with vibrato, a 1/k harmonic distribution and noise.
    let controls: Vec<SynthFrame> = (0..frames)
        .map(|j| {
            let mut f = SynthFrame::silent(&spec);
            let t = j as f32 / spec.frame_rate() as f32;
            let k = spec.harmonics;
            let norm: f32 = (1..=k).map(|h| 1.0 / h as f32).sum();
            for (s, f0) in [82.41, 123.47, 164.81, 207.65, 246.94, 329.63].iter().enumerate() {
                f.f0_hz[s] = f0 * (1.0 + 0.003 * (std::f32::consts::TAU * 5.0 * t).sin());
                f.amplitude[s] = 0.05;
                for h in 0..k {
                    f.harmonics[s * k + h] = 1.0 / (h + 1) as f32 / norm;
                }
            }
            f.noise.iter_mut().enumerate().for_each(|(b, m)| *m = 0.01 / (1 + b) as f32);
            f
        })
        .collect();
    let mut synth = Synth::new(&spec, SAMPLE_RATE, 1);
    synth.prime(&controls[0]);
    let mut chain = FxChain::new(SAMPLE_RATE, 2, &bench_knobs());
    let len = (seconds * SAMPLE_RATE as f64) as usize;
    let mut left = vec![0.0; BLOCK];
    let mut right = vec![0.0; BLOCK];
    let mut next = 1;
    let start = Instant::now();
    let mut done = 0;
    while done < len {
        let n = BLOCK.min(len - done);
        synth.process(&mut left[..n], &mut |f| {
            f.copy_from(&controls[next.min(frames - 1)]);
            next += 1;
        });
        right[..n].copy_from_slice(&left[..n]);
        chain.process(&mut [&mut left[..n], &mut right[..n]]);
        std::hint::black_box(&left);
        done += n;
    }
    seconds / start.elapsed().as_secs_f64()
}

fn model_rate_input(seconds: f64) -> (ModelSpec, Vec<f32>) {
    let spec = ModelSpec::default();
    let len = (seconds * spec.sample_rate as f64) as usize;
    let x = guitarish_at(spec.sample_rate as f32, len);
    (spec, x)
}

fn hex_factor(seconds: f64) -> f64 {
    let (spec, x) = model_rate_input(seconds);
    // Each string gets the signal at its own level, so every tracker works.
    let strings: Vec<Vec<f32>> = (0..STRINGS).map(|s| x.iter().map(|v| v * (0.5 + 0.1 * s as f32)).collect()).collect();
    let mut hex = HexTracker::new(spec.sample_rate as f32, spec.hop);
    let start = Instant::now();
    let mut at = 0;
    while at < x.len() {
        let n = BLOCK.min(x.len() - at);
        hex.process(std::array::from_fn(|s| &strings[s][at..at + n]), |f| {
            std::hint::black_box(f);
        });
        at += n;
    }
    seconds / start.elapsed().as_secs_f64()
}

fn poly_factor(seconds: f64) -> f64 {
    let (spec, x) = model_rate_input(seconds);
    let mut poly = PolyTracker::new(spec.sample_rate as f32, spec.hop);
    let start = Instant::now();
    for block in x.chunks(BLOCK) {
        poly.process(block, |f| {
            std::hint::black_box(f);
        });
    }
    seconds / start.elapsed().as_secs_f64()
}

fn midi_factor(seconds: f64) -> f64 {
    let spec = ModelSpec::default();
    let frame_s = spec.hop as f32 / spec.sample_rate as f32;
    let frames = (seconds / frame_s as f64) as usize;
    let mut voices = MidiVoices::new(MidiMapping::Plain, frame_s, (-50.0, -10.0));
    let start = Instant::now();
    for i in 0..frames {
        if i % 3 == 0 {
            let note = 40 + (i * 7 % 36) as u8;
            voices.handle(MidiEvent::NoteOn { channel: 0, note, velocity: 90 });
            voices.handle(MidiEvent::NoteOff { channel: 0, note: note.wrapping_sub(12) });
        }
        std::hint::black_box(voices.frame());
    }
    seconds / start.elapsed().as_secs_f64()
}

/// Both decoders over the same frames, `seconds` of audio each (a rising phrase on all
/// six strings).
fn decoder_bench(model: &gddsp_core::inference::Model, seconds: f64) -> DecoderBench {
    let spec = model.spec().clone();
    let frames = ((seconds * spec.frame_rate()) as usize).max(50);
    let z: Vec<f32> = (0..model.info.z_dim).map(|j| (j as f32 * 0.5).sin()).collect();
    let controls: Vec<f32> = (0..spec.voices * 3).map(|j| (j as f32 * 0.3).sin()).collect();
    let mut frame = SynthFrame::silent(&spec);
    let mut time = |mut stream: gddsp_core::inference::DecoderStream, n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            stream.step_into(&controls, &z, &mut frame).expect("a decoder step");
            std::hint::black_box(&frame);
        }
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    let native = time(model.decoder(), frames);
    // tract is ~10× slower: a tenth of the frames keeps the bench short.
    let tract = time(model.tract_decoder(), (frames / 10).max(50));
    DecoderBench { native_us_per_frame: native, tract_us_per_frame: tract, native_core_share: native * 1e-6 * spec.frame_rate(), backend: model.decoder_backend() }
}
