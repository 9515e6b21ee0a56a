//! The corpus generator behind `gddsp-train data`: hexaphonic clean recordings of
//! generated guitar parts, their wet versions through the FX chain, labels and splits.
//!
//! Clips come in groups that share a guitar, a tuning, a knob setting and an input level
//! but play different notes, so a tone clone (timbre + FX from one clip, notes from
//! another) can be scored against the true render. Group `g` goes to the test split when
//! `g mod 10 = 0` (played on the held-out guitar), to valid when `g mod 10 = 1`, else to
//! train. Every clip's randomness comes from `(seed, group, clip)` alone, so a seed gives
//! the same corpus bit for bit whatever the thread count.
//!
//! Layout: `OUT/manifest.json`, and per split `OUT/{train,valid,test}/NAME_clean.wav`
//! (6 channels, f32), `NAME_wet.wav` (mono, f32: the FX chain over the sum of the six
//! channels), `NAME_fx.json`, `NAME_notes.json`, `NAME_features.bin`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use gddsp_core::audio_io::{self, Audio};
use gddsp_core::fx::FxChain;
use gddsp_core::{Knob, Knobs, ModelSpec};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::features;
use super::guitars::{catalogue, render_strings, ExtraGuitars, Guitar, Voice};
use super::material::perform;
use super::notes::{NoteTruth, Tuning};
use super::pairs::PairPaths;
use super::progress_bar;
use super::soundfont::{Font, DEFAULT_SOUNDFONT};

pub const SPLITS: [&str; 3] = ["train", "valid", "test"];
/// Seconds at the end of a clip in which no note starts, so the last notes ring out.
const TAIL_S: f64 = 1.0;

/// What `gddsp-train data` was asked for.
#[derive(Debug, Clone)]
pub struct CorpusConfig {
    pub out: PathBuf,
    pub hours: f64,
    pub seed: u64,
    /// A SoundFont to render with; `None` tries [`DEFAULT_SOUNDFONT`].
    pub soundfont: Option<PathBuf>,
    /// Render with the plucked-string model even if a SoundFont is there.
    pub pluck: bool,
    /// More SoundFonts whose clean guitars join the training guitars (never the test).
    pub extra_soundfonts: Vec<PathBuf>,
    /// The plucked-string guitars join the SoundFont's training guitars.
    pub pluck_too: bool,
    pub sample_rate: u32,
    pub clip_seconds: f64,
    pub group_size: usize,
    pub threads: usize,
    pub progress: bool,
}

impl CorpusConfig {
    pub fn new(out: PathBuf, hours: f64, seed: u64) -> Self {
        CorpusConfig {
            out,
            hours,
            seed,
            soundfont: None,
            pluck: false,
            extra_soundfonts: Vec::new(),
            pluck_too: false,
            sample_rate: ModelSpec::default().sample_rate,
            clip_seconds: 8.0,
            group_size: 4,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: false,
        }
    }
}

/// Which effects a clip's knob setting switches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxOn {
    pub distortion: bool,
    pub delay: bool,
    pub reverb: bool,
}

/// One clip in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipRecord {
    pub name: String,
    pub split: String,
    pub group: usize,
    pub guitar: String,
    pub tuning: Tuning,
    pub seconds: f64,
    pub notes: usize,
    /// [`NoteTruth::fingerprint`] in hex.
    pub material: String,
    pub fx_on: FxOn,
    /// Peak of the clean mix, dBFS.
    pub peak_db: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuitarRecord {
    pub id: String,
    pub name: String,
    /// "train" (train and valid splits) or "test" (held out).
    pub used_for: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    pub clips: usize,
    pub seconds: f64,
    pub guitars: BTreeSet<String>,
}

/// `OUT/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub seed: u64,
    /// "soundfont" or "pluck".
    pub synth: String,
    pub soundfont: Option<String>,
    /// SoundFonts that only added training guitars (`--extra-soundfont`).
    #[serde(default)]
    pub extra_soundfonts: Vec<String>,
    pub sample_rate: u32,
    pub clip_seconds: f64,
    pub hours_requested: f64,
    pub seconds: f64,
    pub guitars: Vec<GuitarRecord>,
    pub splits: BTreeMap<String, SplitSummary>,
    /// Test clips whose note material also occurs in train (must be 0).
    pub material_overlap: usize,
    pub clips: Vec<ClipRecord>,
}

pub const MANIFEST: &str = "manifest.json";

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, DataError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, format!("cannot read the corpus manifest: {e}")))?;
        serde_json::from_str(&text).map_err(|e| DataError::Sidecar { path, detail: format!("not a corpus manifest: {e}") })
    }
}

/// The split of group `g`.
pub fn split_of(group: usize) -> &'static str {
    match group % 10 {
        0 => "test",
        1 => "valid",
        _ => "train",
    }
}

fn rng_for(seed: u64, group: usize, clip: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((group as u64) << 24) ^ clip)
}

