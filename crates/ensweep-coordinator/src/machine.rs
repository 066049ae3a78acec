//! The coordinator's pure state machine: sweeps, cells, leases, retries, export batching.
//!
//! No I/O and no clock: every transition takes `now` (milliseconds) as an argument and records
//! what must be made durable as [`Op`]s, which the event loop commits to the ledger in one
//! transaction per batch of events *before* it answers anyone. Tests drive it with synthetic
//! events and times.
//!
//! Invariants:
//! - a cell has at most one live lease, and its `fence` is the fence of that lease; outcomes
//!   carrying any other fence are fenced off (results become orphans, failures are ignored);
//! - a cell reaches `Done` once; its result row is assigned to exactly one export part;
//! - a lease belongs to the registration of the worker name that took it: only a call carrying
//!   that registration's session may renew, complete, fail or release it (see `workers.rs`);
//! - fences are issued in increasing order by checked arithmetic and only ever derive from
//!   fences this coordinator issued (never from orphans, which anyone could have sent).

use crate::error::CoordError;
use crate::identity::{self, Submission};
use crate::status::{FailureCounts, Snapshot, SweepStatus};
use ensweep_core::spec::Spec;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// Largest orphaned result whose bytes the ledger keeps; a larger one keeps its row only.
pub const MAX_ORPHAN_BYTES: usize = 64 << 10;

/// Index of a cell in the machine (also its ledger row id).
pub type CellId = u64;

/// Id of a worker registration.
pub type WorkerId = u64;

pub use workers::{MAX_SLOTS, MAX_WORKERS, Registration};

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

    fn spends_budget(self) -> bool {
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

/// A lease as handed to a worker.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// Fence (= lease id).
    pub fence: u64,
    /// Cell key.
    pub cell_key: Arc<str>,
    /// Sweep name.
    pub sweep: String,
    /// Trainer kind.
    pub kind: String,
    /// Trainer version.
    pub trainer_version: String,
    /// Canonical config JSON.
    pub config_json: Arc<str>,
    /// Sweep seed.
    pub sweep_seed: u64,
    /// Replicate seed.
    pub replicate: u64,
    /// Axis values JSON.
    pub axes_json: Arc<str>,
    /// Attempt number (1-based).
    pub attempt: u32,
    /// Wall-clock limit of the attempt in ms; 0: none.
    pub time_limit_ms: u64,
}

/// A change that must reach the ledger before anyone is told about it.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Create or update a sweep row.
    UpsertSweep {
        /// Sweep index.
        sweep: usize,
        /// Spec text to keep for reference.
        spec_text: String,
    },
    /// A new cell.
    InsertCell(CellId),
    /// A lease was granted (state, attempt, fence, worker).
    Grant {
        /// Cell.
        cell: CellId,
        /// Worker name.
        worker: String,
    },
    /// A result was accepted.
    Complete {
        /// Cell.
        cell: CellId,
        /// The validated `ensweep.v1.RunOutput`, protobuf-encoded (see `ensweep_core::wire`).
        output: Vec<u8>,
        /// Wall time of the run.
        wall_seconds: f64,
        /// Worker name.
        worker: String,
    },
    /// A failure was recorded.
    Failure {
        /// Cell.
        cell: CellId,
        /// Attempt that failed.
        attempt: u32,
        /// Its fence.
        fence: u64,
        /// Kind.
        kind: FailureKind,
        /// Message from the worker.
        message: String,
    },
    /// The cell's state/spent changed (requeue, final failure, cancel).
    SetState(CellId),
    /// A late result of a fenced-off attempt.
    Orphan {
        /// The attempt's fence.
        fence: u64,
        /// Cell, when known.
        cell: Option<CellId>,
        /// The encoded RunOutput, emptied when over [`MAX_ORPHAN_BYTES`].
        output: Vec<u8>,
        /// Wall time.
        wall_seconds: f64,
        /// Worker name.
        worker: String,
    },
    /// Done cells were assigned to a part.
    AssignPart {
        /// Sweep index.
        sweep: usize,
        /// Part number.
        part: u64,
        /// Cells, ascending.
        cells: Vec<CellId>,
    },
    /// A part's Parquet files are written.
    Exported {
        /// Sweep index.
        sweep: usize,
        /// Part number.
        part: u64,
    },
}

