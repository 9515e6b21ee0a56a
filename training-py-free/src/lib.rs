//! GDDSP training, in pure Rust: the corpus generator and loaders (`data`), plots, and —
//! as the training issues land — the differentiable twins of the core's DSP blocks, the
//! two-stage (clean + wet) training loop, evaluation and ONNX export.
//!
//! The formulas the twins implement live in `gddsp-core`'s module docs; the knob table
//! and model spec the model's outputs are generated from live there too.

pub mod cli;
pub mod data;
pub mod ddsp;
pub mod eval;
pub mod export;
pub mod model;
pub mod pitch_eval;
pub mod plot;
pub mod train;

pub use gddsp_core::{ModelSpec, KNOBS};
