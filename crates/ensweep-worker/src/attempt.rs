//! One leased cell: wait for a slot, train it on a blocking thread under a cancel flag and its
//! time limit, and turn how it ended into the outcome the sender task reports.

use super::{Outcome, Progress, Shared};
use crate::checkpoint::CellCheckpoint;
use ensweep_core::output::{EpochRow, TrainSink};
use ensweep_core::spec::Cell;
use ensweep_core::trainer::TrainError;
use ensweep_proto::v1 as pb;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Cancels a trainer when its lease is revoked, the worker stops, or the cell's time limit
/// (a monotonic deadline) has passed; keeps the cell's checkpoint where the worker has a
/// checkpoint directory.
struct FlagSink {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
    checkpoint: Option<CellCheckpoint>,
    cell_key: String,
    /// Where the heartbeat reads this cell's epochs, under its fence.
    progress: Progress,
    fence: u64,
}

impl FlagSink {
    fn report(&self, done: u32, total: u32) {
        self.progress
            .lock()
            .expect("progress")
            .insert(self.fence, (done, total));
    }
}

impl FlagSink {
    fn timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

impl TrainSink for FlagSink {
    fn on_epoch(&mut self, row: &EpochRow, epochs_total: u32) {
        self.report(row.epoch.saturating_add(1).min(epochs_total), epochs_total);
    }
    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.timed_out()
    }
    fn resume_state(&mut self) -> Option<Vec<u8>> {
        self.checkpoint.as_ref()?.load()
    }
    fn resumed(&mut self, epochs_done: u32) {
        self.report(epochs_done, 0);
        tracing::info!(cell = %self.cell_key, epochs_done, "resuming from checkpoint");
    }
    fn checkpoint_due(&mut self) -> bool {
        self.checkpoint.as_ref().is_some_and(CellCheckpoint::due)
    }
    fn save_checkpoint(&mut self, epochs_done: u32, state: Vec<u8>) {
        if let Some(c) = &mut self.checkpoint {
            c.save(epochs_done, &state);
        }
    }
}

/// How a run ended on its blocking thread.
enum RunEnd {
    Done(pb::RunOutput, f64),
    TimedOut(f64),
    Err(TrainError),
}

/// Waits for a slot, trains the cell on a blocking thread, and queues its outcome.
pub(super) async fn run_cell(
    shared: Arc<Shared>,
    lease: pb::Lease,
    flag: Arc<AtomicBool>,
    out: mpsc::UnboundedSender<Outcome>,
) {
    let fence = lease.fence;
    let outcome = attempt(&shared, lease, flag).await;
    shared.progress.lock().expect("progress").remove(&fence);
    let _ = out.send(outcome);
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    shared.freed.notify_one();
}

async fn attempt(shared: &Shared, lease: pb::Lease, flag: Arc<AtomicBool>) -> Outcome {
    let fence = lease.fence;
    let Ok(permit) = shared.slots.clone().acquire_owned().await else {
        return Outcome::Released(fence, pb::ReleaseReason::Preempted);
    };
    if shared.stopping.load(Ordering::SeqCst) || flag.load(Ordering::SeqCst) {
        return Outcome::Released(fence, pb::ReleaseReason::Preempted);
    }
    // Refuse cells built for another trainer version than this binary's.
    let trainers = shared.config.trainers;
    if trainers.get(&lease.kind).map(|t| t.version()).ok() != Some(lease.trainer_version.as_str()) {
        tracing::warn!(kind = %lease.kind, version = %lease.trainer_version, "refusing cell of another trainer version");
        return Outcome::Released(fence, pb::ReleaseReason::Refused);
    }
    let limit = (lease.time_limit_ms > 0).then(|| Duration::from_millis(lease.time_limit_ms));
    let axes = serde_json::from_str(&lease.axes_json).unwrap_or_default();
    let cell = Cell {
        key: lease.cell_key,
        sweep: lease.sweep,
        kind: lease.kind,
        trainer_version: lease.trainer_version,
        config_json: lease.config_json,
        sweep_seed: lease.sweep_seed,
        replicate: lease.replicate,
        axes,
    };
    let checkpoints = shared.config.checkpoints.clone();
    let progress = shared.progress.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let mut sink = FlagSink {
            flag,
            deadline: limit.map(|l| started + l),
            checkpoint: checkpoints.and_then(|p| CellCheckpoint::new(&p, &cell)),
            cell_key: cell.key.clone(),
            progress,
            fence,
        };
        let res = trainers.train(&cell, &mut sink);
        let wall = started.elapsed().as_secs_f64();
        // A result, or a failure that a retry repeats: the checkpoint has served. Otherwise
        // (cancelled, timed out, crashed) the next attempt resumes from it.
        let settled = match &res {
            Ok(_) => true,
            Err(e) => e.is_user_error(),
        };
        if let (true, Some(c)) = (settled, &sink.checkpoint) {
            c.remove();
        }
        match res {
            Ok(o) => RunEnd::Done(ensweep_core::wire::to_wire(&o), wall),
            Err(TrainError::Cancelled) if sink.timed_out() && !sink.flag.load(Ordering::SeqCst) => {
                RunEnd::TimedOut(wall)
            }
            Err(e) => RunEnd::Err(e),
        }
    })
    .await;
    match joined {
        Ok(RunEnd::Done(output, wall_seconds)) => Outcome::Completed(pb::CellResult {
            fence,
            output: Some(output),
            wall_seconds,
        }),
        Ok(RunEnd::TimedOut(wall)) => Outcome::Failed(pb::CellFailure {
            fence,
            kind: pb::FailureKind::TimedOut as i32,
            message: format!("stopped at the time limit after {wall:.1} s"),
        }),
        Ok(RunEnd::Err(TrainError::Cancelled)) => {
            Outcome::Released(fence, pb::ReleaseReason::Preempted)
        }
        Ok(RunEnd::Err(err)) => Outcome::Failed(pb::CellFailure {
            fence,
            kind: (if err.is_user_error() {
                pb::FailureKind::UserError
            } else {
                pb::FailureKind::Crashed
            }) as i32,
            message: err.to_string(),
        }),
        Err(join) => Outcome::Failed(pb::CellFailure {
            fence,
            kind: pb::FailureKind::Crashed as i32,
            message: panic_message(join),
        }),
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .map_or_else(
                || "trainer panicked".to_owned(),
                |m| format!("trainer panicked: {m}"),
            ),
        Err(e) => e.to_string(),
    }
}
