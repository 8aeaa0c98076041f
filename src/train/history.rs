//! Per-epoch metrics of one training phase, written as CSV that pandas reads directly.

use serde::{Deserialize, Serialize};

/// What one epoch measured. Validation fields are empty when there is no validation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples (as Keras reports it).
    pub loss: f64,
    /// Training accuracy over the epoch's samples, measured while the weights moved (for
    /// models that classify).
    pub accuracy: Option<f64>,
    /// Loss on the validation set after the epoch.
    pub val_loss: Option<f64>,
    /// Accuracy on the validation set after the epoch.
    pub val_accuracy: Option<f64>,
    /// k-NN accuracy of the encoder's features on the monitor images (self-supervised phases).
    pub knn_accuracy: Option<f64>,
    /// Spread of the encoder's normalised features on the monitor images (near 0: collapse).
    pub feature_std: Option<f64>,
    /// Share of the unlabeled images whose pseudo-label passed the confidence threshold
    /// (semi-supervised phases).
    pub mask_rate: Option<f64>,
    /// Share of those pseudo-labels that equal the true label (over the images whose label is
    /// known; it is never used for training).
    pub pseudo_label_accuracy: Option<f64>,
    /// Learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// What is measured after an epoch besides the training loss (each only where it applies).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EpochMeasures {
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// k-NN accuracy of the encoder's features.
    pub knn_accuracy: Option<f64>,
    /// Spread of the encoder's normalised features.
    pub feature_std: Option<f64>,
}

impl EpochRecord {
    /// One Keras-like line: `Epoch 3/50 - 0.8s - loss: 0.5225 - accuracy: 0.8160 ...`.
    pub fn keras_line(&self, epochs: usize) -> String {
        let mut line = format!("Epoch {}/{epochs} - {:.2}s - loss: {:.4}", self.epoch, self.seconds, self.loss);
        for (name, value) in self.measured() {
            line.push_str(&format!(" - {name}: {value:.4}"));
        }
        line
    }

    /// Every value of the epoch worth a curve, named as in the CSV header.
    pub fn scalars(&self) -> Vec<(&'static str, f64)> {
        [("loss", self.loss)].into_iter().chain(self.measured()).chain([("learning_rate", self.learning_rate)]).collect()
    }

    /// The values measured in this epoch besides the loss, each only where the phase has it.
    fn measured(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [
            ("accuracy", self.accuracy),
            ("val_loss", self.val_loss),
            ("val_accuracy", self.val_accuracy),
            ("knn_accuracy", self.knn_accuracy),
            ("feature_std", self.feature_std),
            ("mask_rate", self.mask_rate),
            ("pseudo_label_accuracy", self.pseudo_label_accuracy),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    }
}
