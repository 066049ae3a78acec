//! `ensweep worker`: lease cells from a coordinator and train them.

use anyhow::Context;
use clap::Args;
use ensweep_worker::WorkerConfig;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `ensweep worker`.
#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub remote: crate::credentials::Remote,
    /// Cells trained at once; default: the machine's cores.
    #[arg(long)]
    pub slots: Option<usize>,
    /// Cells leased beyond the slots (hides the lease round trip; default: the slots).
    #[arg(long)]
    pub prefetch: Option<usize>,
    /// Name stored with every result; default: `<host>-<pid>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Directory for checkpoints of long cells, so a cell cut off here resumes on the worker
    /// that leases it next: give every worker the same directory on a shared filesystem.
    /// Default: no checkpoints (docs/CHECKPOINTS.md).
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    #[command(flatten)]
    pub checkpoint: CheckpointEvery,
}

/// How often a long cell saves its checkpoint (`ensweep worker`, `ensweep run`).
#[derive(Args, Clone, Copy)]
pub struct CheckpointEvery {
    /// Least seconds between two checkpoints of one cell (0: after every epoch).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub checkpoint_every: f64,
}

impl CheckpointEvery {
    /// The checkpoint policy for `dir`.
    pub fn policy(self, dir: PathBuf) -> anyhow::Result<ensweep_worker::CheckpointPolicy> {
        let every = Duration::try_from_secs_f64(self.checkpoint_every)
            .context("--checkpoint-every must be a number of seconds >= 0")?;
        Ok(ensweep_worker::CheckpointPolicy { dir, every })
    }
}

/// The machine's cores (the default number of slots).
pub fn default_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A default worker name: host and process id.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Resolves on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A multi-threaded runtime whose blocking pool fits `slots` training threads.
pub fn runtime(slots: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(slots + 8)
        .build()
        .context("starting the async runtime")
}

/// Runs `ensweep worker`.
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let slots = args.slots.unwrap_or_else(default_slots).max(1);
    let config = WorkerConfig {
        coordinator: args.remote.connection()?,
        name: args.name.unwrap_or_else(default_name),
        slots,
        prefetch: args.prefetch.unwrap_or(slots),
        lease_wait_ms: 5_000,
        trainers: ensweep_worker::TRAINERS,
        checkpoints: args
            .checkpoint_dir
            .map(|dir| args.checkpoint.policy(dir))
            .transpose()?,
    };
    let rt = runtime(slots)?;
    let report = rt.block_on(ensweep_worker::run(config, shutdown_signal()))?;
    eprintln!(
        "worker stopped: {} completed, {} failed, {} released",
        report.completed, report.failed, report.released
    );
    Ok(())
}
