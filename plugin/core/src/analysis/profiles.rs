//! Clip profiles beside the echo cepstrum: how fast the wet signal's energy falls band by
//! band (a reverb's RT60 and damping), where its loudness envelope repeats and what the
//! cepstrum reads at its strongest echo (a delay's time, feedback and mix), and how peaky,
//! how loud and how level-dependent in brightness its waveform is (a distortion's drive
//! and mix).
//!
//! MFCC frames averaged over a clip keep the colour of the sound and lose its motion: a
//! 3 s tail and a 0.3 s tail average to nearly the same frames. After a note stops, the
//! level cannot fall faster than the reverb lets it (60 dB per RT60), so the fast end of
//! the distribution of decay rates reads the RT60, and the rates of the high bands next
//! to the low bands read the damping ([`crate::fx::reverb`] shortens the RT60 above
//! 1, 2, 4 kHz). A delay repeats the envelope at its time, each repeat `feedback` times
//! the last; the cepstrum's highest peak is the delay time in 95 % of the corpus's
//! delayed clips, which a network reading 96 bins does not find by itself (measured: the
//! peak's position alone has a delay-time error of 0.03 where the trained encoder had
//! 0.10). A waveshaper flattens peaks — the crest factor (peak / RMS) of a frame falls
//! with drive — narrows the level's spread, and makes loud frames brighter than soft ones.
//!
//! ```text
//! E_b[t]  = Σ_{k ∈ band b} |DFT_512(w · x_t)|²,   frames every 128 samples (8 ms at 16 kHz)
//! L_b[t]  = 10·log10(E_b[t] + 1e-10·max E)        bands 125–500, 500–1k, 1–2k, 2–4k, 4–7.6k Hz
//! r_b[t]  = (L_b[t] − L_b[t+S]) · sr / (S · 128)  dB/s, over spans S of 48 and 192 ms,
//!           counted where r > 0 and L_b[t+S] is within 50 dB of the band's loudest frame
//! decay   = ln r at the 10, 25, 50, 75, 90, 95 and 99th percentiles, per band and span
//!           (0 where a band never falls)
//! A[k]    = Σ_t õ[t]·õ[t+k] / Σ_t õ[t]²,  õ = o − mean o,  o[t] = max(0, e[t+1] − e[t]),
//!           e[t] = √(Σ_b E_b[t])  (onsets: an envelope's own smoothness would peak at short lags)
//! env     = max A[k] over each echo-grid bin's lags (the bin's nearest lag if none falls in it)
//! reads   = ln D*, C(D*), C(2D*), C(3D*), env(D*), env(2D*), env(3D*); D* = the echo grid's
//!           centre with the highest cepstrum C, a read = the max over the nearest bin and its
//!           two neighbours, 0 beyond the grid
//! crest   = ln(peak/RMS) of 512-sample frames (hop 256) within 40 dB of the loudest, at the
//!           5, 10, 25, 50, 75, 90 and 95th percentiles (ln √2 if none)
//! level   = those frames' RMS, dB below the loudest, at the same percentiles; then the clip's
//!           peak and loudest-frame RMS, dBFS (floored at −100)
//! bright  = slope and correlation of H[t] = 10·log10(E_3 + E_4) − 10·log10(Σ_b E_b) on
//!           10·log10(Σ_b E_b[t]) over the frames within 40 dB of the loudest
//! ```
//!
//! All are written for model-rate audio (the band edges assume 16 kHz). Silent or empty
//! input gives the "nothing happens" values above, never NaN.

use realfft::num_complex::Complex32;
use realfft::RealFftPlanner;

use super::echo::EchoGrid;
use super::hann;

const FRAME: usize = 512;
const HOP: usize = 128;
const BAND_EDGES_HZ: [f32; 6] = [125.0, 500.0, 1000.0, 2000.0, 4000.0, 7600.0];
const BANDS: usize = BAND_EDGES_HZ.len() - 1;
const SPANS_MS: [f32; 2] = [48.0, 192.0];
const DECAY_PERCENTILES: [f32; 7] = [0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];
const FLOOR_DB: f32 = 50.0;
const CREST_FRAME: usize = 512;
const CREST_HOP: usize = 256;
const CREST_RANGE_DB: f32 = 40.0;
const CREST_PERCENTILES: [f32; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];

