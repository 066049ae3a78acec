//! Per-cell events: which cell finished or failed, and how long it ran.
//!
//! The status watch carries counts only, which is enough for a bar but not for a batch job's
//! log, where a user wants one line per cell. The event loop derives these events from the ops
//! it has just committed (so an event never announces something the ledger could still lose)
//! and broadcasts them on [`crate::Handle::cells`]. Nobody listening costs nothing: the events
//! are only built while a receiver exists.

use crate::machine::{CellState, FailureKind, Machine, Op};
use std::sync::Arc;

/// How an attempt of a cell ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellOutcome {
    /// Its result was accepted.
    Done,
    /// It failed for good: a user error, or out of retry budget.
    Failed(FailureKind),
    /// It failed and was queued again (budget left).
    Retrying(FailureKind),
}

impl CellOutcome {
    /// One word for logs and JSON: `done`, `failed`, `retrying`.
    pub fn word(self) -> &'static str {
        match self {
            CellOutcome::Done => "done",
            CellOutcome::Failed(_) => "failed",
            CellOutcome::Retrying(_) => "retrying",
        }
    }

    /// The failure kind, for failed and retried attempts.
    pub fn failure(self) -> Option<FailureKind> {
        match self {
            CellOutcome::Done => None,
            CellOutcome::Failed(k) | CellOutcome::Retrying(k) => Some(k),
        }
    }
}

/// One finished or failed attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct CellEvent {
    /// Sweep name.
    pub sweep: String,
    /// Cell key.
    pub key: Arc<str>,
    /// How it ended.
    pub outcome: CellOutcome,
    /// The worker's wall time of the run; only results carry it.
    pub seconds: Option<f64>,
    /// The worker's message of a failure (empty for results).
    pub message: String,
}

/// Events of the committed `ops`, read against the machine's state after them.
///
/// Preemptions and refusals are left out: the cell did not run to an end, it only moved to
/// another worker, and counts in the status watch already show it as queued again.
pub fn from_ops(ops: &[Op], machine: &Machine) -> Vec<CellEvent> {
    let event = |cell: u64, outcome, seconds, message: &str| {
        let entry = machine.cell(cell);
        CellEvent {
            sweep: machine.sweeps[entry.sweep].name.clone(),
            key: entry.key.clone(),
            outcome,
            seconds,
            message: message.to_owned(),
        }
    };
    ops.iter()
        .filter_map(|op| match op {
            Op::Complete {
                cell, wall_seconds, ..
            } => Some(event(*cell, CellOutcome::Done, Some(*wall_seconds), "")),
            Op::Failure {
                cell,
                kind,
                message,
                ..
            } if !matches!(kind, FailureKind::Preempted | FailureKind::Refused) => {
                let outcome = if machine.cell(*cell).state == CellState::Failed {
                    CellOutcome::Failed(*kind)
                } else {
                    CellOutcome::Retrying(*kind)
                };
                Some(event(*cell, outcome, None, message))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{MachineConfig, Registration};
    use ensweep_core::spec::Spec;

    #[test]
    fn results_final_failures_and_retries_become_events_preemptions_do_not() {
        let config = MachineConfig {
            lease_ttl_ms: 1_000,
            retries: 1,
            export_batch: 1_000,
            export_interval_ms: 500,
        };
        let mut m = Machine::new(config, 1);
        let text = "[sweep]\nname = \"t\"\nseeds = 4\n[synthetic]\n";
        let spec = Spec::parse(
            text,
            std::path::Path::new("t.toml"),
            &ensweep_worker::TRAINERS,
        )
        .expect("valid spec");
        m.submit(&spec, String::new()).expect("submit");
        let registration = Registration {
            name: "w".into(),
            versions: vec!["synthetic/1".into()],
            slots: 4,
            session: "s-w".into(),
        };
        let w = m.register(registration, 0).expect("register");
        let g = m.lease(w, 4, 0).expect("lease");
        m.take_ops();
        m.complete(w, g[0].fence, Vec::new(), 1.5, 1);
        m.fail(w, g[1].fence, FailureKind::UserError, "bad input".into());
        m.fail(w, g[2].fence, FailureKind::Crashed, "panic".into());
        m.release(w, g[3].fence, FailureKind::Preempted);
        let events = from_ops(&m.take_ops(), &m);
        let got: Vec<_> = events
            .iter()
            .map(|e| (&*e.key, e.outcome, e.seconds, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (&*g[0].cell_key, CellOutcome::Done, Some(1.5), ""),
                (
                    &*g[1].cell_key,
                    CellOutcome::Failed(FailureKind::UserError),
                    None,
                    "bad input"
                ),
                (
                    &*g[2].cell_key,
                    CellOutcome::Retrying(FailureKind::Crashed),
                    None,
                    "panic"
                ),
            ]
        );
        assert!(events.iter().all(|e| e.sweep == "t"));
    }
}
