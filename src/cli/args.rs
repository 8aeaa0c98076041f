//! Flags shared by the commands that train: a preset, a TOML file and one flag per setting.

use std::path::{Path, PathBuf};
use crate::cli::choice::choice;
use crate::cli::flags::key_of;

use clap::Args;

use crate::config::{Count, DataConfig, Preset, RunConfig};
use crate::data::batch::Pixels;
use crate::data::folder::{FolderOptions, Resize, Unreadable};
use crate::data::registry::DataSource;
use crate::device::DeviceChoice;
use crate::model::encoders::EncoderName;
use crate::error::{Error, Result};
use crate::train::early_stopping::{EarlyStoppingConfig, Monitor};
use crate::methods::MethodName;
use crate::model::ops::Kernels;
use crate::semi::{SemiConfig, SemiMethod};
use crate::train::optimizer::{OptimizerKind, Schedule, TrainConfig};

/// Declares the flags of one training phase, `--<phase>-lr` and so on.
/// Each flag's help ends with `$default`, which says where the phase's defaults come from.
macro_rules! phase_args {
    ($name:ident, $phase:literal, $default:literal) => {
        #[doc = concat!("Overrides for the ", $phase, " phase.")]
        #[allow(missing_docs)] // each field's `help` documents it (a doc comment cannot concat!)
        #[derive(Debug, Clone, Default, PartialEq, Args)]
        pub struct $name {
            #[arg(id = concat!($phase, "-optimizer"), long = concat!($phase, "-optimizer"), value_name = "NAME", value_parser = $crate::cli::choice::choice::<OptimizerKind>(), help_heading = concat!("Training: ", $phase),
                  help = concat!("Optimizer of the ", $phase, " phase", $default))]
            pub optimizer: Option<OptimizerKind>,
            #[arg(id = concat!($phase, "-lr"), long = concat!($phase, "-lr"), value_name = "LR", help_heading = concat!("Training: ", $phase),
                  help = concat!("Learning rate of the ", $phase, " phase", $default))]
            pub learning_rate: Option<f64>,
            #[arg(id = concat!($phase, "-momentum"), long = concat!($phase, "-momentum"), value_name = "M", help_heading = concat!("Training: ", $phase),
                  help = concat!("SGD momentum of the ", $phase, " phase (0 = none)", $default))]
            pub momentum: Option<f64>,
            #[arg(id = concat!($phase, "-batch-size"), long = concat!($phase, "-batch-size"), value_name = "N", help_heading = concat!("Training: ", $phase),
                  help = concat!("Batch size of the ", $phase, " phase", $default))]
            pub batch_size: Option<usize>,
            #[arg(id = concat!($phase, "-epochs"), long = concat!($phase, "-epochs"), value_name = "N", help_heading = concat!("Training: ", $phase),
                  help = concat!("Maximum epochs of the ", $phase, " phase", $default))]
            pub epochs: Option<usize>,
            #[arg(id = concat!($phase, "-shuffle"), long = concat!($phase, "-shuffle"), value_name = "true|false", help_heading = concat!("Training: ", $phase),
                  help = concat!("Reshuffle samples every epoch in the ", $phase, " phase", $default))]
            pub shuffle: Option<bool>,
            #[arg(id = concat!($phase, "-max-shift"), long = concat!($phase, "-max-shift"), value_name = "PIXELS", help_heading = concat!("Training: ", $phase),
                  help = concat!("Random shift of training images in the ", $phase, " phase, in pixels (0 = off)", $default))]
            pub max_shift: Option<usize>,
            #[arg(id = concat!($phase, "-weight-decay"), long = concat!($phase, "-weight-decay"), value_name = "WD", help_heading = concat!("Training: ", $phase),
                  help = concat!("Weight decay of the ", $phase, " phase (L2 for sgd/adam, decoupled for adamw/lamb; 0 = none)", $default))]
            pub weight_decay: Option<f64>,
            #[arg(id = concat!($phase, "-schedule"), long = concat!($phase, "-schedule"), value_name = "NAME", value_parser = $crate::cli::choice::choice::<Schedule>(), help_heading = concat!("Training: ", $phase),
                  help = concat!("Learning-rate schedule of the ", $phase, " phase after its warm-up", $default))]
            pub schedule: Option<Schedule>,
            #[arg(id = concat!($phase, "-warmup-epochs"), long = concat!($phase, "-warmup-epochs"), value_name = "N", help_heading = concat!("Training: ", $phase),
                  help = concat!("Epochs of linear learning-rate warm-up in the ", $phase, " phase", $default))]
            pub warmup_epochs: Option<usize>,
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
                set(&mut config.weight_decay, self.weight_decay);
                set(&mut config.schedule, self.schedule);
                set(&mut config.warmup_epochs, self.warmup_epochs);
            }
        }
    };
}

