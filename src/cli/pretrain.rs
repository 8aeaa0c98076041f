use crate::cli::run::RunArgs;
use crate::error::Result;
use crate::pipeline;
use crate::report::artifacts::TIMINGS;
use crate::report::timings::Timings;

/// Trains the pretext model alone; takes the same flags as `run`.
pub fn execute(args: RunArgs) -> Result<()> {
    args.in_run_folder("pretrain", |mut config, folder, session| {
        let mut timings = Timings::start();
        let data = pipeline::load_data(&mut config, args.data_dir(folder).as_deref())?;
        folder.write_config(&config)?;
        folder.write_dataset(&data.dataset)?;
        timings.lap("load_data");
        let pretrained = pipeline::pretrain(&config, &data, &session.phase("pretext"))?;
        timings.lap("pretext");
        folder.write_pretext(&pretrained, &config.method, &data.unlabeled)?;
        timings.lap("write_pretext");
        timings.write(&folder.path(TIMINGS))?;
        session.remove_checkpoints()?;
        println!("pretext model saved in {}", folder.path("").display());
        Ok(())
    })
}
