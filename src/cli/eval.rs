use std::path::PathBuf;

use clap::Args;
use crate::report::metrics::Evaluated;

use crate::cli::DataDirArg;
use crate::cli::args::DeviceArg;
use crate::config::{Count, RunConfig};
use crate::data::registry::DataSource;
use crate::error::Result;
use crate::pipeline;
use crate::report::artifacts::{EVALUATION_PREFIX, RunFolder};

/// Flags of `pretext eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run folder holding classifier.safetensors
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Held-out test images evaluated (the first N, or `all`) (default: the run's setting;
    /// with --dataset all)
    #[arg(long, value_name = "N|all")]
    pub test_size: Option<Count>,
    /// Score the classifier on another labelled data set instead of the run's test images:
    /// `folder:PATH` (every image in its class folders, brought to the run's image shape) or a
    /// named one (its test split); its classes must be among the run's
    #[arg(long, value_name = "NAME|folder:PATH")]
    pub dataset: Option<String>,
    /// Folder for the evaluation's metrics, figures and report (default: eval-<N>, or with
    /// --dataset eval-<its name>[-<N>], in the run folder, so that the run's own results stay
    /// as they are)
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
    let out = args.out.clone().unwrap_or_else(|| run.path(&default_folder(&args, &config)));
    let folder = run.beside(&out, args.force)?;
    folder.fill(|folder| {
        let (test, dataset) = match &args.dataset {
            Some(other) => {
                // Read where --data-dir says, not where the run found its own data.
                let (test, dataset) = pipeline::load_other_test(&config, &run.read_dataset()?, other, args.data.data_dir.as_deref())?;
                dataset.warn_skipped(None);
                let n = args.test_size.map_or(Ok(test.len()), |n| n.within(test.len(), "data.test_size", "images there"))?;
                (test.head(n), dataset)
            }
            None => {
                let data = pipeline::load_data(&mut config, run.data_dir(args.data.data_dir.as_deref()).as_deref())?;
                data.dataset.warn_skipped(run.read_dataset().ok().as_ref());
                (data.test, data.dataset)
            }
        };
        let classes = dataset.classes.len();
        let model = pipeline::load_classifier(&config, dataset.shape, classes, &weights, &device)?;
        let predictions = pipeline::evaluate(&model, &test, classes, config.data.pixel_map()?);
        folder.write_dataset(&dataset)?;
        let classifier = std::path::absolute(&weights).unwrap_or(weights.clone());
        folder.update_metrics(|m| m.evaluated = Some(Evaluated { classifier }))?;
        folder.write_evaluation(&predictions, &test, &dataset.classes)?;
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

/// `eval-<N>`, or for another data set `eval-<its name>` (a folder's last component), with
/// `-<N>` when --test-size is given.
fn default_folder(args: &EvalArgs, config: &RunConfig) -> String {
    let Some(other) = &args.dataset else { return format!("{EVALUATION_PREFIX}{}", config.data.test_size) };
    let name = match DataSource::parse(other) {
        Ok(DataSource::Folder(root)) => root.file_name().map_or_else(|| "folder".into(), |n| n.to_string_lossy().into_owned()),
        _ => other.clone(),
    };
    match args.test_size {
        Some(n) => format!("{EVALUATION_PREFIX}{name}-{n}"),
        None => format!("{EVALUATION_PREFIX}{name}"),
    }
}