/// A part to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportJob {
    /// Sweep name.
    pub sweep: String,
    /// Part number.
    pub part: u64,
}

/// A live lease.
#[derive(Clone, Debug)]
struct LeaseEntry {
    cell: CellId,
    /// Name of the owning worker (registrations are unique per name).
    worker: String,
    deadline: u64,
}

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

    /// Number of cells ever created (the next id minus one).
    pub fn n_cells(&self) -> u64 {
        self.cells.len() as u64 - 1
    }

    /// Whether any cell waits in a queue.
    pub fn has_pending(&self) -> bool {
        self.sweeps.iter().any(|s| s.status.pending > 0)
    }

    /// Number of live leases.
    pub fn n_leases(&self) -> usize {
        self.leases.len()
    }

    // ----- restoring from the ledger -----

    /// Adds a sweep read back from the ledger.
    pub fn restore_sweep(&mut self, mut entry: SweepEntry) {
        entry.status = SweepStatus {
            name: entry.name.clone(),
            spec_hash: entry.spec_hash.clone(),
            kind: entry.kind.clone(),
            ..SweepStatus::default()
        };
        self.sweep_index
            .insert(entry.name.clone(), self.sweeps.len());
        self.sweeps.push(entry);
    }

    /// Adds a cell read back from the ledger (ids must come in ascending order, from 1).
    /// `part` is its export part when done; `restore_lease` keeps a leased cell leased (its
    /// worker may still be running it and will heartbeat), otherwise it is requeued.
    #[allow(clippy::too_many_arguments)]
    pub fn restore_cell(
        &mut self,
        id: CellId,
        mut entry: CellEntry,
        part: Option<u64>,
        part_exported: bool,
        worker: String,
        restore_lease: bool,
        now: u64,
    ) {
        assert_eq!(id, self.cells.len() as u64, "cells restored in id order");
        self.next_fence = self.next_fence.max(entry.fence.saturating_add(1));
        if entry.fence != 0 {
            self.fence_cells.insert(entry.fence, id);
        }
        let sweep = entry.sweep;
        if entry.state == CellState::Leased && !restore_lease {
            entry.state = CellState::Pending;
            self.sweeps[sweep].status.failures.preempted += 1;
            self.ops.push(Op::SetState(id));
        }
        let s = &mut self.sweeps[sweep];
        s.cells.push(id);
        s.status.total += 1;
        match entry.state {
            CellState::Pending => {
                s.status.pending += 1;
                self.queues
                    .entry(s.trainer_version.clone())
                    .or_default()
                    .push_back(id);
            }
            CellState::Leased => {
                s.status.leased += 1;
                self.leases.insert(
                    entry.fence,
                    LeaseEntry {
                        cell: id,
                        worker,
                        deadline: now + self.config.lease_ttl_ms,
                    },
                );
            }
            CellState::Done => {
                s.status.done += 1;
                match part {
                    None => {
                        if s.unassigned.is_empty() {
                            s.unassigned_since = now;
                        }
                        s.unassigned.push(id)
                    }
                    Some(p) if part_exported => {
                        s.status.exported += 1;
                        s.next_part = s.next_part.max(p + 1);
                    }
                    Some(p) => {
                        *s.unexported.entry(p).or_default() += 1;
                        s.next_part = s.next_part.max(p + 1);
                    }
                }
            }
            CellState::Failed => s.status.failed += 1,
            CellState::Cancelled => s.status.cancelled += 1,
        }
        self.cells.push(entry);
    }

    /// Records a failure read back from the ledger, in the order they happened (for the
    /// counts and the cell's latest failure kind). Failures are only recorded for fences this
    /// coordinator issued, so they may advance the next fence.
    pub fn restore_failure(&mut self, cell: CellId, kind: FailureKind, fence: u64) {
        self.next_fence = self.next_fence.max(fence.saturating_add(1));
        let Some(c) = self.cells.get_mut(cell as usize) else {
            return;
        };
        c.last_failure = Some(kind);
        bump(&mut self.sweeps[c.sweep].status.failures, kind);
    }

    /// Records an orphan read back from the ledger. Its fence is whatever a caller sent, so it
    /// never advances the next fence (one orphan with fence 2^64-2 would otherwise make new
    /// leases wrap around onto the fences of finished cells).
    pub fn restore_orphan(&mut self, sweep: Option<usize>, _fence: u64) {
        if let Some(s) = sweep {
            self.sweeps[s].status.orphaned += 1;
        }
    }

    /// After restoring: queue the re-export of every part that was assigned but not written.
    pub fn finish_restore(&mut self) {
        for s in &self.sweeps {
            let mut parts: Vec<u64> = s.unexported.keys().copied().collect();
            parts.sort_unstable();
            for part in parts {
                self.exports.push(ExportJob {
                    sweep: s.name.clone(),
                    part,
                });
            }
        }
    }

    /// Index of a sweep by name.
    pub fn sweep_index(&self, name: &str) -> Option<usize> {
        self.sweep_index.get(name).copied()
    }

    // ----- workers -----

    /// Grants up to `capacity` pending cells the worker can run, and never more than the slots
    /// it declared at registration (one call must not drain every queue).
    pub fn lease(
        &mut self,
        worker: u64,
        capacity: u32,
        now: u64,
    ) -> Result<Vec<Grant>, CoordError> {
        let w = self.workers.touch(worker, now)?;
        let capacity = capacity.min(w.slots) as usize;
        let (name, versions) = (w.name.clone(), w.versions.clone());
        let mut grants = Vec::new();
        for version in &versions {
            let Some(queue) = self.queues.get_mut(version) else {
                continue;
            };
            while grants.len() < capacity {
                let Some(next) = self.next_fence.checked_add(1) else {
                    tracing::error!("fences exhausted; no more leases");
                    return Ok(grants);
                };
                let Some(id) = queue.pop_front() else { break };
                let cell = &mut self.cells[id as usize];
                if cell.state != CellState::Pending {
                    continue;
                }
                cell.state = CellState::Leased;
                cell.attempt = cell.attempt.saturating_add(1);
                self.fence_cells.remove(&cell.fence);
                cell.fence = self.next_fence;
                self.fence_cells.insert(cell.fence, id);
                self.next_fence = next;
                let s = &mut self.sweeps[cell.sweep];
                s.status.pending -= 1;
                s.status.leased += 1;
                self.leases.insert(
                    cell.fence,
                    LeaseEntry {
                        cell: id,
                        worker: name.clone(),
                        deadline: now.saturating_add(self.config.lease_ttl_ms),
                    },
                );
                self.ops.push(Op::Grant {
                    cell: id,
                    worker: name.clone(),
                });
                grants.push(Grant {
                    fence: cell.fence,
                    cell_key: cell.key.clone(),
                    sweep: s.name.clone(),
                    kind: s.kind.clone(),
                    trainer_version: s.trainer_version.clone(),
                    config_json: cell.config_json.clone(),
                    sweep_seed: s.sweep_seed,
                    replicate: cell.replicate,
                    axes_json: cell.axes_json.clone(),
                    attempt: cell.attempt,
                    time_limit_ms: s.time_limit_ms,
                });
            }
        }
        Ok(grants)
    }

    /// Extends the worker's leases named by `fences`; returns those that are no longer valid.
    /// Live leases of other workers are neither renewed nor revoked: a caller naming fences it
    /// does not own must not make their owner drop its cells.
    pub fn heartbeat(
        &mut self,
        worker: u64,
        fences: &[u64],
        now: u64,
    ) -> Result<Vec<u64>, CoordError> {
        let name = self.workers.touch(worker, now)?.name.clone();
        let mut revoked = Vec::new();
        for f in fences {
            match self.leases.get_mut(f) {
                Some(l) if l.worker == name => {
                    l.deadline = now.saturating_add(self.config.lease_ttl_ms)
                }
                Some(_) => {}
                None => revoked.push(*f),
            }
        }
        Ok(revoked)
    }

    /// Accepts a result. Returns `true` when it was kept as an orphan (fenced off).
    pub fn complete(
        &mut self,
        worker: u64,
        fence: u64,
        output: Vec<u8>,
        wall_seconds: f64,
        now: u64,
    ) -> bool {
        let worker_name = self.worker_name(worker);
        if self
            .leases
            .get(&fence)
            .is_some_and(|l| l.worker != worker_name)
        {
            tracing::warn!(fence, worker = %worker_name, "result for another worker's lease; dropped");
            return false;
        }
        if let Some(lease) = self.leases.remove(&fence) {
            let id = lease.cell;
            let cell = &mut self.cells[id as usize];
            debug_assert_eq!(cell.fence, fence);
            cell.state = CellState::Done;
            let s = &mut self.sweeps[cell.sweep];
            s.status.leased -= 1;
            s.status.done += 1;
            if s.unassigned.is_empty() {
                s.unassigned_since = now;
            }
            s.unassigned.push(id);
            self.ops.push(Op::Complete {
                cell: id,
                output,
                wall_seconds,
                worker: lease.worker,
            });
            return false;
        }
        // Not a live lease: either a retry of an acknowledged result (idempotent), or a
        // fenced-off attempt (orphan), or a fence this coordinator never issued.
        if self.is_acknowledged_result(fence) {
            return false;
        }
        if fence == 0 || fence >= self.next_fence {
            tracing::warn!(fence, worker = %worker_name, "result for a fence never issued; dropped");
            return false;
        }
        // A fence whose attempt is no longer fenced off (its orphan is already stored) names
        // no attempt: its result is dropped, never stored, so a stranger cannot fill the ledger.
        let id = match self.fenced_off.get(&fence) {
            Some((_, owner)) if *owner != worker_name => {
                tracing::warn!(fence, worker = %worker_name, "late result of another worker's attempt; dropped");
                return false;
            }
            Some((id, _)) => *id,
            None => return true,
        };
        self.sweeps[self.cells[id as usize].sweep].status.orphaned += 1;
        self.fenced_off.remove(&fence);
        self.ops.push(Op::Orphan {
            fence,
            cell: Some(id),
            // Orphans are kept for diagnosis only; a large one keeps its row, not its bytes.
            output: if output.len() > MAX_ORPHAN_BYTES {
                Vec::new()
            } else {
                output
            },
            wall_seconds,
            worker: worker_name,
        });
        true
    }

    /// Whether `fence` is the fence of a done cell (a duplicate delivery of its result):
    /// one hash lookup, since done cells keep their fence in `fence_cells`.
    fn is_acknowledged_result(&self, fence: u64) -> bool {
        self.cell_of_fence(fence)
            .is_some_and(|id| self.cells[id as usize].state == CellState::Done)
    }

    /// The cell whose current attempt has `fence`, if any (an O(1) lookup).
    pub fn cell_of_fence(&self, fence: u64) -> Option<CellId> {
        self.fence_cells.get(&fence).copied()
    }

    /// Number of entries in the fence index: one per cell ever leased, whatever callers sent.
    pub fn fence_index_len(&self) -> usize {
        self.fence_cells.len()
    }

    /// Takes the live lease `fence` away from `worker` if, and only if, it owns it.
    fn take_owned(&mut self, worker: u64, fence: u64) -> Option<LeaseEntry> {
        let name = self.worker_name(worker);
        if name.is_empty() || self.leases.get(&fence)?.worker != name {
            tracing::debug!(
                fence,
                worker,
                "outcome for a lease the caller does not hold; ignored"
            );
            return None;
        }
        self.leases.remove(&fence)
    }

    /// Records a failed attempt reported by the lease's owner.
    pub fn fail(&mut self, worker: u64, fence: u64, kind: FailureKind, message: String) {
        if let Some(lease) = self.take_owned(worker, fence) {
            self.end_attempt(lease.cell, kind, message);
        }
    }

    /// Takes back leases from their owner, which gave them up (shutdown or refused).
    pub fn release(&mut self, worker: u64, fence: u64, kind: FailureKind) {
        if let Some(lease) = self.take_owned(worker, fence) {
            self.end_attempt(lease.cell, kind, String::new());
        }
    }

    /// Ends the current attempt of `id` without a result: requeue or fail for good.
    fn end_attempt(&mut self, id: CellId, kind: FailureKind, message: String) {
        let cell = &mut self.cells[id as usize];
        cell.last_failure = Some(kind);
        let s = &mut self.sweeps[cell.sweep];
        bump(&mut s.status.failures, kind);
        self.ops.push(Op::Failure {
            cell: id,
            attempt: cell.attempt,
            fence: cell.fence,
            kind,
            message,
        });
        s.status.leased -= 1;
        if kind.spends_budget() {
            cell.spent = cell.spent.saturating_add(1);
        }
        if kind == FailureKind::UserError || cell.spent > self.config.retries {
            cell.state = CellState::Failed;
            s.status.failed += 1;
        } else if s.cancelled {
            cell.state = CellState::Cancelled;
            s.status.cancelled += 1;
        } else {
            cell.state = CellState::Pending;
            s.status.pending += 1;
            let q = self.queues.entry(s.trainer_version.clone()).or_default();
            // Preempted cells go first: they are not suspect, and finishing them soon keeps
            // the tail of the sweep short. Failed ones go to the back.
            if kind.spends_budget() {
                q.push_back(id)
            } else {
                q.push_front(id)
            }
        }
        self.ops.push(Op::SetState(id));
    }

    /// Time passes: expire leases and cut export parts that are due.
    pub fn tick(&mut self, now: u64) {
        let expired: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.deadline < now)
            .map(|(f, _)| *f)
            .collect();
        for fence in expired {
            let Some(lease) = self.leases.remove(&fence) else {
                continue;
            };
            let id = lease.cell;
            tracing::info!(fence, cell = %self.cells[id as usize].key, "lease expired");
            self.fenced_off.insert(fence, (id, lease.worker));
            self.end_attempt(id, FailureKind::LeaseExpired, String::new());
        }
        self.workers.expire(now, self.worker_ttl_ms());
        self.cut_parts(now, false);
    }

    /// Assigns done results to parts: when a batch is full, old enough, the sweep has nothing
    /// running any more, or `force` (shutdown).
    pub fn cut_parts(&mut self, now: u64, force: bool) {
        for (idx, s) in self.sweeps.iter_mut().enumerate() {
            if s.unassigned.is_empty() {
                continue;
            }
            let idle = s.status.pending == 0 && s.status.leased == 0;
            let due = force
                || idle
                || s.unassigned.len() >= self.config.export_batch
                || now.saturating_sub(s.unassigned_since) >= self.config.export_interval_ms;
            if !due {
                continue;
            }
            let mut cells = std::mem::take(&mut s.unassigned);
            cells.sort_unstable();
            let part = s.next_part;
            s.next_part += 1;
            s.unexported.insert(part, cells.len() as u64);
            self.ops.push(Op::AssignPart {
                sweep: idx,
                part,
                cells,
            });
            self.exports.push(ExportJob {
                sweep: s.name.clone(),
                part,
            });
        }
    }

    /// A part's files are written.
    pub fn exported(&mut self, sweep: &str, part: u64) {
        let Some(idx) = self.sweep_index(sweep) else {
            return;
        };
        let s = &mut self.sweeps[idx];
        if let Some(n) = s.unexported.remove(&part) {
            s.status.exported += n;
            self.ops.push(Op::Exported { sweep: idx, part });
        }
    }

    /// Submits a sweep: creates it, extends it with new cells, or refuses an incompatible edit.
    pub fn submit(&mut self, spec: &Spec, spec_text: String) -> Result<Submission, CoordError> {
        let cells = spec.cells();
        let identity_lines = spec.identity_lines();
        let trainer_version = cells
            .first()
            .map(|c| c.trainer_version.clone())
            .unwrap_or_default();
        let idx = match self.sweep_index(&spec.name) {
            Some(idx) => {
                let s = &self.sweeps[idx];
                let known: HashMap<&str, CellId> = s
                    .cells
                    .iter()
                    .map(|id| (&*self.cells[*id as usize].key, *id))
                    .collect();
                identity::check_compatible(
                    &s.name,
                    &s.identity,
                    &identity_lines,
                    &known,
                    &cells,
                    |id| {
                        let c = &self.cells[id as usize];
                        (c.replicate, c.axes_json.to_string())
                    },
                )?;
                idx
            }
            None => {
                let idx = self.sweeps.len();
                self.sweep_index.insert(spec.name.clone(), idx);
                self.sweeps.push(SweepEntry {
                    name: spec.name.clone(),
                    spec_hash: String::new(),
                    kind: spec.kind.clone(),
                    trainer_version: trainer_version.clone(),
                    sweep_seed: spec.sweep_seed,
                    identity: identity_lines.clone(),
                    cancelled: false,
                    cells: Vec::new(),
                    next_part: 0,
                    unassigned: Vec::new(),
                    unassigned_since: 0,
                    unexported: HashMap::new(),
                    status: SweepStatus {
                        name: spec.name.clone(),
                        kind: spec.kind.clone(),
                        ..SweepStatus::default()
                    },
                    time_limit_ms: 0,
                });
                idx
            }
        };
        let created = self.sweeps[idx].cells.is_empty();
        let known: BTreeSet<Arc<str>> = self.sweeps[idx]
            .cells
            .iter()
            .map(|id| self.cells[*id as usize].key.clone())
            .collect();
        let already_done = self.sweeps[idx].status.done;
        // Resubmitting a cancelled sweep resumes it.
        let resumed = self.uncancel(idx);
        let queue = self.queues.entry(trainer_version).or_default();
        let mut new_cells = 0u64;
        for cell in cells {
            if known.contains(cell.key.as_str()) {
                continue;
            }
            let id = self.cells.len() as u64;
            let axes_json = serde_json::to_string(&cell.axes).expect("axes serialise");
            self.cells.push(CellEntry {
                sweep: idx,
                key: cell.key.into(),
                replicate: cell.replicate,
                config_json: cell.config_json.into(),
                axes_json: axes_json.into(),
                state: CellState::Pending,
                attempt: 0,
                fence: 0,
                spent: 0,
                last_failure: None,
            });
            queue.push_back(id);
            let s = &mut self.sweeps[idx];
            s.cells.push(id);
            s.status.total += 1;
            s.status.pending += 1;
            self.ops.push(Op::InsertCell(id));
            new_cells += 1;
        }
        let s = &mut self.sweeps[idx];
        s.time_limit_ms = spec.time_limit_s.map_or(0, |t| t.saturating_mul(1000));
        s.spec_hash = spec.spec_hash.clone();
        s.status.spec_hash = spec.spec_hash.clone();
        self.ops.push(Op::UpsertSweep {
            sweep: idx,
            spec_text,
        });
        Ok(Submission {
            sweep: s.name.clone(),
            spec_hash: s.spec_hash.clone(),
            created,
            new_cells: new_cells + resumed,
            total: s.status.total,
            already_done,
        })
    }

    /// Puts a cancelled sweep's cancelled cells back in the queue; returns how many.
    fn uncancel(&mut self, idx: usize) -> u64 {
        if !self.sweeps[idx].cancelled {
            return 0;
        }
        self.sweeps[idx].cancelled = false;
        let version = self.sweeps[idx].trainer_version.clone();
        let mut n = 0;
        for &id in &self.sweeps[idx].cells {
            let cell = &mut self.cells[id as usize];
            if cell.state == CellState::Cancelled {
                cell.state = CellState::Pending;
                self.queues
                    .entry(version.clone())
                    .or_default()
                    .push_back(id);
                self.ops.push(Op::SetState(id));
                n += 1;
            }
        }
        let st = &mut self.sweeps[idx].status;
        st.cancelled -= n;
        st.pending += n;
        n
    }

    /// Cancels a sweep: pending cells will not run; running ones may still finish.
    pub fn cancel(&mut self, name: &str) -> Result<u64, CoordError> {
        let idx = self
            .sweep_index(name)
            .ok_or_else(|| CoordError::UnknownSweep(name.to_owned()))?;
        let s = &mut self.sweeps[idx];
        s.cancelled = true;
        let mut n = 0;
        for &id in &s.cells {
            let cell = &mut self.cells[id as usize];
            if cell.state == CellState::Pending {
                cell.state = CellState::Cancelled;
                self.ops.push(Op::SetState(id));
                n += 1;
            }
        }
        s.status.pending -= n;
        s.status.cancelled += n;
        self.ops.push(Op::UpsertSweep {
            sweep: idx,
            spec_text: String::new(),
        });
        Ok(n)
    }

    /// Counters of every sweep.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sweeps: self.sweeps.iter().map(|s| s.status.clone()).collect(),
            workers: self.n_workers(),
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

mod retry;
#[cfg(test)]
mod tests;
mod workers;
