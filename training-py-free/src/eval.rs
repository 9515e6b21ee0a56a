//! `gddsp-train eval --model models/ --data DIR --split test`: the exported model, run
//! through tract exactly as the product runs it, on held-out clips.
//!
//! * Knobs: per-knob MAE on the normalized scale. A mix always counts; an effect's other
//!   knobs count only where its true mix ≥ 0.2 (below that they are barely audible).
//!   Baseline: the training split's mean position of each knob (over the same rule).
//! * Clean and wet multi-scale spectral distance (DDSP's loss) of the whole clip's
//!   reconstruction: the clip's own pitch/loudness through the decoder with its z, then
//!   the FX chain with its inferred knobs.
//! * Tone clone: clip A's notes re-voiced with the z and knobs inferred from clip B of the
//!   same group (same guitar, same knobs, other notes), against A's true wet render.
//!   Baselines: A's dry input as is, and the one-oscillator model.
//! * Knobs on many settings: the split's 12 knob settings are few, so each clip's clean mix
//!   is also sent through the FX chain with [`RERENDERS`] fresh random settings (the
//!   corpus's distribution, seeded) and analysed: the same MAE over hundreds of settings
//!   on the same held-out guitar, beside the same baseline.
//! * Knobs on many settings with another reverb: the same renders with the reverb's
//!   impulse response drawn from a random seed instead of the one the corpus and the
//!   plugin use ([`gddsp_core::fx::REVERB_SEED`]). The decay, damping and mix are the
//!   same; only the noise differs. A model that reads the corpus's own noise reads well
//!   above and worse here, as it would on a real room.
//! * Knobs on many settings at another level: the same renders (the corpus's reverb)
//!   scaled by a random gain within ±[`LEVEL_SPREAD_DB`]. The corpus feeds the chain at
//!   a peak of −12 to −3 dBFS and keeps the wet render's level, so that level tells how
//!   hard the distortion worked; a clip dragged into a DAW has been through faders. A
//!   model that reads the level reads well above and worse here.
//! * Ablations, when given: the one-oscillator model (`--mono`) and the clean-loss-only
//!   model (`--clean-only`), each exported from its own run.
//!
//! Writes `eval.json`, `eval.md`, `eval_spectrograms.png` and `eval_knobs.png` into the
//! report folder, and the figures into the model's `model.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gddsp_core::analysis::channel_features;
use gddsp_core::audio_io::Audio;
use gddsp_core::fx::FxChain;
use gddsp_core::inference::{Model, ModelInfo, MODEL_JSON};
use gddsp_core::knobs::{Knob, Knobs, KNOB_COUNT};
use gddsp_core::synth::Synth;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Value};

use crate::data::corpus::random_knobs;
use crate::data::pairs::{load_pairs, read_knobs};
use crate::data::{Example, LoadOptions};
use crate::ddsp::spectral_loss::multiscale_spectral_loss;
use crate::ddsp::{device, tensor, values};
use crate::plot::{knob_scatter_png, spectrograms_png, KnobPoints, Panel};
use crate::train::dataset::knob_mask;

/// Random knob settings per clip in the re-rendered knob evaluation.
pub const RERENDERS: usize = 8;

/// The spread of the random gain in the "another level" table, ± dB.
pub const LEVEL_SPREAD_DB: f32 = 12.0;

/// Where a knob of a bypassed effect starts to count.
pub const ACTIVE_MIX: f32 = 0.2;

pub struct EvalOptions {
    pub model: PathBuf,
    pub data: PathBuf,
    pub split: String,
    pub mono: Option<PathBuf>,
    pub clean_only: Option<PathBuf>,
    pub out: PathBuf,
    /// Evaluate at most this many clips (all if `None`).
    pub limit: Option<usize>,
}

/// DDSP's multi-scale spectral distance between two signals (cut to the shorter).
pub fn mss(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let d = device();
    values(multiscale_spectral_loss(tensor(a[..n].to_vec(), [1, n], &d), tensor(b[..n].to_vec(), [1, n], &d)))[0] as f64
}

fn positions(k: &Knobs) -> [f32; KNOB_COUNT] {
    k.normalized().map(|u| u.clamp(0.0, 1.0))
}

fn mix(ex: &Example) -> Vec<f32> {
    (0..ex.clean[0].len()).map(|n| ex.clean.iter().map(|c| c[n]).sum()).collect()
}

