//! The downstream classifier: a head on the encoder (a probe, or fine-tuning), then optionally
//! semi-supervised training; its evaluation and reloading.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;

use crate::config::RunConfig;
use crate::data::batch::{BatchSource, FeatureBatches, ImageBatches, PixelMap};
use crate::data::images::{ImageShape, LabeledImages};
use crate::data::source::Labeled;
use crate::error::Result;
use crate::eval::features::INFERENCE_BATCH;
use crate::eval::features::encode;
use crate::eval::predict::{Predictions, evaluate as evaluate_on, predict};
use crate::model::classifier::{Classifier, Logits};
use crate::model::encoders::Encoder;
use crate::model::heads::FeatureNorm;
use crate::semi::SemiMethod;
use crate::semi::batches::SemiBatches;
use crate::semi::distill::Distill;
use crate::semi::fixmatch::FixMatch;
use crate::train::history::{EpochRecord, Measures, VAL_ACCURACY, VAL_LOSS};
use crate::train::trainer::PhaseRng;

use super::data::RunData;
use super::session::Session;
use super::streams::{Stream, rng};

/// A trained classifier (encoder + head) and the downstream training history.
#[derive(Debug, Clone)]
pub struct Probed {
    /// Encoder and head (on the plain, inference device).
    pub model: Classifier,
    /// Per-epoch metrics.
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights the head holds, when early stopping restored the best.
    pub restored_epoch: Option<usize>,
}

/// Trains the downstream classifier on the labelled `images`, holding out the last
/// `validation_split` of them for validation: a dense head on the frozen `encoder` (a linear
/// probe), or encoder and head together when `config.fine_tune` is set.
pub fn probe(config: &RunConfig, encoder: Encoder, images: &LabeledImages, classes: usize, session: &Session) -> Result<Probed> {
    let trainer = session.trainer("downstream", &config.downstream);
    let (train, val) = images.split_tail(config.data.validation_split);
    let encoder = encoder.valid();
    let pixels = config.data.pixel_map()?;
    // The frozen encoder's features of the training images, when the head needs them.
    let features = (!config.fine_tune || config.standardize_features).then(|| encode(&encoder, &train, classes, pixels));
    let classifier = initial_classifier(config, encoder, features.as_ref(), (images.shape(), classes), &trainer.device);
    if session.verbose {
        println!("{}", classifier.summary(images.shape(), config.fine_tune));
    }
    let rng = PhaseRng { shuffle: rng(config.seed, Stream::DownstreamShuffle), augment: rng(config.seed, Stream::DownstreamShifts) };
    let batch_size = config.downstream.batch_size;
    if config.fine_tune || config.downstream.max_shift > 0 {
        // Images go through the encoder every step: it learns, or its input changes.
        let batches = |set| ImageBatches::new(Labeled::new(set, classes), pixels);
        let val = (!val.is_empty()).then(|| batches(&val));
        let train = batches(&train).with_random_shifts(config.downstream.max_shift);
        let Classifier { encoder, norm, head } = classifier;
        // A frozen encoder gets no gradients, and its batch norms (ResNet) keep their running
        // statistics instead of following each batch: the probe sees the encoder as it is.
        let encoder = if config.fine_tune { encoder.train() } else { encoder.freeze().train() };
        let fitted = trainer.fit(Classifier { encoder, norm, head }, &train, validation(val.as_ref(), batch_size), rng)?;
        return Ok(Probed { model: fitted.model.valid(), history: fitted.history, restored_epoch: fitted.restored_epoch });
    }
    // Frozen encoder, unchanged images: with no dropout or normalisation layers the features
    // are the same every epoch, so they are computed once (and standardised once).
    let standardized = |batches: FeatureBatches| match &classifier.norm {
        Some(norm) => batches.map_features(|f| norm.forward(f)),
        None => batches,
    };
    let train = standardized(features.expect("a frozen encoder's features"));
    let val = (!val.is_empty()).then(|| standardized(encode(&classifier.encoder, &val, classes, pixels)));
    let fitted = trainer.fit(classifier.head, &train, validation(val.as_ref(), batch_size), rng)?;
    Ok(Probed {
        model: Classifier { encoder: classifier.encoder, norm: classifier.norm, head: fitted.model.valid() },
        history: fitted.history,
        restored_epoch: fitted.restored_epoch,
    })
}

/// The classifier a downstream phase starts from: `encoder` (on the inference device), the
/// standardisation of its `features` of the training images when the settings ask for it, and
/// a fresh head on `device`.
fn initial_classifier(config: &RunConfig, encoder: Encoder, features: Option<&FeatureBatches>, (shape, classes): (ImageShape, usize), device: &Device) -> Classifier {
    let head = config.model.head(shape, classes, &mut rng(config.seed, Stream::HeadInit), device);
    let norm = config.standardize_features.then(|| FeatureNorm::fit(features.expect("features to standardise").features()));
    Classifier { encoder, norm, head }
}

