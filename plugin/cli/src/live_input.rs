//! The player's notes as the six voices' controls, from the three kinds of input the
//! plugin takes live — a hex pickup (6 channels), a mono guitar, a MIDI file — through the
//! same real-time trackers ([`gddsp_core::live`]) the plugin runs, and `gddsp pitch`.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use gddsp_core::analysis::loudness::FLOOR_DB;
use gddsp_core::analysis::pitch::open_string_hz;
use gddsp_core::analysis::ChannelFeatures;
use gddsp_core::audio_io::{self, Audio};
use gddsp_core::live::hex::HexTracker;
use gddsp_core::live::midi::{MidiEvent, MidiMapping, MidiVoices};
use gddsp_core::live::poly::PolyTracker;
use gddsp_core::live::{hz_to_midi, StringFrame, STRINGS};
use gddsp_core::ModelSpec;

/// What `--input` holds for `clone --mode tone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputKind {
    /// `.mid`/`.midi` → midi, a 6-channel recording → hex, anything else → mono.
    Auto,
    /// A 6-channel recording, one string per channel, channel 1 = low E.
    Hex,
    /// A guitar on one channel (more channels are mixed down): the polyphonic tracker.
    Mono,
    /// A single-note line on one channel: the monophonic tracker (YIN), each note on the
    /// string that plays it at the lowest fret. Cleaner than `mono` where only one note
    /// sounds at a time and the tone is bright or inharmonic (see `line_features`).
    Line,
    /// A standard MIDI file.
    Midi,
}

/// How MIDI channels map to strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MidiMode {
    /// Channel per string when every note is on channels 1–6 or 2–7 and more than one of
    /// them is used (a MIDI guitar in mono mode); plain otherwise.
    Auto,
    /// Channels 1–6 are strings 1–6, 1 = high E (2–7 when channel 7 has notes and
    /// channel 1 none).
    PerString,
    /// Any channel; each note goes to the playable string at the lowest fret.
    Plain,
}

pub fn is_midi_path(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
}

/// The kind `auto` resolves to for this file (audio files are opened to count channels).
pub fn resolve_kind(kind: InputKind, path: &Path, audio: Option<&Audio>) -> InputKind {
    match kind {
        InputKind::Auto if is_midi_path(path) => InputKind::Midi,
        InputKind::Auto if audio.is_some_and(|a| a.channels.len() == STRINGS) => InputKind::Hex,
        InputKind::Auto => InputKind::Mono,
        k => k,
    }
}

/// A tracker's frame `i`, ready at sample `(i + 1) · hop`, first reports a note that
/// started `onset_delay` samples earlier; the model's frame `t` is centred on `t · hop`
/// and the decoder sounds a string in the first frame that reports it. The frame that
/// reports a note starting at `t · hop` is `t + shift`. (Timing by the trackers' window
/// centres, `latency_samples()`, started notes 9 ms (hex) and 19 ms (mono) early.)
fn frame_shift(onset_delay: usize, hop: usize) -> usize {
    ((onset_delay as f64 / hop as f64).round() as usize).saturating_sub(1)
}

/// Live frames → per-string feature tracks aligned to the model's frames.
fn to_features(frames: &[StringFrame], shift: usize, len: usize) -> Vec<ChannelFeatures> {
    let mut out = vec![ChannelFeatures { f0_hz: vec![0.0; len], confidence: vec![0.0; len], loudness_db: vec![FLOOR_DB; len] }; STRINGS];
    for t in 0..len {
        let Some(f) = frames.get(t + shift) else { break };
        for (s, c) in out.iter_mut().enumerate() {
            c.f0_hz[t] = f.f0_hz[s];
            c.confidence[t] = f.confidence[s];
            c.loudness_db[t] = f.loudness_db[s];
        }
    }
    out
}

/// Per-string features of a hex recording (already at the model rate), through the live
/// per-string trackers.
pub fn hex_features(at_rate: &Audio, spec: &ModelSpec) -> anyhow::Result<Vec<ChannelFeatures>> {
    if at_rate.channels.len() != STRINGS {
        bail!("a hex input needs {STRINGS} channels (one per string, channel 1 = low E), this one has {}", at_rate.channels.len());
    }
    let mut hex = HexTracker::new(spec.sample_rate as f32, spec.hop);
    let frames = hex.track(&at_rate.channels, spec.hop);
    Ok(to_features(&frames, frame_shift(hex.onset_delay_samples(), spec.hop), at_rate.len().div_ceil(spec.hop)))
}

/// Per-string features of a mono guitar (at the model rate), through the live polyphonic
/// tracker and its string assignment.
pub fn mono_features(at_rate: &Audio, spec: &ModelSpec) -> Vec<ChannelFeatures> {
    let mut poly = PolyTracker::new(spec.sample_rate as f32, spec.hop);
    let shift = frame_shift(poly.onset_delay_samples(), spec.hop);
    let mut mono = at_rate.mix_down();
    let len = mono.len();
    // Pad so the last notes are reported too.
    mono.resize(len + (shift + 1) * spec.hop, 0.0);
    let frames: Vec<StringFrame> = poly.track(&mono, spec.hop).iter().map(|f| f.strings).collect();
    to_features(&frames, shift, len.div_ceil(spec.hop))
}

