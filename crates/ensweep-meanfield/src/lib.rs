//! Spike-and-slab mean-field MLP trainer (Li & Huang, PRL 125, 178301, 2020), the MNIST IDX
//! reader it trains on, and the optimisers shared by all ensweep trainers.
//!
//! See `shared/docs/science.md` section 1 for the model; every equation implemented here is
//! restated there with its provenance.
#![warn(missing_docs)]

pub mod eval;
pub mod float;
#[cfg(test)]
mod gradcheck;
mod kernels;
pub mod mnist;
pub mod model;
pub mod optim;
pub mod train;

pub use train::{MlpError, TrainOptions, train, train_with};
