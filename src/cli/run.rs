use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::ConfigArgs;
use crate::config::RunConfig;
use crate::error::Result;
use crate::eval::methods::{Method, markdown_table};
use crate::pipeline;
use crate::report::artifacts::{RunFolder, TIMINGS};
use crate::report::timings::Timings;

/// Flags of `pretext run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Run folder for results (default: runs/<preset>-seed<seed>)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite a run folder that already holds results
    #[arg(long)]
    pub force: bool,
    /// Print only the final summary
    #[arg(long, short)]
    pub quiet: bool,
}

/// `runs/<preset>-seed<seed>` unless `--out` says otherwise.
pub fn out_dir(out: &Option<PathBuf>, config: &RunConfig) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        let preset = format!("{:?}", config.preset).to_lowercase();
        PathBuf::from("runs").join(format!("{preset}-seed{}", config.seed))
    })
}

pub fn execute(args: RunArgs) -> Result<()> {
    let mut timings = Timings::start();
    let config = args.config.resolve(None)?;
    let folder = RunFolder::create(&out_dir(&args.out, &config), args.force)?;
    let verbose = !args.quiet;
    let data = pipeline::load_data(&config, args.data.data_dir.as_deref())?;
    folder.write_config(&config)?;
    timings.lap("load_data");
    let pretrained = pipeline::pretrain(&config, &data.unlabeled, verbose)?;
    timings.lap("pretext");
    folder.write_pretext(&pretrained, &data.unlabeled)?;
    let encoder = pretrained.model.encoder;
    timings.lap("write_pretext");
    let probed = pipeline::probe(&config, encoder.clone(), &data.labelled, data.classes.len(), verbose)?;
    timings.lap("downstream");
    folder.write_downstream(&probed)?;
    let predictions = pipeline::evaluate(&probed.model, &data.test, data.classes.len(), config.data.pixels);
    folder.write_evaluation(&predictions, &data.test, data.classes)?;
    timings.lap("test");
    let methods = if config.baselines { &Method::ALL[..] } else { &[Method::of_run(config.fine_tune)][..] };
    if verbose && config.baselines {
        println!("training the baselines on the same {} labelled images...", data.labelled.len());
    }
    let results = pipeline::compare_methods(&config, methods, &encoder, Some((&probed, &predictions)), &data)?;
    folder.write_methods(&results)?;
    timings.lap("baselines");
    let features = pipeline::encode(&probed.model.encoder, &data.test, data.classes.len(), config.data.pixels);
    folder.write_embedding(&features, data.classes)?;
    crate::report::html::write_report(&folder)?;
    timings.lap("report");
    timings.write(&folder.path(TIMINGS))?;
    println!("{}", markdown_table(&results));
    let eval = predictions.evaluation();
    println!(
        "test accuracy {:.4} on {} held-out images (loss {:.4}); results in {} ({:.1}s)",
        eval.accuracy,
        predictions.len(),
        eval.loss,
        folder.path("").display(),
        timings.total()
    );
    Ok(())
}
