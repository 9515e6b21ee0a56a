//! A CLAP host (clack-host, `gddsp_e2e::clap_host`) loads the built plugin as a DAW would
//! and checks, in both modes, at 44.1 / 48 / 96 kHz and blocks of 1 to 4096 samples: no NaN
//! or infinity reaches the host, the output sounds where it should, the latency the plugin
//! reports is the latency an impulse measures, a mode change reaches the host through a
//! restart, the state round-trips (parameters and the analysed reference), and automation
//! acts at its sample.
//!
//! Every scenario runs in a child process: the plugin under test is a debug build with
//! nice-plug's `assert_process_allocs`, which aborts the process on any allocation inside
//! `process()` — the child's death then fails the test with its output, instead of taking
//! the whole test binary down.

use std::process::Command;

use gddsp_e2e::clap_host::{param_id, plugin_library, Event, Plugin};

const CHILD: &str = "GDDSP_CLAP_CHILD";
const RATES: [f64; 3] = [44_100.0, 48_000.0, 96_000.0];
const BLOCKS: [usize; 5] = [1, 64, 333, 1024, 4096];

/// Runs `body` in a child process (this test binary, filtered to `test`).
fn in_child(test: &str, body: impl FnOnce()) {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        body();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe).args([test, "--exact", "--nocapture", "--test-threads=1"]).env(CHILD, test).output().expect("spawns the child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{stderr}");
    // An abort (SIGABRT) is nice-plug's assert_process_allocs catching an allocation in
    // `process()`; the child's output above names the allocation's place.
    assert!(out.status.success(), "the child running `{test}` failed ({})", out.status);
    assert!(stdout.contains("1 passed"), "the child did not run `{test}`");
}

fn id(name: &str) -> u32 {
    param_id(name)
}

/// CLAP values for physical settings (mode and input are stepped: their index).
fn values(plugin: &mut Plugin, settings: &[(&str, f64)]) -> Vec<(u32, f64)> {
    settings.iter().map(|&(name, v)| (id(name), if name == "mode" || name == "input" { v } else { plugin.clap_value(id(name), v) })).collect()
}

fn set(plugin: &mut Plugin, settings: &[(&str, f64)]) {
    let v = values(plugin, settings);
    plugin.flush(&v);
}

const MODE_TONE: f64 = 1.0;
const INPUT_MONO: f64 = 0.0;
const INPUT_HEX: f64 = 1.0;
const INPUT_MIDI: f64 = 2.0;

fn guitar_like(rate: f64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let t = (i as f64 / rate) as f32;
            0.3 * (-(t % 0.5) * 4.0).exp() * ((std::f32::consts::TAU * 110.0 * t).sin() + 0.5 * (std::f32::consts::TAU * 220.0 * t).sin())
        })
        .collect()
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

fn peak_at(x: &[f32]) -> usize {
    x.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).map(|(i, _)| i).unwrap()
}

fn assert_finite(out: &[Vec<f32>; 2], what: &str) {
    let bad = out.iter().flatten().filter(|v| !v.is_finite()).count();
    assert_eq!(bad, 0, "{what}: {bad} non-finite samples reached the host");
}

fn impulse(len: usize, at: usize) -> Vec<f32> {
    let mut x = vec![0.0; len];
    x[at] = 0.5;
    x
}

#[test]
fn fx_clone_is_transparent_bypassed_with_zero_latency_at_every_rate_and_block() {
    in_child("fx_clone_is_transparent_bypassed_with_zero_latency_at_every_rate_and_block", || {
        for rate in RATES {
            for block in BLOCKS {
                let mut plugin = Plugin::load(&plugin_library());
                plugin.activate(rate, block);
                assert_eq!(plugin.latency(), 0, "FX clone reports latency at {rate} Hz, blocks of {block}");
                let len = (0.2 * rate) as usize;
                let mut x = guitar_like(rate, len);
                x[len / 2] += 0.5;
                let out = plugin.render([&x, &x], None, &[], block, None);
                assert_finite(&out, "FX clone");
                for ch in &out {
                    let err = ch.iter().zip(&x).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(err < 1e-5, "{rate} Hz, blocks of {block}: default knobs changed the guitar by up to {err}");
                    assert_eq!(peak_at(ch), len / 2, "the click moved: measured latency ≠ 0");
                }
            }
        }
    });
}

