//! Filtered noise: DDSP's LTV-FIR noise synth by the frequency-sampling method.
//!
//! Frame `j` gives `B` linear magnitudes `H_{j,b}` at `f_b = b · (sr_model/2) / (B−1)`.
//! At host rate `sr`, with `M = 2·⌊sr/fr⌋` (`= 2·hop = 128` at the model rate):
//!
//! ```text
//! H_j(f_k)  = √(sr/sr_model) · lerp_b(H_{j,b})(f_k),  f_k = k·sr/M,  0 above sr_model/2
//! h0_j      = IDFT_M(H_j)                          (real, zero phase)
//! h_j[n]    = h0_j[(n − M/2) mod M] · (½ − ½ cos(2πn/M)),  n = 0..M−1   (linear phase, Hann)
//! y(t)     += Σ_n h_j[n] · ν_j(t + M/2 − n)
//! ```
//!
//! where `ν_j` is the uniform noise in `[-1, 1)` of segment `j` (zero elsewhere), drawn in
//! time order from a seeded stream ([`crate::rng::UniformNoise`]). The `M/2` advance
//! cancels the filter's group delay, so frame `j`'s noise is centred on segment `j` as in
//! DDSP (zero-phase `fft_convolve`); the synth's one frame of look-ahead pays for it.
//! The `√(sr/sr_model)` keeps the noise's power per Hz, hence its loudness, the same at
//! any host rate. With every `H = 1` at the model rate the output is the noise itself.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::{FrameClock, SynthFrame};
use crate::fx::partitioned_conv::fft_ok;
use crate::rng::UniformNoise;
use crate::ModelSpec;

pub struct FilteredNoise {
    noise: UniformNoise,
    /// IR length `M` (even) at the host rate.
    ir_len: usize,
    /// For FFT bin `k` (of `M`): the band below it and the fraction towards the next,
    /// or `None` above the model's Nyquist.
    bin_band: Vec<Option<(usize, f32)>>,
    gain: f32,
    conv_len: usize,
    ir_inverse: Arc<dyn ComplexToReal<f32>>,
    conv_forward: Arc<dyn RealToComplex<f32>>,
    conv_inverse: Arc<dyn ComplexToReal<f32>>,
    ir_spectrum: Vec<Complex32>,
    ir: Vec<f32>,
    window: Vec<f32>,
    time: Vec<f32>,
    spec_a: Vec<Complex32>,
    spec_b: Vec<Complex32>,
    scratch: Vec<Complex32>,
    /// Overlap-add output; index 0 is the first sample of the current segment.
    ola: Vec<f32>,
}

impl FilteredNoise {
    pub fn new(spec: &ModelSpec, sample_rate: f32, seed: u64) -> Self {
        let clock = FrameClock::new(sample_rate, spec.frame_rate());
        let ir_len = 2 * clock.min_segment_len();
        let bands = spec.noise_bands;
        let band_spacing = spec.noise_max_hz() / (bands - 1) as f32;
        let bin_band = (0..=ir_len / 2)
            .map(|k| {
                let b = k as f32 * sample_rate / ir_len as f32 / band_spacing;
                (b <= (bands - 1) as f32).then(|| {
                    let i = (b.floor() as usize).min(bands - 2);
                    (i, b - i as f32)
                })
            })
            .collect();
        let conv_len = fast_fft_len(clock.max_segment_len() + ir_len);
        let mut planner = RealFftPlanner::<f32>::new();
        let ir_inverse = planner.plan_fft_inverse(ir_len);
        let conv_forward = planner.plan_fft_forward(conv_len);
        let conv_inverse = planner.plan_fft_inverse(conv_len);
        let scratch_len = ir_inverse
            .get_scratch_len()
            .max(conv_forward.get_scratch_len())
            .max(conv_inverse.get_scratch_len());
        let window = (0..ir_len)
            .map(|n| 0.5 - 0.5 * (std::f32::consts::TAU * n as f32 / ir_len as f32).cos())
            .collect();
        FilteredNoise {
            noise: UniformNoise::new(seed),
            ir_len,
            bin_band,
            gain: (sample_rate / spec.sample_rate as f32).sqrt(),
            conv_len,
            ir_inverse,
            conv_forward,
            conv_inverse,
            ir_spectrum: vec![Complex32::default(); ir_len / 2 + 1],
            ir: vec![0.0; ir_len],
            window,
            time: vec![0.0; conv_len],
            spec_a: vec![Complex32::default(); conv_len / 2 + 1],
            spec_b: vec![Complex32::default(); conv_len / 2 + 1],
            scratch: vec![Complex32::default(); scratch_len],
            ola: vec![0.0; 2 * conv_len],
        }
    }

    pub fn reset(&mut self) {
        self.noise.reset();
        self.ola.fill(0.0);
    }

