//! The weight and bias gradients of `max_pool2x2(relu(conv(x)))` for a convolution with a short
//! patch: a first layer on grey or RGB images, whose `in_channels * kernel²` is 9 or 27.
//!
//! Through im2col and a GEMM ([`super::conv::backward_pooled`]), such a layer's backward pass
//! builds the dense gradient of every convolution output (the notebook's first layer: 64
//! channels at 196 positions per image), three in four of them zeros, and sums its rows for the
//! bias; the GEMM then has only 9 (or 27) columns. Here each pooled value's gradient is
//! multiplied into the patch of its window's winner alone, channels across SIMD lanes, the sums
//! kept in registers. Its input takes no gradient: a first layer's input is the data.
//!
//! The sums run in another order than the GEMM's, so their last bits differ from it; the work
//! items depend only on the shapes, so the bits are the same at any thread count.

use rayon::prelude::*;

use super::conv::{ConvGeometry, ConvGradients, NO_GRADIENT, sum_shares};

/// Output channels summed side by side: one 512-bit vector, two 256-bit ones.
const LANES: usize = 16;

/// Patch values whose sums stay in registers at a time: 9 sums of [`LANES`] channels take 9 of
/// AVX-512's 32 registers, or 18 AVX2 ones, of its 16, so that a few spill there.
const TILE: usize = 9;

/// The longest patch [`suits`] takes: a 3x3 kernel on RGB images (only grey images' 9 was
/// timed).
const MAX_PATCH: usize = 27;

/// Whether [`backward_pooled`] computes `g`'s gradients: a patch of at most [`MAX_PATCH`] values.
pub fn suits(g: &ConvGeometry) -> bool {
    g.patch() <= MAX_PATCH
}

/// Each output position's patch of one image, `[position, stride]`: `stride >= patch` values
/// per position, 0 where a tap reads padding and past the patch.
#[inline(always)]
fn patches(image: &[f32], g: &ConvGeometry, offsets: &[u32], stride: usize) -> Vec<f32> {
    let (taps, positions, plane) = (g.kernel * g.kernel, g.positions(), g.height * g.width);
    let mut patches = vec![0.0; positions * stride];
    for (p, patch) in patches.chunks_mut(stride).enumerate() {
        for (channel, patch) in image.chunks(plane).zip(patch.chunks_mut(taps)) {
            for (tap, value) in patch.iter_mut().enumerate() {
                *value = channel.get(offsets[tap * positions + p] as usize).copied().unwrap_or(0.0);
            }
        }
    }
    patches
}

/// The convolution output positions (row-major) of pooled position `q`'s window, upper left,
/// upper right, lower left, lower right: the order [`Winners`] counts in.
#[inline(always)]
fn window(q: usize, g: &ConvGeometry) -> [usize; 4] {
    let pooled_width = g.out_width / 2;
    let top_left = 2 * (q / pooled_width) * g.out_width + 2 * (q % pooled_width);
    [top_left, top_left + 1, top_left + g.out_width, top_left + g.out_width + 1]
}