/// A random knob setting: each effect on (probability 0.6) or off (mix 0); every value
/// uniform along its knob's skew.
pub fn random_knobs<R: Rng>(rng: &mut R) -> (Knobs, FxOn) {
    let mut u = [0f32; gddsp_core::knobs::KNOB_COUNT];
    let on = [rng.random_bool(0.6), rng.random_bool(0.6), rng.random_bool(0.6)];
    for (i, knob) in Knob::ALL.iter().enumerate() {
        u[i] = rng.random::<f32>();
        if knob.spec().name.ends_with(".mix") && !on[i / 3] {
            u[i] = 0.0;
        }
    }
    (Knobs::from_normalized(&u), FxOn { distortion: on[0], delay: on[1], reverb: on[2] })
}

/// One group's shared choices.
struct GroupPlan {
    split: &'static str,
    guitar: Guitar,
    tuning: Tuning,
    knobs: Knobs,
    fx_on: FxOn,
    peak_db: f64,
}

fn plan_group(seed: u64, group: usize, train: &[Guitar], held_out: &Guitar) -> GroupPlan {
    let mut rng = rng_for(seed, group, u64::MAX);
    let split = split_of(group);
    let guitar = if split == "test" { held_out.clone() } else { train[rng.random_range(0..train.len())].clone() };
    let tuning = [Tuning::Standard, Tuning::Standard, Tuning::Standard, Tuning::DropD, Tuning::EFlat][rng.random_range(0..5)];
    let (knobs, fx_on) = random_knobs(&mut rng);
    let peak_db = rng.random_range(-12.0..-3.0);
    GroupPlan { split, guitar, tuning, knobs, fx_on, peak_db }
}

/// Renders one clip and writes its files; returns its manifest record.
fn make_clip(cfg: &CorpusConfig, group: usize, clip: usize, plan: &GroupPlan) -> Result<ClipRecord, DataError> {
    let mut rng = rng_for(cfg.seed, group, clip as u64);
    let truth: NoteTruth = perform(&mut rng, plan.tuning, cfg.clip_seconds, TAIL_S);
    let samples = (cfg.clip_seconds * cfg.sample_rate as f64).round() as usize;
    let mut voice = Voice::new(&plan.guitar, cfg.sample_rate, rng.random())?;
    let mut strings = render_strings(&mut voice, &truth, cfg.sample_rate, samples);
    let mut clean = Audio::new(cfg.sample_rate, std::mem::take(&mut strings));
    let peak = clean.mix_down().iter().fold(0f32, |m, x| m.max(x.abs()));
    let gain = if peak > 0.0 { 10f32.powf(plan.peak_db as f32 / 20.0) / peak } else { 1.0 };
    for x in clean.channels.iter_mut().flatten() {
        *x *= gain;
    }
    let mut wet = vec![clean.mix_down()];
    FxChain::render_offline(cfg.sample_rate as f32, &plan.knobs, &mut wet);

    let name = format!("g{group:05}_c{clip}");
    let dir = cfg.out.join(plan.split);
    let paths = PairPaths::new(&dir, &name);
    audio_io::write_wav(&paths.clean, &clean)?;
    audio_io::write_wav(&paths.wet, &Audio::new(cfg.sample_rate, wet))?;
    let json = |v: &serde_json::Value| serde_json::to_string_pretty(v).expect("JSON values serialise");
    let fx_path = paths.sidecar("fx.json");
    std::fs::write(&fx_path, json(&plan.knobs.to_json())).map_err(|e| DataError::io(&fx_path, e))?;
    let notes_path = paths.sidecar("notes.json");
    std::fs::write(&notes_path, serde_json::to_string(&truth).expect("notes serialise")).map_err(|e| DataError::io(&notes_path, e))?;
    let spec = ModelSpec::default();
    let feats = features::compute(&clean, &spec)?;
    features::write_cache(&paths.sidecar("features.bin"), &feats, &spec, features::fingerprint(&clean))?;

    Ok(ClipRecord {
        name,
        split: plan.split.to_string(),
        group,
        guitar: plan.guitar.id.clone(),
        tuning: plan.tuning,
        seconds: clean.seconds(),
        notes: truth.note_count(),
        material: format!("{:016x}", truth.fingerprint()),
        fx_on: plan.fx_on,
        peak_db: plan.peak_db,
    })
}

/// The SoundFont to use, or `None` for the plucked-string model, with a line saying which.
pub fn choose_synth(cfg: &CorpusConfig) -> Result<(Option<Font>, String), DataError> {
    if cfg.pluck {
        return Ok((None, "rendering with the plucked-string model (--pluck)".into()));
    }
    match &cfg.soundfont {
        Some(path) => Ok((Some(Font::load(path)?), format!("rendering with the SoundFont {}", path.display()))),
        None if Path::new(DEFAULT_SOUNDFONT).exists() => Ok((Some(Font::load(Path::new(DEFAULT_SOUNDFONT))?), format!("rendering with the SoundFont {DEFAULT_SOUNDFONT}"))),
        None => Ok((None, format!("no SoundFont at {DEFAULT_SOUNDFONT} (Debian package fluid-soundfont-gm); rendering with the plucked-string model"))),
    }
}

