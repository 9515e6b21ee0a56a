//! `gddsp-train export RUN --out models/`: the trained burn model as ONNX for tract.
//!
//! * `encoder.onnx` — `mfcc [1, frames, 30]`, `echo [1, P]` (standardised; the echo
//!   cepstrum, then the clip profiles when the spec has them: P = `spec.profile_len()`, 287
//!   or 96 for older models, then the comb reads when the spec has them, 292) →
//!   `z [1, Z]`, `knobs [1, 9]` (positions along the knob table's skews).
//! * `decoder.onnx` — one control frame: `controls [V, 3]`, `z [1, Z]`, `state [V, H]` →
//!   `amplitude [V]`, `harmonics [V, K]`, `noise [bands]`, `state_out [V, H]`; the GRU
//!   state goes back in with the next frame, so it streams.
//! * `model.json` — the spec, the knob table, the normalisation statistics, the sizes,
//!   what data the model saw and its evaluation figures.

pub mod onnx;

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;
use onnx::{attr_float, attr_int, attr_ints, Dim, Graph};

use crate::ddsp::values;
use crate::model::decoder::{CONTROLS, NOISE_OFFSET};
use crate::model::dense::{Dense, NORM_EPSILON};
use crate::model::encoder::GatedHead;
use crate::model::gru::Gru;
use crate::model::{DdspModel, ModelConfig};

fn param<const D: usize>(p: &Param<Tensor<D>>) -> (Vec<usize>, Vec<f32>) {
    let t = p.val();
    (t.dims().to_vec(), values(t))
}

fn linear(g: &mut Graph, x: &str, l: &Linear, bias_offset: f32) -> String {
    let (dims, w) = param(&l.weight);
    let w = g.constant("W", &dims, w);
    let y = g.node("MatMul", &[x, &w], vec![]);
    match &l.bias {
        Some(b) => {
            let (dims, b) = param(b);
            let b = g.constant("b", &dims, b.into_iter().map(|v| v + bias_offset).collect());
            g.node("Add", &[&y, &b], vec![])
        }
        None => y,
    }
}

fn layer_norm(g: &mut Graph, x: &str, n: &LayerNorm) -> String {
    let (dims, gamma) = param(&n.gamma);
    let gamma = g.constant("gamma", &dims, gamma);
    let beta = match &n.beta {
        Some(b) => param(b).1,
        None => vec![0.0; dims[0]],
    };
    let beta = g.constant("beta", &dims, beta);
    g.node("LayerNormalization", &[x, &gamma, &beta], vec![attr_int("axis", -1), attr_float("epsilon", NORM_EPSILON as f32)])
}

fn dense(g: &mut Graph, x: &str, d: &Dense) -> String {
    let y = linear(g, x, &d.linear, 0.0);
    let y = layer_norm(g, &y, &d.norm);
    g.node("Relu", &[&y], vec![])
}

fn scaled_sigmoid(g: &mut Graph, x: &str) -> String {
    let s = g.node("Sigmoid", &[x], vec![]);
    let e = g.constant("ln10", &[], vec![std::f32::consts::LN_10]);
    let p = g.node("Pow", &[&s, &e], vec![]);
    let two = g.constant("two", &[], vec![2.0]);
    let m = g.node("Mul", &[&p, &two], vec![]);
    let eps = g.constant("eps", &[], vec![1e-7]);
    g.node("Add", &[&m, &eps], vec![])
}

