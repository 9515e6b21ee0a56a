//! Room reads: the reverb's mix and decay read off what the clip's segments share in
//! their cepstra.
//!
//! The reverb ([`crate::fx::reverb`]) is a fixed linear filter, `y = x + m·(h ∗ x)` with
//! a unit-energy `h`. Over a segment much longer than `h` the segment's log spectrum is
//! the playing's plus `ln|1 + m·H|²`, so its real cepstrum is the playing's plus the
//! room's, `≈ m·h[n]` at quefrency `n` to first order. The playing's part changes from
//! segment to segment; the room's does not. So the product of two segments' cepstra,
//! averaged over the pairs of segments that do not overlap, keeps the room's energy
//! `m²·h[n]²` and averages the playing's away. One cepstrum's own energy cannot: there
//! the guitar's cepstrum, as loud as the room's, adds its energy to it (a ridge fit on
//! that read the mix 0.225 off against the mean's 0.194, 2026-12-07). A delay is a fixed
//! filter too; its comb sits at the multiples of `D`, which are left out.
//!
//! ```text
//! c_k[n]  = real cepstrum of segment k: SEGMENT samples, Hann, every SEGMENT/2, zero-padded
//!           to twice that; the segments within 20 dB of the loudest
//! X_w     = c_k[n]·c_l[n] averaged over the pairs k < l that do not overlap and over the
//!           quefrencies n of window w (the multiples of D ± 4 samples left out);
//!           windows 20–40, 40–80, 80–160, 160–320, 320–512 ms
//! E_w     = m²·(e^{−α·lo_w} − e^{−α·hi_w}) / |w|,  α = 6·ln 10 / T   (h's energy in w per
//!           quefrency, for an RT60 of T)
//! m̂, T̂   = argmin over m ∈ [0, 1], T ∈ [0.1, 5] s of Σ_w (ln max(X_w, F_w/2) − ln(E_w + F_w))²
//! reads   = ln(max(X_w, F_w/2) / F_w) for the five windows, m̂, ln T̂ (ln s), ln(1 + pairs)
//! ```
//!
//! `F_w` is what the playing leaves in window `w`: the median `X_w` of reverb-free
//! renders of the generated corpus's validation clips (random knobs, the reverb off).
//!
//! Measured with a scratch probe before it was built (2026-12-07, 768 renders of the
//! validation and test clips' clean mixes, random knobs, half without a delay, the
//! reverb's noise seeded at random): with the reverb off the 40–80 ms window reads 2e-5
//! (median), with it on 6e-5; where the reverb is on, `X_w` over `m²·E_w`'s prediction
//! has a median of 1.01 at 40–80 ms (0.82, 0.62 further out, where the segments cut the
//! response) and its correlation with it is 0.68–0.82 in the windows from 40 ms, with a
//! delay or without. Added to the shipped model's reads in a ridge fit on the validation
//! clips, the test clips' reverb mix went from 0.127 to 0.117 (corpus's reverb) and from
//! 0.221 to 0.166 (other reverbs, fitted on them). Its own reads are rough (m̂ 0.18–0.19
//! off, T̂ best for 0.3–1 s reverbs); a gate chooses where to trust them.
//!
//! Too-short, silent or empty input gives zeros (and `pairs` 0), never NaN.

use super::echo::segment_cepstra;

/// Segment length, samples (at 16 kHz, 1.02 s: a few times most reverbs' RT60).
const SEGMENT: usize = 16_384;
/// Segments quieter than this share of the loudest one's energy are left out.
const SEGMENT_FLOOR: f64 = 1e-2;
/// Most segments read, evenly spread over a longer clip (33 s of them): the pairs grow
/// with the square of the count, and an hour's 7000 segments would take minutes.
const MOST_SEGMENTS: usize = 64;
/// Quefrency window edges, ms.
const WINDOW_EDGES_MS: [f32; WINDOWS + 1] = [20.0, 40.0, 80.0, 160.0, 320.0, 512.0];
const WINDOWS: usize = 5;
/// The playing's own `X_w` (see the module doc).
const FLOORS: [f32; WINDOWS] = [1.108e-4, 2.101e-5, 3.025e-6, 2.283e-7, 9.299e-9];
/// Samples either side of a multiple of the delay left out.
const DELAY_GUARD: f32 = 4.0;
/// The fit's grid: mixes, and RT60s log-spaced over the decay knob's range.
const MIX_STEPS: usize = 51;
const DECAY_STEPS: usize = 40;
const DECAY_RANGE_S: (f32, f32) = (0.1, 5.0);

/// Values in the room reads: five window energies, m̂, ln T̂, ln(1 + pairs).
pub const ROOM_LEN: usize = WINDOWS + 3;
/// Where m̂ sits in the room reads.
pub const MIX_READ: usize = WINDOWS;
/// Where ln T̂ sits in the room reads.
pub const DECAY_READ: usize = WINDOWS + 1;

