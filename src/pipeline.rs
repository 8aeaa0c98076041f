//! The steps of a self-supervised run, each usable alone: load data, pretrain on the pretext
//! task, probe (train a head on the frozen encoder), evaluate on held-out images.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

use crate::config::RunConfig;
use crate::data::batch::{BatchSource, FeatureBatches, ImageBatches, PixelMap, Pixels};
use crate::data::dataset::{Dataset, DatasetInfo};
use crate::data::folder::FolderOptions;
use crate::data::registry::DataSource;
use crate::data::images::{ImageShape, LabeledImages};
use crate::data::source::Labeled;
use crate::error::{Error, Invalid, Result};
use crate::eval::confusion::ConfusionMatrix;
pub use crate::eval::features::encode;
use crate::eval::features::INFERENCE_BATCH;
use crate::eval::knn;
use crate::eval::monitor::{COLLAPSE_BELOW, FEATURE_SPREAD, FeatureMonitor};
use crate::eval::predict::{Predictions, evaluate as evaluate_on, predict};
use crate::eval::protocols::{Protocol, ProtocolResult};
use crate::methods::{Method, PretextData, PretextMethod, PretextModel, WithMethod};
use crate::model::classifier::{Classifier, Logits};
use crate::model::encoders::Encoder;
use crate::model::heads::FeatureNorm;
use crate::train::checkpoint::Checkpoints;
use crate::train::live_log::RunLogs;
use crate::train::history::{EpochRecord, Measures, VAL_ACCURACY, VAL_LOSS};
use crate::train::optimizer::TrainConfig;
use crate::train::trainer::{PhaseRng, Trainer};
use crate::semi::SemiMethod;
use crate::semi::batches::SemiBatches;
use crate::semi::distill::Distill;
use crate::semi::fixmatch::FixMatch;

/// Independent random streams, so that changing one step never shifts another's randomness.
#[derive(Debug, Clone, Copy)]
enum Stream {
    PretextInit = 1,
    PretextShuffle = 2,
    HeadInit = 3,
    DownstreamShuffle = 4,
    /// Shifts of rotation's images, or the views of the two-view methods.
    PretextAugment = 5,
    DownstreamShifts = 6,
    SemiShuffle = 7,
    /// Labelled picks, weak and strong views of the semi-supervised phase.
    SemiAugment = 8,
}

fn rng(seed: u64, stream: Stream) -> ChaCha12Rng {
    ChaCha12Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream as u64)
}

/// How this process trains: on which device, printing progress or not, keeping checkpoints or
/// not.
#[derive(Debug, Clone)]
pub struct Session {
    /// The device training computes on, with autodiff (from [`crate::device::DeviceChoice::open`]);
    /// the models it trains come back on the same device without autodiff.
    pub device: Device,
    /// Print model summaries, progress bars and one line per epoch.
    pub verbose: bool,
    /// Where the next training phase keeps its checkpoint (see [`Session::phase`]).
    pub checkpoints: Option<Checkpoints>,
    /// Where the training phases write each epoch as it ends; `None` writes nothing while
    /// training.
    pub logs: Option<RunLogs>,
}

impl Default for Session {
    /// On the CPU, quiet, without checkpoints.
    fn default() -> Self {
        Self::new(crate::device::cpu(), false)
    }
}

impl Session {
    /// A session on `device` that keeps no checkpoints.
    pub fn new(device: Device, verbose: bool) -> Self {
        Self { device, verbose, checkpoints: None, logs: None }
    }

    /// The same session with checkpoints in the sub-folder `name`, for one phase.
    pub fn phase(&self, name: &str) -> Self {
        Self { checkpoints: self.checkpoints.as_ref().map(|c| c.phase(name)), ..self.clone() }
    }

    /// Deletes the checkpoints: the run they belong to is complete.
    pub fn remove_checkpoints(&self) -> Result<()> {
        self.checkpoints.as_ref().map_or(Ok(()), Checkpoints::remove)
    }

    fn trainer<'a>(&self, phase: &'static str, config: &'a TrainConfig) -> Trainer<'a> {
        let log = self.logs.as_ref().map(|logs| logs.phase(phase));
        Trainer { phase, config, device: self.device.clone(), verbose: self.verbose, checkpoints: self.checkpoints.clone(), log }
    }
}

