//! `gddsp-train pitch-eval`: the live pitch trackers ([`gddsp_core::live`]) against the
//! note truth, on generated chords and lines played by the held-out guitar (the
//! corpus's test guitar, never in training; the SoundFont's Jazz Guitar, or the
//! held-out plucked string without a SoundFont).
//!
//! * **Mono (polyphonic tracker)**: the six strings summed. Frame-level note F-measure
//!   (MIREX multi-F0 style): in each frame the estimated notes (MIDI, rounded) are
//!   matched one-to-one with the notes sounding in the truth; precision, recall and F over
//!   all frames. The estimate of frame `i` (ready at sample `(i+1)·hop`) is compared with
//!   the truth `latency` earlier, as a player hears it. A truth note counts where it is
//!   audible: its string's loudness is above the tracker's gate (palm-muted and choked
//!   notes count: they have a pitch).
//!   Also: how often a matched note is on its true string, and the median delay from a
//!   note's onset to the first frame reporting it.
//! * **Hex**: each string's own channel through [`HexTracker`]; the share of the
//!   string's voiced frames (a note sounds through YIN's window and the string is above
//!   the gate) whose f0 is within 20 cents of the truth at the window's centre.
//!
//! Also the trackers' real-time factor on this machine (one core).

use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use gddsp_core::analysis::loudness::Loudness;
use gddsp_core::analysis::pitch::WINDOW as YIN_WINDOW;
use gddsp_core::live::hex::HexTracker;
use gddsp_core::live::poly::{PolyConfig, PolyTracker};
use gddsp_core::live::STRINGS;
use gddsp_core::ModelSpec;

use crate::data::corpus::{choose_synth, CorpusConfig};
use crate::data::guitars::{catalogue, render_strings, ExtraGuitars, Voice};
use crate::data::material::perform;
use crate::data::notes::{NoteTruth, Tuning};
use crate::data::DataError;

pub const HEX_CENTS: f64 = 20.0;

