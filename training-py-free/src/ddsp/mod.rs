//! The differentiable twins of the core's DSP blocks, in burn tensors (CPU, `flex`
//! backend), for training to back-propagate through the very synth and effects the
//! plugin plays.
//!
//! Each file here implements the formula written in the module doc of the core file of
//! the same name (`plugin/core/src/synth/harmonic.rs` ↔ `harmonic.rs`, …); the parity
//! check (`gddsp-train parity`, [`parity`]) renders the same controls through both.
//! Shapes are noted as `[batch, …]`; knobs arrive as `[batch, 1]` columns in the knob
//! table's physical units.

pub mod bench;
pub mod delay;
pub mod distortion;
pub mod filtered_noise;
pub mod fx_chain;
pub mod harmonic;
pub mod parity;
pub mod recovery;
pub mod reverb;
pub mod spectral_loss;

use burn::tensor::signal;
use burn::tensor::{Device, Tensor, TensorData};

/// The CPU device (pure-Rust `flex` backend).
pub fn device() -> Device {
    Device::flex()
}

/// The CPU device with gradients recorded.
pub fn autodiff_device() -> Device {
    Device::flex().autodiff()
}

/// A tensor of `shape` from row-major `values`.
pub fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A tensor's values, row-major.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("a float tensor")
}

/// A complex tensor as its real and imaginary parts (burn has no complex dtype).
#[derive(Debug, Clone)]
pub struct Complex<const D: usize> {
    pub re: Tensor<D>,
    pub im: Tensor<D>,
}

impl<const D: usize> std::ops::Mul for Complex<D> {
    type Output = Complex<D>;

    fn mul(self, o: Complex<D>) -> Complex<D> {
        let re = self.re.clone() * o.re.clone() - self.im.clone() * o.im.clone();
        let im = self.re * o.im + self.im * o.re;
        Complex { re, im }
    }
}

impl<const D: usize> std::ops::Div for Complex<D> {
    type Output = Complex<D>;

    fn div(self, o: Complex<D>) -> Complex<D> {
        let d = o.norm_sqr();
        let n = self * Complex { re: o.re, im: o.im.neg() };
        Complex { re: n.re / d.clone(), im: n.im / d }
    }
}

impl<const D: usize> Complex<D> {

    /// Times a real tensor.
    pub fn scale(self, s: Tensor<D>) -> Complex<D> {
        Complex { re: self.re * s.clone(), im: self.im * s }
    }

    pub fn norm_sqr(&self) -> Tensor<D> {
        self.re.clone().square() + self.im.clone().square()
    }

    /// `1 − self`.
    pub fn one_minus(self) -> Complex<D> {
        Complex { re: self.re.neg().add_scalar(1.0), im: self.im.neg() }
    }

    /// `e^{iθ}` times `magnitude`.
    pub fn polar(magnitude: Tensor<D>, angle: Tensor<D>) -> Complex<D> {
        Complex { re: magnitude.clone() * angle.clone().cos(), im: magnitude * angle.sin() }
    }
}

/// Real FFT of `n` points (zero-padded) along the last dimension.
pub fn rfft<const D: usize>(x: Tensor<D>, n: usize) -> Complex<D> {
    let (re, im) = signal::rfft(x, D - 1, Some(n));
    Complex { re, im }
}

/// Inverse real FFT of `n` points along the last dimension (normalised by `1/n`).
pub fn irfft<const D: usize>(spectrum: Complex<D>, n: usize) -> Tensor<D> {
    signal::irfft(spectrum.re, spectrum.im, D - 1, Some(n))
}

/// `cos ω_k` and `sin ω_k` of the `n/2 + 1` bins of an `n`-point real FFT, `[1, n/2+1]`.
pub fn bin_phasors(n: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let bins = n / 2 + 1;
    let w: Vec<f64> = (0..bins).map(|k| std::f64::consts::TAU * k as f64 / n as f64).collect();
    (
        tensor(w.iter().map(|w| w.cos() as f32).collect(), [1, bins], device),
        tensor(w.iter().map(|w| w.sin() as f32).collect(), [1, bins], device),
    )
}

/// Linear convolution of each row of `x` `[B, N]` with each row of `h` `[B, L]` (or a
/// single row), by FFT, first `N` samples.
pub fn convolve(x: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
    let [b, n] = x.dims();
    let l = h.dims()[1];
    let p = (n + l).next_power_of_two();
    let y = irfft(rfft(x, p) * rfft(h, p), p);
    y.slice([0..b, 0..n])
}
