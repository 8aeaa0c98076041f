//! Where pixels go: random resized crop, a small affine change and a mirror, composed into one
//! map from output to source coordinates and resampled once (bilinear), so the image is
//! blurred by one interpolation, not three.

use rand::Rng;
use rand_chacha::ChaCha12Rng;

use super::{Transform, to_byte};

/// Random resized crop, then rotation, shear and translation about the centre, then an
/// optional left-right mirror. Pixels mapped from outside the image become 0.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// Crop area as a fraction of the image ([1, 1] = no crop).
    pub crop_scale: [f64; 2],
    /// Largest rotation either way, degrees.
    pub rotation_degrees: f64,
    /// Largest horizontal shear either way, degrees.
    pub shear_degrees: f64,
    /// Largest translation either way, fraction of the side.
    pub translate: f64,
    /// Mirror with probability 0.5.
    pub horizontal_flip: bool,
}

/// An affine map `(x, y) -> (a x + b y + c, d x + e y + f)` in pixel-centre coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Affine([f64; 6]);

impl Affine {
    const IDENTITY: Affine = Affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);

    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + b * y + c, d * x + e * y + f)
    }

    /// `self` after `first`: `self(first(p))`.
    fn after(&self, first: &Affine) -> Affine {
        let [a, b, c, d, e, f] = self.0;
        let [p, q, r, s, t, u] = first.0;
        Affine([a * p + b * s, a * q + b * t, a * r + b * u + c, d * p + e * s, d * q + e * t, d * r + e * u + f])
    }
}

/// Uniform in `-limit..=limit` (0 without a draw when the limit is 0, so turned-off steps
/// leave the generator's sequence unchanged).
fn symmetric(rng: &mut ChaCha12Rng, limit: f64) -> f64 {
    if limit > 0.0 { rng.random_range(-limit..=limit) } else { 0.0 }
}

/// Output point -> source point for a rotation by `angle` and a horizontal shear by `shear`
/// (degrees) about the centre, a shift by `(tx, ty)` pixels and an optional mirror: the
/// forward change reversed, step by step.
fn inverse_affine((height, width): (usize, usize), angle: f64, shear: f64, (tx, ty): (f64, f64), flip: bool) -> Affine {
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    let (cos, sin) = (angle.to_radians().cos(), angle.to_radians().sin());
    let unrotate = Affine([cos, sin, 0.0, -sin, cos, 0.0]);
    let unshear = Affine([1.0, -shear.to_radians().tan(), 0.0, 0.0, 1.0, 0.0]);
    let to_centre = Affine([1.0, 0.0, -cx - tx, 0.0, 1.0, -cy - ty]);
    let from_centre = Affine([1.0, 0.0, cx, 0.0, 1.0, cy]);
    let mirror = if flip { Affine([-1.0, 0.0, width as f64 - 1.0, 0.0, 1.0, 0.0]) } else { Affine::IDENTITY };
    from_centre.after(&unshear.after(&unrotate.after(&to_centre.after(&mirror))))
}

impl Geometry {
    /// The map from output pixel to source pixel for one draw.
    fn draw(&self, (height, width): (usize, usize), rng: &mut ChaCha12Rng) -> Affine {
        let (h, w) = (height as f64, width as f64);
        let crop = self.crop(h, w, rng);
        let angle = symmetric(rng, self.rotation_degrees);
        let shear = symmetric(rng, self.shear_degrees);
        let shift = (symmetric(rng, self.translate) * w, symmetric(rng, self.translate) * h);
        let flip = self.horizontal_flip && rng.random_bool(0.5);
        crop.after(&inverse_affine((height, width), angle, shear, shift, flip))
    }

    /// The crop as a map from output pixels to source pixels.
    fn crop(&self, h: f64, w: f64, rng: &mut ChaCha12Rng) -> Affine {
        let [lo, hi] = self.crop_scale;
        if lo >= 1.0 {
            return Affine::IDENTITY;
        }
        let area = rng.random_range(lo..=hi);
        let log_ratio = rng.random_range((3f64 / 4.0).ln()..=(4f64 / 3.0).ln());
        let ratio = log_ratio.exp();
        let crop_w = (area * ratio).sqrt().min(1.0) * w;
        let crop_h = (area / ratio).sqrt().min(1.0) * h;
        let x0 = rng.random_range(0.0..=(w - crop_w));
        let y0 = rng.random_range(0.0..=(h - crop_h));
        let (sx, sy) = (crop_w / w, crop_h / h);
        // Pixel centres: output x + 0.5 scaled into the crop, minus 0.5.
        Affine([sx, 0.0, x0 + 0.5 * sx - 0.5, 0.0, sy, y0 + 0.5 * sy - 0.5])
    }
}

