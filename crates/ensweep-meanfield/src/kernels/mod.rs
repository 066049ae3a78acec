//! The hot loops of the trainer, written once and compiled for several instruction sets.
//!
//! Each kernel is a generic `#[inline(always)]` body; [`dispatch!`] instantiates it inside a
//! function compiled with AVX-512 (or AVX2 + FMA) enabled and picks one at run time, so the
//! binary stays portable (no `-C target-cpu=native`) yet uses the wide units where present.
//! The loops are shaped for the auto-vectoriser: independent lanes, fixed-width accumulator
//! blocks for reductions, `mul_add` for fused multiply-adds.
//!
//! Parameter matrices are stored input-major (`[n_in][n_out]`), so one input unit's outgoing
//! connections are a contiguous row; the kernels read `mu` and `v` (and a chunk's `delta` and
//! `s`) from aligned, interleaved, padded copies ([`crate::padded`]). That is what makes every
//! layer sparse for free: an example touches only the rows of its non-zero inputs (~19 % of
//! MNIST pixels, ~28 % and ~60 % of the two hidden layers' ReLU outputs), in the forward
//! products ([`forward_rows`], example-major) and in the gradient products ([`gather_cols`],
//! input-unit-major). Back-propagation through the hidden layers is dense ([`dense_pair`]).
//! Every kernel adds the terms of an output element in a fixed order, so results do not depend
//! on the thread count or on which instruction set runs.

#![expect(
    clippy::too_many_arguments,
    reason = "kernels take flat slices and sizes by design (no structs in the hot loops)"
)]

use crate::float::Float;
use crate::padded::padded_width;

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

/// [`dispatch!`] for a non-generic kernel; attributes before `fn` (e.g. a lint expectation for
/// a long argument list) go on the dispatcher and on each instantiation.
macro_rules! dispatch_plain {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                $(#[$attr])*
                fn wide($($arg: $ty),*) { $body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                $(#[$attr])*
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

mod normal;
mod products;

pub use normal::{NormalState, fill_normals};
pub use products::*;

dispatch!(pub fn mean_field_finish<F>(z: &mut [F], ratio: &mut [F], eps: &[F], scale: F) => mean_field_finish_body);

dispatch!(pub fn mean_field_finish_relu<F>(z: &mut [F], ratio: &mut [F], eps: &[F], scale: F, act: &mut [F]) => mean_field_finish_relu_body);

/// [`mean_field_finish`] followed by the next layer's inputs `act = max(z, 0)`, in one pass.
#[inline(always)]
fn mean_field_finish_relu_body<F: Float>(
    z: &mut [F],
    ratio: &mut [F],
    eps: &[F],
    scale: F,
    act: &mut [F],
) {
    let n = z.len().min(ratio.len()).min(eps.len()).min(act.len());
    let (z, ratio, eps, act) = (&mut z[..n], &mut ratio[..n], &eps[..n], &mut act[..n]);
    for i in 0..n {
        let delta = ratio[i].sqrt();
        let e = eps[i];
        let zv = (z[i] + e * delta) * scale;
        z[i] = zv;
        let r = e / delta;
        ratio[i] = if delta > F::zero() { r } else { F::zero() };
        act[i] = zv.max(F::zero());
    }
}

dispatch!(pub fn scaled_relu<F>(z: &mut [F], scale: F, act: &mut [F]) => scaled_relu_body);

/// Deterministic layers: `z *= scale`, then `act = max(z, 0)` (`act` may be empty for the
/// last layer).
#[inline(always)]
fn scaled_relu_body<F: Float>(z: &mut [F], scale: F, act: &mut [F]) {
    if act.is_empty() {
        z.iter_mut().for_each(|x| *x = *x * scale);
        return;
    }
    let n = z.len().min(act.len());
    let (z, act) = (&mut z[..n], &mut act[..n]);
    for i in 0..n {
        let zv = z[i] * scale;
        z[i] = zv;
        act[i] = zv.max(F::zero());
    }
}

dispatch!(pub fn delta_times_ratio<F>(n_out: usize, delta: &[F], ratio: &[F], s: &mut [F], ds: &mut [F]) => delta_times_ratio_body);

/// `s = delta * ratio` element-wise (rows of `n_out`), and each row of `delta` and `s` written
/// side by side into `ds` (rows of `2 padded_width(n_out)`, see [`crate::padded`]) in the
/// same pass (separate row copies compile to `memmove` calls, millions per run).
#[inline(always)]
fn delta_times_ratio_body<F: Float>(
    n_out: usize,
    delta: &[F],
    ratio: &[F],
    s: &mut [F],
    ds: &mut [F],
) {
    let p = padded_width(n_out);
    for (((d, r), s), o) in delta
        .chunks_exact(n_out)
        .zip(ratio.chunks_exact(n_out))
        .zip(s.chunks_exact_mut(n_out))
        .zip(ds.chunks_exact_mut(2 * p))
    {
        let (od, os) = o.split_at_mut(p);
        for i in 0..n_out {
            let x = d[i] * r[i];
            s[i] = x;
            od[i] = d[i];
            os[i] = x;
        }
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
