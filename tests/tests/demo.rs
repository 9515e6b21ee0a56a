//! The README's main job, `gddsp demo`, on the shipped model in `models/`: the shipped
//! reference analysed (its knobs printed next to the true ones), and the shipped riff
//! cloned both ways into finite, audible WAVs with the delay and reverb tails.

use gddsp_core::audio_io;
use gddsp_core::inference::Model;
use gddsp_e2e::{example, repo_root};

#[test]
fn demo_runs_on_the_shipped_model() {
    let models = repo_root().join("models");
    let out_dir = std::env::temp_dir().join(format!("gddsp-e2e-demo-{}", std::process::id()));
    let mut out = Vec::new();
    gddsp_cli::run(["gddsp", "demo", "--model", models.to_str().unwrap(), "--out", out_dir.to_str().unwrap()], &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for name in ["distortion.drive_db", "delay.time_ms", "reverb.mix"] {
        assert!(text.contains(name), "{text}");
    }
    let riff = audio_io::load(&example("riff_clean.wav")).unwrap();
    for name in ["demo_fx_clone.wav", "demo_tone_clone.wav"] {
        let a = audio_io::load(&out_dir.join(name)).unwrap();
        assert_eq!(a.sample_rate, riff.sample_rate);
        assert_eq!(a.len(), riff.len() + 2 * riff.sample_rate as usize, "{name}: the riff plus a 2 s tail");
        let x = &a.channels[0];
        assert!(x.iter().all(|v| v.is_finite()), "{name}: NaN");
        let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        assert!(rms > 1e-3, "{name}: silent (rms {rms})");
    }
    std::fs::remove_dir_all(&out_dir).unwrap();
}

#[test]
fn the_shipped_model_loads_and_says_what_it_saw() {
    let model = Model::load(&repo_root().join("models")).unwrap();
    assert_eq!(model.spec().voices, 6);
    assert!(model.info.training["corpus"].is_object(), "model.json records its corpus");
    assert!(model.info.eval.is_some(), "model.json carries its evaluation");
}
