//! A loaded data set, whatever its source: training and test images of one [`ImageShape`],
//! class names, optionally more unlabeled images; and its description, `dataset.json`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::images::{ImageShape, LabeledImages};

/// The images of a data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// How `data.dataset` names it.
    pub name: String,
    /// Labelled training images (for the pretext task and the labelled head).
    pub train: LabeledImages,
    /// Images without labels, for the pretext task only (image folders may have them).
    pub unlabeled: LabeledImages,
    /// Held-out test images.
    pub test: LabeledImages,
    /// Class names in label order.
    pub classes: Vec<String>,
    /// Where the test images come from.
    pub test_source: String,
    /// The folder its files were read from.
    pub location: PathBuf,
    /// Files left out because they could not be read as images (`data.folder.unreadable` skip).
    pub skipped: Vec<SkippedFile>,
    /// Mean and standard deviation of each channel over the training images, measured once
    /// when the data set is made.
    stats: ChannelStats,
}

/// A file of the data set left out because it could not be read as an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why it could not be read, in one line.
    pub problem: String,
}

impl fmt::Display for SkippedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.problem)
    }
}

impl Dataset {
    /// A data set with its own test split and without extra unlabeled images.
    pub fn new(name: &str, train: LabeledImages, test: LabeledImages, classes: Vec<String>) -> Self {
        let unlabeled = train.head(0);
        let stats = ChannelStats::of(&train);
        let (test_source, location) = ("the data set's test split".into(), PathBuf::new());
        Self { name: name.to_string(), train, unlabeled, test, classes, test_source, location, skipped: Vec::new(), stats }
    }

    /// The same data set with `unlabeled` images for the pretext task.
    pub fn with_unlabeled(self, unlabeled: LabeledImages) -> Self {
        Self { unlabeled, ..self }
    }

    /// The same data set, read from the folder `location`.
    pub fn located_at(self, location: &Path) -> Self {
        let location = std::path::absolute(location).unwrap_or_else(|_| location.to_path_buf());
        Self { location, ..self }
    }

    /// The same data set, `skipped` left out of it.
    pub fn with_skipped(self, skipped: Vec<SkippedFile>) -> Self {
        Self { skipped, ..self }
    }

    /// The same data set, its test images described by `source`.
    pub fn with_test_source(self, source: String) -> Self {
        Self { test_source: source, ..self }
    }

    /// Channels, height and width of every image.
    pub fn shape(&self) -> ImageShape {
        self.train.shape()
    }

    /// How many images the pretext task may use: the training images and the unlabeled ones.
    pub fn pretext_pool_len(&self) -> usize {
        self.train.len() + self.unlabeled.len()
    }

    /// The first `count` images of the pretext pool (the training images, then the unlabeled
    /// ones), copied once.
    pub fn pretext_images(&self, count: usize) -> LabeledImages {
        let from_train = self.train.head(count);
        let rest = count.saturating_sub(from_train.len());
        if rest == 0 { from_train } else { from_train.concat(&self.unlabeled.head(rest)) }
    }

    /// Mean and standard deviation of each channel over the training images, in grey levels.
    pub fn channel_stats(&self) -> &ChannelStats {
        &self.stats
    }

    /// What `pretext data info` prints and a run folder keeps in `dataset.json`.
    pub fn info(&self) -> DatasetInfo {
        DatasetInfo {
            name: self.name.clone(),
            shape: self.shape(),
            classes: self.classes.clone(),
            train: self.train.len(),
            unlabeled: self.unlabeled.len(),
            test: self.test.len(),
            test_source: self.test_source.clone(),
            location: Some(self.location.clone()),
            skipped: self.skipped.clone(),
            stats: self.stats.clone(),
        }
    }
}

/// Per-channel mean and standard deviation of pixel values (0..255).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelStats {
    /// Mean of each channel.
    pub mean: Vec<f64>,
    /// Standard deviation of each channel.
    pub std: Vec<f64>,
}

