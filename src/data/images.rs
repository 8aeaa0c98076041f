//! A labelled set of small images, grey or colour, kept as bytes until a batch needs floats.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Channels, height and width of every image of a data set: what the model's input layer,
/// the batches, the figures and `predict` are sized by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Rows of pixels.
    pub height: usize,
    /// Columns of pixels.
    pub width: usize,
}

impl ImageShape {
    /// `channels` planes of `side`x`side` pixels.
    pub fn square(channels: usize, side: usize) -> Self {
        Self { channels, height: side, width: side }
    }

    /// Bytes of one plane (one channel).
    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Bytes of one image: every plane.
    pub fn len(&self) -> usize {
        self.channels * self.plane()
    }

    /// True for a shape without pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Height and width.
    pub fn dims(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// `[n, channels, height, width]`, a batch of `n` images as Burn lays it out.
    pub fn batch(&self, n: usize) -> [usize; 4] {
        [n, self.channels, self.height, self.width]
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.channels == 1 { "grey".to_string() } else if self.channels == 3 { "RGB".to_string() } else { format!("{}-channel", self.channels) };
        write!(f, "{}x{} {kind}", self.height, self.width)
    }
}

/// Images of one shape with one class label each; each image is planar (`channels` planes of
/// `height * width` bytes, row-major), as the batches' NCHW tensors are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledImages {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    shape: ImageShape,
}

impl LabeledImages {
    /// Wraps `pixels` (`labels.len()` planar images of `shape`) and their labels.
    ///
    /// # Panics
    /// If the pixel count does not match; callers (the loaders) check this first.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>, shape: ImageShape) -> Self {
        assert_eq!(pixels.len(), labels.len() * shape.len(), "pixel count must match labels");
        Self { pixels, labels, shape }
    }

    /// Channels, height and width of every image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of image `i`: its planes, each row-major.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.shape.len();
        &self.pixels[i * size..(i + 1) * size]
    }

    /// Class label of image `i`.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i] as usize
    }

    /// All labels in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// A copy of the images in `range`.
    pub fn slice(&self, range: Range<usize>) -> Self {
        let size = self.shape.len();
        Self { pixels: self.pixels[range.start * size..range.end * size].to_vec(), labels: self.labels[range].to_vec(), shape: self.shape }
    }

    /// These images followed by `other`'s (of the same shape).
    pub fn concat(mut self, other: &Self) -> Self {
        assert_eq!(self.shape, other.shape, "images of one shape");
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
        self
    }

    /// The same images with each label `l` replaced by `map[l]`.
    pub fn relabeled(mut self, map: &[u8]) -> Self {
        self.labels.iter_mut().for_each(|label| *label = map[*label as usize]);
        self
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let pixels = indices.iter().flat_map(|&i| self.image(i).iter().copied()).collect();
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Self { pixels, labels, shape: self.shape }
    }

    /// The first `per_class` images of every class among `classes`, keeping data order
    /// (so a validation split taken from the end still sees every class).
    pub fn balanced(&self, per_class: usize, classes: usize) -> Self {
        let mut taken = vec![0; classes];
        let indices: Vec<usize> = (0..self.len())
            .filter(|&i| {
                let class = self.label(i);
                let keep = taken[class] < per_class;
                taken[class] += keep as usize;
                keep
            })
            .collect();
        self.select(&indices)
    }

    /// The first `n` images (all of them if there are fewer).
    pub fn head(&self, n: usize) -> Self {
        self.slice(0..n.min(self.len()))
    }

    /// How many images stay for training when the last `fraction` validate, as Keras'
    /// `validation_split` counts: `floor(n * (1 - fraction))`.
    pub fn split_point(&self, fraction: f64) -> usize {
        (self.len() as f64 * (1.0 - fraction)).floor() as usize
    }

    /// Splits off the last `fraction` of the images for validation (see [`Self::split_point`]).
    pub fn split_tail(&self, fraction: f64) -> (Self, Self) {
        let split_at = self.split_point(fraction);
        (self.slice(0..split_at), self.slice(split_at..self.len()))
    }
}

/// An image with a (possibly multi-line) caption above it, as a figure shows it.
#[derive(Debug, Clone)]
pub struct Tile {
    /// Planar bytes of one image, `channels * height * width`.
    pub pixels: Vec<u8>,
    /// Text above the image; `\n` separates lines.
    pub caption: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ten() -> LabeledImages {
        LabeledImages::new((0..40).collect(), (0..10).collect(), ImageShape::square(1, 2))
    }

    #[test]
    fn split_tail_keeps_the_last_fraction_for_validation_like_keras() {
        let (train, val) = ten().split_tail(0.3);
        assert_eq!(train.labels(), &[0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(val.labels(), &[7, 8, 9]);
        assert_eq!(val.image(0), &[28, 29, 30, 31]);
        // Keras floors the training size: 1000 images at 0.3 give 700 / 300.
        let thousand = LabeledImages::new(vec![0; 1000], vec![0; 1000], ImageShape::square(1, 1));
        let (train, val) = thousand.split_tail(0.3);
        assert_eq!((train.len(), val.len()), (700, 300));
    }

    #[test]
    fn balanced_takes_the_first_of_each_class_in_data_order() {
        let set = LabeledImages::new((0..8).collect(), vec![0, 0, 0, 1, 2, 1, 2, 2], ImageShape::square(1, 1));
        let two = set.balanced(2, 3);
        assert_eq!(two.labels(), &[0, 0, 1, 2, 1, 2]);
        assert_eq!(two.image(2), &[3]);
    }

    #[test]
    fn head_and_image_address_the_right_bytes() {
        let set = ten().head(3);
        assert_eq!(set.len(), 3);
        assert_eq!(set.image(2), &[8, 9, 10, 11]);
        assert_eq!(set.label(2), 2);
    }

    #[test]
    fn colour_images_are_addressed_as_whole_planar_images() {
        let shape = ImageShape::square(3, 2);
        let set = LabeledImages::new((0..36).collect(), vec![0, 1, 2], shape);
        assert_eq!((shape.len(), shape.plane(), shape.batch(5)), (12, 4, [5, 3, 2, 2]));
        assert_eq!(set.image(1), &(12..24).collect::<Vec<u8>>()[..]);
        assert_eq!(set.select(&[2]).image(0), set.image(2));
        assert_eq!(shape.to_string(), "2x2 RGB");
    }
}
