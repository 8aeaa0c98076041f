//! Turning numbered samples into tensors, one batch at a time: images stay bytes until here.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use rayon::prelude::*;

use crate::data::dataset::ChannelStats;
use crate::data::images::LabeledImages;
use crate::data::source::SampleSource;
use crate::transforms::MultiView;
use crate::transforms::shift::random_shift;

/// How pixel bytes become network inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Pixels {
    /// 0..255 as they are (the notebook; its learning rate only works with these).
    Raw,
    /// Divided by 255, so 0..1.
    Unit,
    /// Mapped to -1..1, centred on mid-grey.
    Signed,
    /// Each channel standardised by the mean and standard deviation of the training images
    /// (measured when the run starts and kept in its config.toml).
    Standardize,
}

impl Pixels {
    /// The conversion of each channel; `stats` are needed by [`Pixels::Standardize`] only.
    pub fn map(self, stats: Option<&ChannelStats>) -> Result<PixelMap, String> {
        let uniform = |mean: f32, std: f32| PixelMap { mean: [mean; MAX_CHANNELS], std: [std; MAX_CHANNELS] };
        Ok(match self {
            Pixels::Raw => uniform(0.0, 1.0),
            Pixels::Unit => uniform(0.0, 255.0),
            Pixels::Signed => uniform(127.5, 127.5),
            Pixels::Standardize => {
                let stats = stats.ok_or("pixels = \"standardize\" needs the training images' channel statistics ([data.channel_stats]), measured when a run starts")?;
                let mut map = uniform(0.0, 1.0);
                for (c, (&mean, &std)) in stats.mean.iter().zip(&stats.std).enumerate().take(MAX_CHANNELS) {
                    // A constant channel has std 0: leave it at scale 1 rather than divide by 0.
                    map.mean[c] = mean as f32;
                    map.std[c] = if std > 1e-6 { std as f32 } else { 1.0 };
                }
                map
            }
        })
    }
}

/// Most channels an image may have (grey or RGB).
pub const MAX_CHANNELS: usize = 3;

/// How each channel's bytes become floats: `(byte - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelMap {
    mean: [f32; MAX_CHANNELS],
    std: [f32; MAX_CHANNELS],
}

impl PixelMap {
    /// Mean and std of channel `c`.
    pub fn channel(&self, c: usize) -> (f32, f32) {
        (self.mean[c], self.std[c])
    }

    /// Appends the floats of a planar image to `out`.
    pub fn extend(&self, image: &[u8], plane: usize, out: &mut Vec<f32>) {
        let start = out.len();
        out.resize(start + image.len(), 0.0);
        self.write(image, plane, &mut out[start..]);
    }

    /// Writes the floats of a planar image into `out` (as long as the image).
    pub fn write(&self, image: &[u8], plane: usize, out: &mut [f32]) {
        for (c, (bytes, out)) in image.chunks(plane).zip(out.chunks_mut(plane)).enumerate() {
            let (mean, std) = (self.mean[c], self.std[c]);
            out.iter_mut().zip(bytes).for_each(|(o, &b)| *o = (b as f32 - mean) / std);
        }
    }
}

/// A batch ready for a model: inputs and their class targets.
#[derive(Debug, Clone)]
pub struct Batch<I> {
    /// Model input.
    pub input: I,
    /// Class target of each row.
    pub targets: Vec<usize>,
}

/// Anything the trainer can draw numbered batches from.
pub trait BatchSource {
    /// The model input type (`Tensor<4>` images, `Tensor<2>` features).
    type Input;
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of target classes.
    fn num_classes(&self) -> usize;
    /// The samples at `indices`, on `device`, as they are (for evaluation).
    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Self::Input>;
    /// The samples at `indices` for a training step: augmented, drawing from `rng`, when the
    /// source augments at all.
    fn training_batch(&self, indices: &[usize], device: &Device, _rng: &mut ChaCha12Rng) -> Batch<Self::Input> {
        self.batch(indices, device)
    }
}

/// Image batches `[batch, channels, height, width]` from a [`SampleSource`], optionally randomly
/// shifted (training batches only).
#[derive(Debug)]
pub struct ImageBatches<S> {
    source: S,
    pixels: PixelMap,
    max_shift: usize,
}

