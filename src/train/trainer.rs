//! The training loop: batches in, optimizer steps on a learning-rate schedule, one history
//! record per epoch, and a checkpoint whenever one is due. It knows nothing about which task,
//! method or loss it trains: the model computes its loss ([`TrainStep`]) and the caller
//! measures whatever it wants after each epoch.

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha12Rng;

use crate::data::batch::BatchSource;
use crate::error::{Error, Result};
use crate::train::checkpoint::{Checkpoints, PhaseState, Progress, Settings};
use crate::train::early_stopping::{EarlyStopping, Verdict};
use crate::train::history::{EpochRecord, Measures};
use crate::train::interrupt;
use crate::train::live_log::LiveLog;
use crate::train::optimizer::TrainConfig;
use crate::train::progress::PhaseProgress;
use crate::train::step::{StepOutput, TrainStep};

/// A trained model and how it got there.
#[derive(Debug)]
pub struct Fitted<M> {
    /// The final (or, with `restore_best`, the best) weights.
    pub model: M,
    /// One record per epoch run.
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights `model` holds when early stopping restored the best ones.
    pub restored_epoch: Option<usize>,
}

/// The random streams of one training phase. They are generators with a serialisable state
/// (ChaCha12, the algorithm behind rand's `StdRng`) so that checkpoints can hold them.
#[derive(Debug, Clone)]
pub struct PhaseRng {
    /// Reorders the samples every epoch (when the phase shuffles).
    pub shuffle: ChaCha12Rng,
    /// Draws the augmentations of training batches.
    pub augment: ChaCha12Rng,
}

/// Runs one phase of training.
#[derive(Debug, Clone)]
pub struct Trainer<'a> {
    /// `pretext` or `downstream`, used in messages.
    pub phase: &'static str,
    /// Loop and optimizer settings.
    pub config: &'a TrainConfig,
    /// Device with autodiff for training.
    pub device: Device,
    /// Print a progress bar and one line per epoch.
    pub verbose: bool,
    /// Where to keep checkpoints and continue from them; `None` trains without.
    pub checkpoints: Option<Checkpoints>,
    /// Where each epoch is written as it ends; `None` keeps the history in memory only.
    pub log: Option<LiveLog>,
}

