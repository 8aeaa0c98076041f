//! The narrow interface between data and training: numbered samples, each an image of bytes
//! and a class target. Pretext tasks implement it on top of a [`LabeledImages`] without
//! materialising their derived images.

use crate::data::images::{ImageShape, LabeledImages};

/// A random-access collection of (image, target) samples.
pub trait SampleSource: Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Channels, height and width of every image.
    fn shape(&self) -> ImageShape;
    /// Number of target classes.
    fn num_classes(&self) -> usize;
    /// Class target of sample `i`.
    fn target(&self, i: usize) -> usize;
    /// Writes the planar pixels of sample `i` into `out` (`shape().len()` bytes).
    fn write_image(&self, i: usize, out: &mut [u8]);
}

/// Plain classification: each image with its own label.
#[derive(Debug, Clone, Copy)]
pub struct Labeled<'a> {
    images: &'a LabeledImages,
    num_classes: usize,
}

impl<'a> Labeled<'a> {
    /// Labels in `0..num_classes`.
    pub fn new(images: &'a LabeledImages, num_classes: usize) -> Self {
        Self { images, num_classes }
    }
}

impl SampleSource for Labeled<'_> {
    fn len(&self) -> usize {
        self.images.len()
    }
    fn shape(&self) -> ImageShape {
        self.images.shape()
    }
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn target(&self, i: usize) -> usize {
        self.images.label(i)
    }
    fn write_image(&self, i: usize, out: &mut [u8]) {
        out.copy_from_slice(self.images.image(i));
    }
}
