//! Hexaphonic pickup: one real-time YIN ([`crate::analysis::pitch`]) per string, its
//! search held to that string's range ([`string_range`]), plus that string's A-weighted
//! loudness.
//!
//! Frame `i` reads the samples up to `(i + 1) · hop` (one frame of look-ahead). YIN's
//! window is the most recent `WINDOW` samples compared with the ones a period earlier
//! (the frame is fed to YIN newest-first), so a new note shows within 32 ms at 16 kHz.
//! The loudness frame is the last 1024 samples. A string is gated (confidence 0,
//! loudness floor) while its loudness is under `gate_db`, or its YIN confidence under
//! [`VOICED`]: the bleed of the other strings on a hex pickup is quieter than the gate.

use super::{History, StringFrame, STRINGS};
use crate::analysis::loudness::{Loudness, LoudnessScratch, FRAME as LOUDNESS_FRAME};
use crate::analysis::pitch::{string_range, Yin, YinScratch};
use crate::inference::controls::VOICED;

/// Default gate: a string quieter than this (A-weighted, dB re full-scale RMS) is off.
pub const GATE_DB: f32 = -65.0;

/// Seconds from a note's onset to the sample at which the frame that first reports it is
/// ready. Measured (`hex_and_poly_report_a_note_about_their_onset_delay_after_it_starts` in
/// `plugin/core/tests/live.rs`: synthetic plucks G3–E5 on the G string, two levels, onsets
/// across a hop, 16 kHz, hop 64): median 7.0 ms, range 3–10 ms. Loud notes show sooner.
pub const ONSET_DELAY_S: f32 = 0.007;

pub struct HexTracker {
    yin: Vec<Yin>,
    yin_scratch: Vec<YinScratch>,
    reversed: Vec<f32>,
    loudness: Loudness,
    loudness_scratch: LoudnessScratch,
    history: Vec<History>,
    frame: StringFrame,
    onset_delay: usize,
    pub gate_db: f32,
}

impl HexTracker {
    pub fn new(sample_rate: f32, hop: usize) -> Self {
        let yin: Vec<Yin> = (0..STRINGS)
            .map(|s| {
                let (lo, hi) = string_range(s);
                Yin::with_range(sample_rate, lo, hi)
            })
            .collect();
        let longest = yin
            .iter()
            .map(Yin::frame_len)
            .max()
            .unwrap_or(0)
            .max(LOUDNESS_FRAME);
        let loudness = Loudness::new(sample_rate);
        HexTracker {
            yin_scratch: yin.iter().map(YinScratch::new).collect(),
            reversed: vec![0.0; longest],
            loudness_scratch: LoudnessScratch::new(&loudness),
            loudness,
            history: (0..STRINGS).map(|_| History::new(longest, hop)).collect(),
            yin,
            frame: StringFrame::SILENT,
            onset_delay: (ONSET_DELAY_S * sample_rate).round() as usize,
            gate_db: GATE_DB,
        }
    }

    /// Feeds one block of the six strings (equal lengths, string 0 = low E); calls
    /// `on_frame` for every frame completed. Allocation-free.
    pub fn process(&mut self, strings: [&[f32]; STRINGS], mut on_frame: impl FnMut(&StringFrame)) {
        let len = strings.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut at = 0;
        while at < len {
            let mut complete = false;
            let mut took = 0;
            for (h, c) in self.history.iter_mut().zip(strings) {
                (took, complete) = h.push(&c[at..len]);
            }
            at += took;
            if complete {
                for s in 0..STRINGS {
                    self.estimate(s);
                }
                on_frame(&self.frame);
            }
        }
    }

    fn estimate(&mut self, s: usize) {
        let recent = self.history[s].samples();
        let n = recent.len();
        self.loudness_scratch
            .frame
            .copy_from_slice(&recent[n - LOUDNESS_FRAME..]);
        let loudness = self.loudness.frame_db(&mut self.loudness_scratch);
        if loudness < self.gate_db {
            // A gated string is muted whatever its pitch: no YIN (three of the four FFTs
            // a string costs per frame) for the strings not played.
            self.frame.mute(s);
            return;
        }
        let yin = &self.yin[s];
        let len = yin.frame_len();
        for (r, x) in self.reversed[..len].iter_mut().zip(recent.iter().rev()) {
            *r = *x;
        }
        let (f0, confidence) = yin.estimate(&self.reversed[..len], &mut self.yin_scratch[s]);
        if confidence < VOICED || f0 <= 0.0 {
            self.frame.mute(s);
        } else {
            self.frame.f0_hz[s] = f0;
            self.frame.confidence[s] = confidence;
            self.frame.loudness_db[s] = loudness;
        }
    }

    /// Frame `i`, ready at sample `(i + 1) · hop`, describes the instant this many samples
    /// earlier: the middle of YIN's newest window.
    pub fn latency_samples(&self) -> usize {
        crate::analysis::pitch::WINDOW / 2
    }

    /// Samples from a note's onset to the end of the frame that first reports it
    /// ([`ONSET_DELAY_S`]): shorter than [`Self::latency_samples`], since YIN finds a
    /// note once a few periods of it are in the window. Tone clone times its frames by
    /// this: the decoder sounds a string in the first frame that reports it.
    pub fn onset_delay_samples(&self) -> usize {
        self.onset_delay
    }

    pub fn reset(&mut self) {
        self.history.iter_mut().for_each(History::clear);
        self.frame = StringFrame::SILENT;
    }

    /// Every frame of a 6-channel recording (offline use).
    pub fn track(&mut self, strings: &[Vec<f32>], hop: usize) -> Vec<StringFrame> {
        let padded: Vec<Vec<f32>> = strings.iter().map(|c| super::pad_to_hops(c, hop)).collect();
        let mut out = Vec::new();
        self.process(std::array::from_fn(|s| padded[s].as_slice()), |f| {
            out.push(*f)
        });
        out
    }
}
