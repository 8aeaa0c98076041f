//! The run folder: what each step leaves behind, under names a person can guess.
//!
//! ```text
//! config.toml              fully resolved settings
//! dataset.json             the data set: name, image shape, class names, counts, channel statistics
//! metrics.json             pretext / downstream / test sections (no timings: same seed, same file)
//! timings.json             seconds per step (load_data, pretext, downstream, test, baselines, ...)
//! history_pretext.csv      one row per epoch (loss, accuracy, val_*, seconds)
//! history_downstream.csv
//! history_semi.csv         with a semi-supervised phase (adds mask_rate, pseudo_label_accuracy)
//! pretext.safetensors      pretext model weights
//! classifier.safetensors   encoder + head weights (the semi-supervised classifier when there is one)
//! tensorboard/<phase>/     with TensorBoard logging: an event file per training phase, written as it trains
//! checkpoints/             one folder per training phase while a run is under way (removed
//!                          when it completes; a resumed run continues from them)
//! rotations.png (rotation) or views.png (two-view methods), pretext_curves.png, downstream_curves.png,
//! semi_curves.png (semi-supervised), examples.png, misclassified.png, confusion_matrix.png
//! ```

use std::path::{Path, PathBuf};


use crate::config::RunConfig;
use crate::data::dataset::DatasetInfo;
use crate::data::images::{ImageShape, LabeledImages};
use crate::error::{Error, Result, RunState};
use crate::eval::confusion::ConfusionMatrix;
use crate::eval::payoff::Payoff;
use crate::eval::protocols::{ProtocolResult, markdown_table};
use crate::eval::predict::Predictions;
use crate::files::{remove_folder, write_atomically};
use crate::eval::monitor::{COLLAPSE_BELOW, FEATURE_SPREAD, KNN_ACCURACY};
use crate::pipeline::{Pretrained, Probed};
use crate::data::batch::FeatureBatches;
use crate::eval::pca::pca_project;
use crate::data::images::Tile;
use crate::report::plots::{confusion_matrix, embedding, image_grid, training_curves};
use crate::methods::MethodConfig;
use crate::semi::SemiMethod;
use crate::semi::pseudo_labels::{MASK_RATE, PSEUDO_LABEL_ACCURACY};
use crate::report::metrics::{DownstreamMetrics, Metrics, PhaseMetrics, PretextMetrics, SemiEpoch, SemiMetrics, TestMetrics};
use crate::train::history::write_csv;
use crate::train::live_log::history_file;

/// File name of the pretext model's weights.
pub const PRETEXT_WEIGHTS: &str = "pretext.safetensors";
/// File name of the classifier's weights.
pub const CLASSIFIER_WEIGHTS: &str = "classifier.safetensors";
/// File name of the resolved config.
pub const CONFIG: &str = "config.toml";
/// File name of the data set's description.
pub const DATASET: &str = "dataset.json";
/// File name of the metrics.
pub const METRICS: &str = "metrics.json";
/// Start of the name of the folders `pretext eval` writes in a run folder (`eval-<N>`).
pub const EVALUATION_PREFIX: &str = "eval-";
/// Folder of the checkpoints of a run under way.
pub const CHECKPOINTS: &str = "checkpoints";
/// Folder of the TensorBoard event files (when TensorBoard logging is on), one sub-folder per phase.
pub const TENSORBOARD: &str = "tensorboard";
/// File name of the seconds each step of a run took.
pub const TIMINGS: &str = "timings.json";
/// What a run writes before its classifier: settings, data set and the pretext phase.
const PRETEXT_FILES: &[&str] =
    &[CONFIG, DATASET, METRICS, TIMINGS, PRETEXT_WEIGHTS, "history_pretext.csv", "pretext_curves.png", "rotations.png", "views.png"];
/// What a run writes about its classifier (everything but the pretext phase's files).
const CLASSIFIER_FILES: &[&str] = &[
    CLASSIFIER_WEIGHTS,
    "history_downstream.csv",
    "history_semi.csv",
    "downstream_curves.png",
    "semi_curves.png",
    "examples.png",
    "misclassified.png",
    "confusion_matrix.png",
    "embedding.png",
    "protocols.md",
    "report.html",
];
/// Most misclassified test images shown in `misclassified.png`.
const MISCLASSIFIED_SHOWN: usize = 40;

/// A folder holding one run's files.
#[derive(Debug, Clone)]
pub struct RunFolder {
    dir: PathBuf,
}

