//! Flags shared by the commands that train: a preset, a TOML file and one flag per setting.

use std::path::PathBuf;

use clap::Args;

use crate::config::{Count, Preset, RunConfig};
use crate::data::batch::Pixels;
use crate::error::{Error, Result};
use crate::train::early_stopping::{EarlyStoppingConfig, Monitor};
use crate::train::optimizer::{OptimizerKind, TrainConfig};

/// Declares the flags of one training phase, `--<phase>-lr` and so on.
macro_rules! phase_args {
    ($name:ident, $phase:literal) => {
        #[doc = concat!("Overrides for the ", $phase, " phase.")]
        #[derive(Debug, Clone, Default, PartialEq, Args)]
        pub struct $name {
            #[doc = concat!("Optimizer of the ", $phase, " phase")]
            #[arg(id = concat!($phase, "-optimizer"), long = concat!($phase, "-optimizer"), value_enum, help_heading = concat!("Training: ", $phase))]
            pub optimizer: Option<OptimizerKind>,
            #[doc = concat!("Learning rate of the ", $phase, " phase")]
            #[arg(id = concat!($phase, "-lr"), long = concat!($phase, "-lr"), help_heading = concat!("Training: ", $phase))]
            pub learning_rate: Option<f64>,
            #[doc = concat!("SGD momentum of the ", $phase, " phase (0 = none)")]
            #[arg(id = concat!($phase, "-momentum"), long = concat!($phase, "-momentum"), help_heading = concat!("Training: ", $phase))]
            pub momentum: Option<f64>,
            #[doc = concat!("Batch size of the ", $phase, " phase")]
            #[arg(id = concat!($phase, "-batch-size"), long = concat!($phase, "-batch-size"), help_heading = concat!("Training: ", $phase))]
            pub batch_size: Option<usize>,
            #[doc = concat!("Maximum epochs of the ", $phase, " phase")]
            #[arg(id = concat!($phase, "-epochs"), long = concat!($phase, "-epochs"), help_heading = concat!("Training: ", $phase))]
            pub epochs: Option<usize>,
            #[doc = concat!("Reshuffle samples every epoch in the ", $phase, " phase")]
            #[arg(id = concat!($phase, "-shuffle"), long = concat!($phase, "-shuffle"), help_heading = concat!("Training: ", $phase))]
            pub shuffle: Option<bool>,
            #[doc = concat!("Random shift of training images in the ", $phase, " phase, in pixels (0 = off)")]
            #[arg(id = concat!($phase, "-max-shift"), long = concat!($phase, "-max-shift"), help_heading = concat!("Training: ", $phase))]
            pub max_shift: Option<usize>,
        }

        impl $name {
            fn apply(&self, config: &mut TrainConfig) {
                set(&mut config.optimizer, self.optimizer);
                set(&mut config.learning_rate, self.learning_rate);
                set(&mut config.momentum, self.momentum);
                set(&mut config.batch_size, self.batch_size);
                set(&mut config.epochs, self.epochs);
                set(&mut config.shuffle, self.shuffle);
                set(&mut config.max_shift, self.max_shift);
            }
        }
    };
}

