//! The tone-clone controls, as guitarists know them from DDSP timbre transfer, applied to
//! the live strings' frames before the decoder sees them.
//!
//! Per string and frame, in this order:
//! 1. *confidence gate*: a frame whose pitch confidence is below the gate is silence;
//! 2. *auto adjust*: the player's loudness is mapped onto the training set's voiced range
//!    (mean and spread matched, from running statistics of the player's voiced frames),
//!    and the pitch moved by whole octaves toward the training set's pitch centre;
//! 3. *pitch shift* (semitones), then *autotune* (`midi += amount · (round(midi) − midi)`);
//! 4. *loudness shift* (dB).
//!
//! An unvoiced frame holds the string's last voiced f0 (as in training,
//! [`crate::inference::controls`]). Harmonics and noise gains scale the decoder's output
//! ([`ToneControls::apply_gains`]). Auto adjust moves the level the decoder hears, not the
//! level the player hears: each string's decoded amplitude is scaled back by what the
//! mapping took off that frame ([`ToneShaper::output_gains`]; the noise by the mean
//! shift), so the decoder plays its training range's timbre near the player's level. A
//! training set's voiced centre can sit 40 dB under a guitar played into the plugin:
//! without this, switching auto adjust on made a plucked G3 60 dB quieter. The decoders
//! render only roughly at the loudness they are fed, so the level lands within about
//! 12 dB (measured on the shipped model and the one before), not exactly. A string that
//! is not sounding (or that the gate closed) plays nothing, and the noise stops while no
//! string sounds: silence in, silence out, as offline.

use crate::analysis::loudness::{sounding, FLOOR_DB};
use crate::analysis::pitch::open_string_hz;
use crate::inference::controls::{decoder_frame, Normalization, VOICED};
use crate::live::{hz_to_midi, midi_to_hz, StringFrame, STRINGS};
use crate::synth::SynthFrame;

/// Values a guitarist sets; ranges are the plugin's parameter ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneControls {
    /// −24…24 semitones.
    pub pitch_shift_st: f32,
    /// −24…24 dB.
    pub loudness_shift_db: f32,
    /// 0…1: frames with less pitch confidence are silent.
    pub confidence_gate: f32,
    /// 0…1: how far each note is pulled toward the nearest semitone.
    pub autotune: f32,
    /// −24…12 dB on the six oscillators.
    pub harmonics_gain_db: f32,
    /// −48…12 dB on the filtered noise.
    pub noise_gain_db: f32,
    pub auto_adjust: bool,
}

impl Default for ToneControls {
    fn default() -> Self {
        ToneControls { pitch_shift_st: 0.0, loudness_shift_db: 0.0, confidence_gate: 0.0, autotune: 0.0, harmonics_gain_db: 0.0, noise_gain_db: 0.0, auto_adjust: true }
    }
}

impl ToneControls {
    /// Scales a decoded frame's oscillator amplitudes and noise magnitudes.
    pub fn apply_gains(&self, frame: &mut SynthFrame) {
        let h = db_to_gain(self.harmonics_gain_db);
        let n = db_to_gain(self.noise_gain_db);
        frame.amplitude.iter_mut().for_each(|a| *a *= h);
        frame.noise.iter_mut().for_each(|m| *m *= n);
    }
}

pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Voiced frames the running statistics need before auto adjust acts (0.2 s).
const WARM_UP_FRAMES: f32 = 50.0;
/// Time constant of the running statistics, in frames (≈ 8 s at 250 frames/s).
const STATS_FRAMES: f32 = 2_000.0;
/// Spread of a normal distribution between its 5th and 95th percentiles, in σ.
const P5_P95_SIGMAS: f32 = 3.29;
/// The most auto adjust widens or narrows the player's dynamics. A few notes understate a
/// player's spread (one plucked note decaying 20 dB read σ ≈ 6 dB, a training set's
/// voiced range σ ≈ 20 dB: unbounded, its tail was pushed 3.5× faster into silence).
const MAX_SPREAD_RATIO: f32 = 1.5;
/// The most [`ToneShaper::output_gains`] give back, either way (a guard, not a tuning).
const MAX_LEVEL_SHIFT_DB: f32 = 60.0;

/// Running mean and variance of the player's voiced frames (exponentially weighted).
#[derive(Debug, Clone, Copy)]
struct Running {
    weight: f32,
    mean: f32,
    var: f32,
}

