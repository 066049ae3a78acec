//! `ensweep retry`: failed cells go back to the queue once the user fixed the cause.
//!
//! User errors are final on purpose (re-running a rejected config changes nothing), so the
//! only way back is an explicit client request, optionally limited to one failure kind.

use super::{CellState, FailureKind, Machine, Op};
use crate::error::CoordError;

impl Machine {
    /// Re-queues the failed cells of `sweep` (those whose latest failure is `kind`, when given)
    /// with a fresh retry budget; returns how many. A cancelled sweep's cells stay failed.
    pub fn retry(&mut self, sweep: &str, kind: Option<FailureKind>) -> Result<u64, CoordError> {
        let idx = self
            .sweep_index(sweep)
            .ok_or_else(|| CoordError::UnknownSweep(sweep.to_owned()))?;
        if self.sweeps[idx].cancelled {
            return Ok(0);
        }
        let queue = self
            .queues
            .entry(self.sweeps[idx].trainer_version.clone())
            .or_default();
        let mut n = 0u64;
        for &id in &self.sweeps[idx].cells {
            let cell = &mut self.cells[id as usize];
            if cell.state != CellState::Failed || kind.is_some_and(|k| cell.last_failure != Some(k))
            {
                continue;
            }
            cell.state = CellState::Pending;
            cell.spent = 0;
            queue.push_back(id);
            self.ops.push(Op::SetState(id));
            n += 1;
        }
        let st = &mut self.sweeps[idx].status;
        st.failed -= n;
        st.pending += n;
        Ok(n)
    }
}
