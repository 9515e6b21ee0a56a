//! The trained model in the product: `models/model.json` (what the model is and what it
//! was trained on) and, through tract, `encoder.onnx` (wet clip → z and knobs) and
//! `decoder.onnx` (one control frame + GRU state → synth controls + GRU state).
//!
//! Loading checks every file and names the one at fault: missing, unreadable, not JSON,
//! a knob table or spec the code does not know, an ONNX file tract cannot read or whose
//! inputs and outputs are not the model's.

pub mod controls;
pub mod native_decoder;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use crate::analysis::pitch::open_string_hz;
use crate::analysis::{encoder_input, ChannelFeatures};
use crate::audio_io::{self, Audio};
use crate::knobs::{Knobs, KNOBS, KNOB_COUNT};
use crate::synth::SynthFrame;
use crate::ModelSpec;
pub use controls::Normalization;
use controls::{decoder_frame, gate_silence, held_f0, standardise_encoder_input};
use native_decoder::{DecoderShape, DecoderWeights, NativeDecoder};

pub const MODEL_JSON: &str = "model.json";
pub const ENCODER_ONNX: &str = "encoder.onnx";
pub const DECODER_ONNX: &str = "decoder.onnx";
pub const FORMAT: &str = "gddsp-model";
pub const VERSION: u32 = 1;

/// One knob as `model.json` records it (the core's table at export time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnobRecord {
    pub name: String,
    pub unit: String,
    pub min: f32,
    pub max: f32,
    pub skew: String,
    pub default: f32,
}

impl KnobRecord {
    pub fn table() -> Vec<KnobRecord> {
        KNOBS
            .iter()
            .map(|k| KnobRecord { name: k.name.into(), unit: k.unit.into(), min: k.min, max: k.max, skew: format!("{:?}", k.skew).to_lowercase(), default: k.default })
            .collect()
    }
}

/// `models/model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub format: String,
    pub version: u32,
    pub spec: ModelSpec,
    pub z_dim: usize,
    pub encoder_hidden: usize,
    pub decoder_hidden: usize,
    pub knobs: Vec<KnobRecord>,
    pub normalization: Normalization,
    /// What the model was trained on and how (corpus, steps, seed, losses).
    pub training: serde_json::Value,
    /// Its evaluation figures, when `gddsp-train eval` has run.
    #[serde(default)]
    pub eval: Option<serde_json::Value>,
    /// The timbre to play before any reference is heard: the mean z of the training clips
    /// (`gddsp-train export` and `gddsp-train default-z` write it). Empty in older files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_z: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: the model file is missing ({hint})")]
    Missing { path: PathBuf, hint: &'static str },
    #[error("{path}: cannot read the model file: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("{path}: the model file is corrupt or not a GDDSP model: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: the model does not match this version of GDDSP: {detail}")]
    Mismatch { path: PathBuf, detail: String },
    #[error("{0}")]
    Audio(#[from] crate::AudioError),
    #[error("{what}: {detail}")]
    Input { what: String, detail: String },
    #[error("running the model failed: {0}")]
    Run(String),
}

const HINT: &str = "train and export one with `gddsp-train export RUN --out models/`, or point --model at a folder that has encoder.onnx, decoder.onnx and model.json";

type Plan = Arc<TypedRunnableModel>;

/// The loaded model: its description and both networks, ready to run.
pub struct Model {
    pub info: ModelInfo,
    pub dir: PathBuf,
    encoder: Plan,
    decoder: Plan,
    /// `decoder.onnx`'s weights for the native decoder, or why tract runs it instead.
    native: Result<Arc<DecoderWeights>, String>,
}

/// What `analyze` hears in a reference clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub knobs: Knobs,
    /// Knob positions along their skews, table order.
    pub positions: [f32; KNOB_COUNT],
    pub z: Vec<f32>,
    /// Seconds of reference audio analysed.
    pub seconds: f64,
    /// Wall time of the analysis (decode excluded), s.
    pub elapsed_s: f64,
}

