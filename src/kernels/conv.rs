//! Keras-'same' 2-D convolution followed by ReLU, on contiguous NCHW `f32` slices.
//!
//! The batch is cut into work items of whole images, small enough for their im2col matrix to
//! stay in cache; items run in parallel (rayon), each with single-threaded GEMMs (`gemm` crate).
//! The forward pass keeps the im2col matrices for the backward pass. The cut depends only on the
//! shapes, so no sum's order depends on the number of threads: results are bit-for-bit repeatable.

use gemm::{Parallelism, gemm};
use rayon::prelude::*;

/// Sizes of one convolution: input `[batch, in_channels, height, width]`, weight
/// `[out_channels, in_channels, kernel, kernel]`, output `[batch, out_channels, out_height, out_width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub in_channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub out_height: usize,
    pub out_width: usize,
    /// Rows of zeros above the image; TensorFlow puts the odd one of an uneven total below.
    pub pad_top: usize,
    /// Columns of zeros left of the image.
    pub pad_left: usize,
}

/// TensorFlow's 'same' rule along one axis: output size and padding before the first pixel.
fn same_axis(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (out, total / 2)
}

impl ConvGeometry {
    /// Geometry of an input of `input` shape convolved by a weight of `weight` shape.
    pub fn same(input: [usize; 4], weight: [usize; 4], stride: usize) -> Self {
        let [batch, in_channels, height, width] = input;
        let [out_channels, weight_in, kernel, kernel_w] = weight;
        assert!(weight_in == in_channels && kernel == kernel_w, "weight {weight:?} does not fit input {input:?}");
        let (out_height, pad_top) = same_axis(height, kernel, stride);
        let (out_width, pad_left) = same_axis(width, kernel, stride);
        Self { batch, in_channels, height, width, out_channels, kernel, stride, out_height, out_width, pad_top, pad_left }
    }

    /// The same convolution computing only the outputs a following 2x2/2 max pool reads: the
    /// pool drops an odd last row or column, so computing them would be wasted work.
    pub fn cropped_for_pool(mut self) -> Self {
        self.out_height -= self.out_height % 2;
        self.out_width -= self.out_width % 2;
        self
    }

    /// Shape of the output.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.out_height, self.out_width]
    }

    /// Length of one im2col column: the input values one output value sees.
    fn patch(&self) -> usize {
        self.in_channels * self.kernel * self.kernel
    }

    /// Output positions per image and channel.
    fn positions(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Input values per image.
    fn image_len(&self) -> usize {
        self.in_channels * self.height * self.width
    }

    /// Output values per image.
    fn output_len(&self) -> usize {
        self.out_channels * self.positions()
    }

    /// Images per work item: enough for a good GEMM, few enough that the item's im2col matrix
    /// and GEMM output (~256 KiB together) stay in L2. It depends only on the shapes, never on
    /// the thread count, so the order in which weight gradients are summed is fixed.
    fn images_per_chunk(&self) -> usize {
        let per_image = (self.patch() + self.out_channels) * self.positions();
        (65_536 / per_image).clamp(1, self.batch.max(1))
    }

    /// im2col columns of a work item of `images` images.
    fn columns(&self, images: usize) -> usize {
        images * self.positions()
    }

    /// Output coordinates along an axis of `size` inputs whose tap at kernel `offset` lands inside
    /// the image (the rest read padding), and the input coordinate the first of them reads.
    fn inside(&self, offset: usize, pad: usize, size: usize, out: usize) -> (std::ops::Range<usize>, usize) {
        let first = pad.saturating_sub(offset).div_ceil(self.stride);
        let end = (size + pad).saturating_sub(offset).div_ceil(self.stride).min(out);
        if first >= end {
            // The tap reads padding only (tiny images, big kernels).
            return (0..0, 0);
        }
        // `first * stride + offset >= pad` by the choice of `first`.
        (first..end, first * self.stride + offset - pad)
    }

    fn rows_inside(&self, ky: usize) -> (std::ops::Range<usize>, usize) {
        self.inside(ky, self.pad_top, self.height, self.out_height)
    }

    fn cols_inside(&self, kx: usize) -> (std::ops::Range<usize>, usize) {
        self.inside(kx, self.pad_left, self.width, self.out_width)
    }
}