/// The images one run uses.
#[derive(Debug, Clone)]
pub struct RunData {
    /// Images for the pretext task and the semi-supervised phase (their labels are read only
    /// to score pseudo-labels).
    pub unlabeled: LabeledImages,
    /// How many of the first `unlabeled` images have a true label: those taken from the
    /// training images (an image folder's loose images have none).
    pub unlabeled_known: usize,
    /// Labelled images for the head (the last `validation_split` validate).
    pub labelled: LabeledImages,
    /// Held-out test images.
    pub test: LabeledImages,
    /// Labelled training images that watch the pretext phase (k-NN curve, collapse); empty
    /// when the monitor is off.
    pub monitor: LabeledImages,
    /// The data set they come from: name, shape, classes, counts, channel statistics.
    pub dataset: DatasetInfo,
    /// How pixel bytes become the network's inputs.
    pub pixels: PixelMap,
}

impl RunData {
    /// Channels, height and width of every image.
    pub fn shape(&self) -> ImageShape {
        self.dataset.shape
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.dataset.classes.len()
    }
}

/// Loads the configured data set from `data_dir` (or the standard places, downloading it
/// when it is nowhere) and keeps the configured numbers of images; see [`load_dataset`] for
/// what it records in `config`.
pub fn load_data(config: &mut RunConfig, data_dir: Option<&Path>) -> Result<RunData> {
    let full = load_dataset(config, data_dir)?;
    select(config, &full)
}

/// The whole configured data set, read once (from `data_dir`, the standard places, or a
/// download into the cache, like Keras' `load_data`). With `pixels = "standardize"`, the
/// training images' channel statistics are recorded in `config` unless it holds them already
/// (a resumed run, `eval`), so that every later step converts pixels the same way.
pub fn load_dataset(config: &mut RunConfig, data_dir: Option<&Path>) -> Result<Dataset> {
    let full = DataSource::parse(&config.data.dataset)?.load(&config.data.folder, data_dir)?;
    let shape = full.shape();
    if shape.height != shape.width {
        return Err(Error::Config(format!("{} images are {}x{}; the encoders need square images", full.name, shape.height, shape.width)));
    }
    if config.data.pixels == Pixels::Standardize && config.data.channel_stats.is_none() {
        config.data.channel_stats = Some(full.channel_stats().clone());
    }
    Ok(full)
}

/// Another data set's labelled images as test images for the classifier of a run that trained
/// on `trained` with `config`: every labelled image of an image folder (brought to the run's
/// image shape with the run's folder settings), or a named data set's test split. Its classes
/// are matched to the run's by name; one the run does not know is refused by name.
pub fn load_other_test(config: &RunConfig, trained: &DatasetInfo, dataset: &str, data_dir: Option<&Path>) -> Result<(LabeledImages, DatasetInfo)> {
    let source = DataSource::parse(dataset)?;
    let shape = trained.shape;
    let folder = match source {
        DataSource::Folder(_) => FolderOptions { channels: Some(shape.channels), image_size: Some(shape.height), unlabeled_dir: None, ..config.data.folder.clone() },
        _ => FolderOptions::default(),
    };
    let other = source.load(&folder, data_dir)?;
    let (images, test_source) = match source {
        DataSource::Folder(_) => (other.train.clone().concat(&other.test), format!("every labelled image of {dataset}")),
        _ => (other.test.clone(), format!("the test split of {dataset}")),
    };
    if images.shape() != shape {
        return Err(Error::Config(format!("{dataset} holds {} images; the run's classifier takes {shape}", images.shape())));
    }
    let labels = other
        .classes
        .iter()
        .map(|class| {
            trained.classes.iter().position(|c| c == class).map(|label| label as u8).ok_or_else(|| {
                Error::Config(format!("{dataset} has the class {class}, which the run's classifier does not know (its classes: {})", trained.classes.join(", ")))
            })
        })
        .collect::<Result<Vec<u8>>>()?;
    let info = DatasetInfo { classes: trained.classes.clone(), train: 0, unlabeled: 0, test: images.len(), test_source, ..other.info() };
    Ok((images.relabeled(&labels), info))
}

