//! The plugin's real-time cost through its real entry point: a CLAP host
//! (`gddsp_e2e::clap_host`) loads the optimised `libgddsp_plugin.so` and runs it at 48 kHz
//! stereo in blocks of 128 samples.
//!
//! * FX clone: blocks as fast as they go; × real time = audio seconds / the audio
//!   thread's CPU seconds.
//! * Tone clone (mono guitar, hex pickup, MIDI): blocks handed over at the pace of real
//!   time, as a host's audio callback does, so the decoder thread (tract) decodes every
//!   frame; × real time = audio seconds / the CPU seconds of the whole process (audio
//!   thread + decoder thread + the host's own copying, which is negligible). The audio
//!   thread's share is printed too.
//!
//! `cargo bench -p gddsp-e2e --bench plugin [-- SECONDS] [fx|mono|hex|midi]` (default
//! 10 s per case, every case; naming cases runs only those, e.g. under `perf`).

use std::time::Instant;

use gddsp_e2e::clap_host::{param_id, plugin_library, Event, Plugin};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 128;

fn cpu_seconds(clock: libc::clockid_t) -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut t) };
    assert_eq!(rc, 0, "clock_gettime failed");
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Decaying strums of a few partials (as `gddsp bench` uses).
fn guitarish(len: usize, fundamentals: &[f32]) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let t = n as f32 / RATE as f32;
            let env = (-(t % 0.5) * 6.0).exp() * 0.3;
            fundamentals.iter().map(|f| (std::f32::consts::TAU * f * t).sin()).sum::<f32>() * env
        })
        .collect()
}

/// CPU time of this process's thread named `name` so far, ns (`/proc/self/task/*/schedstat`
/// counts in ns; `None` where there is no such thread or no procfs).
fn thread_cpu_ns(name: &str) -> Option<u64> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    tasks.flatten().find_map(|t| {
        let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
        if comm.trim() != name {
            return None;
        }
        std::fs::read_to_string(t.path().join("schedstat")).ok()?.split_whitespace().next()?.parse().ok()
    })
}

/// Control frames per second (the model's 16 kHz / hop 64).
const FRAME_RATE: f64 = 250.0;

struct Figures {
    process_factor: f64,
    audio_thread_factor: f64,
    wall_factor: f64,
}

fn run(name: &str, seconds: f64, flush: &[(&str, f64)], input: &[Vec<f32>; 2], hex: Option<&[Vec<f32>]>, events: &[Event], paced: bool) -> Figures {
    let mut plugin = Plugin::load(&plugin_library());
    let values: Vec<(u32, f64)> = flush.iter().map(|(n, v)| (param_id(n), *v)).collect();
    plugin.flush(&values);
    if hex.is_some() {
        plugin.use_hex_pickup();
    }
    plugin.activate(RATE, BLOCK);
    // Warm-up: the decoder thread starts, the reverb's impulse response is built.
    let warm = (0.5 * RATE) as usize;
    plugin.render([&input[0][..warm], &input[1][..warm]], hex.map(|h| h.iter().map(|c| c[..warm].to_vec()).collect::<Vec<_>>()).as_deref(), &[], BLOCK, paced.then_some(RATE));
    let process_0 = cpu_seconds(libc::CLOCK_PROCESS_CPUTIME_ID);
    let thread_0 = cpu_seconds(libc::CLOCK_THREAD_CPUTIME_ID);
    let decoder_0 = thread_cpu_ns("gddsp-decoder");
    let wall_0 = Instant::now();
    let out = plugin.render([&input[0], &input[1]], hex, events, BLOCK, paced.then_some(RATE));
    let wall = wall_0.elapsed().as_secs_f64();
    let thread = cpu_seconds(libc::CLOCK_THREAD_CPUTIME_ID) - thread_0;
    let process = cpu_seconds(libc::CLOCK_PROCESS_CPUTIME_ID) - process_0;
    let decoder = decoder_0.zip(thread_cpu_ns("gddsp-decoder")).map(|(a, b)| (b - a) as f64 * 1e-9);
    let sounding = (out[0].iter().map(|v| v * v).sum::<f32>() / out[0].len() as f32).sqrt();
    assert!(out.iter().flatten().all(|v| v.is_finite()), "{name}: non-finite output");
    let f = Figures { process_factor: seconds / process, audio_thread_factor: seconds / thread, wall_factor: seconds / wall };
    println!("{name:<40} {:>8.1} × real time (all threads)   audio thread {:>8.1} ×   output RMS {sounding:.3}", f.process_factor, f.audio_thread_factor);
    if let Some(d) = decoder {
        println!("{:<40} decoder thread {:.1} % of a core, {:.0} µs per control frame", "", 100.0 * d / seconds, 1e6 * d / (seconds * FRAME_RATE));
    }
    f
}

