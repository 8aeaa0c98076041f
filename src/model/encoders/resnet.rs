//! A ResNet for small images (He et al. 2016), in the CIFAR form that solo-learn and lightly
//! use: a 3x3 stride-1 stem without max pool, stages of basic blocks that halve the size and
//! double the width, global average pooling. With the defaults it is ResNet-18's layout
//! (11,168,832 learned parameters on RGB input, as PyTorch counts them); `width` and `blocks`
//! make it narrower or shallower.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::model::ops::{Kernels, batch_norm, conv2d};
use crate::data::images::ImageShape;
use crate::error::Invalid;
use crate::model::encoders::{EncoderKind, EncoderModule, ModelConfig};
use crate::model::network::{Layer, NetworkBuilder};

/// Shape of the ResNet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ResNetConfig {
    /// Channels of the stem and the first stage; each later stage doubles them.
    pub width: usize,
    /// Basic blocks per stage (one to four stages); ResNet-18 is `[2, 2, 2, 2]`.
    pub blocks: Vec<usize>,
}

impl Default for ResNetConfig {
    fn default() -> Self {
        Self { width: 64, blocks: vec![2, 2, 2, 2] }
    }
}

impl EncoderKind for ResNetConfig {
    type Module = ResNet;
    const DESCRIPTION: &'static str = "A ResNet for small images: 3x3 stem, no first pool, basic blocks, global average pooling.";

    /// Convolutions drawn Kaiming-normal (fan-out, as torchvision's ResNet) from our generator,
    /// batch norms at scale 1 and shift 0.
    fn init(&self, model: &ModelConfig, shape: ImageShape, rng: &mut ChaCha12Rng, device: &Device) -> ResNet {
        let (channels, kernels) = (shape.channels, model.kernels);
        let mut conv = |c_in, c_out, kernel, stride| conv(c_in, c_out, kernel, stride, rng, device);
        let stem = conv(channels, self.width, 3, 1);
        let mut blocks = Vec::new();
        let mut c_in = self.width;
        for (stage, &count) in self.blocks.iter().enumerate() {
            let c_out = self.width << stage;
            for b in 0..count {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                let shortcut = (stride != 1 || c_in != c_out).then(|| (conv(c_in, c_out, 1, stride), norm(c_out, device)));
                blocks.push(BasicBlock {
                    conv1: conv(c_in, c_out, 3, stride),
                    norm1: norm(c_out, device),
                    conv2: conv(c_out, c_out, 3, 1),
                    norm2: norm(c_out, device),
                    shortcut: shortcut.map(|(conv, norm)| Shortcut { conv, norm }),
                });
                c_in = c_out;
            }
        }
        ResNet { stem, stem_norm: norm(self.width, device), blocks, kernels }
    }

    /// The last stage's channels, pooled.
    fn feature_dim(&self, _shape: ImageShape) -> usize {
        self.width << (self.blocks.len().max(1) - 1)
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.width == 0 {
            return Err(Invalid::new("model.encoder.width", "must be at least 1"));
        }
        if !(1..=4).contains(&self.blocks.len()) || self.blocks.contains(&0) {
            return Err(Invalid::new("model.encoder.blocks", format!("must be one to four numbers of at least 1, got {:?}", self.blocks)));
        }
        Ok(())
    }
}

/// A bias-free convolution (batch norm follows), zero-padded by `kernel / 2` like PyTorch's.
fn conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, rng: &mut ChaCha12Rng, device: &Device) -> Conv2d {
    let mut conv = Conv2dConfig::new([c_in, c_out], [kernel; 2])
        .with_stride([stride; 2])
        .with_padding(PaddingConfig2d::Explicit(kernel / 2, kernel / 2, kernel / 2, kernel / 2))
        .with_bias(false)
        .init(device);
    let shape = conv.weight.dims();
    let std = (2.0 / (c_out * kernel * kernel) as f32).sqrt();
    let dist = Normal::new(0.0, std).expect("positive std");
    let values: Vec<f32> = (0..shape.iter().product()).map(|_| dist.sample(rng)).collect();
    conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device));
    conv
}

fn norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// Conv-BN-ReLU-Conv-BN plus the input (projected by a strided 1x1 conv when the shape
/// changes), then ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub(crate) conv1: Conv2d,
    pub(crate) norm1: BatchNorm,
    pub(crate) conv2: Conv2d,
    pub(crate) norm2: BatchNorm,
    pub(crate) shortcut: Option<Shortcut>,
}

/// The projection of a block's input when the block changes width or size.
#[derive(Module, Debug)]
pub struct Shortcut {
    pub(crate) conv: Conv2d,
    pub(crate) norm: BatchNorm,
}

