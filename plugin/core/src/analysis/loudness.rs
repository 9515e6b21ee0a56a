//! A-weighted loudness per frame, dB relative to a full-scale RMS signal.
//!
//! ```text
//! L = 10 · log10( Σ_k |X_k|² · A(f_k)² / (N² · mean(w²)) )     (full spectrum, Hann w)
//! A(f) = 1.2589 · 12194² f⁴ / ((f² + 20.6²) · √((f² + 107.7²)(f² + 737.9²)) · (f² + 12194²))
//! ```
//!
//! `A` is the IEC 61672 A-weighting (0 dB at 1 kHz), so a 1 kHz sine of amplitude `a`
//! reads `20·log10(a/√2)` dB. Frames are 1024 samples at the analysis rate (64 ms at
//! 16 kHz); the floor is −100 dB. DDSP uses the same measure as its loudness input.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

use super::{centered_frame, hann, trailing_frame};

pub const FRAME: usize = 1024;
pub const FLOOR_DB: f32 = -100.0;

/// Whether a frame's loudness is above the floor: silent input reads exactly
/// [`FLOOR_DB`], and 1 dB of margin keeps rounding from counting as sound.
pub fn sounding(loudness_db: f32) -> bool {
    loudness_db > FLOOR_DB + 1.0
}

/// IEC 61672 A-weighting as a power gain.
pub fn a_weighting_power(f: f32) -> f32 {
    let f2 = (f as f64).powi(2);
    let ra = 12194f64.powi(2) * f2 * f2
        / ((f2 + 20.6f64.powi(2)) * ((f2 + 107.7f64.powi(2)) * (f2 + 737.9f64.powi(2))).sqrt() * (f2 + 12194f64.powi(2)));
    let a = ra * 10f64.powf(2.0 / 20.0);
    (a * a) as f32
}

pub struct Loudness {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    weights: Vec<f32>,
    norm: f32,
}

impl Loudness {
    pub fn new(sample_rate: f32) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FRAME);
        let window = hann(FRAME);
        let mean_w2 = window.iter().map(|w| w * w).sum::<f32>() / FRAME as f32;
        // One-sided bins count twice, except DC and Nyquist.
        let weights = (0..=FRAME / 2)
            .map(|k| {
                let both = if k == 0 || k == FRAME / 2 { 1.0 } else { 2.0 };
                both * a_weighting_power(k as f32 * sample_rate / FRAME as f32)
            })
            .collect();
        Loudness { fft, window, weights, norm: 1.0 / (FRAME as f32 * FRAME as f32 * mean_w2) }
    }

    /// Loudness of each frame centred on `i · hop`, dB.
    pub fn track(&self, signal: &[f32], hop: usize) -> Vec<f32> {
        self.track_by(signal, hop, |i, out| centered_frame(signal, i * hop, out))
    }

    /// Loudness of frame `i` from the [`FRAME`] samples up to `(i + 1) · hop`, dB: what a
    /// live tracker has heard when frame `i` is complete.
    pub fn track_trailing(&self, signal: &[f32], hop: usize) -> Vec<f32> {
        self.track_by(signal, hop, |i, out| trailing_frame(signal, (i + 1) * hop, out))
    }

    /// One loudness per frame of `⌈len / hop⌉`; `frame(i, out)` fills frame `i`'s samples.
    fn track_by(&self, signal: &[f32], hop: usize, frame: impl Fn(usize, &mut [f32])) -> Vec<f32> {
        let mut s = LoudnessScratch::new(self);
        (0..signal.len().div_ceil(hop))
            .map(|i| {
                frame(i, &mut s.frame);
                self.frame_db(&mut s)
            })
            .collect()
    }

    /// Loudness of the [`FRAME`] samples in `s.frame` (overwritten), dB. Allocation-free.
    pub fn frame_db(&self, s: &mut LoudnessScratch) -> f32 {
        for (x, w) in s.frame.iter_mut().zip(&self.window) {
            *x *= w;
        }
        // Sizes come from the planner, so the FFT cannot fail.
        let _ = self.fft.process_with_scratch(&mut s.frame, &mut s.spectrum, &mut s.scratch);
        let p: f32 = s.spectrum.iter().zip(&self.weights).map(|(c, w)| c.norm_sqr() * w).sum::<f32>() * self.norm;
        (10.0 * p.max(1e-10).log10()).max(FLOOR_DB)
    }
}

/// The buffers of one [`Loudness`] frame, made once; fill `frame` before
/// [`Loudness::frame_db`].
pub struct LoudnessScratch {
    pub frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl LoudnessScratch {
    pub fn new(l: &Loudness) -> Self {
        LoudnessScratch {
            frame: vec![0.0; FRAME],
            spectrum: vec![Complex32::default(); FRAME / 2 + 1],
            scratch: vec![Complex32::default(); l.fft.get_scratch_len()],
        }
    }
}
