//! The loaders on good and bad data: clean/wet pair folders, GuitarSet's own layout (a
//! tiny fixture written here in exactly that layout), and every kind of bad file naming
//! the file and the problem, or being skipped and counted under `skip_bad`.

use std::path::{Path, PathBuf};

use gddsp_core::audio_io::{write_wav, Audio};
use gddsp_train::data::check::pitch_agreement;
use gddsp_train::data::guitarset::{load_guitarset, read_jams};
use gddsp_train::data::notes::{midi_to_hz, Note};
use gddsp_train::data::pairs::load_pairs;
use gddsp_train::data::pluck::{Pluck, PluckParams};
use gddsp_train::data::{DataError, LoadOptions};
use gddsp_core::ModelSpec;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gddsp-loaders-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tone(rate: u32, hz: f32, secs: f32, amp: f32) -> Vec<f32> {
    (0..(rate as f32 * secs) as usize).map(|n| amp * (std::f32::consts::TAU * hz * n as f32 / rate as f32).sin()).collect()
}

fn hex(rate: u32, secs: f32) -> Audio {
    Audio::new(rate, (0..6).map(|s| tone(rate, 82.4 * (s as f32 + 1.0), secs, 0.1)).collect())
}

fn write_pair(dir: &Path, name: &str, clean: &Audio, wet: &Audio) {
    write_wav(&dir.join(format!("{name}_clean.wav")), clean).unwrap();
    write_wav(&dir.join(format!("{name}_wet.wav")), wet).unwrap();
}

fn opts(skip_bad: bool) -> LoadOptions {
    LoadOptions { skip_bad, ..LoadOptions::default() }
}

