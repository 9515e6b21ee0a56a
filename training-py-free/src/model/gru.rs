//! A GRU written out gate by gate, in exactly the form of ONNX's `GRU` operator with
//! `linear_before_reset = 1` (gate order z, r, h), so the exporter can hand its weights
//! to ONNX unchanged:
//!
//! ```text
//! z = σ(x·Wz + bWz + h·Rz + bRz)
//! r = σ(x·Wr + bWr + h·Rr + bRr)
//! n = tanh(x·Wh + bWh + r ⊙ (h·Rh + bRh))
//! h' = (1 − z) ⊙ n + z ⊙ h
//! ```
//!
//! burn's own `Gru` puts the reset gate elsewhere; writing the cell here keeps the
//! trained and the exported network the same function.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Gru {
    /// `x → [z | r | h]` (`W`, `bW`).
    pub input: Linear,
    /// `h → [z | r | h]` (`R`, `bR`).
    pub recurrent: Linear,
    pub hidden: usize,
}

impl Gru {
    pub fn new(d_input: usize, hidden: usize, device: &Device) -> Self {
        Gru { input: LinearConfig::new(d_input, 3 * hidden).init(device), recurrent: LinearConfig::new(hidden, 3 * hidden).init(device), hidden }
    }

    /// One step from the input projection `x·W + bW` `[N, 3H]` and state `h` `[N, H]`.
    pub fn step(&self, x_proj: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
        let hd = self.hidden;
        let h_proj = self.recurrent.forward(h.clone());
        let z = sigmoid(x_proj.clone().narrow(1, 0, hd) + h_proj.clone().narrow(1, 0, hd));
        let r = sigmoid(x_proj.clone().narrow(1, hd, hd) + h_proj.clone().narrow(1, hd, hd));
        let n = (x_proj.narrow(1, 2 * hd, hd) + r * h_proj.narrow(1, 2 * hd, hd)).tanh();
        let keep = z.clone();
        z.neg().add_scalar(1.0) * n + keep * h
    }

    /// Runs over `x` `[N, T, D]` from state `h0` `[N, H]`: outputs `[N, T, H]` and the last state.
    pub fn forward(&self, x: Tensor<3>, h0: Tensor<2>) -> (Tensor<3>, Tensor<2>) {
        let [n, t, _] = x.dims();
        let proj = self.input.forward(x); // all time steps at once
        let mut h = h0;
        let mut outs = Vec::with_capacity(t);
        for i in 0..t {
            h = self.step(proj.clone().narrow(1, i, 1).reshape([n, 3 * self.hidden]), h);
            outs.push(h.clone().unsqueeze_dim::<3>(1));
        }
        (Tensor::cat(outs, 1), h)
    }
}
