//! The pretext phase: the configured method trained on the unlabeled images, watched by the
//! k-NN monitor.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;

use crate::config::RunConfig;
use crate::data::images::ImageShape;
use crate::error::Result;
use crate::eval::monitor::{COLLAPSE_BELOW, FEATURE_SPREAD, FeatureMonitor};
use crate::methods::{Method, PretextData, PretextMethod, PretextModel, WithMethod};
use crate::train::history::EpochRecord;
use crate::train::trainer::{PhaseRng, Trainer};

use super::data::RunData;
use super::session::Session;
use super::streams::{Stream, rng};

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

/// The configured method's pretext model with the weights saved at `path`, on `device`.
pub fn load_pretext(config: &RunConfig, shape: ImageShape, path: &Path, device: &Device) -> Result<PretextModel> {
    PretextModel::init(&config.method, &config.model, shape, &mut rng(config.seed, Stream::PretextInit), device).load(path)
}
