use std::path::PathBuf;

use clap::Args;
use crate::cli::choice::choice;

use crate::cli::DataDirArg;
use crate::cli::args::{ClassifierArgs, ConfigArgs, MethodArgs, SemiArgs};
use crate::config::{Count, DataConfig, RunConfig};
use crate::error::{Error, Result};
use crate::eval::monitor::{FEATURE_SPREAD, KNN_ACCURACY};
use crate::eval::protocols::Protocol;
use crate::eval::sweep::{NO_METHOD, SweepRow, best_per_budget, markdown, summarize};
use crate::methods::MethodName;
use crate::experiment::Experiment;
use crate::files::write_atomically;
use crate::pipeline::{self, Session};
use crate::report::artifacts::RunFolder;
use crate::report::csv_file::write_rows;
use crate::report::plots::label_curves;

/// Flags of `pretext sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Seeds, comma separated
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub seeds: Vec<u64>,
    /// Self-supervised methods to compare, comma separated (default: the --method of the
    /// settings); each is pretrained once per seed with its own defaults and the shared flags
    #[arg(long, value_parser = choice::<MethodName>(), value_delimiter = ',', conflicts_with = "method")]
    pub methods: Vec<MethodName>,
    /// Settings of every run: --labels is the list of label budgets (default
    /// 10,20,50,100,500,1000), --semi-supervised a list of semi-supervised ways whose rows
    /// are added; --test-size defaults to all and --balanced-labels to true here
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Folder for the sweep's results (default: runs/sweep)
    #[arg(long, value_name = "DIR", default_value = "runs/sweep")]
    pub out: PathBuf,
    /// Overwrite a folder that already holds a sweep
    #[arg(long)]
    pub force: bool,
}

/// Label budgets used when `--labels` is not given.
const DEFAULT_BUDGETS: [Count; 6] = [Count::N(10), Count::N(20), Count::N(50), Count::N(100), Count::N(500), Count::N(1000)];

