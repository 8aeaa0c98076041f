//! Turning numbered samples into tensors, one batch at a time: images stay bytes until here.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use rand_chacha::ChaCha12Rng;

use crate::data::images::LabeledImages;
use crate::data::source::SampleSource;
use crate::transforms::MultiView;
use crate::transforms::shift::random_shift;

/// How pixel bytes become network inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Pixels {
    /// 0..255 as they are (the notebook; its learning rate only works with these).
    Raw,
    /// Divided by 255, so 0..1.
    Unit,
    /// Mapped to -1..1, centred on mid-grey.
    Signed,
}

impl Pixels {
    /// The float a pixel byte becomes.
    pub fn convert(self, byte: u8) -> f32 {
        match self {
            Pixels::Raw => byte as f32,
            Pixels::Unit => byte as f32 / 255.0,
            Pixels::Signed => byte as f32 / 127.5 - 1.0,
        }
    }
}

/// A batch ready for a model: inputs and their class targets.
#[derive(Debug, Clone)]
pub struct Batch<I> {
    /// Model input.
    pub input: I,
    /// Class target of each row.
    pub targets: Vec<usize>,
}

/// Anything the trainer can draw numbered batches from.
pub trait BatchSource {
    /// The model input type (`Tensor<4>` images, `Tensor<2>` features).
    type Input;
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of target classes.
    fn num_classes(&self) -> usize;
    /// The samples at `indices`, on `device`, as they are (for evaluation).
    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Self::Input>;
    /// The samples at `indices` for a training step: augmented, drawing from `rng`, when the
    /// source augments at all.
    fn training_batch(&self, indices: &[usize], device: &Device, _rng: &mut ChaCha12Rng) -> Batch<Self::Input> {
        self.batch(indices, device)
    }
}

/// Image batches `[batch, 1, height, width]` from a [`SampleSource`], optionally randomly
/// shifted (training batches only).
#[derive(Debug)]
pub struct ImageBatches<S> {
    source: S,
    pixels: Pixels,
    max_shift: usize,
}

impl<S: SampleSource> ImageBatches<S> {
    /// Batches of `source` converted with `pixels`.
    pub fn new(source: S, pixels: Pixels) -> Self {
        Self { source, pixels, max_shift: 0 }
    }

    /// Shifts every training image by up to `max_shift` pixels per axis (0 = off).
    pub fn with_random_shifts(mut self, max_shift: usize) -> Self {
        self.max_shift = max_shift;
        self
    }

    /// The images at `indices`, each shifted when `shifts` gives a generator.
    fn images(&self, indices: &[usize], device: &Device, mut shifts: Option<&mut ChaCha12Rng>) -> Batch<Tensor<4>> {
        let (height, width) = self.source.image_dims();
        let size = height * width;
        let mut bytes = vec![0u8; size];
        let mut shifted = vec![0u8; size];
        let mut values = Vec::with_capacity(indices.len() * size);
        for &i in indices {
            self.source.write_image(i, &mut bytes);
            let image = match shifts.as_deref_mut() {
                Some(rng) => {
                    random_shift(&bytes, (height, width), self.max_shift, rng, &mut shifted);
                    &shifted
                }
                None => &bytes,
            };
            values.extend(image.iter().map(|&b| self.pixels.convert(b)));
        }
        let input = image_tensor(values, indices.len(), (height, width), device);
        Batch { input, targets: indices.iter().map(|&i| self.source.target(i)).collect() }
    }
}

impl<S: SampleSource> BatchSource for ImageBatches<S> {
    type Input = Tensor<4>;

    fn len(&self) -> usize {
        self.source.len()
    }

    fn num_classes(&self) -> usize {
        self.source.num_classes()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Tensor<4>> {
        self.images(indices, device, None)
    }

    fn training_batch(&self, indices: &[usize], device: &Device, rng: &mut ChaCha12Rng) -> Batch<Tensor<4>> {
        self.images(indices, device, (self.max_shift > 0).then_some(rng))
    }
}

/// `[n, 1, height, width]` from `n` images' converted pixels.
fn image_tensor(values: Vec<f32>, n: usize, (height, width): (usize, usize), device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, [n, 1, height, width]), device)
}

/// Several augmented views of each image, for the methods that compare views: a batch is one
/// `[batch, 1, height, width]` tensor per view. The images' labels are never read.
#[derive(Debug)]
pub struct ViewBatches<'a> {
    images: &'a LabeledImages,
    pixels: Pixels,
    views: MultiView,
}

impl<'a> ViewBatches<'a> {
    /// Views of `images` made by `views`, converted with `pixels`.
    pub fn new(images: &'a LabeledImages, pixels: Pixels, views: MultiView) -> Self {
        Self { images, pixels, views }
    }

    /// The views of the images at `indices`; without a generator every view is the image.
    fn views(&self, indices: &[usize], device: &Device, mut rng: Option<&mut ChaCha12Rng>) -> Batch<Vec<Tensor<4>>> {
        let dims = (self.images.height(), self.images.width());
        let mut per_view = vec![Vec::with_capacity(indices.len() * dims.0 * dims.1); self.views.len()];
        let mut view = vec![0u8; dims.0 * dims.1];
        for &i in indices {
            let image = self.images.image(i);
            for (v, values) in per_view.iter_mut().enumerate() {
                match rng.as_deref_mut() {
                    Some(rng) => self.views.view(v, image, dims, rng, &mut view),
                    None => view.copy_from_slice(image),
                }
                values.extend(view.iter().map(|&b| self.pixels.convert(b)));
            }
        }
        let input = per_view.into_iter().map(|values| image_tensor(values, indices.len(), dims, device)).collect();
        Batch { input, targets: Vec::new() }
    }
}

impl BatchSource for ViewBatches<'_> {
    type Input = Vec<Tensor<4>>;

    fn len(&self) -> usize {
        self.images.len()
    }

    /// None: the views carry no targets.
    fn num_classes(&self) -> usize {
        0
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Vec<Tensor<4>>> {
        self.views(indices, device, None)
    }

    fn training_batch(&self, indices: &[usize], device: &Device, rng: &mut ChaCha12Rng) -> Batch<Vec<Tensor<4>>> {
        self.views(indices, device, Some(rng))
    }
}

/// Precomputed feature rows (a frozen encoder's output) with their labels.
#[derive(Debug, Clone)]
pub struct FeatureBatches {
    features: Tensor<2>,
    targets: Vec<usize>,
    num_classes: usize,
}

impl FeatureBatches {
    /// `features` `[n, dim]` and one target per row.
    pub fn new(features: Tensor<2>, targets: Vec<usize>, num_classes: usize) -> Self {
        Self { features, targets, num_classes }
    }

    /// The same rows with `f` applied to the feature matrix (which must keep its row count).
    pub fn map_features(self, f: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Self {
        Self { features: f(self.features), ..self }
    }

    /// All feature rows `[n, dim]`.
    pub fn features(&self) -> &Tensor<2> {
        &self.features
    }

    /// The target of every row.
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }
}

impl BatchSource for FeatureBatches {
    type Input = Tensor<2>;

    fn len(&self) -> usize {
        self.targets.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Tensor<2>> {
        let index: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [indices.len()]), &self.features.device());
        let input = self.features.clone().select(0, index).to_device(device);
        Batch { input, targets: indices.iter().map(|&i| self.targets[i]).collect() }
    }
}
