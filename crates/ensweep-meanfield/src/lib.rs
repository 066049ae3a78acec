//! Spike-and-slab mean-field MLP trainer (Li & Huang, PRL 125, 178301, 2020). The MNIST reader
//! it trains on and its optimisers live in `ensweep-trainkit`, shared with the recurrent trainers.
//!
//! See `docs/PAPERS.md` section 1 for the model; every equation implemented here is
//! restated there with its provenance.
//!
//! * [`train()`] / [`train_with`]: the trainer entry point used by `ensweep train`, the worker and
//!   `ensweep bench mlp`: `(&SasMlpConfig, &RunSeed, &mut dyn TrainSink) -> RunOutput`.
//! * [`model`]: layers of (pi, m, Xi), mean-field forward pass and exact backward pass (gBP),
//!   generic over [`float::Float`] so the finite-difference test runs the same code in `f64`.
//! * [`data`]: MNIST as the trainer reads it (sparse rows), prepared once per data set.
//! * [`eval`]: sampled networks, connection categories, entropy, perturbation experiments.
//!
//! All randomness comes from the run seed's named streams: `init`, `shuffle`, `noise`,
//! `eval-noise`, `sampling`, `perturb`, `entropy`. Results are bit-identical for a given seed,
//! whatever the number of threads.
#![warn(missing_docs)]

pub mod data;
mod error;
pub mod eval;
pub mod float;
#[cfg(test)]
mod gradcheck;
mod kernels;
pub mod model;
pub mod padded;
mod pool;
pub mod train;
mod trainer;
mod update;

pub use error::MlpError;
pub use train::{TrainOptions, train, train_with};
pub use trainer::SasMlp;
