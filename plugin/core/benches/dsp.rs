//! Per-block and whole-chain cost at 48 kHz, blocks of 128 samples (one channel unless
//! named). `cargo bench -p gddsp-core`; throughput is in samples per second, so
//! × real time = throughput / 48 000.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use gddsp_core::fx::{Delay, Distortion, FxChain, Reverb};
use gddsp_core::synth::{Synth, SynthFrame};
use gddsp_core::{Knob, Knobs, ModelSpec};

const RATE: f32 = 48_000.0;
const BLOCK: usize = 128;

fn knobs() -> Knobs {
    Knobs::default()
        .with(Knob::DistortionDriveDb, 20.0)
        .with(Knob::DistortionMix, 0.6)
        .with(Knob::DelayMix, 0.3)
        .with(Knob::ReverbDecayS, 2.0)
        .with(Knob::ReverbMix, 0.3)
}

fn signal() -> Vec<f32> {
    (0..BLOCK).map(|n| (n as f32 * 0.05).sin() * 0.3).collect()
}

fn frame(spec: &ModelSpec) -> SynthFrame {
    let mut f = SynthFrame::silent(spec);
    let k = spec.harmonics;
    for (s, f0) in [82.41, 123.47, 164.81, 207.65, 246.94, 329.63].iter().enumerate() {
        f.f0_hz[s] = *f0;
        f.amplitude[s] = 0.05;
        for h in 0..k {
            f.harmonics[s * k + h] = 1.0 / k as f32;
        }
    }
    f.noise.fill(0.01);
    f
}

fn blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("block_48k_128");
    g.throughput(Throughput::Elements(BLOCK as u64));
    let x = signal();
    let k = knobs();

    let mut d = Distortion::new(RATE, k.distortion());
    g.bench_function("distortion", |b| b.iter(|| { let mut y = x.clone(); d.process(&mut y); black_box(y) }));
    let mut dl = Delay::new(RATE, k.delay());
    g.bench_function("delay", |b| b.iter(|| { let mut y = x.clone(); dl.process(&mut y); black_box(y) }));
    let mut r = Reverb::new(RATE, 1, k.reverb());
    g.bench_function("reverb_2s", |b| b.iter(|| { let mut y = x.clone(); r.process(&mut y); black_box(y) }));
    let mut chain = FxChain::new(RATE, 2, &k);
    g.bench_function("fx_chain_stereo", |b| b.iter(|| {
        let (mut l, mut rr) = (x.clone(), x.clone());
        chain.process(&mut [&mut l[..], &mut rr[..]]);
        black_box(l)
    }));

    let spec = ModelSpec::default();
    let f = frame(&spec);
    let mut harmonic_only = f.clone();
    harmonic_only.noise.fill(0.0);
    let mut noise_only = f.clone();
    noise_only.amplitude.fill(0.0);
    for (name, fr) in [("synth_harmonic_6x60", harmonic_only), ("synth_noise", noise_only), ("synth_full", f)] {
        let mut synth = Synth::new(&spec, RATE, 1);
        synth.prime(&fr);
        let mut out = vec![0.0; BLOCK];
        g.bench_function(name, |b| b.iter(|| { synth.process(&mut out, &mut |f| f.copy_from(&fr)); black_box(&out); }));
    }
    g.finish();
}

criterion_group!(benches, blocks);
criterion_main!(benches);
