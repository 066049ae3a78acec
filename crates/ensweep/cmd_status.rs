//! `ensweep status`: show (or follow, or wait on) the sweeps of a coordinator.
//!
//! `--wait` blocks until the sweep is finished (every cell final, every result exported) and
//! `--wait-done N` until N cells are done: scripts and tests wait on the coordinator's own
//! state instead of sleeping. `--follow` adds an ETA once a cell has finished while watching
//! (the rate seen since then); `--json` prints one JSON object per sweep and update.

use crate::progress::{Throughput, human};
use clap::Args;
use ensweep_proto::v1 as pb;
use std::collections::HashMap;
use std::io::Write;

/// Arguments of `ensweep status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub remote: crate::credentials::Remote,
    /// Only this sweep.
    #[arg(long)]
    pub sweep: Option<String>,
    /// Keep printing updates.
    #[arg(long)]
    pub follow: bool,
    /// Block until the sweep(s) are finished; print the final state.
    #[arg(long)]
    pub wait: bool,
    /// Block until at least this many cells are done.
    #[arg(long)]
    pub wait_done: Option<u64>,
    /// One JSON object per sweep and update, for tools.
    #[arg(long)]
    pub json: bool,
}

/// Cells of `s` in a final state.
fn finished_cells(s: &pb::SweepStatus) -> u64 {
    s.done + s.failed + s.cancelled
}

/// One JSON object describing a sweep (`eta_s` null without a basis).
fn json(s: &pb::SweepStatus, workers: u32, eta: Option<std::time::Duration>) -> String {
    let f = s.failures.unwrap_or_default();
    serde_json::json!({
        "event": "status", "sweep": s.name, "kind": s.kind, "total": s.total,
        "pending": s.pending, "leased": s.leased, "done": s.done, "failed": s.failed,
        "cancelled": s.cancelled, "exported": s.exported, "orphaned": s.orphaned,
        "finished": s.finished, "workers": workers, "eta_s": eta.map(|d| d.as_secs_f64()),
        "running": s.running.iter().map(|r| serde_json::json!({
            "key": r.cell_key, "epochs_done": r.epochs_done, "epochs_total": r.epochs_total,
        })).collect::<Vec<_>>(),
        "failures": {
            "crashed": f.crashed, "timed_out": f.timed_out, "lease_expired": f.lease_expired,
            "preempted": f.preempted, "user_error": f.user_error, "refused": f.refused,
        },
    })
    .to_string()
}

/// One line describing a sweep.
pub fn line(s: &pb::SweepStatus) -> String {
    let f = s.failures.unwrap_or_default();
    format!(
        "{}: {}/{} done, {} pending, {} leased, {} failed, {} cancelled, {} exported, {} orphaned; \
         failures: crashed {}, timed out {}, lease expired {}, preempted {}, user error {}, refused {}{}",
        s.name,
        s.done,
        s.total,
        s.pending,
        s.leased,
        s.failed,
        s.cancelled,
        s.exported,
        s.orphaned,
        f.crashed,
        f.timed_out,
        f.lease_expired,
        f.preempted,
        f.user_error,
        f.refused,
        if s.finished { " [finished]" } else { "" }
    ) + &running_epochs(&s.running)
}

/// `; running: 5d874459 epoch 23/200, ...`, or nothing when no running cell reported.
fn running_epochs(running: &[pb::RunningCell]) -> String {
    if running.is_empty() {
        return String::new();
    }
    let cells: Vec<String> = running
        .iter()
        .map(|r| {
            let key = r.cell_key.get(..8).unwrap_or(&r.cell_key);
            match r.epochs_total {
                0 => format!("{key} epoch {}", r.epochs_done),
                t => format!("{key} epoch {}/{t}", r.epochs_done),
            }
        })
        .collect();
    format!("; running: {}", cells.join(", "))
}

/// Runs `ensweep status`.
pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut c = crate::cmd_submit::client(&args.remote).await?;
        let waiting = args.wait || args.wait_done.is_some();
        let mut rates = HashMap::new();
        let mut stream = c
            .watch_status(pb::WatchStatusRequest {
                sweep: args.sweep.clone().unwrap_or_default(),
                follow: args.follow || waiting,
            })
            .await
            .map_err(|s| args.remote.error(&s))?
            .into_inner();
        while let Some(msg) = stream.message().await.map_err(|s| args.remote.error(&s))? {
            let done: u64 = msg.sweeps.iter().map(|s| s.done).sum();
            let finished = !msg.sweeps.is_empty() && msg.sweeps.iter().all(|s| s.finished);
            let reached = match (args.wait, args.wait_done) {
                (true, _) => finished,
                (false, Some(n)) => done >= n,
                _ => true,
            };
            if args.follow || !waiting || reached {
                // The reader went away (`ensweep status | grep -q ...`): nothing more to say.
                let written = print(&args, &msg, &mut rates);
                if !crate::answer::reader_present(written, "writing the status to stdout")? {
                    return Ok(());
                }
            }
            if reached && !args.follow {
                return Ok(());
            }
        }
        anyhow::bail!("the coordinator closed the status stream")
    })
}

/// Prints one update: a line (or JSON object) per sweep, and the workers. Returns write errors
/// rather than panicking as `println!` does: `status` keeps Rust's ignored SIGPIPE (it owns a
/// socket, `exit_quietly_on_closed_pipe` in main.rs), so a closed stdout shows up here.
fn print(
    args: &StatusArgs,
    msg: &pb::WatchStatusResponse,
    rates: &mut HashMap<String, Throughput>,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for s in &msg.sweeps {
        let rate = rates
            .entry(s.name.clone())
            .or_insert_with(|| Throughput::new(finished_cells(s)));
        let eta = (!s.finished)
            .then(|| rate.eta(finished_cells(s), s.pending + s.leased))
            .flatten();
        if args.json {
            writeln!(out, "{}", json(s, msg.workers, eta))?;
        } else if let Some(eta) = eta.filter(|_| args.follow) {
            writeln!(out, "{}; ETA {}", line(s), human(eta))?;
        } else {
            writeln!(out, "{}", line(s))?;
        }
    }
    if args.sweep.is_none() && !args.json {
        writeln!(out, "workers: {}", msg.workers)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_cells_show_their_epochs_in_the_status_line() {
        let cell = |key: &str, done, total| pb::RunningCell {
            cell_key: key.into(),
            epochs_done: done,
            epochs_total: total,
        };
        assert_eq!(running_epochs(&[]), "");
        assert_eq!(
            running_epochs(&[cell("5d87445937e706eb", 23, 200), cell("ab", 4, 0)]),
            "; running: 5d874459 epoch 23/200, ab epoch 4"
        );
    }
}
