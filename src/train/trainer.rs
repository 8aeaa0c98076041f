//! The training loop: batches in, optimizer steps, one history record per epoch.
//! It knows nothing about which task or model it trains.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::batch::BatchSource;
use crate::error::{Error, Result};
use crate::eval::predict::evaluate;
use crate::model::encoder::Logits;
use crate::train::early_stopping::{EarlyStopping, Verdict};
use crate::train::history::EpochRecord;
use crate::train::loss::{argmax_rows, cross_entropy};
use crate::train::optimizer::TrainConfig;

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

/// Runs one phase of training.
#[derive(Debug, Clone)]
pub struct Trainer<'a> {
    /// `pretext` or `downstream`, used in messages.
    pub phase: &'static str,
    /// Loop and optimizer settings.
    pub config: &'a TrainConfig,
    /// Device with autodiff for training; validation runs on its plain counterpart.
    pub device: Device,
    /// Print a progress bar and one line per epoch.
    pub verbose: bool,
}

impl Trainer<'_> {
    /// Trains `model` on `train`, validating on `val` after each epoch.
    pub fn fit<M, B>(&self, mut model: M, train: &B, val: Option<&B>, rng: &mut StdRng) -> Result<Fitted<M>>
    where
        B: BatchSource,
        M: Logits<B::Input>,
    {
        let config = self.config;
        let eval_device = self.device.clone().inner();
        let mut optimizer = config.optimizer();
        let mut stopping = config.early_stopping.clone().map(EarlyStopping::new);
        let mut best = None;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut history = Vec::new();
        for epoch in 1..=config.epochs {
            let start = Instant::now();
            if config.shuffle {
                order.shuffle(rng);
            }
            let bar = self.progress_bar(order.len().div_ceil(config.batch_size), epoch);
            let (mut loss_sum, mut correct) = (0f64, 0usize);
            for (step, indices) in order.chunks(config.batch_size).enumerate() {
                let batch = train.batch(indices, &self.device);
                let logits = model.logits(batch.input);
                let predicted = argmax_rows(&logits.clone().into_data().try_to_vec::<f32>().expect("f32 logits"), train.num_classes());
                let loss = cross_entropy(logits, &batch.targets, &self.device);
                let loss_value: f32 = loss.clone().into_scalar();
                if !loss_value.is_finite() {
                    return Err(Error::Diverged { phase: self.phase, epoch, step: step + 1, loss: loss_value });
                }
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(config.learning_rate, model, grads);
                loss_sum += loss_value as f64 * indices.len() as f64;
                correct += predicted.iter().zip(&batch.targets).filter(|(p, t)| p == t).count();
                bar.inc(1);
            }
            bar.finish_and_clear();
            let seen = order.len() as f64;
            let val_eval = val.map(|v| evaluate(&model.valid(), v, config.batch_size, &eval_device));
            let record = EpochRecord {
                epoch,
                loss: loss_sum / seen,
                accuracy: correct as f64 / seen,
                val_loss: val_eval.as_ref().map(|e| e.loss),
                val_accuracy: val_eval.as_ref().map(|e| e.accuracy),
                seconds: start.elapsed().as_secs_f64(),
            };
            if self.verbose {
                println!("{}", record.keras_line(config.epochs));
            }
            history.push(record);
            let verdict = stopping.as_mut().map_or(Verdict::Continue, |s| s.update(history.last().expect("pushed")));
            if verdict == Verdict::Improved && stopping.as_ref().is_some_and(|s| s.restore_best()) {
                best = Some(model.clone());
            }
            if verdict == Verdict::Stop {
                if self.verbose {
                    println!("Early stopping at epoch {epoch}: {} did not improve", self.monitor_name());
                }
                break;
            }
        }
        let restored_epoch = best.is_some().then(|| stopping.as_ref().map(EarlyStopping::best_epoch)).flatten();
        Ok(Fitted { model: best.unwrap_or(model), history, restored_epoch })
    }

    fn monitor_name(&self) -> &'static str {
        self.config.early_stopping.as_ref().map_or("", |e| e.monitor.name())
    }

    fn progress_bar(&self, steps: usize, epoch: usize) -> ProgressBar {
        if !self.verbose {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {elapsed_precise}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} epoch {epoch}/{}", self.phase, self.config.epochs));
        bar
    }
}
