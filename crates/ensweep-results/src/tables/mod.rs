//! The Parquet result tables of a sweep directory and how they are written and read.
//!
//! Layout: `<sweep_dir>/<table>/part-<NNNNNNNN>.parquet`, one file per table per batch of
//! completed runs ("part"). Parts are immutable once renamed into place; rewriting a part with
//! the same runs produces the same rows, so the coordinator may retry a write after a crash.
//! Every table carries `cell_key`, so any table joins to `runs`. Schemas: docs/SCHEMA.md.

mod columns;

use columns::{json_columns, value_columns};
use ensweep_core::output::RunOutput;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Names of the tables, in the order they are written.
pub const TABLES: [&str; 6] = [
    "runs",
    "epochs",
    "layers",
    "pruning",
    "spectra",
    "trajectories",
];

/// Every table that can be read or queried: [`TABLES`] plus `weights`, written by
/// [`write_weights_part`] (large, only diversity analyses read it), and `quarantine`, the
/// results export set aside ([`write_quarantine_part`]).
pub const ALL_TABLES: [&str; 8] = [
    "runs",
    "epochs",
    "layers",
    "pruning",
    "spectra",
    "trajectories",
    "weights",
    "quarantine",
];

/// One trained weight matrix (see [`ensweep_core::output::WeightMatrix`] for layer names).
pub type WeightRow = ensweep_core::output::WeightMatrix;

/// A finished run with everything needed for its rows in every table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompletedRun {
    /// Content-addressed key of the cell (see `ensweep_core::spec::Cell::key`).
    pub cell_key: String,
    /// Sweep name.
    pub sweep: String,
    /// Trainer kind (`sas_mlp`, `sas_rnn`, `tanh_rnn`, `synthetic`).
    pub kind: String,
    /// Replicate seed index.
    pub replicate: u64,
    /// Root seed of the sweep.
    pub sweep_seed: u64,
    /// Canonical JSON of the full typed trainer config.
    pub config_json: String,
    /// JSON object of the swept axis values of this cell (dotted path -> value).
    pub axes_json: String,
    /// What the trainer returned.
    pub output: RunOutput,
    /// Wall-clock seconds of the training run.
    pub wall_seconds: f64,
    /// Name of the worker that ran it.
    pub worker: String,
    /// Attempt number (1 for the first lease).
    pub attempt: u32,
    /// Trainer version that produced the output.
    pub trainer_version: String,
}

/// Errors of reading and writing tables.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// polars failed to build, write or read a frame.
    #[error("{context}: {source}")]
    Polars {
        /// What was being done.
        context: String,
        /// Underlying error.
        source: PolarsError,
    },
    /// A run's config or axes were not a JSON object.
    #[error("run {cell_key}: invalid {what} JSON: {message}")]
    Json {
        /// Which run.
        cell_key: String,
        /// `config_json` or `axes_json`.
        what: &'static str,
        /// Parser message.
        message: String,
    },
    /// The table name is not one of [`TABLES`].
    #[error("unknown table `{0}` (known: {known})", known = ALL_TABLES.join(", "))]
    UnknownTable(String),
    /// The table has no parts in this directory.
    #[error("table `{table}` has no parts under {dir}")]
    Empty {
        /// Table name.
        table: String,
        /// The sweep directory.
        dir: PathBuf,
    },
}

fn pl(context: impl Into<String>) -> impl FnOnce(PolarsError) -> TablesError {
    let context = context.into();
    move |source| TablesError::Polars { context, source }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TablesError + '_ {
    move |source| TablesError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// File name of a part.
pub fn part_file_name(part: u64) -> String {
    format!("part-{part:08}.parquet")
}

/// Writes the rows of `runs` as part `part` of every table under `sweep_dir`.
///
/// A table whose part would have no rows gets no file (and a stale file of that part is
/// removed), so an idempotent rewrite leaves the directory exactly as the first write did.
/// Each file is written to a temporary name, synced and renamed, so readers never see a
/// half-written part.
pub fn write_part(sweep_dir: &Path, part: u64, runs: &[CompletedRun]) -> Result<(), TablesError> {
    for table in TABLES {
        let df = build_table(table, runs)?;
        let dir = sweep_dir.join(table);
        let path = dir.join(part_file_name(part));
        match df {
            Some(mut df) => {
                fs::create_dir_all(&dir).map_err(io(&dir))?;
                write_atomic(&path, &mut df)?;
            }
            None => match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            },
        }
    }
    Ok(())
}

