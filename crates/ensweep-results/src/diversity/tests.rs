//! Constructed cases for the diversity metrics: a relabelled copy is identical after alignment,
//! unrelated networks are not; and the table-level analysis over a synthetic sweep.

use super::metrics::*;
use super::*;
use crate::synthetic::{AND_PROBES, TinyRnn};
use crate::tables::{write_part, write_weights_part};
use ensweep_core::seed::RunSeed;
use linalg::MatExt;

fn to_net(t: &TinyRnn) -> Net {
    Net::Rnn {
        w_in: from_rows(t.units, t.inputs, &t.w_in),
        w_rec: from_rows(t.units, t.units, &t.w_rec),
        w_out: from_rows(t.outputs, t.units, &t.w_out),
    }
}

fn trajs(t: &TinyRnn) -> Vec<Array2<f64>> {
    AND_PROBES
        .iter()
        .map(|(_, x)| from_rows(15, t.units, &t.run(x, 15)))
        .collect()
}

const PERM: [usize; 8] = [3, 7, 0, 5, 1, 6, 2, 4];

#[test]
fn permuted_copy_has_zero_aligned_distance_and_unit_cka() {
    let a = TinyRnn::random(&RunSeed::from_u64(1), 8, 1.2);
    let b = a.permuted(&PERM);
    let (na, nb) = (to_net(&a), to_net(&b));
    // Unaligned they differ; aligned they coincide.
    let raw: f64 = match (&na, &nb) {
        (Net::Rnn { w_rec: x, .. }, Net::Rnn { w_rec: y, .. }) => (x - y).norm(),
        _ => unreachable!(),
    };
    assert!(raw > 0.5, "{raw}");
    assert!(aligned_weight_distance(&na, &nb) < 1e-12);
    let (ta, tb) = (trajs(&a), trajs(&b));
    let stack = |t: &[Array2<f64>]| super::stack_all(t);
    assert!((linear_cka(&stack(&ta), &stack(&tb)) - 1.0).abs() < 1e-10);
    assert!(dynamics_distance(&ta, &tb, 2, 6) < 1e-6);
}

#[test]
fn unrelated_networks_are_distant() {
    let a = TinyRnn::random(&RunSeed::from_u64(1), 8, 1.2);
    let c = TinyRnn::random(&RunSeed::from_u64(2), 8, 1.2);
    let (na, nc) = (to_net(&a), to_net(&c));
    assert!(aligned_weight_distance(&na, &nc) > 0.3);
    let (ta, tc) = (trajs(&a), trajs(&c));
    let cka = linear_cka(&stack_all(&ta), &stack_all(&tc));
    // Same inputs drive both, so CKA stays high (~0.95 here), but clearly below the 1 of a copy.
    assert!(cka < 0.99, "{cka}");
    let dd = dynamics_distance(&ta, &tc, 2, 6);
    assert!(dd > 0.05, "{dd}");
}

#[test]
fn mlp_alignment_and_small_helpers() {
    let l1 = from_rows(3, 2, &[1.0, 2.0, -1.0, 0.5, 3.0, 0.0]);
    let l2 = from_rows(1, 3, &[0.3, -0.7, 1.1]);
    let p = [2, 0, 1];
    let l1p = Array2::from_shape_fn((3, 2), |(i, k)| l1[(p[i], k)]);
    let l2p = Array2::from_shape_fn((1, 3), |(o, i)| l2[(o, p[i])]);
    let a = Net::Mlp(vec![l1, l2]);
    let b = Net::Mlp(vec![l1p, l2p]);
    assert!(aligned_weight_distance(&a, &b) < 1e-12);
    assert_eq!(jaccard(&[true, true, false], &[true, false, false]), 0.5);
    assert_eq!(disagreement(&[1, 0, 1, 1], &[1, 1, 1, 0]), 0.5);
    let cost = from_rows(3, 3, &[4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 3.0, 2.0, 2.0]);
    assert_eq!(assignment(&cost), vec![1, 0, 2]);
}

