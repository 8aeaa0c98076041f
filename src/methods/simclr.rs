//! SimCLR (Chen et al. 2020): two augmented views of each image; a projector maps the
//! encoder's features to embeddings, and NT-Xent pulls each view towards its twin and away
//! from the other images of the batch.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::data::batch::Batch;
use crate::data::images::ImageShape;
use crate::methods::losses::nt_xent;
use crate::methods::two_view::{self, project_views, two_view_items};
use crate::methods::{MethodName, PretextMethod};
use crate::model::encoders::{Encoder, ModelConfig};
use crate::model::heads::{Mlp, MlpConfig};
use crate::train::step::{StepOutput, TrainStep};
use crate::transforms::AugmentConfig;

/// SimCLR's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SimClrConfig {
    /// Softmax temperature of NT-Xent.
    pub temperature: f64,
    /// Projector from encoder features to embeddings.
    pub projector: MlpConfig,
    /// Augmentations of both views.
    pub augment: AugmentConfig,
}

impl Default for SimClrConfig {
    fn default() -> Self {
        Self { temperature: 0.2, projector: MlpConfig { hidden: 512, output: 128, batch_norm: true }, augment: AugmentConfig::default() }
    }
}

impl PretextMethod for SimClrConfig {
    two_view_items!();
    type Model = SimClr;
    const DESCRIPTION: &'static str = "pull two views of an image together, push other images away, NT-Xent loss (Chen et al. 2020); 2 views";

    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> SimClr {
        let (encoder, features) = (model.encoder(shape, rng, device), model.feature_dim(shape));
        SimClr { encoder, projector: self.projector.init(features, model.kernels, rng, device), temperature: self.temperature }
    }

    fn validate(&self, name: MethodName, batch_size: usize) -> Result<(), Invalid> {
        two_view::positive("temperature", self.temperature)?;
        two_view::validate(name, &self.projector, &self.augment, batch_size)
    }
}

/// Encoder and projector.
#[derive(Module, Debug)]
pub struct SimClr {
    /// The encoder being learned.
    pub encoder: Encoder,
    projector: Mlp,
    temperature: f64,
}

encoder_field!(SimClr);

impl TrainStep<Vec<Tensor<4>>> for SimClr {
    fn step(&self, batch: Batch<Vec<Tensor<4>>>) -> StepOutput {
        let [z1, z2] = project_views(&self.encoder, &self.projector, batch.input);
        StepOutput::loss(nt_xent(z1, z2, self.temperature))
    }
}
