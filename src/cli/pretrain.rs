use crate::cli::run::RunArgs;
use crate::error::Result;
use crate::report::artifacts::TIMINGS;
use crate::report::timings::Timings;

/// Trains the pretext model alone; takes the same flags as `run`.
pub fn execute(args: RunArgs) -> Result<()> {
    args.in_run_folder("pretrain", |mut config, folder, session| {
        let mut timings = Timings::start();
        args.pretrain(&mut config, folder, session, &mut timings)?;
        timings.write(&folder.path(TIMINGS))?;
        session.remove_checkpoints()?;
        println!("pretext model saved in {}", folder.path("").display());
        Ok(())
    })
}
