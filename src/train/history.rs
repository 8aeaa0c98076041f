//! Per-epoch metrics of one training phase, written as CSV that pandas reads directly.
//!
//! An epoch records its loss, learning rate and time, and whatever else was measured, by name:
//! the step's tallies (a classifier's `accuracy`, FixMatch's `mask_rate`), validation
//! (`val_loss`, `val_accuracy`) and the k-NN monitor. A new method's metric needs no field here.

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::files::write_atomically;

/// Training accuracy over the epoch's samples, measured while the weights moved (models that
/// classify).
pub const ACCURACY: &str = "accuracy";
/// Loss on the validation set after the epoch.
pub const VAL_LOSS: &str = "val_loss";
/// Accuracy on the validation set after the epoch.
pub const VAL_ACCURACY: &str = "val_accuracy";

/// Named values of an epoch, in the order they were first measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measures(IndexMap<String, f64>);

impl Measures {
    /// The value named `name`, when the epoch measured it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    /// Records `value` under `name` (replacing an earlier value of that name).
    pub fn set(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_string(), value);
    }

    /// The values with their names, in the order they were first measured.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(name, &value)| (name.as_str(), value))
    }
}

impl<'a> FromIterator<(&'a str, f64)> for Measures {
    fn from_iter<T: IntoIterator<Item = (&'a str, f64)>>(values: T) -> Self {
        let mut measures = Self::default();
        values.into_iter().for_each(|(name, value)| measures.set(name, value));
        measures
    }
}

impl<'de> Deserialize<'de> for Measures {
    /// Earlier releases stored every metric they knew in each checkpointed epoch, `null` where
    /// the epoch had none: those read as not measured.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let stored = IndexMap::<String, Option<f64>>::deserialize(deserializer)?;
        Ok(Self(stored.into_iter().filter_map(|(name, value)| Some((name, value?))).collect()))
    }
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples (as Keras reports it).
    pub loss: f64,
    /// Everything else measured in or after the epoch, each only where the phase has it.
    #[serde(flatten)]
    pub measured: Measures,
    /// Learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

impl EpochRecord {
    /// The value named `name`, when the epoch measured it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.measured.get(name)
    }

    /// One Keras-like line: `Epoch 3/50 - 0.8s - loss: 0.5225 - accuracy: 0.8160 ...`.
    pub fn keras_line(&self, epochs: usize) -> String {
        let mut line = format!("Epoch {}/{epochs} - {:.2}s - loss: {:.4}", self.epoch, self.seconds, self.loss);
        for (name, value) in self.measured.iter() {
            line.push_str(&format!(" - {name}: {value:.4}"));
        }
        line
    }

    /// Every value of the epoch worth a curve, named as in the CSV header.
    pub fn scalars(&self) -> Vec<(&str, f64)> {
        [("loss", self.loss)].into_iter().chain(self.measured.iter()).chain([("learning_rate", self.learning_rate)]).collect()
    }
}

/// The names any epoch of `history` measured besides its loss, in the order first measured.
pub fn measured_names(history: &[EpochRecord]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in history.iter().flat_map(|record| record.measured.iter()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Writes `history` to `path` as CSV, atomically: `epoch`, `loss`, a column for each name any
/// epoch measured (empty in the epochs that did not), `learning_rate` and `seconds`.
pub fn write_csv(history: &[EpochRecord], path: &Path) -> Result<()> {
    let names = measured_names(history);
    let mut csv = csv::Writer::from_writer(Vec::new());
    let header = ["epoch", "loss"].into_iter().chain(names.iter().copied()).chain(["learning_rate", "seconds"]);
    csv.write_record(header).map_err(|e| Error::csv(path, e))?;
    let number = |value: f64| ryu::Buffer::new().format(value).to_string();
    for record in history {
        let measured = names.iter().map(|&name| record.get(name).map(number).unwrap_or_default());
        let row = [record.epoch.to_string(), number(record.loss)].into_iter().chain(measured).chain([number(record.learning_rate), number(record.seconds)]);
        csv.write_record(row).map_err(|e| Error::csv(path, e))?;
    }
    let bytes = csv.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    write_atomically(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, measured: &[(&str, f64)]) -> EpochRecord {
        EpochRecord { epoch, loss: 0.5, measured: measured.iter().copied().collect(), learning_rate: 0.1, seconds: 2.0 }
    }

    #[test]
    fn the_csv_has_a_column_per_name_measured_empty_where_an_epoch_did_not_measure_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        let history = [record(1, &[(ACCURACY, 0.25)]), record(2, &[(ACCURACY, 0.5), ("knn_accuracy", 0.75)])];
        write_csv(&history, &path).unwrap();
        let expected = "epoch,loss,accuracy,knn_accuracy,learning_rate,seconds\n1,0.5,0.25,,0.1,2.0\n2,0.5,0.5,0.75,0.1,2.0\n";
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn a_record_round_trips_through_json_and_an_earlier_releases_nulls_read_as_not_measured() {
        let current = record(3, &[(VAL_LOSS, 0.125), ("mask_rate", 1.0)]);
        let json = serde_json::to_string(&current).unwrap();
        assert_eq!(json, r#"{"epoch":3,"loss":0.5,"val_loss":0.125,"mask_rate":1.0,"learning_rate":0.1,"seconds":2.0}"#);
        assert_eq!(serde_json::from_str::<EpochRecord>(&json).unwrap(), current);
        let earlier = r#"{"epoch":3,"loss":0.5,"accuracy":null,"val_loss":0.125,"val_accuracy":null,"mask_rate":1.0,"learning_rate":0.1,"seconds":2.0}"#;
        assert_eq!(serde_json::from_str::<EpochRecord>(earlier).unwrap(), current);
    }
}
