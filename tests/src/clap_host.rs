//! A small CLAP host (on `clack-host`) for the plugin's end-to-end tests and its benchmark:
//! loads the built `libgddsp_plugin.so` as a DAW would, sets parameters (as the host's
//! flush when inactive, as sample-accurate events while processing), runs stereo audio —
//! with a 6-channel hex pickup on the aux input once [`Plugin::use_hex_pickup`] picked that
//! port configuration — and MIDI notes, honours the plugin's restart requests, reads the
//! latency it reports and saves and loads its state.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::gui::{GuiSize, HostGui, HostGuiImpl};
use clack_extensions::latency::PluginLatency;
use clack_extensions::params::{ParamInfoBuffer, ParamInfoFlags, PluginParams};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{NoteOffEvent, NoteOnEvent, ParamValueEvent};
use clack_host::events::Match;
use clack_host::extensions::{Extension, PluginExtensionSide};
use clack_host::prelude::*;

pub const PLUGIN_ID: &[u8] = b"org.gddsp.gddsp";
pub const HEX_CHANNELS: usize = 6;
/// The plugin's port configuration with the hex pickup's aux input.
pub const HEX_LAYOUT: &[u8] = b"Stereo + hex pickup";

#[derive(Default)]
pub struct Shared {
    restart_requested: AtomicBool,
    callback_requested: AtomicBool,
}

impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {
        self.restart_requested.store(true, Ordering::SeqCst);
    }
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::SeqCst);
    }
}

/// The editor test embeds the editor in a fixed-size window: requests to resize, show or
/// hide are acknowledged and nothing more.
impl HostGuiImpl for Shared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _new_size: GuiSize) -> Result<(), HostError> {
        Ok(())
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

pub struct Host;

impl HostHandlers for Host {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        // nice-plug's editor needs the host's side of the gui extension.
        builder.register::<HostGui>();
    }
}

/// The cdylib cargo built for this run: as a dependency of this crate it lands in
/// `target/<profile>/deps/`, next to test and bench binaries (a direct build puts it one
/// level up).
pub fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().expect("the running binary's path");
    let deps = exe.parent().expect("a directory");
    let candidates = [deps.join("libgddsp_plugin.so"), deps.parent().expect("target/<profile>").join("libgddsp_plugin.so")];
    candidates.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| panic!("libgddsp_plugin.so was not built (looked at {candidates:?})"))
}

/// nice-plug's CLAP parameter id: a Rabin fingerprint of the string id (mirrors
/// `nice_plug::wrapper::util::hash_param_id`, which is not public API).
pub fn param_id(id: &str) -> u32 {
    let mut hash: u32 = 0;
    for b in id.bytes() {
        hash = hash.wrapping_mul(31).wrapping_add(b as u32);
    }
    hash & !(1 << 31)
}

/// A parameter as the host lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamListing {
    pub id: u32,
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub automatable: bool,
}

/// Something that happens at a sample of a block.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Param { at: u32, id: u32, value: f64 },
    NoteOn { at: u32, channel: u16, key: u16, velocity: f64 },
    NoteOff { at: u32, channel: u16, key: u16 },
}

impl Event {
    fn at(&self) -> u32 {
        match *self {
            Event::Param { at, .. } | Event::NoteOn { at, .. } | Event::NoteOff { at, .. } => at,
        }
    }
}

pub struct Plugin {
    // Field order matters: the instance must go before the library it came from.
    processor: Option<StartedPluginAudioProcessor<Host>>,
    instance: PluginInstance<Host>,
    _entry: PluginEntry,
    config: Option<PluginAudioConfiguration>,
    max_block: usize,
    ports_in: AudioPorts,
    ports_out: AudioPorts,
    events: EventBuffer,
    out_events: EventBuffer,
    /// Scratch channels for one block: main in (2), hex (6), out (2).
    scratch: Vec<Vec<f32>>,
    /// The hex pickup's port configuration is selected: blocks carry the aux input.
    hex_port: bool,
    pub restarts: usize,
}

