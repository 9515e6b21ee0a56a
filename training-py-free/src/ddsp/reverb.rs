//! Twin of `plugin/core/src/fx/reverb.rs`: the impulse response rebuilt from the same
//! seeded band noise (`Reverb::band_noise`),
//! `r[n] = Σ_b ν_b[n]·10^(−3n/(sr·T_b))` for `n < ⌈decay_s·sr⌉`,
//! `T_b = decay_s·(1 − 0.9·damping)^(b/4)`, `h = r/‖r‖₂`, then `y = x + mix·(h ∗ x)` by
//! FFT. Decay and damping are differentiable through the envelopes and the
//! normalisation; the length `⌈decay_s·sr⌉` is a step (no gradient), as in the core.

use burn::tensor::{Device, Tensor};
use gddsp_core::fx::reverb::{ir_len, Reverb};

use super::{convolve, tensor, values};

/// The reverb of one channel: its band noise, held as a tensor.
pub struct ReverbTwin {
    /// `[bands, max_len]`
    bands: Tensor<2>,
    sample_rate: f32,
}

impl ReverbTwin {
    /// The twin of the core reverb seeded with `seed` (channel `c` of an `FxChain` uses
    /// `REVERB_SEED + c`).
    pub fn new(seed: u64, sample_rate: f32, device: &Device) -> Self {
        let noise = Reverb::band_noise(seed, sample_rate);
        let (nb, len) = (noise.len(), noise[0].len());
        ReverbTwin { bands: tensor(noise.concat(), [nb, len], device), sample_rate }
    }

    /// The normalised impulse responses `[B, L]` (`L` = the longest in the batch; each
    /// row zero past its own length).
    pub fn impulse_response(&self, decay_s: Tensor<2>, damping: Tensor<2>) -> Tensor<2> {
        let device = decay_s.device();
        let [b, _] = decay_s.dims();
        let [nb, max_len] = self.bands.dims();
        let lengths: Vec<usize> = values(decay_s.clone().detach()).iter().map(|&d| ir_len(d, self.sample_rate).min(max_len)).collect();
        let l = *lengths.iter().max().unwrap_or(&1);
        let bands = self.bands.clone().slice([0..nb, 0..l]).unsqueeze_dim::<3>(0); // [1, bands, L]
        let exponents = tensor((0..nb).map(|i| i as f32 / (nb - 1) as f32).collect(), [1, nb, 1], &device);
        let shrink = damping.mul_scalar(-0.9).add_scalar(1.0).log().unsqueeze_dim::<3>(2); // [B, 1, 1]
        let t60 = decay_s.unsqueeze_dim::<3>(2) * (shrink * exponents).exp(); // [B, bands, 1]
        let n = tensor((0..l).map(|i| i as f32).collect(), [1, 1, l], &device);
        let rate = t60.mul_scalar(self.sample_rate).recip().mul_scalar(-3.0 * std::f32::consts::LN_10); // [B, bands, 1]
        let env = (n * rate).exp(); // [B, bands, L]
        let mask: Vec<f32> = lengths.iter().flat_map(|&len| (0..l).map(move |i| if i < len { 1.0 } else { 0.0 })).collect();
        let r = (bands * env).sum_dim(1).reshape([b, l]) * tensor(mask, [b, l], &device);
        let energy = r.clone().square().sum_dim(1); // [B, 1]
        r / energy.sqrt()
    }

    /// `x` `[B, N]` through the reverb; knobs `[B, 1]`.
    pub fn forward(&self, x: Tensor<2>, decay_s: Tensor<2>, damping: Tensor<2>, mix: Tensor<2>) -> Tensor<2> {
        let [b, n] = x.dims();
        let h = self.impulse_response(decay_s, damping);
        let l = h.dims()[1].min(n);
        let wet = convolve(x.clone(), h.slice([0..b, 0..l]));
        x + wet * mix
    }
}
