//! The plugin's parameters. The nine FX knobs are generated from the core's knob table
//! ([`gddsp_core::KNOBS`]): the parameter id is the knob's name (`distortion.drive_db`, …),
//! the plain value is the knob's physical value, the unit is the table's. Those ids are a
//! contract with every saved session and automation lane: extend, never rename.
//!
//! The table's log skew (equal ratios per step of travel) has no exact `FloatRange`; it is
//! a power skew whose midpoint is the range's geometric mean, so the host's knob travel
//! matches the table's at both ends and the middle (values, not positions, are what the
//! engine and the model use).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use nice_plug::prelude::*;
use parking_lot::Mutex;

use gddsp_core::engine::{EngineParams, LiveSource, Mode, ToneControls};
use gddsp_core::knobs::{Knob, KnobSpec, Knobs, Skew, KNOBS, KNOB_COUNT};

use crate::window::WindowState;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeParam {
    #[id = "fx"]
    #[name = "FX clone"]
    FxClone,
    #[id = "tone"]
    #[name = "Tone clone"]
    ToneClone,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceParam {
    #[id = "mono"]
    #[name = "Guitar (mono)"]
    Mono,
    #[id = "hex"]
    #[name = "Hex pickup (aux, 6 ch)"]
    Hex,
    #[id = "midi"]
    #[name = "MIDI"]
    Midi,
}

/// Ids of the parameters that are not knobs (a contract, like the knob names).
pub mod ids {
    pub const MODE: &str = "mode";
    pub const INPUT: &str = "input";
    pub const DRY_WET: &str = "dry_wet";
    pub const OUTPUT_GAIN: &str = "output_gain_db";
    pub const PITCH_SHIFT: &str = "tone.pitch_shift_st";
    pub const LOUDNESS_SHIFT: &str = "tone.loudness_shift_db";
    pub const CONFIDENCE_GATE: &str = "tone.confidence_gate";
    pub const AUTOTUNE: &str = "tone.autotune";
    pub const HARMONICS_GAIN: &str = "tone.harmonics_gain_db";
    pub const NOISE_GAIN: &str = "tone.noise_gain_db";
    pub const AUTO_ADJUST: &str = "tone.auto_adjust";
}

/// The key under which the analysed reference is saved with the session.
pub const REFERENCE_FIELD: &str = "reference";

/// A reference analysis as saved with the session (so a reloaded project keeps its tone).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedReference {
    pub file: String,
    pub z: Vec<f32>,
    /// Inferred knobs, physical values by knob name.
    pub knobs: BTreeMap<String, f32>,
}

pub struct GddspParams {
    pub knobs: Vec<FloatParam>,
    pub mode: EnumParam<ModeParam>,
    pub input: EnumParam<SourceParam>,
    pub dry_wet: FloatParam,
    pub output_gain_db: FloatParam,
    pub pitch_shift_st: FloatParam,
    pub loudness_shift_db: FloatParam,
    pub confidence_gate: FloatParam,
    pub autotune: FloatParam,
    pub harmonics_gain_db: FloatParam,
    pub noise_gain_db: FloatParam,
    pub auto_adjust: BoolParam,
    pub editor_state: Arc<WindowState>,
    /// The last analysed reference (written by the GUI side, never the audio thread).
    pub reference: Mutex<Option<SavedReference>>,
    /// The host activated the port layout with the hex pickup's aux input (not a
    /// parameter: the host's routing, shown by the editor).
    pub hex_port: AtomicBool,
}

/// `Distortion drive` from `distortion.drive_db`.
fn label(spec: &KnobSpec) -> String {
    let (effect, rest) = spec.name.split_once('.').unwrap_or(("", spec.name));
    let what = rest.split('_').next().unwrap_or(rest);
    let mut s = format!("{effect} {what}");
    if let Some(first) = s.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// The host-facing range of a knob (see the module doc for the log skew).
pub fn knob_range(spec: &KnobSpec) -> FloatRange {
    match spec.skew {
        Skew::Linear => FloatRange::Linear { min: spec.min, max: spec.max },
        Skew::Log => {
            let mid = ((spec.min * spec.max).sqrt() - spec.min) / (spec.max - spec.min);
            FloatRange::Skewed { min: spec.min, max: spec.max, factor: 0.5f32.ln() / mid.ln() }
        }
    }
}

fn knob_param(spec: &'static KnobSpec) -> FloatParam {
    let unit: &'static str = match spec.unit {
        "" => "",
        "dB" => " dB",
        "Hz" => " Hz",
        "ms" => " ms",
        "s" => " s",
        _ => "",
    };
    let decimals = if spec.max - spec.min > 100.0 { 0 } else { 2 };
    let p = FloatParam::new(label(spec), spec.default, knob_range(spec)).with_unit(unit).with_value_to_string(formatters::v2s_f32_rounded(decimals));
    // Reverb decay and damping rebuild the impulse response when they move: they step
    // rather than glide, so automation does not rebuild it every block.
    if spec.name.starts_with("reverb.") && !spec.name.ends_with("mix") {
        p
    } else {
        p.with_smoother(SmoothingStyle::Linear(20.0))
    }
}

