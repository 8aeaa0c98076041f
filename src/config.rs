//! The fully resolved settings of a run: a preset, overlaid by a TOML file, overlaid by flags.
//! Every hyper-parameter of the notebook is a field here; the run folder gets a copy.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::data::batch::{PixelMap, Pixels};
use crate::data::dataset::ChannelStats;
use crate::data::registry::DataSource;
use crate::data::folder::FolderOptions;
use crate::device::DeviceChoice;
use crate::eval::knn::KnnConfig;
use crate::eval::monitor::MonitorConfig;
use crate::error::{Error, Invalid, Result};
use crate::methods::rotation::RotationConfig;
use crate::methods::{MethodConfig, MethodName};
use crate::model::encoders::{EncoderName, ModelConfig};
use crate::semi::SemiConfig;
use crate::settings::named;
use crate::train::early_stopping::{EarlyStoppingConfig, Monitor};
use crate::train::optimizer::{OptimizerKind, TrainConfig};

/// The `default` preset's method: the best linear probe and k-NN accuracy at 100 labels in the
/// README's table of methods.
pub const DEFAULT_METHOD: MethodName = MethodName::Vicreg;

/// A starting point for the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The teaching notebook, reproduced exactly (raw pixels, SGD, no shuffle).
    Seed,
    /// Our recommended settings: normalised pixels, the best-measured self-supervised method
    /// on every training image, standardised features, a fine-tuned best-epoch classifier.
    Default,
}

/// A number of items, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Every item available.
    All,
    /// At most this many (the first ones).
    N(usize),
}

impl Count {
    /// How many of `available` items this selects.
    pub fn of(self, available: usize) -> usize {
        match self {
            Count::All => available,
            Count::N(n) => n.min(available),
        }
    }

