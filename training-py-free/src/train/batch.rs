//! Batches: random crops of corpus clips for the two spectral losses, and knob-only
//! examples re-rendered with fresh random knobs (the knob augmentation).
//!
//! The corpus holds one knob setting per group of four clips — about a hundred settings
//! per training hour, too few to learn nine knobs from. The FX chain is ours, so a
//! training clip's clean mix is sent through it again with new random knobs (the
//! corpus's own distribution, [`random_knobs`]) for each knob example: every knob example
//! is a setting the model has not heard. A producer thread renders them while the main
//! thread trains; the batch for step `s` depends only on the seed and `s`.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use gddsp_core::analysis::encoder_input;
use gddsp_core::analysis::loudness::sounding;
use gddsp_core::fx::FxChain;
use gddsp_core::inference::controls::{standardise_encoder_input, Normalization};
use gddsp_core::knobs::KNOB_COUNT;
use gddsp_core::ModelSpec;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::dataset::{knob_mask, wet_of_crop, Prepared};
use crate::data::corpus::random_knobs;

pub fn step_rng(seed: u64, step: u64, stream: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ stream)
}

/// Encoder inputs and knob labels for `B` clips, as flat rows.
#[derive(Debug, Clone)]
pub struct KnobBatch {
    pub mfcc: Vec<f32>,
    pub frames: usize,
    pub echo: Vec<f32>,
    pub knobs: Vec<f32>,
    pub mask: Vec<f32>,
    pub size: usize,
}

impl KnobBatch {
    /// Stacks clips, cut to the shortest one's frame count.
    pub fn stack(items: &[(&[f32], &[f32], [f32; KNOB_COUNT])], spec: &ModelSpec, mask_threshold: f32) -> KnobBatch {
        let frames = items.iter().map(|(m, _, _)| m.len() / spec.mfcc).min().unwrap_or(0);
        let mut b = KnobBatch { mfcc: vec![], frames, echo: vec![], knobs: vec![], mask: vec![], size: items.len() };
        for (m, e, k) in items {
            b.mfcc.extend_from_slice(&m[..frames * spec.mfcc]);
            b.echo.extend_from_slice(e);
            b.knobs.extend_from_slice(k);
            b.mask.extend_from_slice(&knob_mask(k, mask_threshold));
        }
        b
    }
}

/// One crop per clip for the spectral losses.
#[derive(Debug, Clone)]
pub struct SynthBatch {
    pub encoder: KnobBatch,
    /// `[B, V, F, 3]`, `[B, V, F]`, `[B, V, F]` (1 where the voice's input sounds, else 0)
    pub controls: Vec<f32>,
    pub f0: Vec<f32>,
    pub sounding: Vec<f32>,
    pub clean: Vec<f32>,
    pub wet: Vec<f32>,
    pub frames: usize,
    pub voices: usize,
}

/// A random crop start for a clip of `clip_frames` (leaving one frame after the crop).
pub fn random_start(clip_frames: usize, frames: usize, rng: &mut impl Rng) -> usize {
    rng.random_range(0..=clip_frames.saturating_sub(frames + 1))
}

/// Crops of `frames` control frames: `(clip, first frame)` each.
pub fn synth_batch(set: &[Prepared], picks: &[(usize, usize)], frames: usize, spec: &ModelSpec) -> SynthBatch {
    let hop = spec.hop;
    let voices = spec.voices;
    let mut batch = SynthBatch { encoder: KnobBatch::stack(&[], spec, 1e-6), controls: vec![], f0: vec![], sounding: vec![], clean: vec![], wet: vec![], frames, voices };
    let mut enc = Vec::new();
    for &(i, start) in picks {
        let p = &set[i];
        for v in 0..voices {
            batch.controls.extend_from_slice(&p.controls[v][start * 3..(start + frames) * 3]);
            batch.f0.extend_from_slice(&p.f0[v][start..start + frames]);
            batch.sounding.extend(p.features[v].loudness_db[start..start + frames].iter().map(|&db| if sounding(db) { 1.0 } else { 0.0 }));
        }
        let clean = &p.clean_mix[start * hop..(start + frames) * hop];
        batch.clean.extend_from_slice(clean);
        batch.wet.extend(wet_of_crop(clean, &p.knobs, spec.sample_rate));
        enc.push((p.mfcc.as_slice(), p.echo.as_slice(), p.knobs));
    }
    batch.encoder = KnobBatch::stack(&enc, spec, 1e-6);
    batch
}

