//! The product kernel in plain Rust: fixed-size lane arrays that LLVM vectorises at whatever
//! width the enclosing `target_feature` allows, with the same per-element chain as the
//! intrinsic kernels (`super::x86`). Used where neither AVX2 nor AVX-512 is available, and by
//! the tests as a second implementation.

use super::{K_BLOCK, Strided};

/// `C += A B` on 4-row, 16-column tiles; shapes checked by `super::check`.
pub(super) fn mul_acc(m: usize, k: usize, n: usize, a: Strided<'_>, b: &[f32], c: &mut [f32]) {
    mul_acc_body::<4, 16>(m, k, n, a, b, c)
}

/// The blocked loop nest: `R` rows x `W` columns of C in registers, then narrower column
/// blocks (W/2, W/4) and single columns for the remainder. The blocking only decides which
/// elements are computed together, never the order of an element's terms.
pub(super) fn mul_acc_body<const R: usize, const W: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
) {
    // The bounds every unchecked read below relies on.
    if !super::check(m, k, n, a, b, c) {
        return;
    }
    for k0 in (0..k).step_by(K_BLOCK) {
        let k1 = (k0 + K_BLOCK).min(k);
        let mut i = 0;
        while i + R <= m {
            row_block::<R, W>(i, k0, k1, n, a, b, c);
            i += R;
        }
        while i + 2 <= m {
            row_block::<2, W>(i, k0, k1, n, a, b, c);
            i += 2;
        }
        while i < m {
            row_block::<1, W>(i, k0, k1, n, a, b, c);
            i += 1;
        }
    }
}

/// Rows `i..i + R` of C over terms `k0..k1`: `W`-wide column blocks, 16-wide ones, then the
/// last columns as one 16-lane block of which only the valid lanes are loaded and stored.
#[inline(always)]
fn row_block<const R: usize, const W: usize>(
    i: usize,
    k0: usize,
    k1: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
) {
    let mut j = block::<R, W>(i, 0, k0, k1, n, a, b, c);
    j = block::<R, 16>(i, j, k0, k1, n, a, b, c);
    if j < n {
        tail::<R, 16>(i, j, k0, k1, n, a, b, c);
    }
}

/// Columns `j..` of rows `i..i + R` in blocks of `W` while a whole block fits; returns the first
/// column not done.
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel's loop bounds, kept in registers"
)]
fn block<const R: usize, const W: usize>(
    i: usize,
    mut j: usize,
    k0: usize,
    k1: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
) -> usize {
    while j + W <= n {
        let mut acc = [[0.0f32; W]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(&c[(i + r) * n + j..(i + r) * n + j + W]);
        }
        let a_rows: [usize; R] = std::array::from_fn(|r| (i + r) * a.rs);
        for kk in k0..k1 {
            // SAFETY: kk < k <= b.len() / n and j + W <= n (`super::check`).
            let brow: [f32; W] =
                unsafe { std::ptr::read_unaligned(b.as_ptr().add(kk * n + j) as *const [f32; W]) };
            for (row, &ar) in acc.iter_mut().zip(&a_rows) {
                // SAFETY: i + r < m, kk < k, and A's element (m - 1, k - 1) is in bounds
                // (`super::check`).
                let av = unsafe { *a.data.get_unchecked(ar + kk * a.cs) };
                for (v, &bv) in row.iter_mut().zip(&brow) {
                    *v = av.mul_add(bv, *v);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            c[(i + r) * n + j..(i + r) * n + j + W].copy_from_slice(row);
        }
        j += W;
    }
    j
}

/// The last `n - j < T` columns of rows `i..i + R` as `T`-lane blocks. A row of B is read as
/// `T` lanes even where fewer are valid: the extra lanes read the next row's values (or, for the
/// last rows of B, are filled one valid lane at a time), are independent of the valid lanes and
/// are never stored. Each valid element runs the same chain as everywhere else.
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel's loop bounds, kept in registers"
)]
fn tail<const R: usize, const T: usize>(
    i: usize,
    j: usize,
    k0: usize,
    k1: usize,
    n: usize,
    a: Strided<'_>,
    b: &[f32],
    c: &mut [f32],
) {
    let valid = n - j;
    let mut acc = [[0.0f32; T]; R];
    for (r, row) in acc.iter_mut().enumerate() {
        row[..valid].copy_from_slice(&c[(i + r) * n + j..(i + r) * n + n]);
    }
    let a_rows: [usize; R] = std::array::from_fn(|r| (i + r) * a.rs);
    // Rows of B whose T lanes from column j lie inside `b`.
    let k_vec = if b.len() >= j + T {
        ((b.len() - j - T) / n + 1).clamp(k0, k1)
    } else {
        k0
    };
    for kk in k0..k1 {
        let brow: [f32; T] = if kk < k_vec {
            // SAFETY: kk * n + j + T <= b.len() for kk < k_vec.
            unsafe { std::ptr::read_unaligned(b.as_ptr().add(kk * n + j) as *const [f32; T]) }
        } else {
            let mut v = [0.0f32; T];
            v[..valid].copy_from_slice(&b[kk * n + j..kk * n + n]);
            v
        };
        for (row, &ar) in acc.iter_mut().zip(&a_rows) {
            // SAFETY: i + r < m, kk < k, and A's element (m - 1, k - 1) is in bounds
            // (`super::check`).
            let av = unsafe { *a.data.get_unchecked(ar + kk * a.cs) };
            for (v, &bv) in row.iter_mut().zip(&brow) {
                *v = av.mul_add(bv, *v);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        c[(i + r) * n + j..(i + r) * n + n].copy_from_slice(&row[..valid]);
    }
}
