//! Label-efficiency results: every (seed, label budget, method) and their mean and spread.

use serde::{Deserialize, Serialize};

use crate::eval::protocols::Protocol;

/// The method column of the baselines, which use no pretraining.
pub const NO_METHOD: &str = "none";

/// One measured point of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Seed of the run.
    pub seed: u64,
    /// Labelled images used.
    pub labels: usize,
    /// Self-supervised method of the encoder ([`NO_METHOD`] for the baselines).
    pub method: String,
    /// Protocol identifier (`ssl_probe`, ...).
    pub protocol: String,
    /// Test accuracy of encoder + head.
    pub test_accuracy: f64,
    /// k-NN test accuracy of the encoder's features.
    pub knn_accuracy: f64,
    /// Wall time of the protocol's own training epochs.
    pub seconds: f64,
}

impl SweepRow {
    /// The row's name in tables and figures: the protocol, after the method when there is one.
    pub fn name(&self) -> String {
        row_name(&self.method, &self.protocol)
    }
}

fn row_name(method: &str, protocol: &str) -> String {
    let description = Protocol::from_id(protocol).map_or_else(|| protocol.to_string(), |p| p.description().to_string());
    if method == NO_METHOD { description } else { format!("{method}: {description}") }
}

/// Mean and sample standard deviation of one (labels, method, protocol) cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepCell {
    /// Labelled images used.
    pub labels: usize,
    /// Self-supervised method ([`NO_METHOD`] for the baselines).
    pub method: String,
    /// Protocol identifier.
    pub protocol: String,
    /// Number of seeds.
    pub n: usize,
    /// Mean test accuracy.
    pub mean: f64,
    /// Sample standard deviation of the test accuracy (0 for one seed).
    pub std: f64,
    /// Mean k-NN accuracy.
    pub knn_mean: f64,
    /// Mean wall time of the protocol's own training epochs.
    pub seconds_mean: f64,
}

impl SweepCell {
    /// The cell's row name, as [`SweepRow::name`].
    pub fn name(&self) -> String {
        row_name(&self.method, &self.protocol)
    }
}

/// Row names in the order they first appear.
pub fn row_names(cells: &[SweepCell]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for cell in cells {
        if !names.contains(&cell.name()) {
            names.push(cell.name());
        }
    }
    names
}

