//! A long cell killed mid-training resumes from its checkpoint in the next `ensweep run`, and
//! gives the numbers of a run that was never killed; while it runs, its epochs show.

use crate::harness::{DEADLINE, Proc, bin, ensweep, ensweep_ok};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

/// A small MSI net (no data files) with enough epochs that the kill lands mid-training.
const SETS: &[&str] = &[
    "sweep.seeds=1",
    "epochs=150",
    "n_hidden=24",
    "task.test_repeats=1",
    "eval.analysis_dt_ms=10.0",
    "eval.mean_field_draws=1",
    "eval.sampled_nets=1",
    "eval.removal_repeats=1",
    "eval.removal_fractions=[0.0, 1.0]",
    "eval.probe_trials=2",
];

fn run_args(dir: &Path, progress: &[&str]) -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/pre2023_msi.toml");
    let mut args: Vec<String> = vec!["run".into(), file.display().to_string()];
    for s in SETS {
        args.extend(["--set".into(), (*s).into()]);
    }
    args.extend([
        "--dir".into(),
        dir.display().to_string(),
        "--slots".into(),
        "1".into(),
        "--checkpoint-every".into(),
        "0".into(),
    ]);
    args.extend(progress.iter().map(|s| s.to_string()));
    args
}

/// The metrics (no timings) of the sweep's one run, and (rows, distinct epochs, loss sum) of
/// its learning curve, as JSON text.
fn numbers(dir: &Path) -> (String, String) {
    let sweep = dir.join("pre2023_msi");
    let sweep = sweep.to_str().unwrap();
    let q = |sql: &str| ensweep_ok(&["query", sweep, sql, "--format", "json"], &[]);
    (
        q(
            "SELECT train_loss, acc_va, acc_v, acc_a, acc_mf_mean, important_frac, \
           spectral_radius, w_change_fro, epochs_run FROM runs",
        ),
        q("SELECT count(*) AS n, count(DISTINCT epoch) AS e, sum(train_loss) AS s FROM epochs"),
    )
}

#[test]
fn a_killed_cell_resumes_from_its_checkpoint_with_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let (killed, whole) = (tmp.path().join("killed"), tmp.path().join("whole"));

    // Kill the first run (SIGKILL, as a crash) once it logged its first checkpoint.
    let log = tmp.path().join("first.log");
    let mut child = Command::new(bin())
        .args(run_args(&killed, &["--no-progress"]))
        .env("RUST_LOG", "ensweep_worker=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ensweep run");
    let stderr = child.stderr.take().unwrap();
    let mut first = Proc { child, log };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("checkpoint saved") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let saved = rx
        .recv_timeout(DEADLINE)
        .expect("a checkpoint within the deadline");
    first.kill();
    assert!(saved.contains("epochs_done"), "{saved}");
    let ckpts: Vec<_> = std::fs::read_dir(killed.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    // One checkpoint; the kill may also have cut a later save short, leaving its temporary
    // file (removed with the checkpoint once the cell settles, below).
    let complete: Vec<_> = ckpts.iter().filter(|n| n.ends_with(".ckpt")).collect();
    assert!(complete.len() == 1, "{ckpts:?}");
    assert!(
        ckpts.iter().all(|n| n.starts_with(complete[0].as_str())),
        "{ckpts:?}"
    );
    // `ensweep checkpoint` shows the learning curve the killed cell had reached.
    let file = killed.join("checkpoints").join(complete[0]);
    let shown = ensweep_ok(&["checkpoint", file.to_str().unwrap()], &[]);
    let key = complete[0].trim_end_matches(".ckpt");
    assert!(
        shown.starts_with(&format!("cell {key} (sas_rnn, sas_rnn/"))
            && shown.contains("epochs done"),
        "{shown}"
    );
    assert!(
        shown.contains("epoch") && shown.contains("train_loss"),
        "{shown}"
    );

    // The second run resumes the leased cell from there and finishes it.
    let args = run_args(&killed, &["--no-progress"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The default log filter shows the resumption.
    let out = ensweep(&args, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("resuming from checkpoint"), "{err}");
    let left: Vec<_> = std::fs::read_dir(killed.join("checkpoints"))
        .unwrap()
        .collect();
    assert!(
        left.is_empty(),
        "the checkpoint and any temporary file of it are removed once the cell has its result"
    );

    // Uninterrupted, with a summary line at every change and a heartbeat every 250 ms: the
    // running cell's epochs show in the progress lines.
    let lines = ["--progress-every", "0", "--lease-ttl-ms", "1000"];
    let args = run_args(&whole, &lines);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ensweep(&args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.lines()
            .any(|l| l.contains("1 running (epoch ") && l.contains("/150)")),
        "{log}"
    );

    let (resumed, straight) = (numbers(&killed), numbers(&whole));
    assert!(
        resumed.1.contains("\"n\":150") && resumed.1.contains("\"e\":150"),
        "{resumed:?}"
    );
    assert_eq!(resumed, straight);
}
