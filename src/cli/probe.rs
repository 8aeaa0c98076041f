use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::ConfigArgs;
use crate::error::Result;
use crate::pipeline;
use crate::report::artifacts::{PRETEXT_WEIGHTS, RunFolder};

/// Flags of `pretext probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Run folder holding pretext.safetensors (from `pretext pretrain` or `pretext run`)
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Settings: the run folder's config.toml, overridden by these flags
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataDirArg,
}

pub fn execute(args: ProbeArgs) -> Result<()> {
    let folder = RunFolder::open(&args.run)?;
    let mut config = args.config.resolve(Some(folder.read_config()?))?;
    let data = pipeline::load_data(&mut config, args.data.data_dir.as_deref())?;
    let pretext = pipeline::load_pretext(&config, data.shape(), &folder.path(PRETEXT_WEIGHTS))?;
    folder.write_config(&config)?;
    folder.write_dataset(&data.dataset)?;
    let probed = pipeline::probe(&config, pretext.encoder().clone(), &data.labelled, data.num_classes(), &pipeline::Session::printing(true))?;
    folder.write_downstream(&probed)?;
    let predictions = pipeline::evaluate(&probed.model, &data.test, data.num_classes(), data.pixels);
    folder.write_evaluation(&predictions, &data.test, &data.dataset.classes)?;
    crate::report::html::write_report(&folder)?;
    println!("test accuracy {:.4} on {} held-out images", predictions.evaluation().accuracy, predictions.len());
    Ok(())
}
