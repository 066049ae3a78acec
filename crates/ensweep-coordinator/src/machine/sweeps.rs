//! Sweeps: submission (create, extend, or refuse an incompatible edit), cancellation, and
//! cutting their finished results into export parts.

use super::{CellEntry, CellId, CellState, ExportJob, Machine, Op, SweepEntry};
use crate::error::CoordError;
use crate::identity::{self, Submission};
use crate::status::SweepStatus;
use ensweep_core::spec::{Cell, Spec};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

impl Machine {
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
        let trainer_version = cells
            .first()
            .map(|c| c.trainer_version.clone())
            .unwrap_or_default();
        let idx = match self.sweep_index(&spec.name) {
            Some(idx) => {
                self.check_extension(idx, spec, &cells)?;
                idx
            }
            None => self.create_sweep(spec, trainer_version),
        };
        let created = self.sweeps[idx].cells.is_empty();
        let already_done = self.sweeps[idx].status.done;
        // Resubmitting a cancelled sweep resumes it.
        let resumed = self.uncancel(idx);
        let new_cells = self.add_cells(idx, cells);
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

    /// Refuses a resubmission of sweep `idx` that does more than add cells.
    fn check_extension(&self, idx: usize, spec: &Spec, cells: &[Cell]) -> Result<(), CoordError> {
        let s = &self.sweeps[idx];
        let known: HashMap<&str, CellId> = s
            .cells
            .iter()
            .map(|id| (&*self.cells[*id as usize].key, *id))
            .collect();
        identity::check_compatible(
            &s.name,
            &s.identity,
            &spec.identity_lines(),
            &known,
            cells,
            |id| {
                let c = &self.cells[id as usize];
                (c.replicate, c.axes_json.to_string())
            },
        )
    }

    /// A new, empty sweep for `spec`; returns its index.
    fn create_sweep(&mut self, spec: &Spec, trainer_version: String) -> usize {
        let idx = self.sweeps.len();
        self.sweep_index.insert(spec.name.clone(), idx);
        self.sweeps.push(SweepEntry {
            name: spec.name.clone(),
            spec_hash: String::new(),
            kind: spec.kind.clone(),
            trainer_version,
            sweep_seed: spec.sweep_seed,
            identity: spec.identity_lines(),
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

    /// Queues the cells of `cells` that sweep `idx` does not have yet; returns how many.
    fn add_cells(&mut self, idx: usize, cells: Vec<Cell>) -> u64 {
        let known: BTreeSet<Arc<str>> = self.sweeps[idx]
            .cells
            .iter()
            .map(|id| self.cells[*id as usize].key.clone())
            .collect();
        let queue = self
            .queues
            .entry(self.sweeps[idx].trainer_version.clone())
            .or_default();
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
        new_cells
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
}
