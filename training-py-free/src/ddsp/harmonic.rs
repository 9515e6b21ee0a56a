//! Twin of `plugin/core/src/synth/harmonic.rs`: the six-voice harmonic bank,
//! `x(n) = Σ_s Σ_k g(k·f_s(n))·a_{s,k}(n)·sin(2πk·Φ_s(n))`, `Φ_s(n) = Σ_{m≤n} f_s(m)/sr`.
//!
//! Frames sit every `hop` samples; between frame `j` and `j+1` (`u = m/hop`) the
//! frequency is linear and the amplitudes `a = A·c` follow `(1 − cos πu)/2` (DDSP's
//! overlap-added Hann windows); the last frame is held through its segment. `Φ` is
//! accumulated in f64 (an f32 cumulative sum drifts by 1e-4 of a cycle within seconds)
//! and wrapped to `[0, 1)` before the harmonics multiply it; `g` fades harmonics out over
//! the top 5 % below Nyquist, per sample, as in the core.

use burn::tensor::{DType, Tensor};
use gddsp_core::synth::harmonic::NYQUIST_FADE;

use super::tensor;

/// Frame `j+1` of each row (the last frame held): `[B, V, F]` → `[B, V, F]`.
fn next_frame<const D: usize>(t: Tensor<D>, dim: usize) -> Tensor<D> {
    let f = t.dims()[dim];
    Tensor::cat(vec![t.clone().narrow(dim, 1, f - 1), t.narrow(dim, f - 1, 1)], dim)
}

/// Renders `[B, F·hop]` from per-voice `f0_hz` `[B, V, F]`, `amplitude` `[B, V, F]` and
/// harmonic distributions `[B, V, F, K]` (non-negative, rows summing to 1).
pub fn harmonic_bank(f0_hz: Tensor<3>, amplitude: Tensor<3>, harmonics: Tensor<4>, sample_rate: f32, hop: usize) -> Tensor<2> {
    let [b, v, f] = f0_hz.dims();
    let k = harmonics.dims()[3];
    let n = f * hop;
    let device = f0_hz.device();
    let u = tensor((0..hop).map(|m| m as f32 / hop as f32).collect(), [1, 1, 1, hop], &device);
    let w = tensor((0..hop).map(|m| 0.5 - 0.5 * (std::f32::consts::PI * m as f32 / hop as f32).cos()).collect(), [1, 1, 1, 1, hop], &device);

    // f(n) per sample, f32 for the Nyquist gain and f64 for the phase. [B, V, N]
    let f_from = f0_hz.clone().unsqueeze_dim::<4>(3);
    let f_step = next_frame(f0_hz.clone(), 2).unsqueeze_dim::<4>(3) - f_from.clone();
    let f_n = (f_from.clone() + f_step.clone() * u.clone()).reshape([b, v, n]);
    let f_n64 = (f_from.cast(DType::F64) + f_step.cast(DType::F64) * u.cast(DType::F64)).reshape([b, v, n]);
    let cycles = f_n64.div_scalar(sample_rate as f64).cumsum(2);
    let phase = (cycles.clone() - cycles.floor()).cast(DType::F32); // [B, V, N], cycles in [0, 1)

    let ks = tensor((1..=k).map(|i| i as f32).collect(), [1, 1, k, 1], &device);
    let theta = phase.mul_scalar(std::f32::consts::TAU).unsqueeze_dim::<4>(2) * ks.clone(); // [B, V, K, N]
    let nyquist = sample_rate / 2.0;
    let gain = (f_n.unsqueeze_dim::<4>(2) * ks).neg().add_scalar(nyquist).div_scalar(NYQUIST_FADE * nyquist).clamp(0.0, 1.0);

    // a(n) = a_j + (a_{j+1} − a_j)·w(u)   [B, V, F, K, hop] → [B, V, K, N]
    let a = amplitude.unsqueeze_dim::<4>(3) * harmonics;
    let a_next = next_frame(a.clone(), 2);
    let a5 = a.clone().unsqueeze_dim::<5>(4);
    let a_n = (a5.clone() + (a_next.unsqueeze_dim::<5>(4) - a5) * w).permute([0, 1, 3, 2, 4]).reshape([b, v, k, n]);

    (a_n * gain * theta.sin()).sum_dim(2).sum_dim(1).reshape([b, n])
}
