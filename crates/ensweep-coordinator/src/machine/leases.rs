//! Leases: granting cells to workers, renewing them, and ending attempts (a result, a
//! failure, a release, or expiry when the heartbeats stop).

use super::{CellId, CellState, FailureKind, MAX_ORPHAN_BYTES, Machine, Op, bump};
use crate::error::CoordError;
use std::sync::Arc;

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

/// A live lease.
#[derive(Clone, Debug)]
pub(super) struct LeaseEntry {
    pub(super) cell: CellId,
    /// Name of the owning worker (registrations are unique per name).
    pub(super) worker: String,
    pub(super) deadline: u64,
    /// Epochs done and asked for, as the worker last reported them (not in the ledger: a
    /// restarted coordinator learns them again from the next heartbeat).
    pub(super) progress: Option<(u32, u32)>,
}

impl Machine {
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
                        progress: None,
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

    /// Notes how far the worker's running cells are: `(fence, epochs done, epochs total)`.
    /// Entries for leases the worker does not own are ignored, like their heartbeats.
    pub fn record_progress(&mut self, worker: u64, progress: &[(u64, u32, u32)]) {
        let name = self.worker_name(worker);
        for &(fence, done, total) in progress {
            if let Some(l) = self.leases.get_mut(&fence).filter(|l| l.worker == name) {
                l.progress = Some((done, total));
            }
        }
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
}