phase_args!(PretextArgs, "pretext", " (default: the method's, in the preset; `pretext config --method M` prints them)");
phase_args!(DownstreamArgs, "downstream", " (default: the preset's; `pretext config` prints them)");
phase_args!(SemiTrainingArgs, "semi", " (default: the preset's; `pretext config` prints them)");

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// `--device`, which every command that trains or evaluates takes.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct DeviceArg {
    /// Where training and inference compute: cpu (Burn flex, with our fused kernels),
    /// vulkan[:N] (the N-th Vulkan GPU), wgpu (the GPU wgpu prefers) or cuda[:N] (the N-th
    /// CUDA GPU). A GPU needs a build with the cargo feature of its name (see README) (default
    /// cpu; commands on a run folder: the run's)
    #[arg(long, value_name = "cpu|vulkan[:N]|wgpu|cuda[:N]")]
    pub device: Option<DeviceChoice>,
}

impl DeviceArg {
    /// `config` on the device given, if one was.
    pub fn apply(&self, config: &mut RunConfig) {
        set(&mut config.device, self.device);
    }
}

/// Every setting of a run as a flag; unset flags keep the preset's (or file's) value. The
/// flags are declared in the order a run uses them, so `--help` lists the pretext phase first.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct ConfigArgs {
    /// Starting settings: `seed` reproduces the notebook, `default` is our tuned recipe (default default)
    #[arg(long, value_parser = choice::<Preset>())]
    pub preset: Option<Preset>,
    /// TOML file with settings (keys as in a run folder's config.toml, or as `pretext config`
    /// prints them), applied over the preset
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// `--device`.
    #[command(flatten)]
    pub device: DeviceArg,
    /// Data set: mnist, fashion-mnist, cifar10 (downloaded when missing), or folder:PATH for
    /// your own images (PATH/<class>/*.png|jpg) (default mnist)
    #[arg(long, value_name = "NAME|folder:PATH", help_heading = "Data")]
    pub dataset: Option<String>,
    /// Training images the pretext task uses, labels ignored (the first N, or `all`; default
    /// all; the seed preset: 1000, on an image folder all)
    #[arg(long, value_name = "N|all", help_heading = "Data")]
    pub unlabeled: Option<Count>,
    /// Pixel scaling: raw 0..255 (the notebook), unit 0..1, signed -1..1, or standardize
    /// (per channel, by the training images' mean and std, kept in the run) (default unit;
    /// the seed preset: raw)
    #[arg(long, value_parser = choice::<Pixels>(), help_heading = "Data")]
    pub pixels: Option<Pixels>,
    /// Image folders (`--dataset folder:PATH`).
    #[command(flatten)]
    pub folder: FolderArgs,
    /// The encoder and its flags.
    #[command(flatten)]
    pub encoder: EncoderArgs,
    /// Standard deviation of the N(0, std) initialisation of the notebook encoder and the
    /// heads (default 0.05)
    #[arg(long, help_heading = "Model")]
    pub init_std: Option<f64>,
    /// Who computes the encoders' convolutions (and the notebook's ReLU and pool layers): own
    /// (our kernels where the device has them, the CPU; Burn's standard ops elsewhere) or burn
    /// (Burn's standard conv2d, relu and max_pool2d everywhere) (default own)
    #[arg(long, value_parser = choice::<Kernels>(), help_heading = "Model")]
    pub kernels: Option<Kernels>,
    /// Method settings.
    #[command(flatten)]
    pub method: MethodArgs,
    /// Augmentations of the two-view methods.
    #[command(flatten)]
    pub augment: AugmentArgs,
    /// `--pretext-*` flags.
    #[command(flatten)]
    pub pretext: PretextArgs,
    /// Measure k-NN accuracy and feature spread after every N-th pretext epoch (0 = never;
    /// default 1)
    #[arg(long, value_name = "N", help_heading = "Training: pretext")]
    pub monitor_every: Option<usize>,
    /// Labelled training images (the last N) the pretext monitor uses; their labels only draw
    /// the curve (default 2000)
    #[arg(long, value_name = "N", help_heading = "Training: pretext")]
    pub monitor_images: Option<usize>,
    /// The classifier's settings, which `probe` takes too.
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    /// Also train and report the baselines (random frozen encoder, from scratch, SSL frozen /
    /// fine-tuned) (default true)
    #[arg(long, help_heading = "Evaluation")]
    pub baselines: Option<bool>,
    /// Neighbours voting in the k-NN evaluation of encoder features (default 20)
    #[arg(long, help_heading = "Evaluation")]
    pub knn_k: Option<usize>,
    /// Temperature of the k-NN vote weights exp(similarity / t) (default 0.07)
    #[arg(long, help_heading = "Evaluation")]
    pub knn_temperature: Option<f64>,
    /// Any setting by its key, as `pretext config` prints them: `--set method.temperature=0.1`,
    /// `--set pretext.epochs=20`; a value that is not TOML is a string. `pretext methods
    /// --method M` lists a method's keys. Repeatable; applied after every other flag
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
}

