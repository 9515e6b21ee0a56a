//! Reverb: convolution with a seeded, exponentially decaying noise impulse response whose
//! highs decay faster than its lows.
//!
//! ```text
//! ν        = uniform noise in [-1, 1) from seed S (crate::rng), split by brick-wall FFT
//!            masks into bands b = 0..4 with edges 1, 2, 4, 8 kHz:  ν = Σ_b ν_b
//! T_b      = decay_s · (1 − 0.9·damping)^(b/4)          (RT60 of band b, s)
//! r[n]     = Σ_b ν_b[n] · 10^(−3 · n / (sr · T_b)),      n < ⌈decay_s · sr⌉
//! h        = r / ‖r‖₂                                   (unit energy: the wet level is
//!                                                        the input's level)
//! y[n]     = x[n] + mix · (h ∗ x)[n]
//! ```
//!
//! `10^(−3n/(sr·T))` falls 60 dB in `T` seconds, so `decay_s` is the RT60 below 1 kHz;
//! at `damping = 1` the band above 8 kHz dies ten times sooner. Convolution is
//! zero-latency partitioned FFT ([`super::PartitionedConvolver`]); the differentiable twin
//! builds the same `h` from the same band noise ([`Reverb::band_noise`]) and convolves
//! by FFT. `mix = 0` is an exact bypass.

use realfft::num_complex::Complex32;
use realfft::RealFftPlanner;

use super::PartitionedConvolver;
use crate::knobs::Knob;
use crate::rng::UniformNoise;

/// Band edges of the damping split, Hz.
pub const BAND_EDGES_HZ: [f32; 4] = [1000.0, 2000.0, 4000.0, 8000.0];
/// Impulse-response length as a multiple of the decay time (cut where it has fallen 60 dB).
pub const LENGTH_PER_DECAY: f32 = 1.0;
/// Samples of wet signal computed per inner step (bounded scratch for any block size).
const CHUNK: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverbParams {
    pub decay_s: f32,
    pub damping: f32,
    pub mix: f32,
}

pub struct Reverb {
    sample_rate: f32,
    bands: Vec<Vec<f32>>,
    ir: Vec<f32>,
    conv: PartitionedConvolver,
    wet: Vec<f32>,
    shape: Option<(f32, f32)>,
    mix: f32,
}

impl Reverb {
    pub fn new(sample_rate: f32, seed: u64, params: ReverbParams) -> Self {
        let max_len = max_ir_len(sample_rate);
        let mut r = Reverb {
            sample_rate,
            bands: Self::band_noise(seed, sample_rate),
            ir: vec![0.0; max_len],
            conv: PartitionedConvolver::new(max_len),
            wet: vec![0.0; CHUNK],
            shape: None,
            mix: 0.0,
        };
        r.set_params(params);
        r
    }

    /// The seeded noise `ν` split into the damping bands: `[5][max_ir_len]`, summing to
    /// `ν`. The split is made once over the longest response, so every decay time cuts
    /// its response from the same noise.
    pub fn band_noise(seed: u64, sample_rate: f32) -> Vec<Vec<f32>> {
        let len = max_ir_len(sample_rate);
        let n = len.next_power_of_two();
        let mut noise = vec![0.0; n];
        UniformNoise::new(seed).fill(&mut noise);
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let mut spectrum = forward.make_output_vec();
        forward.process(&mut noise, &mut spectrum).expect("sizes from the planner");
        let hz_per_bin = sample_rate / n as f32;
        let mut edges = vec![0usize];
        edges.extend(BAND_EDGES_HZ.iter().map(|f| ((f / hz_per_bin).round() as usize).min(spectrum.len())));
        edges.push(spectrum.len());
        (0..edges.len() - 1)
            .map(|b| {
                let mut masked = vec![Complex32::default(); spectrum.len()];
                let (lo, hi) = (edges[b], edges[b + 1].max(edges[b]));
                for k in lo..hi {
                    masked[k] = spectrum[k] / n as f32;
                }
                masked[0].im = 0.0;
                let last = masked.len() - 1;
                masked[last].im = 0.0;
                let mut out = vec![0.0; n];
                inverse.process(&mut masked, &mut out).expect("sizes from the planner");
                out.truncate(len);
                out
            })
            .collect()
    }

    /// Builds the impulse response `h` for `decay_s` and `damping` into `out`, returning
    /// its length. `out` must hold `ir_len(decay_s)` samples.
    pub fn impulse_response(bands: &[Vec<f32>], sample_rate: f32, decay_s: f32, damping: f32, out: &mut [f32]) -> usize {
        let len = ir_len(decay_s, sample_rate).min(out.len()).min(bands[0].len());
        let out = &mut out[..len];
        out.fill(0.0);
        let last = (bands.len() - 1) as f32;
        for (b, band) in bands.iter().enumerate() {
            let t60 = decay_s * (1.0 - 0.9 * damping).powf(b as f32 / last);
            // Per-sample envelope ratio; recomputed exactly every 1024 samples.
            let ratio = 10f64.powf(-3.0 / (sample_rate as f64 * t60 as f64));
            for (start, chunk) in out.chunks_mut(1024).enumerate() {
                let mut env = ratio.powf((start * 1024) as f64);
                let src = &band[start * 1024..start * 1024 + chunk.len()];
                for (o, v) in chunk.iter_mut().zip(src) {
                    *o += v * env as f32;
                    env *= ratio;
                }
            }
        }
        let energy: f64 = out.iter().map(|&v| v as f64 * v as f64).sum();
        if energy > 0.0 {
            let g = (1.0 / energy.sqrt()) as f32;
            out.iter_mut().for_each(|v| *v *= g);
        }
        len
    }

    pub fn set_params(&mut self, p: ReverbParams) {
        self.mix = p.mix;
        if self.shape != Some((p.decay_s, p.damping)) {
            let len = Self::impulse_response(&self.bands, self.sample_rate, p.decay_s, p.damping, &mut self.ir);
            self.conv.set_ir(&self.ir[..len]);
            self.shape = Some((p.decay_s, p.damping));
        }
    }

    /// The current impulse response `h`.
    pub fn ir(&self) -> &[f32] {
        let (decay, _) = self.shape.unwrap_or((0.0, 0.0));
        &self.ir[..ir_len(decay, self.sample_rate).min(self.ir.len())]
    }

    pub fn reset(&mut self) {
        self.conv.reset();
    }

    pub fn process(&mut self, buf: &mut [f32]) {
        // The convolver keeps running while bypassed so the tail is right when the mix
        // comes back up; with mix 0 the output is still exactly the input.
        for chunk in buf.chunks_mut(CHUNK) {
            let wet = &mut self.wet[..chunk.len()];
            self.conv.process(chunk, wet);
            if self.mix != 0.0 {
                for (x, w) in chunk.iter_mut().zip(wet.iter()) {
                    *x += self.mix * w;
                }
            }
        }
    }
}

/// Longest impulse response (at the knob table's longest decay), samples.
pub fn max_ir_len(sample_rate: f32) -> usize {
    ir_len(Knob::ReverbDecayS.spec().max, sample_rate)
}

/// Impulse-response length for a decay time, samples.
pub fn ir_len(decay_s: f32, sample_rate: f32) -> usize {
    (LENGTH_PER_DECAY * decay_s * sample_rate).ceil() as usize
}
