//! CPU kernels for the layers that dominate training, plugged into Burn as a backend extension:
//! the model keeps Burn's modules, parameters, optimizers and autodiff, and its forward pass
//! calls [`conv2d_relu`], [`max_pool2x2`], [`conv2d_relu_pool`] (the notebook ConvNet),
//! [`conv2d`] (the ResNet) and [`batch_norm_train`] (the ResNet and the projectors) instead of
//! the layers' own `forward`.
//!
//! Burn flex's generic convolution and batch norm spend most of a training step on layout
//! copies and element-wise passes for these small shapes; ours run GEMMs on cache-sized
//! im2col blocks (`conv.rs`), or one GEMM per kernel tap over a padded copy of the input where
//! planes are big (`shifted.rs`); a pooled first layer sums its weight gradient from the pool's
//! winners alone (`short_patch.rs`); and a batch norm in a few passes that also adds the
//! residual and applies the ReLU (`norm.rs`). The extension is implemented for Flex and
//! Autodiff over Flex, the backends this crate builds.

mod autodiff;
mod conv;
mod norm;
mod pool;
mod shifted;
mod short_patch;
mod simd;

use conv::ConvGeometry;
use norm::NormGeometry;
use pool::PoolGeometry;

use burn::backend::tensor::FloatTensor;
use burn::backend::flex::FlexTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{Shape, Tensor, TensorData};

/// Operations with our own kernels; implemented for Flex and for Autodiff over Flex.
#[backend_extension(Flex, Autodiff)]
pub trait KernelOps: Backend {
    /// `relu(conv2d(x, weight) + bias)` with Keras 'same' padding and the given stride.
    fn conv2d_relu(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, stride: usize) -> FloatTensor<Self>;

    /// 2x2 max pooling with stride 2 and no padding.
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `max_pool2x2(conv2d_relu(x, weight, bias, stride))`, computing only the convolution
    /// outputs the pool reads.
    fn conv2d_relu_pool(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, stride: usize) -> FloatTensor<Self>;

    /// `conv2d(x, weight) + bias` over `padding` zero rows and columns on every side.
    fn conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, stride: usize, padding: usize) -> FloatTensor<Self>;

    /// `batch_norm(x)`, then ReLU when `relu`, with the batch's own statistics, which it returns
    /// too: the output, the mean and the biased variance.
    fn batch_norm_train(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f64, relu: bool) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `relu(batch_norm(x) + residual)` with the batch's own statistics, as
    /// [`KernelOps::batch_norm_train`] (a residual block's end).
    fn batch_norm_add_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// A training-mode batch norm's output, batch mean and biased batch variance (the trait
/// spells the tuple out: its macro reads the signature's syntax).
type NormOutput<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

/// The SIMD level our kernels run at on this CPU (chosen at run time), as provenance and the version line name it.
pub fn simd_level() -> &'static str {
    simd::Level::detected().name()
}

/// Whether `conv` has the shape every kernel of ours takes: square kernel and stride, no
/// dilation or groups.
fn square_and_plain(conv: &Conv2d) -> bool {
    conv.stride[0] == conv.stride[1] && conv.kernel_size[0] == conv.kernel_size[1] && conv.dilation == [1, 1] && conv.groups == 1
}

/// Stride and bias of a convolution of the kind our kernels compute: 'same' padding, square
/// kernel and stride, no dilation or groups, a bias (the ConvNet's are all built so).
fn stride_and_bias(conv: &Conv2d) -> (usize, Tensor<1>) {
    let supported = square_and_plain(conv) && matches!(conv.padding, PaddingConfig2d::Same);
    assert!(supported, "our conv kernel computes square, 'same'-padded, undilated, ungrouped convolutions");
    let bias = conv.bias.as_ref().expect("the ConvNet's convolutions carry a bias").val();
    (conv.stride[0], bias)
}

fn assert_pool2x2(pool: &MaxPool2d) {
    assert!(pool.kernel_size == [2, 2] && pool.stride == [2, 2], "2x2/2 max pooling only");
}

/// `relu(conv(x))` for a 'same'-padded, bias-carrying `conv`, through our kernels.
pub fn conv2d_relu(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let (stride, bias) = stride_and_bias(conv);
    let weight = conv.weight.val().into_dispatch();
    Tensor::from_dispatch(<Dispatch as KernelOps>::conv2d_relu(x.into_dispatch(), weight, bias.into_dispatch(), stride))
}

