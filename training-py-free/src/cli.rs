//! The `gddsp-train` command line: corpus generation, corpus checks, plots. `main.rs`
//! only maps the result to an exit code.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use gddsp_core::audio_io;

use crate::data::check::{self, AGREE_CENTS};
use crate::data::corpus::{self, CorpusConfig};
use crate::data::guitarset::load_guitarset;
use crate::data::LoadOptions;
use crate::ddsp::parity::{self, SAMPLE_BOUND, SPECTRAL_BOUND};
use crate::ddsp::{bench, recovery};
use crate::eval::{evaluate, EvalOptions};
use crate::export::{export, load_run, write_default_z};
use crate::model::ModelConfig;
use crate::plot::{self, Panel};
use crate::train::read_heads::{fit_head, Head, HeadConfig};
use crate::train::{train, TrainConfig};

#[derive(Debug, Parser)]
#[command(name = "gddsp-train", version, about = "Train GDDSP: make data, train, evaluate, export (pure Rust).")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a hexaphonic clean/wet corpus from sampled guitars (or plucked strings).
    Data {
        /// Output folder (must not hold a corpus yet).
        #[arg(long)]
        out: PathBuf,
        /// Hours of audio to generate.
        #[arg(long)]
        hours: f64,
        /// Seed: the same seed gives the same corpus bit for bit.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// SoundFont to render with [default: /usr/share/sounds/sf2/FluidR3_GM.sf2 if present].
        #[arg(long, value_name = "PATH")]
        soundfont: Option<PathBuf>,
        /// Use the dependency-free plucked-string model even if a SoundFont is present.
        #[arg(long, conflicts_with = "soundfont")]
        pluck: bool,
        /// Another SoundFont whose clean guitars (GM 24–27) join the training guitars; the
        /// held-out test guitar stays the main font's. Repeatable.
        #[arg(long, value_name = "PATH", conflicts_with = "pluck")]
        extra_soundfont: Vec<PathBuf>,
        /// The plucked-string guitars join the SoundFont's training guitars.
        #[arg(long, conflicts_with = "pluck")]
        pluck_too: bool,
        /// Sample rate of the corpus, Hz.
        #[arg(long, value_name = "HZ", default_value_t = 16_000)]
        rate: u32,
        /// Seconds per clip.
        #[arg(long, default_value_t = 8.0)]
        clip_seconds: f64,
        /// Worker threads [default: all cores].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Load a corpus the way training does and measure it: wet vs FX(clean mix), and
    /// per-string pitch tracking vs the note truth.
    Check {
        /// A corpus folder (manifest.json + splits), a folder of NAME_clean.wav/NAME_wet.wav
        /// pairs, or with --guitarset a GuitarSet folder.
        dir: PathBuf,
        /// Read GuitarSet's own layout (audio_hex-pickup_debleeded/ + annotation/).
        #[arg(long)]
        guitarset: bool,
        /// Skip bad files with a warning instead of stopping at the first.
        #[arg(long)]
        skip_bad: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Render random controls and knobs through the real-time core and through the
    /// differentiable twins; print each block's spectral and sample error.
    Parity {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds of audio per block.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// Trains the model: clean + wet multi-scale spectral losses (+ supervised knob loss).
    Train(TrainArgs),
    /// Fits the comb head on a trained run (the delay's mix and feedback read off the
    /// cepstrum at the echo, gated; everything else frozen) and writes the run with it to OUT.
    CombHead(HeadArgs),
    /// Fits the tail head on a run with the comb head (the reverb's decay, damping and mix
    /// read off the free decay after the playing stops, gated; everything else frozen) and
    /// writes the run with it to OUT.
    TailHead(HeadArgs),
    /// Fits the room head on a run with the tail head (the reverb's mix and decay read off
    /// what the clip's segments share in their cepstra, gated; everything else frozen) and
    /// writes the run with it to OUT.
    RoomHead(HeadArgs),
    /// Exports a run as encoder.onnx, decoder.onnx and model.json.
    Export {
        /// The run folder made by `train`.
        run: PathBuf,
        #[arg(long, default_value = "models")]
        out: PathBuf,
    },
    /// Sets an exported model's default timbre (model.json's `default_z`, what the plugin
    /// plays before a reference is loaded) to the mean z of a corpus's training clips.
    /// `export` does this itself when the run's corpus is at hand.
    DefaultZ {
        /// Folder with encoder.onnx, decoder.onnx and model.json.
        #[arg(long, default_value = "models")]
        model: PathBuf,
        /// The corpus (its `train` split is read).
        #[arg(long)]
        data: PathBuf,
    },
    /// Evaluates an exported model on a split: knob MAE, spectral distances, tone clone, baselines.
    Eval {
        /// Folder with encoder.onnx, decoder.onnx and model.json.
        #[arg(long, default_value = "models")]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "test")]
        split: String,
        /// The one-oscillator ablation, exported the same way.
        #[arg(long)]
        mono: Option<PathBuf>,
        /// The clean-loss-only ablation, exported the same way.
        #[arg(long)]
        clean_only: Option<PathBuf>,
        /// Report folder (default: the model folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Evaluate only the first N clips.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Evaluates the live pitch trackers (mono polyphonic, hex) on generated chords and
    /// lines played by the held-out guitar.
    PitchEval {
        #[arg(long, default_value_t = 20)]
        clips: usize,
        /// Seconds per clip.
        #[arg(long, default_value_t = 8.0)]
        seconds: f64,
        #[arg(long, default_value_t = 11)]
        seed: u64,
        /// SoundFont to render with [default: /usr/share/sounds/sf2/FluidR3_GM.sf2 if present].
        #[arg(long, value_name = "PATH")]
        soundfont: Option<PathBuf>,
        /// Use the plucked-string model even if a SoundFont is present.
        #[arg(long, conflicts_with = "soundfont")]
        pluck: bool,
        /// The polyphonic tracker's analysis window, samples at 16 kHz.
        #[arg(long)]
        window: Option<usize>,
        /// The polyphonic tracker's FFT length (a power of two ≥ the window).
        #[arg(long)]
        fft_len: Option<usize>,
        /// Write pitch_eval.json and pitch_eval.md here.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Recover a known knob setting by gradient descent on the wet spectral loss alone,
    /// knob by knob and all together; print each knob's final normalized error.
    Recover {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds of audio.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Adam steps per single-knob run (three times as many for all nine).
        #[arg(long, default_value_t = 100)]
        steps: usize,
    },
    /// Time and peak memory of forward + backward through the full clean + wet path for
    /// one example of 1, 2 and 4 s.
    Bench {
        #[arg(long)]
        json: bool,
        /// Runs per size (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Draw stacked spectrograms of audio files into a PNG (multi-channel files are summed).
    Spectrogram {
        /// Audio files, drawn top to bottom.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// PNG to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Why a run ended without doing its job.
#[derive(Debug)]
pub enum CliError {
    /// Bad command line, or `--help` / `--version` (clap prints these).
    Usage(clap::Error),
    /// The command failed; the message names what went wrong.
    Failed(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::Failed(e.into())
    }
}

/// Parses `args` (program name first) and runs the command; results go to `out`,
/// progress and notices to stderr.
pub fn run<I, T>(args: I, out: &mut dyn Write) -> Result<(), CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(CliError::Usage)?;
    match cli.command {
        Command::Data { out: dir, hours, seed, soundfont, pluck, extra_soundfont, pluck_too, rate, clip_seconds, threads } => {
            let mut cfg = CorpusConfig::new(dir, hours, seed);
            cfg.soundfont = soundfont;
            cfg.pluck = pluck;
            cfg.extra_soundfonts = extra_soundfont;
            cfg.pluck_too = pluck_too;
            cfg.sample_rate = rate;
            cfg.clip_seconds = clip_seconds;
            cfg.threads = threads.unwrap_or(cfg.threads);
            cfg.progress = true;
            let started = Instant::now();
            let m = corpus::generate(&cfg, &mut |line| eprintln!("{line}"))?;
            let elapsed = started.elapsed().as_secs_f64();
            writeln!(out, "wrote {} clips, {:.2} h of paired audio to {} in {:.1} s ({:.0}× real time)", m.clips.len(), m.seconds / 3600.0, cfg.out.display(), elapsed, m.seconds / elapsed)
                .context("writing to stdout")?;
            for (name, s) in &m.splits {
                let guitars: Vec<&str> = s.guitars.iter().map(String::as_str).collect();
                writeln!(out, "  {name:5} {:4} clips {:7.1} s  guitars {}", s.clips, s.seconds, guitars.join(", ")).context("writing to stdout")?;
            }
        }
        Command::Check { dir, guitarset, skip_bad, json } => {
            let report = if guitarset {
                let opts = LoadOptions { sample_rate: None, skip_bad, progress: true };
                let loaded = load_guitarset(&dir, &opts)?;
                let spec = gddsp_core::ModelSpec::default();
                let mut r = check::CheckReport { clips: loaded.examples.len(), seconds: loaded.seconds(), ..Default::default() };
                r.skipped = loaded.skipped.iter().map(|e| e.to_string()).collect();
                r.notices = loaded.notices;
                for ex in &loaded.examples {
                    if let Some(truth) = &ex.notes {
                        r.pitch.entry("guitarset".into()).or_default().add(&check::pitch_agreement(truth, &ex.features, &spec));
                    }
                }
                r
            } else {
                check::check(&dir, skip_bad, true)?
            };
            for s in &report.skipped {
                eprintln!("warning: skipped {s}");
            }
            for n in &report.notices {
                eprintln!("note: {n}");
            }
            if json {
                let text = serde_json::to_string_pretty(&report).context("serialising the report")?;
                writeln!(out, "{text}").context("writing to stdout")?;
            } else {
                writeln!(out, "{} clips, {:.1} s; {} skipped; max |wet − fx(clean mix)| = {:.2e}", report.clips, report.seconds, report.skipped.len(), report.max_wet_error)
                    .context("writing to stdout")?;
                writeln!(out, "per-string f0 within {AGREE_CENTS} cents of the note truth:").context("writing to stdout")?;
                for (guitar, p) in &report.pitch {
                    writeln!(out, "  {guitar:14} voiced frames {:6.2} % of {:7}   single-note windows {:6.2} % of {:7}", 100.0 * p.voiced_rate(), p.voiced_frames, 100.0 * p.single_note_rate(), p.single_note_frames)
                        .context("writing to stdout")?;
                }
            }
        }
        Command::Parity { json, seed, seconds } => {
            if !(seconds.is_finite() && (0.1..=30.0).contains(&seconds)) {
                return Err(anyhow::anyhow!("--seconds must be between 0.1 and 30, not {seconds}").into());
            }
            let report = parity::run(seed, seconds);
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report).context("serialising the report")?).context("writing to stdout")?;
            } else {
                writeln!(out, "{:.2} s at {} Hz, seed {}; bounds: spectral ≤ {SPECTRAL_BOUND}, sample ≤ {SAMPLE_BOUND:.0e} where exact", report.seconds, report.sample_rate, report.seed)
                    .context("writing to stdout")?;
                for b in &report.blocks {
                    let verdict = if b.passed { "ok" } else { "FAIL" };
                    writeln!(out, "  {:22} spectral {:.2e}  max sample {:.2e}{}  {verdict}   {}", b.block, b.spectral_error, b.max_sample_error, if b.sample_exact { " (exact)" } else { "        " }, b.settings)
                        .context("writing to stdout")?;
                }
            }
            if !report.passed() {
                return Err(anyhow::anyhow!("a block is outside its parity bound").into());
            }
        }
        Command::Train(args) => {
            let cfg = args.config()?;
            let summary = train(&cfg, &args.out, args.resume, args.stop_after, std::io::stderr().is_terminal(), &mut std::io::stderr()).map_err(|e| anyhow::anyhow!(e))?;
            writeln!(out, "trained {} steps in {:.0} s; best validation score {:.4}; run in {}", summary.steps, summary.seconds, summary.best_valid.unwrap_or(f64::NAN), args.out.display()).context("writing to stdout")?;
        }
        Command::CombHead(args) => fit_head_command(Head::Comb, args, out)?,
        Command::TailHead(args) => fit_head_command(Head::Tail, args, out)?,
        Command::RoomHead(args) => fit_head_command(Head::Room, args, out)?,
        Command::Export { run, out: dir } => {
            let loaded = load_run(&run, &crate::ddsp::device()).map_err(|e| anyhow::anyhow!(e))?;
            export(&loaded, &dir, None).map_err(|e| anyhow::anyhow!(e))?;
            writeln!(out, "exported {} to {} (encoder.onnx, decoder.onnx, model.json)", loaded.checkpoint.display(), dir.display()).context("writing to stdout")?;
            match write_default_z(&dir, &loaded.config.data) {
                Ok(n) => writeln!(out, "default timbre: the mean z of {n} training clips").context("writing to stdout")?,
                Err(e) => eprintln!("warning: no default timbre in model.json ({e}); run `gddsp-train default-z --model {} --data CORPUS`", dir.display()),
            }
        }
        Command::DefaultZ { model, data } => {
            let n = write_default_z(&model, &data).map_err(|e| anyhow::anyhow!(e))?;
            writeln!(out, "{}: default timbre set to the mean z of {n} training clips", model.join(gddsp_core::inference::MODEL_JSON).display()).context("writing to stdout")?;
        }
        Command::Eval { model, data, split, mono, clean_only, out: report, limit } => {
            let opts = EvalOptions { out: report.unwrap_or_else(|| model.clone()), model, data, split, mono, clean_only, limit };
            let r = evaluate(&opts, &mut |line| eprintln!("{line}")).map_err(|e| anyhow::anyhow!(e))?;
            write!(out, "{}", crate::eval::markdown(&r)).context("writing to stdout")?;
            writeln!(out, "\nreport: {}", opts.out.join("eval.md").display()).context("writing to stdout")?;
        }
        Command::PitchEval { clips, seconds, seed, soundfont, pluck, window, fft_len, out: dir, json } => {
            if clips == 0 || !(seconds.is_finite() && (2.0..=60.0).contains(&seconds)) {
                return Err(anyhow::anyhow!("--clips must be at least 1 and --seconds 2–60").into());
            }
            let mut poly = gddsp_core::live::poly::PolyConfig::default();
            if let Some(w) = window {
                if !(128..=poly.fft_len).contains(&w) {
                    return Err(anyhow::anyhow!("--window must be 128–{} samples", poly.fft_len).into());
                }
                poly.window = w;
            }
            if let Some(n) = fft_len {
                if !n.is_power_of_two() || n < poly.window || n > 16_384 {
                    return Err(anyhow::anyhow!("--fft-len must be a power of two from the window ({}) to 16384", poly.window).into());
                }
                poly.fft_len = n;
            }
            let cfg = crate::pitch_eval::PitchEvalConfig { clips, seconds, seed, soundfont, pluck, poly };
            let report = crate::pitch_eval::evaluate_pitch(&cfg)?;
            let text = serde_json::to_string_pretty(&report).context("serialising the report")?;
            let md = crate::pitch_eval::markdown(&report);
            if let Some(dir) = dir {
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                std::fs::write(dir.join("pitch_eval.json"), &text).with_context(|| format!("writing {}", dir.join("pitch_eval.json").display()))?;
                std::fs::write(dir.join("pitch_eval.md"), &md).with_context(|| format!("writing {}", dir.join("pitch_eval.md").display()))?;
            }
            writeln!(out, "{}", if json { text } else { md }).context("writing to stdout")?;
        }
        Command::Recover { json, seed, seconds, steps } => {
            if !(seconds.is_finite() && (0.25..=10.0).contains(&seconds)) || steps == 0 {
                return Err(anyhow::anyhow!("--seconds must be 0.25–10 and --steps at least 1").into());
            }
            let report = recovery::report(seed, seconds, steps, &|what| eprintln!("recovering {what}"));
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report).context("serialising the report")?).context("writing to stdout")?;
            } else {
                writeln!(out, "seed {seed}, {seconds} s, {steps} steps; normalized error |found − truth| per knob").context("writing to stdout")?;
                for r in report.alone.iter().chain(&report.together) {
                    let grid = match r.start_from {
                        recovery::Start::Given => "",
                        recovery::Start::GridSpectral => " (grid start, spectral loss)",
                        recovery::Start::GridAutocorrelation => " (grid start, envelope autocorrelation)",
                    };
                    let errors: Vec<String> = r.knobs.iter().zip(&r.error).map(|(k, e)| format!("{k} {e:.3}")).collect();
                    writeln!(out, "  {}{grid}  loss {:.3} → {:.3}", errors.join(", "), r.first_loss, r.last_loss).context("writing to stdout")?;
                }
            }
        }
        Command::Bench { json, runs } => {
            let costs: Vec<_> = [1.0, 2.0, 4.0].iter().map(|&s| bench::example_cost(s, runs.max(1))).collect();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&costs).context("serialising the report")?).context("writing to stdout")?;
            } else {
                writeln!(out, "one example, 6 voices × 60 harmonics + noise + FX chain + both spectral losses, 16 kHz:").context("writing to stdout")?;
                for c in &costs {
                    let mem = c.peak_mib.map_or("n/a".to_string(), |m| format!("{m:.0} MiB"));
                    writeln!(out, "  {:.0} s: forward {:.3} s, backward {:.3} s, peak memory {mem}", c.seconds, c.forward_s, c.backward_s).context("writing to stdout")?;
                }
            }
        }
        Command::Spectrogram { inputs, out: png } => {
            let audio: Vec<_> = inputs.iter().map(|p| audio_io::load(p)).collect::<Result<_, _>>()?;
            let panels: Vec<Panel> = inputs
                .iter()
                .zip(&audio)
                .map(|(p, a)| {
                    let name = p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into_owned());
                    let summed = if a.channels.len() > 1 { format!(" ({} channels summed)", a.channels.len()) } else { String::new() };
                    Panel { title: format!("{name}{summed}"), audio: a }
                })
                .collect();
            plot::spectrograms_png(&png, &panels).map_err(|e| anyhow::anyhow!("{}: cannot draw the plot: {e}", png.display()))?;
            writeln!(out, "wrote {}", png.display()).context("writing to stdout")?;
        }
    }
    Ok(())
}

