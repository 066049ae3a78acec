//! The export thread: writes assigned parts as Parquet through `ensweep_results::tables`.
//!
//! It runs on its own OS thread with its own read connection (WAL lets it read while the
//! event loop writes), so a slow Parquet write never stalls leasing. A part is only marked
//! exported after its files are in place; `write_part` is atomic and idempotent, so a part
//! redone after a crash replaces identical files.

use crate::event_loop::Event;
use crate::ledger;
use crate::machine::ExportJob;
use ensweep_results::tables::{CompletedRun, write_part, write_weights_part};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};

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
        match export_one(&conn, &dir, &job) {
            Ok(()) => {
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
            // The part stays unexported in the ledger and is redone at the next start.
            Err(err) => tracing::error!(sweep = %job.sweep, part = job.part, %err, "export failed"),
        }
    }
}

fn export_one(
    conn: &rusqlite::Connection,
    dir: &std::path::Path,
    job: &ExportJob,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some((head, rows)) = ledger::read_part(conn, &job.sweep, job.part)? else {
        return Ok(());
    };
    let runs = rows
        .into_iter()
        .map(|r| {
            Ok(CompletedRun {
                cell_key: r.key,
                sweep: job.sweep.clone(),
                kind: head.kind.clone(),
                replicate: r.replicate,
                sweep_seed: head.sweep_seed,
                config_json: r.config_json,
                axes_json: r.axes_json,
                output: serde_json::from_str(&r.output_json)?,
                wall_seconds: r.wall_seconds,
                worker: r.worker,
                attempt: r.attempt,
                trainer_version: head.trainer_version.clone(),
            })
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    let mut runs = runs;
    // Weight matrices go to their own table (large, and only diversity analyses read them).
    let weights: Vec<_> = runs
        .iter_mut()
        .map(|r| (r.cell_key.clone(), std::mem::take(&mut r.output.weights)))
        .collect();
    let sweep_dir = dir.join(&job.sweep);
    write_part(&sweep_dir, job.part, &runs)?;
    write_weights_part(&sweep_dir, job.part, &weights)?;
    Ok(())
}