/// The room reads of `signal` (mono, `sample_rate`; the windows are in ms, the segment in
/// samples as at 16 kHz); `d` is the echo's delay in samples, if the clip has one
/// ([`super::comb::echo_delay`]).
pub fn room_reads(signal: &[f32], sample_rate: f32, d: Option<f32>) -> [f32; ROOM_LEN] {
    let cepstra = segment_cepstra(signal, SEGMENT, SEGMENT_FLOOR, SEGMENT / 2, MOST_SEGMENTS);
    // The pairs of segments that do not overlap, (k, l) with k < l.
    let pairs: Vec<(usize, usize)> = (0..cepstra.len()).flat_map(|k| (k + 1..cepstra.len()).map(move |l| (k, l))).filter(|&(k, l)| cepstra[l].0 - cepstra[k].0 >= SEGMENT).collect();
    let pair_count = pairs.len();
    if pair_count == 0 {
        return [0.0; ROOM_LEN];
    }
    let d = d.filter(|d| d.is_finite() && *d >= 1.0);
    let off_the_comb = |n: usize| match d {
        Some(d) => {
            let k = (n as f32 / d).round();
            k < 1.0 || (n as f32 - k * d).abs() >= DELAY_GUARD
        }
        None => true,
    };
    let mut x = [0f32; WINDOWS];
    for (w, x) in x.iter_mut().enumerate() {
        let lo = (WINDOW_EDGES_MS[w] * sample_rate / 1000.0) as usize;
        let hi = ((WINDOW_EDGES_MS[w + 1] * sample_rate / 1000.0) as usize).min(SEGMENT / 2);
        let (mut sum, mut count) = (0f64, 0usize);
        for n in (lo..hi).filter(|&n| off_the_comb(n)) {
            for &(k, l) in &pairs {
                sum += cepstra[k].1[n] as f64 * cepstra[l].1[n] as f64;
            }
            count += 1;
        }
        *x = (sum / (count.max(1) * pair_count) as f64) as f32;
    }
    let logs: [f32; WINDOWS] = std::array::from_fn(|w| x[w].max(FLOORS[w] / 2.0).ln());
    let (mix, decay) = fit_room(&logs, sample_rate);
    let mut reads = [0f32; ROOM_LEN];
    for w in 0..WINDOWS {
        reads[w] = logs[w] - FLOORS[w].ln();
    }
    reads[MIX_READ] = mix;
    reads[DECAY_READ] = decay.ln();
    reads[WINDOWS + 2] = (pair_count as f32).ln_1p();
    if reads.iter().all(|v| v.is_finite()) {
        reads
    } else {
        [0.0; ROOM_LEN]
    }
}

