//! The differentiable twins against the real-time core (parity), autodiff against finite
//! differences (gradients), and knob recovery by gradient descent.

use gddsp_core::fx::FxChain;
use gddsp_core::knobs::{KNOBS, KNOB_COUNT};
use gddsp_core::synth::Synth;
use gddsp_core::{Knob, Knobs, ModelSpec};
use gddsp_train::ddsp::filtered_noise::{filtered_noise, noise_stream};
use gddsp_train::ddsp::fx_chain::FxChainTwin;
use gddsp_train::ddsp::harmonic::harmonic_bank;
use gddsp_train::ddsp::parity::{self, control_tensors, random_active_knobs, random_controls, relative_spectral_error, SAMPLE_BOUND, SPECTRAL_BOUND};
use gddsp_train::ddsp::recovery::{Recoverer, Start};
use gddsp_train::ddsp::spectral_loss::multiscale_spectral_loss;
use gddsp_train::ddsp::{autodiff_device, device, tensor, values};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

#[test]
fn every_block_and_the_chain_match_the_real_time_core() {
    for seed in 1..=3 {
        let report = parity::run(seed, 2.0);
        for b in &report.blocks {
            assert!(b.spectral_error <= SPECTRAL_BOUND, "seed {seed} {}: spectral {:.2e} ({})", b.block, b.spectral_error, b.settings);
            if b.sample_exact {
                assert!(b.max_sample_error <= SAMPLE_BOUND, "seed {seed} {}: sample {:.2e}", b.block, b.max_sample_error);
            }
        }
        let names: Vec<&str> = report.blocks.iter().map(|b| b.block.as_str()).collect();
        assert_eq!(names, ["harmonic", "noise", "distortion", "delay", "delay (whole samples)", "reverb", "chain"]);
    }
}

/// A short clean signal: the core's synth on random controls, scaled to −6 dBFS.
fn clean(seed: u64, seconds: f64) -> Vec<f32> {
    let spec = ModelSpec::default();
    let frames = (seconds * spec.frame_rate()) as usize;
    let controls = random_controls(&mut Xoshiro256PlusPlus::seed_from_u64(seed), &spec, frames);
    let x = Synth::render(&spec, spec.sample_rate as f32, seed, &controls);
    let peak = x.iter().fold(1e-9f32, |m, v| m.max(v.abs()));
    x.iter().map(|v| v * 0.5 / peak).collect()
}

#[test]
fn extreme_settings_stay_in_parity_many_echoes_long_tails_hard_drive() {
    let x = clean(9, 4.0);
    let n = x.len();
    let sr = 16_000.0;
    let settings = [
        Knobs::default().with(Knob::DelayMix, 1.0).with(Knob::DelayTimeMs, 20.0).with(Knob::DelayFeedback, 0.9),
        Knobs::default().with(Knob::DelayMix, 0.7).with(Knob::DelayTimeMs, 1000.0).with(Knob::DelayFeedback, 0.9),
        Knobs::default().with(Knob::ReverbMix, 1.0).with(Knob::ReverbDecayS, 5.0).with(Knob::ReverbDamping, 1.0),
        Knobs::default().with(Knob::DistortionMix, 1.0).with(Knob::DistortionDriveDb, 40.0).with(Knob::DistortionToneHz, 500.0),
    ];
    let twin = FxChainTwin::new(sr, 0, &device());
    for knobs in settings {
        let mut rt = vec![x.clone()];
        FxChain::render_offline(sr, &knobs, &mut rt);
        let out = values(twin.forward(tensor(x.clone(), [1, n], &device()), tensor(knobs.values().to_vec(), [1, KNOB_COUNT], &device())));
        let err = relative_spectral_error(&out, &rt[0]);
        let max = out.iter().zip(&rt[0]).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-4 && max < 1e-4, "{:?}: spectral {err:.2e}, sample {max:.2e}", knobs.to_json());
    }
}

