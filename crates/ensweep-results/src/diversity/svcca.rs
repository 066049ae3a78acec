//! SVCCA (Raghu et al. 2017), the representational similarity of the degeneracy paper's appendix:
//! each net's hidden states (samples x units) are reduced by SVD to the directions that keep 99 %
//! of their variance, which drops the noisy low-variance directions CCA would otherwise happily
//! correlate; CCA between the two reduced sets then gives canonical correlations, summarised by
//! their mean (1 = the same subspace up to an invertible linear map).

use super::linalg::MatExt;
use ndarray::Array2;

/// Fraction of variance the SVD step keeps.
pub const KEEP_VARIANCE: f64 = 0.99;
/// Eigenvalues below this fraction of the largest are treated as zero (rank deficiency).
const RANK_TOL: f64 = 1e-10;

/// Orthonormal basis (samples x k) of a net's centred states restricted to the leading principal
/// directions holding `keep` of the variance: X_c v_i / sqrt(l_i) for the kept eigenpairs
/// (l_i, v_i) of X_c^T X_c. Computed once per net; CCA of two nets is then one small product.
pub fn whitened_subspace(x: &Array2<f64>, keep: f64) -> Array2<f64> {
    let xc = x.center_columns();
    let (vals, vecs) = xc.t().dot(&xc).symmetric_eigen();
    let total: f64 = vals.iter().map(|v| v.max(0.0)).sum();
    let mut k = 0;
    let mut acc = 0.0;
    while k < vals.len() && acc < keep * total && vals[k] > RANK_TOL * vals[0] {
        acc += vals[k];
        k += 1;
    }
    let basis = Array2::from_shape_fn((vecs.nrows(), k), |(i, j)| vecs[(i, j)] / vals[j].sqrt());
    xc.dot(&basis)
}

/// Canonical correlations between two whitened subspaces of the same samples, largest first:
/// the singular values of Qx^T Qy (cosines of the principal angles between the subspaces).
pub fn canonical_correlations(qx: &Array2<f64>, qy: &Array2<f64>) -> Vec<f64> {
    assert_eq!(qx.nrows(), qy.nrows(), "CCA needs the same samples");
    let c = qx.t().dot(qy);
    let small = if c.nrows() <= c.ncols() {
        c.dot(&c.t())
    } else {
        c.t().dot(&c)
    };
    let (vals, _) = small.symmetric_eigen();
    vals.iter().map(|v| v.max(0.0).sqrt().min(1.0)).collect()
}

/// Mean SVCCA correlation of two prepared nets ([`whitened_subspace`]).
pub fn svcca_prepared(qx: &Array2<f64>, qy: &Array2<f64>) -> f64 {
    let rho = canonical_correlations(qx, qy);
    if rho.is_empty() {
        return f64::NAN;
    }
    rho.iter().sum::<f64>() / rho.len() as f64
}

/// Mean SVCCA correlation between two nets' hidden states over the same inputs.
pub fn svcca(x: &Array2<f64>, y: &Array2<f64>) -> f64 {
    svcca_prepared(
        &whitened_subspace(x, KEEP_VARIANCE),
        &whitened_subspace(y, KEEP_VARIANCE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ensweep_core::seed::RunSeed;
    use rand::RngExt;

    fn random(r: usize, c: usize, stream: &str) -> Array2<f64> {
        let mut rng = RunSeed::from_u64(3).rng(stream);
        Array2::from_shape_simple_fn((r, c), || rng.random_range(-1.0..1.0))
    }

    #[test]
    fn a_scaled_signed_permutation_of_the_units_has_svcca_one() {
        let x = random(200, 5, "svcca.x");
        let sigma = [2, 4, 0, 1, 3];
        let y = Array2::from_shape_fn((200, 5), |(i, j)| -3.0 * x[(i, sigma[j])]);
        assert!((svcca(&x, &y) - 1.0).abs() < 1e-9, "{}", svcca(&x, &y));
    }

    #[test]
    fn independent_states_have_low_svcca() {
        let (x, y) = (random(2000, 4, "svcca.x"), random(2000, 4, "svcca.y"));
        let s = svcca(&x, &y);
        assert!(s < 0.1, "{s}");
    }

    #[test]
    fn low_variance_directions_are_dropped() {
        // Two shared directions plus a tiny independent one each: the SVD step discards the
        // tiny ones, so SVCCA sees only the shared subspace.
        let shared = random(300, 2, "svcca.shared");
        let (nx, ny) = (random(300, 1, "svcca.nx"), random(300, 1, "svcca.ny"));
        let x = Array2::from_shape_fn((300, 3), |(i, j)| {
            if j < 2 {
                shared[(i, j)]
            } else {
                1e-4 * nx[(i, 0)]
            }
        });
        let y = Array2::from_shape_fn((300, 3), |(i, j)| {
            if j < 2 {
                shared[(i, 1 - j)]
            } else {
                1e-4 * ny[(i, 0)]
            }
        });
        assert!((svcca(&x, &y) - 1.0).abs() < 1e-9, "{}", svcca(&x, &y));
    }
}
