//! Cost of one training example through the whole differentiable path: six voices +
//! noise (clean), the FX chain (wet), both multi-scale spectral losses, and backward.
//!
//! Time is the median of a few runs; memory is the process's peak resident set during the
//! run (Linux: `/proc/self/status` VmHWM, reset through `/proc/self/clear_refs` before
//! each size), so it includes everything autodiff keeps for backward.

use std::time::Instant;

use gddsp_core::knobs::KNOB_COUNT;
use gddsp_core::ModelSpec;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use super::filtered_noise::{filtered_noise, noise_stream};
use super::fx_chain::FxChainTwin;
use super::harmonic::harmonic_bank;
use super::parity::{control_tensors, random_active_knobs, random_controls};
use super::spectral_loss::multiscale_spectral_loss;
use super::{autodiff_device, tensor, values};

#[derive(Debug, Clone, Serialize)]
pub struct ExampleCost {
    pub seconds: f64,
    pub forward_s: f64,
    pub backward_s: f64,
    /// Peak resident memory during the run, MiB (None where the OS does not say).
    pub peak_mib: Option<f64>,
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Forward + backward of one example of `seconds`, `runs` times.
pub fn example_cost(seconds: f64, runs: usize) -> ExampleCost {
    let spec = ModelSpec::default();
    let (v, k, hop, bands) = (spec.voices, spec.harmonics, spec.hop, spec.noise_bands);
    let f = (seconds * spec.frame_rate()).round() as usize;
    let n = f * hop;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let controls = random_controls(&mut rng, &spec, f);
    let knobs = random_active_knobs(&mut rng);
    let (f0, amp, harm, mags) = control_tensors(&controls, &spec);
    let device = autodiff_device();
    let chain = FxChainTwin::new(spec.sample_rate as f32, 0, &device);
    let noise = noise_stream(1, f, hop);
    let target: Vec<f32> = (0..n).map(|i| 0.1 * (i as f32 * 0.05).sin()).collect();
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    reset_peak();
    let before = peak_rss_kib();
    for _ in 0..runs {
        let t0 = Instant::now();
        let leaves = (
            tensor(f0.clone(), [1, v, f], &device).require_grad(),
            tensor(amp.clone(), [1, v, f], &device).require_grad(),
            tensor(harm.clone(), [1, v, f, k], &device).require_grad(),
            tensor(mags.clone(), [1, f, bands], &device).require_grad(),
            tensor(knobs.values().to_vec(), [1, KNOB_COUNT], &device).require_grad(),
        );
        let clean = harmonic_bank(leaves.0.clone(), leaves.1.clone(), leaves.2.clone(), spec.sample_rate as f32, hop)
            + filtered_noise(leaves.3.clone(), tensor(noise.clone(), [1, (f + 1) * hop], &device), hop);
        let wet = chain.forward(clean.clone(), leaves.4.clone());
        let reference = tensor(target.clone(), [1, n], &device);
        let loss = multiscale_spectral_loss(clean, reference.clone()) + multiscale_spectral_loss(wet, reference);
        let _ = values(loss.clone().detach());
        let t1 = Instant::now();
        let grads = loss.backward();
        let _ = values(leaves.4.grad(&grads).expect("knob gradient"));
        backward.push(t1.elapsed().as_secs_f64());
        forward.push((t1 - t0).as_secs_f64());
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let peak_mib = peak_rss_kib().zip(before).map(|(p, _)| p as f64 / 1024.0);
    ExampleCost { seconds: n as f64 / spec.sample_rate as f64, forward_s: median(forward), backward_s: median(backward), peak_mib }
}
