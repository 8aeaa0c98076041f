//! An encoder's features of a set of images: what the linear head, k-NN and the figures read.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::data::batch::{BatchSource, FeatureBatches, ImageBatches, PixelMap};
use crate::data::images::LabeledImages;
use crate::data::source::Labeled;
use crate::model::encoders::Encoder;

/// Batch size for inference-only passes; it does not change results.
pub const INFERENCE_BATCH: usize = 500;

/// The encoder's features of every image, with the images' labels, as batches for a head.
pub fn encode(encoder: &Encoder, images: &LabeledImages, classes: usize, pixels: PixelMap) -> FeatureBatches {
    let encoder = encoder.valid();
    let device = crate::device::of(&encoder);
    let source = ImageBatches::new(Labeled::new(images, classes), pixels);
    let all: Vec<usize> = (0..source.len()).collect();
    let mut parts = Vec::new();
    let mut targets = Vec::with_capacity(images.len());
    for indices in all.chunks(INFERENCE_BATCH) {
        let batch = source.batch(indices, &device);
        parts.push(encoder.features(batch.input));
        targets.extend(batch.targets);
    }
    FeatureBatches::new(Tensor::cat(parts, 0), targets, classes)
}
