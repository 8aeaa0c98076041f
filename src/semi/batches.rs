//! The batches of a semi-supervised step: a pass over the unlabeled images, each step taking
//! `μ` of them per labelled image drawn at random.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha12Rng;

use crate::data::batch::{Batch, BatchSource, PixelMap};
use crate::data::images::LabeledImages;
use crate::transforms::shift::random_shift;
use crate::transforms::{RandAugment, Transform};

/// One step's images; the batch's targets are the labelled images' classes.
#[derive(Debug, Clone)]
pub struct SemiInput {
    /// Labelled images, weakly augmented `[b, c, h, w]`.
    pub labelled: Tensor<4>,
    /// Weak views of the unlabeled images `[u, c, h, w]`.
    pub weak: Tensor<4>,
    /// Strong views of the same images (FixMatch).
    pub strong: Option<Tensor<4>>,
    /// The teacher's class log-probabilities of the same images `[u, classes]` (distillation).
    pub teacher: Option<Tensor<2>>,
    /// The true class of each unlabeled image where it is known, for diagnostics only.
    pub truth: Vec<Option<usize>>,
}

/// Semi-supervised batches: the samples are the unlabeled images; each step adds
/// `ceil(u / ratio)` labelled images drawn uniformly (with replacement) from the
/// phase's augmentation generator, so they are seeded and checkpointed with it.
#[derive(Debug)]
pub struct SemiBatches<'a> {
    labelled: &'a LabeledImages,
    unlabeled: &'a LabeledImages,
    known_labels: usize,
    classes: usize,
    pixels: PixelMap,
    ratio: usize,
    max_shift: usize,
    strong: Option<RandAugment>,
    teacher: Option<Vec<f32>>,
}

impl<'a> SemiBatches<'a> {
    /// Batches of `unlabeled` (the first `known_labels` of which have true labels, read only
    /// for diagnostics) with `labelled` images, `ratio` unlabeled per labelled, weak views
    /// shifted by up to `max_shift` pixels.
    pub fn new(labelled: &'a LabeledImages, unlabeled: &'a LabeledImages, known_labels: usize, classes: usize, pixels: PixelMap, (ratio, max_shift): (usize, usize)) -> Self {
        Self { labelled, unlabeled, known_labels, classes, pixels, ratio, max_shift, strong: None, teacher: None }
    }

    /// Adds a strong view of every unlabeled image: its weak view through `strong`.
    pub fn with_strong_views(self, strong: RandAugment) -> Self {
        Self { strong: Some(strong), ..self }
    }

    /// Adds the teacher's class log-probabilities of every unlabeled image (row-major).
    pub fn with_teacher(self, log_probs: Vec<f32>) -> Self {
        assert_eq!(log_probs.len(), self.unlabeled.len() * self.classes, "one row per unlabeled image");
        Self { teacher: Some(log_probs), ..self }
    }

    /// The step for the unlabeled images at `indices`; without a generator nothing is
    /// augmented and the labelled images are taken in turn.
    fn step(&self, indices: &[usize], device: &Device, mut rng: Option<&mut ChaCha12Rng>) -> Batch<SemiInput> {
        let shape = self.unlabeled.shape();
        let count = indices.len().div_ceil(self.ratio);
        let picks: Vec<usize> = match rng.as_deref_mut() {
            Some(rng) => (0..count).map(|_| rng.random_range(0..self.labelled.len())).collect(),
            None => (0..count).map(|i| i % self.labelled.len()).collect(),
        };
        let weak_view = |image: &[u8], rng: Option<&mut ChaCha12Rng>| match rng {
            Some(rng) => {
                let mut view = vec![0u8; shape.len()];
                random_shift(image, shape.dims(), self.max_shift, rng, &mut view);
                view
            }
            None => image.to_vec(),
        };
        let mut labelled = Vec::with_capacity(count * shape.len());
        for &i in &picks {
            self.pixels.extend(&weak_view(self.labelled.image(i), rng.as_deref_mut()), shape.plane(), &mut labelled);
        }
        let mut weak = Vec::with_capacity(indices.len() * shape.len());
        let mut strong = Vec::with_capacity(if self.strong.is_some() { indices.len() * shape.len() } else { 0 });
        for &i in indices {
            let mut view = weak_view(self.unlabeled.image(i), rng.as_deref_mut());
            self.pixels.extend(&view, shape.plane(), &mut weak);
            if let (Some(augment), Some(rng)) = (&self.strong, rng.as_deref_mut()) {
                augment.apply(&mut view, shape.dims(), rng);
            }
            if self.strong.is_some() {
                self.pixels.extend(&view, shape.plane(), &mut strong);
            }
        }
        let images = |values: Vec<f32>, n: usize| Tensor::from_data(TensorData::new(values, shape.batch(n)), device);
        let teacher = self.teacher.as_ref().map(|all| {
            let rows: Vec<f32> = indices.iter().flat_map(|&i| all[i * self.classes..(i + 1) * self.classes].iter().copied()).collect();
            Tensor::from_data(TensorData::new(rows, [indices.len(), self.classes]), device)
        });
        let input = SemiInput {
            labelled: images(labelled, count),
            weak: images(weak, indices.len()),
            strong: self.strong.is_some().then(|| images(strong, indices.len())),
            teacher,
            truth: indices.iter().map(|&i| (i < self.known_labels).then(|| self.unlabeled.label(i))).collect(),
        };
        Batch { input, targets: picks.iter().map(|&i| self.labelled.label(i)).collect() }
    }
}

impl BatchSource for SemiBatches<'_> {
    type Input = SemiInput;

    fn len(&self) -> usize {
        self.unlabeled.len()
    }

    fn num_classes(&self) -> usize {
        self.classes
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch<SemiInput> {
        self.step(indices, device, None)
    }

    fn training_batch(&self, indices: &[usize], device: &Device, rng: &mut ChaCha12Rng) -> Batch<SemiInput> {
        self.step(indices, device, Some(rng))
    }
}
