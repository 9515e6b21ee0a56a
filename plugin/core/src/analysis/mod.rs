//! Analysis at the model frame rate: A-weighted loudness, monophonic f0 + confidence
//! (YIN), MFCC. All work on audio at the model rate ([`crate::ModelSpec`]); frame `i`
//! is centred on sample `i · hop` (zero padding at the edges), so there are
//! `⌈len / hop⌉` frames, the same frames the synth renders. The one exception is the
//! decoder's loudness control ([`ChannelFeatures`]), which reads the samples up to
//! `(i + 1) · hop` as the live trackers do.

pub mod comb;
pub mod echo;
pub mod loudness;
pub mod mfcc;
pub mod pitch;
pub mod profiles;
pub mod room;
pub mod tail;

pub use loudness::Loudness;
pub use mfcc::Mfcc;
pub use pitch::Yin;

use serde::{Deserialize, Serialize};

use crate::ModelSpec;

/// Copies the `out.len()` samples centred on `center` (zero outside the signal).
pub fn centered_frame(signal: &[f32], center: usize, out: &mut [f32]) {
    frame_from(signal, center as isize - (out.len() / 2) as isize, out);
}

/// Copies the `out.len()` samples that end just before `end` (zero outside the signal).
pub fn trailing_frame(signal: &[f32], end: usize, out: &mut [f32]) {
    frame_from(signal, end as isize - out.len() as isize, out);
}

fn frame_from(signal: &[f32], start: isize, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let at = start + i as isize;
        *o = if at >= 0 && (at as usize) < signal.len() { signal[at as usize] } else { 0.0 };
    }
}

/// Periodic Hann window.
pub fn hann(len: usize) -> Vec<f32> {
    (0..len).map(|n| 0.5 - 0.5 * (std::f32::consts::TAU * n as f32 / len as f32).cos()).collect()
}

/// Per-frame controls of one channel (one string, or a mono mix). f0 and confidence are
/// centred on `i · hop`; the loudness of frame `i` reads the [`loudness::FRAME`] samples
/// up to `(i + 1) · hop` ([`Loudness::track_trailing`]), the samples the live hex tracker
/// reads, so a note's loudness leaves the floor in the frame the note starts, never
/// before. With centred windows it rose half a window (8 frames) early, and a decoder
/// trained on that learned to hold 4–5 frames after the rise, which came out as
/// 16–20 ms of extra latency on a MIDI note-on (a step at the note-on; 2026-12-06).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelFeatures {
    pub f0_hz: Vec<f32>,
    pub confidence: Vec<f32>,
    pub loudness_db: Vec<f32>,
}

/// f0, confidence and loudness of one channel at the model rate.
pub fn channel_features(signal: &[f32], spec: &ModelSpec) -> ChannelFeatures {
    features_with(Yin::new(spec.sample_rate as f32), signal, spec)
}

/// f0, confidence and loudness of string `string` (0 = low E) of a hexaphonic
/// recording, with the pitch search held to that string's range ([`pitch::string_range`]).
pub fn string_features(signal: &[f32], spec: &ModelSpec, string: usize) -> ChannelFeatures {
    let (f_min, f_max) = pitch::string_range(string);
    features_with(Yin::with_range(spec.sample_rate as f32, f_min, f_max), signal, spec)
}

fn features_with(yin: Yin, signal: &[f32], spec: &ModelSpec) -> ChannelFeatures {
    let (f0_hz, confidence) = yin.track(signal, spec.hop);
    let loudness_db = Loudness::new(spec.sample_rate as f32).track_trailing(signal, spec.hop);
    ChannelFeatures { f0_hz, confidence, loudness_db }
}

/// What the z-encoder hears of a wet clip: MFCC frames every `spec.encoder_hop` samples
/// (`[frames × spec.mfcc]`, frame-major) and the clip's echo profile followed, when
/// `spec.clip_profiles`, by its clip profiles ([`profiles::clip_profiles`]) and, when
/// `spec.comb_reads`, by its comb reads ([`comb::comb_reads`], then the persistence with
/// `spec.comb_persistence` and the delay with `spec.comb_delay`) and, when
/// `spec.tail_reads`, by its tail reads ([`tail::tail_reads`]) and, when `spec.room_reads`,
/// by its room reads ([`room::room_reads`]) (`[spec.profile_len()]`).
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderInput {
    pub mfcc: Vec<f32>,
    pub frames: usize,
    pub echo: Vec<f32>,
}

/// The z-encoder's input for `signal` (mono, at the model rate).
pub fn encoder_input(signal: &[f32], spec: &ModelSpec) -> EncoderInput {
    let mfcc = Mfcc::new(spec.sample_rate as f32, spec.mfcc).track(signal, spec.encoder_hop);
    let frames = mfcc.len() / spec.mfcc.max(1);
    let sr = spec.sample_rate as f32;
    let cepstrum = echo::cepstrum(signal);
    let mut profile = echo::profile_of(&cepstrum, sr, &spec.echo);
    let d = (spec.comb_reads || spec.room_reads).then(|| comb::echo_delay(&cepstrum, &profile, sr, &spec.echo)).flatten();
    let comb = spec.comb_reads.then(|| {
        let mut reads = match spec.comb_coverage {
            true => comb::covered_comb_reads(signal, &cepstrum, d),
            false => comb::comb_reads(&cepstrum, d),
        }
        .to_vec();
        if spec.comb_persistence {
            reads.push(comb::persistence(signal, &cepstrum, d));
        }
        if spec.comb_delay {
            reads.push(comb::delay_read(d, sr));
        }
        reads
    });
    if spec.clip_profiles {
        let more = profiles::clip_profiles(signal, sr, &profile, &spec.echo);
        profile.extend(more);
    }
    profile.extend(comb.into_iter().flatten());
    if spec.tail_reads {
        profile.extend(tail::tail_reads(signal, sr));
    }
    if spec.room_reads {
        profile.extend(room::room_reads(signal, sr, d));
    }
    EncoderInput { mfcc, frames, echo: profile }
}
