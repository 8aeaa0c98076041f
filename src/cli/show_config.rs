use clap::Args;

use crate::cli::args::ConfigArgs;
use crate::error::Result;

/// Flags of `pretext config`: the same settings flags as `run`.
#[derive(Debug, Args)]
pub struct ShowConfigArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Prints the settings a `run` with these flags would use, as the TOML that `--config` reads
/// back and a run folder keeps in config.toml; nothing is trained or written.
pub fn execute(args: ShowConfigArgs) -> Result<()> {
    print!("{}", args.config.resolve(None)?.to_toml());
    Ok(())
}
