//! The FX chain's signal properties: echo timing and ratio, RT60, THD against drive,
//! exact bypass, block-size invariance, reset, and no subnormal tails.

mod common;

use common::*;
use gddsp_core::fx::{Delay, DelayParams, Distortion, DistortionParams, FxChain, Reverb, ReverbParams};
use gddsp_core::{Knob, Knobs};

fn delay_impulse(rate: f32, time_ms: f32, feedback: f32, len: usize) -> Vec<f32> {
    let mut d = Delay::new(rate, DelayParams { time_ms, feedback, mix: 1.0 });
    let mut x = impulse(len);
    d.process(&mut x);
    x[0] -= 1.0; // remove the dry impulse: what is left is the echo train
    x
}

#[test]
fn delay_echoes_land_on_time_with_feedback_ratio_integer_delay() {
    let (rate, fb) = (48_000.0, 0.6);
    let y = delay_impulse(rate, 250.0, fb, 60_000);
    for k in 1..=4 {
        let at = 12_000 * k;
        let peak = y.iter().enumerate().skip(at - 50).take(100).max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap();
        assert_eq!(peak.0, at, "echo {k}");
        assert!((peak.1 - fb.powi(k as i32 - 1)).abs() < 1e-6);
    }
    for k in 1..4 {
        let ratio = y[12_000 * (k + 1)] / y[12_000 * k];
        assert!((ratio / fb - 1.0).abs() < 0.02, "ratio {ratio}");
    }
}

#[test]
fn delay_echoes_land_on_time_with_feedback_ratio_fractional_delay() {
    for (rate, time_ms, fb) in [(44_100.0, 77.77, 0.5), (96_000.0, 333.3, 0.85), (22_050.0, 20.0, 0.3)] {
        let d = time_ms as f64 * rate as f64 / 1000.0;
        let y = delay_impulse(rate, time_ms, fb, (d * 5.0) as usize + 100);
        let mut sums = Vec::new();
        for k in 1..=4 {
            let centre = (d * k as f64).round() as usize;
            let peak = (centre - 3..=centre + 3).max_by(|&a, &b| y[a].abs().total_cmp(&y[b].abs())).unwrap();
            assert!(peak.abs_diff(centre) <= 1, "echo {k} at {peak}, expected {centre} ± 1 ({rate} Hz, {time_ms} ms)");
            // The interpolated echo is smeared over a few samples: its sum is its gain.
            sums.push(y[centre - 2 * k..=centre + 2 * k].iter().sum::<f32>());
        }
        for w in sums.windows(2) {
            assert!((w[1] / w[0] / fb - 1.0).abs() < 0.02, "ratio {} vs {fb}", w[1] / w[0]);
        }
    }
}

/// RT60 by Schroeder backward integration, from the −5 to −35 dB span (T30).
fn rt60(ir: &[f32], rate: f32) -> f64 {
    let mut edc: Vec<f64> = ir.iter().map(|&v| v as f64 * v as f64).collect();
    for n in (0..edc.len() - 1).rev() {
        edc[n] += edc[n + 1];
    }
    let total = edc[0];
    let cross = |db: f64| edc.iter().position(|&e| 10.0 * (e / total).log10() <= db).unwrap() as f64 / rate as f64;
    (cross(-35.0) - cross(-5.0)) * 2.0
}

fn reverb_ir(rate: f32, decay_s: f32, damping: f32) -> Vec<f32> {
    let mut r = Reverb::new(rate, 1, ReverbParams { decay_s, damping, mix: 1.0 });
    let mut x = impulse((1.3 * decay_s * rate) as usize);
    r.process(&mut x);
    x[0] -= 1.0;
    x
}

#[test]
fn reverb_rt60_matches_decay_within_10_percent() {
    for rate in [44_100.0, 48_000.0] {
        for decay in [0.3, 0.5, 1.0, 2.0, 4.0] {
            let t = rt60(&reverb_ir(rate, decay, 0.0), rate);
            assert!((t / decay as f64 - 1.0).abs() < 0.10, "decay {decay} s reads RT60 {t:.3} s at {rate} Hz");
        }
    }
}

#[test]
fn reverb_damping_shortens_the_highs_and_keeps_the_lows() {
    use realfft::RealFftPlanner;
    let rate = 48_000.0;
    let ir = reverb_ir(rate, 2.0, 1.0);
    let band = |lo: f32, hi: f32| {
        let n = ir.len().next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let (f, i) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
        let mut buf = ir.clone();
        buf.resize(n, 0.0);
        let mut spec = f.make_output_vec();
        f.process(&mut buf, &mut spec).unwrap();
        // Raised-cosine edges 300 Hz wide: a brick wall would ring across the whole
        // response and flatten its decay curve.
        let taper = 300.0;
        for (k, c) in spec.iter_mut().enumerate() {
            let hz = k as f32 * rate / n as f32;
            let outside = (lo - hz).max(hz - hi).max(0.0);
            let g = if outside >= taper { 0.0 } else { 0.5 + 0.5 * (std::f32::consts::PI * outside / taper).cos() };
            *c *= g;
        }
        i.process(&mut spec, &mut buf).unwrap();
        buf.truncate(ir.len());
        buf
    };
    let low = rt60(&band(100.0, 650.0), rate);
    let high = rt60(&band(8500.0, 20_000.0), rate);
    assert!((low / 2.0 - 1.0).abs() < 0.10, "low band RT60 {low:.3}");
    // damping 1 → the top band decays 10× sooner.
    assert!((high / 0.2 - 1.0).abs() < 0.15, "high band RT60 {high:.3}");
}

