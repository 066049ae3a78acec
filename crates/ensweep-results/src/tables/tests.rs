//! Round-trip tests of the Parquet tables: write parts, read them back, compare values.

use super::*;
use ensweep_core::output::{EpochRow, LayerRow, PruningRow, SpectrumRow, TrajectoryRow};

fn vals(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn run(key: &str, replicate: u64, lr: f64, extra_metric: bool) -> CompletedRun {
    let mut scalars = vals(&[("test_acc", 0.9 + lr), ("loss", 0.5)]);
    if extra_metric {
        scalars.insert("new_metric".into(), 7.0);
    }
    CompletedRun {
        cell_key: key.into(),
        sweep: "s".into(),
        kind: "synthetic".into(),
        replicate,
        sweep_seed: 2020,
        config_json: format!(
            r#"{{"hidden":[4,4],"optimizer":{{"lr":{lr},"kind":"adam"}},"epochs":3}}"#
        ),
        axes_json: format!(r#"{{"optimizer.lr":{lr}}}"#),
        output: RunOutput {
            scalars,
            epochs: (0..3)
                .map(|e| EpochRow {
                    epoch: e,
                    values: vals(&[("train_loss", 1.0 / (e as f64 + 1.0))]),
                })
                .collect(),
            layers: vec![LayerRow {
                layer: "l1".into(),
                values: vals(&[("vip_frac", 0.25)]),
            }],
            pruning: vec![
                PruningRow {
                    layer: "all".into(),
                    criterion: "vip".into(),
                    fraction: 0.5,
                    count: 10,
                    values: vals(&[("test_err", 0.3)]),
                },
                PruningRow {
                    layer: "all".into(),
                    criterion: "random".into(),
                    fraction: 0.5,
                    count: 10,
                    values: vals(&[("test_err", 0.1)]),
                },
            ],
            spectra: vec![SpectrumRow {
                matrix: "rec_trained".into(),
                re: 0.5,
                im: -0.25,
            }],
            trajectories: vec![TrajectoryRow {
                probe: 1,
                condition: "10".into(),
                steps: 2,
                units: 2,
                states: vec![0.0, 1.0, 2.0, 3.5],
            }],
            weights: Vec::new(),
        },
        wall_seconds: 1.5,
        worker: "w1".into(),
        attempt: 1,
        trainer_version: "syn-1".into(),
    }
}

#[test]
fn parts_round_trip_with_exact_values() {
    let dir = tempfile::tempdir().unwrap();
    let part0 = vec![run("a", 0, 0.01, false), run("b", 1, 0.01, false)];
    let part1 = vec![run("c", 0, 0.1, true)];
    write_part(dir.path(), 0, &part0).unwrap();
    write_part(dir.path(), 1, &part1).unwrap();

    let runs = read_table(dir.path(), "runs").unwrap();
    assert_eq!(runs.height(), 3);
    let acc = runs.column("test_acc").unwrap().f64().unwrap();
    assert_eq!(acc.get(0), Some(0.9 + 0.01));
    assert_eq!(acc.get(2), Some(0.9 + 0.1));
    let extra = runs.column("new_metric").unwrap().f64().unwrap();
    assert_eq!((extra.get(0), extra.get(2)), (None, Some(7.0)));
    let lr = runs.column("cfg.optimizer.lr").unwrap().f64().unwrap();
    assert_eq!(lr.get(2), Some(0.1));
    assert_eq!(
        runs.column("axis.optimizer.lr")
            .unwrap()
            .f64()
            .unwrap()
            .get(1),
        Some(0.01)
    );
    assert_eq!(
        runs.column("cfg.hidden").unwrap().str().unwrap().get(0),
        Some("[4,4]")
    );
    assert_eq!(
        runs.column("cfg.epochs").unwrap().i64().unwrap().get(0),
        Some(3)
    );
    assert_eq!(
        runs.column("replicate").unwrap().u64().unwrap().get(1),
        Some(1)
    );
    assert_eq!(
        runs.column("cell_key").unwrap().str().unwrap().get(2),
        Some("c")
    );

    let epochs = read_table(dir.path(), "epochs").unwrap();
    assert_eq!(epochs.height(), 9);
    let tl = epochs.column("train_loss").unwrap().f64().unwrap();
    assert_eq!(tl.get(1), Some(0.5));
    assert_eq!(read_table(dir.path(), "layers").unwrap().height(), 3);
    let pruning = read_table(dir.path(), "pruning").unwrap();
    assert_eq!(pruning.height(), 6);
    assert_eq!(
        pruning.column("criterion").unwrap().str().unwrap().get(1),
        Some("random")
    );
    assert_eq!(
        pruning.column("count").unwrap().u64().unwrap().get(0),
        Some(10)
    );
    let spectra = read_table(dir.path(), "spectra").unwrap();
    assert_eq!(spectra.height(), 3);
    assert_eq!(
        spectra.column("im").unwrap().f64().unwrap().get(0),
        Some(-0.25)
    );
    let traj = read_table(dir.path(), "trajectories").unwrap();
    assert_eq!(traj.height(), 3);
    let states = traj
        .column("states")
        .unwrap()
        .list()
        .unwrap()
        .get_as_series(0)
        .unwrap();
    assert_eq!(states.dtype(), &DataType::Float32);
    let got: Vec<f32> = states.f32().unwrap().into_no_null_iter().collect();
    assert_eq!(got, vec![0.0, 1.0, 2.0, 3.5]);
}

#[test]
fn rewrite_is_idempotent_and_empty_tables_get_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = run("a", 0, 0.01, false);
    r.output.spectra.clear();
    write_part(dir.path(), 7, std::slice::from_ref(&r)).unwrap();
    let first = read_table(dir.path(), "runs").unwrap();
    write_part(dir.path(), 7, std::slice::from_ref(&r)).unwrap();
    let second = read_table(dir.path(), "runs").unwrap();
    assert!(first.equals_missing(&second));
    assert_eq!(part_files(dir.path(), "runs").unwrap().len(), 1);
    assert!(dir.path().join("runs/part-00000007.parquet").exists());
    assert!(part_files(dir.path(), "spectra").unwrap().is_empty());
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            n.to_string_lossy().contains(".tmp")
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn unknown_and_missing_tables_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_table(dir.path(), "nope").unwrap_err().to_string();
    assert!(err.contains("unknown table `nope`"), "{err}");
    let err = read_table(dir.path(), "runs").unwrap_err().to_string();
    assert!(err.contains("no parts"), "{err}");
}
