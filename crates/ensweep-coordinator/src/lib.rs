//! The ensweep coordinator: leases sweep cells to pull workers and keeps a durable ledger.
//!
//! Architecture: one thread owns all state (`event_loop`), driving the pure [`machine`] with
//! events sent by thin gRPC adapters (`service`). Every batch of events becomes one SQLite
//! transaction in the [`ledger`] (group commit) that is committed *before* any reply leaves,
//! so an acknowledged lease, result or submission survives a crash. Completed results are
//! grouped into numbered parts inside the same transactions and written as Parquet by the
//! `export` thread; a restart re-exports parts that were assigned but not yet written, under the
//! same numbers, so rows are never lost or doubled.
#![warn(missing_docs)]

pub mod auth;
pub mod cell_events;
mod error;
mod event;
mod event_loop;
mod export;
pub mod identity;
pub mod ledger;
pub mod machine;
mod service;
pub mod status;
mod tls;

pub use cell_events::{CellEvent, CellOutcome};
pub use error::CoordError;
pub use event::{Caller, Event};
pub use event_loop::{Coordinator, CoordinatorConfig, Handle, now_ms, wall_ms};
pub use service::{ServeOptions, serve, serve_with};
pub use status::{CellProgress, FailureCounts, Snapshot, SweepStatus};
pub use tls::ServerTls;