/// Per-string features of a single-note line (at the model rate) by the monophonic
/// tracker: each voiced frame goes to the string that plays it at the lowest fret, kept
/// while the note stays within that string's reach, so a line does not hop strings note
/// by note. The polyphonic tracker hears a bright, inharmonic pluck (sox's `pluck`, the
/// shipped riff) as several notes: a lone A2 read as five to six; YIN reads it as one.
pub fn line_features(at_rate: &Audio, spec: &ModelSpec) -> Vec<ChannelFeatures> {
    let mono = gddsp_core::analysis::channel_features(&at_rate.mix_down(), spec);
    let frames = mono.f0_hz.len();
    let mut strings = vec![ChannelFeatures { f0_hz: vec![0.0; frames], confidence: vec![0.0; frames], loudness_db: vec![FLOOR_DB; frames] }; STRINGS];
    let mut current: Option<usize> = None;
    for t in 0..frames {
        let f = mono.f0_hz[t];
        if mono.confidence[t] < gddsp_core::inference::controls::VOICED || f <= 0.0 {
            current = None;
            continue;
        }
        let reach = |s: usize| f >= open_string_hz(s) * 0.97 && f <= open_string_hz(s) * 4.0;
        let s = match current {
            Some(s) if reach(s) => s,
            _ => (0..STRINGS).rev().find(|&s| f >= open_string_hz(s) * 0.97).unwrap_or(0),
        };
        current = Some(s);
        strings[s].f0_hz[t] = f;
        strings[s].confidence[t] = mono.confidence[t];
        strings[s].loudness_db[t] = mono.loudness_db[t];
    }
    strings
}

/// A MIDI file's events in seconds, all tracks merged, tempo changes followed.
pub fn read_midi(path: &Path) -> anyhow::Result<Vec<(f64, MidiEvent)>> {
    use midly::{MetaMessage, MidiMessage, Timing, TrackEventKind};
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let smf = midly::Smf::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: not a standard MIDI file ({e})", path.display()))?;
    // (tick, track, order, kind) so simultaneous events keep their file order.
    let mut events = Vec::new();
    for (track, events_of) in smf.tracks.iter().enumerate() {
        let mut tick = 0u64;
        for (i, e) in events_of.iter().enumerate() {
            tick += u32::from(e.delta) as u64;
            events.push((tick, track, i, e.kind));
        }
    }
    events.sort_by_key(|(tick, track, i, _)| (*tick, *track, *i));
    let seconds_per_tick_at = |us_per_beat: u32| -> f64 {
        match smf.header.timing {
            Timing::Metrical(tpb) => us_per_beat as f64 * 1e-6 / u16::from(tpb).max(1) as f64,
            Timing::Timecode(fps, sub) => 1.0 / (fps.as_f32() as f64 * sub.max(1) as f64),
        }
    };
    let (mut seconds, mut last_tick, mut spt) = (0.0, 0u64, seconds_per_tick_at(500_000));
    let mut out = Vec::new();
    for (tick, _, _, kind) in events {
        seconds += (tick - last_tick) as f64 * spt;
        last_tick = tick;
        match kind {
            TrackEventKind::Meta(MetaMessage::Tempo(t)) => spt = seconds_per_tick_at(u32::from(t)),
            TrackEventKind::Midi { channel, message } => {
                let channel = u8::from(channel);
                let event = match message {
                    MidiMessage::NoteOn { key, vel } => MidiEvent::NoteOn { channel, note: key.into(), velocity: vel.into() },
                    MidiMessage::NoteOff { key, .. } => MidiEvent::NoteOff { channel, note: key.into() },
                    MidiMessage::PitchBend { bend } => MidiEvent::bend_from_u14(channel, bend.0.into()),
                    // All sound off / all notes off.
                    MidiMessage::Controller { controller, .. } if matches!(u8::from(controller), 120 | 123) => MidiEvent::AllNotesOff,
                    _ => continue,
                };
                out.push((seconds, event));
            }
            _ => {}
        }
    }
    if !out.iter().any(|(_, e)| matches!(e, MidiEvent::NoteOn { velocity: 1.., .. })) {
        bail!("{}: the MIDI file has no notes", path.display());
    }
    Ok(out)
}

/// The mapping `mode` resolves to for these events.
pub fn resolve_midi_mode(mode: MidiMode, events: &[(f64, MidiEvent)]) -> MidiMapping {
    let channels: Vec<u8> = events.iter().filter_map(|(_, e)| if let MidiEvent::NoteOn { channel, .. } = e { Some(*channel) } else { None }).collect();
    let (lo, hi) = (channels.iter().copied().min().unwrap_or(0), channels.iter().copied().max().unwrap_or(0));
    let first = if lo >= 1 && hi == 6 { 1 } else { 0 };
    match mode {
        MidiMode::PerString => MidiMapping::ChannelPerString { first },
        MidiMode::Plain => MidiMapping::Plain,
        MidiMode::Auto if hi > lo && hi <= first + 5 => MidiMapping::ChannelPerString { first },
        MidiMode::Auto => MidiMapping::Plain,
    }
}

