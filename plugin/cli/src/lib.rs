//! The `gddsp` command line: the knob table, the FX chain on files, per-channel features
//! and the real-time benchmark. `main.rs` only maps the result to an exit code.

pub mod bench;
pub mod live_input;
pub mod model_cmds;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde::Serialize;

use gddsp_core::analysis::{channel_features, ChannelFeatures};
use gddsp_core::audio_io::{self, Audio};
use gddsp_core::fx::FxChain;
use gddsp_core::{knobs, Knobs, ModelSpec};

#[derive(Debug, Parser)]
#[command(name = "gddsp", version, about = "Clone a guitar tone: FX knobs and timbre from a reference clip.")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the FX knob table as JSON: [{name, unit, min, max, skew, default, meaning}, …].
    Knobs,
    /// Run distortion → delay → reverb over an audio file at its own rate.
    Fx {
        /// Input audio (wav, flac, mp3, ogg; any rate and channel count).
        input: PathBuf,
        /// Output WAV (32-bit float, the input's rate and channels).
        output: PathBuf,
        /// JSON object keyed by knob name; missing knobs take their defaults.
        #[arg(long, value_name = "K.json")]
        knobs: PathBuf,
        /// Append this many seconds so delay and reverb tails ring out.
        #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
        tail: f64,
        /// Sum all channels into one before the chain (a hexaphonic clean recording's
        /// mix, as the training corpus makes its wet side); the output is mono.
        #[arg(long)]
        mix: bool,
    },
    /// Write per-channel f0, confidence and A-weighted loudness at the model frame rate.
    Features {
        /// Input audio (wav, flac, mp3, ogg; any rate and channel count).
        input: PathBuf,
        /// Where to write the JSON.
        #[arg(long, value_name = "F.json")]
        out: PathBuf,
    },
    /// Per-frame notes of your playing, by the live trackers: a 6-channel hex recording
    /// string by string, or a mono guitar (or `--poly`) by the polyphonic tracker. JSON:
    /// `[{time, notes: [{string (1 = high E), midi, f0, confidence}]}]`.
    Pitch {
        input: PathBuf,
        /// The polyphonic mono tracker even on a 6-channel file (its channels are mixed).
        #[arg(long)]
        poly: bool,
        #[arg(long)]
        json: bool,
    },
    /// Infer the FX knobs and the timbre z of a wet reference clip with the trained model.
    Analyze {
        /// The reference (wav, flac, mp3, ogg; any rate and channel count; ≥ 0.5 s).
        reference: PathBuf,
        /// Print {"knobs": {name: value}, "z": [...], "seconds": ...} as JSON.
        #[arg(long)]
        json: bool,
        /// Folder with encoder.onnx, decoder.onnx and model.json.
        #[arg(long, default_value = "models")]
        model: PathBuf,
    },
    /// Make an input sound like a reference: its knobs (fx) or its whole tone (tone).
    Clone {
        #[arg(long)]
        reference: PathBuf,
        /// Your playing: a 6-channel hex recording (one string per channel), mono audio, or
        /// (with --mode tone) a MIDI file.
        #[arg(long)]
        input: PathBuf,
        /// Output WAV (32-bit float, the input's rate).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = model_cmds::CloneMode::Fx)]
        mode: model_cmds::CloneMode,
        /// What --input is, for --mode tone (auto: .mid → midi, 6 channels → hex, else mono;
        /// line: a single-note line, tracked monophonically).
        #[arg(long, value_enum, default_value_t = live_input::InputKind::Auto)]
        input_kind: live_input::InputKind,
        /// MIDI channels → strings (auto: channel per string if the notes use channels 1–6
        /// or 2–7, plain otherwise).
        #[arg(long, value_enum, default_value_t = live_input::MidiMode::Auto)]
        midi_mode: live_input::MidiMode,
        /// Seconds appended so delay and reverb tails ring out.
        #[arg(long, default_value_t = 2.0)]
        tail: f64,
        #[arg(long, default_value = "models")]
        model: PathBuf,
    },
    /// The README's main job: analyse the shipped reference, compare with its true knobs,
    /// clone the shipped riff both ways.
    Demo {
        #[arg(long, default_value = "models")]
        model: PathBuf,
        /// Where the cloned WAVs go.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Measure the real-time factor of the FX chain and of the full synth at 48 kHz.
    Bench {
        /// Print JSON: {"fx_realtime_factor": …, "synth_realtime_factor": …, …}.
        #[arg(long)]
        json: bool,
        /// Seconds of audio rendered per measurement.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// The model whose decoder is timed (native and tract); skipped if it does not load.
        #[arg(long, default_value = "models")]
        model: PathBuf,
    },
}

/// Why a run ended without doing its job.
#[derive(Debug)]
pub enum CliError {
    /// Bad command line, or `--help` / `--version` (clap prints these).
    Usage(clap::Error),
    /// The command failed; the message is one line naming what went wrong.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Failed(e)
    }
}

