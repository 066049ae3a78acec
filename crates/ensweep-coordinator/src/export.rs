//! The export thread: writes assigned parts as Parquet through `ensweep_results::tables`.
//!
//! It runs on its own OS thread with its own read connection (WAL lets it read while the
//! event loop writes), so a slow Parquet write never stalls leasing. A part is only marked
//! exported after its files are in place; `write_part` is atomic and idempotent, so a part
//! redone after a crash replaces identical files.
//!
//! Export never wedges: a row whose stored result cannot be decoded goes to the `quarantine`
//! table with its reason and the rest of the part is written; a part whose write fails (disk
//! full, I/O error) is retried with exponential backoff instead of being dropped until restart.

use crate::event::Event;
use crate::ledger;
use crate::ledger::StoredOutput;
use crate::machine::ExportJob;
use ensweep_core::output::RunOutput;
use ensweep_core::wire::WireError;
use ensweep_results::tables::{
    CompletedRun, QuarantineRow, TablesError, write_part, write_quarantine_part, write_weights_part,
};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

/// First wait before a failed part is written again; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two tries of one part.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Tries of one part before it is left to the next start (bounded so that shutdown, which
/// waits for the exporter, cannot hang on a dead disk).
const MAX_TRIES: u32 = 8;

/// Runs until `jobs` closes. Reports each written part back as `Event::Exported`.
pub fn run(db: PathBuf, dir: PathBuf, jobs: Receiver<ExportJob>, events: Sender<Event>) {
    let conn = match ledger::connect(&db) {
        Ok(c) => c,
        Err(err) => {
            tracing::error!(%err, "exporter cannot open the ledger; results stay in the ledger");
            return;
        }
    };
    for job in jobs {
        if !export_with_retries(&conn, &dir, &job) {
            // The part stays unexported in the ledger and is redone at the next start.
            continue;
        }
        if events
            .send(Event::Exported {
                sweep: job.sweep,
                part: job.part,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Writes one part, retrying with exponential backoff; `false` after [`MAX_TRIES`] failures.
fn export_with_retries(
    conn: &rusqlite::Connection,
    dir: &std::path::Path,
    job: &ExportJob,
) -> bool {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=MAX_TRIES {
        match export_one(conn, dir, job) {
            Ok(()) => return true,
            Err(err) => {
                tracing::error!(sweep = %job.sweep, part = job.part, attempt, %err, "export failed");
                if attempt < MAX_TRIES {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
    false
}

/// Why a stored result cannot become a row: the reason its cell goes to quarantine.
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    /// The protobuf bytes do not decode or validate.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A result stored as JSON by an older version does not parse.
    #[error("stored JSON result: {0}")]
    Json(#[from] serde_json::Error),
    /// The cell is done but its result is not in the ledger.
    #[error("done cell without a stored result")]
    Missing,
}

/// Why a part could not be written (it is tried again, see [`export_with_retries`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// Reading the part's rows from the ledger failed.
    #[error("reading the ledger: {0}")]
    Ledger(#[from] rusqlite::Error),
    /// Writing its Parquet files failed.
    #[error(transparent)]
    Tables(#[from] TablesError),
}

/// Decodes a stored result; `Err` is the reason it goes to quarantine.
fn decode(output: StoredOutput) -> Result<RunOutput, Unreadable> {
    match output {
        // Already validated at completion; the limit only guards against a damaged ledger.
        StoredOutput::Proto(bytes) => Ok(ensweep_core::wire::decode(&bytes, usize::MAX)?),
        StoredOutput::Json(json) => Ok(serde_json::from_str(&json)?),
        StoredOutput::Missing => Err(Unreadable::Missing),
    }
}

pub(crate) fn export_one(
    conn: &rusqlite::Connection,
    dir: &std::path::Path,
    job: &ExportJob,
) -> Result<(), ExportError> {
    let Some((head, rows)) = ledger::read_part(conn, &job.sweep, job.part)? else {
        return Ok(());
    };
    let mut runs = Vec::with_capacity(rows.len());
    let mut quarantine = Vec::new();
    for r in rows {
        let output = match decode(r.output) {
            Ok(o) => o,
            Err(reason) => {
                tracing::warn!(sweep = %job.sweep, cell = %r.key, %reason, "result quarantined");
                quarantine.push(QuarantineRow {
                    cell_key: r.key,
                    attempt: r.attempt,
                    worker: r.worker,
                    reason: reason.to_string(),
                });
                continue;
            }
        };
        runs.push(CompletedRun {
            cell_key: r.key,
            sweep: job.sweep.clone(),
            kind: head.kind.clone(),
            replicate: r.replicate,
            sweep_seed: head.sweep_seed,
            config_json: r.config_json,
            axes_json: r.axes_json,
            output,
            wall_seconds: r.wall_seconds,
            worker: r.worker,
            attempt: r.attempt,
            trainer_version: head.trainer_version.clone(),
        });
    }
    // Weight matrices go to their own table (large, and only diversity analyses read them).
    let weights: Vec<_> = runs
        .iter_mut()
        .map(|r| (r.cell_key.clone(), std::mem::take(&mut r.output.weights)))
        .collect();
    let sweep_dir = dir.join(&job.sweep);
    write_part(&sweep_dir, job.part, &runs)?;
    write_weights_part(&sweep_dir, job.part, &weights)?;
    write_quarantine_part(&sweep_dir, job.part, &quarantine)?;
    Ok(())
}
