//! 2-D convolution (Keras-'same' or symmetric zero padding), optionally followed by ReLU, and
//! then optionally by a 2x2 max pool, on contiguous NCHW `f32` slices.
//!
//! The batch is cut into work items of whole images, small enough for their im2col matrix and
//! convolution output to stay in cache; items run in parallel (rayon), each with
//! single-threaded GEMMs (`gemm` crate). A pooled convolution's output never leaves its item.
//! The backward pass reuses the im2col matrices the forward pass kept, or rebuilds them from the
//! input where keeping them would cost too much memory ([`Im2col`]). The cut depends only on the
//! shapes, so no sum's order depends on the number of threads: results are bit-for-bit repeatable.

use std::mem::MaybeUninit;

use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use super::simd::Level;

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
    /// The SIMD level the loops run at: the CPU's widest (a test picks each in turn).
    pub simd: Level,
}

/// TensorFlow's 'same' rule along one axis: output size and padding before the first pixel.
fn same_axis(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (out, total / 2)
}

impl ConvGeometry {
    /// Geometry of an input of `input` shape convolved by a weight of `weight` shape with
    /// Keras' 'same' padding.
    pub fn same(input: [usize; 4], weight: [usize; 4], stride: usize) -> Self {
        Self::with_padding(input, weight, stride, |size, kernel| same_axis(size, kernel, stride))
    }

    /// Geometry of an input of `input` shape convolved by a weight of `weight` shape over
    /// `padding` rows and columns of zeros on every side (PyTorch's `padding=`).
    pub fn padded(input: [usize; 4], weight: [usize; 4], stride: usize, padding: usize) -> Self {
        Self::with_padding(input, weight, stride, |size, kernel| {
            assert!(size + 2 * padding >= kernel, "a {kernel}x{kernel} kernel does not fit input {input:?} padded by {padding}");
            ((size + 2 * padding - kernel) / stride + 1, padding)
        })
    }

    /// `axis(size, kernel)` gives an axis' output size and its padding before the first pixel.
    fn with_padding(input: [usize; 4], weight: [usize; 4], stride: usize, axis: impl Fn(usize, usize) -> (usize, usize)) -> Self {
        let [batch, in_channels, height, width] = input;
        let [out_channels, weight_in, kernel, kernel_w] = weight;
        assert!(weight_in == in_channels && kernel == kernel_w, "weight {weight:?} does not fit input {input:?}");
        let (out_height, pad_top) = axis(height, kernel);
        let (out_width, pad_left) = axis(width, kernel);
        Self { batch, in_channels, height, width, out_channels, kernel, stride, out_height, out_width, pad_top, pad_left, simd: Level::detected() }
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

    /// Shape of the output after a 2x2/2 max pool (of a geometry [`Self::cropped_for_pool`]).
    pub fn pooled_shape(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.out_height / 2, self.out_width / 2]
    }

    /// Pooled values per image and channel.
    pub(super) fn pooled_positions(&self) -> usize {
        self.positions() / 4
    }

    /// Length of one im2col column: the input values one output value sees.
    pub(super) fn patch(&self) -> usize {
        self.in_channels * self.kernel * self.kernel
    }

