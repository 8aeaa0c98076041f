//! The steps of a self-supervised run, each usable alone: load data, pretrain on the pretext
//! task, probe (train a head on the frozen encoder), evaluate on held-out images.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

use crate::config::RunConfig;
use crate::data::batch::{BatchSource, FeatureBatches, ImageBatches, Pixels};
use crate::data::catalog::{self, Dataset};
use crate::data::images::LabeledImages;
use crate::data::source::Labeled;
use crate::error::{Error, Result};
use crate::eval::confusion::ConfusionMatrix;
use crate::eval::knn::knn_predict;
use crate::eval::methods::{Method, MethodResult};
use crate::eval::predict::{Predictions, predict};
use crate::model::encoder::{Classifier, Encoder, PretextModel};
use crate::tasks::rotation::RotationTask;
use crate::train::checkpoint::Checkpoints;
use crate::train::history::EpochRecord;
use crate::train::optimizer::TrainConfig;
use crate::train::trainer::{PhaseRng, Trainer};

/// Batch size for inference-only passes (features, evaluation); it does not change results.
const INFERENCE_BATCH: usize = 500;

/// Independent random streams, so that changing one step never shifts another's randomness.
#[derive(Debug, Clone, Copy)]
enum Stream {
    PretextInit = 1,
    PretextShuffle = 2,
    HeadInit = 3,
    DownstreamShuffle = 4,
    PretextShifts = 5,
    DownstreamShifts = 6,
}

fn rng(seed: u64, stream: Stream) -> ChaCha12Rng {
    ChaCha12Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream as u64)
}

/// The CPU device training runs on (Burn flex, with autodiff).
pub fn training_device() -> Device {
    Device::flex().autodiff()
}

/// How this process trains: printing progress or not, keeping checkpoints or not.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Print model summaries, progress bars and one line per epoch.
    pub verbose: bool,
    /// Where the next training phase keeps its checkpoint (see [`Session::phase`]).
    pub checkpoints: Option<Checkpoints>,
}

impl Session {
    /// A session that keeps no checkpoints.
    pub fn printing(verbose: bool) -> Self {
        Self { verbose, checkpoints: None }
    }

    /// The same session with checkpoints in the sub-folder `name`, for one phase.
    pub fn phase(&self, name: &str) -> Self {
        Self { verbose: self.verbose, checkpoints: self.checkpoints.as_ref().map(|c| c.phase(name)) }
    }

    /// Deletes the checkpoints: the run they belong to is complete.
    pub fn remove_checkpoints(&self) -> Result<()> {
        self.checkpoints.as_ref().map_or(Ok(()), Checkpoints::remove)
    }

    fn trainer<'a>(&self, phase: &'static str, config: &'a TrainConfig) -> Trainer<'a> {
        Trainer { phase, config, device: training_device(), verbose: self.verbose, checkpoints: self.checkpoints.clone() }
    }
}

/// The images one run uses.
#[derive(Debug, Clone)]
pub struct RunData {
    /// Images for the pretext task (their labels are never read).
    pub unlabeled: LabeledImages,
    /// Labelled images for the head (the last `validation_split` validate).
    pub labelled: LabeledImages,
    /// Held-out test images.
    pub test: LabeledImages,
    /// Class names in label order.
    pub classes: &'static [&'static str],
}

/// Loads the configured data set from `data_dir` (or the standard places, downloading it
/// when it is nowhere) and keeps the configured numbers of images.
pub fn load_data(config: &RunConfig, data_dir: Option<&Path>) -> Result<RunData> {
    select(config, &load_dataset(config, data_dir)?)
}

/// The whole configured data set, read once (from `data_dir`, the standard places, or a
/// download into the cache, like Keras' `load_data`).
pub fn load_dataset(config: &RunConfig, data_dir: Option<&Path>) -> Result<Dataset> {
    let spec = catalog::spec(&config.data.dataset)?;
    let dir = match spec.resolve_dir(data_dir) {
        Ok(dir) => dir,
        Err(Error::DataNotFound { .. }) if data_dir.is_none() => {
            let cache = spec.cache_dir();
            eprintln!("{} not found locally; downloading it to {}", spec.name, cache.display());
            spec.fetch(&cache)?;
            cache
        }
        Err(e) => return Err(e),
    };
    let full = spec.load(&dir)?;
    if full.train.height() != full.train.width() {
        return Err(Error::malformed(&dir, format!("images are {}x{}; rotation needs square images", full.train.height(), full.train.width())));
    }
    Ok(full)
}

