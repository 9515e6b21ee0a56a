//! The README's main job — `gddsp fx` on the shipped example — through the CLI library,
//! checked against the core chain run directly, and for the tails a listener expects.

use gddsp_core::audio_io;
use gddsp_core::fx::FxChain;
use gddsp_e2e::example;

#[test]
fn main_job_matches_the_core_chain_and_rings_out() {
    let input = example("riff_clean.wav");
    let knobs_path = example("crunch_slapback_room.json");
    let out = std::env::temp_dir().join(format!("gddsp-e2e-riff-wet-{}.wav", std::process::id()));
    let args = ["gddsp", "fx", input.to_str().unwrap(), out.to_str().unwrap(), "--knobs", knobs_path.to_str().unwrap(), "--tail", "2"];
    gddsp_cli::run(args, &mut Vec::new()).unwrap_or_else(|e| panic!("{e:?}"));

    let dry = audio_io::load(&input).unwrap();
    let wet = audio_io::load(&out).unwrap();
    let tail = 2 * dry.sample_rate as usize;
    assert_eq!(wet.sample_rate, dry.sample_rate);
    assert_eq!(wet.channels.len(), dry.channels.len());
    assert_eq!(wet.len(), dry.len() + tail);

    // The same chain, run in-process, gives the same samples.
    let knobs = gddsp_cli::read_knobs(&knobs_path).unwrap();
    let mut chain = FxChain::new(dry.sample_rate as f32, 1, &knobs);
    let mut direct = dry.channels[0].clone();
    direct.resize(dry.len() + tail, 0.0);
    for block in direct.chunks_mut(512) {
        chain.process_channel(0, block);
    }
    let diff = direct.iter().zip(&wet.channels[0]).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 1e-6, "CLI and core differ by {diff}");

    // Delay and reverb ring on after the riff ends, and die away.
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let sr = dry.sample_rate as usize;
    let end = dry.len();
    let just_after = rms(&wet.channels[0][end..end + sr / 4]);
    let last = rms(&wet.channels[0][end + tail - sr / 4..]);
    assert!(just_after > 1e-3, "no tail after the riff ({just_after})");
    assert!(last < just_after * 0.01, "the tail does not decay ({just_after} → {last})");
    assert!(wet.channels[0].iter().all(|v| v.is_finite() && v.abs() < 4.0));
}
