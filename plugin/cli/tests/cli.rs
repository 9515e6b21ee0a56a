//! The `gddsp` binary as a user runs it: outputs, and one clear line with a non-zero exit
//! (never a panic) for every kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gddsp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gddsp")).args(args).output().expect("the binary runs")
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gddsp-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_wav(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec { channels: channels.len() as u16, sample_rate: rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..channels[0].len() {
        for c in channels {
            w.write_sample(c[n]).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let samples: Vec<f32> = r.samples::<f32>().map(Result::unwrap).collect();
    let ch = spec.channels as usize;
    let planar = (0..ch).map(|c| samples.iter().skip(c).step_by(ch).copied().collect()).collect();
    (spec, planar)
}

fn sine(rate: u32, hz: f32, len: usize) -> Vec<f32> {
    (0..len).map(|n| 0.3 * (std::f32::consts::TAU * hz * n as f32 / rate as f32).sin()).collect()
}

/// A failed run: exit code 1, exactly one line on stderr mentioning `needle`, no panic.
fn assert_clean_failure(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    assert!(err.contains(needle), "'{needle}' not in: {err}");
}

#[test]
fn knobs_prints_the_table_as_json() {
    let out = gddsp(&["knobs"]);
    assert!(out.status.success());
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = table.as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "distortion.drive_db", "distortion.tone_hz", "distortion.mix", "delay.time_ms", "delay.feedback",
            "delay.mix", "reverb.decay_s", "reverb.damping", "reverb.mix"
        ]
    );
    assert_eq!(table[3]["min"], 20.0);
    assert_eq!(table[3]["max"], 1000.0);
    assert_eq!(table[3]["skew"], "log");
    assert_eq!(table[3]["default"], 350.0);
    assert_eq!(table[6]["unit"], "s");
}

#[test]
fn fx_keeps_length_rate_and_channels_and_puts_the_echo_on_time() {
    let d = dir("fx");
    let input = d.join("in.wav");
    let mut left = vec![0.0; 22_050];
    left[100] = 1.0;
    let right = sine(22_050, 440.0, 22_050);
    write_wav(&input, 22_050, &[left, right]);
    let knobs = d.join("k.json");
    std::fs::write(&knobs, r#"{"delay.mix": 1.0, "delay.time_ms": 100.0, "delay.feedback": 0.0}"#).unwrap();
    let output = d.join("out.wav");
    let out = gddsp(&["fx", input.to_str().unwrap(), output.to_str().unwrap(), "--knobs", knobs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (spec, ch) = read_wav(&output);
    assert_eq!((spec.sample_rate, spec.channels, ch[0].len()), (22_050, 2, 22_050));
    // 100 ms at 22.05 kHz = 2205 samples after the impulse.
    assert_eq!(ch[0][100], 1.0);
    assert!((ch[0][100 + 2205] - 1.0).abs() < 1e-6);

    let tailed = d.join("tail.wav");
    let out = gddsp(&["fx", input.to_str().unwrap(), tailed.to_str().unwrap(), "--knobs", knobs.to_str().unwrap(), "--tail", "1.5"]);
    assert!(out.status.success());
    assert_eq!(read_wav(&tailed).1[0].len(), 22_050 + 33_075);
}

#[test]
fn fx_mix_sums_a_hex_recording_to_one_channel_before_the_chain() {
    let d = dir("fx-mix");
    let input = d.join("hex.wav");
    let mut strings = vec![vec![0.0f32; 16_000]; 6];
    for (s, ch) in strings.iter_mut().enumerate() {
        ch[200 + s] = 0.1 * (s + 1) as f32;
    }
    write_wav(&input, 16_000, &strings);
    let knobs = d.join("k.json");
    std::fs::write(&knobs, r#"{"delay.mix": 0.5, "delay.time_ms": 50.0, "delay.feedback": 0.0}"#).unwrap();
    let output = d.join("out.wav");
    let out = gddsp(&["fx", input.to_str().unwrap(), output.to_str().unwrap(), "--knobs", knobs.to_str().unwrap(), "--mix"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (spec, ch) = read_wav(&output);
    assert_eq!((spec.channels, ch[0].len()), (1, 16_000));
    // Each string's click, dry and then at half level 800 samples (50 ms) later.
    for s in 0..6 {
        let want = 0.1 * (s + 1) as f32;
        assert!((ch[0][200 + s] - want).abs() < 1e-6 && (ch[0][1000 + s] - 0.5 * want).abs() < 1e-6, "string {s}");
    }
}

#[test]
fn features_writes_f0_confidence_and_loudness_per_channel() {
    let d = dir("features");
    let input = d.join("in.wav");
    write_wav(&input, 44_100, &[sine(44_100, 220.0, 44_100), vec![0.0; 44_100]]);
    let json = d.join("f.json");
    let out = gddsp(&["features", input.to_str().unwrap(), "--out", json.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(f["frame_rate"], 250.0);
    assert_eq!(f["frames"], 250);
    let ch = f["channels"].as_array().unwrap();
    assert_eq!(ch.len(), 2);
    let f0 = ch[0]["f0_hz"][125].as_f64().unwrap();
    assert!((f0 / 220.0 - 1.0).abs() < 0.003, "f0 {f0}");
    assert!(ch[0]["confidence"][125].as_f64().unwrap() > 0.9);
    assert_eq!(ch[1]["loudness_db"][125], -100.0);
}

#[test]
fn bench_json_reports_both_factors() {
    let out = gddsp(&["bench", "--json", "--seconds", "0.5"]);
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["fx_realtime_factor"].as_f64().unwrap() > 0.0);
    assert!(r["synth_realtime_factor"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_input_gives_one_clear_line_and_a_non_zero_exit() {
    let d = dir("bad");
    let good = d.join("good.wav");
    write_wav(&good, 48_000, &[sine(48_000, 220.0, 4800)]);
    let knobs = d.join("k.json");
    std::fs::write(&knobs, "{}").unwrap();
    let out_wav = d.join("out.wav");
    let (g, k, o) = (good.to_str().unwrap(), knobs.to_str().unwrap(), out_wav.to_str().unwrap());

    assert_clean_failure(&gddsp(&["fx", "no-such-file.wav", o, "--knobs", k]), "no-such-file.wav");

    let corrupt = d.join("corrupt.wav");
    std::fs::write(&corrupt, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
    assert_clean_failure(&gddsp(&["fx", corrupt.to_str().unwrap(), o, "--knobs", k]), "corrupt.wav");

    let text = d.join("song.mp3");
    std::fs::write(&text, "definitely not an mp3").unwrap();
    assert_clean_failure(&gddsp(&["fx", text.to_str().unwrap(), o, "--knobs", k]), "song.mp3");

    let empty = d.join("empty.wav");
    write_wav(&empty, 48_000, &[vec![]]);
    assert_clean_failure(&gddsp(&["fx", empty.to_str().unwrap(), o, "--knobs", k]), "no audio");

    let nan = d.join("nan.wav");
    let mut x = sine(48_000, 220.0, 4800);
    x[77] = f32::NAN;
    write_wav(&nan, 48_000, &[x]);
    assert_clean_failure(&gddsp(&["fx", nan.to_str().unwrap(), o, "--knobs", k]), "sample 77");
    assert_clean_failure(&gddsp(&["features", nan.to_str().unwrap(), "--out", o]), "not a number");

    let bad_json = d.join("bad.json");
    std::fs::write(&bad_json, "{\"delay.mix\": ").unwrap();
    assert_clean_failure(&gddsp(&["fx", g, o, "--knobs", bad_json.to_str().unwrap()]), "bad.json");

    let unknown = d.join("unknown.json");
    std::fs::write(&unknown, r#"{"delay.tim_ms": 100}"#).unwrap();
    assert_clean_failure(&gddsp(&["fx", g, o, "--knobs", unknown.to_str().unwrap()]), "delay.tim_ms");

    let range = d.join("range.json");
    std::fs::write(&range, r#"{"reverb.decay_s": 9}"#).unwrap();
    assert_clean_failure(&gddsp(&["fx", g, o, "--knobs", range.to_str().unwrap()]), "reverb.decay_s");

    assert_clean_failure(&gddsp(&["fx", g, o, "--knobs", "missing.json"]), "missing.json");
    assert_clean_failure(&gddsp(&["fx", g, d.join("out.mp3").to_str().unwrap(), "--knobs", k]), ".wav");
    assert_clean_failure(&gddsp(&["fx", g, g, "--knobs", k]), "overwrite");
    assert_clean_failure(&gddsp(&["fx", g, o, "--knobs", k, "--tail", "NaN"]), "--tail");

    // A usage error is clap's own (exit 2), still no panic.
    let usage = gddsp(&["fx"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&usage.stderr).contains("panicked"));
}