fn write_atomic(path: &Path, df: &mut DataFrame) -> Result<(), TablesError> {
    let tmp = path.with_extension(format!("parquet.tmp-{}", std::process::id()));
    let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
    ParquetWriter::new(&mut file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)
        .map_err(pl(format!("writing {}", path.display())))?;
    file.flush().map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))?;
    // The rename is durable only once the directory is: fsync it before anyone (the ledger)
    // records the part as written.
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// A result that export set aside instead of writing, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct QuarantineRow {
    /// Cell key.
    pub cell_key: String,
    /// Attempt that produced the result.
    pub attempt: u32,
    /// Worker that sent it.
    pub worker: String,
    /// Why it could not be exported.
    pub reason: String,
}

/// Writes part `part` of the `quarantine` table: cell_key, attempt, worker, reason. Nothing is
/// written for an empty batch.
pub fn write_quarantine_part(
    sweep_dir: &Path,
    part: u64,
    rows: &[QuarantineRow],
) -> Result<(), TablesError> {
    if rows.is_empty() {
        return Ok(());
    }
    let cols = vec![
        Column::new(
            "cell_key".into(),
            rows.iter().map(|r| r.cell_key.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "attempt".into(),
            rows.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        ),
        Column::new(
            "worker".into(),
            rows.iter().map(|r| r.worker.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "reason".into(),
            rows.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
        ),
    ];
    let mut df = DataFrame::new(rows.len(), cols).map_err(pl("building table quarantine"))?;
    let dir = sweep_dir.join("quarantine");
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    write_atomic(&dir.join(part_file_name(part)), &mut df)
}

/// Builds the frame of one table for a batch of runs; `None` when it would have no rows.
pub fn build_table(table: &str, runs: &[CompletedRun]) -> Result<Option<DataFrame>, TablesError> {
    let df = match table {
        "runs" => runs_frame(runs)?,
        "epochs" => epochs_frame(runs),
        "layers" => layers_frame(runs),
        "pruning" => pruning_frame(runs),
        "spectra" => spectra_frame(runs),
        "trajectories" => trajectories_frame(runs),
        other => return Err(TablesError::UnknownTable(other.to_string())),
    };
    let df = df.map_err(pl(format!("building table {table}")))?;
    Ok((df.height() > 0).then_some(df))
}

const RUN_KEYS: [&str; 9] = [
    "sweep",
    "cell_key",
    "kind",
    "replicate",
    "sweep_seed",
    "trainer_version",
    "worker",
    "attempt",
    "wall_seconds",
];

fn parse_object(
    run: &CompletedRun,
    text: &str,
    what: &'static str,
) -> Result<BTreeMap<String, serde_json::Value>, TablesError> {
    let err = |message: String| TablesError::Json {
        cell_key: run.cell_key.clone(),
        what,
        message,
    };
    let value: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(text).map_err(|e| err(e.to_string()))?
    };
    match &value {
        serde_json::Value::Object(map) => {
            let mut out = BTreeMap::new();
            if what == "axes_json" {
                // Axis keys already are dotted paths; their values stay whole leaves.
                for (k, v) in map {
                    out.insert(k.clone(), v.clone());
                }
            } else {
                ensweep_core::spec::flatten_json("", &value, &mut |k, v| {
                    out.insert(k.to_string(), v.clone());
                });
            }
            Ok(out)
        }
        _ => Err(err("expected a JSON object".into())),
    }
}

fn runs_frame(runs: &[CompletedRun]) -> Result<PolarsResult<DataFrame>, TablesError> {
    let mut cfgs = Vec::with_capacity(runs.len());
    let mut axes = Vec::with_capacity(runs.len());
    for r in runs {
        cfgs.push(parse_object(r, &r.config_json, "config_json")?);
        axes.push(parse_object(r, &r.axes_json, "axes_json")?);
    }
    let str_col = |name: &str, f: fn(&CompletedRun) -> &str| {
        Column::new(name.into(), runs.iter().map(f).collect::<Vec<_>>())
    };
    let mut cols = vec![
        str_col("sweep", |r| r.sweep.as_str()),
        str_col("cell_key", |r| r.cell_key.as_str()),
        str_col("kind", |r| r.kind.as_str()),
        Column::new(
            "replicate".into(),
            runs.iter().map(|r| r.replicate).collect::<Vec<_>>(),
        ),
        Column::new(
            "sweep_seed".into(),
            runs.iter().map(|r| r.sweep_seed).collect::<Vec<_>>(),
        ),
        str_col("trainer_version", |r| r.trainer_version.as_str()),
        str_col("worker", |r| r.worker.as_str()),
        Column::new(
            "attempt".into(),
            runs.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        ),
        Column::new(
            "wall_seconds".into(),
            runs.iter().map(|r| r.wall_seconds).collect::<Vec<_>>(),
        ),
    ];
    cols.extend(json_columns("cfg.", &cfgs));
    cols.extend(json_columns("axis.", &axes));
    cols.extend(value_columns(
        runs.iter().map(|r| &r.output.scalars),
        &RUN_KEYS,
    ));
    Ok(DataFrame::new(runs.len(), cols))
}

/// One `cell_key` entry per row of a nested output list.
fn keys<T>(runs: &[CompletedRun], rows: fn(&RunOutput) -> &[T]) -> Column {
    let v: Vec<&str> = runs
        .iter()
        .flat_map(|r| rows(&r.output).iter().map(move |_| r.cell_key.as_str()))
        .collect();
    Column::new("cell_key".into(), v)
}

fn flat<T>(runs: &[CompletedRun], rows: fn(&RunOutput) -> &[T]) -> Vec<&T> {
    runs.iter().flat_map(|r| rows(&r.output).iter()).collect()
}

fn epochs_frame(runs: &[CompletedRun]) -> PolarsResult<DataFrame> {
    let rows = flat(runs, |o| o.epochs.as_slice());
    let mut cols = vec![
        keys(runs, |o| o.epochs.as_slice()),
        Column::new(
            "epoch".into(),
            rows.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        ),
    ];
    cols.extend(value_columns(
        rows.iter().map(|r| &r.values),
        &["cell_key", "epoch"],
    ));
    DataFrame::new(rows.len(), cols)
}

fn layers_frame(runs: &[CompletedRun]) -> PolarsResult<DataFrame> {
    let rows = flat(runs, |o| o.layers.as_slice());
    let mut cols = vec![
        keys(runs, |o| o.layers.as_slice()),
        Column::new(
            "layer".into(),
            rows.iter().map(|r| r.layer.as_str()).collect::<Vec<_>>(),
        ),
    ];
    cols.extend(value_columns(
        rows.iter().map(|r| &r.values),
        &["cell_key", "layer"],
    ));
    DataFrame::new(rows.len(), cols)
}

fn pruning_frame(runs: &[CompletedRun]) -> PolarsResult<DataFrame> {
    let rows = flat(runs, |o| o.pruning.as_slice());
    let mut cols = vec![
        keys(runs, |o| o.pruning.as_slice()),
        Column::new(
            "layer".into(),
            rows.iter().map(|r| r.layer.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "criterion".into(),
            rows.iter()
                .map(|r| r.criterion.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "fraction".into(),
            rows.iter().map(|r| r.fraction).collect::<Vec<_>>(),
        ),
        Column::new(
            "count".into(),
            rows.iter().map(|r| r.count).collect::<Vec<_>>(),
        ),
    ];
    cols.extend(value_columns(
        rows.iter().map(|r| &r.values),
        &["cell_key", "layer", "criterion", "fraction", "count"],
    ));
    DataFrame::new(rows.len(), cols)
}

fn spectra_frame(runs: &[CompletedRun]) -> PolarsResult<DataFrame> {
    let rows = flat(runs, |o| o.spectra.as_slice());
    let cols = vec![
        keys(runs, |o| o.spectra.as_slice()),
        Column::new(
            "matrix".into(),
            rows.iter().map(|r| r.matrix.as_str()).collect::<Vec<_>>(),
        ),
        Column::new("re".into(), rows.iter().map(|r| r.re).collect::<Vec<_>>()),
        Column::new("im".into(), rows.iter().map(|r| r.im).collect::<Vec<_>>()),
    ];
    DataFrame::new(rows.len(), cols)
}

fn trajectories_frame(runs: &[CompletedRun]) -> PolarsResult<DataFrame> {
    let rows = flat(runs, |o| o.trajectories.as_slice());
    let states: ListChunked = rows
        .iter()
        .map(|r| Some(Series::new(PlSmallStr::EMPTY, r.states.as_slice())))
        .collect();
    let states = states.into_series().with_name("states".into());
    let cols = vec![
        keys(runs, |o| o.trajectories.as_slice()),
        Column::new(
            "probe".into(),
            rows.iter().map(|r| r.probe).collect::<Vec<_>>(),
        ),
        Column::new(
            "condition".into(),
            rows.iter()
                .map(|r| r.condition.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "steps".into(),
            rows.iter().map(|r| r.steps).collect::<Vec<_>>(),
        ),
        Column::new(
            "units".into(),
            rows.iter().map(|r| r.units).collect::<Vec<_>>(),
        ),
        states.into_column(),
    ];
    DataFrame::new(rows.len(), cols)
}

/// Writes part `part` of the `weights` table: cell_key, layer, rows, cols, values (List(Float32)).
pub fn write_weights_part(
    sweep_dir: &Path,
    part: u64,
    weights: &[(String, Vec<WeightRow>)],
) -> Result<(), TablesError> {
    let n: usize = weights.iter().map(|(_, w)| w.len()).sum();
    let dir = sweep_dir.join("weights");
    let path = dir.join(part_file_name(part));
    if n == 0 {
        return Ok(());
    }
    let rows: Vec<(&str, &WeightRow)> = weights
        .iter()
        .flat_map(|(k, ws)| ws.iter().map(move |w| (k.as_str(), w)))
        .collect();
    let values: ListChunked = rows
        .iter()
        .map(|(_, w)| Some(Series::new(PlSmallStr::EMPTY, w.values.as_slice())))
        .collect();
    let cols = vec![
        Column::new(
            "cell_key".into(),
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ),
        Column::new(
            "layer".into(),
            rows.iter().map(|r| r.1.layer.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "rows".into(),
            rows.iter().map(|r| r.1.rows).collect::<Vec<_>>(),
        ),
        Column::new(
            "cols".into(),
            rows.iter().map(|r| r.1.cols).collect::<Vec<_>>(),
        ),
        values
            .into_series()
            .with_name("values".into())
            .into_column(),
    ];
    let mut df = DataFrame::new(n, cols).map_err(pl("building table weights"))?;
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    write_atomic(&path, &mut df)
}

/// The part files of a table, sorted by part number.
pub fn part_files(sweep_dir: &Path, table: &str) -> Result<Vec<PathBuf>, TablesError> {
    if !ALL_TABLES.contains(&table) {
        return Err(TablesError::UnknownTable(table.to_string()));
    }
    let dir = sweep_dir.join(table);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(&dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("part-") && name.ends_with(".parquet") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads one part file.
pub fn read_part(path: &Path) -> Result<DataFrame, TablesError> {
    let file = fs::File::open(path).map_err(io(path))?;
    ParquetReader::new(file)
        .finish()
        .map_err(pl(format!("reading {}", path.display())))
}

/// Concatenates all parts of `table` under `sweep_dir`.
///
/// Parts may carry different value columns (a metric added later, a config leaf only some
/// trainers have), so the concatenation is diagonal: missing columns become nulls.
pub fn read_table(sweep_dir: &Path, table: &str) -> Result<DataFrame, TablesError> {
    let files = part_files(sweep_dir, table)?;
    if files.is_empty() {
        return Err(TablesError::Empty {
            table: table.to_string(),
            dir: sweep_dir.to_path_buf(),
        });
    }
    let frames = files
        .iter()
        .map(|p| read_part(p))
        .collect::<Result<Vec<_>, _>>()?;
    concat_diagonal(frames).map_err(pl(format!("concatenating parts of {table}")))
}

/// Diagonal concatenation with type widening (Int64 + Float64 -> Float64).
pub fn concat_diagonal(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    if frames.len() == 1 {
        return Ok(frames.into_iter().next().expect("one frame"));
    }
    let lazy: Vec<LazyFrame> = frames.into_iter().map(|f| f.lazy()).collect();
    let args = UnionArgs {
        to_supertypes: true,
        rechunk: true,
        ..Default::default()
    };
    concat_lf_diagonal(lazy, args)?.collect()
}

#[cfg(test)]
mod tests;
