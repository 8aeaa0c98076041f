//! Label-efficiency results: every (seed, label budget, method) and their mean and spread.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::eval::methods::Method;

/// One measured point of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Seed of the run.
    pub seed: u64,
    /// Labelled images used.
    pub labels: usize,
    /// Method identifier (`ssl_probe`, ...).
    pub method: String,
    /// Test accuracy of encoder + head.
    pub test_accuracy: f64,
    /// k-NN test accuracy of the encoder's features.
    pub knn_accuracy: f64,
}

/// Mean and sample standard deviation of one (labels, method) cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepCell {
    /// Labelled images used.
    pub labels: usize,
    /// Method identifier.
    pub method: String,
    /// Number of seeds.
    pub n: usize,
    /// Mean test accuracy.
    pub mean: f64,
    /// Sample standard deviation of the test accuracy (0 for one seed).
    pub std: f64,
    /// Mean k-NN accuracy.
    pub knn_mean: f64,
}

/// Groups rows by (labels, method) in label order, methods in report order.
pub fn summarize(rows: &[SweepRow]) -> Vec<SweepCell> {
    let order = |id: &str| Method::ALL.iter().position(|m| m.id() == id).unwrap_or(usize::MAX);
    let mut groups: BTreeMap<(usize, usize, String), Vec<&SweepRow>> = BTreeMap::new();
    for row in rows {
        groups.entry((row.labels, order(&row.method), row.method.clone())).or_default().push(row);
    }
    groups
        .into_iter()
        .map(|((labels, _, method), rows)| {
            let n = rows.len();
            let mean = rows.iter().map(|r| r.test_accuracy).sum::<f64>() / n as f64;
            let var = if n > 1 { rows.iter().map(|r| (r.test_accuracy - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
            let knn_mean = rows.iter().map(|r| r.knn_accuracy).sum::<f64>() / n as f64;
            SweepCell { labels, method, n, mean, std: var.sqrt(), knn_mean }
        })
        .collect()
}

/// A Markdown table: one row per method, one column per label budget, `mean ± std`.
pub fn markdown(cells: &[SweepCell]) -> String {
    let mut budgets: Vec<usize> = cells.iter().map(|c| c.labels).collect();
    budgets.dedup();
    let mut out = String::from("| method |");
    budgets.iter().for_each(|b| out.push_str(&format!(" {b} labels |")));
    out.push_str("\n| --- |");
    budgets.iter().for_each(|_| out.push_str(" --- |"));
    out.push('\n');
    for method in Method::ALL {
        out.push_str(&format!("| {} |", method.description()));
        for b in &budgets {
            match cells.iter().find(|c| c.labels == *b && c.method == method.id()) {
                Some(c) => out.push_str(&format!(" {:.4} ± {:.4} |", c.mean, c.std)),
                None => out.push_str(" - |"),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seed: u64, labels: usize, method: &str, acc: f64) -> SweepRow {
        SweepRow { seed, labels, method: method.into(), test_accuracy: acc, knn_accuracy: acc }
    }

    #[test]
    fn mean_and_sample_std_per_budget_and_method() {
        let rows = [row(0, 100, "scratch", 0.5), row(1, 100, "scratch", 0.7), row(0, 100, "ssl_probe", 0.9), row(0, 10, "scratch", 0.2)];
        let cells = summarize(&rows);
        assert_eq!(cells.iter().map(|c| (c.labels, c.method.as_str())).collect::<Vec<_>>(), [(10, "scratch"), (100, "scratch"), (100, "ssl_probe")]);
        assert!((cells[1].mean - 0.6).abs() < 1e-12 && (cells[1].std - 0.02f64.sqrt()).abs() < 1e-12);
        let table = markdown(&cells);
        assert!(table.contains("| supervised from scratch | 0.2000 ± 0.0000 | 0.6000 ± 0.1414 |"), "{table}");
        assert!(table.contains("| random encoder, frozen | - | - |"), "{table}");
    }
}
