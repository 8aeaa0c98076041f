use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::ConfigArgs;
use crate::cli::run::out_dir;
use crate::error::Result;
use crate::pipeline;
use crate::report::artifacts::RunFolder;

/// Flags of `pretext pretrain`.
#[derive(Debug, Args)]
pub struct PretrainArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Run folder for the pretext model (default: runs/<preset>-seed<seed>)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite a run folder that already holds results
    #[arg(long)]
    pub force: bool,
}

pub fn execute(args: PretrainArgs) -> Result<()> {
    let config = args.config.resolve(None)?;
    let folder = RunFolder::create(&out_dir(&args.out, &config), args.force)?;
    let data = pipeline::load_data(&config, args.data.data_dir.as_deref())?;
    folder.write_config(&config)?;
    let pretrained = pipeline::pretrain(&config, &data.unlabeled, true)?;
    folder.write_pretext(&pretrained, &data.unlabeled)?;
    println!("pretext model saved in {}", folder.path("").display());
    Ok(())
}
