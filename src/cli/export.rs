use std::path::PathBuf;

use clap::Args;
use crate::cli::choice::choice;

use crate::cli::flags;
use crate::error::{Error, RunState, Result};
use crate::export::{self, Format, Part};
use crate::report::artifacts::{CLASSIFIER_WEIGHTS, RunFolder};

/// Flags of `pretext export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run folder to export from (classifier.safetensors for the classifier, pretext.safetensors
    /// for the encoder)
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// The files to write; both come with model.json (input shape, pixel scaling, class names,
    /// layers)
    #[arg(long, value_parser = choice::<Format>())]
    pub format: Format,
    /// What to export: the classifier (images to class logits) or the self-supervised encoder
    /// (images to features)
    #[arg(long, value_parser = choice::<Part>(), default_value = "classifier")]
    pub what: Part,
    /// Folder for the files (default: export-<format>-<what> in the run folder)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the files of an earlier export in the --out folder
    #[arg(long)]
    pub force: bool,
}

pub fn execute(args: ExportArgs) -> Result<()> {
    let run = RunFolder::open_finished(&args.run)?;
    let out = args.out.unwrap_or_else(|| run.path(&format!("export-{}-{}", args.format.name(), args.what.name())));
    // A run without a classifier can still export its encoder.
    let files = export::export(&run, args.format, args.what, &out, args.force).map_err(|e| match e {
        Error::RunFolder { dir, state: RunState::NoClassifier } => {
            Error::Weights { path: dir.join(CLASSIFIER_WEIGHTS), problem: format!("{}, or export the encoder with --what encoder", flags::no_classifier(&dir)) }
        }
        other => other,
    })?;
    for file in files {
        println!("{}", file.display());
    }
    Ok(())
}
