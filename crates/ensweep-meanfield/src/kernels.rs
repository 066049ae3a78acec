//! The hot loops of the trainer, written once and compiled for several instruction sets.
//!
//! Each kernel is a generic `#[inline(always)]` body; [`dispatch!`] instantiates it inside a
//! function compiled with AVX-512 (or AVX2 + FMA) enabled and picks one at run time, so the
//! binary stays portable (no `-C target-cpu=native`) yet uses the wide units where present.
//! The loops are shaped for the auto-vectoriser: independent lanes, fixed-width accumulator
//! blocks for reductions, `mul_add` for fused multiply-adds.
//!
//! Parameter matrices are stored input-major (`[n_in][n_out]`), so one input unit's outgoing
//! connections are a contiguous row. That is what makes the sparse first layer cheap: a chunk
//! of examples, held pixel-major, touches only the rows of its non-zero pixels (~19 % on MNIST),
//! and each row once per chunk.

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

dispatch!(pub fn mean_field_finish<F>(z: &mut [F], ratio: &mut [F], eps: &[F], scale: F) => mean_field_finish_body);

/// Completes the mean-field pre-activations: on entry `z = G` and `ratio = Delta^2`; on exit
/// `z = (G + eps Delta) scale` and `ratio = eps / Delta` (0 where `Delta == 0`). Plain
/// multiply and add (no fused multiply-add), so every instruction set gives the same bits.
#[inline(always)]
fn mean_field_finish_body<F: Float>(z: &mut [F], ratio: &mut [F], eps: &[F], scale: F) {
    let n = z.len().min(ratio.len()).min(eps.len());
    let (z, ratio, eps) = (&mut z[..n], &mut ratio[..n], &eps[..n]);
    for i in 0..n {
        let delta = ratio[i].sqrt();
        let e = eps[i];
        z[i] = (z[i] + e * delta) * scale;
        let r = e / delta;
        ratio[i] = if delta > F::zero() { r } else { F::zero() };
    }
}

dispatch!(pub fn scatter_cols<F>(n_out: usize, ptr: &[usize], rows: &[u32], val: &[F], mu: &[F], v: Option<&[F]>, z: &mut [F], s2: &mut [F]) => scatter_cols_body);

/// The first-layer forward pass on pixel-major input (CSC `ptr`/`rows`/`val` of a chunk):
/// `z[b] += x mu_j`, `s2[b] += x^2 v_j` for every non-zero `(b, j, x)`. Column blocks are the
/// outer loop so that the block of `z`/`s2` being updated (chunk x block width) stays in L1,
/// and one block of each parameter row stays in registers while it serves every example with
/// that pixel on. Per output element the terms are added in increasing pixel order, so the sums
/// are the same as a row-major gather would give.
#[inline(always)]
fn scatter_cols_body<F: Float>(
    n_out: usize,
    ptr: &[usize],
    rows: &[u32],
    val: &[F],
    mu: &[F],
    v: Option<&[F]>,
    z: &mut [F],
    s2: &mut [F],
) {
    let mut o0 = 0;
    while o0 + 32 <= n_out {
        scatter_cols_block::<F, 32>(n_out, o0, ptr, rows, val, mu, v, z, s2);
        o0 += 32;
    }
    while o0 + 8 <= n_out {
        scatter_cols_block::<F, 8>(n_out, o0, ptr, rows, val, mu, v, z, s2);
        o0 += 8;
    }
    while o0 + 4 <= n_out {
        scatter_cols_block::<F, 4>(n_out, o0, ptr, rows, val, mu, v, z, s2);
        o0 += 4;
    }
    while o0 < n_out {
        scatter_cols_block::<F, 1>(n_out, o0, ptr, rows, val, mu, v, z, s2);
        o0 += 1;
    }
}

