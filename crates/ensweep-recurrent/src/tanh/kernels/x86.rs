//! The product kernel in AVX-512 and AVX2 intrinsics. The portable body (`super::portable`)
//! computes the same chains, but LLVM keeps its accumulator arrays in registers only for small
//! tiles; here a tile of C lives in vector registers whatever its size.
//!
//! Per element: `acc = C[i,j]; for kk in k0..k1 { acc = fma(A[i,kk], B[kk,j], acc) }`, one lane
//! per column, so the bits equal the portable chain's. Columns beyond `n` are masked out of
//! every load and store.

use super::Strided;
use std::arch::x86_64::*;

/// Rows `i..i + R`, columns `j..j + 16 V` (the last vector limited to `last` lanes) over terms
/// `k0..k1`.
///
/// # Safety
/// AVX-512F and FMA must be available; rows `i..i + R` of A and C and rows `k0..k1` of B must be
/// in bounds (checked once by `super::check`).
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel's loop bounds, kept in registers"
)]
unsafe fn tile512<const R: usize, const V: usize>(
    i: usize,
    j: usize,
    k0: usize,
    k1: usize,
    n: usize,
    a: Strided<'_>,
    b: *const f32,
    c: *mut f32,
    last: usize,
) {
    // Decided once per tile, not per term.
    let masks: [u16; V] = std::array::from_fn(|v| {
        if v + 1 < V || last == 16 {
            u16::MAX
        } else {
            (1u16 << last) - 1
        }
    });
    // SAFETY (whole body): the caller's bounds; masked-out lanes are neither read nor written.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            for (v, x) in row.iter_mut().enumerate() {
                *x = _mm512_maskz_loadu_ps(masks[v], c.add((i + r) * n + j + 16 * v));
            }
        }
        let ap = a.data.as_ptr();
        for kk in k0..k1 {
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_maskz_loadu_ps(masks[v], b.add(kk * n + j + 16 * v));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*ap.add((i + r) * a.rs + kk * a.cs));
                for (x, &bx) in row.iter_mut().zip(&bv) {
                    *x = _mm512_fmadd_ps(av, bx, *x);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                _mm512_mask_storeu_ps(c.add((i + r) * n + j + 16 * v), masks[v], *x);
            }
        }
    }
}

/// Rows `i..i + R` of C, all columns: tiles of 64 columns, then one masked tile of 1-4 vectors.
///
/// # Safety
/// As [`tile512`].
#[inline(always)]
unsafe fn rows512<const R: usize>(
    i: usize,
    k0: usize,
    k1: usize,
    n: usize,
    a: Strided<'_>,
    b: *const f32,
    c: *mut f32,
) {
    let mut j = 0;
    // SAFETY: the caller's bounds; every column range lies inside 0..n.
    unsafe {
        while j + 64 <= n {
            tile512::<R, 4>(i, j, k0, k1, n, a, b, c, 16);
            j += 64;
        }
        let rest = n - j;
        if rest == 0 {
            return;
        }
        let last = rest - 16 * ((rest - 1) / 16);
        match rest.div_ceil(16) {
            1 => tile512::<R, 1>(i, j, k0, k1, n, a, b, c, last),
            2 => tile512::<R, 2>(i, j, k0, k1, n, a, b, c, last),
            3 => tile512::<R, 3>(i, j, k0, k1, n, a, b, c, last),
            _ => tile512::<R, 4>(i, j, k0, k1, n, a, b, c, last),
        }
    }
}

