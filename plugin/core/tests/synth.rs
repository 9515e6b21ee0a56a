//! The harmonic bank and filtered noise: pitch, aliasing, block-size invariance, reset,
//! noise level and shape.

mod common;

use common::*;
use gddsp_core::synth::{FilteredNoise, FrameClock, Synth, SynthFrame};
use gddsp_core::ModelSpec;

fn render_steady(spec: &ModelSpec, rate: f32, frame: &SynthFrame, frames: usize) -> Vec<f32> {
    Synth::render(spec, rate, 1, &vec![frame.clone(); frames])
}

fn pure(spec: &ModelSpec, f0: f32) -> SynthFrame {
    let mut f = SynthFrame::silent(spec);
    f.f0_hz[0] = f0;
    f.amplitude[0] = 0.5;
    f.harmonics[0] = 1.0;
    f
}

#[test]
fn steady_f0_is_exact_within_a_tenth_of_a_cent() {
    let spec = ModelSpec::default();
    for rate in [16_000.0, 44_100.0, 48_000.0, 96_000.0] {
        for f0 in [82.41, 110.0, 329.63, 1318.5] {
            let y = render_steady(&spec, rate, &pure(&spec, f0), 250);
            let measured = zero_crossing_frequency(&y, rate);
            let c = cents(measured, f0 as f64);
            assert!(c.abs() < 0.1, "{f0} Hz at {rate} Hz reads {measured} ({c:.4} cents)");
        }
    }
}

#[test]
fn amplitude_is_the_sum_of_harmonic_amplitudes() {
    let spec = ModelSpec::default();
    let mut f = pure(&spec, 200.0);
    f.harmonics[0] = 0.5;
    f.harmonics[2] = 0.5;
    let y = render_steady(&spec, 48_000.0, &f, 100);
    // Two harmonics of amplitude 0.25 each: RMS = 0.25.
    let r = rms(&y[4800..]);
    assert!((r - 0.25).abs() < 1e-3, "rms {r}");
}

#[test]
fn six_voice_sweep_has_no_aliasing_above_minus_80_db() {
    // A model at the host rate (48 kHz, the same 250 frames/s), so the band limit is the
    // host's Nyquist and harmonics reach it.
    let spec = ModelSpec { sample_rate: 48_000, hop: 192, ..ModelSpec::default() };
    let rate = 48_000.0;
    let frames = 500; // 2 s
    // Six voices sweep 2000 → 2400 → 2000 Hz (staggered), flat 60-harmonic spectrum:
    // harmonics 11 and up sit at or above 22 kHz, crossing Nyquist (24 kHz) as they
    // sweep. The synth is linear in the amplitudes, so rendering those harmonics alone
    // isolates them: whatever they put below 21 kHz can only be aliasing.
    let k = spec.harmonics;
    let sweep = |from_harmonic: usize| -> Vec<SynthFrame> {
        (0..frames)
            .map(|j| {
                let mut f = SynthFrame::silent(&spec);
                for s in 0..6 {
                    let u = ((j + s * 40) % frames) as f32 / frames as f32;
                    let tri = 1.0 - (2.0 * u - 1.0).abs();
                    f.f0_hz[s] = 2000.0 + 400.0 * tri;
                    f.amplitude[s] = 0.1;
                    for h in from_harmonic..k {
                        f.harmonics[s * k + h] = 1.0 / k as f32;
                    }
                }
                f
            })
            .collect()
    };
    let full = Synth::render(&spec, rate, 3, &sweep(0));
    let high = Synth::render(&spec, rate, 3, &sweep(10));
    let total: f64 = power_spectrum(&full).iter().sum();
    let p = power_spectrum(&high);
    let hz = rate as f64 / high.len() as f64;
    let folded: f64 = p[..(21_000.0 / hz) as usize].iter().sum();
    let db = 10.0 * (folded / total).log10();
    assert!(db < -80.0, "energy folded below 21 kHz: {db:.1} dB");
}

#[test]
fn a_higher_host_rate_renders_only_the_models_band() {
    // The 16 kHz model at 48 kHz: 200 Hz with harmonics 35 (7 kHz) and 45 (9 kHz). The
    // model never heard anything above its 8 kHz Nyquist, so neither does the player.
    let spec = ModelSpec::default();
    let mut f = pure(&spec, 200.0);
    f.amplitude[0] = 1.0;
    f.harmonics[0] = 0.0;
    f.harmonics[34] = 0.5;
    f.harmonics[44] = 0.5;
    let y = render_steady(&spec, 48_000.0, &f, 100);
    let p = power_spectrum(&y[4800..]);
    let hz = 48_000.0 / (y.len() - 4800) as f64;
    let level = |f: f64| 10.0 * p[(f / hz - 3.0) as usize..(f / hz + 3.0) as usize].iter().sum::<f64>().log10();
    let (at_7k, at_9k) = (level(7_000.0), level(9_000.0));
    assert!(at_7k - at_9k > 100.0, "7 kHz {at_7k:.1} dB, 9 kHz {at_9k:.1} dB");
    // The one in band keeps its amplitude: a sine of 0.5 has RMS 0.354.
    let r = rms(&y[4800..]);
    assert!((r - 0.3536).abs() < 2e-3, "rms {r}");
}

#[test]
fn harmonics_at_or_above_nyquist_are_silent() {
    let spec = ModelSpec::default();
    let mut f = SynthFrame::silent(&spec);
    // 3 kHz at 16 kHz: harmonics 1, 2 are audible (3, 6 kHz), 3 and up (9 kHz+) are not.
    f.f0_hz[0] = 3000.0;
    f.amplitude[0] = 1.0;
    f.harmonics[2] = 0.5;
    f.harmonics[5] = 0.5;
    let y = render_steady(&spec, 16_000.0, &f, 100);
    assert!(y.iter().all(|v| v.abs() < 1e-6), "peak {}", y.iter().fold(0f32, |m, v| m.max(v.abs())));
}

