//! What the two-view methods (SimCLR, BYOL, VICReg, Barlow Twins) share, as solo-learn's base
//! class does: their batches of two augmented views, their pretext training, the checks of
//! their projector and augmentations, and the figure of their views.

use burn::tensor::Tensor;
use rand::SeedableRng;

use crate::data::batch::ViewBatches;
use crate::data::images::{LabeledImages, Tile};
use crate::error::Invalid;
use crate::methods::{Figure, MethodName, PretextData};
use crate::model::encoders::Encoder;
use crate::model::heads::{Mlp, MlpConfig};
use crate::train::optimizer::{OptimizerKind, Schedule, TrainConfig};
use crate::transforms::{AugmentConfig, MultiView};

/// The items of [`PretextMethod`](crate::methods::PretextMethod) every two-view method has
/// alike, for a settings type with `projector` and `augment` fields: its input (two views),
/// its batches, its pretext training and its figure.
macro_rules! two_view_items {
    () => {
        type Input = Vec<burn::tensor::Tensor<4>>;

        fn batches<'a>(&'a self, data: $crate::methods::PretextData<'a>) -> impl $crate::data::batch::BatchSource<Input = Self::Input> + 'a {
            $crate::methods::two_view::batches(&self.augment, data)
        }

        fn pretext_training() -> $crate::train::optimizer::TrainConfig {
            $crate::methods::two_view::pretext_training()
        }

        fn figure(&self, images: &$crate::data::images::LabeledImages) -> Option<$crate::methods::Figure> {
            Some($crate::methods::two_view::figure(&self.augment, images))
        }
    };
}
pub(crate) use two_view_items;

/// Two views of each image, both drawn with `augment`.
pub fn batches<'a>(augment: &AugmentConfig, data: PretextData<'a>) -> ViewBatches<'a> {
    ViewBatches::new(data.images, data.pixels, MultiView::symmetric(augment, 2))
}

/// AdamW with cosine decay after one warm-up epoch, batches large enough for a contrastive
/// loss, no shifts (the views bring their own augmentations), and 5 epochs (on MNIST's 60,000
/// images, the k-NN monitor gains little after the third).
pub fn pretext_training() -> TrainConfig {
    TrainConfig {
        optimizer: OptimizerKind::AdamW,
        learning_rate: 0.002,
        weight_decay: 1e-4,
        schedule: Schedule::Cosine,
        warmup_epochs: 1,
        batch_size: 256,
        epochs: 5,
        ..TrainConfig::default()
    }
}

/// Names the first setting of the batch, projector or augmentations that cannot work.
pub fn validate(name: MethodName, projector: &MlpConfig, augment: &AugmentConfig, batch_size: usize) -> Result<(), Invalid> {
    if batch_size < 2 {
        return Err(Invalid::new("pretext.batch_size", format!("must be at least 2 for {name}, which compares images within a batch; got {batch_size}")));
    }
    projector.validate().map_err(|e| e.within("method.projector"))?;
    augment.validate().map_err(|e| e.within("method.augment"))
}

/// Two augmented views of each of the first four images, beside the image: what the method
/// is asked to see as the same (drawn from a fixed generator; the run's own draws differ).
pub fn figure(augment: &AugmentConfig, images: &LabeledImages) -> Figure {
    let views = MultiView::symmetric(augment, 2);
    let shape = images.shape();
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
    let mut tiles = Vec::new();
    for i in 0..images.len().min(4) {
        tiles.push(Tile { pixels: images.image(i).to_vec(), caption: format!("image {}", i + 1) });
        for v in 0..views.len() {
            let mut pixels = vec![0; shape.len()];
            views.view(v, images.image(i), shape.dims(), &mut rng, &mut pixels);
            tiles.push(Tile { pixels, caption: format!("view {}", v + 1) });
        }
    }
    Figure { file: "views.png", title: "Pretext task: augmented views of the same image", tiles, columns: 1 + views.len() }
}

/// The projections `[n, d]` of each of two views `[n, c, h, w]`: both views go through the
/// encoder and `head` as one batch (one pass of each layer; batch norm sees both views).
pub(crate) fn project_views(encoder: &Encoder, head: &Mlp, views: Vec<Tensor<4>>) -> [Tensor<2>; 2] {
    let [n, ..] = views[0].dims();
    let z = head.forward(encoder.features(Tensor::cat(views, 0)));
    [z.clone().narrow(0, 0, n), z.narrow(0, n, n)]
}

/// `Ok` when `value` is finite and above 0, else the refusal of `method.KEY`.
pub fn positive(key: &str, value: f64) -> Result<(), Invalid> {
    if value.is_finite() && value > 0.0 { Ok(()) } else { Err(Invalid::new(format!("method.{key}"), format!("must be > 0, got {value}"))) }
}

/// `Ok` when `value` is finite and at least 0, else the refusal of `method.KEY`.
pub fn non_negative(key: &str, value: f64) -> Result<(), Invalid> {
    if value.is_finite() && value >= 0.0 { Ok(()) } else { Err(Invalid::new(format!("method.{key}"), format!("must be >= 0, got {value}"))) }
}