/// ONNX GRU weights from [`Gru`]: `W [1, 3H, in]`, `R [1, 3H, H]`, `B [1, 6H]` (gate
/// order z, r, h on both sides, so only transposes).
fn gru_weights(g: &mut Graph, gru: &Gru) -> (String, String, String) {
    let transpose = |(dims, w): (Vec<usize>, Vec<f32>)| (dims[1], dims[0], gddsp_core::inference::native_decoder::transpose(&w, dims[0], dims[1]));
    let (o, i, w) = transpose(param(&gru.input.weight));
    let w = g.constant("gru_W", &[1, o, i], w);
    let (o, i, r) = transpose(param(&gru.recurrent.weight));
    let r = g.constant("gru_R", &[1, o, i], r);
    let mut b = param(gru.input.bias.as_ref().expect("GRU input bias")).1;
    b.extend(param(gru.recurrent.bias.as_ref().expect("GRU recurrent bias")).1);
    let b = g.constant("gru_B", &[1, b.len()], b);
    (w, r, b)
}

/// The encoder graph (see the module doc).
pub fn encoder_onnx(model: &DdspModel, cfg: &ModelConfig) -> Vec<u8> {
    let e = &model.encoder;
    let h = e.gru.hidden as i64;
    let mut g = Graph::default();
    let mfcc = g.input("mfcc", &[Dim::Fixed(1), Dim::Named("frames"), Dim::Fixed(cfg.spec.mfcc)]);
    let echo = g.input("echo", &[Dim::Fixed(1), Dim::Fixed(cfg.spec.profile_len())]);
    let x = dense(&mut g, &mfcc, &e.frame); // [1, T, H]
    let x = g.node("Transpose", &[&x], vec![attr_ints("perm", &[1, 0, 2])]); // [T, 1, H]
    let (w, r, b) = gru_weights(&mut g, &e.gru);
    let y = g.node_n("GRU", &[&x, &w, &r, &b], 2, vec![attr_int("hidden_size", h), attr_int("linear_before_reset", 1)]);
    let pooled = g.node("ReduceMean", &[&y[0]], vec![attr_ints("axes", &[0]), attr_int("keepdims", 0)]); // [1, 1, H]
    let pooled = g.reshape(&pooled, &[1, h]);
    let profiles = dense(&mut g, &echo, &e.echo_in);
    let profiles = dense(&mut g, &profiles, &e.echo_out);
    let both = g.node("Concat", &[&pooled, &profiles], vec![attr_int("axis", 1)]);
    let z = linear(&mut g, &both, &e.z, 0.0);
    let k = dense(&mut g, &z, &e.fx_hidden);
    let k = linear(&mut g, &k, &e.fx_out, 0.0);
    let mut knobs = g.node("Sigmoid", &[&k], vec![]);
    if let Some(read) = &e.delay_read {
        knobs = delay_read(&mut g, &knobs, &echo, read, cfg.spec.profile_len());
    }
    if let Some(head) = &e.comb_head {
        knobs = read_head(&mut g, &knobs, &z, &echo, &head.gated(), cfg.spec.profile_len());
    }
    if let Some(head) = &e.tail_head {
        knobs = read_head(&mut g, &knobs, &z, &echo, &head.gated(), cfg.spec.profile_len());
    }
    if let Some(head) = &e.room_head {
        knobs = read_head(&mut g, &knobs, &z, &echo, &head.gated(), cfg.spec.profile_len());
    }
    g.output(&z, "z", &[Dim::Fixed(1), Dim::Fixed(cfg.z_dim)]);
    g.output(&knobs, "knobs", &[Dim::Fixed(1), Dim::Fixed(gddsp_core::knobs::KNOB_COUNT)]);
    g.into_bytes("gddsp_encoder", "GDDSP z-encoder + FX decoder: standardised MFCC frames and echo + clip profiles -> z, knob positions")
}

