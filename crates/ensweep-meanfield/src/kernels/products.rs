//! The matrix products of the forward pass, back-propagation and the gradients: sparse in the
//! inputs (an example touches only the rows of its non-zero inputs), each output element summed
//! in a fixed order.

use crate::float::Float;
use crate::padded::padded_width;

/// Input units per block of the row-blocked first-layer kernel ([`sparse_product`], used
/// without AVX-512): a block of 56 parameter rows stays in L1 while every example of the chunk
/// uses it.
const ROW_BLOCK: usize = 56;

/// Whether the CPU has 32 vector registers of 512 bits (AVX-512): enough to keep both
/// products' accumulators of a 112-wide padded row in registers at once.
#[inline(always)]
pub fn wide_registers() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `$call` for consecutive column blocks `o0..o0 + W` tiling `0..$n` exactly, widest
/// first (100: a 100-unit layer in one block; then 64, 32, 16, 10, 8, 4, 2, 1), `W` being a
/// constant so that the block's accumulators are a fixed-size array the compiler keeps in
/// registers and every copy is of a known size (a variable-length copy of a register block
/// becomes a spill plus a `memmove` call).
macro_rules! column_blocks {
    ($n:expr, |$o0:ident, $W:ident| $call:expr) => {{
        let n = $n;
        let mut $o0 = 0;
        column_blocks!(@width 100, n, $o0, $W, $call);
        column_blocks!(@width 64, n, $o0, $W, $call);
        column_blocks!(@width 32, n, $o0, $W, $call);
        column_blocks!(@width 16, n, $o0, $W, $call);
        column_blocks!(@width 10, n, $o0, $W, $call);
        column_blocks!(@width 8, n, $o0, $W, $call);
        column_blocks!(@width 4, n, $o0, $W, $call);
        column_blocks!(@width 2, n, $o0, $W, $call);
        column_blocks!(@width 1, n, $o0, $W, $call);
        debug_assert_eq!($o0, n);
    }};
    (@width $width:literal, $n:ident, $o0:ident, $W:ident, $call:expr) => {
        while $n - $o0 >= $width {
            const $W: usize = $width;
            $call;
            $o0 += $W;
        }
    };
}

dispatch!(pub fn forward_rows<F>(n_out: usize, rows: &[(&[u32], &[F])], pv: &[F], mean_field: bool, z: &mut [F], s2: &mut [F], cur: &mut [usize]) => forward_rows_body);

/// A layer's forward products on example-major sparse input (`rows[b]` = sorted input-unit
/// indices and values of example `b`): `z[b] = sum_j x_bj mu_j`, and when `mean_field`
/// `s2[b] = sum_j x_bj^2 v_j` (outputs `[b][n_out]`, overwritten). `pv` holds `mu` and `v`
/// row-interleaved and padded ([`crate::padded::interleave_rows`]). Per output element the
/// terms are added in increasing input order with fused multiply-adds from 0, whichever
/// kernel runs. `cur` is scratch of at least `rows.len()` cursors.
#[inline(always)]
fn forward_rows_body<F: Float>(
    n_out: usize,
    rows: &[(&[u32], &[F])],
    pv: &[F],
    mean_field: bool,
    z: &mut [F],
    s2: &mut [F],
    cur: &mut [usize],
) {
    let p = padded_width(n_out);
    if mean_field && wide_registers() {
        sparse_pair(n_out, p, rows, pv, z, s2);
    } else {
        sparse_product::<F, false>(n_out, p, 0, rows, pv, z, cur);
        if mean_field {
            sparse_product::<F, true>(n_out, p, p, rows, pv, s2, cur);
        }
    }
}

