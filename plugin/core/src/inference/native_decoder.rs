//! The streaming synth decoder as plain Rust loops over `decoder.onnx`'s own weights.
//!
//! tract runs the decoder in 67–79 µs per frame (`gddsp bench`) and allocates ≈ 107 times
//! doing it; one frame is ≈ 0.75 M multiply-adds (six strings × GRU 128 and two 128-wide
//! layers), which this file does in 40–41 µs with no allocation once built. It is the
//! same function, checked against tract on every load ([`super::Model::load`] keeps tract
//! when the two disagree). No crate serves here: the graph is ours and tiny, and a
//! general ONNX runtime is what we are avoiding.
//!
//! Per string `s` (weights as the exporter writes them, `training-py-free/src/export`):
//!
//! ```text
//! x_s = relu(LN(c_s·W_controls + string_rows[s] + z·W_z))            [H]
//! GRU (ONNX, linear_before_reset = 1, gates z, r, h):
//!   g = x_s·Wᵀ + bW,  q = h_s·Rᵀ + bR
//!   u = σ(g_z + q_z), r = σ(g_r + q_r), n = tanh(g_h + r ⊙ q_h),  h_s ← (1 − u) ⊙ n + u ⊙ h_s
//! y_s = relu(LN([h_s, c_s]·W_out + b_out))                             [H]
//! amplitude_s = 2·σ(y_s·w_amp + b_amp)^ln10 + 1e-7,  harmonics_s = softmax(y_s·W_harm + b_harm)
//! noise = 2·σ(mean_s(y_s)·W_noise + b_noise)^ln10 + 1e-7      (b_noise already holds the −5 offset)
//! ```
//!
//! The initializers are read in the order the exporter creates them (their names are
//! `what_N`), each shape checked against `model.json`.

use prost::Message;
use tract_onnx::pb;

use crate::synth::SynthFrame;

/// Per-string control inputs (standardised pitch, standardised loudness, confidence).
const CONTROLS: usize = 3;
/// LayerNorm's ε, as the exporter writes it.
const NORM_EPSILON: f32 = 1e-5;

/// The decoder's weights, laid out `[inputs × outputs]` (row `i` is what input `i` adds).
#[derive(Debug, Clone)]
pub struct DecoderWeights {
    voices: usize,
    hidden: usize,
    harmonics: usize,
    bands: usize,
    z_dim: usize,
    w_controls: Vec<f32>,
    string_rows: Vec<f32>,
    w_z: Vec<f32>,
    in_gamma: Vec<f32>,
    in_beta: Vec<f32>,
    /// `[H × 3H]`, `[H × 3H]`, `[3H]`, `[3H]`.
    gru_w: Vec<f32>,
    gru_r: Vec<f32>,
    gru_bw: Vec<f32>,
    gru_br: Vec<f32>,
    w_out: Vec<f32>,
    b_out: Vec<f32>,
    out_gamma: Vec<f32>,
    out_beta: Vec<f32>,
    w_amp: Vec<f32>,
    b_amp: f32,
    w_harm: Vec<f32>,
    b_harm: Vec<f32>,
    w_noise: Vec<f32>,
    b_noise: Vec<f32>,
}

/// The sizes `model.json` promises.
#[derive(Debug, Clone, Copy)]
pub struct DecoderShape {
    pub voices: usize,
    pub hidden: usize,
    pub harmonics: usize,
    pub bands: usize,
    pub z_dim: usize,
}

impl DecoderShape {
    pub fn of(info: &super::ModelInfo) -> Self {
        DecoderShape { voices: info.spec.voices, hidden: info.decoder_hidden, harmonics: info.spec.harmonics, bands: info.spec.noise_bands, z_dim: info.z_dim }
    }

    /// A silent synth frame of these sizes, for a decoder to fill.
    pub fn frame(&self) -> SynthFrame {
        SynthFrame { f0_hz: vec![0.0; self.voices], amplitude: vec![0.0; self.voices], harmonics: vec![0.0; self.voices * self.harmonics], noise: vec![0.0; self.bands] }
    }
}

