//! End-to-end tests: real `ensweep` processes on 127.0.0.1, real Parquet read back.
//!
//! One test binary with one module per topic (a link step per binary is expensive on 2 cores).
//! Tests never sleep: they wait on the coordinator's own state (`ensweep status --wait`) or on
//! a child's output line.

mod harness;

mod auth;
mod chaos;
mod checkpoint;
mod diskfull;
mod distributed;
mod embedded;
mod exit_codes;
mod experiments;
mod nan;
mod progress;
