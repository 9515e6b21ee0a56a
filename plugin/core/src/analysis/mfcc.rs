//! MFCC, the z-encoder's input (DDSP: 30 coefficients of a 128-band log-mel spectrum).
//!
//! ```text
//! P_k   = |DFT_N(w · x)|²                          (N = 1024, Hann w)
//! M_m   = Σ_k T_m(f_k) · P_k                       (128 triangular HTK-mel bands, 20–8000 Hz)
//! c_q   = Σ_m ln(M_m + 1e-6) · α_q · cos(π q (m + ½) / 128),  q < 30   (orthonormal DCT-II)
//! ```
//!
//! Bands above the analysis rate's Nyquist are empty, so use this on model-rate audio.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

use super::{centered_frame, hann};

pub const FRAME: usize = 1024;
pub const MELS: usize = 128;
pub const F_LOW: f32 = 20.0;
pub const F_HIGH: f32 = 8000.0;

fn hz_to_mel(f: f32) -> f32 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f32) -> f32 {
    700.0 * (10f32.powf(m / 2595.0) - 1.0)
}

pub struct Mfcc {
    coefficients: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// `[MELS][FRAME/2 + 1]`
    filters: Vec<Vec<f32>>,
    /// `[coefficients][MELS]`
    dct: Vec<Vec<f32>>,
}

impl Mfcc {
    pub fn new(sample_rate: f32, coefficients: usize) -> Self {
        let bins = FRAME / 2 + 1;
        let top = F_HIGH.min(sample_rate / 2.0);
        let (lo, hi) = (hz_to_mel(F_LOW), hz_to_mel(top));
        let edges: Vec<f32> = (0..MELS + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f32 / (MELS + 1) as f32)).collect();
        let filters = (0..MELS)
            .map(|m| {
                let (l, c, r) = (edges[m], edges[m + 1], edges[m + 2]);
                (0..bins)
                    .map(|k| {
                        let f = k as f32 * sample_rate / FRAME as f32;
                        if f <= l || f >= r {
                            0.0
                        } else if f <= c {
                            (f - l) / (c - l)
                        } else {
                            (r - f) / (r - c)
                        }
                    })
                    .collect()
            })
            .collect();
        let dct = (0..coefficients)
            .map(|q| {
                let alpha = if q == 0 { (1.0 / MELS as f32).sqrt() } else { (2.0 / MELS as f32).sqrt() };
                (0..MELS)
                    .map(|m| alpha * (std::f32::consts::PI * q as f32 * (m as f32 + 0.5) / MELS as f32).cos())
                    .collect()
            })
            .collect();
        Mfcc {
            coefficients,
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(FRAME),
            window: hann(FRAME),
            filters,
            dct,
        }
    }

    pub fn coefficients(&self) -> usize {
        self.coefficients
    }

    /// MFCCs of each frame centred on `i · hop`, frame-major: `[frames × coefficients]`.
    pub fn track(&self, signal: &[f32], hop: usize) -> Vec<f32> {
        let frames = signal.len().div_ceil(hop);
        let mut buf = vec![0.0; FRAME];
        let mut spec = vec![Complex32::default(); FRAME / 2 + 1];
        let mut power = vec![0.0; FRAME / 2 + 1];
        let mut log_mel = vec![0.0; MELS];
        let mut out = Vec::with_capacity(frames * self.coefficients);
        for i in 0..frames {
            centered_frame(signal, i * hop, &mut buf);
            for (x, w) in buf.iter_mut().zip(&self.window) {
                *x *= w;
            }
            self.fft.process(&mut buf, &mut spec).expect("sizes from the planner");
            for (p, c) in power.iter_mut().zip(&spec) {
                *p = c.norm_sqr();
            }
            for (lm, filt) in log_mel.iter_mut().zip(&self.filters) {
                let e: f32 = filt.iter().zip(&power).map(|(a, b)| a * b).sum();
                *lm = (e + 1e-6).ln();
            }
            out.extend(self.dct.iter().map(|row| row.iter().zip(&log_mel).map(|(a, b)| a * b).sum::<f32>()));
        }
        out
    }
}
