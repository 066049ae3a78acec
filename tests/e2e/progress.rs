//! `ensweep run` progress off a terminal: one line per cell in a log, JSON lines with `--json`.

use crate::harness::ensweep;
use std::collections::BTreeSet;
use std::path::Path;

/// 2 seeds x 2 values; seed 1 fails as a user error, so 2 cells end done and 2 failed.
fn failing_spec(dir: &Path, name: &str) -> std::path::PathBuf {
    let text = format!(
        "[sweep]\nname = \"{name}\"\nseed = 7\nseeds = 2\n\n[synthetic]\nsleep_ms = 20\n\
         fail_on_seed = 1\n\n[grid]\nx = [1.0, 2.0]\n"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write spec");
    path
}

fn run(dir: &Path, name: &str, extra: &[&str]) -> String {
    let spec = failing_spec(dir, name);
    let out = dir.join("out");
    let mut args = vec![
        "run",
        spec.to_str().unwrap(),
        "--dir",
        out.to_str().unwrap(),
        "--slots",
        "2",
    ];
    args.extend_from_slice(extra);
    let out = ensweep(&args, &[]);
    // A sweep that ran to its end with failed cells exits 1 (README.md, "Exit codes").
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Keys of the cells whose rows are in the sweep's `runs` table.
fn stored_keys(dir: &Path, name: &str) -> BTreeSet<String> {
    let df = ensweep_results::tables::read_table(&dir.join("out").join(name), "runs")
        .expect("read runs table");
    let keys = df.column("cell_key").expect("cell_key column");
    let keys = keys.str().expect("string keys");
    (0..keys.len())
        .map(|i| keys.get(i).expect("key").to_owned())
        .collect()
}

#[test]
fn a_log_gets_one_line_per_cell_and_a_summary_and_json_lines_all_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // stdout is a pipe here, as in a batch job's log.
    let log = run(dir, "lines", &[]);
    let cells: Vec<&str> = log.lines().filter(|l| l.starts_with("cell ")).collect();
    let done: BTreeSet<String> = cells
        .iter()
        .filter(|l| l.split(' ').nth(2) == Some("done"))
        .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(cells.len(), 4, "{log}");
    assert_eq!(done, stored_keys(dir, "lines"), "{log}");
    assert!(cells.iter().all(|l| {
        l.ends_with(" s") || l.contains(" failed (user_error): synthetic failure on seed 1")
    }));
    assert!(
        log.lines()
            .next()
            .unwrap()
            .starts_with("start lines: 4 cells, 4 to run")
    );
    let end = log.lines().last().unwrap();
    assert!(end.starts_with("end lines: 2/4 done, 2 failed, 0 cancelled, 0 running, 0 queued"));

    let json = run(dir, "json", &["--json"]);
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"start"), "{json}");
    assert_eq!(kinds.last(), Some(&"end"), "{json}");
    let cells: Vec<_> = events.iter().filter(|e| e["event"] == "cell").collect();
    assert_eq!(cells.len(), 4, "{json}");
    let done: BTreeSet<String> = cells
        .iter()
        .filter(|e| e["outcome"] == "done")
        .inspect(|e| assert!(e["seconds"].as_f64().unwrap() > 0.0, "{e}"))
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(done, stored_keys(dir, "json"));
    let end = events.last().unwrap();
    assert_eq!(
        (end["done"].as_u64(), end["failed"].as_u64()),
        (Some(2), Some(2))
    );
}
