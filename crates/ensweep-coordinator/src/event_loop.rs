//! The event loop: the one owner of coordinator state.
//!
//! It runs on a dedicated OS thread (SQLite calls block, so they must not run on the async
//! runtime). Each iteration drains every queued event, applies them to the pure machine, commits
//! the resulting ops in a single transaction (group commit), and only then sends the replies and
//! hands new parts to the exporter. Under load the batches grow by themselves: while one commit
//! is in flight, the next batch queues up.

use crate::cell_events::{self, CellEvent};
use crate::error::CoordError;
use crate::event::{Caller, Event};
use crate::export;
use crate::ledger::Ledger;
use crate::machine::{ExportJob, Grant, Machine, MachineConfig};
use crate::status::Snapshot;
use ensweep_core::trainer::Registry;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, oneshot, watch};

/// How long the loop sleeps without events before it checks expiries and export deadlines.
const TICK: Duration = Duration::from_millis(20);
/// Lease expiry scans at most this often (a scan walks every live lease).
const EXPIRY_SCAN_MS: u64 = 100;
/// Most events applied in one transaction.
const MAX_BATCH: usize = 16_384;

/// Settings of a coordinator.
#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    /// Directory of the ledger and of the sweeps' result tables (`<dir>/<sweep>/<table>/`).
    pub dir: PathBuf,
    /// A lease expires this long after its last heartbeat.
    pub lease_ttl_ms: u64,
    /// Budget-spending failures allowed per cell before it fails for good.
    pub retries: u32,
    /// Rows per Parquet part at most.
    pub export_batch: usize,
    /// A part is cut at least this often while results arrive.
    pub export_interval_ms: u64,
    /// Keep leases found in the ledger alive (their workers may still run them and will
    /// heartbeat). Embedded mode sets this to false: its workers died with the process.
    pub restore_leases: bool,
    /// Largest encoded result accepted at completion (`--max-result-bytes`); larger ones are
    /// refused with INVALID_ARGUMENT before anything is written.
    pub max_result_bytes: usize,
    /// The trainers a submitted spec may name (the binary's `ensweep_worker::TRAINERS`):
    /// submissions are parsed and every cell validated against them.
    pub trainers: Registry,
}

/// A running coordinator (its event loop and exporter threads).
pub struct Coordinator {
    events: Sender<Event>,
    status: watch::Receiver<Arc<Snapshot>>,
    cells: broadcast::Sender<CellEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
    lease_ttl_ms: u64,
    dir: PathBuf,
    max_result_bytes: usize,
    trainers: Registry,
}

/// Cell events a slow listener may fall behind by before it misses some (it is told how many).
const CELL_EVENTS_BUFFER: usize = 4_096;

/// A cheap handle for adapters: send events, watch status.
#[derive(Clone)]
pub struct Handle {
    /// Event sender.
    pub events: Sender<Event>,
    /// Latest status.
    pub status: watch::Receiver<Arc<Snapshot>>,
    /// Finished and failed cells, announced after their commit and before the status that
    /// counts them (subscribe with `cells.subscribe()`).
    pub cells: broadcast::Sender<CellEvent>,
    /// Lease TTL, told to workers.
    pub lease_ttl_ms: u64,
    /// Results directory.
    pub dir: PathBuf,
    /// Largest encoded result accepted.
    pub max_result_bytes: usize,
    /// The trainers submissions are parsed against.
    pub trainers: Registry,
}

impl Handle {
    /// Sends an event and awaits its reply.
    pub async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Event,
    ) -> Result<T, CoordError> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(make(tx))
            .map_err(|_| CoordError::ShuttingDown)?;
        rx.await.map_err(|_| CoordError::ShuttingDown)
    }
}

