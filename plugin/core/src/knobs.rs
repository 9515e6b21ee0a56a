//! The FX knob table — the one definition of every knob the product shows.
//!
//! Each knob has a name (`effect.parameter`, a contract shared by the CLI JSON, the plugin
//! parameters, the model's FX decoder and `models/model.json`), a physical unit, a range,
//! a skew and a default. A knob's *normalized* value `u ∈ [0, 1]` is its position along
//! its skew:
//!
//! * linear: `u = (v − min) / (max − min)`
//! * log:    `u = ln(v / min) / ln(max / min)`
//!
//! Everything else (plugin parameters, model output mapping, JSON) is generated from
//! [`KNOBS`].

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::KnobError;

/// How a knob's value is spread over its travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Skew {
    /// Equal steps of value per step of travel.
    Linear,
    /// Equal ratios of value per step of travel (frequencies, times).
    Log,
}

/// One row of the knob table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KnobSpec {
    pub name: &'static str,
    pub unit: &'static str,
    pub min: f32,
    pub max: f32,
    pub skew: Skew,
    pub default: f32,
    pub meaning: &'static str,
}

impl KnobSpec {
    /// Position `u ∈ [0, 1]` of `value` along the knob's skew (values outside the range
    /// map outside `[0, 1]`).
    pub fn normalize(&self, value: f32) -> f32 {
        match self.skew {
            Skew::Linear => (value - self.min) / (self.max - self.min),
            Skew::Log => (value / self.min).ln() / (self.max / self.min).ln(),
        }
    }

    /// Value at travel position `u` (clamped to `[0, 1]`).
    pub fn denormalize(&self, u: f32) -> f32 {
        let u = u.clamp(0.0, 1.0);
        let v = match self.skew {
            Skew::Linear => self.min + u * (self.max - self.min),
            Skew::Log => self.min * (self.max / self.min).powf(u),
        };
        v.clamp(self.min, self.max)
    }

    pub fn contains(&self, value: f32) -> bool {
        value.is_finite() && value >= self.min && value <= self.max
    }
}

/// Index of each knob in [`KNOBS`] and in [`Knobs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Knob {
    DistortionDriveDb,
    DistortionToneHz,
    DistortionMix,
    DelayTimeMs,
    DelayFeedback,
    DelayMix,
    ReverbDecayS,
    ReverbDamping,
    ReverbMix,
}

pub const KNOB_COUNT: usize = 9;

/// The knob table, in chain order: distortion → delay → reverb.
pub const KNOBS: [KnobSpec; KNOB_COUNT] = [
    KnobSpec {
        name: "distortion.drive_db",
        unit: "dB",
        min: 0.0,
        max: 40.0,
        skew: Skew::Linear,
        default: 0.0,
        meaning: "gain into the waveshaper",
    },
    KnobSpec {
        name: "distortion.tone_hz",
        unit: "Hz",
        min: 500.0,
        max: 12000.0,
        skew: Skew::Log,
        default: 4000.0,
        meaning: "low-pass after the shaper",
    },
    KnobSpec {
        name: "distortion.mix",
        unit: "",
        min: 0.0,
        max: 1.0,
        skew: Skew::Linear,
        default: 0.0,
        meaning: "distorted share; 0 = bypass",
    },
    KnobSpec {
        name: "delay.time_ms",
        unit: "ms",
        min: 20.0,
        max: 1000.0,
        skew: Skew::Log,
        default: 350.0,
        meaning: "echo spacing",
    },
    KnobSpec {
        name: "delay.feedback",
        unit: "",
        min: 0.0,
        max: 0.9,
        skew: Skew::Linear,
        default: 0.3,
        meaning: "each echo's gain over the previous one",
    },
    KnobSpec {
        name: "delay.mix",
        unit: "",
        min: 0.0,
        max: 1.0,
        skew: Skew::Linear,
        default: 0.0,
        meaning: "echo level; 0 = bypass",
    },
    KnobSpec {
        name: "reverb.decay_s",
        unit: "s",
        min: 0.1,
        max: 5.0,
        skew: Skew::Log,
        default: 1.5,
        meaning: "RT60",
    },
    KnobSpec {
        name: "reverb.damping",
        unit: "",
        min: 0.0,
        max: 1.0,
        skew: Skew::Linear,
        default: 0.3,
        meaning: "how much faster highs decay",
    },
    KnobSpec {
        name: "reverb.mix",
        unit: "",
        min: 0.0,
        max: 1.0,
        skew: Skew::Linear,
        default: 0.0,
        meaning: "reverb level; 0 = bypass",
    },
];

impl Knob {
    pub const ALL: [Knob; KNOB_COUNT] = [
        Knob::DistortionDriveDb,
        Knob::DistortionToneHz,
        Knob::DistortionMix,
        Knob::DelayTimeMs,
        Knob::DelayFeedback,
        Knob::DelayMix,
        Knob::ReverbDecayS,
        Knob::ReverbDamping,
        Knob::ReverbMix,
    ];

    pub fn spec(self) -> &'static KnobSpec {
        &KNOBS[self as usize]
    }

    pub fn by_name(name: &str) -> Option<Knob> {
        Knob::ALL.into_iter().find(|k| k.spec().name == name)
    }
}

/// A full knob setting, in physical units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knobs {
    values: [f32; KNOB_COUNT],
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs { values: KNOBS.map(|k| k.default) }
    }
}

impl Knobs {
    pub fn get(&self, knob: Knob) -> f32 {
        self.values[knob as usize]
    }

