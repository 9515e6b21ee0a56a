//! `gddsp analyze`, `gddsp clone` and `gddsp demo`: the trained model on files.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use gddsp_core::analysis::loudness::FLOOR_DB;
use gddsp_core::analysis::ChannelFeatures;
use gddsp_core::audio_io::{self, Audio};
use gddsp_core::fx::FxChain;
use gddsp_core::inference::{Analysis, Model};
use gddsp_core::knobs::{Knob, Knobs, KNOBS};
use gddsp_core::synth::Synth;
use gddsp_core::live::STRINGS;

use crate::live_input::{self, InputKind, MidiMode};

/// How `clone` uses the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CloneMode {
    /// Apply the inferred knobs to the input.
    Fx,
    /// Re-voice the input's notes with the reference's timbre z, then its knobs.
    Tone,
}

pub fn load_model(dir: &Path) -> anyhow::Result<Model> {
    Ok(Model::load(dir)?)
}

fn analyze_file(model: &Model, reference: &Path) -> anyhow::Result<Analysis> {
    let audio = audio_io::load(reference)?;
    model.analyze(&audio).with_context(|| format!("{}", reference.display()))
}

/// `{"knobs": {name: value}, "z": [...], "seconds": s}` (+ `"elapsed_s"`).
pub fn analysis_json(a: &Analysis) -> Value {
    let mut knobs = Map::new();
    for k in Knob::ALL {
        knobs.insert(k.spec().name.into(), json!(a.knobs.get(k)));
    }
    json!({ "knobs": knobs, "z": a.z, "seconds": a.seconds, "elapsed_s": a.elapsed_s })
}

fn value_with_unit(k: Knob, v: f32) -> String {
    let s = k.spec();
    match s.unit {
        "" => format!("{v:.2}"),
        "Hz" => format!("{v:.0} Hz"),
        "ms" => format!("{v:.0} ms"),
        "s" => format!("{v:.2} s"),
        u => format!("{v:.1} {u}"),
    }
}

pub fn analyze(model_dir: &Path, reference: &Path, as_json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let model = load_model(model_dir)?;
    let a = analyze_file(&model, reference)?;
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&analysis_json(&a)).context("serialising")?).context("writing to stdout")?;
        return Ok(());
    }
    writeln!(out, "{}: {:.1} s analysed in {:.2} s", reference.display(), a.seconds, a.elapsed_s).context("writing to stdout")?;
    writeln!(out, "{:<22} {:>10}  {}", "knob", "value", "meaning").context("writing to stdout")?;
    for (k, spec) in Knob::ALL.iter().zip(KNOBS.iter()) {
        writeln!(out, "{:<22} {:>10}  {}", spec.name, value_with_unit(*k, a.knobs.get(*k)), spec.meaning).context("writing to stdout")?;
    }
    writeln!(out, "timbre z: {} values (`--json` prints them)", a.z.len()).context("writing to stdout")?;
    Ok(())
}

/// The input's per-voice features at the model rate: the six strings through the live
/// trackers (hex: one per channel; mono: the polyphonic tracker), or, for a one-voice
/// model, the monophonic tracker on the mix.
fn input_features(input: &Audio, model: &Model, kind: InputKind) -> anyhow::Result<Vec<ChannelFeatures>> {
    let spec = model.spec();
    let at_rate = audio_io::resample(input, spec.sample_rate)?;
    if spec.voices == 1 {
        return Ok(vec![gddsp_core::analysis::channel_features(&at_rate.mix_down(), spec)]);
    }
    match kind {
        InputKind::Hex => live_input::hex_features(&at_rate, spec),
        InputKind::Mono | InputKind::Auto => Ok(live_input::mono_features(&at_rate, spec)),
        InputKind::Line => Ok(live_input::line_features(&at_rate, spec)),
        InputKind::Midi => bail!("a MIDI input is a .mid file, not audio"),
    }
}

/// For a one-voice model: each frame's loudest string.
fn loudest_voice(strings: &[ChannelFeatures]) -> ChannelFeatures {
    let len = strings.first().map_or(0, |s| s.f0_hz.len());
    let mut one = ChannelFeatures { f0_hz: vec![0.0; len], confidence: vec![0.0; len], loudness_db: vec![FLOOR_DB; len] };
    for t in 0..len {
        if let Some(s) = strings.iter().filter(|s| s.confidence[t] > 0.0).max_by(|a, b| a.loudness_db[t].total_cmp(&b.loudness_db[t])) {
            one.f0_hz[t] = s.f0_hz[t];
            one.confidence[t] = s.confidence[t];
            one.loudness_db[t] = s.loudness_db[t];
        }
    }
    one
}

/// The voices' controls from a MIDI file, velocity spanning the loudness range the model
/// was trained on.
fn midi_input_features(model: &Model, path: &Path, midi_mode: MidiMode, tail: f64) -> anyhow::Result<Vec<ChannelFeatures>> {
    let events = live_input::read_midi(path)?;
    let mapping = live_input::resolve_midi_mode(midi_mode, &events);
    let n = &model.info.normalization;
    let strings = live_input::midi_features(&events, mapping, model.spec(), (n.voiced_loudness_db_p5, n.voiced_loudness_db_p95), tail);
    Ok(if model.spec().voices == 1 { vec![loudest_voice(&strings)] } else { strings })
}

/// Decodes per-voice features with `z` and renders them at `rate` (no FX).
fn synthesize(model: &Model, features: &[ChannelFeatures], z: &[f32], rate: u32) -> anyhow::Result<Vec<f32>> {
    let frames = model.decode_features(features, z)?;
    Ok(Synth::render(model.spec(), rate as f32, 1, &frames))
}

