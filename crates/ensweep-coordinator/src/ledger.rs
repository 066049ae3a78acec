//! The durable ledger: SQLite in WAL mode, one transaction per batch of machine ops.
//!
//! The ledger is the system of record for scheduling (sweeps, cells, attempts, fences,
//! failures, orphans, export parts); Parquet is the system of record for results. Results are
//! also kept here (as the protobuf-encoded `ensweep.v1.RunOutput`, NaN and ±Inf included)
//! until their part is exported, so an export that was cut
//! short can be redone byte for byte after a crash. `synchronous = FULL`: a commit is on disk
//! before the event loop replies, which is the whole point of writing before acknowledging;
//! group commit keeps that affordable (one fsync per batch, not per cell).
//!
//! The schema is versioned with `PRAGMA user_version` ([`SCHEMA_VERSION`]). Version 0 (no
//! version set) stored results as JSON in `output_json`; version 1 stores the protobuf bytes in
//! `output` and still reads `output_json` of cells finished before the upgrade.

use crate::error::CoordError;
use crate::machine::{CellEntry, CellState, FailureKind, Machine, Op, RestoredCell, SweepEntry};
use crate::status::SweepStatus;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File name of the ledger inside the coordinator directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";

/// Version of the schema this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// The current schema. `cells.output_json` is only read: results of version-0 ledgers.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sweeps(
  name TEXT PRIMARY KEY, spec_hash TEXT NOT NULL, spec_text TEXT NOT NULL, kind TEXT NOT NULL,
  trainer_version TEXT NOT NULL, sweep_seed INTEGER NOT NULL, identity TEXT NOT NULL,
  cancelled INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cells(
  id INTEGER PRIMARY KEY, sweep TEXT NOT NULL, key TEXT NOT NULL, replicate INTEGER NOT NULL,
  config_json TEXT NOT NULL, axes_json TEXT NOT NULL, state INTEGER NOT NULL,
  attempt INTEGER NOT NULL, fence INTEGER NOT NULL, spent INTEGER NOT NULL, worker TEXT,
  output_json TEXT, wall_seconds REAL, part INTEGER, output BLOB, UNIQUE(sweep, key));