/// The configured numbers of unlabeled, labelled and test images of `full`.
pub fn select(config: &RunConfig, full: &Dataset) -> Result<RunData> {
    let unlabeled = full.pretext_images(config.data.unlabeled_size.within(full.pretext_pool_len(), "data.unlabeled_size", "training images")?);
    let unlabeled_known = unlabeled.len().min(full.train.len());
    let labels = config.data.labels.within(full.train.len(), "data.labels", "labelled training images")?;
    let classes = full.classes.len();
    if config.data.balanced_labels && labels < classes {
        let problem = format!("{labels} with balanced labels gives 0 per class with {classes} classes; use at least {classes}");
        return Err(Invalid::new("data.labels", problem).into());
    }
    let labelled = if config.data.balanced_labels {
        full.train.balanced(labels / classes, classes)
    } else {
        full.train.head(labels)
    };
    if labelled.len() < labels / classes * classes {
        let problem = format!("{labels} with balanced labels needs {} images of every class, but some class has fewer; pass fewer labels", labels / classes);
        return Err(Invalid::new("data.labels", problem).into());
    }
    if labelled.split_point(config.data.validation_split) == 0 {
        let problem = format!("{} with a validation split of {} leaves no image to train the head; use more labels or a smaller split", labelled.len(), config.data.validation_split);
        return Err(Invalid::new("data.labels", problem).into());
    }
    let test = full.test.head(config.data.test_size.within(full.test.len(), "data.test_size", "test images")?);
    let watched = if config.monitor.every > 0 { config.monitor.images.min(full.train.len()) } else { 0 };
    let monitor = full.train.slice(full.train.len() - watched..full.train.len());
    Ok(RunData { unlabeled, unlabeled_known, labelled, test, monitor, dataset: full.info(), pixels: config.data.pixel_map()? })
}

/// A pretext model and its training history.
#[derive(Debug)]
pub struct Pretrained {
    /// The trained model (on the plain, inference device).
    pub model: PretextModel,
    /// Per-epoch metrics.
    pub history: Vec<EpochRecord>,
}

impl Pretrained {
    /// The latest value named `name` in the history (the monitor does not measure every epoch).
    pub fn last_measured(&self, name: &str) -> Option<f64> {
        self.history.iter().rev().find_map(|record| record.get(name))
    }

    /// The last measured feature spread when it is below [`COLLAPSE_BELOW`]: the encoder's
    /// features all point one way, and whatever is trained on them will be poor.
    pub fn collapse(&self) -> Option<f64> {
        self.last_measured(FEATURE_SPREAD).filter(|&spread| spread < COLLAPSE_BELOW)
    }
}

/// Trains the configured method on the run's unlabeled images (their labels are never read),
/// watched by the k-NN monitor.
pub fn pretrain(config: &RunConfig, data: &RunData, session: &Session) -> Result<Pretrained> {
    let trainer = session.trainer("pretext", &config.pretext);
    let images = &data.unlabeled;
    let model = PretextModel::init(&config.method, &config.model, images.shape(), &mut rng(config.seed, Stream::PretextInit), &trainer.device);
    if session.verbose {
        match model.summary(images.shape()) {
            Some(summary) => println!("{summary}"),
            None => println!("method {}: encoder and heads, {} parameters\n", config.method.name(), model.num_params()),
        }
    }
    let phase = PretextPhase {
        trainer,
        monitor: FeatureMonitor::new(&data.monitor, data.num_classes(), data.pixels, config.knn, (config.monitor.every, config.pretext.epochs)),
        rng: PhaseRng { shuffle: rng(config.seed, Stream::PretextShuffle), augment: rng(config.seed, Stream::PretextAugment) },
        data: PretextData { images, pixels: data.pixels, max_shift: config.pretext.max_shift },
    };
    let (model, history) = model.with_method(&config.method, phase)?;
    Ok(Pretrained { model, history })
}

/// The trainer, monitor, random streams and data of one pretext phase.
struct PretextPhase<'a> {
    trainer: Trainer<'a>,
    monitor: FeatureMonitor,
    rng: PhaseRng,
    data: PretextData<'a>,
}

impl WithMethod for PretextPhase<'_> {
    type Output = Result<(PretextModel, Vec<EpochRecord>)>;

    /// Trains `model` on its method's batches; the trained model comes back on the inference
    /// device.
    fn run<M: PretextMethod>(self, config: &M, model: M::Model) -> Self::Output {
        let monitor = &self.monitor;
        let measure = |m: &M::Model, epoch| monitor.measure(m.encoder(), epoch);
        let fitted = self.trainer.fit(model, &config.batches(self.data), measure, self.rng)?;
        Ok((fitted.model.valid().into(), fitted.history))
    }
}

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

