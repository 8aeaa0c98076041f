//! VICReg (Bardes et al. 2022): two views, a projector, and a loss that keeps the views'
//! embeddings close (invariance) while every dimension keeps its spread (variance) and the
//! dimensions stay decorrelated (covariance). No negatives and no target network.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::data::batch::Batch;
use crate::data::images::ImageShape;
use crate::methods::losses::{VicRegWeights, vicreg};
use crate::methods::two_view::{self, project_views, two_view_items};
use crate::methods::{MethodName, PretextMethod};
use crate::model::encoders::{Encoder, ModelConfig};
use crate::model::heads::{Mlp, MlpConfig};
use crate::train::step::{StepOutput, TrainStep};
use crate::transforms::AugmentConfig;

/// VICReg's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VicRegConfig {
    /// Weight of the invariance term.
    pub invariance_weight: f64,
    /// Weight of the variance term.
    pub variance_weight: f64,
    /// Weight of the covariance term.
    pub covariance_weight: f64,
    /// Projector from encoder features to embeddings.
    pub projector: MlpConfig,
    /// Augmentations of both views.
    pub augment: AugmentConfig,
}

impl Default for VicRegConfig {
    fn default() -> Self {
        Self {
            invariance_weight: 25.0,
            variance_weight: 25.0,
            covariance_weight: 1.0,
            projector: MlpConfig { hidden: 512, output: 512, batch_norm: true },
            augment: AugmentConfig::default(),
        }
    }
}

impl PretextMethod for VicRegConfig {
    two_view_items!();
    type Model = VicReg;
    const DESCRIPTION: &'static str = "views close, every dimension spread, dimensions decorrelated (Bardes et al. 2022); 2 views";

    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> VicReg {
        let (encoder, features) = (model.encoder(shape, rng, device), model.feature_dim(shape));
        VicReg {
            encoder,
            projector: self.projector.init(features, model.kernels, rng, device),
            weights: [self.invariance_weight, self.variance_weight, self.covariance_weight],
        }
    }

    fn validate(&self, name: MethodName, batch_size: usize) -> Result<(), Invalid> {
        two_view::non_negative("invariance_weight", self.invariance_weight)?;
        two_view::non_negative("variance_weight", self.variance_weight)?;
        two_view::non_negative("covariance_weight", self.covariance_weight)?;
        two_view::validate(name, &self.projector, &self.augment, batch_size)
    }
}

/// Encoder and projector.
#[derive(Module, Debug)]
pub struct VicReg {
    /// The encoder being learned.
    pub encoder: Encoder,
    projector: Mlp,
    weights: [f64; 3],
}

encoder_field!(VicReg);

impl TrainStep<Vec<Tensor<4>>> for VicReg {
    fn step(&self, batch: Batch<Vec<Tensor<4>>>) -> StepOutput {
        let [z1, z2] = project_views(&self.encoder, &self.projector, batch.input);
        let [invariance, variance, covariance] = self.weights;
        StepOutput::loss(vicreg(z1, z2, VicRegWeights { invariance, variance, covariance }))
    }
}
