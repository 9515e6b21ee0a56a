//! Seeded noise shared by the filtered-noise synth and the reverb impulse response.
//!
//! xoshiro256++ is a fixed, documented algorithm, so a seed gives the same samples on
//! every platform and in the differentiable twin, which draws from this same function.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A seeded stream of uniform samples in `[-1, 1)`.
#[derive(Debug, Clone)]
pub struct UniformNoise {
    seed: u64,
    rng: Xoshiro256PlusPlus,
}

impl UniformNoise {
    pub fn new(seed: u64) -> Self {
        UniformNoise { seed, rng: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    /// Restarts the stream from its seed.
    pub fn reset(&mut self) {
        self.rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
    }

    #[inline]
    pub fn next_sample(&mut self) -> f32 {
        // 24 random bits → exactly representable f32 steps of 2⁻²³ over [-1, 1).
        let bits = self.rng.next_u32() >> 8;
        bits as f32 * (2.0 / 16_777_216.0) - 1.0
    }

    pub fn fill(&mut self, out: &mut [f32]) {
        for x in out {
            *x = self.next_sample();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_in_range_with_zero_mean_and_variance_one_third() {
        let mut n = UniformNoise::new(3);
        let xs: Vec<f32> = (0..200_000).map(|_| n.next_sample()).collect();
        assert!(xs.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0 / 3.0).abs() < 0.005, "{var}");
    }

    #[test]
    fn reset_repeats_the_stream() {
        let mut n = UniformNoise::new(11);
        let a: Vec<f32> = (0..64).map(|_| n.next_sample()).collect();
        n.reset();
        let b: Vec<f32> = (0..64).map(|_| n.next_sample()).collect();
        assert_eq!(a, b);
    }
}
