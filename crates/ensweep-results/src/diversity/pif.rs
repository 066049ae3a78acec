//! d_PIF: the permutation-invariant Frobenius distance between recurrent weight matrices
//! (Huang, Singh & Rajan 2024): min over permutations P of ||W_x - P W_y P^T||_F divided by the
//! number of parameters n^2. Hidden units of two nets have no shared labels, so the distance must
//! not depend on how the units are numbered; the permutation acts on both sides because a unit's
//! row (outputs) and column (inputs) move together.
//!
//! The minimisation is quadratic assignment (NP-hard), solved as scipy's
//! `quadratic_assignment(method="faq")` does: Frank-Wolfe over doubly stochastic matrices from the
//! barycentre, the linear step by the Hungarian algorithm, projection to the nearest permutation;
//! then pairwise swaps are tried until none lowers the cost (a cheap polish that makes the
//! heuristic reach the brute-force optimum on the small cases the tests enumerate).

use super::linalg::Mat;
use super::metrics::{Net, assignment};
use ensweep_core::seed::RunSeed;
use nalgebra::DMatrix;
use rand::RngExt;
use std::collections::BTreeMap;

/// Frank-Wolfe iterations of FAQ (scipy's default `maxiter`).
const FAQ_ITERS: usize = 30;
/// Relative change of the doubly stochastic iterate at which FAQ stops (scipy's `tol`).
const FAQ_TOL: f64 = 0.03;
/// Largest width at which extra random starts are also polished (a polish from far away costs
/// many O(n^3) sweeps at the paper's width of 128).
const SMALL_N: usize = 32;
/// Random starts below that width.
const SMALL_N_STARTS: usize = 64;

/// Squared cost ||A - P B P^T||_F^2 of the permutation `perm` (`perm[i]` = unit of `b` placed at
/// unit `i` of `a`).
pub fn permuted_cost(a: &Mat, b: &Mat, perm: &[usize]) -> f64 {
    let n = a.nrows();
    let mut s = 0.0;
    for i in 0..n {
        for k in 0..n {
            let d = a[(i, k)] - b[(perm[i], perm[k])];
            s += d * d;
        }
    }
    s
}

/// Frank-Wolfe on the relaxation max <A, P B P^T> over doubly stochastic P (scipy's FAQ);
/// returns the projected permutation. Seven n x n products an iteration: the gradient
/// A P B^T + A^T P B, and the exact line search along R = Q - P, where
/// f(P + tR) = f(P) + t (<AR, PB> + <AP, RB>) + t^2 <AR, RB>.
fn faq(a: &Mat, b: &Mat) -> Vec<usize> {
    let (a, b) = (a.to_nalgebra(), b.to_nalgebra());
    let n = a.nrows();
    let (at, bt) = (a.transpose(), b.transpose());
    let mut p = DMatrix::from_element(n, n, 1.0 / n as f64);
    for _ in 0..FAQ_ITERS {
        let ap = &a * &p;
        let pb = &p * &b;
        let grad = &ap * &bt + &at * &pb;
        let q = assignment(&Mat::from_nalgebra(&(-grad)));
        let mut r = -&p;
        for (i, j) in q.iter().enumerate() {
            r[(i, *j)] += 1.0;
        }
        let (ar, rb) = (&a * &r, &r * &b);
        let a2 = ar.dot(&rb);
        let b1 = ar.dot(&pb) + ap.dot(&rb);
        let t = if a2 < 0.0 {
            (-b1 / (2.0 * a2)).clamp(0.0, 1.0)
        } else if a2 + b1 > 0.0 {
            1.0
        } else {
            0.0
        };
        p += &r * t;
        if t * r.norm() / (n as f64).sqrt() < FAQ_TOL {
            break;
        }
    }
    assignment(&Mat::from_nalgebra(&(-p)))
}

