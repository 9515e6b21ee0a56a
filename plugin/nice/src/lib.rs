//! GDDSP as a plugin (CLAP, VST3) and a standalone app: the nice-plug glue around
//! [`gddsp_core::engine::Engine`] and the egui editor.
//!
//! Threads: the host's audio thread runs only [`Engine::process`]; the decoder runs on its
//! own thread ([`gddsp_core::engine::decoder_worker`]); a dropped or opened reference is
//! decoded and analysed on the reference worker ([`reference`]), which sends z to the
//! decoder thread and the inferred knobs to the editor. Inferred knobs never move the
//! user's knobs by themselves: the editor shows them and *Apply* sets them as one gesture.

pub mod editor;
pub mod params;
pub mod reference;
pub mod window;

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use nice_plug::prelude::*;
use parking_lot::Mutex;

use gddsp_core::engine::decoder_worker::DecoderWorker;
use gddsp_core::engine::{Engine, LiveSource, Mode};
use gddsp_core::inference::Model;
use gddsp_core::live::midi::MidiEvent;

use editor::WindowThreads;
use params::GddspParams;
use reference::{ReferenceWorker, TimbreRoute};
use window::Repaint;

/// MIDI events one block can carry to the engine (more are dropped).
const MAX_BLOCK_EVENTS: usize = 256;

pub struct Gddsp {
    params: Arc<GddspParams>,
    engine: Option<Engine>,
    /// Owned here, not by the engine: dropping it joins a thread.
    decoder: Option<DecoderWorker>,
    model: Arc<Mutex<Option<Result<Arc<Model>, String>>>>,
    timbre: TimbreRoute,
    reference: Arc<ReferenceWorker>,
    repaint: Repaint,
    midi: Vec<MidiEvent>,
    aux_ptrs: Vec<*const f32>,
    /// The latency reported at the last activation (CLAP lets latency change only inside
    /// `activate`), for the mode and input it was computed for.
    latency: Option<(Mode, LiveSource, usize)>,
    windows: Arc<WindowThreads>,
}

// SAFETY: `aux_ptrs` is scratch space only dereferenced inside `process`, on the thread
// that filled it during the same call.
unsafe impl Send for Gddsp {}

impl Default for Gddsp {
    fn default() -> Self {
        let model = Arc::new(Mutex::new(None));
        let timbre: TimbreRoute = Arc::new(Mutex::new(None));
        let repaint = Repaint::default();
        let r = repaint.clone();
        let reference = Arc::new(ReferenceWorker::spawn(model.clone(), timbre.clone(), Box::new(move || r.request())));
        Gddsp {
            params: Arc::new(GddspParams::default()),
            engine: None,
            decoder: None,
            model,
            timbre,
            reference,
            repaint,
            midi: Vec::with_capacity(MAX_BLOCK_EVENTS),
            aux_ptrs: Vec::with_capacity(gddsp_core::live::STRINGS),
            latency: None,
            windows: Arc::new(WindowThreads::default()),
        }
    }
}

impl Drop for Gddsp {
    /// The host may unload the plugin right after this: no editor thread may still be
    /// running its code (see [`WindowThreads`]). A host destroys the editor before the
    /// plugin, so its thread is only finishing its teardown (milliseconds); a host that
    /// left the editor open is not kept waiting for it.
    fn drop(&mut self) {
        if self.params.editor_state.is_open() {
            nice_warn!("the plugin was destroyed with its editor still open");
        } else if !self.windows.wait_until_exited(Duration::from_secs(2)) {
            nice_warn!("an editor window thread was still running when the plugin was destroyed");
        }
    }
}

