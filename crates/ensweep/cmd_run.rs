//! `ensweep run`: a whole sweep on this machine, resumable.
//!
//! Embedded mode runs exactly the distributed code: an in-process coordinator serving gRPC on
//! 127.0.0.1 (an ephemeral port) and in-process workers that connect to it, so the default path
//! exercises what a cluster runs. The ledger lives in `--dir` (default `sweeps/`), results in
//! `<dir>/<sweep name>/`. Ctrl-C stops leasing, releases running cells as preempted and exports
//! what finished; running the same command again resumes, and never re-runs finished cells.
//! The sweep benchmarks reuse [`run_embedded`].

use crate::cmd_coordinator::Tuning;
use crate::exit::CliError;
use crate::progress::{self, Progress};
use anyhow::Context;
use clap::Args;
use ensweep_coordinator::{CellEvent, Coordinator, Event, Snapshot, SweepStatus};
use ensweep_core::spec::Spec;
use ensweep_worker::{TRAINERS, WorkerConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::sync::watch;

/// Arguments of `ensweep run`.
#[derive(Args)]
pub struct RunArgs {
    /// The sweep file.
    pub spec: PathBuf,
    #[command(flatten)]
    pub overrides: crate::overrides::Overrides,
    /// Directory of the ledger and results (`<dir>/<sweep name>/<table>/part-*.parquet`).
    #[arg(long, default_value = "sweeps")]
    pub dir: PathBuf,
    /// Training slots; default: the machine's cores.
    #[arg(long)]
    pub slots: Option<usize>,
    /// No progress output at all. By default a terminal gets a bar, and a log (stdout not a
    /// terminal) one line per finished or failed cell plus summary lines.
    #[arg(long)]
    pub no_progress: bool,
    /// Progress as JSON lines on stdout, one object per event (start, cell, progress, end).
    #[arg(long)]
    pub json: bool,
    /// Seconds between summary lines in a log or with `--json`.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub progress_every: f64,
    #[command(flatten)]
    pub tuning: Tuning,
    /// Directory for checkpoints of long cells, so an interrupted cell resumes where it was
    /// (default: `<dir>/checkpoints`; docs/CHECKPOINTS.md).
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    #[command(flatten)]
    pub checkpoint: crate::cmd_worker::CheckpointEvery,
}

/// How an embedded sweep is run.
pub struct EmbeddedOptions {
    /// Ledger and results directory.
    pub dir: PathBuf,
    /// Coordinator settings.
    pub tuning: Tuning,
    /// In-process workers.
    pub workers: usize,
    /// Slots per worker.
    pub slots: usize,
    /// Prefetch per worker.
    pub prefetch: usize,
    /// How progress is shown.
    pub progress: progress::Settings,
    /// Checkpoints of the local workers' long cells.
    pub checkpoints: Option<ensweep_worker::CheckpointPolicy>,
}

/// What an embedded sweep did.
pub struct EmbeddedOutcome {
    /// Final state of the sweep.
    pub status: SweepStatus,
    /// From submission to the last result exported (or the interruption).
    pub elapsed: Duration,
    /// Stopped by Ctrl-C before finishing.
    pub interrupted: bool,
    /// One-line description of the submission.
    pub submission: String,
}

/// Runs `spec` to completion (or Ctrl-C) with in-process coordinator and workers.
pub fn run_embedded(
    spec: Spec,
    text: String,
    opts: &EmbeddedOptions,
) -> anyhow::Result<EmbeddedOutcome> {
    // Workers died with any previous process, so leases found in the ledger are requeued.
    let coordinator = Coordinator::start(opts.tuning.config(opts.dir.clone(), false))
        .with_context(|| format!("opening {}", opts.dir.display()))?;
    let rt = crate::cmd_worker::runtime(opts.workers * opts.slots)?;
    let handle = coordinator.handle();
    let name = spec.name.clone();
    // Fresh tokens per run: other users of this machine can reach the loopback port, so the
    // local workers get the worker token and the client token is given to no one (this process
    // submits through its in-process handle).
    let worker_token = crate::credentials::random_token()?;
    let tokens = ensweep_coordinator::auth::Tokens {
        worker: Some(worker_token.clone()),
        client: Some(crate::credentials::random_token()?),
    };
    let outcome = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(ensweep_coordinator::serve_with(
            handle.clone(),
            listener,
            ensweep_coordinator::ServeOptions { tokens, tls: None },
            async move {
                let _ = server_stopped.await;
            },
        ));
        let (stop_workers, _) = tokio::sync::broadcast::channel::<()>(1);
        let workers = spawn_workers(
            opts,
            &format!("http://{addr}"),
            &worker_token,
            &stop_workers,
        );
        // Start the clock with every worker registered, so it measures the sweep alone.
        let mut status = handle.status.clone();
        // Subscribed before submitting, so no cell can finish unseen.
        let cells = handle.cells.subscribe();
        while (status.borrow_and_update().workers as usize) < opts.workers {
            status.changed().await?;
        }
        let started = Instant::now();
        let sub = handle
            .call(|reply| Event::Submit {
                spec: Box::new(spec),
                text,
                reply,
            })
            .await??;
        // Cells left from an interrupted run are not new but still to run.
        let submission = format!(
            "sweep `{}`: {} cells, {} to run, {} already done ({} new)",
            sub.sweep,
            sub.total,
            sub.total - sub.already_done,
            sub.already_done,
            sub.new_cells
        );
        let slots = (opts.workers * opts.slots) as u64;
        let mut progress = Progress::new(opts.progress, &name, slots);
        progress.submitted(sub.total, sub.total - sub.already_done);
        let (last, interrupted) = follow(&mut status, cells, &mut progress, &name).await?;
        let elapsed = started.elapsed();
        progress.finish(&last, interrupted);
        let _ = stop_workers.send(());
        for w in workers {
            if let Err(err) = w.await? {
                tracing::warn!(%err, "local worker failed");
            }
        }
        let _ = stop_server.send(());
        server.await??;
        anyhow::Ok(EmbeddedOutcome {
            status: last,
            elapsed,
            interrupted,
            submission,
        })
    })?;
    drop(rt);
    // Exports every finished result before returning (parts cut at shutdown).
    coordinator.shutdown();
    Ok(outcome)
}

