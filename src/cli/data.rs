use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::DataDirArg;
use crate::cli::args::FolderArgs;
use crate::data::registry::DataSource;
use crate::data::folder::{self, FolderOptions};
use crate::error::{Error, Result};

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
    /// Write a data set's images as PNG class folders (OUT/<class>/<index>.png), the layout
    /// `--dataset folder:OUT` reads: to see it, or to start your own from it
    Export {
        /// mnist, fashion-mnist or cifar10
        name: String,
        /// Folder to create; it must not exist yet
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Which half: train or test
        #[arg(long, value_enum, default_value_t = Split::Test)]
        split: Split,
        /// The first N images of that half
        #[arg(long, value_name = "N", default_value_t = 1000)]
        count: usize,
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

/// A half of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

pub fn execute(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Fetch { name, dir } => {
            let source = DataSource::parse(&name)?;
            let dest = dir.data_dir.unwrap_or_else(|| source.cache_dir());
            source.fetch(&dest)?;
            println!("{name} is ready in {}", dest.display());
        }
        DataCommand::Export { name, out, split, count, dir } => {
            if out.exists() {
                return Err(Error::Config(format!("{} already exists; choose a new --out", out.display())));
            }
            let dataset = DataSource::parse(&name)?.load(&FolderOptions::default(), dir.data_dir.as_deref())?;
            dataset.info().warn_skipped(None);
            let images = match split {
                Split::Train => &dataset.train,
                Split::Test => &dataset.test,
            };
            folder::export(&images.head(count), &dataset.classes, &out)?;
            println!("{} {name} images written to {}/<class>/", count.min(images.len()), out.display());
        }
        DataCommand::Info { name, dir, folder } => {
            let source = DataSource::parse(&name)?;
            let mut options = FolderOptions::default();
            folder.apply(&mut options);
            options.validate().map_err(|e| e.within("data.folder"))?;
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
