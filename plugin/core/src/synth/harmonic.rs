//! Harmonic oscillator bank: `V` voices (strings) × `K` harmonics, the DDSP additive synth.
//!
//! For voice `s` at audio sample `n` (rate `sr`):
//!
//! ```text
//! x_s(n) = Σ_{k=1..K} g(k·f_s(n)) · a_{s,k}(n) · sin(2π k Φ_s(n)),   Φ_s(n) = Σ_{m≤n} f_s(m) / sr
//! a_{s,k} = A_s · c_{s,k}          (c ≥ 0, Σ_k c = 1: the harmonic distribution)
//! g(f)    = clamp((L − f) / (0.05 · L), 0, 1),   L = min(sr, sr_model) / 2
//! ```
//!
//! * Between frame `j` and `j+1` (position `u ∈ [0,1)`, see [`super::FrameClock`]):
//!   `f(n) = f_j + (f_{j+1} − f_j)·u` (linear) and
//!   `a(n) = a_j + (a_{j+1} − a_j)·(1 − cos πu)/2`, which is DDSP's overlap-add of Hann
//!   windows two frames long centred on each frame.
//! * `g` silences every harmonic at or above the band limit `L` and fades it in over the
//!   top 5 % below, per sample, so a sweeping harmonic never aliases nor clicks. `L` is
//!   the model's Nyquist even at a higher host rate: the decoder learnt its harmonic
//!   distributions at the model rate, where every harmonic above it was silent, so the
//!   ones above are untrained (a 196 Hz note has 40 harmonics under 8 kHz of its 60) —
//!   rendering them would add a top octave the model never heard (the filtered noise
//!   stops there too), and cost a quarter more on six open strings.
//! * Phase is carried across frames and blocks; harmonic phases are exact multiples of
//!   the fundamental's, as in DDSP (`φ_k = k φ_1`).
//!
//! Implementation: `Φ` is kept in f64 cycles; inside a block `e^{i2πΦ}` advances by a
//! chirped rotation (exact for linear `f`), and `e^{i2πkΦ}` comes from `e^{i2π(k−1)Φ}` by
//! one complex multiply — unit-modulus, so the error grows only linearly in `k`.
//! Samples are processed in lanes of 16 so the harmonic loop vectorises (and keeps two
//! independent AVX chains in flight).

use super::{FrameClock, SynthFrame};
use crate::ModelSpec;

const LANES: usize = 16;
/// Width of the Nyquist fade, as a share of Nyquist.
pub const NYQUIST_FADE: f32 = 0.05;

#[derive(Debug, Clone)]
struct Voice {
    /// Frequencies at the segment's start and end frames, Hz.
    f0_from: f32,
    f0_to: f32,
    /// Per-harmonic amplitudes `A·c_k` at the two frames. `[K]`
    amp_from: Vec<f32>,
    amp_to: Vec<f32>,
    /// Both frames' amplitudes are all zero (set whenever they change).
    silent: bool,
    /// Fundamental phase after the last rendered sample, cycles in [0, 1) — exact; the
    /// phasors below are re-anchored to it at every segment start.
    phase: f64,
    /// `e^{i2πΦ}` and `e^{i2πf/sr}` for the next sample, and the per-sample chirp `d`.
    z: (f64, f64),
    r: (f64, f64),
    d: (f64, f64),
}

impl Voice {
    fn new(harmonics: usize) -> Self {
        Voice {
            f0_from: 0.0,
            f0_to: 0.0,
            amp_from: vec![0.0; harmonics],
            amp_to: vec![0.0; harmonics],
            silent: true,
            phase: 0.0,
            z: (1.0, 0.0),
            r: (1.0, 0.0),
            d: (1.0, 0.0),
        }
    }

    fn update_silence(&mut self) {
        self.silent = self.amp_from.iter().chain(&self.amp_to).all(|&a| a == 0.0);
    }
}

/// The six-voice (by default) harmonic bank, rendering at any sample rate.
pub struct HarmonicBank {
    sample_rate: f32,
    /// `L`: the host's or the model's Nyquist, whichever is lower, Hz.
    band_limit: f32,
    harmonics: usize,
    voices: Vec<Voice>,
    /// Amplitude interpolation weights `(1 − cos πu)/2` of the samples being rendered.
    weights: Vec<f32>,
}

