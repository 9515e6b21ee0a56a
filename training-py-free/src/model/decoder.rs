//! The synth decoder: per string, the frame's pitch and loudness plus the clip's z →
//! that string's amplitude and harmonic distribution; over all strings, the noise filter.
//! The six strings share weights and are told apart by a one-hot string input.
//!
//! ```text
//! per string s, frame t:  [f0 in, loudness in, confidence, onehot(s), z] ─Dense─▶ GRU ─▶ h_s,t
//!   [h_s,t, f0 in, loudness in, confidence] ─Dense─▶ y_s,t ─┬─Linear─scaled σ─▶ A_s(t)
//!                                                            └─Linear─softmax──▶ c_s,k(t)
//!   mean_s y_s,t ─Linear(−5 bias)─scaled σ─▶ noise band magnitudes H(t)
//! ```
//!
//! The GRU's state carries from frame to frame, so the exported `decoder.onnx` streams
//! one frame at a time.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use super::dense::{scaled_sigmoid, Dense};
use super::gru::Gru;
use super::ModelConfig;

/// Control inputs per string and frame: f0 in, loudness in, confidence.
pub const CONTROLS: usize = 3;

/// Noise starts quiet (DDSP's initial bias): the bands' pre-activation is shifted by this.
pub const NOISE_OFFSET: f32 = -5.0;

#[derive(Module, Debug)]
pub struct Decoder {
    pub input: Dense,
    pub gru: Gru,
    pub output: Dense,
    pub amplitude: Linear,
    pub harmonics: Linear,
    pub noise: Linear,
    pub voices: usize,
}

/// One decoding: per-voice amplitudes `[B, V, F]`, harmonic distributions
/// `[B, V, F, K]`, noise magnitudes `[B, F, bands]` and the GRU state `[B·V, H]`.
pub struct Decoded {
    pub amplitude: Tensor<3>,
    pub harmonics: Tensor<4>,
    pub noise: Tensor<3>,
    pub state: Tensor<2>,
}

impl Decoder {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let (h, v) = (cfg.decoder_hidden, cfg.spec.voices);
        Decoder {
            input: Dense::new(CONTROLS + v + cfg.z_dim, h, device),
            gru: Gru::new(h, h, device),
            output: Dense::new(h + CONTROLS, h, device),
            amplitude: LinearConfig::new(h, 1).init(device),
            harmonics: LinearConfig::new(h, cfg.spec.harmonics).init(device),
            noise: LinearConfig::new(h, cfg.spec.noise_bands).init(device),
            voices: v,
        }
    }

    /// `controls` `[B, V, F, 3]`, `z` `[B, Z]`, GRU state `[B·V, H]` (zeros to start).
    pub fn forward(&self, controls: Tensor<4>, z: Tensor<2>, state: Tensor<2>) -> Decoded {
        let [b, v, f, c] = controls.dims();
        let device = controls.device();
        let zd = z.dims()[1];
        let onehot = Tensor::<2>::eye(v, &device).reshape([1, v, 1, v]).expand([b, v, f, v]);
        let z = z.reshape([b, 1, 1, zd]).expand([b, v, f, zd]);
        let x = Tensor::cat(vec![controls.clone(), onehot, z], 3).reshape([b * v, f, c + v + zd]);
        let (seq, state) = self.gru.forward(self.input.forward(x), state);
        let y = self.output.forward(Tensor::cat(vec![seq, controls.reshape([b * v, f, c])], 2));
        let h = y.dims()[2];
        let amplitude = scaled_sigmoid(self.amplitude.forward(y.clone())).reshape([b, v, f]);
        let harmonics = softmax(self.harmonics.forward(y.clone()), 2);
        let k = harmonics.dims()[2];
        let harmonics = harmonics.reshape([b, v, f, k]);
        let mean = y.reshape([b, v, f, h]).mean_dim(1).reshape([b, f, h]);
        let noise = scaled_sigmoid(self.noise.forward(mean).add_scalar(NOISE_OFFSET));
        Decoded { amplitude, harmonics, noise, state }
    }
}