/// Both forward products in one walk over each example's non-zeros, no row blocks: both
/// accumulator sets of a padded row fit AVX-512's 32 registers, and the interleaved `mu`/`v`
/// rows of the first layer (700 KB) fit a Zen 4 core's 1 MB L2.
#[inline(always)]
fn sparse_pair<F: Float>(
    n_out: usize,
    p: usize,
    rows: &[(&[u32], &[F])],
    pv: &[F],
    z: &mut [F],
    s2: &mut [F],
) {
    for (b, &(idx, val)) in rows.iter().enumerate() {
        let at = b * n_out;
        column_blocks!(n_out, |o0, W| {
            let mut g = [F::zero(); W];
            let mut q = [F::zero(); W];
            for (&j, &x) in idx.iter().zip(val) {
                let base = j as usize * 2 * p + o0;
                let mr: &[F; W] = pv[base..base + W].try_into().expect("block");
                let vr: &[F; W] = pv[base + p..base + p + W].try_into().expect("block");
                let x2 = x * x;
                for t in 0..W {
                    g[t] = x.mul_add(mr[t], g[t]);
                    q[t] = x2.mul_add(vr[t], q[t]);
                }
            }
            z[at + o0..at + o0 + W].copy_from_slice(&g);
            s2[at + o0..at + o0 + W].copy_from_slice(&q);
        });
    }
}

/// One forward product, `out[b] = sum_j x_bj P_j` (`x_bj^2` when `SQUARE`), `P_j` being the
/// padded row `pv[2 p j + off..]`. Loops: column blocks, then blocks of [`ROW_BLOCK`] input
/// units (that block of the parameters stays in L1), then examples; an example's partial sums
/// stay in registers over its non-zeros in the block and are stored once per block.
#[inline(always)]
fn sparse_product<F: Float, const SQUARE: bool>(
    n_out: usize,
    p: usize,
    off: usize,
    rows: &[(&[u32], &[F])],
    pv: &[F],
    out: &mut [F],
    cur: &mut [usize],
) {
    let n_in = pv.len() / (2 * p);
    out[..rows.len() * n_out].fill(F::zero());
    let cur = &mut cur[..rows.len()];
    column_blocks!(n_out, |o0, W| {
        cur.fill(0);
        let mut p0 = 0;
        while p0 < n_in {
            let p1 = (p0 + ROW_BLOCK).min(n_in) as u32;
            for (b, &(idx, val)) in rows.iter().enumerate() {
                let mut c = cur[b];
                let end = idx.len().min(val.len());
                if c >= end || idx[c] >= p1 {
                    continue;
                }
                let at = b * n_out + o0;
                let mut acc = [F::zero(); W];
                acc.copy_from_slice(&out[at..at + W]);
                while c < end && idx[c] < p1 {
                    let (base, x) = (idx[c] as usize * 2 * p + off + o0, val[c]);
                    let x = if SQUARE { x * x } else { x };
                    let row: &[F; W] = pv[base..base + W].try_into().expect("block");
                    for t in 0..W {
                        acc[t] = x.mul_add(row[t], acc[t]);
                    }
                    c += 1;
                }
                out[at..at + W].copy_from_slice(&acc);
                cur[b] = c;
            }
            p0 = p1 as usize;
        }
    });
}

dispatch!(pub fn dense_pair<F>(grouped: bool, m: usize, n: usize, k: usize, a: &[F], b: &[F], pq: &[F], out1: &mut [F], out2: &mut [F]) => dense_pair_body);

