//! Twin of `plugin/core/src/fx/distortion.rs`: the [7/6] Padé tanh shaper after
//! `10^(drive_db/20)` of gain, the one-pole tone low-pass by its frequency response
//! `(1 − a) / (1 − a·e^{−iω})`, `a = exp(−2π·min(tone_hz, 0.45·sr)/sr)`, on an FFT long
//! enough that the filter's tail (to 1e-9) never wraps, and the dry/distorted mix.

use burn::tensor::Tensor;
use gddsp_core::fx::distortion::SOFT_CLIP_LIMIT;
use gddsp_core::Knob;

use super::{bin_phasors, irfft, rfft, Complex};

/// The shaper `T(v)` on a tensor.
pub fn soft_clip(v: Tensor<2>) -> Tensor<2> {
    let v = v.clamp(-SOFT_CLIP_LIMIT, SOFT_CLIP_LIMIT);
    let v2 = v.clone().square();
    // Horner form, one step at a time (a method call binds tighter than `*`).
    let num = (v2.clone().add_scalar(378.0) * v2.clone()).add_scalar(17_325.0);
    let num = (num * v2.clone()).add_scalar(135_135.0) * v;
    let den = (v2.clone().mul_scalar(28.0).add_scalar(3_150.0) * v2.clone()).add_scalar(62_370.0);
    let den = (den * v2).add_scalar(135_135.0);
    (num / den).clamp(-1.0, 1.0)
}

/// `x` `[B, N]` through the distortion; knobs `[B, 1]`.
pub fn distortion(x: Tensor<2>, drive_db: Tensor<2>, tone_hz: Tensor<2>, mix: Tensor<2>, sample_rate: f32) -> Tensor<2> {
    let [b, n] = x.dims();
    let device = x.device();
    let gain = drive_db.mul_scalar(std::f32::consts::LN_10 / 20.0).exp();
    let shaped = soft_clip(x.clone() * gain);
    let a = tone_hz.clamp_max(0.45 * sample_rate).mul_scalar(-std::f32::consts::TAU / sample_rate).exp();
    // The slowest filter the knob allows sets the tail that must fit before wrapping.
    let a_max = (-std::f64::consts::TAU * Knob::DistortionToneHz.spec().min as f64 / sample_rate as f64).exp();
    let tail = (1e-9f64.ln() / a_max.ln()).ceil() as usize;
    let p = (n + tail).next_power_of_two();
    let (cos, sin) = bin_phasors(p, &device);
    // 1 − a·e^{−iω} = (1 − a cos ω) + i·a sin ω
    let den = Complex { re: (a.clone() * cos).neg().add_scalar(1.0), im: a.clone() * sin };
    let one_minus_a = a.neg().add_scalar(1.0);
    let h = Complex { re: one_minus_a.clone() * den.re.ones_like(), im: den.re.zeros_like() } / den;
    let low = irfft(rfft(shaped, p) * h, p).slice([0..b, 0..n]);
    x.clone() + (low - x) * mix
}
