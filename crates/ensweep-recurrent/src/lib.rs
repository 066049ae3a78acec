//! Recurrent trainers of ensweep: the spike-and-slab mean-field RNN trained by generalised
//! back-propagation through time (Zou, Li & Huang 2023) and the task-trained tanh RNN
//! (Jarne & Laje 2023; Huang et al. 2024/25), with their temporal tasks and post-training
//! analyses (spectra, damage curves, trajectories). See `docs/RNN.md`.
//!
//! All numerics are deterministic given a `RunSeed` and do not depend on the number of
//! threads; a worker runs one cell per core, single-threaded (only benchmarks use threads).
#![warn(missing_docs)]

mod checkpoint;
pub mod cost;
mod experiments;
pub mod kernel;
pub mod linalg;
pub mod metrics;
pub mod normal;
pub mod sas;
pub mod tanh;
pub mod tasks;
mod trainer;

pub use sas::train::train_sas_rnn;
pub use tanh::train::train_tanh_rnn;
pub use trainer::{SasRnn, TanhRnn};

/// Why a recurrent run failed.
#[derive(Debug, thiserror::Error)]
pub enum RnnError {
    /// The configuration cannot be run.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The sink asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// The MNIST files could not be found or read; the typed cause (e.g.
    /// `DataError::NotFound`) lets a worker tell missing data, the user's to fix, from a trainer
    /// failure.
    #[error("data: {0}")]
    Data(#[from] ensweep_trainkit::mnist::DataError),
}
