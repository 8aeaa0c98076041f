use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::{ConfigArgs, DeviceArg};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::eval::protocols::markdown_table;
use crate::experiment::{Comparison, Experiment};
use crate::pipeline::{Pretrained, RunData, Session};
use crate::data::registry::DataSource;
use crate::semi::SemiMethod;
use crate::report::artifacts::{CHECKPOINTS, CONFIG, RunFolder, TENSORBOARD};
use crate::train::checkpoint::Checkpoints;
use crate::train::interrupt;
use crate::train::live_log::RunLogs;

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
    /// Also write each epoch's curves as TensorBoard event files, in DIR/tensorboard/<phase>/,
    /// while the run trains (`tensorboard --logdir runs`)
    #[arg(long)]
    pub tensorboard: bool,
    /// Print only the final summary
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// Runs `body` on the settings, run folder and session of a new run or, with `--resume`,
    /// of the interrupted one; Ctrl-C is caught from here on. A new folder that `body` leaves
    /// empty (it failed before writing anything) is removed. `command` names the subcommand in
    /// the hints on how to continue.
    pub fn in_run_folder(&self, command: &str, body: impl FnOnce(RunConfig, &RunFolder, &Session) -> Result<()>) -> Result<()> {
        let (config, folder) = match &self.resume {
            Some(dir) => self.reopen(dir, command)?,
            None => {
                let config = self.config.resolve(None)?;
                let dir = out_dir(&self.out, &config);
                if dir.join(CONFIG).is_file() && !RunFolder::open(&dir)?.finished() && !self.force {
                    return Err(Error::Config(format!(
                        "{} holds a run that did not finish; continue it with `pretext {command} --resume {}`, or pass --force to start it over",
                        dir.display(),
                        dir.display()
                    )));
                }
                (config, RunFolder::create(&dir, self.force)?)
            }
        };
        let resume_command = format!("pretext {command} --resume {}", folder.dir().display());
        let checkpoints = Checkpoints::new(folder.path(CHECKPOINTS), self.checkpoint_every, resume_command);
        if self.resume.is_none() {
            checkpoints.remove()?; // left by a run this one overwrites (--force)
        }
        interrupt::catch_ctrl_c();
        folder.fill(|folder| {
            let logs = RunLogs { dir: folder.dir().to_path_buf(), tensorboard: self.tensorboard.then(|| folder.path(TENSORBOARD)) };
            let session = Session { device: config.device.open()?, verbose: !self.quiet, checkpoints: Some(checkpoints), logs: Some(logs) };
            body(config, folder, &session)
        })
    }

    /// The settings and folder of the run in `dir` that did not finish.
    fn reopen(&self, dir: &Path, command: &str) -> Result<(RunConfig, RunFolder)> {
        if (ConfigArgs { device: DeviceArg::default(), ..self.config.clone() }) != ConfigArgs::default() {
            return Err(Error::Config(format!(
                "--resume continues with the settings in {}; drop the other settings flags (--device may change)",
                dir.join(CONFIG).display()
            )));
        }
        let folder = RunFolder::open(dir)?;
        if folder.finished() {
            return Err(Error::Config(format!(
                "{} holds a finished run (its results are there): nothing to resume; start another with `pretext {command} --out DIR`",
                dir.display()
            )));
        }
        let mut config = folder.read_config()?;
        self.config.device.apply(&mut config);
        Ok((config, folder))
    }

    /// The steps `run` and `pretrain` share: the data (the settings and the data set recorded
    /// in the folder), then the pretext phase, its results written.
    pub fn pretrain(&self, experiment: &mut Experiment, folder: &RunFolder) -> Result<(RunData, Pretrained)> {
        // A resumed run warned when it first read the data.
        let recorded = self.resume.as_ref().and_then(|_| folder.read_dataset().ok());
        let data = experiment.load_data(self.data_dir(folder).as_deref(), recorded.as_ref())?;
        experiment.record(&data)?;
        let pretrained = experiment.pretrain(&data)?;
        Ok((data, pretrained))
    }

    /// Where to read the data set: `--data-dir`, else, when resuming, where the run read it.
    pub fn data_dir(&self, folder: &RunFolder) -> Option<PathBuf> {
        match self.resume {
            Some(_) => folder.data_dir(self.data.data_dir.as_deref()),
            None => self.data.data_dir.clone(),
        }
    }
}

/// `runs/<preset>-<data set>-<method>[-<semi-supervised way>]-seed<seed>` unless `--out` says
/// otherwise, so that runs of other data sets, methods or seeds do not meet.
pub fn out_dir(out: &Option<PathBuf>, config: &RunConfig) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        let preset = format!("{:?}", config.preset).to_lowercase();
        let dataset = match DataSource::parse(&config.data.dataset) {
            Ok(DataSource::Folder(root)) => root.file_name().map_or_else(|| "folder".into(), |n| n.to_string_lossy().into_owned()),
            _ => config.data.dataset.clone(),
        };
        let semi = match config.semi.method {
            SemiMethod::None => String::new(),
            method => format!("-{method}"),
        };
        PathBuf::from("runs").join(format!("{preset}-{dataset}-{}{semi}-seed{}", config.method.name(), config.seed))
    })
}

pub fn execute(args: RunArgs) -> Result<()> {
    args.in_run_folder("run", |config, folder, session| run(&args, config, folder, session))
}

/// The whole pipeline in `folder`.
fn run(args: &RunArgs, config: RunConfig, folder: &RunFolder, session: &Session) -> Result<()> {
    let mut experiment = Experiment::new(config, session, Some(folder));
    let (data, pretrained) = args.pretrain(&mut experiment, folder)?;
    let encoder = pretrained.model.encoder().clone();
    let probed = experiment.downstream(encoder.clone(), &data)?;
    let semi = experiment.semi_supervise(probed.model.clone(), &encoder, &data)?;
    let kept = semi.as_ref().unwrap_or(&probed);
    let predictions = experiment.test(&kept.model, &data)?;
    let Comparison { results, payoff } = experiment.compare(&pretrained, (&probed, semi.as_ref()), &predictions, &data)?;
    let seconds = experiment.finish()?;
    println!("{}", markdown_table(&results));
    let eval = predictions.evaluation();
    println!(
        "test accuracy {:.4} on {} held-out images (loss {:.4}); results in {} ({seconds:.1}s)",
        eval.accuracy,
        predictions.len(),
        eval.loss,
        folder.path("").display(),
    );
    // Last, where nobody misses it.
    for line in payoff.console_lines() {
        eprintln!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn default_run_folders_name_the_preset_data_set_method_and_seed() {
        let mut config = RunConfig::preset(Preset::Seed);
        assert_eq!(out_dir(&None, &config), Path::new("runs/seed-mnist-rotation-seed0"));
        config.data.dataset = "fashion-mnist".into();
        config.seed = 2;
        config.semi.method = SemiMethod::Fixmatch;
        assert_eq!(out_dir(&None, &config), Path::new("runs/seed-fashion-mnist-rotation-fixmatch-seed2"));
        config.data.dataset = "folder:/data/photos".into();
        assert_eq!(out_dir(&None, &RunConfig::preset(Preset::Default).with_method(crate::methods::MethodName::Simclr)), Path::new("runs/default-mnist-simclr-seed0"));
        assert_eq!(out_dir(&None, &config), Path::new("runs/seed-photos-rotation-fixmatch-seed2"));
        assert_eq!(out_dir(&Some("mine".into()), &config), Path::new("mine"));
    }
}