#[test]
fn a_pair_folder_loads_hex_and_mono_clean_sides_with_sidecars() {
    let dir = tmp("good");
    let wet = Audio::new(16_000, vec![tone(16_000, 220.0, 1.0, 0.3)]);
    write_pair(&dir, "hex", &hex(16_000, 1.0), &wet);
    write_pair(&dir, "mono", &Audio::new(16_000, vec![tone(16_000, 220.0, 1.0, 0.3)]), &wet);
    std::fs::write(dir.join("hex_fx.json"), r#"{"delay.mix": 0.5, "delay.time_ms": 120}"#).unwrap();
    let loaded = load_pairs(&dir, &opts(false)).unwrap();
    assert_eq!(loaded.examples.len(), 2);
    assert!(loaded.notices.is_empty() && loaded.skipped.is_empty());
    let hex = &loaded.examples[0];
    assert_eq!((hex.name.as_str(), hex.clean.len(), hex.features.len()), ("hex", 6, 6));
    assert_eq!(hex.knobs.unwrap().get(gddsp_core::Knob::DelayTimeMs), 120.0);
    assert_eq!(hex.features[0].f0_hz.len(), 250);
    // String 2 plays 247.2 Hz: the tracker in its string's range finds it.
    let mid = hex.features[2].f0_hz[125];
    assert!((mid - 247.2).abs() < 1.0, "{mid}");
    assert!(dir.join("hex_features.bin").exists(), "features are cached next to the audio");
    let mono = &loaded.examples[1];
    assert_eq!((mono.clean.len(), mono.knobs.is_none()), (1, true));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_bad_pair_names_its_file_and_problem_and_skip_bad_counts_them() {
    let dir = tmp("bad");
    let wet = Audio::new(16_000, vec![tone(16_000, 220.0, 1.0, 0.3)]);
    write_pair(&dir, "a_good", &hex(16_000, 1.0), &wet);
    write_wav(&dir.join("b_alone_clean.wav"), &hex(16_000, 1.0)).unwrap();
    write_pair(&dir, "c_short", &hex(16_000, 1.0), &Audio::new(16_000, vec![tone(16_000, 220.0, 0.9, 0.3)]));
    write_pair(&dir, "d_rates", &hex(16_000, 1.0), &Audio::new(22_050, vec![tone(22_050, 220.0, 1.0, 0.3)]));
    write_pair(&dir, "e_stereo", &Audio::new(16_000, vec![tone(16_000, 220.0, 1.0, 0.3); 2]), &wet);
    write_pair(&dir, "f_wetstereo", &hex(16_000, 1.0), &Audio::new(16_000, vec![tone(16_000, 220.0, 1.0, 0.3); 2]));
    write_pair(&dir, "g_silent", &Audio::new(16_000, vec![vec![0.0; 16_000]; 6]), &wet);
    let mut nan = hex(16_000, 1.0);
    nan.channels[3][500] = f32::NAN;
    write_pair(&dir, "h_nan", &nan, &wet);
    write_pair(&dir, "i_corrupt", &hex(16_000, 1.0), &wet);
    std::fs::write(dir.join("i_corrupt_clean.wav"), b"RIFF\x10\x00\x00\x00WAVEjunkjunk").unwrap();
    write_pair(&dir, "j_badfx", &hex(16_000, 1.0), &wet);
    std::fs::write(dir.join("j_badfx_fx.json"), r#"{"delay.mix": 7}"#).unwrap();
    write_pair(&dir, "k_badnotes", &hex(16_000, 1.0), &wet);
    std::fs::write(dir.join("k_badnotes_notes.json"), "[1, 2").unwrap();

    // Without --skip-bad the first bad file stops the load, and says which and why.
    let first = load_pairs(&dir, &opts(false)).unwrap_err().to_string();
    assert!(first.contains("b_alone_clean.wav") && first.contains("b_alone_wet.wav"), "{first}");

    let loaded = load_pairs(&dir, &opts(true)).unwrap();
    assert_eq!(loaded.examples.len(), 1);
    assert_eq!(loaded.examples[0].name, "a_good");
    let messages: Vec<String> = loaded.skipped.iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), 10, "{messages:#?}");
    let expect = [
        ("b_alone_clean.wav", "no partner"),
        ("c_short_wet.wav", "differ in length"),
        ("d_rates_wet.wav", "differ in sample rate"),
        ("e_stereo_clean.wav", "2 channels"),
        ("f_wetstereo_wet.wav", "must be mono"),
        ("g_silent_clean.wav", "silent"),
        ("h_nan_clean.wav", "not a number"),
        ("i_corrupt_clean.wav", "wav"),
        ("j_badfx_fx.json", "delay.mix"),
        ("k_badnotes_notes.json", "note-truth"),
    ];
    for ((file, problem), msg) in expect.iter().zip(&messages) {
        assert!(msg.contains(file) && msg.to_lowercase().contains(&problem.to_lowercase()), "expected {file} / {problem}, got: {msg}");
    }
    assert!(matches!(loaded.skipped[1], DataError::Length { clean_len: 16_000, wet_len: 14_400, .. }));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_empty_folder_is_an_error_not_an_empty_dataset() {
    let dir = tmp("empty");
    let err = load_pairs(&dir, &opts(true)).unwrap_err().to_string();
    assert!(err.contains("no training examples") && err.contains("NAME_clean.wav"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Notes of the fixture: (string, start, end, midi).
const FIXTURE_NOTES: [(usize, f64, f64, u8); 7] = [(0, 0.1, 1.2, 40), (1, 0.3, 1.4, 47), (2, 0.5, 1.0, 52), (2, 1.05, 1.8, 55), (3, 0.2, 1.7, 59), (4, 0.6, 1.9, 63), (5, 0.4, 1.6, 71)];

/// Writes a two-second GuitarSet take in GuitarSet's own layout: a 44.1 kHz 16-bit hex
/// WAV of plucked strings, and a JAMS file with per-string `note_midi` and `pitch_contour`
/// annotations (`data_source` "0"–"5"). `columns` uses JAMS's older column layout.
fn write_guitarset(root: &Path, id: &str, columns: bool) {
    let rate = 44_100u32;
    let len = 2 * rate as usize;
    let mut strings = vec![vec![0f32; len]; 6];
    for (k, &(s, start, end, midi)) in FIXTURE_NOTES.iter().enumerate() {
        let note = Note { start, end, fret: 0, midi, velocity: 100, muted: false, bend: vec![] };
        let n0 = (start * rate as f64) as usize;
        let n1 = (end * rate as f64) as usize;
        let params = PluckParams { decay_s: 4.0, darkness: 0.1, pick: 0.15, brightness: 0.7, pickup: None };
        Pluck::new(params, rate, k as u64).render_note(&note, &mut strings[s][n0..n1]);
    }
    let audio_dir = root.join("audio_hex-pickup_debleeded");
    std::fs::create_dir_all(&audio_dir).unwrap();
    std::fs::create_dir_all(root.join("annotation")).unwrap();
    let spec = hound::WavSpec { channels: 6, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(audio_dir.join(format!("{id}_hex_cln.wav")), spec).unwrap();
    for n in 0..len {
        for s in &strings {
            w.write_sample((s[n].clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();

    let mut annotations = Vec::new();
    for s in 0..6 {
        let notes: Vec<_> = FIXTURE_NOTES.iter().filter(|n| n.0 == s).collect();
        let contour: Vec<(f64, f64)> = notes.iter().flat_map(|&&(_, a, b, m)| (0..((b - a) / 0.0058) as usize).map(move |i| (a + i as f64 * 0.0058, midi_to_hz(m as f64 + 0.1)))).collect();
        let (note_data, contour_data) = if columns {
            (
                serde_json::json!({"time": notes.iter().map(|n| n.1).collect::<Vec<_>>(), "duration": notes.iter().map(|n| n.2 - n.1).collect::<Vec<_>>(), "value": notes.iter().map(|n| n.3 as f64 + 0.1).collect::<Vec<_>>(), "confidence": notes.iter().map(|_| serde_json::Value::Null).collect::<Vec<_>>()}),
                serde_json::json!({"time": contour.iter().map(|c| c.0).collect::<Vec<_>>(), "duration": contour.iter().map(|_| 0.0).collect::<Vec<_>>(), "value": contour.iter().map(|c| serde_json::json!({"index": 0, "frequency": c.1, "voiced": true})).collect::<Vec<_>>(), "confidence": contour.iter().map(|_| serde_json::Value::Null).collect::<Vec<_>>()}),
            )
        } else {
            (
                serde_json::Value::Array(notes.iter().map(|n| serde_json::json!({"time": n.1, "duration": n.2 - n.1, "value": n.3 as f64 + 0.1, "confidence": null})).collect()),
                serde_json::Value::Array(contour.iter().map(|c| serde_json::json!({"time": c.0, "duration": 0.0, "value": {"index": 0, "frequency": c.1, "voiced": true}, "confidence": null})).collect()),
            )
        };
        let meta = serde_json::json!({"data_source": s.to_string(), "annotator": {}, "version": "", "corpus": "", "curator": {"name": "", "email": ""}, "annotation_tools": "", "annotation_rules": "", "validation": ""});
        annotations.push(serde_json::json!({"namespace": "pitch_contour", "annotation_metadata": meta, "data": contour_data, "sandbox": {}, "time": 0, "duration": 2.0}));
        annotations.push(serde_json::json!({"namespace": "note_midi", "annotation_metadata": meta, "data": note_data, "sandbox": {}, "time": 0, "duration": 2.0}));
    }
    annotations.push(serde_json::json!({"namespace": "chord", "annotation_metadata": {"data_source": "performer"}, "data": [], "sandbox": {}}));
    let jams = serde_json::json!({"annotations": annotations, "file_metadata": {"title": id, "duration": 2.0, "jams_version": "0.3.1"}, "sandbox": {}});
    std::fs::write(root.join("annotation").join(format!("{id}.jams")), serde_json::to_string(&jams).unwrap()).unwrap();
}

#[test]
fn guitarset_layout_loads_unchanged_in_both_jams_data_forms() {
    let root = tmp("guitarset");
    write_guitarset(&root, "00_BN1-129-Eb_comp", false);
    write_guitarset(&root, "05_Jazz3-150-C_solo", true);
    let loaded = load_guitarset(&root, &LoadOptions { progress: false, ..LoadOptions::default() }).unwrap();
    assert_eq!(loaded.examples.len(), 2);
    // The 44.1 kHz audio is resampled to the model rate, and the loader says so.
    assert_eq!(loaded.notices.len(), 2);
    assert!(loaded.notices[0].contains("resampled from 44100 Hz to 16000 Hz"), "{}", loaded.notices[0]);
    let spec = ModelSpec::default();
    for ex in &loaded.examples {
        assert_eq!((ex.sample_rate, ex.clean.len(), ex.wet.is_none()), (16_000, 6, true));
        assert_eq!(ex.clean[0].len(), 32_000);
        let truth = ex.notes.as_ref().unwrap();
        assert_eq!(truth.note_count(), FIXTURE_NOTES.len());
        let n = &truth.strings[2][1];
        assert_eq!((n.midi, n.start, n.end), (55, 1.05, 1.8));
        // note_midi 55.1 and a contour at 55.1: 10 cents sharp of the nearest note.
        assert!((n.pitch_at(1.3) - 55.1).abs() < 1e-6, "{}", n.pitch_at(1.3));
        let a = pitch_agreement(truth, &ex.features, &spec);
        assert!(a.voiced_frames > 1500 && a.single_note_rate() >= 0.95, "{}: {a:?}", ex.name);
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn guitarset_problems_name_the_file() {
    let root = tmp("guitarset-bad");
    write_guitarset(&root, "01_ok", false);
    write_guitarset(&root, "02_badjams", false);
    std::fs::write(root.join("annotation/02_badjams.jams"), r#"{"annotations": [{"namespace": "note_midi", "annotation_metadata": {"data_source": "9"}, "data": []}]}"#).unwrap();
    write_guitarset(&root, "03_nojams", false);
    std::fs::remove_file(root.join("annotation/03_nojams.jams")).unwrap();
    write_guitarset(&root, "04_notjson", false);
    std::fs::write(root.join("annotation/04_notjson.jams"), "<xml/>").unwrap();
    let err = load_guitarset(&root, &LoadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("02_badjams.jams") && err.contains("data_source"), "{err}");
    let loaded = load_guitarset(&root, &LoadOptions { skip_bad: true, ..LoadOptions::default() }).unwrap();
    assert_eq!(loaded.examples.len(), 1);
    let msgs: Vec<String> = loaded.skipped.iter().map(|e| e.to_string()).collect();
    assert!(msgs[1].contains("03_nojams_hex_cln.wav") && msgs[1].contains("annotation/03_nojams.jams"), "{msgs:?}");
    assert!(msgs[2].contains("04_notjson.jams") && msgs[2].contains("not JSON"), "{msgs:?}");
    assert!(read_jams(&root.join("annotation/none.jams")).is_err());
    let err = load_guitarset(&root.join("annotation"), &LoadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("not a GuitarSet folder"), "{err}");
    std::fs::remove_dir_all(root).unwrap();
}
