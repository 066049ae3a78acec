//! d_PIF: the permutation-invariant Frobenius distance between recurrent weight matrices
//! (Huang, Singh & Rajan 2024): min over permutations P of ||W_x - P W_y P^T||_F divided by the
//! number of parameters n^2. Hidden units of two nets have no shared labels, so the distance must
//! not depend on how the units are numbered; the permutation acts on both sides because a unit's
//! row (outputs) and column (inputs) move together.
//!
//! The minimisation is quadratic assignment (NP-hard), solved as scipy's
//! `quadratic_assignment(method="faq")` does: Frank-Wolfe over doubly stochastic matrices from the
//! barycentre, the linear step as a linear assignment problem ([`super::lap`]), projection to the
//! nearest permutation; then pairwise swaps are tried until none lowers the cost (a cheap polish
//! that makes the heuristic reach the brute-force optimum on the small cases the tests
//! enumerate).

use super::metrics::{Net, assignment};
use ensweep_core::seed::RunSeed;
use ndarray::{Array2, ArrayView2, Zip};
use rand::RngExt;
use std::collections::BTreeMap;

/// Frank-Wolfe iterations of FAQ (scipy's default `maxiter`).
const FAQ_ITERS: usize = 30;
/// Relative change of the doubly stochastic iterate at which FAQ stops (scipy's `tol`).
const FAQ_TOL: f64 = 0.03;
/// Largest width at which extra random starts are also polished (a polish from a random
/// permutation applies thousands of swaps at the paper's width of 128).
const SMALL_N: usize = 32;
/// Random starts below that width.
const SMALL_N_STARTS: usize = 64;

