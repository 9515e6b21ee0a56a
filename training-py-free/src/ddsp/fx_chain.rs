//! Twin of `plugin/core/src/fx/mod.rs`'s chain: distortion → delay → reverb with the
//! nine knobs of the knob table, and the map from normalized knob positions to values
//! along each knob's skew (`gddsp_core::knobs`): linear `min + u·(max − min)`, log
//! `min·(max/min)^u`.

use burn::tensor::{Device, Tensor};
use gddsp_core::fx::REVERB_SEED;
use gddsp_core::knobs::{Skew, KNOBS, KNOB_COUNT};
use gddsp_core::Knob;

use super::delay::delay;
use super::distortion::distortion;
use super::reverb::ReverbTwin;
use super::tensor;

/// Knob values `[B, 9]` from positions `u ∈ [0, 1]` `[B, 9]`.
pub fn denormalize(u: Tensor<2>) -> Tensor<2> {
    let device = u.device();
    let (mut lin_min, mut lin_span, mut log_min, mut log_span, mut is_log) = (vec![], vec![], vec![], vec![], vec![]);
    for k in KNOBS.iter() {
        let log = k.skew == Skew::Log;
        lin_min.push(k.min);
        lin_span.push(k.max - k.min);
        log_min.push(if log { k.min.ln() } else { 0.0 });
        log_span.push(if log { (k.max / k.min).ln() } else { 0.0 });
        is_log.push(if log { 1.0 } else { 0.0 });
    }
    let row = |v: Vec<f32>| tensor(v, [1, KNOB_COUNT], &device);
    let u = u.clamp(0.0, 1.0);
    let linear = u.clone() * row(lin_span) + row(lin_min);
    let log = (u * row(log_span) + row(log_min)).exp();
    let w = row(is_log);
    log * w.clone() + linear * w.neg().add_scalar(1.0)
}

/// The twin of one channel's `FxChain` (channel `c` seeds its reverb with `REVERB_SEED + c`).
pub struct FxChainTwin {
    pub reverb: ReverbTwin,
    pub sample_rate: f32,
}

impl FxChainTwin {
    pub fn new(sample_rate: f32, channel: u64, device: &Device) -> Self {
        FxChainTwin { reverb: ReverbTwin::new(REVERB_SEED + channel, sample_rate, device), sample_rate }
    }

    /// `x` `[B, N]` through the chain with knob values `[B, 9]` (table order).
    pub fn forward(&self, x: Tensor<2>, knobs: Tensor<2>) -> Tensor<2> {
        let [b, _] = knobs.dims();
        let col = |k: Knob| knobs.clone().slice([0..b, k as usize..k as usize + 1]);
        let x = distortion(x, col(Knob::DistortionDriveDb), col(Knob::DistortionToneHz), col(Knob::DistortionMix), self.sample_rate);
        let x = delay(x, col(Knob::DelayTimeMs), col(Knob::DelayFeedback), col(Knob::DelayMix), self.sample_rate);
        self.reverb.forward(x, col(Knob::ReverbDecayS), col(Knob::ReverbDamping), col(Knob::ReverbMix))
    }
}
