//! Batch normalisation with the batch's own statistics (training mode), optionally followed by
//! a residual add and a ReLU, on contiguous `[batch, channels, positions]` `f32` slices: an NCHW
//! activation (positions = height * width) or a `[batch, features]` matrix (one position).
//!
//! Burn's generic batch norm swaps the batch and channel axes (a layout copy each way) and runs
//! about a dozen element-wise passes, each into a new tensor; the ResNet's ReLUs and residual
//! adds are more passes. Here the statistics take two reads, the output one write, and the
//! backward pass two. Work is cut into blocks of whole images that depend only on the shapes;
//! per-block sums are added in block order, in f64, so no result depends on the thread count.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::simd::Level;

/// Sizes of one batch norm: input `[batch, channels, positions]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormGeometry {
    pub batch: usize,
    pub channels: usize,
    /// Values per image and channel (1 for a feature matrix).
    pub positions: usize,
    /// The SIMD level the loops run at: the CPU's widest (a test picks each in turn).
    pub simd: Level,
}

impl NormGeometry {
    /// The geometry of an input of `shape`: `[batch, channels, ...]`.
    pub fn of(shape: &[usize]) -> Self {
        assert!(shape.len() >= 2, "a batch norm's input has a batch and a channel axis: {shape:?}");
        Self { batch: shape[0], channels: shape[1], positions: shape[2..].iter().product(), simd: Level::detected() }
    }

    fn image_len(&self) -> usize {
        self.channels * self.positions
    }

    /// Values over which each channel's statistics are taken.
    fn count(&self) -> f64 {
        (self.batch * self.positions) as f64
    }

    /// Values per block: whole images, about 64 Ki values (shapes only, never threads).
    fn block_len(&self) -> usize {
        (65_536 / self.image_len().max(1)).clamp(1, self.batch.max(1)) * self.image_len()
    }
}

/// The statistics of one channel over the batch, and gamma over the standard deviation.
#[derive(Debug, Clone, Copy)]
struct Channel {
    mean: f32,
    inv_std: f32,
    scale: f32,
}

/// Per-channel batch statistics, as the forward pass computed them.
#[derive(Debug, Clone)]
pub struct Statistics {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Biased variance per channel (divided by the count, as Burn's batch norm feeds its
    /// running variance).
    pub variance: Vec<f32>,
}

impl Statistics {
    /// The means as a `[channels]` flex tensor.
    pub fn mean_tensor(&self) -> burn::backend::flex::FlexTensor {
        super::flex_tensor(self.mean.clone(), [self.mean.len()])
    }

    /// The variances as a `[channels]` flex tensor.
    pub fn variance_tensor(&self) -> burn::backend::flex::FlexTensor {
        super::flex_tensor(self.variance.clone(), [self.variance.len()])
    }

