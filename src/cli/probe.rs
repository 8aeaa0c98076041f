use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::ConfigArgs;
use crate::error::{Error, Result};
use crate::pipeline::{self, Probed, Session};
use crate::report::artifacts::{CLASSIFIER_WEIGHTS, PRETEXT_WEIGHTS, RunFolder};
use crate::semi::SemiMethod;

/// Flags of `pretext probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Run folder holding pretext.safetensors (from `pretext pretrain` or `pretext run`);
    /// with --semi-supervised distill, also the classifier.safetensors that teaches
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Settings: the run folder's config.toml, overridden by these flags
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Trains the downstream classifier on the run's pretrained encoder (then FixMatch from it
/// with `--semi-supervised fixmatch`), or distils the run's classifier into a student on that
/// encoder (`--semi-supervised distill`).
pub fn execute(args: ProbeArgs) -> Result<()> {
    let folder = RunFolder::open(&args.run)?;
    let mut config = args.config.resolve(Some(folder.read_config()?))?;
    let teacher_path = folder.path(CLASSIFIER_WEIGHTS);
    let method = config.semi.method;
    if method == SemiMethod::Distill && !teacher_path.is_file() {
        return Err(Error::Config(format!(
            "--semi-supervised distill needs a classifier to teach, and {} has no {CLASSIFIER_WEIGHTS}; run `pretext probe --run {}` first",
            args.run.display(),
            args.run.display()
        )));
    }
    let data = pipeline::load_data(&mut config, args.data.data_dir.as_deref())?;
    let pretext = pipeline::load_pretext(&config, data.shape(), &folder.path(PRETEXT_WEIGHTS))?;
    let encoder = pretext.encoder();
    folder.write_config(&config)?;
    folder.write_dataset(&data.dataset)?;
    let session = Session::printing(true);
    let base = match method {
        SemiMethod::Distill => pipeline::load_classifier(&config, data.shape(), data.num_classes(), &teacher_path)?,
        _ => {
            let probed = pipeline::probe(&config, encoder.clone(), &data.labelled, data.num_classes(), &session)?;
            folder.write_downstream(&probed)?;
            probed.model
        }
    };
    let kept: Probed = pipeline::semi_supervise(&config, method, base, encoder, &data, &session)?;
    if method != SemiMethod::None {
        folder.write_semi(&kept, method)?;
    }
    let predictions = pipeline::evaluate(&kept.model, &data.test, data.num_classes(), data.pixels);
    folder.write_evaluation(&predictions, &data.test, &data.dataset.classes)?;
    crate::report::html::write_report(&folder)?;
    println!("test accuracy {:.4} on {} held-out images", predictions.evaluation().accuracy, predictions.len());
    Ok(())
}
