//! Which string plays which note, as a guitarist would: notes from a mono tracker (or
//! plain MIDI) go to distinct strings that can reach them (fret 0–24 in the tuning),
//! keeping a sounding note on its string (continuity), then preferring low frets and a
//! hand-sized chord span.
//!
//! ```text
//! cost = Σ fret + MOVE · (sounding notes moved to another string) + SPAN · max(0, span − 4)
//! ```
//!
//! over every injective map of the (≤ 6) notes to strings: at most 720 maps, searched
//! depth-first with the best cost so far as a bound, allocation-free. A note no string
//! reaches (below the low string, above the 24th fret) goes to the nearest string.

use super::{hz_to_midi, STRINGS};
use crate::analysis::pitch::STANDARD_OPEN_MIDI;

pub const MAX_FRET: i32 = 24;
/// Moving a sounding note to another string costs as much as 12 frets.
const MOVE: i32 = 12;
/// Each fret of span past four (a hand's stretch) costs 3.
const SPAN: i32 = 3;

#[derive(Debug, Clone)]
pub struct StringAssigner {
    pub open_midi: [u8; STRINGS],
    /// The (rounded) MIDI note each string played in the last frame.
    last: [Option<i32>; STRINGS],
}

impl Default for StringAssigner {
    fn default() -> Self {
        StringAssigner {
            open_midi: STANDARD_OPEN_MIDI,
            last: [None; STRINGS],
        }
    }
}

impl StringAssigner {
    /// Assigns `notes` (f0 in Hz, at most six are placed) to strings: `out[i]` is the string
    /// of `notes[i]` (`None` for notes past the sixth). Updates the continuity memory.
    pub fn assign(&mut self, notes: &[f32], out: &mut [Option<usize>]) {
        let n = notes.len().min(STRINGS).min(out.len());
        out.iter_mut().for_each(|o| *o = None);
        let mut midi = [0i32; STRINGS];
        for (m, f) in midi.iter_mut().zip(notes) {
            *m = hz_to_midi(*f).round() as i32;
        }
        let mut search = Search {
            midi: &midi[..n],
            open: self.open_midi,
            last: self.last,
            best: i32::MAX,
            best_map: [usize::MAX; STRINGS],
            map: [usize::MAX; STRINGS],
        };
        search.run(0, [false; STRINGS], 0);
        let mut last = [None; STRINGS];
        if search.best < i32::MAX {
            for i in 0..n {
                out[i] = Some(search.best_map[i]);
                last[search.best_map[i]] = Some(midi[i]);
            }
        }
        self.last = last;
    }

    pub fn reset(&mut self) {
        self.last = [None; STRINGS];
    }

    /// The fret of MIDI note `midi` on string `s`, clamped into reach.
    pub fn fret(&self, midi: i32, s: usize) -> i32 {
        (midi - self.open_midi[s] as i32).clamp(0, MAX_FRET)
    }
}

struct Search<'a> {
    midi: &'a [i32],
    open: [u8; STRINGS],
    last: [Option<i32>; STRINGS],
    best: i32,
    best_map: [usize; STRINGS],
    map: [usize; STRINGS],
}

impl Search<'_> {
    /// Fret of note `m` on string `s`; out of reach costs the distance to the reach
    /// (so an unreachable note still lands on the nearest string).
    fn cost_of(&self, m: i32, s: usize) -> i32 {
        let fret = m - self.open[s] as i32;
        if fret < 0 {
            100 * -fret
        } else if fret > MAX_FRET {
            MAX_FRET + 100 * (fret - MAX_FRET)
        } else {
            fret
        }
    }

    fn run(&mut self, i: usize, used: [bool; STRINGS], cost: i32) {
        if cost >= self.best {
            return;
        }
        if i == self.midi.len() {
            let total = cost + SPAN * (self.span() - 4).max(0);
            if total < self.best {
                self.best = total;
                self.best_map = self.map;
            }
            return;
        }
        let m = self.midi[i];
        let was_on = self.last.iter().position(|l| *l == Some(m));
        for s in 0..STRINGS {
            if used[s] {
                continue;
            }
            let moved = matches!(was_on, Some(p) if p != s);
            let c = self.cost_of(m, s) + if moved { MOVE } else { 0 };
            let mut next = used;
            next[s] = true;
            self.map[i] = s;
            self.run(i + 1, next, cost + c);
        }
    }

    /// Span of the fretted (non-open) notes of the current map, in frets.
    fn span(&self) -> i32 {
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        for (i, &m) in self.midi.iter().enumerate() {
            let fret = m - self.open[self.map[i]] as i32;
            if fret > 0 {
                lo = lo.min(fret);
                hi = hi.max(fret);
            }
        }
        if lo > hi {
            0
        } else {
            hi - lo
        }
    }
}
