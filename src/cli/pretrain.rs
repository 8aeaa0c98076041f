use crate::cli::run::{RunArgs, out_dir};
use crate::error::Result;
use crate::pipeline;
use crate::report::artifacts::RunFolder;

/// Trains the pretext model alone; takes the same flags as `run`.
pub fn execute(args: RunArgs) -> Result<()> {
    let config = args.config.resolve(None)?;
    let folder = RunFolder::create(&out_dir(&args.out, &config), args.force)?;
    let data = pipeline::load_data(&config, args.data.data_dir.as_deref())?;
    folder.write_config(&config)?;
    let pretrained = pipeline::pretrain(&config, &data.unlabeled, !args.quiet)?;
    folder.write_pretext(&pretrained, &data.unlabeled)?;
    println!("pretext model saved in {}", folder.path("").display());
    Ok(())
}
