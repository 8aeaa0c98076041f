//! Augmentations on u8 images, kept apart from the methods that use them (as lightly does).
//!
//! A [`Transform`] changes one image in place, drawing its randomness from the generator it is
//! given, so a phase's augmentations are reproducible from its seeded (and checkpointed)
//! generator. [`Augmentations`] composes them in the usual order: geometry first (one
//! resampling for crop, affine and flip together), then colour, blur, noise and erasing.
//! [`MultiView`] makes the N views of one image that a joint-embedding method compares.
//! [`RandAugment`] is FixMatch's strong augmentation, drawing from the same transforms and
//! PIL's tone operations.
//!
//! Images are planar: `channels` planes of `height * width` bytes, row-major.

mod geometric;
mod photometric;
mod randaugment;
pub mod shift;
mod tone;

use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;

pub use geometric::Geometry;
pub use photometric::{ColorJitter, GaussianBlur, GaussianNoise, RandomErasing};
pub use randaugment::{RandAugment, RandAugmentConfig};

/// `value.round().clamp(0.0, 255.0) as u8` (half away from zero, NaN to 0), without the libm
/// call `round` is on a CPU baseline without SSE4.1: one per pixel was a few percent of drawing
/// two-view batches.
#[inline]
pub(crate) fn to_byte(value: f64) -> u8 {
    let value = value.clamp(0.0, 255.0);
    // Truncation toward zero is the floor of a non-negative value; its remainder is exact.
    let whole = value as u8;
    whole + u8::from(value - f64::from(whole) >= 0.5)
}

/// One random change to an image.
pub trait Transform: std::fmt::Debug + Send + Sync {
    /// Changes `image` (`dims` = height, width; any number of planes) in place.
    fn apply(&self, image: &mut [u8], dims: (usize, usize), rng: &mut ChaCha12Rng);
}

/// Settings of the augmentation pipeline; a strength of 0 (or probability 0) turns a step off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Random resized crop: the crop's area as a fraction of the image, drawn from this range
    /// ([1, 1] = no crop). Its aspect ratio is drawn log-uniformly from 3/4..4/3.
    pub crop_scale: [f64; 2],
    /// Largest rotation, in degrees either way.
    pub rotation_degrees: f64,
    /// Largest horizontal shear, in degrees either way.
    pub shear_degrees: f64,
    /// Largest translation, as a fraction of the image side, either way.
    pub translate: f64,
    /// Mirror left-right with probability 0.5 (off for digits, whose mirror images are not digits).
    pub horizontal_flip: bool,
    /// Brightness factor drawn from 1 ± this.
    pub brightness: f64,
    /// Contrast factor drawn from 1 ± this.
    pub contrast: f64,
    /// Probability of applying the brightness and contrast jitter.
    pub jitter_probability: f64,
    /// Probability of a Gaussian blur.
    pub blur_probability: f64,
    /// Range of the blur's standard deviation, in pixels.
    pub blur_sigma: [f64; 2],
    /// Standard deviation of additive Gaussian noise, in grey levels (0..255).
    pub noise_std: f64,
    /// Probability of erasing a random rectangle (filled with 0).
    pub erase_probability: f64,
    /// Range of the erased rectangle's area, as a fraction of the image.
    pub erase_scale: [f64; 2],
}

impl Default for AugmentConfig {
    /// Views for grey 28x28 digits: crops that keep most of the digit, small affine changes,
    /// jitter, blur and a little erasing; no flips.
    fn default() -> Self {
        Self {
            crop_scale: [0.5, 1.0],
            rotation_degrees: 10.0,
            shear_degrees: 10.0,
            translate: 0.1,
            horizontal_flip: false,
            brightness: 0.4,
            contrast: 0.4,
            jitter_probability: 0.8,
            blur_probability: 0.5,
            blur_sigma: [0.1, 1.0],
            noise_std: 0.0,
            erase_probability: 0.25,
            erase_scale: [0.02, 0.15],
        }
    }
}

