//! A trained network in inference form: named layers over plain arrays. Every export format is
//! written from this, and model summaries are read from it, so no format knows Burn's modules
//! and no forward pass records anything.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use serde::Serialize;

use crate::data::images::ImageShape;
use crate::model::classifier::Classifier;
use crate::model::encoders::Encoder;
use crate::model::encoders::notebook::same_padding;
use crate::model::heads::FeatureNorm;

/// A row-major `f32` array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Its dimensions.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

impl Array {
    fn of<const D: usize>(tensor: Tensor<D>) -> Self {
        let shape = tensor.dims().to_vec();
        Self { shape, values: tensor.into_data().try_to_vec::<f32>().expect("f32 values") }
    }

    /// The transpose of a 2-D array.
    fn transposed(&self) -> Self {
        let [rows, cols] = self.shape[..] else { panic!("a 2-D array, got {:?}", self.shape) };
        let values = (0..cols).flat_map(|c| (0..rows).map(move |r| self.values[r * cols + c])).collect();
        Self { shape: vec![cols, rows], values }
    }
}

/// One step of the network. Weights keep PyTorch's and ONNX's layouts: convolutions
/// `[out, in, kh, kw]`, dense layers `[out, in]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Layer {
    /// 2-D cross-correlation over zero padding.
    Conv {
        /// The module's name: its weights are `{name}.weight` and `{name}.bias`.
        name: String,
        /// Input and output channels.
        channels: [usize; 2],
        /// Kernel height and width.
        kernel: [usize; 2],
        /// Vertical and horizontal stride.
        stride: [usize; 2],
        /// Zero rows and columns added `[top, left, bottom, right]`; Keras' 'same' with stride 2
        /// pads only the bottom and right.
        pads: [usize; 4],
        /// Kernels `[out, in, kh, kw]`.
        #[serde(skip)]
        weight: Array,
        /// One per output channel.
        #[serde(skip)]
        bias: Option<Array>,
    },
    /// Inference-mode batch norm: `(x - mean) / sqrt(variance + epsilon) * scale + shift` per
    /// channel.
    BatchNorm {
        /// The module's name (PyTorch's `weight`, `bias`, `running_mean`, `running_var`).
        name: String,
        /// Channels.
        channels: usize,
        /// Added to the variance.
        epsilon: f64,
        /// Per-channel scale (gamma).
        #[serde(skip)]
        scale: Array,
        /// Per-channel shift (beta).
        #[serde(skip)]
        shift: Array,
        /// Running mean.
        #[serde(skip)]
        mean: Array,
        /// Running variance.
        #[serde(skip)]
        variance: Array,
    },
    /// `max(x, 0)`.
    Relu,
    /// 2x2 max pool, stride 2, no padding (an odd last row or column is dropped).
    MaxPool2x2,
    /// `body(x) + shortcut(x)`; an empty shortcut is the identity.
    Residual {
        /// The module's name (its layers' names start with it).
        name: String,
        /// The main path.
        body: Vec<Layer>,
        /// The skip path.
        shortcut: Vec<Layer>,
    },
    /// The mean of each channel: `[n, c, h, w]` to `[n, c]`.
    GlobalAveragePool,
    /// `[n, c, h, w]` to `[n, c * h * w]`, channel-major (NCHW order).
    Flatten,
    /// `(x - mean) * scale` per feature, measured once on the training features.
    Standardize {
        /// The module's name (buffers `{name}.mean` and `{name}.scale`).
        name: String,
        /// Features.
        features: usize,
        /// Subtracted from each feature.
        #[serde(skip)]
        mean: Array,
        /// Multiplies each centred feature.
        #[serde(skip)]
        scale: Array,
    },
    /// `x W^T + b`.
    Dense {
        /// The module's name.
        name: String,
        /// Input and output features.
        features: [usize; 2],
        /// `[out, in]`.
        #[serde(skip)]
        weight: Array,
        /// One per output.
        #[serde(skip)]
        bias: Option<Array>,
    },
}

/// A network from images to features or class logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// The images it takes.
    pub input: ImageShape,
    /// Its layers, in order.
    pub layers: Vec<Layer>,
    /// Length of its output vector.
    pub outputs: usize,
}

impl Network {
    /// The encoder alone: images to features. Its layers are named as the encoder's modules.
    pub fn encoder(encoder: &Encoder, input: ImageShape) -> Self {
        let mut builder = NetworkBuilder::new(input);
        encoder.layers(&mut builder, "");
        builder.finish()
    }

    /// The whole classifier: images to class logits (softmax not applied). Its layers are
    /// named as the classifier's modules (`encoder.*`, `norm`, `head`).
    pub fn classifier(classifier: &Classifier, input: ImageShape) -> Self {
        let mut builder = NetworkBuilder::new(input);
        classifier.encoder.layers(&mut builder, "encoder.");
        if let Some(norm) = &classifier.norm {
            builder.standardize(norm, "norm");
        }
        builder.dense(&classifier.head, "head");
        builder.finish()
    }