/// `gddsp-train train`'s flags.
#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// A corpus made by `gddsp-train data` (train/ and valid/ inside).
    #[arg(long)]
    data: PathBuf,
    /// Run folder: checkpoints, metrics.jsonl, best.bpk.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Optimizer steps in all.
    #[arg(long, default_value_t = 3000)]
    steps: u64,
    /// Knob-only steps first (encoder + FX decoder on the knob loss), part of --steps.
    #[arg(long, default_value_t = 1000)]
    knob_steps: u64,
    /// Steps between validations and checkpoints.
    #[arg(long, default_value_t = 100)]
    epoch_steps: u64,
    /// Crops per step for the spectral losses.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Seconds per crop.
    #[arg(long, default_value_t = 1.0)]
    crop: f64,
    /// Re-rendered clips per step for the knob loss (0: corpus knobs only).
    #[arg(long, default_value_t = 16)]
    knob_batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Weight of Loss 2 (wet); 0 trains the clean-loss-only ablation.
    #[arg(long, default_value_t = 1.0)]
    wet_weight: f32,
    /// Weight of the supervised knob loss (0: spectral losses only).
    #[arg(long, default_value_t = 5.0)]
    knob_weight: f32,
    /// Oscillators: 6 (one per string) or 1 (the monophonic ablation).
    #[arg(long, default_value_t = 6)]
    voices: usize,
    /// Leave the echo profile out of the encoder's input (MFCC only).
    #[arg(long)]
    no_echo: bool,
    /// Leave the clip profiles (envelope echo, decay rates, crest factors) out of the
    /// encoder's input: MFCC and the echo cepstrum only, as models before them.
    #[arg(long)]
    no_clip_profiles: bool,
    /// No delay read: the delay time knob comes from the FX decoder alone, as in
    /// models before it (the read needs the clip profiles).
    #[arg(long)]
    no_delay_read: bool,
    /// Colour knob examples with a random EQ before the FX chain (guitar invariance).
    #[arg(long)]
    eq_augment: bool,
    /// Scale knob examples' wet renders by a random gain within ± this many dB before
    /// the encoder hears them, so the reference's level (which a DAW clip does not
    /// keep) cannot stand in for the distortion (0: none).
    #[arg(long, default_value_t = 0.0)]
    level_augment_db: f32,
    /// Decay the learning rate over the knob stage as well.
    #[arg(long)]
    knob_decay: bool,
    /// Start the encoder from another run's encoder_after_knob_stage.bpk (no warm-up).
    #[arg(long)]
    init_encoder: Option<PathBuf>,
    /// Stop after this step (the schedule still spans --steps); resume to go on.
    #[arg(long)]
    stop_after: Option<u64>,
    /// Share of the spectral losses' gradient reaching the encoder through z.
    #[arg(long, default_value_t = 0.05)]
    z_grad: f32,
    /// Share of the wet loss's gradient reaching the encoder through the knobs.
    #[arg(long, default_value_t = 0.0)]
    knob_grad: f32,
    /// Width of the encoder (MFCC GRU, profile layers, FX decoder's hidden layer).
    #[arg(long, default_value_t = 96)]
    encoder_hidden: usize,
}