CREATE INDEX IF NOT EXISTS cells_part ON cells(sweep, part);
CREATE TABLE IF NOT EXISTS failures(
  cell INTEGER NOT NULL, attempt INTEGER NOT NULL, fence INTEGER NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orphans(
  fence INTEGER NOT NULL, cell INTEGER, output BLOB NOT NULL, wall_seconds REAL NOT NULL,
  worker TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts(
  sweep TEXT NOT NULL, part INTEGER NOT NULL, exported INTEGER NOT NULL, PRIMARY KEY(sweep, part));
";

/// Version 0 -> 1: results become protobuf bytes. Cells gain `output` (old JSON stays readable
/// in `output_json`); orphans, kept for diagnosis only, keep their rows but not their JSON.
const MIGRATE_0_TO_1: &str = "
ALTER TABLE cells ADD COLUMN output BLOB;
ALTER TABLE orphans RENAME TO orphans_v0;
CREATE TABLE orphans(
  fence INTEGER NOT NULL, cell INTEGER, output BLOB NOT NULL, wall_seconds REAL NOT NULL,
  worker TEXT NOT NULL);
INSERT INTO orphans(fence, cell, output, wall_seconds, worker)
  SELECT fence, cell, X'', wall_seconds, worker FROM orphans_v0;
DROP TABLE orphans_v0;
";

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

/// Opens a connection with the pragmas every ledger connection uses.
pub fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl Ledger {
    /// Opens (creating if needed) the ledger in `dir`.
    pub fn open(dir: &Path) -> Result<Ledger, CoordError> {
        let path = dir.join(LEDGER_FILE);
        let err = |source| CoordError::Ledger {
            path: path.clone(),
            source,
        };
        let mut conn = connect(&path).map_err(err)?;
        let version = migrate(&mut conn).map_err(err)?;
        if version != SCHEMA_VERSION {
            return Err(CoordError::LedgerVersion {
                path,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(Ledger { conn, path })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> CoordError + '_ {
        move |source| CoordError::Ledger {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads everything back into `machine`.
    pub fn load(
        &self,
        machine: &mut Machine,
        restore_leases: bool,
        now: u64,
    ) -> Result<(), CoordError> {
        self.load_inner(machine, restore_leases, now)
            .map_err(self.err())
    }

    fn load_inner(
        &self,
        machine: &mut Machine,
        restore_leases: bool,
        now: u64,
    ) -> Result<(), rusqlite::Error> {
        self.load_sweeps(machine, now)?;
        let exported_parts = self.exported_parts()?;
        self.load_cells(machine, &exported_parts, restore_leases, now)?;
        self.load_failures(machine)?;
        self.load_orphans(machine)?;
        machine.finish_restore();
        Ok(())
    }

    /// Every sweep, in creation order.
    fn load_sweeps(&self, machine: &mut Machine, now: u64) -> Result<(), rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT name, spec_hash, kind, trainer_version, sweep_seed, identity, cancelled
             FROM sweeps ORDER BY created, name",
        )?;
        let rows = stmt.query_map([], |r| {
            let identity: String = r.get(5)?;
            Ok(SweepEntry {
                name: r.get(0)?,
                spec_hash: r.get(1)?,
                kind: r.get(2)?,
                trainer_version: r.get(3)?,
                sweep_seed: r.get::<_, i64>(4)? as u64,
                identity: identity.lines().map(str::to_owned).collect(),
                cancelled: r.get::<_, i64>(6)? != 0,
                cells: Vec::new(),
                next_part: 0,
                unassigned: Vec::new(),
                unassigned_since: now,
                unexported: HashMap::new(),
                status: SweepStatus::default(),
                // Not kept in the ledger: cells leased after a restart run without a limit.
                time_limit_ms: 0,
            })
        })?;
        for s in rows {
            machine.restore_sweep(s?);
        }
        Ok(())
    }

    /// Whether each assigned part, by (sweep, part), is written.
    fn exported_parts(&self) -> Result<HashMap<(String, u64), bool>, rusqlite::Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT sweep, part, exported FROM parts")?;
        stmt.query_map([], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64),
                r.get::<_, i64>(2)? != 0,
            ))
        })?
        .collect()
    }

    /// Every cell, in id order; refuses a cell of an unknown sweep or in an unknown state.
    fn load_cells(
        &self,
        machine: &mut Machine,
        exported_parts: &HashMap<(String, u64), bool>,
        restore_leases: bool,
        now: u64,
    ) -> Result<(), rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT id, sweep, key, replicate, config_json, axes_json, state, attempt, fence,
                    spent, worker, part FROM cells ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id = r.get::<_, i64>(0)? as u64;
            let sweep_name: String = r.get(1)?;
            let Some(sweep) = machine.sweep_index(&sweep_name) else {
                return Err(corrupt(
                    1,
                    format!("cell {id} names sweep `{sweep_name}`, which has no row"),
                ));
            };
            let part = r.get::<_, Option<i64>>(11)?.map(|p| p as u64);
            let part_exported = part.is_some_and(|p| {
                exported_parts
                    .get(&(sweep_name.clone(), p))
                    .copied()
                    .unwrap_or(false)
            });
            let entry = CellEntry {
                sweep,
                key: r.get::<_, String>(2)?.into(),
                replicate: r.get::<_, i64>(3)? as u64,
                config_json: r.get::<_, String>(4)?.into(),
                axes_json: r.get::<_, String>(5)?.into(),
                state: {
                    let v: i64 = r.get(6)?;
                    CellState::from_i64(v)
                        .ok_or_else(|| corrupt(6, format!("cell {id} has unknown state {v}")))?
                },
                attempt: r.get::<_, i64>(7)? as u32,
                fence: r.get::<_, i64>(8)? as u64,
                spent: r.get::<_, i64>(9)? as u32,
                last_failure: None,
            };
            let cell = RestoredCell {
                entry,
                part,
                part_exported,
                worker: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
            };
            machine.restore_cell(id, cell, restore_leases, now);
        }
        Ok(())
    }

    /// Every recorded failure, in the order they happened.
    fn load_failures(&self, machine: &mut Machine) -> Result<(), rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT c.sweep, f.kind, f.fence, f.cell FROM failures f JOIN cells c ON c.id = f.cell
             ORDER BY f.rowid",
        )?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
            ))
        })? {
            let (sweep, kind, fence, cell) = row?;
            if let (Some(_), Some(kind)) = (machine.sweep_index(&sweep), FailureKind::parse(&kind))
            {
                machine.restore_failure(cell, kind, fence);
            }
        }
        Ok(())
    }

    /// Every orphaned result, counted against its sweep when its cell is known.
    fn load_orphans(&self, machine: &mut Machine) -> Result<(), rusqlite::Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT c.sweep FROM orphans o LEFT JOIN cells c ON c.id = o.cell")?;
        for sweep in stmt.query_map([], |r| r.get::<_, Option<String>>(0))? {
            let idx = sweep?.and_then(|s| machine.sweep_index(&s));
            machine.restore_orphan(idx);
        }
        Ok(())
    }

    /// Commits `ops` in one transaction.
    pub fn commit(&mut self, ops: &[Op], machine: &Machine, now: u64) -> Result<(), CoordError> {
        if ops.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        commit_inner(&mut self.conn, ops, machine, now)
            .map_err(|source| CoordError::Ledger { path, source })
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction; returns the version found after
/// (a newer one than this build knows is left alone and refused by the caller).
fn migrate(conn: &mut Connection) -> Result<i64, rusqlite::Error> {
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Ok(version);
    }
    let old_tables: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cells')",
        [],
        |r| r.get(0),
    )?;
    if version == 0 && old_tables {
        tx.execute_batch(MIGRATE_0_TO_1)?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(SCHEMA_VERSION)
}

