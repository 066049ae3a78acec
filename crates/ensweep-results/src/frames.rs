//! Small helpers to pull typed values out of the result frames, shared by the analyses.
//!
//! Analyses group runs by their swept values (`axis.*` columns): runs of one group differ only
//! in the replicate seed, which is exactly the ensemble whose diversity and spread we measure.

use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Runs of one configuration group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// `axis=value, ...` (or `all` in a sweep without axes).
    pub label: String,
    /// (replicate, cell_key), sorted by replicate.
    pub members: Vec<(u64, String)>,
}

/// Names of the `axis.*` columns of `runs`.
pub fn axis_columns(runs: &DataFrame) -> Vec<String> {
    runs.get_column_names()
        .into_iter()
        .filter(|n| n.starts_with("axis."))
        .map(|n| n.to_string())
        .collect()
}

/// Text of every row of a column (nulls as `null`).
pub fn column_text(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("null").to_string())
        .collect())
}

/// Group label of every row of `runs`.
pub fn group_labels(runs: &DataFrame) -> PolarsResult<Vec<String>> {
    let axes = axis_columns(runs);
    let texts: Vec<Vec<String>> = axes
        .iter()
        .map(|a| column_text(runs, a))
        .collect::<PolarsResult<_>>()?;
    let sweeps = column_text(runs, "sweep")?;
    let multi = sweeps.iter().any(|s| s != &sweeps[0]);
    Ok((0..runs.height())
        .map(|i| {
            let mut parts: Vec<String> = Vec::new();
            if multi {
                parts.push(format!("sweep={}", sweeps[i]));
            }
            parts.extend(
                axes.iter()
                    .zip(&texts)
                    .map(|(a, t)| format!("{}={}", &a["axis.".len()..], t[i])),
            );
            if parts.is_empty() {
                "all".to_string()
            } else {
                parts.join(", ")
            }
        })
        .collect())
}

/// Configuration groups of `runs`, in label order.
pub fn groups(runs: &DataFrame) -> PolarsResult<Vec<Group>> {
    let labels = group_labels(runs)?;
    let keys = column_text(runs, "cell_key")?;
    let reps = runs.column("replicate")?.cast(&DataType::UInt64)?;
    let reps = reps.u64()?;
    let mut map: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for i in 0..runs.height() {
        map.entry(labels[i].clone())
            .or_default()
            .push((reps.get(i).unwrap_or(0), keys[i].clone()));
    }
    Ok(map
        .into_iter()
        .map(|(label, mut members)| {
            members.sort();
            members.dedup_by(|a, b| a.1 == b.1);
            Group { label, members }
        })
        .collect())
}

/// cell_key -> value of a numeric column of `runs` (empty when the column does not exist).
pub fn f64_by_key(runs: &DataFrame, column: &str) -> PolarsResult<BTreeMap<String, f64>> {
    if runs.column(column).is_err() {
        return Ok(BTreeMap::new());
    }
    let keys = column_text(runs, "cell_key")?;
    let vals = runs.column(column)?.cast(&DataType::Float64)?;
    let vals = vals.f64()?;
    Ok(keys
        .into_iter()
        .zip(vals.iter())
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// Floats of a column (nulls as NaN).
pub fn f64s(df: &DataFrame, column: &str) -> PolarsResult<Vec<f64>> {
    let c = df.column(column)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// Writes an analysis table to `<sweep_dir>/analysis/<name>.parquet` (tmp + rename).
pub fn write_analysis(sweep_dir: &Path, name: &str, df: &mut DataFrame) -> std::io::Result<()> {
    let dir = sweep_dir.join("analysis");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.parquet"));
    let tmp = dir.join(format!(".{name}.parquet.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    ParquetWriter::new(&mut file)
        .finish(df)
        .map_err(std::io::Error::other)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)
}
