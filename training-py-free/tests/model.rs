//! The model end to end on a tiny plucked-string corpus: training (both stages, metrics,
//! checkpoints, resume), ONNX export checked against burn through tract, the CLI's
//! `analyze`, evaluation, and clear errors for missing or corrupt model files.

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use gddsp_core::inference::{Model, Normalization, DECODER_ONNX, ENCODER_ONNX, MODEL_JSON};
use gddsp_core::analysis::comb::{COMB_LEN, FEEDBACK_READ, MIX_READ};
use gddsp_core::analysis::{room, tail};
use gddsp_core::knobs::{Knob, KNOB_COUNT};
use gddsp_train::ddsp::{device, tensor, values};
use gddsp_train::export::{export, LoadedRun};
use gddsp_train::model::{DdspModel, ModelConfig};
use gddsp_train::train::TrainConfig;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gddsp-model-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn unit_stats(cfg: &ModelConfig) -> Normalization {
    Normalization {
        mfcc_mean: vec![0.0; cfg.spec.mfcc],
        mfcc_std: vec![1.0; cfg.spec.mfcc],
        echo_mean: vec![0.0; cfg.spec.profile_len()],
        echo_std: vec![1.0; cfg.spec.profile_len()],
        f0_midi_mean: 55.0,
        f0_midi_std: 10.0,
        f0_midi_p5: 40.0,
        f0_midi_p95: 76.0,
        loudness_db_mean: -60.0,
        loudness_db_std: 20.0,
        voiced_loudness_db_p5: -50.0,
        voiced_loudness_db_p95: -10.0,
    }
}