/// Groups rows by label budget (ascending), then method and protocol in order of appearance.
pub fn summarize(rows: &[SweepRow]) -> Vec<SweepCell> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for row in rows {
        let key = (row.method.clone(), row.protocol.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mut budgets: Vec<usize> = rows.iter().map(|r| r.labels).collect();
    budgets.sort_unstable();
    budgets.dedup();
    let mut cells = Vec::new();
    for labels in budgets {
        for (method, protocol) in &keys {
            let group: Vec<&SweepRow> = rows.iter().filter(|r| r.labels == labels && &r.method == method && &r.protocol == protocol).collect();
            if group.is_empty() {
                continue;
            }
            let n = group.len();
            let mean = group.iter().map(|r| r.test_accuracy).sum::<f64>() / n as f64;
            let var = if n > 1 { group.iter().map(|r| (r.test_accuracy - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
            let knn_mean = group.iter().map(|r| r.knn_accuracy).sum::<f64>() / n as f64;
            let seconds_mean = group.iter().map(|r| r.seconds).sum::<f64>() / n as f64;
            cells.push(SweepCell { labels, method: method.clone(), protocol: protocol.clone(), n, mean, std: var.sqrt(), knn_mean, seconds_mean });
        }
    }
    cells
}

/// A Markdown table: one row per method and protocol, one column per label budget, test
/// accuracy `mean ± std`, then the mean k-NN accuracy per budget.
pub fn markdown(cells: &[SweepCell]) -> String {
    let mut budgets: Vec<usize> = cells.iter().map(|c| c.labels).collect();
    budgets.dedup();
    let mut out = String::from("| method |");
    budgets.iter().for_each(|b| out.push_str(&format!(" {b} labels |")));
    budgets.iter().for_each(|b| out.push_str(&format!(" k-NN, {b} labels |")));
    out.push_str("\n| --- |");
    budgets.iter().chain(&budgets).for_each(|_| out.push_str(" --- |"));
    out.push('\n');
    for name in row_names(cells) {
        out.push_str(&format!("| {name} |"));
        let cell = |b: &usize| cells.iter().find(|c| c.labels == *b && c.name() == name);
        for b in &budgets {
            match cell(b) {
                Some(c) => out.push_str(&format!(" {:.4} ± {:.4} |", c.mean, c.std)),
                None => out.push_str(" - |"),
            }
        }
        for b in &budgets {
            match cell(b) {
                Some(c) => out.push_str(&format!(" {:.4} |", c.knn_mean)),
                None => out.push_str(" - |"),
            }
        }
        out.push('\n');
    }
    out
}

/// The best row of each label budget by mean test accuracy, as Markdown list items: the
/// protocol to use at that many labels (when it is not a pretrained one, self-supervision did
/// not pay there).
pub fn best_per_budget(cells: &[SweepCell]) -> String {
    let mut budgets: Vec<usize> = cells.iter().map(|c| c.labels).collect();
    budgets.dedup();
    let mut out = String::new();
    for labels in budgets {
        let at_budget = cells.iter().filter(|c| c.labels == labels);
        // The first of equals: the baselines come first, and a tie is no win for pretraining.
        let best = at_budget.reduce(|best, c| if c.mean > best.mean { c } else { best }).expect("a budget has cells");
        let seeds = if best.n == 1 { "1 seed".to_string() } else { format!("{} seeds", best.n) };
        let unpaid = if best.method == NO_METHOD { "; no pretrained encoder did better" } else { "" };
        out.push_str(&format!("- best at {labels} labels: **{}**, {:.4} ± {:.4} over {seeds}{unpaid}\n", best.name(), best.mean, best.std));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seed: u64, labels: usize, method: &str, protocol: &str, acc: f64) -> SweepRow {
        SweepRow { seed, labels, method: method.into(), protocol: protocol.into(), test_accuracy: acc, knn_accuracy: acc, seconds: acc * 10.0 }
    }

    #[test]
    fn mean_and_sample_std_per_budget_method_and_protocol() {
        let rows = [
            row(0, 100, NO_METHOD, "scratch", 0.5),
            row(1, 100, NO_METHOD, "scratch", 0.7),
            row(0, 100, "simclr", "ssl_probe", 0.9),
            row(0, 10, NO_METHOD, "scratch", 0.2),
        ];
        let cells = summarize(&rows);
        let keys: Vec<(usize, &str, &str)> = cells.iter().map(|c| (c.labels, c.method.as_str(), c.protocol.as_str())).collect();
        assert_eq!(keys, [(10, NO_METHOD, "scratch"), (100, NO_METHOD, "scratch"), (100, "simclr", "ssl_probe")]);
        assert!((cells[1].mean - 0.6).abs() < 1e-12 && (cells[1].std - 0.02f64.sqrt()).abs() < 1e-12);
        assert!((cells[1].seconds_mean - 6.0).abs() < 1e-12);
        let table = markdown(&cells);
        assert!(table.contains("| supervised from scratch | 0.2000 ± 0.0000 | 0.6000 ± 0.1414 | 0.2000 | 0.6000 |"), "{table}");
        assert!(table.contains("| simclr: SSL encoder, frozen (linear probe) | - | 0.9000 ± 0.0000 | - | 0.9000 |"), "{table}");
        assert_eq!(
            best_per_budget(&cells),
            "- best at 10 labels: **supervised from scratch**, 0.2000 ± 0.0000 over 1 seed; no pretrained encoder did better\n\
             - best at 100 labels: **simclr: SSL encoder, frozen (linear probe)**, 0.9000 ± 0.0000 over 1 seed\n"
        );
    }

    #[test]
    fn a_tie_at_the_top_is_no_win_for_pretraining() {
        let cells = summarize(&[row(0, 50, NO_METHOD, "scratch", 0.5), row(1, 50, NO_METHOD, "scratch", 0.7), row(0, 50, "rotation", "ssl_probe", 0.6)]);
        assert!(best_per_budget(&cells).starts_with("- best at 50 labels: **supervised from scratch**, 0.6000 ± 0.1414 over 2 seeds;"));
    }
}