fn main() {
    // `cargo bench` passes `--bench`; a number is the seconds per case.
    let seconds: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10.0);
    let named: Vec<String> = std::env::args().skip(1).filter(|a| ["fx", "mono", "hex", "midi"].contains(&a.as_str())).collect();
    let wanted = |case: &str| named.is_empty() || named.iter().any(|n| n == case);
    let skipped = || Figures { process_factor: f64::NAN, audio_thread_factor: f64::NAN, wall_factor: 1.0 };
    let len = (seconds * RATE) as usize;
    println!("GDDSP through its CLAP entry point: {RATE} Hz stereo, blocks of {BLOCK}, {seconds} s per case, {}", plugin_library().display());

    let strum = guitarish(len, &[110.0, 164.8, 220.0, 277.2]);
    let stereo = [strum.clone(), strum.clone()];
    let every_effect: [(&str, f64); 7] = [
        ("distortion.drive_db", 20.0),
        ("distortion.mix", 0.6),
        ("delay.time_ms", 350.0),
        ("delay.feedback", 0.4),
        ("delay.mix", 0.3),
        ("reverb.decay_s", 2.0),
        ("reverb.mix", 0.3),
    ];
    let fx = if wanted("fx") { run("FX clone (every effect on, 2 s reverb)", seconds, &every_effect, &stereo, None, &[], false) } else { skipped() };

    let tone = |input: f64| -> Vec<(&'static str, f64)> {
        let mut v = every_effect.to_vec();
        v.push(("mode", 1.0));
        v.push(("input", input));
        v
    };
    let mono = if wanted("mono") { run("tone clone, mono guitar (poly tracker)", seconds, &tone(0.0), &stereo, None, &[], true) } else { skipped() };

    let silent = vec![0.0f32; len];
    let hex: Vec<Vec<f32>> = [82.41f32, 110.0, 146.83, 196.0, 246.94, 329.63].iter().map(|&f| guitarish(len, &[f])).collect();
    let hex_figures = if wanted("hex") { run("tone clone, hex pickup (6 trackers)", seconds, &tone(1.0), &[silent.clone(), silent.clone()], Some(&hex), &[], true) } else { skipped() };

    // A chord every half second, strings in turn, each note held 400 ms.
    let mut events = Vec::new();
    let mut t = 0;
    let mut k = 0;
    while t + (0.45 * RATE) as usize <= len {
        let key = [40u16, 45, 50, 55, 59, 64][k % 6];
        events.push(Event::NoteOn { at: t as u32, channel: 0, key, velocity: 0.8 });
        events.push(Event::NoteOff { at: (t + (0.4 * RATE) as usize) as u32, channel: 0, key });
        t += (0.5 * RATE) as usize / 3;
        k += 1;
    }
    let midi = if wanted("midi") { run("tone clone, MIDI (six voices)", seconds, &tone(2.0), &[silent.clone(), silent], None, &events, true) } else { skipped() };

    println!();
    println!("| path (48 kHz, blocks of {BLOCK}) | × real time, all threads | audio thread alone |");
    println!("|---|---|---|");
    println!("| FX clone | {:.0} | {:.0} |", fx.process_factor, fx.audio_thread_factor);
    for (name, f) in [("tone clone, mono guitar", &mono), ("tone clone, hex pickup", &hex_figures), ("tone clone, MIDI", &midi)] {
        println!("| {name} | {:.0} | {:.0} |", f.process_factor, f.audio_thread_factor);
        if f.wall_factor < 0.95 {
            println!("  ({name}: the paced run fell behind real time, ×{:.2} of wall time)", f.wall_factor);
        }
    }
}
