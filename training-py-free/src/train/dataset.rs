//! Training examples as the model sees them: a wet clip's encoder input, the clean mix,
//! per-voice decoder controls and oscillator f0, and the true knob positions; plus the
//! crops and batches the training loop draws.

use std::path::Path;

use gddsp_core::analysis::{channel_features, encoder_input, pitch::open_string_hz, ChannelFeatures};
use gddsp_core::fx::FxChain;
use gddsp_core::inference::controls::{decoder_inputs, held_f0, hz_to_midi, standardise_encoder_input, Normalization, VOICED};
use gddsp_core::knobs::{Knobs, KNOB_COUNT};
use gddsp_core::ModelSpec;

use crate::data::pairs::load_pairs;
use crate::data::{DataError, Example, LoadOptions};

/// One clip, ready for the model (encoder input standardised once stats are known).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub name: String,
    pub clean_mix: Vec<f32>,
    pub wet: Vec<f32>,
    /// Knob positions `u` (the normalized scale).
    pub knobs: [f32; KNOB_COUNT],
    /// Per voice: features (for stats), oscillator f0 and decoder inputs `[F × 3]`.
    pub features: Vec<ChannelFeatures>,
    pub f0: Vec<Vec<f32>>,
    pub controls: Vec<Vec<f32>>,
    /// MFCC frames `[T × M]` and echo profile, raw until [`standardise`] runs.
    pub mfcc: Vec<f32>,
    pub echo: Vec<f32>,
}

impl Prepared {
    pub fn frames(&self) -> usize {
        self.f0[0].len()
    }

    pub fn encoder_frames(&self, spec: &ModelSpec) -> usize {
        self.mfcc.len() / spec.mfcc
    }
}

/// The voices' features of an example: its six strings, or for a one-voice model the
/// monophonic track of the clean mix.
fn voice_features(ex: &Example, mix: &[f32], spec: &ModelSpec) -> Vec<ChannelFeatures> {
    if spec.voices == 1 {
        vec![channel_features(mix, spec)]
    } else {
        ex.features.clone()
    }
}

/// Loads `dir` (one split) and prepares every clip that has a wet side and known knobs.
pub fn load_split(dir: &Path, spec: &ModelSpec, progress: bool) -> Result<Vec<Prepared>, DataError> {
    let loaded = load_pairs(dir, &LoadOptions { progress, ..LoadOptions::default() })?;
    let mut out = Vec::new();
    for ex in loaded.examples {
        let (Some(wet), Some(knobs)) = (ex.wet.clone(), ex.knobs) else { continue };
        if spec.voices != 1 && ex.features.len() != spec.voices {
            return Err(DataError::io(&ex.path, format!("{} channels, the model has {} voices", ex.features.len(), spec.voices)));
        }
        let clean_mix: Vec<f32> = (0..ex.clean[0].len()).map(|n| ex.clean.iter().map(|c| c[n]).sum()).collect();
        let features = voice_features(&ex, &clean_mix, spec);
        let input = encoder_input(&wet, spec);
        let u = knobs.normalized().map(|u| u.clamp(0.0, 1.0));
        out.push(Prepared { name: ex.name, clean_mix, wet, knobs: u, features, f0: vec![], controls: vec![], mfcc: input.mfcc, echo: input.echo });
    }
    if out.is_empty() {
        return Err(DataError::Empty { dir: dir.into(), expected: "clips with a wet side and an _fx.json" });
    }
    Ok(out)
}

fn mean_std(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let (mut n, mut s, mut s2) = (0f64, 0f64, 0f64);
    for v in values {
        n += 1.0;
        s += v as f64;
        s2 += v as f64 * v as f64;
    }
    let mean = s / n.max(1.0);
    let var = (s2 / n.max(1.0) - mean * mean).max(0.0);
    (mean as f32, (var.sqrt() as f32).max(1e-3))
}

fn percentile(mut v: Vec<f32>, p: f32) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * p).round() as usize]
}