#[test]
fn fx_clone_with_every_effect_on_sounds_and_stays_finite() {
    in_child("fx_clone_with_every_effect_on_sounds_and_stays_finite", || {
        for rate in RATES {
            let mut plugin = Plugin::load(&plugin_library());
            set(&mut plugin, &[
                ("distortion.drive_db", 30.0),
                ("distortion.mix", 1.0),
                ("delay.time_ms", 120.0),
                ("delay.feedback", 0.5),
                ("delay.mix", 0.4),
                ("reverb.decay_s", 2.0),
                ("reverb.mix", 0.4),
            ]);
            plugin.activate(rate, 512);
            let len = (0.6 * rate) as usize;
            let mut x = guitar_like(rate, len);
            x[len / 3] = f32::NAN;
            x[len / 2] = f32::INFINITY;
            let out = plugin.render([&x, &x], None, &[], 512, None);
            assert_finite(&out, "FX clone with NaN/inf input");
            let tail = &out[0][len - (0.05 * rate) as usize..];
            assert!(rms(tail) > 1e-3, "{rate} Hz: the wet chain went silent (tail RMS {})", rms(tail));
        }
    });
}

/// Tone clone from MIDI: the reported latency equals the dry click's measured delay, and a
/// note sounds.
#[test]
fn tone_clone_reports_its_measured_latency_and_a_midi_note_sounds() {
    in_child("tone_clone_reports_its_measured_latency_and_a_midi_note_sounds", || {
        for rate in RATES {
            for block in BLOCKS {
                let mut plugin = Plugin::load(&plugin_library());
                set(&mut plugin, &[("mode", MODE_TONE), ("input", INPUT_MIDI), ("dry_wet", 0.0)]);
                plugin.activate(rate, block);
                let latency = plugin.latency() as usize;
                assert!(latency > 0, "tone clone reports no latency");
                // All dry: the click comes out exactly `latency` samples late.
                let len = (0.25 * rate) as usize;
                let x = impulse(len, len / 4);
                let out = plugin.render([&x, &x], None, &[], block, None);
                assert_finite(&out, "tone clone, dry");
                assert_eq!(peak_at(&out[0]), len / 4 + latency, "{rate} Hz, blocks of {block}: reported latency {latency}, measured {}", peak_at(&out[0]) as i64 - (len / 4) as i64);

                // All wet, A3 held: the oscillators sound (paced at real time so the
                // decoder thread keeps up, as it does in a host).
                let silent = vec![0.0; (0.4 * rate) as usize];
                let on = (0.05 * rate) as u32;
                // Dry/wet is linear 0–1: its CLAP value is the value itself.
                let events = [Event::Param { at: 0, id: id("dry_wet"), value: 1.0 }, Event::NoteOn { at: on, channel: 0, key: 57, velocity: 0.8 }];
                let out = plugin.render([&silent, &silent], None, &events, block, Some(rate));
                assert_finite(&out, "tone clone, MIDI");
                let before = rms(&out[0][..on as usize]);
                let after = rms(&out[0][silent.len() / 2..]);
                assert!(after > 1e-3 && after > 30.0 * before.max(1e-6), "{rate} Hz, blocks of {block}: MIDI A3 did not sound (RMS {before} before, {after} after)");
            }
        }
    });
}

#[test]
fn tone_clone_follows_a_mono_guitar_and_a_hex_pickup() {
    in_child("tone_clone_follows_a_mono_guitar_and_a_hex_pickup", || {
        for rate in [44_100.0, 96_000.0] {
            for (input, name) in [(INPUT_MONO, "mono"), (INPUT_HEX, "hex")] {
                let block = 256;
                let mut plugin = Plugin::load(&plugin_library());
                set(&mut plugin, &[("mode", MODE_TONE), ("input", input)]);
                if input == INPUT_HEX {
                    plugin.use_hex_pickup();
                }
                plugin.activate(rate, block);
                let len = (0.6 * rate) as usize;
                let g = guitar_like(rate, len);
                let silent = vec![0.0; len];
                let (main, hex) = if input == INPUT_HEX {
                    // The guitar on the A string, the other five silent.
                    let hex: Vec<Vec<f32>> = (0..6).map(|s| if s == 1 { g.clone() } else { silent.clone() }).collect();
                    (silent.clone(), Some(hex))
                } else {
                    (g.clone(), None)
                };
                let out = plugin.render([&main, &main], hex.as_deref(), &[], block, Some(rate));
                assert_finite(&out, name);
                let r = rms(&out[0][len / 3..]);
                assert!(r > 1e-3, "{rate} Hz, {name}: tone clone is silent under a playing guitar (RMS {r})");
            }
        }
    });
}