impl ModelInfo {
    pub fn read(path: &Path) -> Result<ModelInfo, ModelError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ModelError::Missing { path: path.into(), hint: HINT }),
            Err(e) => return Err(ModelError::Unreadable { path: path.into(), detail: e.to_string() }),
        };
        let info: ModelInfo = serde_json::from_str(&text).map_err(|e| ModelError::Corrupt { path: path.into(), detail: e.to_string() })?;
        if info.format != FORMAT || info.version != VERSION {
            return Err(ModelError::Mismatch { path: path.into(), detail: format!("format \"{}\" version {}, this build reads \"{FORMAT}\" version {VERSION}", info.format, info.version) });
        }
        if info.knobs != KnobRecord::table() {
            return Err(ModelError::Mismatch { path: path.into(), detail: "its knob table differs from this build's (names, ranges or skews)".into() });
        }
        let n = &info.normalization;
        let bad_stats = n.mfcc_mean.len() != info.spec.mfcc || n.mfcc_std.len() != info.spec.mfcc || n.echo_mean.len() != info.spec.profile_len() || n.echo_std.len() != info.spec.profile_len();
        if bad_stats || info.spec.noise_bands != info.spec.hop + 1 || info.spec.voices == 0 {
            return Err(ModelError::Corrupt { path: path.into(), detail: "its spec and normalisation statistics do not fit together".into() });
        }
        if !info.default_z.is_empty() && (info.default_z.len() != info.z_dim || !info.default_z.iter().all(|v| v.is_finite())) {
            return Err(ModelError::Corrupt { path: path.into(), detail: format!("default_z holds {} values (finite ones expected, z_dim = {})", info.default_z.len(), info.z_dim) });
        }
        Ok(info)
    }

    /// Writes the description as `model.json` (pretty JSON) to `path`.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).expect("model info serialises");
        std::fs::write(path, text).map_err(|e| format!("{}: cannot write the model file: {e}", path.display()))
    }

    /// The z a decoder starts from when no reference has been heard: [`ModelInfo::default_z`],
    /// or zeros for a model file that has none.
    pub fn start_z(&self) -> Vec<f32> {
        if self.default_z.len() == self.z_dim {
            self.default_z.clone()
        } else {
            vec![0.0; self.z_dim]
        }
    }
}

fn load_plan(path: &Path, inputs: &[&str], outputs: &[&str]) -> Result<Plan, ModelError> {
    if !path.exists() {
        return Err(ModelError::Missing { path: path.into(), hint: HINT });
    }
    let corrupt = |e: TractError| ModelError::Corrupt { path: path.into(), detail: format!("{e:#}").lines().next().unwrap_or("").to_string() };
    let model = tract_onnx::onnx().model_for_path(path).map_err(corrupt)?;
    let names_in: Vec<String> = model.input_outlets().map_err(corrupt)?.iter().map(|o| model.node(o.node).name.clone()).collect();
    let names_out: Vec<String> = model.output_outlets().map_err(corrupt)?.iter().map(|o| model.node(o.node).name.clone()).collect();
    if names_in != inputs || !outputs.iter().all(|o| names_out.iter().any(|n| n == o || n.ends_with(&format!("out_{o}")))) {
        return Err(ModelError::Mismatch { path: path.into(), detail: format!("inputs {names_in:?} / outputs {names_out:?}, expected {inputs:?} / {outputs:?}") });
    }
    model.into_optimized().and_then(|m| m.into_runnable()).map_err(corrupt)
}

fn to_vec(t: &TValue) -> Result<Vec<f32>, ModelError> {
    Ok(t.to_plain_array_view::<f32>().map_err(|e| ModelError::Run(e.to_string()))?.iter().copied().collect())
}

impl Model {
    /// Loads `dir/model.json`, `dir/encoder.onnx` and `dir/decoder.onnx`.
    pub fn load(dir: &Path) -> Result<Model, ModelError> {
        let info = ModelInfo::read(&dir.join(MODEL_JSON))?;
        let encoder = load_plan(&dir.join(ENCODER_ONNX), &["mfcc", "echo"], &["z", "knobs"])?;
        let decoder = load_plan(&dir.join(DECODER_ONNX), &["controls", "z", "state"], &["amplitude", "harmonics", "noise", "state_out"])?;
        let mut model = Model { info, dir: dir.into(), encoder, decoder, native: Err(String::new()) };
        model.native = model.native_weights();
        Ok(model)
    }

