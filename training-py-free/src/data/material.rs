//! Note material a guitarist plays, generated as per-string note lists.
//!
//! A clip is a run of phrases at one tempo: strummed chord progressions (real open and
//! barre shapes, strum patterns with up and down strokes and chokes), fingerpicked
//! arpeggios, single-note lines in a scale box (with bends, slides and vibrato), sustained
//! notes and double stops, palm-muted chugs, and power-chord riffs. Dynamics change from
//! phrase to phrase. Every string is monophonic, as on a guitar: a new note on a string
//! ends the one before.

use rand::Rng;

use super::notes::{Note, NoteTruth, Tuning, MAX_FRET, STRINGS};

/// Chord qualities the progressions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quality {
    Major,
    Minor,
    Dom7,
    Maj7,
    Min7,
    Sus2,
    Sus4,
}

/// A chord shape in standard tuning: the fret per string, `-1` = not played.
type Shape = [i8; STRINGS];

/// Open-position shapes: (root pitch class, quality, frets).
const OPEN_SHAPES: &[(u8, Quality, Shape)] = &[
    (4, Quality::Major, [0, 2, 2, 1, 0, 0]),
    (4, Quality::Minor, [0, 2, 2, 0, 0, 0]),
    (4, Quality::Dom7, [0, 2, 0, 1, 0, 0]),
    (4, Quality::Min7, [0, 2, 0, 0, 0, 0]),
    (4, Quality::Sus4, [0, 2, 2, 2, 0, 0]),
    (9, Quality::Major, [-1, 0, 2, 2, 2, 0]),
    (9, Quality::Minor, [-1, 0, 2, 2, 1, 0]),
    (9, Quality::Dom7, [-1, 0, 2, 0, 2, 0]),
    (9, Quality::Min7, [-1, 0, 2, 0, 1, 0]),
    (9, Quality::Maj7, [-1, 0, 2, 1, 2, 0]),
    (9, Quality::Sus2, [-1, 0, 2, 2, 0, 0]),
    (9, Quality::Sus4, [-1, 0, 2, 2, 3, 0]),
    (2, Quality::Major, [-1, -1, 0, 2, 3, 2]),
    (2, Quality::Minor, [-1, -1, 0, 2, 3, 1]),
    (2, Quality::Dom7, [-1, -1, 0, 2, 1, 2]),
    (2, Quality::Maj7, [-1, -1, 0, 2, 2, 2]),
    (2, Quality::Sus2, [-1, -1, 0, 2, 3, 0]),
    (2, Quality::Sus4, [-1, -1, 0, 2, 3, 3]),
    (7, Quality::Major, [3, 2, 0, 0, 0, 3]),
    (7, Quality::Dom7, [3, 2, 0, 0, 0, 1]),
    (0, Quality::Major, [-1, 3, 2, 0, 1, 0]),
    (0, Quality::Dom7, [-1, 3, 2, 3, 1, 0]),
    (0, Quality::Maj7, [-1, 3, 2, 0, 0, 0]),
    (5, Quality::Maj7, [-1, -1, 3, 2, 1, 0]),
    (11, Quality::Dom7, [-1, 2, 1, 2, 0, 2]),
];

/// Progressions as (scale degree in semitones from the key, quality).
const PROGRESSIONS: &[&[(u8, Quality)]] = &[
    &[(0, Quality::Major), (7, Quality::Major), (9, Quality::Minor), (5, Quality::Major)],
    &[(0, Quality::Major), (5, Quality::Major), (7, Quality::Major), (0, Quality::Major)],
    &[(9, Quality::Minor), (5, Quality::Major), (0, Quality::Major), (7, Quality::Major)],
    &[(2, Quality::Min7), (7, Quality::Dom7), (0, Quality::Maj7), (0, Quality::Maj7)],
    &[(0, Quality::Major), (9, Quality::Minor), (5, Quality::Major), (7, Quality::Dom7)],
    &[(0, Quality::Minor), (10, Quality::Major), (8, Quality::Major), (10, Quality::Major)],
    &[(0, Quality::Minor), (5, Quality::Minor), (7, Quality::Minor), (0, Quality::Minor)],
    &[(0, Quality::Dom7), (5, Quality::Dom7), (0, Quality::Dom7), (7, Quality::Dom7)],
    &[(0, Quality::Sus2), (0, Quality::Major), (5, Quality::Sus4), (5, Quality::Major)],
];

/// Strum patterns over a bar of eighths: D = down, U = up, x = choked strum, . = rest.
const STRUMS: &[&str] = &["D.DU.UDU", "D.D.D.D.", "D...D.DU", "DUDUDUDU", "D..UD.DU", "DxDUxUDU", "D.xUD.xU", "D...D..."];

