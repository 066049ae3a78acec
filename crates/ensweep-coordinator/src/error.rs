//! Errors of the coordinator and their one mapping to gRPC status codes.

use std::path::PathBuf;

/// Something the coordinator could not do.
#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    /// The ledger database failed.
    #[error("ledger {path}: {source}")]
    Ledger {
        /// Database file.
        path: PathBuf,
        /// SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The ledger was written by a newer version of ensweep.
    #[error("ledger {path} has schema version {found}; this build reads up to {supported}")]
    LedgerVersion {
        /// Database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// The results directory could not be prepared.
    #[error("results directory {path}: {source}")]
    Io {
        /// Directory.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another coordinator holds the directory.
    #[error("directory {0} is in use by another coordinator")]
    Locked(PathBuf),
    /// A submitted sweep file is invalid.
    #[error("{0}")]
    Spec(String),
    /// An edit of an existing sweep removes or changes cells; the message is a readable diff.
    #[error("sweep `{sweep}` exists with other cells; refusing an incompatible edit:\n{diff}")]
    Incompatible {
        /// Sweep name.
        sweep: String,
        /// What changed, one item per line.
        diff: String,
    },
    /// The worker speaks another protocol version.
    #[error("worker speaks protocol version {worker}, coordinator speaks {coordinator}")]
    Protocol {
        /// Worker's version.
        worker: u32,
        /// Ours.
        coordinator: u32,
    },
    /// A worker id the coordinator does not know (it restarted): register again.
    #[error("unknown worker {0}; register again")]
    UnknownWorker(u64),
    /// The registry is full (registrations expire after inactivity).
    #[error("too many registered workers (at most {0}); try again later")]
    TooManyWorkers(usize),
    /// No sweep of that name.
    #[error("no sweep named `{0}`")]
    UnknownSweep(String),
    /// The coordinator is shutting down.
    #[error("coordinator is shutting down")]
    ShuttingDown,
}

impl CoordError {
    /// The gRPC status for this error: one explicit code per variant.
    pub fn to_status(&self) -> tonic::Status {
        use tonic::Status;
        let msg = self.to_string();
        match self {
            CoordError::Ledger { .. }
            | CoordError::LedgerVersion { .. }
            | CoordError::Io { .. }
            | CoordError::Locked(_) => Status::internal(msg),
            CoordError::Spec(_) => Status::invalid_argument(msg),
            CoordError::Incompatible { .. } | CoordError::Protocol { .. } => {
                Status::failed_precondition(msg)
            }
            CoordError::UnknownWorker(_) | CoordError::UnknownSweep(_) => Status::not_found(msg),
            CoordError::ShuttingDown => Status::unavailable(msg),
            CoordError::TooManyWorkers(_) => Status::resource_exhausted(msg),
        }
    }
}
