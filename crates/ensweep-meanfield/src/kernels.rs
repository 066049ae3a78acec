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

/// [`dispatch!`] for a non-generic kernel.
macro_rules! dispatch_plain {
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) => $body:ident) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $ty),*) { $body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn mid($($arg: $ty),*) { $body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                {
                    // SAFETY: the CPU supports every feature `wide` was compiled for.
                    return unsafe { wide($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above, for `mid`.
                    return unsafe { mid($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use dispatch_plain;

dispatch!(pub fn mean_field_finish<F>(z: &mut [F], ratio: &mut [F], eps: &[F], scale: F) => mean_field_finish_body);

dispatch!(pub fn mean_field_finish_relu<F>(z: &mut [F], ratio: &mut [F], eps: &[F], scale: F, act: &mut [F], act2: &mut [F]) => mean_field_finish_relu_body);

/// [`mean_field_finish`] followed by the next layer's inputs `act = max(z, 0)` and
/// `act2 = act^2`, in one pass.
#[inline(always)]
fn mean_field_finish_relu_body<F: Float>(
    z: &mut [F],
    ratio: &mut [F],
    eps: &[F],
    scale: F,
    act: &mut [F],
    act2: &mut [F],
) {
    let n = z.len().min(ratio.len()).min(eps.len());
    let n = n.min(act.len()).min(act2.len());
    let (z, ratio, eps) = (&mut z[..n], &mut ratio[..n], &eps[..n]);
    let (act, act2) = (&mut act[..n], &mut act2[..n]);
    for i in 0..n {
        let delta = ratio[i].sqrt();
        let e = eps[i];
        let zv = (z[i] + e * delta) * scale;
        z[i] = zv;
        let r = e / delta;
        ratio[i] = if delta > F::zero() { r } else { F::zero() };
        let a = zv.max(F::zero());
        act[i] = a;
        act2[i] = a * a;
    }
}

dispatch!(pub fn scaled_relu<F>(z: &mut [F], scale: F, act: &mut [F], act2: &mut [F]) => scaled_relu_body);

/// Deterministic layers: `z *= scale`, then `act = max(z, 0)`, `act2 = act^2` (the `act`
/// outputs may be empty for the last layer).
#[inline(always)]
fn scaled_relu_body<F: Float>(z: &mut [F], scale: F, act: &mut [F], act2: &mut [F]) {
    if act.is_empty() {
        z.iter_mut().for_each(|x| *x = *x * scale);
        return;
    }
    let n = z.len().min(act.len()).min(act2.len());
    let (z, act, act2) = (&mut z[..n], &mut act[..n], &mut act2[..n]);
    for i in 0..n {
        let zv = z[i] * scale;
        z[i] = zv;
        let a = zv.max(F::zero());
        act[i] = a;
        act2[i] = a * a;
    }
}

dispatch!(pub fn mul_into<F>(out: &mut [F], a: &[F], b: &[F]) => mul_into_body);

/// `out = a * b` element-wise.
#[inline(always)]
fn mul_into_body<F: Float>(out: &mut [F], a: &[F], b: &[F]) {
    let n = out.len().min(a.len()).min(b.len());
    let (out, a, b) = (&mut out[..n], &a[..n], &b[..n]);
    for i in 0..n {
        out[i] = a[i] * b[i];
    }
}

dispatch!(pub fn backprop_finish<F>(out: &mut [F], q: &[F], a: &[F], z: Option<&[F]>, scale: F) => backprop_finish_body);

/// `out = scale (out + a q)`, zeroed where `z < 0` when `z` is given (ReLU'(z) = [z >= 0]).
#[inline(always)]
fn backprop_finish_body<F: Float>(out: &mut [F], q: &[F], a: &[F], z: Option<&[F]>, scale: F) {
    let n = out.len().min(q.len()).min(a.len());
    let (out, q, a) = (&mut out[..n], &q[..n], &a[..n]);
    match z {
        Some(z) => {
            let z = &z[..n];
            for i in 0..n {
                let v = scale * (out[i] + a[i] * q[i]);
                out[i] = if z[i] >= F::zero() { v } else { F::zero() };
            }
        }
        None => {
            for i in 0..n {
                out[i] = scale * (out[i] + a[i] * q[i]);
            }
        }
    }
}

/// Lanes of the vectorised normal generator.
pub const LANES: usize = 8;

/// State of [`fill_normals`]: `LANES` independent xoshiro128+ generators (one per SIMD lane).
#[derive(Clone, Debug)]
pub struct NormalState {
    s: [[u32; LANES]; 4],
}

impl NormalState {
    /// Seeds the lanes from `rng` (128 bits each; a lane that would be all-zero is fixed).
    pub fn from_rng(rng: &mut impl rand::Rng) -> Self {
        let mut s = [[0u32; LANES]; 4];
        for lane in 0..LANES {
            for w in &mut s {
                w[lane] = rng.next_u32();
            }
            if (0..4).all(|k| s[k][lane] == 0) {
                s[0][lane] = 1;
            }
        }
        NormalState { s }
    }

    /// One step of every lane: the lanes' next 32-bit outputs.
    #[inline(always)]
    fn next(&mut self) -> [u32; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u32; LANES];
        for i in 0..LANES {
            out[i] = s0[i].wrapping_add(s3[i]);
            let t = s1[i] << 9;
            s2[i] ^= s0[i];
            s3[i] ^= s1[i];
            s1[i] ^= s2[i];
            s0[i] ^= s3[i];
            s2[i] ^= t;
            s3[i] = s3[i].rotate_left(11);
        }
        out
    }
}

dispatch_plain!(pub fn fill_normals(st: &mut NormalState, out: &mut [f32]) => fill_normals_body);

/// Fills `out` with standard normals: Box-Muller on `LANES` lanes at a time with polynomial
/// `ln`, `sin`, `cos` (Cephes single-precision minimax polynomials; relative error of each below
/// 2e-7 on the ranges used), from 24-bit uniforms `u1 in (0, 1]`, `u2 in [0, 1)`. Every block
/// yields `2 LANES` normals (`r cos`, then `r sin`); a partial last block discards the rest.
/// The tails are cut at `sqrt(-2 ln 2^-24) = 5.77` standard deviations (probability 8e-9).
/// Plain multiplies and adds only, so every instruction set gives the same bits.
#[inline(always)]
fn fill_normals_body(st: &mut NormalState, out: &mut [f32]) {
    let mut blocks = out.chunks_exact_mut(2 * LANES);
    for blk in &mut blocks {
        let (c, s) = normal_block(st);
        blk[..LANES].copy_from_slice(&c);
        blk[LANES..].copy_from_slice(&s);
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        let (c, s) = normal_block(st);
        let mut all = [0.0f32; 2 * LANES];
        all[..LANES].copy_from_slice(&c);
        all[LANES..].copy_from_slice(&s);
        let k = rest.len();
        rest.copy_from_slice(&all[..k]);
    }
}

/// `2 LANES` standard normals (see [`fill_normals`]).
#[inline(always)]
fn normal_block(st: &mut NormalState) -> ([f32; LANES], [f32; LANES]) {
    let x = st.next();
    let y = st.next();
    let mut c = [0.0f32; LANES];
    let mut s = [0.0f32; LANES];
    const TWO_M24: f32 = 1.0 / 16_777_216.0;
    for i in 0..LANES {
        // u1 in (0, 1]: ln u1 in [-16.64, 0].
        let u1 = ((x[i] >> 8) + 1) as f32 * TWO_M24;
        let r = (-2.0 * ln_unit(u1)).sqrt();
        // u2 = k 2^-24; angle 2 pi u2 = quadrant q (pi/2) + phi, phi in [-pi/4, pi/4).
        let k = y[i] >> 8;
        let q = (k + (1 << 21)) >> 22; // round(4 u2), 0..=4
        let f = (k as i32 - (q << 22) as i32) as f32 * TWO_M24; // [-1/8, 1/8)
        let phi = f * std::f32::consts::TAU;
        let (sp, cp) = sincos_quarter(phi);
        let q = q & 3;
        let (cc, ss) = if q & 1 == 1 { (sp, cp) } else { (cp, sp) };
        let cos_neg = ((q + 1) >> 1) & 1;
        let sin_neg = q >> 1;
        c[i] = r * f32::from_bits(cc.to_bits() ^ (cos_neg << 31));
        s[i] = r * f32::from_bits(ss.to_bits() ^ (sin_neg << 31));
    }
    (c, s)
}

/// Natural logarithm of a normal positive `x` (Cephes `logf`).
// The Cephes constants as published (they round to the same f32).
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn ln_unit(x: f32) -> f32 {
    const SQRTHF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let m0 = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [0.5, 1)
    let small = m0 < SQRTHF;
    e -= small as i32;
    let m = if small { m0 + m0 - 1.0 } else { m0 - 1.0 };
    let z = m * m;
    let mut y = 7.037_683_6e-2;
    y = y * m - 1.151_461_03e-1;
    y = y * m + 1.167_699_87e-1;
    y = y * m - 1.242_014_08e-1;
    y = y * m + 1.424_932_3e-1;
    y = y * m - 1.666_805_8e-1;
    y = y * m + 2.000_071_4e-1;
    y = y * m - 2.499_999_4e-1;
    y = y * m + 3.333_333_1e-1;
    y = y * m * z;
    let ef = e as f32;
    y += ef * -2.121_944_4e-4;
    y += -0.5 * z;
    m + y + ef * 0.693_359_4
}

/// `(sin phi, cos phi)` for `|phi| <= pi/4` (Cephes `sinf`/`cosf` polynomials).
// The Cephes constants as published (they round to the same f32).
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn sincos_quarter(phi: f32) -> (f32, f32) {
    let z = phi * phi;
    let s = ((-1.951_529_6e-4 * z + 8.332_160_9e-3) * z - 1.666_665_5e-1) * z * phi + phi;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    (s, c)
}

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

/// Input units per block of [`forward_rows`]: a block of 56 parameter rows (22 KB at 100
/// columns) stays in L1 while every example of the chunk uses it.
const ROW_BLOCK: usize = 56;

dispatch!(pub fn forward_rows<F>(n_out: usize, rows: &[(&[u32], &[F])], mu: &[F], v: Option<&[F]>, z: &mut [F], s2: &mut [F], cur: &mut [usize]) => forward_rows_body);

/// The first-layer forward pass on example-major sparse input (`rows[b]` = sorted pixel
/// indices and values of example `b`): `z[b] = sum_j x_bj mu_j`, `s2[b] = sum_j x_bj^2 v_j`
/// (overwritten; `s2` untouched when `v` is `None`), one product at a time. Loops: column
/// blocks (all 100 columns of a hidden layer at once: 13 vector registers), then blocks of
/// [`ROW_BLOCK`] input units (that block of the parameters stays in L1), then examples; an
/// example's partial sums stay in registers over its non-zero pixels in the block and are
/// stored once per block (instead of once per non-zero pixel as a pixel-major scatter does).
/// Per output element the terms are added in increasing pixel order with fused multiply-adds
/// from 0. `cur` is scratch of at least `rows.len()` cursors.
#[inline(always)]
fn forward_rows_body<F: Float>(
    n_out: usize,
    rows: &[(&[u32], &[F])],
    mu: &[F],
    v: Option<&[F]>,
    z: &mut [F],
    s2: &mut [F],
    cur: &mut [usize],
) {
    sparse_product::<F, false>(n_out, rows, mu, z, cur);
    if let Some(v) = v {
        sparse_product::<F, true>(n_out, rows, v, s2, cur);
    }
}

/// `out[b] = sum_j x_bj p_j` (`x_bj^2` when `SQUARE`) over the non-zeros of `rows`.
#[inline(always)]
fn sparse_product<F: Float, const SQUARE: bool>(
    n_out: usize,
    rows: &[(&[u32], &[F])],
    p: &[F],
    out: &mut [F],
    cur: &mut [usize],
) {
    out[..rows.len() * n_out].fill(F::zero());
    let mut o0 = 0;
    while o0 + 100 <= n_out {
        sparse_product_block::<F, SQUARE, 100>(n_out, o0, rows, p, out, cur);
        o0 += 100;
    }
    while o0 + 64 <= n_out {
        sparse_product_block::<F, SQUARE, 64>(n_out, o0, rows, p, out, cur);
        o0 += 64;
    }
    while o0 + 32 <= n_out {
        sparse_product_block::<F, SQUARE, 32>(n_out, o0, rows, p, out, cur);
        o0 += 32;
    }
    while o0 + 8 <= n_out {
        sparse_product_block::<F, SQUARE, 8>(n_out, o0, rows, p, out, cur);
        o0 += 8;
    }
    while o0 + 4 <= n_out {
        sparse_product_block::<F, SQUARE, 4>(n_out, o0, rows, p, out, cur);
        o0 += 4;
    }
    while o0 < n_out {
        sparse_product_block::<F, SQUARE, 1>(n_out, o0, rows, p, out, cur);
        o0 += 1;
    }
}

/// Columns `o0..o0 + W` of [`sparse_product`].
#[inline(always)]
fn sparse_product_block<F: Float, const SQUARE: bool, const W: usize>(
    n_out: usize,
    o0: usize,
    rows: &[(&[u32], &[F])],
    p: &[F],
    out: &mut [F],
    cur: &mut [usize],
) {
    let n_in = p.len() / n_out;
    let cur = &mut cur[..rows.len()];
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
            let mut acc: [F; W] = out[at..at + W].try_into().expect("block");
            while c < end && idx[c] < p1 {
                let (base, x) = (idx[c] as usize * n_out + o0, val[c]);
                let x = if SQUARE { x * x } else { x };
                let row: &[F; W] = p[base..base + W].try_into().expect("block");
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
    gather_one::<F, false>(n_out, j0, ptr, rows, val, d, acc_a);
    gather_one::<F, true>(n_out, j0, ptr, rows, val, s, acc_b);
}

/// One product of [`gather_cols_body`]: `acc[j] += sum_b x_bj src_b` (`x_bj^2` when `SQUARE`),
/// all 100 columns of a hidden layer at once (13 accumulators; the chunk's `src` stays in L1).
#[inline(always)]
fn gather_one<F: Float, const SQUARE: bool>(
    n_out: usize,
    j0: usize,
    ptr: &[usize],
    rows: &[u32],
    val: &[F],
    src: &[F],
    acc: &mut [F],
) {
    let mut o0 = 0;
    while o0 + 100 <= n_out {
        gather_one_block::<F, SQUARE, 100>(n_out, o0, j0, ptr, rows, val, src, acc);
        o0 += 100;
    }
    while o0 + 64 <= n_out {
        gather_one_block::<F, SQUARE, 64>(n_out, o0, j0, ptr, rows, val, src, acc);
        o0 += 64;
    }
    while o0 + 32 <= n_out {
        gather_one_block::<F, SQUARE, 32>(n_out, o0, j0, ptr, rows, val, src, acc);
        o0 += 32;
    }
    while o0 + 8 <= n_out {
        gather_one_block::<F, SQUARE, 8>(n_out, o0, j0, ptr, rows, val, src, acc);
        o0 += 8;
    }
    while o0 + 4 <= n_out {
        gather_one_block::<F, SQUARE, 4>(n_out, o0, j0, ptr, rows, val, src, acc);
        o0 += 4;
    }
    while o0 < n_out {
        gather_one_block::<F, SQUARE, 1>(n_out, o0, j0, ptr, rows, val, src, acc);
        o0 += 1;
    }
}

/// Columns `o0..o0 + W` of [`gather_one`].
#[inline(always)]
fn gather_one_block<F: Float, const SQUARE: bool, const W: usize>(
    n_out: usize,
    o0: usize,
    j0: usize,
    ptr: &[usize],
    rows: &[u32],
    val: &[F],
    src: &[F],
    acc: &mut [F],
) {
    let n_rows = acc.len() / n_out;
    for r in 0..n_rows {
        let (st, en) = (ptr[j0 + r], ptr[j0 + r + 1]);
        if st == en {
            continue;
        }
        let at = r * n_out + o0;
        let mut a: [F; W] = acc[at..at + W].try_into().expect("block");
        for (&b, &x) in rows[st..en].iter().zip(&val[st..en]) {
            let from = b as usize * n_out + o0;
            let sb: &[F; W] = src[from..from + W].try_into().expect("block");
            let x = if SQUARE { x * x } else { x };
            for t in 0..W {
                a[t] = x.mul_add(sb[t], a[t]);
            }
        }
        acc[at..at + W].copy_from_slice(&a);
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

    #[test]
    fn polynomial_ln_and_sincos_are_accurate() {
        let mut worst_ln = 0.0f64;
        for k in 1..=(1u32 << 24) {
            if k % 97 != 0 && k > 5000 {
                continue;
            }
            let x = k as f32 / 16_777_216.0;
            let err = (ln_unit(x) as f64 - (x as f64).ln()).abs();
            worst_ln = worst_ln.max(err / (x as f64).ln().abs().max(1e-3));
        }
        assert!(worst_ln < 5e-7, "ln relative error {worst_ln}");
        let mut worst = 0.0f64;
        for k in -1000..=1000 {
            let phi = k as f32 / 1000.0 * std::f32::consts::FRAC_PI_4;
            let (s, c) = sincos_quarter(phi);
            worst = worst.max((s as f64 - (phi as f64).sin()).abs());
            worst = worst.max((c as f64 - (phi as f64).cos()).abs());
        }
        assert!(worst < 2e-7, "sin/cos absolute error {worst}");
    }

    #[test]
    fn normals_have_the_right_moments_and_quadrants() {
        use rand::SeedableRng;
        let mut st = NormalState::from_rng(&mut rand_pcg::Pcg64Mcg::seed_from_u64(3));
        let n = 1 << 21;
        let mut x = vec![0.0f32; n + 5];
        fill_normals(&mut st, &mut x);
        let x = &x[..n];
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let m2 = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let m4 = x.iter().map(|&v| (v as f64 - mean).powi(4)).sum::<f64>() / n as f64;
        let m3 = x.iter().map(|&v| (v as f64 - mean).powi(3)).sum::<f64>() / n as f64;
        // Standard errors: mean 7e-4, variance 1e-3, skewness 1.7e-3, kurtosis 3.4e-3.
        assert!(mean.abs() < 4e-3, "mean {mean}");
        assert!((m2 - 1.0).abs() < 6e-3, "variance {m2}");
        assert!(m3.abs() < 1e-2, "third moment {m3}");
        assert!(
            (m4 / (m2 * m2) - 3.0).abs() < 2e-2,
            "kurtosis {}",
            m4 / (m2 * m2)
        );
        // Tail and sign balance, and the cos/sin halves of a block are independent.
        let frac = |t: f32| x.iter().filter(|v| v.abs() > t).count() as f64 / n as f64;
        assert!(
            (frac(1.96) - 0.05).abs() < 1.5e-3,
            "P(|x|>1.96) = {}",
            frac(1.96)
        );
        assert!(
            (frac(3.0) - 0.0027).abs() < 3e-4,
            "P(|x|>3) = {}",
            frac(3.0)
        );
        let pos = x.iter().filter(|&&v| v > 0.0).count() as f64 / n as f64;
        assert!((pos - 0.5).abs() < 2e-3, "P(x>0) = {pos}");
        let corr = x
            .chunks_exact(2 * LANES)
            .map(|b| {
                (0..LANES)
                    .map(|i| (b[i] * b[i + LANES]) as f64)
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (n / 2) as f64;
        assert!(corr.abs() < 5e-3, "cos/sin correlation {corr}");
        // Deterministic per seed.
        let mut a = NormalState::from_rng(&mut rand_pcg::Pcg64Mcg::seed_from_u64(9));
        let mut b = a.clone();
        let (mut u, mut v) = (vec![0.0f32; 37], vec![0.0f32; 37]);
        fill_normals(&mut a, &mut u);
        fill_normals_body(&mut b, &mut v);
        assert_eq!(u, v, "dispatched and baseline code give the same bits");
    }

    #[test]
    fn kernels_match_naive_loops() {
        // 209 columns: blocks of 100, 64, 32, 8, 4 and 1 (forward) or 32, 8, 4, 1 (the others).
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
        let (mut z3, mut s3) = (vec![7.0; n_ex * n_out], vec![7.0; n_ex * n_out]);
        let mut cur = vec![0; n_ex];
        forward_rows(n_out, &views, &mu, Some(&v), &mut z3, &mut s3, &mut cur);
        assert_eq!((&z3, &s3), (&z, &s2));
        let mut z4 = vec![7.0; n_ex * n_out];
        forward_rows(n_out, &views, &mu, None, &mut z4, &mut s3, &mut cur);
        assert_eq!(z4, z);
        // Gradient products for pixels 2..7, accumulated onto existing values.
        let d: Vec<f64> = (0..n_ex * n_out).map(|i| f(i + 11)).collect();
        let s: Vec<f64> = (0..n_ex * n_out).map(|i| f(i + 17)).collect();
        let (mut a, mut bq) = (vec![1.0; 5 * n_out], vec![2.0; 5 * n_out]);
        gather_cols(n_out, 2, &ptr, &rows, &val, &d, &s, &mut a, &mut bq);
        let (mut a2, mut bq2) = (vec![1.0; 5 * n_out], vec![2.0; 5 * n_out]);
        gather_cols_pairs(n_out, 2, &ptr, &rows, &val, &d, &s, &mut a2, &mut bq2);
        assert_eq!((&a, &bq), (&a2, &bq2), "same bits as the pairwise kernel");
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
        // The fused finish gives the same bits plus the ReLU outputs.
        let (mut z2, mut r2) = (vec![1.0, -2.0], vec![4.0, 0.0]);
        let (mut a, mut a2) = (vec![9.0; 2], vec![9.0; 2]);
        mean_field_finish_relu(&mut z2, &mut r2, &[0.5, 0.7], 0.1, &mut a, &mut a2);
        assert_eq!((z2[0], r2[0], a[0], a2[0]), (0.2, 0.25, 0.2, 0.2 * 0.2));
        assert_eq!((z2[1], r2[1], a[1], a2[1]), (-0.2, 0.0, 0.0, 0.0));
        // The mean-field finish: z = (G + eps Delta) scale, ratio = eps / Delta or 0.
        let (mut zz, mut rr) = (vec![1.0, 2.0], vec![4.0, 0.0]);
        mean_field_finish(&mut zz, &mut rr, &[0.5, 0.7], 0.1);
        assert_eq!((zz[0], rr[0]), ((1.0 + 0.5 * 2.0) * 0.1, 0.25));
        assert_eq!((zz[1], rr[1]), (2.0 * 0.1, 0.0));
    }
}