/// Values in the decay profile.
pub const DECAY_LEN: usize = BANDS * SPANS_MS.len() * DECAY_PERCENTILES.len();
/// Values in the crest-and-level profile.
pub const CREST_LEN: usize = 2 * CREST_PERCENTILES.len() + 2;
/// Values read off the echo profiles at the strongest echo.
pub const READS_LEN: usize = 7;
/// Values in the brightness-on-level profile.
pub const BRIGHT_LEN: usize = 2;
const FLOOR_DBFS: f32 = -100.0;

/// Everything after the echo cepstrum in the encoder's second input: envelope echo
/// (`grid.bins`), reads ([`READS_LEN`]), decay ([`DECAY_LEN`]), crest and level
/// ([`CREST_LEN`]), brightness on level ([`BRIGHT_LEN`]).
pub fn clip_profiles(signal: &[f32], sample_rate: f32, cepstrum: &[f32], grid: &EchoGrid) -> Vec<f32> {
    let energies = band_energies(signal, sample_rate);
    let env = envelope_echo_from(&energies, sample_rate, grid);
    let mut out = Vec::with_capacity(profiles_len(grid));
    out.extend_from_slice(&env);
    out.extend(echo_reads(cepstrum, &env, grid));
    out.extend(decay_from(&energies, sample_rate));
    out.extend(crest_profile(signal));
    out.extend(brightness_on_level(&energies));
    out
}

/// Length of [`clip_profiles`]' output.
pub fn profiles_len(grid: &EchoGrid) -> usize {
    grid.bins + READS_LEN + DECAY_LEN + CREST_LEN + BRIGHT_LEN
}

/// Where the reads start in [`clip_profiles`]' output (ln D* first).
pub fn reads_offset(grid: &EchoGrid) -> usize {
    grid.bins
}

/// ln D*, the cepstrum at D*, 2D*, 3D*, the envelope echo at D*, 2D*, 3D*.
pub fn echo_reads(cepstrum: &[f32], env: &[f32], grid: &EchoGrid) -> [f32; READS_LEN] {
    let Some(best) = (0..grid.bins.min(cepstrum.len())).max_by(|&a, &b| cepstrum[a].total_cmp(&cepstrum[b])) else { return [0.0; READS_LEN] };
    let d = grid.center_ms(best);
    let at = |p: &[f32], ms: f32| -> f32 {
        if ms > grid.max_ms * grid.ratio().sqrt() || p.is_empty() {
            return 0.0;
        }
        // The nearest bin and its neighbours: D* is only known to a bin, so k·D* to k bins.
        let i = ((ms / grid.min_ms).ln() / grid.ratio().ln()).round().clamp(0.0, (p.len() - 1) as f32) as usize;
        p[i.saturating_sub(1)..(i + 2).min(p.len())].iter().fold(f32::MIN, |a, &b| a.max(b))
    };
    [d.ln(), at(cepstrum, d), at(cepstrum, 2.0 * d), at(cepstrum, 3.0 * d), at(env, d), at(env, 2.0 * d), at(env, 3.0 * d)]
}

/// Slope and correlation of the high bands' share (dB) on the frame level (dB).
fn brightness_on_level(energies: &[[f32; BANDS]]) -> [f32; BRIGHT_LEN] {
    let total: Vec<f32> = energies.iter().map(|e| e.iter().sum::<f32>()).collect();
    let loudest = total.iter().fold(0f32, |m, &x| m.max(x));
    if !(loudest > 0.0) {
        return [0.0; BRIGHT_LEN];
    }
    let gate = loudest * 10f32.powf(-CREST_RANGE_DB / 10.0);
    let floor = 1e-10 * loudest;
    let points: Vec<(f64, f64)> = energies
        .iter()
        .zip(&total)
        .filter(|(_, &t)| t > gate)
        .map(|(e, &t)| ((10.0 * (t + floor).log10()) as f64, (10.0 * ((e[3] + e[4] + floor) / (t + floor)).log10()) as f64))
        .collect();
    let n = points.len() as f64;
    if points.len() < 3 {
        return [0.0; BRIGHT_LEN];
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx = points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    let syy = points.iter().map(|p| (p.1 - my).powi(2)).sum::<f64>();
    let sxy = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>();
    if sxx <= 1e-9 || syy <= 1e-9 {
        return [0.0; BRIGHT_LEN];
    }
    [(sxy / sxx) as f32, (sxy / (sxx * syy).sqrt()) as f32]
}

/// Band energies `[frames][BANDS]` every [`HOP`] samples (frame `t` starts at `t · HOP`).
fn band_energies(signal: &[f32], sample_rate: f32) -> Vec<[f32; BANDS]> {
    let frames = signal.len().div_ceil(HOP);
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(FRAME);
    let window = hann(FRAME);
    let mut buf = vec![0.0; FRAME];
    let mut spectrum = vec![Complex32::default(); FRAME / 2 + 1];
    let bin_hz = sample_rate / FRAME as f32;
    let band_of: Vec<Option<usize>> = (0..spectrum.len())
        .map(|k| {
            let f = k as f32 * bin_hz;
            (0..BANDS).find(|&b| f >= BAND_EDGES_HZ[b] && f < BAND_EDGES_HZ[b + 1])
        })
        .collect();
    let mut out = Vec::with_capacity(frames);
    for t in 0..frames {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = signal.get(t * HOP + i).copied().unwrap_or(0.0) * window[i];
        }
        fft.process(&mut buf, &mut spectrum).expect("sizes from the planner");
        let mut e = [0f32; BANDS];
        for (c, band) in spectrum.iter().zip(&band_of) {
            if let Some(b) = band {
                e[*b] += c.norm_sqr();
            }
        }
        out.push(e);
    }
    out
}

