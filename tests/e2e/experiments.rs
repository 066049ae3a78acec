//! Every experiment file runs its first cell with a reduced budget, through `--set`.
//!
//! `ensweep train FILE --set ...` in a real process: the files the README and
//! docs/PAPERS.md point users at stay runnable end to end (data found, trainer dispatched,
//! metrics produced), and the overrides reach every trainer. The budget is the only thing
//! reduced; the recipe in the file is what runs.

use crate::harness::ensweep_ok;
use ensweep_core::spec::Spec;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The committed MNIST subset, named explicitly so neither `$ENSWEEP_DATA` nor the working
/// directory matters.
fn subset() -> String {
    let dir = ensweep_testkit::mnist_subset_dir();
    format!("{:?}", dir.display().to_string())
}

/// One epoch on a handful of examples and the smallest evaluation, per trainer (and task where
/// its keys differ). A kind or task without a line here fails the test, so a new experiment
/// file cannot go untested.
fn reduced(kind: &str, task: Option<&str>) -> Vec<String> {
    let mut sets: Vec<String> = vec!["sweep.seeds=1".into(), "epochs=1".into()];
    let more: &[&str] = match (kind, task) {
        ("tanh_rnn", Some(_)) => &[
            "train_trials=64",
            "batch_size=32",
            "eval.test_trials=8",
            "eval.probe_trials=2",
            "eval.prune_fractions=[0.0, 0.1]",
            "eval.random_repeats=1",
        ],
        ("sas_mlp", None) => &[
            "train_size=200",
            "test_size=200",
            "batch_size=100",
            "eval.mean_field_draws=1",
            "eval.sampled_nets=1",
            "eval.perturb_fractions=[0.0, 0.5]",
            "eval.perturb_repeats=1",
        ],
        ("sas_rnn", Some("row_mnist" | "pixel_mnist")) => &[
            "task.batch_size=16",
            "task.batches_per_epoch=2",
            "task.test_size=100",
        ],
        // The file's 0.5 ms analysis step (3,600 steps a test trial) is the study's largest
        // cost; 10 ms keeps that path in the smoke test at a 2x finer step.
        ("sas_rnn", Some("msi")) => &["task.test_repeats=1", "eval.analysis_dt_ms=10.0"],
        other => panic!("no reduced budget for {other:?}: add one to tests/e2e/experiments.rs"),
    };
    sets.extend(more.iter().map(|s| s.to_string()));
    match (kind, task) {
        ("sas_mlp", _) => sets.push(format!("data_dir={}", subset())),
        ("sas_rnn", Some("row_mnist" | "pixel_mnist")) => {
            sets.push(format!("task.data_dir={}", subset()))
        }
        _ => {}
    }
    if kind == "sas_rnn" {
        sets.extend(
            [
                "eval.mean_field_draws=1",
                "eval.sampled_nets=1",
                "eval.probe_trials=4",
                "eval.removal_fractions=[0.0, 0.5]",
                "eval.damage_fractions=[0.0, 0.1]",
                "eval.removal_repeats=1",
            ]
            .map(String::from),
        );
    }
    sets
}

/// A reduced key that the file sweeps is set through its axis, with the one reduced value
/// (`--set train_size=200` on a file with a `train_size` axis is an error by design).
fn on_axes(sets: Vec<String>, axes: &[String]) -> Vec<String> {
    sets.into_iter()
        .map(|s| match s.split_once('=') {
            Some((key, value)) if axes.iter().any(|a| a == key) => format!("grid.{key}=[{value}]"),
            _ => s,
        })
        .collect()
}

fn experiment_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("experiments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_experiment_file_trains_its_first_cell_with_a_reduced_budget() {
    let started = Instant::now();
    let files = experiment_files();
    assert!(
        files.len() >= 15,
        "found only {} experiment files",
        files.len()
    );
    for file in &files {
        let spec = Spec::load(file, &ensweep_worker::TRAINERS).unwrap_or_else(|e| panic!("{e}"));
        let first: Json = serde_json::from_str(&spec.cells()[0].config_json).expect("config");
        let task = first["task"]["name"].as_str();
        let sets = on_axes(reduced(&spec.kind, task), &spec.axis_names);
        let mut args = vec!["train", file.to_str().expect("utf-8 path"), "--json"];
        for s in &sets {
            args.extend(["--set", s.as_str()]);
        }
        let t = Instant::now();
        let stdout = ensweep_ok(&args, &[]);
        let doc: Json = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{}: not one JSON object ({e}): {stdout}", file.display()));
        let what = format!("{} ({} {:?})", file.display(), spec.kind, task);
        assert_eq!(doc["sweep"], Json::from(spec.name.clone()), "{what}");
        assert_eq!(
            doc["config"]["epochs"],
            Json::from(1),
            "{what}: --set reached the config"
        );
        let out = &doc["output"];
        let epochs = out["epochs"].as_array().expect("epochs rows");
        assert!(!epochs.is_empty(), "{what}: no epoch rows");
        // NaN travels as JSON null: a loss must be a finite number unless the run says it diverged.
        let scalars = &out["scalars"];
        let loss = ["train_loss", "final_train_loss"]
            .iter()
            .find_map(|k| scalars.get(*k))
            .unwrap_or_else(|| panic!("{what}: no training loss in {scalars}"));
        let diverged = scalars.get("diverged").and_then(Json::as_f64) == Some(1.0);
        assert!(
            loss.as_f64().is_some_and(f64::is_finite) || diverged,
            "{what}: loss {loss} without a diverged flag"
        );
        eprintln!("{what}: {:.1} s", t.elapsed().as_secs_f64());
    }
    eprintln!(
        "{} experiment files trained in {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
}
