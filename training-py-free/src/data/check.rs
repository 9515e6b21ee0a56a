//! `gddsp-train check`: load a corpus the way training will, and measure it — each wet
//! file against the FX chain over its clean mix, and the pitch tracker's per-string f0
//! against the note truth.
//!
//! Pitch agreement is counted on voiced frames (a note sounds at the frame centre) and,
//! separately, on the frames whose whole tracker window (±256 samples at 16 kHz) lies
//! inside one note; a frame agrees when the tracker's f0 is within 20 cents of the truth.

use std::collections::BTreeMap;
use std::path::Path;

use gddsp_core::analysis::pitch::WINDOW;
use gddsp_core::analysis::ChannelFeatures;
use gddsp_core::fx::FxChain;
use gddsp_core::ModelSpec;
use serde::Serialize;

use super::corpus::{Manifest, SPLITS};
use super::error::DataError;
use super::notes::NoteTruth;
use super::pairs::load_pairs;
use super::{Example, LoadOptions};

pub const AGREE_CENTS: f64 = 20.0;

/// Frame counts of one pitch comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PitchAgreement {
    pub voiced_frames: usize,
    pub voiced_agree: usize,
    pub single_note_frames: usize,
    pub single_note_agree: usize,
}

impl PitchAgreement {
    pub fn add(&mut self, o: &PitchAgreement) {
        self.voiced_frames += o.voiced_frames;
        self.voiced_agree += o.voiced_agree;
        self.single_note_frames += o.single_note_frames;
        self.single_note_agree += o.single_note_agree;
    }

    pub fn voiced_rate(&self) -> f64 {
        self.voiced_agree as f64 / self.voiced_frames.max(1) as f64
    }

    pub fn single_note_rate(&self) -> f64 {
        self.single_note_agree as f64 / self.single_note_frames.max(1) as f64
    }
}

/// Compares per-string tracked f0 (at the model frame rate) with the note truth.
pub fn pitch_agreement(truth: &NoteTruth, features: &[ChannelFeatures], spec: &ModelSpec) -> PitchAgreement {
    let mut a = PitchAgreement::default();
    let half = WINDOW as f64 / 2.0 / spec.sample_rate as f64;
    for (s, f) in features.iter().enumerate().take(truth.strings.len()) {
        for (i, &f0) in f.f0_hz.iter().enumerate() {
            let t = i as f64 * spec.hop as f64 / spec.sample_rate as f64;
            let Some(want) = truth.f0_at(s, t) else { continue };
            let ok = f0 > 0.0 && (1200.0 * (f0 as f64 / want).log2()).abs() <= AGREE_CENTS;
            a.voiced_frames += 1;
            a.voiced_agree += ok as usize;
            if truth.one_note_over(s, t - half, t + half) {
                a.single_note_frames += 1;
                a.single_note_agree += ok as usize;
            }
        }
    }
    a
}

/// Max |wet − FX(clean mix)| over the example, if it has a wet side and knobs.
pub fn wet_error(example: &Example) -> Option<f32> {
    let (wet, knobs) = (example.wet.as_ref()?, example.knobs.as_ref()?);
    let clean = gddsp_core::audio_io::Audio::new(example.sample_rate, example.clean.clone());
    let mut mix = vec![clean.mix_down()];
    FxChain::render_offline(example.sample_rate as f32, knobs, &mut mix);
    Some(mix[0].iter().zip(wet).fold(0f32, |m, (a, b)| m.max((a - b).abs())))
}

/// What `gddsp-train check` reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub clips: usize,
    pub seconds: f64,
    pub skipped: Vec<String>,
    pub notices: Vec<String>,
    /// Max over clips of max |wet − FX(clean mix)|.
    pub max_wet_error: f32,
    /// Pitch agreement per guitar id (or "all" without a manifest).
    pub pitch: BTreeMap<String, PitchAgreement>,
}

/// Checks a corpus folder (with `manifest.json` and split folders) or a plain pair folder.
pub fn check(dir: &Path, skip_bad: bool, progress: bool) -> Result<CheckReport, DataError> {
    let manifest = Manifest::read(dir).ok();
    let folders: Vec<_> = match &manifest {
        Some(_) => SPLITS.iter().map(|s| dir.join(s)).filter(|d| d.is_dir()).collect(),
        None => vec![dir.to_path_buf()],
    };
    let guitar_of: BTreeMap<&str, &str> = manifest.iter().flat_map(|m| m.clips.iter().map(|c| (c.name.as_str(), c.guitar.as_str()))).collect();
    let spec = ModelSpec::default();
    let opts = LoadOptions { sample_rate: None, skip_bad, progress };
    let mut report = CheckReport::default();
    for folder in folders {
        let loaded = match load_pairs(&folder, &opts) {
            Err(DataError::Empty { .. }) if manifest.is_some() => continue,
            r => r?,
        };
        report.skipped.extend(loaded.skipped.iter().map(|e| e.to_string()));
        report.notices.extend(loaded.notices.iter().cloned());
        for ex in &loaded.examples {
            report.clips += 1;
            report.seconds += ex.seconds();
            if let Some(err) = wet_error(ex) {
                report.max_wet_error = report.max_wet_error.max(err);
            }
            if let (Some(truth), true) = (&ex.notes, ex.is_hexaphonic()) {
                let key = guitar_of.get(ex.name.as_str()).copied().unwrap_or("all").to_string();
                report.pitch.entry(key).or_default().add(&pitch_agreement(truth, &ex.features, &spec));
            }
        }
    }
    Ok(report)
}
