//! GDDSP training, in pure Rust with burn: the corpus generator and loaders, the
//! differentiable twins of the core's DSP blocks, the two-stage (clean + wet) training
//! loop, evaluation and ONNX export.
//!
//! This crate is the skeleton the training issues fill in. It already depends on
//! `gddsp-core`, whose module docs hold the formulas the twins must implement and whose
//! knob table and model spec the model's outputs are generated from.

pub use gddsp_core::{ModelSpec, KNOBS};