    fn channels(&self, gamma: &[f32], epsilon: f64) -> Vec<Channel> {
        let per_channel = self.mean.iter().zip(&self.variance).zip(gamma);
        per_channel
            .map(|((&mean, &variance), &gamma)| {
                let inv_std = (1.0 / (f64::from(variance) + epsilon).sqrt()) as f32;
                Channel { mean, inv_std, scale: gamma * inv_std }
            })
            .collect()
    }
}

/// The sum of `f(a[i], b[i])` over the slices, in sixteen interleaved partial sums (one sum
/// alone waits on each addition's latency; sixteen fill an AVX-512 register or two AVX2 ones),
/// so the order is the same at every SIMD level.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    const LANES: usize = 16;
    let mut lanes = [0.0f32; LANES];
    let (a, b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a.remainder().iter().zip(b.remainder()).map(|(&a, &b)| f(a, b)).sum();
    for (a, b) in a.zip(b) {
        for (lane, sum) in lanes.iter_mut().enumerate() {
            *sum += f(a[lane], b[lane]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `K` per-channel sums over the batch: `run(offset, channel)` gives one image's partial sums
/// for a channel whose values start at `offset`. Blocks of images run in parallel; their sums
/// are added in block order, in f64.
fn channel_sums<const K: usize>(g: &NormGeometry, run: impl Fn(usize, usize) -> [f32; K] + Sync) -> Vec<[f64; K]> {
    let block_len = g.block_len();
    let blocks = (g.batch * g.image_len()).div_ceil(block_len);
    let partials: Vec<Vec<[f64; K]>> = (0..blocks)
        .into_par_iter()
        .map(|block| {
            g.simd.run(#[inline(always)] || {
                let mut sums = vec![[0.0f64; K]; g.channels];
                let end = ((block + 1) * block_len).min(g.batch * g.image_len());
                for image in (block * block_len..end).step_by(g.image_len()) {
                    for (c, sum) in sums.iter_mut().enumerate() {
                        let values = run(image + c * g.positions, c);
                        sum.iter_mut().zip(values).for_each(|(s, v)| *s += f64::from(v));
                    }
                }
                sums
            })
        })
        .collect();
    let mut total = vec![[0.0f64; K]; g.channels];
    for block in partials {
        for (t, s) in total.iter_mut().zip(block) {
            t.iter_mut().zip(s).for_each(|(t, s)| *t += s);
        }
    }
    total
}

/// A new `[batch, channels, positions]` vector whose every run of one image's channel is written
/// by `write(offset, channel, run)`, `offset` being the run's start. Blocks run in parallel,
/// each writing its own fresh pages (the vector is not zero-filled first).
fn map_runs(g: &NormGeometry, write: impl Fn(usize, usize, &mut [MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    let (len, block_len) = (g.batch * g.image_len(), g.block_len());
    let mut out = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len].par_chunks_mut(block_len).enumerate().for_each(|(block, out)| {
        g.simd.run(#[inline(always)] || {
            for (i, run) in out.chunks_mut(g.positions).enumerate() {
                let offset = block * block_len + i * g.positions;
                write(offset, offset / g.positions % g.channels, run);
            }
        })
    });
    // SAFETY: the blocks tile the vector, and `write` writes every value of every run.
    unsafe { out.set_len(len) };
    out
}

/// `relu(batch_norm(x) + residual)` (each step when asked for) with the batch's statistics,
/// and those statistics.
pub fn forward(x: &[f32], gamma: &[f32], beta: &[f32], residual: Option<&[f32]>, relu: bool, epsilon: f64, g: &NormGeometry) -> (Vec<f32>, Statistics) {
    let n = g.positions;
    let run = |offset: usize| &x[offset..][..n];
    let sums = channel_sums(g, #[inline(always)] |offset, _| [lane_sum(run(offset), run(offset), |x, _| x)]);
    let mean: Vec<f32> = sums.iter().map(|[sum]| (sum / g.count()) as f32).collect();
    let squares = channel_sums(g, #[inline(always)] |offset, c| {
        let m = mean[c];
        [lane_sum(run(offset), run(offset), |x, _| (x - m) * (x - m))]
    });
    let variance = squares.iter().map(|[sum]| (sum / g.count()) as f32).collect();
    let statistics = Statistics { mean, variance };
    let channels = statistics.channels(gamma, epsilon);
    let y = map_runs(g, #[inline(always)] |offset, c, out| {
        let Channel { mean, scale, .. } = channels[c];
        let shift = beta[c] - mean * scale;
        let x = &x[offset..][..out.len()];
        match residual {
            Some(residual) => {
                let residual = &residual[offset..][..out.len()];
                for ((o, &x), &r) in out.iter_mut().zip(x).zip(residual) {
                    let v = x * scale + shift + r;
                    o.write(if relu { v.max(0.0) } else { v });
                }
            }
            None => {
                for (o, &x) in out.iter_mut().zip(x) {
                    let v = x * scale + shift;
                    o.write(if relu { v.max(0.0) } else { v });
                }
            }
        }
    });
    (y, statistics)
}

/// Gradients of [`forward`] with respect to its input, gamma, beta and residual (the gradient
/// after the ReLU, when there was a residual).
pub struct NormGradients {
    /// Gradient for the input.
    pub x: Vec<f32>,
    /// Gradient for gamma.
    pub gamma: Vec<f32>,
    /// Gradient for beta.
    pub beta: Vec<f32>,
    /// Gradient for the residual, when it was given.
    pub residual: Option<Vec<f32>>,
}

/// Back-propagates `dy`, the loss gradient for [`forward`]'s output `y` (which the ReLU's
/// gradient needs; `None` without ReLU), given its input `x` and `statistics`.
pub fn backward(
    x: &[f32],
    relu_output: Option<&[f32]>,
    dy: &[f32],
    gamma: &[f32],
    statistics: &Statistics,
    epsilon: f64,
    residual: bool,
    g: &NormGeometry,
) -> NormGradients {
    // The gradient before the ReLU: the residual's, and what the normalisation receives.
    let masked = relu_output.map(|y| {
        map_runs(g, #[inline(always)] |offset, _, dz| {
            for ((dz, &dy), &y) in dz.iter_mut().zip(&dy[offset..]).zip(&y[offset..]) {
                dz.write(if y > 0.0 { dy } else { 0.0 });
            }
        })
    });
    let dz = masked.as_deref().unwrap_or(dy);
    let channels = statistics.channels(gamma, epsilon);
    let n = g.positions;
    let sums = channel_sums(g, #[inline(always)] |offset, c| {
        let (m, dz, x) = (channels[c].mean, &dz[offset..][..n], &x[offset..][..n]);
        [lane_sum(dz, dz, |dz, _| dz), lane_sum(dz, x, |dz, x| dz * (x - m))]
    });
    let count = g.count();
    // dx = gamma * inv_std * (dz - mean(dz) - xhat * mean(dz * xhat)), as a * dz + b * (x - mean) + c.
    let coefficients: Vec<[f32; 3]> = sums
        .iter()
        .zip(&channels)
        .map(|(&[sum_dz, sum_dz_centred], channel)| {
            let (scale, inv_std) = (f64::from(channel.scale), f64::from(channel.inv_std));
            [scale as f32, (-scale * inv_std * inv_std * sum_dz_centred / count) as f32, (-scale * sum_dz / count) as f32]
        })
        .collect();
    let dx = map_runs(g, #[inline(always)] |offset, c, out| {
        let ([a, b, constant], mean) = (coefficients[c], channels[c].mean);
        let (dz, x) = (&dz[offset..][..out.len()], &x[offset..][..out.len()]);
        for ((o, &dz), &x) in out.iter_mut().zip(dz).zip(x) {
            o.write(a * dz + b * (x - mean) + constant);
        }
    });
    let gamma_grad = sums.iter().zip(&channels).map(|(&[_, sum_dz_centred], channel)| (sum_dz_centred * f64::from(channel.inv_std)) as f32).collect();
    let beta_grad = sums.iter().map(|&[sum_dz, _]| sum_dz as f32).collect();
    let residual = residual.then(|| masked.unwrap_or_else(|| dy.to_vec()));
    NormGradients { x: dx, gamma: gamma_grad, beta: beta_grad, residual }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook batch norm in f64, `[batch, channels, positions]`: output, mean, biased variance.
    fn reference(x: &[f32], gamma: &[f32], beta: &[f32], g: &NormGeometry, epsilon: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let at = |n: usize, c: usize, p: usize| f64::from(x[(n * g.channels + c) * g.positions + p]);
        let count = g.count();
        let mut y = vec![0.0; x.len()];
        let (mut means, mut variances) = (Vec::new(), Vec::new());
        for c in 0..g.channels {
            let all = || (0..g.batch).flat_map(move |n| (0..g.positions).map(move |p| (n, p)));
            let mean = all().map(|(n, p)| at(n, c, p)).sum::<f64>() / count;
            let variance = all().map(|(n, p)| (at(n, c, p) - mean).powi(2)).sum::<f64>() / count;
            for (n, p) in all() {
                y[(n * g.channels + c) * g.positions + p] = (at(n, c, p) - mean) / (variance + epsilon).sqrt() * f64::from(gamma[c]) + f64::from(beta[c]);
            }
            means.push(mean);
            variances.push(variance);
        }
        (y, means, variances)
    }