    /// How many of `available` items this selects, refusing to ask for more than there are
    /// (`key` and `pool` name the setting and the images for the message).
    pub fn within(self, available: usize, key: &str, pool: &str) -> Result<usize, Invalid> {
        match self {
            Count::N(n) if n > available => Err(Invalid::new(key, format!("{n} asks for more than the {available} {pool}; pass at most {available} or `all`"))),
            _ => Ok(self.of(available)),
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::All => f.write_str("all"),
            Count::N(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for Count {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "all" {
            return Ok(Count::All);
        }
        s.parse().map(Count::N).map_err(|_| format!("expected a number or 'all', got '{s}'"))
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::All => s.serialize_str("all"),
            Count::N(n) => s.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(usize),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Count::N(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Which images a run uses and how they become inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `mnist`, `fashion-mnist`, `cifar10` or `folder:PATH`.
    pub dataset: String,
    /// The first N training images, used without their labels by the pretext task.
    pub unlabeled_size: Count,
    /// Labelled training images for the downstream head, validation split included: the
    /// first N, or with `balanced_labels` the first N/classes of each class (in data order).
    pub labels: Count,
    /// Take the same number of labelled images from every class.
    pub balanced_labels: bool,
    /// The first N test images, held out until the final evaluation.
    pub test_size: Count,
    /// Pixel scaling.
    pub pixels: Pixels,
    /// Fraction of the labelled images held out (the last ones, as Keras does) for validation.
    pub validation_split: f64,
    /// How image folders are read.
    #[serde(default)]
    pub folder: FolderOptions,
    /// Per-channel mean and standard deviation of the training images, measured when a run
    /// with `pixels = "standardize"` starts, so that evaluation and prediction reuse them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_stats: Option<ChannelStats>,
}

impl DataConfig {
    /// How pixel bytes become the network's inputs.
    pub fn pixel_map(&self) -> Result<PixelMap> {
        self.pixels.map(self.channel_stats.as_ref()).map_err(Error::Config)
    }
}

/// Everything a run needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The preset these settings started from.
    pub preset: Preset,
    /// Seed of every random choice (initialisation, shuffling).
    pub seed: u64,
    /// Where training and inference compute: `cpu`, `vulkan[:N]`, `wgpu` or `cuda[:N]`.
    #[serde(default)]
    pub device: DeviceChoice,
    /// Images.
    pub data: DataConfig,
    /// Network shape and initialisation.
    pub model: ModelConfig,
    /// The self-supervised method and its settings.
    #[serde(default = "rotation")]
    pub method: MethodConfig,
    /// Training of the pretext model.
    pub pretext: TrainConfig,
    /// k-NN accuracy and collapse measure of the encoder during pretext training.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// Training of the downstream classifier.
    pub downstream: TrainConfig,
    /// Semi-supervised training after the downstream phase (none by default).
    #[serde(default)]
    pub semi: SemiConfig,
    /// Train the encoder with the head in the downstream phase (fine-tuning) instead of
    /// freezing it (a linear probe, the notebook's protocol).
    pub fine_tune: bool,
    /// Standardise the encoder's features (mean and standard deviation over the labelled
    /// training images, fixed) before the downstream head.
    #[serde(default)]
    pub standardize_features: bool,
    /// Also train the three other classifiers on the same images (random frozen encoder,
    /// from scratch, the SSL encoder frozen or fine-tuned) and report them side by side.
    pub baselines: bool,
    /// k-NN evaluation of the encoders' features.
    pub knn: KnnConfig,
}

impl RunConfig {
    /// The settings of `preset`.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Seed => Self::seed_preset(),
            Preset::Default => Self::default_preset(),
        }
    }

    /// The notebook: 1000 / 300 images, raw pixels, SGD(0.001, 0.9), batches of 192 then 64,
    /// no shuffling for the pretext task, early stopping on training accuracy.
    fn seed_preset() -> Self {
        let sgd = |batch_size, shuffle, early_stopping| TrainConfig {
            optimizer: OptimizerKind::Sgd,
            momentum: 0.9,
            batch_size,
            epochs: 50,
            shuffle,
            early_stopping,
            ..TrainConfig::default()
        };
        Self {
            preset: Preset::Seed,
            seed: 0,
            device: DeviceChoice::Cpu,
            data: DataConfig {
                dataset: "mnist".into(),
                unlabeled_size: Count::N(1000),
                labels: Count::N(1000),
                balanced_labels: false,
                test_size: Count::N(300),
                pixels: Pixels::Raw,
                validation_split: 0.3,
                folder: FolderOptions::default(),
                channel_stats: None,
            },
            model: ModelConfig::default(),
            method: MethodConfig::Rotation(RotationConfig::default()),
            pretext: sgd(192, false, None),
            monitor: MonitorConfig { every: 0, ..MonitorConfig::default() },
            downstream: sgd(
                64,
                true,
                Some(EarlyStoppingConfig { monitor: Monitor::Accuracy, patience: 7, restore_best: false }),
            ),
            semi: SemiConfig::default(),
            fine_tune: false,
            standardize_features: false,
            baselines: true,
            knn: KnnConfig::default(),
        }
    }

    /// Measured improvements over the notebook (the README gives each one's effect): pixels
    /// in 0..1; the method that measured best, on every training image for 5 epochs (a few
    /// minutes here); features standardised before the head; and a fine-tuned encoder whose
    /// best validation epoch is kept, trained with Adam on shuffled, randomly shifted images.
    fn default_preset() -> Self {
        let mut config = Self::seed_preset();
        config.preset = Preset::Default;
        config.data.pixels = Pixels::Unit;
        config.data.unlabeled_size = Count::All;
        config.data.test_size = Count::All;
        let adam = |batch_size, epochs, early_stopping| TrainConfig { batch_size, epochs, early_stopping, ..MethodName::Rotation.pretext_training() };
        config.pretext = MethodName::Rotation.pretext_training();
        config.downstream = adam(
            32,
            100,
            Some(EarlyStoppingConfig { monitor: Monitor::ValAccuracy, patience: 15, restore_best: true }),
        );
        config.fine_tune = true;
        config.standardize_features = true;
        config.monitor = MonitorConfig::default();
        config.with_method(DEFAULT_METHOD)
    }

    /// Switches to `method` with its default settings and its pretext training (a run's other
    /// settings stay); a run already on `method` is left as it is.
    pub fn with_method(mut self, method: MethodName) -> Self {
        if self.method.name() != method {
            self.pretext = method.pretext_training();
            self.method = method.defaults();
        }
        self
    }

    /// Reads a TOML file over the given preset (or the file's own `preset` key).
    /// Keys the file leaves out keep the preset's values; unknown keys are refused.
    pub fn from_toml_file(path: &Path, preset: Option<Preset>) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file_error = |key: &str, message: &str| {
            let line = key_line(&text, key).map_or_else(String::new, |line| format!(", line {line}"));
            Error::Config(format!("{}{line}: {key}: {message}", path.display()))
        };
        let overlay: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map_or(0, |span| text[..span.start].matches('\n').count() + 1);
            Error::Config(format!("{}, line {line}: {}", path.display(), e.message().trim().replace('\n', " ")))
        })?;
        let file_preset = match overlay.get("preset") {
            Some(value) => Some(value.clone().try_into::<Preset>().map_err(|e| file_error("preset", e.message()))?),
            None => None,
        };
        Self::preset(preset.or(file_preset).unwrap_or(Preset::Default)).overlaid(overlay, file_error)
    }

    /// This config with one setting changed: `key` is dotted as in the TOML (`pretext.epochs`,
    /// `method.temperature`), `value` a TOML value (`20`, `0.1`, `[64, 32, 16]`, `true`) or,
    /// when it does not parse as one, a string (`fashion-mnist`). `method.name` switches to
    /// that method's defaults first, as a file's does. The key is checked as a file's keys are:
    /// unknown keys and values of the wrong type are refused, naming the key.
    pub fn set(self, key: &str, value: &str) -> Result<Self> {
        // The base is valid, so whatever is refused is this one setting.
        let refuse = |message: &str| Error::Config(format!("{key}: {message}"));
        let parts: Vec<&str> = key.split('.').map(str::trim).collect();
        if parts.iter().any(|part| part.is_empty()) {
            return Err(refuse("not a setting's key (keys are dotted, as `pretext config` prints them: pretext.epochs)"));
        }
        if parts == ["preset"] {
            return Err(refuse("the preset is where every other setting starts, not a setting of its own: start from that preset instead"));
        }
        let parsed = format!("value = {value}").parse::<toml::Table>().ok().and_then(|mut table| table.remove("value"));
        let value = parsed.unwrap_or_else(|| toml::Value::String(value.to_owned()));
        let overlay = parts.iter().rev().fold(value, |inner, part| toml::Value::Table(toml::Table::from_iter([(part.to_string(), inner)])));
        let toml::Value::Table(overlay) = overlay else { unreachable!("a key has at least one part") };
        self.overlaid(overlay, |_, message| refuse(message))
    }

    /// `overlay` merged over this config (switching method or encoder first when it names one), read
    /// back with every key checked; `error(key, message)` words a refusal.
    fn overlaid(self, mut overlay: toml::Table, error: impl Fn(&str, &str) -> Error) -> Result<Self> {
        let mut base = self;
        upgrade_model_keys(&mut overlay);
        if let Some(name) = overlay.get("method").and_then(|m| m.get("name")) {
            let name: String = name.clone().try_into().map_err(|e: toml::de::Error| error("method.name", e.message()))?;
            let method = named::<MethodName>(&name)
                .ok_or_else(|| error("method.name", &format!("unknown method '{name}' (see `pretext methods`)")))?;
            base = base.with_method(method);
        }
        if let Some(name) = overlay.get("model").and_then(|m| m.get("encoder")).and_then(|e| e.get("name")) {
            let name: String = name.clone().try_into().map_err(|e: toml::de::Error| error("model.encoder.name", e.message()))?;
            let known = EncoderName::ALL.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            let encoder = named::<EncoderName>(&name)
                .ok_or_else(|| error("model.encoder.name", &format!("unknown encoder '{name}' (one of {known})")))?;
            base.model = base.model.with_encoder(encoder);
        }
        let mut merged = toml::Table::try_from(&base).expect("config serialises to a table");
        merge(&mut merged, overlay);
        serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
            let key = e.path().to_string();
            error(key.split('[').next().unwrap_or_default(), e.inner().message())
        })
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// Rejects settings that cannot work, before any data is read or any training starts.
    pub fn validate(&self) -> Result<()> {
        self.settings_that_cannot_work()?;
        DataSource::parse(&self.data.dataset)?.check(&self.data.folder)
    }

    /// The first setting that cannot work, by its key.
    fn settings_that_cannot_work(&self) -> Result<(), Invalid> {
        self.pretext.validate().map_err(|e| e.within("pretext"))?;
        self.method.validate(self.pretext.batch_size)?;
        if self.monitor.every > 0 && self.monitor.images < 2 {
            return Err(Invalid::new("monitor.images", format!("must be at least 2 (a k-NN bank and queries), got {}", self.monitor.images)));
        }
        self.downstream.validate().map_err(|e| e.within("downstream"))?;
        self.semi.validate().map_err(|e| e.within("semi"))?;
        let split = self.data.validation_split;
        if !(0.0..1.0).contains(&split) {
            return Err(Invalid::new("data.validation_split", format!("must be in [0, 1), got {split}")));
        }
        let sizes = [("unlabeled_size", self.data.unlabeled_size), ("labels", self.data.labels), ("test_size", self.data.test_size)];
        if let Some((key, _)) = sizes.iter().find(|(_, size)| *size == Count::N(0)) {
            return Err(Invalid::new(format!("data.{key}"), "must be at least 1 image, or `all`; got 0"));
        }
        self.model.validate()?;
        self.data.folder.validate().map_err(|e| e.within("data.folder"))?;
        let needs_val = self.downstream.early_stopping.as_ref().is_some_and(|e| e.monitor.needs_validation());
        if needs_val && split == 0.0 {
            return Err(Invalid::new("data.validation_split", "must be > 0 for early stopping on a val_ metric"));
        }
        if self.knn.k == 0 {
            return Err(Invalid::new("knn.k", "must be at least 1"));
        }
        if !(self.knn.temperature.is_finite() && self.knn.temperature > 0.0) {
            return Err(Invalid::new("knn.temperature", format!("must be positive, got {}", self.knn.temperature)));
        }
        Ok(())
    }
}