/// Two dense products sharing their shape: `out1 = a P` and `out2 = b Q` for `n` rows of `k`
/// coefficients (`a`, `b`: `[n][k]`) and `k x m` matrices `P`, `Q` given row-interleaved and
/// padded in `pq` ([`crate::padded::interleave_transposed`]), overwriting `out*` (`[n][m]`).
/// Back-propagation through a hidden layer runs on the transposed moments, where the `m`
/// outputs of a row are contiguous, and there is no packing (the products are only 50 x 100 x
/// 100). With `grouped` (callers pass [`wide_registers`]) [`EXAMPLE_GROUP`] examples share each
/// parameter row load, their accumulators in registers over the `k` rows: the matrices (90 KB
/// for a 100 x 100 layer) come from L2, so one example per walk was bound by L2 bandwidth.
/// Otherwise one example at a time. Either way each output element sums its `k` terms in
/// order, so both give the same bits.
#[inline(always)]
fn dense_pair_body<F: Float>(
    grouped: bool,
    m: usize,
    n: usize,
    k: usize,
    a: &[F],
    b: &[F],
    pq: &[F],
    out1: &mut [F],
    out2: &mut [F],
) {
    let p = padded_width(m);
    let product = Product {
        shape: (m, k, p),
        strides: (k, 1),
        scale: F::one(),
    };
    // `Q`'s rows start `p` into each interleaved row (the last one is `p` short).
    grouped_product::<F, false>(grouped, n, &product, a, pq, out1);
    grouped_product::<F, false>(grouped, n, &product, b, &pq[p..], out2);
}

/// Examples per group of the AVX-512 product kernels: 3 x 7 accumulators of a 100-wide row fit
/// AVX-512's 32 registers with room for the broadcasts and the row.
const EXAMPLE_GROUP: usize = 3;

/// The shape of a dense product over padded, interleaved parameter rows (see
/// [`grouped_product`]).
struct Product<F> {
    /// Outputs `m`, inputs `k`, padded row width `p` (rows are `2 p` apart in `pq`).
    shape: (usize, usize, usize),
    /// Coefficient `(e, j)` sits at `c[e strides.0 + j strides.1]`.
    strides: (usize, usize),
    /// Multiplies every output (`1` leaves the sums' bits alone).
    scale: F,
}

/// `out[e] = scale sum_j c(e, j) P_j` for `n` examples (`ReLU(c)` when `RELU`), `P_j` being the
/// first `m` elements of row `j` of `pq` (rows `2 p` apart). With `grouped` [`EXAMPLE_GROUP`]
/// examples share each row load, else one example at a time; each output element sums its `k`
/// terms in order either way, so both give the same bits.
#[inline(always)]
fn grouped_product<F: Float, const RELU: bool>(
    grouped: bool,
    n: usize,
    product: &Product<F>,
    c: &[F],
    pq: &[F],
    out: &mut [F],
) {
    let m = product.shape.0;
    let mut e0 = 0;
    while grouped && n - e0 >= EXAMPLE_GROUP {
        column_blocks!(m, |o0, W| product_group::<F, W, EXAMPLE_GROUP, RELU>(
            product,
            (e0, o0),
            c,
            pq,
            out
        ));
        e0 += EXAMPLE_GROUP;
    }
    while e0 < n {
        column_blocks!(m, |o0, W| product_group::<F, W, 1, RELU>(
            product,
            (e0, o0),
            c,
            pq,
            out
        ));
        e0 += 1;
    }
}

/// Columns `o0..o0 + W` of examples `e0..e0 + E` of [`grouped_product`].
#[inline(always)]
fn product_group<F: Float, const W: usize, const E: usize, const RELU: bool>(
    &Product {
        shape: (m, k, p),
        strides: (se, sj),
        scale,
    }: &Product<F>,
    (e0, o0): (usize, usize),
    c: &[F],
    pq: &[F],
    out: &mut [F],
) {
    let mut g = [[F::zero(); W]; E];
    for (j, row) in pq.chunks(2 * p).take(k).enumerate() {
        let r: &[F; W] = row[o0..o0 + W].try_into().expect("block");
        for (e, ge) in g.iter_mut().enumerate() {
            let x = c[(e0 + e) * se + j * sj];
            let x = if RELU { x.max(F::zero()) } else { x };
            for t in 0..W {
                ge[t] = x.mul_add(r[t], ge[t]);
            }
        }
    }
    for (e, ge) in g.iter().enumerate() {
        let at = (e0 + e) * m + o0;
        for (o, &v) in out[at..at + W].iter_mut().zip(ge) {
            *o = v * scale;
        }
    }
}

