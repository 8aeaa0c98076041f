//! What pixels look like: brightness and contrast, blur, noise, erased patches.

use rand::Rng;
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, Normal};

use super::{Transform, to_byte};

/// With `probability`: brightness times `1 ± brightness`, then contrast `1 ± contrast` about
/// the image's mean (torchvision's `ColorJitter` for brightness and contrast).
#[derive(Debug, Clone)]
pub struct ColorJitter {
    /// Largest relative brightness change.
    pub brightness: f64,
    /// Largest relative contrast change.
    pub contrast: f64,
    /// Chance of jittering an image at all.
    pub probability: f64,
}

impl Transform for ColorJitter {
    fn apply(&self, image: &mut [u8], _dims: (usize, usize), rng: &mut ChaCha12Rng) {
        if !rng.random_bool(self.probability) {
            return;
        }
        let factor = |rng: &mut ChaCha12Rng, strength: f64| if strength > 0.0 { rng.random_range(1.0 - strength..=1.0 + strength) } else { 1.0 };
        let brightness = factor(rng, self.brightness);
        let contrast = factor(rng, self.contrast);
        let mean = image.iter().map(|&p| p as f64).sum::<f64>() / image.len().max(1) as f64 * brightness;
        for p in image.iter_mut() {
            let bright = *p as f64 * brightness;
            *p = to_byte((bright - mean) * contrast + mean);
        }
    }
}

/// With `probability`: a Gaussian blur whose standard deviation is drawn from `sigma`.
#[derive(Debug, Clone)]
pub struct GaussianBlur {
    /// Range of the standard deviation, pixels.
    pub sigma: [f64; 2],
    /// Chance of blurring an image.
    pub probability: f64,
}

/// Normalised Gaussian weights over `-radius..=radius`, radius `ceil(2 sigma)`.
fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (2.0 * sigma).ceil().max(1.0) as isize;
    let weights: Vec<f64> = (-radius..=radius).map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

/// One 1-D pass of `kernel` along rows or along columns, zero outside the image.
fn convolve(src: &[f64], (height, width): (usize, usize), kernel: &[f64], along_rows: bool) -> Vec<f64> {
    let radius = (kernel.len() / 2) as isize;
    let mut out = vec![0.0; src.len()];
    for y in 0..height as isize {
        for x in 0..width as isize {
            let mut sum = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                let d = k as isize - radius;
                let (sx, sy) = if along_rows { (x + d, y) } else { (x, y + d) };
                if (0..width as isize).contains(&sx) && (0..height as isize).contains(&sy) {
                    sum += w * src[(sy * width as isize + sx) as usize];
                }
            }
            out[(y * width as isize + x) as usize] = sum;
        }
    }
    out
}

impl Transform for GaussianBlur {
    fn apply(&self, image: &mut [u8], dims: (usize, usize), rng: &mut ChaCha12Rng) {
        if !rng.random_bool(self.probability) {
            return;
        }
        let kernel = gaussian_kernel(rng.random_range(self.sigma[0]..=self.sigma[1]));
        for plane in image.chunks_mut(dims.0 * dims.1) {
            let values: Vec<f64> = plane.iter().map(|&p| p as f64).collect();
            let blurred = convolve(&convolve(&values, dims, &kernel, true), dims, &kernel, false);
            for (p, v) in plane.iter_mut().zip(blurred) {
                *p = to_byte(v);
            }
        }
    }
}

/// Additive Gaussian noise of standard deviation `std` grey levels on every pixel.
#[derive(Debug, Clone)]
pub struct GaussianNoise {
    /// Standard deviation, grey levels.
    pub std: f64,
}

impl Transform for GaussianNoise {
    fn apply(&self, image: &mut [u8], _dims: (usize, usize), rng: &mut ChaCha12Rng) {
        let normal = Normal::new(0.0, self.std).expect("noise std checked finite and positive");
        for p in image.iter_mut() {
            *p = to_byte(*p as f64 + normal.sample(rng));
        }
    }
}

/// With `probability`: a rectangle of area fraction drawn from `scale` (aspect ratio
/// 0.3..3.3, log-uniform) set to 0 in every plane (torchvision's `RandomErasing`).
#[derive(Debug, Clone)]
pub struct RandomErasing {
    /// Range of the erased area as a fraction of the image.
    pub scale: [f64; 2],
    /// Chance of erasing.
    pub probability: f64,
}

