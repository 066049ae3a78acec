//! Tests of SQL over real Parquet parts written by `write_part`.

use super::*;
use crate::synthetic;
use crate::tables::{write_part, write_weights_part};

fn make_sweep(dir: &Path, name: &str, seeds: u64) {
    let runs = synthetic::sweep(name, &[("small", 0.5), ("large", 1.5)], seeds, 4);
    let (first, second) = runs.split_at(runs.len() / 2);
    for (part, chunk) in [first, second].iter().enumerate() {
        let completed: Vec<_> = chunk.iter().map(|(r, _)| r.clone()).collect();
        write_part(dir, part as u64, &completed).unwrap();
        let weights: Vec<_> = chunk
            .iter()
            .map(|(r, w)| (r.cell_key.clone(), w.clone()))
            .collect();
        write_weights_part(dir, part as u64, &weights).unwrap();
    }
}

#[test]
fn group_by_over_one_sweep() {
    let dir = tempfile::tempdir().unwrap();
    make_sweep(dir.path(), "a", 3);
    let mut cat = Catalog::open_dir(dir.path()).unwrap();
    assert!(cat.table_names().contains(&"weights"));
    let df = cat
        .sql(r#"SELECT "axis.init" AS init, COUNT(*) AS n, AVG(test_acc) AS acc FROM runs GROUP BY "axis.init" ORDER BY init"#)
        .unwrap();
    assert_eq!(df.height(), 2);
    let n = df.column("n").unwrap().cast(&DataType::Int64).unwrap();
    assert_eq!(n.i64().unwrap().get(0), Some(3));
    let init = df
        .column("init")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(init, "large");
    let joined = cat
        .sql("SELECT r.replicate, p.fraction FROM pruning p JOIN runs r ON p.cell_key = r.cell_key WHERE p.criterion = 'vip'")
        .unwrap();
    assert_eq!(joined.height(), 6 * 11);
}

#[test]
fn many_sweeps_are_queried_as_one() {
    let root = tempfile::tempdir().unwrap();
    make_sweep(&root.path().join("one"), "one", 2);
    make_sweep(&root.path().join("two"), "two", 3);
    let sweeps = discover_sweeps(root.path()).unwrap();
    assert_eq!(sweeps.len(), 2);
    let mut cat = Catalog::open(&sweeps).unwrap();
    let df = cat
        .sql("SELECT sweep, COUNT(*) AS n FROM runs GROUP BY sweep ORDER BY sweep")
        .unwrap();
    let n = df.column("n").unwrap().cast(&DataType::Int64).unwrap();
    assert_eq!(
        n.i64().unwrap().into_no_null_iter().collect::<Vec<_>>(),
        vec![4, 6]
    );
    // An ungrouped count over several part files: polars sums the parts' lengths as UInt128
    // (needs its `dtype-u128` feature, or the query fails with "casting from UInt32 to UInt128
    // not supported").
    for (sql, want) in [
        ("SELECT COUNT(*) AS n FROM runs", 10),
        (
            "SELECT COUNT(*) AS n FROM pruning WHERE criterion = 'vip'",
            10 * 11,
        ),
    ] {
        let df = cat.sql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = df.column("n").unwrap().cast(&DataType::Int64).unwrap();
        assert_eq!(n.i64().unwrap().get(0), Some(want), "{sql}");
    }
}

#[test]
fn sql_errors_are_one_line_with_the_closest_names() {
    let dir = tempfile::tempdir().unwrap();
    make_sweep(dir.path(), "a", 1);
    let mut cat = Catalog::open_dir(dir.path()).unwrap();
    let err = cat.sql("SELECT * FROM nope").unwrap_err().to_string();
    assert!(
        err.contains("nope") && err.contains("tables: runs"),
        "{err}"
    );
    assert!(!err.contains('\n') && !err.contains("cell_key"), "{err}");
    let err = cat
        .sql("SELECT cell_kye FROM runs")
        .unwrap_err()
        .to_string();
    assert!(err.contains("closest columns: \"cell_key\""), "{err}");
    assert!(!err.contains('\n'), "{err}");
    let dotted = cat
        .column_names()
        .into_iter()
        .find(|c| c.starts_with("cfg."));
    let dotted = dotted.expect("the synthetic sweep has cfg.* columns");
    let err = cat
        .sql(&format!("SELECT {dotted} FROM runs"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be double-quoted"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Catalog::open_dir(empty.path()),
        Err(QueryError::NoSweeps(_))
    ));
    let missing = dir.path().join("no_such_dir");
    let err = Catalog::open_dir(&missing).err().unwrap();
    // The binary prints the whole chain (`{err:#}`): the OS error must not come again as a source.
    assert!(std::error::Error::source(&err).is_none(), "{err:?}");
    let err = err.to_string();
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    assert!(err.contains("no_such_dir"), "{err}");
}

/// `read_csv` of a file with a text column panicked inside polars; such a panic must come back
/// as an error, whatever the sandbox does in front of it.
#[test]
fn a_text_column_read_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("text.csv");
    std::fs::write(&csv, "name,v\nabc,1\ndef,2\n").unwrap();
    let sql = format!("SELECT name FROM read_csv('{}')", csv.display());
    let outcome = execute_caught(&mut SQLContext::new(), &sql);
    eprintln!("{outcome:?}");
    let mut cat = {
        make_sweep(dir.path(), "a", 1);
        Catalog::open_dir(dir.path()).unwrap()
    };
    let err = cat.sql(&sql).unwrap_err().to_string();
    assert!(err.contains("read_csv") && !err.contains('\n'), "{err}");
}

#[test]
fn table_functions_that_read_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    make_sweep(dir.path(), "a", 1);
    let elsewhere = tempfile::tempdir().unwrap();
    make_sweep(elsewhere.path(), "b", 1);
    let part = part_files(elsewhere.path(), "runs").unwrap().remove(0);
    let csv = elsewhere.path().join("x.csv");
    std::fs::write(&csv, "name,v\nabc,1\n").unwrap();
    let mut cat = Catalog::open_dir(dir.path()).unwrap();
    for sql in [
        format!("SELECT * FROM read_parquet('{}')", part.display()),
        format!("SELECT * FROM read_csv('{}')", csv.display()),
        format!("SELECT * FROM Read_Json('{}')", csv.display()),
    ] {
        let err = cat.sql(&sql).unwrap_err();
        assert!(matches!(err, QueryError::TableFunction(_)), "{sql}: {err}");
    }
}

#[test]
fn every_output_format_writes() {
    let dir = tempfile::tempdir().unwrap();
    make_sweep(dir.path(), "a", 1);
    let mut cat = Catalog::open_dir(dir.path()).unwrap();
    let mut df = cat
        .sql("SELECT cell_key, replicate, test_acc FROM runs ORDER BY cell_key")
        .unwrap();
    let mut text = Vec::new();
    write_result(&mut df, Format::Table, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("cell_key"), "{text}");
    assert!(
        text.contains("large-000") && text.ends_with("(2 rows)\n"),
        "{text}"
    );
    let mut csv = Vec::new();
    write_result(&mut df, Format::Csv, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().next(), Some("cell_key,replicate,test_acc"));
    assert_eq!(csv.lines().count(), 3);
    let mut json = Vec::new();
    write_result(&mut df, Format::Json, &mut json).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 2);
    assert_eq!(parsed[0]["cell_key"], "large-000");
    let mut pq = Vec::new();
    write_result(&mut df, Format::Parquet, &mut pq).unwrap();
    let back = ParquetReader::new(std::io::Cursor::new(pq))
        .finish()
        .unwrap();
    assert!(back.equals_missing(&df));
}