fn db(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Linear { min, max }).with_unit(" dB").with_smoother(SmoothingStyle::Linear(20.0)).with_value_to_string(formatters::v2s_f32_rounded(1))
}

fn unit_interval(name: &str, default: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Linear { min: 0.0, max: 1.0 }).with_unit(" %").with_value_to_string(formatters::v2s_f32_percentage(0)).with_string_to_value(formatters::s2v_f32_percentage())
}

impl Default for GddspParams {
    fn default() -> Self {
        GddspParams {
            knobs: KNOBS.iter().map(knob_param).collect(),
            mode: EnumParam::new("Mode", ModeParam::FxClone),
            input: EnumParam::new("Input", SourceParam::Mono),
            dry_wet: unit_interval("Dry/wet", 1.0).with_smoother(SmoothingStyle::Linear(20.0)),
            output_gain_db: db("Output gain", 0.0, -24.0, 24.0),
            pitch_shift_st: FloatParam::new("Pitch shift", 0.0, FloatRange::Linear { min: -24.0, max: 24.0 }).with_unit(" st").with_value_to_string(formatters::v2s_f32_rounded(1)),
            loudness_shift_db: db("Loudness shift", 0.0, -24.0, 24.0),
            confidence_gate: unit_interval("Confidence gate", 0.0),
            autotune: unit_interval("Autotune", 0.0),
            harmonics_gain_db: db("Harmonics gain", 0.0, -24.0, 12.0),
            noise_gain_db: db("Noise gain", 0.0, -48.0, 12.0),
            auto_adjust: BoolParam::new("Auto adjust", true),
            editor_state: Arc::new(WindowState::default()),
            reference: Mutex::new(None),
            hex_port: AtomicBool::new(false),
        }
    }
}

impl GddspParams {
    pub fn knob(&self, k: Knob) -> &FloatParam {
        &self.knobs[k as usize]
    }

    /// The knobs as the host has them now (unsmoothed).
    pub fn current_knobs(&self) -> Knobs {
        let mut k = Knobs::default();
        for knob in Knob::ALL {
            // The host keeps values inside the range; `set` only refuses NaN.
            let _ = k.set(knob, self.knob(knob).value());
        }
        k
    }

    /// What the engine needs for a block of `samples` (smoothers advanced by it).
    pub fn engine_params(&self, samples: u32) -> EngineParams {
        let mut knobs = Knobs::default();
        for knob in Knob::ALL {
            let p = self.knob(knob);
            let v = if p.smoothed.is_smoothing() { p.smoothed.next_step(samples) } else { p.value() };
            let _ = knobs.set(knob, v);
        }
        let step = |p: &FloatParam| if p.smoothed.is_smoothing() { p.smoothed.next_step(samples) } else { p.value() };
        EngineParams {
            mode: match self.mode.value() {
                ModeParam::FxClone => Mode::FxClone,
                ModeParam::ToneClone => Mode::ToneClone,
            },
            source: match self.input.value() {
                SourceParam::Mono => LiveSource::Mono,
                SourceParam::Hex => LiveSource::Hex,
                SourceParam::Midi => LiveSource::Midi,
            },
            knobs,
            dry_wet: step(&self.dry_wet),
            output_gain_db: step(&self.output_gain_db),
            tone: ToneControls {
                pitch_shift_st: self.pitch_shift_st.value(),
                loudness_shift_db: step(&self.loudness_shift_db),
                confidence_gate: self.confidence_gate.value(),
                autotune: self.autotune.value(),
                harmonics_gain_db: step(&self.harmonics_gain_db),
                noise_gain_db: step(&self.noise_gain_db),
                auto_adjust: self.auto_adjust.value(),
            },
        }
    }
}

unsafe impl Params for GddspParams {
    fn param_map(&self) -> Vec<(String, ParamPtr, String)> {
        let mut map: Vec<(String, ParamPtr, String)> = KNOBS
            .iter()
            .zip(&self.knobs)
            .map(|(spec, p)| {
                let group = spec.name.split('.').next().unwrap_or("").to_string();
                (spec.name.to_string(), p.as_ptr(), format!("FX/{}", capitalised(&group)))
            })
            .collect();
        let general: [(&str, ParamPtr); 4] = [(ids::MODE, self.mode.as_ptr()), (ids::INPUT, self.input.as_ptr()), (ids::DRY_WET, self.dry_wet.as_ptr()), (ids::OUTPUT_GAIN, self.output_gain_db.as_ptr())];
        map.extend(general.into_iter().map(|(id, p)| (id.to_string(), p, String::new())));
        let tone: [(&str, ParamPtr); 7] = [
            (ids::PITCH_SHIFT, self.pitch_shift_st.as_ptr()),
            (ids::LOUDNESS_SHIFT, self.loudness_shift_db.as_ptr()),
            (ids::CONFIDENCE_GATE, self.confidence_gate.as_ptr()),
            (ids::AUTOTUNE, self.autotune.as_ptr()),
            (ids::HARMONICS_GAIN, self.harmonics_gain_db.as_ptr()),
            (ids::NOISE_GAIN, self.noise_gain_db.as_ptr()),
            (ids::AUTO_ADJUST, self.auto_adjust.as_ptr()),
        ];
        map.extend(tone.into_iter().map(|(id, p)| (id.to_string(), p, "Tone clone".to_string())));
        map
    }

