//! Spike-and-slab mean-field MLP trainer (Li & Huang, PRL 125, 178301, 2020), the MNIST IDX
//! reader it trains on, and the optimisers shared by all ensweep trainers.
//!
//! See `shared/docs/science.md` section 1 for the model; every equation implemented here is
//! restated there with its provenance.
#![warn(missing_docs)]

pub mod mnist;
pub mod optim;