/// `pool(x)` for a 2x2, stride-2, unpadded max `pool`, through our kernels.
pub fn max_pool2x2(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    assert_pool2x2(pool);
    Tensor::from_dispatch(<Dispatch as KernelOps>::max_pool2x2(x.into_dispatch()))
}

/// Whether [`conv2d`] computes `conv`: square kernel and stride, the same zero padding on every
/// side, no dilation or groups (the ResNet's convolutions are all built so).
pub fn computes(conv: &Conv2d) -> bool {
    let symmetric = matches!(conv.padding, PaddingConfig2d::Explicit(top, left, bottom, right) if top == left && left == bottom && bottom == right);
    symmetric && square_and_plain(conv)
}

/// `conv(x)` for a `conv` that [`computes`] accepts, through our kernels; without a bias, it
/// adds zeros.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    assert!(computes(conv), "our conv2d kernel computes square, symmetrically padded, undilated, ungrouped convolutions");
    let PaddingConfig2d::Explicit(padding, ..) = conv.padding else { unreachable!("checked above") };
    let weight = conv.weight.val();
    let bias = match &conv.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([weight.dims()[0]], &weight.device()),
    };
    let (x, weight, bias) = (x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch());
    Tensor::from_dispatch(<Dispatch as KernelOps>::conv2d(x, weight, bias, conv.stride[0], padding))
}

/// `pool(relu(conv(x)))` in one kernel, which skips the convolution outputs the pool drops.
pub fn conv2d_relu_pool(conv: &Conv2d, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    assert_pool2x2(pool);
    let (stride, bias) = stride_and_bias(conv);
    let weight = conv.weight.val().into_dispatch();
    Tensor::from_dispatch(<Dispatch as KernelOps>::conv2d_relu_pool(x.into_dispatch(), weight, bias.into_dispatch(), stride))
}

/// `relu(norm(x) + residual)` (each step when asked for) for a batch norm in training mode,
/// through our kernel; updates `norm`'s running statistics as its own `forward` does.
pub fn batch_norm_train<const D: usize>(norm: &BatchNorm, x: Tensor<D>, residual: Option<Tensor<D>>, relu: bool) -> Tensor<D> {
    let (x, gamma, beta) = (x.into_dispatch(), norm.gamma.val().into_dispatch(), norm.beta.val().into_dispatch());
    let (y, mean, variance) = match residual {
        Some(residual) => {
            assert!(relu, "a residual add is followed by a ReLU");
            <Dispatch as KernelOps>::batch_norm_add_relu_train(x, gamma, beta, residual.into_dispatch(), norm.epsilon)
        }
        None => <Dispatch as KernelOps>::batch_norm_train(x, gamma, beta, norm.epsilon, relu),
    };
    let (mean, variance) = (Tensor::<1>::from_dispatch(mean), Tensor::<1>::from_dispatch(variance));
    let device = mean.device();
    // Burn's BatchNorm::forward_train's update, term for term.
    let running_mean = norm.running_mean.value_sync().to_device(&device).mul_scalar(1.0 - norm.momentum).add(mean.detach().mul_scalar(norm.momentum));
    let running_var = norm.running_var.value_sync().to_device(&device).mul_scalar(1.0 - norm.momentum).add(variance.detach().mul_scalar(norm.momentum));
    norm.running_mean.update(running_mean.detach());
    norm.running_var.update(running_var.detach());
    Tensor::from_dispatch(y)
}

/// Contiguous `f32` values of a flex tensor (copied only if it is a strided view).
fn values(tensor: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(slice) => std::borrow::Cow::Borrowed(slice),
        None => std::borrow::Cow::Owned(tensor.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec()),
    }
}

fn shape(tensor: &FlexTensor) -> Vec<usize> {
    burn::backend::TensorMetadata::shape(tensor).to_vec()
}

fn shape4(tensor: &FlexTensor) -> [usize; 4] {
    let dims = burn::backend::TensorMetadata::shape(tensor);
    [dims[0], dims[1], dims[2], dims[3]]
}

fn flex_tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

impl KernelOps for Flex {
    fn conv2d_relu(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, stride: usize) -> FlexTensor {
        let geometry = ConvGeometry::same(shape4(&x), shape4(&weight), stride);
        let (y, _) = conv::forward::<true>(&values(&x), &values(&weight), &values(&bias), &geometry, false);
        flex_tensor(y, geometry.output_shape())
    }