/// The gated delay read ([`crate::model::encoder::DelayRead`]) over the FX decoder's
/// sigmoid outputs `out` `[1, 10]` (nine knobs, then the gate) and the profiles `echo`
/// `[1, P]` → knobs `[1, 9]`. Columns are picked and placed with one-hot MatMuls.
fn delay_read(g: &mut Graph, out: &str, echo: &str, read: &crate::model::encoder::DelayRead, profile_len: usize) -> String {
    use gddsp_core::knobs::{Knob, KNOB_COUNT};
    let keep: Vec<f32> = (0..=KNOB_COUNT).flat_map(|r| (0..KNOB_COUNT).map(move |c| (r == c) as i32 as f32)).collect();
    let keep = g.constant("keep_knobs", &[KNOB_COUNT + 1, KNOB_COUNT], keep);
    let knobs = g.node("MatMul", &[out, &keep], vec![]);
    let pick_gate = one_hot_column(g, "pick_gate", KNOB_COUNT + 1, KNOB_COUNT, 1.0);
    let gate = g.node("MatMul", &[out, &pick_gate], vec![]);
    let d = clamped_read(g, echo, profile_len, read.index, &read.map);
    gate_into(g, &knobs, &gate, &d, Knob::DelayTimeMs as usize)
}

/// A gated read head ([`crate::model::encoder::CombHead`], [`crate::model::encoder::TailHead`],
/// [`crate::model::encoder::RoomHead`])
/// over `knobs` `[1, 9]`, `z` and the profiles `echo` `[1, P]` → knobs `[1, 9]`, as
/// [`GatedHead::forward`]: the reads picked out of `echo` and z through the hidden layer
/// and the gates, then each target's read gated into its knob.
fn read_head(g: &mut Graph, knobs: &str, z: &str, echo: &str, head: &GatedHead<'_>, profile_len: usize) -> String {
    let (offset, len) = (head.offset, head.len);
    let select: Vec<f32> = (0..profile_len).flat_map(|r| (0..len).map(move |c| (r == offset + c) as i32 as f32)).collect();
    let select = g.constant("select_reads", &[profile_len, len], select);
    let reads = g.node("MatMul", &[echo, &select], vec![]);
    let x = g.node("Concat", &[&reads, z], vec![attr_int("axis", 1)]);
    let x = dense(g, &x, head.hidden);
    let gate_logits = linear(g, &x, head.gates, 0.0);
    let gate_values = g.node("Sigmoid", &[&gate_logits], vec![]);
    let mut knobs = knobs.to_string();
    for (gate_col, (read, map, knob)) in head.targets.iter().enumerate() {
        let pick = one_hot_column(g, "pick_gate", head.targets.len(), gate_col, 1.0);
        let gate = g.node("MatMul", &[&gate_values, &pick], vec![]);
        let d = clamped_read(g, echo, profile_len, offset + read, map);
        knobs = gate_into(g, &knobs, &gate, &d, *knob as usize);
    }
    knobs
}

/// A `[rows, 1]` constant, `value` at row `at`, zero elsewhere.
fn one_hot_column(g: &mut Graph, what: &str, rows: usize, at: usize, value: f32) -> String {
    let mut c = vec![0.0; rows];
    c[at] = value;
    g.constant(what, &[rows, 1], c)
}

/// `clamp01(w·echo[index] + b)` `[1, 1]` for a one-input linear `map`, the clamp as
/// relu(a) − relu(a − 1).
fn clamped_read(g: &mut Graph, echo: &str, profile_len: usize, index: usize, map: &Linear) -> String {
    let w = param(&map.weight).1[0];
    let b = map.bias.as_ref().map(|b| param(b).1[0]).unwrap_or(0.0);
    let pick_read = one_hot_column(g, "pick_read", profile_len, index, w);
    let a = g.node("MatMul", &[echo, &pick_read], vec![]);
    let b = g.constant("read_bias", &[1, 1], vec![b]);
    let a = g.node("Add", &[&a, &b], vec![]);
    let one = g.constant("one", &[], vec![1.0]);
    let a1 = g.node("Sub", &[&a, &one], vec![]);
    let (lo, hi) = (g.node("Relu", &[&a], vec![]), g.node("Relu", &[&a1], vec![]));
    g.node("Sub", &[&lo, &hi], vec![])
}