/// The configured numbers of unlabeled, labelled and test images of `full`.
pub fn select(config: &RunConfig, full: &Dataset) -> Result<RunData> {
    let unlabeled = full.train.head(config.data.unlabeled_size.within(full.train.len(), "--unlabeled", "training images")?);
    let labels = config.data.labels.within(full.train.len(), "--labels", "training images")?;
    let classes = full.classes.len();
    let labelled = if config.data.balanced_labels {
        full.train.balanced(labels / classes, classes)
    } else {
        full.train.head(labels)
    };
    if labelled.len() < labels / classes * classes {
        return Err(Error::Config(format!(
            "--labels {labels} with --balanced-labels needs {} images of every class, but some class has fewer; pass fewer labels",
            labels / classes
        )));
    }
    if labelled.split_point(config.data.validation_split) == 0 {
        return Err(Error::Config(format!(
            "{} labelled images with validation split {} leave none to train the head",
            labelled.len(),
            config.data.validation_split
        )));
    }
    let test = full.test.head(config.data.test_size.within(full.test.len(), "--test-size", "test images")?);
    Ok(RunData { unlabeled, labelled, test, classes: full.classes })
}

/// A pretext model and its training history.
#[derive(Debug)]
pub struct Pretrained {
    /// The trained model (on the plain, inference device).
    pub model: PretextModel,
    /// Per-epoch metrics.
    pub history: Vec<EpochRecord>,
}

/// Trains the rotation pretext model on `images` (their labels are never read).
pub fn pretrain(config: &RunConfig, images: &LabeledImages, session: &Session) -> Result<Pretrained> {
    let trainer = session.trainer("pretext", &config.pretext);
    let model = config.model.pretext(images.height(), 4, &mut rng(config.seed, Stream::PretextInit), &trainer.device);
    if session.verbose {
        println!("{}", model.summary(images.height(), &trainer.device));
    }
    let task = ImageBatches::new(RotationTask::new(images), config.data.pixels).with_random_shifts(config.pretext.max_shift);
    let rng = PhaseRng { shuffle: rng(config.seed, Stream::PretextShuffle), augment: rng(config.seed, Stream::PretextShifts) };
    let fitted = trainer.fit(model, &task, None, rng)?;
    Ok(Pretrained { model: fitted.model.valid(), history: fitted.history })
}

/// A trained classifier (encoder + head) and the downstream training history.
#[derive(Debug)]
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
    let head = config.model.head(images.height(), classes, &mut rng(config.seed, Stream::HeadInit), &trainer.device);
    let classifier = Classifier { encoder: encoder.valid(), head };
    if session.verbose {
        println!("{}", classifier.summary(images.height(), config.fine_tune, &trainer.device));
    }
    let (train, val) = images.split_tail(config.data.validation_split);
    let rng = PhaseRng { shuffle: rng(config.seed, Stream::DownstreamShuffle), augment: rng(config.seed, Stream::DownstreamShifts) };
    if config.fine_tune || config.downstream.max_shift > 0 {
        // Images go through the encoder every step: it learns, or its input changes.
        let batches = |set| ImageBatches::new(Labeled::new(set, classes), config.data.pixels);
        let val = (!val.is_empty()).then(|| batches(&val));
        let train = batches(&train).with_random_shifts(config.downstream.max_shift);
        let encoder = if config.fine_tune { classifier.encoder.train() } else { classifier.encoder.no_grad().train() };
        let fitted = trainer.fit(Classifier { encoder, head: classifier.head }, &train, val.as_ref(), rng)?;
        return Ok(Probed { model: fitted.model.valid(), history: fitted.history, restored_epoch: fitted.restored_epoch });
    }
    // Frozen encoder, unchanged images: with no dropout or normalisation layers the features
    // are the same every epoch, so they are computed once.
    let train = encode(&classifier.encoder, &train, classes, config.data.pixels);
    let val = (!val.is_empty()).then(|| encode(&classifier.encoder, &val, classes, config.data.pixels));
    let fitted = trainer.fit(classifier.head, &train, val.as_ref(), rng)?;
    Ok(Probed {
        model: Classifier { encoder: classifier.encoder, head: fitted.model.valid() },
        history: fitted.history,
        restored_epoch: fitted.restored_epoch,
    })
}