dispatch!(pub fn relu_product<F>(m: usize, n: usize, k: usize, c: &[F], strides: (usize, usize), pq: &[F], scale: F, out: &mut [F]) => relu_product_body);

/// A deterministic layer over a whole data set, for the perturbation experiments:
/// `out[e] = scale sum_j ReLU(c(e, j)) P_j` for `n` examples (`out`: `[n][m]`, overwritten),
/// with `c(e, j) = c[e strides.0 + j strides.1]` (pre-activations of the layer before, stored
/// example- or unit-major) and `P_j` the `j`-th padded row of `pq` (a layer's forward copy,
/// whose `mu` rows hold a sampled network's weights). The same example groups as
/// [`dense_pair`] with AVX-512 (on AVX2 their accumulators would spill); each output element
/// sums its `k` terms in order on any CPU, and the ReLU and the scaling are applied on the fly
/// (no copies of the 10,000 x 100 activations).
#[inline(always)]
fn relu_product_body<F: Float>(
    m: usize,
    n: usize,
    k: usize,
    c: &[F],
    strides: (usize, usize),
    pq: &[F],
    scale: F,
    out: &mut [F],
) {
    let product = Product {
        shape: (m, k, padded_width(m)),
        strides,
        scale,
    };
    grouped_product::<F, true>(wide_registers(), n, &product, c, pq, out);
}

/// Reference for [`forward_rows`] (the kernel this crate used before, kept for the test): the
/// first-layer forward pass on pixel-major input (CSC `ptr`/`rows`/`val` of a chunk):
/// `z[b] += x mu_j`, `s2[b] += x^2 v_j` for every non-zero `(b, j, x)`. Column blocks are the
/// outer loop so that the block of `z`/`s2` being updated (chunk x block width) stays in L1,
/// and one block of each parameter row stays in registers while it serves every example with
/// that pixel on. Per output element the terms are added in increasing pixel order, so the sums
/// are the same as a row-major gather would give.
#[cfg(test)]
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
#[cfg(test)]
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

/// One chunk's share of a layer's gradient products: its inputs input-unit-major (CSC column
/// pointers, example indices, values) and its `delta` and `s` rows, interleaved and padded
/// (`[b][2 padded_width(n_out)]`).
pub type GatherPart<'a, F> = (&'a [usize], &'a [u32], &'a [F], &'a [F]);

