//! Random translations: the cheap augmentation that makes small-data digit models robust to
//! where the strokes sit. Applied to training batches only.

use rand::Rng;
use rand_chacha::ChaCha12Rng;

/// Shifts `src` (planes of `height`x`width`) by one random offset in `-max_shift..=max_shift` on each
/// axis into `dst`, filling uncovered pixels with 0 (MNIST's background).
pub fn random_shift(src: &[u8], dims: (usize, usize), max_shift: usize, rng: &mut ChaCha12Rng, dst: &mut [u8]) {
    let s = max_shift as i64;
    let (dy, dx) = (rng.random_range(-s..=s), rng.random_range(-s..=s));
    shift(src, dims, (dy as isize, dx as isize), dst);
}

/// Translates every plane of `src` by `(dy, dx)` pixels (down, right) into `dst`.
pub fn shift(src: &[u8], (height, width): (usize, usize), (dy, dx): (isize, isize), dst: &mut [u8]) {
    dst.fill(0);
    for (src, dst) in src.chunks(height * width).zip(dst.chunks_mut(height * width)) {
        shift_plane(src, (height, width), (dy, dx), dst);
    }
}

fn shift_plane(src: &[u8], (height, width): (usize, usize), (dy, dx): (isize, isize), dst: &mut [u8]) {
    for r in 0..height as isize {
        let sr = r - dy;
        if !(0..height as isize).contains(&sr) {
            continue;
        }
        for c in 0..width as isize {
            let sc = c - dx;
            if (0..width as isize).contains(&sc) {
                dst[(r * width as isize + c) as usize] = src[(sr * width as isize + sc) as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shift_moves_pixels_and_fills_with_background() {
        let src = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let mut dst = [0; 9];
        shift(&src, (3, 3), (1, -1), &mut dst);
        assert_eq!(dst, [0, 0, 0, 2, 3, 0, 5, 6, 0]);
        shift(&src, (3, 3), (0, 0), &mut dst);
        assert_eq!(dst, src);
        // Two planes (channels) move together.
        let src: Vec<u8> = (1..=8).collect();
        let mut dst = [0; 8];
        shift(&src, (2, 2), (0, 1), &mut dst);
        assert_eq!(dst, [0, 1, 0, 3, 0, 5, 0, 7]);
    }

    #[test]
    fn random_shift_stays_within_bounds() {
        let mut src = [0u8; 25];
        src[12] = 255; // centre of 5x5
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        for _ in 0..50 {
            let mut dst = [0u8; 25];
            random_shift(&src, (5, 5), 1, &mut rng, &mut dst);
            let at = dst.iter().position(|&v| v == 255).expect("a 1-pixel shift keeps the centre in view");
            let (r, c) = (at / 5, at % 5);
            assert!((1..=3).contains(&r) && (1..=3).contains(&c), "moved to ({r}, {c})");
        }
    }
}
