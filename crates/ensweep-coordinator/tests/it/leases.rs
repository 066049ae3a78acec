//! Lease ownership, capacity, retry and time limits over real gRPC on 127.0.0.1.

use ensweep_coordinator::{Coordinator, CoordinatorConfig, Snapshot};
use ensweep_proto::v1 as pb;
use pb::coordinator_client::CoordinatorClient;
use std::sync::Arc;
use tonic::transport::Channel;

use crate::common;

struct Server {
    coord: Option<Coordinator>,
    url: String,
    served: common::Served,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.served.signal();
        if let Some(c) = self.coord.take() {
            c.shutdown();
        }
    }
}

async fn server(retries: u32) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let coord = Coordinator::start(CoordinatorConfig {
        retries,
        ..common::config(dir.path())
    })
    .unwrap();
    let served = common::serve(coord.handle(), Default::default()).await;
    Server {
        coord: Some(coord),
        url: served.url.clone(),
        served,
        _dir: dir,
    }
}

async fn client(url: &str) -> CoordinatorClient<Channel> {
    CoordinatorClient::connect(url.to_owned()).await.unwrap()
}

async fn submit(c: &mut CoordinatorClient<Channel>, body: &str) {
    let spec_text = format!("[sweep]\nname = \"t\"\n{body}");
    c.submit_sweep(pb::SubmitSweepRequest {
        spec_text,
        spec_path: "t.toml".into(),
    })
    .await
    .unwrap();
}

