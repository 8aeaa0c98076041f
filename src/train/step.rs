//! What the trainer asks of whatever it trains: one step's loss from a batch, and a hook after
//! each optimizer update. Models compute their own loss (as in Burn's `TrainStep`), so the
//! trainer never knows which task or method it runs.

use std::ops::AddAssign;

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::data::batch::Batch;

/// The result of one training step.
#[derive(Debug)]
pub struct StepOutput {
    /// The scalar loss to minimise.
    pub loss: Tensor<1>,
    /// Labelled rows classified right, of those classified (models that classify).
    pub accuracy: Option<Tally>,
    /// How the unlabeled images were pseudo-labelled (semi-supervised steps).
    pub pseudo_labels: Option<PseudoLabels>,
}

impl StepOutput {
    /// A step that measures nothing but its loss.
    pub fn loss(loss: Tensor<1>) -> Self {
        Self { loss, accuracy: None, pseudo_labels: None }
    }
}

/// How many of some items passed a test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Items that passed.
    pub hits: usize,
    /// Items tested.
    pub of: usize,
}

impl Tally {
    /// The share that passed (`None` when nothing was tested).
    pub fn rate(self) -> Option<f64> {
        (self.of > 0).then(|| self.hits as f64 / self.of as f64)
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.hits += other.hits;
        self.of += other.of;
    }
}

/// The diagnostics FixMatch users watch first: how many unlabeled images got a pseudo-label
/// (passed the confidence threshold; the mask rate), and how many of those pseudo-labels are
/// right, counted over the images whose true label is known (never used for training).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PseudoLabels {
    /// Unlabeled images that passed the threshold, of all of them.
    pub passed: Tally,
    /// Pseudo-labels equal to the true label, of those passed whose label is known.
    pub right: Tally,
}

impl AddAssign for PseudoLabels {
    fn add_assign(&mut self, other: Self) {
        self.passed += other.passed;
        self.right += other.right;
    }
}

/// A model that trains on batches of `I`.
pub trait TrainStep<I>: Module {
    /// The loss (and metrics) of one batch, on the autodiff device.
    fn step(&self, batch: Batch<I>) -> StepOutput;

    /// Called after every optimizer update with the phase's progress in `0..=1` (steps done
    /// over all steps); BYOL moves its target network here.
    fn after_step(self, _progress: f64) -> Self {
        self
    }
}
