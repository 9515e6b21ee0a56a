//! One training command, run twice, trains the same model. In its own test binary (its own
//! process) because burn's random generator is global: a test drawing weights on another
//! thread at the same time would take numbers from this one's stream.

mod common;

use std::path::PathBuf;


fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gddsp-reproducible-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Trains 4 steps (2 knob-only, 2 joint) into `out`; returns the validation figures of
/// the metric lines. (The weights files cannot be compared byte for byte: burn writes a
/// fresh random id for every parameter.)
fn train(data: &str, out: &PathBuf, seed: &str) -> Vec<f64> {
    let args = ["gddsp-train", "train", "--data", data, "--out", out.to_str().unwrap(), "--steps", "4", "--knob-steps", "2", "--epoch-steps", "2", "--batch", "2", "--knob-batch", "2", "--crop", "0.5", "--seed", seed];
    gddsp_train::cli::run(args, &mut Vec::new()).unwrap_or_else(|e| panic!("{e:?}"));
    let mut losses = Vec::new();
    for line in std::fs::read_to_string(out.join("metrics.jsonl")).unwrap().lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["clean_mss", "wet_mss", "knob_mae"] {
            losses.push(m["valid"][key].as_f64().unwrap_or_else(|| panic!("valid.{key} in {m}")));
        }
    }
    losses
}

#[test]
fn the_same_seed_trains_the_same_model_and_another_seed_does_not() {
    let data = tmp("corpus");
    common::tiny_corpus(&data);
    let d = data.to_str().unwrap();
    let (a, b, c) = (tmp("a"), tmp("b"), tmp("c"));
    let (losses_a, losses_b, losses_c) = (train(d, &a, "4"), train(d, &b, "4"), train(d, &c, "5"));
    assert_eq!(losses_a.len(), 6, "two validations, three figures each");
    assert_eq!(losses_a, losses_b, "same seed, same losses");
    assert_ne!(losses_a, losses_c, "another seed draws other weights and batches");
    for dir in [data, a, b, c] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