/// The `q`-quantile of `v` (sorted in place), or `None` when empty.
fn quantile(v: &mut [f32], q: f32) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f32::total_cmp);
    let at = ((v.len() - 1) as f32 * q).round() as usize;
    Some(v[at])
}

/// Decay profile of `signal` (model-rate mono audio): [`DECAY_LEN`] values, band-major,
/// then span, then percentile.
pub fn decay_profile(signal: &[f32], sample_rate: f32) -> Vec<f32> {
    decay_from(&band_energies(signal, sample_rate), sample_rate)
}

fn decay_from(energies: &[[f32; BANDS]], sample_rate: f32) -> Vec<f32> {
    let loudest = energies.iter().flat_map(|e| e.iter()).fold(0f32, |m, &x| m.max(x));
    let floor = 1e-10 * loudest.max(f32::MIN_POSITIVE);
    let mut out = Vec::with_capacity(DECAY_LEN);
    let mut rates = Vec::with_capacity(energies.len());
    for b in 0..BANDS {
        let level: Vec<f32> = energies.iter().map(|e| 10.0 * (e[b] + floor).log10()).collect();
        let top = level.iter().fold(f32::MIN, |m, &x| m.max(x));
        for span_ms in SPANS_MS {
            let span = ((span_ms / 1000.0 * sample_rate / HOP as f32).round() as usize).max(1);
            let per_second = sample_rate / (span * HOP) as f32;
            rates.clear();
            for t in 0..level.len().saturating_sub(span) {
                let fall = level[t] - level[t + span];
                if fall > 0.0 && level[t + span] > top - FLOOR_DB {
                    rates.push((fall * per_second).ln());
                }
            }
            for q in DECAY_PERCENTILES {
                out.push(quantile(&mut rates, q).unwrap_or(0.0));
            }
        }
    }
    out
}

/// Envelope echo profile of `signal`: the autocorrelation of its loudness envelope on
/// the echo grid, `grid.bins` values in [−1, 1].
pub fn envelope_echo_profile(signal: &[f32], sample_rate: f32, grid: &EchoGrid) -> Vec<f32> {
    envelope_echo_from(&band_energies(signal, sample_rate), sample_rate, grid)
}

