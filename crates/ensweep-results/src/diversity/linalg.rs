//! What the diversity metrics need beyond ndarray: the Frobenius norm, column centring, and
//! nalgebra's symmetric eigensolver (from which PCA, pseudo-inverses and the polar factor of
//! Procrustes follow). The analysis matrices themselves are ndarray's `Array2<f64>` (row-major,
//! like the tables they come from); products are ndarray's `dot` (matrixmultiply GEMM).

use ndarray::{Array2, ArrayBase, Axis, Data, Ix2};

/// Operations on f64 matrices (owned or views) that ndarray does not provide.
pub trait MatExt {
    /// Sum of squares.
    fn norm_squared(&self) -> f64;
    /// Frobenius norm.
    fn norm(&self) -> f64 {
        self.norm_squared().sqrt()
    }
    /// Each column minus its mean (no rows: unchanged).
    fn center_columns(&self) -> Array2<f64>;
    /// The same matrix as nalgebra's (column-major) type, for its solvers.
    fn to_nalgebra(&self) -> nalgebra::DMatrix<f64>;
    /// Eigen-decomposition of a symmetric matrix: eigenvalues in decreasing order and the
    /// eigenvectors as the matching columns.
    fn symmetric_eigen(&self) -> (Vec<f64>, Array2<f64>);
    /// `f(S)` of a symmetric matrix S = V diag(l) V': `V diag(f(l)) V'` (f sees each eigenvalue).
    fn symmetric_fn(&self, f: impl Fn(f64) -> f64) -> Array2<f64>;
}

impl<S: Data<Elem = f64>> MatExt for ArrayBase<S, Ix2> {
    fn norm_squared(&self) -> f64 {
        self.iter().map(|v| v * v).sum()
    }

    fn center_columns(&self) -> Array2<f64> {
        match self.mean_axis(Axis(0)) {
            Some(mean) => self - &mean,
            None => self.to_owned(),
        }
    }

    fn to_nalgebra(&self) -> nalgebra::DMatrix<f64> {
        nalgebra::DMatrix::from_fn(self.nrows(), self.ncols(), |i, j| self[(i, j)])
    }

    fn symmetric_eigen(&self) -> (Vec<f64>, Array2<f64>) {
        let n = self.nrows();
        let eig = nalgebra::SymmetricEigen::new(self.to_nalgebra());
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|x, y| eig.eigenvalues[*y].total_cmp(&eig.eigenvalues[*x]));
        let vals = order.iter().map(|i| eig.eigenvalues[*i]).collect();
        let vecs = Array2::from_shape_fn((n, n), |(i, j)| eig.eigenvectors[(i, order[j])]);
        (vals, vecs)
    }

    fn symmetric_fn(&self, f: impl Fn(f64) -> f64) -> Array2<f64> {
        let (vals, vecs) = self.symmetric_eigen();
        let scaled = Array2::from_shape_fn(vecs.dim(), |(i, k)| vecs[(i, k)] * f(vals[k]));
        scaled.dot(&vecs.t())
    }
}

/// Back from nalgebra's type.
pub fn from_nalgebra(m: &nalgebra::DMatrix<f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// A matrix from row-major values (`rows * cols` of them).
pub fn from_rows(rows: usize, cols: usize, values: &[f64]) -> Array2<f64> {
    Array2::from_shape_vec((rows, cols), values.to_vec()).expect("rows x cols values")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs_a_symmetric_matrix() {
        let s = from_rows(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 1.0]);
        let (vals, vecs) = s.symmetric_eigen();
        assert!(vals[0] >= vals[1] && vals[1] >= vals[2]);
        let back = Array2::from_shape_fn((3, 3), |(i, j)| {
            (0..3).map(|k| vecs[(i, k)] * vals[k] * vecs[(j, k)]).sum()
        });
        assert!((&back - &s).norm() < 1e-10);
        // trace is preserved
        assert!((vals.iter().sum::<f64>() - 8.0).abs() < 1e-10);
        let inv_sqrt = s.symmetric_fn(|l| 1.0 / l.sqrt());
        let id = inv_sqrt.dot(&s).dot(&inv_sqrt);
        assert!((&id - &Array2::<f64>::eye(3)).norm() < 1e-9);
        let centred = from_rows(2, 2, &[1.0, 5.0, 3.0, 9.0]).center_columns();
        assert_eq!(centred, from_rows(2, 2, &[-1.0, -2.0, 1.0, 2.0]));
    }
}
