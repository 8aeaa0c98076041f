//! Heads over an encoder's features: the projector and predictor MLPs of the two-view methods
//! (Linear, optional batch norm, ReLU, Linear), and the fixed standardisation a downstream
//! head can put before its dense layer.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::model::init::init_linear_uniform;
use crate::model::ops::{Kernels, batch_norm};

/// Shape of a two-layer MLP head.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Width of the hidden layer.
    pub hidden: usize,
    /// Width of the output.
    pub output: usize,
    /// Batch norm after the hidden layer.
    pub batch_norm: bool,
}

impl MlpConfig {
    /// A freshly initialised head taking `inputs` features; `kernels` computes its batch norm.
    pub fn init(&self, inputs: usize, kernels: Kernels, rng: &mut ChaCha12Rng, device: &Device) -> Mlp {
        let mut dense = |i, o| {
            let mut linear = LinearConfig::new(i, o).init(device);
            init_linear_uniform(&mut linear, rng, device);
            linear
        };
        let hidden = dense(inputs, self.hidden);
        let output = dense(self.hidden, self.output);
        Mlp { hidden, norm: self.batch_norm.then(|| BatchNormConfig::new(self.hidden).init(device)), relu: Relu::new(), output, kernels }
    }

    /// Names the first size that cannot work (`flag` is the flag prefix for messages).
    pub fn validate(&self) -> Result<(), Invalid> {
        for (key, width) in [("hidden", self.hidden), ("output", self.output)] {
            if width == 0 {
                return Err(Invalid::new(key, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Linear, batch norm (optional), ReLU, Linear.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Linear,
    norm: Option<BatchNorm>,
    relu: Relu,
    output: Linear,
    /// Who computes the batch norm and the ReLU after it (a setting, not a weight).
    #[module(skip)]
    kernels: Kernels,
}

impl Mlp {
    /// `[batch, inputs]` -> `[batch, output]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.hidden.forward(x);
        let x = match &self.norm {
            Some(norm) => batch_norm(self.kernels, norm, x, None, true),
            None => self.relu.forward(x),
        };
        self.output.forward(x)
    }
}

/// Fixed per-feature standardisation, `(x - mean) * scale`, measured once on the labelled
/// training images' features and never trained. Self-supervised features have whatever scale
/// their loss left them at (normalised embeddings, tiny initial weights); standardised, a
/// linear head trains at the same pace on any of them, as solo-learn's linear evaluation does.
#[derive(Module, Debug)]
pub struct FeatureNorm {
    pub(crate) mean: Param<Tensor<1>>,
    pub(crate) scale: Param<Tensor<1>>,
}

/// Features whose spread over the training images is below this are constant there; they get
/// scale 0 instead of a huge one that would amplify whatever they do on other images.
const CONSTANT_BELOW: f32 = 1e-6;

impl FeatureNorm {
    /// The standardisation of `features` `[n, d]` (their mean and biased standard deviation).
    pub fn fit(features: &Tensor<2>) -> Self {
        let [_, d] = features.dims();
        let mean = features.clone().mean_dim(0).reshape([d]);
        let std = features.clone().var_bias(0).sqrt().reshape([d]);
        let constant = std.clone().lower_elem(CONSTANT_BELOW);
        let scale = std.clamp_min(CONSTANT_BELOW).recip().mask_fill(constant, 0.0);
        Self { mean: Param::from_tensor(mean), scale: Param::from_tensor(scale) }.no_grad()
    }

    /// The identity over `d` features: the shape weights are loaded into.
    pub fn identity(d: usize, device: &Device) -> Self {
        Self { mean: Param::from_tensor(Tensor::zeros([d], device)), scale: Param::from_tensor(Tensor::ones([d], device)) }.no_grad()
    }

    /// `[n, d]` features, standardised.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [d] = self.mean.dims();
        (x - self.mean.val().reshape([1, d])) * self.scale.val().reshape([1, d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parameter_count_and_output_shape() {
        let device = Device::flex();
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let with_norm = MlpConfig { hidden: 8, output: 3, batch_norm: true }.init(5, Kernels::default(), &mut rng, &device);
        // (5*8 + 8) + (8 gamma, beta, running mean and variance, counted as Keras does) + (8*3 + 3)
        assert_eq!(with_norm.num_params(), 48 + 32 + 27);
        let without = MlpConfig { hidden: 8, output: 3, batch_norm: false }.init(5, Kernels::default(), &mut rng, &device);
        assert_eq!(without.num_params(), 48 + 27);
        assert_eq!(without.forward(Tensor::zeros([4, 5], &device)).dims(), [4, 3]);
    }

    #[test]
    fn standardisation_centres_scales_and_zeroes_constant_features() {
        let device = Device::flex();
        // Column 0: 1, 3 (mean 2, std 1); column 1: 5, 5 (constant).
        let train = Tensor::<2>::from_data(burn::tensor::TensorData::new(vec![1.0f32, 5.0, 3.0, 5.0], [2, 2]), &device);
        let norm = FeatureNorm::fit(&train);
        let test = Tensor::<2>::from_data(burn::tensor::TensorData::new(vec![4.0f32, 9.0], [1, 2]), &device);
        assert_eq!(norm.forward(test).into_data().try_to_vec::<f32>().unwrap(), [2.0, 0.0]);
        assert!(!norm.mean.is_require_grad() && !norm.scale.is_require_grad());
    }
}