#[test]
fn reverb_ir_has_unit_energy_and_the_twin_can_rebuild_it() {
    let rate = 32_000.0;
    let r = Reverb::new(rate, 7, ReverbParams { decay_s: 0.8, damping: 0.4, mix: 0.5 });
    let energy: f64 = r.ir().iter().map(|&v| v as f64 * v as f64).sum();
    assert!((energy - 1.0).abs() < 1e-4);
    let bands = Reverb::band_noise(7, rate);
    let mut again = vec![0.0; gddsp_core::fx::reverb::ir_len(0.8, rate)];
    Reverb::impulse_response(&bands, rate, 0.8, 0.4, &mut again);
    assert!(max_abs_diff(r.ir(), &again) < 1e-6);
}

/// Total harmonic distortion of a 1 kHz sine (harmonics 2–10 over the fundamental).
fn thd(y: &[f32], rate: f32) -> f64 {
    let p = power_spectrum(y);
    let hz = rate as f64 / y.len() as f64;
    let at = |f: f64| {
        let k = (f / hz).round() as usize;
        p[k - 20..=k + 20].iter().sum::<f64>()
    };
    let harmonics: f64 = (2..=10).map(|h| at(1000.0 * h as f64)).sum();
    (harmonics / at(1000.0)).sqrt()
}

#[test]
fn distortion_thd_rises_monotonically_with_drive() {
    let rate = 48_000.0;
    let x = sine(rate, 1000.0, 0.5, 48_000);
    let mut last = -1.0;
    for drive in [0.0, 3.0, 6.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0] {
        let mut d = Distortion::new(rate, DistortionParams { drive_db: drive, tone_hz: 12_000.0, mix: 1.0 });
        let mut y = x.clone();
        d.process(&mut y);
        let t = thd(&y[4800..], rate);
        assert!(t > last, "THD {t:.4} at {drive} dB is not above {last:.4}");
        last = t;
    }
    assert!(last > 0.3, "40 dB of drive should nearly square the sine (THD {last})");
}

#[test]
fn distortion_tone_filter_is_a_one_pole_low_pass() {
    let rate = 48_000.0;
    // At 0 dB drive and a small signal the shaper is ~linear: the tone filter's −3 dB point shows.
    let mut d = Distortion::new(rate, DistortionParams { drive_db: 0.0, tone_hz: 2000.0, mix: 1.0 });
    let mut y = sine(rate, 2000.0, 0.001, 48_000);
    d.process(&mut y);
    let gain_db = 20.0 * (rms(&y[4800..]) / (0.001 / 2f64.sqrt())).log10();
    assert!((gain_db + 3.0).abs() < 0.5, "gain at the tone frequency {gain_db:.2} dB");
}

#[test]
fn mix_zero_passes_the_input_unchanged() {
    let rate = 48_000.0;
    let x = test_noise(20_000, 5);
    let extreme = Knobs::default()
        .with(Knob::DistortionDriveDb, 40.0)
        .with(Knob::DelayFeedback, 0.9)
        .with(Knob::ReverbDecayS, 3.0);
    let mut chain = FxChain::new(rate, 1, &extreme);
    let y = in_blocks(&x, 256, |b| chain.process_channel(0, b));
    assert!(max_abs_diff(&x, &y) <= 1e-6);
}

fn all_on() -> Knobs {
    Knobs::default()
        .with(Knob::DistortionDriveDb, 18.0)
        .with(Knob::DistortionToneHz, 3000.0)
        .with(Knob::DistortionMix, 0.8)
        .with(Knob::DelayTimeMs, 123.0)
        .with(Knob::DelayFeedback, 0.5)
        .with(Knob::DelayMix, 0.4)
        .with(Knob::ReverbDecayS, 0.6)
        .with(Knob::ReverbDamping, 0.5)
        .with(Knob::ReverbMix, 0.3)
}

