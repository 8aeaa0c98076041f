//! Barlow Twins (Zbontar et al. 2021): two views, a projector, and a loss that drives the
//! cross-correlation of the views' standardised embeddings towards the identity.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::data::batch::Batch;
use crate::data::images::ImageShape;
use crate::methods::losses::barlow_twins;
use crate::methods::two_view::{self, project_views, two_view_items};
use crate::methods::{MethodName, PretextMethod};
use crate::model::encoders::{Encoder, ModelConfig};
use crate::model::heads::{Mlp, MlpConfig};
use crate::train::step::{StepOutput, TrainStep};
use crate::transforms::AugmentConfig;

/// Barlow Twins' settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BarlowTwinsConfig {
    /// Weight of the off-diagonal (redundancy) term.
    pub lambda: f64,
    /// Projector from encoder features to embeddings.
    pub projector: MlpConfig,
    /// Augmentations of both views.
    pub augment: AugmentConfig,
}

impl Default for BarlowTwinsConfig {
    /// The paper's λ (0.0051, also solo-learn's for CIFAR with a 2048-wide projector).
    fn default() -> Self {
        Self { lambda: 0.0051, projector: MlpConfig { hidden: 512, output: 512, batch_norm: true }, augment: AugmentConfig::default() }
    }
}

impl PretextMethod for BarlowTwinsConfig {
    two_view_items!();
    type Model = BarlowTwins;
    const DESCRIPTION: &'static str = "cross-correlation of the two views' embeddings driven to the identity (Zbontar et al. 2021); 2 views";

    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> BarlowTwins {
        let (encoder, features) = (model.encoder(shape, rng, device), model.feature_dim(shape));
        BarlowTwins { encoder, projector: self.projector.init(features, model.kernels, rng, device), lambda: self.lambda }
    }

    fn validate(&self, name: MethodName, batch_size: usize) -> Result<(), Invalid> {
        two_view::non_negative("lambda", self.lambda)?;
        two_view::validate(name, &self.projector, &self.augment, batch_size)
    }
}

/// Encoder and projector.
#[derive(Module, Debug)]
pub struct BarlowTwins {
    /// The encoder being learned.
    pub encoder: Encoder,
    projector: Mlp,
    lambda: f64,
}

encoder_field!(BarlowTwins);

impl TrainStep<Vec<Tensor<4>>> for BarlowTwins {
    fn step(&self, batch: Batch<Vec<Tensor<4>>>) -> StepOutput {
        let [z1, z2] = project_views(&self.encoder, &self.projector, batch.input);
        StepOutput::loss(barlow_twins(z1, z2, self.lambda))
    }
}
