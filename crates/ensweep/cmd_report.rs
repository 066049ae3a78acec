//! `ensweep report`: a self-contained HTML page with figures and statistics for a sweep.

use clap::Args;
use ensweep_results::report::{ReportOptions, write_report};
use ensweep_results::selection::Include;
use ensweep_results::tables::read_table;
use std::path::{Path, PathBuf};

/// Arguments of `ensweep report`.
#[derive(Args)]
pub struct ReportArgs {
    /// The sweep directory (`sweeps/<name>`, holding `runs/part-*.parquet`).
    pub dir: PathBuf,
    /// Final metric of `runs` compared across groups and plotted against hyperparameters.
    /// Default: `test_acc` where the runs have it (MNIST, MSI), else `distance_mean` (task RNNs).
    #[arg(long)]
    pub metric: Option<String>,
    /// Output directory; default `<dir>/report`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Bootstrap resamples for bands and intervals.
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Seed of the bootstrap (reports are reproducible).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Analyse every net in the diversity and degradation sections, not only those that met
    /// their training criterion (`reached_threshold` / `success`).
    #[arg(long)]
    pub all_nets: bool,
}

/// The first of the usual final metrics that the sweep's `runs` table has.
fn default_metric(dir: &Path) -> anyhow::Result<String> {
    let runs = read_table(dir, "runs")?;
    let names: Vec<String> = runs
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    Ok(["test_acc", "sampled_acc", "distance_mean", "final_loss"]
        .iter()
        .find(|m| names.iter().any(|n| n == *m))
        .map(|m| m.to_string())
        .unwrap_or_else(|| "test_acc".into()))
}

/// Runs `ensweep report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let mut opts = ReportOptions {
        metric: match args.metric {
            Some(m) => m,
            None => default_metric(&args.dir)?,
        },
        out_dir: args.out,
        include: if args.all_nets {
            Include::All
        } else {
            Include::Criterion
        },
        ..ReportOptions::default()
    };
    opts.bootstrap.resamples = args.resamples;
    opts.bootstrap.seed = args.seed;
    let out = write_report(&args.dir, &opts)?;
    for note in &out.notes {
        eprintln!("note: {note}");
    }
    println!(
        "report: {} ({} figures, {} analysis tables)",
        out.html.display(),
        out.figures.len(),
        out.tables.len()
    );
    Ok(())
}