#[test]
fn chain_blocks_of_any_size_give_the_same_output() {
    let rate = 44_100.0;
    let x: Vec<f32> = test_noise(60_000, 8).iter().map(|v| v * 0.3).collect();
    let mut reference = FxChain::new(rate, 1, &all_on());
    let whole = in_blocks(&x, x.len(), |b| reference.process_channel(0, b));
    for block in [1, 17, 64, 333, 4096, 8192] {
        let mut chain = FxChain::new(rate, 1, &all_on());
        let y = in_blocks(&x, block, |b| chain.process_channel(0, b));
        let d = max_abs_diff(&whole, &y);
        assert!(d < 1e-5, "block {block}: max diff {d}");
    }
}

#[test]
fn each_effect_is_block_size_invariant_and_reset_repeats_it() {
    let rate = 48_000.0;
    let x: Vec<f32> = test_noise(30_000, 3).iter().map(|v| v * 0.5).collect();
    let k = all_on();
    type Make = Box<dyn Fn() -> Box<dyn FnMut(Option<&mut [f32]>)>>;
    let makers: Vec<(&str, Make)> = vec![
        ("distortion", Box::new(move || {
            let mut e = Distortion::new(rate, k.distortion());
            Box::new(move |b: Option<&mut [f32]>| match b { Some(b) => e.process(b), None => e.reset() })
        })),
        ("delay", Box::new(move || {
            let mut e = Delay::new(rate, k.delay());
            Box::new(move |b: Option<&mut [f32]>| match b { Some(b) => e.process(b), None => e.reset() })
        })),
        ("reverb", Box::new(move || {
            let mut e = Reverb::new(rate, 2, k.reverb());
            Box::new(move |b: Option<&mut [f32]>| match b { Some(b) => e.process(b), None => e.reset() })
        })),
    ];
    for (name, make) in makers {
        let mut e = make();
        let whole = in_blocks(&x, x.len(), |b| e(Some(b)));
        e(None);
        let again = in_blocks(&x, x.len(), |b| e(Some(b)));
        assert_eq!(whole, again, "{name}: reset did not repeat the render");
        for block in [1, 17, 64, 4096] {
            let mut e = make();
            let y = in_blocks(&x, block, |b| e(Some(b)));
            assert!(max_abs_diff(&whole, &y) < 1e-5, "{name}, block {block}");
        }
    }
}

#[test]
fn decaying_tails_never_go_subnormal() {
    let rate = 48_000.0;
    let knobs = all_on().with(Knob::DelayFeedback, 0.9).with(Knob::DistortionMix, 1.0);
    let mut chain = FxChain::new(rate, 1, &knobs);
    let mut x = impulse(rate as usize * 12);
    x[0] = 0.5;
    let y = in_blocks(&x, 512, |b| chain.process_channel(0, b));
    let bad = y.iter().position(|v| *v != 0.0 && !v.is_normal());
    assert_eq!(bad, None, "subnormal or non-finite output");
    assert!(y[y.len() - 1000..].iter().all(|v| v.abs() < 1e-6), "the tail has died out");
}

#[test]
fn stereo_reverb_channels_are_decorrelated() {
    let rate = 48_000.0;
    let knobs = Knobs::default().with(Knob::ReverbMix, 1.0).with(Knob::ReverbDecayS, 1.0);
    let mut chain = FxChain::new(rate, 2, &knobs);
    let mut l = impulse(48_000);
    let mut r = impulse(48_000);
    chain.process(&mut [&mut l[..], &mut r[..]]);
    let dot: f64 = l[1..].iter().zip(&r[1..]).map(|(a, b)| *a as f64 * *b as f64).sum();
    assert!(dot.abs() < 0.05, "L·R correlation {dot}");
}

#[test]
fn another_reverb_seed_is_another_room_with_the_same_decay_and_level() {
    use gddsp_core::fx::REVERB_SEED;
    let rate = 16_000.0;
    let knobs = Knobs::default().with(Knob::ReverbMix, 1.0).with(Knob::ReverbDecayS, 0.8).with(Knob::ReverbDamping, 0.4);
    let ir = |seed: u64| {
        let mut x = vec![impulse(32_000)];
        FxChain::render_offline_with_reverb_seed(rate, &knobs, &mut x, seed);
        x[0][0] -= 1.0; // the dry impulse
        x.pop().unwrap()
    };
    let mut shipped = vec![impulse(32_000)];
    FxChain::render_offline(rate, &knobs, &mut shipped);
    shipped[0][0] -= 1.0;
    assert_eq!(ir(REVERB_SEED), shipped[0], "the corpus's seed is the default chain's");
    let (a, b) = (ir(REVERB_SEED), ir(12_345));
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
    assert!(dot.abs() < 0.05, "the two rooms' tails correlate: {dot}");
    let (ta, tb) = (rt60(&a, rate), rt60(&b, rate));
    assert!((ta / tb - 1.0).abs() < 0.1, "RT60 {ta:.3} s against {tb:.3} s");
    let energy = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>();
    assert!((energy(&a) - 1.0).abs() < 1e-3 && (energy(&b) - 1.0).abs() < 1e-3, "unit-energy tails: {} and {}", energy(&a), energy(&b));
}
