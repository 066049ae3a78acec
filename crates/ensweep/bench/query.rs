//! `ensweep bench query`, recorded in docs/PERFORMANCE.md: a group-by aggregation through
//! `ensweep query`'s code path (catalog + SQL over Parquet parts) on a large `runs` table.
//!
//! The table is written directly as frames with the `runs` schema (building a million
//! `CompletedRun`s would measure JSON parsing, not the query).

use ensweep_results::query::{Catalog, QueryError};
use ensweep_results::tables::part_file_name;
use polars::prelude::*;
use std::path::Path;
use std::time::Instant;

/// The benchmark's SQL: per-group count, mean, std and max of two metrics.
pub const BENCH_SQL: &str = r#"SELECT "axis.optimizer.lr" AS lr, "axis.hidden" AS hidden, COUNT(*) AS n, AVG(test_acc) AS acc, STDDEV(test_acc) AS acc_sd, MAX(test_loss) AS worst FROM runs GROUP BY "axis.optimizer.lr", "axis.hidden" ORDER BY lr, hidden"#;

/// Timings of one benchmark run, in seconds.
#[derive(Clone, Debug)]
pub struct QueryBench {
    /// Rows in the runs table.
    pub rows: usize,
    /// Parts the table was written in.
    pub parts: usize,
    /// Seconds to write the parts (setup, not the measured quantity).
    pub write_seconds: f64,
    /// Each repetition of open + SQL + collect.
    pub query_seconds: Vec<f64>,
    /// Groups in the result.
    pub groups: usize,
}

impl QueryBench {
    /// Median query time.
    pub fn median(&self) -> f64 {
        let mut v = self.query_seconds.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

/// Writes a `rows`-row runs table in `parts` parts under `dir` (100 config groups).
pub fn write_runs_table(dir: &Path, rows: usize, parts: usize) -> PolarsResult<()> {
    let runs_dir = dir.join("runs");
    std::fs::create_dir_all(&runs_dir)?;
    let per = rows.div_ceil(parts);
    for p in 0..parts {
        let start = p * per;
        let end = rows.min(start + per);
        let idx: Vec<u64> = (start as u64..end as u64).collect();
        // Cheap deterministic pseudo-random values (splitmix-style hash of the row index).
        let hash = |i: u64, salt: u64| {
            let mut z = i.wrapping_add(salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as f64 / u64::MAX as f64
        };
        let lr: Vec<f64> = idx
            .iter()
            .map(|i| [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0][(i % 10) as usize])
            .collect();
        let hidden: Vec<String> = idx
            .iter()
            .map(|i| format!("[{}]", 10 * ((i / 10) % 10 + 1)))
            .collect();
        let mut df = df!(
            "sweep" => idx.iter().map(|_| "bench").collect::<Vec<_>>(),
            "cell_key" => idx.iter().map(|i| format!("{i:016x}")).collect::<Vec<_>>(),
            "kind" => idx.iter().map(|_| "synthetic").collect::<Vec<_>>(),
            "replicate" => idx.iter().map(|i| i / 100).collect::<Vec<_>>(),
            "sweep_seed" => idx.iter().map(|_| 2020u64).collect::<Vec<_>>(),
            "trainer_version" => idx.iter().map(|_| "synthetic-1").collect::<Vec<_>>(),
            "worker" => idx.iter().map(|i| format!("w{}", i % 8)).collect::<Vec<_>>(),
            "attempt" => idx.iter().map(|_| 1u32).collect::<Vec<_>>(),
            "wall_seconds" => idx.iter().map(|i| hash(*i, 1)).collect::<Vec<_>>(),
            "cfg.optimizer.lr" => lr.clone(),
            "cfg.hidden" => hidden.clone(),
            "cfg.epochs" => idx.iter().map(|_| 10i64).collect::<Vec<_>>(),
            "axis.optimizer.lr" => lr,
            "axis.hidden" => hidden,
            "test_acc" => idx.iter().map(|i| 0.8 + 0.1 * hash(*i, 2)).collect::<Vec<_>>(),
            "test_loss" => idx.iter().map(|i| hash(*i, 3)).collect::<Vec<_>>(),
            "train_loss" => idx.iter().map(|i| hash(*i, 4)).collect::<Vec<_>>(),
            "ood_loss" => idx.iter().map(|i| hash(*i, 5)).collect::<Vec<_>>()
        )?;
        let file = std::fs::File::create(runs_dir.join(part_file_name(p as u64)))?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut df)?;
    }
    Ok(())
}

/// Writes the table, then times `repeats` runs of [`BENCH_SQL`] (catalog open included).
pub fn bench_query(
    dir: &Path,
    rows: usize,
    parts: usize,
    repeats: usize,
) -> Result<QueryBench, QueryError> {
    let t = Instant::now();
    write_runs_table(dir, rows, parts).map_err(QueryError::Output)?;
    let write_seconds = t.elapsed().as_secs_f64();
    let mut query_seconds = Vec::new();
    let mut groups = 0;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let mut cat = Catalog::open(&[dir.to_path_buf()])?;
        let df = cat.sql(BENCH_SQL)?;
        query_seconds.push(t.elapsed().as_secs_f64());
        groups = df.height();
    }
    Ok(QueryBench {
        rows,
        parts,
        write_seconds,
        query_seconds,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bench_gives_all_groups_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let b = bench_query(dir.path(), 20_000, 4, 1).unwrap();
        assert_eq!(b.groups, 100);
        let mut cat = Catalog::open(&[dir.path().to_path_buf()]).unwrap();
        let df = cat.sql(BENCH_SQL).unwrap();
        let n = df.column("n").unwrap().cast(&DataType::Int64).unwrap();
        assert!(n.i64().unwrap().into_no_null_iter().all(|v| v == 200));
    }
}
