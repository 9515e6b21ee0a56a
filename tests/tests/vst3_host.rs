//! The VST3 side of the plugin in a real VST3 host: `tests/vst3_host.py` loads the built
//! library as a `.vst3` bundle in Spotify's pedalboard (JUCE's VST3 hosting) and checks
//! parameters, transparency, a knob's effect at its sample, tone clone's latency, NaN
//! input and the state round trip (see the script for the numbers).
//!
//! The library is this run's debug build with nice-plug's `assert_process_allocs`: an
//! allocation inside `process()` aborts the host process and fails the test. pedalboard
//! comes from PyPI (the README's test command installs it).

#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

use gddsp_e2e::clap_host::plugin_library;
use gddsp_e2e::repo_root;

#[test]
fn the_vst3_bundle_loads_and_plays_in_a_juce_host() {
    // A VST3 bundle is a folder: gddsp.vst3/Contents/<arch>-linux/gddsp.so.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vst3-host");
    let binary_dir = dir.join("gddsp.vst3/Contents").join(format!("{}-linux", std::env::consts::ARCH));
    std::fs::create_dir_all(&binary_dir).unwrap();
    std::fs::copy(plugin_library(), binary_dir.join("gddsp.so")).expect("copies the plugin library into the bundle");
    let knobs = dir.join("knobs.json");
    std::fs::write(&knobs, gddsp_core::knobs::table_json().to_string()).unwrap();

    let script = repo_root().join("tests/vst3_host.py");
    let out = Command::new("python3").arg(&script).arg(dir.join("gddsp.vst3")).arg(&knobs).output().expect("runs python3 (the README's test command installs it with pedalboard)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(!stderr.contains("No module named 'pedalboard'"), "pedalboard is missing: python3 -m pip install pedalboard (the README's test command does)");
    assert!(out.status.success(), "the VST3 host check failed ({})", out.status);
    assert!(stdout.contains("state restores into a fresh instance"), "the host check stopped early");
}
