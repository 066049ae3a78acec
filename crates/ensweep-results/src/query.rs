//! SQL over the result tables of one sweep or a directory of sweeps, through polars' SQL engine.
//!
//! Each table is registered under its name (`runs`, `epochs`, ...) as a lazy scan of all its part
//! files, concatenated diagonally, so a query reads only the columns it names (projection
//! pushdown) and many sweeps are queried as one: `runs.sweep` tells them apart and every other
//! table joins to `runs` on `cell_key`.

use crate::tables::{ALL_TABLES, part_files};
use polars::prelude::*;
use polars::sql::SQLContext;
use std::path::{Path, PathBuf};

/// Errors of `ensweep query`.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No sweep directory with result tables was found.
    #[error(
        "no result tables under {0} (expected <dir>/runs/part-*.parquet or <dir>/<sweep>/runs/...)"
    )]
    NoSweeps(PathBuf),
    /// Listing a directory failed.
    #[error(transparent)]
    Tables(#[from] crate::tables::TablesError),
    /// Reading a directory failed. The OS error is part of the message and deliberately not
    /// a `source`, so a printed error chain says it once.
    #[error("{path}: {error}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        error: std::io::Error,
    },
    /// polars rejected or failed the query: one line, with the closest column names.
    #[error("{0}")]
    Sql(String),
    /// The query calls a table function (`read_parquet('/path')`, ...), which would read files
    /// outside the sweep directories.
    #[error(
        "table functions such as `{0}(...)` are disabled in `ensweep query` (they read arbitrary files); query the registered tables instead (`ensweep query DIR` lists them)"
    )]
    TableFunction(String),
    /// Writing the result failed.
    #[error("writing result: {0}")]
    Output(PolarsError),
}