    fn grid(len: usize, modulus: usize, scale: f32, offset: f32) -> Vec<f32> {
        (0..len).map(|i| (i * 7919 % modulus) as f32 * scale + offset).collect()
    }

    /// Output and statistics equal the textbook definition, for images (several blocks, one
    /// of them partial) and a feature matrix; a residual and a ReLU are added after.
    #[test]
    fn forward_equals_the_definition() {
        for shape in [[70usize, 3, 400], [37, 5, 1]] {
            let g = NormGeometry::of(&shape);
            let len = shape.iter().product();
            let x = grid(len, 101, 0.13, 4.0);
            let (gamma, beta) = ([1.5, -0.5, 2.0, 1.0, 0.25], [0.1, 0.0, -0.3, 0.2, 1.0]);
            let (gamma, beta) = (&gamma[..g.channels], &beta[..g.channels]);
            let (expected, means, variances) = reference(&x, gamma, beta, &g, 1e-5);
            let (y, statistics) = forward(&x, gamma, beta, None, false, 1e-5, &g);
            for (c, (&mean, &variance)) in means.iter().zip(&variances).enumerate() {
                assert!((f64::from(statistics.mean[c]) - mean).abs() < 1e-5 && (f64::from(statistics.variance[c]) - variance).abs() < 1e-4 * variance);
            }
            assert!(y.iter().zip(&expected).all(|(&y, &e)| (f64::from(y) - e).abs() < 1e-4), "{shape:?}");
            let residual = grid(len, 13, -0.2, 1.0);
            let (fused, _) = forward(&x, gamma, beta, Some(&residual), true, 1e-5, &g);
            let layered: Vec<f32> = y.iter().zip(&residual).map(|(y, r)| (y + r).max(0.0)).collect();
            assert!(fused.iter().zip(&layered).all(|(a, b)| (a - b).abs() < 1e-5));
            assert!(fused.contains(&0.0) && fused.iter().any(|&v| v > 0.0));
        }
    }

