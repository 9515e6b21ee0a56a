//! The plugin's audio engine: FX clone is the FX chain, tone clone plays the player's
//! notes (MIDI, hex pickup, mono guitar) through the shipped model at the right pitch and
//! with the latency it reports, and bad input never reaches the output.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use gddsp_core::engine::decoder_worker::DecoderWorker;
use gddsp_core::engine::{Engine, EngineParams, LiveSource, Mode, ToneControls};
use gddsp_core::fx::FxChain;
use gddsp_core::inference::Model;
use gddsp_core::live::midi::MidiEvent;
use gddsp_core::{Knob, Knobs};

const RATE: f32 = 48_000.0;

fn shipped_model() -> Model {
    Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")).expect("the shipped model loads")
}

fn dry_knobs() -> Knobs {
    Knobs::default().with(Knob::DistortionMix, 0.0).with(Knob::DelayMix, 0.0).with(Knob::ReverbMix, 0.0)
}

/// Runs `input` (per channel) through the engine in blocks of `block`, letting the
/// decoder thread finish each block's frames before the next (the pace of real time).
fn run(engine: &mut Engine, params: &EngineParams, input: &[Vec<f32>], hex: Option<&[Vec<f32>]>, block: usize, midi_at: &[(usize, MidiEvent)]) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = input.to_vec();
    let len = input[0].len();
    let mut start = 0;
    while start < len {
        let n = block.min(len - start);
        let events: Vec<MidiEvent> = midi_at.iter().filter(|(at, _)| *at >= start && *at < start + n).map(|(_, e)| *e).collect();
        let mut chans: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[start..start + n]).collect();
        let hex_slices: Option<Vec<&[f32]>> = hex.map(|h| h.iter().map(|c| &c[start..start + n]).collect());
        engine.process(params, &mut chans, hex_slices.as_deref(), &events);
        let t = Instant::now();
        while engine.decoder_backlog() > 0 && t.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_micros(200));
        }
        start += n;
    }
    out
}

