//! Per-string note truth: what each string plays, when, and at what pitch.
//!
//! A note sounds from `start` to `end` (seconds from the clip start; after `end` the
//! string is damped and its release is not part of the truth). Its pitch is
//! `midi + bend(t)` semitones, `f0 = 440 · 2^((pitch − 69) / 12)` Hz, where `bend` is a
//! piecewise-linear curve of `[time, semitones]` points (bends, slides, vibrato): zero
//! before the first point, the last value after the last.

use serde::{Deserialize, Serialize};

/// Strings of a guitar; channel 0 of a hexaphonic recording is the low E string.
pub const STRINGS: usize = 6;
/// The highest fret the generator plays.
pub const MAX_FRET: u8 = 19;

/// Open-string tunings the corpus is played in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tuning {
    /// E2 A2 D3 G3 B3 E4.
    Standard,
    /// D2 A2 D3 G3 B3 E4.
    DropD,
    /// Every string a semitone down: E♭2 A♭2 D♭3 G♭3 B♭3 E♭4.
    EFlat,
}

impl Tuning {
    pub const ALL: [Tuning; 3] = [Tuning::Standard, Tuning::DropD, Tuning::EFlat];

    /// MIDI note of each open string, low E first.
    pub fn open_midi(self) -> [u8; STRINGS] {
        match self {
            Tuning::Standard => [40, 45, 50, 55, 59, 64],
            Tuning::DropD => [38, 45, 50, 55, 59, 64],
            Tuning::EFlat => [39, 44, 49, 54, 58, 63],
        }
    }
}

/// One note on one string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub start: f64,
    pub end: f64,
    pub fret: u8,
    pub midi: u8,
    pub velocity: u8,
    /// Palm-muted or choked: damped quickly after `end`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    /// `[time s, semitones]` points of the pitch-bend curve (absolute clip time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bend: Vec<[f64; 2]>,
}

pub fn midi_to_hz(pitch: f64) -> f64 {
    440.0 * ((pitch - 69.0) / 12.0).exp2()
}

pub fn hz_to_midi(hz: f64) -> f64 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

impl Note {
    /// Bend in semitones at time `t`.
    pub fn bend_at(&self, t: f64) -> f64 {
        let pts = &self.bend;
        match pts.iter().position(|p| p[0] > t) {
            None => pts.last().map_or(0.0, |p| p[1]),
            Some(0) => 0.0,
            Some(i) => {
                let [t0, b0] = pts[i - 1];
                let [t1, b1] = pts[i];
                b0 + (b1 - b0) * (t - t0) / (t1 - t0)
            }
        }
    }

    /// Sounding pitch (MIDI, fractional) at time `t`.
    pub fn pitch_at(&self, t: f64) -> f64 {
        self.midi as f64 + self.bend_at(t)
    }

    pub fn f0_at(&self, t: f64) -> f64 {
        midi_to_hz(self.pitch_at(t))
    }

    pub fn sounds_at(&self, t: f64) -> bool {
        self.start <= t && t < self.end
    }
}

/// What every string of one clip plays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteTruth {
    pub tuning: Tuning,
    pub open_midi: [u8; STRINGS],
    /// `strings[s]`: notes of string `s` (0 = low E), sorted, never overlapping.
    pub strings: [Vec<Note>; STRINGS],
}

impl NoteTruth {
    /// The note string `s` sounds at time `t`, if any.
    pub fn note_at(&self, s: usize, t: f64) -> Option<&Note> {
        let notes = &self.strings[s];
        let i = notes.partition_point(|n| n.start <= t);
        notes[..i].last().filter(|n| n.sounds_at(t))
    }

    /// True f0 of string `s` at time `t` (None where the string is silent).
    pub fn f0_at(&self, s: usize, t: f64) -> Option<f64> {
        self.note_at(s, t).map(|n| n.f0_at(t))
    }

    /// Whether one note of string `s` sounds over the whole of `[t0, t1]` (the frames
    /// whose analysis window sees a single pitch).
    pub fn one_note_over(&self, s: usize, t0: f64, t1: f64) -> bool {
        self.note_at(s, t0).is_some_and(|n| n.sounds_at(t1))
    }

    pub fn note_count(&self) -> usize {
        self.strings.iter().map(Vec::len).sum()
    }

    /// A hash of the note material (strings, frets, pitches, onsets to the millisecond):
    /// two clips with the same fingerprint play the same notes.
    pub fn fingerprint(&self) -> u64 {
        let mut h = super::Fnv::default();
        for (s, notes) in self.strings.iter().enumerate() {
            for n in notes {
                h.eat(s as u64);
                h.eat((n.start * 1000.0).round() as u64);
                h.eat(((n.end - n.start) * 1000.0).round() as u64);
                h.eat(n.midi as u64);
                h.eat(n.fret as u64);
            }
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: f64, end: f64, midi: u8, bend: Vec<[f64; 2]>) -> Note {
        Note { start, end, fret: 0, midi, velocity: 100, muted: false, bend }
    }

    #[test]
    fn bend_is_piecewise_linear_and_holds_its_ends() {
        let n = note(0.0, 2.0, 60, vec![[0.5, 0.0], [0.7, 2.0], [1.5, 2.0], [1.7, 0.0]]);
        assert_eq!(n.bend_at(0.2), 0.0);
        assert!((n.bend_at(0.6) - 1.0).abs() < 1e-12);
        assert_eq!(n.bend_at(1.0), 2.0);
        assert_eq!(n.bend_at(1.9), 0.0);
        assert!((n.f0_at(1.0) - midi_to_hz(62.0)).abs() < 1e-9);
        assert!((midi_to_hz(69.0) - 440.0).abs() < 1e-12);
        assert!((hz_to_midi(midi_to_hz(40.3)) - 40.3).abs() < 1e-9);
    }

    #[test]
    fn note_lookup_respects_start_and_end() {
        let mut strings: [Vec<Note>; STRINGS] = Default::default();
        strings[2] = vec![note(0.0, 0.5, 50, vec![]), note(1.0, 1.5, 52, vec![])];
        let truth = NoteTruth { tuning: Tuning::Standard, open_midi: Tuning::Standard.open_midi(), strings };
        assert_eq!(truth.note_at(2, 0.2).map(|n| n.midi), Some(50));
        assert!(truth.note_at(2, 0.7).is_none());
        assert_eq!(truth.note_at(2, 1.0).map(|n| n.midi), Some(52));
        assert!(truth.note_at(2, 1.5).is_none());
        assert!(truth.note_at(0, 0.2).is_none());
        assert!(truth.one_note_over(2, 1.1, 1.4));
        assert!(!truth.one_note_over(2, 0.4, 1.1));
    }
}
