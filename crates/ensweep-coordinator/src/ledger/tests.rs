//! Schema versioning, migration of version-0 ledgers, refusal of stored content no version wrote,
//! and export of NaN results and of undecodable ones (quarantine).

use super::*;
use crate::machine::{ExportJob, MachineConfig};
use ensweep_core::output::RunOutput;
use ensweep_results::tables::read_table;

/// The schema of ledgers written before `user_version` existed (version 0).
const SCHEMA_V0: &str = "
CREATE TABLE sweeps(
  name TEXT PRIMARY KEY, spec_hash TEXT NOT NULL, spec_text TEXT NOT NULL, kind TEXT NOT NULL,
  trainer_version TEXT NOT NULL, sweep_seed INTEGER NOT NULL, identity TEXT NOT NULL,
  cancelled INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE cells(
  id INTEGER PRIMARY KEY, sweep TEXT NOT NULL, key TEXT NOT NULL, replicate INTEGER NOT NULL,
  config_json TEXT NOT NULL, axes_json TEXT NOT NULL, state INTEGER NOT NULL,
  attempt INTEGER NOT NULL, fence INTEGER NOT NULL, spent INTEGER NOT NULL, worker TEXT,
  output_json TEXT, wall_seconds REAL, part INTEGER, UNIQUE(sweep, key));
CREATE TABLE failures(
  cell INTEGER NOT NULL, attempt INTEGER NOT NULL, fence INTEGER NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL);
CREATE TABLE orphans(
  fence INTEGER NOT NULL, cell INTEGER, output_json TEXT NOT NULL, wall_seconds REAL NOT NULL,
  worker TEXT NOT NULL);
CREATE TABLE parts(
  sweep TEXT NOT NULL, part INTEGER NOT NULL, exported INTEGER NOT NULL, PRIMARY KEY(sweep, part));
INSERT INTO sweeps VALUES('s', 'h', '', 'synthetic', '1', 7, '', 0, 0);
INSERT INTO parts VALUES('s', 0, 0);
INSERT INTO orphans VALUES(9, 1, '{}', 0.5, 'w');
";

fn config() -> MachineConfig {
    MachineConfig {
        lease_ttl_ms: 1_000,
        retries: 1,
        export_batch: 1_000,
        export_interval_ms: 500,
    }
}

/// A version-0 ledger in `dir` with the given done cells `(key, state, output_json)`.
fn v0_ledger(dir: &Path, cells: &[(&str, i64, &str)]) {
    let conn = connect(&dir.join(LEDGER_FILE)).unwrap();
    conn.execute_batch(SCHEMA_V0).unwrap();
    for (i, (key, state, json)) in cells.iter().enumerate() {
        conn.execute(
            "INSERT INTO cells VALUES(?1, 's', ?2, 0, '{}', '{}', ?3, 1, ?1, 0, 'w', ?4, 0.5, 0)",
            params![i as i64 + 1, key, state, json],
        )
        .unwrap();
    }
}

fn load(dir: &Path) -> Result<Machine, CoordError> {
    let ledger = Ledger::open(dir)?;
    let mut m = Machine::new(config(), 1);
    ledger.load(&mut m, false, 0)?;
    Ok(m)
}

#[test]
fn version_0_ledger_migrates_and_its_json_results_still_export() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_string(&RunOutput {
        scalars: [("acc".to_string(), 0.5)].into(),
        ..RunOutput::default()
    })
    .unwrap();
    // What the JSON path wrote for a NaN metric: `null`, which no f64 decodes.
    let nan = r#"{"scalars":{"acc":null},"epochs":[],"layers":[],"pruning":[],"spectra":[],"trajectories":[]}"#;
    v0_ledger(dir.path(), &[("a", 2, &good), ("b", 2, nan)]);
    let mut m = load(dir.path()).unwrap();
    let conn = connect(&dir.path().join(LEDGER_FILE)).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let orphans: i64 = conn
        .query_row("SELECT COUNT(*) FROM orphans WHERE fence = 9", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(orphans, 1, "orphan rows survive the migration");
    assert_eq!(
        m.take_exports(),
        vec![ExportJob {
            sweep: "s".into(),
            part: 0
        }]
    );
    let job = ExportJob {
        sweep: "s".into(),
        part: 0,
    };
    crate::export::export_one(&conn, dir.path(), &job).unwrap();
    let runs = read_table(&dir.path().join("s"), "runs").unwrap();
    assert_eq!(runs.height(), 1);
    let q = read_table(&dir.path().join("s"), "quarantine").unwrap();
    assert_eq!(q.height(), 1);
    let reason = q.column("reason").unwrap().str().unwrap().get(0).unwrap();
    assert!(reason.contains("stored JSON"), "{reason}");
    // Opening again is a no-op: the migration ran once.
    load(dir.path()).unwrap();
}

#[test]
fn unknown_state_is_refused_not_rerun() {
    let dir = tempfile::tempdir().unwrap();
    v0_ledger(dir.path(), &[("a", 9, "{}")]);
    let Err(err) = load(dir.path()) else {
        panic!("the ledger must be refused")
    };
    let err = err.to_string();
    assert!(err.contains("unknown state 9"), "{err}");
}

#[test]
fn cell_without_its_sweep_row_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    v0_ledger(dir.path(), &[("a", 2, "{}")]);
    let conn = connect(&dir.path().join(LEDGER_FILE)).unwrap();
    conn.execute("DELETE FROM sweeps", []).unwrap();
    let Err(err) = load(dir.path()) else {
        panic!("the ledger must be refused")
    };
    let err = err.to_string();
    assert!(err.contains("which has no row"), "{err}");
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&dir.path().join(LEDGER_FILE)).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = Ledger::open(dir.path()).err().expect("refused");
    assert!(matches!(err, CoordError::LedgerVersion { .. }), "{err}");
}

#[test]
fn nan_and_infinite_results_export_faithfully_and_garbage_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    v0_ledger(dir.path(), &[("a", 2, "{}"), ("b", 2, "{}")]);
    Ledger::open(dir.path()).unwrap();
    let out = RunOutput {
        scalars: [
            ("acc".to_string(), f64::NAN),
            ("loss".to_string(), f64::INFINITY),
            ("grad".to_string(), f64::NEG_INFINITY),
        ]
        .into(),
        ..RunOutput::default()
    };
    let bytes =
        ensweep_core::wire::validate(Some(ensweep_core::wire::to_wire(&out)), 1 << 20).unwrap();
    let conn = connect(&dir.path().join(LEDGER_FILE)).unwrap();
    conn.execute("UPDATE cells SET output = ?1 WHERE key = 'a'", [&bytes])
        .unwrap();
    conn.execute("UPDATE cells SET output = X'FFFFFF' WHERE key = 'b'", [])
        .unwrap();
    let job = ExportJob {
        sweep: "s".into(),
        part: 0,
    };
    crate::export::export_one(&conn, dir.path(), &job).unwrap();
    let runs = read_table(&dir.path().join("s"), "runs").unwrap();
    assert_eq!(runs.height(), 1);
    let get = |c: &str| runs.column(c).unwrap().f64().unwrap().get(0).unwrap();
    assert!(get("acc").is_nan());
    assert_eq!(get("loss"), f64::INFINITY);
    assert_eq!(get("grad"), f64::NEG_INFINITY);
    let q = read_table(&dir.path().join("s"), "quarantine").unwrap();
    let key = q.column("cell_key").unwrap().str().unwrap().get(0).unwrap();
    assert_eq!((q.height(), key), (1, "b"));
}