impl Trainer<'_> {
    /// Trains `model` on `train`, calling `measure` after each epoch with the model and the
    /// epoch number (validation, k-NN, ...);
    /// continues from the phase's checkpoint when there is one.
    pub fn fit<M, B, F>(&self, model: M, train: &B, mut measure: F, rng: PhaseRng) -> Result<Fitted<M>>
    where
        B: BatchSource,
        M: TrainStep<B::Input>,
        F: FnMut(&M, usize) -> Measures,
    {
        let settings = Settings { config: self.config.clone(), samples: train.len() };
        let PhaseRng { shuffle: mut shuffle_rng, augment } = rng;
        let mut state = self.resume_or_start(model, augment, &settings)?;
        let mut log = self.log.as_ref().map(|log| log.open(&state.progress.history)).transpose()?;
        let resume_epoch = state.progress.epochs_done + 1;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut watch = PhaseProgress::new(self.phase, self.config.epochs, train.len().div_ceil(self.config.batch_size), self.verbose);
        for epoch in 1..=self.config.epochs {
            if state.progress.finished {
                break;
            }
            if self.config.shuffle {
                order.shuffle(&mut shuffle_rng);
            }
            if epoch < resume_epoch {
                continue; // replays the shuffles of the epochs already done
            }
            let start = Instant::now();
            state = self.train_epoch(state, epoch, train, &order, &settings, &mut watch)?;
            let measures = measure(&state.model, epoch);
            self.end_epoch(&mut state, epoch, measures, &settings, start.elapsed());
            if let (Some(log), Some(record)) = (&mut log, state.progress.history.last()) {
                log.append(record)?;
            }
            if let Some(checkpoints) = &self.checkpoints
                && (state.progress.finished || checkpoints.due_after(epoch))
            {
                checkpoints.save(&state, &settings)?;
            }
        }
        let restored_epoch = state.best.is_some().then(|| state.progress.stopping.as_ref().map(EarlyStopping::best_epoch)).flatten();
        if let Some(epoch) = restored_epoch.filter(|_| self.verbose) {
            println!("Restoring model weights from the end of the best epoch: {epoch}.");
        }
        Ok(Fitted { model: state.best.unwrap_or(state.model), history: state.progress.history, restored_epoch })
    }

    /// The phase's checkpoint, or a fresh start when it has none.
    fn resume_or_start<M: TrainStep<I>, I>(&self, model: M, augment_rng: ChaCha12Rng, settings: &Settings) -> Result<PhaseState<M>> {
        let optimizer = self.config.optimizer();
        if let Some(checkpoints) = &self.checkpoints
            && let Some(state) = checkpoints.load(model.clone(), optimizer.clone(), settings)?
        {
            if self.verbose {
                let Progress { epochs_done, steps_done, .. } = state.progress;
                println!("{} phase: continuing from its checkpoint (epoch {epochs_done} done, {steps_done} steps into the next)", self.phase);
            }
            return Ok(state);
        }
        let stopping = self.config.early_stopping.clone().map(EarlyStopping::new);
        Ok(PhaseState { model, optimizer, best: None, progress: Progress { stopping, ..Progress::default() }, augment_rng })
    }

    /// The optimizer steps of one epoch, from where the state stands. A stop request
    /// (Ctrl-C) ends it after the current step with a checkpoint.
    fn train_epoch<M, B>(&self, mut state: PhaseState<M>, epoch: usize, train: &B, order: &[usize], settings: &Settings, watch: &mut PhaseProgress) -> Result<PhaseState<M>>
    where
        B: BatchSource,
        M: TrainStep<B::Input>,
    {
        let config = self.config;
        let steps_per_epoch = order.len().div_ceil(config.batch_size);
        let total_steps = (steps_per_epoch * config.epochs) as f64;
        watch.start_epoch(epoch, state.progress.steps_done);
        for (step, indices) in order.chunks(config.batch_size).enumerate().skip(state.progress.steps_done) {
            let global_step = (epoch - 1) * steps_per_epoch + step;
            let learning_rate = config.learning_rate_at(global_step, steps_per_epoch);
            let model = state.model;
            let (model, loss_value, tallies) = self.out_of_memory_as_error(|| {
                let batch = train.training_batch(indices, &self.device, &mut state.augment_rng);
                let StepOutput { loss, tallies } = model.step(batch);
                let loss_value: f32 = loss.clone().into_scalar();
                if !loss_value.is_finite() {
                    return Err(Error::Diverged { phase: self.phase, epoch, step: step + 1, loss: loss_value });
                }
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let model = state.optimizer.step(learning_rate, model, grads).after_step((global_step + 1) as f64 / total_steps);
                Ok((model, loss_value, tallies))
            })?;
            state.model = model;
            let progress = &mut state.progress;
            progress.loss_sum += loss_value as f64 * indices.len() as f64;
            tallies.into_iter().for_each(|(name, tally)| progress.tallies.add(name, tally));
            progress.learning_rate = learning_rate;
            progress.steps_done = step + 1;
            watch.step_done(epoch, step + 1);
            if let Some(checkpoints) = self.checkpoints.as_ref().filter(|_| interrupt::requested()) {
                watch.finish_epoch();
                checkpoints.save(&state, settings)?;
                return Err(Error::Interrupted {
                    phase: self.phase,
                    epochs_done: state.progress.epochs_done,
                    steps_done: state.progress.steps_done,
                    checkpoint: checkpoints.dir().to_path_buf(),
                    resume_command: checkpoints.resume_command().to_string(),
                });
            }
        }
        watch.finish_epoch();
        Ok(state)
    }

    /// Runs one training step, turning the device running out of memory (a panic in Burn's GPU
    /// runtimes) into [`Error::OutOfMemory`], which names the command that continues from the
    /// phase's checkpoint when it has one. Other panics go on as they were.
    fn out_of_memory_as_error<T>(&self, step: impl FnOnce() -> Result<T>) -> Result<T> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|panic| {
            if !crate::device::out_of_memory(&*panic) {
                std::panic::resume_unwind(panic);
            }
            let resume = self.checkpoints.as_ref().filter(|c| c.saved()).map(|c| c.resume_command().to_string());
            Err(Error::OutOfMemory { phase: self.phase, batch_size: self.config.batch_size, resume })
        })
    }

    /// Records the epoch with what was measured after it, and asks early stopping whether to
    /// go on.
    fn end_epoch<M: Module>(&self, state: &mut PhaseState<M>, epoch: usize, measures: Measures, settings: &Settings, took: Duration) {
        let progress = &mut state.progress;
        let seen = settings.samples as f64;
        let record = EpochRecord {
            epoch,
            loss: progress.loss_sum / seen,
            measured: progress.tallies.rates().chain(measures.iter()).collect(),
            learning_rate: progress.learning_rate,
            seconds: took.as_secs_f64(),
        };
        if self.verbose {
            println!("{}", record.keras_line(self.config.epochs));
        }
        let verdict = progress.stopping.as_mut().map_or(Verdict::Continue, |s| s.update(&record));
        if verdict == Verdict::Improved && progress.stopping.as_ref().is_some_and(EarlyStopping::restore_best) {
            state.best = Some(state.model.clone());
        }
        if verdict == Verdict::Stop && self.verbose {
            println!("Early stopping at epoch {epoch}: {} did not improve", self.monitor_name());
        }
        progress.history.push(record);
        *progress = Progress {
            epochs_done: epoch,
            finished: verdict == Verdict::Stop || epoch == self.config.epochs,
            history: std::mem::take(&mut progress.history),
            stopping: progress.stopping.take(),
            ..Progress::default()
        };
    }

    fn monitor_name(&self) -> &'static str {
        self.config.early_stopping.as_ref().map_or("", |e| e.monitor.name())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Tensor, TensorData};
    use rand::SeedableRng;

    use super::*;
    use crate::data::batch::{Batch, FeatureBatches};
    use crate::train::optimizer::OptimizerKind;

    /// Feature batches that go wrong from step `poisoned_from` (1-based, counted over the
    /// whole run) on.
    struct Poisoned {
        inner: FeatureBatches,
        steps: Cell<usize>,
        poisoned_from: usize,
        poison: Poison,
    }

    /// How a [`Poisoned`] batch goes wrong.
    #[derive(Clone, Copy)]
    enum Poison {
        /// Its inputs turn to NaN.
        Nan,
        /// Making it panics with this message, as Burn's GPU runtimes do.
        Panic(&'static str),
    }

    impl BatchSource for Poisoned {
        type Input = Tensor<2>;

        fn len(&self) -> usize {
            self.inner.len()
        }

        fn num_classes(&self) -> usize {
            self.inner.num_classes()
        }

        fn batch(&self, indices: &[usize], device: &Device) -> Batch<Tensor<2>> {
            self.inner.batch(indices, device)
        }

        fn training_batch(&self, indices: &[usize], device: &Device, _rng: &mut ChaCha12Rng) -> Batch<Tensor<2>> {
            self.steps.set(self.steps.get() + 1);
            let batch = self.inner.batch(indices, device);
            match self.poison {
                _ if self.steps.get() < self.poisoned_from => batch,
                Poison::Nan => Batch { input: batch.input.mul_scalar(f32::NAN), targets: batch.targets },
                Poison::Panic(message) => panic!("{message}"),
            }
        }
    }

    /// Epochs of two steps on eight samples, `poison` from step `poisoned_from` on, with a
    /// checkpoint after every epoch: the error, and the checkpoint left.
    fn train_until(poison: Poison, poisoned_from: usize) -> (Error, Option<PhaseState<Linear>>) {
        let device = Device::flex().autodiff();
        let features = Tensor::from_data(TensorData::new((0..24).map(|v| v as f32 / 24.0).collect::<Vec<_>>(), [8, 3]), &Device::flex());
        let train = Poisoned { inner: FeatureBatches::new(features, vec![0, 1, 0, 1, 1, 0, 1, 0], 2), steps: Cell::new(0), poisoned_from, poison };
        let config = TrainConfig { optimizer: OptimizerKind::Sgd, learning_rate: 0.1, momentum: 0.9, batch_size: 4, epochs: 5, ..TrainConfig::default() };
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = Checkpoints::new(dir.path().to_path_buf(), 1, "resume".into());
        let trainer = Trainer { phase: "downstream", config: &config, device: device.clone(), verbose: false, checkpoints: Some(checkpoints.clone()), log: None };
        let model: Linear = LinearConfig::new(3, 2).init(&device);
        let rng = PhaseRng { shuffle: ChaCha12Rng::seed_from_u64(0), augment: ChaCha12Rng::seed_from_u64(1) };

        let err = trainer.fit(model.clone(), &train, |_: &Linear, _| Measures::default(), rng).err().expect("fails");
        let settings = Settings { config: config.clone(), samples: 8 };
        (err, checkpoints.load(model, config.optimizer(), &settings).unwrap())
    }

    #[test]
    fn divergence_names_epoch_and_step_and_keeps_the_last_good_checkpoint() {
        let (err, kept) = train_until(Poison::Nan, 5);
        let kept = kept.expect("checkpoint kept");
        // Two steps per epoch: the fifth step is the first of epoch 3.
        assert!(matches!(err, Error::Diverged { phase: "downstream", epoch: 3, step: 1, .. }), "{err}");
        assert!(err.to_string().contains("a smaller `downstream.learning_rate` and `force`"), "{err}");
        assert_eq!((kept.progress.epochs_done, kept.progress.history.len()), (2, 2));
        let weights: Vec<f32> = kept.model.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert!(weights.iter().all(|w| w.is_finite()), "{weights:?}");
    }

    #[test]
    fn running_out_of_device_memory_names_the_batch_size_and_keeps_the_last_checkpoint() {
        let out_of_memory = Poison::Panic("out of device memory allocating 8589934592 bytes");
        let (err, kept) = train_until(out_of_memory, 5);
        assert!(matches!(err, Error::OutOfMemory { phase: "downstream", batch_size: 4, .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("with batches of 4; run again with a smaller `downstream.batch_size` and `force`"), "{message}");
        assert!(message.contains("continue from the last checkpoint, which stays: `resume`"), "{message}");
        assert_eq!(kept.expect("checkpoint kept").progress.epochs_done, 2);

        // In the first epoch there is no checkpoint to continue from, and the message offers none.
        let (err, kept) = train_until(out_of_memory, 2);
        assert!(kept.is_none());
        assert!(!err.to_string().contains("continue"), "{err}");
    }

    #[test]
    fn other_panics_are_not_taken_for_running_out_of_memory() {
        let outcome = std::panic::catch_unwind(|| train_until(Poison::Panic("index out of bounds"), 5));
        assert!(outcome.is_err());
    }
}
