//! Keras' `EarlyStopping` callback, with the same counting rules.

use serde::{Deserialize, Serialize};

use crate::train::history::{ACCURACY, EpochRecord, VAL_ACCURACY, VAL_LOSS};

/// The quantity early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Training loss (lower is better).
    Loss,
    /// Training accuracy (higher is better); the notebook's choice.
    Accuracy,
    /// Validation loss (lower is better).
    ValLoss,
    /// Validation accuracy (higher is better).
    ValAccuracy,
}

impl Monitor {
    /// The watched value of one epoch, oriented so that larger is better.
    fn score(self, record: &EpochRecord) -> Option<f64> {
        match self {
            Monitor::Loss => Some(-record.loss),
            Monitor::Accuracy | Monitor::ValAccuracy => record.get(self.name()),
            Monitor::ValLoss => record.get(self.name()).map(|l| -l),
        }
    }

    /// The metric's name as Keras and our history columns spell it.
    pub fn name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => ACCURACY,
            Monitor::ValLoss => VAL_LOSS,
            Monitor::ValAccuracy => VAL_ACCURACY,
        }
    }

    /// True for monitors that need a validation set.
    pub fn needs_validation(self) -> bool {
        matches!(self, Monitor::ValLoss | Monitor::ValAccuracy)
    }
}

/// Settings of early stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// What to watch.
    pub monitor: Monitor,
    /// Epochs without improvement before training stops.
    pub patience: usize,
    /// Put back the weights of the best epoch when training ends.
    #[serde(default)]
    pub restore_best: bool,
}

/// Running state of early stopping (saved in checkpoints).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EarlyStopping {
    config: EarlyStoppingConfig,
    /// Best score so far, oriented so that larger is better; `None` before the first.
    best: Option<f64>,
    best_epoch: usize,
    wait: usize,
}

/// What the trainer should do after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This epoch is the best so far.
    Improved,
    /// No improvement, keep going.
    Continue,
    /// Patience exhausted.
    Stop,
}

impl EarlyStopping {
    /// Fresh state: nothing seen yet.
    pub fn new(config: EarlyStoppingConfig) -> Self {
        Self { config, best: None, best_epoch: 0, wait: 0 }
    }

    /// The epoch (1-based) with the best monitored value so far.
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }

    /// Whether the best weights should be restored at the end.
    pub fn restore_best(&self) -> bool {
        self.config.restore_best
    }

    /// Keras' rule: count every epoch, reset on strict improvement, stop once the count
    /// reaches `patience` (never after the first epoch).
    pub fn update(&mut self, record: &EpochRecord) -> Verdict {
        let Some(score) = self.config.monitor.score(record) else {
            return Verdict::Continue;
        };
        self.wait += 1;
        if score > self.best.unwrap_or(f64::NEG_INFINITY) {
            self.best = Some(score);
            self.best_epoch = record.epoch;
            self.wait = 0;
            return Verdict::Improved;
        }
        if self.wait >= self.config.patience && record.epoch > 1 {
            Verdict::Stop
        } else {
            Verdict::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, accuracy: f64) -> EpochRecord {
        EpochRecord { epoch, loss: 1.0, measured: [(ACCURACY, accuracy)].into_iter().collect(), learning_rate: 0.1, seconds: 0.0 }
    }

    fn stop_epoch(accuracies: &[f64], patience: usize) -> Option<usize> {
        let config = EarlyStoppingConfig { monitor: Monitor::Accuracy, patience, restore_best: false };
        let mut stopping = EarlyStopping::new(config);
        accuracies
            .iter()
            .enumerate()
            .find(|(i, a)| stopping.update(&record(i + 1, **a)) == Verdict::Stop)
            .map(|(i, _)| i + 1)
    }

    #[test]
    fn stops_after_patience_epochs_without_strict_improvement() {
        // Best at epoch 3; epochs 4..=10 do not beat it (ties do not count): stop at 10.
        let acc = [0.5, 0.6, 0.9, 0.9, 0.8, 0.85, 0.9, 0.7, 0.88, 0.89, 0.95];
        assert_eq!(stop_epoch(&acc, 7), Some(10));
    }

    #[test]
    fn any_improvement_resets_the_count() {
        let acc = [0.1, 0.2, 0.1, 0.1, 0.3, 0.1, 0.1];
        assert_eq!(stop_epoch(&acc, 3), None);
        assert_eq!(stop_epoch(&acc, 2), Some(4));
    }

    #[test]
    fn loss_monitors_prefer_lower_values() {
        let config = EarlyStoppingConfig { monitor: Monitor::ValLoss, patience: 1, restore_best: false };
        let mut stopping = EarlyStopping::new(config);
        let mut r = record(1, 0.0);
        r.measured.set(VAL_LOSS, 2.0);
        assert_eq!(stopping.update(&r), Verdict::Improved);
        r.epoch = 2;
        r.measured.set(VAL_LOSS, 1.0);
        assert_eq!(stopping.update(&r), Verdict::Improved);
        r.epoch = 3;
        r.measured.set(VAL_LOSS, 1.5);
        assert_eq!(stopping.update(&r), Verdict::Stop);
        assert_eq!(stopping.best_epoch(), 2);
    }
}