/// Fundamental of `x` by autocorrelation over 70–1000 Hz (the first lag within 5 % of the
/// best, so a strong second harmonic does not win).
fn pitch_hz(x: &[f32]) -> f32 {
    let (lo, hi) = ((RATE / 1000.0) as usize, (RATE / 70.0) as usize);
    let r: Vec<f64> = (lo..=hi).map(|lag| x.iter().zip(&x[lag..]).map(|(a, b)| (*a as f64) * (*b as f64)).sum::<f64>()).collect();
    let best = r.iter().cloned().fold(f64::MIN, f64::max);
    let first = r.iter().position(|&v| v >= 0.95 * best).unwrap();
    // Refine from the local peak near `first`.
    let mut i = first;
    while i + 1 < r.len() && r[i + 1] > r[i] {
        i += 1;
    }
    RATE / (lo + i) as f32
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

#[test]
fn fx_clone_is_the_fx_chain_at_any_block_size_with_no_latency() {
    let knobs = Knobs::default().with(Knob::DistortionMix, 0.6).with(Knob::DelayMix, 0.4).with(Knob::ReverbMix, 0.3);
    let input = vec![test_noise(24_000, 1), test_noise(24_000, 2)];
    let mut expected = input.clone();
    FxChain::render_offline(RATE, &knobs, &mut expected);
    let params = EngineParams { knobs, ..EngineParams::default() };
    for block in [64, 333, 512] {
        let mut engine = Engine::new(RATE, 512, 2, &knobs);
        assert_eq!(engine.latency_samples(Mode::FxClone, LiveSource::Mono), 0);
        let out = run(&mut engine, &params, &input, None, block, &[]);
        for c in 0..2 {
            let err = out[c].iter().zip(&expected[c]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(err < 1e-6, "block {block}, channel {c}: max error {err}");
        }
    }
}

#[test]
fn dry_wet_and_output_gain() {
    let knobs = Knobs::default().with(Knob::DistortionMix, 1.0);
    let input = vec![sine(RATE, 220.0, 0.3, 9_600)];
    let mut engine = Engine::new(RATE, 480, 1, &knobs);
    let dry = EngineParams { knobs, dry_wet: 0.0, output_gain_db: -6.0206, ..EngineParams::default() };
    let out = run(&mut engine, &dry, &input, None, 480, &[]);
    // After the first block's ramp, the output is the input at half level.
    let err = out[0][480..].iter().zip(&input[0][480..]).map(|(y, x)| (y - 0.5 * x).abs()).fold(0f32, f32::max);
    assert!(err < 1e-5, "dry at −6 dB: max error {err}");
}

#[test]
fn non_finite_input_is_silenced_and_the_engine_recovers() {
    let knobs = Knobs::default().with(Knob::ReverbMix, 0.5).with(Knob::DelayMix, 0.5);
    let mut input = vec![sine(RATE, 330.0, 0.3, 4_800)];
    input[0][1_000] = f32::NAN;
    input[0][1_100] = f32::INFINITY;
    let mut engine = Engine::new(RATE, 256, 1, &knobs);
    let params = EngineParams { knobs, ..EngineParams::default() };
    let out = run(&mut engine, &params, &input, None, 256, &[]);
    assert!(out[0].iter().all(|v| v.is_finite()), "NaN reached the output");
    assert!(engine.silenced_blocks() >= 1);
    assert!(rms(&out[0][4_000..]) > 0.05, "the engine went quiet for good");
}

fn tone_engine(block: usize) -> (Engine, DecoderWorker, Model) {
    let model = shipped_model();
    let mut engine = Engine::new(RATE, block, 2, &dry_knobs());
    let worker = engine.attach_model(&model, vec![0.0; model.info.z_dim]).expect("decoder thread");
    (engine, worker, model)
}

fn tone_params(source: LiveSource) -> EngineParams {
    EngineParams { mode: Mode::ToneClone, source, knobs: dry_knobs(), tone: ToneControls { auto_adjust: false, ..ToneControls::default() }, ..EngineParams::default() }
}

#[test]
fn tone_clone_plays_a_midi_note_at_its_pitch_after_the_reported_latency() {
    let block = 256;
    let (mut engine, _worker, _model) = tone_engine(block);
    let params = tone_params(LiveSource::Midi);
    let latency = engine.latency_samples(Mode::ToneClone, LiveSource::Midi);
    let note_at = 4_800;
    let input = vec![vec![0.0; 48_000]; 2];
    let on = MidiEvent::NoteOn { channel: 0, note: 57, velocity: 110 };
    let out = run(&mut engine, &params, &input, None, block, &[(note_at, on)]);
    let y = &out[0];
    assert!(y.iter().all(|v| v.is_finite()));
    let sounding = &y[note_at + 9_600..note_at + 33_600];
    assert!(rms(sounding) > 1e-3, "the note is silent (rms {})", rms(sounding));
    let f = pitch_hz(sounding);
    assert!((f / 220.0 - 1.0).abs() < 0.02, "A3 came out at {f:.1} Hz");
    // Onset: the first sample above −40 dB of the note's level. Notes are applied at
    // block starts (the note-on here is mid-block), so the onset may come up to a block
    // earlier than the note-on sample plus the latency, never later than one frame after.
    let threshold = 0.01 * sounding.iter().fold(0f32, |m, v| m.max(v.abs()));
    let onset = y.iter().position(|v| v.abs() > threshold).unwrap();
    let host_hop = 192;
    eprintln!("MIDI note-on at {note_at}, onset at {onset}: {} samples; reported latency {latency}", onset as i64 - note_at as i64);
    assert!(onset + block >= note_at, "sound before the note");
    assert!(onset <= note_at + latency + host_hop, "onset {onset} later than note-on {note_at} + latency {latency} + a frame");
    assert!(latency * 1000 <= 10 * RATE as usize, "MIDI latency {latency} samples is over 10 ms");
}

#[test]
fn tone_clone_follows_a_hex_pickup_and_a_mono_guitar_and_pitch_shift() {
    let block = 256;
    let (mut engine, _worker, _model) = tone_engine(block);
    // The G string (index 3) plays G3 (196 Hz) with a pluck-like decay; the rest is quiet.
    let len = 48_000;
    let pluck: Vec<f32> = sine(RATE, 196.0, 0.4, len).iter().enumerate().map(|(i, v)| v * (-(i as f32) / RATE / 1.5).exp()).collect();
    let mut hex = vec![vec![0.0; len]; 6];
    hex[3] = pluck.clone();
    let main = vec![vec![0.0; len]; 2];
    let out = run(&mut engine, &tone_params(LiveSource::Hex), &main, Some(&hex), block, &[]);
    let f = pitch_hz(&out[0][9_600..33_600]);
    assert!((f / 196.0 - 1.0).abs() < 0.02, "hex G3 came out at {f:.1} Hz");

    // A mono guitar's note has partials; a bare sine leaves the polyphonic tracker a low
    // ghost note in about one frame in five (measured with `gddsp pitch --poly`).
    engine.reset();
    let partials: Vec<f32> = (0..len)
        .map(|i| {
            let t = i as f32 / RATE;
            let x: f32 = (1..=6).map(|k| 0.25 / k as f32 * (std::f32::consts::TAU * 196.0 * k as f32 * t).sin()).sum();
            x * (-t / 1.5).exp()
        })
        .collect();
    let mono_in = vec![partials.clone(), partials];
    let out = run(&mut engine, &tone_params(LiveSource::Mono), &mono_in, None, block, &[]);
    let f = pitch_hz(&out[0][9_600..33_600]);
    assert!((f / 196.0 - 1.0).abs() < 0.02, "mono G3 came out at {f:.1} Hz");

    engine.reset();
    let mut up = tone_params(LiveSource::Hex);
    up.tone.pitch_shift_st = 12.0;
    let out = run(&mut engine, &up, &main, Some(&hex), block, &[]);
    let f = pitch_hz(&out[0][9_600..33_600]);
    assert!((f / 392.0 - 1.0).abs() < 0.02, "G3 an octave up came out at {f:.1} Hz");
}

#[test]
fn tone_clone_starts_a_hex_or_mono_note_about_the_reported_latency_after_it() {
    // The host delays the other tracks by the reported latency; a clone that sounded much
    // earlier or later than it would be off the beat by the difference. The second source
    // runs after a reset: the first one's last note must not play on into it.
    let block = 256;
    let (mut engine, _worker, _model) = tone_engine(block);
    let (len, note_at) = (48_000, 4_800);
    let mut note = vec![0.0f32; note_at];
    note.extend((0..len - note_at).map(|i| {
        let t = i as f32 / RATE;
        let x: f32 = (1..=6).map(|k| 0.25 / k as f32 * (std::f32::consts::TAU * 196.0 * k as f32 * t).sin()).sum();
        x * (-t / 1.5).exp()
    }));
    let host_hop = 192;
    for source in [LiveSource::Mono, LiveSource::Hex] {
        engine.reset();
        let latency = engine.latency_samples(Mode::ToneClone, source);
        let out = match source {
            LiveSource::Hex => {
                let mut hex = vec![vec![0.0; len]; 6];
                hex[3] = note.clone();
                run(&mut engine, &tone_params(source), &vec![vec![0.0; len]; 2], Some(&hex), block, &[])
            }
            _ => run(&mut engine, &tone_params(source), &[note.clone(), note.clone()], None, block, &[]),
        };
        let y = &out[0];
        assert!(rms(&y[..note_at]) < 1e-5, "{source:?}: sound before the note (rms {})", rms(&y[..note_at]));
        let threshold = 0.01 * y[note_at + 9_600..].iter().fold(0f32, |m, v| m.max(v.abs()));
        let onset = y.iter().position(|v| v.abs() > threshold).unwrap();
        let late = onset as i64 - (note_at + latency) as i64;
        eprintln!("{source:?}: note at {note_at}, onset at {onset}, reported latency {latency}: {late:+} samples off");
        assert!(late.unsigned_abs() as usize <= block + host_hop, "{source:?}: the clone starts {late:+} samples from note + latency ({latency})");
    }
}

#[test]
fn auto_adjust_keeps_tone_clone_near_the_players_level() {
    // A mono G3 with partials, decaying 13 dB/s from about −11 dB RMS. Auto adjust (on by
    // default) maps it onto the training set's voiced centre (about −58 dB for the shipped
    // model) for the decoder and gives the level back: before the give-back the clone
    // came out 60 dB under the same note with auto adjust off.
    let block = 256;
    let model = shipped_model();
    assert_eq!(model.info.default_z.len(), model.info.z_dim, "the shipped model.json has a default timbre");
    let mut engine = Engine::new(RATE, block, 2, &dry_knobs());
    // The plugin's timbre before a reference is loaded.
    let _worker = engine.attach_model(&model, model.info.start_z()).expect("decoder thread");
    let len = 72_000;
    let note: Vec<f32> = (0..len)
        .map(|i| {
            let t = i as f32 / RATE;
            let x: f32 = (1..8).map(|k| 0.3 / k as f32 * (std::f32::consts::TAU * 196.0 * k as f32 * t).sin()).sum();
            x * (-1.5 * t).exp()
        })
        .collect();
    let input = vec![note.clone(), note];
    let mut level = [0f32; 2];
    for (i, auto_adjust) in [false, true].into_iter().enumerate() {
        engine.reset();
        let mut params = tone_params(LiveSource::Mono);
        params.tone.auto_adjust = auto_adjust;
        let out = run(&mut engine, &params, &input, None, block, &[]);
        assert!(out[0].iter().all(|v| v.is_finite()));
        level[i] = rms(&out[0][24_000..]);
    }
    let db = 20.0 * (level[1] / level[0]).log10();
    eprintln!("tone clone RMS: auto adjust off {:.4}, on {:.4} ({db:+.1} dB)", level[0], level[1]);
    assert!(level[1] > 1e-3, "auto adjust silenced the clone (rms {})", level[1]);
    assert!(db.abs() < 18.0, "auto adjust moved the clone's level by {db:.1} dB");
}

#[test]
fn dry_path_is_delayed_by_the_reported_latency_in_tone_clone() {
    // 37: blocks that do not divide the delay, so runs wrap around the delay's ring.
    for block in [128, 37] {
        let (mut engine, _worker, _model) = tone_engine(block);
        let mut params = tone_params(LiveSource::Mono);
        params.dry_wet = 0.0;
        let latency = engine.latency_samples(Mode::ToneClone, LiveSource::Mono);
        assert!(latency > 0);
        let mut x = vec![0.0f32; 24_000];
        x[5_000] = 1.0;
        x[15_001] = -0.5;
        let out = run(&mut engine, &params, &[x.clone()], None, block, &[]);
        let clicks: Vec<usize> = out[0].iter().enumerate().filter(|(_, v)| v.abs() > 0.25).map(|(i, _)| i).collect();
        assert_eq!(clicks, [5_000 + latency, 15_001 + latency], "block {block}: the dry clicks came out at {clicks:?}, latency {latency}");
        assert!((out[0][15_001 + latency] + 0.5).abs() < 1e-6, "block {block}: the second click's level");
    }
}