/// An error for stored content no version of this program wrote.
fn corrupt(column: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Integer,
        message.into(),
    )
}

fn commit_inner(
    conn: &mut Connection,
    ops: &[Op],
    m: &Machine,
    now: u64,
) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    for op in ops {
        write_op(&tx, op, m, now)?;
    }
    tx.commit()
}

/// The rows one op changes.
fn write_op(
    tx: &rusqlite::Transaction<'_>,
    op: &Op,
    m: &Machine,
    now: u64,
) -> Result<(), rusqlite::Error> {
    match op {
        Op::UpsertSweep { sweep, spec_text } => {
            let s = &m.sweeps[*sweep];
            tx.prepare_cached(
                "INSERT INTO sweeps(name, spec_hash, spec_text, kind, trainer_version,
                        sweep_seed, identity, cancelled, created)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT(name) DO UPDATE SET spec_hash = ?2,
                        spec_text = COALESCE(NULLIF(?3, ''), spec_text), cancelled = ?8",
            )?
            .execute(params![
                s.name,
                s.spec_hash,
                spec_text,
                s.kind,
                s.trainer_version,
                s.sweep_seed as i64,
                s.identity.join("\n"),
                s.cancelled as i64,
                now as i64,
            ])?;
        }
        Op::InsertCell(id) => {
            let c = m.cell(*id);
            tx.prepare_cached(
                "INSERT INTO cells(id, sweep, key, replicate, config_json, axes_json, state,
                        attempt, fence, spent) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0)",
            )?
            .execute(params![
                *id as i64,
                m.sweeps[c.sweep].name,
                &*c.key,
                c.replicate as i64,
                &*c.config_json,
                &*c.axes_json,
                c.state as i64,
            ])?;
        }
        Op::Grant { cell, worker } => {
            let c = m.cell(*cell);
            tx.prepare_cached(
                "UPDATE cells SET state = 1, attempt = ?2, fence = ?3, worker = ?4 WHERE id = ?1",
            )?
            .execute(params![
                *cell as i64,
                c.attempt as i64,
                c.fence as i64,
                worker
            ])?;
        }
        Op::Complete {
            cell,
            output,
            wall_seconds,
            worker,
        } => {
            tx.prepare_cached(
                "UPDATE cells SET state = 2, output = ?2, wall_seconds = ?3, worker = ?4
                     WHERE id = ?1",
            )?
            .execute(params![*cell as i64, output, wall_seconds, worker])?;
        }
        Op::Failure {
            cell,
            attempt,
            fence,
            kind,
            message,
        } => {
            tx.prepare_cached(
                "INSERT INTO failures(cell, attempt, fence, kind, message)
                     VALUES(?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                *cell as i64,
                *attempt as i64,
                *fence as i64,
                kind.as_str(),
                message
            ])?;
        }
        Op::SetState(id) => {
            let c = m.cell(*id);
            tx.prepare_cached("UPDATE cells SET state = ?2, spent = ?3 WHERE id = ?1")?
                .execute(params![*id as i64, c.state as i64, c.spent as i64])?;
        }
        Op::Orphan {
            fence,
            cell,
            output,
            wall_seconds,
            worker,
        } => {
            tx.prepare_cached(
                "INSERT INTO orphans(fence, cell, output, wall_seconds, worker)
                     VALUES(?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                *fence as i64,
                cell.map(|c| c as i64),
                output,
                wall_seconds,
                worker
            ])?;
        }
        Op::AssignPart { sweep, part, cells } => {
            let name = &m.sweeps[*sweep].name;
            tx.prepare_cached("INSERT INTO parts(sweep, part, exported) VALUES(?1, ?2, 0)")?
                .execute(params![name, *part as i64])?;
            let mut stmt = tx.prepare_cached("UPDATE cells SET part = ?2 WHERE id = ?1")?;
            for id in cells {
                stmt.execute(params![*id as i64, *part as i64])?;
            }
        }
        Op::Exported { sweep, part } => {
            tx.prepare_cached("UPDATE parts SET exported = 1 WHERE sweep = ?1 AND part = ?2")?
                .execute(params![m.sweeps[*sweep].name, *part as i64])?;
        }
    }
    Ok(())
}