impl Plugin for Gddsp {
    const NAME: &'static str = "GDDSP";
    const VENDOR: &'static str = "GDDSP";
    const URL: &'static str = "https://github.com/gddsp/gddsp";
    const EMAIL: &'static str = "dev@gddsp.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // Plain stereo is the default layout: a host that ignores aux inputs never sees one.
    // A hexaphonic pickup comes in on an aux input (the main input may not have more
    // channels than the main output), in the second layout: CLAP hosts pick it through
    // audio-ports-config, the standalone with `--audio-layout 2`. Not in VST3: nice-plug
    // 0.4.2 marks every bus default-active and its `setBusArrangements` compares an aux
    // bus's channel count with the main input's, so a VST3 host can never choose this
    // layout, and with it as the default a host that passes no aux buffers (JUCE under
    // pedalboard hands a 2-channel buffer) crashed inside nice-plug's buffer copy.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout { main_input_channels: NonZeroU32::new(2), main_output_channels: NonZeroU32::new(2), names: PortNames { layout: Some("Stereo"), main_input: Some("Guitar"), main_output: Some("Output"), aux_inputs: &[], aux_outputs: &[] }, ..AudioIOLayout::const_default() },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            aux_input_ports: &[new_nonzero_u32(6)],
            names: PortNames { layout: Some("Stereo + hex pickup"), main_input: Some("Guitar"), main_output: Some("Output"), aux_inputs: &["Hex pickup"], aux_outputs: &[] },
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout { main_input_channels: NonZeroU32::new(1), main_output_channels: NonZeroU32::new(1), names: PortNames { layout: Some("Mono"), main_input: Some("Guitar"), main_output: Some("Output"), aux_inputs: &[], aux_outputs: &[] }, ..AudioIOLayout::const_default() },
    ];

    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type Editor = window::GddspWindowEditor;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.reference.clone(), self.model.clone(), self.repaint.clone(), self.windows.clone())
    }

    fn activate(&mut self, layout: &AudioIOLayout, config: &BufferConfig, context: &mut impl ActivateContext<Self>) -> bool {
        let channels = layout.main_output_channels.map_or(2, NonZeroU32::get) as usize;
        let block = config.max_buffer_size.max(1) as usize;
        self.params.hex_port.store(!layout.aux_input_ports.is_empty(), Ordering::Relaxed);
        let mut engine = Engine::new(config.sample_rate, block, channels, &self.params.current_knobs());
        // Stop the previous decoder thread before its successor starts.
        self.decoder = None;
        *self.timbre.lock() = None;
        match reference::shared_model(&self.model) {
            Ok(model) => {
                let z = self.params.reference.lock().as_ref().map(|r| r.z.clone()).filter(|z| z.len() == model.info.z_dim).unwrap_or_else(|| model.info.start_z());
                match engine.attach_model(&model, z) {
                    Ok(worker) => {
                        *self.timbre.lock() = Some(worker.z_sender());
                        self.decoder = Some(worker);
                    }
                    Err(e) => nice_error!("GDDSP: cannot start the decoder thread ({e}); tone clone is off"),
                }
            }
            Err(e) => nice_log!("GDDSP: {e}; tone clone is off, FX clone works"),
        }
        let p = self.params.engine_params(0);
        let latency = engine.latency_samples(p.mode, p.source);
        context.set_latency_samples(latency as u32);
        self.latency = Some((p.mode, p.source, latency));
        self.engine = Some(engine);
        true
    }

    fn reset(&mut self) {
        if let Some(e) = &mut self.engine {
            e.reset();
        }
    }

    fn process(&mut self, buffer: &mut Buffer, aux: &mut AuxiliaryBuffers, context: &mut impl ProcessContext<Self>) -> ProcessStatus {
        let Some(engine) = &mut self.engine else { return ProcessStatus::Normal };
        self.midi.clear();
        while let Some(event) = context.next_event() {
            let e = match event {
                NoteEvent::NoteOn { channel, key, velocity, .. } => key.number().map(|note| MidiEvent::NoteOn { channel: channel.number().unwrap_or(0), note, velocity: (velocity * 127.0).round().clamp(1.0, 127.0) as u8 }),
                // A note-off for any key (a CLAP wildcard) releases every note.
                NoteEvent::NoteOff { channel, key, .. } => Some(key.number().map_or(MidiEvent::AllNotesOff, |note| MidiEvent::NoteOff { channel: channel.number().unwrap_or(0), note })),
                NoteEvent::MidiPitchBend { channel, value, .. } => Some(MidiEvent::PitchBend { channel, bend: (value * 2.0 - 1.0).clamp(-1.0, 1.0) }),
                NoteEvent::MidiCC { cc: 123, .. } => Some(MidiEvent::AllNotesOff),
                _ => None,
            };
            if let Some(e) = e {
                if self.midi.len() < MAX_BLOCK_EVENTS {
                    self.midi.push(e);
                }
            }
        }
        let p = self.params.engine_params(buffer.samples() as u32);
        let latency = engine.latency_samples(p.mode, p.source);
        if self.latency != Some((p.mode, p.source, latency)) {
            // A new mode or input changes the latency: the host must deactivate and
            // reactivate the plugin to take it (CLAP allows `latency.changed` only during
            // `activate`; clap-validator fails a plugin that reports it from `process`).
            // `activate` then reports the new figure. Asked once per change.
            context.request_restart();
            self.latency = Some((p.mode, p.source, latency));
        }
        self.aux_ptrs.clear();
        if let Some(hex) = aux.inputs.first_mut() {
            for ch in hex.as_slice_immutable() {
                self.aux_ptrs.push(ch.as_ptr());
            }
        }
        let main = buffer.as_slice();
        let n = main.first().map_or(0, |c| c.len());
        // SAFETY: the pointers come from the host's aux buffers of this call, each `n`
        // samples long, and live until `process` returns.
        let hex_slices: [&[f32]; 6] = std::array::from_fn(|s| self.aux_ptrs.get(s).map_or(&[][..], |&p| unsafe { std::slice::from_raw_parts(p, n) }));
        let hex = (self.aux_ptrs.len() >= 6).then_some(&hex_slices[..]);
        engine.process(&p, main, hex, &self.midi);
        ProcessStatus::Normal
    }
}

impl ClapPlugin for Gddsp {
    const CLAP_ID: &'static str = "org.gddsp.gddsp";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("Clones a guitar tone from a reference clip: infers its distortion, delay and reverb, and re-voices your playing with its tone.");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[ClapFeature::AudioEffect, ClapFeature::Distortion, ClapFeature::Delay, ClapFeature::Reverb, ClapFeature::Stereo, ClapFeature::Mono];
}

impl Vst3Plugin for Gddsp {
    const VST3_CLASS_ID: [u8; 16] = *b"GDDSPToneClone01";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Distortion, Vst3SubCategory::Delay, Vst3SubCategory::Reverb];
}

nice_export_clap!(Gddsp);
nice_export_vst3!(Gddsp);
