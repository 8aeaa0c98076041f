//! The diagnostics FixMatch users watch first, which distillation reports too: how many
//! unlabeled images got a pseudo-label (passed the confidence threshold; the mask rate), and
//! how many of those pseudo-labels are right, counted over the images whose true label is
//! known (never used for training).

use crate::train::step::{StepOutput, Tally};

/// The share of the unlabeled images whose pseudo-label passed the confidence threshold, as
/// histories name it.
pub const MASK_RATE: &str = "mask_rate";
/// The share of those pseudo-labels that equal the true label, as histories name it.
pub const PSEUDO_LABEL_ACCURACY: &str = "pseudo_label_accuracy";

/// How a batch's unlabeled images were pseudo-labelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PseudoLabels {
    /// Unlabeled images that passed the threshold, of all of them.
    pub passed: Tally,
    /// Pseudo-labels equal to the true label, of those passed whose label is known.
    pub right: Tally,
}

impl PseudoLabels {
    /// How many of `pseudo` passed, and how many of those that have a known true label in
    /// `truth` equal it.
    pub fn tally(pseudo: &[Option<usize>], truth: &[Option<usize>]) -> Self {
        let passed = Tally { hits: pseudo.iter().flatten().count(), of: pseudo.len() };
        let checked: Vec<bool> = pseudo.iter().zip(truth).filter_map(|(p, t)| Some(p.as_ref()? == t.as_ref()?)).collect();
        Self { passed, right: Tally { hits: checked.iter().filter(|&&right| right).count(), of: checked.len() } }
    }

    /// `step`, also counting these pseudo-labels.
    pub fn counted_in(self, step: StepOutput) -> StepOutput {
        step.with(MASK_RATE, self.passed).with(PSEUDO_LABEL_ACCURACY, self.right)
    }
}
