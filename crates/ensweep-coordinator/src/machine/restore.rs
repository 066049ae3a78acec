//! Restoring the machine from the ledger after a start: sweeps, then cells in id order, then
//! the failures and orphans, then the re-export of parts that were assigned but not written.

use super::leases::LeaseEntry;
use super::{CellEntry, CellId, CellState, ExportJob, FailureKind, Machine, Op, SweepEntry, bump};
use crate::status::SweepStatus;

/// A cell as the ledger stores it.
#[derive(Clone, Debug)]
pub struct RestoredCell {
    /// The cell (its latest failure kind is restored later, from the failures).
    pub entry: CellEntry,
    /// Its export part, once done and assigned.
    pub part: Option<u64>,
    /// Whether that part's files are written.
    pub part_exported: bool,
    /// The worker that holds (or last held) its lease.
    pub worker: String,
}

impl Machine {
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
    /// `restore_lease` keeps a leased cell leased (its worker may still be running it and will
    /// heartbeat), otherwise it is requeued.
    pub fn restore_cell(&mut self, id: CellId, cell: RestoredCell, restore_lease: bool, now: u64) {
        let RestoredCell {
            mut entry,
            part,
            part_exported,
            worker,
        } = cell;
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
                        progress: None,
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

    /// Records an orphan read back from the ledger, for the counts. Its fence is not taken: it
    /// is whatever a caller sent, so it must never advance the next fence (one orphan with
    /// fence 2^64-2 would otherwise make new leases wrap around onto the fences of finished
    /// cells).
    pub fn restore_orphan(&mut self, sweep: Option<usize>) {
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
}