impl Plugin {
    pub fn load(path: &Path) -> Plugin {
        let host_info = HostInfo::new("gddsp-e2e", "GDDSP", "https://example.invalid", "0.1").expect("host info");
        // SAFETY: the library is our own plugin, built by this cargo run.
        let entry = unsafe { PluginEntry::load(path) }.expect("the .so is a CLAP entry");
        let factory = entry.get_plugin_factory().expect("a plugin factory");
        let descriptor = factory.plugin_descriptors().find(|d| d.id().map(CStr::to_bytes) == Some(PLUGIN_ID)).expect("the GDDSP descriptor");
        let id = descriptor.id().expect("an id").to_owned();
        let instance = PluginInstance::<Host>::new(|_| Shared::default(), |_| (), &entry, &id, &host_info).expect("instantiates");
        Plugin {
            processor: None,
            instance,
            _entry: entry,
            config: None,
            max_block: 0,
            ports_in: AudioPorts::with_capacity(2 + HEX_CHANNELS, 2),
            ports_out: AudioPorts::with_capacity(2, 1),
            events: EventBuffer::with_capacity(64),
            out_events: EventBuffer::with_capacity(64),
            scratch: vec![Vec::new(); 2 + HEX_CHANNELS + 2],
            hex_port: false,
            restarts: 0,
        }
    }

    /// One of the plugin's extensions (gui, params, …), if it has it.
    pub fn extension<E: Extension<ExtensionSide = PluginExtensionSide>>(&self) -> Option<E> {
        self.instance.plugin_shared_handle().get_extension()
    }

