//! The corpus generator, end to end on the plucked-string model (what CI has): sizes,
//! splits, bit-exact reproducibility, wet = `gddsp fx --mix` of the clean side, and the
//! pitch tracker against the note truth.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gddsp_core::audio_io;
use gddsp_train::data::check;
use gddsp_train::data::corpus::{generate, CorpusConfig, Manifest};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gddsp-corpus-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config(out: PathBuf, seconds: f64, seed: u64) -> CorpusConfig {
    let mut cfg = CorpusConfig::new(out, seconds / 3600.0, seed);
    cfg.pluck = true;
    cfg.clip_seconds = 4.0;
    cfg.group_size = 2;
    cfg
}

/// Every file under `dir`, relative path → bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_same_seed_gives_the_same_corpus_bit_for_bit_whatever_the_threads() {
    let (a, b, c) = (tmp("seed-a"), tmp("seed-b"), tmp("seed-c"));
    let mut cfg = config(a.clone(), 24.0, 11);
    cfg.threads = 2;
    generate(&cfg, &mut |_| {}).unwrap();
    let mut cfg = config(b.clone(), 24.0, 11);
    cfg.threads = 1;
    generate(&cfg, &mut |_| {}).unwrap();
    generate(&config(c.clone(), 24.0, 12), &mut |_| {}).unwrap();
    let (sa, sb, sc) = (snapshot(&a), snapshot(&b), snapshot(&c));
    assert_eq!(sa.len(), 1 + 6 * 5, "manifest + 5 files per clip for 6 clips");
    assert!(sa == sb, "two runs with seed 11 differ");
    let wav = |s: &[(PathBuf, Vec<u8>)]| s.iter().find(|(p, _)| p.ends_with("g00000_c0_clean.wav")).unwrap().1.clone();
    assert_ne!(wav(&sa), wav(&sc), "seeds 11 and 12 gave the same clip");
    // A second run into a finished corpus is refused, not mixed in.
    let err = generate(&config(a.clone(), 24.0, 11), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("already holds a corpus"), "{err}");
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn manifest_splits_hold_out_a_guitar_and_material_and_files_pair_up() {
    let out = tmp("manifest");
    let m = generate(&config(out.clone(), 80.0, 3), &mut |_| {}).unwrap();
    assert_eq!(m, Manifest::read(&out).unwrap());
    assert_eq!(m.clips.len(), 20);
    assert!(m.seconds >= 80.0 && (m.seconds - m.clips.iter().map(|c| c.seconds).sum::<f64>()).abs() < 1e-9);
    let guitars = |split: &str| -> BTreeSet<String> { m.clips.iter().filter(|c| c.split == split).map(|c| c.guitar.clone()).collect() };
    let (train, test) = (guitars("train"), guitars("test"));
    assert!(!train.is_empty() && !test.is_empty() && !guitars("valid").is_empty());
    assert!(train.is_disjoint(&test), "test guitar {test:?} also in train {train:?}");
    let train_material: BTreeSet<&str> = m.clips.iter().filter(|c| c.split == "train").map(|c| c.material.as_str()).collect();
    assert!(m.clips.iter().filter(|c| c.split == "test").all(|c| !train_material.contains(c.material.as_str())));
    assert_eq!(m.material_overlap, 0);
    // Groups share guitar, tuning and knobs; every clip has its five files.
    for pair in m.clips.chunks(2) {
        assert_eq!((pair[0].group, &pair[0].guitar, pair[0].tuning), (pair[1].group, &pair[1].guitar, pair[1].tuning));
        let dir = out.join(&pair[0].split);
        let fx = |c: &str| std::fs::read_to_string(dir.join(format!("{c}_fx.json"))).unwrap();
        assert_eq!(fx(&pair[0].name), fx(&pair[1].name));
        assert_ne!(pair[0].material, pair[1].material);
        for c in pair {
            for suffix in ["clean.wav", "wet.wav", "fx.json", "notes.json", "features.bin"] {
                assert!(dir.join(format!("{}_{suffix}", c.name)).exists(), "{} lacks {suffix}", c.name);
            }
            let clean = audio_io::load(&dir.join(format!("{}_clean.wav", c.name))).unwrap();
            assert_eq!((clean.channels.len(), clean.sample_rate, clean.len()), (6, 16_000, 64_000));
            let peak = clean.mix_down().iter().fold(0f32, |p, x| p.max(x.abs()));
            assert!((20.0 * (peak as f64).log10() - c.peak_db).abs() < 0.01, "{}: peak {peak}", c.name);
        }
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn each_wet_file_is_gddsp_fx_of_its_clean_mix_and_pitch_follows_the_truth() {
    let out = tmp("wet");
    let m = generate(&config(out.clone(), 120.0, 5), &mut |_| {}).unwrap();
    for c in m.clips.iter().filter(|c| c.fx_on.distortion || c.fx_on.delay || c.fx_on.reverb).take(3) {
        let dir = out.join(&c.split);
        let file = |s: &str| dir.join(format!("{}_{s}", c.name));
        let cli_out = out.join(format!("{}_cli.wav", c.name));
        let args: Vec<std::ffi::OsString> = vec!["gddsp".into(), "fx".into(), file("clean.wav").into(), cli_out.clone().into(), "--knobs".into(), file("fx.json").into(), "--mix".into()];
        gddsp_cli::run(args, &mut Vec::new()).unwrap();
        let (ours, cli) = (audio_io::load(&file("wet.wav")).unwrap(), audio_io::load(&cli_out).unwrap());
        assert_eq!(cli.channels.len(), 1);
        let err = ours.channels[0].iter().zip(&cli.channels[0]).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err <= 1e-5, "{}: wet differs from gddsp fx by {err}", c.name);
        // …and the effect really is there.
        let clean_mix = audio_io::load(&file("clean.wav")).unwrap().mix_down();
        let diff = clean_mix.iter().zip(&ours.channels[0]).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff > 1e-3, "{}: wet equals the dry mix", c.name);
    }
    let report = check::check(&out, false, false).unwrap();
    assert_eq!(report.clips, 30);
    assert!(report.max_wet_error <= 1e-5, "{}", report.max_wet_error);
    let mut all = check::PitchAgreement::default();
    for (guitar, p) in &report.pitch {
        eprintln!("{guitar}: voiced {:.4} single-note {:.4}", p.voiced_rate(), p.single_note_rate());
        all.add(p);
    }
    assert!(all.voiced_rate() >= 0.95, "per-string f0 within 20 cents on {:.3} of voiced frames", all.voiced_rate());
    std::fs::remove_dir_all(out).unwrap();
}
