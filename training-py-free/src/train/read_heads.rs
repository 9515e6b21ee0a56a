//! `gddsp-train comb-head RUN --out OUT`, `gddsp-train tail-head RUN --out OUT` and
//! `gddsp-train room-head RUN --out OUT`: fit a gated read head on a trained run,
//! everything else frozen.
//!
//! The comb head ([`crate::model::encoder::CombHead`]) reads the delay's mix and feedback
//! off the cepstrum at the echo ([`gddsp_core::analysis::comb`]); the tail head
//! ([`crate::model::encoder::TailHead`], on a run that has the comb head) reads the
//! reverb's decay, damping and mix off the free decay after the playing stops
//! ([`gddsp_core::analysis::tail`]); the room head ([`crate::model::encoder::RoomHead`], on
//! a run that has the tail head) reads the reverb's mix and decay off what the clip's
//! segments share in their cepstra ([`gddsp_core::analysis::room`]). Each gates its reads against the FX decoder's own
//! estimates. A head is fitted after training, on the knob loss alone, for two reasons:
//! z, the decoder and every other knob stay exactly as trained (the profile layer's new
//! inputs get zero weights), so the spectral figures do not move; and it costs minutes,
//! where retraining the model with the new input costs the whole recipe (about an hour).
//!
//! `OUT` is a run folder like any other (`train.json` with the head's reads and the head
//! switched on, `stats.json` with the new inputs' statistics, `best.bpk` chosen by the
//! validation knob MAE, `metrics.jsonl`), so `gddsp-train export OUT` exports it.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use gddsp_core::inference::controls::Normalization;

use super::batch::{knob_batches, Augment};
use super::dataset::{load_split, standardise, statistics};
use super::{encoder_tensors, knob_loss, knob_mae, run_dir_files};
use crate::data::progress_bar;
use crate::ddsp::autodiff_device;
use crate::export::load_run;

/// Which head a fit adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Comb,
    Tail,
    Room,
}

impl Head {
    /// The command (and the metrics' stage name).
    pub fn name(self) -> &'static str {
        match self {
            Head::Comb => "comb-head",
            Head::Tail => "tail-head",
            Head::Room => "room-head",
        }
    }

    /// What the head is called in messages.
    pub fn label(self) -> &'static str {
        match self {
            Head::Comb => "comb head",
            Head::Tail => "tail head",
            Head::Room => "room head",
        }
    }
}

/// Settings of a head fit.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadConfig {
    pub steps: u64,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Steps between validations.
    pub epoch_steps: u64,
    /// The re-rendered clips' reverbs draw their noise from random seeds, not the
    /// corpus's ([`Augment::other_reverbs`]).
    pub other_reverbs: bool,
    /// A comb head also gates the delay time ([`crate::model::ModelConfig::comb_time`]).
    pub time_gate: bool,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig { steps: 600, batch: 16, lr: 3e-3, seed: 1, epoch_steps: 100, other_reverbs: false, time_gate: false }
    }
}

/// What the fit reports: the validation knob MAE before (the run as trained) and the best after.
pub struct HeadSummary {
    pub before: f64,
    pub best: f64,
    pub seconds: f64,
}