/// Generates the corpus; returns its manifest (also written to `OUT/manifest.json`).
pub fn generate(cfg: &CorpusConfig, log: &mut dyn FnMut(&str)) -> Result<Manifest, DataError> {
    if !(cfg.hours > 0.0 && cfg.hours <= 200.0) {
        return Err(DataError::io(&cfg.out, format!("--hours must be above 0 and at most 200, not {}", cfg.hours)));
    }
    if !(16_000..=96_000).contains(&cfg.sample_rate) {
        return Err(DataError::io(&cfg.out, format!("--rate must be 16000–96000 Hz, not {}", cfg.sample_rate)));
    }
    if !(2.0..=60.0).contains(&cfg.clip_seconds) || cfg.group_size == 0 {
        return Err(DataError::io(&cfg.out, "clips must be 2–60 s long, in groups of at least 1"));
    }
    if cfg.out.join(MANIFEST).exists() {
        return Err(DataError::io(&cfg.out, "already holds a corpus (manifest.json); choose a new folder or delete this one"));
    }
    for split in SPLITS {
        let dir = cfg.out.join(split);
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, format!("cannot create the folder: {e}")))?;
    }
    let (font, which) = choose_synth(cfg)?;
    log(&which);
    let extra = ExtraGuitars { fonts: cfg.extra_soundfonts.iter().map(|p| Font::load(p)).collect::<Result<_, _>>()?, pluck: cfg.pluck_too };
    let (train, held_out) = catalogue(font.as_ref(), &extra)?;
    if !extra.fonts.is_empty() || extra.pluck {
        log(&format!("{} training guitars: {}", train.len(), train.iter().map(|g| g.id.as_str()).collect::<Vec<_>>().join(", ")));
    }

    let n_clips = (cfg.hours * 3600.0 / cfg.clip_seconds).ceil() as usize;
    let jobs: Vec<(usize, usize)> = (0..n_clips).map(|i| (i / cfg.group_size, i % cfg.group_size)).collect();
    let plans: Vec<GroupPlan> = (0..jobs.last().map_or(0, |j| j.0 + 1)).map(|g| plan_group(cfg.seed, g, &train, &held_out)).collect();

    let bar = progress_bar(n_clips as u64, cfg.progress, "rendering");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<ClipRecord, DataError>>>> = Mutex::new((0..n_clips).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..cfg.threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(g, k)) = jobs.get(i) else { break };
                let r = make_clip(cfg, g, k, &plans[g]);
                let failed = r.is_err();
                results.lock().expect("no worker panics")[i] = Some(r);
                bar.inc(1);
                if failed {
                    // Stop handing out work: the first error is reported below.
                    next.store(jobs.len(), Ordering::Relaxed);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut clips = Vec::with_capacity(n_clips);
    for r in results.into_inner().expect("no worker panics").into_iter().flatten() {
        clips.push(r?);
    }

    let train_material: BTreeSet<&str> = clips.iter().filter(|c| c.split == "train").map(|c| c.material.as_str()).collect();
    let material_overlap = clips.iter().filter(|c| c.split == "test" && train_material.contains(c.material.as_str())).count();
    let mut splits: BTreeMap<String, SplitSummary> = SPLITS.iter().map(|s| (s.to_string(), SplitSummary::default())).collect();
    for c in &clips {
        let s = splits.get_mut(&c.split).expect("known split");
        s.clips += 1;
        s.seconds += c.seconds;
        s.guitars.insert(c.guitar.clone());
    }
    for (name, s) in &splits {
        if s.clips == 0 {
            log(&format!("warning: the {name} split is empty; ask for more --hours (group g goes to test when g mod 10 = 0, valid when 1, else train)"));
        }
    }
    let mut guitars: Vec<GuitarRecord> = train.iter().map(|g| GuitarRecord { id: g.id.clone(), name: g.name.clone(), used_for: "train".into() }).collect();
    guitars.push(GuitarRecord { id: held_out.id.clone(), name: held_out.name.clone(), used_for: "test".into() });
    let manifest = Manifest {
        format: "gddsp-corpus".into(),
        version: 1,
        seed: cfg.seed,
        synth: if font.is_some() { "soundfont" } else { "pluck" }.into(),
        soundfont: font.as_ref().map(|f| f.path.display().to_string()),
        extra_soundfonts: extra.fonts.iter().map(|f| f.path.display().to_string()).collect(),
        sample_rate: cfg.sample_rate,
        clip_seconds: cfg.clip_seconds,
        hours_requested: cfg.hours,
        seconds: clips.iter().map(|c| c.seconds).sum(),
        guitars,
        splits,
        material_overlap,
        clips,
    };
    let path = cfg.out.join(MANIFEST);
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).expect("manifest serialises")).map_err(|e| DataError::io(&path, e))?;
    Ok(manifest)
}