#[derive(Debug, Clone)]
pub struct PitchEvalConfig {
    pub clips: usize,
    pub seconds: f64,
    pub seed: u64,
    pub soundfont: Option<PathBuf>,
    pub pluck: bool,
    pub poly: PolyConfig,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PitchReport {
    pub guitar: String,
    pub clips: usize,
    pub seconds: f64,
    pub frames: usize,
    pub poly: PolyScores,
    pub hex: HexScores,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PolyScores {
    pub window: usize,
    pub latency_ms: f64,
    pub precision: f64,
    pub recall: f64,
    pub f_measure: f64,
    /// Matched notes reported on their true string.
    pub string_accuracy: f64,
    pub median_onset_delay_ms: f64,
    pub realtime_factor: f64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HexScores {
    pub voiced_frames: u64,
    pub within_20_cents: f64,
    pub per_string: [f64; STRINGS],
    pub realtime_factor: f64,
}

/// Renders the evaluation clips: `(truth, six string channels)` at the model rate.
pub fn render_clips(
    cfg: &PitchEvalConfig,
    spec: &ModelSpec,
) -> Result<(String, Vec<(NoteTruth, Vec<Vec<f32>>)>), DataError> {
    let mut corpus = CorpusConfig::new(PathBuf::new(), 1.0, cfg.seed);
    corpus.soundfont = cfg.soundfont.clone();
    corpus.pluck = cfg.pluck;
    let (font, _) = choose_synth(&corpus)?;
    let (_, guitar) = catalogue(font.as_ref(), &ExtraGuitars::default())?;
    let mut voice = Voice::new(&guitar, spec.sample_rate, cfg.seed)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x5049_5443_48);
    let samples = (cfg.seconds * spec.sample_rate as f64) as usize;
    let clips = (0..cfg.clips)
        .map(|_| {
            let truth = perform(&mut rng, Tuning::Standard, cfg.seconds, 1.0);
            let strings = render_strings(&mut voice, &truth, spec.sample_rate, samples);
            (truth, strings)
        })
        .collect();
    Ok((format!("{} ({})", guitar.name, guitar.id), clips))
}

pub fn evaluate_pitch(cfg: &PitchEvalConfig) -> Result<PitchReport, DataError> {
    let spec = ModelSpec::default();
    let sr = spec.sample_rate as f64;
    let hop = spec.hop;
    let (guitar, clips) = render_clips(cfg, &spec)?;
    let mut report = PitchReport {
        guitar,
        clips: clips.len(),
        seconds: cfg.seconds * clips.len() as f64,
        ..Default::default()
    };
    let loudness = Loudness::new(spec.sample_rate as f32);
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    let (mut on_string, mut matched) = (0u64, 0u64);
    let mut delays = Vec::new();
    let (mut poly_time, mut hex_time) = (0.0, 0.0);
    let mut hex_hits = [0u64; STRINGS];
    let mut hex_voiced = [0u64; STRINGS];
    let gate = cfg.poly.gate_db;
    for (truth, strings) in &clips {
        let mono: Vec<f32> = (0..strings[0].len())
            .map(|n| strings.iter().map(|c| c[n]).sum())
            .collect();
        let string_loudness: Vec<Vec<f32>> =
            strings.iter().map(|c| loudness.track(c, hop)).collect();

        let mut poly = PolyTracker::with_config(spec.sample_rate as f32, hop, cfg.poly);
        let latency = poly.latency_samples();
        report.poly.window = cfg.poly.window;
        report.poly.latency_ms = latency as f64 / sr * 1000.0;
        let t0 = Instant::now();
        let frames = poly.track(&mono, hop);
        poly_time += t0.elapsed().as_secs_f64();
        report.frames += frames.len();
        let audible = |s: usize, t: f64| -> Option<i32> {
            let note = truth.note_at(s, t)?;
            let frame = ((t * sr / hop as f64).round() as usize).min(string_loudness[s].len() - 1);
            (string_loudness[s][frame] >= gate).then(|| note.pitch_at(t).round() as i32)
        };
        for (i, f) in frames.iter().enumerate() {
            let t = ((i + 1) * hop) as f64 / sr - latency as f64 / sr;
            if t < 0.0 {
                continue;
            }
            let mut truth_notes: Vec<(usize, i32)> = (0..STRINGS)
                .filter_map(|s| audible(s, t).map(|m| (s, m)))
                .collect();
            for n in f.notes() {
                match truth_notes.iter().position(|&(_, m)| m == n.midi as i32) {
                    Some(p) => {
                        tp += 1;
                        matched += 1;
                        if truth_notes[p].0 == n.string {
                            on_string += 1;
                        }
                        truth_notes.swap_remove(p);
                    }
                    None => fp += 1,
                }
            }
            fn_ += truth_notes.len() as u64;
        }
        // Onset delay: from a note's start to the first frame (by when it is ready)
        // that reports its pitch, within 200 ms.
        for (s, notes) in truth.strings.iter().enumerate() {
            for n in notes.iter().filter(|n| n.end - n.start > 0.15) {
                let first = (n.start * sr / hop as f64).floor() as usize;
                let found = (first..frames.len().min(first + (0.2 * sr) as usize / hop))
                    .find(|&i| frames[i].notes().any(|p| p.midi as i32 == n.midi as i32));
                if let (Some(i), true) = (found, audible(s, n.start + 0.05).is_some()) {
                    delays.push(((i + 1) * hop) as f64 / sr - n.start);
                }
            }
        }

        let mut hex = HexTracker::new(spec.sample_rate as f32, hop);
        hex.gate_db = gate;
        let t0 = Instant::now();
        let hex_frames = hex.track(strings, hop);
        hex_time += t0.elapsed().as_secs_f64();
        for (i, f) in hex_frames.iter().enumerate() {
            let end = ((i + 1) * hop) as f64 / sr;
            let start = end - YIN_WINDOW as f64 / sr;
            for s in 0..STRINGS {
                let frame = i.min(string_loudness[s].len() - 1);
                let voiced = start >= 0.0
                    && truth.one_note_over(s, start, end)
                    && string_loudness[s][frame] >= gate;
                if !voiced {
                    continue;
                }
                hex_voiced[s] += 1;
                let want = truth.f0_at(s, 0.5 * (start + end)).unwrap_or(0.0);
                let got = f.f0_hz[s] as f64;
                if f.confidence[s] > 0.0
                    && got > 0.0
                    && (1200.0 * (got / want).log2()).abs() <= HEX_CENTS
                {
                    hex_hits[s] += 1;
                }
            }
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let p = ratio(tp, tp + fp);
    let r = ratio(tp, tp + fn_);
    delays.sort_by(f64::total_cmp);
    report.poly = PolyScores {
        precision: p,
        recall: r,
        f_measure: if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        },
        string_accuracy: ratio(on_string, matched),
        median_onset_delay_ms: delays
            .get(delays.len() / 2)
            .map_or(f64::NAN, |d| d * 1000.0),
        realtime_factor: report.seconds / poly_time.max(1e-9),
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        ..report.poly
    };
    report.hex = HexScores {
        voiced_frames: hex_voiced.iter().sum(),
        within_20_cents: ratio(hex_hits.iter().sum(), hex_voiced.iter().sum()),
        per_string: std::array::from_fn(|s| ratio(hex_hits[s], hex_voiced[s])),
        realtime_factor: report.seconds / hex_time.max(1e-9),
    };
    Ok(report)
}

/// The report as Markdown.
pub fn markdown(r: &PitchReport) -> String {
    let mut s = String::new();
    s += "# Live pitch tracking: evaluation\n\n";
    s += &format!("{} clips × {:.0} s of generated chords and lines (standard tuning), {} frames, played by **{}**, the held-out guitar. Regenerate with `gddsp-train pitch-eval --out models`.\n\n", r.clips, r.seconds / r.clips.max(1) as f64, r.frames, r.guitar);
    s += "| input | measure | value | target |\n|---|---|---|---|\n";
    s += &format!("| mono (polyphonic tracker) | frame-level note F-measure | {:.3} (P {:.3}, R {:.3}) | ≥ 0.80 |\n", r.poly.f_measure, r.poly.precision, r.poly.recall);
    s += &format!(
        "| mono | added latency (window/2 + 1 frame) | {:.1} ms | ≤ 25 ms |\n",
        r.poly.latency_ms
    );
    s += &format!(
        "| mono | median onset-to-report delay | {:.1} ms | |\n",
        r.poly.median_onset_delay_ms
    );
    s += &format!(
        "| mono | matched notes on their true string | {:.3} | |\n",
        r.poly.string_accuracy
    );
    s += &format!(
        "| mono | real-time factor, one core | {:.0}× | |\n",
        r.poly.realtime_factor
    );
    s += &format!(
        "| hex | voiced frames within 20 cents | {:.3} of {} | ≥ 0.95 |\n",
        r.hex.within_20_cents, r.hex.voiced_frames
    );
    s += &format!(
        "| hex | per string, low E → high E | {} | |\n",
        r.hex
            .per_string
            .iter()
            .map(|v| format!("{v:.3}"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    s += &format!(
        "| hex | real-time factor, one core | {:.0}× | |\n",
        r.hex.realtime_factor
    );
    s
}
