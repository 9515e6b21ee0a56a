//! The dependency-free plucked string: extended Karplus–Strong (Jaffe & Smith, "Extensions
//! of the Karplus-Strong plucked-string algorithm", CMJ 1983).
//!
//! A delay loop of `L = sr / f0` samples holds the string's travelling wave: an integer
//! delay line of `N` samples, a symmetric three-tap loss filter
//! `u[n] = a·y[n−N] + (1−2a)·y[n−N−1] + a·y[n−N−2]` (delay exactly one sample at every
//! frequency), and a first-order Thiran allpass for the fraction `Δ = L − 1 − N`
//! (`c = (1−Δ)/(1+Δ)`, lossless, unlike interpolation, so high notes ring as long as
//! low ones); `y[n] = e[n] + g·allpass(u)[n]`. `Δ` follows bends and vibrato each
//! sample; `N` moves by one when `Δ` leaves `[0.5, 2.5)`. `a ∈ [0, ¼]` darkens the
//! string; `g ≤ 1` gives an RT60 at f0 of `decay_s · sqrt(82.4 Hz / f0)` where the loss
//! filter allows (higher notes die sooner, as on a guitar). The
//! excitation is one period of noise, low-passed harder for soft notes and comb-filtered
//! at the pick position `β·L`; an optional pickup comb at `p·L` colours the output like a
//! magnetic pickup.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::notes::Note;

/// The sound of one plucked-string "guitar".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PluckParams {
    /// RT60 in seconds of a note at 82.4 Hz (low E).
    pub decay_s: f64,
    /// Loss filter darkness `a ∈ [0, 0.25]`.
    pub darkness: f64,
    /// Pick position as a fraction of the string.
    pub pick: f64,
    /// Excitation brightness at full velocity, `(0, 1]`.
    pub brightness: f64,
    /// Magnetic pickup position as a fraction of the string, if any.
    pub pickup: Option<f64>,
}

/// Renders isolated notes of one string at one sample rate.
pub struct Pluck {
    params: PluckParams,
    sample_rate: f64,
    rng: Xoshiro256PlusPlus,
    line: Vec<f64>,
}

impl Pluck {
    pub fn new(params: PluckParams, sample_rate: u32, seed: u64) -> Self {
        Pluck { params, sample_rate: sample_rate as f64, rng: Xoshiro256PlusPlus::seed_from_u64(seed), line: Vec::new() }
    }