impl BasicBlock {
    /// Appends the block, a residual layer named `name`, to `network`.
    fn layers(&self, network: &mut NetworkBuilder, name: &str) {
        let body = |path: &mut NetworkBuilder| {
            path.conv(&self.conv1, &format!("{name}.conv1"));
            path.batch_norm(&self.norm1, &format!("{name}.norm1"));
            path.push(Layer::Relu);
            path.conv(&self.conv2, &format!("{name}.conv2"));
            path.batch_norm(&self.norm2, &format!("{name}.norm2"));
        };
        let shortcut = |path: &mut NetworkBuilder| {
            if let Some(s) = &self.shortcut {
                path.conv(&s.conv, &format!("{name}.shortcut.conv"));
                path.batch_norm(&s.norm, &format!("{name}.shortcut.norm"));
            }
        };
        network.residual(name, body, shortcut);
    }

    fn forward(&self, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
        let identity = match &self.shortcut {
            Some(s) => batch_norm(kernels, &s.norm, conv2d(kernels, &s.conv, x.clone()), None, false),
            None => x.clone(),
        };
        let y = batch_norm(kernels, &self.norm1, conv2d(kernels, &self.conv1, x), None, true);
        batch_norm(kernels, &self.norm2, conv2d(kernels, &self.conv2, y), Some(identity), true)
    }
}

/// Stem (Conv 3x3, BN, ReLU), the residual blocks, global average pooling.
#[derive(Module, Debug)]
pub struct ResNet {
    pub(crate) stem: Conv2d,
    pub(crate) stem_norm: BatchNorm,
    pub(crate) blocks: Vec<BasicBlock>,
    /// Who computes the convolutions (a setting, not a weight).
    #[module(skip)]
    kernels: Kernels,
}

impl EncoderModule for ResNet {
    /// Pooled features `[batch, feature_dim]` of a `[batch, channels, H, W]` image batch.
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = conv2d(self.kernels, &self.stem, x);
        let mut x = batch_norm(self.kernels, &self.stem_norm, x, None, true);
        for block in &self.blocks {
            x = block.forward(x, self.kernels);
        }
        let [n, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([n, c])
    }

    fn layers(&self, network: &mut NetworkBuilder, prefix: &str) {
        network.conv(&self.stem, &format!("{prefix}stem"));
        network.batch_norm(&self.stem_norm, &format!("{prefix}stem_norm"));
        network.push(Layer::Relu);
        for (i, block) in self.blocks.iter().enumerate() {
            block.layers(network, &format!("{prefix}blocks.{i}"));
            network.push(Layer::Relu);
        }
        network.push(Layer::GlobalAveragePool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn resnet(config: &ResNetConfig, channels: usize) -> ResNet {
        config.init(&ModelConfig::default(), ImageShape::square(channels, 12), &mut ChaCha12Rng::seed_from_u64(0), &Device::flex())
    }

    #[test]
    fn resnet18_has_the_cifar_variants_parameter_count() {
        // torchvision's resnet18 has 11,689,512 parameters with the 1000-way fc (513,000) and
        // the 7x7 stem (9,408); the CIFAR stem is 3x3 (1,728): 11,168,832 learned values. Burn
        // (like Keras) also counts the batch norms' running mean and variance: 2 x 4,800.
        assert_eq!(resnet(&ResNetConfig::default(), 3).num_params(), 11_168_832 + 9_600);
        assert_eq!(ResNetConfig::default().feature_dim(ImageShape::square(3, 32)), 512);
    }

    #[test]
    fn a_narrow_shallow_resnet_pools_to_its_last_width() {
        let config = ResNetConfig { width: 8, blocks: vec![1, 1] };
        let net = resnet(&config, 1);
        // Stem 72 + 16; block 1: 576 + 16 + 576 + 16; block 2 (stride 2, 8->16): 1152 + 32 +
        // 2304 + 32, shortcut 128 + 32; and the running statistics of 72 batch-norm channels.
        assert_eq!(net.num_params(), 88 + 1184 + 3680 + 2 * 72);
        let x = Tensor::<4>::zeros([2, 1, 12, 12], &Device::flex());
        assert_eq!(net.features(x).dims(), [2, config.feature_dim(ImageShape::square(1, 12))]);
        let mut network = NetworkBuilder::new(ImageShape::square(1, 12));
        net.layers(&mut network, "");
        let summary = crate::model::summary::Summary::of("resnet", &network.finish(), |_| true);
        let shapes: Vec<Vec<usize>> = summary.rows.iter().map(|r| r.output_shape.clone()).collect();
        assert_eq!(shapes, [vec![8, 12, 12], vec![8, 12, 12], vec![8, 12, 12], vec![16, 6, 6], vec![16]]);
        assert_eq!((summary.trainable_params(), summary.non_trainable_params()), (88 + 1184 + 3680, 2 * 72));
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        assert!(ResNetConfig { width: 0, ..ResNetConfig::default() }.validate().is_err());
        assert!(ResNetConfig { width: 8, blocks: vec![] }.validate().is_err());
        assert_eq!(ResNetConfig { width: 8, blocks: vec![1; 5] }.validate().unwrap_err().key, "model.encoder.blocks");
        assert!(ResNetConfig::default().validate().is_ok());
    }
}
