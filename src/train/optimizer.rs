//! Optimizer and loop settings of one training phase.

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::train::early_stopping::EarlyStoppingConfig;

/// Which update rule to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// SGD with (Keras/PyTorch-equivalent, undampened) momentum.
    Sgd,
    /// Adam with the usual betas (0.9, 0.999).
    Adam,
}

/// Everything that shapes one phase of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Step size.
    pub learning_rate: f64,
    /// Momentum of SGD (ignored by Adam); 0 disables it.
    pub momentum: f64,
    /// Samples per step.
    pub batch_size: usize,
    /// Maximum number of passes over the training samples.
    pub epochs: usize,
    /// Reshuffle the sample order every epoch.
    pub shuffle: bool,
    /// Shift training images randomly by up to this many pixels per axis (0 = off).
    pub max_shift: usize,
    /// Stop when a monitored metric stops improving.
    pub early_stopping: Option<EarlyStoppingConfig>,
}

impl TrainConfig {
    /// A fresh optimizer with these settings.
    pub fn optimizer(&self) -> ModuleOptimizer {
        match self.optimizer {
            OptimizerKind::Sgd => {
                // Burn dampens momentum by 0.1 by default; Keras and PyTorch do not.
                let momentum = (self.momentum > 0.0).then(|| {
                    MomentumConfig::new().with_momentum(self.momentum).with_dampening(0.0)
                });
                SgdConfig::new().with_momentum(momentum).init()
            }
            OptimizerKind::Adam => AdamConfig::new().init(),
        }
    }

    /// Rejects settings that cannot train; `phase` names the flags in the message.
    pub fn validate(&self, phase: &str) -> Result<()> {
        let bad = |what: String| Err(Error::Config(format!("{phase}: {what}")));
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!("learning rate must be positive, got {}", self.learning_rate));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.early_stopping.as_ref().is_some_and(|e| e.patience == 0) {
            return bad("early-stopping patience must be at least 1".into());
        }
        Ok(())
    }
}
