//! Knob recovery by gradient descent through the FX twins: from a random start, Adam on
//! the wet multi-scale spectral loss alone moves the knob positions toward a known
//! setting. Positions are `u = sigmoid(θ)` so they stay inside the knob table's travel;
//! knobs not being recovered are held at the truth.
//!
//! The delay time's loss is rugged (every echo spacing that lines up with a note repeat
//! is a local minimum, and frames of ≤ 2048 samples cannot see a spacing of 100s of ms),
//! so it can also start from a grid of [`GRID`] positions over the knob's travel, scored
//! either by the spectral loss itself ([`Start::GridSpectral`]) or by the distance between
//! the envelope autocorrelations of the candidate and the target
//! ([`Start::GridAutocorrelation`]: an echo every `D` puts a peak at lag `D`, plain to see
//! where a spectrogram frame is not); descent starts from the best.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use gddsp_core::knobs::KNOB_COUNT;
use gddsp_core::{Knob, Knobs};
use serde::Serialize;

use super::fx_chain::{denormalize, FxChainTwin};
use super::spectral_loss::multiscale_spectral_loss;
use super::{tensor, values};

/// Positions tried by a grid start.
pub const GRID: usize = 64;
/// Envelope frame for the autocorrelation score, samples (the model hop).
const ENVELOPE_HOP: usize = 64;

/// Where descent starts for the delay time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// From the given position.
    Given,
    /// From the grid position with the lowest spectral loss.
    GridSpectral,
    /// From the grid position whose envelope autocorrelation is closest to the target's.
    GridAutocorrelation,
}

/// Normalized autocorrelation of the RMS envelope (hop 64) at lags 1..`max_lag` frames.
pub fn envelope_autocorrelation(x: &[f32], max_lag: usize) -> Vec<f32> {
    let env: Vec<f32> = x.chunks(ENVELOPE_HOP).map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt()).collect();
    let mean = env.iter().sum::<f32>() / env.len().max(1) as f32;
    let e: Vec<f32> = env.iter().map(|v| v - mean).collect();
    let zero: f32 = e.iter().map(|v| v * v).sum::<f32>().max(1e-20);
    (1..=max_lag.min(e.len().saturating_sub(1))).map(|lag| e.iter().zip(&e[lag..]).map(|(a, b)| a * b).sum::<f32>() / zero).collect()
}

/// The trainable knob positions.
#[derive(Module, Debug)]
pub struct Positions {
    pub logits: Param<Tensor<2>>,
}

fn logit(u: f32) -> f32 {
    let u = u.clamp(1e-4, 1.0 - 1e-4);
    (u / (1.0 - u)).ln()
}

/// How one recovery went.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    pub knobs: Vec<String>,
    pub start: Vec<f32>,
    pub truth: Vec<f32>,
    pub found: Vec<f32>,
    /// |found − truth| on the normalized scale, per recovered knob.
    pub error: Vec<f32>,
    pub first_loss: f32,
    pub last_loss: f32,
    pub start_from: Start,
}

pub struct Recoverer<'a> {
    pub chain: &'a FxChainTwin,
    pub device: Device,
    /// The dry input `[1, N]` and its wet target under the true knobs.
    pub dry: Tensor<2>,
    pub target: Tensor<2>,
    pub truth: [f32; KNOB_COUNT],
}

impl<'a> Recoverer<'a> {
    /// `dry` is the clean signal; the target is the twin's own wet render of it.
    pub fn new(chain: &'a FxChainTwin, dry: Vec<f32>, truth: &Knobs, device: &Device) -> Self {
        let n = dry.len();
        let dry = tensor(dry, [1, n], device);
        let target = chain.forward(dry.clone(), tensor(truth.values().to_vec(), [1, KNOB_COUNT], device)).detach();
        Recoverer { chain, device: device.clone(), dry, target, truth: truth.normalized() }
    }