/// Per-string features from MIDI events, one frame per `spec.hop`, until `tail` seconds
/// after the last event. `loudness_range` is what velocity 0…127 spans (dB).
pub fn midi_features(events: &[(f64, MidiEvent)], mapping: MidiMapping, spec: &ModelSpec, loudness_range: (f32, f32), tail: f64) -> Vec<ChannelFeatures> {
    let frame_s = spec.hop as f64 / spec.sample_rate as f64;
    let end = events.last().map_or(0.0, |(t, _)| *t) + tail;
    let len = (end / frame_s).ceil() as usize + 1;
    let mut voices = MidiVoices::new(mapping, frame_s as f32, loudness_range);
    let mut next = 0;
    let frames: Vec<StringFrame> = (0..len)
        .map(|t| {
            while next < events.len() && events[next].0 <= t as f64 * frame_s {
                voices.handle(events[next].1);
                next += 1;
            }
            voices.frame()
        })
        .collect();
    to_features(&frames, 0, len)
}

/// `gddsp pitch`: per-frame notes of a hex (6-channel, unless `poly`) or mono recording.
pub fn pitch(input: &Path, poly: bool, as_json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let audio = audio_io::load(input)?;
    let spec = ModelSpec::default();
    let at_rate = audio_io::resample(&audio, spec.sample_rate)?;
    let hop = spec.hop;
    let rate = spec.sample_rate as f64;
    let hex = !poly && at_rate.channels.len() == STRINGS;
    // (time described, [(string 0 = low E, f0, confidence)])
    let mut frames: Vec<(f64, Vec<(usize, f32, f32)>)> = Vec::new();
    let mut push = |i: usize, latency: usize, notes: Vec<(usize, f32, f32)>| {
        let t = ((i + 1) * hop) as f64 - latency as f64;
        if t >= 0.0 {
            frames.push((t / rate, notes));
        }
    };
    if hex {
        let mut tracker = HexTracker::new(spec.sample_rate as f32, hop);
        let latency = tracker.latency_samples();
        for (i, f) in tracker.track(&at_rate.channels, hop).iter().enumerate() {
            push(i, latency, (0..STRINGS).filter(|&s| f.confidence[s] > 0.0).map(|s| (s, f.f0_hz[s], f.confidence[s])).collect());
        }
    } else {
        let mut tracker = PolyTracker::new(spec.sample_rate as f32, hop);
        let latency = tracker.latency_samples();
        let mut padded = at_rate.mix_down();
        padded.resize(padded.len() + latency, 0.0);
        for (i, f) in tracker.track(&padded, hop).iter().enumerate() {
            let mut notes: Vec<_> = f.notes().map(|n| (n.string, n.f0_hz, n.confidence)).collect();
            notes.sort_by_key(|n| n.0);
            push(i, latency, notes);
        }
    }
    frames.retain(|(t, _)| *t <= audio.len() as f64 / audio.sample_rate as f64);
    // Strings as guitarists number them: 1 = high E … 6 = low E.
    let number = |s: usize| STRINGS - s;
    if as_json {
        let v: Vec<Value> = frames
            .iter()
            .map(|(t, notes)| {
                let notes: Vec<Value> = notes.iter().map(|&(s, f0, c)| json!({ "string": number(s), "midi": hz_to_midi(f0).round() as i32, "f0": f0, "confidence": c })).collect();
                json!({ "time": (t * 1e4).round() / 1e4, "notes": notes })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string(&v).context("serialising")?).context("writing to stdout")?;
        return Ok(());
    }
    writeln!(out, "{}: {} tracker, {} frames of {:.0} ms; a line where the notes change (string 1 = high E)", input.display(), if hex { "hex (one per string)" } else { "polyphonic mono" }, frames.len(), 1000.0 * hop as f64 / rate).context("writing to stdout")?;
    let mut last: Vec<(usize, i32)> = Vec::new();
    for (t, notes) in &frames {
        let now: Vec<(usize, i32)> = notes.iter().map(|&(s, f0, _)| (s, hz_to_midi(f0).round() as i32)).collect();
        if now != last {
            let names: Vec<String> = now.iter().map(|&(s, m)| format!("{} (string {})", note_name(m), number(s))).collect();
            writeln!(out, "{t:8.3} s  {}", if names.is_empty() { "—".to_string() } else { names.join("  ") }).context("writing to stdout")?;
            last = now;
        }
    }
    Ok(())
}

fn note_name(midi: i32) -> String {
    const NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
    format!("{}{}", NAMES[midi.rem_euclid(12) as usize], midi.div_euclid(12) - 1)
}