impl<S: SampleSource> ImageBatches<S> {
    /// Batches of `source` converted with `pixels`.
    pub fn new(source: S, pixels: PixelMap) -> Self {
        Self { source, pixels, max_shift: 0 }
    }

    /// Shifts every training image by up to `max_shift` pixels per axis (0 = off).
    pub fn with_random_shifts(mut self, max_shift: usize) -> Self {
        self.max_shift = max_shift;
        self
    }

    /// The images at `indices`, each shifted when `shifts` gives a generator.
    fn images(&self, indices: &[usize], device: &Device, mut shifts: Option<&mut ChaCha12Rng>) -> Batch<Tensor<4>> {
        let shape = self.source.shape();
        let mut bytes = vec![0u8; shape.len()];
        let mut shifted = vec![0u8; shape.len()];
        let mut values = Vec::with_capacity(indices.len() * shape.len());
        for &i in indices {
            self.source.write_image(i, &mut bytes);
            let image = match shifts.as_deref_mut() {
                Some(rng) => {
                    random_shift(&bytes, shape.dims(), self.max_shift, rng, &mut shifted);
                    &shifted
                }
                None => &bytes,
            };
            self.pixels.extend(image, shape.plane(), &mut values);
        }
        let input = image_tensor(values, shape.batch(indices.len()), device);
        Batch { input, targets: indices.iter().map(|&i| self.source.target(i)).collect() }
    }
}

impl<S: SampleSource> BatchSource for ImageBatches<S> {
    type Input = Tensor<4>;

    fn len(&self) -> usize {
        self.source.len()
    }

    fn num_classes(&self) -> usize {
        self.source.num_classes()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Tensor<4>> {
        self.images(indices, device, None)
    }

    fn training_batch(&self, indices: &[usize], device: &Device, rng: &mut ChaCha12Rng) -> Batch<Tensor<4>> {
        self.images(indices, device, (self.max_shift > 0).then_some(rng))
    }
}

/// A `[n, channels, height, width]` tensor of `n` images' converted pixels.
fn image_tensor(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Several augmented views of each image, for the methods that compare views: a batch is one
/// `[batch, channels, height, width]` tensor per view. The images' labels are never read.
#[derive(Debug)]
pub struct ViewBatches<'a> {
    images: &'a LabeledImages,
    pixels: PixelMap,
    views: MultiView,
}

impl<'a> ViewBatches<'a> {
    /// Views of `images` made by `views`, converted with `pixels`.
    pub fn new(images: &'a LabeledImages, pixels: PixelMap, views: MultiView) -> Self {
        Self { images, pixels, views }
    }

    /// The views of the images at `indices`; without a generator every view is the image.
    ///
    /// The samples are drawn in parallel: the batch takes one seed from `rng`, and the sample at
    /// position `k` draws its views from that seed's stream `k`, so the views do not depend on
    /// the number of threads, and `rng` advances by one draw per batch (which checkpoints keep).
    fn views(&self, indices: &[usize], device: &Device, rng: Option<&mut ChaCha12Rng>) -> Batch<Vec<Tensor<4>>> {
        let (shape, count) = (self.images.shape(), self.views.len());
        let batch_seed = rng.map(|rng| rng.random::<u64>());
        // Every view's bytes, sample-major: [sample, view, pixels].
        let mut bytes = vec![0u8; indices.len() * count * shape.len()];
        bytes.par_chunks_mut(count * shape.len()).zip(indices).enumerate().for_each(|(k, (views, &i))| {
            let image = self.images.image(i);
            let mut rng = batch_seed.map(|seed| {
                let mut rng = ChaCha12Rng::seed_from_u64(seed);
                rng.set_stream(k as u64);
                rng
            });
            for (v, view) in views.chunks_mut(shape.len()).enumerate() {
                match rng.as_mut() {
                    Some(rng) => self.views.view(v, image, shape.dims(), rng, view),
                    None => view.copy_from_slice(image),
                }
            }
        });
        let input = (0..count)
            .map(|v| {
                let mut values = vec![0.0; indices.len() * shape.len()];
                values.par_chunks_mut(shape.len()).zip(bytes.par_chunks(count * shape.len())).for_each(|(out, views)| {
                    self.pixels.write(&views[v * shape.len()..][..shape.len()], shape.plane(), out);
                });
                image_tensor(values, shape.batch(indices.len()), device)
            })
            .collect();
        Batch { input, targets: Vec::new() }
    }
}

impl BatchSource for ViewBatches<'_> {
    type Input = Vec<Tensor<4>>;

