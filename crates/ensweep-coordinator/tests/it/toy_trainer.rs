//! A trainer added the way a new trainer is added to ensweep: its own config and `Trainer`
//! implementation (here, in this file) and one registry line. Nothing else in ensweep names
//! it, yet it parses, expands, costs and trains through the same code as the built-in
//! trainers: `Registry::train` (what `ensweep train` and every worker slot call), and a real
//! coordinator and worker over gRPC on 127.0.0.1, each handed the toy registry.

use ensweep_coordinator::{Coordinator, CoordinatorConfig};
use ensweep_core::output::{EpochRow, NullSink, RunOutput, TrainSink};
use ensweep_core::spec::{Cell, Spec};
use ensweep_core::trainer::{InvalidConfig, Registry, TrainError, Trainer};
use ensweep_proto::v1 as pb;
use pb::coordinator_client::CoordinatorClient;
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::common;

/// The toy trainer's config: strict, with a default.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToyConfig {
    /// What each step adds, times (replicate + 1).
    #[serde(default = "one")]
    scale: f64,
    /// Steps (epochs).
    steps: u32,
}

fn one() -> f64 {
    1.0
}

/// Adds `scale * (replicate + 1)` once per step.
struct Toy;

impl Trainer for Toy {
    const KIND: &'static str = "toy";
    const VERSION: &'static str = "toy/1";
    const DEFAULT_METRIC: &'static str = "total";
    type Config = ToyConfig;

    fn validate(&self, config: &ToyConfig) -> Result<(), InvalidConfig> {
        if config.steps == 0 {
            return Err(InvalidConfig::new("steps", "must be at least 1"));
        }
        Ok(())
    }

    fn train(
        &self,
        config: &ToyConfig,
        cell: &Cell,
        sink: &mut dyn TrainSink,
    ) -> Result<RunOutput, TrainError> {
        let mut out = RunOutput::default();
        let mut total = 0.0;
        for epoch in 0..config.steps {
            if sink.cancelled() {
                return Err(TrainError::Cancelled);
            }
            total += config.scale * (cell.replicate + 1) as f64;
            let row = EpochRow {
                epoch,
                values: [("total".to_owned(), total)].into_iter().collect(),
            };
            sink.on_epoch(&row, config.steps);
            out.epochs.push(row);
        }
        out.scalars.insert("total".into(), total);
        Ok(out)
    }

    fn cost_seconds(&self, config: &ToyConfig) -> f64 {
        0.001 * f64::from(config.steps)
    }
}

/// The registry line.
static TOYS: Registry = Registry::new(&[&Toy]);

const SPEC: &str =
    "[sweep]\nname = \"toy\"\nseeds = 2\n[toy]\nsteps = 3\n[grid]\nscale = [1.0, 2.0]\n";

#[test]
fn a_trainer_defined_in_a_test_parses_expands_costs_and_trains() {
    let spec = Spec::parse(SPEC, Path::new("toy.toml"), &TOYS).expect("toy sweep");
    let cells = spec.cells();
    assert_eq!(cells.len(), 4);
    assert_eq!(
        (cells[0].kind.as_str(), cells[0].trainer_version.as_str()),
        ("toy", "toy/1")
    );
    // Canonical config: sorted keys, the default filled in; the key hashes it with the version.
    assert_eq!(cells[0].config_json, r#"{"scale":1.0,"steps":3}"#);
    assert_eq!(
        cells[0].key,
        Cell::compute_key("toy", &cells[0].config_json, 0, 0, "toy/1")
    );
    assert!((TOYS.cost_seconds(&cells[0]).expect("cost") - 0.003).abs() < 1e-12);
    assert_eq!(TOYS.get("toy").expect("toy").default_metric(), "total");

    // The last cell: scale 2, replicate 1, 3 steps.
    let out = TOYS.train(&cells[3], &mut NullSink).expect("trains");
    assert_eq!(out.scalars["total"], 12.0);
    assert_eq!(out.epochs.len(), 3);

    // Strict decoding and the trainer's own validation, both located.
    let err = Spec::parse(
        &SPEC.replace("steps = 3", "stepz = 3"),
        Path::new("toy.toml"),
        &TOYS,
    )
    .expect_err("unknown key");
    assert!(
        err.to_string()
            .starts_with("toy.toml:5:1: key `toy.stepz`: unknown field `stepz`"),
        "{err}"
    );
    let err = Spec::parse(
        &SPEC.replace("steps = 3", "steps = 0"),
        Path::new("toy.toml"),
        &TOYS,
    )
    .expect_err("invalid steps");
    assert!(
        err.to_string()
            .ends_with("key `toy`: `steps` must be at least 1"),
        "{err}"
    );
    // A registry knows only its own kinds.
    let err = Spec::parse(
        "[sweep]\nname = \"t\"\n[synthetic]\n",
        Path::new("t.toml"),
        &TOYS,
    )
    .expect_err("not in this registry");
    assert_eq!(
        err.to_string(),
        "t.toml:3:2: unknown field `synthetic`, expected `sweep`, `grid`, `zip`, `random` or a trainer section: `toy`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_and_a_worker_given_the_toy_registry_run_its_sweep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coord = Coordinator::start(CoordinatorConfig {
        trainers: TOYS,
        ..common::config(dir.path())
    })
    .expect("coordinator");
    let served = common::serve(coord.handle(), Default::default()).await;
    let mut client = CoordinatorClient::connect(served.url.clone())
        .await
        .expect("connect");
    client
        .submit_sweep(pb::SubmitSweepRequest {
            spec_text: SPEC.into(),
            spec_path: "toy.toml".into(),
        })
        .await
        .expect("submitted");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(ensweep_worker::run(
        ensweep_worker::WorkerConfig {
            coordinator: ensweep_worker::rpc::Connection::open(served.url.clone()),
            name: "toy".into(),
            slots: 2,
            prefetch: 2,
            lease_wait_ms: 200,
            trainers: TOYS,
            checkpoints: None,
        },
        async {
            let _ = stopped.await;
        },
    ));
    let mut status = coord.handle().status;
    while status
        .borrow_and_update()
        .sweeps
        .first()
        .is_none_or(|s| s.done < 4)
    {
        status.changed().await.expect("coordinator running");
    }
    let _ = stop.send(());
    let report = worker.await.expect("joined").expect("worker ran");
    assert_eq!(report.completed, 4);
    served.stop().await;
    coord.shutdown();
    let runs = ensweep_results::tables::read_table(&dir.path().join("toy"), "runs").expect("runs");
    let mut totals = ensweep_results::frames::f64s(&runs, "total").expect("total");
    totals.sort_by(f64::total_cmp);
    // scale x (replicate + 1) x 3 steps for scale 1, 2 and replicate 0, 1.
    assert_eq!(totals, [3.0, 6.0, 6.0, 12.0]);
}
