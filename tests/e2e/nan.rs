//! Non-finite results end to end: a real `sas_mlp` cell whose sampled accuracy is NaN (no sampled
//! networks) and a diverging `tanh_rnn` cell, each through `ensweep run`; both sweeps finish.

use crate::harness::ensweep;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tiniest spike-and-slab run that still trains: one hidden layer of 4, one epoch on 100
/// images. `sampled_nets = 0` makes the sampled accuracy the mean of nothing: NaN.
fn sas_mlp_spec(dir: &Path) -> PathBuf {
    let text = format!(
        "[sweep]\nname = \"nan_mlp\"\nseed = 3\nseeds = 1\n\n\
         [sas_mlp]\ndata_dir = {data:?}\ntrain_size = 100\ntest_size = 100\nhidden = [4]\n\
         epochs = 1\nbatch_size = 50\n\n\
         [sas_mlp.init]\nxi_max = 0.01\nm_std = 0.05\n\n\
         [sas_mlp.optimizer]\nkind = \"adam\"\nlr = 0.01\n\n\
         [sas_mlp.eval]\nmean_field_draws = 1\nsampled_nets = 0\n",
        data = ensweep_testkit::mnist_dir().display().to_string()
    );
    let path = dir.join("nan_mlp.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

/// A tanh RNN with a learning rate near f32's largest value: the second update overflows.
fn tanh_spec(dir: &Path) -> PathBuf {
    let text = "[sweep]\nname = \"nan_tanh\"\nseed = 3\nseeds = 1\n\n\
         [tanh_rnn]\nn_hidden = 4\nrec_init = \"normal\"\ntrain_trials = 4\nbatch_size = 1\n\
         epochs = 2\n\n[tanh_rnn.task]\nname = \"and\"\n\n\
         [tanh_rnn.optimizer]\nkind = \"sgd\"\nlr = 1e38\n";
    let path = dir.join("nan_tanh.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

/// `ensweep run SPEC --dir OUT`, asserting exit 0; returns stderr (the summary line).
fn run_ok(spec: &Path, out: &Path) -> String {
    let args = [
        "run",
        spec.to_str().unwrap(),
        "--dir",
        out.to_str().unwrap(),
        "--no-progress",
    ];
    let res = ensweep(&args, &[]);
    let err = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "`ensweep run` failed: {err}");
    err
}

#[test]
fn nan_metric_and_diverged_run_finish_their_sweeps() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");

    let log = run_ok(&sas_mlp_spec(tmp.path()), &out);
    assert!(log.contains("1/1 done, 0 failed"), "{log}");
    let runs = ensweep_results::tables::read_table(&out.join("nan_mlp"), "runs").expect("runs");
    assert_eq!(runs.height(), 1);
    let col = runs
        .column("test_acc_sampled_mean")
        .expect("test_acc_sampled_mean column");
    let value = col.as_materialized_series().f64().expect("Float64").get(0);
    assert!(
        value.is_some_and(f64::is_nan),
        "stored as NaN, not null: {value:?}"
    );
    check_tables_in_python(&out.join("nan_mlp"), "test_acc_sampled_mean");

    // A diverged run is a result (retrying the same seed cannot help): its row holds the loss
    // as it ended, non-finite, and `diverged` = 1; the sweep finishes and `run` returns 0.
    let log = run_ok(&tanh_spec(tmp.path()), &out);
    assert!(log.contains("1/1 done, 0 failed"), "{log}");
    let runs = ensweep_results::tables::read_table(&out.join("nan_tanh"), "runs").expect("runs");
    assert_eq!(runs.height(), 1);
    let scalar = |name: &str| {
        runs.column(name)
            .unwrap_or_else(|_| panic!("{name} column"))
            .as_materialized_series()
            .f64()
            .expect("Float64")
            .get(0)
    };
    assert_eq!(scalar("diverged"), Some(1.0));
    assert_eq!(scalar("success"), Some(0.0));
    let loss = scalar("train_loss");
    assert!(
        loss.is_some_and(|l| !l.is_finite()),
        "stored as it ended: {loss:?}"
    );
    check_tables_in_python(&out.join("nan_tanh"), "train_loss");
}

/// The same NaN through pyarrow and DuckDB (`tests/scripts/check_tables.py --expect-nan`) when a
/// Python with both is on PATH (or `$ENSWEEP_PYTHON`); skipped with a message otherwise.
fn check_tables_in_python(sweep: &Path, column: &str) {
    let python = std::env::var("ENSWEEP_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_libs = Command::new(&python)
        .args(["-c", "import pyarrow, duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_libs {
        eprintln!("skipped pyarrow/DuckDB NaN check: {python} lacks pyarrow or duckdb");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/check_tables.py");
    let res = Command::new(&python)
        .arg(script)
        .arg(sweep)
        .args(["--expect-nan", column])
        .output()
        .expect("run check_tables.py");
    assert!(
        res.status.success(),
        "check_tables.py: {}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
}
