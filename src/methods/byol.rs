//! BYOL (Grill et al. 2020): an online network (encoder, projector, predictor) predicts the
//! projection a slowly moving target network (an exponential moving average of the online
//! encoder and projector) gives the other view. No negatives; the predictor and the moving
//! target keep it from collapsing.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::data::batch::Batch;
use crate::data::images::ImageShape;
use crate::methods::losses::byol_regression;
use crate::methods::two_view::{self, project_views, two_view_items};
use crate::methods::{MethodName, PretextMethod};
use crate::model::encoders::{Encoder, ModelConfig};
use crate::model::heads::{Mlp, MlpConfig};
use crate::train::step::{StepOutput, TrainStep};
use crate::transforms::AugmentConfig;

/// BYOL's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ByolConfig {
    /// Target momentum at the start; it rises to 1 along a cosine over the phase.
    pub base_momentum: f64,
    /// Projector from encoder features to embeddings (online and target).
    pub projector: MlpConfig,
    /// Predictor of the target's projection (online only); its output is the projector's.
    pub predictor_hidden: usize,
    /// Augmentations of both views.
    pub augment: AugmentConfig,
}

impl Default for ByolConfig {
    fn default() -> Self {
        Self {
            base_momentum: 0.99,
            projector: MlpConfig { hidden: 512, output: 128, batch_norm: true },
            predictor_hidden: 512,
            augment: AugmentConfig::default(),
        }
    }
}

impl ByolConfig {
    /// The predictor's shape: from the projection back to the projection's size.
    pub fn predictor(&self) -> MlpConfig {
        MlpConfig { hidden: self.predictor_hidden, output: self.projector.output, batch_norm: self.projector.batch_norm }
    }
}

impl PretextMethod for ByolConfig {
    two_view_items!();
    type Model = Byol;
    const DESCRIPTION: &'static str = "predict a moving-average target network's projection of the other view (Grill et al. 2020); 2 views";

    /// A freshly initialised model with `model`'s encoder for images of `shape` (the
    /// encoder is drawn first, as every method's is); the target starts as a copy of the online
    /// encoder and projector and never receives gradients.
    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Byol {
        let (encoder, features) = (model.encoder(shape, rng, device), model.feature_dim(shape));
        let projector = self.projector.init(features, model.kernels, rng, device);
        let predictor = self.predictor().init(self.projector.output, model.kernels, rng, device);
        Byol {
            target_encoder: encoder.clone().no_grad(),
            target_projector: projector.clone().no_grad(),
            encoder,
            projector,
            predictor,
            base_momentum: self.base_momentum,
        }
    }

    fn validate(&self, name: MethodName, batch_size: usize) -> Result<(), Invalid> {
        if !(0.0..=1.0).contains(&self.base_momentum) {
            return Err(Invalid::new("method.base_momentum", format!("must be in [0, 1], got {}", self.base_momentum)));
        }
        if self.predictor_hidden == 0 {
            return Err(Invalid::new("method.predictor_hidden", "must be at least 1"));
        }
        two_view::validate(name, &self.projector, &self.augment, batch_size)
    }
}

/// Online encoder, projector and predictor; target encoder and projector.
#[derive(Module, Debug)]
pub struct Byol {
    /// The online encoder: the one kept for downstream tasks.
    pub encoder: Encoder,
    projector: Mlp,
    predictor: Mlp,
    target_encoder: Encoder,
    target_projector: Mlp,
    base_momentum: f64,
}

impl Byol {
    /// The target's momentum at `progress` (0..=1) through the phase: from the base to 1.
    fn momentum(&self, progress: f64) -> f64 {
        1.0 - (1.0 - self.base_momentum) * ((std::f64::consts::PI * progress).cos() + 1.0) / 2.0
    }
}

encoder_field!(Byol);

impl TrainStep<Vec<Tensor<4>>> for Byol {
    fn step(&self, batch: Batch<Vec<Tensor<4>>>) -> StepOutput {
        let views = batch.input;
        let [z1, z2] = project_views(&self.encoder, &self.projector, views.clone());
        let (p1, p2) = (self.predictor.forward(z1), self.predictor.forward(z2));
        let [t1, t2] = project_views(&self.target_encoder, &self.target_projector, views);
        StepOutput::loss(byol_regression(p1, t2) + byol_regression(p2, t1))
    }

    fn after_step(mut self, progress: f64) -> Self {
        let tau = self.momentum(progress);
        self.target_encoder = moving_average(self.target_encoder, &self.encoder, tau);
        self.target_projector = moving_average(self.target_projector, &self.projector, tau);
        self
    }
}

/// `tau * target + (1 - tau) * online`, parameter by parameter (the two have the same shape);
/// the result takes no gradients.
fn moving_average<M: Module>(target: M, online: &M, tau: f64) -> M {
    let mut collect = Collect(Vec::new());
    online.visit(&mut collect);
    let mut values = collect.0.into_iter();
    target.map(&mut Blend { values: &mut values, tau }).no_grad()
}

/// The online parameters, flattened, in module order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().detach().flatten(0, D - 1));
    }
}

struct Blend<'a> {
    values: &'a mut std::vec::IntoIter<Tensor<1>>,
    tau: f64,
}

impl ModuleMapper for Blend<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, value, mapper) = param.consume();
        let online = self.values.next().expect("target and online networks have the same parameters").reshape(value.dims());
        let blended = value.detach().mul_scalar(self.tau) + online.mul_scalar(1.0 - self.tau);
        Param::from_mapped_value(id, blended, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::TensorData;

    #[test]
    fn momentum_rises_from_the_base_to_one_along_a_cosine() {
        let device = Device::flex();
        let mut rng = rand::SeedableRng::seed_from_u64(0);
        let byol = ByolConfig::default().init(&ModelConfig::default(), crate::data::images::ImageShape::square(1, 28), &mut rng, &device);
        assert!((byol.momentum(0.0) - 0.99).abs() < 1e-12);
        assert!((byol.momentum(0.5) - 0.995).abs() < 1e-12);
        assert!((byol.momentum(1.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn moving_average_blends_each_parameter_and_stops_gradients() {
        let device = Device::flex().autodiff();
        let layer = |w: f32| {
            let mut linear: Linear = LinearConfig::new(2, 1).init(&device);
            linear.weight = Param::from_tensor(Tensor::from_data(TensorData::new(vec![w, w], [2, 1]), &device));
            linear.bias = linear.bias.map(|b| Param::from_tensor(Tensor::zeros(b.dims(), &device)));
            linear
        };
        let blended = moving_average(layer(1.0), &layer(3.0), 0.75);
        let weights: Vec<f32> = blended.weight.val().into_data().try_to_vec().unwrap();
        assert_eq!(weights, [1.5, 1.5]); // 0.75 * 1 + 0.25 * 3
        assert!(!blended.weight.is_require_grad());
    }
}
