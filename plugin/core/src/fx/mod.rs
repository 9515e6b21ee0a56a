//! The WET reconstruction: distortion → delay → reverb, each with the knobs of
//! [`crate::knobs`] as its parameters (physical units, the same at any sample rate).

pub mod delay;
pub mod distortion;
pub mod partitioned_conv;
pub mod reverb;

pub use delay::{Delay, DelayParams};
pub use distortion::{Distortion, DistortionParams};
pub use partitioned_conv::PartitionedConvolver;
pub use reverb::{Reverb, ReverbParams};

use crate::knobs::{Knob, Knobs};

/// Values this small are flushed to zero in recursive state, so a decaying tail never
/// reaches subnormal floats (which cost ~100× on some CPUs).
#[inline]
pub(crate) fn flush_denormal(x: f32) -> f32 {
    if x.abs() < 1e-20 { 0.0 } else { x }
}

impl Knobs {
    pub fn distortion(&self) -> DistortionParams {
        DistortionParams {
            drive_db: self.get(Knob::DistortionDriveDb),
            tone_hz: self.get(Knob::DistortionToneHz),
            mix: self.get(Knob::DistortionMix),
        }
    }

    pub fn delay(&self) -> DelayParams {
        DelayParams {
            time_ms: self.get(Knob::DelayTimeMs),
            feedback: self.get(Knob::DelayFeedback),
            mix: self.get(Knob::DelayMix),
        }
    }

    pub fn reverb(&self) -> ReverbParams {
        ReverbParams {
            decay_s: self.get(Knob::ReverbDecayS),
            damping: self.get(Knob::ReverbDamping),
            mix: self.get(Knob::ReverbMix),
        }
    }
}

struct ChannelChain {
    distortion: Distortion,
    delay: Delay,
    reverb: Reverb,
}

impl ChannelChain {
    fn process(&mut self, buf: &mut [f32]) {
        self.distortion.process(buf);
        self.delay.process(buf);
        self.reverb.process(buf);
    }
}

/// The FX chain for `channels` channels (each its own state; the reverb's impulse
/// response is seeded per channel, so stereo comes out decorrelated).
pub struct FxChain {
    channels: Vec<ChannelChain>,
    knobs: Knobs,
}

/// Block size of [`FxChain::render_offline`].
pub const OFFLINE_BLOCK: usize = 4096;

/// Seed of channel 0's reverb impulse response; channel `c` uses `REVERB_SEED + c`.
pub const REVERB_SEED: u64 = 0x6464_7370;

impl FxChain {
    pub fn new(sample_rate: f32, channels: usize, knobs: &Knobs) -> Self {
        Self::with_reverb_seed(sample_rate, channels, knobs, REVERB_SEED)
    }

    /// The chain with channel `c`'s reverb impulse response drawn from `seed + c` instead
    /// of [`REVERB_SEED`] + c: the same room's decay, damping and mix with other noise,
    /// as a reverb the model never heard (for evaluation).
    pub fn with_reverb_seed(sample_rate: f32, channels: usize, knobs: &Knobs, seed: u64) -> Self {
        let channels = (0..channels)
            .map(|c| ChannelChain {
                distortion: Distortion::new(sample_rate, knobs.distortion()),
                delay: Delay::new(sample_rate, knobs.delay()),
                reverb: Reverb::new(sample_rate, seed.wrapping_add(c as u64), knobs.reverb()),
            })
            .collect();
        FxChain { channels, knobs: *knobs }
    }

    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    /// Applies a knob setting. A change of reverb decay or damping rebuilds the impulse
    /// response (no allocation, but work proportional to its length).
    pub fn set_knobs(&mut self, knobs: &Knobs) {
        for ch in &mut self.channels {
            ch.distortion.set_params(knobs.distortion());
            ch.delay.set_params(knobs.delay());
            ch.reverb.set_params(knobs.reverb());
        }
        self.knobs = *knobs;
    }

    pub fn reset(&mut self) {
        for ch in &mut self.channels {
            ch.distortion.reset();
            ch.delay.reset();
            ch.reverb.reset();
        }
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Processes one block of channel `c` in place (a channel the chain was not built
    /// for passes through untouched).
    pub fn process_channel(&mut self, c: usize, buf: &mut [f32]) {
        if let Some(ch) = self.channels.get_mut(c) {
            ch.process(buf);
        }
    }

    /// Runs a fresh chain over whole signals in place, one block of [`OFFLINE_BLOCK`]
    /// samples at a time (the chain is block-size invariant; this is the offline path
    /// shared by `gddsp fx` and the training corpus, so both give identical samples).
    pub fn render_offline(sample_rate: f32, knobs: &Knobs, channels: &mut [Vec<f32>]) {
        Self::render_offline_with_reverb_seed(sample_rate, knobs, channels, REVERB_SEED);
    }

    /// [`FxChain::render_offline`] through [`FxChain::with_reverb_seed`].
    pub fn render_offline_with_reverb_seed(sample_rate: f32, knobs: &Knobs, channels: &mut [Vec<f32>], seed: u64) {
        let mut chain = FxChain::with_reverb_seed(sample_rate, channels.len(), knobs, seed);
        for (c, ch) in channels.iter_mut().enumerate() {
            for block in ch.chunks_mut(OFFLINE_BLOCK) {
                chain.process_channel(c, block);
            }
        }
    }

    /// Processes one block of every channel in place; buffers beyond the chain's
    /// channel count pass through untouched.
    pub fn process(&mut self, buffers: &mut [&mut [f32]]) {
        for (ch, buf) in self.channels.iter_mut().zip(buffers.iter_mut()) {
            ch.process(buf);
        }
    }
}
