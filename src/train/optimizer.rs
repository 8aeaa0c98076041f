//! Optimizer and loop settings of one training phase.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, LambConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::train::early_stopping::EarlyStoppingConfig;

/// Which update rule to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// SGD with (Keras/PyTorch-equivalent, undampened) momentum.
    Sgd,
    /// Adam with the usual betas (0.9, 0.999); weight decay is added to the gradient (L2).
    Adam,
    /// AdamW: Adam with decoupled weight decay.
    #[serde(rename = "adamw")]
    AdamW,
    /// LAMB: Adam scaled per layer by the ratio of weight norm to update norm, the adaptive
    /// large-batch rule of the LARS family (You et al. 2020).
    Lamb,
}

/// How the learning rate changes over a phase (after the linear warm-up, if any).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// The base learning rate throughout.
    #[default]
    Constant,
    /// Half a cosine from the base learning rate down to 0 at the last step.
    Cosine,
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
    /// Weight decay (L2 penalty for SGD and Adam, decoupled for AdamW and LAMB); 0 = none.
    #[serde(default)]
    pub weight_decay: f64,
    /// Learning-rate schedule after the warm-up.
    #[serde(default)]
    pub schedule: Schedule,
    /// Epochs of linear warm-up from 0 to the base learning rate.
    #[serde(default)]
    pub warmup_epochs: usize,
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

impl Default for TrainConfig {
    /// What Keras' `fit` does unless told otherwise, with its default `Adam()`: Adam at 0.001,
    /// batches of 32, one epoch, shuffled; no decay, schedule, warm-up, shifts or early stopping.
    fn default() -> Self {
        Self {
            optimizer: OptimizerKind::Adam,
            learning_rate: 0.001,
            momentum: 0.0,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            warmup_epochs: 0,
            batch_size: 32,
            epochs: 1,
            shuffle: true,
            max_shift: 0,
            early_stopping: None,
        }
    }
}

impl TrainConfig {
    /// A fresh optimizer with these settings.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let decay = self.weight_decay as f32;
        let l2 = (decay > 0.0).then(|| WeightDecayConfig::new(decay));
        match self.optimizer {
            OptimizerKind::Sgd => {
                // Burn dampens momentum by 0.1 by default; Keras and PyTorch do not.
                let momentum = (self.momentum > 0.0).then(|| {
                    MomentumConfig::new().with_momentum(self.momentum).with_dampening(0.0)
                });
                SgdConfig::new().with_momentum(momentum).with_weight_decay(l2).init()
            }
            OptimizerKind::Adam => AdamConfig::new().with_weight_decay(l2).init(),
            OptimizerKind::AdamW => AdamWConfig::new().with_weight_decay(decay).init(),
            OptimizerKind::Lamb => LambConfig::new().with_weight_decay(decay).init(),
        }
    }

    /// The learning rate of step `step` (0-based, counted over the whole phase) when an epoch
    /// has `steps_per_epoch` steps: linear warm-up, then the schedule.
    pub fn learning_rate_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        let warmup = self.warmup_epochs * steps_per_epoch;
        if step < warmup {
            return self.learning_rate * (step + 1) as f64 / warmup as f64;
        }
        match self.schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Cosine => {
                let total = (self.epochs * steps_per_epoch).saturating_sub(warmup).max(1);
                let progress = (step - warmup) as f64 / total as f64;
                self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    /// Rejects settings that cannot train, naming the key within the phase's table.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.batch_size == 0 {
            return Err(Invalid::new("batch_size", "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(Invalid::new("epochs", "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Invalid::new("learning_rate", format!("must be positive, got {}", self.learning_rate)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Invalid::new("momentum", format!("must be in [0, 1), got {}", self.momentum)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Invalid::new("weight_decay", format!("must be >= 0, got {}", self.weight_decay)));
        }
        if self.early_stopping.as_ref().is_some_and(|e| e.patience == 0) {
            return Err(Invalid::new("early_stopping.patience", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(schedule: Schedule, warmup_epochs: usize) -> TrainConfig {
        TrainConfig { learning_rate: 0.1, schedule, warmup_epochs, batch_size: 1, epochs: 3, ..TrainConfig::default() }
    }

    #[test]
    fn warm_up_climbs_linearly_then_cosine_falls_to_zero() {
        // 3 epochs of 2 steps; 1 warm-up epoch: steps 0, 1 warm up; 2..6 decay over 4 steps.
        let c = config(Schedule::Cosine, 1);
        let lrs: Vec<f64> = (0..6).map(|s| c.learning_rate_at(s, 2)).collect();
        let want = [0.05, 0.1, 0.1, 0.1 * 0.5 * (1.0 + (std::f64::consts::PI / 4.0).cos()), 0.05, 0.1 * 0.5 * (1.0 + (3.0 * std::f64::consts::PI / 4.0).cos())];
        for (got, want) in lrs.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{lrs:?}");
        }
        assert!(config(Schedule::Constant, 0).learning_rate_at(5, 2) == 0.1);
    }
}