/// Fingerpicking patterns: indices into the chord's strings, 0 = bass (lowest).
const PICKS: &[&[usize]] = &[&[0, 2, 3, 4, 3, 2, 3, 4], &[0, 3, 1, 4, 0, 3, 1, 4], &[0, 2, 4, 2, 1, 3, 5, 3], &[0, 4, 3, 4, 1, 4, 3, 4], &[0, 1, 2, 3, 4, 5, 4, 3]];

/// Scales as semitone sets from the key.
const SCALES: &[&[u8]] = &[&[0, 3, 5, 7, 10], &[0, 2, 4, 7, 9], &[0, 2, 3, 5, 7, 8, 10], &[0, 2, 4, 5, 7, 9, 11], &[0, 3, 5, 6, 7, 10]];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Strum,
    Arpeggio,
    Line,
    Sustain,
    Chug,
    PowerRiff,
}

const STYLES: [(Style, u32); 6] = [(Style::Strum, 3), (Style::Arpeggio, 2), (Style::Line, 3), (Style::Sustain, 1), (Style::Chug, 1), (Style::PowerRiff, 1)];

/// Plays `seconds` of material in `tuning`; the last note ends `tail` seconds before the
/// end so it can ring out inside the clip.
pub fn perform<R: Rng>(rng: &mut R, tuning: Tuning, seconds: f64, tail: f64) -> NoteTruth {
    let mut p = Player { rng, tuning, open: tuning.open_midi(), beat: 0.0, dynamic: 80.0, strings: Default::default() };
    let bpm = p.rng.random_range(65.0..170.0);
    let stop = seconds - tail;
    let mut t = p.rng.random_range(0.05..0.4);
    while t < stop - 0.5 {
        p.beat = 60.0 / (bpm * p.rng.random_range(0.97..1.03));
        p.dynamic = p.rng.random_range(40.0..118.0);
        let total: u32 = STYLES.iter().map(|s| s.1).sum();
        let mut pick = p.rng.random_range(0..total);
        let style = STYLES.iter().find(|s| {
            let hit = pick < s.1;
            pick = pick.saturating_sub(s.1);
            hit
        });
        t = match style.map_or(Style::Line, |s| s.0) {
            Style::Strum => p.strum(t),
            Style::Arpeggio => p.arpeggio(t),
            Style::Line => p.line(t),
            Style::Sustain => p.sustain(t),
            Style::Chug => p.chug(t),
            Style::PowerRiff => p.power_riff(t),
        };
    }
    p.finish(stop)
}

struct Player<'r, R: Rng> {
    rng: &'r mut R,
    tuning: Tuning,
    open: [u8; STRINGS],
    /// Seconds per beat.
    beat: f64,
    /// The phrase's base velocity.
    dynamic: f64,
    strings: [Vec<Note>; STRINGS],
}

