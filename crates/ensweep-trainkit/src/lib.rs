//! The pieces every ensweep trainer shares, below both trainer crates so that neither depends on
//! the other: the optimisers and the MNIST reader. It holds no model and no training loop.
//!
//! * [`optim`]: Adam / RMSprop / SGD over flat `f32` slices, one [`optim::Optimizer`] per
//!   parameter group, with the reference code's update rules.
//! * [`mnist`]: the validated IDX reader and [`mnist::resolve_data_dir`], the workspace's one
//!   rule for where MNIST lives (`data_dir`, then `$ENSWEEP_DATA`, then `data/mnist`).
#![warn(missing_docs)]

pub mod mnist;
pub mod optim;
