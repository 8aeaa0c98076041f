//! FixMatch (Sohn et al. 2020): the classifier's prediction on a weak view of an unlabeled
//! image, when its confidence reaches the threshold, becomes the hard target of a strong view
//! of the same image; the labelled images keep their cross-entropy.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

use crate::data::batch::Batch;
use crate::eval::predict::argmax_rows;
use crate::methods::losses::masked_cross_entropy;
use crate::model::classifier::{Classifier, Logits};
use crate::semi::batches::SemiInput;
use crate::semi::joint_step;
use crate::semi::pseudo_labels::PseudoLabels;
use crate::train::step::{StepOutput, TrainStep};

/// The pseudo-label of each row of `probabilities` (`[n, classes]`, row-major): its most
/// probable class (the first of ties) when that probability is at least `threshold` (compared
/// in `f32`, the probabilities' precision, so 0.95 passes a threshold of 0.95).
pub fn pseudo_labels(probabilities: &[f32], classes: usize, threshold: f64) -> Vec<Option<usize>> {
    argmax_rows(probabilities, classes)
        .into_iter()
        .zip(probabilities.chunks(classes))
        .map(|(class, row)| (row[class] >= threshold as f32).then_some(class))
        .collect()
}

/// A classifier trained by FixMatch.
#[derive(Module, Debug)]
pub struct FixMatch {
    /// Encoder and head, all of it trained.
    pub classifier: Classifier,
    threshold: f64,
    unlabeled_weight: f64,
}

impl FixMatch {
    /// FixMatch over `classifier`, with the confidence `threshold` and the unlabeled loss's
    /// weight.
    pub fn new(classifier: Classifier, threshold: f64, unlabeled_weight: f64) -> Self {
        Self { classifier, threshold, unlabeled_weight }
    }
}

impl TrainStep<SemiInput> for FixMatch {
    /// The weak views are classified without gradients (their predictions are targets, not
    /// outputs to train); the labelled images and the strong views go through the network as
    /// one batch.
    fn step(&self, batch: Batch<SemiInput>) -> StepOutput {
        let SemiInput { labelled, weak, strong, truth, .. } = batch.input;
        let strong = strong.expect("FixMatch batches carry strong views");
        let confidences = softmax(self.classifier.logits(weak).detach(), 1);
        let [_, classes] = confidences.dims();
        let pseudo = pseudo_labels(&confidences.into_data().try_to_vec::<f32>().expect("f32 probabilities"), classes, self.threshold);
        let counts = PseudoLabels::tally(&pseudo, &truth);
        let loss = |logits| masked_cross_entropy(logits, &pseudo);
        joint_step(&self.classifier, (labelled, strong), &batch.targets, loss, self.unlabeled_weight, counts)
    }
}

impl Logits<Tensor<4>> for FixMatch {
    fn logits(&self, input: Tensor<4>) -> Tensor<2> {
        self.classifier.logits(input)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};
    use rand::SeedableRng;
    use rand_chacha::ChaCha12Rng;

    use super::*;
    use crate::data::images::ImageShape;
    use crate::methods::supervised::classification_step;
    use crate::model::encoders::ModelConfig;
    use crate::train::step::Tally;

    #[test]
    fn pseudo_labels_are_the_confident_argmax_and_tallied_against_known_truth() {
        // Confidences 0.96 (class 0), 0.95 exactly (class 2), 0.6 (class 1), 0.97 (class 1).
        let probabilities = [0.96, 0.02, 0.02, 0.03, 0.02, 0.95, 0.3, 0.6, 0.1, 0.01, 0.97, 0.02];
        let pseudo = pseudo_labels(&probabilities, 3, 0.95);
        assert_eq!(pseudo, [Some(0), Some(2), None, Some(1)]);
        assert_eq!(pseudo_labels(&probabilities, 3, 0.965), [None, None, None, Some(1)]);
        // True labels: right, wrong, (not passed), unknown.
        let counts = PseudoLabels::tally(&pseudo, &[Some(0), Some(1), Some(1), None]);
        assert_eq!(counts.passed, Tally { hits: 3, of: 4 });
        assert_eq!(counts.right, Tally { hits: 1, of: 2 });
    }

    #[test]
    fn when_no_prediction_passes_the_threshold_only_the_labelled_loss_is_left() {
        let (device, shape, model) = (Device::flex(), ImageShape::square(1, 28), ModelConfig::default());
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let classifier = Classifier { encoder: model.encoder(shape, &mut rng, &device), norm: None, head: model.head(shape, 10, &mut rng, &device) };
        let images = |n| Tensor::<4>::random(shape.batch(n), Distribution::Normal(0.0, 1.0), &device);
        let (labelled, targets) = (images(2), vec![3, 7]);
        let input = SemiInput { labelled: labelled.clone(), weak: images(3), strong: Some(images(3)), teacher: None, truth: vec![Some(1), None, Some(2)] };
        // A fresh network is never certain: no probability reaches 1.
        let out = FixMatch::new(classifier.clone(), 1.0, 1.0).step(Batch { input, targets: targets.clone() });
        let labelled_only = classification_step(classifier.logits(labelled), &targets);
        let (got, want) = (out.loss.into_scalar::<f32>(), labelled_only.loss.into_scalar::<f32>());
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert_eq!(out.tallies, [("accuracy", labelled_only.tallies[0].1), ("mask_rate", Tally { hits: 0, of: 3 }), ("pseudo_label_accuracy", Tally::default())]);
    }
}