/// (worker id, session)
async fn register(c: &mut CoordinatorClient<Channel>, name: &str, slots: u32) -> (u64, String) {
    let r = c
        .register_worker(pb::RegisterWorkerRequest {
            protocol_version: ensweep_proto::PROTOCOL_VERSION,
            worker_name: name.into(),
            slots,
            trainer_versions: vec!["synthetic/1".into()],
            code_hash: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    (r.worker_id, r.session)
}

async fn lease(c: &mut CoordinatorClient<Channel>, w: &(u64, String), n: u32) -> Vec<u64> {
    let r = c
        .lease_cells(pb::LeaseCellsRequest {
            worker_id: w.0,
            capacity: n,
            wait_ms: 0,
            session: w.1.clone(),
        })
        .await
        .unwrap();
    r.into_inner().leases.iter().map(|l| l.fence).collect()
}

async fn wait_for(s: &Server, done: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let mut rx = s.coord.as_ref().unwrap().handle().status;
    loop {
        let snap = rx.borrow_and_update().clone();
        if done(&snap) {
            return snap;
        }
        rx.changed().await.unwrap();
    }
}

fn fail(w: &(u64, String), fence: u64, kind: pb::FailureKind) -> pb::FailCellsRequest {
    pb::FailCellsRequest {
        worker_id: w.0,
        failures: vec![pb::CellFailure {
            fence,
            kind: kind as i32,
            message: "x".into(),
        }],
        session: w.1.clone(),
    }
}

fn progress(fence: u64, epochs_done: u32, epochs_total: u32) -> pb::CellProgress {
    pb::CellProgress {
        fence,
        epochs_done,
        epochs_total,
    }
}

#[tokio::test]
async fn another_workers_lease_cannot_be_completed_failed_released_or_revoked() {
    let s = server(1).await;
    let mut c = client(&s.url).await;
    submit(&mut c, "seeds = 4\n[synthetic]\n").await;
    let owner = register(&mut c, "owner", 4).await;
    let thief = register(&mut c, "thief", 4).await;
    let fences = lease(&mut c, &owner, 4).await;
    assert_eq!(fences.len(), 4);
    let hb = c
        .heartbeat(pb::HeartbeatRequest {
            worker_id: thief.0,
            fences: fences.clone(),
            session: thief.1.clone(),
            progress: vec![progress(fences[0], 7, 9)],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        hb.revoked.is_empty(),
        "no revocation of leases it does not own"
    );
    c.complete_cells(pb::CompleteCellsRequest {
        worker_id: thief.0,
        results: vec![pb::CellResult {
            fence: fences[0],
            output: Some(pb::RunOutput::default()),
            wall_seconds: 0.1,
        }],
        session: thief.1.clone(),
    })
    .await
    .unwrap();
    c.fail_cells(fail(&thief, fences[1], pb::FailureKind::UserError))
        .await
        .unwrap();
    c.release_cells(pb::ReleaseCellsRequest {
        worker_id: thief.0,
        fences: vec![fences[2]],
        reason: pb::ReleaseReason::Preempted as i32,
        session: thief.1.clone(),
    })
    .await
    .unwrap();
    // The owner's id with a wrong session is refused outright.
    let err = c
        .fail_cells(fail(
            &(owner.0, "guess".into()),
            fences[3],
            pb::FailureKind::UserError,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let snap = wait_for(&s, |_| true).await;
    let t = &snap.sweeps[0];
    assert_eq!((t.leased, t.done, t.failed, t.pending), (4, 0, 0, 0));
    assert!(snap.running.is_empty(), "no progress for another's lease");
    // The owner still holds every lease; its progress shows, an impossible one is refused.
    let heartbeat = |progress| pb::HeartbeatRequest {
        worker_id: owner.0,
        fences: fences.clone(),
        session: owner.1.clone(),
        progress,
    };
    let err = c
        .heartbeat(heartbeat(vec![progress(fences[0], 10, 9)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let hb = c
        .heartbeat(heartbeat(vec![progress(fences[0], 3, 9)]))
        .await
        .unwrap()
        .into_inner();
    assert!(hb.revoked.is_empty());
    let snap = wait_for(&s, |s| !s.running.is_empty()).await;
    assert_eq!(
        snap.running
            .iter()
            .map(|p| (p.epochs_done, p.epochs_total))
            .collect::<Vec<_>>(),
        [(3, 9)]
    );
    // Clients see it too (`ensweep status`).
    let mut watch = c
        .watch_status(pb::WatchStatusRequest {
            sweep: String::new(),
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let seen = watch.message().await.unwrap().expect("one snapshot");
    let running = &seen.sweeps[0].running;
    assert_eq!(running.len(), 1);
    assert_eq!((running[0].epochs_done, running[0].epochs_total), (3, 9));
    c.complete_cells(pb::CompleteCellsRequest {
        worker_id: owner.0,
        results: fences
            .iter()
            .map(|&fence| pb::CellResult {
                fence,
                output: Some(pb::RunOutput::default()),
                wall_seconds: 0.1,
            })
            .collect(),
        session: owner.1.clone(),
    })
    .await
    .unwrap();
    wait_for(&s, |s| s.sweeps[0].done == 4).await;
}

#[tokio::test]
async fn capacity_is_capped_and_reregistration_replaces() {
    let s = server(1).await;
    let mut c = client(&s.url).await;
    submit(&mut c, "seeds = 10\n[synthetic]\n").await;
    let w = register(&mut c, "w", 3).await;
    assert_eq!(lease(&mut c, &w, u32::MAX).await.len(), 3);
    let again = register(&mut c, "w", 3).await;
    let snap = wait_for(&s, |_| true).await;
    assert_eq!(snap.workers, 1, "same name counted once");
    let err = c
        .lease_cells(pb::LeaseCellsRequest {
            worker_id: w.0,
            capacity: 1,
            wait_ms: 0,
            session: w.1.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::NotFound,
        "old registration stops working"
    );
    assert_eq!(lease(&mut c, &again, 1).await.len(), 1);
}

#[tokio::test]
async fn retry_requeues_user_errors() {
    let s = server(1).await;
    let mut c = client(&s.url).await;
    submit(&mut c, "seeds = 2\n[synthetic]\n").await;
    let w = register(&mut c, "w", 2).await;
    let fences = lease(&mut c, &w, 2).await;
    for f in &fences {
        c.fail_cells(fail(&w, *f, pb::FailureKind::UserError))
            .await
            .unwrap();
    }
    wait_for(&s, |s| s.sweeps[0].failed == 2).await;
    let retry = |kind: &str| pb::RetryCellsRequest {
        sweep: "t".into(),
        kind: kind.into(),
    };
    let n = c.retry_cells(retry("crashed")).await.unwrap().into_inner();
    assert_eq!(n.requeued, 0);
    let n = c
        .retry_cells(retry("user_error"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(n.requeued, 2);
    let err = c.retry_cells(retry("bogus")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(lease(&mut c, &w, 2).await.len(), 2);
}

#[tokio::test]
async fn a_cell_past_its_time_limit_is_reported_timed_out() {
    let s = server(0).await;
    let mut c = client(&s.url).await;
    // 1 s limit, 60 s cell: a real worker cancels it at the limit.
    submit(
        &mut c,
        "seeds = 1\ntime_limit_s = 1\n[synthetic]\nsleep_ms = 60000\n",
    )
    .await;
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(ensweep_worker::run(
        ensweep_worker::WorkerConfig {
            coordinator: ensweep_worker::rpc::Connection::open(s.url.clone()),
            name: "timer".into(),
            slots: 1,
            prefetch: 0,
            lease_wait_ms: 1_000,
            trainers: ensweep_worker::TRAINERS,
            checkpoints: None,
        },
        async {
            let _ = rx.await;
        },
    ));
    let snap = wait_for(&s, |s| s.sweeps[0].failed == 1).await;
    assert_eq!(snap.sweeps[0].failures.timed_out, 1);
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