/// The im2col matrix `[patch, images * positions]` of a run of whole images: row `(c, ky, kx)`,
/// column `(n, oy, ox)`. Written front to back, padding included, so nothing is zeroed twice.
fn im2col(x: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let images = x.len() / g.image_len();
    let mut cols = Vec::with_capacity(g.patch() * g.columns(images));
    for row in 0..g.patch() {
        let (c, ky, kx) = (row / (g.kernel * g.kernel), row / g.kernel % g.kernel, row % g.kernel);
        let ((rows, iy0), (inside, ix0)) = (g.rows_inside(ky), g.cols_inside(kx));
        for n in 0..images {
            let plane = &x[n * g.image_len() + c * g.height * g.width..][..g.height * g.width];
            cols.resize(cols.len() + rows.start * g.out_width, 0.0);
            for i in 0..rows.len() {
                let src = &plane[(iy0 + i * g.stride) * g.width + ix0..];
                cols.resize(cols.len() + inside.start, 0.0);
                if g.stride == 1 {
                    cols.extend_from_slice(&src[..inside.len()]);
                } else {
                    cols.extend(src.iter().step_by(g.stride).take(inside.len()));
                }
                cols.resize(cols.len() + g.out_width - inside.end, 0.0);
            }
            cols.resize(cols.len() + (g.out_height - rows.end) * g.out_width, 0.0);
        }
    }
    cols
}

/// Adds every im2col entry back onto the input pixel it came from, for the images of `x`.
fn col2im(cols: &[f32], g: &ConvGeometry, x: &mut [f32]) {
    for (row, values) in cols.chunks(g.columns(x.len() / g.image_len())).enumerate() {
        let (c, ky, kx) = (row / (g.kernel * g.kernel), row / g.kernel % g.kernel, row % g.kernel);
        let ((rows, iy0), (inside, ix0)) = (g.rows_inside(ky), g.cols_inside(kx));
        for (n, image) in x.chunks_mut(g.image_len()).enumerate() {
            let plane = &mut image[c * g.height * g.width..][..g.height * g.width];
            for (i, oy) in rows.clone().enumerate() {
                let dst = &mut plane[(iy0 + i * g.stride) * g.width + ix0..];
                let src = &values[n * g.positions() + oy * g.out_width..][inside.clone()];
                for (j, &v) in src.iter().enumerate() {
                    dst[j * g.stride] += v;
                }
            }
        }
    }
}

/// A row-major or transposed view of a matrix for [`matmul`].
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    row_stride: isize,
    col_stride: isize,
}

impl<'a> View<'a> {
    fn rows(data: &'a [f32], cols: usize) -> Self {
        Self { data, row_stride: cols as isize, col_stride: 1 }
    }

    fn transposed(data: &'a [f32], cols: usize) -> Self {
        Self { data, row_stride: 1, col_stride: cols as isize }
    }
}

/// How [`matmul`] lays out its `[m, n]` result.
#[derive(Clone, Copy)]
enum Layout {
    RowMajor,
    ColumnMajor,
}

/// `lhs [m, k] * rhs [k, n]` as a new `[m, n]` matrix in `layout`, on the calling thread.
/// `gemm` reads a column-major operand whose rows are whole SIMD vectors in place; it packs
/// (copies) any other, so callers pick views and layouts that keep the big operand unpacked.
fn matmul(lhs: View, rhs: View, [m, k, n]: [usize; 3], layout: Layout) -> Vec<f32> {
    // Not zero-filled: gemm writes every element (zeroing fresh buffers was 5% of a step).
    let mut dst = Vec::with_capacity(m * n);
    let (dst_rs, dst_cs) = match layout {
        Layout::RowMajor => (n as isize, 1),
        Layout::ColumnMajor => (1, m as isize),
    };
    // SAFETY: the views hold m*k and k*n elements at the given strides; `dst` has room for
    // m*n, which gemm writes in full without reading (`read_dst` is false) before the length
    // covers them.
    unsafe {
        gemm(
            m, n, k,
            dst.as_mut_ptr(), dst_cs, dst_rs, false,
            lhs.data.as_ptr(), lhs.col_stride, lhs.row_stride,
            rhs.data.as_ptr(), rhs.col_stride, rhs.row_stride,
            0.0, 1.0, false, false, false,
            Parallelism::None,
        );
        dst.set_len(m * n);
    }
    dst
}