impl ChannelStats {
    /// The statistics of `images`.
    pub fn of(images: &LabeledImages) -> Self {
        let shape = images.shape();
        let mut sums = vec![(0u64, 0u64); shape.channels];
        for i in 0..images.len() {
            for (c, plane) in images.image(i).chunks(shape.plane()).enumerate() {
                for &p in plane {
                    sums[c].0 += p as u64;
                    sums[c].1 += (p as u64) * (p as u64);
                }
            }
        }
        let n = (images.len() * shape.plane()).max(1) as f64;
        let mean: Vec<f64> = sums.iter().map(|&(s, _)| s as f64 / n).collect();
        let std = sums.iter().zip(&mean).map(|(&(_, sq), m)| (sq as f64 / n - m * m).max(0.0).sqrt()).collect();
        Self { mean, std }
    }
}

/// A data set described: what a run was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// How `data.dataset` names it.
    pub name: String,
    /// Channels, height and width of every image.
    pub shape: ImageShape,
    /// Class names in label order.
    pub classes: Vec<String>,
    /// Labelled training images.
    pub train: usize,
    /// Extra unlabeled images.
    pub unlabeled: usize,
    /// Test images.
    pub test: usize,
    /// Where the test images come from.
    pub test_source: String,
    /// The folder its files were read from, where a resumed run, `eval` and `probe` look first
    /// (absent in runs of pretext 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<PathBuf>,
    /// Files left out because they could not be read as images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedFile>,
    /// Per-channel mean and standard deviation of the training images.
    pub stats: ChannelStats,
}

impl DatasetInfo {
    /// Names the skipped files on stderr, unless `recorded` (the description a run folder
    /// kept when it first read the data) already lists the same ones: a user hears about a
    /// broken file once, from the command that first met it.
    pub fn warn_skipped(&self, recorded: Option<&DatasetInfo>) {
        if self.skipped.is_empty() || recorded.is_some_and(|r| r.skipped == self.skipped) {
            return;
        }
        eprintln!("warning: skipped {} file(s) that cannot be read as images (a run lists them all in its dataset.json): {}", self.skipped.len(), listed(&self.skipped, 5));
    }
}

/// The first `shown` of `files`, and how many more.
fn listed(files: &[SkippedFile], shown: usize) -> String {
    let mut text = files.iter().take(shown).map(ToString::to_string).collect::<Vec<_>>().join(", ");
    if files.len() > shown {
        text.push_str(&format!(", and {} more", files.len() - shown));
    }
    text
}

impl fmt::Display for DatasetInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numbers = |v: &[f64]| v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ");
        writeln!(f, "data set:   {}", self.name)?;
        writeln!(f, "images:     {}", self.shape)?;
        writeln!(f, "train:      {} labelled images", self.train)?;
        if self.unlabeled > 0 {
            writeln!(f, "unlabeled:  {} more images", self.unlabeled)?;
        }
        writeln!(f, "test:       {} images ({})", self.test, self.test_source)?;
        if let Some(location) = &self.location {
            writeln!(f, "files:      {}", location.display())?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "skipped:    {} unreadable files: {}", self.skipped.len(), listed(&self.skipped, 3))?;
        }
        writeln!(f, "classes:    {} ({})", self.classes.len(), self.classes.join(", "))?;
        writeln!(f, "mean:       {} (per channel, 0..255, training images)", numbers(&self.stats.mean))?;
        write!(f, "std:        {}", numbers(&self.stats.std))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_stats_are_per_channel() {
        // Two 1x2 RGB images: red 0 and 10, green 100, blue 255 and 0 over the four pixels.
        let pixels = vec![0, 10, 100, 100, 255, 0, 0, 10, 100, 100, 255, 0];
        let stats = ChannelStats::of(&LabeledImages::new(pixels, vec![0, 1], ImageShape { channels: 3, height: 1, width: 2 }));
        assert_eq!(stats.mean, [5.0, 100.0, 127.5]);
        assert_eq!(stats.std, [5.0, 0.0, 127.5]);
    }
}
