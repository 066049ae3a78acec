//! Pure domain types of ensweep.
//!
//! Everything here is a plain function over values: no network, no async, no clocks, and no
//! file I/O but `Spec::load` reading a sweep file (size-capped before it is read whole). The
//! coordinator, the workers and the trainers all agree on cells, keys and seeds because they
//! all go through this crate.
#![warn(missing_docs)]

pub mod config;
pub mod output;
pub mod seed;
pub mod spec;
pub mod token;
pub mod trainer;
pub mod wire;
