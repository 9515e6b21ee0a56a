//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use gddsp_core::synth::SynthFrame;
use gddsp_core::ModelSpec;
use realfft::RealFftPlanner;

pub fn sine(rate: f32, hz: f32, amp: f32, len: usize) -> Vec<f32> {
    (0..len).map(|n| amp * (std::f64::consts::TAU * hz as f64 * n as f64 / rate as f64).sin() as f32).collect()
}

pub fn impulse(len: usize) -> Vec<f32> {
    let mut x = vec![0.0; len];
    x[0] = 1.0;
    x
}

/// Deterministic noise in [-1, 1) (an LCG: the tests need no quality, only repeatability).
pub fn test_noise(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / 8_388_608.0 - 1.0
        })
        .collect()
}

/// Power spectrum of `x` under a Kaiser window (β = 20: sidelobes below −150 dB, so the
/// measurement floor sits far under the −80 dB the tests look for), `[len/2 + 1]`.
pub fn power_spectrum(x: &[f32]) -> Vec<f64> {
    fn bessel_i0(x: f64) -> f64 {
        let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
        while term > 1e-17 * sum {
            term *= (x / (2.0 * k)).powi(2);
            sum += term;
            k += 1.0;
        }
        sum
    }
    let n = x.len();
    let beta = 20.0;
    let norm = bessel_i0(beta);
    let mut buf: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let r = 2.0 * i as f64 / (n - 1) as f64 - 1.0;
            v * (bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / norm) as f32
        })
        .collect();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut spec = fft.make_output_vec();
    fft.process(&mut buf, &mut spec).unwrap();
    spec.iter().map(|c| c.norm_sqr() as f64).collect()
}

/// Frequency from interpolated upward zero crossings (exact for a steady sine).
pub fn zero_crossing_frequency(x: &[f32], rate: f32) -> f64 {
    let mut first = None;
    let mut last = 0.0;
    let mut count = 0usize;
    for n in 1..x.len() {
        if x[n - 1] < 0.0 && x[n] >= 0.0 {
            let t = (n - 1) as f64 + (-x[n - 1] as f64) / (x[n] as f64 - x[n - 1] as f64);
            if first.is_none() {
                first = Some(t);
            } else {
                count += 1;
            }
            last = t;
        }
    }
    count as f64 * rate as f64 / (last - first.expect("the signal crosses zero"))
}

pub fn cents(f: f64, reference: f64) -> f64 {
    1200.0 * (f / reference).log2()
}

/// Runs `process` over `input` in blocks of `block` samples, returning the output.
pub fn in_blocks(input: &[f32], block: usize, mut process: impl FnMut(&mut [f32])) -> Vec<f32> {
    let mut out = input.to_vec();
    for chunk in out.chunks_mut(block) {
        process(chunk);
    }
    out
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

/// A frame where every voice plays `f0s[s]` with amplitude `amp` and a 1/k distribution.
pub fn voice_frame(spec: &ModelSpec, f0s: &[f32], amp: f32, noise: f32) -> SynthFrame {
    let mut f = SynthFrame::silent(spec);
    let k = spec.harmonics;
    let norm: f32 = (1..=k).map(|i| 1.0 / i as f32).sum();
    for (s, &f0) in f0s.iter().enumerate() {
        f.f0_hz[s] = f0;
        f.amplitude[s] = amp;
        for h in 0..k {
            f.harmonics[s * k + h] = 1.0 / (h + 1) as f32 / norm;
        }
    }
    f.noise.fill(noise);
    f
}

/// Extended Karplus–Strong pluck: delay `period` samples + a two-point average (true
/// pitch `rate / (period + 0.5)`).
pub fn pluck(period: usize, len: usize, seed: u32) -> Vec<f32> {
    let mut line = test_noise(period, seed);
    let mut out = Vec::with_capacity(len);
    let mut prev = 0.0;
    for n in 0..len {
        let i = n % period;
        let x = line[i];
        out.push(x * 0.5);
        line[i] = 0.996 * 0.5 * (x + prev);
        prev = x;
    }
    out
}