/// The configured method's pretext model with the weights saved at `path`, on `device`.
pub fn load_pretext(config: &RunConfig, shape: ImageShape, path: &Path, device: &Device) -> Result<PretextModel> {
    PretextModel::init(&config.method, &config.model, shape, &mut rng(config.seed, Stream::PretextInit), device).load(path)
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

/// Trains the classifier of `protocol` on the run's labelled images (checkpoints in a
/// sub-folder named after the protocol). A semi-supervised protocol starts from its base
/// protocol's classifier, taken from `trained` or trained first; what this trains is added to
/// `trained`.
pub fn train_protocol(config: &RunConfig, protocol: Protocol, pretrained: &Encoder, data: &RunData, trained: &mut Vec<(Protocol, Probed)>, session: &Session) -> Result<Probed> {
    // A run's history files are its own phases'; the baselines' would overwrite them.
    let session = &Session { logs: None, ..session.clone() };
    let probed = match protocol.semi(config.fine_tune) {
        None => {
            let config = RunConfig { fine_tune: protocol.fine_tune(), ..config.clone() };
            let encoder = if protocol.pretrained() { pretrained.clone() } else { initial_encoder(&config, data.shape(), &session.device.clone().without_autodiff()) };
            probe(&config, encoder, &data.labelled, data.num_classes(), &session.phase(protocol.id()))?
        }
        Some((method, base)) => {
            let start = match trained.iter().find(|(p, _)| *p == base) {
                Some((_, probed)) => probed.model.clone(),
                None => train_protocol(config, base, pretrained, data, trained, session)?.model,
            };
            semi_supervise(config, method, start, pretrained, data, &session.phase(protocol.id()))?
        }
    };
    trained.push((protocol, probed.clone()));
    Ok(probed)
}

/// Test accuracy of a k-NN vote over `encoder`'s features of the labelled images.
pub fn knn_accuracy(config: &RunConfig, encoder: &Encoder, data: &RunData) -> f64 {
    let classes = data.num_classes();
    let bank = encode(encoder, &data.labelled, classes, data.pixels);
    let queries = encode(encoder, &data.test, classes, data.pixels);
    knn::knn_accuracy(&bank, &queries, classes, config.knn)
}

/// Scores each of `protocols` on the test images, training each on the same labelled images
/// (except those `known` already holds, with their test predictions: the run's own).
pub fn compare_protocols(
    config: &RunConfig,
    protocols: &[Protocol],
    pretrained: &Encoder,
    known: &[(Protocol, &Probed, &Predictions)],
    data: &RunData,
    session: &Session,
) -> Result<Vec<ProtocolResult>> {
    let classes = data.num_classes();
    let score = |protocol: Protocol, probed: &Probed, predictions: &Predictions| {
        let matrix = ConfusionMatrix::new(&predictions.predicted(), &predictions.targets, classes);
        ProtocolResult {
            protocol,
            test_accuracy: predictions.evaluation().accuracy,
            knn_accuracy: knn_accuracy(config, &probed.model.encoder, data),
            epochs_run: probed.history.len(),
            per_class_accuracy: matrix.per_class_accuracy(),
            seconds: probed.history.iter().map(|r| r.seconds).sum(),
        }
    };
    let mut trained: Vec<(Protocol, Probed)> = known.iter().map(|&(protocol, probed, _)| (protocol, probed.clone())).collect();
    let quiet = Session { verbose: false, ..session.clone() };
    protocols
        .iter()
        .map(|&protocol| {
            if let Some(&(_, probed, predictions)) = known.iter().find(|(p, ..)| *p == protocol) {
                return Ok(score(protocol, probed, predictions));
            }
            let probed = match trained.iter().find(|(p, _)| *p == protocol) {
                Some((_, probed)) => probed.clone(),
                None => train_protocol(config, protocol, pretrained, data, &mut trained, &quiet)?,
            };
            Ok(score(protocol, &probed, &evaluate(&probed.model, &data.test, classes, data.pixels)))
        })
        .collect()
}