impl DecoderWeights {
    /// Reads the weights out of `decoder.onnx`'s bytes. An error says what did not fit
    /// (the file is then run by tract alone).
    pub fn from_onnx(bytes: &[u8], shape: DecoderShape) -> Result<DecoderWeights, String> {
        let model = pb::ModelProto::decode(bytes).map_err(|e| format!("not an ONNX protobuf: {e}"))?;
        let graph = model.graph.ok_or("no graph")?;
        // Float initializers in creation order, without the scalar constants.
        let mut floats = graph.initializer.iter().filter(|t| t.data_type == pb::tensor_proto::DataType::Float as i32).map(|t| {
            let what = t.name.rsplit_once('_').map_or(t.name.as_str(), |(w, _)| w);
            (what, t)
        });
        let DecoderShape { voices: v, hidden: h, harmonics: k, bands: n, z_dim } = shape;
        let mut take = |want: &str, dims: &[usize]| -> Result<Vec<f32>, String> {
            let (what, t) = floats.find(|(what, _)| !matches!(*what, "ln10" | "two" | "eps")).ok_or_else(|| format!("{want}: missing"))?;
            let got: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
            if what != want || got != dims {
                return Err(format!("expected {want} {dims:?}, found {what} {got:?}"));
            }
            let data = if !t.float_data.is_empty() { t.float_data.clone() } else { t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect() };
            if data.len() != dims.iter().product::<usize>() {
                return Err(format!("{want}: {} values for shape {dims:?}", data.len()));
            }
            Ok(data)
        };
        let w_controls = take("W_controls", &[CONTROLS, h])?;
        let string_rows = take("string_rows", &[v, h])?;
        let w_z = take("W_z", &[z_dim, h])?;
        let in_gamma = take("gamma", &[h])?;
        let in_beta = take("beta", &[h])?;
        let gru_w = transpose(&take("gru_W", &[1, 3 * h, h])?, 3 * h, h);
        let gru_r = transpose(&take("gru_R", &[1, 3 * h, h])?, 3 * h, h);
        let gru_b = take("gru_B", &[1, 6 * h])?;
        let w_out = take("W", &[h + CONTROLS, h])?;
        let b_out = take("b", &[h])?;
        let out_gamma = take("gamma", &[h])?;
        let out_beta = take("beta", &[h])?;
        let w_amp = take("W", &[h, 1])?;
        let b_amp = take("b", &[1])?[0];
        let w_harm = take("W", &[h, k])?;
        let b_harm = take("b", &[k])?;
        let w_noise = take("W", &[h, n])?;
        let b_noise = take("b", &[n])?;
        if let Some((what, t)) = floats.find(|(what, _)| !matches!(*what, "ln10" | "two" | "eps")) {
            return Err(format!("an unexpected weight {what} {:?}", t.dims));
        }
        Ok(DecoderWeights {
            voices: v,
            hidden: h,
            harmonics: k,
            bands: n,
            z_dim,
            w_controls,
            string_rows,
            w_z,
            in_gamma,
            in_beta,
            gru_w,
            gru_r,
            gru_bw: gru_b[..3 * h].to_vec(),
            gru_br: gru_b[3 * h..].to_vec(),
            w_out,
            b_out,
            out_gamma,
            out_beta,
            w_amp,
            b_amp,
            w_harm,
            b_harm,
            w_noise,
            b_noise,
        })
    }
}

/// `[rows × cols]` → `[cols × rows]` (row-major both; the exporter uses it too).
pub fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// Output columns one register tile holds per row (two AVX vectors).
const TILE: usize = 16;
/// The batch the tiled kernel is written for: one row per string.
const ROWS: usize = 6;

