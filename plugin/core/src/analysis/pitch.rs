//! Monophonic f0 and confidence per frame: YIN (de Cheveigné & Kawahara, JASA 2002).
//!
//! For a frame `x` centred on the frame time, with integration window `W = 512`:
//!
//! ```text
//! d(τ)  = Σ_{j<W} (x_j − x_{j+τ})²  = e_0 + e_τ − 2·r(τ)        (r by FFT)
//! d'(τ) = d(τ) · τ / Σ_{1≤t≤τ} d(t),  d'(0) = 1
//! τ*    = first local minimum of d' below 0.15 in [sr/f_max, sr/f_min],
//!         else the global minimum; refined by a parabola through d(τ*−1..τ*+1)
//! f0    = sr / τ*,   confidence = clamp(1 − d'(τ*), 0, 1)
//! ```
//!
//! The range 60–1500 Hz covers a guitar in drop tunings up to the 24th fret of the high
//! string. Silent frames report f0 = 0 and confidence 0.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::centered_frame;

pub const WINDOW: usize = 512;
pub const F_MIN: f32 = 60.0;
pub const F_MAX: f32 = 1500.0;
const THRESHOLD: f32 = 0.15;

pub struct Yin {
    sample_rate: f32,
    tau_min: usize,
    tau_max: usize,
    frame_len: usize,
    fft_len: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

/// MIDI notes of the open strings in standard tuning, low E first.
pub const STANDARD_OPEN_MIDI: [u8; 6] = [40, 45, 50, 55, 59, 64];

/// Open-string pitch of string `string` (0 = low E, standard tuning), Hz.
pub fn open_string_hz(string: usize) -> f32 {
    440.0 * 2f32.powf((STANDARD_OPEN_MIDI[string.min(5)] as f32 - 69.0) / 12.0)
}

/// The f0 range one string of a hexaphonic pickup can sound, Hz: from three semitones
/// below its standard open note (drop and E♭ tunings, bends released down) to a bend of
/// two semitones at the 24th fret, within [`F_MIN`, `F_MAX`].
pub fn string_range(string: usize) -> (f32, f32) {
    let open = STANDARD_OPEN_MIDI[string.min(5)] as f32;
    let hz = |m: f32| 440.0 * ((m - 69.0) / 12.0).exp2();
    (hz(open - 3.0).max(F_MIN), hz(open + 26.0).min(F_MAX))
}

impl Yin {
    /// A tracker over the whole guitar range, [`F_MIN`]–[`F_MAX`].
    pub fn new(sample_rate: f32) -> Self {
        Yin::with_range(sample_rate, F_MIN, F_MAX)
    }

    /// A tracker that looks for f0 only in `[f_min, f_max]` Hz: on one string of a
    /// hexaphonic pickup, a narrower range removes most octave errors.
    pub fn with_range(sample_rate: f32, f_min: f32, f_max: f32) -> Self {
        let tau_min = ((sample_rate / f_max).floor() as usize).max(2);
        let tau_max = (sample_rate / f_min).ceil() as usize;
        let frame_len = WINDOW + tau_max + 1;
        // Only lags 0…τ_max are read, and j + τ < frame_len for every j < W, so a circular
        // correlation of frame_len points cannot wrap: no extra padding.
        let fft_len = frame_len.next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        Yin {
            sample_rate,
            tau_min,
            tau_max,
            frame_len,
            fft_len,
            forward: planner.plan_fft_forward(fft_len),
            inverse: planner.plan_fft_inverse(fft_len),
        }
    }

    /// Samples one estimate reads: `WINDOW + τ_max + 1`.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// `(f0_hz, confidence)` of each frame centred on `i · hop`.
    pub fn track(&self, signal: &[f32], hop: usize) -> (Vec<f32>, Vec<f32>) {
        let frames = signal.len().div_ceil(hop);
        let mut frame = vec![0.0; self.frame_len];
        let mut scratch = YinScratch::new(self);
        (0..frames)
            .map(|i| {
                centered_frame(signal, i * hop, &mut frame);
                self.estimate(&frame, &mut scratch)
            })
            .unzip()
    }