/// Central difference of `f` at `x` with step `h`.
fn central(f: &dyn Fn(f32) -> f64, x: f32, h: f32) -> f64 {
    (f(x + h) - f(x - h)) / (2.0 * h as f64)
}

fn assert_close(what: &str, autodiff: f64, numeric: f64) {
    let rel = (autodiff - numeric).abs() / numeric.abs().max(1e-3);
    eprintln!("{what}: autodiff {autodiff:.6e}, finite difference {numeric:.6e}, relative error {rel:.1e}");
    assert!(rel < 1e-2, "{what}: autodiff {autodiff:.6e}, finite difference {numeric:.6e} (relative error {rel:.2e})");
}

#[test]
fn knob_gradients_match_finite_differences() {
    let x = clean(3, 0.25);
    let n = x.len();
    let sr = 16_000.0;
    let probe: Vec<f32> = {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    };
    // Interior points: the delay's fraction mid-way, every effect on.
    let knobs = Knobs::default()
        .with(Knob::DistortionDriveDb, 6.0)
        .with(Knob::DistortionToneHz, 3000.0)
        .with(Knob::DistortionMix, 0.6)
        .with(Knob::DelayTimeMs, 23.53)
        .with(Knob::DelayFeedback, 0.5)
        .with(Knob::DelayMix, 0.5)
        .with(Knob::ReverbDecayS, 0.123)
        .with(Knob::ReverbDamping, 0.4)
        .with(Knob::ReverbMix, 0.5);
    let ad = autodiff_device();
    let twin_ad = FxChainTwin::new(sr, 0, &ad);
    let k = tensor(knobs.values().to_vec(), [1, KNOB_COUNT], &ad).require_grad();
    let y = twin_ad.forward(tensor(x.clone(), [1, n], &ad), k.clone());
    let loss = (y * tensor(probe.clone(), [1, n], &ad)).sum();
    let grads = loss.backward();
    let g = values(k.grad(&grads).expect("knob gradient"));

    let dev = device();
    let twin = FxChainTwin::new(sr, 0, &dev);
    let eval = |values_: [f32; KNOB_COUNT]| -> f64 {
        let y = values(twin.forward(tensor(x.clone(), [1, n], &dev), tensor(values_.to_vec(), [1, KNOB_COUNT], &dev)));
        y.iter().zip(&probe).map(|(a, b)| *a as f64 * *b as f64).sum()
    };
    for (i, spec) in KNOBS.iter().enumerate() {
        let base = *knobs.values();
        let f = |v: f32| {
            let mut k = base;
            k[i] = v;
            eval(k)
        };
        let h = match Knob::ALL[i] {
            Knob::DelayTimeMs => 0.01, // 0.16 samples: stays inside one whole-sample interval
            Knob::ReverbDecayS => 0.001,
            _ => 1e-3 * (spec.max - spec.min),
        };
        assert_close(spec.name, g[i] as f64, central(&f, base[i], h));
    }
}

