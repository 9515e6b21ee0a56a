//! Real sampled guitars: notes rendered one at a time from a SoundFont with `rustysynth`.
//!
//! The synthesizer's built-in reverb and chorus are switched off (rustysynth has them on
//! by default): the clean side of a pair must be dry, all space comes from our FX chain.
//! Pitch bend range is set to ±12 semitones by RPN 0 so slides, bends and vibrato follow
//! the note truth, and the bend is updated every 32-sample block at the block's centre.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use super::error::DataError;
use super::notes::Note;

/// Debian's `fluid-soundfont-gm` (MIT licence).
pub const DEFAULT_SOUNDFONT: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

const BLOCK: usize = 32;
const BEND_RANGE: f64 = 12.0;

/// A loaded SoundFont, shared by every renderer.
#[derive(Clone)]
pub struct Font {
    pub path: PathBuf,
    font: Arc<SoundFont>,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Font({})", self.path.display())
    }
}

/// Two fonts are the same if they came from the same file.
impl PartialEq for Font {
    fn eq(&self, other: &Font) -> bool {
        self.path == other.path
    }
}

impl Font {
    pub fn load(path: &Path) -> Result<Font, DataError> {
        let file = File::open(path).map_err(|e| DataError::SoundFont { path: path.into(), detail: e.to_string() })?;
        let font = SoundFont::new(&mut BufReader::new(file)).map_err(|e| DataError::SoundFont { path: path.into(), detail: e.to_string() })?;
        Ok(Font { path: path.into(), font: Arc::new(font) })
    }

    /// Whether the font has the preset `bank:program`.
    pub fn has_preset(&self, bank: u8, program: u8) -> bool {
        self.font.get_presets().iter().any(|p| p.get_bank_number() == bank as i32 && p.get_patch_number() == program as i32)
    }

    pub fn preset_name(&self, bank: u8, program: u8) -> Option<String> {
        self.font
            .get_presets()
            .iter()
            .find(|p| p.get_bank_number() == bank as i32 && p.get_patch_number() == program as i32)
            .map(|p| p.get_name().trim().to_string())
    }
}

/// Renders isolated notes of one preset.
pub struct SoundFontVoice {
    synth: Synthesizer,
    bank: u8,
    program: u8,
    sample_rate: f64,
    left: [f32; BLOCK],
    right: [f32; BLOCK],
}

impl SoundFontVoice {
    pub fn new(font: &Font, bank: u8, program: u8, sample_rate: u32) -> Result<Self, DataError> {
        let mut settings = SynthesizerSettings::new(sample_rate as i32);
        settings.block_size = BLOCK;
        settings.enable_reverb_and_chorus = false;
        let synth = Synthesizer::new(&font.font, &settings).map_err(|e| DataError::SoundFont { path: font.path.clone(), detail: e.to_string() })?;
        Ok(SoundFontVoice { synth, bank, program, sample_rate: sample_rate as f64, left: [0.0; BLOCK], right: [0.0; BLOCK] })
    }

    fn set_bend(&mut self, semitones: f64) {
        let v = (8192.0 + semitones / BEND_RANGE * 8192.0).round().clamp(0.0, 16383.0) as i32;
        self.synth.process_midi_message(0, 0xE0, v & 0x7F, v >> 7);
    }

    /// Renders `note` from its start into `out` (`out[0]` is at `note.start`); note-off at
    /// `note.end`, then the preset's own release.
    pub fn render_note(&mut self, note: &Note, out: &mut [f32]) {
        let s = &mut self.synth;
        s.reset();
        s.process_midi_message(0, 0xB0, 0x00, self.bank as i32);
        s.process_midi_message(0, 0xC0, self.program as i32, 0);
        s.process_midi_message(0, 0xB0, 0x65, 0);
        s.process_midi_message(0, 0xB0, 0x64, 0);
        s.process_midi_message(0, 0xB0, 0x06, BEND_RANGE as i32);
        s.process_midi_message(0, 0xB0, 0x26, 0);
        self.set_bend(note.bend_at(note.start));
        self.synth.note_on(0, note.midi as i32, note.velocity as i32);
        let off_at = ((note.end - note.start) * self.sample_rate).round() as usize;
        let mut released = false;
        for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
            let n0 = b * BLOCK;
            if !released && n0 >= off_at {
                self.synth.note_off(0, note.midi as i32);
                released = true;
            }
            if !note.bend.is_empty() {
                let t_mid = note.start + (n0 as f64 + BLOCK as f64 / 2.0) / self.sample_rate;
                self.set_bend(note.bend_at(t_mid));
            }
            self.synth.render(&mut self.left, &mut self.right);
            for (i, o) in chunk.iter_mut().enumerate() {
                *o = 0.5 * (self.left[i] + self.right[i]);
            }
        }
    }
}
