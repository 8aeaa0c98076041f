//! Categorical cross-entropy on logits, as Keras computes it for a softmax output layer
//! (from the logits, so huge logits from raw 0..255 inputs give large but finite losses).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

/// Mean cross-entropy of `logits` `[batch, classes]` against class `targets`.
pub fn cross_entropy(logits: Tensor<2>, targets: &[usize], device: &Device) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    let one_hot = one_hot(targets, classes, device);
    (log_softmax(logits, 1) * one_hot).sum().neg().div_scalar(batch as f32)
}

/// `[batch, classes]` one-hot rows.
fn one_hot(targets: &[usize], classes: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0f32; targets.len() * classes];
    for (row, &t) in targets.iter().enumerate() {
        values[row * classes + t] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [targets.len(), classes]), device)
}

/// Row-wise argmax of `[batch, classes]` scores held on the host.
pub fn argmax_rows(values: &[f32], classes: usize) -> Vec<usize> {
    values
        .chunks(classes)
        .map(|row| {
            row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_closed_form_and_stays_finite_for_huge_logits() {
        let device = Device::flex();
        let logits = Tensor::from_data(TensorData::new(vec![0.0f32, 0.0, 1000.0, 0.0], [2, 2]), &device);
        let loss: f32 = cross_entropy(logits, &[1, 1], &device).into_scalar();
        // Row 1: ln 2. Row 2: target logit 0 vs 1000, loss 1000.
        assert!((loss - (std::f32::consts::LN_2 + 1000.0) / 2.0).abs() < 1e-3, "{loss}");
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax_rows(&[0.1, 0.7, 0.2, 0.5, 0.5, 0.0], 3), vec![1, 0]);
    }
}
