//! Self-supervised methods, one file each over a shared shape (solo-learn's): a method is a
//! Burn module holding the encoder and its own heads, its loss in [`TrainStep::step`], and
//! its settings with defaults for grey 28x28 images. This module is the one place that lists
//! them: names, settings, which views they need, and the model a run saves.
//!
//! Rotation (RotNet) classifies quarter turns of single images; SimCLR, BYOL, VICReg and
//! Barlow Twins compare two augmented views of each image.

pub mod barlow_twins;
pub mod byol;
pub mod losses;
pub mod rotation;
pub mod settings;
pub mod simclr;
pub mod supervised;
pub mod vicreg;

use std::fmt;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::data::images::ImageShape;
use crate::model::encoders::{Encoder, ModelConfig};
use crate::model::heads::{Mlp, MlpConfig};
use crate::model::weights;
use crate::train::optimizer::{OptimizerKind, Schedule, TrainConfig};
use crate::transforms::AugmentConfig;
use barlow_twins::{BarlowTwins, BarlowTwinsConfig};
use byol::{Byol, ByolConfig};
use rotation::RotationModel;
use simclr::{SimClr, SimClrConfig};
use vicreg::{VicReg, VicRegConfig};

/// The methods by name, as `--method` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodName {
    /// RotNet: predict which quarter turn an image was rotated by.
    Rotation,
    /// SimCLR: contrast two views of each image against the rest of the batch (NT-Xent).
    Simclr,
    /// BYOL: predict a moving-average target network's projection of the other view.
    Byol,
    /// VICReg: invariance between views, variance and covariance regularisation.
    Vicreg,
    /// Barlow Twins: make the views' cross-correlation matrix the identity.
    BarlowTwins,
}

impl MethodName {
    /// Every method, in the order `pretext methods` lists them.
    pub const ALL: [MethodName; 5] = [MethodName::Rotation, MethodName::Simclr, MethodName::Byol, MethodName::Vicreg, MethodName::BarlowTwins];

    /// One line for `pretext methods`.
    pub fn description(self) -> &'static str {
        match self {
            MethodName::Rotation => "predict which quarter turn an image was rotated by (Gidaris et al. 2018); 1 view",
            MethodName::Simclr => "pull two views of an image together, push other images away, NT-Xent loss (Chen et al. 2020); 2 views",
            MethodName::Byol => "predict a moving-average target network's projection of the other view (Grill et al. 2020); 2 views",
            MethodName::Vicreg => "views close, every dimension spread, dimensions decorrelated (Bardes et al. 2022); 2 views",
            MethodName::BarlowTwins => "cross-correlation of the two views' embeddings driven to the identity (Zbontar et al. 2021); 2 views",
        }
    }

    /// The method's settings with their defaults.
    pub fn defaults(self) -> MethodConfig {
        match self {
            MethodName::Rotation => MethodConfig::Rotation,
            MethodName::Simclr => MethodConfig::Simclr(SimClrConfig::default()),
            MethodName::Byol => MethodConfig::Byol(ByolConfig::default()),
            MethodName::Vicreg => MethodConfig::Vicreg(VicRegConfig::default()),
            MethodName::BarlowTwins => MethodConfig::BarlowTwins(BarlowTwinsConfig::default()),
        }
    }

    /// The method's pretext training, which a run takes when it switches to the method.
    /// Rotation: the `default` preset's tuned recipe (Adam, batches of 64, random shifts of up
    /// to 2 pixels, 30 epochs). Two-view methods: AdamW with cosine decay after one warm-up
    /// epoch, batches large enough for a contrastive loss, no shifts (the views bring their
    /// own augmentations), and 5 epochs (on MNIST's 60,000 images, the k-NN monitor gains
    /// little after the third).
    pub fn pretext_training(self) -> TrainConfig {
        let rotation = TrainConfig { batch_size: 64, epochs: 30, max_shift: 2, ..TrainConfig::default() };
        match self {
            MethodName::Rotation => rotation,
            _ => TrainConfig {
                optimizer: OptimizerKind::AdamW,
                learning_rate: 0.002,
                weight_decay: 1e-4,
                schedule: Schedule::Cosine,
                warmup_epochs: 1,
                batch_size: 256,
                epochs: 5,
                max_shift: 0,
                ..rotation
            },
        }
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = clap::ValueEnum::to_possible_value(self).expect("no skipped variants");
        f.write_str(value.get_name())
    }
}

