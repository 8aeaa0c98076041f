//! Running a trained model over a whole data set and scoring what it predicts.

use burn::tensor::Device;
use burn::tensor::activation::log_softmax;

use crate::data::batch::BatchSource;
use crate::model::classifier::Logits;

/// A model's class scores and log-probabilities for every sample of a set, with the true targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Row-major `[n, classes]` class scores before softmax, what exported models output.
    pub logits: Vec<f32>,
    /// Row-major `[n, classes]` natural-log probabilities.
    pub log_probs: Vec<f32>,
    /// Number of classes.
    pub classes: usize,
    /// True class of each sample.
    pub targets: Vec<usize>,
}

/// Loss and accuracy over a set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction predicted correctly.
    pub accuracy: f64,
}

impl Predictions {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The most probable class of each sample.
    pub fn predicted(&self) -> Vec<usize> {
        argmax_rows(&self.log_probs, self.classes)
    }

    /// Probability the model gives class `class` for sample `i`.
    pub fn probability(&self, i: usize, class: usize) -> f64 {
        (self.log_probs[i * self.classes + class] as f64).exp()
    }

    /// Mean cross-entropy and accuracy.
    pub fn evaluation(&self) -> Evaluation {
        let n = self.len().max(1) as f64;
        let loss: f64 = self.targets.iter().enumerate().map(|(i, &t)| -(self.log_probs[i * self.classes + t] as f64)).sum();
        let correct = self.predicted().iter().zip(&self.targets).filter(|(p, t)| p == t).count();
        Evaluation { loss: loss / n, accuracy: correct as f64 / n }
    }
}

/// Row-wise argmax of `[batch, classes]` scores held on the host (the first of ties).
pub fn argmax_rows(values: &[f32], classes: usize) -> Vec<usize> {
    values
        .chunks(classes)
        .map(|row| row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best }))
        .collect()
}

/// Class scores and log-probabilities of `model` for every sample of `source`, `batch_size` at a time.
pub fn predict<M, B>(model: &M, source: &B, batch_size: usize, device: &Device) -> Predictions
where
    B: BatchSource,
    M: Logits<B::Input>,
{
    let all: Vec<usize> = (0..source.len()).collect();
    let mut logits = Vec::with_capacity(source.len() * source.num_classes());
    let mut log_probs = Vec::with_capacity(source.len() * source.num_classes());
    let mut targets = Vec::with_capacity(source.len());
    for indices in all.chunks(batch_size.max(1)) {
        let batch = source.batch(indices, device);
        let scores = model.logits(batch.input);
        logits.extend(scores.clone().into_data().try_to_vec::<f32>().expect("f32 scores"));
        log_probs.extend(log_softmax(scores, 1).into_data().try_to_vec::<f32>().expect("f32 scores"));
        targets.extend(batch.targets);
    }
    Predictions { logits, log_probs, classes: source.num_classes(), targets }
}

/// Loss and accuracy of `model` on `source`.
pub fn evaluate<M, B>(model: &M, source: &B, batch_size: usize, device: &Device) -> Evaluation
where
    B: BatchSource,
    M: Logits<B::Input>,
{
    predict(model, source, batch_size, device).evaluation()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax_rows(&[0.1, 0.7, 0.2, 0.5, 0.5, 0.0], 3), vec![1, 0]);
    }
}