impl<R: Rng> Player<'_, R> {
    fn velocity(&mut self, accent: f64) -> u8 {
        let v = self.dynamic + accent + self.rng.random_range(-8.0..8.0);
        v.clamp(20.0, 127.0) as u8
    }

    fn jitter(&mut self) -> f64 {
        self.rng.random_range(-0.008..0.008)
    }

    fn play(&mut self, s: usize, fret: u8, start: f64, end: f64, velocity: u8, muted: bool) -> Option<&mut Note> {
        if fret > MAX_FRET || end <= start {
            return None;
        }
        let midi = self.open[s] + fret;
        self.strings[s].push(Note { start: start.max(0.0), end, fret, midi, velocity, muted, bend: Vec::new() });
        self.strings[s].last_mut()
    }

    /// A chord voiced for this tuning: standard shapes, with the low string two frets
    /// higher in drop D (or left out if that passes the top fret).
    fn voice(&mut self, root_pc: u8, quality: Quality) -> Shape {
        // Pitch classes are those of standard tuning; E♭ tuning plays the same shapes.
        let mut options: Vec<Shape> = OPEN_SHAPES.iter().filter(|o| o.0 == root_pc && o.1 == quality).map(|o| o.2).collect();
        for (family_pc, anchor) in [(4u8, 0usize), (9, 1)] {
            let Some(base) = OPEN_SHAPES.iter().find(|o| o.0 == family_pc && o.1 == quality) else { continue };
            let shift = (root_pc + 12 - family_pc) % 12;
            for r in [shift, shift + 12] {
                let top = base.2.iter().map(|&f| f + r as i8).max().unwrap_or(0);
                if r > 0 && top <= MAX_FRET as i8 - 2 && base.2[anchor] >= 0 {
                    options.push(base.2.map(|f| if f < 0 { -1 } else { f + r as i8 }));
                }
            }
        }
        let mut shape = options[self.rng.random_range(0..options.len())];
        if self.tuning == Tuning::DropD && shape[0] >= 0 {
            shape[0] = if shape[0] + 2 <= MAX_FRET as i8 { shape[0] + 2 } else { -1 };
        }
        shape
    }

    fn power_shape(&mut self) -> Shape {
        let r = self.rng.random_range(0..=10i8);
        match (self.tuning, self.rng.random_range(0..3)) {
            (Tuning::DropD, 0 | 1) => [r, r, r, -1, -1, -1],
            (_, 0) => [-1, r, r + 2, r + 2, -1, -1],
            (Tuning::DropD, _) => [-1, r, r + 2, -1, -1, -1],
            _ => [r, r + 2, r + 2, -1, -1, -1],
        }
    }

    fn progression(&mut self) -> Vec<(u8, Quality)> {
        let key = self.rng.random_range(0..12u8);
        let prog = PROGRESSIONS[self.rng.random_range(0..PROGRESSIONS.len())];
        prog.iter().map(|&(d, q)| ((key + d) % 12, q)).collect()
    }

    fn strum(&mut self, t0: f64) -> f64 {
        let chords = self.progression();
        let pattern = STRUMS[self.rng.random_range(0..STRUMS.len())].as_bytes();
        let bars = self.rng.random_range(1..=chords.len().min(2));
        let spread = self.rng.random_range(0.006..0.025);
        let eighth = self.beat / 2.0;
        let mut t = t0;
        for &(pc, q) in chords.iter().take(bars) {
            let shape = self.voice(pc, q);
            let played: Vec<usize> = (0..STRINGS).filter(|&s| shape[s] >= 0).collect();
            for (i, &stroke) in pattern.iter().enumerate() {
                let at = t + i as f64 * eighth + self.jitter();
                let (order, choke): (Vec<usize>, bool) = match stroke {
                    b'D' => (played.clone(), false),
                    b'U' => {
                        let top = self.rng.random_range(3..=played.len().max(3)).min(played.len());
                        (played.iter().rev().take(top).copied().collect(), false)
                    }
                    b'x' => (played.clone(), true),
                    _ => continue,
                };
                let accent = if i % 4 == 0 { 12.0 } else if stroke == b'U' { -10.0 } else { 0.0 };
                for (k, &s) in order.iter().enumerate() {
                    let start = at + k as f64 * spread;
                    let end = if choke { start + self.rng.random_range(0.04..0.09) } else { t + 8.0 * eighth + 0.05 };
                    let v = self.velocity(accent - k as f64 * 1.5);
                    self.play(s, shape[s] as u8, start, end, v, choke);
                }
            }
            t += 8.0 * eighth;
        }
        t
    }

    fn arpeggio(&mut self, t0: f64) -> f64 {
        let chords = self.progression();
        let pick = PICKS[self.rng.random_range(0..PICKS.len())];
        let step = if self.rng.random_bool(0.6) { self.beat / 2.0 } else { self.beat / 4.0 };
        let per_chord = if step < self.beat / 3.0 { 16 } else { 8 };
        let mut t = t0;
        for &(pc, q) in chords.iter().take(self.rng.random_range(1..=chords.len())) {
            let shape = self.voice(pc, q);
            let played: Vec<usize> = (0..STRINGS).filter(|&s| shape[s] >= 0).collect();
            let chord_end = t + per_chord as f64 * step;
            for i in 0..per_chord {
                let s = played[pick[i % pick.len()].min(played.len() - 1)];
                let start = t + i as f64 * step + self.jitter();
                let v = self.velocity(if i == 0 { 8.0 } else { -6.0 });
                self.play(s, shape[s] as u8, start, chord_end + 0.03, v, false);
            }
            t = chord_end;
        }
        t
    }

    /// Notes of a scale in a four-fret box at `position`, sorted by pitch: (string, fret).
    fn scale_box(&mut self) -> Vec<(usize, u8)> {
        let key = self.rng.random_range(0..12u8);
        let scale = SCALES[self.rng.random_range(0..SCALES.len())];
        let position = if self.rng.random_bool(0.2) { 0 } else { self.rng.random_range(1..=14u8) };
        let mut notes: Vec<(usize, u8)> = Vec::new();
        for s in 0..STRINGS {
            for fret in position..=(position + 4).min(MAX_FRET) {
                let pc = (self.open[s] + fret + 12 - key) % 12;
                if scale.contains(&pc) {
                    notes.push((s, fret));
                }
            }
        }
        notes.sort_by_key(|&(s, f)| (self.open[s] + f, s));
        notes.dedup_by_key(|&mut (s, f)| self.open[s] + f);
        notes
    }

    fn line(&mut self, t0: f64) -> f64 {
        let notes = self.scale_box();
        let beats = self.rng.random_range(4..=8) as f64;
        let legato = self.rng.random_bool(0.7);
        let mut i = self.rng.random_range(0..notes.len());
        let mut t = t0;
        while t < t0 + beats * self.beat {
            let dur = [0.25, 0.5, 0.5, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0][self.rng.random_range(0..9)] * self.beat;
            let (s, fret) = notes[i];
            let start = t + self.jitter();
            let end = if legato { t + dur } else { t + dur * self.rng.random_range(0.35..0.7) };
            let v = self.velocity(0.0);
            let ornament = self.rng.random_range(0.0..1.0);
            let beat = self.beat;
            let vibrato_rate = self.rng.random_range(4.5..7.0);
            let vibrato_depth = self.rng.random_range(0.12..0.4);
            let bend_to = if self.rng.random_bool(0.7) { 2.0 } else { 1.0 };
            let bend_rise = self.rng.random_range(0.06..0.16);
            let release = self.rng.random_bool(0.5);
            let slide = self.rng.random_range(1..=3) as f64;
            if let Some(note) = self.play(s, fret, start, end, v, false) {
                let len = note.end - note.start;
                if ornament < 0.1 && s > 0 && len > 0.3 {
                    note.bend = bend(note.start + 0.03, bend_rise, bend_to, release.then_some(note.end - bend_rise - 0.02));
                } else if ornament < 0.25 && dur >= beat && len > 0.4 {
                    note.bend = vibrato(note.start + 0.15, note.end, vibrato_rate, vibrato_depth);
                } else if ornament < 0.32 && len > 0.2 {
                    note.bend = vec![[note.start, -slide], [note.start + 0.07, 0.0]];
                }
            }
            t += dur;
            let step: i64 = [-3, -2, -1, -1, -1, 1, 1, 1, 2, 3, 0][self.rng.random_range(0..11)];
            let j = i as i64 + step;
            i = if j < 0 || j >= notes.len() as i64 { (i as i64 - step).clamp(0, notes.len() as i64 - 1) as usize } else { j as usize };
        }
        t
    }

    fn sustain(&mut self, t0: f64) -> f64 {
        let notes = self.scale_box();
        let mut t = t0;
        for _ in 0..self.rng.random_range(1..=3) {
            let dur = self.rng.random_range(1.0..3.0);
            let (s, fret) = notes[self.rng.random_range(0..notes.len())];
            let v = self.velocity(5.0);
            let rate = self.rng.random_range(4.5..7.0);
            let depth = self.rng.random_range(0.1..0.35);
            let with_vibrato = self.rng.random_bool(0.5);
            let double = self.rng.random_bool(0.4) && s + 1 < STRINGS;
            let second_fret = (fret as i64 + self.rng.random_range(-2..=2)).clamp(0, MAX_FRET as i64) as u8;
            if let Some(note) = self.play(s, fret, t, t + dur, v, false) {
                if with_vibrato {
                    note.bend = vibrato(t + 0.25, t + dur, rate, depth);
                }
            }
            if double {
                let v2 = self.velocity(0.0);
                self.play(s + 1, second_fret, t + 0.01, t + dur, v2, false);
            }
            t += dur + self.rng.random_range(0.0..0.3);
        }
        t
    }

    fn chug(&mut self, t0: f64) -> f64 {
        let shape = if self.rng.random_bool(0.5) { self.power_shape() } else { [0, -1, -1, -1, -1, -1] };
        let step = if self.rng.random_bool(0.5) { self.beat / 4.0 } else { self.beat / 2.0 };
        let n = (self.rng.random_range(4.0..8.0) * self.beat / step) as usize;
        let mut t = t0;
        for i in 0..n {
            let open = i % 8 == 7 && self.rng.random_bool(0.5);
            let len = if open { 2.0 * step } else { self.rng.random_range(0.05..0.12) };
            let v = self.velocity(if i % 4 == 0 { 10.0 } else { -5.0 });
            let at = t + self.jitter();
            for (s, &fret) in shape.iter().enumerate().filter(|(_, f)| **f >= 0) {
                self.play(s, fret as u8, at + s as f64 * 0.003, at + len, v, !open);
            }
            t += step;
        }
        t
    }

    fn power_riff(&mut self, t0: f64) -> f64 {
        let mut t = t0;
        for _ in 0..self.rng.random_range(4..=8) {
            let shape = self.power_shape();
            let dur = [0.5, 0.5, 1.0, 1.0, 1.5, 2.0][self.rng.random_range(0..6)] * self.beat;
            let muted = self.rng.random_bool(0.25);
            let len = if muted { self.rng.random_range(0.06..0.12) } else { dur };
            let v = self.velocity(0.0);
            let at = t + self.jitter();
            for (s, &fret) in shape.iter().enumerate().filter(|(_, f)| **f >= 0) {
                self.play(s, fret as u8, at + s as f64 * 0.004, at + len, v, muted);
            }
            t += dur;
        }
        t
    }

    /// Sorts each string, makes it monophonic (a new note ends the previous one), cuts
    /// everything at `stop`, and drops notes too short to have a pitch.
    fn finish(self, stop: f64) -> NoteTruth {
        let mut strings = self.strings;
        for notes in &mut strings {
            notes.sort_by(|a, b| a.start.total_cmp(&b.start));
            for i in 0..notes.len() {
                let next = notes.get(i + 1).map_or(f64::INFINITY, |n| n.start);
                let n = &mut notes[i];
                n.end = n.end.min(next).min(stop);
                n.bend.retain(|p| p[0] <= n.end);
            }
            notes.retain(|n| n.end - n.start >= 0.03);
        }
        NoteTruth { tuning: self.tuning, open_midi: self.open, strings }
    }
}