    fn serialize_fields(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(r) = self.reference.lock().as_ref() {
            if let Ok(json) = serde_json::to_string(r) {
                out.insert(REFERENCE_FIELD.to_string(), json);
            }
        }
        out
    }

    fn deserialize_fields(&self, serialized: &BTreeMap<String, String>) {
        // A corrupt saved reference is dropped (the knobs themselves are parameters and
        // load regardless); the editor then shows no reference rather than failing.
        let parsed = serialized.get(REFERENCE_FIELD).and_then(|s| serde_json::from_str::<SavedReference>(s).ok()).filter(|r| r.z.iter().all(|v| v.is_finite()));
        *self.reference.lock() = parsed;
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// Inferred knobs as a saved map.
pub fn knobs_to_map(k: &Knobs) -> BTreeMap<String, f32> {
    KNOBS.iter().zip(k.values()).map(|(s, v)| (s.name.to_string(), *v)).collect()
}

/// A saved map back to knobs (unknown names ignored, missing ones at their default).
pub fn knobs_from_map(m: &BTreeMap<String, f32>) -> Knobs {
    let mut k = Knobs::default();
    for (name, v) in m {
        if let Some(knob) = Knob::by_name(name) {
            let _ = k.set(knob, *v);
        }
    }
    k
}

const _: () = assert!(KNOB_COUNT == 9);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_knob_names_then_the_fixed_ones() {
        let p = GddspParams::default();
        let ids: Vec<String> = p.param_map().into_iter().map(|(id, _, _)| id).collect();
        let mut expected: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
        expected.extend([ids::MODE, ids::INPUT, ids::DRY_WET, ids::OUTPUT_GAIN, ids::PITCH_SHIFT, ids::LOUDNESS_SHIFT, ids::CONFIDENCE_GATE, ids::AUTOTUNE, ids::HARMONICS_GAIN, ids::NOISE_GAIN, ids::AUTO_ADJUST]);
        assert_eq!(ids, expected);
    }

    #[test]
    fn knob_params_span_the_table_and_meet_it_at_the_ends_and_middle() {
        let p = GddspParams::default();
        for (spec, param) in KNOBS.iter().zip(&p.knobs) {
            assert_eq!(param.value(), spec.default, "{}", spec.name);
            let range = param.range();
            assert!((range.unnormalize(0.0) - spec.min).abs() < 1e-3 * spec.max.abs().max(1.0), "{}", spec.name);
            assert!((range.unnormalize(1.0) - spec.max).abs() < 1e-3 * spec.max.abs().max(1.0), "{}", spec.name);
            let mid = range.unnormalize(0.5);
            let table_mid = spec.denormalize(0.5);
            assert!((mid - table_mid).abs() <= 1e-3 * table_mid.abs().max(1.0), "{}: {mid} vs {table_mid}", spec.name);
        }
    }

    #[test]
    fn saved_reference_round_trips_and_corrupt_state_is_dropped() {
        let p = GddspParams::default();
        let knobs = Knobs::default().with(Knob::DelayMix, 0.4);
        *p.reference.lock() = Some(SavedReference { file: "ref.wav".into(), z: vec![0.5, -1.0], knobs: knobs_to_map(&knobs) });
        let saved = p.serialize_fields();
        let q = GddspParams::default();
        q.deserialize_fields(&saved);
        let back = q.reference.lock().clone().expect("restored");
        assert_eq!(back.z, vec![0.5, -1.0]);
        assert_eq!(knobs_from_map(&back.knobs).get(Knob::DelayMix), 0.4);

        for corrupt in ["{not json", "{\"file\":\"x\",\"z\":\"nope\",\"knobs\":{}}", ""] {
            let mut m = BTreeMap::new();
            m.insert(REFERENCE_FIELD.to_string(), corrupt.to_string());
            q.deserialize_fields(&m);
            assert!(q.reference.lock().is_none(), "{corrupt:?} must be dropped");
        }
    }

    #[test]
    fn labels_read_like_pedal_knobs() {
        assert_eq!(label(Knob::DistortionDriveDb.spec()), "Distortion drive");
        assert_eq!(label(Knob::ReverbDecayS.spec()), "Reverb decay");
    }
}
