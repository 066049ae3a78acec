//! Exit statuses of the real binary (README.md, "Exit codes"): a script tells a mistake in
//! what it typed from missing data and from failed cells by `$?` alone.

use crate::harness::ensweep;
use std::path::Path;

/// The exit status of `ensweep <args>`, with its stderr for the failure message.
fn status(args: &[&str]) -> (Option<i32>, String) {
    let out = ensweep(args, &[]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write spec");
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn mistakes_in_the_command_or_the_sweep_file_exit_64() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_key = write(
        tmp.path(),
        "bad.toml",
        "[sweep]\nname = \"bad\"\nseed = 1\n\n[synthetic]\nsleep_msx = 1\n",
    );
    let (code, err) = status(&["plan", &bad_key]);
    assert_eq!(code, Some(64), "{err}");
    assert!(
        err.contains("bad.toml:6:1") && err.contains("sleep_msx"),
        "{err}"
    );

    let good = write(
        tmp.path(),
        "good.toml",
        "[sweep]\nname = \"good\"\nseed = 1\n\n[synthetic]\nsleep_ms = 1\n",
    );
    let (code, err) = status(&["plan", &good, "--set", "no-equals-sign"]);
    assert_eq!(code, Some(64), "{err}");
    let (code, err) = status(&["plan", &good, "--set", "sleep_ms=\"long\""]);
    assert_eq!(code, Some(64), "{err}");
    let missing = tmp.path().join("missing.toml");
    let (code, err) = status(&["plan", missing.to_str().unwrap()]);
    assert_eq!(code, Some(64), "{err}");
    let (code, err) = status(&["plan", &good]);
    assert_eq!(code, Some(0), "{err}");

    // `report` on the `--dir` of `run` (a folder of sweeps) names the sweeps in it.
    let sweeps = tmp.path().join("sweeps");
    std::fs::create_dir_all(sweeps.join("good/runs")).unwrap();
    let (code, err) = status(&["report", sweeps.to_str().unwrap()]);
    assert_eq!(code, Some(64), "{err}");
    assert!(
        err.contains("report on one of") && err.contains("good"),
        "{err}"
    );
    let (code, err) = status(&["report", tmp.path().to_str().unwrap()]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("no `runs/` folder"), "{err}");
}

#[test]
fn missing_training_data_exits_66() {
    let tmp = tempfile::tempdir().unwrap();
    let experiment = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/prl2020_mnist.toml");
    let nowhere = format!(
        "data_dir={:?}",
        tmp.path().join("no-mnist-here").display().to_string()
    );
    let (code, err) = status(&["train", experiment.to_str().unwrap(), "--set", &nowhere]);
    assert_eq!(code, Some(66), "{err}");
    assert!(err.contains("MNIST not found"), "{err}");
}

/// `ensweep plan FILE --all | head -1`: the reader goes away before the table is written. The
/// command ends as Unix filters do (SIGPIPE, or success if it had already written everything
/// into the pipe's buffer), never with a panic message.
#[test]
fn a_closed_output_pipe_ends_plan_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let experiment =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jarne_laje_interval.toml");
    let mut child = Command::new(crate::harness::bin())
        .args(["plan", experiment.to_str().expect("utf-8 path"), "--all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ensweep");
    drop(child.stdout.take()); // the reader is gone before the first line
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}
