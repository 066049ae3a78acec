//! `ensweep report`: a self-contained HTML page with figures and statistics for a sweep.

use crate::exit::CliError;
use anyhow::Context;
use clap::Args;
use ensweep_results::report::{ReferenceCurve, ReportOptions, write_report};
use ensweep_results::selection::Include;
use ensweep_results::tables::read_table;
use ensweep_worker::TRAINERS;
use std::path::{Path, PathBuf};

/// Arguments of `ensweep report`.
#[derive(Args)]
pub struct ReportArgs {
    /// The sweep directory (`sweeps/<name>`, holding `runs/part-*.parquet`).
    pub dir: PathBuf,
    /// Final metric of `runs` compared across groups and plotted against hyperparameters.
    /// Default: the trainer's (`test_acc_mf_mean` for sas_mlp, `acc_mf_mean` for sas_rnn,
    /// `distance_mean` for tanh_rnn, `x` for synthetic).
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
    /// A published curve to draw beside the sweep's in the "vs swept hyperparameters" figure of
    /// its axis (repeatable): CSV with a header `<axis>,<metric>` and one `value,value` line
    /// per point; `#` lines are comments, `# label: ...` names it in the legend. Drawn where the
    /// metric is the report's. The curves of the studies are in `experiments/reference/`.
    #[arg(long, value_name = "FILE")]
    pub reference: Vec<PathBuf>,
}

/// The default metric of the trainer that produced the sweep's runs (a sweep trains one kind).
fn default_metric(dir: &Path) -> anyhow::Result<String> {
    let runs = read_table(dir, "runs")?;
    let kinds = runs.column("kind")?.str()?;
    let kind = kinds
        .get(0)
        .with_context(|| format!("{}: the runs table is empty", dir.display()))?;
    let trainer = TRAINERS
        .get(kind)
        .context("no default metric for this sweep: pass --metric")?;
    Ok(trainer.default_metric().to_owned())
}

/// `report` reads one sweep's tables, but `run --dir D` makes `D` a folder of sweeps (and
/// `query D` accepts it). Given such a folder, name the sweeps in it rather than report "no
/// parts", which reads like damaged results.
fn check_sweep_dir(dir: &Path) -> Result<(), CliError> {
    if dir.join("runs").is_dir() {
        return Ok(());
    }
    let mut sweeps: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("runs").is_dir())
        .map(|path| path.display().to_string())
        .collect();
    sweeps.sort();
    Err(CliError::Usage(if sweeps.is_empty() {
        format!(
            "{} holds no sweep's results (no `runs/` folder): name a sweep directory, \
             `<run --dir>/<sweep name>`",
            dir.display()
        )
    } else {
        format!(
            "{} is a folder of sweeps, not one sweep: report on one of {}",
            dir.display(),
            sweeps.join(", ")
        )
    }))
}

/// Runs `ensweep report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    check_sweep_dir(&args.dir)?;
    let references = args
        .reference
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the reference curve {}", path.display()))?;
            Ok(ReferenceCurve::parse(&text, &path.display().to_string())?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
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
        references,
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