/// The weight and bias gradients of [`super::conv::forward_pooled`] for a geometry that
/// [`suits`], from its input `x`, `dpooled`, the loss gradient for its output, and the `winners`
/// it returned; the input's gradient is not computed.
pub fn backward_pooled(x: &[f32], winners: &[u8], dpooled: &[f32], g: &ConvGeometry) -> ConvGradients {
    let offsets = g.tap_offsets();
    let per_item = g.images_per_chunk();
    let pooled_len = g.out_channels * g.pooled_positions();
    let items = x.par_chunks(per_item * g.image_len()).zip(winners.par_chunks(per_item * pooled_len)).zip(dpooled.par_chunks(per_item * pooled_len));
    let shares: Vec<(Vec<f32>, Vec<f32>)> = items.map(|((x, winners), dpooled)| g.simd.run(#[inline(always)] || item_gradients(x, winners, dpooled, g, &offsets))).collect();
    let (weight, bias) = sum_shares(shares, g.out_channels * g.patch(), g.out_channels);
    ConvGradients { x: None, weight, bias }
}

/// One work item's shares of the weight (in its `[out_channels, patch]` layout) and bias
/// gradients: each pooled value's gradient times the patch of its window's winner, summed
/// image by image and window by window.
#[inline(always)]
fn item_gradients(x: &[f32], winners: &[u8], dpooled: &[f32], g: &ConvGeometry, offsets: &[u32]) -> (Vec<f32>, Vec<f32>) {
    let (pooled_len, pooled_positions) = (g.out_channels * g.pooled_positions(), g.pooled_positions());
    let (blocks, tiles) = (g.out_channels.div_ceil(LANES), g.patch().div_ceil(TILE));
    // Sums per block of LANES channels: for each tile of TILE patch values a vector each, and
    // one for the bias.
    let mut weight_sums = vec![[[0.0f32; LANES]; TILE]; blocks * tiles];
    let mut bias_sums = vec![[0.0f32; LANES]; blocks];
    for ((image, winners), dpooled) in x.chunks(g.image_len()).zip(winners.chunks(pooled_len)).zip(dpooled.chunks(pooled_len)) {
        let patches = patches(image, g, offsets, tiles * TILE);
        for (block, bias_sums) in bias_sums.iter_mut().enumerate() {
            let first = block * LANES;
            // Each window's gradients and winners for the block's channels.
            let windows: Vec<([f32; LANES], [u8; LANES])> = (0..pooled_positions)
                .map(|q| {
                    let (mut grad, mut winner) = ([0.0f32; LANES], [NO_GRADIENT; LANES]);
                    for lane in 0..LANES.min(g.out_channels - first) {
                        let i = (first + lane) * pooled_positions + q;
                        (grad[lane], winner[lane]) = (dpooled[i], winners[i]);
                    }
                    (grad, winner)
                })
                .collect();
            for (grad, winner) in &windows {
                for ((sum, &grad), &winner) in bias_sums.iter_mut().zip(grad).zip(winner) {
                    *sum += only_if(winner != NO_GRADIENT, grad);
                }
            }
            for (tile, sums) in weight_sums[block * tiles..][..tiles].iter_mut().enumerate() {
                *sums = tile_sums(*sums, &windows, &patches, tile, g);
            }
        }
    }
    // Padding channels only ever end the last block, and padding patch values the last tile.
    let sum_of = |k: usize, o: usize| weight_sums[o / LANES * tiles + k / TILE][k % TILE][o % LANES];
    let weight = (0..g.out_channels).flat_map(|o| (0..g.patch()).map(move |k| sum_of(k, o))).collect();
    (weight, bias_sums.into_iter().flatten().take(g.out_channels).collect())
}

/// `sums` plus, for patch values `tile * TILE..` and a block of channels, each window's
/// gradient times its winner's patch values; the sums stay in registers.
#[inline(always)]
fn tile_sums(mut sums: [[f32; LANES]; TILE], windows: &[([f32; LANES], [u8; LANES])], patches: &[f32], tile: usize, g: &ConvGeometry) -> [[f32; LANES]; TILE] {
    let stride = patches.len() / g.positions();
    for (q, (grad, winner)) in windows.iter().enumerate() {
        for (slot, p) in window(q, g).into_iter().enumerate() {
            let won: [f32; LANES] = std::array::from_fn(|lane| only_if(usize::from(winner[lane]) == slot, grad[lane]));
            let values: &[f32; TILE] = patches[p * stride + tile * TILE..][..TILE].try_into().expect("patches padded to whole tiles");
            for (sums, &value) in sums.iter_mut().zip(values) {
                for (sum, &won) in sums.iter_mut().zip(&won) {
                    *sum = value.mul_add(won, *sum);
                }
            }
        }
    }
    sums
}

/// `value` where `condition` holds, else 0, by masking its bits: a branch on which window
/// position won, which is random, would be mispredicted about every other time.
#[inline(always)]
fn only_if(condition: bool, value: f32) -> f32 {
    f32::from_bits(value.to_bits() & 0u32.wrapping_sub(u32::from(condition)))
}

#[cfg(test)]
mod tests {
    use super::super::conv::{self, Im2col};
    use super::super::simd::Level;
    use super::*;

    type Case = (ConvGeometry, Vec<f32>, Vec<f32>, Vec<f32>);

    /// Grey images at stride 2 (the notebook's first layer, 64 channels) and RGB ones at stride
    /// 1 with a channel count that leaves a part block and a patch of three tiles; inputs on a
    /// coarse grid, so that windows hold ties and all-zero ReLU outputs. Each case: geometry,
    /// input, weight, and the loss gradient for the pooled output.
    fn cases() -> Vec<Case> {
        let grid = |i: usize, modulus: usize| (i * 7919 % modulus) as f32 * 0.5 - 1.0;
        [([3, 1, 12, 12], [64, 1, 3, 3], 2), ([2, 3, 9, 8], [20, 3, 3, 3], 1)]
            .into_iter()
            .map(|(input, weight, stride)| {
                let g = ConvGeometry::same(input, weight, stride).cropped_for_pool();
                let x = (0..g.batch * g.image_len()).map(|i| grid(i, 5)).collect();
                let w = (0..g.out_channels * g.patch()).map(|i| grid(i, 3) + 0.75).collect();
                let dpooled = (0..g.batch * g.out_channels * g.pooled_positions()).map(|i| grid(i, 11) * 0.6).collect();
                (g, x, w, dpooled)
            })
            .collect()
    }

    fn winners(g: &ConvGeometry, x: &[f32], w: &[f32]) -> Vec<u8> {
        let bias: Vec<f32> = (0..g.out_channels).map(|o| (o % 4) as f32 * 0.25 - 0.5).collect();
        conv::forward_pooled(x, w, &bias, g, false).1
    }

    #[test]
    fn weight_and_bias_gradients_equal_the_im2col_paths() {
        for (g, x, w, dpooled) in cases() {
            assert!(suits(&g));
            let winners = winners(&g, &x, &w);
            assert!(winners.contains(&NO_GRADIENT) && winners.iter().any(|&w| w != NO_GRADIENT), "{g:?}: the case has both kinds of window");
            let ours = backward_pooled(&x, &winners, &dpooled, &g);
            let bias = vec![0.0; g.out_channels];
            let columns = conv::forward_pooled(&x, &w, &bias, &g, true).2.unwrap();
            let theirs = conv::backward_pooled(Im2col::Kept(&columns), &w, &winners, &dpooled, &g, false);
            assert!(ours.x.is_none());
            for (what, ours, theirs) in [("weight", ours.weight, theirs.weight), ("bias", ours.bias, theirs.bias)] {
                assert_eq!(ours.len(), theirs.len(), "{g:?} {what}");
                let close = ours.iter().zip(&theirs).all(|(a, e)| (a - e).abs() <= 1e-4 * (1.0 + e.abs()));
                assert!(close && theirs.iter().any(|&v| v != 0.0), "{g:?} {what}: {ours:?} vs {theirs:?}");
            }
        }
    }

    #[test]
    fn every_simd_level_gives_the_same_bits() {
        let run = |simd: Level| {
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            let runs = cases().into_iter().map(|(g, x, w, dpooled)| {
                let grads = backward_pooled(&x, &winners(&g, &x, &w), &dpooled, &ConvGeometry { simd, ..g });
                (bits(grads.weight), bits(grads.bias))
            });
            runs.collect::<Vec<_>>()
        };
        let baseline = run(Level::Baseline);
        for level in Level::available() {
            assert!(run(level) == baseline, "{level:?} differs from the baseline");
        }
    }
}