/// Columns `o0..o0 + W` of [`scatter_cols_body`].
#[inline(always)]
fn scatter_cols_block<F: Float, const W: usize>(
    n_out: usize,
    o0: usize,
    ptr: &[usize],
    rows: &[u32],
    val: &[F],
    mu: &[F],
    v: Option<&[F]>,
    z: &mut [F],
    s2: &mut [F],
) {
    for j in 0..ptr.len() - 1 {
        let (s, e) = (ptr[j], ptr[j + 1]);
        if s == e {
            continue;
        }
        let base = j * n_out + o0;
        let m: [F; W] = mu[base..base + W].try_into().expect("block");
        match v {
            Some(v) => {
                let vv: [F; W] = v[base..base + W].try_into().expect("block");
                for (&b, &x) in rows[s..e].iter().zip(&val[s..e]) {
                    let at = b as usize * n_out + o0;
                    let zb: &mut [F; W] = (&mut z[at..at + W]).try_into().expect("block");
                    let x2 = x * x;
                    for t in 0..W {
                        zb[t] = x.mul_add(m[t], zb[t]);
                    }
                    let sb: &mut [F; W] = (&mut s2[at..at + W]).try_into().expect("block");
                    for t in 0..W {
                        sb[t] = x2.mul_add(vv[t], sb[t]);
                    }
                }
            }
            None => {
                for (&b, &x) in rows[s..e].iter().zip(&val[s..e]) {
                    let at = b as usize * n_out + o0;
                    let zb: &mut [F; W] = (&mut z[at..at + W]).try_into().expect("block");
                    for t in 0..W {
                        zb[t] = x.mul_add(m[t], zb[t]);
                    }
                }
            }
        }
    }
}

dispatch!(pub fn gather_cols<F>(n_out: usize, j0: usize, ptr: &[usize], rows: &[u32], val: &[F], d: &[F], s: &[F], acc_a: &mut [F], acc_b: &mut [F]) => gather_cols_body);

/// The first-layer gradient products on pixel-major input, for pixels `j0..j0 + acc_a.len() /
/// n_out`: `A[j] += sum_b x_bj d_b`, `B[j] += sum_b x_bj^2 s_b` (rows of `acc_*` relative to
/// `j0`). Column blocks outer (the chunk's block of `d`/`s` stays in L1), accumulators of one
/// row block in registers; per element the examples are added in order.
#[inline(always)]
fn gather_cols_body<F: Float>(
    n_out: usize,
    j0: usize,
    ptr: &[usize],
    rows: &[u32],
    val: &[F],
    d: &[F],
    s: &[F],
    acc_a: &mut [F],
    acc_b: &mut [F],
) {
    let mut o0 = 0;
    while o0 + 32 <= n_out {
        gather_cols_block::<F, 32>(n_out, o0, j0, ptr, rows, val, d, s, acc_a, acc_b);
        o0 += 32;
    }
    while o0 + 8 <= n_out {
        gather_cols_block::<F, 8>(n_out, o0, j0, ptr, rows, val, d, s, acc_a, acc_b);
        o0 += 8;
    }
    while o0 + 4 <= n_out {
        gather_cols_block::<F, 4>(n_out, o0, j0, ptr, rows, val, d, s, acc_a, acc_b);
        o0 += 4;
    }
    while o0 < n_out {
        gather_cols_block::<F, 1>(n_out, o0, j0, ptr, rows, val, d, s, acc_a, acc_b);
        o0 += 1;
    }
}

