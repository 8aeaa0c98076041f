use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::{ClassifierArgs, DeviceArg};
use crate::error::{Error, Result};
use crate::experiment::Experiment;
use crate::pipeline::{self, Session};
use crate::train::live_log::RunLogs;
use crate::config::RunConfig;
use crate::report::artifacts::{CLASSIFIER_WEIGHTS, PRETEXT_WEIGHTS, RunFolder};
use crate::semi::SemiMethod;

/// Flags of `pretext probe`.
#[derive(Debug, Args)]
#[command(after_help = "A setting flag left out keeps the run's own value (its config.toml), not the default quoted above.")]
pub struct ProbeArgs {
    /// Run folder holding pretext.safetensors (from `pretext pretrain` or `pretext run`);
    /// with --semi-supervised distill, also the classifier.safetensors that teaches
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Folder for the new classifier, a copy of the run's encoder and their results (default:
    /// the run folder itself, when it has no classifier yet)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the classifier (and every result of it) in the --out folder, or in the run
    /// folder without --out
    #[arg(long)]
    pub force: bool,
    /// Settings: the run folder's config.toml, overridden by these flags (the encoder's own
    /// settings are fixed by its weights)
    #[command(flatten)]
    pub config: ClassifierArgs,
    #[command(flatten)]
    pub device: DeviceArg,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Trains the downstream classifier on the run's pretrained encoder (then FixMatch from it
/// with `--semi-supervised fixmatch`), or distils the run's classifier into a student on that
/// encoder (`--semi-supervised distill`).
pub fn execute(args: ProbeArgs) -> Result<()> {
    let run = RunFolder::open_finished(&args.run)?;
    let mut config = args.config.resolve(run.read_config()?)?;
    args.device.apply(&mut config);
    if config.semi.method == SemiMethod::Distill && !run.path(CLASSIFIER_WEIGHTS).is_file() {
        return Err(Error::Config(format!(
            "--semi-supervised distill needs a classifier to teach, and {} has no {CLASSIFIER_WEIGHTS}; run `pretext probe --run {}` first",
            args.run.display(),
            args.run.display()
        )));
    }
    let session = Session::new(config.device.open()?, true);
    let folder = output_folder(&args, &run)?;
    folder.fill(|folder| train(&args, config, &run, folder, &session))
}

/// Trains the classifier in `folder` and writes its results there.
fn train(args: &ProbeArgs, config: RunConfig, run: &RunFolder, folder: &RunFolder, session: &Session) -> Result<()> {
    let session = &Session { logs: Some(RunLogs { dir: folder.dir().to_path_buf(), tensorboard: None }), ..session.clone() };
    let mut experiment = Experiment::new(config, session, Some(folder));
    let data = experiment.load_data(run.data_dir(args.data.data_dir.as_deref()).as_deref(), run.read_dataset().ok().as_ref())?;
    let config = &experiment.config;
    let inference = session.device.clone().without_autodiff();
    let pretext = pipeline::load_pretext(config, data.shape(), &run.path(PRETEXT_WEIGHTS), &inference)?;
    let encoder = pretext.encoder();
    // The teacher is read before its file may be replaced (`--force` without `--out`).
    let teacher = match config.semi.method {
        SemiMethod::Distill => Some(pipeline::load_classifier(config, data.shape(), data.num_classes(), &run.path(CLASSIFIER_WEIGHTS), &inference)?),
        _ => None,
    };
    folder.clear_classifier()?;
    if folder.dir() != run.dir() {
        pretext.save(&folder.path(PRETEXT_WEIGHTS))?;
    }
    experiment.record(&data)?;
    let base = match teacher {
        Some(teacher) => teacher,
        None => experiment.downstream(encoder.clone(), &data)?.model,
    };
    let kept = match experiment.semi_supervise(base.clone(), encoder, &data)? {
        Some(semi) => semi.model,
        None => base,
    };
    let predictions = experiment.test(&kept, &data)?;
    experiment.finish()?;
    println!(
        "test accuracy {:.4} on {} held-out images; classifier in {}",
        predictions.evaluation().accuracy,
        predictions.len(),
        folder.path(CLASSIFIER_WEIGHTS).display()
    );
    Ok(())
}

/// `--out` (a new folder), or the run folder when it has no classifier to lose (or `--force`).
fn output_folder(args: &ProbeArgs, run: &RunFolder) -> Result<RunFolder> {
    match &args.out {
        Some(out) => run.beside(out, args.force),
        None if run.path(CLASSIFIER_WEIGHTS).is_file() && !args.force => Err(Error::Config(format!(
            "{} already holds a classifier ({CLASSIFIER_WEIGHTS}); pass --out DIR to train this one in a new folder, or --force to replace it and its results",
            args.run.display()
        ))),
        None => Ok(run.clone()),
    }
}