/// One model's reconstruction of a clip: CLEAN from `features` with `z`, WET with `knobs`.
fn reconstruct(model: &Model, features: &[gddsp_core::analysis::ChannelFeatures], z: &[f32], knobs: &Knobs) -> Result<(Vec<f32>, Vec<f32>), String> {
    reconstruct_timed(model, features, z, knobs).map(|(c, w, _)| (c, w))
}

/// [`reconstruct`], also returning the decoder's time per control frame (s).
fn reconstruct_timed(model: &Model, features: &[gddsp_core::analysis::ChannelFeatures], z: &[f32], knobs: &Knobs) -> Result<(Vec<f32>, Vec<f32>, f64), String> {
    let spec = model.spec();
    let t0 = std::time::Instant::now();
    let frames = model.decode_features(features, z).map_err(|e| e.to_string())?;
    let per_frame = t0.elapsed().as_secs_f64() / frames.len().max(1) as f64;
    let clean = Synth::render(spec, spec.sample_rate as f32, 1, &frames);
    let mut wet = vec![clean.clone()];
    FxChain::render_offline(spec.sample_rate as f32, knobs, &mut wet);
    Ok((clean, wet.pop().expect("one channel"), per_frame))
}

/// What one model makes of one clip.
struct Heard {
    positions: [f32; KNOB_COUNT],
    z: Vec<f32>,
    knobs: Knobs,
    clean: Vec<f32>,
    wet: Vec<f32>,
    seconds: f64,
    decoder_s_per_frame: f64,
}

fn hear(model: &Model, ex: &Example, clean_mix: &[f32]) -> Result<Heard, String> {
    let spec = model.spec();
    let wet = Audio::new(ex.sample_rate, vec![ex.wet.clone().expect("wet checked")]);
    let a = model.analyze(&wet).map_err(|e| format!("{}: {e}", ex.name))?;
    let features = if spec.voices == 1 { vec![channel_features(clean_mix, spec)] } else { ex.features.clone() };
    let (clean, wet, per_frame) = reconstruct_timed(model, &features, &a.z, &a.knobs)?;
    Ok(Heard { positions: a.positions, z: a.z, knobs: a.knobs, clean, wet, seconds: a.elapsed_s, decoder_s_per_frame: per_frame })
}

/// Per-knob absolute errors under the counting rule.
struct KnobErrors {
    sum: [f64; KNOB_COUNT],
    n: [usize; KNOB_COUNT],
}

impl KnobErrors {
    fn new() -> Self {
        KnobErrors { sum: [0.0; KNOB_COUNT], n: [0; KNOB_COUNT] }
    }
    fn add(&mut self, truth: &[f32; KNOB_COUNT], pred: &[f32; KNOB_COUNT]) {
        let mask = knob_mask(truth, ACTIVE_MIX);
        for i in 0..KNOB_COUNT {
            if mask[i] > 0.0 {
                self.sum[i] += (truth[i] - pred[i]).abs() as f64;
                self.n[i] += 1;
            }
        }
    }
    fn mae(&self, i: usize) -> f64 {
        self.sum[i] / self.n[i].max(1) as f64
    }
}

fn train_mean_positions(data: &Path) -> Result<[f32; KNOB_COUNT], String> {
    let dir = data.join("train");
    let mut sum = [0f64; KNOB_COUNT];
    let mut n = [0usize; KNOB_COUNT];
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e} (the mean baseline needs the training split)", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.to_string_lossy().ends_with("_fx.json") {
            continue;
        }
        if let Some(k) = read_knobs(&path).map_err(|e| e.to_string())? {
            let u = positions(&k);
            let mask = knob_mask(&u, ACTIVE_MIX);
            for i in 0..KNOB_COUNT {
                if mask[i] > 0.0 {
                    sum[i] += u[i] as f64;
                    n[i] += 1;
                }
            }
        }
    }
    if n.iter().all(|&c| c == 0) {
        return Err(format!("{}: no _fx.json knob files for the mean baseline", dir.display()));
    }
    let mut mean = [0f32; KNOB_COUNT];
    for i in 0..KNOB_COUNT {
        mean[i] = (sum[i] / n[i].max(1) as f64) as f32;
    }
    Ok(mean)
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn group_of(name: &str) -> &str {
    name.split('_').next().unwrap_or(name)
}

