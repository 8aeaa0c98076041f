//! The downstream classifier: an encoder (frozen for a linear probe, or fine-tuned), optionally
//! a fixed standardisation of its features, and a dense head.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;

use crate::data::images::ImageShape;
use crate::model::encoders::Encoder;
use crate::model::heads::FeatureNorm;
use crate::model::network::Network;
use crate::model::summary::Summary;

/// A model that maps an input batch to class logits (softmax is part of the loss).
pub trait Logits<I>: Module {
    /// Unnormalised class scores `[batch, classes]`.
    fn logits(&self, input: I) -> Tensor<2>;
}

impl Logits<Tensor<2>> for Linear {
    fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward(input)
    }
}

/// Encoder, optionally a fixed standardisation of the features, Dense.
#[derive(Module, Debug)]
pub struct Classifier {
    /// Encoder, usually taken from a pretext model.
    pub encoder: Encoder,
    /// Standardisation of the features before the head (`standardize_features`).
    pub norm: Option<FeatureNorm>,
    /// Dense layer over the features.
    pub head: Linear,
}

impl Classifier {
    /// Keras-style summary for images of `shape`; `encoder_trainable` false marks the encoder
    /// frozen.
    pub fn summary(&self, shape: ImageShape, encoder_trainable: bool) -> Summary {
        Summary::of("downstream", &Network::classifier(self, shape), |name| encoder_trainable || !name.starts_with("encoder."))
    }
}

impl Logits<Tensor<4>> for Classifier {
    fn logits(&self, input: Tensor<4>) -> Tensor<2> {
        let x = self.encoder.features(input);
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        self.head.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::rotation::RotationModel;
    use crate::model::encoders::ModelConfig;
    use burn::tensor::Device;
    use rand::SeedableRng;
    use rand_chacha::ChaCha12Rng;

    #[test]
    fn layer_shapes_and_parameter_counts_match_the_notebook() {
        let device = Device::flex();
        let mnist = ImageShape::square(1, 28);
        let model = RotationModel::init(&ModelConfig::default(), mnist, &mut ChaCha12Rng::seed_from_u64(0), &device);
        let summary = model.summary(mnist);
        let shapes: Vec<Vec<usize>> = summary.rows.iter().map(|r| r.output_shape.clone()).collect();
        let expected: [&[usize]; 7] = [&[64, 14, 14], &[64, 7, 7], &[32, 7, 7], &[32, 3, 3], &[16, 2, 2], &[64], &[4]];
        assert_eq!(shapes, expected);
        let params: Vec<usize> = summary.rows.iter().map(|r| r.params).collect();
        assert_eq!(params, [640, 0, 18_464, 0, 4_624, 0, 260]);
        assert_eq!((summary.total_params(), summary.trainable_params()), (23_988, 23_988));

        let mut rng = ChaCha12Rng::seed_from_u64(1);
        let classifier = Classifier { encoder: model.encoder, norm: None, head: ModelConfig::default().head(mnist, 10, &mut rng, &device) };
        let summary = classifier.summary(mnist, false);
        assert_eq!(summary.rows.last().unwrap().output_shape, [10]);
        assert_eq!((summary.total_params(), summary.trainable_params(), summary.non_trainable_params()), (21_994, 2_890, 19_104));
    }
}
