//! `cargo xtask` — project chores that are not part of the product.
//!
//! * `cargo xtask perf-table` — builds `gddsp` in release, runs `gddsp bench --json` and
//!   prints the README's performance rows from what it measured.

use std::process::Command;

use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("perf-table") => perf_table(),
        _ => bail!("usage: cargo xtask perf-table"),
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
