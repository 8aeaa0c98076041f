//! Stride-1 convolution as a sum of shifted GEMMs over a zero-padded copy of the input, with
//! no im2col matrix.
//!
//! Each work item's images are copied into a zero-padded buffer laid out `[channel][image][row]
//! [column]`. In that layout the input values a kernel tap `(ky, kx)` reads for consecutive
//! output positions are consecutive too, at a fixed offset `ky * padded_width + kx`: so the
//! convolution is one GEMM per tap, `W_tap [out, in] x padded[in, positions + offset]`, each
//! reading the padded buffer in place and adding into the same product. Neighbouring rows and
//! images share their zeros: a tap that reads past a row's right end lands in the next row's
//! left padding, and past an image's last row in the next image's top padding, so a 'same' 3x3
//! convolution needs one zero column per row and one zero row per image, not two. The product
//! has those extra columns and rows too, which the epilogue drops. im2col wrote `kernel²`
//! copies of the input and col2im read them back; here the input is copied once (and the
//! output gradient once, backward).
//!
//! It pays where those extra columns and rows are a small share of the work: big planes, like
//! the ResNet's on 28x28 and 32x32 images ([`suits`]). Work items depend only on the shapes,
//! so results are bit-for-bit repeatable.

use std::mem::MaybeUninit;

use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use super::conv::{ConvGeometry, ConvGradients, row_sums, sum_shares, transpose};

/// Whether [`forward`] and [`backward`] compute `g`: stride 1, an output computed on the
/// padded grid at most 1.5 times its size, and at least 8 input channels (with fewer, each
/// tap's GEMM is a few multiply-adds per product value it reads and writes back: a stem
/// on grey or RGB images is faster through its short im2col columns).
pub fn suits(g: &ConvGeometry) -> bool {
    let grid = Grid::of(g);
    g.stride == 1 && 2 * grid.plane <= 3 * g.out_height * g.out_width && g.in_channels >= 8
}

/// `f32` values per 64-byte cache line.
const LINE: usize = 16;

/// Where values sit in a work item's padded buffers.
#[derive(Debug, Clone, Copy)]
struct Grid {
    /// Columns of a padded row: the input row's (or the part outputs read) and the zeros after
    /// it, which also serve as the next row's left padding.
    width: usize,
    /// Values of a padded image plane, whose zero rows after the image also serve as the next
    /// image's top padding; rounded up to whole 64-byte cache lines, so that every image and
    /// channel starts on one (a ResNet epoch took 7% longer on unrounded 29x29 planes).
    plane: usize,
    /// The largest tap offset, `(kernel - 1) * (width + 1)`: zeros past the last plane.
    reach: usize,
    /// Input pixels per row that some output reads, copied to each padded row.
    row_len: usize,
    /// Input rows that some output reads.
    rows: usize,
}

impl Grid {
    fn of(g: &ConvGeometry) -> Self {
        // Along an axis, taps read positions up to `out + kernel - 2` of the padded grid; reads
        // past its end must land on the next row's (image's) leading zeros, and the input
        // values that outputs read must fit after those zeros.
        let axis = |size: usize, out: usize, pad_before: usize| {
            let read = out + g.kernel - 1 - pad_before;
            let used = size.min(read);
            (used, read.max(pad_before + used))
        };
        let (row_len, width) = axis(g.width, g.out_width, g.pad_left);
        let (rows, height) = axis(g.height, g.out_height, g.pad_top);
        Self { width, plane: (width * height).next_multiple_of(LINE), reach: (g.kernel - 1) * (width + 1), row_len, rows }
    }

    /// Offset of kernel tap `tap` (row-major over the kernel) from the output position it serves.
    fn tap_offset(&self, g: &ConvGeometry, tap: usize) -> usize {
        tap / g.kernel * self.width + tap % g.kernel
    }

    /// Where in a padded plane input row `iy` starts (its first [`Grid::row_len`] pixels), or
    /// `None` for a row no output reads (below a cropped output).
    fn row_start(&self, g: &ConvGeometry, iy: usize) -> Option<usize> {
        (iy < self.rows).then(|| (iy + g.pad_top) * self.width + g.pad_left)
    }

    /// Images per work item: the item's padded input and product (~256 KiB together) stay in
    /// L2. It depends only on the shapes, never on the thread count.
    fn images_per_item(&self, g: &ConvGeometry) -> usize {
        (65_536 / ((g.in_channels + g.out_channels) * self.plane)).clamp(1, g.batch.max(1))
    }
}