/// Sweep directories at or below `dir`: `dir` itself when it holds tables, else its
/// subdirectories (recursively, at most 3 levels) that do.
pub fn discover_sweeps(dir: &Path) -> Result<Vec<PathBuf>, QueryError> {
    // Said once, with the path, before anything below tries the directory again.
    std::fs::read_dir(dir).map_err(|error| QueryError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut out = Vec::new();
    discover(dir, 0, &mut out)?;
    if out.is_empty() {
        return Err(QueryError::NoSweeps(dir.to_path_buf()));
    }
    Ok(out)
}

fn is_sweep_dir(dir: &Path) -> Result<bool, QueryError> {
    for t in ALL_TABLES {
        if !part_files(dir, t).map_err(said_once)?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A listing error as [`QueryError::Io`], whose message carries the OS error without also
/// chaining it as a source (`error: {err:#}` would print it twice).
fn said_once(e: crate::tables::TablesError) -> QueryError {
    match e {
        crate::tables::TablesError::Io { path, source } => QueryError::Io {
            path,
            error: source,
        },
        other => QueryError::Tables(other),
    }
}

fn discover(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), QueryError> {
    if is_sweep_dir(dir)? {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if depth >= 3 {
        return Ok(());
    }
    let io = |error| QueryError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            subdirs.push(path);
        }
    }
    subdirs.sort();
    for d in subdirs {
        discover(&d, depth + 1, out)?;
    }
    Ok(())
}

/// A lazy scan of one table over all parts of all `sweeps`; `None` when no sweep has it.
pub fn scan_table(sweeps: &[PathBuf], table: &str) -> Result<Option<LazyFrame>, QueryError> {
    let mut frames = Vec::new();
    for s in sweeps {
        for file in part_files(s, table).map_err(said_once)? {
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            let path = PlRefPath::new(file.to_string_lossy().as_ref());
            let lf = LazyFrame::scan_parquet(path, args).map_err(|e| sql_err(e, &[], &[]))?;
            frames.push(lf);
        }
    }
    if frames.is_empty() {
        return Ok(None);
    }
    if frames.len() == 1 {
        return Ok(frames.pop());
    }
    let args = UnionArgs {
        to_supertypes: true,
        ..Default::default()
    };
    concat_lf_diagonal(frames, args)
        .map(Some)
        .map_err(|e| sql_err(e, &[], &[]))
}

/// Tables written by `ensweep report` under `<sweep>/analysis/<name>.parquet`, by name.
fn scan_analysis(sweeps: &[PathBuf]) -> Result<Vec<(String, LazyFrame)>, QueryError> {
    let mut by_name: std::collections::BTreeMap<String, Vec<LazyFrame>> = Default::default();
    for s in sweeps {
        let dir = s.join("analysis");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let (Some(stem), Some("parquet")) = (
                f.file_stem().and_then(|x| x.to_str()),
                f.extension().and_then(|x| x.to_str()),
            ) else {
                continue;
            };
            if stem.starts_with('.') || ALL_TABLES.contains(&stem) {
                continue;
            }
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            let lf = LazyFrame::scan_parquet(PlRefPath::new(f.to_string_lossy().as_ref()), args)
                .map_err(|e| sql_err(e, &[], &[]))?;
            by_name.entry(stem.to_string()).or_default().push(lf);
        }
    }
    let mut out = Vec::new();
    for (name, frames) in by_name {
        let args = UnionArgs {
            to_supertypes: true,
            ..Default::default()
        };
        let lf = if frames.len() == 1 {
            frames.into_iter().next().expect("one")
        } else {
            concat_lf_diagonal(frames, args).map_err(|e| sql_err(e, &[], &[]))?
        };
        out.push((name, lf));
    }
    Ok(out)
}

fn sql_err(source: PolarsError, tables: &[String], columns: &[String]) -> QueryError {
    QueryError::Sql(errors::short_message(&source.to_string(), tables, columns))
}

/// The tables found for a set of sweeps, registered in a SQL context.
pub struct Catalog {
    ctx: SQLContext,
    tables: Vec<(String, LazyFrame)>,
}

impl Catalog {
    /// Registers every table that exists in `sweeps`.
    pub fn open(sweeps: &[PathBuf]) -> Result<Self, QueryError> {
        let ctx = SQLContext::new();
        let mut tables = Vec::new();
        for t in ALL_TABLES {
            if let Some(lf) = scan_table(sweeps, t)? {
                ctx.register(t, lf.clone());
                tables.push((t.to_string(), lf));
            }
        }
        for (name, lf) in scan_analysis(sweeps)? {
            ctx.register(&name, lf.clone());
            tables.push((name, lf));
        }
        Ok(Self { ctx, tables })
    }

    /// Opens the sweeps found at or below `dir`.
    pub fn open_dir(dir: &Path) -> Result<Self, QueryError> {
        Self::open(&discover_sweeps(dir)?)
    }

    /// Names of the registered tables.
    pub fn table_names(&self) -> Vec<&str> {
        self.tables.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// "table(col, col, ...)" lines: what `ensweep query DIR` prints without a statement.
    pub fn describe(&mut self) -> String {
        let mut lines = vec!["available tables:".to_string()];
        for (name, lf) in &mut self.tables {
            let cols = lf
                .collect_schema()
                .map(|s| {
                    s.iter_names()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|e| format!("<schema error: {e}>"));
            lines.push(format!("  {name}({cols})"));
        }
        lines.join("\n")
    }

    /// Every column name of every registered table (for suggestions in errors).
    fn column_names(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        for (_, lf) in &mut self.tables {
            if let Ok(schema) = lf.collect_schema() {
                names.extend(schema.iter_names().map(|n| n.to_string()));
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Runs one SQL statement and collects the result. File-reading table functions are
    /// refused; a panic inside polars becomes an error instead of reaching the user.
    pub fn sql(&mut self, query: &str) -> Result<DataFrame, QueryError> {
        if let Some(f) = sandbox::table_function(query) {
            return Err(QueryError::TableFunction(f));
        }
        match execute_caught(&mut self.ctx, query) {
            Ok(Ok(df)) => Ok(df),
            Ok(Err(e)) => {
                let tables: Vec<String> =
                    self.table_names().iter().map(|t| t.to_string()).collect();
                Err(sql_err(e, &tables, &self.column_names()))
            }
            Err(panicked) => Err(panicked),
        }
    }
}

/// Runs and collects one statement; a panic inside polars comes back as a [`QueryError::Sql`]
/// with its one-line message.
///
/// Unwinding out of `execute` can leave the context's plan arenas half-updated; the registered
/// tables themselves are untouched, and the binary runs one statement per process.
fn execute_caught(
    ctx: &mut SQLContext,
    query: &str,
) -> Result<PolarsResult<DataFrame>, QueryError> {
    let run = std::panic::AssertUnwindSafe(|| ctx.execute(query).and_then(|lf| lf.collect()));
    std::panic::catch_unwind(run)
        .map_err(|payload| QueryError::Sql(errors::panic_message(payload.as_ref())))
}

/// Output formats of `ensweep query`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain-text table.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of row objects.
    Json,
    /// Parquet (binary; needs a file).
    Parquet,
}

/// Writes `df` in `format` to `w`.
pub fn write_result<W: std::io::Write>(
    df: &mut DataFrame,
    format: Format,
    w: &mut W,
) -> Result<(), QueryError> {
    match format {
        Format::Table => w
            .write_all(render_table(df).as_bytes())
            .map_err(|e| QueryError::Output(e.into())),
        Format::Csv => CsvWriter::new(w).finish(df).map_err(QueryError::Output),
        Format::Json => JsonWriter::new(w)
            .with_json_format(JsonFormat::Json)
            .finish(df)
            .map_err(QueryError::Output),
        Format::Parquet => {
            let mut buf = Vec::new();
            ParquetWriter::new(&mut buf)
                .finish(df)
                .map_err(QueryError::Output)?;
            w.write_all(&buf).map_err(|e| QueryError::Output(e.into()))
        }
    }
}

/// Renders all rows as a plain aligned table: numbers right-aligned, text left-aligned.
pub fn render_table(df: &DataFrame) -> String {
    let cols = df.columns();
    let mut cells: Vec<Vec<String>> = Vec::with_capacity(cols.len());
    let mut numeric = Vec::with_capacity(cols.len());
    for c in cols {
        let mut v = vec![c.name().to_string()];
        for i in 0..df.height() {
            v.push(match c.get(i) {
                Ok(AnyValue::Null) => "null".into(),
                Ok(AnyValue::String(s)) => s.to_string(),
                Ok(AnyValue::StringOwned(s)) => s.to_string(),
                Ok(AnyValue::Float64(f)) => format_float(f),
                Ok(AnyValue::Float32(f)) => format_float(f as f64),
                Ok(other) => other.to_string(),
                Err(e) => format!("<{e}>"),
            });
        }
        numeric.push(c.dtype().is_primitive_numeric());
        cells.push(v);
    }
    let widths: Vec<usize> = cells
        .iter()
        .map(|v| v.iter().map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in 0..=df.height() {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&numeric)
            .map(|((v, w), num)| {
                if *num && row > 0 {
                    format!("{:>w$}", v[row])
                } else {
                    format!("{:<w$}", v[row])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if row == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out.push_str(&format!("({} rows)\n", df.height()));
    out
}

fn format_float(f: f64) -> String {
    if f == 0.0 || (f.abs() >= 1e-4 && f.abs() < 1e9) {
        let s = format!("{f:.6}");
        let s = s.trim_end_matches('0');
        s.strip_suffix('.')
            .map(|x| format!("{x}.0"))
            .unwrap_or(s.to_string())
    } else {
        format!("{f:e}")
    }
}

mod errors;
mod sandbox;
#[cfg(test)]
mod tests;
