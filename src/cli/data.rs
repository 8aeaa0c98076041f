use clap::Subcommand;

use crate::cli::DataDirArg;
use crate::cli::args::FolderArgs;
use crate::data::dataset::DataSource;
use crate::data::folder::FolderOptions;
use crate::error::Result;

/// `pretext data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a data set from its public mirrors, verifying SHA-256 checksums
    Fetch {
        /// mnist, fashion-mnist or cifar10
        name: String,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Describe a data set: where it is found, image shape, counts, classes, per-channel
    /// mean/std, and whether the checksums of a downloaded one match
    Info {
        /// mnist, fashion-mnist, cifar10 or folder:PATH
        name: String,
        #[command(flatten)]
        dir: DataDirArg,
        #[command(flatten)]
        folder: FolderArgs,
    },
}

pub fn execute(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Fetch { name, dir } => {
            let source = DataSource::parse(&name)?;
            let dest = dir.data_dir.unwrap_or_else(|| source.cache_dir());
            source.fetch(&dest)?;
            println!("{name} is ready in {}", dest.display());
        }
        DataCommand::Info { name, dir, folder } => {
            let source = DataSource::parse(&name)?;
            let mut options = FolderOptions::default();
            folder.apply(&mut options);
            options.validate().map_err(crate::Error::Config)?;
            if let DataSource::Idx(spec) = &source {
                let found = spec.resolve_dir(dir.data_dir.as_deref())?;
                let checksums = match spec.verify(&found) {
                    Ok(()) => "all four match the published SHA-256".to_string(),
                    Err(e) => format!("MISMATCH: {e}"),
                };
                println!("folder:     {}\nchecksums:  {checksums}", found.display());
            }
            if let DataSource::Cifar(spec) = &source {
                println!("folder:     {}", spec.resolve_dir(dir.data_dir.as_deref())?.display());
            }
            println!("{}", source.load(&options, dir.data_dir.as_deref())?.info());
        }
    }
    Ok(())
}
