//! `ensweep coordinator`: serve the coordinator over gRPC for workers on other machines.
//!
//! Prints one machine-readable line, `listening <addr>`, on stdout once the socket is bound,
//! so scripts and tests can ask for port 0 and read the real port back.

use anyhow::Context;
use clap::Args;
use ensweep_coordinator::auth::{Tokens, check_exposure};
use ensweep_coordinator::{Coordinator, CoordinatorConfig, ServeOptions, ServerTls};
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
    /// File holding the worker role's token (mode 600); else `ENSWEEP_WORKER_TOKEN`.
    #[arg(long)]
    pub worker_token_file: Option<PathBuf>,
    /// File holding the client role's token (mode 600); else `ENSWEEP_CLIENT_TOKEN`.
    #[arg(long)]
    pub client_token_file: Option<PathBuf>,
    /// Allow listening on a non-loopback address without tokens (anyone who can reach the
    /// port can then submit, cancel and report results).
    #[arg(long)]
    pub insecure: bool,
    /// PEM certificate chain to serve TLS with (workers and clients then use `https://`).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA that signs client certificates: every caller must present one (mutual TLS).
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    #[command(flatten)]
    pub tuning: Tuning,
}

impl CoordinatorArgs {
    /// The tokens the flags and environment configure.
    fn tokens(&self) -> anyhow::Result<Tokens> {
        use crate::credentials::{CLIENT_TOKEN_ENV, WORKER_TOKEN_ENV, token};
        let tokens = Tokens {
            worker: token(self.worker_token_file.as_deref(), WORKER_TOKEN_ENV)?,
            client: token(self.client_token_file.as_deref(), CLIENT_TOKEN_ENV)?,
        };
        crate::exit::ensure_usage!(
            tokens.worker.is_none() || tokens.worker != tokens.client,
            "the worker and client tokens must differ (a worker could otherwise submit and cancel)"
        );
        Ok(tokens)
    }

    /// The TLS identity the flags name, if any.
    fn tls(&self) -> anyhow::Result<Option<ServerTls>> {
        use crate::credentials::read_pem;
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        Ok(Some(ServerTls {
            cert_pem: read_pem(cert, "TLS certificate")?,
            key_pem: read_pem(key, "TLS key")?,
            client_ca_pem: match &self.tls_client_ca {
                Some(ca) => Some(read_pem(ca, "client CA certificate")?),
                None => None,
            },
        }))
    }
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
            trainers: ensweep_worker::TRAINERS,
        }
    }
}

/// Runs `ensweep coordinator`.
pub fn run(args: CoordinatorArgs) -> anyhow::Result<()> {
    let options = ServeOptions {
        tokens: args.tokens()?,
        tls: args.tls()?,
    };
    let coordinator = Coordinator::start(args.tuning.config(args.dir.clone(), true))
        .with_context(|| format!("starting the coordinator in {}", args.dir.display()))?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let handle = coordinator.handle();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        check_exposure(addr, &options.tokens, args.insecure)?;
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
        ensweep_coordinator::serve_with(handle, listener, options, stop)
            .await
            .context("serving gRPC")
    })?;
    drop(rt);
    // A loop that ended on its own hit a fatal ledger error (disk full, I/O): exit non-zero
    // rather than listen without working, and release the directory for a restart.
    if coordinator.handle().status.has_changed().is_err() {
        let stopped = format!(
            "the coordinator stopped: its ledger in {} could not be written (the error is logged \
             above; disk full?). Nothing acknowledged is lost: free space and start it again",
            args.dir.display()
        );
        return Err(anyhow::Error::new(std::io::Error::other(stopped)));
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
