//! Training data: the hexaphonic corpus generator and the loaders training reads.
//!
//! The pairing rule: `NAME_clean.wav` (6 channels, channel 0 = low E, or mono) ↔
//! `NAME_wet.wav` (mono, the same performance through effects), with optional sidecars
//! `NAME_fx.json` (the knobs that made the wet side), `NAME_notes.json` (per-string note
//! truth) and the cache `NAME_features.bin` (per-string f0/confidence/loudness).

pub mod check;
pub mod corpus;
pub mod error;
pub mod features;
pub mod guitars;
pub mod guitarset;
pub mod material;
pub mod notes;
pub mod pairs;
pub mod pluck;
pub mod soundfont;

use std::path::PathBuf;

use gddsp_core::analysis::ChannelFeatures;
use gddsp_core::Knobs;
use indicatif::{ProgressBar, ProgressStyle};

pub use error::DataError;
pub use notes::{Note, NoteTruth, Tuning, STRINGS};

/// FNV-1a over 64-bit words: a tiny hash that stays the same across Rust versions
/// (unlike `DefaultHasher`), for fingerprints written to disk.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn eat(&mut self, x: u64) {
        for b in x.to_le_bytes() {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// One training example, at the loader's sample rate.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: String,
    /// The clean file it came from.
    pub path: PathBuf,
    pub sample_rate: u32,
    /// One channel per string (low E first), or a single mono channel.
    pub clean: Vec<Vec<f32>>,
    /// The wet mono recording, if the source has one (GuitarSet has none).
    pub wet: Option<Vec<f32>>,
    /// The knobs that made `wet`, when known.
    pub knobs: Option<Knobs>,
    pub notes: Option<NoteTruth>,
    /// Per-channel controls at the model frame rate.
    pub features: Vec<ChannelFeatures>,
}

impl Example {
    pub fn seconds(&self) -> f64 {
        self.clean.first().map_or(0.0, |c| c.len() as f64 / self.sample_rate as f64)
    }

    pub fn is_hexaphonic(&self) -> bool {
        self.clean.len() == STRINGS
    }
}

/// How a loader treats what it finds.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Resample everything to this rate (and say so); `None` keeps each file's rate.
    pub sample_rate: Option<u32>,
    /// Skip bad examples with a warning instead of stopping at the first.
    pub skip_bad: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { sample_rate: Some(gddsp_core::ModelSpec::default().sample_rate), skip_bad: false, progress: false }
    }
}

/// What a loader read, skipped and changed.
#[derive(Debug, Default)]
pub struct Loaded {
    pub examples: Vec<Example>,
    /// Examples left out under `skip_bad`, each with its reason.
    pub skipped: Vec<DataError>,
    /// Things done to the data that a user should know (resampling).
    pub notices: Vec<String>,
}

impl Loaded {
    pub fn seconds(&self) -> f64 {
        self.examples.iter().map(Example::seconds).sum()
    }

    /// Adds one loader result: the example and its notice, or the error (recorded under
    /// `skip_bad`, returned otherwise).
    fn take(&mut self, result: Result<(Example, Option<String>), DataError>, skip_bad: bool) -> Result<(), DataError> {
        match result {
            Ok((example, notice)) => {
                self.notices.extend(notice);
                self.examples.push(example);
                Ok(())
            }
            Err(e) => self.reject(e, skip_bad),
        }
    }

    /// Keeps `e` or, under `skip_bad`, records it; otherwise returns it.
    fn reject(&mut self, e: DataError, skip_bad: bool) -> Result<(), DataError> {
        if skip_bad {
            self.skipped.push(e);
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// A progress bar with ETA on stderr (hidden when stderr is not a terminal or `show` is false).
pub fn progress_bar(len: u64, show: bool, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec} ETA {eta}").expect("valid template").progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}