/// `y_b += x_b · W` for a batch of row vectors: `x` `[B × I]`, `w` `[I × O]`, `y`
/// `[B × O]`. For six rows (the six strings) each tile of 16 output columns of all six
/// rows stays in registers over the whole input (12 vector accumulators, each weight
/// vector read once per tile); other batches and the leftover columns take the plain
/// loop, which loads and stores `y` for every input. Measured on the shipped decoder
/// (`gddsp bench`): the plain loop and libm's `tanhf` took 63–66 µs per frame, this
/// kernel and [`tanh`] below 40–41 µs.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn matmul_add(x: &[f32], inputs: usize, w: &[f32], y: &mut [f32], outputs: usize) {
    let batch = x.len() / inputs;
    let mut tiled = 0;
    if batch == ROWS {
        let xs: [&[f32]; ROWS] = std::array::from_fn(|b| &x[b * inputs..(b + 1) * inputs]);
        while tiled + TILE <= outputs {
            let mut acc = [[0f32; TILE]; ROWS];
            for (b, a) in acc.iter_mut().enumerate() {
                a.copy_from_slice(&y[b * outputs + tiled..b * outputs + tiled + TILE]);
            }
            for (i, row) in w.chunks_exact(outputs).take(inputs).enumerate() {
                let wt: &[f32; TILE] = row[tiled..tiled + TILE].try_into().expect("a full tile");
                for (a, xb) in acc.iter_mut().zip(&xs) {
                    let v = xb[i];
                    for t in 0..TILE {
                        a[t] += v * wt[t];
                    }
                }
            }
            for (b, a) in acc.iter().enumerate() {
                y[b * outputs + tiled..b * outputs + tiled + TILE].copy_from_slice(a);
            }
            tiled += TILE;
        }
    }
    if tiled == outputs {
        return;
    }
    for (i, row) in w.chunks_exact(outputs).enumerate().take(inputs) {
        let row = &row[tiled..];
        for (xb, yb) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
            let a = xb[i];
            for (acc, wv) in yb[tiled..].iter_mut().zip(row) {
                *acc += a * wv;
            }
        }
    }
}