/// `knobs` `[1, 9]` with column `col` moved to `gate·read + (1 − gate)·knobs[col]`
/// (`knobs + gate·(read − own)` placed at `col`).
fn gate_into(g: &mut Graph, knobs: &str, gate: &str, read: &str, col: usize) -> String {
    use gddsp_core::knobs::KNOB_COUNT;
    let pick_own = one_hot_column(g, "pick_own", KNOB_COUNT, col, 1.0);
    let own = g.node("MatMul", &[knobs, &pick_own], vec![]);
    let diff = g.node("Sub", &[read, &own], vec![]);
    let delta = g.node("Mul", &[gate, &diff], vec![]);
    let mut row = vec![0.0; KNOB_COUNT];
    row[col] = 1.0;
    let place = g.constant("place", &[1, KNOB_COUNT], row);
    let delta = g.node("MatMul", &[&delta, &place], vec![]);
    g.node("Add", &[knobs, &delta], vec![])
}

/// The streaming decoder graph (see the module doc).
pub fn decoder_onnx(model: &DdspModel, cfg: &ModelConfig) -> Vec<u8> {
    let d = &model.decoder;
    let (v, hd, k, bands) = (cfg.spec.voices, d.gru.hidden, cfg.spec.harmonics, cfg.spec.noise_bands);
    let mut g = Graph::default();
    let controls = g.input("controls", &[Dim::Fixed(v), Dim::Fixed(CONTROLS)]);
    let z = g.input("z", &[Dim::Fixed(1), Dim::Fixed(cfg.z_dim)]);
    let state = g.input("state", &[Dim::Fixed(v), Dim::Fixed(hd)]);
    // The first layer's weight rows split by input: controls, string one-hot, z. The
    // one-hot rows plus the bias are a constant per string, and z enters through a
    // [1, H] row that broadcasts over the strings (tract 0.23.9 mis-shapes an
    // Expand → Concat → MatMul chain, so the concatenation is never built).
    let (dims, w) = param(&d.input.linear.weight);
    let cols = dims[1];
    let rows = |from: usize, to: usize| w[from * cols..to * cols].to_vec();
    let w_c = g.constant("W_controls", &[CONTROLS, cols], rows(0, CONTROLS));
    let bias = d.input.linear.bias.as_ref().map(|b| param(b).1).unwrap_or_else(|| vec![0.0; cols]);
    let per_string: Vec<f32> = (0..v).flat_map(|s| rows(CONTROLS + s, CONTROLS + s + 1).into_iter().zip(&bias).map(|(a, b)| a + b).collect::<Vec<f32>>()).collect();
    let per_string = g.constant("string_rows", &[v, cols], per_string);
    let w_z = g.constant("W_z", &[cfg.z_dim, cols], rows(CONTROLS + v, CONTROLS + v + cfg.z_dim));
    let xc = g.node("MatMul", &[&controls, &w_c], vec![]);
    let xz = g.node("MatMul", &[&z, &w_z], vec![]);
    let x = g.node("Add", &[&xc, &per_string], vec![]);
    let x = g.node("Add", &[&x, &xz], vec![]);
    let x = layer_norm(&mut g, &x, &d.input.norm);
    let x = g.node("Relu", &[&x], vec![]); // [V, H]
    let x = g.reshape(&x, &[1, v as i64, hd as i64]);
    let h0 = g.reshape(&state, &[1, v as i64, hd as i64]);
    let (w, r, b) = gru_weights(&mut g, &d.gru);
    let y = g.node_n("GRU", &[&x, &w, &r, &b, "", &h0], 2, vec![attr_int("hidden_size", hd as i64), attr_int("linear_before_reset", 1)]);
    let h = g.reshape(&y[1], &[v as i64, hd as i64]);
    let cat = g.node("Concat", &[&h, &controls], vec![attr_int("axis", 1)]);
    let out = dense(&mut g, &cat, &d.output); // [V, H]
    let amp = linear(&mut g, &out, &d.amplitude, 0.0);
    let amp = scaled_sigmoid(&mut g, &amp);
    let amp = g.reshape(&amp, &[v as i64]);
    let harm = linear(&mut g, &out, &d.harmonics, 0.0);
    let harm = g.node("Softmax", &[&harm], vec![attr_int("axis", 1)]);
    let mean = g.node("ReduceMean", &[&out], vec![attr_ints("axes", &[0]), attr_int("keepdims", 1)]); // [1, H]
    let noise = linear(&mut g, &mean, &d.noise, NOISE_OFFSET);
    let noise = scaled_sigmoid(&mut g, &noise);
    let noise = g.reshape(&noise, &[bands as i64]);
    g.output(&amp, "amplitude", &[Dim::Fixed(v)]);
    g.output(&harm, "harmonics", &[Dim::Fixed(v), Dim::Fixed(k)]);
    g.output(&noise, "noise", &[Dim::Fixed(bands)]);
    g.output(&h, "state_out", &[Dim::Fixed(v), Dim::Fixed(hd)]);
    g.into_bytes("gddsp_decoder", "GDDSP synth decoder, one control frame: per-string controls, z, GRU state -> amplitudes, harmonic distributions, noise magnitudes, GRU state")
}