/// The method of a run and its settings: the `[method]` table of `config.toml`, whose `name`
/// picks the method; keys it leaves out keep the method's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum MethodConfig {
    /// RotNet; its settings are the pretext phase's.
    Rotation,
    /// SimCLR.
    Simclr(SimClrConfig),
    /// BYOL.
    Byol(ByolConfig),
    /// VICReg.
    Vicreg(VicRegConfig),
    /// Barlow Twins.
    BarlowTwins(BarlowTwinsConfig),
}

impl MethodConfig {
    /// Which method.
    pub fn name(&self) -> MethodName {
        match self {
            MethodConfig::Rotation => MethodName::Rotation,
            MethodConfig::Simclr(_) => MethodName::Simclr,
            MethodConfig::Byol(_) => MethodName::Byol,
            MethodConfig::Vicreg(_) => MethodName::Vicreg,
            MethodConfig::BarlowTwins(_) => MethodName::BarlowTwins,
        }
    }

    /// The projector and the augmentations of the views (two-view methods).
    pub fn views(&self) -> Option<(&MlpConfig, &AugmentConfig)> {
        match self {
            MethodConfig::Rotation => None,
            MethodConfig::Simclr(c) => Some((&c.projector, &c.augment)),
            MethodConfig::Byol(c) => Some((&c.projector, &c.augment)),
            MethodConfig::Vicreg(c) => Some((&c.projector, &c.augment)),
            MethodConfig::BarlowTwins(c) => Some((&c.projector, &c.augment)),
        }
    }

    /// [`MethodConfig::views`], to change.
    pub fn views_mut(&mut self) -> Option<(&mut MlpConfig, &mut AugmentConfig)> {
        match self {
            MethodConfig::Rotation => None,
            MethodConfig::Simclr(c) => Some((&mut c.projector, &mut c.augment)),
            MethodConfig::Byol(c) => Some((&mut c.projector, &mut c.augment)),
            MethodConfig::Vicreg(c) => Some((&mut c.projector, &mut c.augment)),
            MethodConfig::BarlowTwins(c) => Some((&mut c.projector, &mut c.augment)),
        }
    }

    /// Names the first setting that cannot work, given the pretext batch size.
    pub fn validate(&self, batch_size: usize) -> Result<(), String> {
        let name = self.name();
        if name != MethodName::Rotation && batch_size < 2 {
            return Err(format!("--method {name} compares images within a batch: --pretext-batch-size must be at least 2, got {batch_size}"));
        }
        let positive = |flag: &str, v: f64| if v.is_finite() && v > 0.0 { Ok(()) } else { Err(format!("--{flag} must be > 0, got {v}")) };
        let non_negative = |flag: &str, v: f64| if v.is_finite() && v >= 0.0 { Ok(()) } else { Err(format!("--{flag} must be >= 0, got {v}")) };
        match self {
            MethodConfig::Rotation => Ok(()),
            MethodConfig::Simclr(c) => positive("temperature", c.temperature),
            MethodConfig::Byol(c) => {
                if !(0.0..=1.0).contains(&c.base_momentum) {
                    return Err(format!("--base-momentum must be in [0, 1], got {}", c.base_momentum));
                }
                c.predictor().validate("predictor")
            }
            MethodConfig::Vicreg(c) => {
                non_negative("invariance-weight", c.invariance_weight)?;
                non_negative("variance-weight", c.variance_weight)?;
                non_negative("covariance-weight", c.covariance_weight)
            }
            MethodConfig::BarlowTwins(c) => non_negative("barlow-lambda", c.lambda),
        }?;
        match self.views() {
            Some((projector, augment)) => {
                projector.validate("projector")?;
                augment.validate()
            }
            None => Ok(()),
        }
    }
}

/// What every method's model offers besides its training step: the encoder it learns.
pub trait Method {
    /// The encoder, what downstream tasks keep.
    fn encoder(&self) -> &Encoder;
}