/// Runs the evaluation; returns the `eval.json` value.
pub fn evaluate(opts: &EvalOptions, log: &mut dyn FnMut(&str)) -> Result<Value, String> {
    let model = Model::load(&opts.model).map_err(|e| e.to_string())?;
    let mono = opts.mono.as_deref().map(Model::load).transpose().map_err(|e| e.to_string())?;
    let clean_only = opts.clean_only.as_deref().map(Model::load).transpose().map_err(|e| e.to_string())?;
    let split_dir = opts.data.join(&opts.split);
    let mut loaded = load_pairs(&split_dir, &LoadOptions { sample_rate: Some(model.spec().sample_rate), ..LoadOptions::default() }).map_err(|e| e.to_string())?;
    loaded.examples.retain(|e| e.wet.is_some() && e.knobs.is_some() && e.is_hexaphonic());
    loaded.examples.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(l) = opts.limit {
        loaded.examples.truncate(l);
    }
    let examples = loaded.examples;
    if examples.is_empty() {
        return Err(format!("{}: no hexaphonic clips with a wet side and knobs", split_dir.display()));
    }
    let baseline = train_mean_positions(&opts.data)?;
    let mut errs = KnobErrors::new();
    let mut errs_base = KnobErrors::new();
    let mut errs_mono = KnobErrors::new();
    let mut errs_co = KnobErrors::new();
    let mut scatter: Vec<Vec<(f32, f32)>> = vec![vec![]; KNOB_COUNT];
    let (mut clean_d, mut wet_d, mut clean_mono, mut wet_mono, mut clean_co, mut wet_co) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut analysis_s = vec![];
    let mut decoder_s = vec![];
    let mut heard: Vec<(Heard, Option<Heard>)> = Vec::new();
    let mut first_plot: Option<(Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, String)> = None;
    for (i, ex) in examples.iter().enumerate() {
        log(&format!("[{}/{}] {}", i + 1, examples.len(), ex.name));
        let truth = positions(ex.knobs.as_ref().expect("knobs checked"));
        let mixed = mix(ex);
        let wet_ref = ex.wet.as_ref().expect("wet checked");
        let h = hear(&model, ex, &mixed)?;
        errs.add(&truth, &h.positions);
        errs_base.add(&truth, &baseline);
        let mask = knob_mask(&truth, ACTIVE_MIX);
        for k in 0..KNOB_COUNT {
            if mask[k] > 0.0 {
                scatter[k].push((truth[k], h.positions[k]));
            }
        }
        clean_d.push(mss(&h.clean, &mixed));
        wet_d.push(mss(&h.wet, wet_ref));
        analysis_s.push(h.seconds);
        decoder_s.push(h.decoder_s_per_frame);
        if first_plot.is_none() {
            first_plot = Some((mixed.clone(), h.clean.clone(), wet_ref.clone(), h.wet.clone(), ex.name.clone()));
        }
        let hm = match &mono {
            Some(m) => {
                let hm = hear(m, ex, &mixed)?;
                errs_mono.add(&truth, &hm.positions);
                clean_mono.push(mss(&hm.clean, &mixed));
                wet_mono.push(mss(&hm.wet, wet_ref));
                Some(hm)
            }
            None => None,
        };
        if let Some(c) = &clean_only {
            let hc = hear(c, ex, &mixed)?;
            errs_co.add(&truth, &hc.positions);
            clean_co.push(mss(&hc.clean, &mixed));
            wet_co.push(mss(&hc.wet, wet_ref));
        }
        heard.push((h, hm));
    }

    // Knobs on many settings: every clip's clean mix through fresh random knobs.
    let (mut errs_rr, mut errs_rr_base, mut errs_rr_mono, mut errs_rr_co) = (KnobErrors::new(), KnobErrors::new(), KnobErrors::new(), KnobErrors::new());
    let (mut errs_room, mut errs_room_base) = (KnobErrors::new(), KnobErrors::new());
    let (mut errs_level, mut errs_level_base) = (KnobErrors::new(), KnobErrors::new());
    for (i, ex) in examples.iter().enumerate() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x6b6e_6f62 ^ i as u64);
        // Its own stream, so the settings above stay the ones earlier reports drew.
        let mut rooms = Xoshiro256PlusPlus::seed_from_u64(0x726f_6f6d ^ i as u64);
        let mut levels = Xoshiro256PlusPlus::seed_from_u64(0x6c65_766c ^ i as u64);
        let mixed = mix(ex);
        for _ in 0..RERENDERS {
            let (knobs, _) = random_knobs(&mut rng);
            let mut wet = vec![mixed.clone()];
            FxChain::render_offline(ex.sample_rate as f32, &knobs, &mut wet);
            let wet = Audio::new(ex.sample_rate, wet);
            let truth = positions(&knobs);
            let gain = 10f32.powf(levels.random_range(-LEVEL_SPREAD_DB..LEVEL_SPREAD_DB) / 20.0);
            let louder = Audio::new(ex.sample_rate, wet.channels.iter().map(|c| c.iter().map(|v| v * gain).collect()).collect());
            errs_level.add(&truth, &model.analyze(&louder).map_err(|e| format!("{}: {e}", ex.name))?.positions);
            errs_level_base.add(&truth, &baseline);
            let heard = |m: &Model| m.analyze(&wet).map(|a| a.positions).map_err(|e| format!("{}: {e}", ex.name));
            errs_rr.add(&truth, &heard(&model)?);
            errs_rr_base.add(&truth, &baseline);
            if let Some(m) = &mono {
                errs_rr_mono.add(&truth, &heard(m)?);
            }
            if let Some(m) = &clean_only {
                errs_rr_co.add(&truth, &heard(m)?);
            }
            let mut other = vec![mixed.clone()];
            FxChain::render_offline_with_reverb_seed(ex.sample_rate as f32, &knobs, &mut other, rooms.random());
            let other = Audio::new(ex.sample_rate, other);
            errs_room.add(&truth, &model.analyze(&other).map_err(|e| format!("{}: {e}", ex.name))?.positions);
            errs_room_base.add(&truth, &baseline);
        }
    }

    // Tone clone: A's notes with B's z and knobs, B the next clip of A's group.
    let (mut clone_model, mut clone_dry, mut clone_mono) = (vec![], vec![], vec![]);
    for (a, ex_a) in examples.iter().enumerate() {
        let Some(b) = (0..examples.len()).map(|j| (a + 1 + j) % examples.len()).find(|&j| j != a && group_of(&examples[j].name) == group_of(&ex_a.name)) else { continue };
        let wet_a = ex_a.wet.as_ref().expect("wet checked");
        let mixed = mix(ex_a);
        let (hb, hb_mono) = &heard[b];
        let (_, wet) = reconstruct(&model, &ex_a.features, &hb.z, &hb.knobs)?;
        clone_model.push(mss(&wet, wet_a));
        clone_dry.push(mss(&mixed, wet_a));
        if let (Some(m), Some(hm)) = (&mono, hb_mono) {
            let (_, wet) = reconstruct(m, &[channel_features(&mixed, m.spec())], &hm.z, &hm.knobs)?;
            clone_mono.push(mss(&wet, wet_a));
        }
    }

    let mut knobs = serde_json::Map::new();
    for (i, k) in Knob::ALL.iter().enumerate() {
        let mut entry = against_baseline(&errs, &errs_base, i);
        if mono.is_some() {
            entry["one_oscillator_mae"] = json!(errs_mono.mae(i));
        }
        if clean_only.is_some() {
            entry["clean_loss_only_mae"] = json!(errs_co.mae(i));
        }
        let mut rerendered = against_baseline(&errs_rr, &errs_rr_base, i);
        rerendered["one_oscillator_mae"] = json!(mono.as_ref().map(|_| errs_rr_mono.mae(i)));
        rerendered["clean_loss_only_mae"] = json!(clean_only.as_ref().map(|_| errs_rr_co.mae(i)));
        entry["rerendered"] = rerendered;
        entry["rerendered_other_reverb"] = against_baseline(&errs_room, &errs_room_base, i);
        entry["rerendered_other_level"] = against_baseline(&errs_level, &errs_level_base, i);
        knobs.insert(k.spec().name.to_string(), entry);
    }
    let guitars: std::collections::BTreeSet<String> = crate::data::corpus::Manifest::read(&opts.data)
        .map(|m| m.clips.iter().filter(|c| c.split == opts.split).map(|c| c.guitar.clone()).collect())
        .unwrap_or_default();
    let report = json!({
        "split": opts.split,
        "clips": examples.len(),
        "seconds": examples.iter().map(Example::seconds).sum::<f64>(),
        "guitars": guitars,
        "active_mix_threshold": ACTIVE_MIX,
        "rerenders_per_clip": RERENDERS,
        "level_spread_db": LEVEL_SPREAD_DB,
        "knobs": knobs,
        "clean_mss": { "model": mean(&clean_d), "one_oscillator": mean(&clean_mono), "clean_loss_only": mean(&clean_co) },
        "wet_mss": { "model": mean(&wet_d), "one_oscillator": mean(&wet_mono), "clean_loss_only": mean(&wet_co) },
        "tone_clone_mss": { "pairs": clone_model.len(), "model": mean(&clone_model), "dry_input": mean(&clone_dry), "one_oscillator": mean(&clone_mono) },
        "analysis_seconds_per_clip": mean(&analysis_s),
        "decoder_microseconds_per_frame": mean(&decoder_s).map(|s| s * 1e6),
        "decoder_backend": model.decoder_backend(),
    });

    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let write = |name: &str, text: String| std::fs::write(opts.out.join(name), text).map_err(|e| format!("{}: {e}", opts.out.join(name).display()));
    write("eval.json", serde_json::to_string_pretty(&report).expect("report serialises"))?;
    write("eval.md", markdown(&report))?;
    if let Some((clean_ref, clean_rec, wet_ref, wet_rec, name)) = first_plot {
        let sr = model.spec().sample_rate;
        let a = |x: Vec<f32>| Audio::new(sr, vec![x]);
        let (p1, p2, p3, p4) = (a(clean_ref), a(clean_rec), a(wet_ref), a(wet_rec));
        spectrograms_png(
            &opts.out.join("eval_spectrograms.png"),
            &[
                Panel { title: format!("{name}: clean reference"), audio: &p1 },
                Panel { title: "clean reconstruction (six oscillators + noise)".into(), audio: &p2 },
                Panel { title: "wet reference".into(), audio: &p3 },
                Panel { title: "wet reconstruction (inferred knobs)".into(), audio: &p4 },
            ],
        )?;
    }
    let points: Vec<KnobPoints> = Knob::ALL.iter().zip(scatter).map(|(k, points)| KnobPoints { name: k.spec().name.to_string(), points }).collect();
    knob_scatter_png(&opts.out.join("eval_knobs.png"), &points)?;

    // The figures travel with the model.
    let info_path = opts.model.join(MODEL_JSON);
    let mut info: ModelInfo = ModelInfo::read(&info_path).map_err(|e| e.to_string())?;
    info.eval = Some(report.clone());
    info.write(&info_path)?;
    Ok(report)
}

