//! The steps of a self-supervised run, each usable alone: load data, pretrain on the pretext
//! task, probe (train a head on the frozen encoder), evaluate on held-out images. One file per
//! concept: the data a run selects, the pretext phase, the downstream classifier (probe,
//! semi-supervised training, evaluation, reloading), the protocols side by side, the session a
//! process trains in and the run's random streams.

mod classify;
mod data;
mod pretrain;
mod protocols;
mod session;
mod streams;

pub use crate::eval::features::encode;
pub use classify::{Probed, evaluate, initial_encoder, load_classifier, probe, semi_supervise};
pub use data::{RunData, load_data, load_dataset, load_other_test, select};
pub use pretrain::{Pretrained, load_pretext, pretrain};
pub use protocols::{compare_protocols, knn_accuracy, train_protocol};
pub use session::Session;
