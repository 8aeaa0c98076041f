//! The losses of the methods, as small pure functions of embeddings (lightly's shape): each
//! has a test against a value worked out by hand on a tiny batch.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Tensor, TensorData};

use crate::model::norms::{centre_columns, l2_normalize};

/// Mean cross-entropy of `logits` `[batch, classes]` against class `targets`, computed from the
/// logits as Keras does for a softmax output (huge logits give large but finite losses).
pub fn cross_entropy(logits: Tensor<2>, targets: &[usize]) -> Tensor<1> {
    let targets: Vec<Option<usize>> = targets.iter().copied().map(Some).collect();
    masked_cross_entropy(logits, &targets)
}

/// The cross-entropy of the rows of `logits` that have a target, summed and divided by all
/// rows (FixMatch's unlabeled loss: images without a pseudo-label count in the mean as 0).
pub fn masked_cross_entropy(logits: Tensor<2>, targets: &[Option<usize>]) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    let one_hot = one_hot(targets, classes, &logits.device());
    (log_softmax(logits, 1) * one_hot).sum().neg().div_scalar(batch as f32)
}

/// `[batch, classes]` one-hot rows; a row without a target is all 0.
fn one_hot(targets: &[Option<usize>], classes: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0f32; targets.len() * classes];
    for (row, t) in targets.iter().enumerate() {
        if let Some(t) = t {
            values[row * classes + t] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(values, [targets.len(), classes]), device)
}

/// Knowledge distillation (Hinton et al. 2015): the KL divergence from the teacher's class
/// distribution to the student's, both softened by `temperature`, averaged over the rows and
/// scaled by the temperature squared so that its gradients keep their size. No gradient flows
/// into the teacher; a student equal to its teacher has loss 0.
pub fn distillation(student: Tensor<2>, teacher: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [rows, _] = student.dims();
    let teacher = log_softmax(teacher.detach().div_scalar(temperature), 1);
    let student = log_softmax(student.div_scalar(temperature), 1);
    (teacher.clone().exp() * (teacher - student)).sum().mul_scalar(temperature * temperature / rows as f64)
}

/// SimCLR's NT-Xent (normalised temperature-scaled cross-entropy) of two views' embeddings
/// `[n, d]`: each of the 2n embeddings must pick its other view among the 2n - 1 others, by
/// cosine similarity over `temperature`.
pub fn nt_xent(z1: Tensor<2>, z2: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [n, _] = z1.dims();
    let device = z1.device();
    let z = l2_normalize(Tensor::cat(vec![z1, z2], 0));
    let similarities = z.clone().matmul(z.transpose()).div_scalar(temperature);
    // An embedding is not its own candidate: its similarity to itself leaves the softmax.
    let diagonal = Tensor::<2>::eye(2 * n, &device).equal_elem(1.0);
    let logits = similarities.mask_fill(diagonal, -1e9);
    let positives: Vec<usize> = (0..2 * n).map(|i| (i + n) % (2 * n)).collect();
    cross_entropy(logits, &positives)
}

/// BYOL's loss: `2 - 2 cos(p, z)` averaged over the batch, for the online prediction `p` of
/// one view and the target projection `z` of the other (no gradient flows into `z`).
pub fn byol_regression(p: Tensor<2>, z: Tensor<2>) -> Tensor<1> {
    let [n, _] = p.dims();
    let cosine = (l2_normalize(p) * l2_normalize(z.detach())).sum();
    cosine.mul_scalar(-2.0 / n as f64).add_scalar(2.0)
}

/// Weights of VICReg's three terms (the paper's defaults 25, 25, 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VicRegWeights {
    /// Invariance: mean squared distance between the views.
    pub invariance: f64,
    /// Variance: hinge on each dimension's standard deviation.
    pub variance: f64,
    /// Covariance: off-diagonal covariance squared.
    pub covariance: f64,
}

/// VICReg (Bardes et al. 2022) of two views' embeddings `[n, d]`:
/// `λ mse(z1, z2) + μ (v(z1) + v(z2)) + ν (c(z1) + c(z2))`, where `v` is the mean over
/// dimensions of `relu(1 - sqrt(var + 1e-4))` (unbiased variance) and `c` the sum of squared
/// off-diagonal covariances divided by `d`.
pub fn vicreg(z1: Tensor<2>, z2: Tensor<2>, weights: VicRegWeights) -> Tensor<1> {
    let invariance = (z1.clone() - z2.clone()).powf_scalar(2.0).mean();
    let variance = variance_hinge(z1.clone()) + variance_hinge(z2.clone());
    let covariance = off_diagonal_covariance(z1) + off_diagonal_covariance(z2);
    invariance.mul_scalar(weights.invariance) + variance.mul_scalar(weights.variance) + covariance.mul_scalar(weights.covariance)
}

