//! Minimum-cost assignment (the linear assignment problem) on a square f64 cost matrix, by the
//! shortest augmenting path method of Jonker & Volgenant as scipy's `linear_sum_assignment`
//! implements it (Crouse 2016): one Dijkstra-like search per row over reduced costs, with dual
//! variables kept so that every reduced cost stays non-negative. d_PIF solves one of these per
//! Frank-Wolfe iteration at n = 128, where this is several times faster than the Hungarian
//! method on integer-scaled costs it replaces, and exact in f64.

use ndarray::Array2;

/// `perm[i]` is the column assigned to row `i`, minimising the sum of `cost[(i, perm[i])]`.
/// Non-finite costs are not supported (every assignment must be feasible).
pub fn assignment(cost: &Array2<f64>) -> Vec<usize> {
    let n = cost.nrows();
    assert_eq!(n, cost.ncols(), "square cost matrix");
    const NONE: usize = usize::MAX;
    let (mut u, mut v) = (vec![0.0; n], vec![0.0; n]);
    let (mut col4row, mut row4col) = (vec![NONE; n], vec![NONE; n]);
    let mut shortest = vec![f64::INFINITY; n];
    let mut path = vec![NONE; n];
    let (mut seen_rows, mut seen_cols) = (vec![false; n], vec![false; n]);
    let mut remaining: Vec<usize> = Vec::with_capacity(n);
    for current in 0..n {
        shortest.fill(f64::INFINITY);
        path.fill(NONE);
        seen_rows.fill(false);
        seen_cols.fill(false);
        remaining.clear();
        remaining.extend((0..n).rev());
        let (mut min_val, mut i, mut sink) = (0.0, current, NONE);
        // Grow a shortest-path tree from `current` until it reaches a free column.
        while sink == NONE {
            seen_rows[i] = true;
            let (mut index, mut lowest) = (NONE, f64::INFINITY);
            for (k, &j) in remaining.iter().enumerate() {
                let r = min_val + cost[(i, j)] - u[i] - v[j];
                if r < shortest[j] {
                    path[j] = i;
                    shortest[j] = r;
                }
                if shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == NONE) {
                    lowest = shortest[j];
                    index = k;
                }
            }
            min_val = lowest;
            let j = remaining.swap_remove(index);
            seen_cols[j] = true;
            if row4col[j] == NONE {
                sink = j;
            } else {
                i = row4col[j];
            }
        }
        // Update the duals, then flip the path's assignments.
        u[current] += min_val;
        for r in 0..n {
            if seen_rows[r] && r != current {
                u[r] += min_val - shortest[col4row[r]];
            }
        }
        for c in 0..n {
            if seen_cols[c] {
                v[c] -= min_val - shortest[c];
            }
        }
        let mut j = sink;
        loop {
            let i = path[j];
            row4col[j] = i;
            std::mem::swap(&mut col4row[i], &mut j);
            if i == current {
                break;
            }
        }
    }
    col4row
}

#[cfg(test)]
mod tests {
    use super::*;
    use ensweep_core::seed::RunSeed;
    use rand::RngExt;

    fn brute_force(cost: &Array2<f64>) -> f64 {
        fn rec(cost: &Array2<f64>, perm: &mut Vec<usize>, k: usize, best: &mut f64) {
            if k == perm.len() {
                let c = perm.iter().enumerate().map(|(i, j)| cost[(i, *j)]).sum();
                *best = best.min(c);
                return;
            }
            for i in k..perm.len() {
                perm.swap(k, i);
                rec(cost, perm, k + 1, best);
                perm.swap(k, i);
            }
        }
        let mut best = f64::INFINITY;
        rec(cost, &mut (0..cost.nrows()).collect(), 0, &mut best);
        best
    }

    #[test]
    fn the_assignment_is_optimal_and_a_permutation() {
        let mut rng = RunSeed::from_u64(23).rng("lap.cost");
        for n in 1..=7 {
            for round in 0..5 {
                // Integer costs in the later rounds, so ties occur.
                let cost = Array2::from_shape_simple_fn((n, n), || {
                    let x: f64 = rng.random_range(-1.0..1.0);
                    if round < 2 { x } else { (3.0 * x).round() }
                });
                let perm = assignment(&cost);
                let mut sorted = perm.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>());
                let found: f64 = perm.iter().enumerate().map(|(i, j)| cost[(i, *j)]).sum();
                assert!((found - brute_force(&cost)).abs() < 1e-12, "n={n}");
            }
        }
        assert!(assignment(&Array2::zeros((0, 0))).is_empty());
    }
}
