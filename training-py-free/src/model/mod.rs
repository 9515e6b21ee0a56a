//! The GDDSP model in burn: the z-encoder + FX decoder ([`encoder`]), the per-string synth
//! decoder ([`decoder`]), and the differentiable synth and FX chain (`crate::ddsp`) that
//! turn their outputs into the CLEAN and WET reconstructions.

pub mod decoder;
pub mod dense;
pub mod encoder;
pub mod gru;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use gddsp_core::ModelSpec;
use serde::{Deserialize, Serialize};

use crate::ddsp::filtered_noise::filtered_noise;
use crate::ddsp::fx_chain::{denormalize, FxChainTwin};
use crate::ddsp::harmonic::harmonic_bank;
pub use decoder::{Decoded, Decoder};
pub use encoder::Encoder;

/// Sizes of the networks (chosen by measurement, see the README's model section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub spec: ModelSpec,
    pub z_dim: usize,
    pub encoder_hidden: usize,
    pub decoder_hidden: usize,
    /// The delay time knob is also read off the strongest echo ([`encoder::DelayRead`]).
    /// Runs written before it load with this off.
    #[serde(default)]
    pub delay_read: bool,
    /// The delay's mix and feedback are also read off the comb reads ([`encoder::CombHead`];
    /// needs `spec.comb_reads`). Added to a trained model by `gddsp-train comb-head`.
    #[serde(default)]
    pub comb_head: bool,
    /// The comb head also gates the delay time: the comb's delay read (its last read, ln of
    /// the refined echo delay; needs `spec.comb_delay`) against the time the FX decoder and
    /// the delay read left. Comb heads fitted before it load with this off.
    #[serde(default)]
    pub comb_time: bool,
    /// The reverb's decay, damping and mix are also read off the tail reads
    /// ([`encoder::TailHead`]; needs `spec.comb_reads` and `spec.tail_reads`). Added to a
    /// model with the comb head by `gddsp-train tail-head`.
    #[serde(default)]
    pub tail_head: bool,
    /// The reverb's mix and decay are also read off the room reads
    /// ([`encoder::RoomHead`]; needs `spec.comb_reads`, `spec.tail_reads` and
    /// `spec.room_reads`). Added to a model with the tail head by `gddsp-train room-head`.
    #[serde(default)]
    pub room_head: bool,
}

impl ModelConfig {
    /// The shipped sizes with `voices` oscillators (6; 1 for the monophonic ablation).
    pub fn with_voices(voices: usize) -> Self {
        ModelConfig { spec: ModelSpec { voices, ..ModelSpec::default() }, z_dim: 32, encoder_hidden: 96, decoder_hidden: 128, delay_read: true, comb_head: false, comb_time: false, tail_head: false, room_head: false }
    }
}

/// How much of the spectral losses' gradient reaches the encoder (see [`DdspModel::forward`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradScale {
    pub z: f32,
    pub knobs: f32,
}

/// `x` in the forward pass, `s·∂L/∂x` in the backward pass.
pub fn scale_grad<const D: usize>(x: Tensor<D>, s: f32) -> Tensor<D> {
    if s == 1.0 {
        return x;
    }
    x.clone().detach().mul_scalar(1.0 - s) + x.mul_scalar(s)
}

/// Silence in, silence out, as the exported model plays
/// ([`gddsp_core::inference::controls::gate_silence`]): a voice whose input is silent
/// plays nothing, and the noise plays only while some voice sounds. `sounding` `[B, V, F]`
/// holds 1 or 0. Training and evaluation then judge the same sound; without it the loss
/// also spent itself on pushing silent voices to the decoder's floor.
pub fn gate_silence(decoded: Decoded, sounding: Tensor<3>) -> Decoded {
    let [b, _, f] = sounding.dims();
    let any = sounding.clone().max_dim(1).reshape([b, f, 1]);
    Decoded { amplitude: decoded.amplitude * sounding, noise: decoded.noise * any, ..decoded }
}

#[derive(Module, Debug)]
pub struct DdspModel {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

/// Everything one forward pass produces.
pub struct Reconstruction {
    pub z: Tensor<2>,
    /// Knob positions `[B, 9]`.
    pub knobs: Tensor<2>,
    pub clean: Tensor<2>,
    pub wet: Tensor<2>,
}

impl DdspModel {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        DdspModel { encoder: Encoder::new(cfg, device), decoder: Decoder::new(cfg, device) }
    }

    /// Synth controls → CLEAN audio `[B, F·hop]`: the oscillators at `f0_hz` `[B, V, F]`
    /// plus noise filtered from `noise` `[B, (F+1)·hop]`.
    pub fn render_clean(spec: &ModelSpec, decoded: &Decoded, f0_hz: Tensor<3>, noise: Tensor<2>) -> Tensor<2> {
        harmonic_bank(f0_hz, decoded.amplitude.clone(), decoded.harmonics.clone(), spec.sample_rate as f32, spec.hop) + filtered_noise(decoded.noise.clone(), noise, spec.hop)
    }

    /// The whole model: encoder inputs of the wet clip, decoder controls `[B, V, F, 3]`,
    /// oscillator f0 `[B, V, F]`, which voices sound `[B, V, F]` (1 or 0) and the noise
    /// stream → z, knobs, CLEAN and WET.
    /// `grad` scales the spectral losses' gradients where they enter the encoder (through
    /// z into the decoder, through the knobs into the FX chain); the values are unchanged.
    pub fn forward(&self, spec: &ModelSpec, chain: &FxChainTwin, mfcc: Tensor<3>, echo: Tensor<2>, controls: Tensor<4>, f0_hz: Tensor<3>, sounding: Tensor<3>, noise: Tensor<2>, grad: GradScale) -> Reconstruction {
        let (z, knobs) = self.encoder.forward(mfcc, echo);
        let [b, v, _, _] = controls.dims();
        let state = Tensor::zeros([b * v, self.decoder.gru.hidden], &controls.device());
        let decoded = gate_silence(self.decoder.forward(controls, scale_grad(z.clone(), grad.z), state), sounding);
        let clean = Self::render_clean(spec, &decoded, f0_hz, noise);
        let wet = chain.forward(clean.clone(), denormalize(scale_grad(knobs.clone(), grad.knobs)));
        Reconstruction { z, knobs, clean, wet }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddsp::{device, tensor, values};

    #[test]
    fn silent_voices_play_nothing_and_the_noise_stops_when_all_are_silent() {
        let d = device();
        // One clip, two voices, three frames, two harmonics, two noise bands.
        let decoded = Decoded {
            amplitude: tensor(vec![0.5, 0.6, 0.7, 0.2, 0.3, 0.4], [1, 2, 3], &d),
            harmonics: tensor(vec![0.5; 12], [1, 2, 3, 2], &d),
            noise: tensor(vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [1, 3, 2], &d),
            state: tensor(vec![0.0; 2], [2, 1], &d),
        };
        // Voice 0 sounds in frame 0 only, voice 1 in frame 1 only; frame 2 is silent.
        let gated = gate_silence(decoded, tensor(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [1, 2, 3], &d));
        assert_eq!(values(gated.amplitude), vec![0.5, 0.0, 0.0, 0.0, 0.3, 0.0]);
        assert_eq!(values(gated.noise), vec![0.1, 0.2, 0.3, 0.4, 0.0, 0.0]);
        assert_eq!(values(gated.harmonics), vec![0.5; 12]);
    }
}
