//! The notebook's ConvNet: the encoder (two conv + pool stages) shared by every method and the
//! downstream classifier (encoder and a dense head).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::kernels::{conv2d_relu, conv2d_relu_pool, max_pool2x2};
use crate::model::heads::FeatureNorm;
use crate::model::init::{init_conv, init_linear};
use crate::model::summary::{Summary, Tracer};

/// Shape of the ConvNet; the notebook's values are the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Filters of the three convolutions (the third belongs to rotation's pretext model only).
    pub filters: [usize; 3],
    /// Side of the square convolution kernels.
    pub kernel_size: usize,
    /// Standard deviation of the `N(0, std)` weight initialisation (biases start at 0).
    pub init_std: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { filters: [64, 32, 16], kernel_size: 3, init_std: 0.05 }
    }
}

/// Output side of a Keras 'same' convolution.
pub(crate) fn same_out(size: usize, stride: usize) -> usize {
    size.div_ceil(stride)
}

/// Output side of a 2x2/2 max pool with 'valid' padding.
pub(crate) fn pool_out(size: usize) -> usize {
    size / 2
}

impl ModelConfig {
    pub(crate) fn conv(&self, channels: [usize; 2], stride: usize, rng: &mut ChaCha12Rng, device: &Device) -> Conv2d {
        let mut conv = Conv2dConfig::new(channels, [self.kernel_size; 2])
            .with_stride([stride; 2])
            .with_padding(PaddingConfig2d::Same)
            .init(device);
        init_conv(&mut conv, self.init_std, rng, device);
        conv
    }

    pub(crate) fn dense(&self, inputs: usize, outputs: usize, rng: &mut ChaCha12Rng, device: &Device) -> Linear {
        let mut linear = LinearConfig::new(inputs, outputs).init(device);
        init_linear(&mut linear, self.init_std, rng, device);
        linear
    }

    /// A freshly initialised encoder.
    pub fn encoder(&self, rng: &mut ChaCha12Rng, device: &Device) -> Encoder {
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        Encoder {
            conv1: self.conv([1, self.filters[0]], 2, rng, device),
            pool1: pool.clone(),
            conv2: self.conv([self.filters[0], self.filters[1]], 1, rng, device),
            pool2: pool,
        }
    }

    /// Length of the encoder's flattened features for `image_size`x`image_size` inputs.
    pub fn feature_dim(&self, image_size: usize) -> usize {
        let side = pool_out(pool_out(same_out(image_size, 2)));
        self.filters[1] * side * side
    }

    /// A dense head for the encoder's features.
    pub fn head(&self, image_size: usize, classes: usize, rng: &mut ChaCha12Rng, device: &Device) -> Linear {
        self.dense(self.feature_dim(image_size), classes, rng, device)
    }
}

/// Conv(3x3, stride 2) ReLU, MaxPool 2x2, Conv(3x3) ReLU, MaxPool 2x2.
#[derive(Module, Debug)]
pub struct Encoder {
    conv1: Conv2d,
    pool1: MaxPool2d,
    conv2: Conv2d,
    pool2: MaxPool2d,
}

impl Encoder {
    /// Feature maps `[batch, filters[1], h, w]` of a `[batch, 1, H, W]` image batch.
    pub fn forward(&self, x: Tensor<4>, trace: &mut Tracer, trainable: bool) -> Tensor<4> {
        let x = stage(&self.conv1, &self.pool1, x, trace, trainable);
        stage(&self.conv2, &self.pool2, x, trace, trainable)
    }

    /// Flattened features `[batch, feature_dim]`, what the downstream head sees.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x, &mut Tracer::off(), false).flatten(1, 3)
    }
}

/// Conv ReLU then MaxPool: one fused kernel, or layer by layer while a summary records each
/// layer's output (the pooled values are the same).
fn stage(conv: &Conv2d, pool: &MaxPool2d, x: Tensor<4>, trace: &mut Tracer, trainable: bool) -> Tensor<4> {
    if !trace.is_on() {
        return conv2d_relu_pool(conv, pool, x);
    }
    let x = conv2d_relu(conv, x);
    trace.record("conv2d", "Conv2D", &x, conv.num_params(), trainable);
    let x = max_pool2x2(pool, x);
    trace.record("max_pooling2d", "MaxPooling2D", &x, 0, trainable);
    x
}

/// A model that maps an input batch to class logits (softmax is part of the loss).
pub trait Logits<I>: Module {
    /// Unnormalised class scores `[batch, classes]`.
    fn logits(&self, input: I) -> Tensor<2>;
}

impl Logits<Tensor<2>> for Linear {
    fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward(input)
    }
}

