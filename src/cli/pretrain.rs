use crate::cli::run::RunArgs;
use crate::error::Result;
use crate::pipeline;

/// Trains the pretext model alone; takes the same flags as `run`.
pub fn execute(args: RunArgs) -> Result<()> {
    let (mut config, folder, session) = args.start("pretrain")?;
    let data = pipeline::load_data(&mut config, args.data.data_dir.as_deref())?;
    folder.write_config(&config)?;
    folder.write_dataset(&data.dataset)?;
    let pretrained = pipeline::pretrain(&config, &data, &session.phase("pretext"))?;
    folder.write_pretext(&pretrained, &config.method, &data.unlabeled)?;
    session.remove_checkpoints()?;
    println!("pretext model saved in {}", folder.path("").display());
    Ok(())
}
