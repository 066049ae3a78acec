//! `ensweep coordinator`: serve the coordinator over gRPC for workers on other machines.
//!
//! Prints one machine-readable line, `listening <addr>`, on stdout once the socket is bound,
//! so scripts and tests can ask for port 0 and read the real port back.

use anyhow::Context;
use clap::Args;
use ensweep_coordinator::{Coordinator, CoordinatorConfig};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `ensweep coordinator`.
#[derive(Args)]
pub struct CoordinatorArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// Directory of the ledger and of every sweep's result tables.
    #[arg(long, default_value = "sweeps")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub tuning: Tuning,
}

/// Coordinator settings shared by `coordinator`, `run` and the sweep benchmarks.
#[derive(Args, Clone, Debug)]
pub struct Tuning {
    /// A lease expires this long after its last heartbeat (ms).
    #[arg(long, default_value_t = 10_000)]
    pub lease_ttl_ms: u64,
    /// Retries per cell after crashes, timeouts or expired leases (preemption is free).
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Most rows per Parquet part.
    #[arg(long, default_value_t = 50_000)]
    pub export_batch: usize,
    /// Cut a Parquet part at least this often while results arrive (ms).
    #[arg(long, default_value_t = 1_000)]
    pub export_interval_ms: u64,
    /// Largest encoded trainer result accepted (bytes); larger ones are refused.
    #[arg(long, default_value_t = ensweep_core::wire::DEFAULT_MAX_RESULT_BYTES)]
    pub max_result_bytes: usize,
}

impl Tuning {
    /// The coordinator config for `dir`.
    pub fn config(&self, dir: PathBuf, restore_leases: bool) -> CoordinatorConfig {
        CoordinatorConfig {
            dir,
            lease_ttl_ms: self.lease_ttl_ms,
            retries: self.retries,
            export_batch: self.export_batch,
            export_interval_ms: self.export_interval_ms,
            restore_leases,
            max_result_bytes: self.max_result_bytes,
        }
    }
}

/// Runs `ensweep coordinator`.
pub fn run(args: CoordinatorArgs) -> anyhow::Result<()> {
    let coordinator = Coordinator::start(args.tuning.config(args.dir.clone(), true))
        .with_context(|| format!("starting the coordinator in {}", args.dir.display()))?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let handle = coordinator.handle();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening {addr}")?;
        out.flush()?;
        drop(out);
        tracing::info!(%addr, dir = %args.dir.display(), "coordinator serving");
        let loop_died = loop_death(handle.status.clone());
        let stop = async {
            tokio::select! {
                () = crate::cmd_worker::shutdown_signal() => {}
                () = loop_died => {}
            }
        };
        ensweep_coordinator::serve(handle, listener, stop)
            .await
            .context("serving gRPC")
    })?;
    drop(rt);
    // A loop that ended on its own hit a fatal ledger error (disk full, I/O): exit non-zero
    // rather than listen without working, and release the directory for a restart.
    if coordinator.handle().status.has_changed().is_err() {
        anyhow::bail!(
            "the coordinator stopped: its ledger in {} could not be written (the error is logged \
             above; disk full?). Nothing acknowledged is lost: free space and start it again",
            args.dir.display()
        );
    }
    coordinator.shutdown();
    Ok(())
}

/// Resolves when the event loop has ended: it owns the only sender of the status watch.
async fn loop_death(
    mut status: tokio::sync::watch::Receiver<std::sync::Arc<ensweep_coordinator::status::Snapshot>>,
) {
    while status.changed().await.is_ok() {}
}