    /// Output positions per image and channel.
    pub(super) fn positions(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Input values per image.
    pub(super) fn image_len(&self) -> usize {
        self.in_channels * self.height * self.width
    }

    /// Output values per image.
    fn output_len(&self) -> usize {
        self.out_channels * self.positions()
    }

    /// Images per work item: few enough that the item's im2col matrix and GEMM output (~256 KiB
    /// together) stay in L2, but enough for a GEMM of at least [`MIN_GEMM_COLUMNS`] columns,
    /// whatever the cache says: a narrower GEMM spends its time packing the weight (the
    /// notebook's second convolution has 36 outputs per image; with 2 images per item instead
    /// of 8, the seed preset's pretext epoch took 0.302 s instead of 0.259 s). It depends only
    /// on the shapes, never on the thread count, so the order in which weight gradients are
    /// summed is fixed.
    pub(super) fn images_per_chunk(&self) -> usize {
        let per_image = (self.patch() + self.out_channels) * self.positions();
        let cache_fit = 65_536 / per_image;
        let gemm_width = MIN_GEMM_COLUMNS.div_ceil(self.positions());
        cache_fit.max(gemm_width).clamp(1, self.batch.max(1))
    }

    /// im2col columns of a work item of `images` images.
    fn columns(&self, images: usize) -> usize {
        images * self.positions()
    }

    /// Image `n`'s channel-`c` plane of a work item's channel-major
    /// `[out_channels, images * positions]` GEMM product (or gradient).
    fn plane_range(&self, item_len: usize, n: usize, c: usize) -> std::ops::Range<usize> {
        let start = c * (item_len / self.out_channels) + n * self.positions();
        start..start + self.positions()
    }

    /// For each kernel tap `(ky, kx)` (row-major) and each output position of a plane, the
    /// input-plane offset the tap reads there, or [`PADDING`] where it reads padding. im2col and
    /// col2im gather and scatter through it, so no geometry is left in their inner loops.
    pub(super) fn tap_offsets(&self) -> Vec<u32> {
        let taps = (0..self.kernel).flat_map(|ky| (0..self.kernel).map(move |kx| (ky, kx)));
        let positions = (0..self.out_height).flat_map(|oy| (0..self.out_width).map(move |ox| (oy, ox)));
        let offsets = taps.flat_map(|tap| positions.clone().map(move |position| (tap, position)));
        offsets
            .map(|((ky, kx), (oy, ox))| {
                let iy = (oy * self.stride + ky).checked_sub(self.pad_top).filter(|&iy| iy < self.height);
                let ix = (ox * self.stride + kx).checked_sub(self.pad_left).filter(|&ix| ix < self.width);
                match (iy, ix) {
                    (Some(iy), Some(ix)) => u32::try_from(iy * self.width + ix).expect("an image plane of under 4G pixels"),
                    _ => PADDING,
                }
            })
            .collect()
    }
}

/// The fewest im2col columns (output positions) a work item's GEMM gets, unless the whole
/// batch has fewer.
const MIN_GEMM_COLUMNS: usize = 256;

/// The [`ConvGeometry::tap_offsets`] entry of a tap that reads padding: past every plane's end.
const PADDING: u32 = u32::MAX;

/// The im2col matrix `[patch, images * positions]` of a run of whole images: row `(c, ky, kx)`,
/// column `(n, oy, ox)`, 0 where the tap reads padding; `offsets` are the geometry's
/// [`ConvGeometry::tap_offsets`].
#[inline(always)]
fn im2col(x: &[f32], g: &ConvGeometry, offsets: &[u32]) -> Vec<f32> {
    let (taps, columns) = (g.kernel * g.kernel, g.columns(x.len() / g.image_len()));
    let len = g.patch() * columns;
    let mut cols = Vec::with_capacity(len);
    for (row, image_columns) in cols.spare_capacity_mut()[..len].chunks_mut(columns).enumerate() {
        let (c, offsets) = (row / taps, &offsets[row % taps * g.positions()..][..g.positions()]);
        for (image, dst) in x.chunks(g.image_len()).zip(image_columns.chunks_mut(g.positions())) {
            let plane = &image[c * g.height * g.width..][..g.height * g.width];
            for (d, &i) in dst.iter_mut().zip(offsets) {
                d.write(plane.get(i as usize).copied().unwrap_or(0.0));
            }
        }
    }
    // SAFETY: every position of every image block of every row was written above.
    unsafe { cols.set_len(len) };
    cols
}

/// Adds every im2col entry back onto the input pixel it came from, for the images of `x`.
#[inline(always)]
fn col2im(cols: &[f32], g: &ConvGeometry, offsets: &[u32], x: &mut [f32]) {
    let taps = g.kernel * g.kernel;
    for (row, image_columns) in cols.chunks(g.columns(x.len() / g.image_len())).enumerate() {
        let (c, offsets) = (row / taps, &offsets[row % taps * g.positions()..][..g.positions()]);
        for (image, src) in x.chunks_mut(g.image_len()).zip(image_columns.chunks(g.positions())) {
            let plane = &mut image[c * g.height * g.width..][..g.height * g.width];
            for (&v, &i) in src.iter().zip(offsets) {
                if let Some(pixel) = plane.get_mut(i as usize) {
                    *pixel += v;
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

/// The im2col matrices of a batch's work items, kept by the forward passes for the backward ones.
pub type Columns = Vec<Vec<f32>>;

/// Where a backward pass gets each work item's im2col matrix: kept by the forward pass (the
/// notebook's small layers, where that is fastest), or rebuilt from the forward pass's input
/// (the ResNet's, whose matrices are many times the input and would not fit in memory).
#[derive(Clone, Copy)]
pub enum Im2col<'a> {
    /// The forward pass's matrices.
    Kept(&'a Columns),
    /// The forward pass's input batch.
    Rebuilt(&'a [f32]),
}

/// Runs each work item's convolution in parallel: im2col, then one GEMM into the item's
/// channel-major `[out_channels, images * positions]` product, which `epilogue` turns into the
/// item's share of the output (`outputs` yields one share per item). Returns the im2col
/// matrices when asked to keep them.
fn convolve<O: Send>(
    x: &[f32],
    weight: &[f32],
    g: &ConvGeometry,
    outputs: impl IndexedParallelIterator<Item = O>,
    keep_columns: bool,
    epilogue: impl Fn(&[f32], O) + Sync + Send,
) -> Option<Columns> {
    let offsets = g.tap_offsets();
    let columns: Vec<Option<Vec<f32>>> = outputs
        .zip(x.par_chunks(g.images_per_chunk() * g.image_len()))
        .map(|(output, x)| {
            g.simd.run(#[inline(always)] || {
                let columns = g.columns(x.len() / g.image_len());
                let cols = im2col(x, g, &offsets);
                let product = matmul(View::rows(weight, g.patch()), View::rows(&cols, columns), [g.out_channels, g.patch(), columns], Layout::RowMajor);
                epilogue(&product, output);
                keep_columns.then_some(cols)
            })
        })
        .collect();
    keep_columns.then(|| columns.into_iter().flatten().collect())
}

/// `relu(conv(x, weight) + bias)` (`RELU`), or `conv(x, weight) + bias`, as an NCHW batch;
/// work items of whole images run in parallel. With `keep_columns` it also returns the im2col
/// matrices, which [`backward`] reuses.
pub fn forward<const RELU: bool>(x: &[f32], weight: &[f32], bias: &[f32], g: &ConvGeometry, keep_columns: bool) -> (Vec<f32>, Option<Columns>) {
    let len = g.batch * g.output_len();
    let mut y = Vec::with_capacity(len);
    let items = y.spare_capacity_mut()[..len].par_chunks_mut(g.images_per_chunk() * g.output_len());
    let columns = convolve(x, weight, g, items, keep_columns, #[inline(always)] |product, y| {
        for (plane_index, plane) in y.chunks_mut(g.positions()).enumerate() {
            let (n, c) = (plane_index / g.out_channels, plane_index % g.out_channels);
            for (out, &value) in plane.iter_mut().zip(&product[g.plane_range(product.len(), n, c)]) {
                let value = value + bias[c];
                out.write(if RELU { value.max(0.0) } else { value });
            }
        }
    });
    // SAFETY: the items tile the output, and every plane of each item was written above.
    unsafe { y.set_len(len) };
    (y, columns)
}

/// Which of a pooling window's four convolution outputs (row-major) took the maximum and so
/// receives its gradient, one per pooled value; [`NO_GRADIENT`] where that maximum is 0 after
/// the ReLU, whose gradient is then 0.
pub type Winners = Vec<u8>;

/// The [`Winners`] entry of a window whose ReLU outputs are all 0.
pub(super) const NO_GRADIENT: u8 = u8::MAX;

/// The [`Winners`] entry of a pooling window of ReLU outputs from its `left` and `right`
/// column maxima and whether each came from the lower row: the first maximum in row-major
/// order, as TensorFlow picks among ties.
#[inline(always)]
fn window_winner(left: f32, right: f32, lower_won: [bool; 2]) -> u8 {
    // Row-major indices: the left column's are 0 and 2, the right one's 1 and 3.
    let (left_index, right_index) = (2 * u8::from(lower_won[0]), 2 * u8::from(lower_won[1]) + 1);
    // Selects, not branches: which value wins is random.
    let tie = left_index.min(right_index);
    let first_max = if left > right { left_index } else if right > left { right_index } else { tie };
    if left.max(right) > 0.0 { first_max } else { NO_GRADIENT }
}

/// `max_pool2x2(relu(conv(x, weight) + bias))` for a geometry [`ConvGeometry::cropped_for_pool`],
/// with the window winners [`backward_pooled`] needs. The convolution's output never leaves
/// its work item, so it costs cache, not memory traffic. With `keep_columns` it also returns
/// the im2col matrices.
pub fn forward_pooled(x: &[f32], weight: &[f32], bias: &[f32], g: &ConvGeometry, keep_columns: bool) -> (Vec<f32>, Winners, Option<Columns>) {
    assert!(g.out_height % 2 == 0 && g.out_width % 2 == 0, "a pooled convolution's output is cropped to even sides");
    let len = g.batch * g.out_channels * g.pooled_positions();
    let item_len = g.images_per_chunk() * g.out_channels * g.pooled_positions();
    let (mut pooled, mut winners) = (Vec::with_capacity(len), Vec::with_capacity(len));
    let items = pooled.spare_capacity_mut()[..len].par_chunks_mut(item_len).zip(winners.spare_capacity_mut()[..len].par_chunks_mut(item_len));
    let columns = convolve(x, weight, g, items, keep_columns, #[inline(always)] |product, (pooled, winners)| {
        // Per plane, first each row pair's column maxima (along contiguous rows, a loop that
        // vectorises), then the maxima of neighbouring columns.
        let mut column_max = vec![0.0; g.positions() / 2];
        let mut lower_won = vec![false; g.positions() / 2];
        let planes = pooled.chunks_mut(g.pooled_positions()).zip(winners.chunks_mut(g.pooled_positions()));
        for (plane_index, (pooled, winners)) in planes.enumerate() {
            let (n, c) = (plane_index / g.out_channels, plane_index % g.out_channels);
            let plane = &product[g.plane_range(product.len(), n, c)];
            let pairs = plane.chunks_exact(2 * g.out_width).zip(column_max.chunks_exact_mut(g.out_width).zip(lower_won.chunks_exact_mut(g.out_width)));
            for (pair, (column_max, lower_won)) in pairs {
                let (upper, lower) = pair.split_at(g.out_width);
                for (((&upper, &lower), max), lower_won) in upper.iter().zip(lower).zip(column_max.iter_mut()).zip(lower_won.iter_mut()) {
                    let (upper, lower) = ((upper + bias[c]).max(0.0), (lower + bias[c]).max(0.0));
                    *lower_won = lower > upper;
                    *max = if *lower_won { lower } else { upper };
                }
            }
            let windows = column_max.chunks_exact(2).zip(lower_won.chunks_exact(2));
            for ((pooled, winner), (max, lower_won)) in pooled.iter_mut().zip(winners.iter_mut()).zip(windows) {
                let (left, right) = (max[0], max[1]);
                pooled.write(if right > left { right } else { left });
                winner.write(window_winner(left, right, [lower_won[0], lower_won[1]]));
            }
        }
    });
    // SAFETY: the items tile both outputs, and every value of each item was written above.
    unsafe {
        pooled.set_len(len);
        winners.set_len(len);
    }
    (pooled, winners, columns)
}

/// Gradients of a convolution ([`forward`] or [`forward_pooled`]) with respect to its input
/// (when asked for), weight and bias.
pub struct ConvGradients {
    /// Gradient for the input batch, `[batch, in_channels, height, width]`.
    pub x: Option<Vec<f32>>,
    /// Gradient for the weight, `[out_channels, in_channels, kernel, kernel]`.
    pub weight: Vec<f32>,
    /// Gradient for the bias, `[out_channels]`.
    pub bias: Vec<f32>,
}

/// Back-propagates `dy`, the loss gradient for [`forward`]'s output, through the ReLU (given
/// its output `relu_output`; `None` without ReLU) and the convolution, given the im2col
/// matrices [`forward`] kept or its input.
pub fn backward(columns: Im2col, weight: &[f32], relu_output: Option<&[f32]>, dy: &[f32], g: &ConvGeometry, input_grad: bool) -> ConvGradients {
    let item_len = g.images_per_chunk() * g.output_len();
    let items = dy.par_chunks(item_len).enumerate();
    backward_items(columns, weight, g, input_grad, items, #[inline(always)] |(item, dy), dz| {
        let y = relu_output.map(|y| &y[item * item_len..][..dy.len()]);
        for (plane_index, dy) in dy.chunks(g.positions()).enumerate() {
            let (n, c) = (plane_index / g.out_channels, plane_index % g.out_channels);
            let range = g.plane_range(dz.len(), n, c);
            let dz = &mut dz[range];
            match y {
                Some(y) => {
                    let y = &y[plane_index * g.positions()..][..g.positions()];
                    for ((out, &grad), &value) in dz.iter_mut().zip(dy).zip(y) {
                        out.write(if value > 0.0 { grad } else { 0.0 });
                    }
                }
                None => {
                    dz.write_copy_of_slice(dy);
                }
            }
        }
    })
}

/// Back-propagates `dpooled`, the loss gradient for [`forward_pooled`]'s output, through the
/// pool, ReLU and convolution, given the `winners` and the im2col `columns` it returned (or
/// its input).
pub fn backward_pooled(columns: Im2col, weight: &[f32], winners: &[u8], dpooled: &[f32], g: &ConvGeometry, input_grad: bool) -> ConvGradients {
    let item_len = g.images_per_chunk() * g.out_channels * g.pooled_positions();
    let items = winners.par_chunks(item_len).zip(dpooled.par_chunks(item_len));
    backward_items(columns, weight, g, input_grad, items, #[inline(always)] |(winners, dpooled), dz| {
        let planes = winners.chunks(g.pooled_positions()).zip(dpooled.chunks(g.pooled_positions()));
        for (plane_index, (winners, dpooled)) in planes.enumerate() {
            let (n, c) = (plane_index / g.out_channels, plane_index % g.out_channels);
            let range = g.plane_range(dz.len(), n, c);
            let rows = winners.chunks(g.out_width / 2).zip(dpooled.chunks(g.out_width / 2)).zip(dz[range].chunks_mut(2 * g.out_width));
            for ((winners, dpooled), pair) in rows {
                let (upper, lower) = pair.split_at_mut(g.out_width);
                let windows = upper.chunks_exact_mut(2).zip(lower.chunks_exact_mut(2));
                for ((&winner, &grad), (upper, lower)) in winners.iter().zip(dpooled).zip(windows) {
                    // Every value is written, zeros too. `+ 0.0` turns a -0.0 gradient into the
                    // +0.0 that adding it to 0 gives, as the layered ReLU and pool backward do.
                    let share = |k: u8| if winner == k { grad + 0.0 } else { 0.0 };
                    upper[0].write(share(0));
                    upper[1].write(share(1));
                    lower[0].write(share(2));
                    lower[1].write(share(3));
                }
            }
        }
    })
}

/// The backward pass of each work item in parallel: `pre_activation_grad` writes every value
/// of the item's loss gradient before the ReLU, channel-major `[out_channels, images *
/// positions]` like the GEMMs, into a buffer that is not zero-filled first; the item then
/// returns its share of the weight and bias gradients. The shares are summed in work-item
/// order, so the result does not depend on the thread count.
fn backward_items<I: Send>(
    columns: Im2col,
    weight: &[f32],
    g: &ConvGeometry,
    input_grad: bool,
    items: impl IndexedParallelIterator<Item = I>,
    pre_activation_grad: impl Fn(I, &mut [MaybeUninit<f32>]) + Sync + Send,
) -> ConvGradients {
    let offsets = g.tap_offsets();
    // Each item adds its input gradient straight into its own images of the batch's.
    let mut dx = input_grad.then(|| vec![0.0; g.batch * g.image_len()]);
    let images_per_item = g.images_per_chunk();
    let dx_items: Vec<Option<&mut [f32]>> = match dx.as_mut() {
        Some(dx) => dx.chunks_mut(images_per_item * g.image_len()).map(Some).collect(),
        None => (0..g.batch.div_ceil(images_per_item)).map(|_| None).collect(),
    };
    let shares: Vec<(Vec<f32>, Vec<f32>)> = items
        .enumerate()
        .zip(dx_items)
        .map(|((i, item), dx)| {
            g.simd.run(#[inline(always)] || {
                let rebuilt;
                let cols = match columns {
                    Im2col::Kept(columns) => &columns[i],
                    Im2col::Rebuilt(x) => {
                        let images = &x[i * images_per_item * g.image_len()..];
                        rebuilt = im2col(&images[..images.len().min(images_per_item * g.image_len())], g, &offsets);
                        &rebuilt
                    }
                };
                let len = cols.len() / g.patch() * g.out_channels;
                let mut dz = Vec::with_capacity(len);
                pre_activation_grad(item, &mut dz.spare_capacity_mut()[..len]);
                // SAFETY: `pre_activation_grad` writes every element.
                unsafe { dz.set_len(len) };
                backward_item(cols, weight, &dz, g, &offsets, dx)
            })
        })
        .collect();
    // Weight-gradient shares come as `[patch, out_channels]` (see `backward_item`).
    let (weight_grad, bias_grad) = sum_shares(shares, weight.len(), g.out_channels);
    ConvGradients { x: dx, weight: transpose(&weight_grad, g.patch(), g.out_channels), bias: bias_grad }
}

/// The sums of the work items' weight and bias gradient shares, added in item order, so that
/// the result does not depend on the thread count.
pub(super) fn sum_shares(shares: Vec<(Vec<f32>, Vec<f32>)>, weight_len: usize, out_channels: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut weight_grad, mut bias_grad) = (vec![0.0; weight_len], vec![0.0; out_channels]);
    for (weight_share, bias_share) in shares {
        weight_grad.iter_mut().zip(&weight_share).for_each(|(t, s)| *t += s);
        bias_grad.iter_mut().zip(&bias_share).for_each(|(t, s)| *t += s);
    }
    (weight_grad, bias_grad)
}