fn fmt(v: &Value) -> String {
    v.as_f64().map_or("—".into(), |x| format!("{x:.3}"))
}

/// One table row per knob, in the knob table's order, of the figures `pick` finds in
/// each knob's entry of `r["knobs"]`.
fn knob_rows(r: &Value, pick: impl Fn(&Value) -> &Value) -> String {
    let Some(k) = r["knobs"].as_object() else { return String::new() };
    let order: BTreeMap<usize, (&String, &Value)> = k.iter().map(|(n, v)| (Knob::ALL.iter().position(|x| x.spec().name == n).unwrap_or(99), (n, v))).collect();
    order
        .values()
        .map(|(name, v)| {
            let v = pick(v);
            format!("| {name} | {} | {} | {:.1}× | {} | {} | {} |\n", fmt(&v["mae"]), fmt(&v["mean_baseline_mae"]), v["baseline_over_model"].as_f64().unwrap_or(0.0), fmt(&v["one_oscillator_mae"]), fmt(&v["clean_loss_only_mae"]), v["counted"])
        })
        .collect()
}

/// Knob `i`'s MAE beside the baseline's over the same examples, as the report keeps it.
fn against_baseline(model: &KnobErrors, base: &KnobErrors, i: usize) -> Value {
    let (mae, base_mae) = (model.mae(i), base.mae(i));
    json!({
        "mae": mae,
        "mean_baseline_mae": base_mae,
        "baseline_over_model": if mae > 0.0 { base_mae / mae } else { f64::INFINITY },
        "counted": model.n[i],
    })
}