fn rotation() -> MethodConfig {
    MethodConfig::Rotation(RotationConfig::default())
}

/// The 1-based line where TOML `text` sets the dotted `key` (`pretext.epochs`), under its
/// table header or written dotted.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let dotted = |name: &str| name.split('.').map(|p| p.trim().trim_matches('"')).collect::<Vec<_>>().join(".");
    let mut table = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = dotted(header.trim_matches(['[', ']']));
            continue;
        }
        let Some((name, _)) = line.split_once('=') else { continue };
        let full = if table.is_empty() { dotted(name) } else { format!("{table}.{}", dotted(name)) };
        if full == key {
            return Some(i + 1);
        }
    }
    None
}

/// Rewrites the model keys of releases before the encoder registry into `[model.encoder]`:
/// `model.encoder = "resnet"` names the encoder, the notebook's `model.filters` and
/// `model.kernel_size` and the ResNet's `[model.resnet]` become its keys. Where an old file
/// names its encoder, the other encoder's keys (which old releases wrote and ignored) are
/// dropped. Deprecated: to be removed one release after 0.2.
fn upgrade_model_keys(overlay: &mut toml::Table) {
    let Some(toml::Value::Table(model)) = overlay.get_mut("model") else { return };
    let named = match model.get("encoder") {
        Some(toml::Value::String(name)) => Some(name.clone()),
        _ => None,
    };
    let notebook: toml::Table = ["filters", "kernel_size"].into_iter().filter_map(|key| model.remove(key).map(|value| (key.to_owned(), value))).collect();
    let resnet = match model.remove("resnet") {
        Some(toml::Value::Table(resnet)) => resnet,
        _ => toml::Table::new(),
    };
    let mut encoder = match model.remove("encoder") {
        Some(toml::Value::Table(encoder)) => encoder,
        _ => toml::Table::new(),
    };
    let keys = match named.as_deref() {
        Some("resnet") => resnet,
        Some(_) => notebook,
        None => notebook.into_iter().chain(resnet).collect(),
    };
    encoder.extend(keys);
    if let Some(name) = named {
        encoder.insert("name".into(), toml::Value::String(name));
    }
    if !encoder.is_empty() {
        model.insert("encoder".into(), toml::Value::Table(encoder));
    }
}