dispatch!(pub fn gather_cols<F>(n_out: usize, j0: usize, parts: &[GatherPart<'_, F>], acc_a: &mut [F], acc_b: &mut [F]) => gather_cols_body);

/// A layer's gradient products for input units `j0..j0 + acc_a.len() / n_out`:
/// `A[j] = sum_b x_bj d_b`, `B[j] = sum_b x_bj^2 s_b` over the examples of every part in
/// order (rows of `acc_*` relative to `j0`, overwritten: the first part's sums are stored, not
/// added to a zeroed buffer, which saved a 715 KB `memset` per step). Chunk by chunk, one product at a time: the
/// chunk's `d` (or `s`) rows, 22 KB for 50 examples of 100 units, stay in L1 while every input
/// unit's accumulators walk its examples in registers (both products at once, or all chunks
/// at once, would not fit L1 and run slower).
#[inline(always)]
fn gather_cols_body<F: Float>(
    n_out: usize,
    j0: usize,
    parts: &[GatherPart<'_, F>],
    acc_a: &mut [F],
    acc_b: &mut [F],
) {
    let p = padded_width(n_out);
    let n_rows = acc_a.len() / n_out;
    for (first, &(ptr, rows, val, ds)) in parts.iter().enumerate().map(|(i, x)| (i == 0, x)) {
        for (off, acc) in [(0, &mut *acc_a), (p, &mut *acc_b)] {
            for r in 0..n_rows {
                let (st, en) = (ptr[j0 + r], ptr[j0 + r + 1]);
                let at = r * n_out;
                if st == en {
                    if first {
                        acc[at..at + n_out].fill(F::zero());
                    }
                    continue;
                }
                column_blocks!(n_out, |o0, W| {
                    let mut a: [F; W] = if first {
                        [F::zero(); W]
                    } else {
                        acc[at + o0..at + o0 + W].try_into().expect("block")
                    };
                    for (&b, &x) in rows[st..en].iter().zip(&val[st..en]) {
                        let from = b as usize * 2 * p + off + o0;
                        let src: &[F; W] = ds[from..from + W].try_into().expect("block");
                        let x = if off == 0 { x } else { x * x };
                        for t in 0..W {
                            a[t] = x.mul_add(src[t], a[t]);
                        }
                    }
                    acc[at + o0..at + o0 + W].copy_from_slice(&a);
                });
            }
        }
    }
}

/// The pair-at-a-time version of [`gather_cols_body`] (kept as the test's reference).
#[cfg(test)]
fn gather_cols_pairs<F: Float>(
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

/// Columns `o0..o0 + W` of [`gather_cols_pairs`].
#[cfg(test)]
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

    /// A row-major slice as a matrix of `cols` columns.
    fn matrix(x: &[f64], cols: usize) -> ndarray::ArrayView2<'_, f64> {
        ndarray::ArrayView2::from_shape((x.len() / cols, cols), x).expect("whole rows")
    }
    use crate::kernels::{delta_times_ratio, mean_field_finish, mean_field_finish_relu};

    #[test]
    fn kernels_match_naive_loops() {
        // 209 columns: column blocks of 100, 64, 32, 10, 2 and 1 (the references: 32, 8, 4, 1).
        let (n_in, n_out, n_ex) = (130, 209, 4);
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
        scatter_cols_body(n_out, &ptr, &rows, &val, &mu, Some(&v), &mut z, &mut s2);
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
        // The example-major kernel gives the same bits (same order of fused multiply-adds).
        let ex_rows: Vec<(Vec<u32>, Vec<f64>)> = (0..n_ex as u32)
            .map(|b| {
                let mut r = (Vec::new(), Vec::new());
                for (j, c) in cols.iter().enumerate() {
                    for &(bb, x) in c {
                        if bb == b {
                            r.0.push(j as u32);
                            r.1.push(x);
                        }
                    }
                }
                r
            })
            .collect();
        let views: Vec<(&[u32], &[f64])> = ex_rows.iter().map(|r| (&r.0[..], &r.1[..])).collect();
        let p = padded_width(n_out);
        let mut pv = crate::padded::Aligned::zeros(n_in * 2 * p);
        crate::padded::interleave_rows(matrix(&mu, n_out), matrix(&v, n_out), pv.as_mut_slice());
        let pv = pv.as_slice();
        let (mut z3, mut s3) = (vec![7.0; n_ex * n_out], vec![7.0; n_ex * n_out]);
        let mut cur = vec![0; n_ex];
        forward_rows(n_out, &views, pv, true, &mut z3, &mut s3, &mut cur);
        assert_eq!((&z3, &s3), (&z, &s2));
        let mut z4 = vec![7.0; n_ex * n_out];
        forward_rows(n_out, &views, pv, false, &mut z4, &mut s3, &mut cur);
        assert_eq!(z4, z);
        // Both kernels behind the dispatch, whichever this CPU picks.
        let (mut z5, mut s5) = (vec![7.0; n_ex * n_out], vec![7.0; n_ex * n_out]);
        sparse_pair(n_out, p, &views, pv, &mut z5, &mut s5);
        assert_eq!((&z5, &s5), (&z, &s2));
        sparse_product::<f64, false>(n_out, p, 0, &views, pv, &mut z5, &mut cur);
        sparse_product::<f64, true>(n_out, p, p, &views, pv, &mut s5, &mut cur);
        assert_eq!((&z5, &s5), (&z, &s2));
        // Gradient products for pixels 2..7, overwriting what the buffers held.
        let d: Vec<f64> = (0..n_ex * n_out).map(|i| f(i + 11)).collect();
        let s: Vec<f64> = (0..n_ex * n_out).map(|i| f(i + 17)).collect();
        let mut ds = crate::padded::Aligned::zeros(n_ex * 2 * p);
        crate::padded::interleave_rows(matrix(&d, n_out), matrix(&s, n_out), ds.as_mut_slice());
        let ds = ds.as_slice();
        let (mut a, mut bq) = (vec![1.0; 5 * n_out], vec![2.0; 5 * n_out]);
        gather_cols(
            n_out,
            2,
            &[(&ptr[..], &rows[..], &val[..], ds)],
            &mut a,
            &mut bq,
        );
        let (mut a2, mut bq2) = (vec![0.0; 5 * n_out], vec![0.0; 5 * n_out]);
        gather_cols_pairs(n_out, 2, &ptr, &rows, &val, &d, &s, &mut a2, &mut bq2);
        assert_eq!((&a, &bq), (&a2, &bq2), "same bits as the pairwise kernel");
        // The same examples as two chunks (examples 0..2 and 2..4): the same bits.
        let split = |lo: u32, hi: u32| {
            let (mut p2, mut r2, mut v2) = (vec![0usize], Vec::new(), Vec::new());
            for c in &cols {
                for &(b, x) in c.iter().filter(|(b, _)| (lo..hi).contains(b)) {
                    r2.push(b - lo);
                    v2.push(x);
                }
                p2.push(r2.len());
            }
            (p2, r2, v2)
        };
        let (h0, h1) = (split(0, 2), split(2, 4));
        let half = 2 * 2 * p;
        let parts = [
            (&h0.0[..], &h0.1[..], &h0.2[..], &ds[..half]),
            (&h1.0[..], &h1.1[..], &h1.2[..], &ds[half..]),
        ];
        let (mut a3, mut bq3) = (vec![3.0; 5 * n_out], vec![4.0; 5 * n_out]);
        gather_cols(n_out, 2, &parts, &mut a3, &mut bq3);
        assert_eq!((&a3, &bq3), (&a, &bq), "chunks add up in example order");
        // A first chunk of one example leaves every third pixel without entries there.
        let (h0, h1) = (split(0, 1), split(1, 4));
        assert!(h0.0.windows(2).any(|w| w[0] == w[1]), "an empty column");
        let parts = [
            (&h0.0[..], &h0.1[..], &h0.2[..], &ds[..2 * p]),
            (&h1.0[..], &h1.1[..], &h1.2[..], &ds[2 * p..]),
        ];
        let (mut a4, mut bq4) = (vec![5.0; 5 * n_out], vec![6.0; 5 * n_out]);
        gather_cols(n_out, 2, &parts, &mut a4, &mut bq4);
        assert_eq!((&a4, &bq4), (&a, &bq), "an empty first column is zeroed");
        for r in 0..5 {
            for o in 0..n_out {
                let (mut ea, mut eb) = (0.0, 0.0);
                for &(b, x) in &cols[r + 2] {
                    ea += x * d[b as usize * n_out + o];
                    eb += x * x * s[b as usize * n_out + o];
                }
                assert!((a[r * n_out + o] - ea).abs() < 1e-12);
                assert!((bq[r * n_out + o] - eb).abs() < 1e-12);
            }
        }
        // Back-propagation products on interleaved transposes, one pass or two.
        let (m, k) = (n_out, 13);
        let pm = padded_width(m);
        let pt: Vec<f64> = (0..k * m).map(|i| f(i + 5)).collect();
        let qt: Vec<f64> = (0..k * m).map(|i| f(i + 23)).collect();
        let mut pq = crate::padded::Aligned::zeros(k * 2 * pm);
        crate::padded::interleave_rows(matrix(&pt, m), matrix(&qt, m), pq.as_mut_slice());
        let ca: Vec<f64> = (0..n_ex * k).map(|i| f(i + 29)).collect();
        let cb: Vec<f64> = (0..n_ex * k).map(|i| f(i + 31)).collect();
        let mut outs: Option<(Vec<f64>, Vec<f64>)> = None;
        for kernel in 0..2 {
            let (mut o1, mut o2) = (vec![7.0; n_ex * m], vec![7.0; n_ex * m]);
            let (pq, o) = (pq.as_slice(), (&mut o1[..], &mut o2[..]));
            match kernel {
                0 => dense_pair(true, m, n_ex, k, &ca, &cb, pq, o.0, o.1),
                _ => dense_pair(false, m, n_ex, k, &ca, &cb, pq, o.0, o.1),
            }
            let first = outs.get_or_insert_with(|| (o1.clone(), o2.clone()));
            assert_eq!(
                (&first.0, &first.1),
                (&o1, &o2),
                "kernel {kernel}: same bits"
            );
            for e in 0..n_ex {
                for o in 0..m {
                    let e1: f64 = (0..k).map(|j| ca[e * k + j] * pt[j * m + o]).sum();
                    let e2: f64 = (0..k).map(|j| cb[e * k + j] * qt[j * m + o]).sum();
                    assert!((o1[e * m + o] - e1).abs() < 1e-12);
                    assert!((o2[e * m + o] - e2).abs() < 1e-12);
                }
            }
        }
        // A deterministic layer over a data set: ReLU of either layout, scaled.
        let n_ex = 7;
        let c_rows: Vec<f64> = (0..n_ex * k).map(|i| f(i + 37) - 0.3).collect();
        let c_cols: Vec<f64> = (0..k * n_ex)
            .map(|i| c_rows[(i % n_ex) * k + i / n_ex])
            .collect();
        for (c, strides) in [(&c_rows, (k, 1)), (&c_cols, (1, n_ex))] {
            let mut out = vec![7.0; n_ex * m];
            relu_product(m, n_ex, k, c, strides, pq.as_slice(), 0.5, &mut out);
            for e in 0..n_ex {
                for o in 0..m {
                    let want: f64 = (0..k)
                        .map(|j| c_rows[e * k + j].max(0.0) * pt[j * m + o])
                        .sum::<f64>()
                        * 0.5;
                    assert!((out[e * m + o] - want).abs() < 1e-12, "strides {strides:?}");
                }
            }
        }
        // s = delta * ratio, with delta and s interleaved into padded rows.
        let (dd, rr) = (
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            [0.5, 0.0, -1.0, 2.0, 1.0, 0.25],
        );
        let (mut sv, mut dsv) = (vec![9.0; 6], vec![9.0; 2 * 32]);
        delta_times_ratio(3, &dd, &rr, &mut sv, &mut dsv);
        assert_eq!(sv, [0.5, 0.0, -3.0, 8.0, 5.0, 1.5]);
        assert_eq!((&dsv[..3], &dsv[16..19]), (&dd[..3], &sv[..3]));
        assert_eq!((&dsv[32..35], &dsv[48..51]), (&dd[3..], &sv[3..]));
        // The fused finish gives the same bits plus the ReLU outputs.
        let (mut z2, mut r2) = (vec![1.0, -2.0], vec![4.0, 0.0]);
        let mut a = vec![9.0; 2];
        mean_field_finish_relu(&mut z2, &mut r2, &[0.5, 0.7], 0.1, &mut a);
        assert_eq!((z2[0], r2[0], a[0]), (0.2, 0.25, 0.2));
        assert_eq!((z2[1], r2[1], a[1]), (-0.2, 0.0, 0.0));
        // The mean-field finish: z = (G + eps Delta) scale, ratio = eps / Delta or 0.
        let (mut zz, mut rr) = (vec![1.0, 2.0], vec![4.0, 0.0]);
        mean_field_finish(&mut zz, &mut rr, &[0.5, 0.7], 0.1);
        assert_eq!((zz[0], rr[0]), ((1.0 + 0.5 * 2.0) * 0.1, 0.25));
        assert_eq!((zz[1], rr[1]), (2.0 * 0.1, 0.0));
    }
}
