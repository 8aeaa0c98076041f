use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::config::Count;
use crate::error::Result;
use crate::pipeline;
use crate::report::artifacts::{CLASSIFIER_WEIGHTS, RunFolder};

/// Flags of `pretext eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run folder holding classifier.safetensors
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Held-out test images evaluated (the first N, or `all`); default: the run's setting
    #[arg(long, value_name = "N|all")]
    pub test_size: Option<Count>,
    #[command(flatten)]
    pub data: DataDirArg,
}

pub fn execute(args: EvalArgs) -> Result<()> {
    let folder = RunFolder::open(&args.run)?;
    let mut config = folder.read_config()?;
    if let Some(n) = args.test_size {
        config.data.test_size = n;
        config.validate()?;
    }
    let data = pipeline::load_data(&mut config, args.data.data_dir.as_deref())?;
    let classes = data.num_classes();
    let model = pipeline::load_classifier(&config, data.shape(), classes, &folder.path(CLASSIFIER_WEIGHTS))?;
    let predictions = pipeline::evaluate(&model, &data.test, classes, data.pixels);
    folder.write_dataset(&data.dataset)?;
    folder.write_evaluation(&predictions, &data.test, &data.dataset.classes)?;
    crate::report::html::write_report(&folder)?;
    let eval = predictions.evaluation();
    println!("test accuracy {:.4} on {} held-out images (loss {:.4})", eval.accuracy, predictions.len(), eval.loss);
    Ok(())
}
