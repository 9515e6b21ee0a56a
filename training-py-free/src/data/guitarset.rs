//! GuitarSet, in its own layout, unchanged (Xi et al., "GuitarSet: a dataset for guitar
//! transcription", ISMIR 2018):
//!
//! ```text
//! ROOT/audio_hex-pickup_debleeded/<id>_hex_cln.wav   6 channels, 44.1 kHz, channel 0 = low E
//! ROOT/annotation/<id>.jams                          JAMS (JSON) annotations
//! ```
//!
//! Per string, the JAMS file holds a `pitch_contour` annotation and a `note_midi`
//! annotation, told apart by `annotation_metadata.data_source` "0" (low E) … "5". Both
//! JAMS data layouts are read: a list of `{time, duration, value, confidence}`
//! observations, and the older column form `{time: […], duration: […], value: […]}`.
//! A note becomes a [`Note`] at the nearest MIDI number, its contour (or its fractional
//! MIDI value) the bend curve. GuitarSet has no wet side: training makes it with the FX
//! chain.

use std::path::{Path, PathBuf};

use gddsp_core::ModelSpec;
use serde_json::Value;

use super::error::DataError;
use super::features;
use super::notes::{hz_to_midi, Note, NoteTruth, Tuning, STRINGS};
use super::pairs::{read_clean, to_rate};
use super::{progress_bar, Example, LoadOptions, Loaded};

pub const AUDIO_DIR: &str = "audio_hex-pickup_debleeded";
pub const ANNOTATION_DIR: &str = "annotation";
pub const AUDIO_SUFFIX: &str = "_hex_cln.wav";

/// Loads every `<id>_hex_cln.wav` under `root` with its JAMS file.
pub fn load_guitarset(root: &Path, opts: &LoadOptions) -> Result<Loaded, DataError> {
    let audio_dir = root.join(AUDIO_DIR);
    let entries = std::fs::read_dir(&audio_dir).map_err(|e| DataError::io(&audio_dir, format!("not a GuitarSet folder ({e}); expected {AUDIO_DIR}/ and {ANNOTATION_DIR}/ under it")))?;
    let mut ids: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(&audio_dir, e))?.path();
        if let Some(id) = path.file_name().and_then(|f| f.to_str()).and_then(|f| f.strip_suffix(AUDIO_SUFFIX)) {
            ids.push((id.to_string(), path.clone()));
        }
    }
    ids.sort();
    let mut loaded = Loaded::default();
    let bar = progress_bar(ids.len() as u64, opts.progress, "GuitarSet");
    for (id, wav) in &ids {
        let jams = root.join(ANNOTATION_DIR).join(format!("{id}.jams"));
        loaded.take(load_one(id, wav, &jams, opts), opts.skip_bad)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if ids.is_empty() {
        return Err(DataError::Empty { dir: audio_dir, expected: "files named <id>_hex_cln.wav" });
    }
    Ok(loaded)
}

fn load_one(id: &str, wav: &Path, jams: &Path, opts: &LoadOptions) -> Result<(Example, Option<String>), DataError> {
    if !jams.exists() {
        return Err(DataError::Unpaired { path: wav.into(), missing: format!("{ANNOTATION_DIR}/{id}.jams") });
    }
    let clean = read_clean(wav)?;
    if clean.channels.len() != STRINGS {
        return Err(DataError::Channels { path: wav.into(), found: clean.channels.len(), expected: "a GuitarSet hex recording has 6 channels" });
    }
    let notes = read_jams(jams)?;
    let cache = wav.with_file_name(format!("{id}_features.bin"));
    let (feats, _) = features::load_or_compute(&cache, &clean, &ModelSpec::default())?;
    let (clean, notice) = to_rate(clean, opts.sample_rate, wav)?;
    let example = Example { name: id.to_string(), path: wav.into(), sample_rate: clean.sample_rate, clean: clean.channels, wet: None, knobs: None, notes: Some(notes), features: feats };
    Ok((example, notice))
}

/// One JAMS observation.
struct Obs {
    time: f64,
    duration: f64,
    value: Value,
}