/// The `[cols, rows]` transpose of a row-major `[rows, cols]` matrix. It walks blocks of eight
/// rows, so that each output row is written eight contiguous values at a time from eight
/// sequential input streams.
#[inline(always)]
pub(super) fn transpose(matrix: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BLOCK: usize = 8;
    let mut out = Vec::with_capacity(rows * cols);
    let spare = &mut out.spare_capacity_mut()[..rows * cols];
    for (block_index, block) in matrix.chunks(BLOCK * cols).enumerate() {
        let first_row = block_index * BLOCK;
        let block_rows = block.len() / cols;
        for (c, out_row) in spare.chunks_mut(rows).enumerate() {
            for (r, out) in out_row[first_row..][..block_rows].iter_mut().enumerate() {
                out.write(block[r * cols + c]);
            }
        }
    }
    // SAFETY: every block of rows writes its slot of every output row.
    unsafe { out.set_len(rows * cols) };
    out
}

/// The sum of each `columns`-long row of `matrix`, each added front to back. Eight rows are
/// summed side by side: one row alone waits on each addition's latency.
#[inline(always)]
pub(super) fn row_sums(matrix: &[f32], columns: usize) -> Vec<f32> {
    const LANES: usize = 8;
    let mut sums = Vec::with_capacity(matrix.len() / columns);
    let mut blocks = matrix.chunks_exact(LANES * columns);
    for block in &mut blocks {
        // -0.0, the start of `Iterator::sum`, so that a row of -0.0 sums to -0.0 here too.
        let mut lanes = [-0.0f32; LANES];
        for j in 0..columns {
            for (lane, sum) in lanes.iter_mut().enumerate() {
                *sum += block[lane * columns + j];
            }
        }
        sums.extend(lanes);
    }
    sums.extend(blocks.remainder().chunks(columns).map(|row| row.iter().sum::<f32>()));
    sums
}