/// A trained run read back: its settings, statistics and model (the best checkpoint,
/// or the last if no validation has run yet).
pub struct LoadedRun {
    pub config: crate::train::TrainConfig,
    pub norm: gddsp_core::inference::Normalization,
    pub model: DdspModel,
    pub checkpoint: std::path::PathBuf,
}

pub fn load_run(run: &std::path::Path, device: &burn::tensor::Device) -> Result<LoadedRun, String> {
    use burn::module::Module;
    let read = |name: &str| -> Result<String, String> {
        let p = run.join(name);
        std::fs::read_to_string(&p).map_err(|e| format!("{}: {e} (is {} a run folder made by `gddsp-train train`?)", p.display(), run.display()))
    };
    let config: crate::train::TrainConfig = serde_json::from_str(&read("train.json")?).map_err(|e| format!("{}: {e}", run.join("train.json").display()))?;
    let norm = serde_json::from_str(&read("stats.json")?).map_err(|e| format!("{}: {e}", run.join("stats.json").display()))?;
    let (last, _, _, best) = crate::train::run_dir_files(run);
    let checkpoint = if best.exists() { best } else { last };
    let model = DdspModel::new(&config.model, device).try_load_file(&checkpoint).map_err(|e| format!("{}: cannot load the checkpoint: {e:?}", checkpoint.display()))?;
    Ok(LoadedRun { config, norm, model, checkpoint })
}