/// Row data of one exported cell, as the exporter reads it.
pub struct ExportRow {
    /// Cell key.
    pub key: String,
    /// Replicate seed.
    pub replicate: u64,
    /// Canonical config JSON.
    pub config_json: String,
    /// Axis values JSON.
    pub axes_json: String,
    /// Attempt that produced the result.
    pub attempt: u32,
    /// Worker name.
    pub worker: String,
    /// The stored result.
    pub output: StoredOutput,
    /// Wall time.
    pub wall_seconds: f64,
}

/// A result as the ledger holds it.
pub enum StoredOutput {
    /// Protobuf-encoded `ensweep.v1.RunOutput` (schema version 1 and later).
    Proto(Vec<u8>),
    /// RunOutput JSON of a cell finished under schema version 0.
    Json(String),
    /// Neither: a done cell without a result (never written by this program).
    Missing,
}

/// Sweep-level columns of an exported part.
pub struct ExportSweep {
    /// Trainer kind.
    pub kind: String,
    /// Trainer version.
    pub trainer_version: String,
    /// Sweep seed.
    pub sweep_seed: u64,
}

/// Reads the rows of one part (ascending cell id, so a re-export writes the same file).
pub fn read_part(
    conn: &Connection,
    sweep: &str,
    part: u64,
) -> Result<Option<(ExportSweep, Vec<ExportRow>)>, rusqlite::Error> {
    let Some(head) = conn
        .query_row(
            "SELECT kind, trainer_version, sweep_seed FROM sweeps WHERE name = ?1",
            [sweep],
            |r| {
                Ok(ExportSweep {
                    kind: r.get(0)?,
                    trainer_version: r.get(1)?,
                    sweep_seed: r.get::<_, i64>(2)? as u64,
                })
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT key, replicate, config_json, axes_json, attempt, worker, output, output_json,
                wall_seconds FROM cells WHERE sweep = ?1 AND part = ?2 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![sweep, part as i64], |r| {
            Ok(ExportRow {
                key: r.get(0)?,
                replicate: r.get::<_, i64>(1)? as u64,
                config_json: r.get(2)?,
                axes_json: r.get(3)?,
                attempt: r.get::<_, i64>(4)? as u32,
                worker: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                output: match (r.get::<_, Option<Vec<u8>>>(6)?, r.get(7)?) {
                    (Some(bytes), _) => StoredOutput::Proto(bytes),
                    (None, Some(json)) => StoredOutput::Json(json),
                    (None, None) => StoredOutput::Missing,
                },
                // NaN is stored as NULL by SQLite; read it back as NaN, not as zero.
                wall_seconds: r.get::<_, Option<f64>>(8)?.unwrap_or(f64::NAN),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((head, rows)))
}

#[cfg(test)]
mod tests;
