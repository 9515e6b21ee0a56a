//! The CLEAN reconstruction: six harmonic oscillators plus filtered noise.
//!
//! Controls arrive once per control frame (250 frames/s by default, see
//! [`ModelSpec`](crate::ModelSpec)); frame `j` describes time `t_j = j / frame_rate`.
//! Audio between `t_j` and `t_{j+1}` interpolates from frame `j` to frame `j+1`, so a
//! streaming renderer needs one frame of look-ahead: [`Synth::process`] asks for frame
//! `j+1` when it starts segment `j`. Offline, [`Synth::prime`] hands it frame 0 first
//! and the output is aligned with the frames; live, without priming, every frame sounds
//! one frame later (starting from silence, so phases differ from the offline render).
//!
//! At a host rate `sr`, segment `j` holds the samples `n` with
//! `⌈j·sr/fr⌉ ≤ n < ⌈(j+1)·sr/fr⌉`, so a frame spans a whole number of samples on
//! average `sr/fr` (176.4 at 44.1 kHz) and the timing never drifts.

pub mod filtered_noise;
pub mod harmonic;

pub use filtered_noise::FilteredNoise;
pub use harmonic::HarmonicBank;

use crate::ModelSpec;

/// One control frame for the whole synth.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthFrame {
    /// Fundamental per voice, Hz. `[voices]`
    pub f0_hz: Vec<f32>,
    /// Overall linear amplitude per voice. `[voices]`
    pub amplitude: Vec<f32>,
    /// Harmonic distribution per voice, non-negative, each row summing to 1.
    /// `[voices × harmonics]`, voice-major.
    pub harmonics: Vec<f32>,
    /// Linear magnitudes of the noise filter at `noise_bands` frequencies spaced evenly
    /// from 0 Hz to the model's Nyquist. `[noise_bands]`
    pub noise: Vec<f32>,
}

impl SynthFrame {
    pub fn silent(spec: &ModelSpec) -> Self {
        SynthFrame {
            f0_hz: vec![0.0; spec.voices],
            amplitude: vec![0.0; spec.voices],
            harmonics: vec![0.0; spec.voices * spec.harmonics],
            noise: vec![0.0; spec.noise_bands],
        }
    }

    /// Copies `other` into `self` without allocating (both built from the same spec).
    pub fn copy_from(&mut self, other: &SynthFrame) {
        self.f0_hz.copy_from_slice(&other.f0_hz);
        self.amplitude.copy_from_slice(&other.amplitude);
        self.harmonics.copy_from_slice(&other.harmonics);
        self.noise.copy_from_slice(&other.noise);
    }
}

/// Sample positions of control frames at a host rate.
#[derive(Debug, Clone, Copy)]
pub struct FrameClock {
    samples_per_frame: f64,
}

impl FrameClock {
    pub fn new(sample_rate: f32, frame_rate: f64) -> Self {
        FrameClock { samples_per_frame: sample_rate as f64 / frame_rate }
    }

    /// First sample of segment `j`: `⌈j · sr / fr⌉`.
    pub fn boundary(&self, j: u64) -> u64 {
        // The small guard keeps exact multiples (j·176.4 = 882.0) from rounding up.
        (j as f64 * self.samples_per_frame - 1e-7).ceil().max(0.0) as u64
    }

    pub fn segment_len(&self, j: u64) -> usize {
        (self.boundary(j + 1) - self.boundary(j)) as usize
    }

    /// Longest segment at this rate.
    pub fn max_segment_len(&self) -> usize {
        self.samples_per_frame.ceil() as usize
    }

    /// Shortest segment at this rate.
    pub fn min_segment_len(&self) -> usize {
        self.samples_per_frame.floor() as usize
    }

    /// Interpolation position of sample `n` inside segment `j`, in `[0, 1)`.
    pub fn position(&self, j: u64, n: u64) -> f64 {
        n as f64 / self.samples_per_frame - j as f64
    }

    pub fn samples_per_frame(&self) -> f64 {
        self.samples_per_frame
    }
}

/// Harmonic bank + filtered noise driven by one frame clock.
pub struct Synth {
    clock: FrameClock,
    harmonic: HarmonicBank,
    noise: FilteredNoise,
    next: SynthFrame,
    /// Current segment index and absolute sample index.
    segment: u64,
    sample: u64,
}

impl Synth {
    /// A synth rendering `spec`'s controls at `sample_rate`, with noise drawn from `seed`.
    pub fn new(spec: &ModelSpec, sample_rate: f32, seed: u64) -> Self {
        let clock = FrameClock::new(sample_rate, spec.frame_rate());
        Synth {
            clock,
            harmonic: HarmonicBank::new(spec, sample_rate),
            noise: FilteredNoise::new(spec, sample_rate, seed),
            next: SynthFrame::silent(spec),
            segment: 0,
            sample: 0,
        }
    }

    /// Back to silence at time 0, noise restarted from its seed. The held frame is
    /// silenced too: a caller that has no frame ready after a reset hears nothing, not the
    /// last frame before it.
    pub fn reset(&mut self) {
        self.harmonic.reset();
        self.noise.reset();
        self.next.amplitude.fill(0.0);
        self.next.harmonics.fill(0.0);
        self.next.noise.fill(0.0);
        self.segment = 0;
        self.sample = 0;
    }

    /// Makes `frame` the controls at time 0 (offline rendering, aligned with the frames).
    /// Call right after [`Synth::new`] or [`Synth::reset`].
    pub fn prime(&mut self, frame: &SynthFrame) {
        self.harmonic.prime(frame);
        self.noise.prime(frame, &self.clock);
    }

    pub fn clock(&self) -> &FrameClock {
        &self.clock
    }

    /// Renders `out.len()` samples (overwriting `out`). `next_frame` is called at the
    /// start of every segment `j` to fill in frame `j+1`; it may leave the buffer as it
    /// is to hold the previous frame.
    pub fn process(&mut self, out: &mut [f32], next_frame: &mut dyn FnMut(&mut SynthFrame)) {
        out.fill(0.0);
        let mut done = 0;
        while done < out.len() {
            let seg_start = self.clock.boundary(self.segment);
            let seg_end = self.clock.boundary(self.segment + 1);
            if self.sample == seg_start {
                next_frame(&mut self.next);
                self.harmonic.push(&self.next);
                self.noise.push(&self.next, &self.clock, self.segment);
            }
            let n = ((seg_end - self.sample) as usize).min(out.len() - done);
            let chunk = &mut out[done..done + n];
            self.harmonic.render(chunk, &self.clock, self.segment, self.sample);
            self.noise.render(chunk, (self.sample - seg_start) as usize);
            self.sample += n as u64;
            done += n;
            if self.sample == seg_end {
                self.noise.end_segment(self.clock.segment_len(self.segment));
                self.segment += 1;
            }
        }
    }

    /// Offline render of `frames` (frame `j` at time `j / frame_rate`), the last frame
    /// held to the end of its segment.
    pub fn render(spec: &ModelSpec, sample_rate: f32, seed: u64, frames: &[SynthFrame]) -> Vec<f32> {
        let mut synth = Synth::new(spec, sample_rate, seed);
        let Some(first) = frames.first() else { return Vec::new() };
        synth.prime(first);
        let len = synth.clock.boundary(frames.len() as u64) as usize;
        let mut out = vec![0.0; len];
        let mut next = 1;
        synth.process(&mut out, &mut |f| {
            if let Some(frame) = frames.get(next) {
                f.copy_from(frame);
            } else {
                f.copy_from(&frames[frames.len() - 1]);
            }
            next += 1;
        });
        out
    }
}
