//! Every real-time process path runs without touching the heap, shown by a counting
//! global allocator: blocks are built first, then counting starts.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use gddsp_core::fx::FxChain;
use gddsp_core::synth::Synth;
use gddsp_core::{Knob, Knobs, ModelSpec};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap operations made by `f` on this thread.
fn heap_operations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

#[test]
fn fx_chain_processes_and_retunes_without_allocating() {
    for rate in [22_050.0, 48_000.0, 192_000.0] {
        let on = Knobs::default()
            .with(Knob::DistortionMix, 0.7)
            .with(Knob::DelayMix, 0.5)
            .with(Knob::ReverbMix, 0.4)
            .with(Knob::ReverbDecayS, 1.0);
        let retuned = on.with(Knob::ReverbDecayS, 2.5).with(Knob::DelayTimeMs, 80.0).with(Knob::ReverbDamping, 0.9);
        let mut chain = FxChain::new(rate, 2, &on);
        let mut left = test_noise(20_000, 1);
        let mut right = test_noise(20_000, 2);
        let ops = heap_operations(|| {
            for block in [1, 17, 64, 4096, 8192] {
                for (l, r) in left.chunks_mut(block).zip(right.chunks_mut(block)).take(3) {
                    chain.process(&mut [l, r]);
                }
            }
            chain.set_knobs(&retuned);
            chain.process(&mut [&mut left[..], &mut right[..]]);
            chain.reset();
        });
        assert_eq!(ops, 0, "heap operations in the FX chain at {rate} Hz");
    }
}

#[test]
fn synth_processes_without_allocating() {
    let spec = ModelSpec::default();
    for rate in [44_100.0, 96_000.0] {
        let frame = voice_frame(&spec, &[82.4, 110.0, 146.8, 196.0, 246.9, 329.6], 0.1, 0.05);
        let mut synth = Synth::new(&spec, rate, 1);
        synth.prime(&frame);
        let mut out = vec![0.0; 20_000];
        let ops = heap_operations(|| {
            for block in [1, 17, 64, 4096] {
                for chunk in out.chunks_mut(block).take(40) {
                    synth.process(chunk, &mut |f| {
                        f.f0_hz[0] *= 1.001;
                    });
                }
            }
            synth.reset();
            synth.prime(&frame);
        });
        assert_eq!(ops, 0, "heap operations in the synth at {rate} Hz");
    }
}

#[test]
fn the_counter_does_count() {
    let ops = heap_operations(|| {
        std::hint::black_box(vec![1u8; 10]);
    });
    assert!(ops >= 1);
}

#[test]
fn live_trackers_and_midi_voices_run_without_allocating() {
    use gddsp_core::live::hex::HexTracker;
    use gddsp_core::live::midi::{MidiEvent, MidiMapping, MidiVoices};
    use gddsp_core::live::poly::PolyTracker;
    let spec = ModelSpec::default();
    let sr = spec.sample_rate as f32;
    let chord: Vec<Vec<f32>> = [82.4f32, 123.5, 164.8, 207.7, 246.9, 329.6]
        .iter()
        .map(|f| (0..8000).map(|n| 0.1 * (std::f32::consts::TAU * f * n as f32 / sr).sin()).collect())
        .collect();
    let mono: Vec<f32> = (0..8000).map(|n| chord.iter().map(|c| c[n]).sum()).collect();

    let mut hex = HexTracker::new(sr, spec.hop);
    let mut poly = PolyTracker::new(sr, spec.hop);
    let mut midi = MidiVoices::new(MidiMapping::Plain, spec.hop as f32 / sr, (-50.0, -10.0));
    // Warm up (first frames), then count over odd block sizes.
    hex.process(std::array::from_fn(|s| &chord[s][..1000]), |_| {});
    poly.process(&mono[..1000], |_| {});
    let (mut hex_frames, mut poly_frames, mut voiced) = (0, 0, 0);
    let ops = heap_operations(|| {
        let mut at = 1000;
        for block in [1usize, 7, 64, 333, 1024, 2000].iter().cycle() {
            if at + block > 8000 {
                break;
            }
            hex.process(std::array::from_fn(|s| &chord[s][at..at + block]), |f| {
                hex_frames += 1;
                voiced += f.confidence.iter().filter(|c| **c > 0.0).count();
            });
            poly.process(&mono[at..at + block], |f| poly_frames += f.notes().count().min(1));
            at += block;
        }
        for note in [40u8, 45, 50, 55, 59, 64, 30, 100] {
            midi.handle(MidiEvent::NoteOn { channel: 0, note, velocity: 100 });
            midi.handle(MidiEvent::bend_from_u14(0, 12_000));
            let _ = midi.frame();
        }
        midi.handle(MidiEvent::AllNotesOff);
        let _ = midi.frame();
    });
    assert_eq!(ops, 0, "the live trackers touched the heap {ops} times");
    assert!(hex_frames > 50 && voiced > 5 * hex_frames, "hex: {hex_frames} frames, {voiced} voiced string-frames");
    assert!(poly_frames > 50, "poly: only {poly_frames} frames with notes");
}

