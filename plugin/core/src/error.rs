//! Error types a guitarist can read: which file, what was wrong, what to do.

use std::path::PathBuf;

/// A knob setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KnobError {
    #[error("knob settings are not valid JSON: {0}")]
    Json(String),
    #[error("knob settings must be a JSON object keyed by knob name (see `gddsp knobs`)")]
    NotAnObject,
    #[error("unknown knob \"{0}\" (see `gddsp knobs` for the names)")]
    Unknown(String),
    #[error("knob \"{0}\" must be a number")]
    NotANumber(String),
    #[error("knob \"{name}\" = {value} is outside its range {min} – {max} {unit}")]
    OutOfRange { name: &'static str, value: f64, min: f32, max: f32, unit: &'static str },
}

/// An audio file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: cannot open the file: {reason}")]
    Open { path: PathBuf, reason: std::io::Error },
    #[error("{path}: not a supported audio file (wav, flac, mp3, ogg/vorbis): {detail}")]
    Unsupported { path: PathBuf, detail: String },
    #[error("{path}: the audio data is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: the file holds no audio samples")]
    Empty { path: PathBuf },
    #[error("{path}: sample {index} of channel {channel} is not a number (NaN or infinite)")]
    NotFinite { path: PathBuf, channel: usize, index: usize },
    #[error("{path}: sample rate {rate} Hz is outside the supported {min}–{max} Hz")]
    SampleRate { path: PathBuf, rate: u32, min: u32, max: u32 },
    #[error("{path}: cannot write: {detail}")]
    Write { path: PathBuf, detail: String },
    #[error("cannot resample from {from} Hz to {to} Hz: {detail}")]
    Resample { from: u32, to: u32, detail: String },
}