/// `C += A B` with AVX-512F: 6-row tiles (24 accumulators at 4 vectors), then 4, 2 and 1 rows.
///
/// # Safety
/// AVX-512F and FMA must be available; shapes checked by `super::check`.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn mul_acc_avx512(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
) {
    let (bp, cp) = (b.as_ptr(), c.as_mut_ptr());
    for k0 in (0..k).step_by(super::K_BLOCK) {
        let k1 = (k0 + super::K_BLOCK).min(k);
        let mut i = 0;
        // SAFETY: rows below m, terms below k, as checked by the caller.
        unsafe {
            while i + 6 <= m {
                rows512::<6>(i, k0, k1, n, a, bp, cp);
                i += 6;
            }
            if i + 4 <= m {
                rows512::<4>(i, k0, k1, n, a, bp, cp);
                i += 4;
            }
            while i + 2 <= m {
                rows512::<2>(i, k0, k1, n, a, bp, cp);
                i += 2;
            }
            while i < m {
                rows512::<1>(i, k0, k1, n, a, bp, cp);
                i += 1;
            }
        }
    }
}

/// Transposes a 16 x 16 block held as 16 row vectors: afterwards `r[j]` holds column j. Pairs
/// of floats, then pairs of pairs, are interleaved within 128-bit lanes; two rounds of lane
/// shuffles finish it (64 shuffles; data movement only, no arithmetic).
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn transpose16(r: &mut [__m512; 16]) {
    // SAFETY: register operations only; the caller runs with AVX-512F enabled.
    unsafe {
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // Now u[4g + c], lane L, holds column 4L + c of rows 4g..4g + 4.
        let pd = _mm512_castps_pd;
        let ps = _mm512_castpd_ps;
        let mut u = [_mm512_setzero_ps(); 16];
        for g in 0..4 {
            let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            u[4 * g] = ps(_mm512_unpacklo_pd(pd(a), pd(c)));
            u[4 * g + 1] = ps(_mm512_unpackhi_pd(pd(a), pd(c)));
            u[4 * g + 2] = ps(_mm512_unpacklo_pd(pd(b), pd(d)));
            u[4 * g + 3] = ps(_mm512_unpackhi_pd(pd(b), pd(d)));
        }
        // Column 4L + c gathers lane L of u[c], u[4 + c], u[8 + c], u[12 + c]: a 4 x 4
        // transpose of 128-bit lanes.
        for c in 0..4 {
            let (a, b, cc, d) = (u[c], u[4 + c], u[8 + c], u[12 + c]);
            let p = _mm512_shuffle_f32x4::<0x44>(a, b);
            let q = _mm512_shuffle_f32x4::<0xEE>(a, b);
            let rr = _mm512_shuffle_f32x4::<0x44>(cc, d);
            let s = _mm512_shuffle_f32x4::<0xEE>(cc, d);
            r[c] = _mm512_shuffle_f32x4::<0x88>(p, rr);
            r[4 + c] = _mm512_shuffle_f32x4::<0xDD>(p, rr);
            r[8 + c] = _mm512_shuffle_f32x4::<0x88>(q, s);
            r[12 + c] = _mm512_shuffle_f32x4::<0xDD>(q, s);
        }
    }
}

/// `C (m x 1) += A (m x k) B (k x 1)` for A with contiguous rows (`a.cs == 1`), the read-out
/// onto one output: lanes run over 16 rows of C, each 16 x 16 block of A is transposed in
/// registers, and every lane runs its row's chain `fma(A[i,kk], B[kk], acc)` over kk in order,
/// as every other path does. The general tiles would give each row a vector of one live lane
/// (16 multiply-adds per useful one). Returns how many leading rows it did (a multiple of 16).
///
/// # Safety
/// AVX-512F and FMA must be available; shapes checked by `super::check`, with `a.cs == 1`.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn column_avx512(
    m: usize,
    k: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
) -> usize {
    debug_assert_eq!(a.cs, 1);
    let (ap, bp, cp) = (a.data.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let mut i = 0;
    // SAFETY: rows i..i + 16 < m and terms kk..kk + w <= k are in bounds (`check`); lanes
    // beyond w are masked out of the loads.
    unsafe {
        while i + 16 <= m {
            let mut acc = _mm512_loadu_ps(cp.add(i));
            let mut kk = 0;
            while kk < k {
                let w = (k - kk).min(16);
                let mask = if w == 16 { u16::MAX } else { (1u16 << w) - 1 };
                let mut r: [__m512; 16] = std::array::from_fn(|row| {
                    _mm512_maskz_loadu_ps(mask, ap.add((i + row) * a.rs + kk))
                });
                transpose16(&mut r);
                for (j, col) in r.iter().take(w).enumerate() {
                    acc = _mm512_fmadd_ps(*col, _mm512_set1_ps(*bp.add(kk + j)), acc);
                }
                kk += 16;
            }
            _mm512_storeu_ps(cp.add(i), acc);
            i += 16;
        }
    }
    i
}

/// An AVX2 mask with the first `lanes` of 8 lanes on.
#[inline(always)]
fn mask256(lanes: usize) -> __m256i {
    // SAFETY: register arithmetic only; every caller runs with AVX2 enabled.
    unsafe {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes as i32), idx)
    }
}

