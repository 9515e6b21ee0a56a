//! Echo profile: where in time the wet signal repeats itself — the z-encoder's second
//! input, next to the MFCC frames.
//!
//! A delay is `Y(ω) = X(ω)·(1 + m·Λ(ω)/(1 − g·Λ(ω)))`, a product, and the real cepstrum
//! turns products into sums: the echo adds peaks at quefrencies `D, 2D, …` (height about
//! `m`, then shrinking by `g`) on top of the dry signal's cepstrum, whatever the notes.
//! MFCC frames (64 ms) cannot see a 300 ms spacing; this profile can. Measured on the
//! generated corpus, see the README's model section.
//!
//! ```text
//! C[n]   = IDFT_M( ln(|DFT_M(x)|² + ε·mean|X|²) )     (M = next power of two ≥ len)
//! P[i]   = max { C[n] : q_i/√ρ ≤ n/sr < q_i·√ρ }       (q_i log-spaced, ρ = q_{i+1}/q_i)
//! ```

use realfft::num_complex::Complex32;
use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

/// The quefrency grid of the echo profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EchoGrid {
    pub bins: usize,
    pub min_ms: f32,
    pub max_ms: f32,
}

impl Default for EchoGrid {
    /// Covers the delay knob's 20–1000 ms with a margin either side; ≈ 4.4 % per bin.
    fn default() -> Self {
        EchoGrid { bins: 96, min_ms: 16.0, max_ms: 1200.0 }
    }
}

impl EchoGrid {
    /// Centre of bin `i`, ms.
    pub fn center_ms(&self, i: usize) -> f32 {
        self.min_ms * (self.max_ms / self.min_ms).powf(i as f32 / (self.bins - 1) as f32)
    }

    pub(crate) fn ratio(&self) -> f32 {
        (self.max_ms / self.min_ms).powf(1.0 / (self.bins - 1) as f32)
    }
}

/// Echo profile of `signal` (model-rate mono audio), `grid.bins` values.
/// Silent or empty input gives zeros.
pub fn echo_profile(signal: &[f32], sample_rate: f32, grid: &EchoGrid) -> Vec<f32> {
    profile_of(&cepstrum(signal), sample_rate, grid)
}

/// The real cepstrum `C[n]` of the whole of `signal` for quefrencies `n = 0..=M/2`
/// (samples; see the module doc). Silent or empty input gives zeros.
pub fn cepstrum(signal: &[f32]) -> Vec<f32> {
    let m = signal.len().next_power_of_two().max(2);
    if signal.is_empty() {
        return vec![0.0; m / 2 + 1];
    }
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(m);
    let inverse = planner.plan_fft_inverse(m);
    let mut buf = vec![0.0; m];
    buf[..signal.len()].copy_from_slice(signal);
    let mut spectrum = vec![Complex32::default(); m / 2 + 1];
    forward.process(&mut buf, &mut spectrum).expect("sizes from the planner");
    if !log_power_in_place(&mut spectrum) {
        return vec![0.0; m / 2 + 1];
    }
    inverse.process(&mut spectrum, &mut buf).expect("sizes from the planner");
    let scale = 1.0 / m as f32;
    buf.truncate(m / 2 + 1);
    buf.iter_mut().for_each(|c| *c *= scale);
    buf
}

