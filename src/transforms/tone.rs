//! Tone operations of PIL's `ImageOps` and `ImageEnhance`, the pixel half of RandAugment:
//! auto-contrast, equalisation, posterisation, solarisation and sharpness. Each works plane by
//! plane, as PIL does per band; the strengths are drawn per image.

use rand::Rng;
use rand_chacha::ChaCha12Rng;

use super::{Transform, to_byte};

/// Stretches each plane's darkest..brightest grey levels to 0..255 (`ImageOps.autocontrast`).
#[derive(Debug, Clone)]
pub struct AutoContrast;

impl Transform for AutoContrast {
    fn apply(&self, image: &mut [u8], (height, width): (usize, usize), _rng: &mut ChaCha12Rng) {
        for plane in image.chunks_mut(height * width) {
            let (lo, hi) = plane.iter().fold((u8::MAX, u8::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
            if hi > lo {
                let scale = 255.0 / (hi - lo) as f64;
                plane.iter_mut().for_each(|p| *p = ((*p - lo) as f64 * scale).round() as u8);
            }
        }
    }
}

/// Flattens each plane's histogram (`ImageOps.equalize`): a grey level goes to 255 times the
/// share of pixels below it, leaving out the most common level as PIL does.
#[derive(Debug, Clone)]
pub struct Equalize;

impl Transform for Equalize {
    fn apply(&self, image: &mut [u8], (height, width): (usize, usize), _rng: &mut ChaCha12Rng) {
        for plane in image.chunks_mut(height * width) {
            let mut histogram = [0usize; 256];
            plane.iter().for_each(|&p| histogram[p as usize] += 1);
            let last = histogram.iter().rposition(|&n| n > 0).unwrap_or(0);
            let step = (plane.len() - histogram[last]) / 255;
            if step == 0 {
                continue;
            }
            let mut lut = [0u8; 256];
            let mut below = step / 2;
            for (level, &count) in histogram.iter().enumerate() {
                lut[level] = (below / step).min(255) as u8;
                below += count;
            }
            plane.iter_mut().for_each(|p| *p = lut[*p as usize]);
        }
    }
}

/// Keeps the top `bits` bits of every grey level, `bits` drawn from `min_bits..=8`
/// (`ImageOps.posterize`).
#[derive(Debug, Clone)]
pub struct Posterize {
    /// Fewest bits kept.
    pub min_bits: u32,
}

impl Transform for Posterize {
    fn apply(&self, image: &mut [u8], _dims: (usize, usize), rng: &mut ChaCha12Rng) {
        let bits = rng.random_range(self.min_bits..=8);
        let mask = !((1u16 << (8 - bits)) - 1) as u8;
        image.iter_mut().for_each(|p| *p &= mask);
    }
}

/// Inverts every grey level at or above a threshold drawn from `lowest..=256`
/// (`ImageOps.solarize`; 256 leaves the image as it is).
#[derive(Debug, Clone)]
pub struct Solarize {
    /// The lowest threshold drawn (0: any).
    pub lowest: u16,
}

impl Transform for Solarize {
    fn apply(&self, image: &mut [u8], _dims: (usize, usize), rng: &mut ChaCha12Rng) {
        let threshold = rng.random_range(self.lowest..=256u16);
        image.iter_mut().filter(|p| **p as u16 >= threshold).for_each(|p| *p = 255 - *p);
    }
}

/// Blends each plane with its smoothed copy by a factor drawn from `1 ± strength`: below 1
/// blurs, above 1 sharpens (`ImageEnhance.Sharpness`, whose smoothing kernel is
/// `[1 1 1; 1 5 1; 1 1 1] / 13` and which leaves the border pixels alone).
#[derive(Debug, Clone)]
pub struct Sharpness {
    /// Largest change of the factor either way.
    pub strength: f64,
}

impl Transform for Sharpness {
    fn apply(&self, image: &mut [u8], (height, width): (usize, usize), rng: &mut ChaCha12Rng) {
        let factor = rng.random_range(1.0 - self.strength..=1.0 + self.strength);
        for plane in image.chunks_mut(height * width) {
            let source = plane.to_vec();
            for y in 1..height.saturating_sub(1) {
                for x in 1..width.saturating_sub(1) {
                    let at = |dy: usize, dx: usize| source[(y + dy - 1) * width + x + dx - 1] as f64;
                    let neighbours: f64 = (0..3).flat_map(|dy| (0..3).map(move |dx| (dy, dx))).map(|(dy, dx)| at(dy, dx)).sum();
                    let smooth = (neighbours + 4.0 * at(1, 1)) / 13.0;
                    let value = smooth + factor * (at(1, 1) - smooth);
                    plane[y * width + x] = to_byte(value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> ChaCha12Rng {
        ChaCha12Rng::seed_from_u64(3)
    }

    #[test]
    fn autocontrast_stretches_each_plane_to_the_full_range() {
        // Two 1x2 planes: 50..150 and a constant 9 (left alone).
        let mut image = vec![50, 150, 9, 9];
        AutoContrast.apply(&mut image, (1, 2), &mut rng());
        assert_eq!(image, [0, 255, 9, 9]);
    }

    #[test]
    fn equalize_spreads_levels_by_their_share_of_pixels() {
        // 256 pixels, one of each level but for 0 (2 of them) and 255 (none):
        // PIL's step is (256 - 1) / 255 = 1, and each level goes to the count below it.
        let mut image: Vec<u8> = (0..=254u8).chain([0]).collect();
        Equalize.apply(&mut image, (16, 16), &mut rng());
        assert_eq!((image[0], image[1], image[2], image[254]), (0, 2, 3, 255));
    }

    #[test]
    fn posterize_solarize_and_sharpness_change_levels_as_defined() {
        let kept = |bits: u32, p: u8| p & !((1u16 << (8 - bits)) - 1) as u8;
        for seed in 0..10 {
            let mut image = vec![0b1011_0111, 0b0100_1001];
            Posterize { min_bits: 4 }.apply(&mut image, (1, 2), &mut ChaCha12Rng::seed_from_u64(seed));
            let bits = (4..=8).find(|&b| image == [kept(b, 0b1011_0111), kept(b, 0b0100_1001)]);
            assert!(bits.is_some(), "one number of top bits kept in every pixel: {image:?}");
        }

        let mut levels: Vec<u8> = (0..=255).collect();
        Solarize { lowest: 0 }.apply(&mut levels, (16, 16), &mut rng());
        let inverted = levels.iter().enumerate().filter(|&(i, &p)| p as usize != i).count();
        assert!(levels.iter().enumerate().all(|(i, &p)| p as usize == i || p as usize == 255 - i));
        assert!(levels.iter().enumerate().skip(256 - inverted).all(|(i, &p)| p as usize == 255 - i), "a suffix of levels is inverted");

        // A bright dot on grey: factor 1 keeps it; sharpening raises it, blurring lowers it.
        let dot = |strength: f64, seed: u64| {
            let mut image = vec![100u8; 9];
            image[4] = 139;
            Sharpness { strength }.apply(&mut image, (3, 3), &mut ChaCha12Rng::seed_from_u64(seed));
            image
        };
        assert_eq!(dot(0.0, 0)[4], 139);
        let draws: Vec<u8> = (0..20).map(|s| dot(0.9, s)[4]).collect();
        assert!(draws.iter().any(|&p| p > 139) && draws.iter().any(|&p| p < 139), "{draws:?}");
        assert!(dot(0.9, 0).iter().enumerate().all(|(i, &p)| i == 4 || p == 100), "borders untouched");
    }
}
