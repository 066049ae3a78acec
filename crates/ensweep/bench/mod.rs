//! Benchmark drivers behind `ensweep bench` (cmd_bench.rs): measurements that are not a
//! trainer's or a library's job, so they live with the command that prints them.

pub mod gemm;
pub mod query;
pub mod rnn;
