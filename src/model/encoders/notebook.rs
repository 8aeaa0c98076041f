//! The notebook's ConvNet encoder: Conv(3x3, stride 2) ReLU, MaxPool 2x2, Conv(3x3) ReLU,
//! MaxPool 2x2, flattened. Its conv + ReLU + pool stages run on our fused CPU kernels or on
//! Burn's standard ops (`model::ops` chooses).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::data::images::ImageShape;
use crate::error::Invalid;
use crate::model::encoders::{EncoderKind, EncoderModule, ModelConfig};
use crate::model::init::init_conv;
use crate::model::network::{Layer, NetworkBuilder};
use crate::model::ops::{Kernels, conv2d_relu_pool};

/// Output side of a Keras 'same' convolution.
pub(crate) fn same_out(size: usize, stride: usize) -> usize {
    size.div_ceil(stride)
}

/// Zero rows (or columns) before and after an axis of `size` for a Keras 'same' convolution:
/// TensorFlow puts the odd one of an uneven total after.
pub(crate) fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let total = ((same_out(size, stride) - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// Output side of a 2x2/2 max pool with 'valid' padding.
pub(crate) fn pool_out(size: usize) -> usize {
    size / 2
}

/// The notebook's layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NotebookConfig {
    /// Filters of the three convolutions: the encoder's two, and the third that rotation's
    /// pretext model adds on this encoder.
    pub filters: [usize; 3],
    /// Side of the square convolution kernels.
    pub kernel_size: usize,
}

impl Default for NotebookConfig {
    fn default() -> Self {
        Self { filters: [64, 32, 16], kernel_size: 3 }
    }
}

impl EncoderKind for NotebookConfig {
    type Module = NotebookEncoder;
    const DESCRIPTION: &'static str = "The teaching notebook's small ConvNet: two conv + pool stages, flattened.";

    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> NotebookEncoder {
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        NotebookEncoder {
            conv1: self.conv(model, [shape.channels, self.filters[0]], 2, rng, device),
            pool1: pool.clone(),
            conv2: self.conv(model, [self.filters[0], self.filters[1]], 1, rng, device),
            pool2: pool,
            kernels: model.kernels,
        }
    }

    fn feature_dim(&self, shape: ImageShape) -> usize {
        let (h, w) = self.map_dims(shape);
        self.filters[1] * h * w
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.kernel_size == 0 {
            return Err(Invalid::new("model.encoder.kernel_size", "must be at least 1"));
        }
        if self.filters.contains(&0) {
            return Err(Invalid::new("model.encoder.filters", format!("must be at least 1 each, got {:?}", self.filters)));
        }
        Ok(())
    }
}

impl NotebookConfig {
    /// A Keras 'same' convolution of the notebook's kernel size, `N(0, init_std)` weights.
    pub(crate) fn conv(&self, model: &ModelConfig, channels: [usize; 2], stride: usize, rng: &mut ChaCha12Rng, device: &Device) -> Conv2d {
        let mut conv = Conv2dConfig::new(channels, [self.kernel_size; 2])
            .with_stride([stride; 2])
            .with_padding(PaddingConfig2d::Same)
            .init(device);
        init_conv(&mut conv, model.init_std, rng, device);
        conv
    }

    /// Height and width of the encoder's feature maps for `shape` images.
    pub(crate) fn map_dims(&self, shape: ImageShape) -> (usize, usize) {
        let side = |s| pool_out(pool_out(same_out(s, 2)));
        (side(shape.height), side(shape.width))
    }
}

/// Conv(3x3, stride 2) ReLU, MaxPool 2x2, Conv(3x3) ReLU, MaxPool 2x2.
#[derive(Module, Debug)]
pub struct NotebookEncoder {
    pub(crate) conv1: Conv2d,
    pool1: MaxPool2d,
    pub(crate) conv2: Conv2d,
    pool2: MaxPool2d,
    /// Who computes the layers (a setting, not a weight).
    #[module(skip)]
    kernels: Kernels,
}

impl NotebookEncoder {
    /// Feature maps `[batch, filters[1], h, w]` of a `[batch, channels, H, W]` image batch.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv2d_relu_pool(self.kernels, &self.conv1, &self.pool1, x);
        conv2d_relu_pool(self.kernels, &self.conv2, &self.pool2, x)
    }

    /// Who computes its layers, which a model's further notebook layers follow.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Appends the layers up to the feature maps (before the flatten) to `network`.
    pub fn map_layers(&self, network: &mut NetworkBuilder, prefix: &str) {
        for (conv, name) in [(&self.conv1, "conv1"), (&self.conv2, "conv2")] {
            network.conv(conv, &format!("{prefix}{name}"));
            network.push(Layer::Relu);
            network.push(Layer::MaxPool2x2);
        }
    }
}

impl EncoderModule for NotebookEncoder {
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x).flatten(1, 3)
    }

    fn layers(&self, network: &mut NetworkBuilder, prefix: &str) {
        self.map_layers(network, prefix);
        network.push(Layer::Flatten);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::tensor::TensorData;
    use rand::SeedableRng;

    fn encoder(channels: usize) -> (NotebookEncoder, Device) {
        let device = Device::flex();
        (NotebookConfig::default().init(&ModelConfig::default(), ImageShape::square(channels, 28), &mut ChaCha12Rng::seed_from_u64(0), &device), device)
    }

    #[test]
    fn same_padding_with_stride_two_pads_only_bottom_and_right_like_keras() {
        let (mut encoder, device) = encoder(1);
        // One filter-bank whose 3x3 kernel is 1..=9 row-major; an impulse at pixel (0, 0).
        let kernel: Vec<f32> = (0..64).flat_map(|_| (1..=9).map(|v| v as f32)).collect();
        encoder.conv1.weight = Param::from_tensor(Tensor::from_data(TensorData::new(kernel, [64, 1, 3, 3]), &device));
        let mut image = vec![0f32; 28 * 28];
        image[0] = 1.0;
        let x = Tensor::<4>::from_data(TensorData::new(image, [1, 1, 28, 28]), &device);
        let out = encoder.conv1.forward(x).into_data().try_to_vec::<f32>().unwrap();
        // Keras: no top/left padding, so output (0, 0) sees the impulse through kernel (0, 0) = 1.
        // Symmetric padding would give kernel (1, 1) = 5.
        assert_eq!(out[0], 1.0);
        assert_eq!(out[1], 0.0);
    }

    #[test]
    fn initialisation_is_normal_with_zero_bias_and_seeded() {
        let weights = |e: &NotebookEncoder| e.conv2.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let (a, _) = encoder(1);
        let w = weights(&a);
        assert_eq!(w, weights(&encoder(1).0));
        let n = w.len() as f32;
        let mean = w.iter().sum::<f32>() / n;
        let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(mean.abs() < 0.005 && (std - 0.05).abs() < 0.002, "mean {mean} std {std}");
        let bias = a.conv2.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap();
        assert!(bias.iter().all(|&b| b == 0.0));
    }

    #[test]
    fn colour_images_widen_only_the_first_convolution() {
        let (grey, rgb) = (encoder(1).0, encoder(3).0);
        assert_eq!(rgb.conv1.weight.dims(), [64, 3, 3, 3]);
        assert_eq!(rgb.num_params() - grey.num_params(), 2 * 64 * 9);
    }
}
