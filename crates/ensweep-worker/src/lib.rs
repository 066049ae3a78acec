//! The ensweep pull worker.
//!
//! A worker registers, then keeps `slots + prefetch` cells in hand: a lease loop asks the
//! coordinator for as many cells as it has room for (long-polling when there is nothing to do),
//! each cell waits for one of `slots` permits and trains on a blocking thread, and a sender task
//! returns outcomes in batches. A separate heartbeat task renews every held lease on its own
//! timer, so a busy slot never looks like a dead worker. The async runtime never trains.
//!
//! Every RPC is retried with jittered backoff while the coordinator is away; leases survive a
//! coordinator restart (their fences are in its ledger), so results computed meanwhile are
//! delivered once it is back. On shutdown the worker stops leasing, cancels running cells and
//! releases everything it holds as preempted, which costs those cells no retry budget.
#![warn(missing_docs)]

mod attempt;
mod checkpoint;
mod report;
pub mod rpc;
mod session;
mod trainers;

pub use checkpoint::{CheckpointFile, CheckpointFileError, CheckpointPolicy, read_checkpoint_file};
pub use trainers::{SYNTHETIC_LOG_ENV, Synthetic, TRAINERS};

use attempt::run_cell;
use ensweep_core::trainer::Registry;
use ensweep_proto::v1 as pb;
use report::{heartbeat_loop, send_outcomes};
use rpc::{Client, retry};
use session::{register, register_again};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc};
use tonic::Status;

/// Settings of a worker.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The coordinator and our worker token.
    pub coordinator: rpc::Connection,
    /// Name shown in status and stored with every result.
    pub name: String,
    /// Cells trained at once (each on its own blocking thread).
    pub slots: usize,
    /// Cells leased beyond the slots, so a slot that frees up starts its next cell without a
    /// round trip. Small for long cells (leased cells wait), large for tiny ones.
    pub prefetch: usize,
    /// Long-poll budget of an empty lease request.
    pub lease_wait_ms: u64,
    /// The trainers it can run ([`TRAINERS`] outside tests); it declares their versions when
    /// it registers and refuses cells of any other kind or version.
    pub trainers: Registry,
    /// Where cells of trainers that can resume save their checkpoints, and how often; `None`
    /// keeps none (a cut-off cell starts over).
    pub checkpoints: Option<CheckpointPolicy>,
}

/// What a worker did before it stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Results delivered.
    pub completed: u64,
    /// Failures reported.
    pub failed: u64,
    /// Leases given back.
    pub released: u64,
}

/// A worker that could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The coordinator URL is not valid.
    #[error("invalid coordinator address `{0}`")]
    Address(String),
    /// The coordinator refused us (protocol version, token, ...).
    #[error("coordinator refused the worker: {message}")]
    Refused {
        /// The refusal's gRPC code (`Unauthenticated` for a wrong token, ...).
        code: tonic::Code,
        /// Its message.
        message: String,
    },
    /// The token cannot be sent as a header (validated tokens always can).
    #[error("the token is not a valid header value")]
    Token,
    /// The TLS settings do not fit the URL, or their PEM text is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The coordinator could not be reached.
    #[error("connecting to the coordinator at {0}: {1}")]
    Connect(String, String),
}

impl WorkerError {
    fn refused(s: &Status) -> WorkerError {
        WorkerError::Refused {
            code: s.code(),
            message: s.message().to_owned(),
        }
    }
}

/// How long a stopping worker keeps trying to report its last outcomes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How an attempt ended, as the sender task reports it.
enum Outcome {
    Completed(pb::CellResult),
    Failed(pb::CellFailure),
    Released(u64, pb::ReleaseReason),
}

/// State shared by the worker's tasks.
struct Shared {
    client: Client,
    config: WorkerConfig,
    worker_id: AtomicU64,
    /// Session secret of the registration; sent with every worker-side call.
    session: Mutex<String>,
    /// Every lease held (queued, running, or waiting to be reported), with its cancel flag.
    held: Mutex<HashMap<u64, Arc<AtomicBool>>>,
    stopping: AtomicBool,
    /// Leased cells not yet finished; the lease loop keeps it below slots + prefetch.
    in_flight: AtomicUsize,
    /// Signalled whenever a cell finishes, to wake the lease loop.
    freed: Notify,
    slots: Arc<Semaphore>,
    /// Held while registering again, so concurrent refused calls register only once.
    reregister: tokio::sync::Mutex<()>,
    /// Epochs (done, total) of running cells by fence, sent with every heartbeat.
    progress: Progress,
}