/// `n - 1`, the unbiased divisor, but at least 1: the last batch of an epoch can hold a single
/// image, whose covariance is then 0 instead of 0/0 (its variance likewise).
fn unbiased_divisor(n: usize) -> f64 {
    n.saturating_sub(1).max(1) as f64
}

fn variance_hinge(z: Tensor<2>) -> Tensor<1> {
    let [n, d] = z.dims();
    let variance = if n > 1 { z.var(0) } else { Tensor::zeros([1, d], &z.device()) };
    variance.add_scalar(1e-4).sqrt().neg().add_scalar(1.0).clamp_min(0.0).mean()
}

fn off_diagonal_covariance(z: Tensor<2>) -> Tensor<1> {
    let [n, d] = z.dims();
    let centred = centre_columns(z);
    let covariance = centred.clone().transpose().matmul(centred).div_scalar(unbiased_divisor(n));
    off_diagonal(covariance).powf_scalar(2.0).sum().div_scalar(d as f64)
}

/// `m` with its diagonal set to zero.
fn off_diagonal(m: Tensor<2>) -> Tensor<2> {
    let [d, _] = m.dims();
    let diagonal: Tensor<2, Bool> = Tensor::<2>::eye(d, &m.device()).equal_elem(1.0);
    m.mask_fill(diagonal, 0.0)
}