/// Recursively overlays `overlay` onto `base`.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::encoders::EncoderConfig;
    use crate::model::encoders::notebook::NotebookConfig;
    use crate::train::optimizer::Schedule;

    #[test]
    fn seed_preset_is_the_notebook() {
        let c = RunConfig::preset(Preset::Seed);
        assert_eq!((c.data.labels, c.data.test_size), (Count::N(1000), Count::N(300)));
        assert_eq!(c.data.pixels, Pixels::Raw);
        assert_eq!((c.pretext.learning_rate, c.pretext.momentum, c.pretext.batch_size), (0.001, 0.9, 192));
        assert!(!c.pretext.shuffle && c.downstream.shuffle);
        assert_eq!(c.downstream.batch_size, 64);
        assert_eq!(c.downstream.early_stopping.as_ref().map(|e| (e.monitor, e.patience)), Some((Monitor::Accuracy, 7)));
    }

    #[test]
    fn toml_round_trips_and_overlays_a_preset() {
        for preset in [Preset::Seed, Preset::Default] {
            let c = RunConfig::preset(preset);
            let back: RunConfig = toml::from_str(&c.to_toml()).unwrap();
            assert_eq!(back, c);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "preset = 'seed'\n[pretext]\nepochs = 3\n[data]\ntest_size = 'all'\n").unwrap();
        let c = RunConfig::from_toml_file(&path, None).unwrap();
        assert_eq!((c.preset, c.pretext.epochs, c.pretext.batch_size), (Preset::Seed, 3, 192));
        assert_eq!(c.data.test_size, Count::All);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[pretext]\nepochz = 3\n").unwrap();
        let err = RunConfig::from_toml_file(&path, None).unwrap_err().to_string();
        assert!(err.contains("epochz"), "{err}");
        let mut c = RunConfig::preset(Preset::Seed);
        c.data.validation_split = 1.0;
        assert!(c.validate().unwrap_err().to_string().contains("data.validation_split must be in [0, 1), got 1"));
        let mut c = RunConfig::preset(Preset::Seed);
        c.downstream.batch_size = 0;
        assert!(c.validate().unwrap_err().to_string().contains("downstream.batch_size must be at least 1"));
    }

    #[test]
    fn a_method_table_takes_that_methods_defaults_for_what_it_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[method]\nname = 'simclr'\ntemperature = 0.1\n[method.augment]\ncrop_scale = [0.3, 1.0]\n").unwrap();
        let c = RunConfig::from_toml_file(&path, None).unwrap();
        let MethodConfig::Simclr(simclr) = &c.method else { panic!("{:?}", c.method) };
        assert_eq!((simclr.temperature, simclr.augment.crop_scale, simclr.projector.output), (0.1, [0.3, 1.0], 128));
        // Switching method also takes the two-view pretext training.
        assert_eq!((c.pretext.batch_size, c.pretext.schedule), (256, Schedule::Cosine));
        let back: RunConfig = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);

        std::fs::write(&path, "[method]\nname = 'byol'\ntemperature = 0.1\n").unwrap();
        let err = RunConfig::from_toml_file(&path, None).unwrap_err().to_string();
        assert!(err.contains("temperature"), "{err}");
        std::fs::write(&path, "[method]\nname = 'mocov3'\n").unwrap();
        let err = RunConfig::from_toml_file(&path, None).unwrap_err().to_string();
        assert!(err.contains("unknown method 'mocov3'"), "{err}");
    }

    #[test]
    fn set_changes_one_key_as_a_file_would() {
        let c = RunConfig::preset(Preset::Seed).set("pretext.epochs", "7").unwrap().set("data.dataset", "fashion-mnist").unwrap();
        assert_eq!((c.pretext.epochs, c.pretext.batch_size, c.data.dataset.as_str()), (7, 192, "fashion-mnist"));
        let c = c.set("model.encoder.filters", "[8, 4, 2]").unwrap().set("data.labels", "all").unwrap();
        let EncoderConfig::Notebook(notebook) = &c.model.encoder else { panic!("{:?}", c.model.encoder) };
        assert_eq!((notebook.filters, c.data.labels), ([8, 4, 2], Count::All));
        // Naming a method switches to its defaults and its pretext training, then the key applies.
        let c = RunConfig::preset(Preset::Seed).set("method.name", "simclr").unwrap().set("method.temperature", "0.1").unwrap();
        let MethodConfig::Simclr(simclr) = &c.method else { panic!("{:?}", c.method) };
        assert_eq!((simclr.temperature, simclr.projector.output, c.pretext.batch_size), (0.1, 128, 256));
    }

    #[test]
    fn an_encoder_table_takes_that_encoders_defaults_for_what_it_leaves_out() {
        let c = RunConfig::preset(Preset::Seed).set("model.encoder.name", "resnet").unwrap().set("model.encoder.width", "8").unwrap();
        let EncoderConfig::Resnet(resnet) = &c.model.encoder else { panic!("{:?}", c.model.encoder) };
        assert_eq!((resnet.width, resnet.blocks.as_slice()), (8, [2, 2, 2, 2].as_slice()));
        let err = c.clone().set("model.encoder.filters", "[8, 4, 2]").unwrap_err().to_string();
        assert!(err.contains("model.encoder.filters: unknown field `filters`"), "{err}");
        let err = c.set("model.encoder.name", "vit").unwrap_err().to_string();
        assert!(err.contains("unknown encoder 'vit' (one of notebook, resnet"), "{err}");
    }

    #[test]
    fn the_model_keys_of_earlier_releases_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        // What earlier releases wrote for a ResNet run: the notebook's keys too, ignored.
        let old = "[model]\nencoder = 'resnet'\nfilters = [64, 32, 16]\nkernel_size = 3\ninit_std = 0.05\n[model.resnet]\nwidth = 8\nblocks = [1, 1]\n";
        std::fs::write(&path, old).unwrap();
        let c = RunConfig::from_toml_file(&path, Some(Preset::Seed)).unwrap();
        let EncoderConfig::Resnet(resnet) = &c.model.encoder else { panic!("{:?}", c.model.encoder) };
        assert_eq!((resnet.width, resnet.blocks.as_slice()), (8, [1, 1].as_slice()));
        std::fs::write(&path, "[model]\nencoder = 'notebook'\nfilters = [8, 4, 2]\n[model.resnet]\nwidth = 64\n").unwrap();
        let c = RunConfig::from_toml_file(&path, Some(Preset::Seed)).unwrap();
        let EncoderConfig::Notebook(notebook) = &c.model.encoder else { panic!("{:?}", c.model.encoder) };
        assert_eq!((notebook.filters, notebook.kernel_size), ([8, 4, 2], 3));
        let c = RunConfig::preset(Preset::Seed).set("model.filters", "[8, 4, 2]").unwrap();
        assert_eq!(c.model.encoder, EncoderConfig::Notebook(NotebookConfig { filters: [8, 4, 2], kernel_size: 3 }));
    }

    #[test]
    fn set_refuses_what_a_file_refuses_naming_the_key() {
        let simclr = RunConfig::preset(Preset::Default).with_method(MethodName::Simclr);
        let refusals = [
            ("method.temprature", "0.1", "method.temprature: unknown field `temprature`"),
            ("method.temperature", "warm", "method.temperature: invalid type: string \"warm\", expected f64"),
            ("pretext.epochs", "-1", "pretext.epochs: invalid value: integer `-1`, expected usize"),
            ("method.name", "mocov3", "method.name: unknown method 'mocov3'"),
            ("pretext..epochs", "3", "pretext..epochs: not a setting's key"),
            ("preset", "seed", "preset: the preset is where every other setting starts"),
        ];
        for (key, value, expected) in refusals {
            let err = simclr.clone().set(key, value).unwrap_err().to_string();
            assert!(err.contains(expected), "{key}={value}: {err}");
        }
    }
}
