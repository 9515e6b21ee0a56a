//! The clean/wet pair loader: any folder of `NAME_clean.wav` ↔ `NAME_wet.wav`.
//!
//! The clean side is 6 channels (one per string, low E first) or mono; the wet side is
//! mono, the same length and rate. `NAME_fx.json` (knobs) and `NAME_notes.json` (note
//! truth) are read when present. Nothing is truncated; resampling to the loader's rate is
//! reported in [`Loaded::notices`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gddsp_core::audio_io::{self, Audio};
use gddsp_core::{Knobs, ModelSpec};

use super::error::DataError;
use super::features;
use super::notes::{NoteTruth, STRINGS};
use super::{progress_bar, Example, LoadOptions, Loaded};

/// Peak below which a clean recording counts as silent (−90 dBFS).
const SILENT_PEAK: f32 = 3.16e-5;

/// The file names of one example.
#[derive(Debug, Clone, PartialEq)]
pub struct PairPaths {
    pub name: String,
    pub clean: PathBuf,
    pub wet: PathBuf,
}

impl PairPaths {
    pub fn new(dir: &Path, name: &str) -> PairPaths {
        PairPaths { name: name.to_string(), clean: dir.join(format!("{name}_clean.wav")), wet: dir.join(format!("{name}_wet.wav")) }
    }

    pub fn sidecar(&self, suffix: &str) -> PathBuf {
        self.clean.with_file_name(format!("{}_{suffix}", self.name))
    }
}

/// Finds the pairs in `dir` (not recursive), sorted by name. An unpaired file is an
/// error (or, under `skip_bad`, a skipped entry in `loaded`).
pub fn find_pairs(dir: &Path, skip_bad: bool, loaded: &mut Loaded) -> Result<Vec<PairPaths>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, format!("cannot read the folder: {e}")))?;
    // name → (clean, wet)
    let mut found: BTreeMap<String, (Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()).map(str::to_string) else { continue };
        let lower = file.to_ascii_lowercase();
        if let Some(stem) = lower.strip_suffix("_clean.wav") {
            found.entry(file[..stem.len()].to_string()).or_default().0 = Some(path);
        } else if let Some(stem) = lower.strip_suffix("_wet.wav") {
            found.entry(file[..stem.len()].to_string()).or_default().1 = Some(path);
        }
    }
    let mut pairs = Vec::new();
    for (name, sides) in found {
        match sides {
            (Some(clean), Some(wet)) => pairs.push(PairPaths { name, clean, wet }),
            (Some(clean), None) => loaded.reject(DataError::Unpaired { path: clean, missing: format!("{name}_wet.wav") }, skip_bad)?,
            (None, Some(wet)) => loaded.reject(DataError::Unpaired { path: wet, missing: format!("{name}_clean.wav") }, skip_bad)?,
            (None, None) => {}
        }
    }
    Ok(pairs)
}

/// Loads every pair in `dir`.
pub fn load_pairs(dir: &Path, opts: &LoadOptions) -> Result<Loaded, DataError> {
    let mut loaded = Loaded::default();
    let pairs = find_pairs(dir, opts.skip_bad, &mut loaded)?;
    let bar = progress_bar(pairs.len() as u64, opts.progress, "loading");
    for pair in &pairs {
        loaded.take(load_pair(pair, opts), opts.skip_bad)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if loaded.examples.is_empty() && loaded.skipped.is_empty() {
        return Err(DataError::Empty { dir: dir.into(), expected: "NAME_clean.wav with NAME_wet.wav beside it" });
    }
    Ok(loaded)
}

/// Reads and checks a clean recording: 6 channels or 1, finite (the decoder checks), not silent.
pub fn read_clean(path: &Path) -> Result<Audio, DataError> {
    let clean = audio_io::load(path)?;
    if clean.channels.len() != STRINGS && clean.channels.len() != 1 {
        return Err(DataError::Channels { path: path.into(), found: clean.channels.len(), expected: "a clean recording must have 6 channels (one per string, channel 0 = low E) or 1 (mono)" });
    }
    let peak = clean.channels.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
    if peak < SILENT_PEAK {
        return Err(DataError::Silent { path: path.into() });
    }
    Ok(clean)
}

/// Resamples `audio` to `rate` if it differs, returning the notice to show.
pub fn to_rate(audio: Audio, rate: Option<u32>, path: &Path) -> Result<(Audio, Option<String>), DataError> {
    match rate {
        Some(to) if to != audio.sample_rate => {
            let from = audio.sample_rate;
            Ok((audio_io::resample(&audio, to)?, Some(format!("{}: resampled from {from} Hz to {to} Hz", path.display()))))
        }
        _ => Ok((audio, None)),
    }
}

/// Loads one pair and its sidecars, checking shapes, lengths and rates.
pub fn load_pair(pair: &PairPaths, opts: &LoadOptions) -> Result<(Example, Option<String>), DataError> {
    let clean = read_clean(&pair.clean)?;
    let wet = audio_io::load(&pair.wet)?;
    if wet.channels.len() != 1 {
        return Err(DataError::Channels { path: pair.wet.clone(), found: wet.channels.len(), expected: "a wet recording must be mono" });
    }
    if clean.sample_rate != wet.sample_rate {
        return Err(DataError::Rate { clean: pair.clean.clone(), wet: pair.wet.clone(), clean_rate: clean.sample_rate, wet_rate: wet.sample_rate });
    }
    if clean.len() != wet.len() {
        return Err(DataError::Length { clean: pair.clean.clone(), wet: pair.wet.clone(), clean_len: clean.len(), wet_len: wet.len() });
    }
    let knobs = read_knobs(&pair.sidecar("fx.json"))?;
    let notes = read_notes(&pair.sidecar("notes.json"))?;
    let spec = ModelSpec::default();
    let (feats, _) = features::load_or_compute(&pair.sidecar("features.bin"), &clean, &spec)?;
    let (clean, notice) = to_rate(clean, opts.sample_rate, &pair.clean)?;
    let (wet, _) = to_rate(wet, opts.sample_rate, &pair.wet)?;
    let example = Example {
        name: pair.name.clone(),
        path: pair.clean.clone(),
        sample_rate: clean.sample_rate,
        clean: clean.channels,
        wet: wet.channels.into_iter().next(),
        knobs,
        notes,
        features: feats,
    };
    Ok((example, notice))
}

/// Reads `NAME_fx.json` if it exists.
pub fn read_knobs(path: &Path) -> Result<Option<Knobs>, DataError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    Knobs::from_json(&text).map(Some).map_err(|e| DataError::Sidecar { path: path.into(), detail: format!("not a knob setting: {e}") })
}

/// Reads `NAME_notes.json` if it exists.
pub fn read_notes(path: &Path) -> Result<Option<NoteTruth>, DataError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    serde_json::from_str(&text).map(Some).map_err(|e| DataError::Sidecar { path: path.into(), detail: format!("not a note-truth file: {e}") })
}