    /// Frame 0 at time 0 (offline rendering).
    pub fn prime(&mut self, frame: &SynthFrame, clock: &FrameClock) {
        self.add_frame(frame, clock.segment_len(0), -((self.ir_len / 2) as isize));
    }

    /// Frame `j+1` arrives at the start of segment `j`.
    pub fn push(&mut self, frame: &SynthFrame, clock: &FrameClock, j: u64) {
        let offset = clock.segment_len(j) as isize - (self.ir_len / 2) as isize;
        self.add_frame(frame, clock.segment_len(j + 1), offset);
    }

    /// Adds the noise to `out`, which starts `pos` samples into the current segment.
    pub fn render(&mut self, out: &mut [f32], pos: usize) {
        for (o, y) in out.iter_mut().zip(&self.ola[pos..]) {
            *o += *y;
        }
    }

    /// The current segment (of `len` samples) has been rendered.
    pub fn end_segment(&mut self, len: usize) {
        self.ola.copy_within(len.., 0);
        let n = self.ola.len();
        self.ola[n - len..].fill(0.0);
    }

    /// Filters `seg_len` fresh noise samples with the frame's IR and adds them to the
    /// overlap-add buffer starting at `offset` (the part before index 0 is dropped).
    fn add_frame(&mut self, frame: &SynthFrame, seg_len: usize, offset: isize) {
        let silent = !frame.noise.iter().any(|&m| m.is_finite() && m > 0.0);
        if silent {
            // Draw the samples anyway so the stream stays in step with time.
            self.noise.fill(&mut self.time[..seg_len]);
            return;
        }
        self.design_ir(&frame.noise);
        self.time.fill(0.0);
        self.noise.fill(&mut self.time[..seg_len]);
        fft_ok(self.conv_forward
            .process_with_scratch(&mut self.time, &mut self.spec_a, &mut self.scratch));
        self.time.fill(0.0);
        self.time[..self.ir_len].copy_from_slice(&self.ir);
        fft_ok(self.conv_forward
            .process_with_scratch(&mut self.time, &mut self.spec_b, &mut self.scratch));
        let norm = 1.0 / self.conv_len as f32;
        for (a, b) in self.spec_a.iter_mut().zip(&self.spec_b) {
            *a = *a * *b * norm;
        }
        self.spec_a[0].im = 0.0;
        let last = self.spec_a.len() - 1;
        self.spec_a[last].im = 0.0;
        fft_ok(self.conv_inverse
            .process_with_scratch(&mut self.spec_a, &mut self.time, &mut self.scratch));
        let used = seg_len + self.ir_len - 1;
        let skip = (-offset).max(0) as usize;
        let start = offset.max(0) as usize;
        for (o, y) in self.ola[start..].iter_mut().zip(&self.time[skip..used]) {
            *o += *y;
        }
    }

    /// Frequency sampling: magnitudes → windowed linear-phase IR in `self.ir`.
    fn design_ir(&mut self, bands: &[f32]) {
        let scale = self.gain / self.ir_len as f32;
        for (h, at) in self.ir_spectrum.iter_mut().zip(&self.bin_band) {
            let mag = match *at {
                Some((i, t)) => {
                    let m = bands[i] + (bands[i + 1] - bands[i]) * t;
                    if m.is_finite() && m > 0.0 { m } else { 0.0 }
                }
                None => 0.0,
            };
            *h = Complex32::new(mag * scale, 0.0);
        }
        fft_ok(self.ir_inverse.process_with_scratch(&mut self.ir_spectrum, &mut self.time[..self.ir_len], &mut self.scratch));
        // Rotate the zero-phase response by M/2 (centre it) and window it.
        let half = self.ir_len / 2;
        let (lo, hi) = self.time[..self.ir_len].split_at(half);
        for ((h, w), v) in self.ir.iter_mut().zip(&self.window).zip(hi.iter().chain(lo)) {
            *h = v * w;
        }
    }
}

/// The smallest even `2^a·3^b ≥ n`: rustfft is as quick on these as on powers of two,
/// and at 48 kHz one frame's convolution needs 576 points instead of 1024.
fn fast_fft_len(n: usize) -> usize {
    let mut best = n.next_power_of_two().max(2);
    let mut three = 1;
    while three < best {
        let mut len = three * 2;
        while len < n {
            len *= 2;
        }
        best = best.min(len);
        three *= 3;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::fast_fft_len;

    #[test]
    fn fast_fft_len_is_the_smallest_even_2_3_smooth_size() {
        assert_eq!(fast_fft_len(576), 576);
        assert_eq!(fast_fft_len(575), 576);
        assert_eq!(fast_fft_len(577), 648);
        assert_eq!(fast_fft_len(1000), 1024);
        assert_eq!(fast_fft_len(129), 144);
    }
}
