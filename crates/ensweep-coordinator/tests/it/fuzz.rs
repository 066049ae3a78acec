//! Bounded fuzz/property test: 20,000+ requests of random bytes and random field values at
//! every RPC of a real loopback coordinator, then a real worker finishes a small sweep and the
//! ledger's invariants are checked. Seeded, so a failure reproduces.

use ensweep_coordinator::{Coordinator, ledger::LEDGER_FILE};

use crate::common;
use ensweep_proto::v1 as pb;
use pb::coordinator_client::CoordinatorClient;
use prost::Message;
use tonic::transport::Channel;

/// Requests sent in all.
const REQUESTS: usize = 20_480;
/// Concurrent senders (so the event loop sees batches, as under real load).
const SENDERS: usize = 16;

/// splitmix64: a tiny seeded generator is all a fuzzer needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = self.below(64) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Mostly small numbers near real ids and fences, sometimes extremes.
    fn num(&mut self) -> u64 {
        match self.below(4) {
            0 => self.below(64),
            1 => u64::MAX - self.below(4),
            2 => self.next(),
            _ => self.below(4),
        }
    }
    fn text(&mut self, known: &str) -> String {
        match self.below(3) {
            0 => known.to_owned(),
            1 => String::from_utf8_lossy(&self.bytes()).into_owned(),
            _ => String::new(),
        }
    }
}

/// A random message of type `M`: decoded from random bytes when they decode, else default.
fn from_bytes<M: Message + Default>(rng: &mut Rng) -> M {
    M::decode(rng.bytes().as_slice()).unwrap_or_default()
}

/// A random trainer output: absent, decoded from random bytes, or a few scalars with random
/// names and values (NaN and infinities included, as a diverged net reports them).
fn random_output(rng: &mut Rng) -> Option<pb::RunOutput> {
    match rng.below(3) {
        0 => None,
        1 => Some(from_bytes(rng)),
        _ => Some(pb::RunOutput {
            scalars: (0..rng.below(4))
                .map(|_| (rng.text("test_acc"), f64::from_bits(rng.next())))
                .collect(),
            ..Default::default()
        }),
    }
}

