//! Benchmark drivers behind `ensweep bench` (cmd_bench.rs): measurements that are not a
//! trainer's or a library's job, so they live with the command that prints them.

pub mod gemm;
pub mod query;

/// User + system CPU seconds of this process.
pub use ensweep_recurrent::bench::cpu_seconds;
