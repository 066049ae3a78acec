//! Registration, and every call made under it: a call refused because the coordinator no
//! longer knows the registration registers again (once for all callers) and is sent again.

use super::{Shared, WorkerError};
use crate::rpc::retry;
use ensweep_proto::v1 as pb;
use std::future::Future;
use std::sync::atomic::Ordering;
use tonic::Status;

/// Registers (again, after a coordinator restart); returns the heartbeat interval.
pub(super) async fn register(shared: &Shared) -> Result<u64, WorkerError> {
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
    .map_err(|s| WorkerError::refused(&s))?
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
pub(super) async fn register_again(shared: &Shared, stale: u64) -> Result<(), WorkerError> {
    let _one = shared.reregister.lock().await;
    if shared.worker_id.load(Ordering::SeqCst) != stale {
        return Ok(());
    }
    register(shared).await.map(|_| ())
}

/// Sends a worker-side call (retrying transient failures); when the coordinator no longer
/// knows this registration (it restarted, or the registration expired), registers again and
/// sends once more under the new id and session. Without this, the results a worker finished
/// while the coordinator was down were dropped and their cells trained a second time.
pub(super) async fn send_registered<T, F, Fut>(
    shared: &Shared,
    what: &str,
    mut call: F,
) -> Result<T, Status>
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