/// A control value that cannot hurt: non-finite or negative becomes 0.
#[inline]
fn sane(x: f32) -> f32 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

#[inline]
fn cmul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

#[inline]
fn cis(turns: f64) -> (f64, f64) {
    let (s, c) = (std::f64::consts::TAU * turns).sin_cos();
    (c, s)
}

impl HarmonicBank {
    pub fn new(spec: &ModelSpec, sample_rate: f32) -> Self {
        let clock = FrameClock::new(sample_rate, spec.frame_rate());
        HarmonicBank {
            sample_rate,
            band_limit: 0.5 * sample_rate.min(spec.sample_rate as f32),
            harmonics: spec.harmonics,
            voices: (0..spec.voices).map(|_| Voice::new(spec.harmonics)).collect(),
            weights: vec![0.0; clock.max_segment_len() + LANES],
        }
    }

    pub fn reset(&mut self) {
        for v in &mut self.voices {
            *v = Voice { amp_from: std::mem::take(&mut v.amp_from), amp_to: std::mem::take(&mut v.amp_to), ..Voice::new(0) };
            v.amp_from.fill(0.0);
            v.amp_to.fill(0.0);
        }
    }

    /// Frame `j+1` arrives: the old target becomes the start of the new segment.
    pub fn push(&mut self, frame: &SynthFrame) {
        for (s, v) in self.voices.iter_mut().enumerate() {
            std::mem::swap(&mut v.amp_from, &mut v.amp_to);
            v.f0_from = v.f0_to;
            Self::load(v, frame, s, self.harmonics);
            v.update_silence();
        }
    }

    /// Sets both ends of the first segment to `frame`.
    pub fn prime(&mut self, frame: &SynthFrame) {
        for (s, v) in self.voices.iter_mut().enumerate() {
            Self::load(v, frame, s, self.harmonics);
            v.f0_from = v.f0_to;
            v.amp_from.copy_from_slice(&v.amp_to);
            v.update_silence();
        }
    }

    fn load(v: &mut Voice, frame: &SynthFrame, s: usize, harmonics: usize) {
        let a = sane(frame.amplitude[s]);
        v.f0_to = sane(frame.f0_hz[s]);
        let dist = &frame.harmonics[s * harmonics..(s + 1) * harmonics];
        for (dst, &c) in v.amp_to.iter_mut().zip(dist) {
            *dst = a * sane(c);
        }
    }

