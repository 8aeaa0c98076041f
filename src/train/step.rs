//! What the trainer asks of whatever it trains: one step's loss from a batch, and a hook after
//! each optimizer update. Models compute their own loss (as in Burn's `TrainStep`), so the
//! trainer never knows which task or method it runs.

use std::ops::AddAssign;

use burn::module::Module;
use burn::tensor::Tensor;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

use crate::data::batch::Batch;

/// The result of one training step.
#[derive(Debug)]
pub struct StepOutput {
    /// The scalar loss to minimise.
    pub loss: Tensor<1>,
    /// What else the step counted, by name (a classifier's `accuracy`, FixMatch's
    /// `mask_rate`): the trainer sums each over the epoch and records its rate.
    pub tallies: Vec<(&'static str, Tally)>,
}

impl StepOutput {
    /// A step that measures nothing but its loss.
    pub fn loss(loss: Tensor<1>) -> Self {
        Self { loss, tallies: Vec::new() }
    }

    /// The step, also counting `tally` under `name`.
    pub fn with(mut self, name: &'static str, tally: Tally) -> Self {
        self.tallies.push((name, tally));
        self
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

/// Tallies summed over the steps of an epoch, by name, in the order first counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tallies(IndexMap<String, Tally>);

impl Tallies {
    /// Adds `tally` to the sum named `name`.
    pub fn add(&mut self, name: &str, tally: Tally) {
        *self.0.entry(name.to_string()).or_default() += tally;
    }

    /// Each sum's rate, named, leaving out the sums that tested nothing.
    pub fn rates(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().filter_map(|(name, tally)| Some((name.as_str(), tally.rate()?)))
    }
}

impl<'de> Deserialize<'de> for Tallies {
    /// Earlier releases' checkpoints stored `accuracy` (`null` when not counted) and FixMatch's
    /// two tallies as one `pseudo_labels` entry: a phase they interrupted continues with them.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Tally(Tally),
            PseudoLabels { passed: Tally, right: Tally },
            Uncounted(()),
        }
        let mut tallies = Self::default();
        for (name, stored) in IndexMap::<String, Stored>::deserialize(deserializer)? {
            match stored {
                Stored::Tally(tally) => tallies.add(&name, tally),
                Stored::PseudoLabels { passed, right } => {
                    tallies.add("mask_rate", passed);
                    tallies.add("pseudo_label_accuracy", right);
                }
                Stored::Uncounted(()) => {}
            }
        }
        Ok(tallies)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_sum_by_name_and_an_earlier_releases_checkpoint_reads_into_them() {
        let mut tallies = Tallies::default();
        tallies.add("accuracy", Tally { hits: 1, of: 4 });
        tallies.add("accuracy", Tally { hits: 2, of: 4 });
        tallies.add("mask_rate", Tally { hits: 0, of: 0 });
        assert_eq!(tallies.rates().collect::<Vec<_>>(), [("accuracy", 0.375)]);

        let earlier = r#"{"accuracy":{"hits":3,"of":8},"pseudo_labels":{"passed":{"hits":1,"of":2},"right":{"hits":1,"of":1}}}"#;
        let read: Tallies = serde_json::from_str(earlier).unwrap();
        assert_eq!(read.rates().collect::<Vec<_>>(), [("accuracy", 0.375), ("mask_rate", 0.5), ("pseudo_label_accuracy", 1.0)]);
        let uncounted: Tallies = serde_json::from_str(r#"{"accuracy":null,"pseudo_labels":null}"#).unwrap();
        assert_eq!(uncounted, Tallies::default());
    }
}
