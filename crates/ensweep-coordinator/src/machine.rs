//! The coordinator's pure state machine: sweeps, cells, leases, retries, export batching.
//!
//! No I/O and no clock: every transition takes `now` (milliseconds) as an argument and records
//! what must be made durable as [`Op`]s, which the event loop commits to the ledger in one
//! transaction per batch of events *before* it answers anyone. Tests drive it with synthetic
//! events and times.
//!
//! The transitions live in one module per concern: `sweeps` (submit, cancel, export parts),
//! `leases` (grant, renew, complete, fail, expire), `workers` (registrations), `retry`, and
//! `restore` (rebuilding the machine from the ledger); `entries` and `ops` hold the types.
//!
//! Invariants:
//! - a cell has at most one live lease, and its `fence` is the fence of that lease; outcomes
//!   carrying any other fence are fenced off (results become orphans, failures are ignored);
//! - a cell reaches `Done` once; its result row is assigned to exactly one export part;
//! - a lease belongs to the registration of the worker name that took it: only a call carrying
//!   that registration's session may renew, complete, fail or release it (`workers`);
//! - fences are issued in increasing order by checked arithmetic and only ever derive from
//!   fences this coordinator issued (never from orphans, which anyone could have sent).

mod entries;
mod leases;
mod ops;
mod restore;
mod retry;
mod sweeps;
#[cfg(test)]
mod tests;
mod workers;

use crate::status::{CellProgress, FailureCounts, Snapshot};
use leases::LeaseEntry;
use std::collections::{HashMap, VecDeque};

pub use entries::{CellEntry, CellState, FailureKind, MachineConfig, SweepEntry};
pub use leases::Grant;
pub use ops::{ExportJob, Op};
pub use restore::RestoredCell;
pub use workers::{MAX_SLOTS, MAX_WORKERS, Registration};

/// Largest orphaned result whose bytes the ledger keeps; a larger one keeps its row only.
pub const MAX_ORPHAN_BYTES: usize = 64 << 10;

/// Index of a cell in the machine (also its ledger row id).
pub type CellId = u64;

/// Id of a worker registration.
pub type WorkerId = u64;

/// The whole coordinator state.
#[derive(Debug)]
pub struct Machine {
    config: MachineConfig,
    /// Cells by id (index 0 unused so ids match ledger row ids starting at 1).
    cells: Vec<CellEntry>,
    /// Sweeps in creation order.
    pub sweeps: Vec<SweepEntry>,
    sweep_index: HashMap<String, usize>,
    /// Pending cells per trainer version, FIFO. Entries may be stale (cancelled, re-leased);
    /// they are skipped when popped, which is cheaper than removing them eagerly.
    queues: HashMap<String, VecDeque<CellId>>,
    leases: HashMap<u64, LeaseEntry>,
    /// Fences of attempts taken away (expired), so a late result can still name its cell,
    /// with the worker that held them (only it may deliver the orphan).
    fenced_off: HashMap<u64, (CellId, String)>,
    /// The current fence of every cell that was ever leased: finds the cell of a duplicate
    /// delivery in O(1) (a batch of 10,000 unknown fences must not scan every cell each).
    fence_cells: HashMap<u64, CellId>,
    workers: workers::Registry,
    next_fence: u64,
    ops: Vec<Op>,
    exports: Vec<ExportJob>,
}

impl Machine {
    /// An empty machine. `first_worker_id` should differ between coordinator runs so that a
    /// worker's stale id from a previous run is never mistaken for another worker.
    pub fn new(config: MachineConfig, first_worker_id: u64) -> Machine {
        Machine {
            config,
            cells: vec![CellEntry {
                sweep: 0,
                key: "".into(),
                replicate: 0,
                config_json: "".into(),
                axes_json: "".into(),
                state: CellState::Cancelled,
                attempt: 0,
                fence: 0,
                spent: 0,
                last_failure: None,
            }],
            sweeps: Vec::new(),
            sweep_index: HashMap::new(),
            queues: HashMap::new(),
            leases: HashMap::new(),
            fenced_off: HashMap::new(),
            fence_cells: HashMap::new(),
            workers: workers::Registry::new(first_worker_id),
            next_fence: 1,
            ops: Vec::new(),
            exports: Vec::new(),
        }
    }

    /// The changes made since the last call, to commit.
    pub fn take_ops(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.ops)
    }

    /// Parts to write since the last call; hand them to the exporter only after committing.
    pub fn take_exports(&mut self) -> Vec<ExportJob> {
        std::mem::take(&mut self.exports)
    }

    /// A cell by id.
    pub fn cell(&self, id: CellId) -> &CellEntry {
        &self.cells[id as usize]
    }

    /// Whether any cell waits in a queue.
    pub fn has_pending(&self) -> bool {
        self.sweeps.iter().any(|s| s.status.pending > 0)
    }

    /// Index of a sweep by name.
    pub fn sweep_index(&self, name: &str) -> Option<usize> {
        self.sweep_index.get(name).copied()
    }

    /// Counters of every sweep.
    pub fn snapshot(&self) -> Snapshot {
        let mut running: Vec<CellProgress> = self
            .leases
            .values()
            .filter_map(|l| {
                let (epochs_done, epochs_total) = l.progress?;
                let cell = &self.cells[l.cell as usize];
                Some(CellProgress {
                    sweep: self.sweeps[cell.sweep].name.clone(),
                    cell_key: cell.key.to_string(),
                    epochs_done,
                    epochs_total,
                })
            })
            .collect();
        running.sort_by(|a, b| (&a.sweep, &a.cell_key).cmp(&(&b.sweep, &b.cell_key)));
        Snapshot {
            sweeps: self.sweeps.iter().map(|s| s.status.clone()).collect(),
            workers: self.n_workers(),
            running,
        }
    }

    fn worker_name(&self, worker: u64) -> String {
        self.workers.name(worker).to_owned()
    }
}

fn bump(c: &mut FailureCounts, kind: FailureKind) {
    let slot = match kind {
        FailureKind::Crashed => &mut c.crashed,
        FailureKind::TimedOut => &mut c.timed_out,
        FailureKind::LeaseExpired => &mut c.lease_expired,
        FailureKind::Preempted => &mut c.preempted,
        FailureKind::UserError => &mut c.user_error,
        FailureKind::Refused => &mut c.refused,
    };
    *slot += 1;
}