#[test]
fn sweep_analysis_separates_permuted_from_independent_groups() {
    let dir = tempfile::tempdir().unwrap();
    // group "twins": replicate 1 is a relabelled copy of replicate 0; group "free": independent.
    let mut runs = crate::synthetic::sweep("s", &[("free", 1.0)], 3, 6);
    let base = TinyRnn::random(&RunSeed::from_u64(9), 6, 1.0);
    for r in 0..3u64 {
        let net = if r == 0 {
            base.clone()
        } else {
            base.permuted(&[5, 4, 3, 2, 1, 0])
        };
        let (mut run, _) = runs[0].clone();
        run.cell_key = format!("twin-{r}");
        run.replicate = r;
        run.axes_json = r#"{"init":"twins"}"#.into();
        // The tanh trainer's per-net NTK alignment (only this group records one).
        run.output
            .scalars
            .insert(NTK_ALIGNMENT.into(), 0.7 + 0.1 * r as f64);
        for (p, row) in run.output.trajectories.iter_mut().enumerate() {
            row.states = net
                .run(&AND_PROBES[p].1, row.steps as usize)
                .iter()
                .map(|v| *v as f32)
                .collect();
            row.units = 6;
        }
        runs.push((run, net.weight_rows()));
    }
    let completed: Vec<_> = runs.iter().map(|(r, _)| r.clone()).collect();
    write_part(dir.path(), 0, &completed).unwrap();
    let w: Vec<_> = runs
        .iter()
        .map(|(r, w)| (r.cell_key.clone(), w.clone()))
        .collect();
    write_weights_part(dir.path(), 0, &w).unwrap();
    let d = analyse(dir.path(), &DiversityOptions::default()).unwrap();
    let get = |group: &str, metric: &str| {
        d.summaries
            .iter()
            .find(|s| s.group == format!("init={group}") && s.metric == metric)
            .unwrap_or_else(|| panic!("{group} {metric}: {:?}", d.summaries))
            .clone()
    };
    assert!(get("twins", "weight_distance").mean < 1e-6);
    assert!(get("free", "weight_distance").mean > 0.3);
    assert!((get("twins", "cka").mean - 1.0).abs() < 1e-5);
    assert!(get("free", "cka").mean < 0.99);
    assert!(get("twins", "prediction_disagreement").mean == 0.0);
    let free = get("free", "dynamics_distance");
    assert!(free.low <= free.mean && free.mean <= free.high, "{free:?}");
    assert_eq!(get("free", "ood_loss_std").n_seeds, 3);
    assert!(get("twins", "d_pif").mean < 1e-9);
    assert!(get("free", "d_pif").mean > 0.01);
    assert!((get("twins", "svcca").mean - 1.0).abs() < 1e-6);
    assert!(get("twins", "dsa_angular").mean < 1e-4);
    assert!(get("free", "dsa_angular").mean > 10.0 * get("twins", "dsa_angular").mean);
    // NTK alignment: the mean over the group's nets, where the runs record it.
    let ntk = get("twins", NTK_ALIGNMENT);
    assert!(
        (ntk.mean - 0.8).abs() < 1e-12 && ntk.n_seeds == 3,
        "{ntk:?}"
    );
    assert!(ntk.low <= ntk.mean && ntk.mean <= ntk.high, "{ntk:?}");
    assert!(
        !d.summaries
            .iter()
            .any(|s| s.group == "init=free" && s.metric == NTK_ALIGNMENT)
    );
    let pairs = d.pairs_frame().unwrap();
    // 2 groups x 8 matrix metrics (cka, svcca, dynamics_distance, dsa_angular, dsa_euclidean,
    // weight_distance, d_pif, prediction_disagreement) x 3 x 3 entries.
    assert_eq!(pairs.height(), 2 * 8 * 9);
    assert_eq!(d.summary_frame().unwrap().height(), d.summaries.len());
}
