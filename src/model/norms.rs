//! Row normalisation and column centring, shared by the losses and evaluation.

use burn::tensor::Tensor;

/// Rows scaled to unit length (zero rows stay zero).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// Columns centred on their mean over the batch (rows).
pub fn centre_columns(x: Tensor<2>) -> Tensor<2> {
    let mean = x.clone().mean_dim(0);
    x - mean
}
