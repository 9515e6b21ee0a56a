//! The streaming synth decoder as plain Rust loops over `decoder.onnx`'s own weights.
//!
//! tract runs the decoder in 67–79 µs per frame (`gddsp bench`) and allocates ≈ 107 times
//! doing it; one frame is ≈ 0.75 M multiply-adds (six strings × GRU 128 and two 128-wide
//! layers), which this file does in 40–41 µs with no allocation once built (hot, in a
//! loop). Inside the plugin the decoder thread wakes every 4 ms to a cold cache; with the
//! weights packed by column tile and the activations vectorised its CPU per frame fell
//! from 60–127 µs to 51–66 µs (three interleaved A/B runs of the plugin bench). It is the
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

/// The decoder's weights: each matrix `[inputs × outputs]` (row `i` is what input `i`
/// adds), packed for [`matmul_add`].
#[derive(Debug, Clone)]
pub struct DecoderWeights {
    voices: usize,
    hidden: usize,
    harmonics: usize,
    bands: usize,
    z_dim: usize,
    w_controls: Packed,
    string_rows: Vec<f32>,
    w_z: Packed,
    in_gamma: Vec<f32>,
    in_beta: Vec<f32>,
    /// `[H × 3H]`, `[H × 3H]`; then the biases `[3H]`, `[3H]`.
    gru_w: Packed,
    gru_r: Packed,
    gru_bw: Vec<f32>,
    gru_br: Vec<f32>,
    w_out: Packed,
    b_out: Vec<f32>,
    out_gamma: Vec<f32>,
    out_beta: Vec<f32>,
    w_amp: Vec<f32>,
    b_amp: f32,
    w_harm: Packed,
    b_harm: Vec<f32>,
    w_noise: Packed,
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
        let w_controls = Packed::new(&take("W_controls", &[CONTROLS, h])?, CONTROLS, h);
        let string_rows = take("string_rows", &[v, h])?;
        let w_z = Packed::new(&take("W_z", &[z_dim, h])?, z_dim, h);
        let in_gamma = take("gamma", &[h])?;
        let in_beta = take("beta", &[h])?;
        let gru_w = Packed::new(&transpose(&take("gru_W", &[1, 3 * h, h])?, 3 * h, h), h, 3 * h);
        let gru_r = Packed::new(&transpose(&take("gru_R", &[1, 3 * h, h])?, 3 * h, h), h, 3 * h);
        let gru_b = take("gru_B", &[1, 6 * h])?;
        let w_out = Packed::new(&take("W", &[h + CONTROLS, h])?, h + CONTROLS, h);
        let b_out = take("b", &[h])?;
        let out_gamma = take("gamma", &[h])?;
        let out_beta = take("beta", &[h])?;
        let w_amp = take("W", &[h, 1])?;
        let b_amp = take("b", &[1])?[0];
        let w_harm = Packed::new(&take("W", &[h, k])?, h, k);
        let b_harm = take("b", &[k])?;
        let w_noise = Packed::new(&take("W", &[h, n])?, h, n);
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

/// A weight matrix `[inputs × outputs]` packed by column tiles: tile `t` holds columns
/// `16t .. 16t + 16` of every input row, `[inputs × 16]` contiguous (the last tile padded
/// with zeros). A tile's weights then stream from memory in order. The decoder thread
/// wakes every 4 ms to a cold cache: with the weights row-major, a tile touched one
/// 64-byte line every `4·outputs` bytes and the first step after a wake took 66–92 µs
/// against 38 µs for a second step straight after (the plugin bench, mono case).
#[derive(Debug, Clone)]
struct Packed {
    inputs: usize,
    outputs: usize,
    data: Vec<f32>,
}

impl Packed {
    fn new(w: &[f32], inputs: usize, outputs: usize) -> Packed {
        let tiles = outputs.div_ceil(TILE);
        let mut data = vec![0.0; tiles * inputs * TILE];
        for (t, tile) in data.chunks_exact_mut(inputs * TILE).enumerate() {
            for (i, dst) in tile.chunks_exact_mut(TILE).enumerate() {
                let cols = t * TILE..((t + 1) * TILE).min(outputs);
                dst[..cols.len()].copy_from_slice(&w[i * outputs + cols.start..i * outputs + cols.end]);
            }
        }
        Packed { inputs, outputs, data }
    }
}

/// `y_b += x_b · W` for a batch of row vectors: `x` `[B × I]`, `y` `[B × O]`. Each tile
/// of 16 output columns of all `B` rows stays in registers over the whole input (for six
/// rows — the six strings — 12 vector accumulators, each weight vector read once per
/// tile). Measured on the shipped decoder (`gddsp bench`): a plain loop and libm's
/// `tanhf` took 63–66 µs per frame, this kernel (row-major then) and [`tanh`] 40–41 µs.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn matmul_add(x: &[f32], w: &Packed, y: &mut [f32]) {
    match x.len() / w.inputs {
        6 => tiles::<6>(x, w, y),
        1 => tiles::<1>(x, w, y),
        batch => {
            for b in 0..batch {
                tiles::<1>(&x[b * w.inputs..(b + 1) * w.inputs], w, &mut y[b * w.outputs..(b + 1) * w.outputs]);
            }
        }
    }
}