    fn conv2d(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, stride: usize, padding: usize) -> FlexTensor {
        let geometry = ConvGeometry::padded(shape4(&x), shape4(&weight), stride, padding);
        flex_tensor(plain_conv_forward(&x, &weight, &bias, &geometry), geometry.output_shape())
    }

    fn max_pool2x2(x: FlexTensor) -> FlexTensor {
        let geometry = pool_geometry(shape4(&x));
        flex_tensor(pool::forward(&values(&x), &geometry), geometry.output_shape())
    }

    fn conv2d_relu_pool(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, stride: usize) -> FlexTensor {
        let geometry = ConvGeometry::same(shape4(&x), shape4(&weight), stride).cropped_for_pool();
        let (pooled, _, _) = conv::forward_pooled(&values(&x), &values(&weight), &values(&bias), &geometry, false);
        flex_tensor(pooled, geometry.pooled_shape())
    }

    fn batch_norm_train(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f64, relu: bool) -> NormOutput<Self> {
        let (y, statistics) = batch_norm_forward(&x, &gamma, &beta, None, epsilon, relu);
        (y, statistics.mean_tensor(), statistics.variance_tensor())
    }

    fn batch_norm_add_relu_train(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, residual: FlexTensor, epsilon: f64) -> NormOutput<Self> {
        let (y, statistics) = batch_norm_forward(&x, &gamma, &beta, Some(&residual), epsilon, true);
        (y, statistics.mean_tensor(), statistics.variance_tensor())
    }
}

/// `conv(x, weight) + bias` (the ResNet's convolutions): by shifted GEMMs where they suit the
/// shape, else through im2col.
fn plain_conv_forward(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor, geometry: &ConvGeometry) -> Vec<f32> {
    let (x, weight, bias) = (values(x), values(weight), values(bias));
    match shifted::suits(geometry) {
        true => shifted::forward(&x, &weight, &bias, geometry),
        false => conv::forward::<false>(&x, &weight, &bias, geometry, false).0,
    }
}

/// The gradients of [`plain_conv_forward`], from its input `x` and the output gradient `dy`.
fn plain_conv_backward(x: &FlexTensor, weight: &FlexTensor, dy: &FlexTensor, geometry: &ConvGeometry, input_grad: bool) -> conv::ConvGradients {
    let (x, weight, dy) = (values(x), values(weight), values(dy));
    match shifted::suits(geometry) {
        true => shifted::backward(&x, &weight, &dy, geometry, input_grad),
        false => conv::backward(conv::Im2col::Rebuilt(&x), &weight, None, &dy, geometry, input_grad),
    }
}

/// `relu(batch_norm(x) + residual)` (each step when asked for) on flex tensors, and the batch statistics.
fn batch_norm_forward(x: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor, residual: Option<&FlexTensor>, epsilon: f64, relu: bool) -> (FlexTensor, norm::Statistics) {
    let shape = shape(x);
    let geometry = NormGeometry::of(&shape);
    let residual = residual.map(values);
    let (y, statistics) = norm::forward(&values(x), &values(gamma), &values(beta), residual.as_deref(), relu, epsilon, &geometry);
    (flex_tensor(y, shape), statistics)
}

