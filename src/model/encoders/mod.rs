//! The encoders, and the one place that lists them. An encoder is a file that implements
//! [`EncoderKind`] on its settings type and [`EncoderModule`] on its module, plus one line in
//! the `encoders!` registry at the end of this file. Every method and every downstream head
//! takes an [`Encoder`] and asks it for features; none knows which one it holds.

use std::fmt;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::images::ImageShape;
use crate::error::Invalid;
use crate::model::init::init_linear;
use crate::model::network::NetworkBuilder;
use crate::model::ops::Kernels;

/// An encoder, implemented on its settings type: what the `[model.encoder]` table holds when
/// its `name` is this encoder's.
pub trait EncoderKind: fmt::Debug + Clone + PartialEq + Default + Serialize + DeserializeOwned + schemars::JsonSchema {
    /// The module it initialises.
    type Module: EncoderModule + Into<Encoder>;

    /// One line for listings and the documentation.
    const DESCRIPTION: &'static str;

    /// A freshly initialised encoder for images of `shape`; `model` holds the settings every
    /// layer shares (the initialisation's spread, who computes the convolutions).
    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Self::Module;

    /// Length of its features for images of `shape`.
    fn feature_dim(&self, shape: ImageShape) -> usize;

    /// Names the first setting that cannot work by its key (`model.encoder.width`).
    fn validate(&self) -> Result<(), Invalid>;
}

/// What an encoder's module does: features from images, and its layers in inference form (for
/// export and summaries).
pub trait EncoderModule: Module + fmt::Debug {
    /// Features `[batch, feature_dim]` of a `[batch, channels, H, W]` image batch.
    fn features(&self, x: Tensor<4>) -> Tensor<2>;

    /// Appends its layers to `network`, named as its modules after `prefix`.
    fn layers(&self, network: &mut NetworkBuilder, prefix: &str);
}

/// Shape of the network: the encoder and its settings, and what every layer shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The encoder: the `[model.encoder]` table, whose `name` picks it; keys it leaves out keep
    /// that encoder's defaults.
    pub encoder: EncoderConfig,
    /// Standard deviation of the `N(0, std)` initialisation of the dense heads, and of the
    /// notebook encoder's layers (biases start at 0).
    pub init_std: f64,
    /// Who computes the encoders' convolutions (and the notebook's ReLU and pool layers): our
    /// CPU kernels or Burn's standard ops.
    #[serde(default)]
    pub kernels: Kernels,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { encoder: EncoderConfig::Notebook(notebook::NotebookConfig::default()), init_std: 0.05, kernels: Kernels::default() }
    }
}

impl ModelConfig {
    /// A freshly initialised encoder for images of `shape`.
    pub fn encoder(&self, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Encoder {
        self.encoder.init(self, shape, rng, device)
    }

    /// Length of the encoder's features for images of `shape`.
    pub fn feature_dim(&self, shape: ImageShape) -> usize {
        self.encoder.feature_dim(shape)
    }

    /// A dense head from the encoder's features to `classes` scores.
    pub fn head(&self, shape: ImageShape, classes: usize, rng: &mut ChaCha12Rng, device: &Device) -> Linear {
        self.dense(self.feature_dim(shape), classes, rng, device)
    }

    /// A dense layer with `N(0, init_std)` weights.
    pub fn dense(&self, inputs: usize, outputs: usize, rng: &mut ChaCha12Rng, device: &Device) -> Linear {
        let mut linear = LinearConfig::new(inputs, outputs).init(device);
        init_linear(&mut linear, self.init_std, rng, device);
        linear
    }

    /// Switches to `encoder` with its default settings; a model already on `encoder` is left
    /// as it is.
    pub fn with_encoder(mut self, encoder: EncoderName) -> Self {
        if self.encoder.name() != encoder {
            self.encoder = encoder.defaults();
        }
        self
    }

    /// Names the first setting that cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(self.init_std.is_finite() && self.init_std > 0.0) {
            return Err(Invalid::new("model.init_std", format!("must be positive, got {}", self.init_std)));
        }
        self.encoder.validate()
    }
}