pub fn execute(args: SweepArgs) -> Result<()> {
    let given = &args.config.classifier;
    let budgets: Vec<Count> = match &given.labels[..] {
        [] => DEFAULT_BUDGETS.to_vec(),
        given => given.to_vec(),
    };
    let semi_methods = given.semi.semi_supervised.clone();
    let classifier = ClassifierArgs { labels: Vec::new(), semi: SemiArgs { semi_supervised: Vec::new(), ..given.semi.clone() }, ..given.clone() };
    let one_value = ConfigArgs { classifier, ..args.config.clone() };
    // The shared settings take the first method compared, so that the method flags and
    // `--set method.*` keys the compared methods have resolve.
    let first = MethodArgs { method: args.methods.first().copied().or(one_value.method.method), ..one_value.method.clone() };
    let mut base = ConfigArgs { method: first, ..one_value.clone() }.resolve(None)?;
    let methods = match &args.methods[..] {
        [] => vec![base.method.name()],
        given => given.to_vec(),
    };
    // Every method's settings are checked before any training starts.
    let configs: Vec<RunConfig> = methods
        .iter()
        .map(|&method| {
            let flags = ConfigArgs { method: MethodArgs { method: Some(method), ..one_value.method.clone() }, ..one_value.clone() };
            flags.resolve(None)
        })
        .collect::<Result<_>>()?;
    if given.test_size.is_none() {
        base.data.test_size = Count::All;
    }
    if given.balanced_labels.is_none() {
        base.data.balanced_labels = true;
    }
    if budgets.contains(&Count::N(0)) || args.seeds.is_empty() {
        return Err(Error::Config("sweep needs at least one seed and label budgets of at least 1".into()));
    }
    // Pretraining shows its epochs and the time it has left; the protocols after it are quiet
    // (one line each).
    let session = Session::new(base.device.open()?, true);
    let folder = RunFolder::create(&args.out, args.force)?;
    let full = pipeline::load_dataset(&mut base, args.data.data_dir.as_deref())?;
    full.info().warn_skipped(None);
    folder.write_config(&base)?;
    let with_budget = |config: &RunConfig, labels: Count| RunConfig { data: DataConfig { labels, ..config.data.clone() }, ..config.clone() };
    // Every budget must fit the data set before any training starts.
    for &budget in &budgets {
        pipeline::select(&with_budget(&base, budget), &full)?;
    }
    let mut rows = Vec::new();
    let mut pretraining = Vec::new();
    for &seed in &args.seeds {
        for (k, method_config) in configs.iter().enumerate() {
            let seeded = RunConfig { seed, ..with_sweep_data(method_config, &base) };
            let data = pipeline::select(&seeded, &full)?;
            let method = seeded.method.name();
            println!("seed {seed}: {method} pretraining on {} unlabeled images", data.unlabeled.len());
            // One pretext model per seed and method serves every label budget.
            let mut experiment = Experiment::new(seeded.clone(), &session, None);
            let pretrained = experiment.pretrain(&data)?;
            pretraining.push(PretrainingRow::new(seed, method, experiment.finish()?, &pretrained));
            // The baselines do not depend on the method (every method starts from the same
            // encoder for a seed): they run with the first method only.
            let semi_protocols = semi_methods.iter().flat_map(|&m| Protocol::semi_supervised(m));
            let protocols: Vec<Protocol> = Protocol::ALL.iter().chain(semi_protocols).copied().filter(|p| k == 0 || p.pretrained()).collect();
            for &budget in &budgets {
                let config = with_budget(&seeded, budget);
                let data = pipeline::select(&config, &full)?;
                // `select` refused budgets beyond the data set, so this is the budget as a number.
                let labels = budget.of(full.train.len());
                for result in pipeline::compare_protocols(&config, &protocols, pretrained.model.encoder(), &[], &data, &session)? {
                    let row = SweepRow {
                        seed,
                        labels,
                        method: if result.protocol.pretrained() { method.to_string() } else { NO_METHOD.into() },
                        protocol: result.protocol.id().into(),
                        test_accuracy: result.test_accuracy,
                        knn_accuracy: result.knn_accuracy,
                        seconds: result.seconds,
                    };
                    println!("seed {seed} labels {labels:>5} {:<48} test {:.4}  k-NN {:.4}  {:.0} s", row.name(), row.test_accuracy, row.knn_accuracy, row.seconds);
                    rows.push(row);
                }
            }
            // Results so far, so that a sweep cut short keeps what it measured.
            write_rows(&pretraining, &folder.path("sweep_pretraining.csv"))?;
            write_results(&folder, &rows)?;
        }
    }
    let cells = summarize(&rows);
    println!("\n{}\n{}\nresults in {}", markdown(&cells), best_per_budget(&cells), folder.path("").display());
    Ok(())
}

/// How one method's pretraining went for one seed.
#[derive(Debug, serde::Serialize)]
struct PretrainingRow {
    seed: u64,
    method: String,
    seconds: f64,
    final_loss: Option<f64>,
    final_knn_accuracy: Option<f64>,
    final_feature_std: Option<f64>,
    collapsed: bool,
}

impl PretrainingRow {
    fn new(seed: u64, method: MethodName, seconds: f64, pretrained: &pipeline::Pretrained) -> Self {
        Self {
            seed,
            method: method.to_string(),
            seconds,
            final_loss: pretrained.history.last().map(|r| r.loss),
            final_knn_accuracy: pretrained.last_measured(KNN_ACCURACY),
            final_feature_std: pretrained.last_measured(FEATURE_SPREAD),
            collapsed: pretrained.collapse().is_some(),
        }
    }
}

/// `config` (one method's settings) with the sweep's data defaults from `base`.
fn with_sweep_data(config: &RunConfig, base: &RunConfig) -> RunConfig {
    RunConfig { data: base.data.clone(), ..config.clone() }
}

fn write_results(folder: &RunFolder, rows: &[SweepRow]) -> Result<()> {
    write_rows(rows, &folder.path("sweep.csv"))?;
    let cells = summarize(rows);
    write_rows(&cells, &folder.path("sweep_summary.csv"))?;
    let table = format!("{}\n{}", markdown(&cells), best_per_budget(&cells));
    write_atomically(&folder.path("sweep.md"), table.as_bytes())?;
    label_curves(&folder.path("sweep.png"), &cells)
}
