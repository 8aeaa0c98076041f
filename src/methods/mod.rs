//! Self-supervised methods, one file each over a shared shape (solo-learn's): a method is a
//! Burn module holding the encoder and its own heads, its loss in [`TrainStep::step`], and
//! its settings with defaults for grey 28x28 images, all behind [`PretextMethod`]. The
//! registry at the end of this module is the one place that lists them; a macro generates
//! from it the names, the tagged settings table and the model a run saves.
//!
//! Rotation (RotNet) classifies quarter turns of single images; SimCLR, BYOL, VICReg and
//! Barlow Twins compare two augmented views of each image.

pub mod losses;
pub mod supervised;
pub mod two_view;

use std::fmt;
use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use rand_chacha::ChaCha12Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::batch::{BatchSource, PixelMap};
use crate::data::images::{ImageShape, LabeledImages, Tile};
use crate::error::{Invalid, Result};
use crate::model::encoders::{Encoder, ModelConfig};
use crate::model::summary::Summary;
use crate::model::weights;
use crate::train::optimizer::TrainConfig;
use crate::train::step::TrainStep;

/// A self-supervised method, implemented by its settings type (the `[method]` table of
/// `config.toml`). A method is one file that implements this trait and one line of the
/// registry at the end of this module.
pub trait PretextMethod: Default + Clone + PartialEq + fmt::Debug + Serialize + DeserializeOwned + schemars::JsonSchema {
    /// What one training step of its model takes: a batch of images, or of views.
    type Input;
    /// The model it trains: the encoder and its own heads.
    type Model: TrainStep<Self::Input> + Method + fmt::Debug + Into<PretextModel>;
    /// One line for `pretext methods`: what it learns from, its paper, its views.
    const DESCRIPTION: &'static str;

    /// A freshly initialised model with `model`'s encoder for images of `shape`; the encoder
    /// is drawn first, so every method starts from the same encoder for a seed.
    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Self::Model;

    /// Its training batches, made from the unlabeled images (their labels are never read).
    fn batches<'a>(&'a self, data: PretextData<'a>) -> impl BatchSource<Input = Self::Input> + 'a;

    /// The pretext training a run takes when it switches to the method.
    fn pretext_training() -> TrainConfig;

    /// Names the first setting that cannot work, given the pretext batch size (`name` is the
    /// method's, for the message).
    fn validate(&self, name: MethodName, batch_size: usize) -> std::result::Result<(), Invalid>;

    /// A figure of what the method is asked to learn, drawn from the first images.
    fn figure(&self, images: &LabeledImages) -> Option<Figure>;

    /// A Keras-style table of the model's layers, where the method has one.
    fn summary(_model: &Self::Model, _shape: ImageShape) -> Option<Summary> {
        None
    }
}

/// What a method's batches are made from.
#[derive(Debug, Clone, Copy)]
pub struct PretextData<'a> {
    /// The unlabeled images.
    pub images: &'a LabeledImages,
    /// How their bytes become the model's input values.
    pub pixels: PixelMap,
    /// The pretext training's random shifts, in pixels (0 = none).
    pub max_shift: usize,
}

/// A grid of captioned images that a run saves beside its pretext curves.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name in the run folder.
    pub file: &'static str,
    /// Title above the grid.
    pub title: &'static str,
    /// The images, row by row.
    pub tiles: Vec<Tile>,
    /// Images per row.
    pub columns: usize,
}

/// What every method's model offers besides its training step: the encoder it learns.
pub trait Method {
    /// The encoder, what downstream tasks keep.
    fn encoder(&self) -> &Encoder;
}

/// Implements [`Method`] for models whose encoder is their `encoder` field.
macro_rules! encoder_field {
    ($($model:ty),*) => {
        $(impl $crate::methods::Method for $model {
            fn encoder(&self) -> &$crate::model::encoders::Encoder {
                &self.encoder
            }
        })*
    };
}

/// A use of a method's model that needs its concrete types, such as training it on its own
/// batches; [`PretextModel::with_method`] calls it.
pub trait WithMethod {
    /// What it gives back.
    type Output;
    /// Runs on the model of method `M`, whose settings are `config`.
    fn run<M: PretextMethod>(self, config: &M, model: M::Model) -> Self::Output;
}

