//! A trained network in inference form: named layers over plain arrays. Every export format is
//! written from this, so no format knows Burn's modules, and no module knows the formats.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use serde::Serialize;

use crate::data::images::ImageShape;
use crate::model::classifier::Classifier;
use crate::model::encoders::Encoder;
use crate::model::encoders::notebook::{NotebookEncoder, same_padding};
use crate::model::encoders::resnet::{BasicBlock, ResNet};
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
        let mut builder = Builder::new(input);
        builder.encoder(encoder, "");
        builder.finish()
    }

    /// The whole classifier: images to class logits (softmax not applied). Its layers are
    /// named as the classifier's modules (`encoder.*`, `norm`, `head`).
    pub fn classifier(classifier: &Classifier, input: ImageShape) -> Self {
        let mut builder = Builder::new(input);
        builder.encoder(&classifier.encoder, "encoder.");
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
}

/// Walks the modules in order, tracking the feature map's size for the padding of each
/// convolution.
struct Builder {
    input: ImageShape,
    layers: Vec<Layer>,
    /// Channels, height and width of the current feature map, or features once flat.
    size: [usize; 3],
}

impl Builder {
    fn new(input: ImageShape) -> Self {
        Self { input, layers: Vec::new(), size: [input.channels, input.height, input.width] }
    }

    fn finish(self) -> Network {
        Network { input: self.input, layers: self.layers, outputs: self.size.iter().product() }
    }

    fn encoder(&mut self, encoder: &Encoder, prefix: &str) {
        match encoder {
            Encoder::Notebook(e) => self.notebook(e, prefix),
            Encoder::Resnet(e) => self.resnet(e, prefix),
        }
    }

    fn notebook(&mut self, encoder: &NotebookEncoder, prefix: &str) {
        for (conv, name) in [(&encoder.conv1, "conv1"), (&encoder.conv2, "conv2")] {
            let conv = self.conv(conv, &format!("{prefix}{name}"));
            self.layers.extend([conv, Layer::Relu]);
            self.max_pool();
        }
        self.layers.push(Layer::Flatten);
        self.size = [self.size.iter().product(), 1, 1];
    }

    fn resnet(&mut self, net: &ResNet, prefix: &str) {
        let stem = self.conv(&net.stem, &format!("{prefix}stem"));
        let norm = batch_norm(&net.stem_norm, &format!("{prefix}stem_norm"));
        self.layers.extend([stem, norm, Layer::Relu]);
        for (i, block) in net.blocks.iter().enumerate() {
            let residual = self.block(block, &format!("{prefix}blocks.{i}"));
            self.layers.extend([residual, Layer::Relu]);
        }
        self.layers.push(Layer::GlobalAveragePool);
        self.size = [self.size[0], 1, 1];
    }

    /// A basic block as a residual layer; both paths start from the block's input size.
    fn block(&mut self, block: &BasicBlock, name: &str) -> Layer {
        let input = self.size;
        let shortcut = match &block.shortcut {
            Some(s) => vec![self.conv(&s.conv, &format!("{name}.shortcut.conv")), batch_norm(&s.norm, &format!("{name}.shortcut.norm"))],
            None => Vec::new(),
        };
        self.size = input;
        let conv1 = self.conv(&block.conv1, &format!("{name}.conv1"));
        let conv2 = self.conv(&block.conv2, &format!("{name}.conv2"));
        let body = vec![conv1, batch_norm(&block.norm1, &format!("{name}.norm1")), Layer::Relu, conv2, batch_norm(&block.norm2, &format!("{name}.norm2"))];
        Layer::Residual { body, shortcut }
    }

    /// The convolution as a layer with explicit padding for the current size, which it updates.
    fn conv(&mut self, conv: &Conv2d, name: &str) -> Layer {
        let weight = Array::of(conv.weight.val());
        let [out, input, kh, kw] = weight.shape[..] else { unreachable!("a conv weight is 4-D") };
        let [_, h, w] = self.size;
        let pads = match conv.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
            PaddingConfig2d::Same => {
                let ((top, bottom), (left, right)) = (same_padding(h, kh, conv.stride[0]), same_padding(w, kw, conv.stride[1]));
                [top, left, bottom, right]
            }
        };
        let side = |size: usize, before: usize, after: usize, kernel: usize, stride: usize| (size + before + after - kernel) / stride + 1;
        self.size = [out, side(h, pads[0], pads[2], kh, conv.stride[0]), side(w, pads[1], pads[3], kw, conv.stride[1])];
        let bias = conv.bias.as_ref().map(|b| Array::of(b.val()));
        Layer::Conv { name: name.into(), channels: [input, out], kernel: [kh, kw], stride: conv.stride, pads, weight, bias }
    }

    fn max_pool(&mut self) {
        self.layers.push(Layer::MaxPool2x2);
        self.size = [self.size[0], self.size[1] / 2, self.size[2] / 2];
    }

    fn standardize(&mut self, norm: &FeatureNorm, name: &str) {
        let (mean, scale) = (Array::of(norm.mean.val()), Array::of(norm.scale.val()));
        self.layers.push(Layer::Standardize { name: name.into(), features: mean.values.len(), mean, scale });
    }

    fn dense(&mut self, linear: &Linear, name: &str) {
        // Burn keeps `[in, out]`; PyTorch and ONNX's Gemm (transB) want `[out, in]`.
        let weight = Array::of(linear.weight.val()).transposed();
        let features = [weight.shape[1], weight.shape[0]];
        let bias = linear.bias.as_ref().map(|b| Array::of(b.val()));
        self.layers.push(Layer::Dense { name: name.into(), features, weight, bias });
        self.size = [features[1], 1, 1];
    }
}

fn batch_norm(norm: &BatchNorm, name: &str) -> Layer {
    let scale = Array::of(norm.gamma.val());
    Layer::BatchNorm {
        name: name.into(),
        channels: scale.values.len(),
        epsilon: norm.epsilon,
        scale,
        shift: Array::of(norm.beta.val()),
        mean: Array::of(norm.running_mean.value()),
        variance: Array::of(norm.running_var.value()),
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
            (_, Layer::Residual { body, shortcut }) => folded.push(Layer::Residual { body: fold_batch_norms(body), shortcut: fold_batch_norms(shortcut) }),
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
