//! Why a spike-and-slab MLP run fails: its own module so that the helpers below the training
//! loop (thread pool, data) can return it without importing the loop.

use ensweep_trainkit::mnist::DataError;

/// Why a spike-and-slab MLP run failed.
#[derive(Debug, thiserror::Error)]
pub enum MlpError {
    /// MNIST could not be found or read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The configuration is inconsistent.
    #[error("invalid sas_mlp config: {0}")]
    Config(String),
    /// The sink asked to stop.
    #[error("cancelled after {epochs} epochs")]
    Cancelled {
        /// Epochs completed.
        epochs: u32,
    },
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads {
        /// Requested threads.
        threads: usize,
        /// The builder's message.
        reason: String,
    },
}
