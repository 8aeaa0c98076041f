//! The encoders' convolution layers (the notebook ConvNet's conv + ReLU (+ 2x2 max pool), the
//! ResNet's plain convolutions) and training-mode batch norms (the ResNet's and the
//! projectors', with the residual add and ReLU after them), and the one place that chooses who
//! computes them
//! (`model.kernels`, and the device): our CPU kernels (the crate-private `kernels` module, which exist for Burn
//! flex only) or Burn's standard ops, which run on any Burn device. The encoders call these
//! functions and never name either.

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::kernels;

/// Who computes the encoders' convolution and pooling layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kernels {
    /// Our fused kernels where the device has them (the CPU): conv + ReLU + pool in one pass,
    /// the fastest there. Elsewhere Burn's standard ops.
    #[default]
    Own,
    /// Burn's standard conv2d, relu and max_pool2d, on every device.
    Burn,
}

impl Kernels {
    /// Whether our fused kernels compute `x`: asked of each tensor, so that a model moved to
    /// another device follows it.
    fn fused<const D: usize>(self, x: &Tensor<D>) -> bool {
        self == Kernels::Own && x.device() == Device::flex()
    }
}

/// `relu(conv(x))` of a 'same'-padded `conv`.
pub fn conv2d_relu(kernels: Kernels, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match kernels.fused(&x) {
        true => kernels::conv2d_relu(conv, x),
        false => relu(conv.forward(x)),
    }
}

/// `pool(x)` of a 2x2, stride-2 max `pool`.
pub fn max_pool2x2(kernels: Kernels, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    match kernels.fused(&x) {
        true => kernels::max_pool2x2(pool, x),
        false => pool.forward(x),
    }
}

/// `conv(x)` of a symmetrically padded `conv` (the ResNet's).
pub fn conv2d(kernels: Kernels, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match kernels.fused(&x) && kernels::computes(conv) {
        true => kernels::conv2d(conv, x),
        false => conv.forward(x),
    }
}

/// `relu(norm(x) + residual)`, the add and the ReLU when asked for. Our kernel computes a
/// batch norm in training mode (the batch's statistics) in one pass with them; Burn's layers
/// compute the rest.
pub fn batch_norm<const D: usize>(kernels: Kernels, norm: &BatchNorm, x: Tensor<D>, residual: Option<Tensor<D>>, with_relu: bool) -> Tensor<D> {
    // Burn's BatchNorm::forward's own test for training mode.
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    if kernels.fused(&x) && training {
        return kernels::batch_norm_train(norm, x, residual, with_relu);
    }
    let y = norm.forward(x);
    let y = match residual {
        Some(residual) => y + residual,
        None => y,
    };
    if with_relu { relu(y) } else { y }
}

/// `pool(relu(conv(x)))`.
pub fn conv2d_relu_pool(kernels: Kernels, conv: &Conv2d, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    match kernels.fused(&x) {
        true => kernels::conv2d_relu_pool(conv, pool, x),
        false => pool.forward(relu(conv.forward(x))),
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha12Rng;

    use super::*;
    use crate::data::images::ImageShape;
    use crate::model::encoders::notebook::NotebookConfig;
    use crate::model::encoders::resnet::ResNetConfig;
    use crate::model::encoders::{EncoderKind, EncoderModule, ModelConfig};

    /// The whole notebook encoder, built from one seed, on either path: the same features and
    /// the same gradients for its weights and its input.
    #[test]
    fn both_paths_give_the_same_features_and_gradients() {
        let device = Device::flex().autodiff();
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        let values: Vec<f32> = (0..4 * 3 * 28 * 28).map(|_| rng.random_range(0.0..1.0)).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [4, 3, 28, 28]), &device).require_grad();
        let run = |kernels| {
            let config = ModelConfig { kernels, ..ModelConfig::default() };
            let encoder = NotebookConfig::default().init(&config, ImageShape::square(3, 28), &mut ChaCha12Rng::seed_from_u64(11), &device);
            let features = encoder.forward(x.clone());
            let weights = Tensor::<4>::from_data(TensorData::new((0..features.dims().iter().product()).map(|i| (i % 7) as f32 - 3.0).collect(), features.dims()), &device);
            let grads = (features.clone() * weights).sum().backward();
            let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
            [features, encoder.conv1.weight.grad(&grads).unwrap(), encoder.conv2.weight.grad(&grads).unwrap(), x.grad(&grads).unwrap()].map(values)
        };
        let (own, burn) = (run(Kernels::Own), run(Kernels::Burn));
        assert!(Kernels::Own.fused(&x) && !Kernels::Burn.fused(&x), "own is ours on the CPU, burn is Burn's");
        assert_same(&own, &burn, ["features", "conv1 weight grad", "conv2 weight grad", "input grad"]);
    }

    /// The same for the ResNet (every convolution ours or Burn's), in training mode: batch
    /// statistics, shortcuts and all.
    #[test]
    fn both_paths_give_the_same_resnet_features_and_gradients() {
        let device = Device::flex().autodiff();
        let mut rng = ChaCha12Rng::seed_from_u64(4);
        let values: Vec<f32> = (0..4 * 3 * 12 * 12).map(|_| rng.random_range(0.0..1.0)).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [4, 3, 12, 12]), &device).require_grad();
        let run = |kernels| {
            let (config, model) = (ResNetConfig { width: 8, blocks: vec![1, 1] }, ModelConfig { kernels, ..ModelConfig::default() });
            let net = config.init(&model, ImageShape::square(3, 12), &mut ChaCha12Rng::seed_from_u64(12), &device);
            let features = net.features(x.clone());
            let weights = Tensor::<2>::from_data(TensorData::new((0..features.dims().iter().product()).map(|i| (i % 5) as f32 - 2.0).collect(), features.dims()), &device);
            let grads = (features.clone() * weights).sum().backward();
            let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
            let features = features.into_data().try_to_vec::<f32>().unwrap();
            [features, values(net.stem.weight.grad(&grads).unwrap()), values(net.blocks[1].conv1.weight.grad(&grads).unwrap()), values(x.grad(&grads).unwrap())]
        };
        assert_same(&run(Kernels::Own), &run(Kernels::Burn), ["features", "stem weight grad", "block 2 conv1 weight grad", "input grad"]);
    }

    /// Each pair of value lists agrees to 1e-4 (relative beyond 1).
    fn assert_same(own: &[Vec<f32>; 4], burn: &[Vec<f32>; 4], what: [&str; 4]) {
        for (what, (own, burn)) in what.iter().zip(own.iter().zip(burn)) {
            assert_eq!(own.len(), burn.len(), "{what}");
            for (i, (a, b)) in own.iter().zip(burn).enumerate() {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what}[{i}]: own {a}, burn {b}");
            }
        }
    }
}
