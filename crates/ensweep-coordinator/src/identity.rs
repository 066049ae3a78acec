//! Sweep identity across submissions: unchanged, extended, or an incompatible edit.
//!
//! A sweep is named by `[sweep] name`. Submitting a spec under a known name may only *add*
//! cells (more seeds, more axis values): every known cell key must still be produced, and the
//! parts that define every cell (kind, sweep seed, base config: `Spec::identity_lines`) must be
//! equal. Anything else would silently mix results of two different experiments in one table,
//! so it is refused with a diff a person can act on.
//!
//! It knows nothing of the machine that keeps the cells: a known cell is named by an id of the
//! caller's choosing, which it hands back to `describe` when a removed cell must be shown.

use crate::error::CoordError;
use ensweep_core::spec::Cell;
use std::collections::{HashMap, HashSet};

/// What a submission did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// Sweep name.
    pub sweep: String,
    /// Spec hash now on record.
    pub spec_hash: String,
    /// The sweep did not exist before.
    pub created: bool,
    /// Cells queued by this submission.
    pub new_cells: u64,
    /// Cells in the sweep now.
    pub total: u64,
    /// Cells that were done before.
    pub already_done: u64,
}

/// How many removed cells a refusal lists before summarising.
const MAX_LISTED: usize = 8;

/// Checks that `new_cells` (with identity `new_identity`) extends a sweep whose known cells
/// are `known` (key to id) and whose identity was `old_identity`. `describe` gives a known
/// cell's replicate seed and axis values, for the list of removed cells.
pub fn check_compatible<Id: Copy + Ord>(
    sweep: &str,
    old_identity: &[String],
    new_identity: &[String],
    known: &HashMap<&str, Id>,
    new_cells: &[Cell],
    describe: impl Fn(Id) -> (u64, String),
) -> Result<(), CoordError> {
    let mut diff = String::new();
    if old_identity != new_identity {
        let old: HashSet<&String> = old_identity.iter().collect();
        let new: HashSet<&String> = new_identity.iter().collect();
        for line in old_identity.iter().filter(|l| !new.contains(l)) {
            diff.push_str(&format!("- {line}\n"));
        }
        for line in new_identity.iter().filter(|l| !old.contains(l)) {
            diff.push_str(&format!("+ {line}\n"));
        }
    }
    let new_keys: HashSet<&str> = new_cells.iter().map(|c| c.key.as_str()).collect();
    let mut removed: Vec<Id> = known
        .iter()
        .filter(|(k, _)| !new_keys.contains(*k))
        .map(|(_, id)| *id)
        .collect();
    removed.sort_unstable();
    if !removed.is_empty() && diff.is_empty() {
        diff.push_str(&format!(
            "{} known cell(s) are missing from the new spec (an axis value or seed was removed):\n",
            removed.len()
        ));
        for id in removed.iter().take(MAX_LISTED) {
            let (replicate, axes) = describe(*id);
            diff.push_str(&format!("- seed {replicate} {axes}\n"));
        }
        if removed.len() > MAX_LISTED {
            diff.push_str(&format!("  ... and {} more\n", removed.len() - MAX_LISTED));
        }
    }
    if diff.is_empty() {
        return Ok(());
    }
    diff.push_str("only extensions (more seeds, more axis values) are accepted; rename the sweep to start a new one");
    Err(CoordError::Incompatible {
        sweep: sweep.to_owned(),
        diff,
    })
}