/// The training set's statistics.
pub fn statistics(train: &[Prepared], spec: &ModelSpec) -> Normalization {
    let m = spec.mfcc;
    let e = spec.profile_len();
    let (mut mfcc_mean, mut mfcc_std, mut echo_mean, mut echo_std) = (vec![], vec![], vec![], vec![]);
    for q in 0..m {
        let (a, b) = mean_std(train.iter().flat_map(|p| p.mfcc.iter().skip(q).step_by(m).copied()));
        mfcc_mean.push(a);
        mfcc_std.push(b);
    }
    for q in 0..e {
        let (a, b) = mean_std(train.iter().map(|p| p.echo[q]));
        echo_mean.push(a);
        echo_std.push(b);
    }
    let voiced = || train.iter().flat_map(|p| p.features.iter()).flat_map(|f| (0..f.f0_hz.len()).filter(move |&i| f.confidence[i] >= VOICED && f.f0_hz[i] > 0.0).map(move |i| (f.f0_hz[i], f.loudness_db[i])));
    let (f0_midi_mean, f0_midi_std) = mean_std(voiced().map(|(f, _)| hz_to_midi(f)));
    let (loudness_db_mean, loudness_db_std) = mean_std(train.iter().flat_map(|p| p.features.iter()).flat_map(|f| f.loudness_db.iter().copied()));
    let midi: Vec<f32> = voiced().map(|(f, _)| hz_to_midi(f)).collect();
    let loud: Vec<f32> = voiced().map(|(_, l)| l).collect();
    Normalization {
        mfcc_mean,
        mfcc_std,
        echo_mean,
        echo_std,
        f0_midi_mean,
        f0_midi_std,
        f0_midi_p5: percentile(midi.clone(), 0.05),
        f0_midi_p95: percentile(midi, 0.95),
        loudness_db_mean,
        loudness_db_std,
        voiced_loudness_db_p5: percentile(loud.clone(), 0.05),
        voiced_loudness_db_p95: percentile(loud, 0.95),
    }
}

/// Open-string pitch of voice `v` (what a string that never sounds holds).
pub fn open_hz(voices: usize, v: usize) -> f32 {
    open_string_hz(if voices == 1 { 0 } else { v })
}

/// Fills the decoder controls and standardises the encoder input with `norm`.
pub fn standardise(set: &mut [Prepared], norm: &Normalization, spec: &ModelSpec) {
    for p in set.iter_mut() {
        p.f0 = p.features.iter().enumerate().map(|(v, f)| held_f0(f, open_hz(spec.voices, v))).collect();
        p.controls = p.features.iter().zip(&p.f0).map(|(f, f0)| decoder_inputs(f, f0, norm)).collect();
        standardise_encoder_input(&mut p.mfcc, &mut p.echo, norm);
    }
}

/// The wet reference of a crop: the clean mix's crop through the FX chain with the true
/// knobs, from rest — exactly what the corpus generator does to a whole clip, so the
/// crop's reference has no tail from audio before it that the model never saw.
pub fn wet_of_crop(clean: &[f32], knobs: &[f32; KNOB_COUNT], sample_rate: u32) -> Vec<f32> {
    let mut wet = vec![clean.to_vec()];
    FxChain::render_offline(sample_rate as f32, &Knobs::from_normalized(knobs), &mut wet);
    wet.pop().expect("one channel")
}

/// Which knobs count in the knob loss and the knob MAE: every mix, and an effect's other
/// knobs where its mix is at least `threshold` (an effect at mix 0 has no audible knobs).
pub fn knob_mask(knobs: &[f32; KNOB_COUNT], threshold: f32) -> [f32; KNOB_COUNT] {
    let mut mask = [1f32; KNOB_COUNT];
    for effect in 0..3 {
        let mix = knobs[effect * 3 + 2];
        if mix < threshold {
            mask[effect * 3] = 0.0;
            mask[effect * 3 + 1] = 0.0;
        }
    }
    mask
}