fn envelope_echo_from(energies: &[[f32; BANDS]], sample_rate: f32, grid: &EchoGrid) -> Vec<f32> {
    let mut profile = vec![0.0; grid.bins];
    let level: Vec<f32> = energies.iter().map(|e| e.iter().sum::<f32>().sqrt()).collect();
    let env: Vec<f32> = level.windows(2).map(|w| (w[1] - w[0]).max(0.0)).collect();
    if env.len() < 2 {
        return profile;
    }
    let mean = env.iter().map(|&x| x as f64).sum::<f64>() / env.len() as f64;
    let m = (2 * env.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(m);
    let inverse = planner.plan_fft_inverse(m);
    let mut buf = vec![0.0; m];
    for (b, &e) in buf.iter_mut().zip(&env) {
        *b = (e as f64 - mean) as f32;
    }
    let mut spectrum = vec![Complex32::default(); m / 2 + 1];
    forward.process(&mut buf, &mut spectrum).expect("sizes from the planner");
    for c in spectrum.iter_mut() {
        *c = Complex32::new(c.norm_sqr(), 0.0);
    }
    inverse.process(&mut spectrum, &mut buf).expect("sizes from the planner");
    let zero = buf[0];
    if !(zero > 0.0 && zero.is_finite()) {
        return profile;
    }
    let frames_per_ms = sample_rate / HOP as f32 / 1000.0;
    let half = grid.ratio().sqrt();
    let last = env.len() - 1;
    for (i, p) in profile.iter_mut().enumerate() {
        let q = grid.center_ms(i) * frames_per_ms;
        let lo = ((q / half).ceil() as usize).clamp(1, last);
        let hi = ((q * half).ceil() as usize).clamp(lo, last + 1);
        let nearest = (q.round() as usize).clamp(1, last);
        *p = if hi > lo { buf[lo..hi].iter().fold(f32::MIN, |a, &b| a.max(b)) } else { buf[nearest] } / zero;
    }
    profile
}

/// Crest and level profile of `signal`: percentiles of the frames' ln(peak / RMS) and of
/// their RMS below the loudest (dB), then the peak and loudest RMS (dBFS); [`CREST_LEN`] values.
pub fn crest_profile(signal: &[f32]) -> Vec<f32> {
    let frames: Vec<(f32, f32)> = signal
        .chunks(CREST_HOP)
        .enumerate()
        .map(|(i, _)| {
            let frame = &signal[i * CREST_HOP..(i * CREST_HOP + CREST_FRAME).min(signal.len())];
            let power = frame.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / frame.len() as f64;
            let peak = frame.iter().fold(0f32, |m, &x| m.max(x.abs()));
            (power as f32, peak)
        })
        .collect();
    let loudest = frames.iter().fold(0f32, |m, f| m.max(f.0));
    let gate = loudest * 10f32.powf(-CREST_RANGE_DB / 10.0);
    let counted: Vec<&(f32, f32)> = frames.iter().filter(|f| f.0 > gate && f.0 > 0.0).collect();
    let mut crest: Vec<f32> = counted.iter().map(|f| (f.1 / f.0.sqrt()).ln()).collect();
    let mut level: Vec<f32> = counted.iter().map(|f| 10.0 * (f.0 / loudest).log10()).collect();
    let mut out: Vec<f32> = CREST_PERCENTILES.iter().map(|&q| quantile(&mut crest, q).unwrap_or(std::f32::consts::LN_2 / 2.0)).collect();
    out.extend(CREST_PERCENTILES.iter().map(|&q| quantile(&mut level, q).unwrap_or(0.0)));
    let dbfs = |power: f32| (10.0 * power.log10()).max(FLOOR_DBFS);
    let peak = signal.iter().fold(0f32, |m, &x| m.max(x.abs()));
    out.push(dbfs(peak * peak));
    out.push(dbfs(loudest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::UniformNoise;

    const SR: f32 = 16_000.0;

    /// Noise bursts of 150 ms every 500 ms, each followed by an exponential tail falling
    /// 60 dB in `rt60` seconds.
    fn bursts_with_tails(rt60: f32) -> Vec<f32> {
        let mut rng = UniformNoise::new(5);
        let burst = (0.15 * SR) as usize;
        let period = (0.5 * SR) as usize;
        (0..4 * SR as usize)
            .map(|n| {
                let k = n % period;
                let gain = if k < burst { 1.0 } else { 10f32.powf(-3.0 * (k - burst) as f32 / (SR * rt60)) };
                gain * rng.next_sample()
            })
            .collect()
    }

    #[test]
    fn the_fast_end_of_the_decay_rates_reads_the_rt60() {
        for rt60 in [0.3f32, 1.0] {
            let p = decay_profile(&bursts_with_tails(rt60), SR);
            assert_eq!(p.len(), DECAY_LEN);
            // Band 0, 192 ms span, 75th percentile: the tails' slope, 60/RT60 dB/s.
            let rate = p[DECAY_PERCENTILES.len() + 3].exp();
            let want = 60.0 / rt60;
            assert!((rate / want - 1.0).abs() < 0.15, "RT60 {rt60}: {rate} dB/s, want {want}");
        }
        assert!(decay_profile(&vec![0.0; 4000], SR).iter().all(|&x| x == 0.0));
        assert!(decay_profile(&[], SR).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn the_envelope_repeats_at_the_delay_with_the_feedback_ratio() {
        // Bursts every 1.1 s through a 300 ms delay with feedback 0.5.
        let mut rng = UniformNoise::new(9);
        let dry: Vec<f32> = (0..6 * SR as usize).map(|n| if n % 17_600 < 1_200 { rng.next_sample() } else { 0.0 }).collect();
        let d = (0.3 * SR) as usize;
        let mut wet = dry.clone();
        for n in d..wet.len() {
            wet[n] += 0.5 * wet[n - d];
        }
        let grid = EchoGrid::default();
        let p = envelope_echo_profile(&wet, SR, &grid);
        let peak = (0..grid.bins).filter(|&i| grid.center_ms(i) < 450.0).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert!((grid.center_ms(peak) / 300.0 - 1.0).abs() < 0.05, "peak at {} ms", grid.center_ms(peak));
        assert!(p[peak] > 0.3, "height {}", p[peak]);
        // The second repeat, 600 ms, is `feedback` times the first.
        let second = (0..grid.bins).min_by(|&a, &b| (grid.center_ms(a) - 600.0).abs().total_cmp(&(grid.center_ms(b) - 600.0).abs())).unwrap();
        let ratio = p[second] / p[peak];
        assert!((ratio - 0.5).abs() < 0.15, "second repeat / first = {ratio}");
        assert!(envelope_echo_profile(&vec![0.0; 4000], SR, &grid).iter().all(|&x| x == 0.0));
        // The reads find the echo in the cepstrum and read the envelope there and at 2D.
        let cepstrum = super::super::echo::echo_profile(&wet, SR, &grid);
        let reads = echo_reads(&cepstrum, &p, &grid);
        assert!((reads[0].exp() / 300.0 - 1.0).abs() < 0.05, "D* = {} ms", reads[0].exp());
        assert!(reads[4] > 0.3, "env(D*) = {}", reads[4]);
        assert!((reads[5] / reads[4] - 0.5).abs() < 0.15, "env(2D*) / env(D*) = {}", reads[5] / reads[4]);
        let all = clip_profiles(&wet, SR, &cepstrum, &grid);
        assert_eq!(all.len(), profiles_len(&grid));
        assert_eq!(all[reads_offset(&grid)], reads[0], "ln D* where the encoder's delay read looks");
        assert!(all.iter().all(|x| x.is_finite()));
        assert!(clip_profiles(&[], SR, &[], &grid).iter().all(|x| x.is_finite()));
    }

    #[test]
    fn drive_lowers_the_crest_factor() {
        let sine: Vec<f32> = (0..16_000).map(|n| 0.5 * (std::f32::consts::TAU * 220.0 * n as f32 / SR).sin()).collect();
        let clipped: Vec<f32> = sine.iter().map(|&x| (20.0 * x).tanh()).collect();
        let median = |x: &[f32]| crest_profile(x)[3].exp();
        assert_eq!(crest_profile(&sine).len(), CREST_LEN);
        assert!((median(&sine) - 2f32.sqrt()).abs() < 0.02, "sine crest {}", median(&sine));
        assert!(median(&clipped) < 1.1, "clipped crest {}", median(&clipped));
        assert!(crest_profile(&[]).iter().all(|x| x.is_finite()));
        // A waveshaper makes loud frames brighter: the high bands' share rises with level.
        let tone: Vec<f32> = (0..16_000).map(|n| 0.3 * ((std::f32::consts::TAU * 220.0 * n as f32 / SR).sin() + 0.5 * (std::f32::consts::TAU * 2420.0 * n as f32 / SR).sin())).collect();
        let ramp: Vec<f32> = tone.iter().enumerate().map(|(n, &x)| x * (n as f32 / tone.len() as f32)).collect();
        let shaped: Vec<f32> = sine.iter().enumerate().map(|(n, &x)| (10.0 * x * n as f32 / sine.len() as f32).tanh()).collect();
        let slope = |x: &[f32]| brightness_on_level(&band_energies(x, SR))[0];
        assert!(slope(&shaped) > 0.5, "shaped slope {}", slope(&shaped));
        assert!(slope(&ramp).abs() < 0.05, "clean slope {}", slope(&ramp));
    }
}
