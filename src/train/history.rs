//! Per-epoch metrics of one training phase, written as CSV that pandas reads directly.

use serde::{Deserialize, Serialize};

/// What one epoch measured. Validation fields are empty when there is no validation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples (as Keras reports it).
    pub loss: f64,
    /// Training accuracy over the epoch's samples, measured while the weights moved.
    pub accuracy: f64,
    /// Loss on the validation set after the epoch.
    pub val_loss: Option<f64>,
    /// Accuracy on the validation set after the epoch.
    pub val_accuracy: Option<f64>,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

impl EpochRecord {
    /// One Keras-like line: `Epoch 3/50 - 0.8s - loss: 0.5225 - accuracy: 0.8160 ...`.
    pub fn keras_line(&self, epochs: usize) -> String {
        let mut line = format!(
            "Epoch {}/{epochs} - {:.2}s - loss: {:.4} - accuracy: {:.4}",
            self.epoch, self.seconds, self.loss, self.accuracy
        );
        if let (Some(loss), Some(acc)) = (self.val_loss, self.val_accuracy) {
            line.push_str(&format!(" - val_loss: {loss:.4} - val_accuracy: {acc:.4}"));
        }
        line
    }
}
