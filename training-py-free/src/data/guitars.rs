//! The guitars the corpus is played on, and string-by-string rendering of a performance.
//!
//! Each string is rendered note by note into its own channel (channel 0 = low E), as a
//! hexaphonic pickup hears it. A note rings from its start; after its `end` the string
//! is damped with a time constant of 60 ms (10 ms for muted notes) on top of the
//! instrument's own release, and a new note on the same string stops the old one with a
//! 3 ms fade (the pick landing on a vibrating string).

use serde::Serialize;

use super::error::DataError;
use super::notes::{NoteTruth, STRINGS};
use super::pluck::{Pluck, PluckParams};
use super::soundfont::{Font, SoundFontVoice};

/// Where a guitar's sound comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A SoundFont preset (bank, program).
    SoundFont { font: Font, bank: u8, program: u8 },
    /// The plucked-string model.
    Pluck(PluckParams),
}

/// One guitar ("program") of the corpus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guitar {
    /// Stable id: `sf2:BANK:PROGRAM` or `pluck:NAME`.
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub source: Source,
}

/// General MIDI guitars in Debian's FluidR3_GM: (bank, program, name). The last one is
/// held out of training for the test split.
///
/// GM 28 "Palm Muted Guitar" is left out: its samples die within a fraction of a second
/// whatever the note length, so the note truth claimed a pitch over silence (the tracker
/// agreed on 71 % of its voiced frames, against 95–99 % for the others). Palm muting
/// comes from the `muted` articulation on every guitar instead.
pub const GM_GUITARS: [(u8, u8, &str); 6] = [
    (0, 24, "Nylon String Guitar"),
    (0, 25, "Steel String Guitar"),
    (0, 27, "Clean Guitar"),
    (8, 25, "12 String Guitar"),
    (8, 28, "Funk Guitar"),
    (0, 26, "Jazz Guitar"),
];

/// Plucked-string guitars; the last one is held out of training for the test split.
pub const PLUCK_GUITARS: [(&str, PluckParams); 6] = [
    ("nylon", PluckParams { decay_s: 3.0, darkness: 0.2, pick: 0.18, brightness: 0.35, pickup: None }),
    ("steel", PluckParams { decay_s: 5.0, darkness: 0.08, pick: 0.12, brightness: 0.8, pickup: None }),
    ("clean", PluckParams { decay_s: 4.0, darkness: 0.12, pick: 0.15, brightness: 0.6, pickup: Some(0.22) }),
    ("funk", PluckParams { decay_s: 2.0, darkness: 0.05, pick: 0.08, brightness: 0.9, pickup: Some(0.1) }),
    ("muted", PluckParams { decay_s: 1.5, darkness: 0.22, pick: 0.2, brightness: 0.5, pickup: Some(0.18) }),
    ("jazz", PluckParams { decay_s: 3.5, darkness: 0.22, pick: 0.2, brightness: 0.45, pickup: Some(0.35) }),
];

/// Clean guitars taken from an extra SoundFont (training only): GM 24–27, bank 0. GM 28
/// (muted) is left out for the reason given at [`GM_GUITARS`].
pub const EXTRA_GM_GUITARS: [u8; 4] = [24, 25, 26, 27];

/// More guitars for training only, beside the main synth's: the clean GM guitars of extra
/// SoundFonts, and the plucked-string guitars.
#[derive(Debug, Clone, Default)]
pub struct ExtraGuitars {
    pub fonts: Vec<Font>,
    pub pluck: bool,
}

fn sf2_guitar(font: &Font, id: String, bank: u8, program: u8, fallback: &str) -> Guitar {
    Guitar { id, name: font.preset_name(bank, program).unwrap_or_else(|| fallback.to_string()), source: Source::SoundFont { font: font.clone(), bank, program } }
}

fn pluck_guitars() -> Vec<Guitar> {
    PLUCK_GUITARS.iter().map(|&(name, p)| Guitar { id: format!("pluck:{name}"), name: format!("plucked string ({name})"), source: Source::Pluck(p) }).collect()
}

