//! The model spec: what training and the plugin must agree on.
//!
//! DDSP's choices are the starting point: 16 kHz audio, a control frame every 64 samples
//! (250 frames/s), 60 harmonics per oscillator, 65 noise bands. The spec is serialised
//! into `models/model.json` so the plugin renders at the rate the model learned.

use serde::{Deserialize, Serialize};

use crate::analysis::{comb, profiles, room, tail};
use crate::analysis::echo::EchoGrid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Audio rate the model sees and renders, Hz.
    pub sample_rate: u32,
    /// Samples per control frame at `sample_rate`.
    pub hop: usize,
    /// Harmonics per oscillator.
    pub harmonics: usize,
    /// Noise filter magnitudes per frame, spaced linearly from 0 Hz to `sample_rate / 2`.
    pub noise_bands: usize,
    /// Harmonic oscillators (strings).
    pub voices: usize,
    /// MFCC coefficients per frame for the z-encoder.
    pub mfcc: usize,
    /// Samples between the z-encoder's MFCC frames at `sample_rate` (a coarser clock than
    /// the synth's: the encoder summarises a whole clip).
    #[serde(default = "default_encoder_hop")]
    pub encoder_hop: usize,
    /// The encoder's echo-profile grid ([`crate::analysis::echo`]).
    #[serde(default)]
    pub echo: EchoGrid,
    /// The encoder's second input carries the clip profiles after the echo cepstrum
    /// ([`crate::analysis::profiles`]: envelope echo and its reads, decay rates, crest and
    /// level, brightness on level). Models written before they existed load with this off.
    #[serde(default)]
    pub clip_profiles: bool,
    /// The encoder's second input ends with the comb reads ([`crate::analysis::comb`]:
    /// the delay's mix and feedback read off the cepstrum). Models written before them
    /// load with this off.
    #[serde(default)]
    pub comb_reads: bool,
    /// The comb reads are divided by the share of the clip whose echoes fall inside it
    /// ([`crate::analysis::comb::covered_comb_reads`]). Models written before it read
    /// them uncovered.
    #[serde(default)]
    pub comb_coverage: bool,
    /// The comb reads end with the echo's persistence over the clip's segments
    /// ([`crate::analysis::comb::persistence`]). Models written before it have five.
    #[serde(default)]
    pub comb_persistence: bool,
    /// The comb reads end with ln of the delay they were read at, in ms
    /// ([`crate::analysis::comb::delay_read`], which says why). Models written before it
    /// do without.
    #[serde(default)]
    pub comb_delay: bool,
    /// The encoder's second input ends, after the comb reads, with the tail reads
    /// ([`crate::analysis::tail`]: the reverb's decay, damping and mix read off the free
    /// decay after the playing stops). Models written before them load with this off.
    #[serde(default)]
    pub tail_reads: bool,
    /// The encoder's second input ends, after the tail reads, with the room reads
    /// ([`crate::analysis::room`]: the reverb's mix and decay read off what the clip's
    /// segments share in their cepstra). Models written before them load with this off.
    #[serde(default)]
    pub room_reads: bool,
}

fn default_encoder_hop() -> usize {
    512
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec { sample_rate: 16_000, hop: 64, harmonics: 60, noise_bands: 65, voices: 6, mfcc: 30, encoder_hop: default_encoder_hop(), echo: EchoGrid::default(), clip_profiles: true, comb_reads: false, comb_coverage: false, comb_persistence: false, comb_delay: false, tail_reads: false, room_reads: false }
    }
}

impl ModelSpec {
    /// Length of the encoder's second input: the echo cepstrum, the clip profiles, the
    /// comb reads, the tail reads, the room reads.
    pub fn profile_len(&self) -> usize {
        self.room_offset() + if self.room_reads { room::ROOM_LEN } else { 0 }
    }

    /// Where the room reads start in the encoder's second input (after the tail reads).
    pub fn room_offset(&self) -> usize {
        self.tail_offset() + if self.tail_reads { tail::TAIL_LEN } else { 0 }
    }

    /// Where the tail reads start in the encoder's second input (after the comb reads).
    pub fn tail_offset(&self) -> usize {
        self.comb_offset() + if self.comb_reads { self.comb_len() } else { 0 }
    }

    /// Values in the comb reads when the model has them.
    pub fn comb_len(&self) -> usize {
        comb::COMB_LEN + self.comb_persistence as usize + self.comb_delay as usize
    }

    /// Where the comb reads start in the encoder's second input (after the clip profiles).
    pub fn comb_offset(&self) -> usize {
        self.echo.bins + if self.clip_profiles { profiles::profiles_len(&self.echo) } else { 0 }
    }

    /// Where ln D* (the strongest echo's spacing, ln ms) sits in the encoder's second
    /// input, for models with the clip profiles.
    pub fn strongest_echo_index(&self) -> Option<usize> {
        self.clip_profiles.then(|| self.echo.bins + profiles::reads_offset(&self.echo))
    }

    /// Control frames per second.
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate as f64 / self.hop as f64
    }

    /// Highest frequency a noise band describes, Hz.
    pub fn noise_max_hz(&self) -> f32 {
        self.sample_rate as f32 / 2.0
    }

    /// Number of control frames describing `samples` samples at the model rate
    /// (frame `i` is centred on sample `i · hop`).
    pub fn frames_for(&self, samples: usize) -> usize {
        samples.div_ceil(self.hop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_ddsp_250_frames_per_second() {
        let s = ModelSpec::default();
        assert_eq!(s.frame_rate(), 250.0);
        assert_eq!(s.frames_for(16_000), 250);
        assert_eq!(s.frames_for(16_001), 251);
    }

    #[test]
    fn round_trips_through_json() {
        let s = ModelSpec::default();
        let back: ModelSpec = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(s, back);
    }

    #[test]
    fn a_spec_written_before_the_clip_profiles_reads_the_echo_cepstrum_only() {
        let old = r#"{"sample_rate":16000,"hop":64,"harmonics":60,"noise_bands":65,"voices":6,"mfcc":30,"encoder_hop":512,"echo":{"bins":96,"min_ms":16.0,"max_ms":1200.0}}"#;
        let s: ModelSpec = serde_json::from_str(old).unwrap();
        assert!(!s.clip_profiles);
        assert_eq!(s.profile_len(), 96);
        assert_eq!(ModelSpec::default().profile_len(), 96 + 96 + 7 + 70 + 16 + 2);
        assert_eq!(s.strongest_echo_index(), None);
    }
}