/// Implements [`Method`] for models whose encoder is their `encoder` field.
macro_rules! encoder_field {
    ($($model:ty),*) => {
        $(impl Method for $model {
            fn encoder(&self) -> &Encoder {
                &self.encoder
            }
        })*
    };
}

encoder_field!(RotationModel, SimClr, Byol, VicReg, BarlowTwins);

/// The model a method trains, as a run saves it in `pretext.safetensors`.
#[derive(Debug)]
pub enum PretextModel {
    /// Encoder, third convolution and 4-way head.
    Rotation(RotationModel),
    /// Encoder and projector.
    Simclr(SimClr),
    /// Online encoder, projector and predictor; target encoder and projector.
    Byol(Byol),
    /// Encoder and projector.
    Vicreg(VicReg),
    /// Encoder and projector.
    BarlowTwins(BarlowTwins),
}

impl PretextModel {
    /// A freshly initialised model of `method` for images of `shape`; the encoder is
    /// drawn first, so every method starts from the same encoder for a seed.
    pub fn init(method: &MethodConfig, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Self {
        match method {
            MethodConfig::Rotation => PretextModel::Rotation(RotationModel::init(model, shape, rng, device)),
            MethodConfig::Simclr(c) => PretextModel::Simclr(c.init(model, shape, rng, device)),
            MethodConfig::Byol(c) => PretextModel::Byol(c.init(model, shape, rng, device)),
            MethodConfig::Vicreg(c) => PretextModel::Vicreg(c.init(model, shape, rng, device)),
            MethodConfig::BarlowTwins(c) => PretextModel::BarlowTwins(c.init(model, shape, rng, device)),
        }
    }

    /// The encoder, what downstream tasks keep.
    pub fn encoder(&self) -> &Encoder {
        match self {
            PretextModel::Rotation(m) => m.encoder(),
            PretextModel::Simclr(m) => m.encoder(),
            PretextModel::Byol(m) => m.encoder(),
            PretextModel::Vicreg(m) => m.encoder(),
            PretextModel::BarlowTwins(m) => m.encoder(),
        }
    }

    /// Parameters of the whole model (encoder and heads; BYOL's target included).
    pub fn num_params(&self) -> usize {
        match self {
            PretextModel::Rotation(m) => m.num_params(),
            PretextModel::Simclr(m) => m.num_params(),
            PretextModel::Byol(m) => m.num_params(),
            PretextModel::Vicreg(m) => m.num_params(),
            PretextModel::BarlowTwins(m) => m.num_params(),
        }
    }

    /// Writes the weights to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        match self {
            PretextModel::Rotation(m) => weights::save(m, path),
            PretextModel::Simclr(m) => weights::save(m, path),
            PretextModel::Byol(m) => weights::save(m, path),
            PretextModel::Vicreg(m) => weights::save(m, path),
            PretextModel::BarlowTwins(m) => weights::save(m, path),
        }
    }

    /// The same model with the weights saved at `path`.
    pub fn load(self, path: &Path) -> Result<Self> {
        Ok(match self {
            PretextModel::Rotation(m) => PretextModel::Rotation(weights::load(m, path)?),
            PretextModel::Simclr(m) => PretextModel::Simclr(weights::load(m, path)?),
            PretextModel::Byol(m) => PretextModel::Byol(weights::load(m, path)?),
            PretextModel::Vicreg(m) => PretextModel::Vicreg(weights::load(m, path)?),
            PretextModel::BarlowTwins(m) => PretextModel::BarlowTwins(weights::load(m, path)?),
        })
    }
}

/// The projections `[n, d]` of each of two views `[n, c, h, w]`: both views go through the
/// encoder and `head` as one batch (one pass of each layer; batch norm sees both views).
pub(crate) fn project_views(encoder: &Encoder, head: &Mlp, views: Vec<Tensor<4>>) -> [Tensor<2>; 2] {
    let [n, ..] = views[0].dims();
    let z = head.forward(encoder.features(Tensor::cat(views, 0)));
    [z.clone().narrow(0, 0, n), z.narrow(0, n, n)]
}