/// As [`tile512`] with 8-lane vectors.
///
/// # Safety
/// AVX2 and FMA must be available; bounds as [`tile512`].
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel's loop bounds, kept in registers"
)]
unsafe fn tile256<const R: usize, const V: usize>(
    i: usize,
    j: usize,
    k0: usize,
    k1: usize,
    n: usize,
    a: Strided<'_>,
    b: *const f32,
    c: *mut f32,
    last: usize,
) {
    let masks: [__m256i; V] = std::array::from_fn(|v| mask256(if v + 1 < V { 8 } else { last }));
    // SAFETY (whole body): the caller's bounds; masked-out lanes are neither read nor written.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            for (v, x) in row.iter_mut().enumerate() {
                *x = _mm256_maskload_ps(c.add((i + r) * n + j + 8 * v), masks[v]);
            }
        }
        let ap = a.data.as_ptr();
        for kk in k0..k1 {
            let mut bv = [_mm256_setzero_ps(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm256_maskload_ps(b.add(kk * n + j + 8 * v), masks[v]);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let av = _mm256_set1_ps(*ap.add((i + r) * a.rs + kk * a.cs));
                for (x, &bx) in row.iter_mut().zip(&bv) {
                    *x = _mm256_fmadd_ps(av, bx, *x);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                _mm256_maskstore_ps(c.add((i + r) * n + j + 8 * v), masks[v], *x);
            }
        }
    }
}

/// As [`rows512`] with tiles of 16 columns (two 8-lane vectors).
///
/// # Safety
/// As [`tile256`].
#[inline(always)]
unsafe fn rows256<const R: usize>(
    i: usize,
    k0: usize,
    k1: usize,
    n: usize,
    a: Strided<'_>,
    b: *const f32,
    c: *mut f32,
) {
    let mut j = 0;
    // SAFETY: the caller's bounds; every column range lies inside 0..n.
    unsafe {
        while j + 16 <= n {
            tile256::<R, 2>(i, j, k0, k1, n, a, b, c, 8);
            j += 16;
        }
        let rest = n - j;
        if rest > 8 {
            tile256::<R, 2>(i, j, k0, k1, n, a, b, c, rest - 8);
        } else if rest > 0 {
            tile256::<R, 1>(i, j, k0, k1, n, a, b, c, rest);
        }
    }
}

/// `C += A B` with AVX2: 6-row tiles of 16 columns (12 of the 16 vector registers hold C),
/// then 2 and 1 rows.
///
/// # Safety
/// AVX2 and FMA must be available; shapes checked by `super::check`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn mul_acc_avx2(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
) {
    let (bp, cp) = (b.as_ptr(), c.as_mut_ptr());
    for k0 in (0..k).step_by(super::K_BLOCK) {
        let k1 = (k0 + super::K_BLOCK).min(k);
        let mut i = 0;
        // SAFETY: rows below m, terms below k, as checked by the caller.
        unsafe {
            while i + 6 <= m {
                rows256::<6>(i, k0, k1, n, a, bp, cp);
                i += 6;
            }
            while i + 2 <= m {
                rows256::<2>(i, k0, k1, n, a, bp, cp);
                i += 2;
            }
            while i < m {
                rows256::<1>(i, k0, k1, n, a, bp, cp);
                i += 1;
            }
        }
    }
}
