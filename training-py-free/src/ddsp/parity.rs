//! `gddsp-train parity`: random controls and random knob settings rendered through the
//! real-time core and through the twins, block by block.
//!
//! Per block it reports the relative spectral error `‖|S_twin| − |S_rt|‖₁ / ‖|S_rt|‖₁`
//! (STFT of 2048 points, Hann, hop 512) and the largest sample difference. The bounds:
//! spectral error ≤ [`SPECTRAL_BOUND`] for every block and the chain; the oscillator and a
//! whole-sample delay are the same algorithm sample for sample, within [`SAMPLE_BOUND`].

use gddsp_core::fx::{Delay, Distortion, FxChain, Reverb, REVERB_SEED};
use gddsp_core::knobs::KNOB_COUNT;
use gddsp_core::synth::{Synth, SynthFrame};
use gddsp_core::{Knob, Knobs, ModelSpec};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use realfft::RealFftPlanner;
use serde::Serialize;

use super::delay::delay;
use super::distortion::distortion;
use super::filtered_noise::{filtered_noise, noise_stream};
use super::fx_chain::FxChainTwin;
use super::harmonic::harmonic_bank;
use super::reverb::ReverbTwin;
use super::{device, tensor, values};

pub const SPECTRAL_BOUND: f64 = 0.02;
pub const SAMPLE_BOUND: f32 = 1e-4;
const FFT: usize = 2048;

/// One block's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct BlockParity {
    pub block: String,
    pub spectral_error: f64,
    pub max_sample_error: f32,
    /// Whether the block is meant to match sample for sample.
    pub sample_exact: bool,
    pub passed: bool,
    /// The settings it ran with.
    pub settings: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParityReport {
    pub seed: u64,
    pub seconds: f64,
    pub sample_rate: u32,
    pub blocks: Vec<BlockParity>,
}

impl ParityReport {
    pub fn passed(&self) -> bool {
        self.blocks.iter().all(|b| b.passed)
    }
}

/// `‖|S_a| − |S_b|‖₁ / ‖|S_b|‖₁` over 2048-point Hann frames with hop 512.
pub fn relative_spectral_error(a: &[f32], b: &[f32]) -> f64 {
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(FFT);
    let window: Vec<f64> = (0..FFT).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / FFT as f64).cos()).collect();
    let (mut num, mut den) = (0.0, 0.0);
    let (mut xa, mut xb) = (fft.make_input_vec(), fft.make_input_vec());
    let (mut sa, mut sb) = (fft.make_output_vec(), fft.make_output_vec());
    let len = a.len().min(b.len());
    let mut start = 0;
    while start < len {
        for i in 0..FFT {
            let at = |s: &[f32]| s.get(start + i).filter(|_| start + i < len).map_or(0.0, |&v| v as f64) * window[i];
            xa[i] = at(a);
            xb[i] = at(b);
        }
        fft.process(&mut xa, &mut sa).expect("sizes from the plan");
        fft.process(&mut xb, &mut sb).expect("sizes from the plan");
        for (p, q) in sa.iter().zip(&sb) {
            num += (p.norm() - q.norm()).abs();
            den += q.norm();
        }
        start += FFT / 4;
    }
    if den > 0.0 { num / den } else { num }
}

