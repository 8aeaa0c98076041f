//! Confusion matrix and per-class accuracy.

use serde::Serialize;

/// `counts[true][predicted]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    /// Rows are true classes, columns predicted classes.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Tallies `predicted` against `targets` over `classes` classes.
    pub fn new(predicted: &[usize], targets: &[usize], classes: usize) -> Self {
        let mut counts = vec![vec![0; classes]; classes];
        for (&p, &t) in predicted.iter().zip(targets) {
            counts[t][p] += 1;
        }
        Self { counts }
    }

    /// Fraction of each true class predicted correctly (`None` for an absent class).
    pub fn per_class_accuracy(&self) -> Vec<Option<f64>> {
        self.counts
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let total: usize = row.iter().sum();
                (total > 0).then(|| row[c] as f64 / total as f64)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_true_rows_against_predicted_columns() {
        let m = ConfusionMatrix::new(&[0, 1, 1, 2], &[0, 1, 2, 2], 4);
        assert_eq!(m.counts[2], vec![0, 1, 1, 0]);
        assert_eq!(m.per_class_accuracy(), vec![Some(1.0), Some(1.0), Some(0.5), None]);
    }
}