/// The downstream model: encoder (frozen for a linear probe), Flatten, optionally a fixed
/// standardisation of the features, Dense.
#[derive(Module, Debug)]
pub struct Classifier {
    /// Encoder, usually taken from a pretext model.
    pub encoder: Encoder,
    /// Standardisation of the features before the head (`--standardize-features`).
    pub norm: Option<FeatureNorm>,
    /// Dense layer over the flattened features.
    pub head: Linear,
}

impl Classifier {
    fn forward(&self, x: Tensor<4>, trace: &mut Tracer, encoder_trainable: bool) -> Tensor<2> {
        let x = self.encoder.forward(x, trace, encoder_trainable);
        let x = x.flatten(1, 3);
        trace.record("flatten", "Flatten", &x, 0, true);
        let x = match &self.norm {
            Some(norm) => {
                let x = norm.forward(x);
                trace.record("standardize", "Standardize", &x, norm.num_params(), false);
                x
            }
            None => x,
        };
        let x = self.head.forward(x);
        trace.record("dense", "Dense", &x, self.head.num_params(), true);
        x
    }

    /// Keras-style summary; `encoder_trainable` false marks the encoder frozen.
    pub fn summary(&self, image_size: usize, encoder_trainable: bool, device: &Device) -> Summary {
        let mut trace = Tracer::on();
        self.forward(Tensor::zeros([1, 1, image_size, image_size], device), &mut trace, encoder_trainable);
        Summary { model: "downstream".into(), rows: trace.into_rows() }
    }
}

impl Logits<Tensor<4>> for Classifier {
    fn logits(&self, input: Tensor<4>) -> Tensor<2> {
        self.forward(input, &mut Tracer::off(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::rotation::RotationModel;
    use burn::module::Param;
    use burn::tensor::TensorData;
    use rand::SeedableRng;

    fn pretext_model() -> (RotationModel, Device) {
        let device = Device::flex();
        let model = RotationModel::init(&ModelConfig::default(), 28, &mut ChaCha12Rng::seed_from_u64(0), &device);
        (model, device)
    }

    #[test]
    fn layer_shapes_and_parameter_counts_match_the_notebook() {
        let (model, device) = pretext_model();
        let summary = model.summary(28, &device);
        let shapes: Vec<Vec<usize>> = summary.rows.iter().map(|r| r.output_shape.clone()).collect();
        let expected: [&[usize]; 7] = [&[64, 14, 14], &[64, 7, 7], &[32, 7, 7], &[32, 3, 3], &[16, 2, 2], &[64], &[4]];
        assert_eq!(shapes, expected);
        let params: Vec<usize> = summary.rows.iter().map(|r| r.params).collect();
        assert_eq!(params, [640, 0, 18_464, 0, 4_624, 0, 260]);
        assert_eq!((summary.total_params(), summary.trainable_params()), (23_988, 23_988));

        let mut rng = ChaCha12Rng::seed_from_u64(1);
        let classifier = Classifier { encoder: model.encoder, norm: None, head: ModelConfig::default().head(28, 10, &mut rng, &device) };
        let summary = classifier.summary(28, false, &device);
        assert_eq!(summary.rows.last().unwrap().output_shape, [10]);
        assert_eq!((summary.total_params(), summary.trainable_params(), summary.non_trainable_params()), (21_994, 2_890, 19_104));
    }

    #[test]
    fn same_padding_with_stride_two_pads_only_bottom_and_right_like_keras() {
        let (mut model, device) = pretext_model();
        // One filter-bank whose 3x3 kernel is 1..=9 row-major; an impulse at pixel (0, 0).
        let kernel: Vec<f32> = (0..64).flat_map(|_| (1..=9).map(|v| v as f32)).collect();
        model.encoder.conv1.weight = Param::from_tensor(Tensor::from_data(TensorData::new(kernel, [64, 1, 3, 3]), &device));
        let mut image = vec![0f32; 28 * 28];
        image[0] = 1.0;
        let x = Tensor::<4>::from_data(TensorData::new(image, [1, 1, 28, 28]), &device);
        let out = model.encoder.conv1.forward(x).into_data().try_to_vec::<f32>().unwrap();
        // Keras: no top/left padding, so output (0, 0) sees the impulse through kernel (0, 0) = 1.
        // Symmetric padding would give kernel (1, 1) = 5.
        assert_eq!(out[0], 1.0);
        assert_eq!(out[1], 0.0);
    }

    #[test]
    fn initialisation_is_normal_with_zero_bias_and_seeded() {
        let (a, _) = pretext_model();
        let (b, _) = pretext_model();
        let weights = |m: &RotationModel| m.encoder.conv2.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let w = weights(&a);
        assert_eq!(w, weights(&b));
        let n = w.len() as f32;
        let mean = w.iter().sum::<f32>() / n;
        let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(mean.abs() < 0.005 && (std - 0.05).abs() < 0.002, "mean {mean} std {std}");
        let bias = a.encoder.conv2.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap();
        assert!(bias.iter().all(|&b| b == 0.0));
    }
}