    /// The same network with each batch norm folded into the convolution before it (the
    /// inference form ONNX runtimes expect).
    pub fn with_batch_norms_folded(&self) -> Self {
        Self { layers: fold_batch_norms(&self.layers), ..self.clone() }
    }

    /// Each layer with its output shape without the batch dimension: `[channels, height,
    /// width]` for feature maps, `[features]` once flat.
    pub fn shapes(&self) -> impl Iterator<Item = (&Layer, Vec<usize>)> {
        let mut shape = vec![self.input.channels, self.input.height, self.input.width];
        self.layers.iter().map(move |layer| {
            shape = layer.output_shape(&shape);
            (layer, shape.clone())
        })
    }
}

impl Layer {
    /// The shape this layer makes of an input of `shape` (without the batch dimension).
    pub fn output_shape(&self, shape: &[usize]) -> Vec<usize> {
        match self {
            Layer::Conv { channels, kernel, stride, pads, .. } => {
                let side = |size: usize, before: usize, after: usize, kernel: usize, stride: usize| (size + before + after - kernel) / stride + 1;
                vec![channels[1], side(shape[1], pads[0], pads[2], kernel[0], stride[0]), side(shape[2], pads[1], pads[3], kernel[1], stride[1])]
            }
            Layer::MaxPool2x2 => vec![shape[0], shape[1] / 2, shape[2] / 2],
            Layer::Residual { body, .. } => body.iter().fold(shape.to_vec(), |shape, layer| layer.output_shape(&shape)),
            Layer::GlobalAveragePool => vec![shape[0]],
            Layer::Flatten => vec![shape.iter().product()],
            Layer::Dense { features, .. } => vec![features[1]],
            Layer::BatchNorm { .. } | Layer::Relu | Layer::Standardize { .. } => shape.to_vec(),
        }
    }
}

/// Builds a [`Network`] as a model's modules are walked in order, tracking the feature map's
/// shape for the padding of each convolution. Each encoder walks its own modules (see
/// `EncoderModule::layers`).
pub struct NetworkBuilder {
    input: ImageShape,
    layers: Vec<Layer>,
    /// Shape of the current output, as [`Layer::output_shape`] gives it.
    shape: Vec<usize>,
}

impl NetworkBuilder {
    /// An empty network over images of `input`.
    pub fn new(input: ImageShape) -> Self {
        Self { input, layers: Vec::new(), shape: vec![input.channels, input.height, input.width] }
    }

    /// The network built so far.
    pub fn finish(self) -> Network {
        Network { input: self.input, outputs: self.shape.iter().product(), layers: self.layers }
    }

    /// Appends `layer`.
    pub fn push(&mut self, layer: Layer) {
        self.shape = layer.output_shape(&self.shape);
        self.layers.push(layer);
    }

    /// Appends the convolution, padded explicitly for the current shape.
    pub fn conv(&mut self, conv: &Conv2d, name: &str) {
        let weight = Array::of(conv.weight.val());
        let [out, input, kh, kw] = weight.shape[..] else { unreachable!("a conv weight is 4-D") };
        let pads = match conv.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
            PaddingConfig2d::Same => {
                let ((top, bottom), (left, right)) = (same_padding(self.shape[1], kh, conv.stride[0]), same_padding(self.shape[2], kw, conv.stride[1]));
                [top, left, bottom, right]
            }
        };
        let bias = conv.bias.as_ref().map(|b| Array::of(b.val()));
        self.push(Layer::Conv { name: name.into(), channels: [input, out], kernel: [kh, kw], stride: conv.stride, pads, weight, bias });
    }

    /// Appends a residual layer; `body` and `shortcut` each build their path from the
    /// current shape.
    pub fn residual(&mut self, name: &str, body: impl FnOnce(&mut Self), shortcut: impl FnOnce(&mut Self)) {
        let (body, shortcut) = (self.path(body), self.path(shortcut));
        self.push(Layer::Residual { name: name.into(), body, shortcut });
    }

    /// The layers `build` appends to a path starting from the current shape.
    fn path(&self, build: impl FnOnce(&mut Self)) -> Vec<Layer> {
        let mut path = Self { input: self.input, layers: Vec::new(), shape: self.shape.clone() };
        build(&mut path);
        path.layers
    }

    /// Appends the batch norm in inference form.
    pub fn batch_norm(&mut self, norm: &BatchNorm, name: &str) {
        let scale = Array::of(norm.gamma.val());
        self.push(Layer::BatchNorm {
            name: name.into(),
            channels: scale.values.len(),
            epsilon: norm.epsilon,
            scale,
            shift: Array::of(norm.beta.val()),
            mean: Array::of(norm.running_mean.value()),
            variance: Array::of(norm.running_var.value()),
        });
    }

    /// Appends the fixed standardisation of the features.
    pub fn standardize(&mut self, norm: &FeatureNorm, name: &str) {
        let (mean, scale) = (Array::of(norm.mean.val()), Array::of(norm.scale.val()));
        self.push(Layer::Standardize { name: name.into(), features: mean.values.len(), mean, scale });
    }

    /// Appends the dense layer.
    pub fn dense(&mut self, linear: &Linear, name: &str) {
        // Burn keeps `[in, out]`; PyTorch and ONNX's Gemm (transB) want `[out, in]`.
        let weight = Array::of(linear.weight.val()).transposed();
        let features = [weight.shape[1], weight.shape[0]];
        let bias = linear.bias.as_ref().map(|b| Array::of(b.val()));
        self.push(Layer::Dense { name: name.into(), features, weight, bias });
    }
}

