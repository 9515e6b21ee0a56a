//! Knob recovery by gradient descent through the FX twins: from a random start, Adam on
//! the wet multi-scale spectral loss alone moves the knob positions toward a known
//! setting. Positions are `u = sigmoid(θ)` so they stay inside the knob table's travel;
//! knobs not being recovered are held at the truth.
//!
//! The delay time's loss is rugged (every echo spacing that lines up with a note repeat
//! is a local minimum), so it can also start from a coarse grid: the loss is evaluated at
//! [`GRID`] positions spread over the knob's travel and descent starts from the best.

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

/// Positions tried by the grid start.
pub const GRID: usize = 24;

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
    pub grid_start: bool,
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

    fn loss(&self, u: Tensor<2>, free: &[Knob]) -> Tensor<1> {
        let wet = self.chain.forward(self.dry.clone(), denormalize(self.positions(u, free)));
        multiscale_spectral_loss(wet, self.target.clone())
    }

    /// The delay time position (others as in `start`) with the lowest loss on the grid.
    fn grid_delay_time(&self, start: &mut [f32; KNOB_COUNT], free: &[Knob]) {
        let i = Knob::DelayTimeMs as usize;
        let mut best = (f32::INFINITY, start[i]);
        for g in 0..GRID {
            let mut u = *start;
            u[i] = (g as f32 + 0.5) / GRID as f32;
            let loss = values(self.loss(tensor(u.to_vec(), [1, KNOB_COUNT], &self.device), free))[0];
            if loss < best.0 {
                best = (loss, u[i]);
            }
        }
        start[i] = best.1;
    }

    /// Recovers the `free` knobs from positions `start` in `steps` Adam steps at `lr`.
    pub fn run(&self, free: &[Knob], mut start: [f32; KNOB_COUNT], steps: usize, lr: f64, grid_start: bool) -> Recovery {
        let given_start = start;
        if grid_start && free.contains(&Knob::DelayTimeMs) {
            self.grid_delay_time(&mut start, free);
        }
        let logits = tensor(start.iter().map(|&u| logit(u)).collect(), [1, KNOB_COUNT], &self.device);
        let mut model = Positions { logits: Param::from_tensor(logits) };
        let mut optim = AdamConfig::new().init();
        let (mut first, mut last) = (f32::NAN, f32::NAN);
        for step in 0..steps {
            let loss = self.loss(sigmoid(model.logits.val()), free);
            let value = values(loss.clone().detach())[0];
            if step == 0 {
                first = value;
            }
            last = value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let found = values(sigmoid(model.logits.val().detach()));
        let pick = |v: &[f32]| free.iter().map(|k| v[*k as usize]).collect::<Vec<f32>>();
        let (truth, found_free) = (pick(&self.truth), pick(&found));
        Recovery {
            knobs: free.iter().map(|k| k.spec().name.to_string()).collect(),
            start: pick(&given_start),
            error: truth.iter().zip(&found_free).map(|(t, f)| (t - f).abs()).collect(),
            truth,
            found: found_free,
            first_loss: first,
            last_loss: last,
            grid_start,
        }
    }
}
