//! The degeneracy-per-condition view on a small real sweep: tanh nets trained on the AND gate at
//! two widths, written as the coordinator writes results, then reported.

use super::super::{ReportOptions, write_report};
use crate::tables::{CompletedRun, read_part, write_part, write_weights_part};
use ensweep_core::config::TanhRnnConfig;
use ensweep_core::output::NullSink;
use ensweep_core::seed::RunSeed;
use ensweep_recurrent::tanh::train::train_tanh_rnn;
use std::collections::BTreeMap;
use std::path::Path;

/// Seeds per width.
const SEEDS: u64 = 4;

/// One epoch of the AND gate (gap 5 ms, 195 steps) at `n_hidden`, a small evaluation.
fn config(n_hidden: usize) -> String {
    serde_json::json!({
        "task": {"name": "and", "mem_gap": 5},
        "n_hidden": n_hidden,
        "rec_init": "orthogonal",
        "train_trials": 64,
        "batch_size": 32,
        "epochs": 1,
        "optimizer": {"kind": "adam", "lr": 0.01},
        "eval": {
            "test_trials": 8,
            "probe_trials": 4,
            "success_distance": 1e9,
            "prune_fractions": [0.0],
            "random_repeats": 1
        }
    })
    .to_string()
}

/// Widths 16 and 8 (so a numeric knob must not be ordered as text), `SEEDS` nets each. One net
/// of width 8 is marked unsuccessful, so the counts table has an exclusion to show.
fn real_sweep_dir(dir: &Path) {
    for (part, n_hidden) in [16usize, 8].into_iter().enumerate() {
        let config_json = config(n_hidden);
        let cfg: TanhRnnConfig = serde_json::from_str(&config_json).unwrap();
        let mut runs = Vec::new();
        let mut weights = Vec::new();
        for replicate in 0..SEEDS {
            let seed = RunSeed::derive(11, &config_json, replicate);
            let mut output = train_tanh_rnn(&cfg, &seed, &mut NullSink).unwrap();
            if n_hidden == 8 && replicate == 0 {
                output.scalars.insert("success".into(), 0.0);
            }
            let cell_key = format!("h{n_hidden}-{replicate}");
            weights.push((cell_key.clone(), output.weights.clone()));
            runs.push(CompletedRun {
                cell_key,
                sweep: "widths".into(),
                kind: "tanh_rnn".into(),
                replicate,
                sweep_seed: 11,
                config_json: config_json.clone(),
                axes_json: format!(r#"{{"n_hidden":{n_hidden}}}"#),
                output,
                wall_seconds: 1.0,
                worker: "test".into(),
                attempt: 1,
                trainer_version: ensweep_core::config::tanh_rnn::TRAINER_VERSION.into(),
            });
        }
        write_part(dir, part as u64, &runs).unwrap();
        write_weights_part(dir, part as u64, &weights).unwrap();
    }
}

/// A figure's CSV as rows of column -> text (no field of these figures holds a comma).
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * a.abs().max(1.0)
}

fn parse(s: &str) -> f64 {
    if s.is_empty() || s == "NaN" {
        f64::NAN
    } else {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}

#[test]
fn degeneracy_view_draws_the_analysis_numbers_against_the_knob() {
    let dir = tempfile::tempdir().unwrap();
    real_sweep_dir(dir.path());
    let out = write_report(dir.path(), &ReportOptions::default()).unwrap();
    let html = std::fs::read_to_string(&out.html).unwrap();
    assert!(
        html.contains("<h2>Degeneracy per condition</h2>"),
        "no section"
    );
    // The counts table: every group's knob value, nets included and excluded, and why.
    for cell in [
        "<th>nets included</th>",
        "<th>why excluded</th>",
        "<td>n_hidden=8</td><td>8</td><td>3</td><td>1</td><td>not successful: 1</td>",
        "<td>n_hidden=16</td><td>16</td><td>4</td><td>0</td><td></td>",
    ] {
        assert!(html.contains(cell), "missing {cell}");
    }
    // The analysis' numbers, as `ensweep report` stored them.
    let summary = read_part(&dir.path().join("analysis/diversity_summary.parquet")).unwrap();
    let text = |c: &str| crate::frames::column_text(&summary, c).unwrap();
    let num = |c: &str| crate::frames::f64s(&summary, c).unwrap();
    let (groups, metrics) = (text("group"), text("metric"));
    let (means, lows, highs) = (num("mean"), num("low"), num("high"));
    let find = |group: &str, metric: &str| {
        let i = (0..groups.len())
            .find(|&i| groups[i] == group && metrics[i] == metric)
            .unwrap_or_else(|| panic!("no summary {group} {metric}"));
        (means[i], lows[i], highs[i])
    };
    let fig = dir.path().join("report/figures");
    let drawn = [
        ("dsa_angular", vec!["dsa_null_angular"]),
        ("d_pif", vec!["d_pif_init"]),
        ("ood_loss_std", vec![]),
        ("svcca", vec![]),
        ("feature_learning_rec", vec![]),
        ("ntk_alignment", vec![]),
    ];
    for (metric, baselines) in drawn {
        let rows = csv_rows(&fig.join(format!("degeneracy_n_hidden_{metric}.csv")));
        let means: Vec<_> = rows.iter().filter(|r| r["statistic"] == "mean").collect();
        assert_eq!(means.len(), 2 * (1 + baselines.len()), "{metric}: {rows:?}");
        // Numeric knob order: 8 before 16.
        assert_eq!(parse(&means[0]["x"]), 0.0, "{:?}", means[0]);
        assert_eq!(&means[0]["category"][..], "8");
        for r in means {
            let series = r["series"].split(' ').next().unwrap();
            assert!(series == metric || baselines.contains(&series), "{r:?}");
            let expected = find(&format!("n_hidden={}", r["category"]), series);
            let got = (parse(&r["y"]), parse(&r["ci_low"]), parse(&r["ci_high"]));
            assert!(
                same(got.0, expected.0) && same(got.1, expected.1) && same(got.2, expected.2),
                "{metric} {r:?}: figure {got:?}, analysis {expected:?}"
            );
        }
    }
    // The NTK alignment of trained nets is a proper alignment below 1 (they learned something).
    let (ntk, _, _) = find("n_hidden=16", "ntk_alignment");
    assert!(ntk > 0.0 && ntk < 1.0, "ntk_alignment {ntk}");
}