/// A `--set` argument split at its first `=`.
fn parse_setting(argument: &str) -> std::result::Result<(String, String), String> {
    match argument.split_once('=') {
        Some((key, value)) => Ok((key.trim().to_owned(), value.trim().to_owned())),
        None => Err(format!("'{argument}' sets nothing: write KEY=VALUE, as in --set pretext.epochs=20")),
    }
}

impl ConfigArgs {
    /// Preset (or `base`), then `--config`, then the flags; validated.
    pub fn resolve(&self, base: Option<RunConfig>) -> Result<RunConfig> {
        let mut config = match (&self.config, base) {
            (Some(file), _) => RunConfig::from_toml_file(file, self.preset)?,
            (None, Some(base)) if self.preset.is_none() => base,
            (None, _) => RunConfig::preset(self.preset.unwrap_or(Preset::Default)),
        };
        if let Some(method) = self.method.method {
            config = config.with_method(method);
        }
        config = self.method.apply(config)?;
        config = self.augment.apply(config)?;
        self.device.apply(&mut config);
        set(&mut config.monitor.every, self.monitor_every);
        set(&mut config.monitor.images, self.monitor_images);
        set(&mut config.data.dataset, self.dataset.clone());
        if self.config.is_none() && self.dataset.is_some() && matches!(DataSource::parse(&config.data.dataset)?, DataSource::Folder(_)) {
            // The presets' counts are MNIST's and would refuse a small folder ("--labels 1000
            // asks for more than the 48 labelled training images"); a folder's images are all
            // its owner has, so all of them are used unless the flags say otherwise.
            let data = &mut config.data;
            (data.unlabeled_size, data.labels, data.test_size) = (Count::All, Count::All, Count::All);
        }
        set(&mut config.data.unlabeled_size, self.unlabeled);
        set(&mut config.data.pixels, self.pixels);
        self.folder.apply(&mut config.data.folder);
        config = self.encoder.apply(config)?;
        set(&mut config.model.init_std, self.init_std);
        set(&mut config.model.kernels, self.kernels);
        self.pretext.apply(&mut config.pretext);
        set(&mut config.baselines, self.baselines);
        set(&mut config.knn.k, self.knn_k);
        set(&mut config.knn.temperature, self.knn_temperature);
        self.classifier.apply(&mut config)?;
        for (key, value) in &self.settings {
            config = config.set(key, value).map_err(|e| match e {
                Error::Config(message) => Error::Config(format!("--set {message}")),
                e => e,
            })?;
        }
        absolute_folders(&mut config.data)?;
        config.validate()?;
        Ok(config)
    }
}