    /// The handle main-thread extension calls take.
    pub fn main_thread(&mut self) -> PluginMainThreadHandle<'_> {
        self.instance.plugin_handle()
    }

    pub fn params(&mut self) -> Vec<ParamListing> {
        let params: PluginParams = self.instance.plugin_shared_handle().get_extension().expect("the params extension");
        let mut handle = self.instance.plugin_handle();
        let mut buffer = ParamInfoBuffer::new();
        (0..params.count(&handle))
            .filter_map(|i| {
                params.get_info(&mut handle, i, &mut buffer).map(|info| ParamListing {
                    id: info.id.get(),
                    name: String::from_utf8_lossy(info.name).into_owned(),
                    min: info.min_value,
                    max: info.max_value,
                    default: info.default_value,
                    automatable: info.flags.contains(ParamInfoFlags::IS_AUTOMATABLE),
                })
            })
            .collect()
    }

    pub fn value(&mut self, id: u32) -> Option<f64> {
        let params: PluginParams = self.instance.plugin_shared_handle().get_extension().expect("the params extension");
        params.get_value(&mut self.instance.plugin_handle(), ClapId::new(id))
    }

    /// The value a host sends for a continuous parameter at `physical` (dB, ms, …):
    /// nice-plug shows continuous parameters to CLAP normalised to 0–1 (stepped ones as
    /// their index), so the plugin converts, from text, as a host's value entry does.
    pub fn clap_value(&mut self, id: u32, physical: f64) -> f64 {
        let params: PluginParams = self.extension().expect("the params extension");
        let text = std::ffi::CString::new(format!("{physical}")).expect("no NUL");
        params.text_to_value(&mut self.instance.plugin_handle(), ClapId::new(id), &text).unwrap_or_else(|| panic!("parameter {id} does not take {physical}"))
    }

    /// Sets parameters (CLAP values, see [`Plugin::clap_value`]) while inactive, as a host
    /// does before playback.
    pub fn flush(&mut self, values: &[(u32, f64)]) {
        assert!(self.processor.is_none(), "flush is for an inactive plugin; send events while processing");
        let params: PluginParams = self.instance.plugin_shared_handle().get_extension().expect("the params extension");
        let mut events = EventBuffer::with_capacity(values.len());
        for &(id, value) in values {
            events.push(&ParamValueEvent::new(0, ClapId::new(id), Pckn::match_all(), value));
        }
        let mut out = EventBuffer::new();
        let mut handle = self.instance.inactive_plugin_handle().expect("inactive");
        params.flush(&mut handle, &InputEvents::from_buffer(&events), &mut OutputEvents::from_buffer(&mut out));
    }

    /// The names of the plugin's port configurations (audio-ports-config), in its order;
    /// the first is the default.
    pub fn port_configs(&mut self) -> Vec<String> {
        let ext: PluginAudioPortsConfig = self.extension().expect("the audio-ports-config extension");
        let handle = self.instance.plugin_handle();
        let mut buffer = AudioPortsConfigBuffer::new();
        (0..ext.count(&handle)).map(|i| String::from_utf8_lossy(ext.get(&handle, i, &mut buffer).expect("a listed config").name).into_owned()).collect()
    }

    /// Selects the port configuration with the hex pickup's aux input, as a host does when
    /// a guitarist routes a hex pickup in. Call before [`Plugin::activate`].
    pub fn use_hex_pickup(&mut self) {
        assert!(self.processor.is_none(), "a port configuration is chosen while inactive");
        let ext: PluginAudioPortsConfig = self.extension().expect("the audio-ports-config extension");
        let handle = self.instance.plugin_handle();
        let mut buffer = AudioPortsConfigBuffer::new();
        let id = (0..ext.count(&handle)).find_map(|i| ext.get(&handle, i, &mut buffer).filter(|c| c.name == HEX_LAYOUT).map(|c| c.id)).expect("a hex pickup configuration");
        ext.select(&mut self.instance.plugin_handle(), id).expect("selects the hex pickup configuration");
        self.hex_port = true;
    }

    /// Activates at `sample_rate` for blocks of up to `max_block` and starts processing.
    pub fn activate(&mut self, sample_rate: f64, max_block: usize) {
        let config = PluginAudioConfiguration { sample_rate, min_frames_count: 1, max_frames_count: max_block as u32 };
        let stopped = self.instance.activate(|_, _| (), config).expect("activates");
        self.processor = Some(stopped.start_processing().expect("starts processing"));
        self.config = Some(config);
        self.max_block = max_block;
        for ch in self.scratch.iter_mut() {
            ch.clear();
            ch.resize(max_block, 0.0);
        }
        self.idle();
    }

    pub fn deactivate(&mut self) {
        if let Some(p) = self.processor.take() {
            self.instance.deactivate(p.stop_processing());
        }
    }

    /// What the host does between blocks on its main thread: runs the plugin's main-thread
    /// callback when asked, and restarts it (deactivate, activate) when asked — which is how
    /// a CLAP plugin gets a new latency to the host.
    pub fn idle(&mut self) {
        let shared_flags = self.instance.access_shared_handler(|s| (s.callback_requested.swap(false, Ordering::SeqCst), s.restart_requested.swap(false, Ordering::SeqCst)));
        let (callback, restart) = shared_flags;
        if callback {
            self.instance.call_on_main_thread_callback();
        }
        if restart {
            if let Some(config) = self.config {
                self.deactivate();
                self.restarts += 1;
                let stopped = self.instance.activate(|_, _| (), config).expect("reactivates");
                self.processor = Some(stopped.start_processing().expect("starts processing"));
                // Activation may ask for another main-thread pass (nice-plug reports the
                // new latency through one).
                self.idle();
            }
        }
    }

    /// The latency the plugin reports now, samples.
    pub fn latency(&mut self) -> u32 {
        let latency: PluginLatency = self.instance.plugin_shared_handle().get_extension().expect("the latency extension");
        latency.get(&mut self.instance.plugin_handle())
    }

    pub fn save_state(&mut self) -> Vec<u8> {
        let state: PluginState = self.instance.plugin_shared_handle().get_extension().expect("the state extension");
        let mut bytes = Vec::new();
        state.save(&mut self.instance.plugin_handle(), &mut bytes).expect("saves its state");
        bytes
    }

    /// Loads a saved state; `false` if the plugin refused it.
    pub fn load_state(&mut self, bytes: &[u8]) -> bool {
        let state: PluginState = self.instance.plugin_shared_handle().get_extension().expect("the state extension");
        state.load(&mut self.instance.plugin_handle(), &mut &bytes[..]).is_ok()
    }

    /// One block: `input` (stereo) and, with the hex configuration selected, `hex` (six
    /// strings, or silence) in, stereo out, `events` at their sample offsets (sorted). Then
    /// the host's main-thread pass.
    pub fn process(&mut self, input: [&[f32]; 2], hex: Option<&[&[f32]; HEX_CHANNELS]>, out: [&mut [f32]; 2], events: &[Event]) {
        let n = input[0].len();
        assert!(n <= self.max_block, "block of {n} over the activated maximum");
        assert!(hex.is_none() || self.hex_port, "hex input needs use_hex_pickup() first");
        self.events.clear();
        for e in events {
            debug_assert!(e.at() < n as u32);
            match *e {
                Event::Param { at, id, value } => self.events.push(&ParamValueEvent::new(at, ClapId::new(id), Pckn::match_all(), value)),
                Event::NoteOn { at, channel, key, velocity } => self.events.push(&NoteOnEvent::new(at, Pckn::new(0u16, channel, key, Match::All), velocity)),
                Event::NoteOff { at, channel, key } => self.events.push(&NoteOffEvent::new(at, Pckn::new(0u16, channel, key, Match::All), 0.0)),
            }
        }
        self.out_events.clear();
        // Each scratch channel is exactly this block long (capacity stays at the maximum).
        for ch in self.scratch.iter_mut() {
            ch.resize(n, 0.0);
        }
        let (ins, outs) = self.scratch.split_at_mut(2 + HEX_CHANNELS);
        for (ch, x) in ins[..2].iter_mut().zip(input) {
            ch[..n].copy_from_slice(x);
        }
        for (s, ch) in ins[2..].iter_mut().enumerate() {
            match hex {
                Some(h) => ch[..n].copy_from_slice(h[s]),
                None => ch[..n].fill(0.0),
            }
        }
        let ports = if self.hex_port { 2 } else { 1 };
        let (main_in, hex_in) = ins.split_at_mut(2);
        let inputs = self.ports_in.with_input_buffers(
            [
                AudioPortBuffer { latency: 0, channels: AudioPortBufferType::f32_input_only(main_in.iter_mut().map(channel as fn(&mut Vec<f32>) -> InputChannel<'_, f32>)) },
                AudioPortBuffer { latency: 0, channels: AudioPortBufferType::f32_input_only(hex_in.iter_mut().map(channel as fn(&mut Vec<f32>) -> InputChannel<'_, f32>)) },
            ]
            .into_iter()
            .take(ports),
        );
        let mut outputs = self.ports_out.with_output_buffers([AudioPortBuffer { latency: 0, channels: AudioPortBufferType::f32_output_only(outs.iter_mut().map(|c| c.as_mut_slice())) }]);
        let processor = self.processor.as_mut().expect("activated");
        processor.process(&inputs, &mut outputs, &InputEvents::from_buffer(&self.events), &mut OutputEvents::from_buffer(&mut self.out_events), None, None).expect("processes");
        for (o, ch) in out.into_iter().zip(outs.iter()) {
            o.copy_from_slice(ch);
        }
        self.idle();
    }
}

impl Event {
    fn shifted(self, by: u32) -> Event {
        match self {
            Event::Param { at, id, value } => Event::Param { at: at - by, id, value },
            Event::NoteOn { at, channel, key, velocity } => Event::NoteOn { at: at - by, channel, key, velocity },
            Event::NoteOff { at, channel, key } => Event::NoteOff { at: at - by, channel, key },
        }
    }
}

impl Plugin {
    /// Runs whole signals through in blocks of `block`, `events` at absolute sample
    /// positions. With `pace`, blocks are handed over no faster than real time at that
    /// sample rate, as a host's audio callback would (the decoder thread gets its time).
    pub fn render(&mut self, input: [&[f32]; 2], hex: Option<&[Vec<f32>]>, events: &[Event], block: usize, pace: Option<f64>) -> [Vec<f32>; 2] {
        let len = input[0].len();
        let mut out = [vec![0.0f32; len], vec![0.0f32; len]];
        let mut block_events = Vec::with_capacity(events.len());
        let started = std::time::Instant::now();
        let mut start = 0;
        while start < len {
            let n = block.min(len - start);
            block_events.clear();
            block_events.extend(events.iter().filter(|e| (start..start + n).contains(&(e.at() as usize))).map(|e| e.shifted(start as u32)));
            let hex_block: Option<[&[f32]; HEX_CHANNELS]> = hex.map(|h| std::array::from_fn(|s| &h[s][start..start + n]));
            let (l, r) = out.split_at_mut(1);
            self.process([&input[0][start..start + n], &input[1][start..start + n]], hex_block.as_ref(), [&mut l[0][start..start + n], &mut r[0][start..start + n]], &block_events);
            start += n;
            if let Some(rate) = pace {
                let due = std::time::Duration::from_secs_f64(start as f64 / rate);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        out
    }
}

fn channel(c: &mut Vec<f32>) -> InputChannel<'_, f32> {
    InputChannel::variable(c.as_mut_slice())
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.deactivate();
    }
}