fn gliding_controls(spec: &ModelSpec, frames: usize) -> Vec<SynthFrame> {
    (0..frames)
        .map(|j| {
            let t = j as f32 / frames as f32;
            let f0s = [82.4 * (1.0 + t), 110.0, 146.8 * (1.0 + 0.3 * t), 196.0, 246.9, 329.6 * (1.0 - 0.2 * t)];
            voice_frame(spec, &f0s, 0.1 * (1.0 + (t * 20.0).sin()), 0.01 * (1.0 + t))
        })
        .collect()
}

fn render_in_blocks(spec: &ModelSpec, rate: f32, controls: &[SynthFrame], block: usize) -> Vec<f32> {
    let mut synth = Synth::new(spec, rate, 9);
    synth.prime(&controls[0]);
    let len = synth.clock().boundary(controls.len() as u64) as usize;
    let mut out = vec![0.0; len];
    let mut next = 1;
    for chunk in out.chunks_mut(block) {
        synth.process(chunk, &mut |f| {
            f.copy_from(&controls[next.min(controls.len() - 1)]);
            next += 1;
        });
    }
    out
}

#[test]
fn blocks_of_any_size_give_the_same_output() {
    let spec = ModelSpec::default();
    let controls = gliding_controls(&spec, 120);
    for rate in [44_100.0, 48_000.0] {
        let whole = Synth::render(&spec, rate, 9, &controls);
        for block in [1, 17, 64, 4096] {
            let y = render_in_blocks(&spec, rate, &controls, block);
            let d = max_abs_diff(&whole, &y);
            assert!(d < 1e-5, "block {block} at {rate}: max diff {d}");
        }
    }
}

#[test]
fn reset_makes_a_second_render_identical() {
    let spec = ModelSpec::default();
    let controls = gliding_controls(&spec, 60);
    let mut synth = Synth::new(&spec, 48_000.0, 4);
    let len = synth.clock().boundary(60) as usize;
    let render = |synth: &mut Synth| {
        synth.prime(&controls[0]);
        let mut out = vec![0.0; len];
        let mut next = 1;
        synth.process(&mut out, &mut |f| {
            f.copy_from(&controls[next.min(59)]);
            next += 1;
        });
        out
    };
    let a = render(&mut synth);
    synth.reset();
    let b = render(&mut synth);
    assert_eq!(a, b);
}

#[test]
fn white_noise_bands_pass_the_noise_at_its_level_at_any_rate() {
    let spec = ModelSpec::default();
    let mut f = SynthFrame::silent(&spec);
    f.noise.fill(1.0);
    for rate in [16_000.0, 44_100.0, 48_000.0] {
        let y = render_steady(&spec, rate, &f, 500);
        let r = rms(&y[(rate as usize / 10)..]);
        // Uniform noise in [-1, 1): RMS 1/√3, the same power per Hz below 8 kHz at any rate.
        assert!((r - 1.0 / 3f64.sqrt()).abs() < 0.02, "rms {r} at {rate}");
    }
}

#[test]
fn noise_follows_its_band_magnitudes() {
    let spec = ModelSpec::default();
    let mut f = SynthFrame::silent(&spec);
    // Pass below 2 kHz (bands 0..=16 at 125 Hz spacing), stop above.
    for (b, m) in f.noise.iter_mut().enumerate() {
        *m = if b <= 16 { 1.0 } else { 0.0 };
    }
    let rate = 48_000.0;
    let y = render_steady(&spec, rate, &f, 500);
    let p = power_spectrum(&y);
    let hz = rate as f64 / y.len() as f64;
    let band = |lo: f64, hi: f64| p[(lo / hz) as usize..(hi / hz) as usize].iter().sum::<f64>() / ((hi - lo) / hz);
    let pass = band(200.0, 1500.0);
    let stop = band(3000.0, 7500.0);
    let above_model = band(9000.0, 20_000.0);
    assert!(10.0 * (stop / pass).log10() < -40.0, "stop band {:.1} dB", 10.0 * (stop / pass).log10());
    assert!(10.0 * (above_model / pass).log10() < -60.0);
}

#[test]
fn noise_blocks_of_any_size_give_the_same_output() {
    let spec = ModelSpec::default();
    let controls = gliding_controls(&spec, 50);
    let rate = 44_100.0;
    let clock = FrameClock::new(rate, spec.frame_rate());
    let whole = Synth::render(&spec, rate, 2, &controls);
    let y = {
        let mut synth = Synth::new(&spec, rate, 2);
        synth.prime(&controls[0]);
        let mut out = vec![0.0; clock.boundary(50) as usize];
        let mut next = 1;
        for chunk in out.chunks_mut(7) {
            synth.process(chunk, &mut |f| {
                f.copy_from(&controls[next.min(49)]);
                next += 1;
            });
        }
        out
    };
    assert!(max_abs_diff(&whole, &y) < 1e-5);
    // FilteredNoise alone is reachable too (the plugin may drive it directly).
    let _ = FilteredNoise::new(&spec, rate, 2);
}

#[test]
fn nan_controls_render_silence_not_nan() {
    let spec = ModelSpec::default();
    let mut f = pure(&spec, f32::NAN);
    f.amplitude[1] = f32::INFINITY;
    f.f0_hz[1] = 100.0;
    f.harmonics[spec.harmonics] = 1.0;
    f.noise[3] = f32::NAN;
    let y = render_steady(&spec, 48_000.0, &f, 20);
    assert!(y.iter().all(|v| v.is_finite()));
}