/// The settings of the classifier trained on a pretrained encoder: what `probe` may change in
/// a run's settings (the encoder's own are fixed by its weights).
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct ClassifierArgs {
    /// Seed of every random choice; the same seed gives the same metrics (default 0)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Labelled training images for the head, validation split included (the first N, or
    /// `all`); `sweep` takes a comma-separated list (default 1000; on an image folder all)
    #[arg(long, value_name = "N|all", value_delimiter = ',', help_heading = "Data")]
    pub labels: Vec<Count>,
    /// Take --labels evenly from every class (N/classes each, in data order) (default false)
    #[arg(long, help_heading = "Data")]
    pub balanced_labels: Option<bool>,
    /// Held-out test images evaluated (the first N, or `all` = 10,000 for MNIST) (default all;
    /// the seed preset: 300, on an image folder all)
    #[arg(long, value_name = "N|all", help_heading = "Data")]
    pub test_size: Option<Count>,
    /// Fraction of labelled images (the last ones) held out for validation (default 0.3)
    #[arg(long, help_heading = "Data")]
    pub validation_split: Option<f64>,
    /// Fine-tune: train the encoder together with the head instead of freezing it (default
    /// true; the seed preset: false)
    #[arg(long, help_heading = "Training: downstream")]
    pub fine_tune: Option<bool>,
    /// Standardise the encoder's features (mean/std over the labelled training images, fixed)
    /// before the head (default true; the seed preset: false)
    #[arg(long, help_heading = "Training: downstream")]
    pub standardize_features: Option<bool>,
    /// `--downstream-*` flags.
    #[command(flatten)]
    pub downstream: DownstreamArgs,
    /// Metric early stopping watches in the downstream phase (default: the preset's;
    /// `pretext config` prints it)
    #[arg(long, value_parser = choice::<Monitor>(), help_heading = "Training: downstream")]
    pub monitor: Option<Monitor>,
    /// Epochs without improvement before the downstream phase stops (default: the preset's)
    #[arg(long, help_heading = "Training: downstream")]
    pub patience: Option<usize>,
    /// Keep the weights of the best epoch (by --monitor) instead of the last (default: the
    /// preset's)
    #[arg(long, help_heading = "Training: downstream")]
    pub restore_best: Option<bool>,
    /// Train the downstream head for all its epochs, without early stopping
    #[arg(long, help_heading = "Training: downstream", conflicts_with_all = ["monitor", "patience", "restore_best"])]
    pub no_early_stopping: bool,
    /// Semi-supervised phase.
    #[command(flatten)]
    pub semi: SemiArgs,
    /// `--semi-*` flags.
    #[command(flatten)]
    pub semi_training: SemiTrainingArgs,
}

impl ClassifierArgs {
    /// `config` with the flags that were given; validated.
    pub fn resolve(&self, mut config: RunConfig) -> Result<RunConfig> {
        self.apply(&mut config)?;
        config.validate()?;
        Ok(config)
    }

    /// Sets in `config` the flags that were given.
    fn apply(&self, config: &mut RunConfig) -> Result<()> {
        set(&mut config.seed, self.seed);
        match self.labels[..] {
            [] => {}
            [labels] => config.data.labels = labels,
            _ => return Err(Error::Config("--labels takes one value here; `pretext sweep` takes several".into())),
        }
        set(&mut config.data.balanced_labels, self.balanced_labels);
        set(&mut config.data.test_size, self.test_size);
        set(&mut config.data.validation_split, self.validation_split);
        set(&mut config.fine_tune, self.fine_tune);
        set(&mut config.standardize_features, self.standardize_features);
        self.downstream.apply(&mut config.downstream);
        self.semi.apply(&mut config.semi)?;
        self.semi_training.apply(&mut config.semi.training);
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
        Ok(())
    }
}

/// Makes an image folder and `--unlabeled-dir` absolute, so that `eval`, `probe` and `--resume`
/// find them from any working directory.
fn absolute_folders(data: &mut DataConfig) -> Result<()> {
    let absolute = |path: &Path| std::path::absolute(path).map_err(|e| Error::io(path, e));
    if let DataSource::Folder(root) = DataSource::parse(&data.dataset)? {
        data.dataset = DataSource::Folder(absolute(&root)?).to_string();
    }
    if let Some(dir) = &data.folder.unlabeled_dir {
        data.folder.unlabeled_dir = Some(absolute(dir)?);
    }
    Ok(())
}

