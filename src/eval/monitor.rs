//! Watching a self-supervised phase as it trains (solo-learn's online k-NN): every few epochs,
//! the k-NN accuracy of the current encoder's features on a small labelled set, and how
//! spread out those features are, which falls towards 0 when the embeddings collapse.
//!
//! The monitor images' labels are read only to draw these curves; they never train anything
//! and never choose an epoch.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::data::batch::PixelMap;
use crate::data::images::LabeledImages;
use crate::eval::features::encode;
use crate::eval::knn::{KnnConfig, knn_accuracy};
use crate::model::encoders::Encoder;
use crate::model::norms::l2_normalize;
use crate::train::history::Measures;

/// When and on what the pretext phase is watched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Measure after every N-th pretext epoch (and the last); 0 = never.
    pub every: usize,
    /// Labelled training images used (the last N of the training set): the first half is the
    /// k-NN bank, the second half is classified.
    pub images: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self { every: 1, images: 2000 }
    }
}

/// Below this feature spread, a run is reported as collapsed. A healthy encoder's features
/// spread over many directions; collapsed ones all point the same way (spread 0).
pub const COLLAPSE_BELOW: f64 = 0.05;

/// The k-NN accuracy of the encoder's features on the monitor images, as histories name it.
pub const KNN_ACCURACY: &str = "knn_accuracy";
/// The spread of the encoder's normalised features on the monitor images (near 0: collapse).
pub const FEATURE_SPREAD: &str = "feature_std";

/// Measures an encoder on a fixed labelled set.
#[derive(Debug)]
pub struct FeatureMonitor {
    bank: LabeledImages,
    queries: LabeledImages,
    classes: usize,
    pixels: PixelMap,
    knn: KnnConfig,
    every: usize,
    epochs: usize,
}

impl FeatureMonitor {
    /// A monitor over `images` (split in half: bank, queries) converted with `pixels`,
    /// measuring after every `every`-th of `epochs` epochs and after the last.
    pub fn new(images: &LabeledImages, classes: usize, pixels: PixelMap, knn: KnnConfig, (every, epochs): (usize, usize)) -> Self {
        let half = images.len() / 2;
        Self { bank: images.head(half), queries: images.slice(half..images.len()), classes, pixels, knn, every, epochs }
    }

    /// k-NN accuracy and feature spread after `epoch`, when one is due.
    pub fn measure(&self, encoder: &Encoder, epoch: usize) -> Measures {
        let due = self.every > 0 && (epoch % self.every == 0 || epoch == self.epochs);
        if !due || self.bank.is_empty() || self.queries.is_empty() {
            return Measures::default();
        }
        let bank = encode(encoder, &self.bank, self.classes, self.pixels);
        let queries = encode(encoder, &self.queries, self.classes, self.pixels);
        [(KNN_ACCURACY, knn_accuracy(&bank, &queries, self.classes, self.knn)), (FEATURE_SPREAD, feature_spread(queries.features().clone()))].into_iter().collect()
    }
}

/// Mean over dimensions of the standard deviation of the L2-normalised features, times
/// `sqrt(d)`: 0 when every row is the same direction, about 1 for directions spread evenly
/// over the sphere (the collapse measure of SimSiam, Chen & He 2021).
pub fn feature_spread(features: Tensor<2>) -> f64 {
    let [_, d] = features.dims();
    let std = l2_normalize(features).var_bias(0).sqrt().mean().into_scalar::<f32>() as f64;
    std * (d as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn spread_is_zero_for_one_direction_and_one_for_signed_unit_axes() {
        let tensor = |values: Vec<f32>, rows| Tensor::<2>::from_data(TensorData::new(values.clone(), [rows, values.len() / rows]), &Device::flex());
        // Collapsed: every row the same direction, lengths differ.
        assert!(feature_spread(tensor(vec![1.0, 2.0, 2.0, 4.0, 3.0, 6.0], 3)) < 1e-6);
        // ±e1, ±e2: each dimension takes 1, -1, 0, 0 -> biased std sqrt(1/2); times sqrt(2) = 1.
        let spread = feature_spread(tensor(vec![1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0], 4));
        assert!((spread - 1.0).abs() < 1e-6, "{spread}");
    }
}