/// Barlow Twins (Zbontar et al. 2021) of two views' embeddings `[n, d]`: each dimension is
/// standardised over the batch (biased variance), `C = z1ᵀ z2 / n` is their
/// cross-correlation, and the loss is `Σ (1 - C_ii)² + λ Σ_{i≠j} C_ij²`.
pub fn barlow_twins(z1: Tensor<2>, z2: Tensor<2>, lambda: f64) -> Tensor<1> {
    let [n, d] = z1.dims();
    let standardise = |z: Tensor<2>| {
        let std = z.clone().var_bias(0).add_scalar(1e-5).sqrt();
        centre_columns(z) / std
    };
    let correlation = standardise(z1).transpose().matmul(standardise(z2)).div_scalar(n as f64);
    let identity = Tensor::<2>::eye(d, &correlation.device());
    let on_diagonal = (correlation.clone() * identity).sum_dim(1).reshape([d]).neg().add_scalar(1.0).powf_scalar(2.0).sum();
    on_diagonal + off_diagonal(correlation).powf_scalar(2.0).sum().mul_scalar(lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(values: &[f32], rows: usize) -> Tensor<2> {
        let cols = values.len() / rows;
        Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]), &Device::flex())
    }

    fn value(t: Tensor<1>) -> f64 {
        t.into_scalar::<f32>() as f64
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "got {got}, want {want}");
    }

    #[test]
    fn cross_entropy_matches_the_closed_form_and_stays_finite_for_huge_logits() {
        let logits = tensor(&[0.0, 0.0, 1000.0, 0.0], 2);
        // Row 1: ln 2. Row 2: target logit 0 vs 1000, loss 1000.
        close(value(cross_entropy(logits, &[1, 1])), (std::f64::consts::LN_2 + 1000.0) / 2.0);
    }

    #[test]
    fn masked_cross_entropy_counts_unmasked_rows_in_the_mean_only() {
        // Row 1 (target 1): ln 2. Row 2 has no target. Mean over both rows: ln 2 / 2.
        let logits = tensor(&[0.0, 0.0, 5.0, -5.0], 2);
        close(value(masked_cross_entropy(logits.clone(), &[Some(1), None])), std::f64::consts::LN_2 / 2.0);
        assert_eq!(value(masked_cross_entropy(logits, &[None, None])), 0.0, "nothing passed, nothing to learn");
    }

    #[test]
    fn distillation_by_hand_and_zero_for_the_teacher_itself() {
        let teacher = tensor(&[2.0, 0.0, -1.0, 3.0, 3.0, 0.5], 2);
        assert_eq!(value(distillation(teacher.clone(), teacher.clone(), 1.0)), 0.0);
        // One row, teacher (ln 3, 0): p = (3/4, 1/4); student (0, 0): q = (1/2, 1/2).
        // KL = 3/4 ln(3/2) + 1/4 ln(1/2). At temperature 2 the teacher is (ln 3 / 2, 0):
        // p = (√3, 1) / (√3 + 1), and the loss is 4 KL.
        let teacher = tensor(&[3f32.ln(), 0.0], 1);
        let student = tensor(&[0.0, 0.0], 1);
        close(value(distillation(student.clone(), teacher.clone(), 1.0)), 0.75 * 1.5f64.ln() + 0.25 * 0.5f64.ln());
        let root = 3f64.sqrt();
        let (p0, p1) = (root / (root + 1.0), 1.0 / (root + 1.0));
        close(value(distillation(student, teacher, 2.0)), 4.0 * (p0 * (2.0 * p0).ln() + p1 * (2.0 * p1).ln()));
    }

    #[test]
    fn nt_xent_of_two_pairs_by_hand() {
        // z1 = (1,0), (0,1); z2 = (1,0), (1,0). Unit vectors already; temperature 1.
        // Similarities of the 4 embeddings a=(1,0), b=(0,1), c=(1,0), d=(1,0):
        // a: b 0, c 1, d 1 -> positive c: ln(e^0 + e^1 + e^1) - 1
        // b: a 0, c 0, d 0 -> positive d: ln 3
        // c: a 1, b 0, d 1 -> positive a: ln(2e + 1) - 1
        // d: a 1, b 0, c 1 -> positive b: ln(2e + 1) - 0
        let e = std::f64::consts::E;
        let want = (3.0 * (2.0 * e + 1.0).ln() - 2.0 + 3f64.ln()) / 4.0;
        close(value(nt_xent(tensor(&[1.0, 0.0, 0.0, 1.0], 2), tensor(&[1.0, 0.0, 1.0, 0.0], 2), 1.0)), want);
        // Temperature divides every similarity: 0.5 doubles them.
        let want = (3.0 * (2.0 * e * e + 1.0).ln() - 4.0 + 3f64.ln()) / 4.0;
        close(value(nt_xent(tensor(&[1.0, 0.0, 0.0, 1.0], 2), tensor(&[1.0, 0.0, 1.0, 0.0], 2), 0.5)), want);
    }

    #[test]
    fn byol_regression_by_hand() {
        // Pair 1 aligned (cos 1), pair 2 orthogonal (cos 0), lengths do not matter:
        // mean of 2 - 2 cos = (0 + 2) / 2.
        close(value(byol_regression(tensor(&[2.0, 0.0, 0.0, 3.0], 2), tensor(&[5.0, 0.0, 1.0, 0.0], 2))), 1.0);
    }

    #[test]
    fn vicreg_terms_by_hand() {
        // z1 = [[0,0],[2,2]], z2 = [[0,0],[2,0]].
        // Invariance: squared differences 0,0,0,4 -> mean 1.
        // Variance: z1 columns var 2 each (unbiased) -> relu(1 - sqrt(2.0001)) = 0;
        //   z2 column 0 var 2 -> 0, column 1 var 0 -> 1 - sqrt(1e-4) = 0.99; mean 0.495.
        // Covariance: z1 cov off-diagonal 2 -> 2 * 2² / 2 = 4; z2 off-diagonal 0 -> 0.
        let z1 = tensor(&[0.0, 0.0, 2.0, 2.0], 2);
        let z2 = tensor(&[0.0, 0.0, 2.0, 0.0], 2);
        let only = |invariance, variance, covariance| value(vicreg(z1.clone(), z2.clone(), VicRegWeights { invariance, variance, covariance }));
        close(only(1.0, 0.0, 0.0), 1.0);
        close(only(0.0, 1.0, 0.0), 0.495);
        close(only(0.0, 0.0, 1.0), 4.0);
        close(only(25.0, 25.0, 1.0), 25.0 + 25.0 * 0.495 + 4.0);
        // A batch of one image (an epoch's last): no spread, no covariance, a finite loss.
        let one = |values: &[f32]| tensor(values, 1);
        let single = value(vicreg(one(&[1.0, 2.0]), one(&[1.0, 0.0]), VicRegWeights { invariance: 1.0, variance: 1.0, covariance: 1.0 }));
        close(single, 2.0 + 2.0 * 0.99);
    }

    #[test]
    fn barlow_twins_by_hand() {
        // Batch of 2: every standardised column is (-1, 1) or (1, -1) (up to the 1e-5 eps).
        // z1 columns: (-1,1), (-1,1); z2 columns: (-1,1), (1,-1).
        // C = z1ᵀ z2 / 2: C00 = 1, C01 = -1, C10 = 1, C11 = -1.
        // On-diagonal: (1-1)² + (1-(-1))² = 4; off-diagonal: 1 + 1 = 2.
        let z1 = tensor(&[0.0, 1.0, 2.0, 3.0], 2);
        let z2 = tensor(&[5.0, 1.0, 7.0, 0.0], 2);
        let eps = 1.0 / (1.0f64 + 1e-5); // the variance 1 gains 1e-5
        close(value(barlow_twins(z1.clone(), z2.clone(), 0.0)), (1.0 - eps).powi(2) + (1.0 + eps).powi(2));
        close(value(barlow_twins(z1, z2, 0.5)), (1.0 - eps).powi(2) + (1.0 + eps).powi(2) + 0.5 * 2.0 * eps * eps);
    }
}
