//! Lease ownership, registrations, fences and retry, on the pure machine.

use super::*;

#[test]
fn only_the_owner_renews_completes_fails_or_releases() {
    let (mut m, w1) = machine_with(&spec("3", "[1.0]", 0));
    let w2 = reg(&mut m, "w2");
    let g = m.lease(w1, 3, 0).unwrap();
    let fences: Vec<u64> = g.iter().map(|g| g.fence).collect();
    // Another worker's heartbeat neither revokes nor renews w1's leases.
    assert_eq!(m.heartbeat(w2, &fences, 900).unwrap(), Vec::<u64>::new());
    assert!(!m.complete(w2, fences[0], "{}".into(), 0.1, 900));
    m.fail(w2, fences[1], FailureKind::UserError, "forged".into());
    m.release(w2, fences[2], FailureKind::Preempted);
    let st = status(&m);
    assert_eq!((st.leased, st.done, st.failed), (3, 0, 0));
    m.tick(1_100); // w2's heartbeat at 900 did not extend anything
    assert_eq!(status(&m).failures.lease_expired, 3);
    // The late result of w1's attempt is w1's orphan, never w2's.
    assert!(!m.complete(w2, fences[0], "{}".into(), 0.1, 1_200));
    assert!(m.complete(w1, fences[0], "{}".into(), 0.1, 1_200));
}

#[test]
fn capacity_is_capped_by_declared_slots() {
    let mut m = Machine::new(config(), 1);
    m.submit(&spec("10", "[1.0]", 0), String::new()).unwrap();
    let w = m
        .register(
            Registration {
                name: "small".into(),
                versions: vec!["synthetic/1".into()],
                slots: 2,
                session: "s".into(),
            },
            0,
        )
        .unwrap();
    assert_eq!(m.lease(w, u32::MAX, 0).unwrap().len(), 2);
    // Declared slots are bounded too.
    let big = m
        .register(
            Registration {
                name: "big".into(),
                versions: vec!["synthetic/1".into()],
                slots: u32::MAX,
                session: "s".into(),
            },
            0,
        )
        .unwrap();
    assert_eq!(m.workers.touch(big, 0).unwrap().slots, MAX_SLOTS);
}

#[test]
fn registrations_are_deduplicated_authenticated_and_expire() {
    let mut m = Machine::new(config(), 1);
    let a = reg(&mut m, "w");
    let b = reg(&mut m, "w");
    assert_ne!(a, b);
    assert_eq!(m.n_workers(), 1, "same name replaces");
    assert!(matches!(
        m.authenticate(a, "s-w", 0),
        Err(CoordError::UnknownWorker(_))
    ));
    assert!(m.authenticate(b, "wrong", 0).is_err());
    assert!(m.authenticate(b, "s-w", 0).is_ok());
    let c = reg(&mut m, "other");
    m.authenticate(c, "s-other", 2_000).unwrap();
    m.tick(m.worker_ttl_ms() + 1);
    assert_eq!(m.n_workers(), 1, "w expired, other was seen at 2000");
    assert!(m.lease(b, 1, 3_500).is_err());
}

#[test]
fn unknown_fences_are_dropped_and_never_indexed() {
    let (mut m, w) = machine_with(&spec("2", "[1.0]", 0));
    let g = m.lease(w, 2, 0).unwrap();
    m.take_ops();
    for fence in (1_000..11_000).chain([0, u64::MAX, u64::MAX - 1]) {
        assert!(!m.complete(w, fence, "{}".into(), 0.1, 1));
    }
    assert!(
        m.take_ops().is_empty(),
        "nothing stored for fences never issued"
    );
    // The index holds one fence per leased cell, whatever callers sent.
    assert_eq!(m.fence_index_len(), 2);
    assert_eq!(m.cell_of_fence(g[1].fence), Some(2));
    assert_eq!(m.cell_of_fence(1_000), None);
    // Orphans restored from the ledger never move the next fence (their fence is not read).
    m.restore_orphan(Some(0));
    m.fail(w, g[0].fence, FailureKind::Crashed, "x".into());
    let next = m.lease(w, 1, 2).unwrap();
    assert_eq!(next[0].fence, g[1].fence + 1);
}

#[test]
fn retry_requeues_failed_cells_by_kind() {
    let (mut m, w) = machine_with(&spec("2", "[1.0]", 0));
    let g = m.lease(w, 2, 0).unwrap();
    m.fail(w, g[0].fence, FailureKind::UserError, "no data".into());
    m.fail(w, g[1].fence, FailureKind::Crashed, "x".into());
    let again = m.lease(w, 1, 1).unwrap();
    m.fail(w, again[0].fence, FailureKind::Crashed, "x".into());
    assert_eq!(status(&m).failed, 2);
    assert_eq!(m.retry("t", Some(FailureKind::TimedOut)).unwrap(), 0);
    assert_eq!(m.retry("t", Some(FailureKind::UserError)).unwrap(), 1);
    assert_eq!((status(&m).failed, status(&m).pending), (1, 1));
    assert_eq!(m.retry("t", None).unwrap(), 1);
    assert_eq!(m.lease(w, 10, 2).unwrap().len(), 2);
    assert!(m.retry("nope", None).is_err());
}