/// What a knob example varies beyond the knobs and the crop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Augment {
    /// Colour the clean mix with a random EQ first ([`random_colour`]).
    pub eq: bool,
    /// Draw the reverb's noise from a random seed instead of the corpus's
    /// ([`gddsp_core::fx::REVERB_SEED`]): the same decay, damping and mix, another room.
    pub other_reverbs: bool,
    /// Scale the wet render by a random gain within ±`level_db` dB before the encoder
    /// hears it (0: none). The chain's input stays at the corpus's level, where the drive
    /// knob means what it says; only the reference's level, which a DAW clip does not
    /// keep, stops telling the encoder how much distortion there is.
    pub level_db: f32,
}

/// A knob example: `seconds` of a clip's clean mix (from a random start) through new
/// random knobs.
pub fn augmented(p: &Prepared, seconds: f64, rng: &mut impl Rng, spec: &ModelSpec, norm: &Normalization, echo_on: bool, augment: Augment) -> (Vec<f32>, Vec<f32>, [f32; KNOB_COUNT]) {
    let (knobs, _) = random_knobs(rng);
    let len = ((seconds * spec.sample_rate as f64) as usize).min(p.clean_mix.len());
    let start = rng.random_range(0..=p.clean_mix.len() - len);
    let mut wet = vec![p.clean_mix[start..start + len].to_vec()];
    if augment.eq {
        random_colour(&mut wet[0], spec.sample_rate as f32, rng);
    }
    // Drawn only when asked for, so runs without it see the examples they always saw.
    let room = if augment.other_reverbs { rng.random() } else { gddsp_core::fx::REVERB_SEED };
    FxChain::render_offline_with_reverb_seed(spec.sample_rate as f32, &knobs, &mut wet, room);
    if augment.level_db > 0.0 {
        let gain = 10f32.powf(rng.random_range(-augment.level_db..augment.level_db) / 20.0);
        wet[0].iter_mut().for_each(|v| *v *= gain);
    }
    let mut input = encoder_input(&wet[0], spec);
    standardise_encoder_input(&mut input.mfcc, &mut input.echo, norm);
    if !echo_on {
        input.echo.fill(0.0);
    }
    (input.mfcc, input.echo, knobs.normalized().map(|u| u.clamp(0.0, 1.0)))
}

