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

/// A minimal SoundFont 2 file: presets `(bank 0, program)` for each of `programs`, all
/// playing one looped 440 Hz sine (A4, 44 kHz, 100 samples a period). CI has no SoundFont
/// package, and the guitars of an extra font only need to be a font's presets.
fn tiny_soundfont(path: &Path, programs: &[u8]) {
    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut c = id.to_vec();
        c.extend((body.len() as u32).to_le_bytes());
        c.extend(body);
        c
    }
    fn list(kind: &[u8; 4], chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut body = kind.to_vec();
        chunks.iter().for_each(|c| body.extend(c));
        chunk(b"LIST", &body)
    }
    fn name(s: &str) -> Vec<u8> {
        let mut n = s.as_bytes().to_vec();
        n.resize(20, 0);
        n
    }
    let u16s = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let (rate, len) = (44_000u32, 44_000u32);
    let mut smpl = Vec::new();
    for i in 0..len {
        let v = ((std::f64::consts::TAU * 440.0 * i as f64 / rate as f64).sin() * 16_000.0).round() as i16;
        smpl.extend(v.to_le_bytes());
    }
    smpl.extend([0u8; 92]); // 46 zero samples after each sample, as the format asks
    let n = programs.len() as u16;
    let mut phdr = Vec::new();
    for (i, &p) in programs.iter().enumerate() {
        phdr.extend(name(&format!("Guitar {p}")));
        phdr.extend(u16s(&[p as u16, 0, i as u16]));
        phdr.extend([0u8; 12]);
    }
    phdr.extend(name("EOP"));
    phdr.extend(u16s(&[0, 0, n]));
    phdr.extend([0u8; 12]);
    // Each preset: one zone whose one generator (41, instrument) points at instrument 0.
    let pbag = u16s(&(0..=n).flat_map(|i| [i, 0]).collect::<Vec<u16>>());
    let pgen = u16s(&(0..n).flat_map(|_| [41, 0]).chain([0, 0]).collect::<Vec<u16>>());
    let mut inst = name("Sine");
    inst.extend(u16s(&[0]));
    inst.extend(name("EOI"));
    inst.extend(u16s(&[1]));
    // The instrument's zone: loop continuously (54 = 1), then the sample (53 = 0).
    let ibag = u16s(&[0, 0, 2, 0]);
    let igen = u16s(&[54, 1, 53, 0, 0, 0]);
    let mut shdr = name("A4");
    shdr.extend([0u32, len, 1_000, len - 1_000].iter().flat_map(|x| x.to_le_bytes()));
    shdr.extend(rate.to_le_bytes());
    shdr.extend([69u8, 0]);
    shdr.extend(u16s(&[0, 1]));
    shdr.extend(name("EOS"));
    shdr.extend([0u8; 26]);
    let info = list(b"INFO", &[chunk(b"ifil", &u16s(&[2, 1])), chunk(b"INAM", b"tiny\0\0")]);
    let sdta = list(b"sdta", &[chunk(b"smpl", &smpl)]);
    let pdta = list(
        b"pdta",
        &[chunk(b"phdr", &phdr), chunk(b"pbag", &pbag), chunk(b"pmod", &[0u8; 10]), chunk(b"pgen", &pgen), chunk(b"inst", &inst), chunk(b"ibag", &ibag), chunk(b"imod", &[0u8; 10]), chunk(b"igen", &igen), chunk(b"shdr", &shdr)],
    );
    let mut body = b"sfbk".to_vec();
    body.extend(info);
    body.extend(sdta);
    body.extend(pdta);
    std::fs::write(path, chunk(b"RIFF", &body)).unwrap();
}

#[test]
fn extra_guitars_join_training_only_and_leave_the_test_split_bit_for_bit() {
    let dir = tmp("extra-fonts");
    std::fs::create_dir_all(&dir).unwrap();
    let (main_font, extra_font) = (dir.join("main.sf2"), dir.join("extra.sf2"));
    // The main font's guitars are GM 24 (training) and 26 (held out, the Jazz slot).
    tiny_soundfont(&main_font, &[24, 26]);
    tiny_soundfont(&extra_font, &[24, 25, 28]);
    let cfg = |out: &str, extra: bool| {
        let mut cfg = CorpusConfig::new(dir.join(out), 160.0 / 3600.0, 5);
        cfg.soundfont = Some(main_font.clone());
        cfg.clip_seconds = 4.0;
        cfg.group_size = 2;
        if extra {
            cfg.extra_soundfonts = vec![extra_font.clone()];
            cfg.pluck_too = true;
        }
        cfg
    };
    let plain = generate(&cfg("plain", false), &mut |_| {}).unwrap();
    let more = generate(&cfg("more", true), &mut |_| {}).unwrap();

    let ids = |m: &Manifest, used: &str| -> BTreeSet<String> { m.guitars.iter().filter(|g| g.used_for == used).map(|g| g.id.clone()).collect() };
    assert_eq!(ids(&plain, "train"), BTreeSet::from(["sf2:0:24".to_string()]));
    let expected: BTreeSet<String> = ["sf2:0:24", "sf2:extra:0:24", "sf2:extra:0:25"].into_iter().map(String::from).chain(["nylon", "steel", "clean", "funk", "muted", "jazz"].map(|n| format!("pluck:{n}"))).collect();
    assert_eq!(ids(&more, "train"), expected, "GM 28 (muted) of an extra font stays out");
    assert_eq!((ids(&plain, "test"), ids(&more, "test")), (BTreeSet::from(["sf2:0:26".to_string()]), BTreeSet::from(["sf2:0:26".to_string()])));
    assert_eq!(more.extra_soundfonts, vec![extra_font.display().to_string()]);
    let used: BTreeSet<&str> = more.clips.iter().filter(|c| c.split != "test").map(|c| c.guitar.as_str()).collect();
    let extra_clip = more.clips.iter().find(|c| c.guitar.starts_with("sf2:extra")).unwrap_or_else(|| panic!("no clip used the extra font: {used:?}"));
    // It sounds: its peak is the level the group asked for (a silent render keeps 0).
    let clean = audio_io::load(&dir.join("more").join(&extra_clip.split).join(format!("{}_clean.wav", extra_clip.name))).unwrap();
    let peak = clean.mix_down().iter().fold(0f32, |p, x| p.max(x.abs()));
    assert!((20.0 * (peak as f64).log10() - extra_clip.peak_db).abs() < 0.01, "{}: peak {peak}", extra_clip.name);

    // The test split, the held-out guitar's, is the same files byte for byte.
    let test_files = |out: &str| snapshot(&dir.join(out).join("test"));
    let (a, b) = (test_files("plain"), test_files("more"));
    assert!(!a.is_empty() && a == b, "the test split changed when training guitars were added");

    // An extra font without guitars is refused by name.
    let mut bad = cfg("bad", true);
    tiny_soundfont(&dir.join("organ.sf2"), &[19]);
    bad.extra_soundfonts = vec![dir.join("organ.sf2")];
    let err = generate(&bad, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("organ.sf2") && err.contains("guitar presets"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
