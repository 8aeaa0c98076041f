//! # pretext
//!
//! Self-supervised learning for images on [Burn](https://burn.dev): train an encoder without
//! labels (rotation prediction, SimCLR, BYOL, VICReg, Barlow Twins), then a small head on the
//! few labels you have, and measure it on held-out images beside honest baselines.
//!
//! The flow, one narrow type per arrow:
//! [`data::registry`] (IDX files, CIFAR batches, image folders) → [`data::images::LabeledImages`]
//! (bytes + labels, one [`data::images::ImageShape`]) →
//! [`transforms`] (augmented views) and [`data::batch`] (tensors) → [`methods`] (encoder,
//! heads, loss) → [`train::trainer::Trainer`] (then, optionally, [`semi`]-supervised training) → [`eval`] → [`report`].
#![warn(missing_docs)]

/// The command line that the `pretext` binary runs: flags, their wording and exit codes. Not
/// the library's API (hidden from its documentation); a Rust user calls [`pipeline`] and
/// [`config`] instead.
#[doc(hidden)]
pub mod cli;
pub mod config;
pub mod device;
pub mod error;
pub mod experiment;
pub mod export;
pub mod files;
pub(crate) mod kernels;
pub mod pipeline;
pub mod settings;
pub mod wording;

/// Reading, selecting and batching images.
pub mod data {
    pub mod batch;
    pub mod catalog;
    pub mod cifar;
    pub mod dataset;
    pub mod download;
    pub mod folder;
    pub mod idx;
    pub mod images;
    pub mod registry;
    pub mod source;
}

pub mod methods;
pub mod semi;
pub mod transforms;

/// Networks, their initialisation, summaries and weight files.
pub mod model {
    pub mod classifier;
    pub mod encoders;
    pub mod heads;
    pub mod init;
    pub mod network;
    pub mod norms;
    pub mod ops;
    pub mod summary;
    pub mod weights;
}

/// The training loop and what it needs.
pub mod train {
    pub mod checkpoint;
    pub mod early_stopping;
    pub mod history;
    pub mod interrupt;
    pub mod live_log;
    pub mod memory;
    pub mod optimizer;
    pub mod progress;
    pub mod step;
    pub mod tensorboard;
    pub mod trainer;
}

/// Scoring trained models.
pub mod eval {
    pub mod confusion;
    pub mod features;
    pub mod knn;
    pub mod monitor;
    pub mod payoff;
    pub mod pca;
    pub mod predict;
    pub mod protocols;
    pub mod sweep;
}

/// Figures and files a person reads.
pub mod report {
    pub mod artifacts;
    pub mod csv_file;
    pub mod html;
    pub mod metrics;
    pub mod plots;
    pub mod provenance;
    pub mod timings;
}

pub use error::{Error, Result};
