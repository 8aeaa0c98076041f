//! pretext as a library: pretrain SimCLR on 5,000 unlabeled MNIST images, train a linear head
//! on 100 labels (10 per class) on the frozen encoder, and measure it on 1,000 test images,
//! the same steps `pretext run` takes, without its run folder.
//!
//! ```sh
//! PRETEXT_DATA_DIR=../shared/data cargo run --release --example pretrain_and_probe
//! ```
//! (MNIST is read from --data-dir's places: `$PRETEXT_DATA_DIR`, the user cache,
//! /usr/share/datasets, else downloaded.)

use pretext::config::{Count, Preset, RunConfig};
use pretext::methods::MethodName;
use pretext::pipeline::{self, Session};

fn main() -> pretext::Result<()> {
    // Settings are plain data: a preset, then any field changed, as `--config` and the flags do.
    let mut config = RunConfig::preset(Preset::Default).with_method(MethodName::Simclr);
    config.data.unlabeled_size = Count::N(5_000);
    config.data.labels = Count::N(100);
    config.data.balanced_labels = true;
    config.data.test_size = Count::N(1_000);
    config.data.validation_split = 0.0;
    config.pretext.epochs = 2;
    config.fine_tune = false;
    config.downstream.early_stopping = None;
    config.validate()?;

    let data = pipeline::load_data(&mut config, None)?;
    let session = Session::new(config.device.open()?, true);
    let pretrained = pipeline::pretrain(&config, &data, &session)?;
    let encoder = pretrained.model.encoder().clone();
    let probed = pipeline::probe(&config, encoder, &data.labelled, data.num_classes(), &session)?;
    let predictions = pipeline::evaluate(&probed.model, &data.test, data.num_classes(), data.pixels);
    let eval = predictions.evaluation();
    println!("linear probe on SimCLR features: test accuracy {:.4} on {} images", eval.accuracy, predictions.len());
    Ok(())
}
