//! The pieces every ensweep trainer shares, below both trainer crates so that neither depends on
//! the other: the optimisers, the MNIST reader and the statistics helper of the `*_std` columns.
//! It holds no model and no training loop.
//!
//! * [`arrays`]: reshaping of the trainers' `ndarray` buffers and the standard-layout slices
//!   their kernels work on.
//! * [`optim`]: Adam / RMSprop / SGD over flat `f32` slices, one [`optim::Optimizer`] per
//!   parameter group, with the reference code's update rules.
//! * [`mnist`]: the validated IDX reader and [`mnist::resolve_data_dir`], the workspace's one
//!   rule for where MNIST lives (`data_dir`, then `$ENSWEEP_DATA`, then `data/mnist`).
//! * [`stats`]: [`stats::mean_std`], the one convention (population std) of every trainer's
//!   `*_std` column.
#![warn(missing_docs)]

pub mod arrays;
pub mod mnist;
pub mod optim;
pub mod stats;
