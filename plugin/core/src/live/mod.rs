//! Live input for tone clone: the six strings' pitch and loudness, frame by frame, as
//! the player plays. Three sources, one output ([`StringFrame`]):
//!
//! * [`hex::HexTracker`]: a hexaphonic pickup, one monophonic tracker per string;
//! * [`poly::PolyTracker`]: a plain mono guitar, a polyphonic tracker whose notes
//!   [`strings::StringAssigner`] places on strings;
//! * [`midi::MidiVoices`]: MIDI notes (a MIDI guitar, one channel per string, or any
//!   keyboard), with an amplitude envelope.
//!
//! All run at the model rate ([`crate::ModelSpec::sample_rate`]) and emit one frame per
//! `hop` samples, allocation-free once built, so the plugin can run them on the audio
//! thread. Frame `i` is ready when sample `(i + 1) · hop` has arrived (one control frame
//! of look-ahead). Its pitch describes the instant the tracker's `latency_samples()`
//! earlier (the middle of its analysis window); a new note first shows in the frame ready
//! about `onset_delay_samples()` after the note starts, which is what tone clone times
//! its frames by.

pub mod hex;
pub mod midi;
pub mod poly;
pub mod strings;

use crate::analysis::loudness::FLOOR_DB;

/// Strings of a guitar, and voices of the synth.
pub const STRINGS: usize = 6;

/// Controls of the six strings for one frame (string 0 = low E). A silent string has
/// confidence 0 and loudness [`FLOOR_DB`]; its f0 is the last one it had (or 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StringFrame {
    pub f0_hz: [f32; STRINGS],
    pub confidence: [f32; STRINGS],
    pub loudness_db: [f32; STRINGS],
}

impl StringFrame {
    pub const SILENT: StringFrame = StringFrame {
        f0_hz: [0.0; STRINGS],
        confidence: [0.0; STRINGS],
        loudness_db: [FLOOR_DB; STRINGS],
    };

    /// Silences string `s`, keeping its last f0.
    pub fn mute(&mut self, s: usize) {
        self.confidence[s] = 0.0;
        self.loudness_db[s] = FLOOR_DB;
    }
}

/// The last `len` samples of a stream, cut into frames of `hop` new samples. New samples
/// wait in a hop-long buffer, so the window moves once per hop, whatever the block size.
#[derive(Debug, Clone)]
pub struct History {
    buf: Vec<f32>,
    incoming: Vec<f32>,
    pending: usize,
}

impl History {
    pub fn new(len: usize, hop: usize) -> Self {
        History {
            buf: vec![0.0; len.max(hop)],
            incoming: vec![0.0; hop],
            pending: 0,
        }
    }

    /// Appends up to the end of the current hop; returns how many samples of `input` it
    /// took and whether a hop is now complete (then [`History::samples`] ends with it).
    pub fn push(&mut self, input: &[f32]) -> (usize, bool) {
        let hop = self.incoming.len();
        let take = (hop - self.pending).min(input.len());
        self.incoming[self.pending..self.pending + take].copy_from_slice(&input[..take]);
        self.pending += take;
        let complete = self.pending == hop;
        if complete {
            let n = self.buf.len();
            self.buf.copy_within(hop.., 0);
            self.buf[n - hop..].copy_from_slice(&self.incoming);
            self.pending = 0;
        }
        (take, complete)
    }

    /// The most recent samples, oldest first.
    pub fn samples(&self) -> &[f32] {
        &self.buf
    }

    pub fn clear(&mut self) {
        self.buf.fill(0.0);
        self.incoming.fill(0.0);
        self.pending = 0;
    }
}

/// Fractional MIDI note of `hz`.
pub fn hz_to_midi(hz: f32) -> f32 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

pub fn midi_to_hz(midi: f32) -> f32 {
    440.0 * ((midi - 69.0) / 12.0).exp2()
}

/// `signal` zero-padded to `⌈len / hop⌉ · hop` samples: fed to a tracker, it yields the
/// same `⌈len / hop⌉` frames as the offline features (offline use: CLI, evaluation).
pub fn pad_to_hops(signal: &[f32], hop: usize) -> Vec<f32> {
    let mut v = signal.to_vec();
    v.resize(signal.len().div_ceil(hop) * hop, 0.0);
    v
}