/// Fits `head` on `run`'s best model and writes the run with it to `out`.
pub fn fit_head(head: Head, run: &Path, out: &Path, cfg: &HeadConfig, progress: bool, log: &mut dyn Write) -> Result<HeadSummary, String> {
    let io = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
    let device = autodiff_device();
    device.seed(cfg.seed);
    let loaded = load_run(run, &device)?;
    let had = &loaded.config.model;
    match head {
        Head::Comb if had.comb_head => return Err(format!("{}: the run already has a comb head", run.display())),
        Head::Tail if had.tail_head => return Err(format!("{}: the run already has a tail head", run.display())),
        Head::Tail if !had.comb_head => return Err(format!("{}: the tail head's gates hear the comb reads; fit the comb head first (gddsp-train comb-head)", run.display())),
        Head::Room if had.room_head => return Err(format!("{}: the run already has a room head", run.display())),
        Head::Room if !had.tail_head => return Err(format!("{}: the room head's gates hear the comb and tail reads; fit the tail head first (gddsp-train tail-head)", run.display())),
        _ => {}
    }
    let mut tcfg = loaded.config.clone();
    match head {
        Head::Comb => {
            tcfg.model.spec.comb_reads = true;
            tcfg.model.spec.comb_coverage = true;
            tcfg.model.spec.comb_persistence = true;
            tcfg.model.spec.comb_delay = true;
            tcfg.model.comb_head = true;
            tcfg.model.comb_time = cfg.time_gate;
            tcfg.comb_head_steps = cfg.steps;
        }
        Head::Tail => {
            tcfg.model.spec.tail_reads = true;
            tcfg.model.tail_head = true;
            tcfg.tail_head_steps = cfg.steps;
        }
        Head::Room => {
            tcfg.model.spec.room_reads = true;
            tcfg.model.room_head = true;
            tcfg.room_head_steps = cfg.steps;
        }
    }
    if cfg.other_reverbs {
        tcfg.other_reverb_heads.push(head.name().to_string());
    }
    let spec = tcfg.model.spec.clone();
    let _ = writeln!(log, "loading {}", tcfg.data.display());
    let mut train_set = load_split(&tcfg.data.join("train"), &spec, progress).map_err(|e| e.to_string())?;
    let mut valid_set = load_split(&tcfg.data.join("valid"), &spec, progress).map_err(|e| e.to_string())?;
    // The run's own statistics for the inputs it was trained on; the training set's for
    // the new reads.
    let fresh = statistics(&train_set, &spec);
    let had_len = had.spec.profile_len();
    let new_reads = had_len..spec.profile_len();
    let mut norm: Normalization = loaded.norm.clone();
    if norm.echo_mean.len() != had_len {
        return Err(format!("{}: {} profile statistics, the model's spec has {had_len}", run.join("stats.json").display(), norm.echo_mean.len()));
    }
    norm.echo_mean.extend_from_slice(&fresh.echo_mean[new_reads.clone()]);
    norm.echo_std.extend_from_slice(&fresh.echo_std[new_reads]);
    standardise(&mut train_set, &norm, &spec);
    standardise(&mut valid_set, &norm, &spec);

    let mut model = loaded.model;
    // Without its new head the grown encoder is the trained one (zero weights on the
    // reads); everything but the new head is frozen: only its parameters get gradients.
    model.encoder = match head {
        Head::Comb => model.encoder.with_comb_head(&tcfg.model, &norm),
        Head::Tail => model.encoder.with_tail_head(&tcfg.model, &norm),
        Head::Room => model.encoder.with_room_head(&tcfg.model, &norm),
    };
    let comb = if head == Head::Comb { model.encoder.comb_head.take() } else { None };
    let tail = if head == Head::Tail { model.encoder.tail_head.take() } else { None };
    let room = if head == Head::Room { model.encoder.room_head.take() } else { None };
    let before = knob_mae(&model, &spec, tcfg.echo, &valid_set, &device).0;
    model = model.no_grad();
    model.encoder.comb_head = model.encoder.comb_head.take().or(comb);
    model.encoder.tail_head = model.encoder.tail_head.take().or(tail);
    model.encoder.room_head = model.encoder.room_head.take().or(room);

    std::fs::create_dir_all(out).map_err(|e| io(out, &e))?;
    for (name, text) in [("train.json", serde_json::to_string_pretty(&tcfg).expect("config serialises")), ("stats.json", serde_json::to_string_pretty(&norm).expect("stats serialise"))] {
        std::fs::write(out.join(name), text).map_err(|e| io(&out.join(name), &e))?;
    }
    let (_, _, _, best_path) = run_dir_files(out);
    let metrics_path = out.join("metrics.jsonl");
    let mut metrics = std::fs::File::create(&metrics_path).map_err(|e| io(&metrics_path, &e))?;
    let _ = writeln!(log, "validation knob MAE as trained: {before:.4}");
    writeln!(metrics, "{}", serde_json::json!({"step": 0, "stage": head.name(), "valid": {"knob_mae": before}})).map_err(|e| io(&metrics_path, &e))?;

    let train_arc = Arc::new(train_set);
    let rx = knob_batches(train_arc, norm.clone(), spec.clone(), cfg.seed, 0, cfg.steps, cfg.batch, tcfg.echo, Augment { eq: false, other_reverbs: cfg.other_reverbs, level_db: 0.0 });
    let mut optim = AdamConfig::new().init();
    let bar = progress_bar(cfg.steps, progress, head.label());
    let started = Instant::now();
    let mut best: Option<f64> = None;
    let mut acc = (0.0, 0);
    for step in 0..cfg.steps {
        let b = rx.recv().map_err(|_| "the knob-example producer stopped".to_string())?;
        let (m, e) = encoder_tensors(&b, &spec, &device);
        let loss = knob_loss(model.encoder.forward(m, e).1, &b, &device);
        let value = crate::ddsp::values(loss.clone().detach())[0] as f64;
        if !value.is_finite() {
            return Err(format!("step {step}: the knob loss is not finite; lower --lr"));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cfg.lr, model, grads);
        acc = (acc.0 + value, acc.1 + 1);
        bar.set_message(format!("knob {value:.3}"));
        bar.inc(1);
        if (step + 1) % cfg.epoch_steps == 0 || step + 1 == cfg.steps {
            let (mae, per_knob) = knob_mae(&model, &spec, tcfg.echo, &valid_set, &device);
            let line = serde_json::json!({"step": step + 1, "stage": head.name(), "train_knob_l1": acc.0 / acc.1 as f64, "valid": {"knob_mae": mae, "knob_mae_per_knob": per_knob.to_vec()}, "seconds": started.elapsed().as_secs_f64()});
            acc = (0.0, 0);
            writeln!(metrics, "{line}").map_err(|e| io(&metrics_path, &e))?;
            bar.suspend(|| {
                let _ = writeln!(log, "step {} valid knob MAE {mae:.4}", step + 1);
            });
            if best.is_none_or(|b| mae < b) {
                best = Some(mae);
                model.clone().save_file(&best_path).map_err(|e| io(&best_path, &format!("{e:?}")))?;
            }
        }
    }
    bar.finish_and_clear();
    Ok(HeadSummary { before, best: best.unwrap_or(before), seconds: started.elapsed().as_secs_f64() })
}
