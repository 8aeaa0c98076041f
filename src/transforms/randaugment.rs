//! FixMatch's strong augmentation: RandAugment with a random magnitude for every operation it
//! draws (the "RA" variant of Sohn et al. 2020), then Cutout.

use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;

use super::tone::{AutoContrast, Equalize, Posterize, Sharpness, Solarize};
use super::{ColorJitter, Geometry, Transform};

/// Settings of the strong augmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandAugmentConfig {
    /// Operations drawn per image (uniformly, with repeats) from RandAugment's list: identity,
    /// auto-contrast, equalise, rotate, solarise, posterise, contrast, brightness, sharpness,
    /// shear and translate.
    pub ops_per_image: usize,
    /// Strength of every operation as a fraction of its largest (see [`RandAugmentConfig::build`]);
    /// each draw is uniform up to it, either way.
    pub magnitude: f64,
    /// Cutout: the largest side of the square set to 0, as a fraction of the image side
    /// (0 = no cutout). The side is drawn from 0..this, the centre anywhere in the image.
    pub cutout: f64,
}

impl Default for RandAugmentConfig {
    /// FixMatch's: two operations at any magnitude and a cutout of up to half the side.
    fn default() -> Self {
        Self { ops_per_image: 2, magnitude: 1.0, cutout: 0.5 }
    }
}

impl RandAugmentConfig {
    /// Names the first setting that cannot work, by its flag.
    pub fn validate(&self) -> Result<(), Invalid> {
        for (key, value) in [("cutout", self.cutout), ("magnitude", self.magnitude)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Invalid::new(key, format!("must be in [0, 1], got {value}")));
            }
        }
        Ok(())
    }

    /// The augmentation these settings describe. At magnitude 1, torchvision's largest:
    /// 30 degrees of rotation, 0.3 of shear (16.7 degrees), 0.3 of the side of translation,
    /// factors of 1 ± 0.9 for brightness, contrast and sharpness, 4 bits kept, any solarise
    /// threshold; a lower magnitude scales each of them.
    pub fn build(&self) -> RandAugment {
        let m = self.magnitude;
        let geometry = |rotation_degrees, shear_degrees, translate| Geometry {
            crop_scale: [1.0, 1.0],
            rotation_degrees,
            shear_degrees,
            translate,
            horizontal_flip: false,
        };
        let ops: Vec<Box<dyn Transform>> = vec![
            Box::new(Identity),
            Box::new(AutoContrast),
            Box::new(Equalize),
            Box::new(geometry(30.0 * m, 0.0, 0.0)),
            Box::new(Solarize { lowest: (256.0 * (1.0 - m)).round() as u16 }),
            Box::new(Posterize { min_bits: 8 - (4.0 * m).round() as u32 }),
            Box::new(ColorJitter { brightness: 0.0, contrast: 0.9 * m, probability: 1.0 }),
            Box::new(ColorJitter { brightness: 0.9 * m, contrast: 0.0, probability: 1.0 }),
            Box::new(Sharpness { strength: 0.9 * m }),
            Box::new(geometry(0.0, (0.3 * m).atan().to_degrees(), 0.0)),
            Box::new(geometry(0.0, 0.0, 0.3 * m)),
        ];
        RandAugment { ops, per_image: self.ops_per_image, cutout: self.cutout }
    }
}

/// Leaves the image as it is (one of RandAugment's draws).
#[derive(Debug, Clone)]
struct Identity;

impl Transform for Identity {
    fn apply(&self, _image: &mut [u8], _dims: (usize, usize), _rng: &mut ChaCha12Rng) {}
}

/// `per_image` operations drawn from `ops`, then a cutout.
#[derive(Debug)]
pub struct RandAugment {
    ops: Vec<Box<dyn Transform>>,
    per_image: usize,
    cutout: f64,
}

impl Transform for RandAugment {
    fn apply(&self, image: &mut [u8], dims: (usize, usize), rng: &mut ChaCha12Rng) {
        for _ in 0..self.per_image {
            let op = rng.random_range(0..self.ops.len());
            self.ops[op].apply(image, dims, rng);
        }
        if self.cutout > 0.0 {
            cutout(image, dims, self.cutout, rng);
        }
    }
}

/// Sets a square of side up to `largest` of the image's (its part inside the image) to 0 in
/// every plane.
fn cutout(image: &mut [u8], (height, width): (usize, usize), largest: f64, rng: &mut ChaCha12Rng) {
    let side = (rng.random_range(0.0..largest) * height.min(width) as f64).round() as usize;
    let (cy, cx) = (rng.random_range(0..height), rng.random_range(0..width));
    let (top, left) = (cy.saturating_sub(side / 2), cx.saturating_sub(side / 2));
    let (bottom, right) = ((cy + side.div_ceil(2)).min(height), (cx + side.div_ceil(2)).min(width));
    for plane in image.chunks_mut(height * width) {
        for row in plane.chunks_mut(width).take(bottom).skip(top) {
            row[left..right].fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn cutout_zeroes_one_square_no_larger_than_asked() {
        for seed in 0..20 {
            let mut image = vec![9u8; 2 * 100];
            cutout(&mut image, (10, 10), 0.5, &mut ChaCha12Rng::seed_from_u64(seed));
            let erased: Vec<usize> = (0..100).filter(|&i| image[i] == 0).collect();
            assert_eq!(&image[..100], &image[100..], "every plane alike");
            if let (Some(first), Some(last)) = (erased.first(), erased.last()) {
                let (h, w) = (last / 10 - first / 10 + 1, last % 10 - first % 10 + 1);
                assert_eq!(h * w, erased.len(), "one solid rectangle (a square clipped by the border)");
                assert!(h <= 5 && w <= 5, "{h}x{w}");
            }
        }
    }

    #[test]
    fn strong_views_are_seeded_and_differ_from_the_image() {
        let strong = RandAugmentConfig::default().build();
        let image: Vec<u8> = (0..28 * 28).map(|i| if (9..19).contains(&(i / 28)) && (9..19).contains(&(i % 28)) { 200 } else { 0 }).collect();
        let view = |seed| {
            let mut out = image.clone();
            strong.apply(&mut out, (28, 28), &mut ChaCha12Rng::seed_from_u64(seed));
            out
        };
        assert_eq!(view(1), view(1));
        let changed = (0..20).filter(|&s| view(s) != image).count();
        assert!(changed >= 18, "{changed} of 20 views changed");
        assert_eq!(RandAugmentConfig { cutout: 1.5, ..RandAugmentConfig::default() }.validate().unwrap_err().key, "cutout");
    }
}
