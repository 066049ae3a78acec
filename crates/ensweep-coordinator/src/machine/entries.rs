//! What the machine tracks: cells and sweeps, their states, and why an attempt ended.

use super::CellId;
use crate::status::SweepStatus;
use std::collections::HashMap;
use std::sync::Arc;

/// Lifecycle state of a cell, as stored in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellState {
    /// Waiting in a queue.
    Pending = 0,
    /// Held by a worker under a lease.
    Leased = 1,
    /// Finished with a result.
    Done = 2,
    /// Out of retry budget or a user error.
    Failed = 3,
    /// Its sweep was cancelled before it ran.
    Cancelled = 4,
}

impl CellState {
    /// Decodes the ledger's integer.
    /// `None` for a value no version of the ledger wrote: the caller refuses the ledger rather
    /// than guess (a guessed `Pending` re-ran and re-exported a finished cell).
    pub fn from_i64(v: i64) -> Option<CellState> {
        Some(match v {
            0 => CellState::Pending,
            1 => CellState::Leased,
            2 => CellState::Done,
            3 => CellState::Failed,
            4 => CellState::Cancelled,
            _ => return None,
        })
    }
}

/// Why an attempt ended without a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Trainer panic or worker-side crash; spends budget.
    Crashed,
    /// Ran past its time limit; spends budget.
    TimedOut,
    /// No heartbeat in time; spends budget.
    LeaseExpired,
    /// Worker shut down; no budget spent.
    Preempted,
    /// Trainer rejected the input; final.
    UserError,
    /// Worker cannot run this trainer version; no budget spent.
    Refused,
}

impl FailureKind {
    /// Name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Crashed => "crashed",
            FailureKind::TimedOut => "timed_out",
            FailureKind::LeaseExpired => "lease_expired",
            FailureKind::Preempted => "preempted",
            FailureKind::UserError => "user_error",
            FailureKind::Refused => "refused",
        }
    }

    /// Decodes a ledger name.
    pub fn parse(s: &str) -> Option<FailureKind> {
        Some(match s {
            "crashed" => FailureKind::Crashed,
            "timed_out" => FailureKind::TimedOut,
            "lease_expired" => FailureKind::LeaseExpired,
            "preempted" => FailureKind::Preempted,
            "user_error" => FailureKind::UserError,
            "refused" => FailureKind::Refused,
            _ => return None,
        })
    }

    pub(super) fn spends_budget(self) -> bool {
        matches!(
            self,
            FailureKind::Crashed | FailureKind::TimedOut | FailureKind::LeaseExpired
        )
    }
}

/// Tunables of the machine.
#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// A lease expires this long after its last heartbeat.
    pub lease_ttl_ms: u64,
    /// Budget-spending failures a cell may have before it is failed for good.
    pub retries: u32,
    /// Completed results per export part at most.
    pub export_batch: usize,
    /// A non-empty part is cut at least this often.
    pub export_interval_ms: u64,
}

/// One cell as the machine tracks it.
#[derive(Clone, Debug)]
pub struct CellEntry {
    /// Index of the sweep in `Machine::sweeps`.
    pub sweep: usize,
    /// Cell key.
    pub key: Arc<str>,
    /// Replicate seed.
    pub replicate: u64,
    /// Canonical config JSON.
    pub config_json: Arc<str>,
    /// JSON object of the axis values.
    pub axes_json: Arc<str>,
    /// State.
    pub state: CellState,
    /// Attempts granted so far.
    pub attempt: u32,
    /// Fence of the latest attempt.
    pub fence: u64,
    /// Budget-spending failures so far.
    pub spent: u32,
    /// Kind of the latest failed attempt (for `retry --kind`).
    pub last_failure: Option<FailureKind>,
}

/// One sweep as the machine tracks it.
#[derive(Clone, Debug)]
pub struct SweepEntry {
    /// Name.
    pub name: String,
    /// Spec hash last submitted.
    pub spec_hash: String,
    /// Trainer kind.
    pub kind: String,
    /// Trainer version of its cells.
    pub trainer_version: String,
    /// Sweep seed.
    pub sweep_seed: u64,
    /// `Spec::identity_lines` of the spec.
    pub identity: Vec<String>,
    /// Cancelled by a client.
    pub cancelled: bool,
    /// Its cells in expansion order.
    pub cells: Vec<CellId>,
    /// Next export part number.
    pub next_part: u64,
    /// Done cells not yet assigned to a part.
    pub unassigned: Vec<CellId>,
    /// When the oldest of `unassigned` completed.
    pub unassigned_since: u64,
    /// Parts assigned but not yet written, with their row counts.
    pub unexported: HashMap<u64, u64>,
    /// Counters for status.
    pub status: SweepStatus,
    /// Wall-clock limit of one attempt in ms (the spec's `time_limit_s`); 0: none.
    pub time_limit_ms: u64,
}
