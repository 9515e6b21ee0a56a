//! Twin of `plugin/core/src/fx/delay.rs`: the feedback comb in closed form,
//! `E(ω) = X(ω)·Λ(ω)·Σ_{k<K} (g·Λ(ω))^k = X·Λ·(1 − (gΛ)^K)/(1 − gΛ)`,
//! `Λ(ω) = e^{−iω⌊D⌋}·((1 − φ) + φ·e^{−iω})`, `D = time_ms·sr/1000`, `φ = D − ⌊D⌋`,
//! `g` = feedback, `y = x + mix·e`.
//!
//! `K = ⌊(N−1)/⌊D⌋⌋` echoes start inside an `N`-sample signal; later ones cannot reach
//! it, so the sum is exact for the output's `N` samples and the FFT (≥ 2N + K) never
//! wraps. The large phases `ω⌊D⌋` and `ω⌊D⌋K` are computed exactly in integers; the
//! delay time's gradient flows through `φ` (the linear interpolation's slope between
//! whole-sample delays), feedback's and mix's through everything.

use burn::tensor::{Device, Tensor};

use super::{bin_phasors, irfft, rfft, tensor, values, Complex};

/// `e^{−i·2π·k·m/p}` for each row's integer `m`, exact for any size of `k·m`. `[B, p/2+1]`
fn integer_phasors(m: &[u64], p: usize, device: &Device) -> Complex<2> {
    let bins = p / 2 + 1;
    let (mut re, mut im) = (Vec::with_capacity(m.len() * bins), Vec::with_capacity(m.len() * bins));
    for &mi in m {
        for k in 0..bins as u64 {
            let turns = ((k * mi) % p as u64) as f64 / p as f64;
            let (s, c) = (std::f64::consts::TAU * turns).sin_cos();
            re.push(c as f32);
            im.push(-s as f32);
        }
    }
    Complex { re: tensor(re, [m.len(), bins], device), im: tensor(im, [m.len(), bins], device) }
}

/// `x` `[B, N]` through the delay; knobs `[B, 1]`.
pub fn delay(x: Tensor<2>, time_ms: Tensor<2>, feedback: Tensor<2>, mix: Tensor<2>, sample_rate: f32) -> Tensor<2> {
    let [b, n] = x.dims();
    let device = x.device();
    let samples = time_ms.clamp_max(1000.0).mul_scalar(sample_rate / 1000.0).clamp_min(1.0);
    let whole: Vec<u64> = values(samples.clone().detach()).iter().map(|d| d.floor() as u64).collect();
    let echoes: Vec<u64> = whole.iter().map(|&d| (n as u64 - 1) / d).collect();
    let p = (2 * n + *echoes.iter().max().unwrap_or(&0) as usize + 2).next_power_of_two();
    let phi = samples - tensor(whole.iter().map(|&d| d as f32).collect(), [b, 1], &device);
    let (cos, sin) = bin_phasors(p, &device);
    // L = (1 − φ) + φ·e^{−iω}
    let l = Complex { re: phi.clone().neg().add_scalar(1.0) + phi.clone() * cos, im: (phi * sin).neg() };
    let lambda = integer_phasors(&whole, p, &device) * l.clone();
    let r = lambda.clone().scale(feedback.clone());
    // (gΛ)^K = e^{−iω⌊D⌋K} · (g|L|)^K · e^{iK·arg L}
    let k = tensor(echoes.iter().map(|&k| k as f32).collect(), [b, 1], &device);
    let magnitude = (l.norm_sqr().sqrt() * feedback).clamp_min(1e-30).log().mul(k.clone()).exp();
    let angle = l.im.atan2(l.re) * k;
    let products: Vec<u64> = whole.iter().zip(&echoes).map(|(d, k)| d * k).collect();
    let r_k = integer_phasors(&products, p, &device) * Complex::polar(magnitude, angle);
    let sum = r_k.one_minus() / r.one_minus();
    let echo = irfft(rfft(x.clone(), p) * lambda * sum, p).slice([0..b, 0..n]);
    x + echo * mix
}
