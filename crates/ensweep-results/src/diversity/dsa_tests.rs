//! DSA: the embedding layout, invariance to an orthogonal change of coordinates, separation of
//! different systems from the within-network null, and agreement with the reference package.

use super::*;
use crate::diversity::linalg::from_rows;
use ensweep_core::seed::RunSeed;
use rand::RngExt;

/// Trials of x_{t+1} = m x_t (plus observation noise) from random starts.
fn linear_trials(
    m: &Array2<f64>,
    trials: usize,
    steps: usize,
    noise: f64,
    stream: &str,
) -> Vec<Array2<f64>> {
    let mut rng = RunSeed::from_u64(5).rng(stream);
    let n = m.nrows();
    (0..trials)
        .map(|_| {
            let mut x: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut rows = Vec::with_capacity(steps * n);
            for _ in 0..steps {
                rows.extend(x.iter().map(|v| v + noise * rng.random_range(-1.0..1.0)));
                x = (0..n)
                    .map(|i| (0..n).map(|k| m[(i, k)] * x[k]).sum())
                    .collect();
            }
            from_rows(steps, n, &rows)
        })
        .collect()
}

fn rotation(theta: f64, scale: f64) -> Array2<f64> {
    let (c, s) = (theta.cos(), theta.sin());
    from_rows(3, 3, &[c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0]) * scale
}

#[test]
fn the_hankel_rows_put_the_newest_state_first() {
    let x = Array2::from_shape_fn((5, 1), |(i, _)| i as f64);
    let h = hankel(&x, 3, 2);
    assert_eq!(h.dim(), (1, 3));
    assert_eq!(h.iter().copied().collect::<Vec<_>>(), vec![4.0, 2.0, 0.0]);
    assert_eq!(hankel(&x, 2, 1).nrows(), 4);
}

#[test]
fn a_rotated_copy_is_at_distance_zero() {
    let opts = DsaOptions {
        rank: 5,
        ..DsaOptions::default()
    };
    let x = linear_trials(&rotation(0.4, 0.95), 6, 30, 0.01, "dsa.x");
    // Orthogonal change of coordinates q (a rotation about another axis and a reflection).
    let (c, s) = (0.8_f64, 0.6_f64);
    let q = from_rows(3, 3, &[1.0, 0.0, 0.0, 0.0, c, -s, 0.0, -s, -c]);
    let y: Vec<Array2<f64>> = x.iter().map(|t| t.dot(&q.t())).collect();
    let (fx, fy) = (fit_dmd(&x, &opts).unwrap(), fit_dmd(&y, &opts).unwrap());
    let d = dsa_distance(&fx, &fy, &opts);
    assert!(d.euclidean < 1e-6 && d.angular < 1e-5, "{d:?}");
}

#[test]
fn different_systems_lie_clearly_above_the_within_net_null() {
    let opts = DsaOptions::default();
    let spiral = linear_trials(&rotation(0.4, 0.95), 8, 40, 0.01, "dsa.spiral");
    let decay = from_rows(3, 3, &[0.9, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, -0.3]);
    let other = linear_trials(&decay, 8, 40, 0.01, "dsa.decay");
    let null = within_net_null(&spiral, &opts).unwrap();
    let between = dsa_distance(
        &fit_dmd(&spiral, &opts).unwrap(),
        &fit_dmd(&other, &opts).unwrap(),
        &opts,
    );
    assert!(
        between.angular > 5.0 * null.angular && between.angular > 0.3,
        "between {between:?}, null {null:?}"
    );
}

#[test]
fn too_short_trials_and_a_rank_above_the_embedding_are_errors() {
    let x = vec![Array2::zeros((2, 3))];
    let opts = DsaOptions {
        n_delays: 3,
        ..DsaOptions::default()
    };
    assert!(matches!(fit_dmd(&x, &opts), Err(DsaError::TooShort { .. })));
    let flat = linear_trials(&rotation(0.4, 0.95), 2, 20, 0.0, "dsa.flat");
    // 3 units x 2 delays of a noiseless 3-D linear system span only 3 directions.
    assert!(matches!(
        fit_dmd(&flat, &DsaOptions::default()),
        Err(DsaError::Rank { found: 3, rank: 6 })
    ));
}

/// Reference distances from the DSA package (tests/scripts/dsa_reference.py; its inputs are in
/// the same file). The package optimises in float32 by Adam for 1,500 steps.
const REFERENCE: &str = include_str!("../../tests/data/dsa_reference.json");
/// Absolute tolerance on both scores against the package: ours may not be worse by more. Ours
/// may be lower: DSA is a minimum over C, and the package's 1,500 Adam steps from two starts stop
/// in local optima (decay vs tanh, rank 4: package 0.440 rad, ours 0.394 from 66 starts); where
/// the package reaches the optimum, ours equals it to 1e-6 (spiral vs tanh: 0.626203 both).
const REFERENCE_TOL: f64 = 2e-3;

#[test]
fn matches_the_reference_package() {
    let json: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    let shape: Vec<usize> = json["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let (trials, steps, units) = (shape[0], shape[1], shape[2]);
    let system = |name: &str| -> Vec<Array2<f64>> {
        let v: Vec<f64> = json["systems"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        v.chunks(steps * units)
            .map(|c| from_rows(steps, units, c))
            .collect()
    };
    let results = json["results"].as_array().unwrap();
    assert!(results.len() >= 10);
    for r in results {
        let opts = DsaOptions {
            n_delays: r["n_delays"].as_u64().unwrap() as usize,
            delay_interval: r["delay_interval"].as_u64().unwrap() as usize,
            rank: r["rank"].as_u64().unwrap() as usize,
            ..DsaOptions::default()
        }
        // More starts and steps than the defaults, so the optimum is found for every pair.
        .exhaustive();
        let (x, y) = (r["x"].as_str().unwrap(), r["y"].as_str().unwrap());
        let (fx, fy) = (
            fit_dmd(&system(x), &opts).unwrap(),
            fit_dmd(&system(y), &opts).unwrap(),
        );
        assert_eq!(system(x).len(), trials);
        let norm = r["norm_x"].as_f64().unwrap();
        assert!((fx.a.norm() - norm).abs() < 1e-4 * norm, "{x}: {norm}");
        let d = dsa_distance(&fx, &fy, &opts);
        for (ours, key) in [(d.angular, "angular"), (d.euclidean, "euclidean")] {
            let reference = r[key].as_f64().unwrap();
            assert!(
                ours < reference + REFERENCE_TOL,
                "{x} vs {y} {opts:?} {key}: ours {ours}, package {reference}"
            );
        }
    }
}