/// The semi-supervised phase and its settings.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct SemiArgs {
    /// After the downstream phase, train on the unlabeled images again: fixmatch (continue
    /// from the downstream classifier with pseudo-labels of confident weak views as targets of
    /// strong views) or distill (a student on the SSL encoder learns the classifier's soft
    /// targets); none by default. Each adds its rows to the table of protocols; `sweep`
    /// takes a comma-separated list
    #[arg(long, value_parser = choice::<SemiMethod>(), value_delimiter = ',', help_heading = "Semi-supervised")]
    pub semi_supervised: Vec<SemiMethod>,
    /// FixMatch: confidence at or above which the prediction on a weak view becomes the
    /// target of the strong view, in (0, 1] (default 0.95)
    #[arg(long, help_heading = "Semi-supervised")]
    pub threshold: Option<f64>,
    /// μ: unlabeled images per labelled image in each step, at least 1 (default 7)
    #[arg(long, value_name = "MU", help_heading = "Semi-supervised")]
    pub unlabeled_ratio: Option<usize>,
    /// Weight of the unlabeled loss beside the labelled cross-entropy (default 1)
    #[arg(long, help_heading = "Semi-supervised")]
    pub unlabeled_weight: Option<f64>,
    /// Distillation: temperature softening the teacher's and the student's outputs (default 1)
    #[arg(long, help_heading = "Semi-supervised")]
    pub distill_temperature: Option<f64>,
    /// FixMatch: RandAugment operations drawn per strong view (default 2)
    #[arg(long, value_name = "N", help_heading = "Semi-supervised")]
    pub strong_ops: Option<usize>,
    /// FixMatch: strength of the strong view's operations, a fraction of RandAugment's
    /// largest (1 = FixMatch's; default 0.5, better on MNIST)
    #[arg(long, help_heading = "Semi-supervised")]
    pub strong_magnitude: Option<f64>,
    /// FixMatch: largest side of the strong view's cutout, as a fraction of the image side
    /// (0 = none; default 0.5)
    #[arg(long, help_heading = "Semi-supervised")]
    pub cutout: Option<f64>,
}

impl SemiArgs {
    /// Overlays the flags that were given.
    fn apply(&self, semi: &mut SemiConfig) -> Result<()> {
        match self.semi_supervised[..] {
            [] => {}
            [method] => semi.method = method,
            _ => return Err(Error::Config("--semi-supervised takes one value here; `pretext sweep` takes several".into())),
        }
        set(&mut semi.threshold, self.threshold);
        set(&mut semi.unlabeled_ratio, self.unlabeled_ratio);
        set(&mut semi.unlabeled_weight, self.unlabeled_weight);
        set(&mut semi.temperature, self.distill_temperature);
        set(&mut semi.strong.ops_per_image, self.strong_ops);
        set(&mut semi.strong.magnitude, self.strong_magnitude);
        set(&mut semi.strong.cutout, self.cutout);
        Ok(())
    }
}

/// How image folders are read; refused for the named data sets.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct FolderArgs {
    /// Image folders: 1 (grey) or 3 (RGB) channels; by default 3 when any image has colour
    #[arg(long, value_name = "1|3", help_heading = "Image folders")]
    pub channels: Option<usize>,
    /// Image folders: side of the square images the model sees; by default the images' own
    /// size, which must then be square and the same for all
    #[arg(long, value_name = "N", help_heading = "Image folders")]
    pub image_size: Option<usize>,
    /// Image folders: how images of another size reach --image-size: crop (scale the shorter
    /// side, cut the centre) or stretch (default crop)
    #[arg(long, value_parser = choice::<Resize>(), help_heading = "Image folders")]
    pub resize: Option<Resize>,
    /// Image folders without a test/ sub-folder: fraction of the labelled images held out
    /// for testing, a fixed seeded split (default 0.2)
    #[arg(long, value_name = "F", help_heading = "Image folders")]
    pub test_fraction: Option<f64>,
    /// Image folders: another folder of unlabeled images for the pretext phase
    #[arg(long, value_name = "DIR", help_heading = "Image folders")]
    pub unlabeled_dir: Option<PathBuf>,
    /// Image folders: a file that cannot be decoded is skipped and named, or fails the run
    /// (default skip)
    #[arg(long, value_parser = choice::<Unreadable>(), help_heading = "Image folders")]
    pub unreadable: Option<Unreadable>,
}

impl FolderArgs {
    /// Overlays the flags that were given.
    pub fn apply(&self, options: &mut FolderOptions) {
        set(&mut options.channels, self.channels.map(Some));
        set(&mut options.image_size, self.image_size.map(Some));
        set(&mut options.unlabeled_dir, self.unlabeled_dir.clone().map(Some));
        set(&mut options.resize, self.resize);
        set(&mut options.test_fraction, self.test_fraction);
        set(&mut options.unreadable, self.unreadable);
    }
}

