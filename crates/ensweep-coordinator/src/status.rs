//! Status snapshots: what `ensweep status` and the progress bar show.

/// Failures counted apart by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// The trainer panicked or its process died while reporting.
    pub crashed: u64,
    /// The cell ran past its time limit.
    pub timed_out: u64,
    /// No heartbeat arrived in time (worker killed or partitioned).
    pub lease_expired: u64,
    /// Released by a worker that was shutting down; spends no retry budget.
    pub preempted: u64,
    /// The trainer rejected its input; never retried.
    pub user_error: u64,
    /// Released by a worker that cannot run the cell's trainer version.
    pub refused: u64,
}

/// State of one sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepStatus {
    /// Sweep name.
    pub name: String,
    /// Hash of the spec last submitted.
    pub spec_hash: String,
    /// Trainer kind.
    pub kind: String,
    /// Cells in the sweep.
    pub total: u64,
    /// Waiting for a worker.
    pub pending: u64,
    /// Leased to a worker.
    pub leased: u64,
    /// Finished with a result.
    pub done: u64,
    /// Out of retry budget or a user error.
    pub failed: u64,
    /// Cancelled before they ran.
    pub cancelled: u64,
    /// Done cells whose rows are in the Parquet tables.
    pub exported: u64,
    /// Late results of fenced-off attempts kept aside.
    pub orphaned: u64,
    /// Failures by kind.
    pub failures: FailureCounts,
}

impl SweepStatus {
    /// Every cell reached a final state and every result is in the tables.
    pub fn finished(&self) -> bool {
        self.pending == 0 && self.leased == 0 && self.exported == self.done
    }
}

/// The whole coordinator at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Sweeps in creation order.
    pub sweeps: Vec<SweepStatus>,
    /// Registered workers.
    pub workers: u32,
    /// Running cells that reported their epochs, by sweep and key.
    pub running: Vec<CellProgress>,
}

/// How far one running cell is, as its worker last reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellProgress {
    /// Sweep name.
    pub sweep: String,
    /// Cell key.
    pub cell_key: String,
    /// Epochs finished.
    pub epochs_done: u32,
    /// Epochs the config asks for (0: not known yet).
    pub epochs_total: u32,
}