impl TrainArgs {
    /// The run's settings, checked.
    fn config(&self) -> anyhow::Result<TrainConfig> {
        let a = self;
        if a.voices != 1 && a.voices != 6 {
            anyhow::bail!("--voices must be 6 or 1");
        }
        if a.steps == 0 || a.epoch_steps == 0 || a.batch == 0 || !(0.25..=4.0).contains(&a.crop) || !(a.lr > 0.0) {
            anyhow::bail!("--steps, --epoch-steps and --batch must be at least 1, --crop 0.25–4 s, --lr above 0");
        }
        if !(0.0..=40.0).contains(&a.level_augment_db) {
            anyhow::bail!("--level-augment-db {}: give 0–40 dB", a.level_augment_db);
        }
        if !(8..=1024).contains(&a.encoder_hidden) {
            anyhow::bail!("--encoder-hidden must be 8–1024");
        }
        let mut cfg = TrainConfig::new(a.data.clone());
        cfg.seed = a.seed;
        cfg.steps = a.steps;
        cfg.knob_steps = a.knob_steps.min(a.steps);
        cfg.epoch_steps = a.epoch_steps;
        cfg.batch = a.batch;
        cfg.crop_s = a.crop;
        cfg.knob_batch = a.knob_batch;
        cfg.lr = a.lr;
        cfg.lr_end = a.lr / 10.0;
        cfg.warmup = if a.init_encoder.is_some() { 0 } else { cfg.warmup.min(a.steps / 10) };
        cfg.w_wet = a.wet_weight;
        cfg.w_knob = a.knob_weight;
        cfg.echo = !a.no_echo;
        cfg.eq_augment = a.eq_augment;
        cfg.level_augment_db = a.level_augment_db;
        cfg.knob_decay = a.knob_decay;
        cfg.init_encoder = a.init_encoder.clone();
        cfg.z_grad = a.z_grad;
        cfg.knob_grad = a.knob_grad;
        cfg.model = ModelConfig::with_voices(a.voices);
        cfg.model.encoder_hidden = a.encoder_hidden;
        cfg.model.spec.clip_profiles = !a.no_clip_profiles;
        cfg.model.delay_read = !a.no_delay_read && !a.no_clip_profiles;
        Ok(cfg)
    }
}