/// Milliseconds on a monotonic clock, counted from the first call in this process. Lease
/// deadlines and export intervals use it, so a wall-clock step (NTP, a suspended VM) neither
/// expires every lease at once nor keeps dead ones alive.
pub fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch: for timestamps stored in the ledger, and to seed worker
/// ids so that they differ between coordinator runs.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Coordinator {
    /// Opens the ledger in `config.dir`, restores every sweep, and starts the threads.
    pub fn start(config: CoordinatorConfig) -> Result<Coordinator, CoordError> {
        let io = |source| CoordError::Io {
            path: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(io)?;
        let lock = std::fs::File::create(config.dir.join("coordinator.lock")).map_err(io)?;
        if lock.try_lock().is_err() {
            return Err(CoordError::Locked(config.dir.clone()));
        }
        let mut ledger = Ledger::open(&config.dir)?;
        let now = now_ms();
        let wall = wall_ms();
        let mut machine = Machine::new(
            MachineConfig {
                lease_ttl_ms: config.lease_ttl_ms,
                retries: config.retries,
                export_batch: config.export_batch,
                export_interval_ms: config.export_interval_ms,
            },
            wall,
        );
        ledger.load(&mut machine, config.restore_leases, now)?;
        let ops = machine.take_ops();
        ledger.commit(&ops, &machine, wall)?;
        let (events, rx) = mpsc::channel();
        let (status_tx, status) = watch::channel(Arc::new(machine.snapshot()));
        let (cells, _) = broadcast::channel(CELL_EVENTS_BUFFER);
        let (jobs_tx, jobs_rx) = mpsc::channel::<ExportJob>();
        let exporter = {
            let (db, dir, ev) = (ledger.path().to_owned(), config.dir.clone(), events.clone());
            std::thread::Builder::new()
                .name("ensweep-export".into())
                .spawn(move || export::run(db, dir, jobs_rx, ev))
                .map_err(io)?
        };
        let state = LoopState {
            machine,
            ledger,
            rx,
            jobs: Some(jobs_tx),
            exporter: Some(exporter),
            status: status_tx,
            cells: cells.clone(),
            parked: Vec::new(),
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("ensweep-coordinator".into())
            .spawn(move || state.run())
            .map_err(io)?;
        Ok(Coordinator {
            events,
            status,
            cells,
            thread: Some(thread),
            lease_ttl_ms: config.lease_ttl_ms,
            dir: config.dir,
            max_result_bytes: config.max_result_bytes,
            trainers: config.trainers,
        })
    }

    /// A handle for adapters and in-process clients.
    pub fn handle(&self) -> Handle {
        Handle {
            events: self.events.clone(),
            status: self.status.clone(),
            cells: self.cells.clone(),
            lease_ttl_ms: self.lease_ttl_ms,
            dir: self.dir.clone(),
            max_result_bytes: self.max_result_bytes,
            trainers: self.trainers,
        }
    }

    /// Stops the loop after exporting every finished result; blocks until it has.
    pub fn shutdown(mut self) {
        let _ = self.events.send(Event::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.events.send(Event::Shutdown);
            let _ = t.join();
        }
    }
}

/// A long-poll lease request waiting for work.
struct Parked {
    worker: Caller,
    capacity: u32,
    deadline: u64,
    reply: oneshot::Sender<Result<Vec<Grant>, CoordError>>,
}

type Reply = Box<dyn FnOnce() + Send>;

/// Queues `value` to be sent on `reply` once the batch is committed.
fn push<T: Send + 'static>(replies: &mut Vec<Reply>, reply: oneshot::Sender<T>, value: T) {
    replies.push(Box::new(move || {
        let _ = reply.send(value);
    }));
}

struct LoopState {
    machine: Machine,
    ledger: Ledger,
    rx: mpsc::Receiver<Event>,
    jobs: Option<Sender<ExportJob>>,
    exporter: Option<std::thread::JoinHandle<()>>,
    status: watch::Sender<Arc<Snapshot>>,
    cells: broadcast::Sender<CellEvent>,
    parked: Vec<Parked>,
    /// Held for the life of the loop: one coordinator per directory.
    _lock: std::fs::File,
}