/// Change of the squared cost when units `i` and `j` of `perm` swap: only rows and columns `i`
/// and `j` of the residual change, so this is O(n) instead of the O(n^2) of a full evaluation.
fn swap_delta(a: &Mat, b: &Mat, perm: &[usize], i: usize, j: usize) -> f64 {
    let n = perm.len();
    let moved = |k: usize| match k {
        _ if k == i => perm[j],
        _ if k == j => perm[i],
        _ => perm[k],
    };
    let sq = |x: f64| x * x;
    let mut delta = 0.0;
    for r in [i, j] {
        for c in 0..n {
            delta +=
                sq(a[(r, c)] - b[(moved(r), moved(c))]) - sq(a[(r, c)] - b[(perm[r], perm[c])]);
        }
    }
    for c in [i, j] {
        for r in (0..n).filter(|r| *r != i && *r != j) {
            delta +=
                sq(a[(r, c)] - b[(moved(r), moved(c))]) - sq(a[(r, c)] - b[(perm[r], perm[c])]);
        }
    }
    delta
}

/// Tries every transposition of two units and keeps improving ones until none helps.
fn swap_polish(a: &Mat, b: &Mat, perm: &mut [usize]) {
    let n = perm.len();
    let tol = 1e-12 * permuted_cost(a, b, perm).max(1.0);
    let mut improved = true;
    while improved {
        improved = false;
        for i in 0..n {
            for j in i + 1..n {
                if swap_delta(a, b, perm, i, j) < -tol {
                    perm.swap(i, j);
                    improved = true;
                }
            }
        }
    }
}

/// Best permutation found for min ||A - P B P^T||_F (FAQ, then swap polish).
pub fn match_units(a: &Mat, b: &Mat) -> Vec<usize> {
    assert_eq!(a.shape(), b.shape(), "d_PIF needs matrices of one shape");
    assert_eq!(
        a.nrows(),
        a.ncols(),
        "d_PIF needs square recurrent matrices"
    );
    // FAQ's projection, polished; up to `SMALL_N` units also `SMALL_N_STARTS` random permutations
    // (a fixed stream, so results are reproducible), each polished, because two-swap polishing
    // alone stops in local optima. The best one is kept.
    let n = a.nrows();
    let mut best = faq(a, b);
    swap_polish(a, b, &mut best);
    if n <= SMALL_N {
        let mut best_cost = permuted_cost(a, b, &best);
        let mut rng = RunSeed::from_u64(0).rng("pif.starts");
        for _ in 0..SMALL_N_STARTS {
            let mut p: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                p.swap(i, rng.random_range(0..=i));
            }
            swap_polish(a, b, &mut p);
            let c = permuted_cost(a, b, &p);
            if c < best_cost {
                (best, best_cost) = (p, c);
            }
        }
    }
    best
}

/// d_PIF(W_x, W_y) = min_P ||W_x - P W_y P^T||_F / n^2 (the paper's normalisation by the number
/// of recurrent parameters, so that widths can be compared).
pub fn d_pif(wx: &Mat, wy: &Mat) -> f64 {
    let n = wx.nrows();
    if n == 0 {
        return 0.0;
    }
    let perm = match_units(wx, wy);
    permuted_cost(wx, wy, &perm).sqrt() / (n * n) as f64
}

/// d_PIF between the recurrent matrices of two nets; NaN for nets without one (MLPs), which the
/// summaries skip like any other undefined pair.
pub fn d_pif_of_nets(x: &Net, y: &Net) -> f64 {
    match (x, y) {
        (Net::Rnn { w_rec: a, .. }, Net::Rnn { w_rec: b, .. }) if a.shape() == b.shape() => {
            d_pif(a, b)
        }
        _ => f64::NAN,
    }
}

/// The init-vs-init baseline: d_PIF between the initial recurrent matrices (`rec.init`, stored
/// by the trainer beside the trained `rec`) of two nets. Two independent draws from the init
/// distribution are already far apart, so a trained-vs-trained d_PIF means "degenerate" only
/// relative to this value; NaN when either net lacks its initial matrix.
pub fn init_baseline(x: &BTreeMap<String, Mat>, y: &BTreeMap<String, Mat>) -> f64 {
    match (x.get(INIT_LAYER), y.get(INIT_LAYER)) {
        (Some(a), Some(b)) if a.shape() == b.shape() && a.nrows() == a.ncols() => d_pif(a, b),
        _ => f64::NAN,
    }
}

