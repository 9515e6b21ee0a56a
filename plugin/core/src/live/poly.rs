//! A plain mono guitar: real-time polyphonic pitch (up to six notes) by iterative
//! harmonic-sum estimation with spectral subtraction (Klapuri, "Multiple fundamental
//! frequency estimation by summing harmonic amplitudes", ISMIR 2006), then the notes
//! placed on strings ([`StringAssigner`]).
//!
//! Per frame (the last `window` samples, Hann, zero-padded to `fft_len`):
//!
//! ```text
//! X(k)    magnitude spectrum
//! Y(k)  = γ(k) X(k)                 whitening: 30 bands c_b = 229 (10^((b+1)/21.4) − 1) Hz,
//!                                   triangular; γ_b = σ_b^(ν−1), ν = 0.33, σ_b the band's
//!                                   RMS; γ(k) linear between band centres
//! s(f)  = Σ_{m≤M} g(f, m) max_{k ∈ κ(f, m)} Y_R(k),   g(f, m) = (f + 52) / (m f + 320)
//!                                   κ(f, m): the bins within a sixth of a semitone of m·f
//! repeat ≤ 6 times:  f̂ = argmax s over the candidate grid (1/3 semitone, MIDI 38–88);
//!                    keep it while  Σ_{i≤j} s_i / j^γ  grows and s_j ≥ floor · s_1;
//!                    subtract its partials from Y_R: partial m removes
//!                    d · min(a_m, (a_{m−1} + a_m + a_{m+1}) / 3) (spectral smoothness,
//!                    so a partial shared with another note is not all taken), shaped
//!                    like the window's main lobe.
//! ```
//!
//! Klapuri's γ = 0.7 and d = 0.89 found half the notes of strummed guitar chords (octave
//! doublings share every partial); γ = 0.5, d = 0.6 were the best of a small grid on the
//! held-out guitar (`gddsp-train pitch-eval`, numbers in the README).
//!
//! A note found an octave below one already found is dropped unless half its salience
//! is in its odd partials: without that check, beating between two notes' upper partials
//! (A2 + G3: 880 and 882 Hz) let G2 — G3's partials as its even ones — flicker in for
//! 12 ms every 100 ms. On the held-out guitar the check leaves the F-measure as it was
//! (0.8048 → 0.8047); stricter shares cost recall (0.6: 0.790).
//!
//! A new note sounds once it is found in two consecutive frames; a sounding note survives
//! `HOLD` frames without being found. Latency: the window's centre is `window / 2` samples
//! before its end and a new note waits one more frame, so the added latency is
//! `window / 2 + hop` samples (the default 640-sample window at 16 kHz: 24 ms). The f0 of a
//! note is refined from its first four partials' peaks (parabolic, weighted by
//! magnitude); its loudness is the A-weighted power of its partials' main lobes, on the
//! same scale as [`crate::analysis::loudness`].

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

use super::strings::StringAssigner;
use super::{hz_to_midi, midi_to_hz, History, StringFrame, STRINGS};
use crate::analysis::hann;
use crate::analysis::loudness::{a_weighting_power, FLOOR_DB};

/// Tracker settings; [`PolyConfig::default`] is the measured choice (see the README).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolyConfig {
    /// Analysis window, samples.
    pub window: usize,
    pub fft_len: usize,
    /// Harmonics summed per candidate.
    pub harmonics: usize,
    /// A later note must reach this fraction of the first one's salience.
    pub floor: f32,
    /// Frames quieter than this (A-weighted loudness, dB) have no notes.
    pub gate_db: f32,
    /// Frames a sounding note survives without being found.
    pub hold: u8,
    /// Polyphony estimate: add notes while `Σ s_i / j^gamma` grows.
    pub gamma: f32,
    /// Share of a found note's (smoothed) partials taken out of the residual.
    pub subtract: f32,
    /// A note an octave below one already found must have this share of its salience in
    /// its odd partials, or it is taken for the other note's sub-octave ghost.
    pub odd_share: f32,
}

impl Default for PolyConfig {
    fn default() -> Self {
        PolyConfig {
            window: 640,
            fft_len: 4096,
            harmonics: 20,
            floor: 0.15,
            gate_db: -60.0,
            hold: 2,
            gamma: 0.5,
            subtract: 0.6,
            odd_share: 0.5,
        }
    }
}

