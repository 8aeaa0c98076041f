use crate::cli::run::RunArgs;
use crate::error::Result;
use crate::pipeline;

/// Trains the pretext model alone; takes the same flags as `run`.
pub fn execute(args: RunArgs) -> Result<()> {
    let (config, folder, session) = args.start("pretrain")?;
    let data = pipeline::load_data(&config, args.data.data_dir.as_deref())?;
    folder.write_config(&config)?;
    let pretrained = pipeline::pretrain(&config, &data, &session.phase("pretext"))?;
    folder.write_pretext(&pretrained, &config.method, &data.unlabeled)?;
    session.remove_checkpoints()?;
    println!("pretext model saved in {}", folder.path("").display());
    Ok(())
}