/// The method and its settings.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct MethodArgs {
    /// Self-supervised method (`pretext methods` lists them); switching method also takes that
    /// method's pretext training (two-view: AdamW, cosine schedule, batch 256, 5 epochs;
    /// rotation: Adam, batch 64, shifts of 2, 30 epochs), which --pretext-* flags override
    #[arg(long, value_parser = choice::<MethodName>(), help_heading = "Method")]
    pub method: Option<MethodName>,
    /// SimCLR: temperature of the NT-Xent softmax (default 0.2)
    #[arg(long, help_heading = "Method")]
    pub temperature: Option<f64>,
    /// Two-view methods: hidden width of the projector MLP (default 512)
    #[arg(long, help_heading = "Method")]
    pub projector_hidden: Option<usize>,
    /// Two-view methods: output width of the projector (default 128 for simclr/byol, 512 for vicreg/barlow-twins)
    #[arg(long, help_heading = "Method")]
    pub projector_dim: Option<usize>,
    /// Two-view methods: batch norm in the projector (and BYOL's predictor) (default true)
    #[arg(long, help_heading = "Method")]
    pub projector_batch_norm: Option<bool>,
    /// BYOL: hidden width of the predictor MLP (default 512)
    #[arg(long, help_heading = "Method")]
    pub predictor_hidden: Option<usize>,
    /// BYOL: target momentum at the start, rising to 1 along a cosine (default 0.99)
    #[arg(long, help_heading = "Method")]
    pub base_momentum: Option<f64>,
    /// VICReg: weight of the invariance term (default 25)
    #[arg(long, help_heading = "Method")]
    pub invariance_weight: Option<f64>,
    /// VICReg: weight of the variance term (default 25)
    #[arg(long, help_heading = "Method")]
    pub variance_weight: Option<f64>,
    /// VICReg: weight of the covariance term (default 1)
    #[arg(long, help_heading = "Method")]
    pub covariance_weight: Option<f64>,
    /// Barlow Twins: weight of the off-diagonal term (default 0.0051)
    #[arg(long, help_heading = "Method")]
    pub barlow_lambda: Option<f64>,
}

impl MethodArgs {
    /// `config` with the method flags that were given.
    fn apply(&self, config: RunConfig) -> Result<RunConfig> {
        let float = |value: Option<f64>| value.map(toml::Value::from);
        let count = |value: Option<usize>| value.map(|v| toml::Value::from(v as i64));
        set_aliases(config, [
            ("--temperature", float(self.temperature)),
            ("--projector-hidden", count(self.projector_hidden)),
            ("--projector-dim", count(self.projector_dim)),
            ("--projector-batch-norm", self.projector_batch_norm.map(toml::Value::from)),
            ("--predictor-hidden", count(self.predictor_hidden)),
            ("--base-momentum", float(self.base_momentum)),
            ("--invariance-weight", float(self.invariance_weight)),
            ("--variance-weight", float(self.variance_weight)),
            ("--covariance-weight", float(self.covariance_weight)),
            ("--barlow-lambda", float(self.barlow_lambda)),
        ])
    }
}

/// `config` with each `(flag, value)` given, where a flag is the alias of a key of the
/// `[method]` or `[model.encoder]` table (`flags::key_of`), set as `--set KEY` sets it; a flag
/// whose key the chosen method or encoder lacks is refused by name.
fn set_aliases<const N: usize>(mut config: RunConfig, aliases: [(&str, Option<toml::Value>); N]) -> Result<RunConfig> {
    for (flag, value) in aliases {
        let Some(value) = value else { continue };
        let key = key_of(flag);
        let chosen = if key.starts_with("model.encoder.") {
            format!("--encoder {}", config.model.encoder.name())
        } else {
            format!("--method {}", config.method.name())
        };
        config = config.set(key, &value.to_string()).map_err(|_| Error::Config(format!("{flag} does not apply to {chosen}")))?;
    }
    Ok(config)
}

/// The encoder and the flags of its settings; unset flags keep its defaults.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct EncoderArgs {
    /// Encoder: notebook (the teaching notebook's small ConvNet) or resnet (a ResNet for
    /// small images: 3x3 stem, no first pool, global average pooling) (default notebook)
    #[arg(long, value_parser = choice::<EncoderName>(), help_heading = "Model")]
    pub encoder: Option<EncoderName>,
    /// ResNet: channels of the first stage, doubled by each later stage (default 64)
    #[arg(long, value_name = "N", help_heading = "Model")]
    pub resnet_width: Option<usize>,
    /// ResNet: basic blocks of each stage, one to four numbers (default 2,2,2,2: ResNet-18)
    #[arg(long, value_name = "N,N,..", value_delimiter = ',', help_heading = "Model")]
    pub resnet_blocks: Vec<usize>,
    /// Notebook: filters of the three convolutions, A,B,C (the encoder's are A and B; C is
    /// rotation's third convolution) (default 64,32,16: the notebook's)
    #[arg(long, value_name = "A,B,C", value_delimiter = ',', help_heading = "Model")]
    pub filters: Vec<usize>,
}

