//! Tests of the pure machine (and of the ledger round trip), driven with synthetic times.

use super::*;
use crate::error::CoordError;
use crate::ledger::Ledger;
use crate::status::SweepStatus;
use ensweep_core::spec::Spec;
use std::path::Path;

fn config() -> MachineConfig {
    MachineConfig {
        lease_ttl_ms: 1_000,
        retries: 1,
        export_batch: 1_000,
        export_interval_ms: 500,
    }
}

fn spec(seeds: &str, xs: &str, sleep: u64) -> Spec {
    let text = format!(
        "[sweep]\nname = \"t\"\nseed = 1\nseeds = {seeds}\n[synthetic]\nsleep_ms = {sleep}\n[grid]\nx = {xs}\n"
    );
    Spec::parse(&text, Path::new("t.toml"), &ensweep_worker::TRAINERS).expect("valid spec")
}

/// Registers `name` for the synthetic trainer with 64 slots and session "s-<name>".
fn reg(m: &mut Machine, name: &str) -> u64 {
    m.register(
        Registration {
            name: name.into(),
            versions: vec!["synthetic/1".into()],
            slots: 64,
            session: format!("s-{name}"),
        },
        0,
    )
    .expect("register")
}

fn machine_with(spec: &Spec) -> (Machine, u64) {
    let mut m = Machine::new(config(), 1);
    m.submit(spec, String::new()).expect("submit");
    let w = reg(&mut m, "w1");
    (m, w)
}

fn status(m: &Machine) -> SweepStatus {
    m.snapshot().sweeps[0].clone()
}

#[test]
fn lease_complete_export_and_duplicates() {
    let (mut m, w) = machine_with(&spec("2", "[1.0, 2.0]", 0));
    let grants = m.lease(w, 10, 0).unwrap();
    assert_eq!(grants.len(), 4);
    assert!(grants.iter().all(|g| g.attempt == 1));
    for g in &grants {
        assert!(!m.complete(w, g.fence, "{}".into(), 0.1, 10));
    }
    // A retried delivery of an acknowledged result is not an orphan and changes nothing.
    assert!(!m.complete(w, grants[0].fence, "{}".into(), 0.1, 11));
    let st = status(&m);
    assert_eq!((st.done, st.leased, st.pending, st.orphaned), (4, 0, 0, 0));
    m.tick(12);
    assert_eq!(
        m.take_exports(),
        vec![ExportJob {
            sweep: "t".into(),
            part: 0
        }]
    );
    m.exported("t", 0);
    assert!(status(&m).finished());
}

#[test]
fn expired_lease_requeues_and_late_result_is_orphaned() {
    let (mut m, w) = machine_with(&spec("1", "[1.0]", 0));
    let first = m.lease(w, 1, 0).unwrap().remove(0);
    m.tick(500);
    assert_eq!(
        m.heartbeat(w, &[first.fence], 500).unwrap(),
        Vec::<u64>::new()
    );
    m.tick(1_400); // heartbeat at 500 extended the deadline to 1_500
    assert_eq!(status(&m).leased, 1);
    m.tick(1_600);
    let st = status(&m);
    assert_eq!((st.pending, st.failures.lease_expired), (1, 1));
    assert_eq!(
        m.heartbeat(w, &[first.fence], 1_600).unwrap(),
        vec![first.fence]
    );
    let second = m.lease(w, 1, 1_700).unwrap().remove(0);
    assert_eq!(
        (second.attempt, second.cell_key.clone()),
        (2, first.cell_key.clone())
    );
    assert!(
        m.complete(w, first.fence, "{}".into(), 1.0, 1_800),
        "fenced off"
    );
    assert!(!m.complete(w, second.fence, "{}".into(), 1.0, 1_900));
    let st = status(&m);
    assert_eq!((st.done, st.orphaned), (1, 1));
}

#[test]
fn retry_budget_and_failure_kinds() {
    let (mut m, w) = machine_with(&spec("3", "[1.0]", 0));
    let g = m.lease(w, 3, 0).unwrap();
    // Preemption spends no budget: the cell comes back first in the queue.
    m.release(w, g[0].fence, FailureKind::Preempted);
    m.fail(w, g[1].fence, FailureKind::UserError, "bad".into());
    m.fail(w, g[2].fence, FailureKind::Crashed, "panic".into());
    let st = status(&m);
    assert_eq!((st.pending, st.failed), (2, 1));
    let again = m.lease(w, 2, 1).unwrap();
    assert_eq!(again[0].cell_key, g[0].cell_key);
    // The crashed cell has retries = 1: a second crash fails it for good.
    m.fail(w, again[1].fence, FailureKind::Crashed, "panic".into());
    let st = status(&m);
    assert_eq!(st.failed, 2);
    assert_eq!(
        (
            st.failures.preempted,
            st.failures.user_error,
            st.failures.crashed
        ),
        (1, 1, 2)
    );
}

#[test]
fn resubmit_extend_and_refuse_incompatible_edits() {
    let (mut m, _) = machine_with(&spec("2", "[1.0, 2.0]", 0));
    let same = m
        .submit(&spec("2", "[1.0, 2.0]", 0), String::new())
        .unwrap();
    assert_eq!((same.created, same.new_cells, same.total), (false, 0, 4));
    let more = m
        .submit(&spec("3", "[1.0, 2.0, 3.0]", 0), String::new())
        .unwrap();
    assert_eq!((more.new_cells, more.total), (5, 9));
    let err = m
        .submit(&spec("3", "[1.0, 2.0, 3.0]", 7), String::new())
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("- synthetic.sleep_ms = 0") && msg.contains("+ synthetic.sleep_ms = 7"),
        "{msg}"
    );
    let err = m
        .submit(&spec("3", "[1.0, 3.0]", 0), String::new())
        .unwrap_err();
    assert!(
        err.to_string().contains("3 known cell(s) are missing"),
        "{err}"
    );
}

#[test]
fn ledger_round_trip_restores_state_and_reexports_parts() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    let (mut m, w) = machine_with(&spec("2", "[1.0, 2.0]", 0));
    let g = m.lease(w, 3, 0).unwrap();
    m.complete(w, g[0].fence, "{}".into(), 0.5, 1);
    m.complete(w, g[1].fence, "{}".into(), 0.5, 1);
    m.fail(w, g[2].fence, FailureKind::Crashed, "x".into());
    m.tick(1_000); // cuts part 0 (interval elapsed)
    let ops = m.take_ops();
    ledger.commit(&ops, &m, 1_000).unwrap();
    assert_eq!(m.take_exports().len(), 1);

    let mut restored = Machine::new(config(), 100);
    ledger.load(&mut restored, true, 2_000).unwrap();
    let (a, b) = (status(&m), status(&restored));
    assert_eq!(a, b);
    assert_eq!(
        restored.take_exports(),
        vec![ExportJob {
            sweep: "t".into(),
            part: 0
        }]
    );
    // Fences keep increasing across restarts.
    let w2 = reg(&mut restored, "w2");
    let next = restored.lease(w2, 1, 2_000).unwrap();
    assert!(next[0].fence > g[2].fence);
    assert_eq!(
        next[0].attempt, 2,
        "the crashed cell is retried first in queue order"
    );
}

mod ownership;