/// Squared cost ||A - P B P^T||_F^2 of the permutation `perm` (`perm[i]` = unit of `b` placed at
/// unit `i` of `a`).
pub fn permuted_cost(a: &Array2<f64>, b: &Array2<f64>, perm: &[usize]) -> f64 {
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

/// Frobenius inner product.
fn inner(x: &Array2<f64>, y: &Array2<f64>) -> f64 {
    Zip::from(x).and(y).fold(0.0, |s, a, b| s + a * b)
}

/// Frank-Wolfe on the relaxation max <A, P B P^T> over doubly stochastic P (scipy's FAQ);
/// returns the projected permutation. The gradient is A P B^T + A^T P B; along R = Q - P (Q the
/// permutation of the linear step) f(P + tR) = f(P) + t (<AR, PB> + <AP, RB>) + t^2 <AR, RB>,
/// maximised exactly. AR and RB are a column gather of A and a row gather of B minus AP and PB,
/// and AP, PB move by t AR, t RB, so an iteration costs the gradient's two n x n products.
fn faq(a: &Array2<f64>, b: &Array2<f64>) -> Vec<usize> {
    let n = a.nrows();
    let mut p = Array2::from_elem((n, n), 1.0 / n as f64);
    let (mut ap, mut pb) = (a.dot(&p), p.dot(b));
    for _ in 0..FAQ_ITERS {
        let grad = ap.dot(&b.t()) + a.t().dot(&pb);
        let q = assignment(&grad.mapv(|g| -g));
        let mut q_inv = vec![0; n];
        for (i, j) in q.iter().enumerate() {
            q_inv[*j] = i;
        }
        let ar = Array2::from_shape_fn((n, n), |(i, j)| a[(i, q_inv[j])] - ap[(i, j)]);
        let rb = Array2::from_shape_fn((n, n), |(i, j)| b[(q[i], j)] - pb[(i, j)]);
        let a2 = inner(&ar, &rb);
        let b1 = inner(&ar, &pb) + inner(&ap, &rb);
        let t = if a2 < 0.0 {
            (-b1 / (2.0 * a2)).clamp(0.0, 1.0)
        } else if a2 + b1 > 0.0 {
            1.0
        } else {
            0.0
        };
        // |R|^2 = |Q|^2 - 2 <Q, P> + |P|^2 with |Q|^2 = n.
        let on_q: f64 = q.iter().enumerate().map(|(i, j)| p[(i, *j)]).sum();
        let r_norm = (n as f64 - 2.0 * on_q + inner(&p, &p)).max(0.0).sqrt();
        p *= 1.0 - t;
        for (i, j) in q.iter().enumerate() {
            p[(i, *j)] += t;
        }
        ap.scaled_add(t, &ar);
        pb.scaled_add(t, &rb);
        if t * r_norm / (n as f64).sqrt() < FAQ_TOL {
            break;
        }
    }
    assignment(&p.mapv(|v| -v))
}

/// Gain in <A, B_p> (B_p = B with rows and columns permuted by the current permutation) when
/// units `r` and `s` swap: only rows and columns r and s of B_p move, so this is O(n). The squared
/// cost falls by twice the gain, since ||B_p|| does not depend on the permutation.
fn swap_gain(a: ArrayView2<f64>, bp: ArrayView2<f64>, r: usize, s: usize) -> f64 {
    let n = a.nrows();
    let mut g = (a[(r, r)] - a[(s, s)]) * (bp[(s, s)] - bp[(r, r)])
        + (a[(r, s)] - a[(s, r)]) * (bp[(s, r)] - bp[(r, s)]);
    for k in (0..n).filter(|k| *k != r && *k != s) {
        g += (a[(r, k)] - a[(s, k)]) * (bp[(s, k)] - bp[(r, k)])
            + (a[(k, r)] - a[(k, s)]) * (bp[(k, s)] - bp[(k, r)]);
    }
    g
}

/// Change of the squared cost when units `i` and `j` of `perm` swap.
#[cfg(test)]
fn swap_delta(a: &Array2<f64>, b: &Array2<f64>, perm: &[usize], i: usize, j: usize) -> f64 {
    let bp = Array2::from_shape_fn(a.dim(), |(r, c)| b[(perm[r], perm[c])]);
    -2.0 * swap_gain(a.view(), bp.view(), i, j)
}

/// Tries every transposition of two units in order and applies each that lowers the cost, until
/// a whole pass finds none. The gains of all n^2/2 transpositions are kept in a table: after a
/// swap of (r, s), the gain of a disjoint pair (u, v) changes by a product of two four-term
/// differences (Taillard's update for quadratic assignment), and only the 2n pairs that touch r
/// or s are recomputed, so a pass costs O(n^2) plus O(n^2) per applied swap instead of O(n^3).
/// Each swap is applied only after its gain is recomputed from scratch, so rounding in the
/// table never decides a move.
fn swap_polish(a: &Array2<f64>, b: &Array2<f64>, perm: &mut [usize]) {
    let n = perm.len();
    let tol = 0.5 * 1e-12 * permuted_cost(a, b, perm).max(1.0);
    let mut bp = Array2::from_shape_fn((n, n), |(r, c)| b[(perm[r], perm[c])]);
    let mut gain = Array2::from_shape_fn((n, n), |(i, j)| {
        if i < j {
            swap_gain(a.view(), bp.view(), i, j)
        } else {
            0.0
        }
    });
    let mut improved = true;
    while improved {
        improved = false;
        for i in 0..n {
            for j in i + 1..n {
                if gain[(i, j)] <= tol {
                    continue;
                }
                let exact = swap_gain(a.view(), bp.view(), i, j);
                gain[(i, j)] = exact;
                if exact > tol {
                    apply_swap(a, &mut bp, &mut gain, i, j);
                    perm.swap(i, j);
                    improved = true;
                }
            }
        }
    }
}

/// Swaps units r and s in `bp` and brings the gain table up to date.
fn apply_swap(a: &Array2<f64>, bp: &mut Array2<f64>, gain: &mut Array2<f64>, r: usize, s: usize) {
    let n = a.nrows();
    for u in 0..n {
        if u == r || u == s {
            continue;
        }
        for v in u + 1..n {
            if v == r || v == s {
                continue;
            }
            let rows = (a[(r, u)] - a[(r, v)] - a[(s, u)] + a[(s, v)])
                * (bp[(s, v)] - bp[(s, u)] - bp[(r, v)] + bp[(r, u)]);
            let cols = (a[(u, r)] - a[(v, r)] - a[(u, s)] + a[(v, s)])
                * (bp[(v, s)] - bp[(u, s)] - bp[(v, r)] + bp[(u, r)]);
            gain[(u, v)] += rows + cols;
        }
    }
    for k in 0..n {
        bp.swap((r, k), (s, k));
    }
    for k in 0..n {
        bp.swap((k, r), (k, s));
    }
    for k in 0..n {
        for x in [r, s] {
            if k != x {
                let (u, v) = (k.min(x), k.max(x));
                gain[(u, v)] = swap_gain(a.view(), bp.view(), u, v);
            }
        }
    }
}

/// Best permutation found for min ||A - P B P^T||_F (FAQ, then swap polish).
pub fn match_units(a: &Array2<f64>, b: &Array2<f64>) -> Vec<usize> {
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
pub fn d_pif(wx: &Array2<f64>, wy: &Array2<f64>) -> f64 {
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
pub fn init_baseline(x: &BTreeMap<String, Array2<f64>>, y: &BTreeMap<String, Array2<f64>>) -> f64 {
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

    fn random(n: usize, rng: &mut impl RngExt) -> Array2<f64> {
        Array2::from_shape_simple_fn((n, n), || rng.random_range(-1.0..1.0))
    }

    fn brute_force(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        fn rec(a: &Array2<f64>, b: &Array2<f64>, perm: &mut Vec<usize>, k: usize, best: &mut f64) {
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
        let b = Array2::from_shape_fn((12, 12), |(i, j)| a[(sigma[i], sigma[j])]);
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
            m * scale
        };
        let layers = |m: Array2<f64>| BTreeMap::from([(INIT_LAYER.to_string(), m)]);
        let (a, b) = (draw(), draw());
        let flipped = Array2::from_shape_fn((n, n), |(i, j)| a[(n - 1 - i, n - 1 - j)]);
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
    fn the_gain_table_stays_equal_to_fresh_gains_after_swaps() {
        let mut rng = RunSeed::from_u64(19).rng("pif.w");
        let (a, b) = (random(9, &mut rng), random(9, &mut rng));
        let n = 9;
        let mut bp = b.clone();
        let mut gain = Array2::from_shape_fn((n, n), |(i, j)| {
            if i < j {
                swap_gain(a.view(), bp.view(), i, j)
            } else {
                0.0
            }
        });
        for (r, s) in [(0, 4), (2, 8), (4, 5), (1, 0)] {
            apply_swap(&a, &mut bp, &mut gain, r.min(s), r.max(s));
            for i in 0..n {
                for j in i + 1..n {
                    let fresh = swap_gain(a.view(), bp.view(), i, j);
                    assert!((gain[(i, j)] - fresh).abs() < 1e-10, "({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn normalised_by_the_parameter_count() {
        let a = Array2::from_elem((3, 3), 1.0);
        let b = Array2::zeros((3, 3));
        assert!((d_pif(&a, &b) - 3.0 / 9.0).abs() < 1e-12);
    }
}
