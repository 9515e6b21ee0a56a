//! `cargo xtask` — project chores that are not part of the product.
//!
//! * `cargo xtask perf-table` — builds `gddsp` in release, runs `gddsp bench --json` and
//!   prints the README's performance rows from what it measured.
//! * `cargo xtask train-model [CORPUS] [RUNS]` — the shipped model from nothing, one
//!   command: the 1-hour corpus (seed 7, if CORPUS has none), the main run (seed 1), the
//!   two ablations started from its knob stage and trained beside its joint stage, the
//!   exports (the main one into `models/`) and the evaluation report in `models/`.

use std::process::Command;

use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("perf-table") => perf_table(),
        Some("train-model") => train_model(std::env::args().nth(2).unwrap_or("corpus".into()), std::env::args().nth(3).unwrap_or("runs".into())),
        _ => bail!("usage: cargo xtask perf-table | cargo xtask train-model [CORPUS] [RUNS]"),
    }
}

fn perf_table() -> anyhow::Result<()> {
    let out = Command::new(env!("CARGO"))
        .args(["run", "--release", "--quiet", "-p", "gddsp-cli", "--", "bench", "--json"])
        .output()
        .context("running gddsp bench")?;
    if !out.status.success() {
        bail!("gddsp bench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading the bench JSON")?;
    let factor = |key: &str| r[key].as_f64().with_context(|| format!("{key} missing from the bench JSON"));
    println!("| measure (48 kHz stereo, blocks of 128, one core) | × real time |");
    println!("|---|---|");
    println!("| FX chain, all effects on, 2 s reverb | {:.0} |", factor("fx_realtime_factor")?);
    println!("| 6 voices × 60 harmonics + noise + FX chain | {:.0} |", factor("synth_realtime_factor")?);
    Ok(())
}

/// The shipped model's recipe (see the README's model section for what each step costs).
pub const MAIN_STEPS: &str = "2600";
pub const KNOB_STEPS: &str = "2000";
pub const ABLATION_STEPS: &str = "600";

fn train_model(corpus: String, runs: String) -> anyhow::Result<()> {
    let status = Command::new(env!("CARGO")).args(["build", "--release", "-p", "gddsp-train"]).status().context("building gddsp-train")?;
    if !status.success() {
        bail!("building gddsp-train failed");
    }
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/gddsp-train");
    let run = |args: &[&str]| -> anyhow::Result<()> {
        eprintln!("+ gddsp-train {}", args.join(" "));
        let status = Command::new(&bin).args(args).status().with_context(|| format!("running gddsp-train {}", args[0]))?;
        if !status.success() {
            bail!("gddsp-train {} failed", args.join(" "));
        }
        Ok(())
    };
    if !std::path::Path::new(&corpus).join("manifest.json").exists() {
        run(&["data", "--out", &corpus, "--hours", "1", "--seed", "7"])?;
    }
    let main = format!("{runs}/main");
    let encoder = format!("{main}/encoder_after_knob_stage.bpk");
    eprintln!("+ gddsp-train train --data {corpus} --out {main} --seed 1 --steps {MAIN_STEPS} --knob-steps {KNOB_STEPS} (in the background)");
    let mut main_run = Command::new(&bin).args(["train", "--data", &corpus, "--out", &main, "--seed", "1", "--steps", MAIN_STEPS, "--knob-steps", KNOB_STEPS]).spawn().context("starting the main run")?;
    while !std::path::Path::new(&encoder).exists() {
        if let Some(status) = main_run.try_wait()? {
            bail!("the main run ended ({status}) before its knob stage did");
        }
        std::thread::sleep(std::time::Duration::from_secs(10));
    }
    let ablation = |name: &str, extra: &[&str]| -> anyhow::Result<std::process::Child> {
        let out = format!("{runs}/{name}");
        let mut args = vec!["train", "--data", &corpus, "--out", &out, "--seed", "1", "--steps", ABLATION_STEPS, "--knob-steps", "0", "--init-encoder", &encoder];
        args.extend_from_slice(extra);
        eprintln!("+ gddsp-train {} (in the background)", args.join(" "));
        Command::new(&bin).args(&args).spawn().with_context(|| format!("starting the {name} run"))
    };
    let mut mono = ablation("mono", &["--voices", "1"])?;
    let mut clean_only = ablation("clean-only", &["--wet-weight", "0"])?;
    for (name, child) in [("main", &mut main_run), ("mono", &mut mono), ("clean-only", &mut clean_only)] {
        if !child.wait()?.success() {
            bail!("the {name} run failed");
        }
    }
    run(&["export", &main, "--out", "models"])?;
    run(&["export", &format!("{runs}/mono"), "--out", &format!("{runs}/mono/export")])?;
    run(&["export", &format!("{runs}/clean-only"), "--out", &format!("{runs}/clean-only/export")])?;
    run(&["eval", "--model", "models", "--data", &corpus, "--split", "test", "--mono", &format!("{runs}/mono/export"), "--clean-only", &format!("{runs}/clean-only/export")])
}