    /// Adds the bank's output for samples `n0 .. n0 + out.len()` of segment `j` to `out`
    /// (`out` never crosses a segment boundary).
    pub fn render(&mut self, out: &mut [f32], clock: &FrameClock, j: u64, n0: u64) {
        let sr = self.sample_rate as f64;
        let nyquist = self.band_limit;
        let fade_start = nyquist * (1.0 - NYQUIST_FADE);
        let du = 1.0 / clock.samples_per_frame();
        let u0 = clock.position(j, n0);
        let segment_start = n0 == clock.boundary(j);
        let len = out.len();
        if self.voices.iter().any(|v| !v.silent) {
            for (m, w) in self.weights[..len].iter_mut().enumerate() {
                let u = (u0 + m as f64 * du) as f32;
                *w = 0.5 - 0.5 * (std::f32::consts::PI * u).cos();
            }
        }

        for v in &mut self.voices {
            let df = (v.f0_to - v.f0_from) as f64;
            // f(n0 + m) = f_start + m·δ
            let f_start = v.f0_from as f64 + df * u0;
            let delta = df * du;
            // A voice is silent for whole segments (its amplitudes change only at segment
            // starts), so a sounding voice always meets a segment start first.
            if !v.silent {
                if segment_start {
                    v.r = cis(f_start / sr);
                    v.d = cis(delta / sr);
                    v.z = cis(v.phase + f_start / sr);
                }
                let (f_lo, f_hi) = (v.f0_from.min(v.f0_to), v.f0_from.max(v.f0_to));
                // Harmonics fully below the fade need no gain; those wholly above Nyquist are skipped.
                let k_plain = if f_hi > 0.0 { ((fade_start / f_hi).ceil() as usize).saturating_sub(1) } else { self.harmonics };
                let k_plain = k_plain.min(self.harmonics);
                let k_audible = if f_lo > 0.0 { ((nyquist / f_lo).ceil() as usize).saturating_sub(1) } else { self.harmonics };
                let band = Band { k_plain, k_audible: k_audible.clamp(k_plain, self.harmonics), nyquist, inv_fade: 1.0 / (nyquist * NYQUIST_FADE) };

                let mut m = 0;
                while m < len {
                    let lanes = (len - m).min(LANES);
                    let mut lane = Lanes::default();
                    for l in 0..LANES {
                        lane.f[l] = (f_start + (m + l) as f64 * delta) as f32;
                        lane.zr[l] = v.z.0 as f32;
                        lane.zi[l] = v.z.1 as f32;
                        if l < lanes {
                            // z ← z·r(n+1), r ← r·d
                            v.r = cmul(v.r, v.d);
                            v.z = cmul(v.z, v.r);
                        }
                    }
                    let (acc_from, acc_step) = harmonic_sum(&lane, &v.amp_from, &v.amp_to, &band);
                    for l in 0..lanes {
                        out[m + l] += acc_from[l] + self.weights[m + l] * acc_step[l];
                    }
                    m += lanes;
                }
            }
            v.phase = advance(v.phase, f_start, delta, len, sr);
        }
    }
}

/// `LANES` consecutive samples of one voice: fundamental phasor and frequency.
#[derive(Default)]
struct Lanes {
    zr: [f32; LANES],
    zi: [f32; LANES],
    f: [f32; LANES],
}

struct Band {
    k_plain: usize,
    k_audible: usize,
    nyquist: f32,
    inv_fade: f32,
}

/// `Σ_k a_from[k]·sin(kθ)` and `Σ_k (a_to[k] − a_from[k])·sin(kθ)` per lane, with the
/// Nyquist fade on harmonics `k_plain..k_audible`. Compiled for AVX2 and NEON too and
/// picked at run time: this loop is most of the synth's cost.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn harmonic_sum(lane: &Lanes, amp_from: &[f32], amp_to: &[f32], band: &Band) -> ([f32; LANES], [f32; LANES]) {
    let (zr, zi) = (lane.zr, lane.zi);
    let mut pr = zr;
    let mut pi = zi;
    let mut acc_from = [0f32; LANES];
    let mut acc_step = [0f32; LANES];
    for k in 0..band.k_plain {
        let a0 = amp_from[k];
        let da = amp_to[k] - a0;
        for l in 0..LANES {
            acc_from[l] += a0 * pi[l];
            acc_step[l] += da * pi[l];
            let (r, i) = (pr[l] * zr[l] - pi[l] * zi[l], pr[l] * zi[l] + pi[l] * zr[l]);
            pr[l] = r;
            pi[l] = i;
        }
    }
    for k in band.k_plain..band.k_audible {
        let a0 = amp_from[k];
        let da = amp_to[k] - a0;
        let kf = (k + 1) as f32;
        for l in 0..LANES {
            let g = ((band.nyquist - kf * lane.f[l]) * band.inv_fade).clamp(0.0, 1.0);
            acc_from[l] += g * a0 * pi[l];
            acc_step[l] += g * da * pi[l];
            let (r, i) = (pr[l] * zr[l] - pi[l] * zi[l], pr[l] * zi[l] + pi[l] * zr[l]);
            pr[l] = r;
            pi[l] = i;
        }
    }
    (acc_from, acc_step)
}

/// `Φ + Σ_{m<len} (f_start + m·δ) / sr`, wrapped to [0, 1).
fn advance(phase: f64, f_start: f64, delta: f64, len: usize, sr: f64) -> f64 {
    let n = len as f64;
    (phase + (n * f_start + delta * n * (n - 1.0) * 0.5) / sr).rem_euclid(1.0)
}
