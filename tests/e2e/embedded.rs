//! `ensweep run`: embedded coordinator and workers; resubmission, extension, refused edits.

use crate::harness::{ensweep, invocations, runs_rows, spec};

#[test]
fn resubmit_runs_nothing_extension_runs_only_new_cells_edits_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let calls = dir.join("calls.log");
    let results = dir.join("out");
    let run = |spec: &std::path::Path| {
        ensweep(
            &[
                "run",
                spec.to_str().unwrap(),
                "--dir",
                results.to_str().unwrap(),
                "--no-progress",
                "--slots",
                "2",
            ],
            &[("ENSWEEP_SYNTHETIC_LOG", &calls)],
        )
    };
    let ok = |spec: &std::path::Path| {
        let out = run(spec);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let first = spec(dir, "resume", 2, &[1.0, 2.0], 20);
    let log = ok(&first);
    assert!(log.contains("4 cells, 4 to run"), "{log}");
    assert_eq!(invocations(&calls).len(), 4);

    let log = ok(&first);
    assert!(log.contains("4 cells, 0 to run, 4 already done"), "{log}");
    assert_eq!(
        invocations(&calls).values().sum::<usize>(),
        4,
        "nothing ran again"
    );

    let more_seeds = spec(dir, "resume", 3, &[1.0, 2.0], 20);
    let log = ok(&more_seeds);
    assert!(log.contains("6 cells, 2 to run"), "{log}");
    let counts = invocations(&calls);
    assert_eq!((counts.len(), counts.values().sum::<usize>()), (6, 6));
    assert_eq!(runs_rows(&results.join("resume")), (6, 6));

    let edited = spec(dir, "resume", 3, &[1.0, 2.0], 30);
    let out = run(&edited);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("- synthetic.sleep_ms = 20") && err.contains("+ synthetic.sleep_ms = 30"),
        "{err}"
    );
    assert_eq!(invocations(&calls).values().sum::<usize>(), 6);
}
