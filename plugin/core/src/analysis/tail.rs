//! Tail reads: the reverb's decay time, damping and mix read off the free decay after the
//! playing stops.
//!
//! When the player stops, the dry signal goes quiet within a frame or two and what is left
//! is the effects' tail. The reverb ([`crate::fx::reverb`]) is `y = x + m·(h ∗ x)` with
//! `h` noise under a per-band exponential envelope, so after the stop each band's level
//! falls on a straight line in dB, `60 / T_b` dB per second, `T_b = decay·q^{b/4}`,
//! `q = 1 − 0.9·damping`. Any reverb with a noise-like late tail does the same; this
//! is the classic RT60 read of room acoustics, applied where the clip lets the room ring.
//!
//! ```text
//! L_b[t]   = band b's level (dB) in 20 ms Hann frames every 10 ms; bands < 1, 1–2, 2–4, 4–8 kHz
//! stop     = the frame of the largest 30 ms fall of L_0 after which L_0 never again
//!            rises 3 dB above its level just after it (the last note has ended)
//! T_b      = −60 / slope of the line fitted to L_b from the stop to where L_b leaves
//!            the 80 dB below its top (seconds)
//! q        = exp( Σ_b (b/4)·ln(T_b/T_0) / Σ_b (b/4)² )      over the bands with a fit
//! r_b      = the line's level at the stop over the playing's level before it, each
//!            frame weighted by the tail's own decay e^{−k·age} (what the reverb holds)
//! m_b      = sqrt( r_b / (ρ_b·(1 − r_b)) ),   ρ_b = q^{b/4} / Σ_j w_j·q^{j/4}
//!            (band b's share of h's unit energy over its share of the spectrum, w_j)
//! ```
//!
//! Reads ([`TAIL_LEN`] values): ln T_0 (the decay, ln s), the damping `(1 − q)/0.9`, the
//! mix (mean of m_b over bands 0–2 with a fit), and three reliabilities for a learned gate:
//! the seconds of free decay the band-0 line was fitted on, the fall at the stop (dB/10),
//! and the line's RMS residual (dB/10). A clip whose playing never stops reads zeros.
//!
//! **A delay breaks the read**: its echoes keep the playing going after the stop, in
//! steps `D` apart, and the line follows the steps. Measured with a scratch probe on the
//! generated corpus (normalized knob scale, clips with a reverb mix ≥ 0.2):
//!
//! | | decay | damping | mix (all clips) |
//! |---|---|---|---|
//! | 160 re-renders of valid clips, no delay (68 / 80) | 0.074 (mean baseline 0.262) | 0.251 (0.255) | 0.220 (0.231) |
//! | the same with a delay (29 / 80) | 0.390 (0.275) | 0.331 | 0.343 |
//! | 20 test clips, the delay removed with its true settings | 0.021 (0.166; the trained encoder 0.117) | 0.255 (0.343) | 0.145 over 48 (0.262) |
//!
//! Removing the delay blindly does not rescue it: with the comb reads' estimates
//! ([`super::comb`]: D within 0.01–0.2 samples, feedback and mix within a few
//! hundredths) the inverse comb leaves the playing's echoes about 30 dB down, where they
//! flatten the tail's line (decay 0.40 off on those test clips); moving D to where the
//! inverse leaves least energy, or inverting the comb on the level tracks instead of the
//! waveform, did no better. So a model should trust this read where the comb reads see
//! no delay, which is what a learned gate over both is for.
//!
//! Empty, silent or too-short input gives zeros, never NaN.

use realfft::RealFftPlanner;

/// Values in the tail reads: ln decay, damping, mix, tail seconds, fall at the stop,
/// fit residual.
pub const TAIL_LEN: usize = 6;
/// Where ln T_0 (the decay read, ln s) sits in the tail reads.
pub const DECAY_READ: usize = 0;
/// Where the damping read sits in the tail reads.
pub const DAMPING_READ: usize = 1;
/// Where the mix read sits in the tail reads.
pub const MIX_READ: usize = 2;

