//! The encoders, and the one place that chooses between them: `--encoder notebook|resnet`.
//! Every method and every downstream head takes an [`Encoder`] and asks it for features; none
//! knows which one it holds.

pub mod notebook;
pub mod resnet;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::data::images::ImageShape;
use crate::model::ops::Kernels;
use crate::model::network::{Layer, NetworkBuilder};
use notebook::NotebookEncoder;
use resnet::{ResNet, ResNetConfig};

/// The encoders by name, as `--encoder` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderName {
    /// The teaching notebook's small ConvNet (two conv + pool stages, flattened).
    #[default]
    Notebook,
    /// A ResNet for small images (CIFAR stem, global average pooling).
    Resnet,
}

/// Shape of the network: which encoder, its layers, and the initialisation of the notebook's
/// layers and heads (the notebook's values are the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Which encoder.
    #[serde(default)]
    pub encoder: EncoderName,
    /// Filters of the notebook's three convolutions (the third belongs to rotation's pretext
    /// model only).
    pub filters: [usize; 3],
    /// Side of the notebook's square convolution kernels.
    pub kernel_size: usize,
    /// Standard deviation of the `N(0, std)` initialisation of the notebook's layers and the
    /// dense heads (biases start at 0).
    pub init_std: f64,
    /// The ResNet's width and depth (with `encoder = "resnet"`).
    #[serde(default)]
    pub resnet: ResNetConfig,
    /// Who computes the encoders' convolutions (and the notebook's ReLU and pool layers): our
    /// CPU kernels or Burn's standard ops.
    #[serde(default)]
    pub kernels: Kernels,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            encoder: EncoderName::Notebook,
            filters: [64, 32, 16],
            kernel_size: 3,
            init_std: 0.05,
            resnet: ResNetConfig::default(),
            kernels: Kernels::default(),
        }
    }
}

impl ModelConfig {
    /// A freshly initialised encoder for images of `shape`.
    pub fn encoder(&self, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Encoder {
        match self.encoder {
            EncoderName::Notebook => Encoder::Notebook(self.notebook(shape.channels, rng, device)),
            EncoderName::Resnet => Encoder::Resnet(self.resnet.init(shape.channels, self.kernels, rng, device)),
        }
    }

    /// Length of the encoder's features for images of `shape`.
    pub fn feature_dim(&self, shape: ImageShape) -> usize {
        match self.encoder {
            EncoderName::Notebook => {
                let (h, w) = self.notebook_map_dims(shape);
                self.filters[1] * h * w
            }
            EncoderName::Resnet => self.resnet.feature_dim(),
        }
    }

    /// A dense head from the encoder's features to `classes` scores.
    pub fn head(&self, shape: ImageShape, classes: usize, rng: &mut ChaCha12Rng, device: &Device) -> burn::nn::Linear {
        self.dense(self.feature_dim(shape), classes, rng, device)
    }

    /// Names the first setting that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.init_std.is_finite() && self.init_std > 0.0) {
            return Err(format!("init std must be positive, got {}", self.init_std));
        }
        if self.kernel_size == 0 || self.filters.contains(&0) {
            return Err("kernel size and filter counts must be at least 1".into());
        }
        self.resnet.validate()
    }
}

/// The encoder of every model: images in, one feature vector per image out.
#[derive(Module, Debug)]
pub enum Encoder {
    /// The notebook's ConvNet.
    Notebook(NotebookEncoder),
    /// A ResNet.
    Resnet(ResNet),
}

impl Encoder {
    /// Features `[batch, feature_dim]` of a `[batch, channels, H, W]` image batch: what the
    /// heads see.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Encoder::Notebook(e) => e.forward(x).flatten(1, 3),
            Encoder::Resnet(e) => e.forward(x),
        }
    }

    /// Appends its layers to `network`, named as its modules after `prefix`.
    pub fn layers(&self, network: &mut NetworkBuilder, prefix: &str) {
        match self {
            Encoder::Notebook(e) => {
                e.map_layers(network, prefix);
                network.push(Layer::Flatten);
            }
            Encoder::Resnet(e) => e.layers(network, prefix),
        }
    }
}