/// LayerNorm then ReLU, in place.
fn norm_relu(x: &mut [f32], gamma: &[f32], beta: &[f32]) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + NORM_EPSILON).sqrt();
    for ((v, g), b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = ((*v - mean) * inv * g + b).max(0.0);
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `tanh` through one `exp` (libm's `tanhf` goes through `expm1f`, ≈ 5 % of the decoder
/// thread's samples in `perf`); the absolute error stays near 1e-7, far inside the tract
/// check's 1e-4.
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

fn scaled_sigmoid(x: f32) -> f32 {
    2.0 * sigmoid(x).powf(std::f32::consts::LN_10) + 1e-7
}

/// A finite value or silence.
fn finite(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
}

/// One stream through [`DecoderWeights`]: the GRU state and every scratch buffer, so a
/// step allocates nothing.
#[derive(Debug, Clone)]
pub struct NativeDecoder {
    w: std::sync::Arc<DecoderWeights>,
    state: Vec<f32>,
    z_row: Vec<f32>,
    x: Vec<f32>,
    gates_x: Vec<f32>,
    gates_h: Vec<f32>,
    cat: Vec<f32>,
    y: Vec<f32>,
    mean: Vec<f32>,
}

impl NativeDecoder {
    pub fn new(w: std::sync::Arc<DecoderWeights>) -> Self {
        let (v, h) = (w.voices, w.hidden);
        NativeDecoder {
            state: vec![0.0; v * h],
            z_row: vec![0.0; h],
            x: vec![0.0; v * h],
            gates_x: vec![0.0; v * 3 * h],
            gates_h: vec![0.0; v * 3 * h],
            cat: vec![0.0; v * (h + CONTROLS)],
            y: vec![0.0; v * h],
            mean: vec![0.0; h],
            w,
        }
    }

    pub fn reset(&mut self) {
        self.state.fill(0.0);
    }

    pub fn state(&self) -> &[f32] {
        &self.state
    }

    /// One frame: `controls` `[V × 3]`, `z` `[Z]` → `out`'s amplitudes, harmonic
    /// distributions and noise magnitudes (its f0 is the caller's). Non-finite values
    /// become silence; the state stays finite.
    pub fn step(&mut self, controls: &[f32], z: &[f32], out: &mut SynthFrame) {
        let w = &*self.w;
        let (v, h, k, n) = (w.voices, w.hidden, w.harmonics, w.bands);
        // Input layer: controls, the string's row (bias included), z.
        self.z_row.fill(0.0);
        matmul_add(&z[..w.z_dim], w.z_dim, &w.w_z, &mut self.z_row, h);
        for s in 0..v {
            let x = &mut self.x[s * h..(s + 1) * h];
            for ((xv, sr), zr) in x.iter_mut().zip(&w.string_rows[s * h..(s + 1) * h]).zip(&self.z_row) {
                *xv = sr + zr;
            }
        }
        matmul_add(&controls[..v * CONTROLS], CONTROLS, &w.w_controls, &mut self.x, h);
        for x in self.x.chunks_exact_mut(h) {
            norm_relu(x, &w.in_gamma, &w.in_beta);
        }
        // GRU.
        for (gx, gh) in self.gates_x.chunks_exact_mut(3 * h).zip(self.gates_h.chunks_exact_mut(3 * h)) {
            gx.copy_from_slice(&w.gru_bw);
            gh.copy_from_slice(&w.gru_br);
        }
        matmul_add(&self.x, h, &w.gru_w, &mut self.gates_x, 3 * h);
        matmul_add(&self.state, h, &w.gru_r, &mut self.gates_h, 3 * h);
        for s in 0..v {
            let (gx, gh) = (&self.gates_x[s * 3 * h..(s + 1) * 3 * h], &self.gates_h[s * 3 * h..(s + 1) * 3 * h]);
            for (j, hv) in self.state[s * h..(s + 1) * h].iter_mut().enumerate() {
                let u = sigmoid(gx[j] + gh[j]);
                let r = sigmoid(gx[h + j] + gh[h + j]);
                let cand = tanh(gx[2 * h + j] + r * gh[2 * h + j]);
                *hv = finite((1.0 - u) * cand + u * *hv);
            }
        }
        // Output layer on [h, controls].
        for s in 0..v {
            let cat = &mut self.cat[s * (h + CONTROLS)..(s + 1) * (h + CONTROLS)];
            cat[..h].copy_from_slice(&self.state[s * h..(s + 1) * h]);
            cat[h..].copy_from_slice(&controls[s * CONTROLS..(s + 1) * CONTROLS]);
            self.y[s * h..(s + 1) * h].copy_from_slice(&w.b_out);
        }
        matmul_add(&self.cat, h + CONTROLS, &w.w_out, &mut self.y, h);
        for y in self.y.chunks_exact_mut(h) {
            norm_relu(y, &w.out_gamma, &w.out_beta);
        }
        // Heads.
        for s in 0..v {
            let y = &self.y[s * h..(s + 1) * h];
            let a = y.iter().zip(&w.w_amp).map(|(a, b)| a * b).sum::<f32>() + w.b_amp;
            out.amplitude[s] = finite(scaled_sigmoid(a));
            let harm = &mut out.harmonics[s * k..(s + 1) * k];
            harm.copy_from_slice(&w.b_harm);
        }
        matmul_add(&self.y, h, &w.w_harm, &mut out.harmonics[..v * k], k);
        for harm in out.harmonics[..v * k].chunks_exact_mut(k) {
            let top = harm.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for c in harm.iter_mut() {
                *c = (*c - top).exp();
                sum += *c;
            }
            for c in harm.iter_mut() {
                *c = finite(*c / sum);
            }
        }
        self.mean.fill(0.0);
        for y in self.y.chunks_exact(h) {
            for (m, yv) in self.mean.iter_mut().zip(y) {
                *m += yv / v as f32;
            }
        }
        out.noise[..n].copy_from_slice(&w.b_noise);
        matmul_add(&self.mean, h, &w.w_noise, &mut out.noise[..n], n);
        for m in &mut out.noise[..n] {
            *m = finite(scaled_sigmoid(*m));
        }
    }
}