/// `images` NCHW images of `x` copied into a zero-padded `[channel][image][plane]` buffer, with
/// `grid.reach` zeros after it for the last taps' reads.
#[inline(always)]
fn pad_input(x: &[f32], g: &ConvGeometry, grid: &Grid, images: usize) -> Vec<f32> {
    let span = images * grid.plane;
    let mut padded = vec![0.0; g.in_channels * span + grid.reach];
    let (plane, row_len) = (g.height * g.width, grid.row_len);
    for (n, image) in x.chunks(g.in_channels * plane).enumerate() {
        for (c, channel) in image.chunks(plane).enumerate() {
            for (iy, row) in channel.chunks(g.width).enumerate() {
                if let Some(start) = grid.row_start(g, iy) {
                    padded[c * span + n * grid.plane + start..][..row_len].copy_from_slice(&row[..row_len]);
                }
            }
        }
    }
    padded
}

/// `dst [m, n] (+)= lhs [m, k] * rhs [k, n]`, each matrix given as a slice and its row and
/// column strides, on the calling thread; `accumulate` adds to what `dst` holds.
#[inline(always)]
fn gemm_strided(dst: (&mut [f32], [usize; 2]), lhs: (&[f32], [usize; 2]), rhs: (&[f32], [usize; 2]), [m, k, n]: [usize; 3], accumulate: bool) {
    let reach = |[rs, cs]: [usize; 2], rows: usize, cols: usize| (rows - 1) * rs + (cols - 1) * cs + 1;
    assert!(
        dst.0.len() >= reach(dst.1, m, n) && lhs.0.len() >= reach(lhs.1, m, k) && rhs.0.len() >= reach(rhs.1, k, n),
        "a GEMM operand runs past its slice"
    );
    let stride = |s: usize| s as isize;
    // SAFETY: every element each view addresses lies inside its slice (checked above); `dst`
    // does not alias the operands (a `&mut` borrow).
    unsafe {
        gemm(
            m, n, k,
            dst.0.as_mut_ptr(), stride(dst.1[1]), stride(dst.1[0]), accumulate,
            lhs.0.as_ptr(), stride(lhs.1[1]), stride(lhs.1[0]),
            rhs.0.as_ptr(), stride(rhs.1[1]), stride(rhs.1[0]),
            1.0, 1.0, false, false, false,
            Parallelism::None,
        );
    }
}

/// `conv(x, weight) + bias` as an NCHW batch, for a geometry that [`suits`].
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let grid = Grid::of(g);
    let per_item = grid.images_per_item(g);
    let (taps, output_len) = (g.kernel * g.kernel, g.out_channels * g.out_height * g.out_width);
    let len = g.batch * output_len;
    let mut y = Vec::with_capacity(len);
    let items = y.spare_capacity_mut()[..len].par_chunks_mut(per_item * output_len).zip(x.par_chunks(per_item * g.in_channels * g.height * g.width));
    items.for_each(|(y, x)| {
        g.simd.run(#[inline(always)] || {
            let images = y.len() / output_len;
            let span = images * grid.plane;
            let padded = pad_input(x, g, &grid, images);
            let mut product = vec![0.0; g.out_channels * span];
            for tap in 0..taps {
                let shifted = &padded[grid.tap_offset(g, tap)..];
                let weight = (&weight[tap..], [g.in_channels * taps, taps]);
                gemm_strided((&mut product, [span, 1]), weight, (shifted, [span, 1]), [g.out_channels, g.in_channels, span], tap > 0);
            }
            write_output(&product, bias, g, &grid, images, y);
        })
    });
    // SAFETY: the items tile the output, and `write_output` writes every value of each.
    unsafe { y.set_len(len) };
    y
}

/// The valid outputs of a `[out_channels][image][plane]` product, plus the bias, as NCHW.
#[inline(always)]
fn write_output(product: &[f32], bias: &[f32], g: &ConvGeometry, grid: &Grid, images: usize, y: &mut [MaybeUninit<f32>]) {
    let span = images * grid.plane;
    let planes = y.chunks_mut(g.out_height * g.out_width).enumerate();
    for (plane_index, out) in planes {
        let (n, o) = (plane_index / g.out_channels, plane_index % g.out_channels);
        let product = &product[o * span + n * grid.plane..];
        for (oy, out) in out.chunks_mut(g.out_width).enumerate() {
            for (out, &value) in out.iter_mut().zip(&product[oy * grid.width..]) {
                out.write(value + bias[o]);
            }
        }
    }
}

