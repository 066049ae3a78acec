//! The orthogonal optimisation inside DSA: max over orthogonal C of <A, C B C^T> for two r x r
//! operators (Procrustes over vector fields), by Riemannian gradient ascent on O(r) with a Cayley
//! retraction and Armijo backtracking.
//!
//! At the ranks DSA uses (4-20) every product is at most 8,000 multiply-adds, so allocation and a
//! general GEMM's dispatch would cost more than the arithmetic: the ascent works on row-major
//! buffers allocated once per pair, with plain loops the compiler vectorises. Per step it needs
//! two products for the gradient (G C^T = A N^T + A^T N, with N = C B C^T already known from the
//! objective) and, per trial step, one triangular factorisation and two products (the Cayley
//! map as cay(hW) C = 2 (I - hW/2)^-1 C - C, then the new N).

/// How one start's ascent ends besides convergence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Ascent {
    /// Cap on the gradient steps.
    pub max_iters: usize,
    /// A step that raises the cosine by less than this (absolute) ends the ascent.
    pub tolerance: f64,
    /// Give up a start whose cosine, extrapolated at its current rate of climb over the steps it
    /// has left, cannot reach the best cosine of the earlier starts.
    pub abandon: bool,
}

/// The two unit-norm operators of one comparison (row-major, r x r) and the scratch space of
/// their ascents.
pub(super) struct Problem {
    n: usize,
    a: Vec<f64>,
    at: Vec<f64>,
    b: Vec<f64>,
    /// Current C and its N = C B C^T.
    c: Vec<f64>,
    cbc: Vec<f64>,
    /// Candidate C and its N.
    cand: Vec<f64>,
    cand_cbc: Vec<f64>,
    /// C B (an intermediate of N), the gradient G C^T, the skew direction W, and I - hW.
    cb: Vec<f64>,
    gct: Vec<f64>,
    w: Vec<f64>,
    lu: Vec<f64>,
    /// The ascent direction W C at the previous and the current point (for the step length).
    d_old: Vec<f64>,
    d_new: Vec<f64>,
}

impl Problem {
    /// `a` and `b`: row-major n x n.
    pub fn new(n: usize, a: &[f64], b: &[f64]) -> Self {
        let mut at = vec![0.0; n * n];
        transpose(a, &mut at, n);
        let z = || vec![0.0; n * n];
        Self {
            n,
            a: a.to_vec(),
            at,
            b: b.to_vec(),
            c: z(),
            cbc: z(),
            cand: z(),
            cand_cbc: z(),
            cb: z(),
            gct: z(),
            w: z(),
            lu: z(),
            d_old: z(),
            d_new: z(),
        }
    }

    /// <A, C B C^T> of `c`, leaving C B C^T in `cbc`.
    fn cosine(&mut self, candidate: bool) -> f64 {
        let n = self.n;
        let (c, cbc) = if candidate {
            (&self.cand, &mut self.cand_cbc)
        } else {
            (&self.c, &mut self.cbc)
        };
        matmul(c, &self.b, &mut self.cb, n);
        matmul_bt(&self.cb, c, cbc, n);
        dot(&self.a, cbc)
    }

    /// Ascent from `start` (row-major orthogonal); returns the best cosine it visited. `best` is
    /// the best cosine of earlier starts (for abandoning).
    ///
    /// The step length is Barzilai-Borwein's (alternating its two forms, from the change of C
    /// and of the ascent direction W C between iterates) under a non-monotone Armijo condition
    /// (Zhang & Hager), as in Wen & Yin's Cayley-retraction method for orthogonality
    /// constraints: plain gradient ascent with a doubling/halving step needs thousands of steps
    /// at rank 20, this a few hundred.
    pub fn ascend(&mut self, start: &[f64], opts: &Ascent, best: f64) -> f64 {
        /// Weight of the past in the non-monotone reference value.
        const ETA: f64 = 0.85;
        self.c.copy_from_slice(start);
        let mut f = self.cosine(false);
        let mut slope = self.direction();
        let (mut weight, mut reference, mut top) = (1.0, f, f);
        let mut step: f64 = 1.0;
        for it in 0..opts.max_iters {
            if slope < 1e-24 {
                break;
            }
            let mut accepted = None;
            while step > 1e-14 {
                self.cayley_candidate(step / 2.0);
                let fc = self.cosine(true);
                if fc >= reference + 1e-4 * step * slope {
                    accepted = Some(fc);
                    break;
                }
                step /= 2.0;
            }
            let Some(fc) = accepted else { break };
            // Direction W C at the old point, then move and take W C at the new one.
            matmul(&self.w, &self.c, &mut self.d_old, self.n);
            std::mem::swap(&mut self.c, &mut self.cand);
            std::mem::swap(&mut self.cbc, &mut self.cand_cbc);
            let gain = fc - f;
            f = fc;
            top = top.max(f);
            slope = self.direction();
            matmul(&self.w, &self.c, &mut self.d_new, self.n);
            step = self.barzilai_borwein(it, step);
            (weight, reference) = {
                let w = ETA * weight + 1.0;
                (w, (ETA * weight * reference + f) / w)
            };
            if gain.abs() <= opts.tolerance.max(1e-12 * f.abs()) {
                break;
            }
            let left = (opts.max_iters - it - 1) as f64;
            if opts.abandon && top + gain.abs() * left < best {
                break;
            }
        }
        top
    }