#[test]
fn engine_processes_both_modes_without_allocating() {
    use gddsp_core::engine::{Engine, EngineParams, LiveSource, Mode, ToneControls};
    use gddsp_core::inference::Model;
    use gddsp_core::live::midi::MidiEvent;
    let model = Model::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")).expect("the shipped model loads");
    let rate = 44_100.0;
    let knobs = Knobs::default().with(Knob::DistortionMix, 0.5).with(Knob::DelayMix, 0.4).with(Knob::ReverbMix, 0.3);
    let mut engine = Engine::new(rate, 512, 2, &knobs);
    let _worker = engine.attach_model(&model, vec![0.0; model.info.z_dim]).expect("decoder thread");
    let guitar = sine(rate, 196.0, 0.3, 44_100);
    let strings: Vec<Vec<f32>> = (0..6).map(|s| sine(rate, 82.4 * (s + 1) as f32, 0.1, 44_100)).collect();
    let (mut left, mut right) = (guitar.clone(), guitar.clone());
    let sources = [LiveSource::Mono, LiveSource::Hex, LiveSource::Midi];
    let notes = [MidiEvent::NoteOn { channel: 0, note: 52, velocity: 100 }, MidiEvent::NoteOff { channel: 0, note: 52 }];
    // Build every path once (first frames, mode switches), then count.
    let mut step = |engine: &mut Engine, i: usize, at: usize, n: usize| {
        let params = EngineParams {
            mode: if i % 4 == 3 { Mode::FxClone } else { Mode::ToneClone },
            source: sources[i % 3],
            knobs: knobs.with(Knob::DelayTimeMs, 200.0 + (i % 5) as f32),
            dry_wet: 0.8,
            output_gain_db: -3.0,
            tone: ToneControls { pitch_shift_st: (i % 3) as f32, ..ToneControls::default() },
        };
        let hex: [&[f32]; 6] = std::array::from_fn(|s| &strings[s][at..at + n]);
        let mut main = [&mut left[at..at + n], &mut right[at..at + n]];
        engine.process(&params, &mut main, Some(&hex), &notes[i % 2..i % 2 + 1]);
    };
    let blocks = [1usize, 64, 333, 512, 700];
    let mut at = 0;
    for (i, n) in blocks.iter().enumerate() {
        step(&mut engine, i, at, *n);
        at += n;
    }
    let ops = heap_operations(|| {
        for (i, n) in blocks.iter().cycle().take(40).enumerate() {
            // A host resets on the audio thread when processing starts (CLAP
            // `start_processing`): that must not allocate either.
            if i % 13 == 12 {
                engine.reset();
            }
            step(&mut engine, i, at, *n);
            at += n;
        }
    });
    assert_eq!(ops, 0, "the engine touched the heap {ops} times");
    assert!(left.iter().chain(&right).all(|v| v.is_finite()));
}

#[test]
fn native_decoder_steps_without_allocating() {
    use gddsp_core::inference::Model;
    use gddsp_core::synth::SynthFrame;
    let model = Model::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")).expect("the shipped model loads");
    assert_eq!(model.decoder_backend(), "native");
    let spec = model.spec().clone();
    let mut stream = model.decoder();
    let mut frame = SynthFrame::silent(&spec);
    let z: Vec<f32> = (0..model.info.z_dim).map(|j| (j as f32).cos()).collect();
    let controls: Vec<f32> = (0..spec.voices * 3).map(|j| (j as f32 * 0.3).sin()).collect();
    let ops = heap_operations(|| {
        for _ in 0..50 {
            stream.step_into(&controls, &z, &mut frame).expect("a native step");
        }
        stream.reset();
    });
    assert_eq!(ops, 0, "the native decoder touched the heap {ops} times");
    assert!(frame.amplitude.iter().all(|a| *a > 0.0) && (frame.harmonics[..spec.harmonics].iter().sum::<f32>() - 1.0).abs() < 1e-4);
}
