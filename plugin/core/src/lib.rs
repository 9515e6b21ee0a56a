//! GDDSP core — everything the plugin, the CLI and the trainer share, with no GUI and no
//! system-library dependency.
//!
//! * [`knobs`] — the one table of FX knobs (name, unit, range, skew, default).
//! * [`spec`] — the model spec that training and the plugin must agree on.
//! * [`synth`] — six harmonic oscillators plus filtered noise: the CLEAN reconstruction.
//! * [`fx`] — distortion → delay → reverb: the WET reconstruction.
//! * [`analysis`] — loudness, f0 + confidence, MFCC at the model frame rate.
//! * [`engine`] — the plugin's audio thread: FX clone and tone clone, allocation-free.
//! * [`audio_io`] — decoding any common audio file, resampling, writing WAV.
//!
//! Real-time blocks are plain `f32`, allocate only in `new`, and accept any block size.
//! Each block's module doc holds its formula; the differentiable twin in
//! `training-py-free/` implements the same formula.

pub mod analysis;
pub mod audio_io;
pub mod engine;
pub mod error;
pub mod fx;
pub mod inference;
pub mod knobs;
pub mod live;
pub mod rng;
pub mod spec;
pub mod synth;

pub use error::{AudioError, KnobError};
pub use knobs::{Knob, Knobs, Skew, KNOBS};
pub use spec::ModelSpec;