/// Gradients of [`forward`] with respect to its input (when asked for), weight and bias, given
/// its input `x` and `dy`, the loss gradient for its output.
pub fn backward(x: &[f32], weight: &[f32], dy: &[f32], g: &ConvGeometry, input_grad: bool) -> ConvGradients {
    let grid = Grid::of(g);
    let per_item = grid.images_per_item(g);
    let (image_len, output_len) = (g.in_channels * g.height * g.width, g.out_channels * g.out_height * g.out_width);
    let mut dx = input_grad.then(|| Vec::with_capacity(g.batch * image_len));
    let dx_items: Vec<Option<&mut [MaybeUninit<f32>]>> = match dx.as_mut() {
        Some(dx) => dx.spare_capacity_mut()[..g.batch * image_len].chunks_mut(per_item * image_len).map(Some).collect(),
        None => (0..g.batch.div_ceil(per_item)).map(|_| None).collect(),
    };
    let items = x.par_chunks(per_item * image_len).zip(dy.par_chunks(per_item * output_len)).zip(dx_items);
    let shares: Vec<(Vec<f32>, Vec<f32>)> = items.map(|((x, dy), dx)| g.simd.run(#[inline(always)] || backward_item(x, weight, dy, g, &grid, dx))).collect();
    let taps = g.kernel * g.kernel;
    let (by_tap, bias_grad) = sum_shares(shares, weight.len(), g.out_channels);
    // The shares come as `[tap, in_channels, out_channels]` (see `backward_item`); the weight
    // is `[out_channels, in_channels, tap]`.
    let (ins, outs) = (g.in_channels, g.out_channels);
    let weight_grad = (0..outs).flat_map(|o| (0..ins).flat_map(move |c| (0..taps).map(move |t| (t * ins + c) * outs + o))).map(|i| by_tap[i]).collect();
    // SAFETY: when asked for, every item wrote each value of its share of `dx`.
    if let Some(dx) = dx.as_mut() {
        unsafe { dx.set_len(g.batch * image_len) };
    }
    ConvGradients { x: dx, weight: weight_grad, bias: bias_grad }
}

/// One work item's shares of the weight (`[tap, in_channels, out_channels]`) and bias gradients,
/// with its input gradient written into `dx` when asked for.
#[inline(always)]
fn backward_item(x: &[f32], weight: &[f32], dy: &[f32], g: &ConvGeometry, grid: &Grid, dx: Option<&mut [MaybeUninit<f32>]>) -> (Vec<f32>, Vec<f32>) {
    let (taps, positions) = (g.kernel * g.kernel, g.out_height * g.out_width);
    let images = dy.len() / (g.out_channels * positions);
    let span = images * grid.plane;
    // dy on the padded grid, `[out_channels][reach zeros, image, plane]`, zero off the outputs.
    let row = grid.reach + span;
    let mut dz = vec![0.0; g.out_channels * row];
    for (plane_index, dy) in dy.chunks(positions).enumerate() {
        let (n, o) = (plane_index / g.out_channels, plane_index % g.out_channels);
        for (oy, dy) in dy.chunks(g.out_width).enumerate() {
            dz[o * row + grid.reach + n * grid.plane + oy * grid.width..][..g.out_width].copy_from_slice(dy);
        }
    }
    let bias = row_sums(&dz, row);
    let padded = pad_input(x, g, grid, images);
    // dW_tap [out, in] = dz [out, positions] * shifted^T [positions, in]; with dz transposed once
    // (positions-major), both operands are read in place for every tap.
    let dz_t = transpose(&dz, g.out_channels, row);
    let mut weight_grad = vec![0.0; taps * g.in_channels * g.out_channels];
    for (tap, share) in weight_grad.chunks_mut(g.in_channels * g.out_channels).enumerate() {
        let shifted = &padded[grid.tap_offset(g, tap)..];
        let dz_t = (&dz_t[grid.reach * g.out_channels..], [1, g.out_channels]);
        gemm_strided((share, [1, g.out_channels]), dz_t, (shifted, [1, span]), [g.out_channels, span, g.in_channels], false);
    }
    if let Some(dx) = dx {
        // dx_padded [in, positions] = sum over taps of W_tap^T [in, out] * dz [out, positions - offset].
        let mut dx_padded = vec![0.0; g.in_channels * span];
        for tap in 0..taps {
            let shifted = &dz[grid.reach - grid.tap_offset(g, tap)..];
            let weight = (&weight[tap..], [taps, g.in_channels * taps]);
            gemm_strided((&mut dx_padded, [span, 1]), weight, (shifted, [row, 1]), [g.in_channels, g.out_channels, span], tap > 0);
        }
        write_input_grad(&dx_padded, g, grid, images, dx);
    }
    (weight_grad, bias)
}

/// The input pixels' gradients from a `[in_channels][image][plane]` padded gradient, as NCHW;
/// 0 for pixels off the padded grid, which no output reads.
#[inline(always)]
fn write_input_grad(padded: &[f32], g: &ConvGeometry, grid: &Grid, images: usize, dx: &mut [MaybeUninit<f32>]) {
    let span = images * grid.plane;
    let row_len = grid.row_len;
    for (plane_index, dx) in dx.chunks_mut(g.height * g.width).enumerate() {
        let (n, c) = (plane_index / g.in_channels, plane_index % g.in_channels);
        for (iy, dx) in dx.chunks_mut(g.width).enumerate() {
            let outside = match grid.row_start(g, iy) {
                Some(start) => {
                    let (inside, outside) = dx.split_at_mut(row_len);
                    inside.write_copy_of_slice(&padded[c * span + n * grid.plane + start..][..row_len]);
                    outside
                }
                None => dx,
            };
            outside.iter_mut().for_each(|v| {
                v.write(0.0);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conv::{self, Im2col};
    use super::*;

    /// Values, weight, bias and input gradients equal the im2col path's (which the kernel tests
    /// hold against Burn's), for 3x3, 4x4 and 5x5 kernels, Keras (uneven) and symmetric padding, cropped
    /// outputs (one unpadded, whose last input row and column no output reads), one image per
    /// item and several.
    #[test]
    fn shifted_gemms_equal_the_im2col_convolution() {
        let geometries = [
            ConvGeometry::padded([3, 8, 12, 12], [8, 8, 3, 3], 1, 1),
            ConvGeometry::padded([5, 8, 28, 28], [3, 8, 3, 3], 1, 1),
            ConvGeometry::padded([2, 8, 20, 18], [4, 8, 5, 5], 1, 2),
            ConvGeometry::same([4, 9, 10, 10], [2, 9, 3, 3], 1).cropped_for_pool(),
            ConvGeometry::padded([2, 8, 15, 15], [3, 8, 3, 3], 1, 0).cropped_for_pool(),
            ConvGeometry::same([3, 8, 11, 9], [3, 8, 4, 4], 1),
        ];
        for g in geometries {
            assert!(suits(&g), "{g:?}");
            let grid = |i: usize, modulus: usize, scale: f32| (i * 7919 % modulus) as f32 * scale - 1.0;
            let x: Vec<f32> = (0..g.batch * g.in_channels * g.height * g.width).map(|i| grid(i, 23, 0.1)).collect();
            let w: Vec<f32> = (0..g.out_channels * g.in_channels * g.kernel * g.kernel).map(|i| grid(i, 13, 0.15)).collect();
            let b: Vec<f32> = (0..g.out_channels).map(|i| i as f32 * 0.1 - 0.2).collect();
            let y = forward(&x, &w, &b, &g);
            let (expected, _) = conv::forward::<false>(&x, &w, &b, &g, false);
            let dy: Vec<f32> = (0..y.len()).map(|i| grid(i, 17, 0.12)).collect();
            let ours = backward(&x, &w, &dy, &g, true);
            let theirs = conv::backward(Im2col::Rebuilt(&x), &w, None, &dy, &g, true);
            let close = |a: &[f32], b: &[f32], what: &str| {
                assert_eq!(a.len(), b.len(), "{g:?} {what}");
                for (i, (a, b)) in a.iter().zip(b).enumerate() {
                    assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{g:?} {what}[{i}]: {a} vs {b}");
                }
            };
            close(&y, &expected, "output");
            close(ours.x.as_ref().unwrap(), theirs.x.as_ref().unwrap(), "input grad");
            close(&ours.weight, &theirs.weight, "weight grad");
            close(&ours.bias, &theirs.bias, "bias grad");
            assert!(backward(&x, &w, &dy, &g, false).x.is_none());
        }
    }

    /// Small planes, where the padded grid would be mostly waste, strided convolutions and
    /// stems on grey or RGB images stay on im2col.
    #[test]
    fn small_planes_strides_and_stems_are_left_to_im2col() {
        assert!(!suits(&ConvGeometry::same([1, 64, 7, 7], [32, 64, 3, 3], 1).cropped_for_pool()));
        assert!(!suits(&ConvGeometry::padded([1, 16, 28, 28], [32, 16, 3, 3], 2, 1)));
        assert!(!suits(&ConvGeometry::padded([1, 3, 32, 32], [16, 3, 3, 3], 1, 1)));
        assert!(suits(&ConvGeometry::padded([1, 32, 14, 14], [32, 32, 3, 3], 1, 1)));
    }
}
