//! Twin of `plugin/core/src/synth/filtered_noise.rs` at the model rate: frame `j`'s
//! magnitudes `H_j` (`hop + 1` bands from 0 Hz to Nyquist, one per bin of an `M = 2·hop`
//! point FFT) → zero-phase `h0 = IDFT_M(H_j)` → rotated by `M/2` and Hann-windowed →
//! convolved with segment `j`'s noise (`hop` samples of the seeded uniform stream) and
//! overlap-added `M/2` early, so frame `j`'s noise is centred on segment `j`. As in the
//! offline core render, the last frame is held for one more segment, whose filtered noise
//! reaches back into the last segment.

use burn::tensor::ops::PadMode;
use burn::tensor::Tensor;
use gddsp_core::rng::UniformNoise;

use super::{irfft, rfft, tensor, Complex};

/// The uniform noise the core's synth seeded with `seed` draws for `frames` frames
/// (`frames + 1` segments of `hop`). `[frames + 1, hop]` as one row of values.
pub fn noise_stream(seed: u64, frames: usize, hop: usize) -> Vec<f32> {
    let mut noise = vec![0.0; (frames + 1) * hop];
    UniformNoise::new(seed).fill(&mut noise);
    noise
}

/// Filtered noise `[B, F·hop]` from magnitudes `[B, F, hop + 1]` and noise `[B, (F+1)·hop]`.
pub fn filtered_noise(magnitudes: Tensor<3>, noise: Tensor<2>, hop: usize) -> Tensor<2> {
    let [b, f, bands] = magnitudes.dims();
    assert_eq!(bands, hop + 1, "the twin runs at the model rate: one band per FFT bin");
    assert!(f >= 2, "at least two frames");
    let device = magnitudes.device();
    let m = 2 * hop;
    let held = Tensor::cat(vec![magnitudes.clone(), magnitudes.narrow(1, f - 1, 1)], 1); // [B, F+1, bands]
    let zero_phase = irfft(Complex { re: held.clone(), im: held.zeros_like() }, m); // [B, F+1, M]
    let window = tensor((0..m).map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / m as f32).cos()).collect(), [1, 1, m], &device);
    let ir = Tensor::cat(vec![zero_phase.clone().narrow(2, hop, hop), zero_phase.narrow(2, 0, hop)], 2) * window;
    let segments = noise.reshape([b, f + 1, hop]);
    let p = (hop + m).next_power_of_two();
    let conv = irfft(rfft(segments, p) * rfft(ir, p), p).narrow(2, 0, 3 * hop).reshape([b, f + 1, 3, hop]);
    // Frame i's output covers blocks i−1, i, i+1.
    let early = conv.clone().narrow(1, 1, f).narrow(2, 0, 1);
    let centre = conv.clone().narrow(1, 0, f).narrow(2, 1, 1);
    let late = conv.narrow(1, 0, f - 1).narrow(2, 2, 1).pad([(0, 0), (1, 0), (0, 0), (0, 0)], PadMode::Constant(0.0));
    (early + centre + late).reshape([b, f * hop])
}