/// The guitars available for a corpus: `(training guitars, the held-out test guitar)`.
/// The held-out guitar is the main synth's last (FluidR3's Jazz Guitar, or the plucked
/// "jazz"); `extra` only adds training guitars, so the test split is the same with or
/// without it. Ids: `sf2:BANK:PROGRAM` (main font), `sf2:FONT:BANK:PROGRAM` (extra font,
/// by its file stem), `pluck:NAME`.
pub fn catalogue(font: Option<&Font>, extra: &ExtraGuitars) -> Result<(Vec<Guitar>, Guitar), DataError> {
    let mut all: Vec<Guitar> = match font {
        Some(font) => GM_GUITARS.iter().filter(|(b, p, _)| font.has_preset(*b, *p)).map(|&(bank, program, name)| sf2_guitar(font, format!("sf2:{bank}:{program}"), bank, program, name)).collect(),
        None => pluck_guitars(),
    };
    if all.len() < 2 {
        let path = font.map(|f| f.path.clone()).unwrap_or_default();
        return Err(DataError::SoundFont { path, detail: format!("has {} of the General MIDI guitar presets 24–27 (banks 0 and 8); at least 2 are needed (one is held out for testing)", all.len()) });
    }
    let held_out = all.pop().expect("at least two guitars");
    for f in &extra.fonts {
        let stem = f.path.file_stem().map_or_else(|| "extra".into(), |s| s.to_string_lossy().into_owned());
        let found: Vec<Guitar> = EXTRA_GM_GUITARS.iter().filter(|&&p| f.has_preset(0, p)).map(|&p| sf2_guitar(f, format!("sf2:{stem}:0:{p}"), 0, p, "guitar")).collect();
        if found.is_empty() {
            return Err(DataError::SoundFont { path: f.path.clone(), detail: "has none of the General MIDI guitar presets 24–27 (bank 0)".into() });
        }
        all.extend(found);
    }
    if extra.pluck && font.is_some() {
        all.extend(pluck_guitars());
    }
    Ok((all, held_out))
}

/// Renders one guitar's isolated notes.
pub enum Voice {
    SoundFont(Box<SoundFontVoice>),
    Pluck(Pluck),
}

impl Voice {
    pub fn new(guitar: &Guitar, sample_rate: u32, seed: u64) -> Result<Voice, DataError> {
        match &guitar.source {
            Source::SoundFont { font, bank, program } => Ok(Voice::SoundFont(Box::new(SoundFontVoice::new(font, *bank, *program, sample_rate)?))),
            Source::Pluck(p) => Ok(Voice::Pluck(Pluck::new(*p, sample_rate, seed))),
        }
    }

    fn render_note(&mut self, note: &super::notes::Note, out: &mut [f32]) {
        match self {
            Voice::SoundFont(v) => v.render_note(note, out),
            Voice::Pluck(v) => v.render_note(note, out),
        }
    }
}

const DAMP_S: f64 = 0.06;
const DAMP_MUTED_S: f64 = 0.01;
const CUT_S: f64 = 0.003;

/// Renders every string of `truth` into `samples`-long channels.
pub fn render_strings(voice: &mut Voice, truth: &NoteTruth, sample_rate: u32, samples: usize) -> Vec<Vec<f32>> {
    let sr = sample_rate as f64;
    let mut channels = vec![vec![0f32; samples]; STRINGS];
    let mut buf = Vec::new();
    for (s, notes) in truth.strings.iter().enumerate() {
        for (i, note) in notes.iter().enumerate() {
            let start = (note.start * sr).round() as usize;
            if start >= samples {
                break;
            }
            let tau = if note.muted { DAMP_MUTED_S } else { DAMP_S };
            let next = notes.get(i + 1).map_or(f64::INFINITY, |n| n.start);
            let stop_t = (note.end + 7.0 * tau).min(next + CUT_S);
            let stop = ((stop_t * sr).round() as usize).min(samples);
            buf.clear();
            buf.resize(stop.saturating_sub(start), 0.0);
            voice.render_note(note, &mut buf);
            for (k, x) in buf.iter().enumerate() {
                let t = (start + k) as f64 / sr;
                let mut gain = 1.0;
                if t > note.end {
                    gain *= (-(t - note.end) / tau).exp();
                }
                if t > next {
                    gain *= 0.5 + 0.5 * (std::f64::consts::PI * ((t - next) / CUT_S).min(1.0)).cos();
                }
                channels[s][start + k] += (*x as f64 * gain) as f32;
            }
        }
    }
    channels
}