/// The `gddsp-train train` flags (after `--out RUN`) that make `cfg` again, every setting
/// spelled out so that the line replays the run whatever the defaults become; `export`
/// writes it into model.json. A test parses it back to the same config.
pub fn train_flags(cfg: &TrainConfig) -> String {
    let mut f = format!(
        "--data {} --seed {} --steps {} --knob-steps {} --epoch-steps {} --batch {} --crop {} --knob-batch {} --lr {} --wet-weight {} --knob-weight {} --voices {} --level-augment-db {} --z-grad {} --knob-grad {} --encoder-hidden {}",
        cfg.data.display(), cfg.seed, cfg.steps, cfg.knob_steps, cfg.epoch_steps, cfg.batch, cfg.crop_s, cfg.knob_batch, cfg.lr, cfg.w_wet, cfg.w_knob, cfg.model.spec.voices, cfg.level_augment_db, cfg.z_grad, cfg.knob_grad, cfg.model.encoder_hidden,
    );
    let switches = [(!cfg.echo, "--no-echo"), (!cfg.model.spec.clip_profiles, "--no-clip-profiles"), (cfg.model.spec.clip_profiles && !cfg.model.delay_read, "--no-delay-read"), (cfg.eq_augment, "--eq-augment"), (cfg.knob_decay, "--knob-decay")];
    for (_, flag) in switches.iter().filter(|s| s.0) {
        f += " ";
        f += flag;
    }
    if let Some(path) = &cfg.init_encoder {
        f += &format!(" --init-encoder {}", path.display());
    }
    f
}

