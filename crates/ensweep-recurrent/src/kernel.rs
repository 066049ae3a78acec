//! Register-blocked AVX2+FMA matrix products for the small shapes of the recurrent step
//! (B = 64 trials x 100-128 inputs x 100 units), without packing: every product the
//! spike-and-slab RNN needs has its right-hand matrix stored with contiguous rows (the packed
//! `[mu_in | mu_rec]^T`, `mu_rec` itself, the activation rows `[x, r]`), so the kernel
//! broadcasts elements of the left-hand matrix and loads rows of the right-hand one.
//!
//! Each element of C is one FMA chain over k in increasing order, added to C at the end when
//! accumulating, so the result does not depend on how the work is split. Without AVX2/FMA the
//! same products go through the `gemm` crate (same values up to rounding).

use crate::linalg::{Mat, gemm_strided};

/// `C (m x n) (+)= L (m x k) * R (k x n)` with `L(i, l) = lhs[i * l_rs + l * l_cs]`,
/// `R(l, j) = rhs[l * r_rs + j]` (rows contiguous) and C row-major with rows `ldc` apart.
/// `accumulate = false` overwrites C.
#[expect(
    clippy::too_many_arguments,
    reason = "a BLAS-style signature: shapes, operands, transposes and scalars"
)]
pub fn gemm_rows(
    m: usize,
    k: usize,
    n: usize,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize),
    accumulate: bool,
    c: &mut [f32],
    ldc: usize,
) {
    let (l, l_rs, l_cs) = lhs;
    let (r, r_rs) = rhs;
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        ldc >= n && c.len() >= (m - 1) * ldc + n,
        "gemm_rows: C too short"
    );
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    assert!(
        (m - 1) * l_rs + (k - 1) * l_cs < l.len(),
        "gemm_rows: L too short"
    );
    assert!(
        r_rs >= n && (k - 1) * r_rs + n <= r.len(),
        "gemm_rows: R too short"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features; the asserts above bound every index the kernels
        // read or write (masked lanes are not accessed).
        unsafe { avx2::gemm(m, k, n, l, l_rs, l_cs, r, r_rs, accumulate, c, ldc) };
        return;
    }
    gemm_strided(
        m,
        k,
        n,
        1.0,
        Mat::new(l, l_rs, l_cs),
        Mat::rows(r, r_rs),
        if accumulate { 1.0 } else { 0.0 },
        c,
        ldc,
    );
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    const NR: usize = 16;

    #[expect(
        clippy::too_many_arguments,
        reason = "a BLAS-style signature: shapes, operands, transposes and scalars"
    )]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        l: &[f32],
        l_rs: usize,
        l_cs: usize,
        r: &[f32],
        r_rs: usize,
        acc: bool,
        c: &mut [f32],
        ldc: usize,
    ) {
        let (lp, rp, cp) = (l.as_ptr(), r.as_ptr(), c.as_mut_ptr());
        let mut j0 = 0;
        while j0 < n {
            let nr = NR.min(n - j0);
            let masks = lane_masks(nr);
            let mut i0 = 0;
            while i0 < m {
                let mr = 6.min(m - i0);
                // SAFETY (all arms): rows i0..i0+mr < m and columns j0..j0+nr <= n are in
                // bounds by the caller's asserts; lanes at or beyond nr are masked.
                unsafe {
                    let lpi = lp.add(i0 * l_rs);
                    let rpj = rp.add(j0);
                    let cpi = cp.add(i0 * ldc + j0);
                    let a = (lpi, l_rs, l_cs, rpj, r_rs, cpi, ldc, acc, masks);
                    // 1 or 2 vectors of 8 columns, masked where the tile sticks out.
                    let nv = if nr > 8 { 2 } else { 1 };
                    let masked = nr != 8 * nv;
                    macro_rules! go {
                        ($($mr:literal)*) => {
                            match (mr, nv, masked) {
                                $(
                                    ($mr, 2, false) => micro::<$mr, 2, false>(k, a),
                                    ($mr, 2, true) => micro::<$mr, 2, true>(k, a),
                                    ($mr, 1, false) => micro::<$mr, 1, false>(k, a),
                                    ($mr, _, _) => micro::<$mr, 1, true>(k, a),
                                )*
                                _ => unreachable!(),
                            }
                        };
                    }
                    go!(1 2 3 4 5 6);
                }
                i0 += mr;
            }
            j0 += nr;
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn lane_masks(nr: usize) -> (__m256i, __m256i) {
        let lane = |i: usize| if i < nr { -1i32 } else { 0 };
        let m0 = _mm256_setr_epi32(
            lane(0),
            lane(1),
            lane(2),
            lane(3),
            lane(4),
            lane(5),
            lane(6),
            lane(7),
        );
        let m1 = _mm256_setr_epi32(
            lane(8),
            lane(9),
            lane(10),
            lane(11),
            lane(12),
            lane(13),
            lane(14),
            lane(15),
        );
        (m0, m1)
    }

    type Args = (
        *const f32,
        usize,
        usize,
        *const f32,
        usize,
        *mut f32,
        usize,
        bool,
        (__m256i, __m256i),
    );

    /// Writes 8 lanes of C at `p` (only the lanes of `mask` when given), added to what is
    /// there when `acc`.
    ///
    /// # Safety
    /// `p` must be valid for the 8 lanes (or the masked ones) and the CPU must have AVX2.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(p: *mut f32, v: __m256, mask: Option<__m256i>, acc: bool) {
        // SAFETY: the caller's contract.
        unsafe {
            match mask {
                Some(m) => {
                    let v = if acc {
                        _mm256_add_ps(_mm256_maskload_ps(p, m), v)
                    } else {
                        v
                    };
                    _mm256_maskstore_ps(p, m, v);
                }
                None => {
                    let v = if acc {
                        _mm256_add_ps(_mm256_loadu_ps(p), v)
                    } else {
                        v
                    };
                    _mm256_storeu_ps(p, v);
                }
            }
        }
    }

    /// One `MR x 8 NV` tile of C: `MR x NV` accumulators in registers over the whole k range.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn micro<const MR: usize, const NV: usize, const MASKED: bool>(k: usize, a: Args) {
        let (l, l_rs, l_cs, r, r_rs, c, ldc, acc, (m0, m1)) = a;
        let mut c0 = [_mm256_setzero_ps(); MR];
        let mut c1 = [_mm256_setzero_ps(); MR];
        // SAFETY: see the caller; every pointer that is dereferenced stays inside its slice
        // (masked lanes are not accessed); the others are computed with wrapping arithmetic.
        unsafe {
            let mut lk = l;
            let mut rk = r;
            for _ in 0..k {
                let b0 = if MASKED && NV == 1 {
                    _mm256_maskload_ps(rk, m0)
                } else {
                    _mm256_loadu_ps(rk)
                };
                let b1 = if NV == 1 {
                    b0
                } else if MASKED {
                    _mm256_maskload_ps(rk.wrapping_add(8), m1)
                } else {
                    _mm256_loadu_ps(rk.wrapping_add(8))
                };
                for i in 0..MR {
                    let av = _mm256_broadcast_ss(&*lk.wrapping_add(i * l_rs));
                    c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
                    if NV == 2 {
                        c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
                    }
                }
                lk = lk.wrapping_add(l_cs);
                rk = rk.wrapping_add(r_rs);
            }
            for i in 0..MR {
                let ci = c.wrapping_add(i * ldc);
                store(ci, c0[i], (MASKED && NV == 1).then_some(m0), acc);
                if NV == 2 {
                    store(ci.wrapping_add(8), c1[i], MASKED.then_some(m1), acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_on_edges_and_strides() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 5, 17),
            (13, 9, 100),
            (64, 128, 100),
            (100, 64, 128),
        ] {
            for transposed in [false, true] {
                let lv: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 7) % 13) as f32 * 0.1 - 0.6)
                    .collect();
                let (l_rs, l_cs) = if transposed { (1, m) } else { (k, 1) };
                let r_rs = n + 3;
                let rv: Vec<f32> = (0..k * r_rs)
                    .map(|i| ((i * 5) % 11) as f32 * 0.2 - 1.0)
                    .collect();
                let ldc = n + 2;
                for acc in [false, true] {
                    let mut c = vec![0.5f32; m * ldc];
                    gemm_rows(m, k, n, (&lv, l_rs, l_cs), (&rv, r_rs), acc, &mut c, ldc);
                    for i in 0..m {
                        for j in 0..ldc {
                            let want = if j < n {
                                let s: f32 = (0..k)
                                    .map(|q| lv[i * l_rs + q * l_cs] * rv[q * r_rs + j])
                                    .sum();
                                s + if acc { 0.5 } else { 0.0 }
                            } else {
                                0.5
                            };
                            assert!(
                                (c[i * ldc + j] - want).abs() < 1e-4,
                                "{m}x{k}x{n} ({i},{j})"
                            );
                        }
                    }
                }
            }
        }
    }
}