/// Loss and accuracy on `val` (when there is one) of the model after an epoch.
fn validation<M, B>(val: Option<&B>, batch_size: usize) -> impl FnMut(&M, usize) -> Measures
where
    B: BatchSource,
    M: Logits<B::Input>,
{
    move |model: &M, _epoch| match val {
        Some(val) => {
            let model = model.valid();
            let eval = evaluate_on(&model, val, batch_size, &crate::device::of(&model));
            [(VAL_LOSS, eval.loss), (VAL_ACCURACY, eval.accuracy)].into_iter().collect()
        }
        None => Measures::default(),
    }
}

/// The classifier's predictions for every image of `images`.
pub fn evaluate(model: &Classifier, images: &LabeledImages, classes: usize, pixels: PixelMap) -> Predictions {
    let source = ImageBatches::new(Labeled::new(images, classes), pixels);
    predict(model, &source, INFERENCE_BATCH, &crate::device::of(model))
}

/// A classifier with the weights saved at `path`, on `device`.
pub fn load_classifier(config: &RunConfig, shape: ImageShape, classes: usize, path: &Path, device: &Device) -> Result<Classifier> {
    let blank = Classifier {
        encoder: config.model.encoder(shape, &mut rng(config.seed, Stream::PretextInit), device),
        norm: config.standardize_features.then(|| FeatureNorm::identity(config.model.feature_dim(shape), device)),
        head: config.model.head(shape, classes, &mut rng(config.seed, Stream::HeadInit), device),
    };
    crate::model::weights::load(blank, path)
}

/// The encoder the pretext model starts from for this seed, on `device`: what the
/// random-encoder and from-scratch baselines use, so all methods share the same initial
/// weights.
pub fn initial_encoder(config: &RunConfig, shape: ImageShape, device: &Device) -> Encoder {
    config.model.encoder(shape, &mut rng(config.seed, Stream::PretextInit), device)
}

/// Semi-supervised training after a downstream phase (checkpoints in `session`'s folder):
/// - FixMatch trains all of `base` (encoder and head) on the labelled images and on
///   pseudo-labelled strong views of the unlabeled ones;
/// - distillation trains a student, `pretrained` under a fresh head, on the labelled images and
///   on `base`'s soft targets for the unlabeled ones;
/// - none keeps `base` as it is.
///
/// The last `validation_split` of the labelled images validate, as in the downstream phase.
pub fn semi_supervise(config: &RunConfig, method: SemiMethod, base: Classifier, pretrained: &Encoder, data: &RunData, session: &Session) -> Result<Probed> {
    let semi = &config.semi;
    let training = semi.phase_training();
    let trainer = session.trainer("semi", &training);
    let classes = data.num_classes();
    let (train, val) = data.labelled.split_tail(config.data.validation_split);
    let batches = SemiBatches::new(&train, &data.unlabeled, data.unlabeled_known, classes, data.pixels, (semi.unlabeled_ratio, semi.training.max_shift));
    let val = (!val.is_empty()).then(|| ImageBatches::new(Labeled::new(&val, classes), data.pixels));
    let rng = PhaseRng { shuffle: rng(config.seed, Stream::SemiShuffle), augment: rng(config.seed, Stream::SemiAugment) };
    // Semi-supervised training moves the whole network, whatever the downstream phase froze.
    let trainable = |c: Classifier| Classifier { encoder: c.encoder.unfreeze(), ..c }.train();
    match method {
        SemiMethod::None => Ok(Probed { model: base, history: Vec::new(), restored_epoch: None }),
        SemiMethod::Fixmatch => {
            let batches = batches.with_strong_views(semi.strong.build());
            let model = FixMatch::new(trainable(base), semi.threshold, semi.unlabeled_weight);
            let fitted = trainer.fit(model, &batches, validation(val.as_ref(), semi.training.batch_size), rng)?;
            Ok(Probed { model: fitted.model.valid().classifier, history: fitted.history, restored_epoch: fitted.restored_epoch })
        }
        SemiMethod::Distill => {
            let teacher = evaluate(&base, &data.unlabeled, classes, data.pixels).log_probs;
            let encoder = pretrained.valid();
            let features = config.standardize_features.then(|| encode(&encoder, &train, classes, data.pixels));
            let student = initial_classifier(config, encoder, features.as_ref(), (data.shape(), classes), &trainer.device);
            let model = Distill::new(trainable(student), semi.temperature, semi.unlabeled_weight);
            let fitted = trainer.fit(model, &batches.with_teacher(teacher), validation(val.as_ref(), semi.training.batch_size), rng)?;
            Ok(Probed { model: fitted.model.valid().student, history: fitted.history, restored_epoch: fitted.restored_epoch })
        }
    }
}