/// The arguments of `comb-head`, `tail-head` and `room-head`.
#[derive(Debug, clap::Args)]
struct HeadArgs {
    /// The run folder (made by `train` for the comb head, by `comb-head` for the tail head,
    /// by `tail-head` for the room head).
    run: PathBuf,
    /// The new run folder (export it like any other).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 600)]
    steps: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Re-rendered clips per step.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Render the fit's clips with reverbs of other noise than the corpus's (the same
    /// decay, damping and mix), so the head cannot lean on the corpus's one room.
    #[arg(long)]
    other_reverbs: bool,
    /// `comb-head` only: the head also gates the delay time against the comb's delay read
    /// (the shipped model's comb head predates it; README, *The comb head's time gate*).
    #[arg(long)]
    time_gate: bool,
}

/// `comb-head` / `tail-head` / `room-head`: fits `head` on the run into OUT and says how the validation
/// knob MAE moved.
fn fit_head_command(head: Head, a: HeadArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if a.time_gate && head != Head::Comb {
        anyhow::bail!("--time-gate is the comb head's: the delay time is gated by `gddsp-train comb-head`, not by the {}", head.label());
    }
    let cfg = HeadConfig { steps: a.steps, seed: a.seed, batch: a.batch, lr: a.lr, other_reverbs: a.other_reverbs, time_gate: a.time_gate, ..HeadConfig::default() };
    let s = fit_head(head, &a.run, &a.out, &cfg, std::io::stderr().is_terminal(), &mut std::io::stderr()).map_err(|e| anyhow::anyhow!(e))?;
    writeln!(out, "{} fitted in {:.0} s: validation knob MAE {:.4} as trained, {:.4} with the head; run in {}", head.label(), s.seconds, s.before, s.best, a.out.display()).context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_train(line: &str) -> TrainArgs {
        let cli = Cli::try_parse_from(std::iter::once("gddsp-train").chain(line.split(' '))).expect("the line parses");
        match cli.command {
            Command::Train(args) => args,
            other => panic!("not a train command: {other:?}"),
        }
    }

    #[test]
    fn the_replay_flags_parse_back_to_the_same_config() {
        let lines = [
            "train --data c --out r",
            "train --data c --out r --seed 3 --steps 1200 --knob-steps 0 --init-encoder k/encoder_after_knob_stage.bpk --level-augment-db 12 --voices 1",
            "train --data c --out r --no-echo --no-clip-profiles --eq-augment --knob-decay --wet-weight 0 --crop 0.5 --lr 0.0003 --z-grad 0.2 --encoder-hidden 64",
            "train --data c --out r --no-delay-read --knob-batch 0 --batch 2 --epoch-steps 50 --knob-weight 1.5 --knob-grad 0.1",
        ];
        let mut seen = Vec::new();
        for line in lines {
            let cfg = parse_train(line).config().expect("valid settings");
            let again = parse_train(&format!("train --out r {}", train_flags(&cfg))).config().expect("valid settings");
            assert_eq!(again, cfg, "{line}");
            seen.push(cfg);
        }
        // The lines differ, so a flag the replay dropped would have shown above.
        assert!(seen.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn every_subcommand_has_its_own_help_line() {
        // `recover`'s doc comment once sat on `train`, so `--help` said train recovers knobs.
        use clap::CommandFactory;
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            assert!(sub.get_about().is_some(), "`{}` has no help line", sub.get_name());
        }
        let about = |name: &str| cli.find_subcommand(name).and_then(|c| c.get_about()).map(|a| a.to_string()).unwrap_or_default();
        assert!(about("train").starts_with("Trains the model"), "train: {}", about("train"));
        assert!(about("recover").starts_with("Recover a known knob setting"), "recover: {}", about("recover"));
    }
}