/// The encoder's features of every image, as batches for the head.
pub fn encode(encoder: &Encoder, images: &LabeledImages, classes: usize, pixels: Pixels) -> FeatureBatches {
    let device = Device::flex();
    let encoder = encoder.valid();
    let source = ImageBatches::new(Labeled::new(images, classes), pixels);
    let all: Vec<usize> = (0..source.len()).collect();
    let mut parts = Vec::new();
    let mut targets = Vec::with_capacity(images.len());
    for indices in all.chunks(INFERENCE_BATCH) {
        let batch = source.batch(indices, &device);
        parts.push(encoder.features(batch.input));
        targets.extend(batch.targets);
    }
    FeatureBatches::new(Tensor::cat(parts, 0), targets, classes)
}

/// The classifier's predictions for every image of `images`.
pub fn evaluate(model: &Classifier, images: &LabeledImages, classes: usize, pixels: Pixels) -> Predictions {
    let source = ImageBatches::new(Labeled::new(images, classes), pixels);
    predict(model, &source, INFERENCE_BATCH, &Device::flex())
}

/// A pretext model with the weights saved at `path`.
pub fn load_pretext(config: &RunConfig, image_size: usize, path: &Path) -> Result<PretextModel> {
    let device = Device::flex();
    let blank = config.model.pretext(image_size, 4, &mut rng(config.seed, Stream::PretextInit), &device);
    crate::model::weights::load(blank, path)
}

/// A classifier with the weights saved at `path`.
pub fn load_classifier(config: &RunConfig, image_size: usize, classes: usize, path: &Path) -> Result<Classifier> {
    let device = Device::flex();
    let blank = Classifier {
        encoder: config.model.encoder(&mut rng(config.seed, Stream::PretextInit), &device),
        head: config.model.head(image_size, classes, &mut rng(config.seed, Stream::HeadInit), &device),
    };
    crate::model::weights::load(blank, path)
}

/// The encoder the pretext model starts from for this seed: what the random-encoder and
/// from-scratch baselines use, so all methods share the same initial weights.
pub fn initial_encoder(config: &RunConfig) -> Encoder {
    config.model.encoder(&mut rng(config.seed, Stream::PretextInit), &Device::flex())
}

/// Trains the classifier of `method` on the run's labelled images (checkpoints in a
/// sub-folder named after the method).
pub fn train_method(config: &RunConfig, method: Method, pretrained: &Encoder, data: &RunData, session: &Session) -> Result<Probed> {
    let config = RunConfig { fine_tune: method.fine_tune(), ..config.clone() };
    let encoder = if method.pretrained() { pretrained.clone() } else { initial_encoder(&config) };
    probe(&config, encoder, &data.labelled, data.classes.len(), &session.phase(method.id()))
}

/// Test accuracy of a k-NN vote over `encoder`'s features of the labelled images.
pub fn knn_accuracy(config: &RunConfig, encoder: &Encoder, data: &RunData) -> f64 {
    let classes = data.classes.len();
    let bank = encode(encoder, &data.labelled, classes, config.data.pixels);
    let queries = encode(encoder, &data.test, classes, config.data.pixels);
    let predicted = knn_predict(bank.features(), bank.targets(), queries.features(), classes, config.knn);
    let correct = predicted.iter().zip(queries.targets()).filter(|(p, t)| p == t).count();
    correct as f64 / data.test.len().max(1) as f64
}

/// Scores each of `methods` on the test images, training each on the same labelled images
/// (except the run's own method when `main` already holds it and its test predictions).
pub fn compare_methods(
    config: &RunConfig,
    methods: &[Method],
    pretrained: &Encoder,
    main: Option<(&Probed, &Predictions)>,
    data: &RunData,
    session: &Session,
) -> Result<Vec<MethodResult>> {
    let classes = data.classes.len();
    let own = Method::of_run(config.fine_tune);
    let score = |method: Method, probed: &Probed, predictions: &Predictions| {
        let matrix = ConfusionMatrix::new(&predictions.predicted(), &predictions.targets, classes);
        MethodResult {
            method,
            test_accuracy: predictions.evaluation().accuracy,
            knn_accuracy: knn_accuracy(config, &probed.model.encoder, data),
            epochs_run: probed.history.len(),
            per_class_accuracy: matrix.per_class_accuracy(),
        }
    };
    methods
        .iter()
        .map(|&method| match main {
            Some((probed, predictions)) if method == own => Ok(score(method, probed, predictions)),
            _ => {
                let quiet = Session { verbose: false, ..session.clone() };
                let trained = train_method(config, method, pretrained, data, &quiet)?;
                Ok(score(method, &trained, &evaluate(&trained.model, &data.test, classes, config.data.pixels)))
            }
        })
        .collect()
}
