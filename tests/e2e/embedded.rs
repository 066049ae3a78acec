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

/// `--set` makes the effective spec the sweep: fewer seeds extend compatibly later, a changed
/// value under the same name is refused with the diff, a new name is a new sweep, and a bad
/// key is one line naming the override.
#[test]
fn overrides_are_part_of_the_sweep_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let calls = dir.join("calls.log");
    let results = dir.join("out");
    let file = spec(dir, "over", 2, &[1.0], 0);
    let run = |sets: &[&str]| {
        let mut args = vec![
            "run",
            file.to_str().unwrap(),
            "--dir",
            results.to_str().unwrap(),
            "--no-progress",
            "--slots",
            "1",
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = ensweep(&args, &[("ENSWEEP_SYNTHETIC_LOG", &calls)]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, log) = run(&["sweep.seeds=1"]);
    assert!(ok && log.contains("1 cells, 1 to run"), "{log}");
    let (ok, log) = run(&[]);
    assert!(
        ok && log.contains("2 cells, 1 to run, 1 already done"),
        "{log}"
    );
    let (ok, log) = run(&["sweep.seeds=1"]);
    assert!(!ok && log.contains("1 known cell(s) are missing"), "{log}");
    let (ok, log) = run(&["sleep_ms=1"]);
    assert!(!ok, "{log}");
    assert!(
        log.contains("- synthetic.sleep_ms = 0") && log.contains("+ synthetic.sleep_ms = 1"),
        "{log}"
    );
    let (ok, log) = run(&["sleep_ms=1", "sweep.name=over_slow"]);
    assert!(ok && log.contains("2 cells, 2 to run"), "{log}");
    assert_eq!(runs_rows(&results.join("over_slow")), (2, 2));
    assert_eq!(invocations(&calls).len(), 4);

    let (ok, log) = run(&["epochz=1"]);
    assert!(!ok);
    let line = log.trim();
    assert!(!line.contains('\n'), "{log}");
    assert!(
        line.starts_with(&format!(
            "error: {}: --set epochz=1: key `synthetic.epochz`: unknown field `epochz`",
            file.display()
        )),
        "{log}"
    );
}