impl LoopState {
    fn run(mut self) {
        let mut last_scan = 0u64;
        // Exports queued by the restore (parts assigned but never written).
        self.send_exports();
        loop {
            let mut batch = Vec::new();
            match self.rx.recv_timeout(TICK) {
                Ok(e) => batch.push(e),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let now = now_ms();
            let mut replies: Vec<Reply> = Vec::new();
            let mut shutdown = false;
            for event in batch {
                match event {
                    Event::Shutdown => shutdown = true,
                    other => self.apply(other, now, &mut replies),
                }
            }
            if now >= last_scan + EXPIRY_SCAN_MS {
                self.machine.tick(now);
                last_scan = now;
            } else {
                self.machine.cut_parts(now, false);
            }
            self.serve_parked(now, &mut replies, shutdown);
            if shutdown {
                self.machine.cut_parts(now, true);
            }
            if let Err(err) = self.commit() {
                // Nothing of this batch may be acknowledged; dropping the replies makes every
                // caller see `unavailable`, and workers retry against a restarted coordinator.
                tracing::error!(%err, "ledger commit failed; stopping the coordinator");
                return;
            }
            // Publish first: a client that hears back (e.g. after a submission) must find the
            // new state in the status watch.
            self.publish();
            for reply in replies {
                reply();
            }
            self.send_exports();
            if shutdown {
                self.drain_exports();
                return;
            }
        }
    }

    fn apply(&mut self, event: Event, now: u64, replies: &mut Vec<Reply>) {
        let m = &mut self.machine;
        match event {
            Event::Register {
                registration,
                reply,
            } => {
                let res = m.register(registration, now);
                push(replies, reply, res);
            }
            Event::Lease {
                worker,
                capacity,
                wait_ms,
                reply,
            } => {
                let res = m
                    .authenticate(worker.id, &worker.session, now)
                    .and_then(|()| m.lease(worker.id, capacity, now));
                match res {
                    Ok(grants) if grants.is_empty() && wait_ms > 0 => self.parked.push(Parked {
                        worker,
                        capacity,
                        deadline: now.saturating_add(wait_ms),
                        reply,
                    }),
                    res => push(replies, reply, res),
                }
            }
            Event::Heartbeat {
                worker,
                fences,
                progress,
                reply,
            } => {
                let res = m
                    .authenticate(worker.id, &worker.session, now)
                    .and_then(|()| m.heartbeat(worker.id, &fences, now));
                if res.is_ok() {
                    m.record_progress(worker.id, &progress);
                }
                push(replies, reply, res);
            }
            Event::Complete {
                worker,
                results,
                reply,
            } => {
                let res = m.authenticate(worker.id, &worker.session, now).map(|()| {
                    let mut orphaned = Vec::new();
                    for (fence, output, wall) in results {
                        if m.complete(worker.id, fence, output, wall, now) {
                            orphaned.push(fence);
                        }
                    }
                    orphaned
                });
                push(replies, reply, res);
            }
            Event::Fail {
                worker,
                failures,
                reply,
            } => {
                let res = m.authenticate(worker.id, &worker.session, now).map(|()| {
                    for (fence, kind, message) in failures {
                        m.fail(worker.id, fence, kind, message);
                    }
                });
                push(replies, reply, res);
            }
            Event::Release {
                worker,
                fences,
                kind,
                reply,
            } => {
                let res = m.authenticate(worker.id, &worker.session, now).map(|()| {
                    for fence in fences {
                        m.release(worker.id, fence, kind);
                    }
                });
                push(replies, reply, res);
            }
            Event::Submit { spec, text, reply } => push(replies, reply, m.submit(&spec, text)),
            Event::Cancel { sweep, reply } => push(replies, reply, m.cancel(&sweep)),
            Event::Retry { sweep, kind, reply } => push(replies, reply, m.retry(&sweep, kind)),
            Event::Exported { sweep, part } => m.exported(&sweep, part),
            Event::Shutdown => {}
        }
    }

    /// Answers parked long polls: with cells when there are some, empty at their deadline.
    fn serve_parked(&mut self, now: u64, replies: &mut Vec<Reply>, shutdown: bool) {
        if self.parked.is_empty() {
            return;
        }
        let has_pending = self.machine.has_pending();
        let mut keep = Vec::new();
        for p in std::mem::take(&mut self.parked) {
            let res = if shutdown {
                Err(CoordError::ShuttingDown)
            } else if has_pending {
                self.machine.lease(p.worker.id, p.capacity, now)
            } else {
                Ok(Vec::new())
            };
            let empty = matches!(&res, Ok(g) if g.is_empty());
            if empty && now < p.deadline && !shutdown {
                keep.push(p);
                continue;
            }
            let reply = p.reply;
            replies.push(Box::new(move || {
                let _ = reply.send(res);
            }));
        }
        self.parked = keep;
    }

    /// Commits the machine's ops (the ledger's timestamps are wall time).
    fn commit(&mut self) -> Result<(), CoordError> {
        let ops = self.machine.take_ops();
        self.ledger.commit(&ops, &self.machine, wall_ms())?;
        self.announce(&ops);
        Ok(())
    }

    /// Broadcasts the cells that `ops` finished or failed; callers publish the status after,
    /// so a listener that sees a count has already been sent the events behind it.
    fn announce(&self, ops: &[crate::machine::Op]) {
        if self.cells.receiver_count() == 0 {
            return;
        }
        for event in cell_events::from_ops(ops, &self.machine) {
            // Only fails when every receiver is gone; nothing to do then.
            let _ = self.cells.send(event);
        }
    }

    fn send_exports(&mut self) {
        let jobs = self.machine.take_exports();
        if let Some(tx) = &self.jobs {
            for job in jobs {
                let _ = tx.send(job);
            }
        }
    }

    fn publish(&mut self) {
        let snap = self.machine.snapshot();
        self.status.send_if_modified(|cur| {
            if **cur == snap {
                false
            } else {
                *cur = Arc::new(snap);
                true
            }
        });
    }

    /// Shutdown: let the exporter finish every queued part and record them.
    fn drain_exports(&mut self) {
        self.jobs = None;
        if let Some(t) = self.exporter.take() {
            let _ = t.join();
        }
        while let Ok(event) = self.rx.try_recv() {
            if let Event::Exported { sweep, part } = event {
                self.machine.exported(&sweep, part);
            }
        }
        if let Err(err) = self.commit() {
            tracing::error!(%err, "final ledger commit failed; parts will be re-exported");
        }
        self.publish();
    }
}
