//! What the trainer asks of whatever it trains: one step's loss from a batch, and a hook after
//! each optimizer update. Models compute their own loss (as in Burn's `TrainStep`), so the
//! trainer never knows which task or method it runs.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::data::batch::Batch;

/// The result of one training step.
#[derive(Debug)]
pub struct StepOutput {
    /// The scalar loss to minimise.
    pub loss: Tensor<1>,
    /// Rows of the batch classified correctly, for models that classify.
    pub correct: Option<usize>,
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
