//! tonic adapters: decode a request, send one event to the loop, encode the reply.
//!
//! No logic lives here beyond translation; errors become `Status` in `CoordError::to_status`.
//! This and the worker crate are the only places that name `ensweep_proto` types.

mod bounds;

use crate::auth::{Authenticated, Tokens};
use crate::error::CoordError;
use crate::event::{Caller, Event};
use crate::event_loop::Handle;
use crate::machine::{FailureKind, Grant, Registration};
use crate::status::{CellProgress, Snapshot, SweepStatus};
use crate::tls::ServerTls;
use ensweep_core::spec::Spec;
use ensweep_proto::v1 as pb;
use ensweep_proto::v1::coordinator_server::{Coordinator as CoordinatorRpc, CoordinatorServer};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// Longest long poll a worker may ask for.
const MAX_WAIT_MS: u64 = 30_000;
/// Least time between two streamed status updates.
const STATUS_EVERY: Duration = Duration::from_millis(100);
/// Longest `spec_path` a submission may name (it only labels error messages).
const MAX_SPEC_PATH: usize = 4_096;
/// Largest gRPC message accepted (result batches can be large).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// How the coordinator is exposed: who may call it, and over what.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Accepted tokens; none means an open service (the caller checks it is on loopback).
    pub tokens: Tokens,
    /// TLS identity; none serves plaintext HTTP/2.
    pub tls: Option<ServerTls>,
}

/// Serves an open, plaintext coordinator on an already-bound listener until `shutdown`
/// resolves (tests and loopback use).
pub async fn serve(
    handle: Handle,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    serve_with(handle, listener, ServeOptions::default(), shutdown).await
}

/// Serves the coordinator with `options`, and beside it the standard `grpc.health.v1.Health`
/// service, on an already-bound listener until `shutdown` resolves.
///
/// Authentication wraps the coordinator service alone, so the health service stays open:
/// it is what orchestrators probe (Kubernetes gRPC probes), and a TCP probe would call a
/// coordinator whose event loop has died healthy, since the socket still accepts.
pub async fn serve_with(
    handle: Handle,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<CoordinatorServer<Service>>().await;
    let watcher = tokio::spawn(report_loop_death(handle.status.clone(), reporter));
    let svc = CoordinatorServer::new(Service { handle })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    // The builder's `tcp_nodelay` only reaches sockets tonic binds itself; accepted sockets of
    // our own listener need it here, or Nagle + delayed ACKs add ~40 ms to small replies.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &options.tls {
        builder = builder.tls_config(tls.config())?;
    }
    let served = builder
        .add_service(health)
        .add_service(Authenticated::new(svc, options.tokens))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    watcher.abort();
    served
}

/// Waits for the event loop to end, then reports the coordinator (and the server as a whole,
/// the empty service name probes ask for by default) as `NOT_SERVING`.
///
/// The loop owns the only sender of the status watch, so the watch closing is exactly the
/// loop's death, whether by shutdown or by a fatal ledger error.
async fn report_loop_death(
    mut status: tokio::sync::watch::Receiver<std::sync::Arc<crate::status::Snapshot>>,
    reporter: tonic_health::server::HealthReporter,
) {
    while status.changed().await.is_ok() {}
    tracing::warn!("coordinator event loop has stopped; health is NOT_SERVING");
    reporter
        .set_not_serving::<CoordinatorServer<Service>>()
        .await;
    reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
}

struct Service {
    handle: Handle,
}

fn st(err: CoordError) -> Status {
    err.to_status()
}

fn lease_pb(g: Grant) -> pb::Lease {
    pb::Lease {
        fence: g.fence,
        cell_key: g.cell_key.to_string(),
        sweep: g.sweep,
        kind: g.kind,
        trainer_version: g.trainer_version,
        config_json: g.config_json.to_string(),
        sweep_seed: g.sweep_seed,
        replicate: g.replicate,
        axes_json: g.axes_json.to_string(),
        attempt: g.attempt,
        time_limit_ms: g.time_limit_ms,
    }
}

