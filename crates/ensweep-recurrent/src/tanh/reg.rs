//! Structural regularisation of the recurrent matrix (Huang et al.): an L1 penalty
//! lambda sum |w_ij| or a nuclear-norm penalty lambda sum sigma_i(W_h), added to the task loss
//! at every update. The penalty acts on the effective recurrent matrix W_h = `scale` x the
//! stored parameter (1 in the standard model, 1 / N for the muP `J`), so a lambda means the same
//! thing under both parametrisations.

use ensweep_core::config::tanh_rnn::{RegKind, Regularization};
use nalgebra::DMatrix;

/// Adds the gradient of the penalty with respect to the stored `n x n` parameter `w` (row-major)
/// into `g` and returns the penalty. Zero and untouched `g` without a penalty.
pub fn add_penalty(reg: &Regularization, w: &[f32], n: usize, scale: f32, g: &mut [f32]) -> f64 {
    let lambda = reg.lambda;
    match reg.kind {
        RegKind::None => 0.0,
        RegKind::L1 => {
            // Subgradient sign(w), 0 at w = 0.
            let step = (lambda * f64::from(scale)) as f32;
            let mut sum = 0.0f64;
            for (gi, &wi) in g.iter_mut().zip(w) {
                sum += f64::from((scale * wi).abs());
                if wi != 0.0 {
                    *gi += step * wi.signum();
                }
            }
            lambda * sum
        }
        RegKind::Nuclear => {
            let wh: Vec<f64> = w.iter().map(|&v| f64::from(scale * v)).collect();
            let (norm, grad) = nuclear(&wh, n);
            let k = lambda * f64::from(scale);
            for (gi, d) in g.iter_mut().zip(grad) {
                *gi += (k * d) as f32;
            }
            lambda * norm
        }
    }
}

/// The nuclear norm of a row-major `n x n` matrix and its gradient U V^T (row-major), from a
/// thin SVD. U V^T is the gradient wherever the singular values are distinct and non-zero, and
/// a subgradient elsewhere.
pub fn nuclear(w: &[f64], n: usize) -> (f64, Vec<f64>) {
    let svd = DMatrix::from_row_slice(n, n, w).svd(true, true);
    let norm = svd.singular_values.iter().sum();
    let u = svd.u.expect("SVD was asked for U");
    let v_t = svd.v_t.expect("SVD was asked for V^T");
    let uv = u * v_t;
    let grad = (0..n * n).map(|i| uv[(i / n, i % n)]).collect();
    (norm, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    #[test]
    fn nuclear_norm_gradient_matches_finite_differences() {
        let n = 7;
        let mut w = random(n, 3);
        let (norm, grad) = nuclear(&w, n);
        assert!(norm > 0.0);
        let h = 1e-6;
        for i in 0..n * n {
            let orig = w[i];
            w[i] = orig + h;
            let up = nuclear(&w, n).0;
            w[i] = orig - h;
            let down = nuclear(&w, n).0;
            w[i] = orig;
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - grad[i]).abs() < 1e-6,
                "entry {i}: fd {fd}, analytic {}",
                grad[i]
            );
        }
    }

    #[test]
    fn nuclear_norm_of_a_diagonal_matrix_is_the_sum_of_abs_entries() {
        let w = [2.0, 0.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 0.5];
        let (norm, grad) = nuclear(&w, 3);
        assert!((norm - 5.5).abs() < 1e-12);
        // U V^T of a diagonal matrix is diag(sign(d)).
        let want = [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0];
        assert!(grad.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    /// The penalty and its gradient act on scale x w, so the stored parameter's gradient
    /// carries the scale once more.
    #[test]
    fn penalties_and_their_gradients_with_a_scale() {
        let w = [0.5f32, -2.0, 0.0, 4.0];
        let l1 = Regularization {
            kind: RegKind::L1,
            lambda: 0.1,
        };
        let mut g = [1.0f32; 4];
        let p = add_penalty(&l1, &w, 2, 0.5, &mut g);
        assert!((p - 0.1 * 0.5 * 6.5).abs() < 1e-7);
        assert_eq!(g, [1.05, 0.95, 1.0, 1.05]);
        let nuc = Regularization {
            kind: RegKind::Nuclear,
            lambda: 2.0,
        };
        let diag = [3.0f32, 0.0, 0.0, -1.0];
        let mut g = [0.0f32; 4];
        let p = add_penalty(&nuc, &diag, 2, 0.5, &mut g);
        assert!((p - 2.0 * 0.5 * 4.0).abs() < 1e-6);
        assert!((g[0] - 1.0).abs() < 1e-6 && (g[3] + 1.0).abs() < 1e-6 && g[1].abs() < 1e-6);
        let mut g = [7.0f32; 4];
        let none = Regularization::default();
        assert_eq!(add_penalty(&none, &w, 2, 1.0, &mut g), 0.0);
        assert_eq!(g, [7.0; 4]);
    }
}
