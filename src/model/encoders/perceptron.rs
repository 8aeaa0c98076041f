//! A one-layer perceptron on the flattened pixels: Flatten, Dense, ReLU. It exists to prove
//! that an encoder is one file plus one registry line, and is compiled for the tests only.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::data::images::ImageShape;
use crate::error::Invalid;
use crate::model::encoders::{EncoderKind, EncoderModule, ModelConfig};
use crate::model::network::{Layer, NetworkBuilder};

/// Settings of the perceptron.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PerceptronConfig {
    /// Features: the units of its one dense layer.
    pub features: usize,
}

impl Default for PerceptronConfig {
    fn default() -> Self {
        Self { features: 32 }
    }
}

impl EncoderKind for PerceptronConfig {
    type Module = Perceptron;
    const DESCRIPTION: &'static str = "A one-layer perceptron on the flattened pixels.";

    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Perceptron {
        Perceptron { dense: model.dense(shape.channels * shape.height * shape.width, self.features, rng, device) }
    }

    fn feature_dim(&self, _shape: ImageShape) -> usize {
        self.features
    }

    fn validate(&self) -> Result<(), Invalid> {
        match self.features {
            0 => Err(Invalid::new("model.encoder.features", "must be at least 1")),
            _ => Ok(()),
        }
    }
}

/// Flatten, Dense, ReLU.
#[derive(Module, Debug)]
pub struct Perceptron {
    dense: Linear,
}

impl EncoderModule for Perceptron {
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        relu(self.dense.forward(x.flatten(1, 3)))
    }

    fn layers(&self, network: &mut NetworkBuilder, prefix: &str) {
        network.push(Layer::Flatten);
        network.dense(&self.dense, &format!("{prefix}dense"));
        network.push(Layer::Relu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Preset, RunConfig};
    use crate::data::dataset::Dataset;
    use crate::data::images::LabeledImages;
    use crate::model::encoders::{Encoder, EncoderConfig, EncoderName};
    use crate::model::network::Network;
    use crate::model::summary::Summary;
    use crate::pipeline::{self, Session};

    /// The registry's acceptance test: this file and one line registered an encoder that the
    /// name list, the `[model.encoder]` table, the settings, every method's model, the pipeline,
    /// the summary and export all know.
    #[test]
    fn an_encoder_in_one_file_and_one_registry_line_trains_through_the_pipeline() {
        assert!(EncoderName::ALL.contains(&EncoderName::Perceptron));
        assert_eq!(EncoderName::Perceptron.to_string(), "perceptron");
        let config = RunConfig::preset(Preset::Default).set("model.encoder.name", "perceptron").unwrap().set("model.encoder.features", "16").unwrap();
        assert_eq!(config.model.encoder, EncoderConfig::Perceptron(PerceptronConfig { features: 16 }));
        let small = [("pretext.epochs", "2"), ("monitor.every", "0"), ("data.unlabeled_size", "256"), ("data.labels", "100"), ("data.test_size", "20")];
        let config = small.into_iter().fold(config, |config, (key, value)| config.set(key, value).unwrap());
        let shape = ImageShape::square(1, 28);
        let pixels: Vec<u8> = (0..300 * shape.len()).map(|i| ((i * 37 + i / shape.len()) % 256) as u8).collect();
        let images = LabeledImages::new(pixels, (0..300).map(|i| (i % 10) as u8).collect(), shape);
        let classes = (0..10).map(|c| c.to_string()).collect();
        let data = pipeline::select(&config, &Dataset::new("synthetic", images.clone(), images.head(20), classes)).unwrap();
        let pretrained = pipeline::pretrain(&config, &data, &Session::default()).unwrap();
        assert!(matches!(pretrained.model.encoder(), Encoder::Perceptron(_)));
        assert!(pretrained.history.iter().all(|r| r.loss.is_finite()), "{:?}", pretrained.history);

        // Flatten, then 784 x 16 weights and 16 biases, then the ReLU (no row of its own).
        let network = Network::encoder(pretrained.model.encoder(), shape);
        let summary = Summary::of("encoder", &network, |_| true);
        let rows: Vec<(&str, Vec<usize>, usize)> = summary.rows.iter().map(|r| (r.name.as_str(), r.output_shape.clone(), r.params)).collect();
        assert_eq!(rows, [("flatten", vec![784], 0), ("dense", vec![16], 784 * 16 + 16)]);
        assert_eq!(network.outputs, 16);
    }
}