/// A fresh session secret: 128 bits from the OS RNG, as hex.
fn new_session() -> Result<String, Status> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Status::internal(format!("OS RNG: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn sweep_pb(s: &SweepStatus, running: &[CellProgress], dir: &Path) -> pb::SweepStatus {
    let f = &s.failures;
    pb::SweepStatus {
        name: s.name.clone(),
        spec_hash: s.spec_hash.clone(),
        kind: s.kind.clone(),
        total: s.total,
        pending: s.pending,
        leased: s.leased,
        done: s.done,
        failed: s.failed,
        cancelled: s.cancelled,
        exported: s.exported,
        orphaned: s.orphaned,
        failures: Some(pb::FailureCounts {
            crashed: f.crashed,
            timed_out: f.timed_out,
            lease_expired: f.lease_expired,
            preempted: f.preempted,
            user_error: f.user_error,
            refused: f.refused,
        }),
        finished: s.finished(),
        results_dir: dir.join(&s.name).display().to_string(),
        running: running
            .iter()
            .filter(|p| p.sweep == s.name)
            .map(|p| pb::RunningCell {
                cell_key: p.cell_key.clone(),
                epochs_done: p.epochs_done,
                epochs_total: p.epochs_total,
            })
            .collect(),
    }
}

fn status_pb(snap: &Snapshot, sweep: &str, dir: &Path) -> pb::WatchStatusResponse {
    pb::WatchStatusResponse {
        sweeps: snap
            .sweeps
            .iter()
            .filter(|s| sweep.is_empty() || s.name == sweep)
            .map(|s| sweep_pb(s, &snap.running, dir))
            .collect(),
        workers: snap.workers,
    }
}

type StatusStream = Pin<Box<dyn Stream<Item = Result<pb::WatchStatusResponse, Status>> + Send>>;

#[tonic::async_trait]
impl CoordinatorRpc for Service {
    async fn register_worker(
        &self,
        req: Request<pb::RegisterWorkerRequest>,
    ) -> Result<Response<pb::RegisterWorkerResponse>, Status> {
        let r = req.into_inner();
        if r.protocol_version != ensweep_proto::PROTOCOL_VERSION {
            return Err(st(CoordError::Protocol {
                worker: r.protocol_version,
                coordinator: ensweep_proto::PROTOCOL_VERSION,
            }));
        }
        bounds::registration(&r.worker_name, &r.trainer_versions, &r.code_hash)?;
        tracing::info!(worker = %r.worker_name, slots = r.slots, code = %r.code_hash, "worker registered");
        let session = new_session()?;
        let registration = Registration {
            name: r.worker_name,
            versions: r.trainer_versions,
            slots: r.slots,
            session: session.clone(),
        };
        let id = self
            .handle
            .call(|reply| Event::Register {
                registration,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        let ttl = self.handle.lease_ttl_ms;
        Ok(Response::new(pb::RegisterWorkerResponse {
            worker_id: id,
            lease_ttl_ms: ttl,
            heartbeat_interval_ms: (ttl / 4).max(10),
            session,
        }))
    }

    async fn lease_cells(
        &self,
        req: Request<pb::LeaseCellsRequest>,
    ) -> Result<Response<pb::LeaseCellsResponse>, Status> {
        let r = req.into_inner();
        bounds::session(&r.session)?;
        let grants = self
            .handle
            .call(|reply| Event::Lease {
                worker: Caller {
                    id: r.worker_id,
                    session: r.session,
                },
                capacity: r.capacity,
                wait_ms: r.wait_ms.min(MAX_WAIT_MS),
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        Ok(Response::new(pb::LeaseCellsResponse {
            leases: grants.into_iter().map(lease_pb).collect(),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let r = req.into_inner();
        bounds::session(&r.session)?;
        bounds::items("fences", r.fences.len())?;
        let progress = bounds::progress(&r.progress, r.fences.len())?;
        let revoked = self
            .handle
            .call(|reply| Event::Heartbeat {
                worker: Caller {
                    id: r.worker_id,
                    session: r.session,
                },
                fences: r.fences,
                progress,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        Ok(Response::new(pb::HeartbeatResponse { revoked }))
    }

    async fn complete_cells(
        &self,
        req: Request<pb::CompleteCellsRequest>,
    ) -> Result<Response<pb::CompleteCellsResponse>, Status> {
        let r = req.into_inner();
        bounds::session(&r.session)?;
        bounds::items("results", r.results.len())?;
        let limit = self.handle.max_result_bytes;
        // Every result of the batch is checked before any of it reaches the ledger.
        let results = r
            .results
            .into_iter()
            .map(|c| {
                let bytes = ensweep_core::wire::validate(c.output, limit).map_err(|err| {
                    tracing::warn!(
                        worker = r.worker_id,
                        fence = c.fence,
                        %err,
                        "malformed result refused"
                    );
                    Status::invalid_argument(format!("result for fence {}: {err}", c.fence))
                })?;
                // A measured wall time is never NaN, negative or infinite.
                if !(c.wall_seconds.is_finite() && c.wall_seconds >= 0.0) {
                    return Err(Status::invalid_argument(format!(
                        "result for fence {}: wall_seconds {} is not a duration",
                        c.fence, c.wall_seconds
                    )));
                }
                Ok((c.fence, bytes, c.wall_seconds))
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let orphaned = self
            .handle
            .call(|reply| Event::Complete {
                worker: Caller {
                    id: r.worker_id,
                    session: r.session,
                },
                results,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        Ok(Response::new(pb::CompleteCellsResponse { orphaned }))
    }

    async fn fail_cells(
        &self,
        req: Request<pb::FailCellsRequest>,
    ) -> Result<Response<pb::FailCellsResponse>, Status> {
        let r = req.into_inner();
        bounds::session(&r.session)?;
        bounds::items("failures", r.failures.len())?;
        let failures = r
            .failures
            .into_iter()
            .map(|f| {
                let kind = match pb::FailureKind::try_from(f.kind) {
                    Ok(pb::FailureKind::TimedOut) => FailureKind::TimedOut,
                    Ok(pb::FailureKind::UserError) => FailureKind::UserError,
                    _ => FailureKind::Crashed,
                };
                (f.fence, kind, bounds::failure_message(f.message))
            })
            .collect();
        let worker = Caller {
            id: r.worker_id,
            session: r.session,
        };
        self.handle
            .call(|reply| Event::Fail {
                worker,
                failures,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        Ok(Response::new(pb::FailCellsResponse {}))
    }

    async fn release_cells(
        &self,
        req: Request<pb::ReleaseCellsRequest>,
    ) -> Result<Response<pb::ReleaseCellsResponse>, Status> {
        let r = req.into_inner();
        bounds::session(&r.session)?;
        bounds::items("fences", r.fences.len())?;
        let kind = match pb::ReleaseReason::try_from(r.reason) {
            Ok(pb::ReleaseReason::Refused) => FailureKind::Refused,
            _ => FailureKind::Preempted,
        };
        self.handle
            .call(|reply| Event::Release {
                worker: Caller {
                    id: r.worker_id,
                    session: r.session,
                },
                fences: r.fences,
                kind,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        Ok(Response::new(pb::ReleaseCellsResponse {}))
    }

    async fn submit_sweep(
        &self,
        req: Request<pb::SubmitSweepRequest>,
    ) -> Result<Response<pb::SubmitSweepResponse>, Status> {
        let mut r = req.into_inner();
        if r.spec_path.len() > MAX_SPEC_PATH {
            return Err(Status::invalid_argument(format!(
                "spec_path is {} bytes; the limit is {MAX_SPEC_PATH}",
                r.spec_path.len()
            )));
        }
        // Parsing and counting cells is CPU work bounded by the spec limits, but still kept off
        // the async runtime so a large submission cannot stall other callers' RPCs.
        let trainers = self.handle.trainers;
        let (spec, text) = tokio::task::spawn_blocking(move || {
            let spec = Spec::parse(&r.spec_text, Path::new(&r.spec_path), &trainers);
            (spec, std::mem::take(&mut r.spec_text))
        })
        .await
        .map_err(|e| Status::internal(format!("parsing the spec: {e}")))?;
        let spec = spec.map_err(|e| st(CoordError::Spec(e.to_string())))?;
        let sub = self
            .handle
            .call(|reply| Event::Submit {
                spec: Box::new(spec),
                text,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        let outcome = if sub.created {
            pb::SubmitOutcome::Created
        } else if sub.new_cells > 0 {
            pb::SubmitOutcome::Extended
        } else {
            pb::SubmitOutcome::Unchanged
        };
        Ok(Response::new(pb::SubmitSweepResponse {
            sweep: sub.sweep,
            spec_hash: sub.spec_hash,
            outcome: outcome as i32,
            total_cells: sub.total,
            new_cells: sub.new_cells,
            already_done: sub.already_done,
        }))
    }

    type WatchStatusStream = StatusStream;

    async fn watch_status(
        &self,
        req: Request<pb::WatchStatusRequest>,
    ) -> Result<Response<StatusStream>, Status> {
        let r = req.into_inner();
        bounds::sweep_name(&r.sweep)?;
        let mut rx = self.handle.status.clone();
        let dir = self.handle.dir.clone();
        let (tx, out) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let msg = status_pb(&rx.borrow_and_update().clone(), &r.sweep, &dir);
                if tx.send(Ok(msg)).await.is_err() || !r.follow {
                    return;
                }
                // Throttle: a busy coordinator changes state thousands of times a second.
                tokio::time::sleep(STATUS_EVERY).await;
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }

    async fn cancel_sweep(
        &self,
        req: Request<pb::CancelSweepRequest>,
    ) -> Result<Response<pb::CancelSweepResponse>, Status> {
        let r = req.into_inner();
        bounds::sweep_name(&r.sweep)?;
        let n = self
            .handle
            .call(|reply| Event::Cancel {
                sweep: r.sweep,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        Ok(Response::new(pb::CancelSweepResponse { cancelled: n }))
    }

    async fn retry_cells(
        &self,
        req: Request<pb::RetryCellsRequest>,
    ) -> Result<Response<pb::RetryCellsResponse>, Status> {
        let r = req.into_inner();
        bounds::sweep_name(&r.sweep)?;
        let kind = match r.kind.as_str() {
            "" => None,
            k => Some(FailureKind::parse(k).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "unknown failure kind `{k}` (user_error, crashed, timed_out, lease_expired)"
                ))
            })?),
        };
        let n = self
            .handle
            .call(|reply| Event::Retry {
                sweep: r.sweep,
                kind,
                reply,
            })
            .await
            .map_err(st)?
            .map_err(st)?;
        Ok(Response::new(pb::RetryCellsResponse { requeued: n }))
    }
}