/// Epochs (done, total) of the running cells by fence; written by the training threads,
/// read by the heartbeat.
type Progress = Arc<Mutex<HashMap<u64, (u32, u32)>>>;

impl Shared {
    fn session(&self) -> String {
        self.session.lock().expect("session").clone()
    }
}

/// Runs a worker until `shutdown` resolves, then drains and returns.
pub async fn run(
    config: WorkerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<WorkerReport, WorkerError> {
    let client = config.coordinator.connect_lazy()?;
    let shared = Arc::new(Shared {
        client,
        slots: Arc::new(Semaphore::new(config.slots.max(1))),
        config,
        worker_id: AtomicU64::new(0),
        session: Mutex::new(String::new()),
        held: Mutex::new(HashMap::new()),
        stopping: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        freed: Notify::new(),
        reregister: tokio::sync::Mutex::new(()),
        progress: Progress::default(),
    });
    tokio::pin!(shutdown);
    let heartbeat_ms = tokio::select! {
        r = register(&shared) => r?,
        () = &mut shutdown => return Ok(WorkerReport::default()),
    };
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let sender = tokio::spawn(send_outcomes(shared.clone(), out_rx));
    let heartbeat = tokio::spawn(heartbeat_loop(shared.clone(), heartbeat_ms));
    lease_loop(&shared, &out_tx, &mut shutdown).await?;

    // Stop: no new leases, cancel what runs, and let every cell report (as preempted).
    shared.stopping.store(true, Ordering::SeqCst);
    for flag in shared.held.lock().expect("held").values() {
        flag.store(true, Ordering::SeqCst);
    }
    while shared.in_flight.load(Ordering::SeqCst) > 0 {
        shared.freed.notified().await;
    }
    drop(out_tx);
    // A coordinator that never comes back must not keep a stopping worker alive forever.
    let report = match tokio::time::timeout(DRAIN_TIMEOUT, sender).await {
        Ok(r) => r.unwrap_or_default(),
        Err(_) => {
            tracing::warn!("coordinator unreachable; giving up on unreported outcomes");
            WorkerReport::default()
        }
    };
    heartbeat.abort();
    Ok(report)
}

async fn lease_loop(
    shared: &Arc<Shared>,
    out: &mpsc::UnboundedSender<Outcome>,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<(), WorkerError> {
    let cap = shared.config.slots.max(1) + shared.config.prefetch;
    // Lease in batches of at least half the prefetch: every lease is a ledger commit (an
    // fsync) at the coordinator, so one request per freed slot would cost a commit per cell.
    // The cells still in hand (at least slots + prefetch / 2) keep every slot busy meanwhile.
    let low_water = (shared.config.prefetch / 2).clamp(1, cap);
    loop {
        let room = cap.saturating_sub(shared.in_flight.load(Ordering::SeqCst));
        if room < low_water {
            tokio::select! {
                () = shared.freed.notified() => continue,
                () = &mut *shutdown => return Ok(()),
            }
        }
        let req = pb::LeaseCellsRequest {
            worker_id: shared.worker_id.load(Ordering::SeqCst),
            capacity: room as u32,
            wait_ms: shared.config.lease_wait_ms,
            session: shared.session(),
        };
        let res = tokio::select! {
            r = retry("lease", || {
                let mut c = shared.client.clone();
                let req = req.clone();
                async move { c.lease_cells(req).await }
            }) => r,
            () = &mut *shutdown => return Ok(()),
        };
        let leases = match res {
            Ok(r) => r.into_inner().leases,
            Err(s) if s.code() == tonic::Code::NotFound => {
                // The coordinator restarted and forgot us.
                register_again(shared, req.worker_id).await?;
                continue;
            }
            Err(s) => return Err(WorkerError::refused(&s)),
        };
        for lease in leases {
            let flag = Arc::new(AtomicBool::new(false));
            shared
                .held
                .lock()
                .expect("held")
                .insert(lease.fence, flag.clone());
            shared.in_flight.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(run_cell(shared.clone(), lease, flag, out.clone()));
        }
    }
}