    fn len(&self) -> usize {
        self.images.len()
    }

    /// None: the views carry no targets.
    fn num_classes(&self) -> usize {
        0
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Vec<Tensor<4>>> {
        self.views(indices, device, None)
    }

    fn training_batch(&self, indices: &[usize], device: &Device, rng: &mut ChaCha12Rng) -> Batch<Vec<Tensor<4>>> {
        self.views(indices, device, Some(rng))
    }
}

/// Precomputed feature rows (a frozen encoder's output) with their labels.
#[derive(Debug, Clone)]
pub struct FeatureBatches {
    features: Tensor<2>,
    targets: Vec<usize>,
    num_classes: usize,
}

impl FeatureBatches {
    /// `features` `[n, dim]` and one target per row.
    pub fn new(features: Tensor<2>, targets: Vec<usize>, num_classes: usize) -> Self {
        Self { features, targets, num_classes }
    }

    /// The same rows with `f` applied to the feature matrix (which must keep its row count).
    pub fn map_features(self, f: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Self {
        Self { features: f(self.features), ..self }
    }

    /// All feature rows `[n, dim]`.
    pub fn features(&self) -> &Tensor<2> {
        &self.features
    }

    /// The target of every row.
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }
}

impl BatchSource for FeatureBatches {
    type Input = Tensor<2>;

    fn len(&self) -> usize {
        self.targets.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch<Tensor<2>> {
        let index: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [indices.len()]), &self.features.device());
        let input = self.features.clone().select(0, index).to_device(device);
        Batch { input, targets: indices.iter().map(|&i| self.targets[i]).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(map: PixelMap, image: &[u8], plane: usize) -> Vec<f32> {
        let mut out = Vec::new();
        map.extend(image, plane, &mut out);
        out
    }

    #[test]
    fn each_scaling_maps_bytes_as_documented() {
        let image = [0, 51, 255];
        assert_eq!(floats(Pixels::Raw.map(None).unwrap(), &image, 3), [0.0, 51.0, 255.0]);
        assert_eq!(floats(Pixels::Unit.map(None).unwrap(), &image, 3), [0.0, 0.2, 1.0]);
        assert_eq!(floats(Pixels::Signed.map(None).unwrap(), &image, 3), [-1.0, -0.6, 1.0]);
    }

    /// A batch's views are the same whether one thread draws them or several, and the next
    /// batch's differ (the generator moved on by the batch's one draw).
    #[test]
    fn views_do_not_depend_on_the_thread_count() {
        use crate::data::images::ImageShape;
        use crate::transforms::{AugmentConfig, MultiView};
        let shape = ImageShape::square(1, 12);
        let pixels: Vec<u8> = (0..40 * shape.len()).map(|i| (i * 37 % 251) as u8).collect();
        let images = LabeledImages::new(pixels, vec![0; 40], shape);
        let batches = ViewBatches::new(&images, Pixels::Unit.map(None).unwrap(), MultiView::symmetric(&AugmentConfig::default(), 2));
        let device = Device::flex();
        let indices: Vec<usize> = (0..40).rev().collect();
        let draw = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut rng = ChaCha12Rng::seed_from_u64(5);
            pool.install(|| {
                let [first, second] = [(); 2].map(|_| batches.training_batch(&indices, &device, &mut rng).input);
                [first, second].map(|views| views.into_iter().map(|v| v.into_data().try_to_vec::<f32>().unwrap()).collect::<Vec<_>>())
            })
        };
        let [first, second] = draw(1);
        assert_eq!([first.clone(), second.clone()], draw(3));
        assert_ne!(first, second);
        assert_ne!(first[0], first[1], "two views of a batch differ");
    }

    #[test]
    fn standardize_uses_each_channels_statistics_and_needs_them() {
        let stats = ChannelStats { mean: vec![10.0, 100.0, 0.0], std: vec![2.0, 50.0, 0.0] };
        let map = Pixels::Standardize.map(Some(&stats)).unwrap();
        // One pixel per channel; the constant third channel keeps scale 1.
        assert_eq!(floats(map, &[14, 0, 7], 1), [2.0, -2.0, 7.0]);
        assert!(Pixels::Standardize.map(None).unwrap_err().contains("channel_stats"));
    }
}