    /// Renders `note` from its start into `out` (`out[0]` is at `note.start`), the string
    /// left ringing past `note.end` (the caller damps it).
    pub fn render_note(&mut self, note: &Note, out: &mut [f32]) {
        let sr = self.sample_rate;
        let p = self.params;
        let f0_start = note.f0_at(note.start);
        let period = sr / f0_start;
        // The line must hold the longest loop the note bends to (bends go down ≤ 3 st).
        let len = (period * 1.3) as usize + 8;
        self.line.clear();
        self.line.resize(len.next_power_of_two(), 0.0);
        let mask = self.line.len() - 1;

        // Excitation: one period of noise, low-passed by velocity, pick-position comb.
        let vel = note.velocity as f64 / 127.0;
        let cutoff = (p.brightness * (0.25 + 0.75 * vel)).clamp(0.02, 1.0);
        let n_exc = period.round().max(2.0) as usize;
        let mut exc = vec![0.0; n_exc];
        let mut lp = 0.0;
        for e in &mut exc {
            lp += cutoff * (self.rng.random_range(-1.0..1.0) - lp);
            *e = lp;
        }
        let pick = ((p.pick * period).round() as usize).clamp(1, n_exc - 1);
        let combed: Vec<f64> = (0..n_exc).map(|i| exc[i] - if i >= pick { exc[i - pick] } else { 0.0 }).collect();
        let mean = combed.iter().sum::<f64>() / n_exc as f64;
        let rms = (combed.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n_exc as f64).sqrt().max(1e-9);
        let amp = vel.powf(1.5) * 0.5 / rms;

        let a = p.darkness.clamp(0.0, 0.25);
        let pickup = p.pickup.map(|q| ((q * period).round() as usize).clamp(1, mask / 2));
        let mut w = 0usize;
        let mut t = note.start;
        let dt = 1.0 / sr;
        let mut f0 = f0_start;
        let mut n_int = ((period - 1.5).floor() as usize).max(2);
        let (mut ap_in, mut ap_out) = (0.0f64, 0.0f64);
        for (n, o) in out.iter_mut().enumerate() {
            if n % 16 == 0 {
                // Pitch re-read every 16 samples (1 ms at 16 kHz): finer than any bend.
                f0 = note.f0_at(t);
            }
            let loop_delay = sr / f0;
            let mut frac = loop_delay - 1.0 - n_int as f64;
            if !(0.5..2.5).contains(&frac) {
                n_int = ((loop_delay - 2.0).floor() as usize).clamp(2, mask - 4);
                frac = loop_delay - 1.0 - n_int as f64;
            }
            let rt60 = p.decay_s * (82.4 / f0).sqrt();
            let loss_at_f0 = (1.0 - 2.0 * a) + 2.0 * a * (std::f64::consts::TAU * f0 / sr).cos();
            // g > 1 would make the loop grow at DC, where the loss filter passes all.
            let g = (10f64.powf(-3.0 / (rt60 * f0)) / loss_at_f0).min(0.99999);
            let at = |line: &[f64], k: usize| line[(w + line.len() - k) & mask];
            let u = a * at(&self.line, n_int) + (1.0 - 2.0 * a) * at(&self.line, n_int + 1) + a * at(&self.line, n_int + 2);
            let c = (1.0 - frac) / (1.0 + frac);
            let v = c * u + ap_in - c * ap_out;
            ap_in = u;
            ap_out = v;
            let e = if n < n_exc { (combed[n] - mean) * amp } else { 0.0 };
            let y = e + g * v;
            self.line[w & mask] = y;
            let out_y = match pickup {
                Some(k) => y - at(&self.line, k),
                None => y,
            };
            *o = out_y as f32;
            w = w.wrapping_add(1);
            t += dt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gddsp_core::analysis::Yin;

    fn params() -> PluckParams {
        PluckParams { decay_s: 3.0, darkness: 0.15, pick: 0.15, brightness: 0.8, pickup: None }
    }

    fn median_f0(signal: &[f32], rate: u32) -> f32 {
        let (mut f0, conf) = Yin::new(rate as f32).track(signal, 64);
        f0.retain(|&f| f > 0.0);
        let _ = conf;
        f0.sort_by(f32::total_cmp);
        f0[f0.len() / 2]
    }

    #[test]
    fn a_plucked_note_sounds_at_its_pitch_across_the_neck() {
        for rate in [16_000u32, 44_100] {
            for midi in [40u8, 52, 64, 76, 83] {
                let note = Note { start: 0.0, end: 1.0, fret: 0, midi, velocity: 100, muted: false, bend: vec![] };
                let mut out = vec![0f32; rate as usize];
                Pluck::new(params(), rate, 1).render_note(&note, &mut out);
                let f = median_f0(&out[rate as usize / 10..], rate) as f64;
                let cents = 1200.0 * (f / note.f0_at(0.0)).log2();
                assert!(cents.abs() < 5.0, "midi {midi} at {rate} Hz: {cents:.2} cents");
            }
        }
    }

    #[test]
    fn decay_follows_the_rt60_setting() {
        let rate = 16_000u32;
        let note = Note { start: 0.0, end: 3.0, fret: 0, midi: 45, velocity: 100, muted: false, bend: vec![] };
        let mut out = vec![0f32; 3 * rate as usize];
        let p = PluckParams { decay_s: 2.0, ..params() };
        Pluck::new(p, rate, 3).render_note(&note, &mut out);
        let rms = |a: usize, b: usize| (out[a..b].iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / (b - a) as f64).sqrt();
        // RT60 at 110 Hz = 2·sqrt(82.4/110) = 1.731 s → −60/1.731 dB per second.
        let slope_db = 20.0 * (rms(32_000, 36_000) / rms(8_000, 12_000)).log10() / 1.5;
        let want = -60.0 / (2.0 * (82.4f64 / 110.0).sqrt());
        assert!((slope_db - want).abs() < 0.1 * want.abs(), "decay {slope_db:.1} dB/s, want {want:.1}");
    }
}