/// The im2col matrices of a batch's work items, kept by [`forward`] for [`backward`].
pub type Columns = Vec<Vec<f32>>;

/// `relu(conv(x, weight) + bias)` as an NCHW batch; work items of whole images run in parallel.
/// With `keep_columns` it also returns the im2col matrices, which the backward pass reuses.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], g: &ConvGeometry, keep_columns: bool) -> (Vec<f32>, Option<Columns>) {
    let chunk = g.images_per_chunk();
    let len = g.batch * g.output_len();
    let mut y = Vec::with_capacity(len);
    let columns: Vec<Option<Vec<f32>>> = y.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk * g.output_len())
        .zip(x.par_chunks(chunk * g.image_len()))
        .map(|(y, x)| {
            let columns = g.columns(x.len() / g.image_len());
            let cols = im2col(x, g);
            let product = matmul(View::rows(weight, g.patch()), View::rows(&cols, columns), [g.out_channels, g.patch(), columns], Layout::RowMajor);
            for (plane_index, plane) in y.chunks_mut(g.positions()).enumerate() {
                let (n, c) = (plane_index / g.out_channels, plane_index % g.out_channels);
                let row = &product[c * columns + n * g.positions()..][..g.positions()];
                for (out, &value) in plane.iter_mut().zip(row) {
                    out.write((value + bias[c]).max(0.0));
                }
            }
            keep_columns.then_some(cols)
        })
        .collect();
    // SAFETY: the chunks tile the output, and every plane of each chunk was written above.
    unsafe { y.set_len(len) };
    (y, keep_columns.then(|| columns.into_iter().flatten().collect()))
}

/// Gradients of [`forward`] with respect to its input (when asked for), weight and bias.
pub struct ConvGradients {
    /// Gradient for the input batch, `[batch, in_channels, height, width]`.
    pub x: Option<Vec<f32>>,
    /// Gradient for the weight, `[out_channels, in_channels, kernel, kernel]`.
    pub weight: Vec<f32>,
    /// Gradient for the bias, `[out_channels]`.
    pub bias: Vec<f32>,
}

/// Back-propagates `dy`, the loss gradient for [`forward`]'s output `y`, through ReLU and the
/// convolution, given the im2col matrices `columns` that [`forward`] kept. Each work item returns its share of the weight and bias gradients; the shares
/// are summed in work-item order, so the result does not depend on the thread count.
pub fn backward(columns: &Columns, weight: &[f32], y: &[f32], dy: &[f32], g: &ConvGeometry, input_grad: bool) -> ConvGradients {
    let chunk = g.images_per_chunk();
    let shares: Vec<ConvGradients> = columns
        .par_iter()
        .zip(y.par_chunks(chunk * g.output_len()))
        .zip(dy.par_chunks(chunk * g.output_len()))
        .map(|((cols, y), dy)| backward_chunk(cols, weight, y, dy, g, input_grad))
        .collect();
    // Weight-gradient shares come as `[patch, out_channels]` (see `backward_chunk`).
    let mut total = ConvGradients {
        x: input_grad.then(|| Vec::with_capacity(g.batch * g.image_len())),
        weight: vec![0.0; weight.len()],
        bias: vec![0.0; g.out_channels],
    };
    for share in shares {
        total.weight.iter_mut().zip(&share.weight).for_each(|(t, s)| *t += s);
        total.bias.iter_mut().zip(&share.bias).for_each(|(t, s)| *t += s);
        if let (Some(dx), Some(part)) = (total.x.as_mut(), share.x) {
            dx.extend_from_slice(&part);
        }
    }
    total.weight = transpose(&total.weight, g.patch(), g.out_channels);
    total
}

/// The `[cols, rows]` transpose of a row-major `[rows, cols]` matrix.
fn transpose(matrix: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| matrix[r * cols + c])).collect()
}