/// The pooling of an NCHW input of `shape`.
fn pool_geometry([batch, channels, height, width]: [usize; 4]) -> PoolGeometry {
    PoolGeometry { batch, channels, height, width }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Device;
    use burn::tensor::activation::relu;
    use rand_chacha::ChaCha12Rng;
    use rand::{Rng, SeedableRng};

    fn random<const D: usize>(shape: [usize; D], rng: &mut ChaCha12Rng, device: &Device) -> Tensor<D> {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn assert_close<const D: usize>(ours: Tensor<D>, reference: Tensor<D>, what: &str) {
        let (ours, reference) = (ours.into_data().try_to_vec::<f32>().unwrap(), reference.into_data().try_to_vec::<f32>().unwrap());
        assert_eq!(ours.len(), reference.len(), "{what}: lengths");
        for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what}[{i}]: ours {a}, Burn {b}");
        }
    }

    /// A 3x3 'same' convolution of `channels` with `stride`, as the notebook's.
    fn same(channels: [usize; 2], stride: usize) -> Conv2dConfig {
        Conv2dConfig::new(channels, [3, 3]).with_stride([stride; 2]).with_padding(PaddingConfig2d::Same)
    }

    /// For a convolution made from `config` (random bias, if it has one), `ours` and
    /// `reference` give the same values and the same gradients for weight, bias and, when
    /// `input_grad` (else the input takes none, as a first layer's data), input.
    fn check_conv_op(
        batch_shape: [usize; 4],
        config: Conv2dConfig,
        rng: &mut ChaCha12Rng,
        input_grad: bool,
        ours: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
        reference: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
    ) {
        let device = Device::flex().autodiff();
        let mut conv = config.init(&device);
        let stride = conv.stride[0];
        conv.bias = conv.bias.map(|_| Param::from_tensor(random([config.channels[1]], rng, &device)));
        let x = random(batch_shape, rng, &device);
        let x = if input_grad { x.require_grad() } else { x };
        let (ours, reference) = (ours(&conv, x.clone()), reference(&conv, x.clone()));
        let upstream = random(reference.dims(), rng, &device);
        let ours_grads = (ours.clone() * upstream.clone()).sum().backward();
        let reference_grads = (reference.clone() * upstream).sum().backward();
        let label = format!("{batch_shape:?} stride {stride}");
        assert_close(ours, reference, &format!("{label} output"));
        if input_grad {
            assert_close(x.grad(&ours_grads).unwrap(), x.grad(&reference_grads).unwrap(), &format!("{label} input grad"));
        }
        let weight = &conv.weight;
        assert_close(weight.grad(&ours_grads).unwrap(), weight.grad(&reference_grads).unwrap(), &format!("{label} weight grad"));
        if let Some(bias) = &conv.bias {
            assert_close(bias.grad(&ours_grads).unwrap(), bias.grad(&reference_grads).unwrap(), &format!("{label} bias grad"));
        }
    }

    /// Our kernel against Burn's own conv + ReLU for the encoder's three shapes (stride 2 on
    /// even and odd sizes, stride 1 with padding 1).
    #[test]
    fn conv2d_relu_matches_burns_convolution_and_gradients() {
        let mut rng = ChaCha12Rng::seed_from_u64(7);
        for (batch_shape, out_channels, stride) in [([3, 1, 28, 28], 64, 2), ([3, 64, 7, 7], 32, 1), ([3, 32, 3, 3], 16, 2)] {
            check_conv_op(batch_shape, same([batch_shape[1], out_channels], stride), &mut rng, true, conv2d_relu, |conv, x| relu(conv.forward(x)));
        }
    }

    /// The fused kernel skips the convolution outputs the pool drops (row and column 7 of 7);
    /// values and gradients must equal Burn's conv, ReLU and pool, layer by layer. A first
    /// layer on data that takes no gradient (the last two cases: grey and RGB, a part block of
    /// channels) sums its weight gradient from the pool's winners (`short_patch.rs`).
    #[test]
    fn conv2d_relu_pool_matches_burns_layers_and_gradients() {
        let mut rng = ChaCha12Rng::seed_from_u64(9);
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let cases = [([3, 1, 28, 28], 8, 2, true), ([3, 16, 7, 7], 8, 1, true), ([3, 1, 28, 28], 64, 2, false), ([2, 3, 9, 9], 20, 1, false)];
        for (batch_shape, out_channels, stride, input_grad) in cases {
            check_conv_op(
                batch_shape,
                same([batch_shape[1], out_channels], stride),
                &mut rng,
                input_grad,
                |conv, x| conv2d_relu_pool(conv, &pool, x),
                |conv, x| pool.forward(relu(conv.forward(x))),
            );
        }
    }

    /// The ResNet's convolutions (bias-free, padded by half the kernel on every side): 3x3 at
    /// stride 1 and 2 on even and odd sizes, the 1x1 stride-2 shortcut; and one with a bias.
    #[test]
    fn conv2d_matches_burns_convolution_and_gradients() {
        let mut rng = ChaCha12Rng::seed_from_u64(10);
        let cases = [([3, 8, 12, 12], 8, 3, 1, false), ([3, 8, 12, 12], 16, 3, 2, false), ([3, 8, 7, 7], 16, 3, 2, false), ([3, 8, 12, 12], 16, 1, 2, false), ([2, 3, 9, 9], 5, 3, 1, true)];
        for (batch_shape, out_channels, kernel, stride, bias) in cases {
            let pad = kernel / 2;
            let config = Conv2dConfig::new([batch_shape[1], out_channels], [kernel; 2])
                .with_stride([stride; 2])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(bias);
            check_conv_op(batch_shape, config, &mut rng, true, conv2d, |conv, x| conv.forward(x));
        }
    }

    /// Our training-mode batch norm (plain, with ReLU, with a residual add and ReLU) against
    /// Burn's BatchNorm and layers: the same output, the same gradients for the input, gamma,
    /// beta and residual, and the same running statistics afterwards; on an NCHW batch and on
    /// a feature matrix.
    #[test]
    fn batch_norm_train_matches_burns_layer_gradients_and_running_statistics() {
        use burn::nn::BatchNormConfig;
        let device = Device::flex().autodiff();
        let mut rng = ChaCha12Rng::seed_from_u64(11);
        let cases: [(&[usize], bool, bool); 4] = [(&[6, 4, 5, 5], false, false), (&[6, 4, 5, 5], true, false), (&[6, 4, 5, 5], true, true), (&[9, 4], true, false)];
        for (shape, with_relu, with_residual) in cases {
            let label = format!("{shape:?} relu {with_relu} residual {with_residual}");
            let norm = |rng: &mut ChaCha12Rng| {
                let mut norm = BatchNormConfig::new(4).init(&device);
                norm.gamma = Param::from_tensor(random([4], rng, &device).add_scalar(1.0));
                norm.beta = Param::from_tensor(random([4], rng, &device));
                norm
            };
            let (ours_norm, reference_norm) = (norm(&mut ChaCha12Rng::seed_from_u64(3)), norm(&mut ChaCha12Rng::seed_from_u64(3)));
            let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-2.0..3.0)).collect();
            // A feature matrix [n, c] as [n, c, 1, 1]: one position per channel.
            let x = Tensor::<4>::from_data(TensorData::new(values, shape.iter().copied().chain([1; 4]).take(4).collect::<Vec<_>>()), &device).require_grad();
            let residual = with_residual.then(|| random(x.dims(), &mut rng, &device).require_grad());
            let ours = batch_norm_train(&ours_norm, x.clone(), residual.clone(), with_relu);
            let reference = {
                let y = reference_norm.forward(x.clone());
                let y = match &residual {
                    Some(residual) => y + residual.clone(),
                    None => y,
                };
                if with_relu { relu(y) } else { y }
            };
            let upstream = random(reference.dims(), &mut rng, &device);
            let ours_grads = (ours.clone() * upstream.clone()).sum().backward();
            let reference_grads = (reference.clone() * upstream).sum().backward();
            assert_close(ours, reference, &format!("{label} output"));
            assert_close(x.grad(&ours_grads).unwrap(), x.grad(&reference_grads).unwrap(), &format!("{label} input grad"));
            for (name, ours, reference) in [("gamma", &ours_norm.gamma, &reference_norm.gamma), ("beta", &ours_norm.beta, &reference_norm.beta)] {
                assert_close(ours.grad(&ours_grads).unwrap(), reference.grad(&reference_grads).unwrap(), &format!("{label} {name} grad"));
            }
            if let Some(residual) = &residual {
                assert_close(residual.grad(&ours_grads).unwrap(), residual.grad(&reference_grads).unwrap(), &format!("{label} residual grad"));
            }
            assert_close(ours_norm.running_mean.value(), reference_norm.running_mean.value(), &format!("{label} running mean"));
            assert_close(ours_norm.running_var.value(), reference_norm.running_var.value(), &format!("{label} running variance"));
        }
    }

    #[test]
    fn max_pool2x2_matches_burns_pooling_and_gradient_on_odd_sizes() {
        let device = Device::flex().autodiff();
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let mut rng = ChaCha12Rng::seed_from_u64(8);
        let x = random([2, 3, 7, 7], &mut rng, &device).require_grad();
        let (ours, reference) = (max_pool2x2(&pool, x.clone()), pool.forward(x.clone()));
        assert_eq!(ours.dims(), [2, 3, 3, 3]);
        let upstream = random([2, 3, 3, 3], &mut rng, &device);
        let ours_grads = (ours.clone() * upstream.clone()).sum().backward();
        let reference_grads = (reference.clone() * upstream).sum().backward();
        assert_close(ours, reference, "pooled");
        assert_close(x.grad(&ours_grads).unwrap(), x.grad(&reference_grads).unwrap(), "input grad");
    }
}
