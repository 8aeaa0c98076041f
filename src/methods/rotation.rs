//! RotNet (Gidaris et al., 2018): predict by how many quarter turns an image was rotated.
//! The pretext set makes four samples of each image; the model is the encoder, a third
//! convolution and a 4-way dense head, trained by cross-entropy like any classifier.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::data::batch::{Batch, BatchSource, ImageBatches};
use crate::data::images::{ImageShape, LabeledImages, Tile};
use crate::data::source::SampleSource;
use crate::methods::supervised::classification_step;
use crate::methods::{Figure, MethodName, PretextData, PretextMethod};
use crate::train::optimizer::TrainConfig;
use crate::model::classifier::Logits;
use crate::model::encoders::notebook::same_out;
use crate::model::encoders::{Encoder, EncoderConfig, ModelConfig};
use crate::model::ops::conv2d_relu;
use crate::model::network::{Layer, NetworkBuilder};
use crate::model::summary::Summary;
use crate::train::step::{StepOutput, TrainStep};

/// RotNet's settings: none of its own (its training is the pretext phase's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationConfig {}

impl PretextMethod for RotationConfig {
    type Input = Tensor<4>;
    type Model = RotationModel;
    const DESCRIPTION: &'static str = "predict which quarter turn an image was rotated by (Gidaris et al. 2018); 1 view";

    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> RotationModel {
        RotationModel::init(model, shape, rng, device)
    }

    /// The four quarter turns of each image, randomly shifted by the pretext training's shifts.
    fn batches<'a>(&'a self, data: PretextData<'a>) -> impl BatchSource<Input = Tensor<4>> + 'a {
        ImageBatches::new(RotationTask::new(data.images), data.pixels).with_random_shifts(data.max_shift)
    }

    /// The `default` preset's tuned recipe: Adam, batches of 64, random shifts of up to 2
    /// pixels, 30 epochs.
    fn pretext_training() -> TrainConfig {
        TrainConfig { batch_size: 64, epochs: 30, max_shift: 2, ..TrainConfig::default() }
    }

    fn validate(&self, _name: MethodName, _batch_size: usize) -> Result<(), Invalid> {
        Ok(())
    }

    /// The four rotations of one image with their one-hot labels, as the notebook shows them
    /// (its samples 4..8, i.e. the third image).
    fn figure(&self, images: &LabeledImages) -> Option<Figure> {
        let task = RotationTask::new(images);
        let first = if task.len() >= 8 { 4 } else { 0 };
        let tiles = (first..first + 4)
            .map(|i| {
                let mut pixels = vec![0; images.shape().len()];
                task.write_image(i, &mut pixels);
                let one_hot: Vec<&str> = (0..4).map(|k| if k == i % 4 { "1" } else { "0" }).collect();
                Tile { pixels, caption: format!("label: [{}]\n{} degrees", one_hot.join(" "), Rotation::from_class(task.target(i)).degrees()) }
            })
            .collect();
        Some(Figure { file: "rotations.png", title: "Pretext task: the four rotations of one image", tiles, columns: 4 })
    }

    fn summary(model: &RotationModel, shape: ImageShape) -> Option<Summary> {
        Some(model.summary(shape))
    }
}

/// The four rotations, in the notebook's order; the discriminant is the class target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The image as it is.
    R0 = 0,
    /// A quarter turn counter-clockwise: `flip(img.T, rows)`.
    R90 = 1,
    /// A half turn: both axes flipped.
    R180 = 2,
    /// Three quarter turns counter-clockwise: `flip(img, rows).T`.
    R270 = 3,
}

impl Rotation {
    /// All four, in target order.
    pub const ALL: [Rotation; 4] = [Rotation::R0, Rotation::R90, Rotation::R180, Rotation::R270];

    /// The rotation whose target is `class` (`class % 4`).
    pub fn from_class(class: usize) -> Self {
        Self::ALL[class % 4]
    }

    /// Degrees counter-clockwise.
    pub fn degrees(self) -> u32 {
        self as u32 * 90
    }

    /// Writes `src` (planes of `size`x`size` pixels, row-major) rotated into `dst`.
    pub fn apply(self, src: &[u8], size: usize, dst: &mut [u8]) {
        for (src, dst) in src.chunks(size * size).zip(dst.chunks_mut(size * size)) {
            self.apply_plane(src, size, dst);
        }
    }

    fn apply_plane(self, src: &[u8], size: usize, dst: &mut [u8]) {
        let last = size - 1;
        for r in 0..size {
            for c in 0..size {
                let (sr, sc) = match self {
                    Rotation::R0 => (r, c),
                    Rotation::R90 => (c, last - r),
                    Rotation::R180 => (last - r, last - c),
                    Rotation::R270 => (last - c, r),
                };
                dst[r * size + c] = src[sr * size + sc];
            }
        }
    }
}

/// The rotation pretext set: four samples per image, labels of the images ignored.
///
/// Sample `4k + r` is image `(k + 1) mod n` rotated by `r` quarter turns. The offset by one
/// image reproduces the notebook exactly: it writes image `i` at indices `4i-4 .. 4i-1`, so
/// image 0 lands (via NumPy's negative indexing) at the end. With the notebook's unshuffled
/// batches this order decides which samples share a batch.
#[derive(Debug, Clone, Copy)]
pub struct RotationTask<'a> {
    images: &'a LabeledImages,
}