    /// Positions `[1, 9]` with the `free` knobs from `u` and the rest at the truth.
    fn positions(&self, u: Tensor<2>, free: &[Knob]) -> Tensor<2> {
        let mask: Vec<f32> = (0..KNOB_COUNT).map(|i| if free.iter().any(|k| *k as usize == i) { 1.0 } else { 0.0 }).collect();
        let mask = tensor(mask, [1, KNOB_COUNT], &self.device);
        let truth = tensor(self.truth.to_vec(), [1, KNOB_COUNT], &self.device);
        u * mask.clone() + truth * mask.neg().add_scalar(1.0)
    }

    /// `u` with the `frozen` knobs cut from the gradient (they keep their value).
    fn freeze(&self, u: Tensor<2>, frozen: &[Knob]) -> Tensor<2> {
        if frozen.is_empty() {
            return u;
        }
        let mask: Vec<f32> = (0..KNOB_COUNT).map(|i| if frozen.iter().any(|k| *k as usize == i) { 1.0 } else { 0.0 }).collect();
        let mask = tensor(mask, [1, KNOB_COUNT], &self.device);
        u.clone().detach() * mask.clone() + u * mask.neg().add_scalar(1.0)
    }

    fn loss(&self, u: Tensor<2>, free: &[Knob]) -> Tensor<1> {
        let wet = self.chain.forward(self.dry.clone(), denormalize(self.positions(u, free)));
        multiscale_spectral_loss(wet, self.target.clone())
    }

    /// The delay time position (others as in `start`) that scores best on the grid.
    fn grid_delay_time(&self, start: &mut [f32; KNOB_COUNT], free: &[Knob], how: Start) {
        let i = Knob::DelayTimeMs as usize;
        let max_lag = (gddsp_core::Knob::DelayTimeMs.spec().max as f64 / 1000.0 * 16_000.0 / ENVELOPE_HOP as f64).ceil() as usize;
        let target_ac = envelope_autocorrelation(&values(self.target.clone()), max_lag);
        let mut best = (f32::INFINITY, start[i]);
        // A coarse pass over the whole travel, then a fine one across the best cell.
        let coarse = (0..GRID).map(|g| (g as f32 + 0.5) / GRID as f32);
        let mut positions: Vec<f32> = coarse.collect();
        for pass in 0..2 {
            if pass == 1 {
                let c = best.1;
                positions = (0..=32).map(|g| c + (g as f32 - 16.0) / 16.0 / GRID as f32).filter(|u| (0.0..=1.0).contains(u)).collect();
            }
            for &p in &positions {
            let mut u = *start;
            u[i] = p;
            let candidate = tensor(u.to_vec(), [1, KNOB_COUNT], &self.device);
            let score = match how {
                Start::GridAutocorrelation => {
                    let wet = values(self.chain.forward(self.dry.clone(), denormalize(self.positions(candidate, free))).detach());
                    envelope_autocorrelation(&wet, max_lag).iter().zip(&target_ac).map(|(a, b)| (a - b).abs()).sum()
                }
                _ => values(self.loss(candidate, free).detach())[0],
            };
            if score < best.0 {
                best = (score, u[i]);
            }
            }
        }
        start[i] = best.1;
    }

    /// Recovers the `free` knobs from positions `start` in `steps` Adam steps at `lr`.
    /// Adam steps on `model`; returns it with the first and last loss.
    fn descend(&self, mut model: Positions, optim: &mut impl FnMut(Positions, GradientsParams) -> Positions, free: &[Knob], frozen: &[Knob], steps: usize) -> (Positions, f32, f32) {
        let (mut first, mut last) = (f32::NAN, f32::NAN);
        for step in 0..steps {
            let loss = self.loss(self.freeze(sigmoid(model.logits.val()), frozen), free);
            let value = values(loss.clone().detach())[0];
            if step == 0 {
                first = value;
            }
            last = value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim(model, grads);
        }
        (model, first, last)
    }

