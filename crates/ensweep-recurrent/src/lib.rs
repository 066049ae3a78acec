//! Recurrent trainers of ensweep: the spike-and-slab mean-field RNN trained by generalised
//! back-propagation through time (Zou, Li & Huang 2023) and the task-trained tanh RNN
//! (Jarne & Laje 2023; Huang et al. 2024/25), with their temporal tasks and post-training
//! analyses (spectra, damage curves, trajectories). See `docs/RNN.md`.
//!
//! All numerics are single-threaded and deterministic given a `RunSeed`: a worker runs one
//! cell per core.
#![warn(missing_docs)]

pub mod linalg;
pub mod metrics;
pub mod tanh;
pub mod tasks;