#[test]
fn synth_control_gradients_match_finite_differences() {
    let spec = ModelSpec::default();
    let (v, k, f, hop) = (spec.voices, spec.harmonics, 12, spec.hop);
    let n = f * hop;
    let controls = random_controls(&mut Xoshiro256PlusPlus::seed_from_u64(5), &spec, f);
    let (f0, _, harm, _) = control_tensors(&controls, &spec);
    let amp: Vec<f32> = (0..v * f).map(|i| 0.2 + 0.05 * (i / f) as f32).collect();
    let mags: Vec<f32> = (0..f * spec.noise_bands).map(|i| 0.01 + 0.001 * (i % 7) as f32).collect();
    let noise = noise_stream(2, f, hop);
    let probe: Vec<f32> = {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    };
    let render = |f0: &[f32], amp: &[f32], harm: &[f32], mags: &[f32], dev: &burn::tensor::Device, grad: bool| {
        let t = |vals: &[f32], shape: Vec<usize>| -> burn::tensor::Tensor<4> {
            let mut s = [1usize; 4];
            s[4 - shape.len()..].copy_from_slice(&shape);
            let t = tensor(vals.to_vec(), s, dev);
            if grad { t.require_grad() } else { t }
        };
        let (tf0, tamp, tharm, tmags) = (t(f0, vec![v, f]), t(amp, vec![v, f]), t(harm, vec![v, f, k]), t(mags, vec![f, spec.noise_bands]));
        let y = harmonic_bank(tf0.clone().reshape([1, v, f]), tamp.clone().reshape([1, v, f]), tharm.clone().reshape([1, v, f, k]), 16_000.0, hop)
            + filtered_noise(tmags.clone().reshape([1, f, spec.noise_bands]), tensor(noise.clone(), [1, (f + 1) * hop], dev), hop);
        let loss = (y * tensor(probe.clone(), [1, n], dev)).sum();
        (loss, [tf0, tamp, tharm, tmags])
    };
    let ad = autodiff_device();
    let (loss, leaves) = render(&f0, &amp, &harm, &mags, &ad, true);
    let grads = loss.backward();
    let g: Vec<Vec<f32>> = leaves.iter().map(|l| values(l.grad(&grads).expect("gradient"))).collect();
    let dev = device();
    let eval = |f0: &[f32], amp: &[f32], harm: &[f32], mags: &[f32]| values(render(f0, amp, harm, mags, &dev, false).0)[0] as f64;
    // (which control, index, step)
    let checks = [(0usize, 3usize, 0.05f32), (0, 2 * f + 7, 0.05), (1, f + 4, 1e-3), (1, 5 * f + 9, 1e-3), (2, (2 * f + 5) * k + 2, 1e-3), (2, (4 * f + 6) * k, 1e-3), (3, 5 * spec.noise_bands + 10, 1e-3), (3, 9 * spec.noise_bands, 1e-3)];
    let names = ["f0", "amplitude", "harmonic distribution", "noise magnitude"];
    for (which, i, h) in checks {
        let base = [f0.clone(), amp.clone(), harm.clone(), mags.clone()];
        let fx = |value: f32| {
            let mut c = base.clone();
            c[which][i] = value;
            eval(&c[0], &c[1], &c[2], &c[3])
        };
        assert_close(&format!("{}[{i}]", names[which]), g[which][i] as f64, central(&fx, base[which][i], h));
    }
}

#[test]
fn the_spectral_loss_is_zero_on_equal_signals_and_grows_with_a_gain_error() {
    let x = clean(7, 0.5);
    let n = x.len();
    let dev = device();
    let loss = |gain: f32| values(multiscale_spectral_loss(tensor(x.iter().map(|v| v * gain).collect(), [1, n], &dev), tensor(x.clone(), [1, n], &dev)))[0];
    assert!(loss(1.0) < 1e-6, "{}", loss(1.0));
    let (a, b, c) = (loss(1.1), loss(1.5), loss(3.0));
    assert!(0.0 < a && a < b && b < c, "{a} {b} {c}");
    // The log term alone: a gain g shifts every log magnitude by ln g in each of 6 scales.
    assert!((c - 6.0 * 3f32.ln()).abs() / c < 0.9, "{c}");
}

#[test]
fn gradient_descent_recovers_mix_drive_feedback_and_decay() {
    let x = clean(8, 1.0);
    let dev = autodiff_device();
    let chain = FxChainTwin::new(16_000.0, 0, &dev);
    let truth = random_active_knobs(&mut Xoshiro256PlusPlus::seed_from_u64(21));
    let r = Recoverer::new(&chain, x, &truth, &dev);
    for knob in [Knob::ReverbMix, Knob::DistortionDriveDb, Knob::DelayFeedback, Knob::ReverbDecayS] {
        let mut start = truth.normalized();
        let t = start[knob as usize];
        start[knob as usize] = if t > 0.5 { t - 0.35 } else { t + 0.35 };
        let rec = r.run(&[knob], start, 60, 0.05, Start::Given);
        assert!(rec.error[0] < 0.03, "{}: {rec:?}", knob.spec().name);
        assert!(rec.last_loss < rec.first_loss);
    }
}