/// `(m̂, T̂)`: the grid point whose window energies `E_w + F_w` lie nearest `logs` in ln.
fn fit_room(logs: &[f32; WINDOWS], sample_rate: f32) -> (f32, f32) {
    let (t_lo, t_hi) = DECAY_RANGE_S;
    let mut best = (f32::INFINITY, 0.0, 1.0);
    for ti in 0..DECAY_STEPS {
        let t = t_lo * (t_hi / t_lo).powf(ti as f32 / (DECAY_STEPS - 1) as f32);
        let alpha = 6.0 * std::f32::consts::LN_10 / t;
        let share: [f32; WINDOWS] = std::array::from_fn(|w| {
            let (lo, hi) = (WINDOW_EDGES_MS[w] / 1000.0, WINDOW_EDGES_MS[w + 1] / 1000.0);
            ((-alpha * lo).exp() - (-alpha * hi).exp()) / ((hi - lo) * sample_rate)
        });
        for mi in 0..MIX_STEPS {
            let m = mi as f32 / (MIX_STEPS - 1) as f32;
            let err: f32 = (0..WINDOWS).map(|w| (logs[w] - (m * m * share[w] + FLOORS[w]).ln()).powi(2)).sum();
            if err < best.0 {
                best = (err, m, t);
            }
        }
    }
    (best.1, best.2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fx::{Delay, DelayParams, Reverb, ReverbParams};

    const SR: f32 = 16_000.0;

    /// 8 s of plucked notes: decaying harmonic tones at random pitches and random times
    /// (0.1–0.5 s apart: a steady rhythm would repeat like an echo), a few ringing together.
    fn playing(seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::UniformNoise::new(seed);
        let mut x = vec![0f32; (8.0 * SR) as usize];
        let mut onset = 0usize;
        while onset < x.len() {
            let f0 = 82.0 * 2f32.powf(3.0 * (rng.next_sample() + 1.0) / 2.0);
            let decay = 0.3 + 0.5 * (rng.next_sample() + 1.0);
            for (i, v) in x[onset..].iter_mut().enumerate().take((2.0 * SR) as usize) {
                let t = i as f32 / SR;
                let env = (-t / decay).exp() * 0.1;
                for h in 1..12 {
                    if f0 * h as f32 > 7_000.0 {
                        break;
                    }
                    *v += env / h as f32 * (std::f32::consts::TAU * f0 * h as f32 * t).sin();
                }
            }
            onset += ((0.3 + 0.2 * rng.next_sample()) * SR) as usize;
        }
        x
    }

    fn reverb(x: &[f32], decay_s: f32, mix: f32, seed: u64) -> Vec<f32> {
        let mut y = x.to_vec();
        Reverb::new(SR, seed, ReverbParams { decay_s, damping: 0.3, mix }).process(&mut y);
        y
    }

    #[test]
    fn a_reverb_lifts_the_shared_cepstrum_and_reads_as_one() {
        let dry = playing(3);
        let none = room_reads(&dry, SR, None);
        let some = room_reads(&reverb(&dry, 0.6, 0.7, 11), SR, None);
        assert!(some[WINDOWS + 2] > 3.0, "an 8 s clip has dozens of pairs: {}", some[WINDOWS + 2]);
        for w in 1..3 {
            assert!(some[w] > none[w] + 1.0, "window {w}: {} with the reverb, {} without", some[w], none[w]);
        }
        // These synthetic notes are purer than a guitar's, so they leave more in the
        // windows than the corpus's floors; still the reverb reads well over them.
        assert!(none[MIX_READ] < 0.3, "dry reads a mix of {}", none[MIX_READ]);
        assert!(some[MIX_READ] > none[MIX_READ] + 0.25, "a 0.7 mix reads {} (dry {})", some[MIX_READ], none[MIX_READ]);
    }

    #[test]
    fn more_reverb_reads_more_mix_and_a_longer_one_a_longer_decay() {
        let dry = playing(5);
        let mix = |m: f32| room_reads(&reverb(&dry, 0.8, m, 7), SR, None)[MIX_READ];
        let (low, high) = (mix(0.3), mix(0.9));
        assert!(high > low + 0.2, "mix 0.3 reads {low}, 0.9 reads {high}");
        let decay = |t: f32| room_reads(&reverb(&dry, t, 0.8, 7), SR, None)[DECAY_READ].exp();
        let (short, long) = (decay(0.3), decay(1.5));
        assert!(long > 1.5 * short, "0.3 s reads {short} s, 1.5 s reads {long} s");
    }

    #[test]
    fn a_delay_alone_is_left_out_of_the_room() {
        let dry = playing(9);
        let mut y = dry.clone();
        let d_ms = 123.0;
        Delay::new(SR, DelayParams { time_ms: d_ms, feedback: 0.6, mix: 0.6 }).process(&mut y);
        let with = room_reads(&y, SR, Some(d_ms * SR / 1000.0));
        let none = room_reads(&dry, SR, None);
        assert!(with[MIX_READ] < none[MIX_READ] + 0.15, "a delay reads as a reverb mix of {} (dry {})", with[MIX_READ], none[MIX_READ]);
    }

    #[test]
    fn a_long_clip_reads_a_bounded_number_of_segments_and_the_same_room() {
        let dry: Vec<f32> = (0..8).flat_map(|seed| playing(20 + seed)).collect();
        let wet = reverb(&dry, 0.6, 0.7, 11);
        let long = room_reads(&wet, SR, None);
        let most_pairs = (MOST_SEGMENTS * (MOST_SEGMENTS - 1) / 2) as f32;
        assert!(long[WINDOWS + 2] <= most_pairs.ln_1p(), "{} pairs read", long[WINDOWS + 2].exp_m1());
        let first = room_reads(&wet[..(8.0 * SR) as usize], SR, None);
        assert!((long[MIX_READ] - first[MIX_READ]).abs() < 0.15, "64 s reads a mix of {}, its first 8 s {}", long[MIX_READ], first[MIX_READ]);
    }

    #[test]
    fn short_silent_or_broken_input_reads_zeros() {
        assert_eq!(room_reads(&[], SR, None), [0.0; ROOM_LEN]);
        assert_eq!(room_reads(&vec![0.0; 64_000], SR, None), [0.0; ROOM_LEN]);
        assert_eq!(room_reads(&playing(1)[..20_000], SR, None), [0.0; ROOM_LEN], "one segment has no pair");
        let mut nan = playing(1);
        nan[1000] = f32::NAN;
        assert!(room_reads(&nan, SR, Some(500.0)).iter().all(|v| v.is_finite()));
    }
}