fn random(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// A randomly initialised model exported to `dir`.
fn exported(dir: &PathBuf) -> (DdspModel, ModelConfig) {
    exported_with(dir, false, false, false, false)
}

/// A randomly initialised model, with the comb head if `comb` (hearing the persistence
/// and the delay, and gating the delay time, as fitted today, if `persistence`), the tail head if `tail` and the
/// room head if `room`, exported to `dir`.
fn exported_with(dir: &PathBuf, comb: bool, tail: bool, persistence: bool, room: bool) -> (DdspModel, ModelConfig) {
    let mut cfg = ModelConfig::with_voices(6);
    cfg.spec.comb_reads = comb;
    cfg.spec.comb_persistence = persistence;
    cfg.spec.comb_delay = persistence;
    cfg.comb_head = comb;
    cfg.comb_time = comb && persistence;
    cfg.spec.tail_reads = tail;
    cfg.tail_head = tail;
    cfg.spec.room_reads = room;
    cfg.room_head = room;
    let mut norm = unit_stats(&cfg);
    // ln D* standardised around 141 ms: the delay read inside the knob's range for inputs
    // in [−1, 1] (read 0.24–0.76), so the exported graph's clamp and gate are exercised.
    norm.echo_mean[cfg.spec.strongest_echo_index().unwrap()] = 141f32.ln();
    // Likewise the comb reads: S₁ 0.2–0.6 and feedback 0.25–0.65 for inputs in [−1, 1].
    if comb {
        let at = cfg.spec.comb_offset();
        (norm.echo_mean[at + MIX_READ], norm.echo_std[at + MIX_READ]) = (0.4, 0.2);
        (norm.echo_mean[at + FEEDBACK_READ], norm.echo_std[at + FEEDBACK_READ]) = (0.45, 0.2);
        // And the echo's delay (ln ms, the last comb read): 51–386 ms, read 0.24–0.76.
        if persistence {
            let last = at + cfg.spec.comb_len() - 1;
            (norm.echo_mean[last], norm.echo_std[last]) = (141f32.ln(), 1.0);
        }
    }
    // And the tail reads: decay 0.6–1.6 s, damping and mix 0.3–0.7.
    if tail {
        let at = cfg.spec.tail_offset();
        (norm.echo_mean[at + tail::DECAY_READ], norm.echo_std[at + tail::DECAY_READ]) = (0.0, 0.5);
        (norm.echo_mean[at + tail::DAMPING_READ], norm.echo_std[at + tail::DAMPING_READ]) = (0.5, 0.2);
        (norm.echo_mean[at + tail::MIX_READ], norm.echo_std[at + tail::MIX_READ]) = (0.5, 0.2);
    }
    // And the room reads: decay 0.5–1.3 s, mix 0.3–0.7.
    if room {
        let at = cfg.spec.room_offset();
        (norm.echo_mean[at + room::DECAY_READ], norm.echo_std[at + room::DECAY_READ]) = (-0.22, 0.5);
        (norm.echo_mean[at + room::MIX_READ], norm.echo_std[at + room::MIX_READ]) = (0.5, 0.2);
    }
    let mut model = DdspModel::new(&cfg, &device());
    model.encoder = model.encoder.init_delay_read(&norm);
    model.encoder.comb_head = model.encoder.comb_head.map(|h| h.init_maps(&norm));
    model.encoder.tail_head = model.encoder.tail_head.map(|h| h.init_maps(&norm));
    model.encoder.room_head = model.encoder.room_head.map(|h| h.init_maps(&norm));
    let mut train = TrainConfig::new(dir.join("no-data"));
    train.model = cfg.clone();
    let run = LoadedRun { config: train, norm, model, checkpoint: dir.join("random.bpk") };
    export(&run, dir, None).unwrap();
    (run.model, cfg)
}

#[test]
fn exported_onnx_runs_in_tract_as_burn_runs_it() {
    for (comb, tail, persistence, room) in [(false, false, false, false), (true, false, false, false), (true, true, false, false), (true, true, true, true)] {
        parity(comb, tail, persistence, room);
    }
}

fn parity(comb: bool, tail: bool, persistence: bool, room: bool) {
    let dir = tmp(&format!("parity-{comb}-{tail}-{persistence}-{room}"));
    let (model, cfg) = exported_with(&dir, comb, tail, persistence, room);
    let comb_len = if comb { COMB_LEN + 2 * persistence as usize } else { 0 };
    assert_eq!(cfg.spec.profile_len(), cfg.spec.comb_offset() + comb_len + if tail { tail::TAIL_LEN } else { 0 } + if room { room::ROOM_LEN } else { 0 });
    let loaded = Model::load(&dir).unwrap();
    let d = device();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);

    // Encoder: 57 frames (any count works: the ONNX frame axis is symbolic).
    let frames = 57;
    let mfcc = random(&mut rng, frames * cfg.spec.mfcc);
    let echo = random(&mut rng, cfg.spec.profile_len());
    let (z_b, k_b) = model.encoder.forward(tensor(mfcc.clone(), [1, frames, cfg.spec.mfcc], &d), tensor(echo.clone(), [1, cfg.spec.profile_len()], &d));
    let (z_t, k_t) = loaded.encode(&mfcc, &echo).unwrap();
    let (z_b, k_b) = (values(z_b), values(k_b));
    assert_eq!(k_t.len(), KNOB_COUNT);
    let enc_err = max_diff(&z_b, &z_t).max(max_diff(&k_b, &k_t));
    eprintln!("encoder (comb head: {comb}, tail head: {tail}, room head: {room}) burn vs tract: max abs error {enc_err:e}");
    assert!(enc_err < 1e-4, "encoder (comb head: {comb}, tail head: {tail}, room head: {room}) burn vs tract: {enc_err}");

    // Decoder: 25 frames streamed one at a time vs burn over the whole sequence.
    let f = 25;
    let v = cfg.spec.voices;
    let controls = random(&mut rng, v * f * 3);
    let dec = model.decoder.forward(tensor(controls.clone(), [1, v, f, 3], &d), tensor(z_b.clone(), [1, cfg.z_dim], &d), Tensor::zeros([v, cfg.decoder_hidden], &d));
    let (amp, harm, noise) = (values(dec.amplitude), values(dec.harmonics), values(dec.noise));
    let k = cfg.spec.harmonics;
    let bands = cfg.spec.noise_bands;
    // The plugin streams with the native decoder (checked against tract at load); both
    // must be burn's function.
    assert_eq!(loaded.decoder_backend(), "native");
    for (name, mut stream) in [("tract", loaded.tract_decoder()), ("native", loaded.decoder())] {
        let mut worst = 0f32;
        for t in 0..f {
            let frame: Vec<f32> = (0..v).flat_map(|s| controls[(s * f + t) * 3..(s * f + t) * 3 + 3].to_vec()).collect();
            let out = stream.step(&frame, &z_b).unwrap();
            let amp_b: Vec<f32> = (0..v).map(|s| amp[s * f + t]).collect();
            let harm_b: Vec<f32> = (0..v).flat_map(|s| harm[(s * f + t) * k..(s * f + t + 1) * k].to_vec()).collect();
            worst = worst.max(max_diff(&amp_b, &out.amplitude)).max(max_diff(&harm_b, &out.harmonics)).max(max_diff(&noise[t * bands..(t + 1) * bands], &out.noise));
        }
        eprintln!("decoder burn vs {name}, {f} streamed frames: max abs error {worst:e}");
        assert!(worst < 1e-4, "decoder burn vs {name} over {f} streamed frames: {worst}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_or_corrupt_model_files_are_named() {
    let dir = tmp("broken");
    exported(&dir);
    let err = |dir: &PathBuf| Model::load(dir).err().expect("the load must fail").to_string();

    std::fs::write(dir.join(ENCODER_ONNX), b"not a protobuf at all").unwrap();
    let e = err(&dir);
    assert!(e.contains(ENCODER_ONNX) && e.contains("corrupt"), "{e}");

    std::fs::remove_file(dir.join(DECODER_ONNX)).unwrap();
    exported(&dir); // restore, then remove the decoder alone
    std::fs::remove_file(dir.join(DECODER_ONNX)).unwrap();
    let e = err(&dir);
    assert!(e.contains(DECODER_ONNX) && e.contains("missing"), "{e}");

    exported(&dir);
    let json = std::fs::read_to_string(dir.join(MODEL_JSON)).unwrap().replace("distortion.drive_db", "distortion.gain_db");
    std::fs::write(dir.join(MODEL_JSON), json).unwrap();
    let e = err(&dir);
    assert!(e.contains(MODEL_JSON) && e.contains("knob table"), "{e}");

    exported(&dir);
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(MODEL_JSON)).unwrap()).unwrap();
    json["default_z"] = serde_json::json!([0.5, 1.0]);
    std::fs::write(dir.join(MODEL_JSON), json.to_string()).unwrap();
    let e = err(&dir);
    assert!(e.contains(MODEL_JSON) && e.contains("default_z holds 2 values"), "{e}");

    std::fs::write(dir.join(MODEL_JSON), "{ truncated").unwrap();
    let e = err(&dir);
    assert!(e.contains(MODEL_JSON) && e.contains("corrupt"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn run(args: &[&str]) -> String {
    let mut out = Vec::new();
    gddsp_train::cli::run(std::iter::once("gddsp-train").chain(args.iter().copied()), &mut out).unwrap_or_else(|e| panic!("{args:?}: {e:?}"));
    String::from_utf8(out).unwrap()
}

/// How far a read head moves each knob on the corpus's test clips (the largest change per
/// knob), from `before` (without the head) to `after`; z and every knob not in `knobs` must
/// stay.
fn head_moves(data: &Path, before: &Model, after: &Model, knobs: &[Knob]) -> [f32; KNOB_COUNT] {
    let mut moved = [0f32; KNOB_COUNT];
    for e in std::fs::read_dir(data.join("test")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with("_wet.wav") {
            let audio = gddsp_core::audio_io::load(&p).unwrap();
            let (a, b) = (before.analyze(&audio).unwrap(), after.analyze(&audio).unwrap());
            assert!(max_diff(&a.z, &b.z) < 1e-5, "{}: z moved by {}", p.display(), max_diff(&a.z, &b.z));
            for k in 0..KNOB_COUNT {
                let d = (a.positions[k] - b.positions[k]).abs();
                if knobs.iter().any(|&h| h as usize == k) {
                    moved[k] = moved[k].max(d);
                } else {
                    assert!(d < 1e-4, "{}: knob {k} moved from {} to {}", p.display(), a.positions[k], b.positions[k]);
                }
            }
        }
    }
    moved
}

/// The message of a command that must fail.
fn run_err(args: &[&str]) -> String {
    let mut out = Vec::new();
    match gddsp_train::cli::run(std::iter::once("gddsp-train").chain(args.iter().copied()), &mut out) {
        Ok(()) => panic!("{args:?} succeeded"),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn training_runs_both_stages_resumes_exports_and_the_model_analyzes() {
    let data = tmp("corpus");
    common::tiny_corpus(&data);
    let runs = tmp("run");
    let r = runs.to_str().unwrap();
    let d = data.to_str().unwrap();
    let common = ["--data", d, "--out", r, "--knob-steps", "2", "--epoch-steps", "2", "--batch", "2", "--knob-batch", "2", "--crop", "0.5", "--seed", "4"];
    let mut first: Vec<&str> = vec!["train", "--steps", "4"];
    first.extend(common);
    run(&first);
    let lines = |p: &PathBuf| std::fs::read_to_string(p.join("metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).collect::<Vec<_>>();
    let m = lines(&runs);
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[0]["stage"], "knob");
    assert_eq!(m[1]["stage"], "joint");
    for key in ["train_clean_mss", "train_wet_mss"] {
        let v = m[1][key].as_f64().unwrap();
        assert!(v.is_finite() && v > 0.0, "{key} = {v}");
    }
    let knob = m[1]["valid"]["knob_mae"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&knob), "knob MAE {knob}");
    assert!(runs.join("checkpoint/model.bpk").exists() && runs.join("best.bpk").exists());
    // The knob stage is scored by its knob MAE alone (the untrained decoder's spectral
    // distances are noise), and the joint stage's first score replaces its best.
    let knob_score = m[0]["valid_score"].as_f64().unwrap();
    assert!((knob_score - 5.0 * m[0]["valid"]["knob_mae"].as_f64().unwrap()).abs() < 1e-9, "knob-stage score {knob_score}");
    let progress: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(runs.join("checkpoint/progress.json")).unwrap()).unwrap();
    assert_eq!(progress["best_stage"], "joint");
    assert!(progress["best_valid"].as_f64().unwrap() > knob_score, "the joint score adds the spectral distances");

    // Resume to 6 steps: one more validation line, continuing at step 6.
    let mut more: Vec<&str> = vec!["train", "--steps", "6", "--resume"];
    more.extend(common);
    run(&more);
    let m = lines(&runs);
    assert_eq!(m.len(), 3);
    assert_eq!(m[2]["step"], 6);

    let models = tmp("exported");
    let said = run(&["export", r, "--out", models.to_str().unwrap()]);
    // model.json's command replays the run: run again from it, it is the same run.
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(models.join(MODEL_JSON)).unwrap()).unwrap();
    let command = info["training"]["command"].as_str().unwrap();
    let replay = tmp("replay");
    let args: Vec<&str> = command.strip_prefix("gddsp-train ").unwrap().split(' ').map(|a| if a == "RUN" { replay.to_str().unwrap() } else { a }).collect();
    run(&args);
    let config = |run: &PathBuf| serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(run.join("train.json")).unwrap()).unwrap();
    assert_eq!(config(&replay), config(&runs), "{command}");
    // The default timbre is the mean z the exported encoder hears in the training clips.
    let n_train = std::fs::read_dir(data.join("train")).unwrap().filter(|e| e.as_ref().unwrap().path().to_string_lossy().ends_with("_wet.wav")).count();
    assert!(said.contains(&format!("mean z of {n_train} training clips")), "{said}");
    let model = Model::load(&models).unwrap();
    let mut mean = vec![0f64; model.info.z_dim];
    for e in std::fs::read_dir(data.join("train")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with("_wet.wav") {
            let z = model.analyze(&gddsp_core::audio_io::load(&p).unwrap()).unwrap().z;
            mean.iter_mut().zip(&z).for_each(|(m, v)| *m += *v as f64 / n_train as f64);
        }
    }
    assert_eq!(model.info.default_z.len(), model.info.z_dim);
    let off = model.info.default_z.iter().zip(&mean).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
    assert!(off < 1e-5, "default_z is {off} off the training clips' mean z");
    let said = run(&["default-z", "--model", models.to_str().unwrap(), "--data", d]);
    assert!(said.contains(MODEL_JSON), "{said}");
    assert_eq!(Model::load(&models).unwrap().info.default_z, model.info.default_z, "default-z rewrites the same mean");
    let wet = std::fs::read_dir(data.join("test")).unwrap().map(|e| e.unwrap().path()).find(|p| p.to_string_lossy().ends_with("_wet.wav")).unwrap();
    let mut out = Vec::new();
    gddsp_cli::run(["gddsp", "analyze", wet.to_str().unwrap(), "--json", "--model", models.to_str().unwrap()], &mut out).unwrap();
    let a: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(a["knobs"].as_object().unwrap().len(), KNOB_COUNT);
    assert_eq!(a["z"].as_array().unwrap().len(), ModelConfig::with_voices(6).z_dim);
    assert!((a["seconds"].as_f64().unwrap() - 4.0).abs() < 0.01, "{}", a["seconds"]);

    // The comb head changes the delay's feedback and mix and nothing else: z and the other
    // knobs are the trained model's, on every test clip.
    let with_head = tmp("comb");
    let said = run(&["comb-head", r, "--out", with_head.to_str().unwrap(), "--steps", "4", "--batch", "2"]);
    assert!(said.contains("comb head fitted"), "{said}");
    // "As trained" is the run's best checkpoint as its own validation scored it.
    let best = lines(&runs).into_iter().filter(|l| l["stage"] == "joint").min_by(|a, b| a["valid_score"].as_f64().unwrap().total_cmp(&b["valid_score"].as_f64().unwrap())).unwrap();
    let as_trained: f64 = said.split("validation knob MAE ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((as_trained - best["valid"]["knob_mae"].as_f64().unwrap()).abs() < 1e-4, "{said}; the best checkpoint's validation: {}", best["valid"]["knob_mae"]);
    let exported_head = with_head.join("export");
    run(&["export", with_head.to_str().unwrap(), "--out", exported_head.to_str().unwrap()]);
    let headed = Model::load(&exported_head).unwrap();
    assert!(headed.info.spec.comb_reads && headed.info.spec.comb_persistence && headed.info.spec.comb_delay && !model.info.spec.comb_reads);
    let moved = head_moves(&data, &model, &headed, &[Knob::DelayFeedback, Knob::DelayMix]);
    assert!(moved.iter().any(|&m| m > 1e-3), "the head changed neither the feedback nor the mix");

    // The tail head goes on a run with the comb head, and changes the reverb's three
    // knobs and nothing else.
    let no_comb = run_err(&["tail-head", r, "--out", tmp("tail-no-comb").to_str().unwrap(), "--steps", "2"]);
    assert!(no_comb.contains("comb head first"), "{no_comb}");
    let with_tail = tmp("tail");
    let said = run(&["tail-head", with_head.to_str().unwrap(), "--out", with_tail.to_str().unwrap(), "--steps", "4", "--batch", "2"]);
    assert!(said.contains("tail head fitted"), "{said}");
    let exported_tail = with_tail.join("export");
    run(&["export", with_tail.to_str().unwrap(), "--out", exported_tail.to_str().unwrap()]);
    let tailed = Model::load(&exported_tail).unwrap();
    assert!(tailed.info.spec.tail_reads && tailed.info.spec.comb_reads);
    let moved = head_moves(&data, &headed, &tailed, &[Knob::ReverbDecayS, Knob::ReverbDamping, Knob::ReverbMix]);
    assert!(moved.iter().any(|&m| m > 1e-3), "the tail head changed none of the reverb's knobs");

    // The room head goes on a run with the tail head, and changes the reverb's decay and
    // mix and nothing else (fitted here on other reverbs than the corpus's).
    let no_tail = run_err(&["room-head", with_head.to_str().unwrap(), "--out", tmp("room-no-tail").to_str().unwrap(), "--steps", "2"]);
    assert!(no_tail.contains("tail head first"), "{no_tail}");
    let with_room = tmp("room");
    let said = run(&["room-head", with_tail.to_str().unwrap(), "--out", with_room.to_str().unwrap(), "--steps", "4", "--batch", "2", "--other-reverbs"]);
    assert!(said.contains("room head fitted"), "{said}");
    let exported_room = with_room.join("export");
    run(&["export", with_room.to_str().unwrap(), "--out", exported_room.to_str().unwrap()]);
    let roomed = Model::load(&exported_room).unwrap();
    assert!(roomed.info.spec.room_reads && roomed.info.spec.tail_reads);
    assert_eq!(roomed.info.spec.profile_len(), tailed.info.spec.profile_len() + room::ROOM_LEN);
    let moved = head_moves(&data, &tailed, &roomed, &[Knob::ReverbDecayS, Knob::ReverbMix]);
    assert!(moved.iter().any(|&m| m > 1e-3), "the room head changed neither the reverb's decay nor its mix");

    // With --time-gate the comb head gates the delay time too: the delay's three knobs move
    // and nothing else, and the exported command replays the flag. Only the comb head takes it.
    let timed = tmp("comb-time");
    run(&["comb-head", r, "--out", timed.to_str().unwrap(), "--steps", "4", "--batch", "2", "--time-gate"]);
    let exported_timed = timed.join("export");
    run(&["export", timed.to_str().unwrap(), "--out", exported_timed.to_str().unwrap()]);
    let timed_model = Model::load(&exported_timed).unwrap();
    let moved = head_moves(&data, &model, &timed_model, &[Knob::DelayFeedback, Knob::DelayMix, Knob::DelayTimeMs]);
    assert!(moved[Knob::DelayTimeMs as usize] > 1e-3, "the time gate left the delay time where it was: {moved:?}");
    let command = timed_model.info.training["command"].as_str().unwrap();
    assert!(command.contains("gddsp-train comb-head RUN --out RUN-comb --steps 4 --time-gate"), "{command}");
    assert!(!headed.info.training["command"].as_str().unwrap().contains("--time-gate"));
    let wrong = run_err(&["tail-head", with_head.to_str().unwrap(), "--out", tmp("tail-time").to_str().unwrap(), "--steps", "2", "--time-gate"]);
    assert!(wrong.contains("--time-gate") && wrong.contains("comb head"), "{wrong}");

    let report = run(&["eval", "--model", models.to_str().unwrap(), "--data", d, "--split", "test", "--limit", "2"]);
    assert!(report.contains("## Knobs"), "{report}");
    let e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(models.join("eval.json")).unwrap()).unwrap();
    assert_eq!(e["clips"], 2);
    assert!(e["clean_mss"]["model"].as_f64().unwrap() > 0.0);
    assert!(models.join("eval_knobs.png").exists() && models.join("eval_spectrograms.png").exists());
    // The same renders with another reverb, and at another level: counted by the same
    // rule, so equally often.
    for (name, k) in e["knobs"].as_object().unwrap() {
        for key in ["rerendered_other_reverb", "rerendered_other_level"] {
            let (other, own) = (&k[key], &k["rerendered"]);
            assert_eq!(other["counted"], own["counted"], "{name}: {key}");
            assert!(other["mae"].as_f64().is_some_and(|m| (0.0..=1.0).contains(&m)), "{name}: {key} {other}");
        }
    }
    let md = std::fs::read_to_string(models.join("eval.md")).unwrap();
    assert!(md.contains("another reverb") && md.contains("another level"), "{md}");
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(models.join(MODEL_JSON)).unwrap()).unwrap();
    assert_eq!(info["eval"]["clips"], 2, "model.json carries the evaluation");
    for dir in [data, runs, replay, models, with_head, with_tail, with_room, timed] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
