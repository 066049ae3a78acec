//! What goes back to the coordinator besides new leases: outcomes in batches, and the
//! heartbeat that renews every held lease on its own timer.

use super::session::{register_again, send_registered};
use super::{Outcome, Shared, WorkerReport};
use ensweep_proto::v1 as pb;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Most outcomes per RPC.
const MAX_OUTCOMES: usize = 4_096;

/// Sends outcomes in batches until the channel closes; retries while the coordinator is away.
pub(super) async fn send_outcomes(
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

/// Renews every held lease each interval, independently of what the slots are doing.
pub(super) async fn heartbeat_loop(shared: Arc<Shared>, interval_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let fences: Vec<u64> = shared.held.lock().expect("held").keys().copied().collect();
        if fences.is_empty() {
            continue;
        }
        let progress = {
            let p = shared.progress.lock().expect("progress");
            fences
                .iter()
                .filter_map(|f| {
                    let &(epochs_done, epochs_total) = p.get(f)?;
                    Some(pb::CellProgress {
                        fence: *f,
                        epochs_done,
                        epochs_total,
                    })
                })
                .collect()
        };
        let req = pb::HeartbeatRequest {
            worker_id: shared.worker_id.load(Ordering::SeqCst),
            fences,
            session: shared.session(),
            progress,
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
