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

pub mod rpc;
mod trainers;

pub use trainers::{SYNTHETIC_LOG_ENV, Synthetic, TRAINERS};

use ensweep_core::output::{EpochRow, TrainSink};
use ensweep_core::spec::Cell;
use ensweep_core::trainer::{Registry, TrainError};
use ensweep_proto::v1 as pb;
use rpc::{Client, retry};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
    /// The coordinator refused us (protocol version, ...).
    #[error("coordinator refused the worker: {0}")]
    Refused(String),
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
}

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

/// Registers (again, after a coordinator restart); returns the heartbeat interval.
async fn register(shared: &Shared) -> Result<u64, WorkerError> {
    let req = pb::RegisterWorkerRequest {
        protocol_version: ensweep_proto::PROTOCOL_VERSION,
        worker_name: shared.config.name.clone(),
        slots: shared.config.slots as u32,
        trainer_versions: shared
            .config
            .trainers
            .versions()
            .map(str::to_owned)
            .collect(),
        code_hash: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let resp = retry("register", || {
        let mut c = shared.client.clone();
        let req = req.clone();
        async move { c.register_worker(req).await }
    })
    .await
    .map_err(|s| WorkerError::Refused(s.message().to_owned()))?
    .into_inner();
    // Id and session change together under the lock (a concurrent reader may still pair an
    // old id with a new session once; that call is refused and retried).
    let mut session = shared.session.lock().expect("session");
    *session = resp.session;
    shared.worker_id.store(resp.worker_id, Ordering::SeqCst);
    drop(session);
    tracing::info!(worker_id = resp.worker_id, "registered");
    Ok(resp.heartbeat_interval_ms.max(10))
}

/// Registers again after the registration `stale` was refused (NOT_FOUND), once per stale
/// registration. The heartbeat, lease and result calls can all be refused at once after a
/// coordinator restart; each registering on its own replaced the registration another had just
/// made, so a result retried under the first new id was refused again and its cell retrained.
async fn register_again(shared: &Shared, stale: u64) -> Result<(), WorkerError> {
    let _one = shared.reregister.lock().await;
    if shared.worker_id.load(Ordering::SeqCst) != stale {
        return Ok(());
    }
    register(shared).await.map(|_| ())
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
            Err(s) => return Err(WorkerError::Refused(s.message().to_owned())),
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

/// Cancels a trainer when its lease is revoked, the worker stops, or the cell's time limit
/// (a monotonic deadline) has passed.
struct FlagSink {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl FlagSink {
    fn timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

impl TrainSink for FlagSink {
    fn on_epoch(&mut self, _row: &EpochRow, _epochs_total: u32) {}
    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.timed_out()
    }
}

/// How a run ended on its blocking thread.
enum RunEnd {
    Done(pb::RunOutput, f64),
    TimedOut(f64),
    Err(TrainError),
}

/// Waits for a slot, trains the cell on a blocking thread, and queues its outcome.
async fn run_cell(
    shared: Arc<Shared>,
    lease: pb::Lease,
    flag: Arc<AtomicBool>,
    out: mpsc::UnboundedSender<Outcome>,
) {
    let outcome = attempt(&shared, lease, flag).await;
    let _ = out.send(outcome);
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    shared.freed.notify_one();
}

async fn attempt(shared: &Shared, lease: pb::Lease, flag: Arc<AtomicBool>) -> Outcome {
    let fence = lease.fence;
    let Ok(permit) = shared.slots.clone().acquire_owned().await else {
        return Outcome::Released(fence, pb::ReleaseReason::Preempted);
    };
    if shared.stopping.load(Ordering::SeqCst) || flag.load(Ordering::SeqCst) {
        return Outcome::Released(fence, pb::ReleaseReason::Preempted);
    }
    // Refuse cells built for another trainer version than this binary's.
    let trainers = shared.config.trainers;
    if trainers.get(&lease.kind).map(|t| t.version()).ok() != Some(lease.trainer_version.as_str()) {
        tracing::warn!(kind = %lease.kind, version = %lease.trainer_version, "refusing cell of another trainer version");
        return Outcome::Released(fence, pb::ReleaseReason::Refused);
    }
    let limit = (lease.time_limit_ms > 0).then(|| Duration::from_millis(lease.time_limit_ms));
    let axes = serde_json::from_str(&lease.axes_json).unwrap_or_default();
    let cell = Cell {
        key: lease.cell_key,
        sweep: lease.sweep,
        kind: lease.kind,
        trainer_version: lease.trainer_version,
        config_json: lease.config_json,
        sweep_seed: lease.sweep_seed,
        replicate: lease.replicate,
        axes,
    };
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let mut sink = FlagSink {
            flag,
            deadline: limit.map(|l| started + l),
        };
        let res = trainers.train(&cell, &mut sink);
        let wall = started.elapsed().as_secs_f64();
        match res {
            Ok(o) => RunEnd::Done(ensweep_core::wire::to_wire(&o), wall),
            Err(TrainError::Cancelled) if sink.timed_out() && !sink.flag.load(Ordering::SeqCst) => {
                RunEnd::TimedOut(wall)
            }
            Err(e) => RunEnd::Err(e),
        }
    })
    .await;
    match joined {
        Ok(RunEnd::Done(output, wall_seconds)) => Outcome::Completed(pb::CellResult {
            fence,
            output: Some(output),
            wall_seconds,
        }),
        Ok(RunEnd::TimedOut(wall)) => Outcome::Failed(pb::CellFailure {
            fence,
            kind: pb::FailureKind::TimedOut as i32,
            message: format!("stopped at the time limit after {wall:.1} s"),
        }),
        Ok(RunEnd::Err(TrainError::Cancelled)) => {
            Outcome::Released(fence, pb::ReleaseReason::Preempted)
        }
        Ok(RunEnd::Err(err)) => Outcome::Failed(pb::CellFailure {
            fence,
            kind: (if err.is_user_error() {
                pb::FailureKind::UserError
            } else {
                pb::FailureKind::Crashed
            }) as i32,
            message: err.to_string(),
        }),
        Err(join) => Outcome::Failed(pb::CellFailure {
            fence,
            kind: pb::FailureKind::Crashed as i32,
            message: panic_message(join),
        }),
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .map_or_else(
                || "trainer panicked".to_owned(),
                |m| format!("trainer panicked: {m}"),
            ),
        Err(e) => e.to_string(),
    }
}

/// Most outcomes per RPC.
const MAX_OUTCOMES: usize = 4_096;

/// Sends outcomes in batches until the channel closes; retries while the coordinator is away.
async fn send_outcomes(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Outcome>,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_OUTCOMES {
            match rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        let mut results = Vec::new();
        let mut failures = Vec::new();
        let mut released: HashMap<i32, Vec<u64>> = HashMap::new();
        for o in batch {
            match o {
                Outcome::Completed(r) => results.push(r),
                Outcome::Failed(f) => failures.push(f),
                Outcome::Released(fence, reason) => {
                    released.entry(reason as i32).or_default().push(fence)
                }
            }
        }
        let mut fences: Vec<u64> = results.iter().map(|r| r.fence).collect();
        fences.extend(failures.iter().map(|f| f.fence));
        if !results.is_empty() {
            report.completed += results.len() as u64;
            let res = send_registered(&shared, "complete", |worker_id, session| {
                let mut c = shared.client.clone();
                let req = pb::CompleteCellsRequest {
                    worker_id,
                    results: results.clone(),
                    session,
                };
                async move { c.complete_cells(req).await }
            })
            .await;
            if let Err(s) = res {
                tracing::error!(%s, "results lost: coordinator refused them");
            }
        }
        if !failures.is_empty() {
            report.failed += failures.len() as u64;
            let _ = send_registered(&shared, "fail", |worker_id, session| {
                let mut c = shared.client.clone();
                let req = pb::FailCellsRequest {
                    worker_id,
                    failures: failures.clone(),
                    session,
                };
                async move { c.fail_cells(req).await }
            })
            .await;
        }
        for (reason, list) in released {
            report.released += list.len() as u64;
            fences.extend(&list);
            let _ = send_registered(&shared, "release", |worker_id, session| {
                let mut c = shared.client.clone();
                let req = pb::ReleaseCellsRequest {
                    worker_id,
                    fences: list.clone(),
                    reason,
                    session,
                };
                async move { c.release_cells(req).await }
            })
            .await;
        }
        let mut held = shared.held.lock().expect("held");
        for f in fences {
            held.remove(&f);
        }
    }
    report
}

/// Sends a worker-side call (retrying transient failures); when the coordinator no longer
/// knows this registration (it restarted, or the registration expired), registers again and
/// sends once more under the new id and session. Without this, the results a worker finished
/// while the coordinator was down were dropped and their cells trained a second time.
async fn send_registered<T, F, Fut>(shared: &Shared, what: &str, mut call: F) -> Result<T, Status>
where
    F: FnMut(u64, String) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let stale = shared.worker_id.load(Ordering::SeqCst);
    let first = {
        let session = shared.session();
        retry(what, || call(stale, session.clone())).await
    };
    match first {
        Err(s) if s.code() == tonic::Code::NotFound => {
            tracing::info!(
                call = what,
                "registration unknown to the coordinator; registering again"
            );
            register_again(shared, stale)
                .await
                .map_err(|e| Status::unavailable(e.to_string()))?;
            let (id, session) = (shared.worker_id.load(Ordering::SeqCst), shared.session());
            retry(what, || call(id, session.clone())).await
        }
        other => other,
    }
}