    /// The skew ascent direction W at C (the skew part of G C^T = A N^T + A^T N); returns the
    /// slope |W|^2 / 2 of f along cay(tW) C at t = 0.
    fn direction(&mut self) -> f64 {
        let n = self.n;
        matmul_bt(&self.a, &self.cbc, &mut self.gct, n);
        matmul_add(&self.at, &self.cbc, &mut self.gct, n);
        for i in 0..n {
            for j in 0..n {
                self.w[i * n + j] = self.gct[i * n + j] - self.gct[j * n + i];
            }
        }
        dot(&self.w, &self.w) / 2.0
    }

    /// Barzilai-Borwein step from S = C_new - C_old (C_old is in `cand`) and Y = the change of
    /// W C; odd iterations <S, S> / |<S, Y>|, even ones |<S, Y>| / <Y, Y>.
    fn barzilai_borwein(&self, it: usize, last: f64) -> f64 {
        let (mut ss, mut sy, mut yy) = (0.0, 0.0, 0.0);
        for k in 0..self.c.len() {
            let s = self.c[k] - self.cand[k];
            let y = self.d_new[k] - self.d_old[k];
            (ss, sy, yy) = (ss + s * s, sy + s * y, yy + y * y);
        }
        let sy = sy.abs();
        let bb = if it % 2 == 1 { ss / sy } else { sy / yy };
        if bb.is_finite() && bb > 0.0 {
            bb.clamp(1e-10, 1e10)
        } else {
            last
        }
    }

    /// `cand` = cay(2h W) C = 2 (I - hW)^-1 C - C. I - hW (W skew) has a positive definite
    /// symmetric part, so elimination without pivoting is stable and never meets a zero pivot.
    fn cayley_candidate(&mut self, h: f64) {
        let n = self.n;
        for i in 0..n {
            for j in 0..n {
                self.lu[i * n + j] = f64::from(u8::from(i == j)) - h * self.w[i * n + j];
            }
        }
        // X = (I - hW)^-1 C by Gaussian elimination on [I - hW | C] (C's rows in `cand`).
        self.cand.copy_from_slice(&self.c);
        let (lu, x) = (&mut self.lu, &mut self.cand);
        for k in 0..n {
            let pivot = lu[k * n + k];
            for i in k + 1..n {
                let l = lu[i * n + k] / pivot;
                if l == 0.0 {
                    continue;
                }
                let (top, bottom) = lu.split_at_mut(i * n);
                axpy(-l, &top[k * n + k + 1..k * n + n], &mut bottom[k + 1..n]);
                let (top, bottom) = x.split_at_mut(i * n);
                axpy(-l, &top[k * n..k * n + n], &mut bottom[..n]);
            }
        }
        for k in (0..n).rev() {
            let (head, tail) = x.split_at_mut(k * n + n);
            let row = &mut head[k * n..];
            for j in k + 1..n {
                axpy(-lu[k * n + j], &tail[(j - k - 1) * n..(j - k) * n], row);
            }
            let inv = 1.0 / lu[k * n + k];
            row.iter_mut().for_each(|v| *v *= inv);
        }
        for (x, c) in x.iter_mut().zip(&self.c) {
            *x = 2.0 * *x - c;
        }
    }
}

fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn transpose(a: &[f64], out: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..n {
            out[j * n + i] = a[i * n + j];
        }
    }
}

/// out = a b (n x n, row-major).
fn matmul(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    out.fill(0.0);
    matmul_add(a, b, out, n);
}

/// out += a b.
fn matmul_add(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    for (a_row, out_row) in a.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        for (a_ik, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            axpy(*a_ik, b_row, out_row);
        }
    }
}

/// out = a b^T: entry (i, j) is row i of a dotted with row j of b.
fn matmul_bt(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    for (a_row, out_row) in a.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        for (o, b_row) in out_row.iter_mut().zip(b.chunks_exact(n)) {
            *o = dot(a_row, b_row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cayley_candidate_is_orthogonal_and_the_products_agree_with_nalgebra() {
        let n = 5;
        let m = |seed: f64| -> Vec<f64> {
            (0..n * n)
                .map(|k| ((k as f64 + 1.0) * seed).sin())
                .collect()
        };
        let (a, b) = (m(0.7), m(1.3));
        let na = nalgebra::DMatrix::from_row_slice(n, n, &a);
        let nb = nalgebra::DMatrix::from_row_slice(n, n, &b);
        let mut out = vec![0.0; n * n];
        matmul(&a, &b, &mut out, n);
        let want = &na * &nb;
        assert!((nalgebra::DMatrix::from_row_slice(n, n, &out) - want).norm() < 1e-12);
        matmul_bt(&a, &b, &mut out, n);
        let want = &na * nb.transpose();
        assert!((nalgebra::DMatrix::from_row_slice(n, n, &out) - want).norm() < 1e-12);
        let mut p = Problem::new(n, &a, &b);
        let id: Vec<f64> = (0..n * n)
            .map(|k| f64::from(u8::from(k % (n + 1) == 0)))
            .collect();
        p.c.copy_from_slice(&id);
        for i in 0..n {
            for j in 0..n {
                p.w[i * n + j] = a[i * n + j] - a[j * n + i];
            }
        }
        p.cayley_candidate(0.3);
        let q = nalgebra::DMatrix::from_row_slice(n, n, &p.cand);
        let eye = nalgebra::DMatrix::<f64>::identity(n, n);
        assert!((q.transpose() * &q - &eye).norm() < 1e-12);
        let w = nalgebra::DMatrix::from_row_slice(n, n, &p.w) * 0.3;
        let cay = (&eye - &w).lu().solve(&(&eye + &w)).unwrap();
        assert!((q - cay).norm() < 1e-12);
    }
}
