//! 2x2 max pooling with stride 2 ('valid': an odd last row or column is dropped), on
//! contiguous NCHW `f32` slices, parallel over channel planes.

use rayon::prelude::*;

/// Sizes of one pooling: input `[batch, channels, height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Channels per image.
    pub channels: usize,
    /// Input rows per plane.
    pub height: usize,
    /// Input columns per plane.
    pub width: usize,
}

impl PoolGeometry {
    /// Shape of the pooled output.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.out_height(), self.out_width()]
    }

    /// Images times channels: the number of independent planes.
    fn planes(&self) -> usize {
        self.batch * self.channels
    }

    /// Output rows per plane.
    pub fn out_height(&self) -> usize {
        self.height / 2
    }

    /// Output columns per plane.
    pub fn out_width(&self) -> usize {
        self.width / 2
    }

    fn out_len(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Offsets within an input plane of the four pixels output `(oy, ox)` looks at, row-major.
    fn window(&self, oy: usize, ox: usize) -> [usize; 4] {
        let top = 2 * oy * self.width + 2 * ox;
        [top, top + 1, top + self.width, top + self.width + 1]
    }
}

/// The maximum of every 2x2 window.
pub fn forward(x: &[f32], g: &PoolGeometry) -> Vec<f32> {
    let len = g.planes() * g.out_len();
    let mut y = Vec::with_capacity(len);
    y.spare_capacity_mut()[..len].par_chunks_mut(g.out_len()).zip(x.par_chunks(g.height * g.width)).for_each(|(y, x)| {
        for oy in 0..g.out_height() {
            for ox in 0..g.out_width() {
                y[oy * g.out_width() + ox].write(g.window(oy, ox).iter().map(|&i| x[i]).fold(f32::NEG_INFINITY, f32::max));
            }
        }
    });
    // SAFETY: every output of every plane was written above.
    unsafe { y.set_len(len) };
    y
}

/// The input gradient: each output's gradient goes to the first pixel of its window that holds
/// the maximum (row-major, as TensorFlow picks among ties).
///
/// Every input pixel is written once (not zero-filled first, which was a share of each step):
/// the window's others get 0, as do an odd last row and column, which no window reads.
pub fn backward(x: &[f32], y: &[f32], dy: &[f32], g: &PoolGeometry) -> Vec<f32> {
    let mut dx = Vec::with_capacity(x.len());
    let planes = dx.spare_capacity_mut()[..x.len()].par_chunks_mut(g.height * g.width).zip(x.par_chunks(g.height * g.width));
    planes.zip(y.par_chunks(g.out_len()).zip(dy.par_chunks(g.out_len()))).for_each(|((dx, x), (y, dy))| {
        for oy in 0..g.out_height() {
            for ox in 0..g.out_width() {
                let out = oy * g.out_width() + ox;
                let window = g.window(oy, ox);
                let argmax = window.iter().position(|&i| x[i] == y[out]).unwrap_or(0);
                for (k, &i) in window.iter().enumerate() {
                    // `+ 0.0` turns a -0.0 gradient into the +0.0 that adding it to 0 gave.
                    dx[i].write(if k == argmax { dy[out] + 0.0 } else { 0.0 });
                }
            }
        }
        for row in dx.chunks_mut(g.width).take(2 * g.out_height()) {
            row[2 * g.out_width()..].iter_mut().for_each(|v| _ = v.write(0.0));
        }
        dx[2 * g.out_height() * g.width..].iter_mut().for_each(|v| _ = v.write(0.0));
    });
    // SAFETY: every pixel of every plane was written above: the windows' pixels, then the
    // columns right of them and the rows below them.
    unsafe { dx.set_len(x.len()) };
    dx
}
