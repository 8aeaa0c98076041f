use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::ConfigArgs;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::eval::protocols::{Protocol, markdown_table};
use crate::pipeline::{self, Session};
use crate::semi::SemiMethod;
use crate::report::artifacts::{CHECKPOINTS, CONFIG, RunFolder, TIMINGS};
use crate::report::timings::Timings;
use crate::train::checkpoint::Checkpoints;
use crate::train::interrupt;

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
    /// Continue the run in DIR from its checkpoints (after Ctrl-C, a kill or a crash), with
    /// the settings in DIR/config.toml; ends with the metrics of an uninterrupted run
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "force"])]
    pub resume: Option<PathBuf>,
    /// Save a checkpoint every N epochs (0: only on Ctrl-C and at the end of each phase)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub checkpoint_every: usize,
    /// Print only the final summary
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// The settings, run folder and session of a new run or, with `--resume`, of the
    /// interrupted one; Ctrl-C is caught from here on. `command` names the subcommand in the
    /// hint on how to continue.
    pub fn start(&self, command: &str) -> Result<(RunConfig, RunFolder, Session)> {
        let (config, folder) = match &self.resume {
            Some(dir) => {
                if self.config != ConfigArgs::default() {
                    return Err(Error::Config(format!(
                        "--resume continues with the settings in {}; drop the other settings flags",
                        dir.join(CONFIG).display()
                    )));
                }
                let folder = RunFolder::open(dir)?;
                if !folder.path(CHECKPOINTS).is_dir() {
                    return Err(Error::Config(format!(
                        "{} has no {CHECKPOINTS} folder to resume from: the run finished (its results are there) or is not one of `pretext {command}`",
                        dir.display()
                    )));
                }
                (folder.read_config()?, folder)
            }
            None => {
                let config = self.config.resolve(None)?;
                let folder = RunFolder::create(&out_dir(&self.out, &config), self.force)?;
                (config, folder)
            }
        };
        let resume_command = format!("pretext {command} --resume {}", folder.dir().display());
        let checkpoints = Checkpoints::new(folder.path(CHECKPOINTS), self.checkpoint_every, resume_command);
        if self.resume.is_none() {
            checkpoints.remove()?; // left by a run this one overwrites (--force)
        }
        std::fs::create_dir_all(checkpoints.dir()).map_err(|e| Error::io(checkpoints.dir(), e))?;
        interrupt::catch_ctrl_c();
        Ok((config, folder, Session { verbose: !self.quiet, checkpoints: Some(checkpoints) }))
    }
}

/// `runs/<preset>-seed<seed>` (`runs/<preset>-<method>-seed<seed>` for a method other than
/// the preset's own) unless `--out` says otherwise.
pub fn out_dir(out: &Option<PathBuf>, config: &RunConfig) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        let preset = format!("{:?}", config.preset).to_lowercase();
        let method = config.method.name();
        let method = if method == RunConfig::preset(config.preset).method.name() { String::new() } else { format!("-{method}") };
        PathBuf::from("runs").join(format!("{preset}{method}-seed{}", config.seed))
    })
}

pub fn execute(args: RunArgs) -> Result<()> {
    let mut timings = Timings::start();
    let (mut config, folder, session) = args.start("run")?;
    let data = pipeline::load_data(&mut config, args.data.data_dir.as_deref())?;
    folder.write_config(&config)?;
    folder.write_dataset(&data.dataset)?;
    timings.lap("load_data");
    let pretrained = pipeline::pretrain(&config, &data, &session.phase("pretext"))?;
    timings.lap("pretext");
    folder.write_pretext(&pretrained, &config.method, &data.unlabeled)?;
    let encoder = pretrained.model.encoder().clone();
    timings.lap("write_pretext");
    let own = Protocol::of_run(config.fine_tune);
    let probed = pipeline::probe(&config, encoder.clone(), &data.labelled, data.num_classes(), &session.phase(own.id()))?;
    timings.lap("downstream");
    folder.write_downstream(&probed)?;
    let semi_method = config.semi.method;
    let semi_own = Protocol::of_semi_run(config.fine_tune, semi_method);
    let semi = match semi_method {
        SemiMethod::None => None,
        method => {
            let semi = pipeline::semi_supervise(&config, method, probed.model.clone(), &encoder, &data, &session.phase(semi_own.id()))?;
            timings.lap("semi");
            folder.write_semi(&semi, method)?;
            Some(semi)
        }
    };
    let kept = semi.as_ref().unwrap_or(&probed);
    let predictions = pipeline::evaluate(&kept.model, &data.test, data.num_classes(), data.pixels);
    folder.write_evaluation(&predictions, &data.test, &data.dataset.classes)?;
    timings.lap("test");
    // The downstream classifier is a row of the table too when the semi-supervised one is kept.
    let base_predictions = semi.as_ref().map(|_| pipeline::evaluate(&probed.model, &data.test, data.num_classes(), data.pixels));
    let known = match (&semi, &base_predictions) {
        (Some(semi), Some(base)) => vec![(own, &probed, base), (semi_own, semi, &predictions)],
        _ => vec![(own, &probed, &predictions)],
    };
    let protocols: Vec<Protocol> = if config.baselines {
        Protocol::ALL.iter().chain(Protocol::semi_supervised(semi_method)).copied().collect()
    } else {
        known.iter().map(|&(protocol, ..)| protocol).collect()
    };
    if session.verbose && config.baselines {
        println!("training the baselines on the same {} labelled images...", data.labelled.len());
    }
    let results = pipeline::compare_protocols(&config, &protocols, &encoder, &known, &data, &session)?;
    folder.write_protocols(&results)?;
    timings.lap("baselines");
    let features = pipeline::encode(&kept.model.encoder, &data.test, data.num_classes(), data.pixels);
    folder.write_embedding(&features, &data.dataset.classes)?;
    crate::report::html::write_report(&folder)?;
    timings.lap("report");
    timings.write(&folder.path(TIMINGS))?;
    session.remove_checkpoints()?;
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