    /// Sets a knob, checking its range.
    pub fn set(&mut self, knob: Knob, value: f32) -> Result<(), KnobError> {
        let spec = knob.spec();
        if !spec.contains(value) {
            return Err(KnobError::OutOfRange {
                name: spec.name,
                value: value as f64,
                min: spec.min,
                max: spec.max,
                unit: spec.unit,
            });
        }
        self.values[knob as usize] = value;
        Ok(())
    }

    /// Builder form of [`Knobs::set`] for settings known to be in range (tests, presets).
    ///
    /// # Panics
    /// If `value` is outside the knob's range.
    pub fn with(mut self, knob: Knob, value: f32) -> Self {
        if let Err(e) = self.set(knob, value) {
            panic!("{e}");
        }
        self
    }

    pub fn values(&self) -> &[f32; KNOB_COUNT] {
        &self.values
    }

    /// All knobs as normalized positions `u ∈ [0, 1]`.
    pub fn normalized(&self) -> [f32; KNOB_COUNT] {
        std::array::from_fn(|i| KNOBS[i].normalize(self.values[i]))
    }

    /// Knobs from normalized positions (clamped to `[0, 1]`).
    pub fn from_normalized(u: &[f32; KNOB_COUNT]) -> Knobs {
        Knobs { values: std::array::from_fn(|i| KNOBS[i].denormalize(u[i])) }
    }

    /// Parses a JSON object keyed by knob name. Missing keys take their defaults; an
    /// unknown key, a non-number or an out-of-range value is an error naming it.
    pub fn from_json(text: &str) -> Result<Knobs, KnobError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| KnobError::Json(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(KnobError::NotAnObject);
        };
        let mut knobs = Knobs::default();
        for (name, v) in &map {
            let knob = Knob::by_name(name).ok_or_else(|| KnobError::Unknown(name.clone()))?;
            let x = v.as_f64().ok_or_else(|| KnobError::NotANumber(name.clone()))?;
            let spec = knob.spec();
            if !(x.is_finite() && x >= spec.min as f64 && x <= spec.max as f64) {
                return Err(KnobError::OutOfRange {
                    name: spec.name,
                    value: x,
                    min: spec.min,
                    max: spec.max,
                    unit: spec.unit,
                });
            }
            knobs.values[knob as usize] = x as f32;
        }
        Ok(knobs)
    }

    /// The setting as a JSON object keyed by knob name, in table order.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (spec, v) in KNOBS.iter().zip(self.values) {
            map.insert(spec.name.to_string(), Value::from(v as f64));
        }
        Value::Object(map)
    }
}

/// The knob table as the JSON array `gddsp knobs` prints:
/// `[{name, unit, min, max, skew, default, meaning}, …]`.
pub fn table_json() -> Value {
    serde_json::to_value(KNOBS).expect("the knob table is plain data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_round_trips_on_every_knob() {
        for spec in &KNOBS {
            for u in [0.0, 0.25, 0.5, 0.9, 1.0] {
                let v = spec.denormalize(u);
                assert!((spec.normalize(v) - u).abs() < 1e-5, "{} at {u}", spec.name);
            }
        }
    }

    #[test]
    fn log_knob_midpoint_is_geometric_mean() {
        let tone = Knob::DistortionToneHz.spec();
        let mid = tone.denormalize(0.5);
        assert!((mid - (500.0f32 * 12000.0).sqrt()).abs() < 0.5, "{mid}");
    }

    #[test]
    fn defaults_are_in_range_and_bypass_every_effect() {
        let k = Knobs::default();
        for (spec, v) in KNOBS.iter().zip(k.values()) {
            assert!(spec.contains(*v), "{}", spec.name);
        }
        assert_eq!(k.get(Knob::DistortionMix), 0.0);
        assert_eq!(k.get(Knob::DelayMix), 0.0);
        assert_eq!(k.get(Knob::ReverbMix), 0.0);
    }

    #[test]
    fn json_missing_keys_take_defaults() {
        let k = Knobs::from_json(r#"{"delay.mix": 0.5}"#).unwrap();
        assert_eq!(k.get(Knob::DelayMix), 0.5);
        assert_eq!(k.get(Knob::DelayTimeMs), 350.0);
    }

    #[test]
    fn json_unknown_key_is_named() {
        let e = Knobs::from_json(r#"{"delay.tim_ms": 100}"#).unwrap_err();
        assert!(e.to_string().contains("delay.tim_ms"), "{e}");
    }

    #[test]
    fn json_out_of_range_value_is_named_with_range() {
        let e = Knobs::from_json(r#"{"delay.feedback": 0.95}"#).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("delay.feedback") && msg.contains("0.9"), "{msg}");
    }

    #[test]
    fn json_round_trip() {
        let k = Knobs::default().with(Knob::ReverbDecayS, 2.5).with(Knob::DistortionDriveDb, 12.0);
        let back = Knobs::from_json(&k.to_json().to_string()).unwrap();
        assert_eq!(k, back);
    }

    #[test]
    fn table_json_has_the_contract_fields() {
        let t = table_json();
        let first = &t[0];
        assert_eq!(first["name"], "distortion.drive_db");
        assert_eq!(first["skew"], "linear");
        assert_eq!(t[1]["skew"], "log");
        assert_eq!(t.as_array().unwrap().len(), 9);
        for key in ["name", "unit", "min", "max", "skew", "default"] {
            assert!(first.get(key).is_some(), "{key}");
        }
    }
}
