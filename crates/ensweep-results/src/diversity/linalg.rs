//! The little dense linear algebra the diversity metrics need: a row-major matrix with
//! products and a symmetric eigensolver (from which PCA, pseudo-inverses and the polar factor of
//! Procrustes follow). Products and eigen-decompositions are nalgebra's (matrixmultiply GEMM,
//! symmetric QR); this type only keeps the metrics' code short and row-major like the tables.

use std::ops::{Index, IndexMut, Mul, Sub};

/// Dense row-major matrix of f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Mat {
    /// All zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// From row-major values.
    pub fn from_row_slice(rows: usize, cols: usize, v: &[f64]) -> Self {
        assert_eq!(v.len(), rows * cols, "matrix data length");
        Self {
            rows,
            cols,
            data: v.to_vec(),
        }
    }

    /// Entry `(i, j)` = `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) -> Self {
        let mut m = Self::zeros(rows, cols);
        for i in 0..rows {
            for j in 0..cols {
                m.data[i * cols + j] = f(i, j);
            }
        }
        m
    }

    /// Row count.
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// Column count.
    pub fn ncols(&self) -> usize {
        self.cols
    }

    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// All entries, row-major.
    pub fn iter(&self) -> std::slice::Iter<'_, f64> {
        self.data.iter()
    }

    /// Sum of squares.
    pub fn norm_squared(&self) -> f64 {
        self.data.iter().map(|v| v * v).sum()
    }

    /// Frobenius norm.
    pub fn norm(&self) -> f64 {
        self.norm_squared().sqrt()
    }

    /// Transpose.
    pub fn transpose(&self) -> Mat {
        Mat::from_fn(self.cols, self.rows, |i, j| self[(j, i)])
    }

    /// Columns `start..start + n`.
    pub fn columns(&self, start: usize, n: usize) -> Mat {
        Mat::from_fn(self.rows, n, |i, j| self[(i, start + j)])
    }

    /// Rows of `self` followed by rows of `other`.
    pub fn stack(&self, other: &Mat) -> Mat {
        assert_eq!(self.cols, other.cols);
        let mut data = self.data.clone();
        data.extend_from_slice(&other.data);
        Mat {
            rows: self.rows + other.rows,
            cols: self.cols,
            data,
        }
    }

    /// Each column minus its mean.
    pub fn center_columns(&self) -> Mat {
        let mut out = self.clone();
        for j in 0..self.cols {
            let m = (0..self.rows).map(|i| self[(i, j)]).sum::<f64>() / self.rows.max(1) as f64;
            for i in 0..self.rows {
                out[(i, j)] -= m;
            }
        }
        out
    }

    /// The same matrix as nalgebra's (column-major) type, for solvers this type lacks.
    pub fn to_nalgebra(&self) -> nalgebra::DMatrix<f64> {
        nalgebra::DMatrix::from_row_slice(self.rows, self.cols, &self.data)
    }

    /// Back from nalgebra's type.
    pub fn from_nalgebra(m: &nalgebra::DMatrix<f64>) -> Mat {
        Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
    }

    /// Eigen-decomposition of a symmetric matrix: eigenvalues in decreasing order and the
    /// eigenvectors as the matching columns.
    pub fn symmetric_eigen(&self) -> (Vec<f64>, Mat) {
        let n = self.rows;
        let eig = nalgebra::SymmetricEigen::new(self.to_nalgebra());
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|x, y| eig.eigenvalues[*y].total_cmp(&eig.eigenvalues[*x]));
        let vals = order.iter().map(|i| eig.eigenvalues[*i]).collect();
        let vecs = Mat::from_fn(n, n, |i, j| eig.eigenvectors[(i, order[j])]);
        (vals, vecs)
    }

    /// `f(S)` of a symmetric matrix S = V diag(l) V': `V diag(f(l)) V'` (f sees each eigenvalue).
    pub fn symmetric_fn(&self, f: impl Fn(f64) -> f64) -> Mat {
        let (vals, vecs) = self.symmetric_eigen();
        let n = self.rows;
        Mat::from_fn(n, n, |i, j| {
            (0..n)
                .map(|k| vecs[(i, k)] * f(vals[k]) * vecs[(j, k)])
                .sum()
        })
    }
}

impl Index<(usize, usize)> for Mat {
    type Output = f64;
    fn index(&self, (i, j): (usize, usize)) -> &f64 {
        &self.data[i * self.cols + j]
    }
}

impl IndexMut<(usize, usize)> for Mat {
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut f64 {
        &mut self.data[i * self.cols + j]
    }
}

impl Mul for &Mat {
    type Output = Mat;
    fn mul(self, rhs: &Mat) -> Mat {
        assert_eq!(self.cols, rhs.rows, "matrix product shapes");
        Mat::from_nalgebra(&(self.to_nalgebra() * rhs.to_nalgebra()))
    }
}

impl Sub for &Mat {
    type Output = Mat;
    fn sub(self, rhs: &Mat) -> Mat {
        assert_eq!(self.shape(), rhs.shape(), "matrix difference shapes");
        Mat {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .iter()
                .zip(&rhs.data)
                .map(|(a, b)| a - b)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs_a_symmetric_matrix() {
        let s = Mat::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 1.0]);
        let (vals, vecs) = s.symmetric_eigen();
        assert!(vals[0] >= vals[1] && vals[1] >= vals[2]);
        let back = Mat::from_fn(3, 3, |i, j| {
            (0..3).map(|k| vecs[(i, k)] * vals[k] * vecs[(j, k)]).sum()
        });
        assert!((&back - &s).norm() < 1e-10);
        // trace is preserved
        assert!((vals.iter().sum::<f64>() - 8.0).abs() < 1e-10);
        let inv_sqrt = s.symmetric_fn(|l| 1.0 / l.sqrt());
        let id = &(&inv_sqrt * &s) * &inv_sqrt;
        assert!((&id - &Mat::from_fn(3, 3, |i, j| f64::from(u8::from(i == j)))).norm() < 1e-9);
    }
}