/// A bend up by `to` semitones over `rise` seconds from `at`, released (back to 0 over
/// the same time) from `release` if given.
fn bend(at: f64, rise: f64, to: f64, release: Option<f64>) -> Vec<[f64; 2]> {
    let mut pts = vec![[at, 0.0], [at + rise, to]];
    if let Some(r) = release.filter(|&r| r > at + rise) {
        pts.extend([[r, to], [r + rise, 0.0]]);
    }
    pts
}

/// Vibrato: a sine of `depth` semitones (peak) at `rate` Hz from `from` to `to`, as
/// points every 10 ms, fading in over its first 150 ms.
fn vibrato(from: f64, to: f64, rate: f64, depth: f64) -> Vec<[f64; 2]> {
    let steps = ((to - from) / 0.01).floor().max(0.0) as usize;
    (0..=steps)
        .map(|i| {
            let dt = i as f64 * 0.01;
            let fade = (dt / 0.15).min(1.0);
            [from + dt, fade * depth * (std::f64::consts::TAU * rate * dt).sin()]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn material_is_playable_monophonic_per_string_and_reproducible() {
        for seed in 0..40 {
            let tuning = Tuning::ALL[seed as usize % 3];
            let a = perform(&mut Xoshiro256PlusPlus::seed_from_u64(seed), tuning, 8.0, 1.0);
            let b = perform(&mut Xoshiro256PlusPlus::seed_from_u64(seed), tuning, 8.0, 1.0);
            assert_eq!(a, b);
            assert!(a.note_count() >= 4, "seed {seed}: {} notes", a.note_count());
            for (s, notes) in a.strings.iter().enumerate() {
                for w in notes.windows(2) {
                    assert!(w[0].end <= w[1].start + 1e-12, "seed {seed} string {s} overlaps");
                }
                for n in notes {
                    assert!(n.fret <= MAX_FRET && n.end <= 7.0 + 1e-9 && n.end - n.start >= 0.03);
                    assert_eq!(n.midi, tuning.open_midi()[s] + n.fret);
                    assert!(n.bend.iter().all(|p| p[1].abs() <= 3.0));
                }
            }
        }
    }

    #[test]
    fn drop_d_moves_the_low_string_up_two_frets() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut p = Player { rng: &mut rng, tuning: Tuning::DropD, open: Tuning::DropD.open_midi(), beat: 0.5, dynamic: 80.0, strings: Default::default() };
        for _ in 0..50 {
            // An open E major chord in drop D keeps sounding E2 on the low string.
            let shape = p.voice(4, Quality::Major);
            if shape[1] == 2 && shape[2] == 2 && shape[3] == 1 {
                assert_eq!(shape[0], 2);
            }
            let pitches: Vec<u8> = (0..STRINGS).filter(|&s| shape[s] >= 0).map(|s| p.open[s] + shape[s] as u8).collect();
            assert!(pitches.iter().all(|&m| [4, 8, 11].contains(&(m % 12))), "{shape:?} is not E major");
        }
    }
}