/// A local worker's task; it ends with the worker's report.
type WorkerTask =
    tokio::task::JoinHandle<Result<ensweep_worker::WorkerReport, ensweep_worker::WorkerError>>;

/// Starts the local workers on the current runtime; each stops when `stop` sends.
fn spawn_workers(
    opts: &EmbeddedOptions,
    url: &str,
    token: &ensweep_core::token::Token,
    stop: &broadcast::Sender<()>,
) -> Vec<WorkerTask> {
    (0..opts.workers)
        .map(|i| {
            let config = WorkerConfig {
                coordinator: ensweep_worker::rpc::Connection {
                    url: url.to_owned(),
                    token: Some(token.clone()),
                    tls: None,
                },
                name: format!("local-{i}"),
                slots: opts.slots,
                prefetch: opts.prefetch,
                lease_wait_ms: 1_000,
                trainers: TRAINERS,
                checkpoints: opts.checkpoints.clone(),
            };
            let mut stop = stop.subscribe();
            tokio::spawn(ensweep_worker::run(config, async move {
                let _ = stop.recv().await;
            }))
        })
        .collect()
}

/// Shows progress until the sweep is finished or Ctrl-C; returns its last state and whether
/// it was interrupted.
async fn follow(
    status: &mut watch::Receiver<Arc<Snapshot>>,
    mut cells: broadcast::Receiver<CellEvent>,
    progress: &mut Progress,
    name: &str,
) -> anyhow::Result<(SweepStatus, bool)> {
    let interrupt = crate::cmd_worker::shutdown_signal();
    tokio::pin!(interrupt);
    // Redraws the counting-down ETA and writes summary lines while nothing finishes.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let snap = status.borrow_and_update().clone();
        // Cell events are sent before the status that counts them: every cell this snapshot
        // counts is in the channel by now, so the last lines come before the end summary.
        loop {
            match cells.try_recv() {
                Ok(event) => progress.cell(&event),
                Err(TryRecvError::Lagged(n)) => lagged(n),
                Err(_) => break,
            }
        }
        let Some(current) = snap.sweeps.iter().find(|s| s.name == name).cloned() else {
            anyhow::bail!("sweep `{name}` vanished from the coordinator");
        };
        progress.update(&current, &snap.running);
        if current.finished() {
            return Ok((current, false));
        }
        tokio::select! {
            r = status.changed() => r?,
            r = cells.recv() => match r {
                Ok(event) => progress.cell(&event),
                Err(RecvError::Lagged(n)) => lagged(n),
                Err(RecvError::Closed) => anyhow::bail!("the coordinator stopped"),
            },
            _ = tick.tick() => {}
            () = &mut interrupt => return Ok((current, true)),
        }
    }
}

fn lagged(missed: u64) {
    tracing::warn!(missed, "progress fell behind; some cell lines are missing");
}

/// Runs `ensweep run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let spec = args.overrides.load(&args.spec)?;
    // The effective spec (overrides applied) is what the ledger records.
    let text = spec.text().to_owned();
    let slots = args
        .slots
        .unwrap_or_else(crate::cmd_worker::default_slots)
        .max(1);
    let opts = EmbeddedOptions {
        dir: args.dir.clone(),
        tuning: args.tuning,
        workers: 1,
        slots,
        prefetch: slots,
        progress: progress::Settings {
            mode: progress::Mode::choose(args.no_progress, args.json),
            every: Duration::try_from_secs_f64(args.progress_every)
                .context("--progress-every must be a number of seconds >= 0")?,
        },
        checkpoints: Some(args.checkpoint.policy(
            (args.checkpoint_dir.clone()).unwrap_or_else(|| args.dir.join("checkpoints")),
        )?),
    };
    let out = run_embedded(spec, text, &opts)?;
    let s = &out.status;
    let f = &s.failures;
    eprintln!("{}", out.submission);
    eprintln!(
        "{}: {}/{} done, {} failed, {} cancelled in {:.1} s (failures: crashed {}, timed out {}, \
         lease expired {}, preempted {}, user error {}); results in {}",
        s.name,
        s.done,
        s.total,
        s.failed,
        s.cancelled,
        out.elapsed.as_secs_f64(),
        f.crashed,
        f.timed_out,
        f.lease_expired,
        f.preempted,
        f.user_error,
        args.dir.join(&s.name).display()
    );
    if out.interrupted {
        return Err(CliError::Interrupted.into());
    }
    if s.failed > 0 {
        return Err(CliError::CellsFailed {
            sweep: s.name.clone(),
            failed: s.failed,
            total: s.total,
        }
        .into());
    }
    Ok(())
}