impl EncoderArgs {
    /// `config` with the encoder flags that were given.
    fn apply(&self, mut config: RunConfig) -> Result<RunConfig> {
        if let Some(encoder) = self.encoder {
            config.model = config.model.with_encoder(encoder);
        }
        if !(self.filters.is_empty() || self.filters.len() == 3) {
            return Err(Error::Config(format!("--filters takes three numbers A,B,C, got {}", self.filters.len())));
        }
        let list = |values: &[usize]| (!values.is_empty()).then(|| toml::Value::Array(values.iter().map(|&v| toml::Value::from(v as i64)).collect()));
        set_aliases(config, [
            ("--resnet-width", self.resnet_width.map(|v| toml::Value::from(v as i64))),
            ("--resnet-blocks", list(&self.resnet_blocks)),
            ("--filters", list(&self.filters)),
        ])
    }
}

/// Augmentations of the views; unset flags keep the method's defaults.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct AugmentArgs {
    /// Random resized crop: area fraction range LOW,HIGH (default 0.5,1; 1,1 = off)
    #[arg(long, value_name = "LOW,HIGH", help_heading = "Augmentations (two-view methods)")]
    pub crop_scale: Option<Pair>,
    /// Largest rotation either way, degrees (default 10)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub rotation_degrees: Option<f64>,
    /// Largest horizontal shear either way, degrees (default 10)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub shear_degrees: Option<f64>,
    /// Largest translation either way, fraction of the side (default 0.1)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub translate: Option<f64>,
    /// Mirror left-right with probability 0.5 (default false: digits have no mirror images)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub horizontal_flip: Option<bool>,
    /// Brightness factor drawn from 1 ± this (default 0.4)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub brightness: Option<f64>,
    /// Contrast factor drawn from 1 ± this (default 0.4)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub contrast: Option<f64>,
    /// Probability of the brightness/contrast jitter (default 0.8)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub jitter_probability: Option<f64>,
    /// Probability of a Gaussian blur (default 0.5)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub blur_probability: Option<f64>,
    /// Range of the blur's standard deviation in pixels, LOW,HIGH (default 0.1,1)
    #[arg(long, value_name = "LOW,HIGH", help_heading = "Augmentations (two-view methods)")]
    pub blur_sigma: Option<Pair>,
    /// Standard deviation of added Gaussian noise, grey levels 0..255 (default 0 = off)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub noise_std: Option<f64>,
    /// Probability of erasing a random rectangle (default 0.25)
    #[arg(long, help_heading = "Augmentations (two-view methods)")]
    pub erase_probability: Option<f64>,
    /// Area fraction range of the erased rectangle, LOW,HIGH (default 0.02,0.15)
    #[arg(long, value_name = "LOW,HIGH", help_heading = "Augmentations (two-view methods)")]
    pub erase_scale: Option<Pair>,
}

impl AugmentArgs {
    /// `config` with the augmentation flags that were given (keys of `method.augment`, which
    /// the two-view methods have).
    fn apply(&self, config: RunConfig) -> Result<RunConfig> {
        let float = |value: Option<f64>| value.map(toml::Value::from);
        let pair = |value: Option<Pair>| value.map(|Pair(low, high)| toml::Value::from(vec![low, high]));
        set_aliases(config, [
            ("--crop-scale", pair(self.crop_scale)),
            ("--rotation-degrees", float(self.rotation_degrees)),
            ("--shear-degrees", float(self.shear_degrees)),
            ("--translate", float(self.translate)),
            ("--horizontal-flip", self.horizontal_flip.map(toml::Value::from)),
            ("--brightness", float(self.brightness)),
            ("--contrast", float(self.contrast)),
            ("--jitter-probability", float(self.jitter_probability)),
            ("--blur-probability", float(self.blur_probability)),
            ("--blur-sigma", pair(self.blur_sigma)),
            ("--noise-std", float(self.noise_std)),
            ("--erase-probability", float(self.erase_probability)),
            ("--erase-scale", pair(self.erase_scale)),
        ])
    }
}

/// Two numbers given as `LOW,HIGH`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair(f64, f64);

