//! The images one run uses: the data set read once, and the configured numbers of unlabeled,
//! labelled, test and monitor images selected from it.

use std::path::Path;

use crate::config::RunConfig;
use crate::data::batch::{PixelMap, Pixels};
use crate::data::dataset::{Dataset, DatasetInfo};
use crate::data::folder::FolderOptions;
use crate::data::images::{ImageShape, LabeledImages};
use crate::data::registry::DataSource;
use crate::error::{Error, Invalid, Result};

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