/// Switching to tone clone while playing: the plugin asks the host for a restart and
/// reports the new latency on reactivation, as CLAP requires.
#[test]
fn a_mode_change_reaches_the_host_as_a_restart_with_the_new_latency() {
    in_child("a_mode_change_reaches_the_host_as_a_restart_with_the_new_latency", || {
        let rate = 48_000.0;
        let mut plugin = Plugin::load(&plugin_library());
        plugin.activate(rate, 256);
        assert_eq!(plugin.latency(), 0);
        let x = vec![0.0; 4096];
        let events = [Event::Param { at: 100, id: id("mode"), value: MODE_TONE }, Event::Param { at: 100, id: id("input"), value: INPUT_MIDI }];
        plugin.render([&x, &x], None, &events, 256, None);
        assert!(plugin.restarts >= 1, "no restart was requested after the mode change");
        let latency = plugin.latency() as usize;
        assert!(latency > 0, "the new latency did not reach the host");
        let x = impulse(24_000, 5_000);
        let out = plugin.render([&x, &x], None, &[Event::Param { at: 0, id: id("dry_wet"), value: 0.0 }], 256, None);
        assert_eq!(peak_at(&out[0]), 5_000 + latency, "measured latency ≠ the {latency} samples reported after the restart");
    });
}

/// What a host lists: every knob of the table under the id derived from its name (ids a
/// saved project and recorded automation rely on), automatable, with its default.
#[test]
fn the_host_lists_every_knob_under_its_stable_id() {
    in_child("the_host_lists_every_knob_under_its_stable_id", || {
        let mut plugin = Plugin::load(&plugin_library());
        let listing = plugin.params();
        for knob in gddsp_core::KNOBS.iter() {
            let p = listing.iter().find(|p| p.id == id(knob.name)).unwrap_or_else(|| panic!("{} is not listed under its id", knob.name));
            assert!(p.automatable, "{} cannot be automated", knob.name);
            let default = plugin.clap_value(p.id, knob.default as f64);
            assert!((p.default - default).abs() < 1e-6, "{}: default {} ≠ the table's {} ({default})", knob.name, p.default, knob.default);
        }
        for extra in ["mode", "input", "dry_wet", "output_gain_db", "tone.pitch_shift_st", "tone.loudness_shift_db", "tone.confidence_gate", "tone.autotune", "tone.harmonics_gain_db", "tone.noise_gain_db", "tone.auto_adjust"] {
            assert!(listing.iter().any(|p| p.id == id(extra)), "{extra} is not listed");
        }
        assert_eq!(listing.len(), gddsp_core::KNOBS.len() + 11, "unexpected parameters: {listing:?}");
    });
}

/// The port configurations a host offers: plain stereo first (the default, so a host that
/// ignores aux inputs never meets one), the hex pickup's aux input on request.
#[test]
fn stereo_is_the_default_port_layout_and_the_hex_pickup_is_offered() {
    in_child("stereo_is_the_default_port_layout_and_the_hex_pickup_is_offered", || {
        let mut plugin = Plugin::load(&plugin_library());
        let configs = plugin.port_configs();
        assert_eq!(configs, ["Stereo", "Stereo + hex pickup", "Mono"], "port configurations in order");
    });
}