impl std::str::FromStr for Pair {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let numbers: Vec<&str> = s.split(',').collect();
        match numbers[..] {
            [low, high] => match (low.trim().parse(), high.trim().parse()) {
                (Ok(low), Ok(high)) => Ok(Pair(low, high)),
                _ => Err(format!("expected two numbers LOW,HIGH, got '{s}'")),
            },
            _ => Err(format!("expected two numbers LOW,HIGH, got '{s}'")),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, Command, FromArgMatches};

    use super::*;

    /// Every "(default X)" in a flag's help is checked the only way that cannot drift: passing
    /// X must leave the resolved settings as they are without the flag.
    #[test]
    fn every_default_the_help_quotes_is_the_actual_default() {
        let command = ConfigArgs::augment_args(Command::new("pretext"));
        let mut checked = 0;
        for arg in command.get_arguments() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let Some(start) = help.find("(default ") else { continue };
            let value: String = help[start + "(default ".len()..].chars().take_while(|c| !matches!(c, ')' | ';' | ' ' | ':')).collect();
            // The help names the method or encoder a flag belongs to; the shared two-view flags
            // use SimCLR, the notebook's flags the default encoder.
            let (method, encoder) = match help.split(':').next() {
                Some("BYOL") => ("byol", None),
                Some("VICReg") => ("vicreg", None),
                Some("Barlow Twins") => ("barlow-twins", None),
                Some("ResNet") => ("simclr", Some("resnet")),
                _ => ("simclr", None),
            };
            let flag = format!("--{}", arg.get_long().expect("long flags"));
            let resolve = |extra: &[&str]| {
                let encoder = encoder.map(|name| ["--encoder", name]).into_iter().flatten();
                let argv = ["pretext", "--method", method].into_iter().chain(encoder).chain(extra.iter().copied());
                ConfigArgs::from_arg_matches(&command.clone().get_matches_from(argv)).unwrap().resolve(None).unwrap()
            };
            assert_eq!(resolve(&[&flag, &value]), resolve(&[]), "{flag}: the help says the default is {value}");
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} flags quote a default");
    }

    #[test]
    fn set_applies_after_every_other_flag_and_needs_an_equals_sign() {
        let command = ConfigArgs::augment_args(Command::new("pretext"));
        let argv = ["pretext", "--pretext-epochs", "5", "--set", "pretext.epochs=7", "--method", "byol", "--set", "method.base_momentum=0.9", "--seed", "3", "--set", "seed=4"];
        let config = ConfigArgs::from_arg_matches(&command.clone().get_matches_from(argv)).unwrap().resolve(None).unwrap();
        let crate::methods::MethodConfig::Byol(byol) = &config.method else { panic!("{:?}", config.method) };
        assert_eq!((config.pretext.epochs, byol.base_momentum, config.seed), (7, 0.9, 4));
        let err = command.try_get_matches_from(["pretext", "--set", "pretext.epochs"]).unwrap_err().to_string();
        assert!(err.contains("write KEY=VALUE"), "{err}");
    }

    #[test]
    fn image_folders_are_kept_as_absolute_paths() {
        let command = ConfigArgs::augment_args(Command::new("pretext"));
        let argv = ["pretext", "--dataset", "folder:photos", "--unlabeled-dir", "more"];
        let config = ConfigArgs::from_arg_matches(&command.get_matches_from(argv)).unwrap().resolve(None).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(config.data.dataset, format!("folder:{}", cwd.join("photos").display()));
        assert_eq!(config.data.folder.unlabeled_dir, Some(cwd.join("more")));
    }

    #[test]
    fn an_image_folder_uses_all_its_images_unless_the_flags_say_otherwise() {
        let command = ConfigArgs::augment_args(Command::new("pretext"));
        let resolve = |argv: &[&str]| ConfigArgs::from_arg_matches(&command.clone().get_matches_from(argv)).unwrap().resolve(None).unwrap();
        for preset in ["default", "seed"] {
            let data = resolve(&["pretext", "--preset", preset, "--dataset", "folder:photos"]).data;
            assert_eq!((data.unlabeled_size, data.labels, data.test_size), (Count::All, Count::All, Count::All), "{preset}");
        }
        let data = resolve(&["pretext", "--dataset", "folder:photos", "--labels", "100", "--test-size", "50"]).data;
        assert_eq!((data.unlabeled_size, data.labels, data.test_size), (Count::All, Count::N(100), Count::N(50)));
        let data = resolve(&["pretext", "--preset", "seed"]).data;
        assert_eq!((data.unlabeled_size, data.labels, data.test_size), (Count::N(1000), Count::N(1000), Count::N(300)));
    }
}
