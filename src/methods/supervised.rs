//! Plain classification on labels: the step of the downstream head, of fine-tuning and of the
//! from-scratch baseline, and of rotation's 4-way classifier.

use burn::nn::Linear;
use burn::tensor::Tensor;

use crate::data::batch::Batch;
use crate::eval::predict::argmax_rows;
use crate::methods::losses::cross_entropy;
use crate::model::classifier::{Classifier, Logits};
use crate::train::history::ACCURACY;
use crate::train::step::{StepOutput, Tally, TrainStep};

/// Cross-entropy of `logits` against `targets`, and how many rows the logits classify right.
pub fn classification_step(logits: Tensor<2>, targets: &[usize]) -> StepOutput {
    let [_, classes] = logits.dims();
    let predicted = argmax_rows(&logits.clone().into_data().try_to_vec::<f32>().expect("f32 logits"), classes);
    let correct = predicted.iter().zip(targets).filter(|(p, t)| p == t).count();
    StepOutput::loss(cross_entropy(logits, targets)).with(ACCURACY, Tally { hits: correct, of: targets.len() })
}

impl TrainStep<Tensor<2>> for Linear {
    fn step(&self, batch: Batch<Tensor<2>>) -> StepOutput {
        classification_step(self.logits(batch.input), &batch.targets)
    }
}

impl TrainStep<Tensor<4>> for Classifier {
    fn step(&self, batch: Batch<Tensor<4>>) -> StepOutput {
        classification_step(self.logits(batch.input), &batch.targets)
    }
}