impl Running {
    const EMPTY: Running = Running { weight: 0.0, mean: 0.0, var: 0.0 };

    fn push(&mut self, x: f32) {
        self.weight = (self.weight + 1.0).min(STATS_FRAMES);
        let a = 1.0 / self.weight;
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }
}

/// Turns live string frames into the decoder's inputs, frame by frame.
#[derive(Debug, Clone)]
pub struct ToneShaper {
    norm: Normalization,
    held_hz: [f32; STRINGS],
    loudness: Running,
    pitch: Running,
    /// Linear gains that undo auto adjust's level change: per string, then the noise.
    gains: [f32; STRINGS + 1],
}

impl ToneShaper {
    pub fn new(norm: &Normalization) -> Self {
        ToneShaper { norm: norm.clone(), held_hz: std::array::from_fn(open_string_hz), loudness: Running::EMPTY, pitch: Running::EMPTY, gains: [1.0; STRINGS + 1] }
    }

    /// Gains for the last shaped frame's decoded output that give back the level auto
    /// adjust moved (all 1 while it is off): per string, the frame's own loudness over the
    /// loudness the decoder was given; for the noise, the player's mean voiced loudness
    /// over the training centre it was mapped onto. A string that is not sounding (or
    /// that the confidence gate closed) gets 0, and the noise 0 while no string sounds:
    /// silence in, silence out, as offline ([`crate::inference::controls::gate_silence`]).
    pub fn output_gains(&self) -> &[f32; STRINGS + 1] {
        &self.gains
    }

    /// Forgets the player (held pitches, running statistics). Allocation-free: the host
    /// calls it on the audio thread when processing starts.
    pub fn reset(&mut self) {
        self.held_hz = std::array::from_fn(open_string_hz);
        self.loudness = Running::EMPTY;
        self.pitch = Running::EMPTY;
        self.gains = [1.0; STRINGS + 1];
    }

