//! What the machine hands out of its transitions: changes for the ledger and parts to write.

use super::{CellId, FailureKind};

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