impl Transform for Geometry {
    fn apply(&self, image: &mut [u8], dims: (usize, usize), rng: &mut ChaCha12Rng) {
        let map = self.draw(dims, rng);
        let (height, width) = dims;
        let plane = height * width;
        let mut out = vec![0u8; image.len()];
        for (src, dst) in image.chunks(plane).zip(out.chunks_mut(plane)) {
            resample(src, dims, &map, dst);
        }
        image.copy_from_slice(&out);
    }
}

/// `dst[y][x] = src at map(x, y)`, bilinear, 0 outside.
fn resample(src: &[u8], (height, width): (usize, usize), map: &Affine, dst: &mut [u8]) {
    let pixel = |x: isize, y: isize| -> f64 {
        if (0..width as isize).contains(&x) && (0..height as isize).contains(&y) { src[y as usize * width + x as usize] as f64 } else { 0.0 }
    };
    for y in 0..height {
        for x in 0..width {
            let (sx, sy) = map.apply(x as f64, y as f64);
            let (x0, y0) = (floor(sx), floor(sy));
            let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
            let top = pixel(x0, y0) * (1.0 - fx) + pixel(x0 + 1, y0) * fx;
            let bottom = pixel(x0, y0 + 1) * (1.0 - fx) + pixel(x0 + 1, y0 + 1) * fx;
            dst[y * width + x] = to_byte(top * (1.0 - fy) + bottom * fy);
        }
    }
}

/// `value.floor()` for a coordinate, without the libm call `floor` is on a CPU baseline
/// without SSE4.1 (truncation toward zero, one down for negatives with a fraction).
#[inline]
fn floor(value: f64) -> isize {
    let whole = value as isize;
    whole - isize::from((whole as f64) > value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const IDENTITY: Geometry = Geometry { crop_scale: [1.0, 1.0], rotation_degrees: 0.0, shear_degrees: 0.0, translate: 0.0, horizontal_flip: false };

    fn ramp() -> Vec<u8> {
        (0..16).map(|i| i as u8 * 10).collect()
    }

    #[test]
    fn floor_matches_f64_floor_on_coordinates() {
        for value in [-2.5, -1.0, -0.75, -0.0, 0.0, 0.25, 1.0, 27.999, 28.0, -1e-12] {
            assert_eq!(floor(value), value.floor() as isize, "{value}");
        }
    }

    #[test]
    fn all_steps_off_is_the_identity() {
        let mut image = ramp();
        IDENTITY.apply(&mut image, (4, 4), &mut ChaCha12Rng::seed_from_u64(0));
        assert_eq!(image, ramp());
    }

    #[test]
    fn a_full_mirror_reverses_each_row() {
        let flip = Geometry { horizontal_flip: true, ..IDENTITY };
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mirrored: Vec<u8> = ramp().chunks(4).flat_map(|row| row.iter().rev().copied().collect::<Vec<_>>()).collect();
        let mut seen = [false, false];
        for _ in 0..20 {
            let mut image = ramp();
            flip.apply(&mut image, (4, 4), &mut rng);
            assert!(image == ramp() || image == mirrored, "{image:?}");
            seen[(image == mirrored) as usize] = true;
        }
        assert_eq!(seen, [true, true], "both outcomes occur");
    }

    #[test]
    fn a_quarter_turn_about_the_centre_moves_columns_to_rows() {
        let mut out = vec![0; 16];
        resample(&ramp(), (4, 4), &inverse_affine((4, 4), 90.0, 0.0, (0.0, 0.0), false), &mut out);
        // Output (x, y) reads source row 3 - x, column y: with y pointing down, a clockwise turn.
        let expected: Vec<u8> = (0..4).flat_map(|y| (0..4).map(move |x| ((3 - x) * 4 + y) as u8 * 10)).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_shift_moves_pixels_and_fills_with_zero() {
        let mut out = vec![0; 16];
        resample(&ramp(), (4, 4), &inverse_affine((4, 4), 0.0, 0.0, (1.0, 0.0), false), &mut out);
        let expected: Vec<u8> = (0..16).map(|i| if i % 4 == 0 { 0 } else { (i - 1) as u8 * 10 }).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_crop_magnifies_and_stays_inside_the_image() {
        let crop = Geometry { crop_scale: [0.25, 0.25], ..IDENTITY };
        let map = crop.crop(28.0, 28.0, &mut ChaCha12Rng::seed_from_u64(1));
        let (x0, y0) = map.apply(-0.5, -0.5);
        let (x1, y1) = map.apply(27.5, 27.5);
        assert!(x0 >= -0.5 - 1e-9 && y0 >= -0.5 - 1e-9 && x1 <= 27.5 + 1e-9 && y1 <= 27.5 + 1e-9, "{x0},{y0} {x1},{y1}");
        let area = (x1 - x0) * (y1 - y0) / (28.0 * 28.0);
        assert!((area - 0.25).abs() < 1e-9, "{area}");
    }
}
