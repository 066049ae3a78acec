//! `ensweep query`: SQL over the result tables of one sweep or a directory of sweeps.

use anyhow::Context;
use clap::{Args, ValueEnum};
use ensweep_results::query::{Catalog, Format};
use std::io::Write;
use std::path::PathBuf;

/// Output formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    /// Aligned plain-text table.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of row objects.
    Json,
    /// Parquet (needs `--output`).
    Parquet,
}

/// Arguments of `ensweep query`.
#[derive(Args)]
pub struct QueryArgs {
    /// A sweep directory (`sweeps/<name>`) or a directory of sweeps (`sweeps/`), queried as one.
    pub dir: PathBuf,
    /// One SQL statement over the tables `runs`, `epochs`, `layers`, `pruning`, `spectra`,
    /// `trajectories`, `weights` (and analysis tables written by `ensweep report`).
    /// Omit it to list the tables and their columns.
    pub sql: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Write the result to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs `ensweep query`.
pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let mut catalog = Catalog::open_dir(&args.dir)?;
    let Some(sql) = args.sql else {
        println!("{}", catalog.describe());
        return Ok(());
    };
    let format = match args.format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Json => Format::Json,
        OutputFormat::Parquet => Format::Parquet,
    };
    crate::exit::ensure_usage!(
        !matches!(format, Format::Parquet) || args.output.is_some(),
        "--format parquet writes binary data: give a file with --output"
    );
    let mut df = quiet_panics(|| catalog.sql(&sql))?;
    match &args.output {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            ensweep_results::query::write_result(&mut df, format, &mut file)?;
            eprintln!("{} rows written to {}", df.height(), path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            ensweep_results::query::write_result(&mut df, format, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Runs `f` with the panic hook silenced. `Catalog::sql` turns a panic inside polars into a
/// one-line error; the default hook would still print "thread panicked at ..." (from polars'
/// worker threads too) above it. Restored afterwards, so a bug elsewhere is still reported.
fn quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = f();
    std::panic::set_hook(default);
    out
}
