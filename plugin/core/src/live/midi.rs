//! MIDI into the six voices: note on/off, velocity and pitch bend, with a plucked-string
//! loudness envelope.
//!
//! Two mappings:
//! * **one channel per string** (a MIDI guitar in mono mode): channels `first … first+5`
//!   (1–6 or 2–7 as the player counts them) are strings 1–6 as guitarists number them,
//!   string 1 = high E, so channel `first + k` drives our string `5 − k` (0 = low E);
//! * **plain**: any channel; each note goes to a free string that can reach it at the
//!   lowest fret ([`StringAssigner`]'s fret rule), stealing the oldest note if all are busy.
//!
//! Envelope, in dB of loudness (the decoder's input):
//!
//! ```text
//! note on:  L = lo + (hi − lo) · (velocity / 127)^0.5   at once (a pluck has no attack)
//! held:     L −= 6 dB/s, down to L_on − 30 dB
//! note off: L −= 150 dB/s until the floor, then the voice is free
//! ```
//!
//! `lo`/`hi` come from the model's training statistics (voiced loudness 5th and 95th
//! percentiles), so velocity spans the range the decoder has heard. A note-on sounds in
//! the next frame.

use super::{midi_to_hz, StringFrame, STRINGS};
use crate::analysis::loudness::FLOOR_DB;
use crate::analysis::pitch::STANDARD_OPEN_MIDI;

const SUSTAIN_DB_PER_S: f32 = 6.0;
const SUSTAIN_RANGE_DB: f32 = 30.0;
const RELEASE_DB_PER_S: f32 = 150.0;

/// The MIDI messages the voices use (channels 0-based, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MidiEvent {
    NoteOn {
        channel: u8,
        note: u8,
        velocity: u8,
    },
    NoteOff {
        channel: u8,
        note: u8,
    },
    /// Bend, −1…1 (the wire's 14-bit value centred and scaled).
    PitchBend {
        channel: u8,
        bend: f32,
    },
    AllNotesOff,
}

impl MidiEvent {
    /// Bend from the wire's 14-bit value (0…16383, centre 8192).
    pub fn bend_from_u14(channel: u8, value: u16) -> MidiEvent {
        MidiEvent::PitchBend {
            channel,
            bend: ((value as f32 - 8192.0) / 8192.0).clamp(-1.0, 1.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidiMapping {
    /// Channel `first + k` (0-based) is string `5 − k`.
    ChannelPerString {
        first: u8,
    },
    Plain,
}

#[derive(Debug, Clone, Copy, Default)]
struct Voice {
    channel: u8,
    note: u8,
    sounding: bool,
    released: bool,
    level_db: f32,
    peak_db: f32,
    /// Note-on order, for stealing the oldest.
    started: u64,
}

pub struct MidiVoices {
    pub mapping: MidiMapping,
    /// Pitch-bend range, semitones.
    pub bend_range: f32,
    /// Loudness of velocity 1 and 127, dB.
    pub loudness_range: (f32, f32),
    open_midi: [u8; STRINGS],
    voices: [Voice; STRINGS],
    bend: [f32; 16],
    frame_s: f32,
    clock: u64,
    frame: StringFrame,
}

impl MidiVoices {
    /// Voices updated once per control frame of `frame_s` seconds.
    pub fn new(mapping: MidiMapping, frame_s: f32, loudness_range: (f32, f32)) -> Self {
        MidiVoices {
            mapping,
            bend_range: 2.0,
            loudness_range,
            open_midi: STANDARD_OPEN_MIDI,
            voices: [Voice {
                level_db: FLOOR_DB,
                ..Voice::default()
            }; STRINGS],
            bend: [0.0; 16],
            frame_s,
            clock: 0,
            frame: StringFrame::SILENT,
        }
    }

    pub fn handle(&mut self, event: MidiEvent) {
        match event {
            MidiEvent::NoteOn {
                channel,
                note,
                velocity: 0,
            } => self.note_off(channel, note),
            MidiEvent::NoteOn {
                channel,
                note,
                velocity,
            } => self.note_on(channel, note, velocity),
            MidiEvent::NoteOff { channel, note } => self.note_off(channel, note),
            MidiEvent::PitchBend { channel, bend } => self.bend[(channel & 15) as usize] = bend,
            MidiEvent::AllNotesOff => self.voices.iter_mut().for_each(|v| v.released = true),
        }
    }

    fn string_for(&self, channel: u8, note: u8) -> Option<usize> {
        match self.mapping {
            MidiMapping::ChannelPerString { first } => {
                let k = channel.checked_sub(first)? as usize;
                (k < STRINGS).then(|| STRINGS - 1 - k)
            }
            MidiMapping::Plain => {
                let fret = |s: usize| note as i32 - self.open_midi[s] as i32;
                let reach = |s: &usize| (0..=super::strings::MAX_FRET).contains(&fret(*s));
                let free = (0..STRINGS)
                    .filter(reach)
                    .filter(|&s| !self.voices[s].sounding || self.voices[s].released)
                    .min_by_key(|&s| fret(s));
                let busy_oldest = (0..STRINGS)
                    .filter(reach)
                    .min_by_key(|&s| self.voices[s].started);
                // Out of every string's reach: the string nearest in pitch.
                let outside = |s: usize| (-fret(s)).max(fret(s) - super::strings::MAX_FRET).max(0);
                let nearest = || (0..STRINGS).min_by_key(|&s| outside(s));
                free.or(busy_oldest).or_else(nearest)
            }
        }
    }

    fn note_on(&mut self, channel: u8, note: u8, velocity: u8) {
        let Some(s) = self.string_for(channel, note) else {
            return;
        };
        let (lo, hi) = self.loudness_range;
        let peak = lo + (hi - lo) * (velocity.min(127) as f32 / 127.0).sqrt();
        self.clock += 1;
        self.voices[s] = Voice {
            channel,
            note,
            sounding: true,
            released: false,
            level_db: peak,
            peak_db: peak,
            started: self.clock,
        };
    }

    fn note_off(&mut self, channel: u8, note: u8) {
        for v in self
            .voices
            .iter_mut()
            .filter(|v| v.sounding && v.channel == channel && v.note == note)
        {
            v.released = true;
        }
    }

    /// The controls of the next frame; advances the envelopes by one frame.
    pub fn frame(&mut self) -> StringFrame {
        for (s, v) in self.voices.iter_mut().enumerate() {
            if !v.sounding {
                self.frame.mute(s);
                continue;
            }
            self.frame.f0_hz[s] =
                midi_to_hz(v.note as f32 + self.bend_range * self.bend[(v.channel & 15) as usize]);
            self.frame.confidence[s] = 1.0;
            self.frame.loudness_db[s] = v.level_db;
            if v.released {
                v.level_db -= RELEASE_DB_PER_S * self.frame_s;
                if v.level_db <= FLOOR_DB + 1.0 {
                    v.sounding = false;
                }
            } else {
                v.level_db = (v.level_db - SUSTAIN_DB_PER_S * self.frame_s)
                    .max(v.peak_db - SUSTAIN_RANGE_DB);
            }
        }
        self.frame
    }

    pub fn reset(&mut self) {
        self.voices = [Voice {
            level_db: FLOOR_DB,
            ..Voice::default()
        }; STRINGS];
        self.bend = [0.0; 16];
        self.frame = StringFrame::SILENT;
    }
}