/// A random guitar-and-pickup colouring: two RBJ peaking filters (150 Hz – 5 kHz,
/// ±9 dB) and a tilt (a first-order low-pass at 1.5–7 kHz blended with the dry signal),
/// the level kept (RMS matched). Drive acts on the level, so the level must not move.
pub fn random_colour(x: &mut [f32], rate: f32, rng: &mut impl Rng) {
    let rms = |x: &[f32]| (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt();
    let before = rms(x);
    for _ in 0..2 {
        let f = 150.0 * (5_000.0f32 / 150.0).powf(rng.random::<f32>());
        let gain_db = rng.random_range(-9.0f32..=9.0);
        let q = rng.random_range(0.5f32..=2.0);
        // RBJ cookbook peaking EQ.
        let a = 10f32.powf(gain_db / 40.0);
        let w = std::f32::consts::TAU * f / rate;
        let alpha = w.sin() / (2.0 * q);
        let (b0, b1, b2) = (1.0 + alpha * a, -2.0 * w.cos(), 1.0 - alpha * a);
        let (a0, a1, a2) = (1.0 + alpha / a, -2.0 * w.cos(), 1.0 - alpha / a);
        let (mut x1, mut x2, mut y1, mut y2) = (0f32, 0f32, 0f32, 0f32);
        for v in x.iter_mut() {
            let y = (b0 * *v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
            (x2, x1, y2, y1) = (x1, *v, y1, y);
            *v = y;
        }
    }
    let cutoff = rng.random_range(1_500.0f32..=7_000.0).min(rate * 0.45);
    let blend = rng.random_range(0.0f32..=0.7);
    let k = 1.0 - (-std::f32::consts::TAU * cutoff / rate).exp();
    let mut lp = 0f32;
    for v in x.iter_mut() {
        lp += k * (*v - lp);
        *v = (1.0 - blend) * *v + blend * lp;
    }
    let after = rms(x);
    if after > 1e-9 {
        let g = (before / after) as f32;
        x.iter_mut().for_each(|v| *v *= g);
    }
}

/// Knob examples last 3 s to the whole clip (one length per batch), so the encoder
/// meets clips of many lengths, as `gddsp analyze` does.
pub const KNOB_MIN_SECONDS: f64 = 3.0;

/// Starts the producer of knob batches for steps `first..last`, in order.
pub fn knob_batches(set: Arc<Vec<Prepared>>, norm: Normalization, spec: ModelSpec, seed: u64, first: u64, last: u64, size: usize, echo_on: bool, augment: Augment) -> Receiver<KnobBatch> {
    let (tx, rx) = sync_channel(4);
    std::thread::spawn(move || {
        for step in first..last {
            let mut rng = step_rng(seed, step, 2);
            let longest = set.iter().map(|p| p.clean_mix.len()).min().unwrap_or(0) as f64 / spec.sample_rate as f64;
            let seconds = rng.random_range(KNOB_MIN_SECONDS.min(longest)..=longest);
            let items: Vec<_> = (0..size).map(|_| augmented(&set[rng.random_range(0..set.len())], seconds, &mut rng, &spec, &norm, echo_on, augment)).collect();
            let refs: Vec<_> = items.iter().map(|(m, e, k)| (m.as_slice(), e.as_slice(), *k)).collect();
            if tx.send(KnobBatch::stack(&refs, &spec, 1e-6)).is_err() {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 s of a plucked A2 with its harmonics over a little noise (every mel band well
    /// above the MFCC's log floor, so a gain moves c0 alone), at the corpus's level.
    fn prepared() -> Prepared {
        let mut noise = gddsp_core::rng::UniformNoise::new(5);
        let clean_mix = (0..48_000)
            .map(|n| {
                let t = n as f32 / 16_000.0;
                let note: f32 = (1..20).map(|h| (std::f32::consts::TAU * 110.0 * h as f32 * t).sin() / h as f32).sum();
                0.2 * (-t).exp() * note + 0.01 * noise.next_sample()
            })
            .collect();
        Prepared { name: "pluck".into(), clean_mix, wet: vec![], knobs: [0.0; KNOB_COUNT], features: vec![], f0: vec![], controls: vec![], mfcc: vec![], echo: vec![] }
    }

    #[test]
    fn the_level_augment_scales_the_wet_render_within_its_spread_and_keeps_the_labels() {
        let spec = ModelSpec::default();
        let norm = Normalization { mfcc_mean: vec![0.0; spec.mfcc], mfcc_std: vec![1.0; spec.mfcc], echo_mean: vec![0.0; spec.profile_len()], echo_std: vec![1.0; spec.profile_len()], f0_midi_mean: 0.0, f0_midi_std: 1.0, f0_midi_p5: 0.0, f0_midi_p95: 1.0, loudness_db_mean: 0.0, loudness_db_std: 1.0, voiced_loudness_db_p5: 0.0, voiced_loudness_db_p95: 1.0 };
        let p = prepared();
        let level = Augment { level_db: 12.0, ..Augment::default() };
        // c0 of the orthonormal DCT over 128 mel bands is Σ ln(M)/√128: a gain of G dB
        // moves it by √128·G·ln 10/10.
        let per_db = 128f32.sqrt() * std::f32::consts::LN_10 / 10.0;
        let mut gains = Vec::new();
        for seed in 0..24 {
            let (plain, _, plain_knobs) = augmented(&p, 2.0, &mut Xoshiro256PlusPlus::seed_from_u64(seed), &spec, &norm, true, Augment::default());
            let (louder, _, louder_knobs) = augmented(&p, 2.0, &mut Xoshiro256PlusPlus::seed_from_u64(seed), &spec, &norm, true, level);
            assert_eq!(plain_knobs, louder_knobs, "seed {seed}: the level must not change the labels");
            let mut shifts: Vec<f32> = plain.chunks(spec.mfcc).zip(louder.chunks(spec.mfcc)).map(|(a, b)| (b[0] - a[0]) / per_db).collect();
            shifts.sort_by(f32::total_cmp);
            let median = shifts[shifts.len() / 2];
            let (lo, hi) = (shifts[shifts.len() / 10], shifts[shifts.len() * 9 / 10]);
            assert!(hi - lo < 0.5, "seed {seed}: one gain for the whole render, yet c0 moved {lo:.2}–{hi:.2} dB");
            gains.push(median);
        }
        let (min, max) = gains.iter().fold((f32::MAX, f32::MIN), |(a, b), &g| (a.min(g), b.max(g)));
        assert!(min >= -12.3 && max <= 12.3, "gains {min:.1}–{max:.1} dB, outside ±12");
        assert!(min < -6.0 && max > 6.0, "24 draws should spread over ±12 dB: {min:.1}–{max:.1}");
    }
}