/// Renews every held lease each interval, independently of what the slots are doing.
async fn heartbeat_loop(shared: Arc<Shared>, interval_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let fences: Vec<u64> = shared.held.lock().expect("held").keys().copied().collect();
        if fences.is_empty() {
            continue;
        }
        let req = pb::HeartbeatRequest {
            worker_id: shared.worker_id.load(Ordering::SeqCst),
            fences,
            session: shared.session(),
        };
        let stale = req.worker_id;
        let mut c = shared.client.clone();
        // One try per tick: a missed heartbeat is retried by the next tick anyway.
        match c.heartbeat(req).await {
            Ok(resp) => {
                let held = shared.held.lock().expect("held");
                for f in resp.into_inner().revoked {
                    if let Some(flag) = held.get(&f) {
                        tracing::info!(fence = f, "lease revoked; cancelling");
                        flag.store(true, Ordering::SeqCst);
                    }
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {
                // The coordinator restarted, or our registration expired: register again so
                // that the new registration owns our leases before they expire, even while
                // every slot is busy and the lease loop is not calling.
                tracing::info!("registration unknown to the coordinator; registering again");
                if let Err(err) = register_again(&shared, stale).await {
                    tracing::warn!(%err, "registering again failed");
                }
            }
            Err(s) => tracing::debug!(%s, "heartbeat failed"),
        }
    }
}