/// [`backward`] for one run of whole images; its weight gradient is transposed,
/// `[patch, out_channels]`, the layout in which `gemm` need not copy the im2col matrix.
fn backward_chunk(cols: &[f32], weight: &[f32], y: &[f32], dy: &[f32], g: &ConvGeometry, input_grad: bool) -> ConvGradients {
    let images = y.len() / g.output_len();
    let columns = g.columns(images);
    // Gradient before the ReLU, channel-major `[out_channels, images * positions]` like the GEMMs.
    let mut dz = vec![0.0; g.out_channels * columns];
    for (plane_index, (dy, y)) in dy.chunks(g.positions()).zip(y.chunks(g.positions())).enumerate() {
        let (n, c) = (plane_index / g.out_channels, plane_index % g.out_channels);
        let dst = &mut dz[c * columns + n * g.positions()..][..g.positions()];
        for ((out, &grad), &value) in dst.iter_mut().zip(dy).zip(y) {
            *out = if value > 0.0 { grad } else { 0.0 };
        }
    }
    let bias = dz.chunks(columns).map(|row| row.iter().sum()).collect();
    let weight_grad = matmul(View::rows(&dz, columns), View::transposed(cols, columns), [g.out_channels, columns, g.patch()], Layout::ColumnMajor);
    let x = input_grad.then(|| {
        let dcols = matmul(View::transposed(weight, g.patch()), View::rows(&dz, columns), [g.patch(), g.out_channels, columns], Layout::RowMajor);
        let mut dx = vec![0.0; images * g.image_len()];
        col2im(&dcols, g, &mut dx);
        dx
    });
    ConvGradients { x, weight: weight_grad, bias }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition: `y[n][o][i][j] = relu(b[o] + sum w[o][c][u][v] * x[n][c][i*s+u-pad][j*s+v-pad])`.
    fn reference(x: &[f32], w: &[f32], b: &[f32], g: &ConvGeometry) -> Vec<f32> {
        let mut y = Vec::new();
        for n in 0..g.batch {
            for o in 0..g.out_channels {
                for i in 0..g.out_height {
                    for j in 0..g.out_width {
                        let mut sum = b[o];
                        for c in 0..g.in_channels {
                            for u in 0..g.kernel {
                                for v in 0..g.kernel {
                                    let (iy, ix) = ((i * g.stride + u) as isize - g.pad_top as isize, (j * g.stride + v) as isize - g.pad_left as isize);
                                    if (0..g.height as isize).contains(&iy) && (0..g.width as isize).contains(&ix) {
                                        let xi = ((n * g.in_channels + c) * g.height + iy as usize) * g.width + ix as usize;
                                        sum += w[((o * g.in_channels + c) * g.kernel + u) * g.kernel + v] * x[xi];
                                    }
                                }
                            }
                        }
                        y.push(sum.max(0.0));
                    }
                }
            }
        }
        y
    }

    #[test]
    fn padding_follows_tensorflow_and_tiny_images_with_big_kernels_work() {
        // TensorFlow: out = ceil(size / stride), the odd pad of an uneven total goes after.
        let g = ConvGeometry::same([1, 1, 28, 28], [1, 1, 3, 3], 2);
        assert_eq!((g.out_height, g.pad_top), (14, 0));
        let g = ConvGeometry::same([1, 1, 3, 3], [1, 1, 3, 3], 2);
        assert_eq!((g.out_height, g.pad_top), (2, 1));
        for (input, weight, stride) in [([2, 2, 1, 1], [3, 2, 5, 5], 1), ([1, 1, 2, 3], [2, 1, 5, 5], 2), ([2, 3, 6, 5], [4, 3, 3, 3], 1)] {
            let g = ConvGeometry::same(input, weight, stride);
            let x: Vec<f32> = (0..input.iter().product::<usize>()).map(|i| (i % 7) as f32 - 3.0).collect();
            let w: Vec<f32> = (0..weight.iter().product::<usize>()).map(|i| (i % 5) as f32 * 0.25 - 0.4).collect();
            let b: Vec<f32> = (0..weight[0]).map(|i| i as f32 * 0.1).collect();
            let (ours, _) = forward(&x, &w, &b, &g, false);
            let expected = reference(&x, &w, &b, &g);
            assert!(ours.iter().zip(&expected).all(|(a, e)| (a - e).abs() < 1e-4), "{input:?} {weight:?}: {ours:?} vs {expected:?}");
        }
    }
}
