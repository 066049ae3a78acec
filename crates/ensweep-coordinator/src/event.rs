//! The events the coordinator's loop applies, one per request or report.
//!
//! A module of its own, below both its senders (the gRPC adapters in `service`, the exporter
//! in `export`, an embedding binary) and its one receiver (`event_loop`), so that none of them
//! needs to import another.

use crate::error::CoordError;
use crate::identity::Submission;
use crate::machine::{FailureKind, Grant, Registration};
use ensweep_core::spec::Spec;
use tokio::sync::oneshot;

/// Everything that can happen to the coordinator.
pub enum Event {
    /// A worker registers.
    Register {
        /// What it declared, with its new session secret.
        registration: Registration,
        /// Its new id.
        reply: oneshot::Sender<Result<u64, CoordError>>,
    },
    /// A worker asks for cells.
    Lease {
        /// Worker id and session.
        worker: Caller,
        /// Cells it can take.
        capacity: u32,
        /// Long-poll budget.
        wait_ms: u64,
        /// Granted leases.
        reply: oneshot::Sender<Result<Vec<Grant>, CoordError>>,
    },
    /// A worker renews its leases.
    Heartbeat {
        /// Worker id and session.
        worker: Caller,
        /// Fences held.
        fences: Vec<u64>,
        /// (fence, epochs done, epochs total) of running cells, validated.
        progress: Vec<(u64, u32, u32)>,
        /// Revoked fences.
        reply: oneshot::Sender<Result<Vec<u64>, CoordError>>,
    },
    /// Results arrive.
    Complete {
        /// Worker id and session.
        worker: Caller,
        /// (fence, validated protobuf-encoded `RunOutput`, wall seconds) per result.
        results: Vec<(u64, Vec<u8>, f64)>,
        /// Fences kept as orphans.
        reply: oneshot::Sender<Result<Vec<u64>, CoordError>>,
    },
    /// Failed attempts: (fence, kind, message).
    Fail {
        /// Worker id and session.
        worker: Caller,
        /// Failures.
        failures: Vec<(u64, FailureKind, String)>,
        /// Done.
        reply: oneshot::Sender<Result<(), CoordError>>,
    },
    /// Leases given back.
    Release {
        /// Worker id and session.
        worker: Caller,
        /// Fences.
        fences: Vec<u64>,
        /// Preempted or refused.
        kind: FailureKind,
        /// Done.
        reply: oneshot::Sender<Result<(), CoordError>>,
    },
    /// A client re-queues failed cells.
    Retry {
        /// Sweep name.
        sweep: String,
        /// Only cells whose latest failure is of this kind.
        kind: Option<FailureKind>,
        /// Cells re-queued.
        reply: oneshot::Sender<Result<u64, CoordError>>,
    },
    /// A client submits a parsed sweep.
    Submit {
        /// The spec.
        spec: Box<Spec>,
        /// Its text, kept in the ledger.
        text: String,
        /// Outcome.
        reply: oneshot::Sender<Result<Submission, CoordError>>,
    },
    /// A client cancels a sweep.
    Cancel {
        /// Sweep name.
        sweep: String,
        /// Cells cancelled.
        reply: oneshot::Sender<Result<u64, CoordError>>,
    },
    /// The exporter wrote a part.
    Exported {
        /// Sweep name.
        sweep: String,
        /// Part number.
        part: u64,
    },
    /// Stop: cut and export remaining parts, then exit.
    Shutdown,
}

/// Who makes a worker-side call: the registration's id and its session secret.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Id from `RegisterWorker`.
    pub id: u64,
    /// Session secret from `RegisterWorker`.
    pub session: String,
}