/// Parses `args` (program name first) and runs the command, writing results to `out`.
pub fn run<I, T>(args: I, out: &mut dyn Write) -> Result<(), CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(CliError::Usage)?;
    match cli.command {
        Command::Knobs => print_json(out, &knobs::table_json())?,
        Command::Fx { input, output, knobs, tail, mix } => fx(&input, &output, &knobs, tail, mix)?,
        Command::Features { input, out: path } => features(&input, &path)?,
        Command::Analyze { reference, json, model } => model_cmds::analyze(&model, &reference, json, out)?,
        Command::Clone { reference, input, out: output, mode, input_kind, midi_mode, tail, model } => {
            model_cmds::clone(&model, &reference, &input, &output, mode, model_cmds::InputOptions { kind: input_kind, midi_mode }, tail)?
        }
        Command::Pitch { input, poly, json } => live_input::pitch(&input, poly, json, out)?,
        Command::Demo { model, out: dir } => model_cmds::demo(&model, &dir, out)?,
        Command::Bench { json, seconds, model } => {
            if !(seconds.is_finite() && (0.5..=600.0).contains(&seconds)) {
                return Err(anyhow::anyhow!("--seconds must be between 0.5 and 600, not {seconds}").into());
            }
            let report = bench::run(seconds, &model);
            if json {
                print_json(out, &serde_json::to_value(&report).context("serialising the report")?)?;
            } else {
                write!(out, "{report}").context("writing to stdout")?;
            }
        }
    }
    Ok(())
}

fn print_json(out: &mut dyn Write, value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("serialising JSON")?;
    writeln!(out, "{text}").context("writing to stdout")
}

/// Reads a knob file, naming it in any error.
pub fn read_knobs(path: &Path) -> anyhow::Result<Knobs> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the knob file", path.display()))?;
    Knobs::from_json(&text).with_context(|| format!("{}", path.display()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn fx(input: &Path, output: &Path, knob_file: &Path, tail: f64, mix: bool) -> anyhow::Result<()> {
    if !(tail.is_finite() && (0.0..=60.0).contains(&tail)) {
        bail!("--tail must be between 0 and 60 seconds, not {tail}");
    }
    check_wav_output(output)?;
    if same_file(input, output) {
        bail!("{}: refusing to overwrite the input; choose another output file", output.display());
    }
    let knobs = read_knobs(knob_file)?;
    let mut audio = audio_io::load(input)?;
    if mix {
        audio = Audio::new(audio.sample_rate, vec![audio.mix_down()]);
    }
    let extra = (tail * audio.sample_rate as f64).round() as usize;
    for ch in &mut audio.channels {
        ch.resize(ch.len() + extra, 0.0);
    }
    FxChain::render_offline(audio.sample_rate as f32, &knobs, &mut audio.channels);
    write_output(output, &audio)?;
    Ok(())
}

/// Peak of all channels, dB re full scale (−inf for silence).
pub(crate) fn peak_dbfs(audio: &Audio) -> f32 {
    20.0 * audio.channels.iter().flatten().fold(0f32, |m, v| m.max(v.abs())).log10()
}

/// Writes `audio` as 32-bit float WAV, and says so on stderr when it peaks above full
/// scale: the file keeps every sample, but a player or a conversion to 16/24-bit clips
/// it. (The FX chain has no limiter; the shipped reference itself peaks at +4 dBFS.)
pub(crate) fn write_output(path: &Path, audio: &Audio) -> anyhow::Result<()> {
    audio_io::write_wav(path, audio)?;
    let peak = peak_dbfs(audio);
    if peak > 0.0 {
        eprintln!("note: {} peaks at {peak:+.1} dBFS, above full scale: the 32-bit float file keeps every sample, but a player or a conversion to 16/24-bit clips it; turn it down by {peak:.1} dB first", path.display());
    }
    Ok(())
}

pub(crate) fn check_wav_output(path: &Path) -> anyhow::Result<()> {
    let is_wav = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    if !is_wav {
        bail!("{}: output must be a .wav file", path.display());
    }
    Ok(())
}

/// What `gddsp features` writes.
#[derive(Debug, Serialize)]
pub struct FeaturesFile {
    pub source: String,
    pub source_sample_rate: u32,
    pub sample_rate: u32,
    pub hop: usize,
    pub frame_rate: f64,
    pub frames: usize,
    pub channels: Vec<ChannelFeatures>,
}

fn features(input: &Path, out: &Path) -> anyhow::Result<()> {
    let spec = ModelSpec::default();
    let audio = audio_io::load(input)?;
    let at_model_rate: Audio = audio_io::resample(&audio, spec.sample_rate)?;
    let channels: Vec<ChannelFeatures> = at_model_rate.channels.iter().map(|ch| channel_features(ch, &spec)).collect();
    let file = FeaturesFile {
        source: input.display().to_string(),
        source_sample_rate: audio.sample_rate,
        sample_rate: spec.sample_rate,
        hop: spec.hop,
        frame_rate: spec.frame_rate(),
        frames: channels.first().map_or(0, |c| c.f0_hz.len()),
        channels,
    };
    let text = serde_json::to_string(&file).context("serialising features")?;
    std::fs::write(out, text).with_context(|| format!("{}: cannot write", out.display()))
}
