//! DDSP's MLP layer: Linear → LayerNorm → ReLU (ONNX: Gemm/MatMul, LayerNormalization, Relu).

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Dense {
    pub linear: Linear,
    pub norm: LayerNorm,
}

/// LayerNorm's ε, also written into the exported graphs.
pub const NORM_EPSILON: f64 = 1e-5;

impl Dense {
    pub fn new(d_input: usize, d_output: usize, device: &Device) -> Self {
        Dense { linear: LinearConfig::new(d_input, d_output).init(device), norm: LayerNormConfig::new(d_output).with_epsilon(NORM_EPSILON).init(device) }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        relu(self.norm.forward(self.linear.forward(x)))
    }
}

/// DDSP's scaled sigmoid for amplitudes: `2·σ(x)^ln 10 + 1e-7` — positive, smooth, and
/// without a dead zone near silence.
pub fn scaled_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    burn::tensor::activation::sigmoid(x).powf_scalar(std::f32::consts::LN_10).mul_scalar(2.0).add_scalar(1e-7)
}
