//! `gddsp-train` as a user runs it: data → check → spectrogram, and usage errors.

use std::path::PathBuf;

use gddsp_train::cli::{run, CliError};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gddsp-train-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_ok(args: &[&str]) -> String {
    let mut out = Vec::new();
    match run(std::iter::once("gddsp-train").chain(args.iter().copied()), &mut out) {
        Ok(()) => String::from_utf8(out).unwrap(),
        Err(CliError::Usage(e)) => panic!("usage: {e}"),
        Err(CliError::Failed(e)) => panic!("failed: {e:#}"),
    }
}

fn run_err(args: &[&str]) -> String {
    match run(std::iter::once("gddsp-train").chain(args.iter().copied()), &mut Vec::new()) {
        Ok(()) => panic!("{args:?} succeeded"),
        Err(CliError::Usage(e)) => e.to_string(),
        Err(CliError::Failed(e)) => format!("{e:#}"),
    }
}

#[test]
fn data_then_check_then_spectrogram() {
    let dir = tmp("flow");
    let d = dir.to_str().unwrap();
    let said = run_ok(&["data", "--out", d, "--hours", "0.005", "--seed", "2", "--pluck", "--clip-seconds", "3"]);
    assert!(said.contains("wrote 6 clips"), "{said}");
    let report: serde_json::Value = serde_json::from_str(&run_ok(&["check", d, "--json"])).unwrap();
    assert_eq!(report["clips"], 6);
    assert_eq!(report["max_wet_error"], 0.0);
    assert!(report["pitch"].as_object().unwrap().keys().all(|k| k.starts_with("pluck:")));

    let clean = dir.join("valid/g00001_c0_clean.wav");
    let wet = dir.join("valid/g00001_c0_wet.wav");
    let png = dir.join("pair.png");
    run_ok(&["spectrogram", clean.to_str().unwrap(), wet.to_str().unwrap(), "--out", png.to_str().unwrap()]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!((be(16), be(20)), (1200, 640), "two stacked panels");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_requests_say_what_is_wrong() {
    let dir = tmp("bad");
    let d = dir.to_str().unwrap();
    assert!(run_err(&["data", "--out", d, "--hours", "0", "--pluck"]).contains("--hours"));
    assert!(run_err(&["data", "--out", d, "--hours", "0.01", "--rate", "8000", "--pluck"]).contains("--rate"));
    let missing = run_err(&["data", "--out", d, "--hours", "0.01", "--soundfont", "/nonexistent/x.sf2"]);
    assert!(missing.contains("/nonexistent/x.sf2"), "{missing}");
    let not_sf2 = dir.join("not.sf2");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&not_sf2, b"RIFF....junk").unwrap();
    let corrupt = run_err(&["data", "--out", dir.join("c").to_str().unwrap(), "--hours", "0.01", "--soundfont", not_sf2.to_str().unwrap()]);
    assert!(corrupt.contains("not.sf2") && corrupt.contains("SoundFont"), "{corrupt}");
    assert!(run_err(&["check", dir.join("nowhere").to_str().unwrap()]).contains("nowhere"));
    assert!(run_err(&["spectrogram", "--out", "x.png"]).contains("required"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn parity_json_lists_every_block_within_its_bound() {
    let report: serde_json::Value = serde_json::from_str(&run_ok(&["parity", "--json", "--seconds", "0.5", "--seed", "4"])).unwrap();
    let blocks = report["blocks"].as_array().unwrap();
    let names: Vec<&str> = blocks.iter().map(|b| b["block"].as_str().unwrap()).collect();
    assert_eq!(names, ["harmonic", "noise", "distortion", "delay", "delay (whole samples)", "reverb", "chain"]);
    for b in blocks {
        assert!(b["passed"].as_bool().unwrap(), "{b}");
        assert!(b["spectral_error"].as_f64().unwrap() <= 0.02);
    }
    assert!(run_err(&["parity", "--seconds", "100"]).contains("--seconds"));
}

#[test]
fn pitch_eval_scores_both_trackers_on_plucked_chords_and_lines() {
    let dir = tmp("pitch");
    let said = run_ok(&["pitch-eval", "--pluck", "--clips", "2", "--seconds", "4", "--seed", "3", "--out", dir.to_str().unwrap(), "--json"]);
    let r: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(r["clips"], 2);
    assert!(r["guitar"].as_str().unwrap().contains("(pluck:"), "{}", r["guitar"]);
    // Each string of the hex pickup alone: the pluck model's strings are tracked in tune.
    let hex = r["hex"]["within_20_cents"].as_f64().unwrap();
    assert!(hex >= 0.9, "hex within 20 cents on {hex} of voiced frames");
    // The mix of all six: a real measurement, not a perfect one; bounds that a broken
    // tracker (nothing found, or everything) cannot meet.
    let (p, rec, f) = (r["poly"]["precision"].as_f64().unwrap(), r["poly"]["recall"].as_f64().unwrap(), r["poly"]["f_measure"].as_f64().unwrap());
    assert!((f - 2.0 * p * rec / (p + rec)).abs() < 1e-9);
    assert!(f >= 0.4 && p >= 0.4 && rec >= 0.3, "poly P {p} R {rec} F {f}");
    assert!(r["poly"]["latency_ms"].as_f64().unwrap() <= 25.0);
    let md = std::fs::read_to_string(dir.join("pitch_eval.md")).unwrap();
    assert!(md.contains("F-measure"), "{md}");
    assert!(run_err(&["pitch-eval", "--pluck", "--window", "64"]).contains("--window"));
    std::fs::remove_dir_all(dir).unwrap();
}
