//! `metrics.json`: what a run measured, one section per phase or evaluation. [`RunFolder`]
//! writes it and the HTML report reads it through these types, so a renamed field is a
//! compile error, not a "-" in the report. It holds no timings (those are in `timings.json`),
//! so the same seed gives the same file.
//!
//! [`RunFolder`]: crate::report::artifacts::RunFolder

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::eval::payoff::Payoff;
use crate::eval::protocols::ProtocolResult;
use crate::semi::pseudo_labels::{MASK_RATE, PSEUDO_LABEL_ACCURACY};
use crate::train::history::{ACCURACY, EpochRecord, VAL_ACCURACY, VAL_LOSS};

/// The whole file; a section a run has not reached yet is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The pretext phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretext: Option<PretextMetrics>,
    /// The downstream phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downstream: Option<DownstreamMetrics>,
    /// The semi-supervised phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semi: Option<SemiMetrics>,
    /// The protocols trained side by side on the same labelled and test images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<ProtocolResult>>,
    /// Whether self-supervision paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_payoff: Option<Payoff>,
    /// The kept classifier on the held-out test images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestMetrics>,
    /// Which classifier an evaluation folder evaluated (`pretext eval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated: Option<Evaluated>,
}

/// Epochs run and the last epoch's numbers, which every training phase records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMetrics {
    /// Epochs trained.
    pub epochs_run: usize,
    /// Training loss of the last epoch.
    pub final_loss: Option<f64>,
    /// Training accuracy of the last epoch, where the phase has one.
    pub final_accuracy: Option<f64>,
    /// Validation loss of the last epoch.
    pub final_val_loss: Option<f64>,
    /// Validation accuracy of the last epoch.
    pub final_val_accuracy: Option<f64>,
}

impl PhaseMetrics {
    /// The numbers of `history`.
    pub fn of(history: &[EpochRecord]) -> Self {
        let last = history.last();
        Self {
            epochs_run: history.len(),
            final_loss: last.map(|r| r.loss),
            final_accuracy: last.and_then(|r| r.get(ACCURACY)),
            final_val_loss: last.and_then(|r| r.get(VAL_LOSS)),
            final_val_accuracy: last.and_then(|r| r.get(VAL_ACCURACY)),
        }
    }
}

/// The pretext phase: its method, and its monitor's last readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretextMetrics {
    /// The numbers every phase records.
    #[serde(flatten)]
    pub phase: PhaseMetrics,
    /// The method's name.
    pub method: String,
    /// The k-NN monitor's last accuracy (none with the monitor off).
    pub final_knn_accuracy: Option<f64>,
    /// The spread of the encoder's features at the monitor's last reading.
    pub final_feature_std: Option<f64>,
    /// Whether the features collapsed (all pointing one way).
    pub collapsed: bool,
}

/// The downstream phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamMetrics {
    /// The numbers every phase records.
    #[serde(flatten)]
    pub phase: PhaseMetrics,
    /// The epoch whose weights early stopping kept, where it kept an earlier one.
    pub restored_epoch: Option<usize>,
}

/// The semi-supervised phase, epoch by epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemiMetrics {
    /// The numbers every phase records.
    #[serde(flatten)]
    pub phase: PhaseMetrics,
    /// `fixmatch` or `distill`.
    pub method: String,
    /// The epoch whose weights early stopping kept, where it kept an earlier one.
    pub restored_epoch: Option<usize>,
    /// The share of unlabeled images pseudo-labelled in the last epoch.
    pub final_mask_rate: Option<f64>,
    /// The share of those pseudo-labels that were right in the last epoch.
    pub final_pseudo_label_accuracy: Option<f64>,
    /// Each epoch, without its seconds.
    pub per_epoch: Vec<SemiEpoch>,
}

/// One epoch of the semi-supervised phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemiEpoch {
    /// 1-based.
    pub epoch: usize,
    /// Training loss.
    pub loss: f64,
    /// Accuracy on the labelled images.
    pub accuracy: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// The share of unlabeled images pseudo-labelled.
    pub mask_rate: Option<f64>,
    /// The share of those pseudo-labels that were right (never read by training).
    pub pseudo_label_accuracy: Option<f64>,
}

impl From<&EpochRecord> for SemiEpoch {
    fn from(r: &EpochRecord) -> Self {
        Self {
            epoch: r.epoch,
            loss: r.loss,
            accuracy: r.get(ACCURACY),
            val_accuracy: r.get(VAL_ACCURACY),
            mask_rate: r.get(MASK_RATE),
            pseudo_label_accuracy: r.get(PSEUDO_LABEL_ACCURACY),
        }
    }
}

/// The kept classifier on the held-out test images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    /// Test images.
    pub n: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction predicted correctly.
    pub accuracy: f64,
    /// Accuracy of each true class (`None` where the class is absent).
    pub per_class_accuracy: Vec<Option<f64>>,
    /// Counts `[true class][predicted class]`.
    pub confusion_matrix: Vec<Vec<usize>>,
}

/// The classifier an evaluation folder evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    /// Its weights file.
    pub classifier: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_written_in_alphabetical_order_and_missing_ones_left_out() {
        let phase = PhaseMetrics { epochs_run: 2, final_loss: Some(0.5), final_accuracy: None, final_val_loss: None, final_val_accuracy: Some(0.25) };
        let metrics = Metrics { downstream: Some(DownstreamMetrics { phase, restored_epoch: None }), ..Metrics::default() };
        let text = serde_json::to_string(&serde_json::to_value(&metrics).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"downstream":{"epochs_run":2,"final_accuracy":null,"final_loss":0.5,"final_val_accuracy":0.25,"final_val_loss":null,"restored_epoch":null}}"#
        );
        assert_eq!(serde_json::from_str::<Metrics>(&text).unwrap(), metrics);
    }
}
