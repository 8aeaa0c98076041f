use crate::cli::run::RunArgs;
use crate::error::Result;
use crate::experiment::Experiment;

/// Trains the pretext model alone; takes the same flags as `run`.
pub fn execute(args: RunArgs) -> Result<()> {
    args.in_run_folder("pretrain", |config, folder, session| {
        let mut experiment = Experiment::new(config, session, Some(folder));
        args.pretrain(&mut experiment, folder)?;
        experiment.finish()?;
        println!("pretext model saved in {}", folder.path("").display());
        Ok(())
    })
}