    /// Writes the oscillators' f0 (`[STRINGS]`, Hz) and the decoder's standardised
    /// controls (`[STRINGS × 3]`) for `frame`.
    pub fn shape(&mut self, frame: &StringFrame, c: &ToneControls, f0_out: &mut [f32], controls_out: &mut [f32]) {
        for s in 0..STRINGS {
            if frame.confidence[s] >= VOICED && frame.f0_hz[s] > 0.0 && sounding(frame.loudness_db[s]) {
                self.loudness.push(frame.loudness_db[s]);
                self.pitch.push(hz_to_midi(frame.f0_hz[s]));
            }
        }
        let adjust = c.auto_adjust && self.loudness.weight >= WARM_UP_FRAMES;
        let n = &self.norm;
        let (target_mean, target_sd) = ((n.voiced_loudness_db_p5 + n.voiced_loudness_db_p95) / 2.0, (n.voiced_loudness_db_p95 - n.voiced_loudness_db_p5) / P5_P95_SIGMAS);
        let loud_scale = (target_sd.max(1.0) / self.loudness.var.sqrt().max(3.0)).clamp(1.0 / MAX_SPREAD_RATIO, MAX_SPREAD_RATIO);
        let octaves = if adjust { (((n.f0_midi_p5 + n.f0_midi_p95) / 2.0 - self.pitch.mean) / 12.0).round() * 12.0 } else { 0.0 };
        let give_back = |db: f32| if adjust { db_to_gain(db.clamp(-MAX_LEVEL_SHIFT_DB, MAX_LEVEL_SHIFT_DB)) } else { 1.0 };
        let mean_back = give_back(self.loudness.mean - target_mean);
        self.gains[STRINGS] = mean_back;

        let mut any = false;
        for s in 0..STRINGS {
            let gated = frame.confidence[s] < c.confidence_gate;
            let voiced = !gated && frame.confidence[s] >= VOICED && frame.f0_hz[s] > 0.0;
            let mut loud = if gated { FLOOR_DB } else { frame.loudness_db[s] };
            // Silence in, silence out, as offline (`inference::controls::gate_silence`): a
            // string the player is not sounding (or the gate closed) plays nothing.
            let silent = !sounding(loud);
            any |= !silent;
            self.gains[s] = mean_back;
            if adjust && !silent {
                let played = loud;
                loud = target_mean + (loud - self.loudness.mean) * loud_scale;
                self.gains[s] = give_back(played - loud);
            }
            if sounding(loud) {
                loud = (loud + c.loudness_shift_db).max(FLOOR_DB);
            }
            if voiced {
                let mut midi = hz_to_midi(frame.f0_hz[s]) + octaves + c.pitch_shift_st;
                midi += c.autotune.clamp(0.0, 1.0) * (midi.round() - midi);
                self.held_hz[s] = midi_to_hz(midi).clamp(20.0, 8_000.0);
            }
            let confidence = if gated { 0.0 } else { frame.confidence[s] };
            f0_out[s] = self.held_hz[s];
            controls_out[s * 3..s * 3 + 3].copy_from_slice(&decoder_frame(self.held_hz[s], loud, confidence, n));
            if silent {
                self.gains[s] = 0.0;
            }
        }
        // The noise plays only while some string sounds.
        if !any {
            self.gains[STRINGS] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm() -> Normalization {
        Normalization {
            mfcc_mean: vec![],
            mfcc_std: vec![],
            echo_mean: vec![],
            echo_std: vec![],
            f0_midi_mean: 55.0,
            f0_midi_std: 8.0,
            f0_midi_p5: 45.0,
            f0_midi_p95: 70.0,
            loudness_db_mean: -60.0,
            loudness_db_std: 20.0,
            voiced_loudness_db_p5: -40.0,
            voiced_loudness_db_p95: -10.0,
        }
    }

    fn one_string(hz: f32, conf: f32, db: f32) -> StringFrame {
        let mut f = StringFrame::SILENT;
        f.f0_hz[2] = hz;
        f.confidence[2] = conf;
        f.loudness_db[2] = db;
        f
    }

    fn run(c: &ToneControls, frames: &[StringFrame]) -> ([f32; STRINGS], [f32; STRINGS * 3]) {
        let mut shaper = ToneShaper::new(&norm());
        let (mut f0, mut ctl) = ([0.0; STRINGS], [0.0; STRINGS * 3]);
        for f in frames {
            shaper.shape(f, c, &mut f0, &mut ctl);
        }
        (f0, ctl)
    }

    fn loudness_of(ctl: &[f32], s: usize) -> f32 {
        ctl[s * 3 + 1] * 20.0 - 60.0
    }

    #[test]
    fn pitch_shift_and_autotune() {
        let off = ToneControls { auto_adjust: false, ..Default::default() };
        // 150 Hz is D3 (MIDI 50) + 36.9 cents.
        let (f0, _) = run(&ToneControls { pitch_shift_st: 12.0, ..off }, &[one_string(150.0, 0.9, -20.0)]);
        assert!((f0[2] - 300.0).abs() < 0.01, "{}", f0[2]);
        let (f0, _) = run(&ToneControls { autotune: 1.0, ..off }, &[one_string(150.0, 0.9, -20.0)]);
        assert!((f0[2] - 146.832).abs() < 0.01, "{}", f0[2]);
        let (f0, _) = run(&ToneControls { autotune: 0.5, ..off }, &[one_string(150.0, 0.9, -20.0)]);
        assert!((hz_to_midi(f0[2]) - (50.0 + 0.5 * 0.3689)).abs() < 0.001, "{}", hz_to_midi(f0[2]));
        // Unsounded strings hold their open-string pitch.
        assert!((f0[0] - open_string_hz(0)).abs() < 0.01);
    }

    #[test]
    fn gate_silences_and_holds_pitch() {
        let c = ToneControls { confidence_gate: 0.8, auto_adjust: false, ..Default::default() };
        let (f0, ctl) = run(&c, &[one_string(200.0, 0.9, -20.0), one_string(300.0, 0.7, -20.0)]);
        assert!((f0[2] - 200.0).abs() < 1e-3, "a gated frame holds the last voiced pitch, got {}", f0[2]);
        assert!((loudness_of(&ctl, 2) - FLOOR_DB).abs() < 1e-3);
        assert_eq!(ctl[2 * 3 + 2], 0.0);
    }

    #[test]
    fn loudness_shift_moves_sounding_frames_only() {
        let c = ToneControls { loudness_shift_db: -6.0, auto_adjust: false, ..Default::default() };
        let (_, ctl) = run(&c, &[one_string(200.0, 0.9, -20.0)]);
        assert!((loudness_of(&ctl, 2) + 26.0).abs() < 1e-3);
        assert!((loudness_of(&ctl, 0) - FLOOR_DB).abs() < 1e-3, "a silent string stays at the floor");
    }

    #[test]
    fn auto_adjust_maps_a_quiet_high_player_onto_the_training_range() {
        // A player two octaves above the training centre (57.5) and 30 dB quieter.
        let frames: Vec<StringFrame> = (0..400).map(|i| one_string(midi_to_hz(81.0 + (i % 5) as f32), 0.9, -55.0 + (i % 2) as f32 * 10.0)).collect();
        let (f0, ctl) = run(&ToneControls::default(), &frames);
        let midi = hz_to_midi(f0[2]);
        assert!((midi - 61.0).abs() < 0.01, "moved down two octaves, got {midi}");
        // The player's mean (−50 dB) lands on the training centre (−25 dB); the spread
        // (σ 5 dB against the training set's 9.1) widens by at most MAX_SPREAD_RATIO.
        let last = loudness_of(&ctl, 2);
        assert!((last - (-25.0 + 5.0 * MAX_SPREAD_RATIO)).abs() < 0.5, "{last}");
        let (f0, _) = run(&ToneControls { auto_adjust: false, ..Default::default() }, &frames);
        assert!((hz_to_midi(f0[2]) - 85.0).abs() < 0.01);
    }

    #[test]
    fn auto_adjust_gives_the_level_it_moved_back_to_the_output() {
        // Steady at −50 dB then one frame at −40: the decoder hears the training centre
        // (−25 dB) and then some; the gains undo exactly what the mapping did.
        let mut frames: Vec<StringFrame> = (0..400).map(|_| one_string(220.0, 0.9, -50.0)).collect();
        frames.push(one_string(220.0, 0.9, -40.0));
        let mut shaper = ToneShaper::new(&norm());
        let (mut f0, mut ctl) = ([0.0; STRINGS], [0.0; STRINGS * 3]);
        for f in &frames {
            shaper.shape(f, &ToneControls::default(), &mut f0, &mut ctl);
        }
        let heard = loudness_of(&ctl, 2);
        let back = 20.0 * shaper.output_gains()[2].log10();
        assert!((heard + back - (-40.0)).abs() < 0.01, "decoder heard {heard} dB, given back {back} dB");
        // The noise gets the mean shift back: −50 → −25 dB is 25 dB off.
        let mean_back = 20.0 * shaper.output_gains()[STRINGS].log10();
        assert!((mean_back + 25.0).abs() < 0.6, "{mean_back}");
        assert_eq!(shaper.output_gains()[0], 0.0, "a silent string plays nothing");
        // Off: unity on the sounding string and the noise.
        shaper.shape(&one_string(220.0, 0.9, -40.0), &ToneControls { auto_adjust: false, ..Default::default() }, &mut f0, &mut ctl);
        assert_eq!((shaper.output_gains()[2], shaper.output_gains()[STRINGS]), (1.0, 1.0));
    }

    #[test]
    fn silence_in_is_silence_out() {
        let mut shaper = ToneShaper::new(&norm());
        let (mut f0, mut ctl) = ([0.0; STRINGS], [0.0; STRINGS * 3]);
        let off = ToneControls { auto_adjust: false, ..Default::default() };
        shaper.shape(&one_string(220.0, 0.9, -40.0), &off, &mut f0, &mut ctl);
        let g = *shaper.output_gains();
        assert_eq!(g, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], "only the sounding string and the noise");
        shaper.shape(&StringFrame::SILENT, &off, &mut f0, &mut ctl);
        assert!(shaper.output_gains().iter().all(|&g| g == 0.0), "nothing sounds: no noise either");
        // The confidence gate closes a string like silence does.
        shaper.shape(&one_string(220.0, 0.3, -40.0), &ToneControls { confidence_gate: 0.5, ..off }, &mut f0, &mut ctl);
        assert!(shaper.output_gains().iter().all(|&g| g == 0.0));
    }

    #[test]
    fn gains_scale_the_decoded_frame() {
        let spec = crate::ModelSpec::default();
        let mut frame = SynthFrame::silent(&spec);
        frame.amplitude.fill(1.0);
        frame.noise.fill(1.0);
        ToneControls { harmonics_gain_db: -6.0206, noise_gain_db: 6.0206, ..Default::default() }.apply_gains(&mut frame);
        assert!((frame.amplitude[0] - 0.5).abs() < 1e-4 && (frame.noise[3] - 2.0).abs() < 1e-4);
    }
}