#[test]
fn state_round_trips_parameters_and_the_analysed_reference() {
    in_child("state_round_trips_parameters_and_the_analysed_reference", || {
        let mut a = Plugin::load(&plugin_library());
        let set = values(&mut a, &[("distortion.drive_db", 31.5), ("delay.time_ms", 250.0), ("reverb.damping", 0.3), ("mode", MODE_TONE), ("input", INPUT_HEX), ("tone.pitch_shift_st", -5.0), ("output_gain_db", -3.0)]);
        a.flush(&set);
        // nice-plug's state: the JSON's length (u64, little-endian), then the JSON.
        let saved = a.save_state();
        let json_of = |bytes: &[u8]| -> serde_json::Value {
            assert!(bytes.len() > 8, "a state of {} bytes", bytes.len());
            assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize, bytes.len() - 8, "the state's length prefix");
            serde_json::from_slice(&bytes[8..]).expect("the state is JSON")
        };
        // Put an analysed reference in the state, as the editor leaves it after an analysis.
        let mut json = json_of(&saved);
        let reference = serde_json::json!({"file": "lead.wav", "z": [0.5, -0.25, 1.0], "knobs": {"distortion.drive_db": 31.5}});
        json["fields"]["reference"] = serde_json::Value::String(reference.to_string());
        let body = serde_json::to_vec(&json).unwrap();
        let mut with_reference = (body.len() as u64).to_le_bytes().to_vec();
        with_reference.extend(body);

        let mut b = Plugin::load(&plugin_library());
        assert!(b.load_state(&with_reference), "the plugin refused its own state");
        for (param, value) in set {
            let got = b.value(param).expect("a known parameter");
            assert!((got - value).abs() < 1e-6, "parameter {param}: saved {value}, restored {got}");
        }
        let again = json_of(&b.save_state());
        let restored: serde_json::Value = serde_json::from_str(again["fields"]["reference"].as_str().expect("the reference survived")).unwrap();
        assert_eq!(restored, reference, "the reference (file, z, knobs) changed in the round trip");
        // Restored without the file and without analysis: the knobs it carries are the
        // saved ones, and saving again gives the same parameters.
        assert_eq!(again["params"], json["params"], "saving the restored state changed its parameters");

        // A corrupt state is refused or loads defaults; either way nothing crashes and the
        // plugin still processes.
        let mut c = Plugin::load(&plugin_library());
        let _ = c.load_state(b"{\"params\": 17, \"fields\": [");
        c.activate(48_000.0, 128);
        let x = guitar_like(48_000.0, 4800);
        let out = c.render([&x, &x], None, &[], 128, None);
        assert_finite(&out, "after a corrupt state");
    });
}

/// Automation: output gain and the delay's mix moved by events inside blocks.
#[test]
fn automation_events_act_where_they_are_sent() {
    in_child("automation_events_act_where_they_are_sent", || {
        let rate = 48_000.0;
        let block = 1000;
        let mut plugin = Plugin::load(&plugin_library());
        set(&mut plugin, &[("delay.time_ms", 100.0), ("delay.feedback", 0.0), ("delay.mix", 0.0)]);
        plugin.activate(rate, block);
        let len = 48_000;
        // Clicks at 0.1 s and 0.5 s; the delay's mix goes up at 0.3 s (mid-block).
        let mut x = vec![0.0f32; len];
        x[4_800] = 0.5;
        x[24_000] = 0.5;
        let half = plugin.clap_value(id("delay.mix"), 0.5);
        let events = [Event::Param { at: 14_500, id: id("delay.mix"), value: half }];
        let out = plugin.render([&x, &x], None, &events, block, None);
        assert!((plugin.value(id("delay.mix")).unwrap() - half).abs() < 1e-9, "the automated value did not stick");
        let echo_before = out[0][4_800 + 4_700..4_800 + 4_900].iter().fold(0f32, |m, v| m.max(v.abs()));
        let echo_after = out[0][24_000 + 4_700..24_000 + 4_900].iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(echo_before < 1e-4, "the echo of the click before the automation sounded ({echo_before})");
        assert!(echo_after > 0.05, "the echo of the click after the automation is missing ({echo_after})");

        // Output gain −20 dB at sample 10 500 of a steady tone: the level after the 20 ms
        // smoothing is a tenth, the level before untouched.
        let mut p = Plugin::load(&plugin_library());
        p.activate(rate, block);
        let tone: Vec<f32> = (0..len).map(|i| 0.5 * (std::f32::consts::TAU * 440.0 * i as f32 / 48_000.0).sin()).collect();
        let minus_20 = p.clap_value(id("output_gain_db"), -20.0);
        let out = p.render([&tone, &tone], None, &[Event::Param { at: 10_500, id: id("output_gain_db"), value: minus_20 }], block, None);
        let before = rms(&out[0][..10_000]) / rms(&tone[..10_000]);
        let after = rms(&out[0][20_000..]) / rms(&tone[20_000..]);
        assert!((before - 1.0).abs() < 1e-3, "level before the automation moved: ×{before}");
        assert!((after - 0.1).abs() < 0.002, "−20 dB gave ×{after}");
    });
}