/// Re-voices `input` with `z` at the input's rate (no FX).
pub fn revoice(model: &Model, input: &Audio, z: &[f32], kind: InputKind) -> anyhow::Result<Vec<f32>> {
    let features = input_features(input, model, kind)?;
    let mut out = synthesize(model, &features, z, input.sample_rate)?;
    out.truncate(input.len());
    Ok(out)
}

fn with_tail(mut channels: Vec<Vec<f32>>, rate: u32, tail: f64) -> Vec<Vec<f32>> {
    let extra = (tail * rate as f64).round() as usize;
    for c in &mut channels {
        c.resize(c.len() + extra, 0.0);
    }
    channels
}

/// The clone of `input` in the reference's sound; returns the analysis used.
pub fn clone_audio(model: &Model, analysis: &Analysis, input: &Audio, mode: CloneMode, kind: InputKind, tail: f64) -> anyhow::Result<Audio> {
    let rate = input.sample_rate;
    let mut channels = match mode {
        CloneMode::Fx => with_tail(vec![input.mix_down()], rate, tail),
        CloneMode::Tone => with_tail(vec![revoice(model, input, &analysis.z, kind)?], rate, tail),
    };
    if mode == CloneMode::Fx && input.channels.len() <= 2 {
        channels = with_tail(input.channels.clone(), rate, tail);
    }
    FxChain::render_offline(rate as f32, &analysis.knobs, &mut channels);
    Ok(Audio::new(rate, channels))
}

/// Where `clone` writes a MIDI input's rendering.
pub const MIDI_OUTPUT_RATE: u32 = 48_000;

/// How `clone` reads `--input`.
#[derive(Debug, Clone, Copy)]
pub struct InputOptions {
    pub kind: InputKind,
    pub midi_mode: MidiMode,
}

pub fn clone(model_dir: &Path, reference: &Path, input: &Path, output: &Path, mode: CloneMode, opts: InputOptions, tail: f64) -> anyhow::Result<()> {
    if !(tail.is_finite() && (0.0..=60.0).contains(&tail)) {
        bail!("--tail must be between 0 and 60 seconds, not {tail}");
    }
    super::check_wav_output(output)?;
    let midi = live_input::resolve_kind(opts.kind, input, None) == InputKind::Midi;
    if midi && mode == CloneMode::Fx {
        bail!("{}: --mode fx processes audio; a MIDI input plays through --mode tone", input.display());
    }
    let model = load_model(model_dir)?;
    let analysis = analyze_file(&model, reference)?;
    let cloned = if midi {
        let features = midi_input_features(&model, input, opts.midi_mode, tail)?;
        let mut channels = vec![synthesize(&model, &features, &analysis.z, MIDI_OUTPUT_RATE)?];
        FxChain::render_offline(MIDI_OUTPUT_RATE as f32, &analysis.knobs, &mut channels);
        Audio::new(MIDI_OUTPUT_RATE, channels)
    } else {
        let audio = audio_io::load(input)?;
        let kind = live_input::resolve_kind(opts.kind, input, Some(&audio));
        if kind == InputKind::Hex && audio.channels.len() != STRINGS {
            bail!("{}: --input-kind hex needs {STRINGS} channels (one per string), this file has {}", input.display(), audio.channels.len());
        }
        clone_audio(&model, &analysis, &audio, mode, kind, tail)?
    };
    super::write_output(output, &cloned)?;
    Ok(())
}

/// `gddsp demo`: the shipped reference analysed, its knobs next to the true ones, and the
/// shipped riff cloned both ways.
pub fn demo(model_dir: &Path, out_dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let examples = model_dir.join("examples");
    let reference = examples.join("reference_wet.wav");
    let truth_path = examples.join("reference_fx.json");
    let riff = examples.join("riff_clean.wav");
    let model = load_model(model_dir)?;
    let a = analyze_file(&model, &reference)?;
    let truth: Knobs = super::read_knobs(&truth_path)?;
    writeln!(out, "reference {} ({:.1} s, a guitar the model never trained on), analysed in {:.2} s", reference.display(), a.seconds, a.elapsed_s)?;
    writeln!(out, "{:<22} {:>10} {:>10} {:>8}", "knob", "inferred", "true", "|Δu|")?;
    for (k, spec) in Knob::ALL.iter().zip(KNOBS.iter()) {
        let du = (spec.normalize(a.knobs.get(*k)) - spec.normalize(truth.get(*k))).abs();
        writeln!(out, "{:<22} {:>10} {:>10} {:>8.3}", spec.name, value_with_unit(*k, a.knobs.get(*k)), value_with_unit(*k, truth.get(*k)), du)?;
    }
    writeln!(out, "(|Δu| is the error along the knob's travel, 0–1; an effect at mix 0 has knobs that cannot be heard)")?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("{}: cannot create", out_dir.display()))?;
    let input = audio_io::load(&riff)?;
    for (mode, name) in [(CloneMode::Fx, "demo_fx_clone.wav"), (CloneMode::Tone, "demo_tone_clone.wav")] {
        let path = out_dir.join(name);
        // The riff is a single-note line of sox plucks, whose inharmonic partials the
        // polyphonic tracker takes for extra notes (see `live_input::line_features`).
        let cloned = clone_audio(&model, &a, &input, mode, InputKind::Line, 2.0)?;
        audio_io::write_wav(&path, &cloned)?;
        let peak = super::peak_dbfs(&cloned);
        let over = if peak > 0.0 { " — above full scale: a float WAV keeps it, a player clips it" } else { "" };
        writeln!(out, "wrote {} ({} clone of {}; peak {peak:+.1} dBFS{over})", path.display(), if mode == CloneMode::Fx { "FX" } else { "tone" }, riff.display())?;
    }
    Ok(())
}
