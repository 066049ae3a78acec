//! The hot loops of the trainer, written once and compiled for several instruction sets.
//!
//! Each kernel is a generic `#[inline(always)]` body; [`dispatch!`] instantiates it inside a
//! function compiled with AVX-512 (or AVX2 + FMA) enabled and picks one at run time, so the
//! binary stays portable (no `-C target-cpu=native`) yet uses the wide units where present.
//! The loops are shaped for the auto-vectoriser: independent lanes, fixed-width accumulator
//! blocks for reductions, `mul_add` for fused multiply-adds.
//!
//! Every kernel works on *rows*: parameter matrices are stored input-major (`[n_in][n_out]`), so
//! one input unit's outgoing connections are contiguous. That is what makes the sparse first
//! layer cheap: an example touches only the rows of its non-zero pixels (~19 % on MNIST).

// Kernels take flat slices and sizes by design (no structs in the hot loops).
#![allow(clippy::too_many_arguments)]

use crate::float::Float;

/// Instantiates `$body::<F>` for AVX-512, AVX2+FMA and baseline x86-64 (or other targets) and
/// calls the best one the CPU supports.
macro_rules! dispatch {
    ($vis:vis fn $name:ident<F>($($arg:ident : $ty:ty),* $(,)?) => $body:ident) => {
        $vis fn $name<F: Float>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                fn wide<F: Float>($($arg: $ty),*) { $body::<F>($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn mid<F: Float>($($arg: $ty),*) { $body::<F>($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                {
                    // SAFETY: the CPU supports every feature `wide` was compiled for.
                    return unsafe { wide::<F>($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above, for `mid`.
                    return unsafe { mid::<F>($($arg),*) };
                }
            }
            $body::<F>($($arg),*)
        }
    };
}

dispatch!(pub fn gather_rows<F>(n_out: usize, idx: &[u32], val: &[F], rows: &[F], rows2: Option<&[F]>, out: &mut [F], out2: &mut [F]) => gather_rows_body);

/// `out = sum_k val_k rows[idx_k]` and, when `rows2` is given, `out2 = sum_k val_k^2 rows2[idx_k]`
/// (rows of length `n_out`). The forward pass: mean `G = mu^T a` and variance `v^T (a*a)`.
#[inline(always)]
fn gather_rows_body<F: Float>(
    n_out: usize,
    idx: &[u32],
    val: &[F],
    rows: &[F],
    rows2: Option<&[F]>,
    out: &mut [F],
    out2: &mut [F],
) {
    let out = &mut out[..n_out];
    out.fill(F::zero());
    match rows2 {
        Some(rows2) => {
            let out2 = &mut out2[..n_out];
            out2.fill(F::zero());
            for (&j, &x) in idx.iter().zip(val) {
                let j = j as usize * n_out;
                let r = &rows[j..j + n_out];
                let r2 = &rows2[j..j + n_out];
                let x2 = x * x;
                for o in 0..n_out {
                    out[o] = x.mul_add(r[o], out[o]);
                    out2[o] = x2.mul_add(r2[o], out2[o]);
                }
            }
        }
        None => {
            for (&j, &x) in idx.iter().zip(val) {
                let j = j as usize * n_out;
                let r = &rows[j..j + n_out];
                for o in 0..n_out {
                    out[o] = x.mul_add(r[o], out[o]);
                }
            }
        }
    }
}

dispatch!(pub fn scatter_rows<F>(n_out: usize, j0: usize, idx: &[u32], val: &[F], d: &[F], s: &[F], acc_a: &mut [F], acc_b: &mut [F]) => scatter_rows_body);

/// For every `(j, x)` of one example: `acc_a[j - j0] += x d` and `acc_b[j - j0] += x^2 s`
/// (rows of length `n_out`). Accumulates the two products every parameter gradient is made of:
/// `A = delta^T a` and `B = s^T (a*a)` (science.md 1.3).
#[inline(always)]
fn scatter_rows_body<F: Float>(
    n_out: usize,
    j0: usize,
    idx: &[u32],
    val: &[F],
    d: &[F],
    s: &[F],
    acc_a: &mut [F],
    acc_b: &mut [F],
) {
    let d = &d[..n_out];
    let s = &s[..n_out];
    for (&j, &x) in idx.iter().zip(val) {
        let r = (j as usize - j0) * n_out;
        let ra = &mut acc_a[r..r + n_out];
        let rb = &mut acc_b[r..r + n_out];
        let x2 = x * x;
        for o in 0..n_out {
            ra[o] = x.mul_add(d[o], ra[o]);
            rb[o] = x2.mul_add(s[o], rb[o]);
        }
    }
}

/// Lanes of the blocked dot products: independent partial sums the vectoriser maps to registers.
const LANES: usize = 16;

dispatch!(pub fn backprop_rows<F>(n_out: usize, mu: &[F], v: &[F], delta: &[F], s: &[F], z_prev: &[F], scale: F, out: &mut [F]) => backprop_rows_body);

/// Error of the previous layer for one example: for every input unit `j` with `z_prev[j] >= 0`,
/// `out[j] = scale (mu_j . delta + a_j (v_j . s))` with `a_j = max(z_prev[j], 0)`; 0 elsewhere.
/// `z_prev = None`-like use (input gradient) passes pre-activations equal to the inputs.
#[inline(always)]
fn backprop_rows_body<F: Float>(
    n_out: usize,
    mu: &[F],
    v: &[F],
    delta: &[F],
    s: &[F],
    z_prev: &[F],
    scale: F,
    out: &mut [F],
) {
    let delta = &delta[..n_out];
    let s = &s[..n_out];
    for (j, (&z, o)) in z_prev.iter().zip(out.iter_mut()).enumerate() {
        if z < F::zero() {
            *o = F::zero();
            continue;
        }
        let mu_j = &mu[j * n_out..(j + 1) * n_out];
        let v_j = &v[j * n_out..(j + 1) * n_out];
        let (d1, d2) = dot2(mu_j, delta, v_j, s);
        *o = scale * (d1 + z * d2);
    }
}

/// `(a . b, c . d)` with `LANES` independent partial sums (a fixed summation order).
#[inline(always)]
fn dot2<F: Float>(a: &[F], b: &[F], c: &[F], d: &[F]) -> (F, F) {
    let n = a.len();
    let mut p = [F::zero(); LANES];
    let mut q = [F::zero(); LANES];
    let full = n / LANES * LANES;
    for i in (0..full).step_by(LANES) {
        let (a, b, c, d) = (
            &a[i..i + LANES],
            &b[i..i + LANES],
            &c[i..i + LANES],
            &d[i..i + LANES],
        );
        for t in 0..LANES {
            p[t] = a[t].mul_add(b[t], p[t]);
            q[t] = c[t].mul_add(d[t], q[t]);
        }
    }
    for i in full..n {
        p[i - full] = a[i].mul_add(b[i], p[i - full]);
        q[i - full] = c[i].mul_add(d[i], q[i - full]);
    }
    (hsum(&p), hsum(&q))
}

/// Pairwise sum of the lanes (fixed order).
#[inline(always)]
fn hsum<F: Float>(x: &[F; LANES]) -> F {
    let mut h = *x;
    let mut w = LANES / 2;
    while w > 0 {
        for t in 0..w {
            h[t] = h[t] + h[t + w];
        }
        w /= 2;
    }
    h[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_loops() {
        let n_out = 37;
        let n_in = 9;
        let f = |i: usize| ((i * 7919) % 101) as f64 / 50.0 - 1.0;
        let rows: Vec<f64> = (0..n_in * n_out).map(f).collect();
        let rows2: Vec<f64> = (0..n_in * n_out).map(|i| f(i + 3).abs()).collect();
        let idx = [0u32, 2, 3, 8];
        let val = [0.5, -1.0, 0.25, 2.0];
        let (mut g, mut s2) = (vec![9.0; n_out], vec![9.0; n_out]);
        gather_rows(n_out, &idx, &val, &rows, Some(&rows2), &mut g, &mut s2);
        for o in 0..n_out {
            let eg: f64 = idx
                .iter()
                .zip(&val)
                .map(|(&j, x)| x * rows[j as usize * n_out + o])
                .sum();
            let es: f64 = idx
                .iter()
                .zip(&val)
                .map(|(&j, x)| x * x * rows2[j as usize * n_out + o])
                .sum();
            assert!((g[o] - eg).abs() < 1e-12 && (s2[o] - es).abs() < 1e-12);
        }
        let d: Vec<f64> = (0..n_out).map(|i| f(i + 11)).collect();
        let s: Vec<f64> = (0..n_out).map(|i| f(i + 17)).collect();
        let (mut a, mut b) = (vec![0.0; 7 * n_out], vec![0.0; 7 * n_out]);
        scatter_rows(n_out, 2, &idx[1..3], &val[1..3], &d, &s, &mut a, &mut b);
        assert!((a[n_out + 5] - 0.25 * d[5]).abs() < 1e-12);
        assert!((b[5] - s[5]).abs() < 1e-12);
        let z: Vec<f64> = (0..n_in).map(|j| f(j + 5)).collect();
        let mut out = vec![7.0; n_in];
        backprop_rows(n_out, &rows, &rows2, &d, &s, &z, 0.5, &mut out);
        for j in 0..n_in {
            let d1: f64 = (0..n_out).map(|o| rows[j * n_out + o] * d[o]).sum();
            let d2: f64 = (0..n_out).map(|o| rows2[j * n_out + o] * s[o]).sum();
            let e = if z[j] < 0.0 {
                0.0
            } else {
                0.5 * (d1 + z[j] * d2)
            };
            assert!((out[j] - e).abs() < 1e-12, "{j}");
        }
    }
}