#[inline(always)]
fn tiles<const B: usize>(x: &[f32], w: &Packed, y: &mut [f32]) {
    let (inputs, outputs) = (w.inputs, w.outputs);
    let xs: [&[f32]; B] = std::array::from_fn(|b| &x[b * inputs..(b + 1) * inputs]);
    for (t, tile) in w.data.chunks_exact(inputs * TILE).enumerate() {
        let cols = t * TILE..((t + 1) * TILE).min(outputs);
        let mut acc = [[0f32; TILE]; B];
        for (b, a) in acc.iter_mut().enumerate() {
            a[..cols.len()].copy_from_slice(&y[b * outputs + cols.start..b * outputs + cols.end]);
        }
        for (i, wt) in tile.chunks_exact(TILE).enumerate() {
            for (a, xb) in acc.iter_mut().zip(&xs) {
                let v = xb[i];
                for (av, wv) in a.iter_mut().zip(wt) {
                    *av += v * wv;
                }
            }
        }
        for (b, a) in acc.iter().enumerate() {
            y[b * outputs + cols.start..b * outputs + cols.end].copy_from_slice(&a[..cols.len()]);
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

/// `e^x` in plain arithmetic, so the loops around it vectorise (libm's `expf` is a call per
/// value: 3.6 % of the plugin's samples in `perf`, beside 21 % for all the matrix work).
/// Cephes' `expf`: `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, a degree-7 polynomial for `e^r`, `2^n`
/// by the exponent bits; relative error under 3e-7 on `[-87, 88]` (clamped outside). NaN
/// stays NaN.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let p = p * r * r + r + 1.0;
    f32::from_bits(((n as i32 + 127) as u32) << 23) * p
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh` through one `exp` (libm's `tanhf` goes through `expm1f`, ≈ 5 % of the decoder
/// thread's samples in `perf`); the absolute error stays near 1e-7, far inside the tract
/// check's 1e-4.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// One string's GRU state update from its gate pre-activations `gx`, `gh` (`[3H]`: z, r, h).
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn gru_update(gx: &[f32], gh: &[f32], state: &mut [f32]) {
    let h = state.len();
    let (gx_u, gx_r, gx_n) = (&gx[..h], &gx[h..2 * h], &gx[2 * h..3 * h]);
    let (gh_u, gh_r, gh_n) = (&gh[..h], &gh[h..2 * h], &gh[2 * h..3 * h]);
    for j in 0..h {
        let u = sigmoid(gx_u[j] + gh_u[j]);
        let r = sigmoid(gx_r[j] + gh_r[j]);
        let cand = tanh(gx_n[j] + r * gh_n[j]);
        state[j] = finite((1.0 - u) * cand + u * state[j]);
    }
}

/// Softmax in place; a non-finite share becomes 0.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+avx", "aarch64+neon"))]
fn softmax(x: &mut [f32]) {
    let top = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for c in x.iter_mut() {
        *c = exp(*c - top);
        sum += *c;
    }
    let inv = 1.0 / sum;
    for c in x.iter_mut() {
        *c = finite(*c * inv);
    }
}

fn scaled_sigmoid(x: f32) -> f32 {
    2.0 * sigmoid(x).powf(std::f32::consts::LN_10) + 1e-7
}

/// A finite value or silence.
#[inline(always)]
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
        matmul_add(&z[..w.z_dim], &w.w_z, &mut self.z_row);
        for s in 0..v {
            let x = &mut self.x[s * h..(s + 1) * h];
            for ((xv, sr), zr) in x.iter_mut().zip(&w.string_rows[s * h..(s + 1) * h]).zip(&self.z_row) {
                *xv = sr + zr;
            }
        }
        matmul_add(&controls[..v * CONTROLS], &w.w_controls, &mut self.x);
        for x in self.x.chunks_exact_mut(h) {
            norm_relu(x, &w.in_gamma, &w.in_beta);
        }
        // GRU.
        for (gx, gh) in self.gates_x.chunks_exact_mut(3 * h).zip(self.gates_h.chunks_exact_mut(3 * h)) {
            gx.copy_from_slice(&w.gru_bw);
            gh.copy_from_slice(&w.gru_br);
        }
        matmul_add(&self.x, &w.gru_w, &mut self.gates_x);
        matmul_add(&self.state, &w.gru_r, &mut self.gates_h);
        for s in 0..v {
            let (gx, gh) = (&self.gates_x[s * 3 * h..(s + 1) * 3 * h], &self.gates_h[s * 3 * h..(s + 1) * 3 * h]);
            gru_update(gx, gh, &mut self.state[s * h..(s + 1) * h]);
        }
        // Output layer on [h, controls].
        for s in 0..v {
            let cat = &mut self.cat[s * (h + CONTROLS)..(s + 1) * (h + CONTROLS)];
            cat[..h].copy_from_slice(&self.state[s * h..(s + 1) * h]);
            cat[h..].copy_from_slice(&controls[s * CONTROLS..(s + 1) * CONTROLS]);
            self.y[s * h..(s + 1) * h].copy_from_slice(&w.b_out);
        }
        matmul_add(&self.cat, &w.w_out, &mut self.y);
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
        matmul_add(&self.y, &w.w_harm, &mut out.harmonics[..v * k]);
        for harm in out.harmonics[..v * k].chunks_exact_mut(k) {
            softmax(harm);
        }
        self.mean.fill(0.0);
        for y in self.y.chunks_exact(h) {
            for (m, yv) in self.mean.iter_mut().zip(y) {
                *m += yv / v as f32;
            }
        }
        out.noise[..n].copy_from_slice(&w.b_noise);
        matmul_add(&self.mean, &w.w_noise, &mut out.noise[..n]);
        for m in &mut out.noise[..n] {
            *m = finite(scaled_sigmoid(*m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_3e_7_of_libm() {
        let mut worst = 0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(-1000.0), exp(-87.0));
    }

    #[test]
    fn packed_matmul_matches_the_plain_product() {
        // Batches of 6, 1 and 3 rows; 37 outputs leave a partial last tile.
        let (inputs, outputs) = (19, 37);
        let w: Vec<f32> = (0..inputs * outputs).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
        let packed = Packed::new(&w, inputs, outputs);
        for batch in [6, 1, 3] {
            let x: Vec<f32> = (0..batch * inputs).map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0).collect();
            let mut y: Vec<f32> = (0..batch * outputs).map(|i| i as f32 * 0.01).collect();
            let mut want = y.clone();
            for b in 0..batch {
                for o in 0..outputs {
                    want[b * outputs + o] += (0..inputs).map(|i| x[b * inputs + i] * w[i * outputs + o]).sum::<f32>();
                }
            }
            matmul_add(&x, &packed, &mut y);
            let err = y.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 1e-5, "batch {batch}: max error {err}");
        }
    }
}