fn observations(data: &Value) -> Result<Vec<Obs>, String> {
    let num = |v: &Value, what: &str| v.as_f64().ok_or_else(|| format!("an observation's {what} is not a number"));
    match data {
        Value::Array(items) => items
            .iter()
            .map(|o| Ok(Obs { time: num(&o["time"], "time")?, duration: num(&o["duration"], "duration")?, value: o["value"].clone() }))
            .collect(),
        Value::Object(cols) => {
            let col = |k: &str| cols.get(k).and_then(Value::as_array).ok_or_else(|| format!("the data has no '{k}' column"));
            let (t, d, v) = (col("time")?, col("duration")?, col("value")?);
            if t.len() != d.len() || t.len() != v.len() {
                return Err("the data columns differ in length".into());
            }
            (0..t.len()).map(|i| Ok(Obs { time: num(&t[i], "time")?, duration: num(&d[i], "duration")?, value: v[i].clone() })).collect()
        }
        _ => Err("an annotation's data is neither a list nor columns".into()),
    }
}

/// Reads the per-string notes (and pitch contours, as bends) of a GuitarSet JAMS file.
pub fn read_jams(path: &Path) -> Result<NoteTruth, DataError> {
    let bad = |detail: String| DataError::Jams { path: path.into(), detail };
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let annotations = doc.get("annotations").and_then(Value::as_array).ok_or_else(|| bad("no 'annotations' list".into()))?;
    let mut notes: [Vec<Note>; STRINGS] = Default::default();
    let mut contours: [Vec<(f64, f64)>; STRINGS] = Default::default();
    let mut found = 0;
    for a in annotations {
        let namespace = a.get("namespace").and_then(Value::as_str).unwrap_or("");
        if namespace != "note_midi" && namespace != "pitch_contour" {
            continue;
        }
        let source = &a["annotation_metadata"]["data_source"];
        let s = source
            .as_str()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .or_else(|| source.as_u64().map(|n| n as usize))
            .filter(|&s| s < STRINGS)
            .ok_or_else(|| bad(format!("a {namespace} annotation's data_source is {source}, not a string number 0–5")))?;
        let obs = observations(&a["data"]).map_err(|e| bad(format!("{namespace} of string {s}: {e}")))?;
        found += 1;
        if namespace == "note_midi" {
            for o in obs {
                let pitch = o.value.as_f64().filter(|p| (0.0..128.0).contains(p)).ok_or_else(|| bad(format!("note_midi of string {s}: value {} is not a MIDI pitch", o.value)))?;
                notes[s].push(note(s, o.time, o.time + o.duration, pitch));
            }
        } else {
            for o in obs {
                let hz = o.value.get("frequency").and_then(Value::as_f64).unwrap_or(0.0);
                let voiced = o.value.get("voiced").and_then(Value::as_bool).unwrap_or(hz > 0.0);
                if voiced && hz > 0.0 {
                    contours[s].push((o.time, hz_to_midi(hz)));
                }
            }
        }
    }
    if found == 0 {
        return Err(bad("no note_midi or pitch_contour annotations".into()));
    }
    for (s, string) in notes.iter_mut().enumerate() {
        string.sort_by(|a, b| a.start.total_cmp(&b.start));
        contours[s].sort_by(|a, b| a.0.total_cmp(&b.0));
        for n in string.iter_mut() {
            let pts: Vec<[f64; 2]> = contours[s].iter().filter(|(t, _)| n.sounds_at(*t)).map(|&(t, p)| [t, p - n.midi as f64]).collect();
            if let Some(first) = pts.first() {
                // Hold the first contour value back to the onset (bend is 0 before a curve).
                n.bend = std::iter::once([n.start, first[1]]).chain(pts).collect();
            }
        }
        for i in 1..string.len() {
            let next = string[i].start;
            let prev = &mut string[i - 1];
            prev.end = prev.end.min(next);
        }
    }
    let tuning = Tuning::Standard;
    Ok(NoteTruth { tuning, open_midi: tuning.open_midi(), strings: notes })
}

fn note(s: usize, start: f64, end: f64, pitch: f64) -> Note {
    let midi = pitch.round() as u8;
    let fret = midi.saturating_sub(Tuning::Standard.open_midi()[s]);
    let offset = pitch - midi as f64;
    let bend = if offset.abs() > 1e-6 { vec![[start, offset]] } else { Vec::new() };
    Note { start, end, fret, midi, velocity: 100, muted: false, bend }
}