/// `layers` with every batch norm that follows a convolution folded into its weights and bias:
/// `w * s` and `(b - mean) * s + shift`, where `s = scale / sqrt(variance + epsilon)`.
fn fold_batch_norms(layers: &[Layer]) -> Vec<Layer> {
    let mut folded: Vec<Layer> = Vec::with_capacity(layers.len());
    for layer in layers {
        match (folded.last_mut(), layer) {
            (Some(Layer::Conv { weight, bias, channels, .. }), Layer::BatchNorm { scale, shift, mean, variance, epsilon, .. }) => {
                let factors: Vec<f32> = scale.values.iter().zip(&variance.values).map(|(s, v)| s / (v + *epsilon as f32).sqrt()).collect();
                let per_channel = weight.values.len() / channels[1];
                for (out, values) in weight.values.chunks_mut(per_channel).enumerate() {
                    values.iter_mut().for_each(|v| *v *= factors[out]);
                }
                let old = bias.take().map_or(vec![0.0; channels[1]], |b| b.values);
                let values = (0..channels[1]).map(|c| (old[c] - mean.values[c]) * factors[c] + shift.values[c]).collect();
                *bias = Some(Array { shape: vec![channels[1]], values });
            }
            (_, Layer::Residual { name, body, shortcut }) => {
                folded.push(Layer::Residual { name: name.clone(), body: fold_batch_norms(body), shortcut: fold_batch_norms(shortcut) })
            }
            (_, layer) => folded.push(layer.clone()),
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::encoders::ModelConfig;
    use burn::tensor::Device;
    use rand::SeedableRng;
    use rand_chacha::ChaCha12Rng;

    #[test]
    fn the_notebook_classifier_has_keras_paddings_and_pytorch_layouts() {
        let (device, mnist, config) = (Device::flex(), ImageShape::square(1, 28), ModelConfig::default());
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let classifier = Classifier { encoder: config.encoder(mnist, &mut rng, &device), norm: None, head: config.head(mnist, 10, &mut rng, &device) };
        let network = Network::classifier(&classifier, mnist);
        let convs: Vec<(&str, [usize; 4])> = network.layers.iter().filter_map(|l| if let Layer::Conv { name, pads, .. } = l { Some((name.as_str(), *pads)) } else { None }).collect();
        // 28 -> 14 with stride 2 pads one row and column after, none before; 7 -> 7 pads one each side.
        assert_eq!(convs, [("encoder.conv1", [0, 0, 1, 1]), ("encoder.conv2", [1, 1, 1, 1])]);
        let Some(Layer::Dense { name, features, weight, .. }) = network.layers.last() else { panic!("the head comes last") };
        let burn = classifier.head.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!((name.as_str(), *features, weight.shape.as_slice()), ("head", [288, 10], [10, 288].as_slice()));
        assert_eq!(weight.values[3 * 288 + 5], burn[5 * 10 + 3], "PyTorch's [out, in] is Burn's [in, out] transposed");
        assert_eq!(network.outputs, 10);
    }

    #[test]
    fn a_batch_norm_folds_into_the_convolution_before_it() {
        let array = |values: &[f32]| Array { shape: vec![values.len()], values: values.to_vec() };
        let conv = Layer::Conv {
            name: "conv".into(),
            channels: [1, 2],
            kernel: [1, 1],
            stride: [1, 1],
            pads: [0; 4],
            weight: Array { shape: vec![2, 1, 1, 1], values: vec![3.0, 5.0] },
            bias: None,
        };
        // Channel 0: s = 2 / sqrt(3 + 1) = 1; channel 1: s = 6 / sqrt(8 + 1) = 2.
        let norm = Layer::BatchNorm {
            name: "norm".into(),
            channels: 2,
            epsilon: 1.0,
            scale: array(&[2.0, 6.0]),
            shift: array(&[0.5, -1.0]),
            mean: array(&[1.0, 2.0]),
            variance: array(&[3.0, 8.0]),
        };
        let folded = fold_batch_norms(&[conv, norm, Layer::Relu]);
        let [Layer::Conv { weight, bias: Some(bias), .. }, Layer::Relu] = folded.as_slice() else { panic!("{folded:?}") };
        assert_eq!(weight.values, [3.0, 10.0]);
        // (0 - mean) * s + shift.
        assert_eq!(bias.values, [-0.5, -5.0]);
    }
}