/// Columns `o0..o0 + W` of [`gather_cols_body`].
#[inline(always)]
fn gather_cols_block<F: Float, const W: usize>(
    n_out: usize,
    o0: usize,
    j0: usize,
    ptr: &[usize],
    rows: &[u32],
    val: &[F],
    d: &[F],
    s: &[F],
    acc_a: &mut [F],
    acc_b: &mut [F],
) {
    let n_rows = acc_a.len() / n_out;
    for r in 0..n_rows {
        let (st, en) = (ptr[j0 + r], ptr[j0 + r + 1]);
        if st == en {
            continue;
        }
        let at = r * n_out + o0;
        let mut a: [F; W] = acc_a[at..at + W].try_into().expect("block");
        let mut bq: [F; W] = acc_b[at..at + W].try_into().expect("block");
        for (&b, &x) in rows[st..en].iter().zip(&val[st..en]) {
            let src = b as usize * n_out + o0;
            let db: &[F; W] = d[src..src + W].try_into().expect("block");
            let sb: &[F; W] = s[src..src + W].try_into().expect("block");
            let x2 = x * x;
            for t in 0..W {
                a[t] = x.mul_add(db[t], a[t]);
                bq[t] = x2.mul_add(sb[t], bq[t]);
            }
        }
        acc_a[at..at + W].copy_from_slice(&a);
        acc_b[at..at + W].copy_from_slice(&bq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_loops() {
        // 77 columns: two blocks of 32, one of 8, one of 4, one single column.
        let (n_in, n_out, n_ex) = (9, 77, 4);
        let f = |i: usize| ((i * 7919) % 101) as f64 / 50.0 - 1.0;
        let mu: Vec<f64> = (0..n_in * n_out).map(f).collect();
        let v: Vec<f64> = (0..n_in * n_out).map(|i| f(i + 3).abs()).collect();
        // Pixel-major input: column j holds (example, value) pairs.
        let cols: Vec<Vec<(u32, f64)>> = (0..n_in)
            .map(|j| {
                (0..n_ex as u32)
                    .filter(|b| !(j + *b as usize).is_multiple_of(3))
                    .map(|b| (b, f(j * 13 + b as usize)))
                    .collect()
            })
            .collect();
        let mut ptr = vec![0usize];
        let (mut rows, mut val) = (Vec::new(), Vec::new());
        for c in &cols {
            for &(b, x) in c {
                rows.push(b);
                val.push(x);
            }
            ptr.push(rows.len());
        }
        let (mut z, mut s2) = (vec![0.0; n_ex * n_out], vec![0.0; n_ex * n_out]);
        scatter_cols(n_out, &ptr, &rows, &val, &mu, Some(&v), &mut z, &mut s2);
        for b in 0..n_ex {
            for o in 0..n_out {
                let (mut eg, mut es) = (0.0, 0.0);
                for (j, c) in cols.iter().enumerate() {
                    for &(bb, x) in c {
                        if bb as usize == b {
                            eg += x * mu[j * n_out + o];
                            es += x * x * v[j * n_out + o];
                        }
                    }
                }
                assert!((z[b * n_out + o] - eg).abs() < 1e-12);
                assert!((s2[b * n_out + o] - es).abs() < 1e-12);
            }
        }
        // Gradient products for pixels 2..7, accumulated onto existing values.
        let d: Vec<f64> = (0..n_ex * n_out).map(|i| f(i + 11)).collect();
        let s: Vec<f64> = (0..n_ex * n_out).map(|i| f(i + 17)).collect();
        let (mut a, mut bq) = (vec![1.0; 5 * n_out], vec![2.0; 5 * n_out]);
        gather_cols(n_out, 2, &ptr, &rows, &val, &d, &s, &mut a, &mut bq);
        for r in 0..5 {
            for o in 0..n_out {
                let (mut ea, mut eb) = (1.0, 2.0);
                for &(b, x) in &cols[r + 2] {
                    ea += x * d[b as usize * n_out + o];
                    eb += x * x * s[b as usize * n_out + o];
                }
                assert!((a[r * n_out + o] - ea).abs() < 1e-12);
                assert!((bq[r * n_out + o] - eb).abs() < 1e-12);
            }
        }
        // The mean-field finish: z = (G + eps Delta) scale, ratio = eps / Delta or 0.
        let (mut zz, mut rr) = (vec![1.0, 2.0], vec![4.0, 0.0]);
        mean_field_finish(&mut zz, &mut rr, &[0.5, 0.7], 0.1);
        assert_eq!((zz[0], rr[0]), ((1.0 + 0.5 * 2.0) * 0.1, 0.25));
        assert_eq!((zz[1], rr[1]), (2.0 * 0.1, 0.0));
    }
}
