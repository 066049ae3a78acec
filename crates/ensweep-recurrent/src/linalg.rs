//! Small dense linear algebra: a safe row-major GEMM over the `gemm` crate (pure Rust,
//! runtime AVX2/AVX-512 dispatch), the complex
//! eigen-spectrum (real Schur form via `nalgebra`), orthogonal initialisation and the spectral
//! norm used for gradient clipping.
//!
//! Everything is row-major `f32` in flat slices, because the trainers keep their activations
//! time-major in one buffer and hand sub-slices to the GEMM without copying.

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// `C (m x n) = alpha * op(A) * op(B) + beta * C`, all row-major.
///
/// `op(A)` is `m x k`: A is stored `m x k`, or `k x m` when `ta`. Likewise `op(B)` is `k x n`:
/// B is stored `k x n`, or `n x k` when `tb`.
#[expect(
    clippy::too_many_arguments,
    reason = "a BLAS-style signature: shapes, operands, transposes and scalars"
)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    beta: f32,
    c: &mut [f32],
) {
    let (a_rs, a_cs) = if ta { (1, m) } else { (k, 1) };
    let (b_rs, b_cs) = if tb { (1, k) } else { (n, 1) };
    gemm_strided(
        m,
        k,
        n,
        alpha,
        Mat::new(a, a_rs, a_cs),
        Mat::new(b, b_rs, b_cs),
        beta,
        c,
        n,
    );
}

/// A read-only strided matrix view: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// View of `data` with row stride `rs` and column stride `cs`.
    pub fn new(data: &'a [f32], rs: usize, cs: usize) -> Self {
        Mat { data, rs, cs }
    }

    /// Row-major `rows x cols` matrix whose rows are `ld` apart.
    pub fn rows(data: &'a [f32], ld: usize) -> Self {
        Mat {
            data,
            rs: ld,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with rows `ld` apart.
    pub fn t(data: &'a [f32], ld: usize) -> Self {
        Mat {
            data,
            rs: 1,
            cs: ld,
        }
    }

    fn check(&self, rows: usize, cols: usize, what: &str) {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * self.rs + (cols - 1) * self.cs;
            assert!(last < self.data.len(), "gemm: {what} too short");
        }
    }
}

/// `C (m x n) = alpha * A (m x k) * B (k x n) + beta * C` on strided views; C is row-major with
/// rows `ldc` apart. With `beta = 0` the old contents of C are ignored (may be garbage).
#[expect(
    clippy::too_many_arguments,
    reason = "a BLAS-style signature: shapes, operands, transposes and scalars"
)]
pub fn gemm_strided(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Mat<'_>,
    b: Mat<'_>,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    a.check(m, k, "A");
    b.check(k, n, "B");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        ldc >= n && c.len() >= (m - 1) * ldc + n,
        "gemm: C too short"
    );
    if k == 0 {
        for row in c.chunks_mut(ldc).take(m) {
            row[..n].iter_mut().for_each(|v| *v *= beta);
        }
        return;
    }
    // SAFETY: the checks above guarantee that every index the kernel touches
    // (i*rs + j*cs for i < rows, j < cols) lies inside the slices; C does not alias A or B
    // because it is borrowed mutably. `gemm` computes dst := a*dst + b*lhs*rhs, so our beta
    // goes first; with read_dst = false the old contents of C are ignored.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Eigenvalues (re, im) of a square row-major `n x n` matrix, computed in f64.
pub fn eigenvalues(w: &[f32], n: usize) -> Vec<(f64, f64)> {
    let m = DMatrix::<f64>::from_fn(n, n, |i, j| w[i * n + j] as f64);
    m.complex_eigenvalues()
        .iter()
        .map(|c| (c.re, c.im))
        .collect()
}

/// A random orthogonal `n x n` matrix (QR of a Gaussian matrix with the sign fix that makes
/// the distribution uniform, as Keras' `Orthogonal` initialiser does).
pub fn orthogonal<R: Rng>(n: usize, rng: &mut R) -> Vec<f32> {
    let g = DMatrix::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(rng));
    let qr = g.qr();
    let (q, r) = (qr.q(), qr.r());
    let mut out = vec![0.0f32; n * n];
    for j in 0..n {
        let s = if r[(j, j)] < 0.0 { -1.0 } else { 1.0 };
        for i in 0..n {
            out[i * n + j] = (q[(i, j)] * s) as f32;
        }
    }
    out
}

/// Largest singular value of a row-major `rows x cols` matrix by power iteration on `A^T A`.
///
/// Used to clip gradients by their spectral norm (the reference calls
/// `np.linalg.norm(g, ord=2)`); 30 iterations give a few digits, which is plenty for a clip.
pub fn spectral_norm(a: &[f32], rows: usize, cols: usize) -> f32 {
    if rows == 0 || cols == 0 {
        return 0.0;
    }
    let mut v: Vec<f64> = (0..cols).map(|j| 1.0 + (j % 7) as f64 * 0.1).collect();
    let mut u = vec![0.0f64; rows];
    let mut sigma = 0.0;
    for _ in 0..30 {
        let vn = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if vn == 0.0 {
            return 0.0;
        }
        v.iter_mut().for_each(|x| *x /= vn);
        for (i, ui) in u.iter_mut().enumerate() {
            let row = &a[i * cols..(i + 1) * cols];
            *ui = row.iter().zip(&v).map(|(&r, &x)| r as f64 * x).sum();
        }
        sigma = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x = 0.0);
        for (i, &ui) in u.iter().enumerate() {
            let row = &a[i * cols..(i + 1) * cols];
            for (vj, &r) in v.iter_mut().zip(row) {
                *vj += r as f64 * ui;
            }
        }
    }
    sigma as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gemm_matches_naive_for_all_transposes() {
        let (m, k, n) = (3, 4, 5);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.3 - 1.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32).sin()).collect();
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut want = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        for (aa, ta) in [(&a, false), (&at, true)] {
            for (bb, tb) in [(&b, false), (&bt, true)] {
                let mut c = vec![1.0f32; m * n];
                gemm(m, k, n, 1.0, aa, ta, bb, tb, 0.0, &mut c);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-4, "ta={ta} tb={tb}");
                }
            }
        }
    }

    #[test]
    fn rotation_has_complex_pair_and_orthogonal_is_orthogonal() {
        let (c, s) = (0.6f32, 0.8f32);
        let ev = eigenvalues(&[c, -s, s, c], 2);
        assert!(
            ev.iter()
                .all(|&(re, im)| (re - 0.6).abs() < 1e-6 && (im.abs() - 0.8).abs() < 1e-6)
        );
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let n = 6;
        let q = orthogonal(n, &mut rng);
        for i in 0..n {
            for j in 0..n {
                let d: f32 = (0..n).map(|l| q[l * n + i] * q[l * n + j]).sum();
                assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
        let a = [3.0f32, 0.0, 0.0, 0.0, -2.0, 0.0];
        assert!((spectral_norm(&a, 2, 3) - 3.0).abs() < 1e-4);
    }
}