    /// The native decoder's weights, if `decoder.onnx` is the graph this build knows and
    /// the native step matches tract on a test sequence within [`NATIVE_TOLERANCE`].
    fn native_weights(&self) -> Result<Arc<DecoderWeights>, String> {
        let path = self.dir.join(DECODER_ONNX);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let i = &self.info;
        let weights = Arc::new(DecoderWeights::from_onnx(&bytes, DecoderShape::of(i))?);
        // Twelve frames of varied controls and timbre, state carried: both must agree.
        let mut native = DecoderStream::native(weights.clone(), &self.info);
        let mut tract = self.tract_decoder();
        let z: Vec<f32> = (0..i.z_dim).map(|j| (j as f32 * 0.77).sin() * 1.5).collect();
        let mut worst = 0f32;
        for t in 0..12 {
            let controls: Vec<f32> = (0..i.spec.voices * 3).map(|j| ((t * 31 + j * 7) as f32 * 0.37).sin() * 1.2).collect();
            let a = native.step(&controls, &z).map_err(|e| e.to_string())?;
            let b = tract.step(&controls, &z).map_err(|e| e.to_string())?;
            let diff = |x: &[f32], y: &[f32]| x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
            worst = worst.max(diff(&a.amplitude, &b.amplitude)).max(diff(&a.harmonics, &b.harmonics)).max(diff(&a.noise, &b.noise)).max(diff(native.state(), tract.state()));
        }
        if worst.is_nan() || worst > NATIVE_TOLERANCE {
            return Err(format!("the native decoder differs from tract by {worst:e} on the load check"));
        }
        Ok(weights)
    }

    /// Which implementation [`Model::decoder`] streams with: `"native"`, or tract and why.
    pub fn decoder_backend(&self) -> String {
        match &self.native {
            Ok(_) => "native".into(),
            Err(why) => format!("tract ({why})"),
        }
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.info.spec
    }

    /// z and knob positions from standardised encoder input (`[frames × M]`, `[E]`).
    pub fn encode(&self, mfcc: &[f32], echo: &[f32]) -> Result<(Vec<f32>, [f32; KNOB_COUNT]), ModelError> {
        let m = self.info.spec.mfcc;
        let frames = mfcc.len() / m;
        let mfcc = Tensor::from_shape(&[1, frames, m], mfcc).map_err(|e| ModelError::Run(e.to_string()))?;
        let echo = Tensor::from_shape(&[1, echo.len()], echo).map_err(|e| ModelError::Run(e.to_string()))?;
        let out = self.encoder.run(tvec![mfcc.into(), echo.into()]).map_err(|e| ModelError::Run(format!("{e:#}")))?;
        let z = to_vec(&out[0])?;
        let k = to_vec(&out[1])?;
        let mut positions = [0f32; KNOB_COUNT];
        for (p, v) in positions.iter_mut().zip(&k) {
            *p = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
        }
        Ok((z, positions))
    }

    /// Knobs and z of a wet reference (any rate, any channel count: mixed to mono).
    /// Needs at least half a second of sound.
    pub fn analyze(&self, audio: &Audio) -> Result<Analysis, ModelError> {
        let started = Instant::now();
        let spec = &self.info.spec;
        let mono = Audio::new(audio.sample_rate, vec![mean_channel(audio)]);
        let at_rate = audio_io::resample(&mono, spec.sample_rate)?;
        let x = &at_rate.channels[0];
        let seconds = x.len() as f64 / spec.sample_rate as f64;
        if seconds < 0.5 {
            return Err(ModelError::Input { what: "the reference".into(), detail: format!("{seconds:.2} s is too short; give at least 0.5 s") });
        }
        let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        if !peak.is_finite() {
            return Err(ModelError::Input { what: "the reference".into(), detail: "it holds NaN or infinite samples".into() });
        }
        if peak < 1e-4 {
            return Err(ModelError::Input { what: "the reference".into(), detail: "it is silent (peak below −80 dBFS)".into() });
        }
        let mut input = encoder_input(x, spec);
        standardise_encoder_input(&mut input.mfcc, &mut input.echo, &self.info.normalization);
        let (z, positions) = self.encode(&input.mfcc, &input.echo)?;
        Ok(Analysis { knobs: Knobs::from_normalized(&positions), positions, z, seconds, elapsed_s: started.elapsed().as_secs_f64() })
    }

    /// A streaming decoder with its GRU state at rest: the native one when the load check
    /// passed, else tract.
    pub fn decoder(&self) -> DecoderStream {
        match &self.native {
            Ok(w) => DecoderStream::native(w.clone(), &self.info),
            Err(_) => self.tract_decoder(),
        }
    }

    /// A streaming decoder run by tract (the reference the native one is checked against).
    pub fn tract_decoder(&self) -> DecoderStream {
        let shape = DecoderShape::of(&self.info);
        DecoderStream { backend: Backend::Tract { plan: self.decoder.clone(), state: vec![0.0; shape.voices * shape.hidden] }, shape }
    }