impl RunFolder {
    /// Creates `dir` for new results; a folder that already holds files is refused unless
    /// `force`, and one that cannot be written is named before any work starts.
    pub fn create(dir: &Path, force: bool) -> Result<Self> {
        let unwritable = |problem: String| Error::Unwritable { path: dir.to_path_buf(), problem };
        if dir.exists() && !dir.is_dir() {
            return Err(unwritable("it is a file, not a folder; choose another `out`".into()));
        }
        let held: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        if !held.is_empty() && !force {
            let what = if held.iter().any(|f| f == CONFIG) { "a run" } else { "files" };
            return Err(Error::Config(format!(
                "{} already holds {what} ({}); choose another `out`, or pass `force` to overwrite it",
                dir.display(),
                first_names(held)
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| unwritable(format!("cannot create it ({e}); choose another `out`")))?;
        let folder = Self { dir: dir.to_path_buf() };
        if force {
            // Nothing of the overwritten run stays.
            folder.remove_files(PRETEXT_FILES.iter().chain(CLASSIFIER_FILES))?;
            folder.remove_evaluations()?;
            remove_folder(&folder.path(TENSORBOARD))?;
        }
        let probe = dir.join(".pretext-write-check");
        std::fs::write(&probe, b"").map_err(|e| unwritable(format!("cannot write in it ({e}); choose a folder you can write to with `out`")))?;
        std::fs::remove_file(&probe).map_err(|e| Error::io(&probe, e))?;
        Ok(folder)
    }

    /// Opens the folder of an earlier run.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join(CONFIG).is_file() {
            return Err(Error::RunFolder { dir: dir.to_path_buf(), state: RunState::NotARun });
        }
        Ok(Self { dir: dir.to_path_buf() })
    }

    /// The folder of a run that got to its end, for the commands that read its results; one
    /// that did not (interrupted, killed, or still running) is refused with the commands that
    /// continue it.
    pub fn open_finished(dir: &Path) -> Result<Self> {
        let folder = Self::open(dir)?;
        if !folder.finished() {
            return Err(Error::RunFolder { dir: dir.to_path_buf(), state: RunState::Unfinished });
        }
        Ok(folder)
    }

    /// A folder for the results of a command on this run (`eval`, `probe`): `dir`, which must
    /// be another folder, since `force` there would remove this run's files.
    pub fn beside(&self, dir: &Path, force: bool) -> Result<Self> {
        let same = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().is_ok_and(|b| a == b));
        if same(dir, &self.dir) {
            return Err(Error::Config(format!("`out` {} is the run folder itself; choose another folder", dir.display())));
        }
        Self::create(dir, force)
    }

    /// Runs `body`, which writes into the folder; when it fails before writing anything, the
    /// (then empty) folder is removed, so a failed command leaves nothing behind.
    pub fn fill<T>(&self, body: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        let outcome = body(self);
        if outcome.is_err() {
            let _ = std::fs::remove_dir(&self.dir); // fails, as it should, on a folder with files
        }
        outcome
    }

    /// Whether the command that made the folder got to its end (`timings.json` is written
    /// last).
    pub fn finished(&self) -> bool {
        self.path(TIMINGS).is_file()
    }

    /// The classifier's weights; a folder without them (from `pretext pretrain`) is named with
    /// the command that makes them.
    pub fn classifier_weights(&self) -> Result<PathBuf> {
        let path = self.path(CLASSIFIER_WEIGHTS);
        if !path.is_file() {
            return Err(Error::RunFolder { dir: self.dir.clone(), state: RunState::NoClassifier });
        }
        Ok(path)
    }

    /// Where to read the data set: `given`, else the folder the run read it
    /// from.
    pub fn data_dir(&self, given: Option<&Path>) -> Option<PathBuf> {
        given.map(Path::to_path_buf).or_else(|| self.read_dataset().ok()?.location.filter(|dir| dir.is_dir()))
    }

    /// Removes every result of the classifier (weights, histories, figures, metrics, report),
    /// before a forced probe trains another, so that nothing left describes the old one.
    pub fn clear_classifier(&self) -> Result<()> {
        self.remove_files(CLASSIFIER_FILES)?;
        self.remove_evaluations()?;
        for phase in ["downstream", "semi"] {
            remove_folder(&self.path(TENSORBOARD).join(phase))?;
        }
        let pretext = self.read_metrics()?.pretext;
        self.write_metrics(&Metrics { pretext, ..Metrics::default() })
    }