impl<'a> RotationTask<'a> {
    /// The pretext set over square `images`.
    ///
    /// # Panics
    /// If the images are not square (quarter turns would change their shape).
    pub fn new(images: &'a LabeledImages) -> Self {
        let shape = images.shape();
        assert_eq!(shape.height, shape.width, "rotation needs square images");
        Self { images }
    }

    /// The image index and rotation of sample `i`.
    pub fn sample(&self, i: usize) -> (usize, Rotation) {
        ((i / 4 + 1) % self.images.len(), Rotation::from_class(i))
    }
}

impl SampleSource for RotationTask<'_> {
    fn len(&self) -> usize {
        self.images.len() * 4
    }
    fn shape(&self) -> ImageShape {
        self.images.shape()
    }
    fn num_classes(&self) -> usize {
        4
    }
    fn target(&self, i: usize) -> usize {
        i % 4
    }
    fn write_image(&self, i: usize, out: &mut [u8]) {
        let (image, rotation) = self.sample(i);
        rotation.apply(self.images.image(image), self.images.shape().height, out);
    }
}

/// The encoder and a 4-way dense head that predicts the quarter turn. On the notebook's
/// encoder, the notebook's third layer sits between them: Conv(3x3, stride 2) ReLU, Flatten.
#[derive(Module, Debug)]
pub struct RotationModel {
    /// The part kept for downstream tasks.
    pub encoder: Encoder,
    conv3: Option<Conv2d>,
    head: Linear,
}

impl RotationModel {
    /// A freshly initialised model for images of `shape`.
    pub fn init(config: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> Self {
        let encoder = config.encoder(shape, rng, device);
        let (conv3, features) = match &config.encoder {
            EncoderConfig::Notebook(notebook) => {
                let conv3 = notebook.conv(config, [notebook.filters[1], notebook.filters[2]], 2, rng, device);
                let (h, w) = notebook.map_dims(shape);
                (Some(conv3), notebook.filters[2] * same_out(h, 2) * same_out(w, 2))
            }
            _ => (None, config.feature_dim(shape)),
        };
        let head = config.dense(features, Rotation::ALL.len(), rng, device);
        Self { encoder, conv3, head }
    }

    /// Keras-style summary for images of `shape`.
    pub fn summary(&self, shape: ImageShape) -> Summary {
        let mut network = NetworkBuilder::new(shape);
        match (&self.encoder, &self.conv3) {
            (Encoder::Notebook(encoder), Some(conv3)) => {
                encoder.map_layers(&mut network, "encoder.");
                network.conv(conv3, "conv3");
                network.push(Layer::Relu);
                network.push(Layer::Flatten);
            }
            (encoder, _) => encoder.layers(&mut network, "encoder."),
        }
        network.dense(&self.head, "head");
        Summary::of("pretext", &network.finish(), |_| true)
    }
}

encoder_field!(RotationModel);

impl Logits<Tensor<4>> for RotationModel {
    fn logits(&self, input: Tensor<4>) -> Tensor<2> {
        let x = match (&self.encoder, &self.conv3) {
            (Encoder::Notebook(encoder), Some(conv3)) => conv2d_relu(encoder.kernels(), conv3, encoder.forward(input)).flatten(1, 3),
            (encoder, _) => encoder.features(input),
        };
        self.head.forward(x)
    }
}

impl TrainStep<Tensor<4>> for RotationModel {
    fn step(&self, batch: Batch<Tensor<4>>) -> StepOutput {
        classification_step(self.logits(batch.input), &batch.targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 0 1 2
    // 3 4 5
    // 6 7 8
    const IMG: [u8; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

    fn rotated(r: Rotation) -> [u8; 9] {
        let mut out = [0; 9];
        r.apply(&IMG, 3, &mut out);
        out
    }

    #[test]
    fn rotations_match_numpy_definitions_of_the_notebook() {
        assert_eq!(rotated(Rotation::R0), IMG);
        // np.flip(img.T, 0): counter-clockwise quarter turn.
        assert_eq!(rotated(Rotation::R90), [2, 5, 8, 1, 4, 7, 0, 3, 6]);
        // np.flip(np.flip(img, 0), 1)
        assert_eq!(rotated(Rotation::R180), [8, 7, 6, 5, 4, 3, 2, 1, 0]);
        // np.flip(img, 0).T: clockwise quarter turn.
        assert_eq!(rotated(Rotation::R270), [6, 3, 0, 7, 4, 1, 8, 5, 2]);
    }

    #[test]
    fn four_quarter_turns_are_the_identity() {
        let mut img = IMG;
        for _ in 0..4 {
            let mut next = [0; 9];
            Rotation::R90.apply(&img, 3, &mut next);
            img = next;
        }
        assert_eq!(img, IMG);
    }

    #[test]
    fn sample_order_follows_the_notebooks_negative_index_wrap() {
        let images = LabeledImages::new((0..27).collect(), vec![7, 8, 9], ImageShape::square(1, 3));
        let task = RotationTask::new(&images);
        assert_eq!(task.len(), 12);
        assert_eq!(task.sample(0), (1, Rotation::R0));
        assert_eq!(task.sample(5), (2, Rotation::R90));
        assert_eq!(task.sample(11), (0, Rotation::R270));
        assert_eq!((0..12).map(|i| task.target(i)).collect::<Vec<_>>(), [0, 1, 2, 3].repeat(3));
        let mut out = [0; 9];
        task.write_image(10, &mut out);
        assert_eq!(out, [8, 7, 6, 5, 4, 3, 2, 1, 0]);
    }
}