/// Rows of a table of the re-renders made another way (`key`), beside the plain
/// re-renders' MAE.
fn variant_rows(r: &Value, key: &str) -> String {
    let mut s = String::new();
    for name in Knob::ALL.map(|k| k.spec().name) {
        let v = &r["knobs"][name];
        let o = &v[key];
        if !o.is_null() {
            s += &format!("| {name} | {} | {} | {:.1}× | {} | {} |\n", fmt(&o["mae"]), fmt(&o["mean_baseline_mae"]), o["baseline_over_model"].as_f64().unwrap_or(0.0), fmt(&v["rerendered"]["mae"]), o["counted"]);
        }
    }
    s
}

/// The Markdown report.
pub fn markdown(r: &Value) -> String {
    let mut s = String::new();
    s += &format!("# GDDSP evaluation — {} split\n\n", r["split"].as_str().unwrap_or(""));
    s += &format!("{} clips, {:.1} min, guitars: {}. Knobs on the normalized scale (0–1 along each knob's skew); a knob of an effect counts where that effect's true mix ≥ {}.\n\n", r["clips"], r["seconds"].as_f64().unwrap_or(0.0) / 60.0, r["guitars"].as_array().map(|g| g.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default(), r["active_mix_threshold"]);
    s += "## Knobs (MAE)\n\n| knob | model | train-mean baseline | baseline / model | one oscillator | clean loss only | clips counted |\n|---|---|---|---|---|---|---|\n";
    s += &knob_rows(r, |v| v);
    s += &format!("\n## Knobs on many settings (MAE; each clip's clean mix through {} fresh random knob settings)\n\n| knob | model | train-mean baseline | baseline / model | one oscillator | clean loss only | renders counted |\n|---|---|---|---|---|---|---|\n", r["rerenders_per_clip"]);
    s += &knob_rows(r, |v| &v["rerendered"]);
    s += "\n## Knobs on many settings, another reverb (the same renders, the reverb's impulse response from a random seed instead of the corpus's)\n\n| knob | model | train-mean baseline | baseline / model | the corpus's reverb (above) | renders counted |\n|---|---|---|---|---|---|\n";
    s += &variant_rows(r, "rerendered_other_reverb");
    s += &format!("\n## Knobs on many settings, another level (the same renders scaled by a random gain within ±{} dB: a DAW clip does not keep the level it was made at)\n\n| knob | model | train-mean baseline | baseline / model | at the corpus's level (above) | renders counted |\n|---|---|---|---|---|---|\n", r["level_spread_db"]);
    s += &variant_rows(r, "rerendered_other_level");
    s += "\n## Multi-scale spectral distance (lower is better)\n\n| | model (6 oscillators, clean + wet loss) | one oscillator | clean loss only |\n|---|---|---|---|\n";
    s += &format!("| clean | {} | {} | {} |\n", fmt(&r["clean_mss"]["model"]), fmt(&r["clean_mss"]["one_oscillator"]), fmt(&r["clean_mss"]["clean_loss_only"]));
    s += &format!("| wet | {} | {} | {} |\n", fmt(&r["wet_mss"]["model"]), fmt(&r["wet_mss"]["one_oscillator"]), fmt(&r["wet_mss"]["clean_loss_only"]));
    s += &format!("\n## Tone clone ({} pairs: clip A's notes with z and knobs from clip B of the same group, vs A's true wet render)\n\n| model | dry input | one oscillator |\n|---|---|---|\n| {} | {} | {} |\n", r["tone_clone_mss"]["pairs"], fmt(&r["tone_clone_mss"]["model"]), fmt(&r["tone_clone_mss"]["dry_input"]), fmt(&r["tone_clone_mss"]["one_oscillator"]));
    s += &format!("\nDecoder ({}, streamed, six strings): {} µs per control frame.\n", r["decoder_backend"].as_str().unwrap_or("tract"), fmt(&r["decoder_microseconds_per_frame"]));
    s += &format!("\nAnalysis time per clip (tract, decode excluded): {} s.\n\n![spectrograms](eval_spectrograms.png)\n\n![knobs](eval_knobs.png)\n", fmt(&r["analysis_seconds_per_clip"]));
    s
}