/// Upper band edges, Hz (the reverb's damping split, [`crate::fx::reverb::BAND_EDGES_HZ`],
/// up to 8 kHz).
const BAND_TOPS_HZ: [f32; 4] = [1000.0, 2000.0, 4000.0, 8000.0];
const WINDOW: usize = 320;
const FFT: usize = 512;
/// Frame hop, seconds.
const HOP_S: f32 = 0.01;
/// How far below a band's loudest frame its tail is followed, dB.
const TAIL_RANGE_DB: f32 = 80.0;
/// Frames quieter than this are silence, dB.
const SILENCE_DB: f32 = -100.0;
/// A later frame this much above the level just after a candidate stop is a new note, dB.
const RISE_DB: f32 = 3.0;
/// Longest tail followed, seconds (the decay knob's top).
const MAX_TAIL_S: f32 = 5.0;
/// Fewest frames a line is fitted on.
const MIN_FRAMES: usize = 3;

/// The tail reads of `signal` (mono, `sample_rate`).
pub fn tail_reads(signal: &[f32], sample_rate: f32) -> [f32; TAIL_LEN] {
    let levels = band_levels(signal, sample_rate);
    let Some(fit) = fit_tail(&levels) else { return [0.0; TAIL_LEN] };
    let t0 = fit.t60[0].expect("band 0 has a line whenever fit_tail returns one");
    let q = damping_ratio(&fit.t60);
    let shares: Vec<f32> = band_shares(sample_rate);
    let spread: f32 = shares.iter().enumerate().map(|(j, w)| w * q.powf(j as f32 / 4.0)).sum();
    let mixes: Vec<f32> = (0..3)
        .filter(|&b| fit.t60.get(b).copied().flatten().is_some_and(|t| t > 0.05 && t < 20.0))
        .map(|b| {
            let rho = q.powf(b as f32 / 4.0) / spread;
            let r = 10f32.powf(fit.ratio_db[b] / 10.0).min(0.99);
            (r / (rho * (1.0 - r))).sqrt()
        })
        .collect();
    let mix = if mixes.is_empty() { 0.0 } else { mixes.iter().sum::<f32>() / mixes.len() as f32 };
    let reads = [t0.ln(), ((1.0 - q) / 0.9).clamp(0.0, 1.0), mix.min(1.5), fit.seconds, fit.fall_db / 10.0, fit.residual_db / 10.0];
    if reads.iter().all(|v| v.is_finite()) {
        reads
    } else {
        [0.0; TAIL_LEN]
    }
}

/// Each band's share of the spectrum up to Nyquist.
fn band_shares(sample_rate: f32) -> Vec<f32> {
    let nyquist = sample_rate / 2.0;
    let mut lo = 0.0;
    BAND_TOPS_HZ
        .iter()
        .map(|&top| {
            let share = (top.min(nyquist) - lo).max(0.0) / nyquist;
            lo = top.min(nyquist);
            share
        })
        .collect()
}

/// Level (dB) of each band in Hann frames of [`WINDOW`] samples every [`HOP_S`]:
/// `[band][frame]`. (realfft per frame; the bands are sums of bins.)
fn band_levels(x: &[f32], sample_rate: f32) -> Vec<Vec<f32>> {
    let hop = (HOP_S * sample_rate).round().max(1.0) as usize;
    let frames = x.len() / hop;
    let mut out = vec![vec![0f32; frames]; BAND_TOPS_HZ.len()];
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT);
    let window = super::hann(WINDOW);
    let mut buf = vec![0f32; FFT];
    let mut spectrum = fft.make_output_vec();
    let hz = sample_rate / FFT as f32;
    for t in 0..frames {
        buf.fill(0.0);
        super::centered_frame(x, t * hop + hop / 2, &mut buf[..WINDOW]);
        buf[..WINDOW].iter_mut().zip(&window).for_each(|(v, w)| *v *= w);
        fft.process(&mut buf, &mut spectrum).expect("sizes from the planner");
        let mut lo = 0.0;
        for (b, &top) in BAND_TOPS_HZ.iter().enumerate() {
            let e: f32 = spectrum.iter().enumerate().filter(|(k, _)| (lo..top).contains(&(*k as f32 * hz))).map(|(_, c)| c.norm_sqr()).sum();
            out[b][t] = 10.0 * (e / FFT as f32 + 1e-12).log10();
            lo = top;
        }
    }
    out
}