    /// Synth frames for per-voice features (`spec.voices` channels) with the timbre `z`,
    /// frame by frame through the streaming decoder; silent input gives silent frames
    /// ([`controls::gate_silence`]).
    pub fn decode_features(&self, features: &[ChannelFeatures], z: &[f32]) -> Result<Vec<SynthFrame>, ModelError> {
        let spec = &self.info.spec;
        if features.len() != spec.voices {
            return Err(ModelError::Input { what: "the input".into(), detail: format!("{} pitch tracks for a {}-voice model", features.len(), spec.voices) });
        }
        let f0: Vec<Vec<f32>> = features.iter().enumerate().map(|(v, f)| held_f0(f, open_string_hz(v))).collect();
        let frames = f0.first().map_or(0, Vec::len);
        let mut stream = self.decoder();
        let mut controls = vec![0f32; spec.voices * 3];
        (0..frames)
            .map(|t| {
                for v in 0..spec.voices {
                    controls[v * 3..v * 3 + 3].copy_from_slice(&decoder_frame(f0[v][t], features[v].loudness_db[t], features[v].confidence[t], &self.info.normalization));
                }
                let mut frame = stream.step(&controls, z)?;
                frame.f0_hz = (0..spec.voices).map(|v| f0[v][t]).collect();
                gate_silence(&mut frame, features.iter().map(|f| f.loudness_db[t]));
                Ok(frame)
            })
            .collect()
    }
}

/// The largest difference between the native and the tract decoder the load check accepts.
pub const NATIVE_TOLERANCE: f32 = 1e-4;

/// The decoder, one control frame at a time, GRU state carried.
pub struct DecoderStream {
    backend: Backend,
    shape: DecoderShape,
}

enum Backend {
    Native(NativeDecoder),
    Tract { plan: Plan, state: Vec<f32> },
}

impl DecoderStream {
    fn native(weights: Arc<DecoderWeights>, info: &ModelInfo) -> Self {
        DecoderStream { backend: Backend::Native(NativeDecoder::new(weights)), shape: DecoderShape::of(info) }
    }

    /// One frame: `controls` `[V × 3]` (see [`controls`]) and `z` → synth controls (f0 left
    /// at 0 for the caller to fill). Non-finite outputs become silence.
    pub fn step(&mut self, controls: &[f32], z: &[f32]) -> Result<SynthFrame, ModelError> {
        let mut frame = self.shape.frame();
        self.step_into(controls, z, &mut frame)?;
        Ok(frame)
    }

    /// [`DecoderStream::step`] into a frame of the model's sizes (its f0 untouched). The
    /// native decoder allocates nothing here; tract does.
    pub fn step_into(&mut self, controls: &[f32], z: &[f32], out: &mut SynthFrame) -> Result<(), ModelError> {
        let DecoderShape { voices: v, harmonics: k, bands: n, hidden, .. } = self.shape;
        if controls.len() != v * 3 || out.amplitude.len() != v || out.harmonics.len() != v * k || out.noise.len() != n {
            return Err(ModelError::Run(format!("a decoder frame of the wrong size ({} controls for {v} voices)", controls.len())));
        }
        match &mut self.backend {
            Backend::Native(d) => {
                d.step(controls, z, out);
                Ok(())
            }
            Backend::Tract { plan, state } => {
                let run = |e: TractError| ModelError::Run(format!("{e:#}"));
                let c = Tensor::from_shape(&[v, 3], controls).map_err(run)?;
                let zt = Tensor::from_shape(&[1, z.len()], z).map_err(run)?;
                let s = Tensor::from_shape(&[v, hidden], state).map_err(run)?;
                let result = plan.run(tvec![c.into(), zt.into(), s.into()]).map_err(run)?;
                let copy = |dst: &mut [f32], t: &TValue| -> Result<(), ModelError> {
                    let src = t.to_plain_array_view::<f32>().map_err(|e| ModelError::Run(e.to_string()))?;
                    for (d, s) in dst.iter_mut().zip(src.iter()) {
                        *d = if s.is_finite() { *s } else { 0.0 };
                    }
                    Ok(())
                };
                copy(state, &result[3])?;
                copy(&mut out.amplitude, &result[0])?;
                copy(&mut out.harmonics, &result[1])?;
                copy(&mut out.noise, &result[2])
            }
        }
    }

    /// The GRU state `[V × H]`.
    pub fn state(&self) -> &[f32] {
        match &self.backend {
            Backend::Native(d) => d.state(),
            Backend::Tract { state, .. } => state,
        }
    }

    pub fn reset(&mut self) {
        match &mut self.backend {
            Backend::Native(d) => d.reset(),
            Backend::Tract { state, .. } => state.fill(0.0),
        }
    }
}

/// The channels' average (a stereo reference becomes its mid signal).
fn mean_channel(audio: &Audio) -> Vec<f32> {
    let n = audio.channels.len().max(1) as f32;
    (0..audio.len()).map(|i| audio.channels.iter().map(|c| c[i]).sum::<f32>() / n).collect()
}
