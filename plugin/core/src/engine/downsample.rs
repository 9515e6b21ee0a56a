//! Host rate → model rate for the live trackers, on the audio thread.
//!
//! An 8th-order Butterworth low-pass at 0.4 × the model rate (four RBJ biquads), then
//! linear interpolation at the model's sample instants. Written here
//! rather than taken from rubato: rubato's resamplers work in fixed chunks and add a
//! chunk of latency, where this adds the filter's group delay (≈ 0.4 ms at a 16 kHz model rate) and
//! takes any block size. The trackers only need pitch and loudness, which the filter's
//! ripple-free passband and the interpolation's mild high-frequency droop keep.

use std::f32::consts::PI;

#[derive(Debug, Clone, Copy, Default)]
struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    z1: f32,
    z2: f32,
}

impl Biquad {
    fn lowpass(sample_rate: f32, cutoff_hz: f32, q: f32) -> Self {
        let w = 2.0 * PI * cutoff_hz / sample_rate;
        let alpha = w.sin() / (2.0 * q);
        let cos = w.cos();
        let a0 = 1.0 + alpha;
        Biquad {
            b0: (1.0 - cos) / 2.0 / a0,
            b1: (1.0 - cos) / a0,
            b2: (1.0 - cos) / 2.0 / a0,
            a1: -2.0 * cos / a0,
            a2: (1.0 - alpha) / a0,
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// Transposed direct form II.
    fn tick(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }
}

/// Q of the four second-order sections of an 8th-order Butterworth filter.
const BUTTERWORTH_8_Q: [f32; 4] = [0.5098, 0.6013, 0.9000, 2.5629];

/// One channel from `host_rate` down to `model_rate` (or passed through when equal).
#[derive(Debug, Clone)]
pub struct Downsampler {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output between the previous input (0) and the current (1).
    t: f64,
    prev: f32,
    filters: [Biquad; 4],
    filtering: bool,
}

impl Downsampler {
    pub fn new(host_rate: f32, model_rate: f32) -> Self {
        let cutoff = 0.4 * model_rate.min(host_rate);
        // Below the host's Nyquist there is nothing to remove when the rates are equal.
        let filtering = host_rate > model_rate * 1.0001;
        Downsampler {
            step: host_rate as f64 / model_rate as f64,
            t: 1.0,
            prev: 0.0,
            filters: BUTTERWORTH_8_Q.map(|q| Biquad::lowpass(host_rate, cutoff, q)),
            filtering,
        }
    }

    /// Most outputs `input_len` host samples can produce.
    pub fn max_output(&self, input_len: usize) -> usize {
        (input_len as f64 / self.step).ceil() as usize + 1
    }

    /// Resamples `input` into the front of `out` and returns how many samples it wrote.
    /// `out` must hold [`Downsampler::max_output`] samples; extra outputs are dropped.
    pub fn process(&mut self, input: &[f32], out: &mut [f32]) -> usize {
        let mut written = 0;
        for &raw in input {
            let x = if self.filtering { self.filters.iter_mut().fold(raw, |x, f| f.tick(x)) } else { raw };
            while self.t <= 1.0 {
                if let Some(o) = out.get_mut(written) {
                    *o = self.prev + (x - self.prev) * self.t as f32;
                    written += 1;
                }
                self.t += self.step;
            }
            self.t -= 1.0;
            self.prev = x;
        }
        written
    }

    pub fn reset(&mut self) {
        self.t = 1.0;
        self.prev = 0.0;
        for f in &mut self.filters {
            f.z1 = 0.0;
            f.z2 = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_rate_ratio_over_any_block_size() {
        let mut d = Downsampler::new(44_100.0, 16_000.0);
        let input = vec![0.0f32; 44_100];
        let mut out = vec![0.0f32; d.max_output(333)];
        let total: usize = input.chunks(333).map(|c| d.process(c, &mut out)).sum();
        assert!((total as i64 - 16_000).abs() <= 1, "{total}");
    }

    #[test]
    fn passes_a_tone_and_removes_what_would_alias() {
        let level = |hz: f32| {
            let mut d = Downsampler::new(48_000.0, 16_000.0);
            let input: Vec<f32> = (0..48_000).map(|i| (2.0 * PI * hz * i as f32 / 48_000.0).sin()).collect();
            let mut out = vec![0.0f32; d.max_output(input.len())];
            let n = d.process(&input, &mut out);
            let tail = &out[4_000..n];
            (tail.iter().map(|x| x * x).sum::<f32>() / tail.len() as f32).sqrt() * 2f32.sqrt()
        };
        assert!((level(440.0) - 1.0).abs() < 0.02, "440 Hz at {}", level(440.0));
        // 12 kHz would fold to 4 kHz at 16 kHz.
        assert!(level(12_000.0) < 0.03, "12 kHz leaks at {}", level(12_000.0));
    }
}
