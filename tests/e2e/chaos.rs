//! Chaos: a coordinator and four workers as real processes, workers SIGKILLed and restarted at
//! random, the coordinator SIGKILLed and restarted once, and a client that sends a malformed
//! result. The sweep finishes with exactly one row per cell.

use crate::harness::{Proc, coordinator, ensweep_ok, runs_rows, spec, worker};
use ensweep_proto::v1 as pb;
use ensweep_proto::v1::coordinator_client::CoordinatorClient;
use std::collections::HashMap;

/// SplitMix64: the test's only randomness, seeded so a failure replays the same kills.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// Registers as a worker, leases one cell and completes it with a scalar whose name is over the
/// wire limit: the coordinator must refuse it with INVALID_ARGUMENT and store nothing. The lease
/// is then abandoned (no heartbeat), so it expires and the cell runs elsewhere.
fn send_malformed_result(url: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut c = CoordinatorClient::connect(url.to_owned())
            .await
            .expect("connect");
        let reg = c
            .register_worker(pb::RegisterWorkerRequest {
                protocol_version: ensweep_proto::PROTOCOL_VERSION,
                worker_name: "malformed".into(),
                slots: 1,
                trainer_versions: vec![ensweep_core::config::synthetic::TRAINER_VERSION.into()],
                code_hash: "chaos-test".into(),
            })
            .await
            .expect("register")
            .into_inner();
        let leases = c
            .lease_cells(pb::LeaseCellsRequest {
                worker_id: reg.worker_id,
                capacity: 1,
                wait_ms: 5_000,
                session: reg.session.clone(),
            })
            .await
            .expect("lease")
            .into_inner()
            .leases;
        assert_eq!(leases.len(), 1, "a pending cell is leased");
        let name = "x".repeat(ensweep_core::wire::MAX_NAME_LEN + 1);
        let output = pb::RunOutput {
            scalars: HashMap::from([(name, 1.0)]),
            ..Default::default()
        };
        let err = c
            .complete_cells(pb::CompleteCellsRequest {
                worker_id: reg.worker_id,
                results: vec![pb::CellResult {
                    fence: leases[0].fence,
                    wall_seconds: 0.1,
                    output: Some(output),
                }],
                session: reg.session,
            })
            .await
            .expect_err("a malformed result is refused");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    });
}

/// Blocks until the coordinator reports at least `n` cells of `chaos` done.
fn wait_done(url: &str, n: u64) {
    let n = n.to_string();
    ensweep_ok(
        &[
            "status",
            "--coordinator",
            url,
            "--sweep",
            "chaos",
            "--wait-done",
            &n,
        ],
        &[],
    );
}

#[test]
fn random_kills_and_a_malformed_result_leave_one_row_per_cell() {
    const CELLS: u64 = 240;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let calls = dir.join("calls.log");
    let (mut coord, addr) = coordinator(dir, "127.0.0.1:0", "coordinator-1.log");
    let url = format!("http://{addr}");
    let spec = spec(dir, "chaos", 60, &[1.0, 2.0, 3.0, 4.0], 15);
    let out = ensweep_ok(
        &["submit", spec.to_str().unwrap(), "--coordinator", &url],
        &[],
    );
    assert!(out.contains("240 cells"), "{out}");
    // Before any worker starts, so a cell is certainly pending for the malformed client.
    send_malformed_result(&url);

    let start = |i: usize| worker(dir, &addr, &format!("w{i}"), 2, &calls);
    let mut workers: Vec<Proc> = (0..4).map(start).collect();
    let mut rng = Rng(12);
    let mut coord_restarted = false;
    let mut restarts = 0;
    for milestone in (20..CELLS - 20).step_by(25) {
        wait_done(&url, milestone);
        if !coord_restarted && milestone >= CELLS / 2 {
            coord.kill();
            let (c, addr2) = coordinator(dir, &addr, "coordinator-2.log");
            assert_eq!(addr2, addr);
            coord = c;
            coord_restarted = true;
            continue;
        }
        let i = rng.below(4) as usize;
        workers[i].kill();
        restarts += 1;
        // The same name, as a restarted process would have.
        workers[i] = start(i);
    }
    assert!(coord_restarted && restarts >= 5);
    let status = ensweep_ok(
        &[
            "status",
            "--coordinator",
            &url,
            "--sweep",
            "chaos",
            "--wait",
        ],
        &[],
    );
    assert!(status.contains("240/240 done"), "{status}");
    assert_eq!(
        runs_rows(&dir.join("ledger").join("chaos")),
        (CELLS as usize, CELLS as usize)
    );
}
