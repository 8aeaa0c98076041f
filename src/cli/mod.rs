//! The command line: one module per subcommand, all calling the library.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::Result;

pub mod args;
mod choice;
mod data;
mod encoders;
pub mod exit;
pub mod flags;
mod eval;
mod export;
mod methods;
mod predict;
mod pretrain;
mod probe;
mod run;
mod show_config;
mod summary;
mod sweep;

/// Self-supervised learning for images: pretrain an encoder without labels (rotation
/// prediction, SimCLR, BYOL, VICReg, Barlow Twins), train a classifier head on a few labels,
/// and evaluate it on held-out test images beside baselines.
#[derive(Debug, Parser)]
#[command(name = "pretext", version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("PRETEXT_COMMIT"), ")"), after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "Examples:
  pretext run                        tuned recipe, MNIST, results in runs/default-mnist-vicreg-seed0
  pretext run --preset seed          the teaching notebook, reproduced exactly
  pretext run --method simclr --unlabeled all --labels 100 --balanced-labels true
  pretext run --dataset fashion-mnist  another data set (also cifar10)
  pretext run --dataset folder:photos --image-size 32
                                     your own images: photos/<class>/*.png|jpg, all of them
  pretext run --encoder resnet --resnet-width 16 --resnet-blocks 1,1,1
                                     a small ResNet (the default width and blocks make
                                     ResNet-18: hours per epoch on a CPU)
  pretext run --device vulkan        on a GPU (a build with --features vulkan; see README)
  pretext data export fashion-mnist --count 500 --out clothes
                                     writes a folder in that layout, to start from
  pretext methods                    the self-supervised methods, one line each
  pretext config --method simclr     the settings a run with these flags would use, as TOML
  pretext run --seed 1 --test-size all --out runs/s1
  pretext run --resume runs/s1       continue after Ctrl-C or a crash, from the checkpoints
  pretext pretrain --out runs/enc && pretext probe --run runs/enc --labels 100
                                     pretrain once, then train classifiers on the encoder
  pretext eval --run runs/s1 --test-size 500
                                     evaluate again; results in runs/s1/eval-500
  pretext data fetch mnist           download MNIST (checksums verified)
  pretext predict --run runs/default-mnist-vicreg-seed0 digit.png
  pretext export --run runs/default-mnist-vicreg-seed0 --format onnx
                                     the classifier as model.onnx + model.json (also --format torch)

Exit codes: 0 ok, 2 bad flags or config, 3 missing or malformed data, 4 download or
checksum failure, 5 training diverged, 6 unusable weights, checkpoint or image, 7 I/O failure,
8 the device ran out of memory, 130 stopped by Ctrl-C (checkpoint saved; continue with --resume).";

/// Where the data set lives (shared by the commands that read data).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataDirArg {
    /// Folder with the data set's files (else $PRETEXT_DATA_DIR, the user cache, /usr/share/datasets)
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Whole pipeline: data, pretext training, downstream classifier and baselines, test evaluation, figures, report
    Run(run::RunArgs),
    /// Train only the pretext model and save it in a run folder
    Pretrain(run::RunArgs),
    /// Train the downstream classifier on a run folder's pretext encoder (frozen or fine-tuned)
    Probe(probe::ProbeArgs),
    /// Evaluate a run folder's classifier on held-out test images
    Eval(eval::EvalArgs),
    /// Classify PNG or JPEG images with a run folder's classifier
    Predict(predict::PredictArgs),
    /// Write a run folder's classifier or encoder as ONNX, or as PyTorch weights and model.py
    Export(export::ExportArgs),
    /// Download or inspect a data set
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Label-efficiency sweep: every method at several label budgets and seeds
    Sweep(sweep::SweepArgs),
    /// Print the resolved settings (preset, --config file and flags) as TOML, without running
    Config(show_config::ShowConfigArgs),
    /// Print the Keras-style summaries of the pretext and downstream models
    Summary(summary::SummaryArgs),
    /// List the self-supervised methods
    Methods(methods::MethodsArgs),
    /// List the encoders
    Encoders(encoders::EncodersArgs),
}

/// The training phases whose settings are flags named `--<phase>-<setting>`.
const PHASES: [&str; 3] = ["pretext", "downstream", "semi"];

/// An unknown flag that names a training setting without its phase (`--lr`, `--epochs`)
/// gets a tip naming the phase flags of the subcommand (`--pretext-lr`, `--downstream-lr`),
/// instead of clap's nearest spelling (`--lr` is nearest to `--blur-sigma`). Other errors stay.
fn with_phase_flag_tip(command: &clap::Command, error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg).filter(|_| error.kind() == ErrorKind::UnknownArgument) else {
        return error;
    };
    let setting = flag.trim_start_matches('-').split('=').next().unwrap_or_default();
    let setting = if setting == "learning-rate" { "lr" } else { setting };
    // `args_os`: `args` panics on an argument that is not UTF-8.
    let subcommand = std::env::args_os().nth(1).and_then(|name| command.find_subcommand(name));
    let phase_flags: Vec<String> = subcommand
        .into_iter()
        .flat_map(clap::Command::get_arguments)
        .filter_map(clap::Arg::get_long)
        .filter(|long| long.split_once('-').is_some_and(|(phase, rest)| rest == setting && PHASES.contains(&phase)))
        .map(|long| format!("--{long}"))
        .collect();
    if phase_flags.is_empty() {
        return error;
    }
    let message = format!("unexpected argument '{flag}' found\n\n  tip: each training phase has its own: {}\n", phase_flags.join(", "));
    clap::Error::raw(ErrorKind::UnknownArgument, message).with_cmd(subcommand.unwrap_or(command))
}

impl Cli {
    /// Parses the process's arguments; on a parse error prints it with the usage and exits 2.
    pub fn from_env() -> Self {
        let mut command = allow_negative_values(Cli::command());
        // `--version` also names the machine and the SIMD level each kernel runs at on it. Only
        // then: finding those (and starting rayon's threads to count them) is no work for every
        // command's start. clap keeps the text for the process, which leaking it costs.
        if std::env::args_os().skip(1).any(|arg| arg == "--version") {
            let version = format!("{} (commit {})\n{}", env!("CARGO_PKG_VERSION"), env!("PRETEXT_COMMIT"), crate::report::provenance::machine());
            command = command.long_version(version.leak() as &str);
        }
        let matches = command.try_get_matches_from_mut(std::env::args_os()).unwrap_or_else(|e| with_phase_flag_tip(&command, e).exit());
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// Runs the chosen subcommand.
    pub fn execute(self) -> Result<()> {
        match self.command {
            Command::Run(args) => run::execute(args),
            Command::Pretrain(args) => pretrain::execute(args),
            Command::Probe(args) => probe::execute(args),
            Command::Eval(args) => eval::execute(args),
            Command::Predict(args) => predict::execute(args),
            Command::Export(args) => export::execute(args),
            Command::Data(command) => data::execute(command),
            Command::Summary(args) => summary::execute(args),
            Command::Config(args) => show_config::execute(args),
            Command::Sweep(args) => sweep::execute(args),
            Command::Methods(args) => methods::execute(args),
            Command::Encoders(args) => encoders::execute(args),
        }
    }
}

/// Lets every flag take a value that looks negative ("-3"), so that it is refused by the checks
/// of the settings, naming the flag, instead of being taken for an unknown flag.
fn allow_negative_values(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| arg.allow_negative_numbers(true)).mut_subcommands(allow_negative_values)
}