    /// `(f0_hz, confidence)` of one frame of [`Yin::frame_len`] samples; the window is its
    /// first `WINDOW` samples. Allocation-free: all buffers are in `s`.
    pub fn estimate(&self, x: &[f32], s: &mut YinScratch) -> (f32, f32) {
        let e0: f64 = x[..WINDOW].iter().map(|&v| v as f64 * v as f64).sum();
        if e0 < 1e-10 {
            return (0.0, 0.0);
        }
        // r(τ) = Σ_{j<W} x_j x_{j+τ}: correlate the window against the frame by FFT.
        s.a.fill(0.0);
        s.a[..WINDOW].copy_from_slice(&x[..WINDOW]);
        s.b.fill(0.0);
        s.b[..x.len()].copy_from_slice(x);
        // Buffer sizes come from the planner, so the FFTs cannot fail; `process` would
        // allocate its scratch, `process_with_scratch` does not.
        let _ = self.forward.process_with_scratch(&mut s.a, &mut s.sa, &mut s.fwd);
        let _ = self.forward.process_with_scratch(&mut s.b, &mut s.sb, &mut s.fwd);
        for (p, q) in s.sa.iter_mut().zip(&s.sb) {
            *p = p.conj() * q / self.fft_len as f32;
        }
        s.sa[0].im = 0.0;
        let last = s.sa.len() - 1;
        s.sa[last].im = 0.0;
        let _ = self.inverse.process_with_scratch(&mut s.sa, &mut s.a, &mut s.inv);

        // e_τ = Σ_{τ≤j<τ+W} x_j² by a running sum.
        let mut e_tau = e0;
        let mut running = 0.0f64;
        s.d[0] = 0.0;
        s.dn[0] = 1.0;
        for tau in 1..=self.tau_max {
            e_tau += (x[tau + WINDOW - 1] as f64).powi(2) - (x[tau - 1] as f64).powi(2);
            let d = (e0 + e_tau - 2.0 * s.a[tau] as f64).max(0.0);
            s.d[tau] = d as f32;
            running += d;
            s.dn[tau] = if running > 0.0 { (d * tau as f64 / running) as f32 } else { 1.0 };
        }

        let range = self.tau_min..self.tau_max;
        let mut best = None;
        let mut tau = self.tau_min;
        while tau < self.tau_max {
            if s.dn[tau] < THRESHOLD {
                while tau + 1 < self.tau_max && s.dn[tau + 1] < s.dn[tau] {
                    tau += 1;
                }
                best = Some(tau);
                break;
            }
            tau += 1;
        }
        let tau = best.unwrap_or_else(|| {
            range.clone().min_by(|&p, &q| s.dn[p].total_cmp(&s.dn[q])).unwrap_or(self.tau_min)
        });
        let confidence = (1.0 - s.dn[tau]).clamp(0.0, 1.0);
        let (l, c, r) = (s.d[tau - 1], s.d[tau], s.d[tau + 1]);
        let curvature = l - 2.0 * c + r;
        let shift = if curvature > 0.0 { (0.5 * (l - r) / curvature).clamp(-1.0, 1.0) } else { 0.0 };
        (self.sample_rate / (tau as f32 + shift), confidence)
    }
}

/// The buffers of one [`Yin`] estimate, made once.
pub struct YinScratch {
    a: Vec<f32>,
    b: Vec<f32>,
    sa: Vec<Complex32>,
    sb: Vec<Complex32>,
    d: Vec<f32>,
    dn: Vec<f32>,
    fwd: Vec<Complex32>,
    inv: Vec<Complex32>,
}

impl YinScratch {
    pub fn new(y: &Yin) -> Self {
        YinScratch {
            fwd: vec![Complex32::default(); y.forward.get_scratch_len()],
            inv: vec![Complex32::default(); y.inverse.get_scratch_len()],
            a: vec![0.0; y.fft_len],
            b: vec![0.0; y.fft_len],
            sa: vec![Complex32::default(); y.fft_len / 2 + 1],
            sb: vec![Complex32::default(); y.fft_len / 2 + 1],
            d: vec![0.0; y.tau_max + 2],
            dn: vec![0.0; y.tau_max + 2],
        }
    }
}