/// Name of the initial recurrent matrix in the weights table.
pub const INIT_LAYER: &str = "rec.init";

#[cfg(test)]
mod tests {
    use super::*;
    use ensweep_core::seed::RunSeed;
    use rand::RngExt;

    fn random(n: usize, rng: &mut impl RngExt) -> Mat {
        let v: Vec<f64> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Mat::from_row_slice(n, n, &v)
    }

    fn brute_force(a: &Mat, b: &Mat) -> f64 {
        fn rec(a: &Mat, b: &Mat, perm: &mut Vec<usize>, k: usize, best: &mut f64) {
            if k == perm.len() {
                *best = best.min(permuted_cost(a, b, perm));
                return;
            }
            for i in k..perm.len() {
                perm.swap(k, i);
                rec(a, b, perm, k + 1, best);
                perm.swap(k, i);
            }
        }
        let mut perm: Vec<usize> = (0..a.nrows()).collect();
        let mut best = f64::INFINITY;
        rec(a, b, &mut perm, 0, &mut best);
        best
    }

    #[test]
    fn a_permuted_copy_is_at_distance_zero() {
        let mut rng = RunSeed::from_u64(7).rng("pif.w");
        let a = random(12, &mut rng);
        let sigma = [3, 0, 7, 11, 1, 5, 9, 2, 10, 4, 8, 6];
        let b = Mat::from_fn(12, 12, |i, j| a[(sigma[i], sigma[j])]);
        assert!(d_pif(&a, &b) < 1e-12, "{}", d_pif(&a, &b));
    }

    #[test]
    fn the_heuristic_reaches_brute_force_for_small_n() {
        let mut rng = RunSeed::from_u64(11).rng("pif.w");
        for n in 2..=6 {
            for _ in 0..4 {
                let (a, b) = (random(n, &mut rng), random(n, &mut rng));
                let exact = brute_force(&a, &b);
                let found = permuted_cost(&a, &b, &match_units(&a, &b));
                assert!(
                    found <= exact * (1.0 + 1e-9) + 1e-12,
                    "n={n}: {found} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn init_baseline_compares_the_initial_matrices() {
        // Independent U(-1/sqrt(n), 1/sqrt(n)) draws (the paper's init) are far from each other,
        // a permuted copy is not; a net without `rec.init` gives NaN.
        let n = 10;
        let mut rng = RunSeed::from_u64(13).rng("pif.init");
        let scale = 1.0 / (n as f64).sqrt();
        let mut draw = || {
            let m = random(n, &mut rng);
            Mat::from_fn(n, n, |i, j| scale * m[(i, j)])
        };
        let layers = |m: Mat| BTreeMap::from([(INIT_LAYER.to_string(), m)]);
        let (a, b) = (draw(), draw());
        let flipped = Mat::from_fn(n, n, |i, j| a[(n - 1 - i, n - 1 - j)]);
        assert!(
            init_baseline(&layers(a.clone()), &layers(b)) > 0.3 * scale * n as f64 / (n * n) as f64
        );
        assert!(init_baseline(&layers(a), &layers(flipped)) < 1e-12);
        assert!(init_baseline(&BTreeMap::new(), &BTreeMap::new()).is_nan());
    }

    #[test]
    fn the_swap_delta_equals_the_change_of_the_full_cost() {
        let mut rng = RunSeed::from_u64(17).rng("pif.w");
        let (a, b) = (random(7, &mut rng), random(7, &mut rng));
        let mut perm = vec![2, 0, 6, 1, 5, 3, 4];
        let before = permuted_cost(&a, &b, &perm);
        let delta = swap_delta(&a, &b, &perm, 1, 5);
        perm.swap(1, 5);
        assert!((permuted_cost(&a, &b, &perm) - before - delta).abs() < 1e-10);
    }

    #[test]
    fn normalised_by_the_parameter_count() {
        let a = Mat::from_fn(3, 3, |_, _| 1.0);
        let b = Mat::zeros(3, 3);
        assert!((d_pif(&a, &b) - 3.0 / 9.0).abs() < 1e-12);
    }
}
