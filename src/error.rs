//! One error type for the whole crate. The command line maps each kind to an exit status
//! (`cli::exit`); the library's errors carry none.

use std::path::PathBuf;

/// Crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant naming the thing at fault and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file exists but is not what it should be (bad magic, truncated, ...).
    #[error("{}: {problem}", path.display())]
    MalformedData {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// No folder holds the named data set.
    #[error(
        "data set '{name}' not found (looked in: {searched}); run `pretext data fetch {name}` \
         or pass `data_dir` DIR (or set PRETEXT_DATA_DIR) to a folder with its files"
    )]
    DataNotFound {
        /// Data set name from the catalog.
        name: String,
        /// Folders that were searched, comma separated.
        searched: String,
    },
    /// A download failed from every mirror (no network, HTTP error, broken transfer).
    #[error(
        "download failed: {}; without network, copy {needed} into a folder and pass `data_dir` DIR \
         (or set PRETEXT_DATA_DIR=DIR)", attempts(tried)
    )]
    Download {
        /// Each address tried, with why it failed.
        tried: Vec<(String, String)>,
        /// The files a local copy of the data set needs.
        needed: String,
    },
    /// A downloaded or local file does not have the published checksum.
    #[error("{}: SHA-256 is {actual}, expected {expected}; the file was not kept", file.display())]
    Checksum {
        /// The file that was checked.
        file: PathBuf,
        /// The published checksum.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// A flag or config value is invalid; caught before any work starts.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// One setting cannot work; caught before any work starts.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Invalid),
    /// Training produced a non-finite loss.
    #[error(
        "training diverged in the {phase} phase: loss is {loss} at epoch {epoch}, step {step}; \
         start over with a lower learning rate: the same command with a smaller `{}` and `force`", phase_key(phase, "learning_rate")
    )]
    Diverged {
        /// `pretext` or `downstream`.
        phase: &'static str,
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The offending loss value.
        loss: f32,
    },
    /// The device ran out of memory in a training step (Burn's GPU runtimes panic there).
    #[error(
        "the device ran out of memory in the {phase} phase with batches of {batch_size}; run again with a smaller \
         `{}` and `force`{}", phase_key(phase, "batch_size"), resume.as_ref().map_or_else(String::new, |command| format!(
            " (or, once the device has memory free, continue from the last checkpoint, which stays: `{command}`)"
        ))
    )]
    OutOfMemory {
        /// `pretext`, `downstream` or `semi`.
        phase: &'static str,
        /// The batch size that did not fit.
        batch_size: usize,
        /// What the user types to continue from the last checkpoint, when there is one.
        resume: Option<String>,
    },
    /// A checkpoint cannot be used to continue.
    #[error("checkpoint {}: {problem}; delete its folder to train that phase again from the start", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Ctrl-C (or SIGTERM) stopped training after a step; the checkpoint holds everything.
    #[error(
        "interrupted in the {phase} phase after epoch {epochs_done} and {steps_done} more steps; \
         progress is saved in {}; continue with `{resume_command}`", checkpoint.display()
    )]
    Interrupted {
        /// The phase that was training.
        phase: &'static str,
        /// Epochs completed.
        epochs_done: usize,
        /// Steps taken in the epoch after those.
        steps_done: usize,
        /// The phase's checkpoint folder.
        checkpoint: PathBuf,
        /// What the user types to continue.
        resume_command: String,
    },
    /// A weights file is missing, unreadable or does not fit the model.
    #[error("weights {}: {problem}", path.display())]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An input image for prediction cannot be used.
    #[error("image {}: {problem}", path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A folder cannot serve as the run a command reads.
    #[error("{}: {}", dir.display(), state.problem())]
    RunFolder {
        /// The folder.
        dir: PathBuf,
        /// What it lacks.
        state: RunState,
    },
    /// A folder for results cannot be made or written.
    #[error("{}: {problem}", path.display())]
    Unwritable {
        /// The folder.
        path: PathBuf,
        /// Why, and what to do.
        problem: String,
    },
    /// Writing a figure failed.
    #[error("figure {}: {problem}", path.display())]
    Plot {
        /// The figure file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Wraps a CSV reading or writing error with the file it concerns.
    pub fn csv(path: impl Into<PathBuf>, source: csv::Error) -> Self {
        Error::io(path, std::io::Error::other(source))
    }

    /// A malformed-data error for `path`.
    pub fn malformed(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Error::MalformedData { path: path.into(), problem: problem.into() }
    }
}

/// A setting that cannot work, named by its key as the TOML config spells it
/// (`method.augment.crop_scale`); the command line names its flag instead where it has one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key} {problem}")]
pub struct Invalid {
    /// The dotted key.
    pub key: String,
    /// What is wrong, worded to follow the setting's name (`must be in [0, 1], got 2`).
    pub problem: String,
}

impl Invalid {
    /// `key` cannot work because of `problem`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { key: key.into(), problem: problem.into() }
    }

    /// The same setting as a key of `table` (`crop_scale` within `method.augment`).
    pub fn within(self, table: &str) -> Self {
        Self { key: format!("{table}.{}", self.key), ..self }
    }
}

/// Why a folder cannot serve as the run a command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// It holds no `config.toml`: no run wrote it.
    NotARun,
    /// Its run did not get to its end (interrupted, killed, or still running).
    Unfinished,
    /// It holds a pretrained encoder but no classifier.
    NoClassifier,
    /// It has no `dataset.json`, which runs before pretext knew image shapes did not write.
    NoDatasetRecord,
}

impl RunState {
    /// What is wrong, and what a library user does about it.
    pub fn problem(self) -> &'static str {
        match self {
            RunState::NotARun => "is not a run folder (no config.toml); a run or a pretraining writes one",
            RunState::Unfinished => "holds a run that did not finish (interrupted, or still running); continue it from its checkpoints first",
            RunState::NoClassifier => "holds a pretrained encoder but no classifier; train one first",
            RunState::NoDatasetRecord => "has no dataset.json (written by pretext before it knew image shapes); evaluate the run once to record it",
        }
    }
}

/// The key of a training phase's `setting` (`pretext.batch_size`, `semi.training.batch_size`).
pub fn phase_key(phase: &str, setting: &str) -> String {
    match phase {
        "semi" => format!("semi.training.{setting}"),
        _ => format!("{phase}.{setting}"),
    }
}

/// "url (reason), url (reason)".
fn attempts(tried: &[(String, String)]) -> String {
    tried.iter().map(|(url, reason)| format!("{url} ({reason})")).collect::<Vec<_>>().join(", ")
}