impl Transform for RandomErasing {
    fn apply(&self, image: &mut [u8], (height, width): (usize, usize), rng: &mut ChaCha12Rng) {
        if !rng.random_bool(self.probability) {
            return;
        }
        let area = rng.random_range(self.scale[0]..=self.scale[1]) * (height * width) as f64;
        let ratio = rng.random_range(0.3f64.ln()..=(1.0f64 / 0.3).ln()).exp();
        let h = ((area / ratio).sqrt().round() as usize).clamp(1, height);
        let w = ((area * ratio).sqrt().round() as usize).clamp(1, width);
        let top = rng.random_range(0..=height - h);
        let left = rng.random_range(0..=width - w);
        for plane in image.chunks_mut(height * width) {
            for row in plane.chunks_mut(width).skip(top).take(h) {
                row[left..left + w].fill(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> ChaCha12Rng {
        ChaCha12Rng::seed_from_u64(5)
    }

    #[test]
    fn blur_spreads_an_impulse_symmetrically_and_keeps_its_mass() {
        let kernel = gaussian_kernel(1.0);
        assert_eq!(kernel.len(), 5);
        assert!((kernel.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((kernel[0] - kernel[4]).abs() < 1e-15 && kernel[2] > kernel[1] && kernel[1] > kernel[0]);
        let mut image = vec![0u8; 49];
        image[24] = 250;
        GaussianBlur { sigma: [1.0, 1.0], probability: 1.0 }.apply(&mut image, (7, 7), &mut rng());
        let at = |r: usize, c: usize| image[r * 7 + c];
        assert!(at(3, 3) < 250 && at(3, 3) > at(3, 4) && at(3, 4) > 0);
        assert_eq!((at(3, 2), at(2, 3), at(4, 3)), (at(3, 4), at(3, 4), at(3, 4)));
        let mass: u32 = image.iter().map(|&p| p as u32).sum();
        assert!((240..=260).contains(&mass), "{mass}");
    }

    #[test]
    fn jitter_scales_about_the_mean_and_clamps() {
        let mut image = vec![0, 100, 200, 255];
        ColorJitter { brightness: 0.0, contrast: 0.5, probability: 1.0 }.apply(&mut image, (2, 2), &mut rng());
        // Any contrast factor > 0 keeps the order of the grey levels.
        assert!(image[0] <= image[1] && image[1] <= image[2] && image[2] <= image[3], "{image:?}");
        let mut never = vec![7, 8, 9, 10];
        ColorJitter { brightness: 0.9, contrast: 0.9, probability: 0.0 }.apply(&mut never, (2, 2), &mut rng());
        assert_eq!(never, [7, 8, 9, 10]);
    }

    #[test]
    fn erasing_zeroes_one_rectangle_of_the_drawn_size() {
        let mut image = vec![9u8; 100];
        RandomErasing { scale: [0.16, 0.16], probability: 1.0 }.apply(&mut image, (10, 10), &mut rng());
        let erased: Vec<usize> = (0..100).filter(|&i| image[i] == 0).collect();
        let rows: Vec<usize> = erased.iter().map(|i| i / 10).collect();
        let cols: Vec<usize> = erased.iter().map(|i| i % 10).collect();
        let (h, w) = (rows.iter().max().unwrap() - rows.iter().min().unwrap() + 1, cols.iter().max().unwrap() - cols.iter().min().unwrap() + 1);
        assert_eq!(h * w, erased.len(), "one solid rectangle");
        assert!((8..=24).contains(&erased.len()), "about 16 pixels, got {}", erased.len());
    }

    #[test]
    fn noise_has_the_configured_spread() {
        let mut image = vec![128u8; 10_000];
        GaussianNoise { std: 10.0 }.apply(&mut image, (100, 100), &mut rng());
        let mean = image.iter().map(|&p| p as f64).sum::<f64>() / 1e4;
        let std = (image.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / 1e4).sqrt();
        assert!((mean - 128.0).abs() < 0.5 && (std - 10.0).abs() < 0.5, "mean {mean} std {std}");
    }
}