/// Generates from one line per encoder what must be closed over all of them: the encoder's
/// module, the names `model.encoder.name` takes, the tagged `[model.encoder]` table, the [`Encoder`]
/// module every model holds, and their dispatch. A line may be `#[cfg(...)]`, which then
/// holds for all of these.
macro_rules! encoders {
    ($($(#[doc = $doc:literal])* $(#[cfg($cfg:meta)])? $variant:ident($module:ident::$config:ident => $encoder:ident),)*) => {
        $($(#[cfg($cfg)])? pub mod $module;)*
        $($(#[cfg($cfg)])? use $module::{$config, $encoder};)*

        /// The encoders by name, as `model.encoder.name` takes them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "kebab-case")]
        pub enum EncoderName {
            $($(#[doc = $doc])* $(#[cfg($cfg)])? $variant,)*
        }

        impl EncoderName {
            /// Every encoder, in the registry's order.
            pub const ALL: &[EncoderName] = &[$($(#[cfg($cfg)])? EncoderName::$variant,)*];

            /// One line for the documentation.
            pub fn description(self) -> &'static str {
                match self {
                    $($(#[cfg($cfg)])? EncoderName::$variant => <$config as EncoderKind>::DESCRIPTION,)*
                }
            }

            /// The encoder's settings with their defaults.
            pub fn defaults(self) -> EncoderConfig {
                match self {
                    $($(#[cfg($cfg)])? EncoderName::$variant => EncoderConfig::$variant(<$config>::default()),)*
                }
            }
        }

        /// The encoder of a run and its settings: the `[model.encoder]` table of
        /// `config.toml`, whose `name` picks the encoder.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "name", rename_all = "kebab-case")]
        pub enum EncoderConfig {
            $($(#[doc = $doc])* $(#[cfg($cfg)])? $variant($config),)*
        }

        impl EncoderConfig {
            /// Which encoder.
            pub fn name(&self) -> EncoderName {
                match self {
                    $($(#[cfg($cfg)])? EncoderConfig::$variant(_) => EncoderName::$variant,)*
                }
            }

            /// A freshly initialised encoder for images of `shape`.
            pub fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Encoder {
                match self {
                    $($(#[cfg($cfg)])? EncoderConfig::$variant(c) => c.init(model, shape, rng, device).into(),)*
                }
            }

            /// Length of the encoder's features for images of `shape`.
            pub fn feature_dim(&self, shape: ImageShape) -> usize {
                match self {
                    $($(#[cfg($cfg)])? EncoderConfig::$variant(c) => c.feature_dim(shape),)*
                }
            }

            /// Names the first setting that cannot work.
            pub fn validate(&self) -> Result<(), Invalid> {
                match self {
                    $($(#[cfg($cfg)])? EncoderConfig::$variant(c) => c.validate(),)*
                }
            }
        }

        /// The encoder of every model: images in, one feature vector per image out.
        #[derive(Module, Debug)]
        pub enum Encoder {
            $($(#[doc = $doc])* $(#[cfg($cfg)])? $variant($encoder),)*
        }

        $($(#[cfg($cfg)])? impl From<$encoder> for Encoder {
            fn from(encoder: $encoder) -> Self {
                Encoder::$variant(encoder)
            }
        })*

        impl Encoder {
            /// Features `[batch, feature_dim]` of a `[batch, channels, H, W]` image batch: what
            /// the heads see.
            pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
                match self {
                    $($(#[cfg($cfg)])? Encoder::$variant(e) => e.features(x),)*
                }
            }

            /// Appends its layers to `network`, named as its modules after `prefix`.
            pub fn layers(&self, network: &mut NetworkBuilder, prefix: &str) {
                match self {
                    $($(#[cfg($cfg)])? Encoder::$variant(e) => e.layers(network, prefix),)*
                }
            }
        }
    };
}

encoders! {
    /// The teaching notebook's small ConvNet (two conv + pool stages, flattened).
    Notebook(notebook::NotebookConfig => NotebookEncoder),
    /// A ResNet for small images (CIFAR stem, global average pooling).
    Resnet(resnet::ResNetConfig => ResNet),
    /// A one-layer perceptron on the flattened pixels (the registry's tests only).
    #[cfg(test)]
    Perceptron(perceptron::PerceptronConfig => Perceptron),
}

impl fmt::Display for EncoderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::settings::name_of(self))
    }
}