impl AugmentConfig {
    /// Names the first setting that cannot work, by its key.
    pub fn validate(&self) -> Result<(), Invalid> {
        let range = |key: &str, [lo, hi]: [f64; 2], max: f64| {
            if lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi && hi <= max {
                Ok(())
            } else {
                Err(Invalid::new(key, format!("must be two numbers 0 < low <= high <= {max}, got {lo},{hi}")))
            }
        };
        let probability = |key: &str, p: f64| {
            if (0.0..=1.0).contains(&p) { Ok(()) } else { Err(Invalid::new(key, format!("must be in [0, 1], got {p}"))) }
        };
        let non_negative = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 { Ok(()) } else { Err(Invalid::new(key, format!("must be a number >= 0, got {v}"))) }
        };
        range("crop_scale", self.crop_scale, 1.0)?;
        range("blur_sigma", self.blur_sigma, 10.0)?;
        range("erase_scale", self.erase_scale, 1.0)?;
        non_negative("rotation_degrees", self.rotation_degrees)?;
        non_negative("shear_degrees", self.shear_degrees)?;
        non_negative("noise_std", self.noise_std)?;
        probability("translate", self.translate)?;
        probability("brightness", self.brightness)?;
        probability("contrast", self.contrast)?;
        probability("jitter_probability", self.jitter_probability)?;
        probability("blur_probability", self.blur_probability)?;
        probability("erase_probability", self.erase_probability)
    }

    /// The pipeline these settings describe.
    pub fn build(&self) -> Augmentations {
        let mut steps: Vec<Box<dyn Transform>> = vec![Box::new(Geometry {
            crop_scale: self.crop_scale,
            rotation_degrees: self.rotation_degrees,
            shear_degrees: self.shear_degrees,
            translate: self.translate,
            horizontal_flip: self.horizontal_flip,
        })];
        if self.jitter_probability > 0.0 && (self.brightness > 0.0 || self.contrast > 0.0) {
            steps.push(Box::new(ColorJitter { brightness: self.brightness, contrast: self.contrast, probability: self.jitter_probability }));
        }
        if self.blur_probability > 0.0 {
            steps.push(Box::new(GaussianBlur { sigma: self.blur_sigma, probability: self.blur_probability }));
        }
        if self.noise_std > 0.0 {
            steps.push(Box::new(GaussianNoise { std: self.noise_std }));
        }
        if self.erase_probability > 0.0 {
            steps.push(Box::new(RandomErasing { scale: self.erase_scale, probability: self.erase_probability }));
        }
        Augmentations { steps }
    }
}

/// Transforms applied one after the other.
#[derive(Debug)]
pub struct Augmentations {
    steps: Vec<Box<dyn Transform>>,
}

impl Transform for Augmentations {
    fn apply(&self, image: &mut [u8], dims: (usize, usize), rng: &mut ChaCha12Rng) {
        for step in &self.steps {
            step.apply(image, dims, rng);
        }
    }
}

/// The views of one image a method compares: view `v` comes from pipeline `v`.
#[derive(Debug)]
pub struct MultiView {
    pipelines: Vec<Augmentations>,
}

impl MultiView {
    /// `views` views, all from the same pipeline settings (independent draws).
    pub fn symmetric(config: &AugmentConfig, views: usize) -> Self {
        Self { pipelines: (0..views).map(|_| config.build()).collect() }
    }

    /// Number of views per image.
    pub fn len(&self) -> usize {
        self.pipelines.len()
    }

    /// True when it makes no views.
    pub fn is_empty(&self) -> bool {
        self.pipelines.is_empty()
    }

    /// Writes view `view` of `image` into `out` (same size), drawing from `rng`.
    pub fn view(&self, view: usize, image: &[u8], dims: (usize, usize), rng: &mut ChaCha12Rng, out: &mut [u8]) {
        out.copy_from_slice(image);
        self.pipelines[view].apply(out, dims, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn digit() -> Vec<u8> {
        // A bright 10x10 square in the middle of a 28x28 black image.
        (0..28 * 28).map(|i| if (9..19).contains(&(i / 28)) && (9..19).contains(&(i % 28)) { 200 } else { 0 }).collect()
    }

    #[test]
    fn views_are_seeded_different_and_keep_the_image_size() {
        let views = MultiView::symmetric(&AugmentConfig::default(), 2);
        let image = digit();
        let draw = |seed| {
            let mut rng = ChaCha12Rng::seed_from_u64(seed);
            let mut out = vec![vec![0u8; image.len()]; 2];
            for (v, o) in out.iter_mut().enumerate() {
                views.view(v, &image, (28, 28), &mut rng, o);
            }
            out
        };
        let a = draw(7);
        assert_eq!(a, draw(7), "same seed, same views");
        assert_ne!(a[0], a[1], "two views of one image differ");
        assert_ne!(a[0], image, "a view is changed");
        // Most of the bright square survives the default crop and affine.
        let bright = a[0].iter().filter(|&&p| p > 50).count();
        assert!((40..=400).contains(&bright), "{bright} bright pixels");
    }

    #[test]
    fn to_byte_rounds_half_away_from_zero_and_clamps_like_round_then_clamp() {
        let values = [-3.7, -0.5, -0.0, 0.0, 0.49999999999999994, 0.5, 1.5, 2.5, 127.49, 254.5, 254.9, 255.0, 255.5, 1e300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        let steps = (0..=25_600).map(|i| i as f64 / 100.0 - 0.005);
        for value in values.into_iter().chain(steps) {
            assert_eq!(to_byte(value), value.round().clamp(0.0, 255.0) as u8, "{value}");
        }
    }

    #[test]
    fn settings_that_cannot_work_name_their_key() {
        let bad = AugmentConfig { crop_scale: [0.0, 1.0], ..AugmentConfig::default() };
        assert_eq!(bad.validate().unwrap_err(), Invalid::new("crop_scale", "must be two numbers 0 < low <= high <= 1, got 0,1"));
        let bad = AugmentConfig { blur_probability: 1.5, ..AugmentConfig::default() };
        assert_eq!(bad.validate().unwrap_err().key, "blur_probability");
        assert!(AugmentConfig::default().validate().is_ok());
    }
}