fn max_error(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Plucked-string-like controls for six voices: onsets with decaying amplitudes, slow
/// vibrato and glides, harmonic distributions falling as `k^−α`, a little noise.
pub fn random_controls<R: Rng>(rng: &mut R, spec: &ModelSpec, frames: usize) -> Vec<SynthFrame> {
    let fr = spec.frame_rate();
    let open = [40.0, 45.0, 50.0, 55.0, 59.0, 64.0];
    let voices: Vec<_> = (0..spec.voices)
        .map(|s| {
            let base: f64 = open[s % 6] + rng.random_range(0.0..12.0);
            let alpha: f32 = rng.random_range(0.6..2.0);
            let weights: Vec<f32> = (1..=spec.harmonics).map(|k| (k as f32).powf(-alpha) * rng.random_range(0.3..1.0)).collect();
            let onsets: Vec<(f64, f32, f64)> =
                (0..4).map(|_| (rng.random_range(0.0..frames as f64 / fr), rng.random_range(0.02..0.2), rng.random_range(0.15..1.0))).collect();
            (base, rng.random_range(4.0..7.0f64), rng.random_range(0.0..0.4f64), rng.random_range(-1.0..1.0f64), weights, onsets)
        })
        .collect();
    let noise_level: f32 = rng.random_range(0.002..0.02);
    (0..frames)
        .map(|j| {
            let t = j as f64 / fr;
            let mut frame = SynthFrame::silent(spec);
            for (s, (base, rate, depth, glide, weights, onsets)) in voices.iter().enumerate() {
                let pitch = base + depth * (std::f64::consts::TAU * rate * t).sin() + glide * t / (frames as f64 / fr);
                frame.f0_hz[s] = (440.0 * ((pitch - 69.0) / 12.0).exp2()) as f32;
                frame.amplitude[s] = onsets.iter().filter(|o| o.0 <= t).map(|o| o.1 * (-(t - o.0) / o.2).exp() as f32).fold(0.0, f32::max);
                let sum: f32 = weights.iter().sum();
                let wobble = 1.0 + 0.2 * (t * 3.0 + s as f64).sin() as f32;
                for (k, w) in weights.iter().enumerate() {
                    let c = if k % 2 == 1 { w * wobble } else { *w };
                    frame.harmonics[s * spec.harmonics + k] = c / (sum * 1.2);
                }
            }
            for (b, m) in frame.noise.iter_mut().enumerate() {
                *m = noise_level * (-(b as f32) / 20.0).exp() * (1.0 + 0.5 * (t * 2.0).sin() as f32);
            }
            frame
        })
        .collect()
}

/// A knob setting with every effect clearly on (mix ≥ 0.3), values uniform along each
/// knob's skew otherwise.
pub fn random_active_knobs<R: Rng>(rng: &mut R) -> Knobs {
    let mut u = [0f32; KNOB_COUNT];
    for (i, k) in Knob::ALL.iter().enumerate() {
        u[i] = if k.spec().name.ends_with(".mix") { rng.random_range(0.3..1.0) } else { rng.random::<f32>() };
    }
    Knobs::from_normalized(&u)
}

/// Synth frames as the twins' row-major inputs: f0 and amplitude `[V, F]`, harmonic
/// distributions `[V, F, K]`, noise magnitudes `[F, bands]`.
pub fn control_tensors(frames: &[SynthFrame], spec: &ModelSpec) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let (v, k, f) = (spec.voices, spec.harmonics, frames.len());
    let mut f0 = vec![0.0; v * f];
    let mut amp = vec![0.0; v * f];
    let mut harm = vec![0.0; v * f * k];
    for (j, fr) in frames.iter().enumerate() {
        for s in 0..v {
            f0[s * f + j] = fr.f0_hz[s];
            amp[s * f + j] = fr.amplitude[s];
            harm[(s * f + j) * k..(s * f + j + 1) * k].copy_from_slice(&fr.harmonics[s * k..(s + 1) * k]);
        }
    }
    let noise = frames.iter().flat_map(|fr| fr.noise.iter().copied()).collect();
    (f0, amp, harm, noise)
}

fn block(name: &str, twin: &[f32], rt: &[f32], sample_exact: bool, settings: String) -> BlockParity {
    let spectral_error = relative_spectral_error(twin, rt);
    let max_sample_error = max_error(twin, rt);
    let passed = spectral_error <= SPECTRAL_BOUND && (!sample_exact || max_sample_error <= SAMPLE_BOUND);
    BlockParity { block: name.into(), spectral_error, max_sample_error, sample_exact, passed, settings }
}

fn knob_text(k: &Knobs, which: &[Knob]) -> String {
    which.iter().map(|&w| format!("{}={:.3}", w.spec().name, k.get(w))).collect::<Vec<_>>().join(" ")
}