/// The sweep-machinery benchmarks (`ensweep bench sweep-noop` / `sweep-sleep`).
pub mod bench {
    use super::{EmbeddedOptions, run_embedded};
    use crate::cmd_coordinator::Tuning;
    use ensweep_core::spec::Spec;

    /// What one benchmark run measured.
    pub struct BenchResult {
        /// Cells completed.
        pub cells: u64,
        /// Seconds from submission to the last result exported.
        pub seconds: f64,
    }

    /// Runs `cells` synthetic cells sleeping `sleep_ms` each through an embedded coordinator
    /// and `workers` workers over loopback gRPC, ledger and Parquet export included.
    pub fn sweep(
        cells: u64,
        sleep_ms: u64,
        workers: usize,
        slots: usize,
        prefetch: usize,
    ) -> anyhow::Result<BenchResult> {
        let dir = tempfile_dir()?;
        let text = format!(
            "[sweep]\nname = \"bench\"\nseed = 1\nseeds = {cells}\n[synthetic]\nsleep_ms = {sleep_ms}\n"
        );
        let spec = Spec::parse(&text, &dir.join("bench.toml"), &ensweep_worker::TRAINERS)?;
        let opts = EmbeddedOptions {
            dir: dir.clone(),
            tuning: Tuning {
                lease_ttl_ms: 30_000,
                retries: 3,
                export_batch: 100_000,
                export_interval_ms: 250,
                max_result_bytes: ensweep_core::wire::DEFAULT_MAX_RESULT_BYTES,
            },
            workers,
            slots,
            prefetch,
            progress: crate::progress::Settings::OFF,
            checkpoints: None,
        };
        let out = run_embedded(spec, text, &opts);
        let _ = std::fs::remove_dir_all(&dir);
        let out = out?;
        anyhow::ensure!(
            out.status.done == cells && out.status.exported == cells,
            "benchmark sweep did not complete: {:?}",
            out.status
        );
        Ok(BenchResult {
            cells,
            seconds: out.elapsed.as_secs_f64(),
        })
    }

    fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
        let dir = std::env::temp_dir().join(format!("ensweep-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Arguments of `ensweep bench sweep-noop`.
    #[derive(clap::Args)]
    pub struct NoopArgs {
        /// Cells in the sweep.
        #[arg(long, default_value_t = 50_000)]
        pub cells: u64,
    }

    /// Arguments of `ensweep bench sweep-sleep`.
    #[derive(clap::Args)]
    pub struct SleepArgs {
        /// Cells in the sweep.
        #[arg(long, default_value_t = 2_000)]
        pub cells: u64,
        /// Sleep of each cell (ms).
        #[arg(long, default_value_t = 50)]
        pub sleep_ms: u64,
        /// Training slots.
        #[arg(long, default_value_t = 32)]
        pub slots: usize,
        /// Cells each worker leases beyond its slots (default: as many as its slots).
        #[arg(long)]
        pub prefetch: Option<usize>,
    }

    /// (a) no-op cells per second, coordinator + 4 workers.
    pub fn noop(args: NoopArgs) -> anyhow::Result<()> {
        let cells = args.cells;
        let r = sweep(cells, 0, 4, 1, 2_000)?;
        println!(
            "sweep-noop: {} cells in {:.3} s = {:.0} cells/s committed and exported (4 workers x 1 slot, prefetch 2000)",
            r.cells,
            r.seconds,
            r.cells as f64 / r.seconds
        );
        Ok(())
    }

    /// (b) overhead over the ideal wall time of sleeping cells on a fixed number of slots.
    pub fn sleep(args: SleepArgs) -> anyhow::Result<()> {
        let (cells, sleep_ms, slots) = (args.cells, args.sleep_ms, args.slots);
        let r = sweep(cells, sleep_ms, 1, slots, args.prefetch.unwrap_or(slots))?;
        let ideal = cells as f64 * sleep_ms as f64 / 1e3 / slots as f64;
        let rounds = cells.div_ceil(slots as u64) as f64 * sleep_ms as f64 / 1e3;
        println!(
            "sweep-sleep: {} cells x {} ms on {} slots in {:.3} s; ideal {:.3} s -> overhead {:+.2} % \
             (whole-round bound {:.3} s -> {:+.2} %)",
            r.cells,
            sleep_ms,
            slots,
            r.seconds,
            ideal,
            (r.seconds / ideal - 1.0) * 100.0,
            rounds,
            (r.seconds / rounds - 1.0) * 100.0
        );
        Ok(())
    }
}
