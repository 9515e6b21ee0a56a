//! `gddsp analyze`, `gddsp clone` and `gddsp demo`: the trained model on files.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use gddsp_core::analysis::{pitch::open_string_hz, string_features, ChannelFeatures};
use gddsp_core::audio_io::{self, Audio};
use gddsp_core::fx::FxChain;
use gddsp_core::inference::{Analysis, Model};
use gddsp_core::knobs::{Knob, Knobs, KNOBS};
use gddsp_core::synth::Synth;
use gddsp_core::ModelSpec;

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

/// Per-string features of a mono guitar with the monophonic tracker: each voiced frame
/// goes to the string that plays it at the lowest fret, kept while the note stays within
/// that string's reach (continuity), so a line does not hop strings note by note.
pub fn mono_to_strings(signal: &[f32], spec: &ModelSpec) -> Vec<ChannelFeatures> {
    let mono = gddsp_core::analysis::channel_features(signal, spec);
    let frames = mono.f0_hz.len();
    let mut strings = vec![ChannelFeatures { f0_hz: vec![0.0; frames], confidence: vec![0.0; frames], loudness_db: vec![gddsp_core::analysis::loudness::FLOOR_DB; frames] }; spec.voices];
    let mut current: Option<usize> = None;
    for t in 0..frames {
        let f = mono.f0_hz[t];
        if mono.confidence[t] < gddsp_core::inference::controls::VOICED || f <= 0.0 {
            current = None;
            continue;
        }
        let reach = |s: usize| f >= open_string_hz(s) * 0.97 && f <= open_string_hz(s) * 4.0;
        let s = match current {
            Some(s) if reach(s) => s,
            _ => (0..spec.voices).rev().find(|&s| f >= open_string_hz(s) * 0.97).unwrap_or(0),
        };
        current = Some(s);
        strings[s].f0_hz[t] = f;
        strings[s].confidence[t] = mono.confidence[t];
        strings[s].loudness_db[t] = mono.loudness_db[t];
    }
    strings
}

/// The input's per-voice features at the model rate: six strings from a 6-channel input,
/// or the tracker's notes assigned to strings from a mono one.
fn input_features(input: &Audio, model: &Model) -> anyhow::Result<Vec<ChannelFeatures>> {
    let spec = model.spec();
    let at_rate = audio_io::resample(input, spec.sample_rate)?;
    let features = if spec.voices == 1 {
        vec![gddsp_core::analysis::channel_features(&at_rate.mix_down(), spec)]
    } else if at_rate.channels.len() == spec.voices {
        at_rate.channels.iter().enumerate().map(|(s, c)| string_features(c, spec, s)).collect()
    } else {
        mono_to_strings(&at_rate.mix_down(), spec)
    };
    Ok(features)
}

/// Re-voices `input` with `z` at the input's rate (no FX).
pub fn revoice(model: &Model, input: &Audio, z: &[f32]) -> anyhow::Result<Vec<f32>> {
    let features = input_features(input, model)?;
    let frames = model.decode_features(&features, z)?;
    let mut out = Synth::render(model.spec(), input.sample_rate as f32, 1, &frames);
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
pub fn clone_audio(model: &Model, analysis: &Analysis, input: &Audio, mode: CloneMode, tail: f64) -> anyhow::Result<Audio> {
    let rate = input.sample_rate;
    let mut channels = match mode {
        CloneMode::Fx => with_tail(vec![input.mix_down()], rate, tail),
        CloneMode::Tone => with_tail(vec![revoice(model, input, &analysis.z)?], rate, tail),
    };
    if mode == CloneMode::Fx && input.channels.len() <= 2 {
        channels = with_tail(input.channels.clone(), rate, tail);
    }
    FxChain::render_offline(rate as f32, &analysis.knobs, &mut channels);
    Ok(Audio::new(rate, channels))
}

pub fn clone(model_dir: &Path, reference: &Path, input: &Path, output: &Path, mode: CloneMode, tail: f64) -> anyhow::Result<()> {
    if !(tail.is_finite() && (0.0..=60.0).contains(&tail)) {
        bail!("--tail must be between 0 and 60 seconds, not {tail}");
    }
    super::check_wav_output(output)?;
    let model = load_model(model_dir)?;
    let analysis = analyze_file(&model, reference)?;
    let audio = audio_io::load(input)?;
    let cloned = clone_audio(&model, &analysis, &audio, mode, tail)?;
    audio_io::write_wav(output, &cloned)?;
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
        audio_io::write_wav(&path, &clone_audio(&model, &a, &input, mode, 2.0)?)?;
        writeln!(out, "wrote {} ({} clone of {})", path.display(), if mode == CloneMode::Fx { "FX" } else { "tone" }, riff.display())?;
    }
    Ok(())
}
