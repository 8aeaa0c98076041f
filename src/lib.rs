//! # pretext
//!
//! Self-supervised learning for images on [Burn](https://burn.dev): train an encoder on a
//! pretext task that needs no labels (RotNet: which quarter turn was this image rotated by?),
//! then a small head on the few labels you have, and measure it on held-out images.
//!
//! The flow, one narrow type per arrow:
//! [`data::catalog`] (IDX files) → [`data::images::LabeledImages`] (bytes + labels) →
//! [`tasks::rotation::RotationTask`] (a [`data::source::SampleSource`]) →
//! [`data::batch`] (tensors) → [`model::encoder`] → [`train::trainer::Trainer`] →
//! [`eval`] → [`report`].
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod error;
pub mod kernels;
pub mod pipeline;

/// Reading, selecting and batching images.
pub mod data {
    pub mod augment;
    pub mod batch;
    pub mod catalog;
    pub mod idx;
    pub mod images;
    pub mod source;
}

/// Pretext tasks: self-made targets from unlabeled images.
pub mod tasks {
    pub mod rotation;
}

/// Networks, their initialisation, summaries and weight files.
pub mod model {
    pub mod encoder;
    pub mod init;
    pub mod summary;
    pub mod weights;
}

/// The training loop and what it needs.
pub mod train {
    pub mod checkpoint;
    pub mod early_stopping;
    pub mod history;
    pub mod interrupt;
    pub mod loss;
    pub mod optimizer;
    pub mod trainer;
}

/// Scoring trained models.
pub mod eval {
    pub mod confusion;
    pub mod knn;
    pub mod methods;
    pub mod pca;
    pub mod sweep;
    pub mod predict;
}

/// Figures and files a person reads.
pub mod report {
    pub mod artifacts;
    pub mod csv_file;
    pub mod html;
    pub mod plots;
    pub mod timings;
}

pub use error::{Error, Result};