/// One work item's shares of the weight and bias gradients from its pre-ReLU gradient `dz`,
/// with its input gradient added into `dx` (the item's images, zeros) when asked for. The
/// weight share is transposed, `[patch, out_channels]`, the layout in which `gemm` need not
/// copy the im2col matrix.
#[inline(always)]
fn backward_item(cols: &[f32], weight: &[f32], dz: &[f32], g: &ConvGeometry, offsets: &[u32], dx: Option<&mut [f32]>) -> (Vec<f32>, Vec<f32>) {
    let columns = dz.len() / g.out_channels;
    let bias = row_sums(dz, columns);
    let weight_grad = matmul(View::rows(dz, columns), View::transposed(cols, columns), [g.out_channels, columns, g.patch()], Layout::ColumnMajor);
    if let Some(dx) = dx {
        let dcols = matmul(View::transposed(weight, g.patch()), View::rows(dz, columns), [g.patch(), g.out_channels, columns], Layout::RowMajor);
        col2im(&dcols, g, offsets, dx);
    }
    (weight_grad, bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition: `y[n][o][i][j] = relu(b[o] + sum w[o][c][u][v] * x[n][c][i*s+u-pad][j*s+v-pad])`
    /// (without the ReLU unless `relu`).
    fn reference(x: &[f32], w: &[f32], b: &[f32], g: &ConvGeometry, relu: bool) -> Vec<f32> {
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
                        y.push(if relu { sum.max(0.0) } else { sum });
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
        // Keras 'same' with ReLU (the notebook's), then PyTorch's symmetric padding without (the ResNet's).
        let same = [([2, 2, 1, 1], [3, 2, 5, 5], 1), ([1, 1, 2, 3], [2, 1, 5, 5], 2), ([2, 3, 6, 5], [4, 3, 3, 3], 1)].map(|(i, w, s)| (ConvGeometry::same(i, w, s), true));
        let padded = [([2, 2, 6, 6], [3, 2, 3, 3], 2, 1), ([1, 3, 5, 5], [2, 3, 1, 1], 2, 0), ([2, 2, 5, 4], [3, 2, 3, 3], 1, 1)].map(|(i, w, s, p)| (ConvGeometry::padded(i, w, s, p), false));
        for (g, relu) in same.into_iter().chain(padded) {
            let x: Vec<f32> = (0..g.batch * g.image_len()).map(|i| (i % 7) as f32 - 3.0).collect();
            let w: Vec<f32> = (0..g.out_channels * g.patch()).map(|i| (i % 5) as f32 * 0.25 - 0.4).collect();
            let b: Vec<f32> = (0..g.out_channels).map(|i| i as f32 * 0.1).collect();
            let (ours, _) = if relu { forward::<true>(&x, &w, &b, &g, false) } else { forward::<false>(&x, &w, &b, &g, false) };
            let expected = reference(&x, &w, &b, &g, relu);
            assert!(ours.len() == expected.len() && ours.iter().zip(&expected).all(|(a, e)| (a - e).abs() < 1e-4), "{g:?}: {ours:?} vs {expected:?}");
        }
    }

    /// The fused conv + ReLU + pool equals the three layers one after another bit for bit, in
    /// values and in every gradient, also where a window holds ties or only non-positive values
    /// (inputs on a coarse grid, and constant images, make both common).
    #[test]
    fn pooled_convolution_equals_convolution_then_pool_bit_for_bit() {
        use super::super::pool::{self, PoolGeometry};
        let g = ConvGeometry::same([5, 3, 9, 9], [4, 3, 3, 3], 1).cropped_for_pool();
        let grid = |i: usize, modulus: usize| (i * 7919 % modulus) as f32 * 0.5 - 1.0;
        let x: Vec<f32> = (0..5 * 3 * 81).map(|i| if i / (3 * 81) % 2 == 0 { grid(i, 5) } else { 1.0 }).collect();
        let w: Vec<f32> = (0..4 * 3 * 9).map(|i| grid(i, 3) + 1.0).collect();
        let b = [0.0, 0.5, -0.5, 1.0];
        let (pooled, winners, columns) = forward_pooled(&x, &w, &b, &g, true);
        let (y, layer_columns) = forward::<true>(&x, &w, &b, &g, true);
        let pool = PoolGeometry { batch: 5, channels: 4, height: g.out_height, width: g.out_width };
        assert_eq!(pooled, pool::forward(&y, &pool));
        let rows: Vec<&[f32]> = y.chunks(g.out_width).collect();
        let positive_ties = rows.chunks(2).flat_map(|pair| pair[0].chunks(2).zip(pair[1].chunks(2))).filter(|(upper, lower)| {
            let window = [upper[0], upper[1], lower[0], lower[1]];
            let max = window.into_iter().fold(0.0, f32::max);
            max > 0.0 && window.iter().filter(|&&v| v == max).count() > 1
        });
        assert!(winners.contains(&NO_GRADIENT) && positive_ties.count() > 10);
        let dpooled: Vec<f32> = (0..pooled.len()).map(|i| grid(i, 11)).collect();
        let fused = backward_pooled(Im2col::Kept(&columns.unwrap()), &w, &winners, &dpooled, &g, true);
        let layered = backward(Im2col::Kept(&layer_columns.unwrap()), &w, Some(&y), &pool::backward(&y, &pool::forward(&y, &pool), &dpooled, &pool), &g, true);
        assert_eq!((fused.x, fused.weight, fused.bias), (layered.x, layered.weight, layered.bias));
    }

    /// Every SIMD level this machine has (AVX2 here; AVX-512 where the CPU has it) gives the
    /// baseline's bits, forward and backward, pooled or not.
    #[test]
    fn every_simd_level_gives_the_same_bits() {
        let grid = |i: usize, modulus: usize| (i * 7919 % modulus) as f32 * 0.37 - 1.0;
        let x: Vec<f32> = (0..6 * 3 * 10 * 10).map(|i| grid(i, 23)).collect();
        let w: Vec<f32> = (0..5 * 3 * 9).map(|i| grid(i, 13) * 0.3).collect();
        let b = [0.1, -0.2, 0.0, 0.3, -0.1];
        let run = |simd: Level| {
            let g = ConvGeometry { simd, ..ConvGeometry::same([6, 3, 10, 10], [5, 3, 3, 3], 1).cropped_for_pool() };
            let (y, columns) = forward::<true>(&x, &w, &b, &g, true);
            let dy: Vec<f32> = (0..y.len()).map(|i| grid(i, 17)).collect();
            let plain = backward(Im2col::Kept(&columns.unwrap()), &w, Some(&y), &dy, &g, true);
            let (pooled, winners, columns) = forward_pooled(&x, &w, &b, &g, true);
            let fused = backward_pooled(Im2col::Kept(&columns.unwrap()), &w, &winners, &dy[..pooled.len()], &g, true);
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            (bits(y), bits(pooled), winners, [plain.x.unwrap(), plain.weight, plain.bias, fused.x.unwrap(), fused.weight, fused.bias].map(bits))
        };
        let baseline = run(Level::Baseline);
        let levels = Level::available();
        assert!(levels.len() > 1 || !cfg!(target_arch = "x86_64"), "an x86-64 CPU of this decade has AVX2: {levels:?}");
        for level in levels {
            assert!(run(level) == baseline, "{level:?} differs from the baseline");
        }
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let matrix: Vec<f32> = (0..11 * 3).map(|i| i as f32).collect();
        let expected: Vec<f32> = (0..3).flat_map(|c| (0..11).map(move |r| (r * 3 + c) as f32)).collect();
        assert_eq!(transpose(&matrix, 11, 3), expected);
    }

    #[test]
    fn row_sums_add_each_row_front_to_back() {
        let mut matrix: Vec<f32> = (0..11 * 13).map(|i| 1.0 / (i as f32 + 1.0)).collect();
        matrix[13..26].fill(-0.0);
        let bits = |sums: Vec<f32>| sums.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let expected: Vec<f32> = matrix.chunks(13).map(|row| row.iter().sum()).collect();
        assert_eq!(bits(row_sums(&matrix, 13)), bits(expected));
    }
}
