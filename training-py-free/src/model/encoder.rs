//! The z-encoder and the FX decoder: what the model hears in a wet clip.
//!
//! ```text
//! MFCC frames [T, 30] ─Dense─▶ GRU ─▶ z_t ──mean over t──┐
//!                                                        ├─Linear─▶ z [Z] ─Dense─Linear─σ─▶ knobs u [9]
//! echo + clip profiles [P] ─Dense─Dense──────────────────┘
//! ```
//!
//! `P` = `spec.profile_len()`: the echo cepstrum (96) and, in models since the clip
//! profiles ([`gddsp_core::analysis::profiles`]), their 191 values after it.
//!
//! Inputs arrive standardised with the training set's statistics ([`super::Stats`]).
//! `u` is each knob's position along its skew (the knob table's normalized scale).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use gddsp_core::knobs::KNOB_COUNT;

use super::dense::Dense;
use super::gru::Gru;
use super::ModelConfig;

#[derive(Module, Debug)]
pub struct Encoder {
    pub frame: Dense,
    pub gru: Gru,
    pub echo_in: Dense,
    pub echo_out: Dense,
    pub z: Linear,
    pub fx_hidden: Dense,
    pub fx_out: Linear,
}

impl Encoder {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let h = cfg.encoder_hidden;
        Encoder {
            frame: Dense::new(cfg.spec.mfcc, h, device),
            gru: Gru::new(h, h, device),
            echo_in: Dense::new(cfg.spec.profile_len(), h, device),
            echo_out: Dense::new(h, h, device),
            z: LinearConfig::new(2 * h, cfg.z_dim).init(device),
            fx_hidden: Dense::new(cfg.z_dim, h, device),
            fx_out: LinearConfig::new(h, KNOB_COUNT).init(device),
        }
    }

    /// `mfcc` `[B, T, M]`, `echo` `[B, E]` → `z` `[B, Z]` and knob positions `[B, 9]`.
    pub fn forward(&self, mfcc: Tensor<3>, echo: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [b, _, _] = mfcc.dims();
        let h0 = Tensor::zeros([b, self.gru.hidden], &mfcc.device());
        let (z_t, _) = self.gru.forward(self.frame.forward(mfcc), h0);
        let pooled = z_t.mean_dim(1).reshape([b, self.gru.hidden]);
        let echo = self.echo_out.forward(self.echo_in.forward(echo));
        let z = self.z.forward(Tensor::cat(vec![pooled, echo], 1));
        let knobs = self.knobs(z.clone());
        (z, knobs)
    }

    /// The FX decoder alone: `z` `[B, Z]` → knob positions `[B, 9]`.
    pub fn knobs(&self, z: Tensor<2>) -> Tensor<2> {
        sigmoid(self.fx_out.forward(self.fx_hidden.forward(z)))
    }
}
