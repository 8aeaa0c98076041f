//! RotNet (Gidaris et al., 2018): predict by how many quarter turns an image was rotated.

use crate::data::images::LabeledImages;
use crate::data::source::SampleSource;

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

    /// Writes `src` (a `size`x`size` row-major image) rotated into `dst`.
    pub fn apply(self, src: &[u8], size: usize, dst: &mut [u8]) {
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
        assert_eq!(images.height(), images.width(), "rotation needs square images");
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
    fn image_dims(&self) -> (usize, usize) {
        (self.images.height(), self.images.width())
    }
    fn num_classes(&self) -> usize {
        4
    }
    fn target(&self, i: usize) -> usize {
        i % 4
    }
    fn write_image(&self, i: usize, out: &mut [u8]) {
        let (image, rotation) = self.sample(i);
        rotation.apply(self.images.image(image), self.images.height(), out);
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
        let images = LabeledImages::new((0..27).collect(), vec![7, 8, 9], 3, 3);
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
