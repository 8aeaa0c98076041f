//! k-nearest-neighbour classification on encoder features, the standard SSL protocol
//! (Wu et al. 2018, as in solo-learn): cosine similarity, the k most similar labelled
//! features vote with weight `exp(similarity / temperature)`.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::data::batch::FeatureBatches;
use crate::model::norms::l2_normalize;

/// Settings of the k-NN evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnnConfig {
    /// Neighbours that vote.
    pub k: usize,
    /// Softness of the vote weights.
    pub temperature: f64,
}

impl Default for KnnConfig {
    fn default() -> Self {
        Self { k: 20, temperature: 0.07 }
    }
}

/// Test rows compared with the bank per matrix product (bounds memory at
/// `CHUNK * bank` floats).
const CHUNK: usize = 1000;

/// Predicted class of every row of `queries` `[n, d]` from the labelled `bank` `[m, d]`.
pub fn knn_predict(bank: &Tensor<2>, bank_labels: &[usize], queries: &Tensor<2>, classes: usize, config: KnnConfig) -> Vec<usize> {
    let bank = l2_normalize(bank.clone()).transpose();
    let [n, _] = queries.dims();
    let k = config.k.clamp(1, bank_labels.len().max(1));
    let mut predictions = Vec::with_capacity(n);
    for start in (0..n).step_by(CHUNK) {
        let rows = l2_normalize(queries.clone().slice([start..(start + CHUNK).min(n)]));
        let sims = rows.matmul(bank.clone()).into_data().try_to_vec::<f32>().expect("f32 similarities");
        predictions.extend(sims.chunks(bank_labels.len()).map(|row| vote(row, bank_labels, classes, k, config.temperature)));
    }
    predictions
}

/// Fraction of `queries` whose k-NN vote over the labelled `bank` names their own label.
pub fn knn_accuracy(bank: &FeatureBatches, queries: &FeatureBatches, classes: usize, config: KnnConfig) -> f64 {
    let predicted = knn_predict(bank.features(), bank.targets(), queries.features(), classes, config);
    let correct = predicted.iter().zip(queries.targets()).filter(|(p, t)| p == t).count();
    correct as f64 / queries.targets().len().max(1) as f64
}

/// The weighted vote of the `k` most similar bank entries.
fn vote(similarities: &[f32], labels: &[usize], classes: usize, k: usize, temperature: f64) -> usize {
    let mut order: Vec<usize> = (0..similarities.len()).collect();
    order.select_nth_unstable_by(k - 1, |&a, &b| similarities[b].total_cmp(&similarities[a]));
    let mut scores = vec![0f64; classes];
    for &i in &order[..k] {
        scores[labels[i]] += (similarities[i] as f64 / temperature).exp();
    }
    (0..classes).fold(0, |best, c| if scores[c] > scores[best] { c } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn tensor(values: Vec<f32>, rows: usize) -> Tensor<2> {
        let cols = values.len() / rows;
        Tensor::from_data(TensorData::new(values, [rows, cols]), &Device::flex())
    }

    #[test]
    fn nearest_by_angle_not_by_length() {
        // Class 0 points along x, class 1 along y; the query is long but nearly along y.
        let bank = tensor(vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9], 4);
        let queries = tensor(vec![5.0, 40.0, 3.0, 0.2], 2);
        let config = KnnConfig { k: 2, temperature: 0.07 };
        assert_eq!(knn_predict(&bank, &[0, 0, 1, 1], &queries, 2, config), vec![1, 0]);
    }

    #[test]
    fn closer_neighbours_outweigh_more_numerous_ones() {
        // Two far class-0 neighbours against one near class-1 neighbour.
        let sims = [0.2, 0.25, 0.95];
        assert_eq!(vote(&sims, &[0, 0, 1], 2, 3, 0.07), 1);
        // With a huge temperature the vote is a plain majority.
        assert_eq!(vote(&sims, &[0, 0, 1], 2, 3, 1e6), 0);
    }
}
