use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::cli::DataDirArg;
use crate::cli::args::DeviceArg;
use crate::config::Count;
use crate::error::Result;
use crate::pipeline;
use crate::report::artifacts::{EVALUATION_PREFIX, RunFolder};

/// Flags of `pretext eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run folder holding classifier.safetensors
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Held-out test images evaluated (the first N, or `all`) (default: the run's setting)
    #[arg(long, value_name = "N|all")]
    pub test_size: Option<Count>,
    /// Folder for the evaluation's metrics, figures and report (default: eval-<N> in the run
    /// folder, so that the run's own results stay as they are)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite an earlier evaluation in the --out folder
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub device: DeviceArg,
    #[command(flatten)]
    pub data: DataDirArg,
}

pub fn execute(args: EvalArgs) -> Result<()> {
    let run = RunFolder::open_finished(&args.run)?;
    let weights = run.classifier_weights()?;
    let mut config = run.read_config()?;
    if let Some(n) = args.test_size {
        config.data.test_size = n;
        config.validate()?;
    }
    args.device.apply(&mut config);
    let device = config.device.open()?.without_autodiff();
    let out = args.out.clone().unwrap_or_else(|| run.path(&format!("{EVALUATION_PREFIX}{}", config.data.test_size)));
    let folder = run.beside(&out, args.force)?;
    folder.fill(|folder| {
        let data = pipeline::load_data(&mut config, run.data_dir(args.data.data_dir.as_deref()).as_deref())?;
        data.dataset.warn_skipped(run.read_dataset().ok().as_ref());
        let classes = data.num_classes();
        let model = pipeline::load_classifier(&config, data.shape(), classes, &weights, &device)?;
        let predictions = pipeline::evaluate(&model, &data.test, classes, data.pixels);
        folder.write_dataset(&data.dataset)?;
        folder.set_metrics("evaluated", json!({"classifier": std::path::absolute(&weights).unwrap_or(weights.clone())}))?;
        folder.write_evaluation(&predictions, &data.test, &data.dataset.classes)?;
        crate::report::html::write_report(folder)?;
        let eval = predictions.evaluation();
        println!(
            "test accuracy {:.4} on {} held-out images (loss {:.4}); results in {}",
            eval.accuracy,
            predictions.len(),
            eval.loss,
            folder.dir().display()
        );
        Ok(())
    })
}
