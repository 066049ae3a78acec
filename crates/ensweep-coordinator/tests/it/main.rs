//! The coordinator's integration tests, in one test binary: each links tonic, polars and the
//! worker, so one binary instead of five saves four links of ~800 MB (debug) per build.

mod common;

mod auth;
mod fuzz;
mod health;
mod leases;
mod toy_trainer;