    /// The input, gamma, beta and residual gradients equal central differences of a weighted
    /// sum of the output, in f64 reference arithmetic.
    #[test]
    fn backward_equals_numerical_gradients() {
        let g = NormGeometry::of(&[6, 2, 5]);
        let x = grid(60, 17, 0.3, -2.0);
        let residual = grid(60, 7, 0.5, -1.0);
        let (gamma, beta) = ([1.3f32, -0.7], [0.2f32, 0.4]);
        let weights = grid(60, 11, 0.1, -0.5);
        let loss = |x: &[f32], gamma: &[f32], beta: &[f32], residual: &[f32]| -> f64 {
            let (y, _, _) = reference(x, gamma, beta, &g, 1e-5);
            y.iter().zip(residual).zip(&weights).map(|((y, &r), &w)| (y + f64::from(r)).max(0.0) * f64::from(w)).sum()
        };
        let (y, statistics) = forward(&x, &gamma, &beta, Some(&residual), true, 1e-5, &g);
        let grads = backward(&x, Some(&y), &weights, &gamma, &statistics, 1e-5, true, &g);
        let numerical = |values: &[f32], i: usize, f: &dyn Fn(&[f32]) -> f64| {
            let h = 1e-2;
            let (mut plus, mut minus) = (values.to_vec(), values.to_vec());
            plus[i] += h;
            minus[i] -= h;
            (f(&plus) - f(&minus)) / (2.0 * f64::from(h))
        };
        let close = |analytic: f32, numeric: f64, what: &str| assert!((f64::from(analytic) - numeric).abs() < 2e-3 * (1.0 + numeric.abs()), "{what}: {analytic} vs {numeric}");
        for i in 0..60 {
            close(grads.x[i], numerical(&x, i, &|x| loss(x, &gamma, &beta, &residual)), &format!("x[{i}]"));
            close(grads.residual.as_ref().unwrap()[i], numerical(&residual, i, &|r| loss(&x, &gamma, &beta, r)), &format!("residual[{i}]"));
        }
        for c in 0..2 {
            close(grads.gamma[c], numerical(&gamma, c, &|gm| loss(&x, gm, &beta, &residual)), &format!("gamma[{c}]"));
            close(grads.beta[c], numerical(&beta, c, &|b| loss(&x, &gamma, b, &residual)), &format!("beta[{c}]"));
        }
    }

    /// Every SIMD level this machine has gives the baseline's bits, forward and backward.
    #[test]
    fn every_simd_level_gives_the_same_bits() {
        let x = grid(9 * 4 * 49, 31, 0.21, -3.0);
        let dy = grid(x.len(), 19, 0.05, -0.4);
        let run = |simd: Level| {
            let g = NormGeometry { simd, ..NormGeometry::of(&[9, 4, 49]) };
            let (y, statistics) = forward(&x, &[1.0, 2.0, 0.5, -1.0], &[0.0, 0.1, -0.1, 0.3], Some(&dy), true, 1e-5, &g);
            let grads = backward(&x, Some(&y), &dy, &[1.0, 2.0, 0.5, -1.0], &statistics, 1e-5, true, &g);
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            [bits(&y), bits(&grads.x), bits(&grads.gamma), bits(&grads.beta), bits(&statistics.variance)]
        };
        let baseline = run(Level::Baseline);
        for level in Level::available() {
            assert!(run(level) == baseline, "{level:?} differs from the baseline");
        }
    }
}