    /// Removes those of `files` that exist.
    fn remove_files<'a>(&self, files: impl IntoIterator<Item = &'a &'a str>) -> Result<()> {
        for file in files {
            let path = self.path(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&path, e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes the `eval-<N>` folders `pretext eval` wrote here, which describe the
    /// classifier being replaced.
    fn remove_evaluations(&self) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Ok(()) };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(EVALUATION_PREFIX) && path.join(METRICS).is_file() {
                remove_folder(&path)?;
            }
        }
        Ok(())
    }

    /// The folder itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of `name` inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes the resolved config.
    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        write_atomically(&self.path(CONFIG), config.to_toml().as_bytes())
    }

    /// Reads the run's config.
    pub fn read_config(&self) -> Result<RunConfig> {
        let path = self.path(CONFIG);
        RunConfig::from_toml_file(&path, None)
    }

    /// Records the data set the run was trained on.
    pub fn write_dataset(&self, info: &DatasetInfo) -> Result<()> {
        write_json(&self.path(DATASET), info)
    }

    /// The data set the run was trained on: the image shape and class names that `predict`
    /// needs.
    pub fn read_dataset(&self) -> Result<DatasetInfo> {
        let path = self.path(DATASET);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::RunFolder { dir: self.dir.clone(), state: RunState::NoDatasetRecord },
            _ => Error::io(&path, e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::malformed(&path, e.to_string()))
    }

    /// The run's metrics so far (none when none were written).
    pub fn read_metrics(&self) -> Result<Metrics> {
        let path = self.path(METRICS);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::malformed(&path, e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Metrics::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Changes `metrics.json` with `change`, keeping the sections it leaves.
    pub fn update_metrics(&self, change: impl FnOnce(&mut Metrics)) -> Result<()> {
        let mut metrics = self.read_metrics()?;
        change(&mut metrics);
        self.write_metrics(&metrics)
    }

    fn write_metrics(&self, metrics: &Metrics) -> Result<()> {
        // Through a JSON value, whose keys are sorted: the order metrics.json has always had.
        write_json(&self.path(METRICS), &serde_json::to_value(metrics).expect("metrics serialise"))
    }

    /// Weights, history, curves and the method's figure of the pretext phase; a collapse is
    /// recorded in `metrics.json` and named on stderr.
    pub fn write_pretext(&self, pretrained: &Pretrained, method: &MethodConfig, images: &LabeledImages) -> Result<()> {
        pretrained.model.save(&self.path(PRETEXT_WEIGHTS))?;
        write_csv(&pretrained.history, &self.path(&history_file("pretext")))?;
        let name = method.name();
        training_curves(&self.path("pretext_curves.png"), &format!("Pretext training: {name}"), &pretrained.history)?;
        if let Some(figure) = method.figure(images) {
            let shape = images.shape();
            image_grid(&self.path(figure.file), figure.title, &figure.tiles, shape, figure.columns, tile_scale(shape))?;
        }
        let metrics = PretextMetrics {
            phase: PhaseMetrics::of(&pretrained.history),
            method: name.to_string(),
            final_knn_accuracy: pretrained.last_measured(KNN_ACCURACY),
            final_feature_std: pretrained.last_measured(FEATURE_SPREAD),
            collapsed: pretrained.collapse().is_some(),
        };
        if let Some(spread) = pretrained.collapse() {
            eprintln!("warning: collapse: the {name} encoder's features have spread {spread:.4} (below {COLLAPSE_BELOW}): they all point one way; try another learning rate or method");
        }
        self.update_metrics(|m| m.pretext = Some(metrics))
    }

    /// Weights, history and curves of the downstream phase.
    pub fn write_downstream(&self, probed: &Probed) -> Result<()> {
        crate::model::weights::save(&probed.model, &self.path(CLASSIFIER_WEIGHTS))?;
        write_csv(&probed.history, &self.path(&history_file("downstream")))?;
        training_curves(&self.path("downstream_curves.png"), "Downstream: classifier trained on the labelled images", &probed.history)?;
        let metrics = DownstreamMetrics { phase: PhaseMetrics::of(&probed.history), restored_epoch: probed.restored_epoch };
        self.update_metrics(|m| m.downstream = Some(metrics))
    }

    /// Weights, history and curves of the semi-supervised phase, whose classifier the run
    /// keeps (it replaces the downstream one in `classifier.safetensors`).
    pub fn write_semi(&self, semi: &Probed, method: SemiMethod) -> Result<()> {
        crate::model::weights::save(&semi.model, &self.path(CLASSIFIER_WEIGHTS))?;
        write_csv(&semi.history, &self.path(&history_file("semi")))?;
        let title = format!("Semi-supervised ({method}): labelled and unlabeled images");
        training_curves(&self.path("semi_curves.png"), &title, &semi.history)?;
        let metrics = SemiMetrics {
            phase: PhaseMetrics::of(&semi.history),
            method: method.to_string(),
            restored_epoch: semi.restored_epoch,
            final_mask_rate: semi.history.last().and_then(|r| r.get(MASK_RATE)),
            final_pseudo_label_accuracy: semi.history.last().and_then(|r| r.get(PSEUDO_LABEL_ACCURACY)),
            per_epoch: semi.history.iter().map(SemiEpoch::from).collect(),
        };
        self.update_metrics(|m| m.semi = Some(metrics))
    }

    /// The side-by-side comparison of protocols, as JSON in metrics and a Markdown table.
    pub fn write_protocols(&self, results: &[ProtocolResult]) -> Result<()> {
        write_atomically(&self.path("protocols.md"), markdown_table(results).as_bytes())?;
        self.update_metrics(|m| m.protocols = Some(results.to_vec()))
    }

    /// Whether self-supervision paid, in `metrics.json` (`ssl_payoff`) for the report.
    pub fn write_payoff(&self, payoff: &Payoff) -> Result<()> {
        self.update_metrics(|m| m.ssl_payoff = Some(payoff.clone()))
    }

    /// The test images' features, from the encoder of the classifier `encoder` describes,
    /// projected on their two principal axes.
    pub fn write_embedding(&self, features: &FeatureBatches, classes: &[String], encoder: &str) -> Result<()> {
        let [_, dim] = features.features().dims();
        let values = features.features().clone().into_data().try_to_vec::<f32>().expect("f32 features");
        let points: Vec<(f64, f64)> = pca_project(&values, dim, 2).into_iter().map(|p| (p[0], p[1])).collect();
        let title = format!("Encoder features of {} test images (PCA); encoder of: {encoder}", points.len());
        embedding(&self.path("embedding.png"), &title, &points, features.targets(), classes)
    }

    /// Test metrics, confusion matrix and example figures.
    pub fn write_evaluation(&self, predictions: &Predictions, test: &LabeledImages, classes: &[String]) -> Result<()> {
        let predicted = predictions.predicted();
        let matrix = ConfusionMatrix::new(&predicted, &predictions.targets, predictions.classes);
        let eval = predictions.evaluation();
        let measured = TestMetrics {
            n: predictions.len(),
            loss: eval.loss,
            accuracy: eval.accuracy,
            per_class_accuracy: matrix.per_class_accuracy(),
            confusion_matrix: matrix.counts.clone(),
        };
        self.update_metrics(|m| m.test = Some(measured))?;
        confusion_matrix(&self.path("confusion_matrix.png"), &matrix, classes)?;
        let caption = |i: usize| {
            let p = predicted[i];
            format!("Prediction: {} ({:.0}%)\nTrue answer: {}", classes[p], 100.0 * predictions.probability(i, p), classes[predictions.targets[i]])
        };
        let tile = |i: usize| Tile { pixels: test.image(i).to_vec(), caption: caption(i) };
        let is_wrong = |i: &usize| predicted[*i] != predictions.targets[*i];
        let first_right = (0..test.len()).find(|i| !is_wrong(i));
        let wrong: Vec<usize> = (0..test.len()).filter(is_wrong).collect();
        let examples: Vec<Tile> = first_right.into_iter().chain(wrong.first().copied()).map(tile).collect();
        let shape = test.shape();
        image_grid(&self.path("examples.png"), "First correct and first wrong test prediction", &examples, shape, 2, tile_scale(shape))?;
        let shown: Vec<Tile> = wrong.iter().take(MISCLASSIFIED_SHOWN).map(|&i| tile(i)).collect();
        let title = format!("Misclassified test images: {} of {} (first {} shown)", wrong.len(), test.len(), shown.len());
        image_grid(&self.path("misclassified.png"), &title, &shown, shape, 8, tile_scale(shape).div_ceil(2))
    }
}

/// Writes `value` to `path` as pretty-printed JSON with a final newline, atomically.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("json serialises") + "\n";
    write_atomically(path, text.as_bytes())
}

/// Up to four of `names`, sorted, and how many more.
fn first_names(mut names: Vec<String>) -> String {
    names.sort();
    let more = names.len().saturating_sub(4);
    names.truncate(4);
    if more > 0 { format!("{}, and {more} more", names.join(", ")) } else { names.join(", ") }
}

/// How many times a figure enlarges each image: 5 for MNIST's 28 pixels, less for larger ones.
fn tile_scale(shape: ImageShape) -> usize {
    (140 / shape.height.max(shape.width)).clamp(1, 5)
}
