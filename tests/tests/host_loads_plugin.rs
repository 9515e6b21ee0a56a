//! A CLAP host (clack-host) loads the built plugin as a DAW would, activates it, and runs
//! audio through it: with the default knobs (every effect bypassed) the guitar comes out
//! untouched, and NaN or infinite input never reaches the output.

use std::ffi::CStr;
use std::path::PathBuf;

use clack_host::prelude::*;

struct Shared;

impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

struct Host;

impl HostHandlers for Host {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// The cdylib cargo built for this test run: as a dependency of this crate it lands next
/// to the test binary in `target/<profile>/deps/` (a direct build puts it one up).
fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let candidates = [deps.join("libgddsp_plugin.so"), deps.parent().unwrap().join("libgddsp_plugin.so")];
    candidates.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| panic!("libgddsp_plugin.so was not built (looked at {candidates:?})"))
}

const BLOCK: usize = 512;

/// Runs `input` (stereo) through a fresh instance, block by block, with a silent
/// 6-channel hex pickup on the aux input.
fn process(input: &[Vec<f32>; 2]) -> [Vec<f32>; 2] {
    let host_info = HostInfo::new("gddsp-e2e", "GDDSP", "https://example.invalid", "0.1").unwrap();
    // SAFETY: the library is our own plugin, built by this cargo run.
    let entry = unsafe { PluginEntry::load(plugin_library()) }.expect("the .so is a CLAP entry");
    let factory = entry.get_plugin_factory().expect("a plugin factory");
    let descriptor = factory.plugin_descriptors().find(|d| d.id().map(CStr::to_bytes) == Some(b"org.gddsp.gddsp")).expect("the GDDSP descriptor");
    assert_eq!(descriptor.name().map(CStr::to_bytes), Some(&b"GDDSP"[..]));
    let id = descriptor.id().unwrap().to_owned();
    let mut instance = PluginInstance::<Host>::new(|_| Shared, |_| (), &entry, &id, &host_info).expect("instantiates");
    let config = PluginAudioConfiguration { sample_rate: 48_000.0, min_frames_count: 1, max_frames_count: BLOCK as u32 };
    let processor = instance.activate(|_, _| (), config).expect("activates");
    let mut out = [vec![0.0f32; input[0].len()], vec![0.0f32; input[0].len()]];
    let mut processor = processor.start_processing().expect("starts processing");
    let mut input_ports = AudioPorts::with_capacity(8, 2);
    let mut output_ports = AudioPorts::with_capacity(2, 1);
    let events = EventBuffer::new();
    let mut out_events = EventBuffer::new();
    let mut start = 0;
    while start < input[0].len() {
        let n = BLOCK.min(input[0].len() - start);
        let mut ins = vec![input[0][start..start + n].to_vec(), input[1][start..start + n].to_vec()];
        ins.extend((0..6).map(|_| vec![0.0f32; n]));
        let (main_in, hex) = ins.split_at_mut(2);
        let (left, right) = out.split_at_mut(1);
        let mut outs = [&mut left[0][start..start + n], &mut right[0][start..start + n]];
        let inputs = input_ports.with_input_buffers([
            AudioPortBuffer { latency: 0, channels: AudioPortBufferType::f32_input_only(main_in.iter_mut().map(channel as fn(&mut Vec<f32>) -> InputChannel<'_, f32>)) },
            AudioPortBuffer { latency: 0, channels: AudioPortBufferType::f32_input_only(hex.iter_mut().map(channel as fn(&mut Vec<f32>) -> InputChannel<'_, f32>)) },
        ]);
        let mut outputs = output_ports.with_output_buffers([AudioPortBuffer { latency: 0, channels: AudioPortBufferType::f32_output_only(outs.iter_mut().map(|b| &mut **b)) }]);
        processor.process(&inputs, &mut outputs, &InputEvents::from_buffer(&events), &mut OutputEvents::from_buffer(&mut out_events), None, None).expect("processes");
        start += n;
    }
    instance.deactivate(processor.stop_processing());
    out
}

fn channel(b: &mut Vec<f32>) -> InputChannel<'_, f32> {
    InputChannel::variable(b.as_mut_slice())
}

fn guitar_like(len: usize) -> Vec<f32> {
    (0..len).map(|i| {
        let t = i as f32 / 48_000.0;
        0.3 * (-(t % 0.5) * 4.0).exp() * ((std::f32::consts::TAU * 110.0 * t).sin() + 0.5 * (std::f32::consts::TAU * 220.0 * t).sin())
    }).collect()
}

#[test]
fn a_clap_host_runs_the_plugin_and_the_bypassed_chain_is_transparent() {
    let x = guitar_like(24_000);
    let out = process(&[x.clone(), x.clone()]);
    for ch in &out {
        let err = ch.iter().zip(&x).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(err < 1e-5, "default knobs changed the guitar by up to {err}");
    }
}

#[test]
fn non_finite_input_never_reaches_the_host() {
    let mut x = guitar_like(12_000);
    x[3_000] = f32::NAN;
    x[7_000] = f32::INFINITY;
    let out = process(&[x.clone(), x]);
    assert!(out.iter().flatten().all(|v| v.is_finite()), "NaN or inf reached the host");
}
