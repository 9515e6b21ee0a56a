//! What can be wrong with training data, said so a person can fix it: which file, what
//! was wrong, what to do.

use std::path::PathBuf;

use gddsp_core::AudioError;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("{path}: has no partner {missing} — every NAME_clean.wav needs a NAME_wet.wav beside it (and the other way round)")]
    Unpaired { path: PathBuf, missing: String },
    #[error("{clean} ({clean_len} samples) and {wet} ({wet_len} samples) differ in length; a pair must be sample-aligned and equally long (nothing is truncated for you)")]
    Length { clean: PathBuf, wet: PathBuf, clean_len: usize, wet_len: usize },
    #[error("{clean} ({clean_rate} Hz) and {wet} ({wet_rate} Hz) differ in sample rate; export both at one rate")]
    Rate { clean: PathBuf, wet: PathBuf, clean_rate: u32, wet_rate: u32 },
    #[error("{path}: {found} channels; {expected}")]
    Channels { path: PathBuf, found: usize, expected: &'static str },
    #[error("{path}: not a valid JAMS annotation file: {detail}")]
    Jams { path: PathBuf, detail: String },
    #[error("{path}: {detail}")]
    Sidecar { path: PathBuf, detail: String },
    #[error("{path}: the audio is silent (peak below −90 dBFS); nothing to learn from")]
    Silent { path: PathBuf },
    #[error("{path}: cannot use this SoundFont: {detail}")]
    SoundFont { path: PathBuf, detail: String },
    #[error("{dir}: no training examples found ({expected})")]
    Empty { dir: PathBuf, expected: &'static str },
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> DataError {
        DataError::Io { path: path.into(), detail: e.to_string() }
    }
}