    /// Recovers the `free` knobs from positions `start` in `steps` Adam steps at `lr`.
    ///
    /// With a grid start the delay time is chosen on the grid and then held (its loss
    /// basin is a few samples wide; descent from a grid point wanders off, measured). When
    /// other knobs are free too, they first descend for half the steps with the delay time
    /// held at its start, so the grid is scored with them near their values.
    pub fn run(&self, free: &[Knob], start: [f32; KNOB_COUNT], steps: usize, lr: f64, start_from: Start) -> Recovery {
        let logits = tensor(start.iter().map(|&u| logit(u)).collect(), [1, KNOB_COUNT], &self.device);
        let model = Positions { logits: Param::from_tensor(logits) };
        let mut adam = AdamConfig::new().init();
        let mut optim = |m: Positions, g: GradientsParams| adam.step(lr, m, g);
        let grid = start_from != Start::Given && free.contains(&Knob::DelayTimeMs);
        let delay = [Knob::DelayTimeMs];
        let (model, first, last) = if grid {
            let (model, first, _) = if free.len() > 1 { self.descend(model, &mut optim, free, &delay, steps / 2) } else { (model, f32::NAN, f32::NAN) };
            let mut now: [f32; KNOB_COUNT] = values(sigmoid(model.logits.val().detach())).try_into().expect("nine positions");
            self.grid_delay_time(&mut now, free, start_from);
            let model = Positions { logits: Param::from_tensor(tensor(now.iter().map(|&u| logit(u)).collect(), [1, KNOB_COUNT], &self.device)) };
            let (model, f2, last) = self.descend(model, &mut optim, free, &delay, steps - steps / 2);
            (model, if first.is_nan() { f2 } else { first }, last)
        } else {
            self.descend(model, &mut optim, free, &[], steps)
        };
        let found = values(sigmoid(model.logits.val().detach()));
        let pick = |v: &[f32]| free.iter().map(|k| v[*k as usize]).collect::<Vec<f32>>();
        let (truth, found_free) = (pick(&self.truth), pick(&found));
        Recovery {
            knobs: free.iter().map(|k| k.spec().name.to_string()).collect(),
            start: pick(&start),
            error: truth.iter().zip(&found_free).map(|(t, f)| (t - f).abs()).collect(),
            truth,
            found: found_free,
            first_loss: first,
            last_loss: last,
            start_from,
        }
    }
}

/// Every knob recovered alone (the others at the truth), the delay time also from a grid
/// start, then all nine together.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    pub seed: u64,
    pub seconds: f64,
    pub steps: usize,
    pub truth: Vec<f32>,
    pub alone: Vec<Recovery>,
    pub together: Vec<Recovery>,
}

/// Runs the recovery experiments on `seconds` of the core synth's random controls.
pub fn report(seed: u64, seconds: f64, steps: usize, progress: &dyn Fn(&str)) -> RecoveryReport {
    use rand::{Rng, SeedableRng};
    let spec = gddsp_core::ModelSpec::default();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let frames = (seconds * spec.frame_rate()).round() as usize;
    let controls = super::parity::random_controls(&mut rng, &spec, frames);
    let dry = gddsp_core::synth::Synth::render(&spec, spec.sample_rate as f32, seed, &controls);
    let peak = dry.iter().fold(1e-9f32, |m, v| m.max(v.abs()));
    let dry: Vec<f32> = dry.iter().map(|v| v * 0.5 / peak).collect();
    let truth = super::parity::random_active_knobs(&mut rng);
    let device = super::autodiff_device();
    let chain = FxChainTwin::new(spec.sample_rate as f32, 0, &device);
    let r = Recoverer::new(&chain, dry, &truth, &device);
    let lr = 0.05;
    let mut alone = Vec::new();
    for knob in Knob::ALL {
        let mut start = r.truth;
        start[knob as usize] = rng.random_range(0.05..0.95);
        progress(knob.spec().name);
        alone.push(r.run(&[knob], start, steps, lr, Start::Given));
        if knob == Knob::DelayTimeMs {
            alone.push(r.run(&[knob], start, steps, lr, Start::GridSpectral));
            alone.push(r.run(&[knob], start, steps, lr, Start::GridAutocorrelation));
        }
    }
    let start: [f32; KNOB_COUNT] = std::array::from_fn(|_| rng.random_range(0.05..0.95));
    progress("all nine");
    let together = [Start::Given, Start::GridSpectral, Start::GridAutocorrelation].iter().map(|&how| r.run(&Knob::ALL, start, steps * 3, lr, how)).collect();
    RecoveryReport { seed, seconds, steps, truth: r.truth.to_vec(), alone, together }
}