const LOWEST_MIDI: f32 = 38.0;
const HIGHEST_MIDI: f32 = 88.0;
const STEPS_PER_SEMITONE: f32 = 3.0;
const MAX_NOTES: usize = STRINGS;
const ALPHA: f32 = 52.0;
const BETA: f32 = 320.0;
const MAX_HZ: f32 = 6000.0;

/// One note of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolyNote {
    pub string: usize,
    pub midi: u8,
    pub f0_hz: f32,
    /// Salience relative to the frame's strongest note, 0–1.
    pub confidence: f32,
    pub loudness_db: f32,
}

/// The notes of one frame (at most six) and their strings as controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolyFrame {
    pub notes: [Option<PolyNote>; MAX_NOTES],
    pub strings: StringFrame,
}

impl PolyFrame {
    pub fn notes(&self) -> impl Iterator<Item = &PolyNote> {
        self.notes.iter().flatten()
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Found {
    midi: i32,
    f0: f32,
    salience: f32,
    loudness: f32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Sounding {
    found: Found,
    /// Frames since last found.
    missed: u8,
}

/// Seconds from a note's onset to the sample at which the frame that first reports it is
/// ready. Measured at 16 kHz, hop 64: median 10 ms (6.5–17 ms) on synthetic 12-harmonic
/// plucks E2–E5 at two levels and onsets across a hop
/// (`hex_and_poly_report_a_note_about_their_onset_delay_after_it_starts` in
/// `plugin/core/tests/live.rs`), about 5 ms on sox's plucks E2–E4 (through `gddsp clone
/// --mode tone`); 8 ms lies between. (`gddsp-train pitch-eval`'s median 21 ms on the corpus
/// counts the first frame with the note's exact pitch in a chord, a stricter event.)
pub const ONSET_DELAY_S: f32 = 0.008;

pub struct PolyTracker {
    cfg: PolyConfig,
    hop: usize,
    sample_rate: f32,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    history: History,
    buf: Vec<f32>,
    spectrum: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
    mag: Vec<f32>,
    white: Vec<f32>,
    residual: Vec<f32>,
    band_gain: Vec<f32>,
    /// Per band: its first bin and the triangular weight of each of its bins (in
    /// `band_weights` from `band_at[b]` on), fixed by the band layout.
    band_bins: Vec<(usize, usize)>,
    band_weights: Vec<f32>,
    /// Per bin: the whitening gain is `band_gain[i] · (1 − t) + band_gain[i + 1] · t`.
    bin_gain: Vec<(usize, f32)>,
    /// Candidate f0s, Hz.
    grid: Vec<f32>,
    /// Per candidate and harmonic: bin range `[lo, hi]` and weight g (hi < lo: none).
    ranges: Vec<(u32, u32, f32)>,
    /// The same ranges as two lookups into `range_max`: the largest residual magnitude in
    /// `[lo, hi]` is `max(range_max[a], range_max[b])`.
    queries: Vec<(u32, u32)>,
    /// The salience sum's terms, candidate by candidate (only harmonics with a range):
    /// `(a, b, g)` of [`Self::queries`] and the weight; candidate `c`'s run from
    /// `term_start[c]` to `term_start[c + 1]`.
    terms: Vec<(u32, u32, f32)>,
    term_start: Vec<usize>,
    /// Bins any range reaches (`max hi + 1`): `range_max` is built over these only.
    used_bins: usize,
    /// Sparse table of the residual: level `l` holds, at bin `k`, the largest magnitude in
    /// `[k, k + 2^l)`. Rebuilt after each subtraction (a few thousand vectorised `max`es),
    /// it makes every range's peak two loads — scanning the ranges bin by bin was 70 % of
    /// the tracker's time. No crate offers a fixed-size, allocation-free range-max table.
    range_max: Vec<f32>,
    levels: usize,
    salience: Vec<f32>,
    /// Main-lobe shape, |W(Δk)| / |W(0)| for Δk = 0..lobe.len().
    lobe: Vec<f32>,
    weights: Vec<f32>,
    power_norm: f32,
    assigner: StringAssigner,
    previous: [Option<Found>; MAX_NOTES],
    sounding: [Option<Sounding>; MAX_NOTES],
    frame: PolyFrame,
}

impl PolyTracker {
    pub fn new(sample_rate: f32, hop: usize) -> Self {
        PolyTracker::with_config(sample_rate, hop, PolyConfig::default())
    }

    pub fn with_config(sample_rate: f32, hop: usize, cfg: PolyConfig) -> Self {
        let k = cfg.fft_len;
        let bins = k / 2 + 1;
        let bin_hz = sample_rate / k as f32;
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(k);
        let window = hann(cfg.window);

        // `(centre bin, lower edge, upper edge)` of each whitening band.
        let bands = (0..30)
            .map(|b| {
                let c = |b: i32| 229.0 * (10f32.powf((b + 1) as f32 / 21.4) - 1.0) / bin_hz;
                (c(b), c(b - 1).max(0.0), c(b + 1))
            })
            .filter(|(c, _, _)| *c < bins as f32)
            .collect::<Vec<_>>();

        let steps = ((HIGHEST_MIDI - LOWEST_MIDI) * STEPS_PER_SEMITONE) as usize + 1;
        let grid: Vec<f32> = (0..steps)
            .map(|i| midi_to_hz(LOWEST_MIDI + i as f32 / STEPS_PER_SEMITONE))
            .collect();
        let half_step = (0.5 / STEPS_PER_SEMITONE / 12.0).exp2();
        let top = (MAX_HZ.min(0.45 * sample_rate) / bin_hz) as u32;
        let mut ranges = Vec::with_capacity(grid.len() * cfg.harmonics);
        for &f in &grid {
            for m in 1..=cfg.harmonics {
                let mf = m as f32 * f;
                let lo = (mf / half_step / bin_hz).floor() as u32;
                let hi = ((mf * half_step / bin_hz).ceil() as u32).min(top);
                ranges.push((lo, hi, (f + ALPHA) / (mf + BETA)));
            }
        }
        let widest = ranges.iter().map(|&(lo, hi, _)| (hi + 1).saturating_sub(lo)).max().unwrap_or(1).max(1);
        let levels = widest.ilog2() as usize + 1;
        let queries: Vec<(u32, u32)> = ranges
            .iter()
            .map(|&(lo, hi, _)| {
                if hi < lo {
                    return (0, 0);
                }
                let l = (hi - lo + 1).ilog2();
                let level = l * bins as u32;
                (level + lo, level + hi + 1 - (1 << l))
            })
            .collect();

        let mut terms = Vec::new();
        let mut term_start = vec![0];
        for c in 0..grid.len() {
            let h = cfg.harmonics;
            for (&(lo, hi, g), &(a, b)) in ranges[c * h..(c + 1) * h].iter().zip(&queries[c * h..(c + 1) * h]) {
                if hi < lo {
                    break;
                }
                terms.push((a, b, g));
            }
            term_start.push(terms.len());
        }
        let used_bins = ranges.iter().filter(|&&(lo, hi, _)| hi >= lo).map(|&(_, hi, _)| hi as usize + 1).max().unwrap_or(1).min(bins);
        let (band_bins, band_weights, bin_gain) = whitening_tables(&bands, bins);

        // The window's transform near DC: the shape a partial leaves in the spectrum.
        let mut padded = vec![0.0; k];
        padded[..cfg.window].copy_from_slice(&window);
        let mut w_spec = vec![Complex32::default(); bins];
        let _ = fft.process(&mut padded, &mut w_spec);
        let peak = w_spec[0].norm().max(1e-12);
        let mut lobe: Vec<f32> = w_spec.iter().map(|c| c.norm() / peak).collect();
        let first_null = lobe
            .windows(2)
            .position(|w| w[1] > w[0])
            .unwrap_or(lobe.len() - 1);
        lobe.truncate(first_null + 1);

        let weights = (0..bins)
            .map(|b| 2.0 * a_weighting_power(b as f32 * bin_hz))
            .collect();
        let mean_w2 = window.iter().map(|w| w * w).sum::<f32>() / cfg.window as f32;
        PolyTracker {
            hop,
            sample_rate,
            history: History::new(cfg.window, hop),
            buf: vec![0.0; k],
            spectrum: vec![Complex32::default(); bins],
            fft_scratch: vec![Complex32::default(); fft.get_scratch_len()],
            mag: vec![0.0; bins],
            white: vec![0.0; bins],
            residual: vec![0.0; bins],
            band_gain: vec![0.0; bands.len()],
            band_bins,
            band_weights,
            bin_gain,
            terms,
            term_start,
            used_bins,
            salience: vec![0.0; grid.len()],
            queries,
            range_max: vec![0.0; levels * bins],
            levels,
            grid,
            ranges,
            lobe,
            weights,
            power_norm: 1.0 / (k as f32 * cfg.window as f32 * mean_w2),
            window,
            fft,
            cfg,
            assigner: StringAssigner::default(),
            previous: [None; MAX_NOTES],
            sounding: [None; MAX_NOTES],
            frame: PolyFrame {
                notes: [None; MAX_NOTES],
                strings: StringFrame::SILENT,
            },
        }
    }

    /// Added latency in samples: half the window plus the one-frame confirmation.
    pub fn latency_samples(&self) -> usize {
        self.cfg.window / 2 + self.hop
    }

    /// Samples from a note's onset to the end of the frame that first reports it
    /// ([`ONSET_DELAY_S`]): shorter than [`Self::latency_samples`], since a note is
    /// reported once its partials stand out of a window that still mostly holds the time
    /// before it. Tone clone times its frames by this.
    pub fn onset_delay_samples(&self) -> usize {
        (ONSET_DELAY_S * self.sample_rate).round() as usize
    }

    /// Feeds mono samples; calls `on_frame` for every frame completed. Allocation-free.
    pub fn process(&mut self, mut input: &[f32], mut on_frame: impl FnMut(&PolyFrame)) {
        while !input.is_empty() {
            let (took, complete) = self.history.push(input);
            input = &input[took..];
            if complete {
                self.analyse();
                on_frame(&self.frame);
            }
        }
    }

    pub fn reset(&mut self) {
        self.history.clear();
        self.assigner.reset();
        self.previous = [None; MAX_NOTES];
        self.sounding = [None; MAX_NOTES];
        self.frame = PolyFrame {
            notes: [None; MAX_NOTES],
            strings: StringFrame::SILENT,
        };
    }

    /// Every frame of a mono recording (offline use).
    pub fn track(&mut self, signal: &[f32], hop: usize) -> Vec<PolyFrame> {
        let padded = super::pad_to_hops(signal, hop);
        let mut out = Vec::new();
        self.process(&padded, |f| out.push(*f));
        out
    }

    fn analyse(&mut self) {
        let mut found = [None; MAX_NOTES];
        if self.spectrum_of_history() >= self.cfg.gate_db {
            self.whiten();
            self.residual.copy_from_slice(&self.white);
            self.find_notes(&mut found);
        }
        self.update_sounding(&found);
        self.previous = found;
        self.publish();
    }

    /// Magnitudes of the windowed history; returns the frame's A-weighted loudness, dB.
    fn spectrum_of_history(&mut self) -> f32 {
        let w = self.cfg.window;
        self.buf.fill(0.0);
        for ((b, x), h) in self.buf[..w]
            .iter_mut()
            .zip(self.history.samples())
            .zip(&self.window)
        {
            *b = x * h;
        }
        let _ =
            self.fft
                .process_with_scratch(&mut self.buf, &mut self.spectrum, &mut self.fft_scratch);
        let mut power = 0.0;
        for ((m, c), wt) in self.mag.iter_mut().zip(&self.spectrum).zip(&self.weights) {
            let p = c.norm_sqr();
            *m = p.sqrt();
            power += p * wt;
        }
        10.0 * (power * self.power_norm).max(1e-10).log10()
    }

    fn whiten(&mut self) {
        let mut at = 0;
        for (g, &(first, len)) in self.band_gain.iter_mut().zip(&self.band_bins) {
            let mut sum = 0.0f32;
            for (w, m) in self.band_weights[at..at + len].iter().zip(&self.mag[first..first + len]) {
                sum += w * m * m;
            }
            at += len;
            let sigma = (sum / (len as f32).max(1.0)).sqrt().max(1e-9);
            *g = sigma.powf(0.33 - 1.0);
        }
        let g = &self.band_gain;
        for ((y, x), &(i, t)) in self.white.iter_mut().zip(&self.mag).zip(&self.bin_gain) {
            *y = (g[i] * (1.0 - t) + g[i + 1] * t) * x;
        }
    }

    /// Rebuilds `range_max` from the residual (over the bins any range reaches).
    fn build_range_max(&mut self) {
        sparse_max_table(&self.residual[..self.used_bins], &mut self.range_max, self.residual.len(), self.levels);
    }

    /// The largest residual magnitude in range `i` (candidate × harmonic).
    #[inline]
    fn peak(&self, i: usize) -> f32 {
        let (a, b) = self.queries[i];
        let (a, b) = (self.range_max[a as usize], self.range_max[b as usize]);
        if a > b {
            a
        } else {
            b
        }
    }

    /// Salience of every candidate from the current residual.
    fn update_salience(&mut self) {
        self.build_range_max();
        saliences(&self.range_max, &self.terms, &self.term_start, &mut self.salience);
    }

    fn find_notes(&mut self, found: &mut [Option<Found>; MAX_NOTES]) {
        let mut total = 0.0;
        let mut best_score = 0.0;
        let mut first = 0.0;
        for j in 0..MAX_NOTES {
            self.update_salience();
            let Some((c, s)) = self
                .salience
                .iter()
                .copied()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
            else {
                return;
            };
            if j == 0 {
                first = s;
            }
            let score = (total + s) / ((j + 1) as f32).powf(self.cfg.gamma);
            if s <= 0.0 || score <= best_score || s < self.cfg.floor * first {
                return;
            }
            total += s;
            best_score = score;
            let (f0, on_peaks) = self.refine(c);
            let odd = self.odd_share(c);
            let loudness = self.subtract(c);
            let midi = hz_to_midi(f0).round() as i32;
            // The same note twice (a leftover of the first) is not a second note; nor is a
            // sub-octave ghost: an octave below a note already found, it collects that
            // note's partials as its even ones, and has next to nothing of its own.
            if found.iter().flatten().any(|f| f.midi == midi || (f.midi == midi + 12 && odd < self.cfg.odd_share)) {
                continue;
            }
            // Nor is a neighbour ghost: a semitone or two from a note already found, its
            // first partials sit on the flanks of that note's peaks (the part spectral
            // subtraction leaves of a partial with no neighbours, e.g. a sine's).
            if on_peaks < 0.5 && found.iter().flatten().any(|f| (f.midi - midi).abs() <= 2) {
                continue;
            }
            found[j] = Some(Found {
                midi,
                f0,
                salience: s,
                loudness,
            });
        }
    }

    /// The share of candidate `c`'s salience carried by its odd partials (1st, 3rd, …).
    fn odd_share(&self, c: usize) -> f32 {
        let h = self.cfg.harmonics;
        let (mut odd, mut all) = (0.0, 0.0);
        for (m, &(lo, hi, g)) in self.ranges[c * h..(c + 1) * h].iter().enumerate() {
            if hi < lo {
                break;
            }
            let p = self.peak(c * h + m);
            all += g * p;
            if m % 2 == 0 {
                odd += g * p;
            }
        }
        if all > 0.0 {
            odd / all
        } else {
            0.0
        }
    }

    /// f0 of candidate `c` from the peaks of its first four partials in the magnitude
    /// spectrum (parabolic interpolation of log magnitude), weighted by magnitude; and the
    /// share of that weight on peaks that are local maxima of the spectrum, not flanks.
    fn refine(&self, c: usize) -> (f32, f32) {
        let h = self.cfg.harmonics;
        let bin_hz = self.sample_rate / self.cfg.fft_len as f32;
        let (mut sum, mut weight, mut on_peaks) = (0.0, 0.0, 0.0);
        for (m, &(lo, hi, _)) in self.ranges[c * h..c * h + 4.min(h)].iter().enumerate() {
            if hi < lo || lo == 0 {
                continue;
            }
            let (lo, hi) = (lo as usize, hi as usize);
            let k = (lo..=hi)
                .max_by(|&a, &b| self.residual[a].total_cmp(&self.residual[b]))
                .unwrap_or(lo);
            if k == 0 || k + 1 >= self.mag.len() {
                continue;
            }
            let ln = |i: usize| self.mag[i].max(1e-12).ln();
            let (l, m0, r) = (ln(k - 1), ln(k), ln(k + 1));
            let curve = l - 2.0 * m0 + r;
            let shift = if curve < 0.0 {
                (0.5 * (l - r) / curve).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let f = (k as f32 + shift) * bin_hz / (m + 1) as f32;
            let a = self.mag[k];
            sum += a * f;
            weight += a;
            if a >= self.mag[k - 1] && a >= self.mag[k + 1] {
                on_peaks += a;
            }
        }
        if weight > 0.0 {
            (sum / weight, on_peaks / weight)
        } else {
            (self.grid[c], 0.0)
        }
    }

    /// Removes candidate `c`'s partials from the residual; returns its loudness, dB.
    fn subtract(&mut self, c: usize) -> f32 {
        let h = self.cfg.harmonics;
        let mut peaks = [(0usize, 0.0f32); 64];
        let count = h.min(peaks.len());
        for (m, &(lo, hi, _)) in self.ranges[c * h..c * h + count].iter().enumerate() {
            if hi < lo {
                break;
            }
            let (lo, hi) = (lo as usize, hi as usize);
            let k = (lo..=hi)
                .max_by(|&a, &b| self.residual[a].total_cmp(&self.residual[b]))
                .unwrap_or(lo);
            peaks[m] = (k, self.residual[k]);
        }
        let lobe = self.lobe.len();
        let mut power = 0.0;
        for m in 0..count {
            let (k, a) = peaks[m];
            if a <= 0.0 {
                continue;
            }
            let prev = if m > 0 { peaks[m - 1].1 } else { a };
            let next = if m + 1 < count { peaks[m + 1].1 } else { a };
            let remove = self.cfg.subtract * a.min((prev + a + next) / 3.0);
            let share = remove / a;
            let lo = k.saturating_sub(lobe - 1);
            let hi = (k + lobe - 1).min(self.residual.len() - 1);
            for i in lo..=hi {
                let shape = self.lobe[i.abs_diff(k)];
                self.residual[i] = (self.residual[i] - remove * shape).max(0.0);
                // The note's own power: its share of the raw magnitude under the lobe.
                let x = self.mag[i] * share * shape;
                power += x * x * self.weights[i];
            }
        }
        (10.0 * (power * self.power_norm).max(1e-10).log10()).max(FLOOR_DB)
    }

    /// Confirms new notes (found in this frame and the last), keeps sounding ones
    /// through `hold` missed frames.
    fn update_sounding(&mut self, found: &[Option<Found>; MAX_NOTES]) {
        for slot in self.sounding.iter_mut() {
            if let Some(s) = slot {
                match found.iter().flatten().find(|f| f.midi == s.found.midi) {
                    Some(f) => {
                        *s = Sounding {
                            found: *f,
                            missed: 0,
                        }
                    }
                    None if s.missed < self.cfg.hold => s.missed += 1,
                    None => *slot = None,
                }
            }
        }
        for f in found.iter().flatten() {
            let sounding = self
                .sounding
                .iter()
                .flatten()
                .any(|s| s.found.midi == f.midi);
            let confirmed = self.previous.iter().flatten().any(|p| p.midi == f.midi);
            if !sounding && confirmed {
                if let Some(free) = self.sounding.iter_mut().find(|s| s.is_none()) {
                    *free = Some(Sounding {
                        found: *f,
                        missed: 0,
                    });
                }
            }
        }
    }

    fn publish(&mut self) {
        let mut f0 = [0.0; MAX_NOTES];
        let mut which = [0usize; MAX_NOTES];
        let mut n = 0;
        let strongest = self
            .sounding
            .iter()
            .flatten()
            .map(|s| s.found.salience)
            .fold(0.0f32, f32::max);
        for (i, s) in self.sounding.iter().enumerate() {
            if let Some(s) = s {
                f0[n] = s.found.f0;
                which[n] = i;
                n += 1;
            }
        }
        let mut strings = [None; MAX_NOTES];
        self.assigner.assign(&f0[..n], &mut strings[..n]);
        let last_f0 = self.frame.strings.f0_hz;
        let mut frame = PolyFrame {
            notes: [None; MAX_NOTES],
            strings: StringFrame::SILENT,
        };
        frame.strings.f0_hz = last_f0;
        for i in 0..n {
            let (Some(string), Some(s)) = (strings[i], self.sounding[which[i]]) else {
                continue;
            };
            let confidence = if strongest > 0.0 {
                (s.found.salience / strongest).min(1.0)
            } else {
                0.0
            };
            frame.notes[i] = Some(PolyNote {
                string,
                midi: s.found.midi.clamp(0, 127) as u8,
                f0_hz: s.found.f0,
                confidence,
                loudness_db: s.found.loudness,
            });
            frame.strings.f0_hz[string] = s.found.f0;
            // A confirmed note is voiced, however it ranks in the frame.
            frame.strings.confidence[string] = 1.0;
            frame.strings.loudness_db[string] = s.found.loudness;
        }
        self.frame = frame;
    }
}

/// The whitening's fixed tables: per band its bins and their triangular weights, per bin
/// the two bands whose gains it interpolates (linear between band centres, flat beyond the
/// first and last centre).
#[allow(clippy::type_complexity)]
fn whitening_tables(bands: &[(f32, f32, f32)], bins: usize) -> (Vec<(usize, usize)>, Vec<f32>, Vec<(usize, f32)>) {
    let mut band_bins = Vec::with_capacity(bands.len());
    let mut weights = Vec::new();
    for &(_, lo, hi) in bands {
        // The triangle peaks midway between the edges (on the log-spaced scale that is
        // a little off the centre frequency; kept as the F-measure was measured with it).
        let c = 0.5 * (lo + hi);
        let (first, last) = (lo.ceil() as usize, (hi.floor() as usize).min(bins - 1));
        for k in first..=last {
            let kf = k as f32;
            let h = if kf <= c { (kf - lo) / (c - lo).max(1e-6) } else { (hi - kf) / (hi - c).max(1e-6) };
            weights.push(h.max(0.0));
        }
        band_bins.push((first, (last + 1).saturating_sub(first)));
    }
    let n = bands.len();
    let mut b = 0;
    let bin_gain = (0..bins)
        .map(|k| {
            let kf = k as f32;
            while b + 1 < n && bands[b + 1].0 <= kf {
                b += 1;
            }
            if kf <= bands[0].0 {
                (0, 0.0)
            } else if b + 1 >= n {
                (n - 2, 1.0)
            } else {
                let (c0, c1) = (bands[b].0, bands[b + 1].0);
                (b, (kf - c0) / (c1 - c0))
            }
        })
        .collect();
    (band_bins, weights, bin_gain)
}

/// Fills `table` (rows of `stride`) so that row `l` holds, at bin `k`, the largest value
/// of `x` in `[k, k + 2^l)` (cut at the end of `x`). Compiled for AVX2 and NEON too: with
/// the salience sums below it is most of the tracker's time.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn sparse_max_table(x: &[f32], table: &mut [f32], stride: usize, levels: usize) {
    let bins = x.len();
    table[..bins].copy_from_slice(x);
    for l in 1..levels {
        let half = 1 << (l - 1);
        let (below, this) = table.split_at_mut(l * stride);
        let below = &below[(l - 1) * stride..(l - 1) * stride + bins];
        let this = &mut this[..bins];
        let n = bins.saturating_sub(half);
        // Plain comparisons (the residual is finite and ≥ 0): `f32::max`'s NaN
        // handling keeps the loop from vectorising.
        for ((t, &a), &b) in this[..n].iter_mut().zip(&below[..n]).zip(&below[half..]) {
            *t = if a > b { a } else { b };
        }
        this[n..].copy_from_slice(&below[n..]);
    }
}

/// Every candidate's salience `Σ g · max(table[a], table[b])` over its terms.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn saliences(table: &[f32], terms: &[(u32, u32, f32)], term_start: &[usize], out: &mut [f32]) {
    for (c, o) in out.iter_mut().enumerate() {
        let mut s = 0.0;
        for &(a, b, g) in &terms[term_start[c]..term_start[c + 1]] {
            let (x, y) = (table[a as usize], table[b as usize]);
            s += g * if x > y { x } else { y };
        }
        *o = s;
    }
}
