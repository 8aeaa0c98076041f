use std::path::PathBuf;

use clap::Args;

use crate::cli::DataDirArg;
use crate::cli::args::ConfigArgs;
use crate::config::{Count, DataConfig, RunConfig};
use crate::error::{Error, Result};
use crate::eval::methods::Method;
use crate::eval::sweep::{SweepRow, markdown, summarize};
use crate::model::weights::write_atomically;
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
    /// Settings of every run: --labels is the list of label budgets (default
    /// 10,20,50,100,500,1000); --test-size defaults to all and --balanced-labels to true here
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
    let budgets: Vec<Count> = match &args.config.labels[..] {
        [] => DEFAULT_BUDGETS.to_vec(),
        given => given.to_vec(),
    };
    let mut base = ConfigArgs { labels: Vec::new(), ..args.config.clone() }.resolve(None)?;
    if args.config.test_size.is_none() {
        base.data.test_size = Count::All;
    }
    if args.config.balanced_labels.is_none() {
        base.data.balanced_labels = true;
    }
    if budgets.contains(&Count::N(0)) || args.seeds.is_empty() {
        return Err(Error::Config("sweep needs at least one seed and label budgets of at least 1".into()));
    }
    let folder = RunFolder::create(&args.out, args.force)?;
    folder.write_config(&base)?;
    let full = pipeline::load_dataset(&base, args.data.data_dir.as_deref())?;
    let with_budget = |config: &RunConfig, labels: Count| RunConfig { data: DataConfig { labels, ..config.data.clone() }, ..config.clone() };
    // Every budget must fit the data set before any training starts.
    for &budget in &budgets {
        pipeline::select(&with_budget(&base, budget), &full)?;
    }
    let mut rows = Vec::new();
    for &seed in &args.seeds {
        let seeded = RunConfig { seed, ..base.clone() };
        let data = pipeline::select(&seeded, &full)?;
        println!("seed {seed}: pretext training on {} unlabeled images", data.unlabeled.len());
        // One pretext model per seed serves every label budget.
        let pretrained = pipeline::pretrain(&seeded, &data.unlabeled, &Session::default())?;
        for &budget in &budgets {
            let config = with_budget(&seeded, budget);
            let data = pipeline::select(&config, &full)?;
            // `select` refused budgets beyond the data set, so this is the budget as a number.
            let labels = budget.of(full.train.len());
            for result in pipeline::compare_methods(&config, &Method::ALL, &pretrained.model.encoder, None, &data, &Session::default())? {
                println!(
                    "seed {seed} labels {labels:>5} {:<36} test {:.4}  k-NN {:.4}",
                    result.method.description(),
                    result.test_accuracy,
                    result.knn_accuracy
                );
                rows.push(SweepRow {
                    seed,
                    labels,
                    method: result.method.id().into(),
                    test_accuracy: result.test_accuracy,
                    knn_accuracy: result.knn_accuracy,
                });
            }
        }
    }
    write_results(&folder, &rows)
}

fn write_results(folder: &RunFolder, rows: &[SweepRow]) -> Result<()> {
    write_rows(rows, &folder.path("sweep.csv"))?;
    let cells = summarize(rows);
    write_rows(&cells, &folder.path("sweep_summary.csv"))?;
    let table = markdown(&cells);
    write_atomically(&folder.path("sweep.md"), table.as_bytes())?;
    label_curves(&folder.path("sweep.png"), &cells)?;
    println!("\n{table}\nresults in {}", folder.path("").display());
    Ok(())
}