/// One random request at a random RPC; only the absence of a transport failure matters.
async fn one(c: &mut CoordinatorClient<Channel>, rng: &mut Rng, id: u64, session: &str) {
    let raw = rng.below(4) == 0;
    let worker_id = if rng.below(2) == 0 { id } else { rng.num() };
    let session = rng.text(session);
    let res: Result<(), tonic::Status> = match rng.below(10) {
        0 => c
            .register_worker(if raw {
                from_bytes(rng)
            } else {
                pb::RegisterWorkerRequest {
                    protocol_version: ensweep_proto::PROTOCOL_VERSION,
                    worker_name: format!("fz{}", rng.below(8)),
                    slots: rng.num() as u32,
                    trainer_versions: vec![rng.text("synthetic/1")],
                    code_hash: String::new(),
                }
            })
            .await
            .map(drop),
        1 => c
            .lease_cells(if raw {
                from_bytes(rng)
            } else {
                pb::LeaseCellsRequest {
                    worker_id,
                    capacity: rng.num() as u32,
                    wait_ms: 0,
                    session,
                }
            })
            .await
            .map(drop),
        2 => c
            .heartbeat(if raw {
                from_bytes(rng)
            } else {
                pb::HeartbeatRequest {
                    worker_id,
                    fences: (0..rng.below(8)).map(|_| rng.num()).collect(),
                    session,
                    progress: (0..rng.below(3))
                        .map(|_| pb::CellProgress {
                            fence: rng.num(),
                            epochs_done: rng.num() as u32,
                            epochs_total: rng.num() as u32,
                        })
                        .collect(),
                }
            })
            .await
            .map(drop),
        3 => c
            .complete_cells(if raw {
                from_bytes(rng)
            } else {
                pb::CompleteCellsRequest {
                    worker_id,
                    results: (0..rng.below(4))
                        .map(|_| pb::CellResult {
                            fence: rng.num(),
                            output: random_output(rng),
                            wall_seconds: f64::from_bits(rng.next()),
                        })
                        .collect(),
                    session,
                }
            })
            .await
            .map(drop),
        4 => c
            .fail_cells(if raw {
                from_bytes(rng)
            } else {
                pb::FailCellsRequest {
                    worker_id,
                    failures: vec![pb::CellFailure {
                        fence: rng.num(),
                        kind: rng.below(5) as i32,
                        message: rng.text("x"),
                    }],
                    session,
                }
            })
            .await
            .map(drop),
        5 => c
            .release_cells(if raw {
                from_bytes(rng)
            } else {
                pb::ReleaseCellsRequest {
                    worker_id,
                    fences: vec![rng.num()],
                    reason: rng.below(4) as i32,
                    session,
                }
            })
            .await
            .map(drop),
        6 => c
            .submit_sweep(if raw {
                from_bytes(rng)
            } else {
                pb::SubmitSweepRequest {
                    spec_text: rng.text("[sweep]\nname = \"fz\"\nseeds = 2\n[synthetic]\n"),
                    spec_path: String::new(),
                }
            })
            .await
            .map(drop),
        7 => c
            .cancel_sweep(if raw {
                from_bytes(rng)
            } else {
                pb::CancelSweepRequest {
                    sweep: rng.text("fz"),
                }
            })
            .await
            .map(drop),
        8 => c
            .retry_cells(if raw {
                from_bytes(rng)
            } else {
                pb::RetryCellsRequest {
                    sweep: rng.text("fz"),
                    kind: rng.text("user_error"),
                }
            })
            .await
            .map(drop),
        _ => c
            .watch_status(pb::WatchStatusRequest {
                sweep: rng.text("fz"),
                follow: false,
            })
            .await
            .map(drop),
    };
    if let Err(s) = res {
        assert!(
            !matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
            "transport failure: {s}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_neither_crash_nor_wedge_nor_break_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let coord = Coordinator::start(common::config(dir.path())).unwrap();
    let server = common::serve(coord.handle(), Default::default()).await;
    let url = server.url.clone();
    let mut c = CoordinatorClient::connect(url.clone()).await.unwrap();
    let spec = "[sweep]\nname = \"fz\"\nseeds = 2\n[synthetic]\n[grid]\nx = [1.0, 2.0, 3.0]\n";
    c.submit_sweep(pb::SubmitSweepRequest {
        spec_text: spec.into(),
        spec_path: String::new(),
    })
    .await
    .unwrap();
    let mut senders = Vec::new();
    for k in 0..SENDERS {
        let mut c = c.clone();
        senders.push(tokio::spawn(async move {
            let mut rng = Rng(0xE5_5EED ^ k as u64);
            let reg = c
                .register_worker(pb::RegisterWorkerRequest {
                    protocol_version: ensweep_proto::PROTOCOL_VERSION,
                    worker_name: format!("fuzzer{k}"),
                    slots: 2,
                    trainer_versions: vec!["synthetic/1".into()],
                    code_hash: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
            for _ in 0..REQUESTS / SENDERS {
                one(&mut c, &mut rng, reg.worker_id, &reg.session).await;
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    // Not wedged: the sweep is resubmitted (resuming it if a fuzzer cancelled it), every
    // failed cell retried, and a real worker finishes it.
    c.submit_sweep(pb::SubmitSweepRequest {
        spec_text: spec.into(),
        spec_path: String::new(),
    })
    .await
    .unwrap();
    c.retry_cells(pb::RetryCellsRequest {
        sweep: "fz".into(),
        kind: String::new(),
    })
    .await
    .unwrap();
    let (wstop, wrx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(ensweep_worker::run(
        ensweep_worker::WorkerConfig {
            coordinator: ensweep_worker::rpc::Connection::open(url),
            name: "real".into(),
            slots: 2,
            prefetch: 2,
            lease_wait_ms: 200,
            trainers: ensweep_worker::TRAINERS,
            checkpoints: None,
        },
        async {
            let _ = wrx.await;
        },
    ));
    // Cells the fuzzers still hold as leases (60 s TTL) would keep it waiting: the fuzzers'
    // registrations hold at most 2 each, so wait for every cell the worker can get instead.
    let mut st = coord.handle().status;
    loop {
        let snap = st.borrow_and_update().clone();
        let s = snap.sweeps.iter().find(|s| s.name == "fz").unwrap();
        if s.pending == 0 && s.exported == s.done && s.leased == leased_by_fuzzers(dir.path()) {
            break;
        }
        st.changed().await.unwrap();
    }
    let _ = wstop.send(());
    worker.await.unwrap().unwrap();
    server.stop().await;
    coord.shutdown();
    check_ledger(dir.path());
}

/// Cells leased to a fuzzer (not to the real worker), read from the ledger.
fn leased_by_fuzzers(dir: &std::path::Path) -> u64 {
    let db = rusqlite::Connection::open(dir.join(LEDGER_FILE)).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM cells WHERE state = 1 AND worker <> 'real'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}

/// Each cell in exactly one known state; a done cell has exactly one result; the exported
/// rows are exactly the done cells.
fn check_ledger(dir: &std::path::Path) {
    let db = rusqlite::Connection::open(dir.join(LEDGER_FILE)).unwrap();
    let q = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        q("SELECT COUNT(*) FROM cells WHERE state NOT BETWEEN 0 AND 4"),
        0
    );
    assert_eq!(
        q(
            "SELECT COUNT(*) FROM (SELECT sweep, key FROM cells GROUP BY sweep, key HAVING COUNT(*) > 1)"
        ),
        0
    );
    let done = q("SELECT COUNT(*) FROM cells WHERE state = 2");
    assert!(done > 0);
    assert_eq!(
        q("SELECT COUNT(*) FROM cells WHERE state = 2 AND output IS NULL AND output_json IS NULL"),
        0
    );
    assert_eq!(
        q("SELECT COUNT(*) FROM cells WHERE state <> 2 AND part IS NOT NULL"),
        0
    );
    assert_eq!(
        q(
            "SELECT COUNT(*) FROM cells c JOIN parts p ON p.sweep = c.sweep AND p.part = c.part \
           WHERE p.exported = 1"
        ),
        done
    );
}