/// Renders `seconds` of random controls and knobs through both implementations.
pub fn run(seed: u64, seconds: f64) -> ParityReport {
    let spec = ModelSpec::default();
    let sr = spec.sample_rate as f32;
    let dev = device();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let frames = ((seconds * spec.frame_rate()).round() as usize).max(2);
    let n = frames * spec.hop;
    let controls = random_controls(&mut rng, &spec, frames);
    let (v, k, bands) = (spec.voices, spec.harmonics, spec.noise_bands);
    let (f0, amp, harm, mags) = control_tensors(&controls, &spec);
    let mut blocks = Vec::new();

    // Harmonic bank alone (noise magnitudes zero in the core render).
    let quiet_noise: Vec<SynthFrame> = controls.iter().map(|c| SynthFrame { noise: vec![0.0; bands], ..c.clone() }).collect();
    let rt_harmonic = Synth::render(&spec, sr, seed, &quiet_noise);
    let twin_harmonic = values(harmonic_bank(tensor(f0, [1, v, frames], &dev), tensor(amp, [1, v, frames], &dev), tensor(harm, [1, v, frames, k], &dev), sr, spec.hop));
    blocks.push(block("harmonic", &twin_harmonic, &rt_harmonic, true, format!("{v} voices × {k} harmonics")));

    // Filtered noise alone (amplitudes zero).
    let quiet_voices: Vec<SynthFrame> = controls.iter().map(|c| SynthFrame { amplitude: vec![0.0; v], ..c.clone() }).collect();
    let rt_noise = Synth::render(&spec, sr, seed, &quiet_voices);
    let noise = tensor(noise_stream(seed, frames, spec.hop), [1, (frames + 1) * spec.hop], &dev);
    let twin_noise = values(filtered_noise(tensor(mags, [1, frames, bands], &dev), noise, spec.hop));
    blocks.push(block("noise", &twin_noise, &rt_noise, false, format!("{bands} bands")));

    // The clean mix, scaled to a −6 dBFS peak, feeds the effects.
    let clean: Vec<f32> = rt_harmonic.iter().zip(&rt_noise).map(|(a, b)| a + b).collect();
    let peak = clean.iter().fold(1e-9f32, |m, x| m.max(x.abs()));
    let x: Vec<f32> = clean.iter().map(|s| s * 0.5 / peak).collect();
    let input = || tensor(x.clone(), [1, n], &dev);
    let col = |value: f32| tensor(vec![value], [1, 1], &dev);
    let knobs = random_active_knobs(&mut rng);

    let mut rt = x.clone();
    Distortion::new(sr, knobs.distortion()).process(&mut rt);
    let d = knobs.distortion();
    let twin = values(distortion(input(), col(d.drive_db), col(d.tone_hz), col(d.mix), sr));
    blocks.push(block("distortion", &twin, &rt, false, knob_text(&knobs, &[Knob::DistortionDriveDb, Knob::DistortionToneHz, Knob::DistortionMix])));

    let delay_block = |name: &str, knobs: &Knobs, exact: bool| {
        let mut rt = x.clone();
        Delay::new(sr, knobs.delay()).process(&mut rt);
        let p = knobs.delay();
        let twin = values(delay(input(), col(p.time_ms), col(p.feedback), col(p.mix), sr));
        block(name, &twin, &rt, exact, knob_text(knobs, &[Knob::DelayTimeMs, Knob::DelayFeedback, Knob::DelayMix]))
    };
    blocks.push(delay_block("delay", &knobs, false));
    // A whole number of milliseconds is a whole number of samples at 16 kHz.
    let whole = knobs.with(Knob::DelayTimeMs, knobs.get(Knob::DelayTimeMs).round());
    blocks.push(delay_block("delay (whole samples)", &whole, true));

    let mut rt = x.clone();
    Reverb::new(sr, REVERB_SEED, knobs.reverb()).process(&mut rt);
    let p = knobs.reverb();
    let twin = values(ReverbTwin::new(REVERB_SEED, sr, &dev).forward(input(), col(p.decay_s), col(p.damping), col(p.mix)));
    blocks.push(block("reverb", &twin, &rt, false, knob_text(&knobs, &[Knob::ReverbDecayS, Knob::ReverbDamping, Knob::ReverbMix])));

    let mut rt = vec![x.clone()];
    FxChain::render_offline(sr, &knobs, &mut rt);
    let twin = values(FxChainTwin::new(sr, 0, &dev).forward(input(), tensor(knobs.values().to_vec(), [1, KNOB_COUNT], &dev)));
    blocks.push(block("chain", &twin, &rt[0], false, "all nine knobs".into()));

    ParityReport { seed, seconds: n as f64 / sr as f64, sample_rate: spec.sample_rate, blocks }
}
