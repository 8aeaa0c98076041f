use clap::Subcommand;

use crate::cli::DataDirArg;
use crate::data::catalog;
use crate::error::Result;

/// `pretext data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a data set from its public mirrors, verifying SHA-256 checksums
    Fetch {
        /// Catalog name: mnist or fashion-mnist
        name: String,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Show where a data set is found, its sizes and whether its checksums match
    Info {
        /// Catalog name: mnist or fashion-mnist
        name: String,
        #[command(flatten)]
        dir: DataDirArg,
    },
}

pub fn execute(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Fetch { name, dir } => {
            let spec = catalog::spec(&name)?;
            let dest = dir.data_dir.unwrap_or_else(|| spec.cache_dir());
            spec.fetch(&dest)?;
            println!("{name} is ready in {}", dest.display());
        }
        DataCommand::Info { name, dir } => {
            let spec = catalog::spec(&name)?;
            let found = spec.resolve_dir(dir.data_dir.as_deref())?;
            let data = spec.load(&found)?;
            let checksums = match spec.verify(&found) {
                Ok(()) => "all four match the published SHA-256".to_string(),
                Err(e) => format!("MISMATCH: {e}"),
            };
            println!("data set:   {name}");
            println!("folder:     {}", found.display());
            println!("train:      {} images of {}x{}", data.train.len(), data.train.height(), data.train.width());
            println!("test:       {} images", data.test.len());
            println!("classes:    {}", data.classes.join(", "));
            println!("checksums:  {checksums}");
        }
    }
    Ok(())
}
