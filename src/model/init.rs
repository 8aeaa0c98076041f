//! Keras' `random_normal` initialisation from our own seeded generator, so a run's weights
//! depend only on its seed (not on Burn's global RNG or the thread schedule).

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha12Rng;
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Draws `N(0, std)` weights for a convolution and zeroes its bias.
pub fn init_conv(conv: &mut Conv2d, std: f64, rng: &mut ChaCha12Rng, device: &Device) {
    let shape = conv.weight.dims();
    conv.weight = Param::from_tensor(normal(shape, std, rng, device));
    conv.bias = conv.bias.as_ref().map(|b| Param::from_tensor(Tensor::zeros(b.dims(), device)));
}

/// Draws `N(0, std)` weights for a dense layer and zeroes its bias.
pub fn init_linear(linear: &mut Linear, std: f64, rng: &mut ChaCha12Rng, device: &Device) {
    let shape = linear.weight.dims();
    linear.weight = Param::from_tensor(normal(shape, std, rng, device));
    linear.bias = linear.bias.as_ref().map(|b| Param::from_tensor(Tensor::zeros(b.dims(), device)));
}

fn normal<const D: usize>(shape: [usize; D], std: f64, rng: &mut ChaCha12Rng, device: &Device) -> Tensor<D> {
    let dist = Normal::new(0.0f32, std as f32).expect("std checked positive by the config");
    let values: Vec<f32> = (0..shape.iter().product()).map(|_| dist.sample(rng)).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// PyTorch's default for a dense layer: weights and bias uniform in `±1/sqrt(inputs)`, drawn
/// from our generator (Burn's own initialisers draw from a global one).
pub fn init_linear_uniform(linear: &mut Linear, rng: &mut ChaCha12Rng, device: &Device) {
    let [inputs, _] = linear.weight.dims();
    let bound = 1.0 / (inputs as f32).sqrt();
    let mut uniform = |shape: &[usize]| {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-bound..=bound)).collect();
        TensorData::new(values, shape.to_vec())
    };
    linear.weight = Param::from_tensor(Tensor::from_data(uniform(&linear.weight.dims()), device));
    linear.bias = linear.bias.as_ref().map(|b| Param::from_tensor(Tensor::from_data(uniform(&b.dims()), device)));
}