/// Real cepstra of `signal`'s Hann-windowed segments of `len` samples every `len / 2`
/// (each zero-padded to `2·len`, so the cepstrum is not circular over the segment), for
/// the segments whose energy is over `floor` times the loudest one's: `(start, C[0..keep])`
/// each, `keep ≤ len + 1`. A clip shorter than `len` has none. A clip with more than
/// `most` segments gives `most` of them, evenly spread over it.
pub(crate) fn segment_cepstra(signal: &[f32], len: usize, floor: f64, keep: usize, most: usize) -> Vec<(usize, Vec<f32>)> {
    let hop = len / 2;
    let mut starts: Vec<usize> = if signal.len() < len { Vec::new() } else { (0..=signal.len() - len).step_by(hop).collect() };
    if starts.len() > most {
        starts = (0..most).map(|i| starts[i * starts.len() / most]).collect();
    }
    let energy = |s: usize| signal[s..s + len].iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
    let energies: Vec<f64> = starts.iter().map(|&s| energy(s)).collect();
    let loudest = energies.iter().fold(0f64, |m, &e| m.max(e));
    let window = super::hann(len);
    let keep = keep.min(len + 1);
    // One plan for every segment ([`cepstrum`] plans per call, which costs as much as the
    // transforms here).
    let mut planner = RealFftPlanner::<f32>::new();
    let (forward, inverse) = (planner.plan_fft_forward(2 * len), planner.plan_fft_inverse(2 * len));
    let mut buf = vec![0.0; 2 * len];
    let mut spectrum = vec![Complex32::default(); len + 1];
    starts
        .iter()
        .zip(&energies)
        .filter(|(_, &e)| loudest > 0.0 && e > floor * loudest)
        .filter_map(|(&s, _)| {
            buf.fill(0.0);
            for ((b, &x), &w) in buf.iter_mut().zip(&signal[s..s + len]).zip(&window) {
                *b = x * w;
            }
            forward.process(&mut buf, &mut spectrum).expect("sizes from the planner");
            // A segment whose spectrum has no log (silent or not finite) has no cepstrum.
            if !log_power_in_place(&mut spectrum) {
                return None;
            }
            inverse.process(&mut spectrum, &mut buf).expect("sizes from the planner");
            Some((s, buf[..keep].iter().map(|c| c / (2 * len) as f32).collect()))
        })
        .collect()
}

/// `X → ln(|X|² + ε·mean|X|²)` in place, the cepstrum's log spectrum; false (and
/// untouched) for a silent or non-finite spectrum.
pub(crate) fn log_power_in_place(spectrum: &mut [Complex32]) -> bool {
    let mean_power = spectrum.iter().map(|c| c.norm_sqr() as f64).sum::<f64>() / spectrum.len() as f64;
    if !(mean_power > 0.0 && mean_power.is_finite()) {
        return false;
    }
    let floor = (1e-6 * mean_power) as f32;
    for c in spectrum.iter_mut() {
        *c = Complex32::new((c.norm_sqr() + floor).ln(), 0.0);
    }
    true
}

/// The echo profile read off a [`cepstrum`] (`M/2 + 1` values).
pub fn profile_of(cepstrum: &[f32], sample_rate: f32, grid: &EchoGrid) -> Vec<f32> {
    let mut profile = vec![0.0; grid.bins];
    let last = cepstrum.len().saturating_sub(1);
    if last < 1 {
        return profile;
    }
    let half = grid.ratio().sqrt();
    for (i, p) in profile.iter_mut().enumerate() {
        let q = grid.center_ms(i) * sample_rate / 1000.0;
        let lo = ((q / half).ceil() as usize).clamp(1, last);
        let hi = ((q * half).ceil() as usize).clamp(lo + 1, last + 1);
        *p = cepstrum[lo..hi].iter().fold(f32::MIN, |a, &b| a.max(b));
    }
    profile
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::UniformNoise;

    #[test]
    fn an_echo_puts_a_peak_at_its_delay() {
        let sr = 16_000.0;
        let mut rng = UniformNoise::new(3);
        let dry: Vec<f32> = (0..64_000).map(|_| rng.next_sample()).collect();
        let d = 4_800; // 300 ms
        let wet: Vec<f32> = (0..dry.len()).map(|n| dry[n] + if n >= d { 0.5 * dry[n - d] } else { 0.0 }).collect();
        let grid = EchoGrid::default();
        let p = echo_profile(&wet, sr, &grid);
        let peak = (0..grid.bins).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert!((grid.center_ms(peak) / 300.0 - 1.0).abs() < 0.03, "peak at {} ms", grid.center_ms(peak));
        assert!((p[peak] - 0.5).abs() < 0.1, "height {}", p[peak]);
        let dry_p = echo_profile(&dry, sr, &grid);
        assert!(dry_p.iter().all(|&x| x < 0.1), "dry max {}", dry_p.iter().fold(0f32, |a, &b| a.max(b)));
        assert!(echo_profile(&vec![0.0; 1000], sr, &grid).iter().all(|&x| x == 0.0));
    }
}
