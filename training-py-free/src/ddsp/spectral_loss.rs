//! The multi-scale spectral loss of DDSP (Engel et al., ICLR 2020, §4.2):
//!
//! ```text
//! L = Σ_{n ∈ {2048, 1024, 512, 256, 128, 64}}  mean |S_n − Ŝ_n| + mean |log(S_n + ε) − log(Ŝ_n + ε)|
//! ```
//!
//! `S_n` is the STFT magnitude with a Hann window of `n` samples and 75 % overlap (hop
//! `n/4`), frames centred (reflect-padded ends), `ε = 1e-7`.

use burn::tensor::signal::{hann_window, stft, StftOptions};
use burn::tensor::Tensor;

pub const FFT_SIZES: [usize; 6] = [2048, 1024, 512, 256, 128, 64];
const LOG_EPS: f32 = 1e-7;

/// STFT magnitude `[B, frames, n/2 + 1]` of `x` `[B, N]`.
pub fn magnitude(x: Tensor<2>, n: usize) -> Tensor<3> {
    let device = x.device();
    let options = StftOptions { n_fft: n, hop_length: n / 4, win_length: None, center: true, onesided: true };
    let s = stft(x, Some(hann_window(n, true, &device)), options); // [B, frames, bins, 2]
    let [b, t, k, _] = s.dims();
    // The tiny floor keeps sqrt's gradient finite at an exactly silent bin.
    s.square().sum_dim(3).reshape([b, t, k]).add_scalar(1e-18).sqrt()
}

/// One scale's distance: mean |ΔS| + mean |Δ log S|.
pub fn scale_loss(pred: Tensor<2>, target: Tensor<2>, n: usize) -> Tensor<1> {
    let (p, t) = (magnitude(pred, n), magnitude(target, n));
    let linear = (p.clone() - t.clone()).abs().mean();
    let log = (p.add_scalar(LOG_EPS).log() - t.add_scalar(LOG_EPS).log()).abs().mean();
    linear + log
}

/// The multi-scale spectral loss between `pred` and `target` `[B, N]` (scalar `[1]`).
pub fn multiscale_spectral_loss(pred: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    multiscale_loss_over(pred, target, &FFT_SIZES)
}

/// The same over chosen FFT sizes (each must fit the signal).
pub fn multiscale_loss_over(pred: Tensor<2>, target: Tensor<2>, sizes: &[usize]) -> Tensor<1> {
    sizes.iter().map(|&n| scale_loss(pred.clone(), target.clone(), n)).reduce(|a, b| a + b).expect("at least one FFT size")
}