/// `model.json` for a run (with `eval`, if given).
pub fn model_info(run: &LoadedRun, eval: Option<serde_json::Value>) -> gddsp_core::inference::ModelInfo {
    use gddsp_core::inference::{KnobRecord, ModelInfo, FORMAT, VERSION};
    let c = &run.config;
    let manifest = crate::data::corpus::Manifest::read(&c.data).ok();
    // The command line that replays the run: the knob stage whose encoder it started from
    // (when that run's train.json is still beside the encoder), the run, its heads.
    let knob_stage = c.init_encoder.as_ref().and_then(|encoder| {
        let json = std::fs::read_to_string(encoder.parent()?.join("train.json")).ok()?;
        serde_json::from_str::<crate::train::TrainConfig>(&json).ok().map(|knobs| (knobs, encoder.file_name().map(|n| n.to_string_lossy().to_string())))
    });
    let mut command = String::new();
    let mut main = c.clone();
    if let Some((knobs, Some(encoder))) = knob_stage {
        command = format!("gddsp-train train --out KNOBS {} && ", crate::cli::train_flags(&knobs));
        main.init_encoder = Some(format!("KNOBS/{encoder}").into());
    }
    command += &format!("gddsp-train train --out RUN {}", crate::cli::train_flags(&main));
    let heads = [("comb-head", "RUN", "RUN-comb", c.comb_head_steps), ("tail-head", "RUN-comb", "RUN-tail", c.tail_head_steps), ("room-head", "RUN-tail", "RUN-room", c.room_head_steps)];
    for (name, from, to, steps) in heads.into_iter().filter(|h| h.3 > 0) {
        command += &format!(" && gddsp-train {name} {from} --out {to} --steps {steps}");
        if c.other_reverb_heads.iter().any(|h| h == name) {
            command += " --other-reverbs";
        }
        if name == "comb-head" && c.model.comb_time {
            command += " --time-gate";
        }
    }
    let training = serde_json::json!({
        "command": command,
        "config": c,
        "checkpoint": run.checkpoint.file_name().map(|n| n.to_string_lossy().to_string()),
        "corpus": manifest.map(|m| serde_json::json!({
            "seed": m.seed, "synth": m.synth, "soundfont": m.soundfont, "extra_soundfonts": m.extra_soundfonts, "hours": m.seconds / 3600.0,
            "guitars": m.guitars, "splits": m.splits,
        })),
    });
    ModelInfo {
        format: FORMAT.into(),
        version: VERSION,
        spec: c.model.spec.clone(),
        z_dim: c.model.z_dim,
        encoder_hidden: c.model.encoder_hidden,
        decoder_hidden: c.model.decoder_hidden,
        knobs: KnobRecord::table(),
        normalization: run.norm.clone(),
        training,
        eval,
        default_z: vec![],
    }
}

/// Writes `encoder.onnx`, `decoder.onnx` and `model.json` into `out`.
pub fn export(run: &LoadedRun, out: &std::path::Path, eval: Option<serde_json::Value>) -> Result<(), String> {
    use gddsp_core::inference::{DECODER_ONNX, ENCODER_ONNX, MODEL_JSON};
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let write = |name: &str, bytes: &[u8]| std::fs::write(out.join(name), bytes).map_err(|e| format!("{}: {e}", out.join(name).display()));
    write(ENCODER_ONNX, &encoder_onnx(&run.model, &run.config.model))?;
    write(DECODER_ONNX, &decoder_onnx(&run.model, &run.config.model))?;
    model_info(run, eval).write(&out.join(MODEL_JSON))
}

/// Sets `dir/model.json`'s `default_z` — the timbre the plugin plays before a reference
/// is loaded — to the mean z the exported encoder hears in `data`'s training clips.
/// Pair by pair, only the wet side is read. Returns how many clips were averaged.
pub fn write_default_z(dir: &std::path::Path, data: &std::path::Path) -> Result<usize, String> {
    use gddsp_core::inference::{Model, ModelInfo, MODEL_JSON};
    let model = Model::load(dir).map_err(|e| e.to_string())?;
    let train = data.join("train");
    let pairs = crate::data::pairs::find_pairs(&train, false, &mut Default::default()).map_err(|e| e.to_string())?;
    if pairs.is_empty() {
        return Err(format!("{}: no training pairs (is {} a corpus made by `gddsp-train data`?)", train.display(), data.display()));
    }
    let mut sum = vec![0f64; model.info.z_dim];
    for pair in &pairs {
        let audio = gddsp_core::audio_io::load(&pair.wet).map_err(|e| format!("{}: {e}", pair.wet.display()))?;
        let heard = model.analyze(&audio).map_err(|e| format!("{}: {e}", pair.wet.display()))?;
        for (s, z) in sum.iter_mut().zip(&heard.z) {
            *s += *z as f64;
        }
    }
    let path = dir.join(MODEL_JSON);
    let mut info = ModelInfo::read(&path).map_err(|e| e.to_string())?;
    info.default_z = sum.iter().map(|s| (s / pairs.len() as f64) as f32).collect();
    info.write(&path)?;
    Ok(pairs.len())
}