/// Generates from one line per method what must be closed over all of them: the method's
/// module, the names `method.name` takes, the tagged `[method]` table, the model a run saves,
/// and their dispatch. A line may be `#[cfg(...)]`, which then holds for all of these.
macro_rules! methods {
    ($($(#[doc = $doc:literal])* $(#[cfg($cfg:meta)])? $variant:ident($module:ident::$config:ident),)*) => {
        $($(#[cfg($cfg)])? pub mod $module;)*
        $($(#[cfg($cfg)])? use $module::$config;)*

        /// The methods by name, as `method.name` takes them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "kebab-case")]
        pub enum MethodName {
            $($(#[doc = $doc])* $(#[cfg($cfg)])? $variant,)*
        }

        impl MethodName {
            /// Every method, in the order `pretext methods` lists them.
            pub const ALL: &[MethodName] = &[$($(#[cfg($cfg)])? MethodName::$variant,)*];

            /// One line for `pretext methods`.
            pub fn description(self) -> &'static str {
                match self {
                    $($(#[cfg($cfg)])? MethodName::$variant => <$config as PretextMethod>::DESCRIPTION,)*
                }
            }

            /// The method's settings with their defaults.
            pub fn defaults(self) -> MethodConfig {
                match self {
                    $($(#[cfg($cfg)])? MethodName::$variant => MethodConfig::$variant(<$config>::default()),)*
                }
            }

            /// The method's pretext training, which a run takes when it switches to the method.
            pub fn pretext_training(self) -> TrainConfig {
                match self {
                    $($(#[cfg($cfg)])? MethodName::$variant => <$config as PretextMethod>::pretext_training(),)*
                }
            }
        }

        /// The method of a run and its settings: the `[method]` table of `config.toml`, whose
        /// `name` picks the method; keys it leaves out keep the method's defaults.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "name", rename_all = "kebab-case")]
        pub enum MethodConfig {
            $($(#[doc = $doc])* $(#[cfg($cfg)])? $variant($config),)*
        }

        impl MethodConfig {
            /// Which method.
            pub fn name(&self) -> MethodName {
                match self {
                    $($(#[cfg($cfg)])? MethodConfig::$variant(_) => MethodName::$variant,)*
                }
            }

            /// Names the first setting that cannot work, given the pretext batch size.
            pub fn validate(&self, batch_size: usize) -> std::result::Result<(), Invalid> {
                match self {
                    $($(#[cfg($cfg)])? MethodConfig::$variant(c) => c.validate(MethodName::$variant, batch_size),)*
                }
            }

            /// The method's figure, drawn from the first of `images`.
            pub fn figure(&self, images: &LabeledImages) -> Option<Figure> {
                match self {
                    $($(#[cfg($cfg)])? MethodConfig::$variant(c) => c.figure(images),)*
                }
            }
        }

        /// The model a method trains, as a run saves it in `pretext.safetensors`.
        #[derive(Debug)]
        pub enum PretextModel {
            $($(#[doc = $doc])* $(#[cfg($cfg)])? $variant(<$config as PretextMethod>::Model),)*
        }

        $($(#[cfg($cfg)])? impl From<<$config as PretextMethod>::Model> for PretextModel {
            fn from(model: <$config as PretextMethod>::Model) -> Self {
                PretextModel::$variant(model)
            }
        })*

        impl PretextModel {
            /// A freshly initialised model of `method` for images of `shape`; the encoder is
            /// drawn first, so every method starts from the same encoder for a seed.
            pub fn init(method: &MethodConfig, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Self {
                match method {
                    $($(#[cfg($cfg)])? MethodConfig::$variant(c) => PretextModel::$variant(c.init(model, shape, rng, device)),)*
                }
            }

            /// `work` on this model with its method's types; `method` holds its settings.
            pub fn with_method<W: WithMethod>(self, method: &MethodConfig, work: W) -> W::Output {
                match (self, method) {
                    $($(#[cfg($cfg)])? (PretextModel::$variant(m), MethodConfig::$variant(c)) => work.run(c, m),)*
                    #[allow(unreachable_patterns)]
                    (model, method) => unreachable!("a {} model with {} settings", model.method(), method.name()),
                }
            }

            /// The method that trains it.
            pub fn method(&self) -> MethodName {
                match self {
                    $($(#[cfg($cfg)])? PretextModel::$variant(_) => MethodName::$variant,)*
                }
            }

            /// The encoder, what downstream tasks keep.
            pub fn encoder(&self) -> &Encoder {
                match self {
                    $($(#[cfg($cfg)])? PretextModel::$variant(m) => m.encoder(),)*
                }
            }

            /// Parameters of the whole model (encoder and heads; BYOL's target included).
            pub fn num_params(&self) -> usize {
                match self {
                    $($(#[cfg($cfg)])? PretextModel::$variant(m) => m.num_params(),)*
                }
            }

            /// A Keras-style table of the model's layers, where its method has one.
            pub fn summary(&self, shape: ImageShape) -> Option<Summary> {
                match self {
                    $($(#[cfg($cfg)])? PretextModel::$variant(m) => <$config as PretextMethod>::summary(m, shape),)*
                }
            }

            /// Writes the weights to `path`.
            pub fn save(&self, path: &Path) -> Result<()> {
                match self {
                    $($(#[cfg($cfg)])? PretextModel::$variant(m) => weights::save(m, path),)*
                }
            }

            /// The same model with the weights saved at `path`.
            pub fn load(self, path: &Path) -> Result<Self> {
                Ok(match self {
                    $($(#[cfg($cfg)])? PretextModel::$variant(m) => PretextModel::$variant(weights::load(m, path)?),)*
                })
            }
        }
    };
}

methods! {
    /// RotNet: predict which quarter turn an image was rotated by.
    Rotation(rotation::RotationConfig),
    /// SimCLR: contrast two views of each image against the rest of the batch (NT-Xent).
    Simclr(simclr::SimClrConfig),
    /// BYOL: predict a moving-average target network's projection of the other view.
    Byol(byol::ByolConfig),
    /// VICReg: invariance between views, variance and covariance regularisation.
    Vicreg(vicreg::VicRegConfig),
    /// Barlow Twins: make the views' cross-correlation matrix the identity.
    BarlowTwins(barlow_twins::BarlowTwinsConfig),
    /// Brightness: predict each image's mean brightness (the registry's tests only).
    #[cfg(test)]
    Brightness(brightness::BrightnessConfig),
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::settings::name_of(self))
    }
}
