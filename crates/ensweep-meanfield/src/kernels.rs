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

dispatch!(pub fn gather_rows<F>(n_out: usize, idx: &[u32], val: &[F], rows: &[F], rows2: Option<&[F]>, out: &mut [F], out2: &mut [F], add: bool) => gather_rows_body);

/// `out = sum_k val_k rows[idx_k]` and, when `rows2` is given, `out2 = sum_k val_k^2 rows2[idx_k]`
/// (rows of length `n_out`); with `add` the sums are added to what `out`/`out2` hold. The
/// forward pass of the sparse first layer (mean `G = mu^T a`, variance `v^T (a*a)`) and, on
/// pixel-major data, its gradient products (`A = a^T delta`, `B = (a*a)^T s`). Output columns
/// are processed in register-sized blocks so that the accumulators stay in registers inside the
/// loop over non-zeros; a last partial block overlaps the previous one (same values rewritten).
#[inline(always)]
fn gather_rows_body<F: Float>(
    n_out: usize,
    idx: &[u32],
    val: &[F],
    rows: &[F],
    rows2: Option<&[F]>,
    out: &mut [F],
    out2: &mut [F],
    add: bool,
) {
    let mut o0 = 0;
    while o0 + 32 <= n_out {
        gather_block::<F, 32>(n_out, o0, idx, val, rows, rows2, out, out2, add);
        o0 += 32;
    }
    while o0 + 8 <= n_out {
        gather_block::<F, 8>(n_out, o0, idx, val, rows, rows2, out, out2, add);
        o0 += 8;
    }
    if o0 < n_out && n_out >= 8 && !add {
        // Overlapping last block: recomputes a few columns to identical values.
        gather_block::<F, 8>(n_out, n_out - 8, idx, val, rows, rows2, out, out2, add);
        o0 = n_out;
    }
    while o0 + 4 <= n_out {
        gather_block::<F, 4>(n_out, o0, idx, val, rows, rows2, out, out2, add);
        o0 += 4;
    }
    while o0 < n_out {
        gather_block::<F, 1>(n_out, o0, idx, val, rows, rows2, out, out2, add);
        o0 += 1;
    }
}

/// Columns `o0..o0 + W` of [`gather_rows_body`].
#[inline(always)]
fn gather_block<F: Float, const W: usize>(
    n_out: usize,
    o0: usize,
    idx: &[u32],
    val: &[F],
    rows: &[F],
    rows2: Option<&[F]>,
    out: &mut [F],
    out2: &mut [F],
    add: bool,
) {
    let mut g = [F::zero(); W];
    if add {
        g.copy_from_slice(&out[o0..o0 + W]);
    }
    match rows2 {
        Some(rows2) => {
            let mut s = [F::zero(); W];
            if add {
                s.copy_from_slice(&out2[o0..o0 + W]);
            }
            for (&j, &x) in idx.iter().zip(val) {
                let base = j as usize * n_out + o0;
                let r: &[F; W] = rows[base..base + W].try_into().expect("block");
                let r2: &[F; W] = rows2[base..base + W].try_into().expect("block");
                let x2 = x * x;
                for t in 0..W {
                    g[t] = x.mul_add(r[t], g[t]);
                    s[t] = x2.mul_add(r2[t], s[t]);
                }
            }
            out2[o0..o0 + W].copy_from_slice(&s);
        }
        None => {
            for (&j, &x) in idx.iter().zip(val) {
                let base = j as usize * n_out + o0;
                let r: &[F; W] = rows[base..base + W].try_into().expect("block");
                for t in 0..W {
                    g[t] = x.mul_add(r[t], g[t]);
                }
            }
        }
    }
    out[o0..o0 + W].copy_from_slice(&g);
}

dispatch!(pub fn scatter_row<F>(n_out: usize, dst_rows: &[u32], val: &[F], src: &[F], src2: Option<&[F]>, out: &mut [F], out2: &mut [F]) => scatter_row_body);

/// For every `(b, x)`: `out[b] += x src` and, when `src2` is given, `out2[b] += x^2 src2` (rows
/// of length `n_out`). The forward pass of the sparse first layer on pixel-major input: one
/// parameter row (`src = mu_j`, `src2 = v_j`) serves every example of the chunk that has pixel
/// `j` on, so each row is read from memory once per chunk instead of once per example.
/// Per output element the additions happen in the order of the calls, so visiting the pixels
/// in increasing order gives exactly the sums of [`gather_rows`].
#[inline(always)]
fn scatter_row_body<F: Float>(
    n_out: usize,
    dst_rows: &[u32],
    val: &[F],
    src: &[F],
    src2: Option<&[F]>,
    out: &mut [F],
    out2: &mut [F],
) {
    let src = &src[..n_out];
    match src2 {
        Some(src2) => {
            let src2 = &src2[..n_out];
            for (&b, &x) in dst_rows.iter().zip(val) {
                let r = b as usize * n_out..(b as usize + 1) * n_out;
                let (o1, o2) = (&mut out[r.clone()], &mut out2[r]);
                let x2 = x * x;
                for o in 0..n_out {
                    o1[o] = x.mul_add(src[o], o1[o]);
                    o2[o] = x2.mul_add(src2[o], o2[o]);
                }
            }
        }
        None => {
            for (&b, &x) in dst_rows.iter().zip(val) {
                let o1 = &mut out[b as usize * n_out..(b as usize + 1) * n_out];
                for o in 0..n_out {
                    o1[o] = x.mul_add(src[o], o1[o]);
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_loops() {
        let n_out = 77; // 2 blocks of 32, one of 8, 5 single columns
        let n_in = 9;
        let f = |i: usize| ((i * 7919) % 101) as f64 / 50.0 - 1.0;
        let rows: Vec<f64> = (0..n_in * n_out).map(f).collect();
        let rows2: Vec<f64> = (0..n_in * n_out).map(|i| f(i + 3).abs()).collect();
        let idx = [0u32, 2, 3, 8];
        let val = [0.5, -1.0, 0.25, 2.0];
        let (mut g, mut s2) = (vec![9.0; n_out], vec![9.0; n_out]);
        gather_rows(
            n_out,
            &idx,
            &val,
            &rows,
            Some(&rows2),
            &mut g,
            &mut s2,
            false,
        );
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
        // Pixel-major scatter gives bit-identical sums when pixels are visited in order.
        let (mut g2, mut s3) = (vec![0.0; 2 * n_out], vec![0.0; 2 * n_out]);
        for (&j, &x) in idx.iter().zip(&val) {
            let r = j as usize * n_out..(j as usize + 1) * n_out;
            scatter_row(
                n_out,
                &[1],
                &[x],
                &rows[r.clone()],
                Some(&rows2[r]),
                &mut g2,
                &mut s3,
            );
        }
        assert_eq!(&g2[n_out..], &g[..]);
        assert_eq!(&s3[n_out..], &s2[..]);
        // Accumulating mode adds to what is there.
        let (g0, s0) = (g.clone(), s2.clone());
        gather_rows(
            n_out,
            &idx,
            &val,
            &rows,
            Some(&rows2),
            &mut g,
            &mut s2,
            true,
        );
        for o in 0..n_out {
            assert!((g[o] - 2.0 * g0[o]).abs() < 1e-12 && (s2[o] - 2.0 * s0[o]).abs() < 1e-12);
        }
    }
}