phase_args!(PretextArgs, "pretext");
phase_args!(DownstreamArgs, "downstream");

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Every setting of a run as a flag; unset flags keep the preset's (or file's) value.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct ConfigArgs {
    /// Starting settings: `seed` reproduces the notebook, `default` is our tuned recipe
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// TOML file with settings (keys as in a run folder's config.toml), applied over the preset
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Seed of every random choice; the same seed gives the same metrics
    #[arg(long)]
    pub seed: Option<u64>,
    /// Data set from the catalog: mnist or fashion-mnist
    #[arg(long, help_heading = "Data")]
    pub dataset: Option<String>,
    /// Training images the pretext task uses, labels ignored (the first N, or `all`)
    #[arg(long, value_name = "N|all", help_heading = "Data")]
    pub unlabeled: Option<Count>,
    /// Labelled training images for the head, validation split included (the first N, or
    /// `all`); `sweep` takes a comma-separated list
    #[arg(long, value_name = "N|all", value_delimiter = ',', help_heading = "Data")]
    pub labels: Vec<Count>,
    /// Take --labels evenly from every class (N/classes each, in data order)
    #[arg(long, help_heading = "Data")]
    pub balanced_labels: Option<bool>,
    /// Held-out test images evaluated (the first N, or `all` = 10,000 for MNIST)
    #[arg(long, value_name = "N|all", help_heading = "Data")]
    pub test_size: Option<Count>,
    /// Pixel scaling: raw 0..255 (the notebook), unit 0..1, signed -1..1
    #[arg(long, value_enum, help_heading = "Data")]
    pub pixels: Option<Pixels>,
    /// Fraction of labelled images (the last ones) held out for validation
    #[arg(long, help_heading = "Data")]
    pub validation_split: Option<f64>,
    /// Standard deviation of the N(0, std) weight initialisation
    #[arg(long, help_heading = "Model")]
    pub init_std: Option<f64>,
    /// Metric early stopping watches in the downstream phase
    #[arg(long, value_enum, help_heading = "Training: downstream")]
    pub monitor: Option<Monitor>,
    /// Epochs without improvement before the downstream phase stops
    #[arg(long, help_heading = "Training: downstream")]
    pub patience: Option<usize>,
    /// Keep the weights of the best epoch (by --monitor) instead of the last
    #[arg(long, help_heading = "Training: downstream")]
    pub restore_best: Option<bool>,
    /// Fine-tune: train the encoder together with the head instead of freezing it
    #[arg(long, help_heading = "Training: downstream")]
    pub fine_tune: Option<bool>,
    /// Also train and report the baselines (random frozen encoder, from scratch, SSL frozen / fine-tuned)
    #[arg(long, help_heading = "Evaluation")]
    pub baselines: Option<bool>,
    /// Neighbours voting in the k-NN evaluation of encoder features
    #[arg(long, help_heading = "Evaluation")]
    pub knn_k: Option<usize>,
    /// Temperature of the k-NN vote weights exp(similarity / t)
    #[arg(long, help_heading = "Evaluation")]
    pub knn_temperature: Option<f64>,
    /// Train the downstream head for all its epochs, without early stopping
    #[arg(long, help_heading = "Training: downstream", conflicts_with_all = ["monitor", "patience", "restore_best"])]
    pub no_early_stopping: bool,
    /// `--pretext-*` flags.
    #[command(flatten)]
    pub pretext: PretextArgs,
    /// `--downstream-*` flags.
    #[command(flatten)]
    pub downstream: DownstreamArgs,
}

impl ConfigArgs {
    /// Preset (or `base`), then `--config`, then the flags; validated.
    pub fn resolve(&self, base: Option<RunConfig>) -> Result<RunConfig> {
        let mut config = match (&self.config, base) {
            (Some(file), _) => RunConfig::from_toml_file(file, self.preset)?,
            (None, Some(base)) if self.preset.is_none() => base,
            (None, _) => RunConfig::preset(self.preset.unwrap_or(Preset::Default)),
        };
        set(&mut config.seed, self.seed);
        set(&mut config.data.dataset, self.dataset.clone());
        set(&mut config.data.unlabeled_size, self.unlabeled);
        match self.labels[..] {
            [] => {}
            [labels] => config.data.labels = labels,
            _ => return Err(Error::Config("--labels takes one value here; `pretext sweep` takes several".into())),
        }
        set(&mut config.data.balanced_labels, self.balanced_labels);
        set(&mut config.data.test_size, self.test_size);
        set(&mut config.data.pixels, self.pixels);
        set(&mut config.data.validation_split, self.validation_split);
        set(&mut config.model.init_std, self.init_std);
        set(&mut config.fine_tune, self.fine_tune);
        set(&mut config.baselines, self.baselines);
        set(&mut config.knn.k, self.knn_k);
        set(&mut config.knn.temperature, self.knn_temperature);
        self.pretext.apply(&mut config.pretext);
        self.downstream.apply(&mut config.downstream);
        if self.no_early_stopping {
            config.downstream.early_stopping = None;
        } else if self.monitor.is_some() || self.patience.is_some() || self.restore_best.is_some() {
            let current = config.downstream.early_stopping.take();
            let mut stopping = current.unwrap_or(EarlyStoppingConfig { monitor: Monitor::Accuracy, patience: 7, restore_best: false });
            set(&mut stopping.monitor, self.monitor);
            set(&mut stopping.patience, self.patience);
            set(&mut stopping.restore_best, self.restore_best);
            config.downstream.early_stopping = Some(stopping);
        }
        config.validate()?;
        Ok(config)
    }
}