struct TailFit {
    /// RT60 of each band's line, s; `None` where the band has too few frames.
    t60: Vec<Option<f32>>,
    /// Each band's line at the stop over the playing before it, dB.
    ratio_db: Vec<f32>,
    seconds: f32,
    fall_db: f32,
    residual_db: f32,
}

fn fit_tail(levels: &[Vec<f32>]) -> Option<TailFit> {
    let l0 = &levels[0];
    let n = l0.len();
    let last_loud = |l: &[f32]| {
        let top = l.iter().fold(f32::MIN, |a, &b| a.max(b));
        (0..n).rev().find(|&i| l[i] > (top - TAIL_RANGE_DB).max(SILENCE_DB))
    };
    let end0 = last_loud(l0)?;
    let lo = end0.saturating_sub((MAX_TAIL_S / HOP_S) as usize).max(n / 3).max(3);
    let hi = end0.saturating_sub(MIN_FRAMES);
    if hi <= lo || hi + 4 > n {
        return None;
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let fall = |t: usize| mean(&l0[t - 3..t]) - mean(&l0[t + 1..t + 4]);
    let mut later_max = vec![f32::MIN; n + 1];
    for i in (0..n).rev() {
        later_max[i] = later_max[i + 1].max(l0[i]);
    }
    let stop = (lo..hi).filter(|&t| later_max[t + 1] <= l0[t + 1] + RISE_DB).max_by(|&a, &b| fall(a).total_cmp(&fall(b)))?;
    let mut fit = TailFit { t60: vec![], ratio_db: vec![], seconds: 0.0, fall_db: fall(stop).max(0.0), residual_db: 0.0 };
    for (b, l) in levels.iter().enumerate() {
        let start = stop + 2;
        let end = last_loud(l).unwrap_or(0).min(n - 1);
        if end < start + MIN_FRAMES - 1 {
            fit.t60.push(None);
            fit.ratio_db.push(0.0);
            if b == 0 {
                return None;
            }
            continue;
        }
        let (slope, at_stop, residual) = line(&l[start..=end], (start - stop) as f32 * HOP_S);
        let slope = slope.min(-1.0);
        let t60 = (-60.0 / slope).clamp(0.05, 20.0);
        // The playing before the stop, weighted as the reverb weighs it: e^{−k·age}.
        let k = 6.0 * 10f32.ln() / t60 * HOP_S;
        let (mut weights, mut power) = (0f32, 0f32);
        for age in 2..stop {
            let w = (-k * age as f32).exp();
            if w < 1e-3 {
                break;
            }
            weights += w;
            power += w * 10f32.powf(l[stop - age] / 10.0);
        }
        let before = 10.0 * (power / weights.max(1e-9)).max(1e-12).log10();
        fit.t60.push(Some(t60));
        fit.ratio_db.push(at_stop - before);
        if b == 0 {
            fit.seconds = (end - start + 1) as f32 * HOP_S;
            fit.residual_db = residual;
        }
    }
    Some(fit)
}

/// Least-squares line through `l` (one value per frame, the first `t0` seconds after the
/// stop): (slope dB/s, value at the stop, RMS residual dB).
fn line(l: &[f32], t0: f32) -> (f32, f32, f32) {
    let k = l.len() as f32;
    let t = |i: usize| t0 + i as f32 * HOP_S;
    let mt = (0..l.len()).map(t).sum::<f32>() / k;
    let ml = l.iter().sum::<f32>() / k;
    let sxy: f32 = l.iter().enumerate().map(|(i, v)| (t(i) - mt) * (v - ml)).sum();
    let sxx: f32 = (0..l.len()).map(|i| (t(i) - mt).powi(2)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let at_stop = ml - slope * mt;
    let residual = (l.iter().enumerate().map(|(i, v)| (v - (at_stop + slope * t(i))).powi(2)).sum::<f32>() / k).sqrt();
    (slope, at_stop, residual)
}

/// `q = 1 − 0.9·damping` from the bands' decay times, `T_b = T_0·q^{b/4}`, by least
/// squares on ln(T_b/T_0) over the bands with a line; 1 (no damping) with fewer than two.
fn damping_ratio(t60: &[Option<f32>]) -> f32 {
    let Some(Some(t0)) = t60.first().copied() else { return 1.0 };
    let (mut num, mut den) = (0f32, 0f32);
    for (b, t) in t60.iter().enumerate().skip(1) {
        if let Some(t) = t {
            if *t > 0.05 && *t < 20.0 {
                let x = b as f32 / 4.0;
                num += x * (t / t0).ln();
                den += x * x;
            }
        }
    }
    if den > 0.0 {
        (num / den).exp().clamp(0.1, 1.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fx::FxChain;
    use crate::knobs::{Knob, Knobs};
    use crate::rng::UniformNoise;

    const SR: f32 = 16_000.0;

    /// 6 s of plucks (noise under a 3 s decay, a new one every 0.5 s, each held until
    /// the next), then 2 s of silence, through the reverb alone.
    fn played_then_stopped(decay_s: f32, damping: f32, mix: f32) -> Vec<f32> {
        let mut rng = UniformNoise::new(11);
        let pluck = (0.5 * SR) as usize;
        let stop = (6.0 * SR) as usize;
        let mut x: Vec<f32> = (0..(8.0 * SR) as usize)
            .map(|n| if n < stop { 0.5 * 10f32.powf(-3.0 * (n % pluck) as f32 / (3.0 * SR)) * rng.next_sample() } else { 0.0 })
            .collect();
        let knobs = Knobs::default().with(Knob::ReverbDecayS, decay_s).with(Knob::ReverbDamping, damping).with(Knob::ReverbMix, mix);
        let mut channels = vec![std::mem::take(&mut x)];
        FxChain::render_offline(SR, &knobs, &mut channels);
        channels.pop().expect("one channel")
    }

    #[test]
    fn the_tail_gives_the_reverbs_decay_damping_and_mix() {
        // The mix read is the weak one: under a long, loud tail (2.5 s, 0.8) the stop is a
        // 3 dB fall among frames that wander ±2 dB, found 0.12 s late, and the mix reads
        // 0.40 (measured).
        for (decay, damping, mix, mix_tolerance) in [(0.3f32, 0.0f32, 0.5f32, 0.15f32), (1.0, 0.5, 0.3, 0.15), (2.5, 0.9, 0.8, 0.45), (0.8, 0.2, 1.0, 0.15)] {
            let r = tail_reads(&played_then_stopped(decay, damping, mix), SR);
            let t0 = r[DECAY_READ].exp();
            assert!((t0 / decay - 1.0).abs() < 0.10, "decay {decay}: read {t0}");
            assert!((r[DAMPING_READ] - damping).abs() < 0.1, "damping {damping}: read {}", r[DAMPING_READ]);
            assert!((r[MIX_READ] - mix).abs() < mix_tolerance, "mix {mix}: read {}", r[MIX_READ]);
            assert!(r[3] > 0.3 * decay, "fitted on {} s of tail", r[3]);
        }
    }

    #[test]
    fn silence_and_endless_playing_read_zeros() {
        assert_eq!(tail_reads(&[], SR), [0.0; TAIL_LEN]);
        assert_eq!(tail_reads(&vec![0.0; 64_000], SR), [0.0; TAIL_LEN]);
        let mut rng = UniformNoise::new(3);
        let endless: Vec<f32> = (0..64_000).map(|_| 0.3 * rng.next_sample()).collect();
        let r = tail_reads(&endless, SR);
        assert!(r.iter().all(|v| v.is_finite()), "{r:?}");
        let nan = vec![f32::NAN; 16_000];
        assert!(tail_reads(&nan, SR).iter().all(|v| v.is_finite()));
    }
}
