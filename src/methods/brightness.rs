//! A method that exists for the registry's tests: predict each image's mean brightness from
//! the encoder's features. It is here to show, and to keep true, that a method is this one
//! file and one line of the registry in `methods/mod.rs`.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::data::batch::{Batch, BatchSource, ImageBatches};
use crate::data::images::{ImageShape, LabeledImages};
use crate::data::source::Labeled;
use crate::methods::{Figure, MethodName, PretextData, PretextMethod};
use crate::model::encoders::{Encoder, ModelConfig};
use crate::train::optimizer::TrainConfig;
use crate::train::step::{StepOutput, TrainStep};

/// Its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BrightnessConfig {
    /// Weight of the squared error.
    pub weight: f64,
}

impl Default for BrightnessConfig {
    fn default() -> Self {
        Self { weight: 1.0 }
    }
}

impl PretextMethod for BrightnessConfig {
    type Input = Tensor<4>;
    type Model = Brightness;
    const DESCRIPTION: &'static str = "predict each image's mean brightness from its features (the registry's tests); 1 view";

    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Brightness {
        let (encoder, features) = (model.encoder(shape, rng, device), model.feature_dim(shape));
        Brightness { encoder, head: model.dense(features, 1, rng, device), weight: self.weight }
    }

    /// The images as they are; their labels (the batch's targets) are never read.
    fn batches<'a>(&'a self, data: PretextData<'a>) -> impl BatchSource<Input = Tensor<4>> + 'a {
        ImageBatches::new(Labeled::new(data.images, usize::from(u8::MAX) + 1), data.pixels)
    }

    fn pretext_training() -> TrainConfig {
        TrainConfig { batch_size: 64, ..TrainConfig::default() }
    }

    fn validate(&self, _name: MethodName, _batch_size: usize) -> Result<(), Invalid> {
        if self.weight.is_finite() && self.weight > 0.0 { Ok(()) } else { Err(Invalid::new("method.weight", format!("must be > 0, got {}", self.weight))) }
    }

    fn figure(&self, _images: &LabeledImages) -> Option<Figure> {
        None
    }
}

/// The encoder and a one-output dense head.
#[derive(Module, Debug)]
pub struct Brightness {
    /// The encoder being learned.
    pub encoder: Encoder,
    head: Linear,
    weight: f64,
}

encoder_field!(Brightness);

impl TrainStep<Tensor<4>> for Brightness {
    fn step(&self, batch: Batch<Tensor<4>>) -> StepOutput {
        let [n, ..] = batch.input.dims();
        let brightness = batch.input.clone().reshape([n as i32, -1]).mean_dim(1);
        let predicted = self.head.forward(self.encoder.features(batch.input));
        StepOutput::loss((predicted - brightness).powf_scalar(2.0).mean().mul_scalar(self.weight))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Preset, RunConfig};
    use crate::data::dataset::Dataset;
    use crate::methods::{MethodConfig, PretextModel};
    use crate::pipeline::{self, Session};

    /// The registry's acceptance test: this file and one line registered a method that the
    /// name list, the settings table, the pipeline and the saved model all know.
    #[test]
    fn a_method_in_one_file_and_one_registry_line_trains_through_the_pipeline() {
        assert!(MethodName::ALL.contains(&MethodName::Brightness));
        assert_eq!(MethodName::Brightness.to_string(), "brightness");
        let config = RunConfig::preset(Preset::Default).set("method.name", "brightness").unwrap().set("method.weight", "2.0").unwrap();
        assert_eq!(config.method, MethodConfig::Brightness(BrightnessConfig { weight: 2.0 }));
        assert_eq!(config.pretext.batch_size, 64);
        let small = [("pretext.epochs", "2"), ("monitor.every", "0"), ("data.unlabeled_size", "256"), ("data.labels", "100"), ("data.test_size", "20")];
        let config = small.into_iter().fold(config, |config, (key, value)| config.set(key, value).unwrap());
        let shape = ImageShape::square(1, 28);
        let pixels: Vec<u8> = (0..300 * shape.len()).map(|i| ((i / shape.len()) * 7 % 256) as u8).collect();
        let images = LabeledImages::new(pixels, (0..300).map(|i| (i % 10) as u8).collect(), shape);
        let classes = (0..10).map(|c| c.to_string()).collect();
        let data = pipeline::select(&config, &Dataset::new("synthetic", images.clone(), images.head(20), classes)).unwrap();
        let pretrained = pipeline::pretrain(&config, &data, &Session::default()).unwrap();
        assert!(matches!(pretrained.model, PretextModel::Brightness(_)));
        let losses: Vec<f64> = pretrained.history.iter().map(|r| r.loss).collect();
        assert!(losses[1] < losses[0], "the loss fell from epoch 1 to 2: {losses:?}");
    }
}
