//! The tanh RNN's two hot kernels: a matrix product that accumulates into its output, and tanh
//! over a slice. Both are written so that **every output element is computed by the same
//! sequence of IEEE operations whatever the SIMD width**: the product sums its terms in order
//! `k = 0, 1, ...` with one fused multiply-add each, starting from the element's old value, and
//! vectorises only across output columns (independent lanes); tanh is a fixed rational function
//! evaluated per element. So an AVX-512 worker, an AVX2 worker and the portable fallback give
//! the same bits, which a cell's determinism needs, while each runs at its own width.
//!
//! Why not the `gemm` crate here: on these shapes (64 x 50 x 50 per time step) its packing and
//! dispatch cost as much as the arithmetic, its AVX-512 kernels must stay off (they sum in
//! another order than its AVX2 ones), and libm's scalar `tanhf` was 38 % of a training run
//! (`perf`, docs/PERFORMANCE.md "Tanh RNN training throughput").

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

/// The instruction set the kernels use. The choice changes speed only: every level computes
/// the same bits (tests `every_path_gives_the_bits_of_the_naive_chain` and
/// `training_is_bit_identical_at_every_simd_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// Plain Rust, vectorised by the compiler at the crate's baseline.
    Portable = 0,
    /// AVX2 + FMA intrinsics, 8 lanes.
    Avx2 = 1,
    /// AVX-512F + FMA intrinsics, 16 lanes.
    Avx512 = 2,
}

/// The highest level allowed by [`limit_simd`] (default: no limit).
static SIMD_LIMIT: std::sync::atomic::AtomicU8 =
    std::sync::atomic::AtomicU8::new(Simd::Avx512 as u8);

/// Caps the level the kernels use (for tests and benchmarks that compare levels on one
/// machine); process-wide.
pub fn limit_simd(level: Simd) {
    SIMD_LIMIT.store(level as u8, std::sync::atomic::Ordering::Relaxed);
}

/// The level the kernels run at: the best this CPU has, capped by [`limit_simd`].
pub fn simd() -> Simd {
    let limit = SIMD_LIMIT.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(target_arch = "x86_64")]
    {
        let fma = std::arch::is_x86_feature_detected!("fma");
        if limit >= Simd::Avx512 as u8 && fma && std::arch::is_x86_feature_detected!("avx512f") {
            return Simd::Avx512;
        }
        if limit >= Simd::Avx2 as u8 && fma && std::arch::is_x86_feature_detected!("avx2") {
            return Simd::Avx2;
        }
    }
    let _ = limit;
    Simd::Portable
}

/// A read-only row-major-ish matrix view: element (i, k) is `data[i * rs + k * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Distance between rows.
    pub rs: usize,
    /// Distance between columns.
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// A row-major matrix whose rows are `ld` apart.
    pub fn rows(data: &'a [f32], ld: usize) -> Self {
        Strided {
            data,
            rs: ld,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix whose rows are `ld` apart.
    pub fn t(data: &'a [f32], ld: usize) -> Self {
        Strided {
            data,
            rs: 1,
            cs: ld,
        }
    }
}

/// `C (m x n) += A (m x k) * B (k x n)`, with C and B row-major (rows `n` apart) and A strided.
///
/// Element (i, j) becomes `fma(A[i,k-1], B[k-1,j], ... fma(A[i,0], B[0,j], C[i,j]))`: the same
/// chain on every machine (see the module doc). Rows of A and B are blocked so that a block of
/// C stays in registers over `K_BLOCK` terms; storing and reloading C between blocks is exact.
pub fn mul_acc(m: usize, k: usize, n: usize, a: Strided<'_>, b: &[f32], c: &mut [f32]) {
    if !check(m, k, n, a, b, c) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if simd() == Simd::Avx512 {
            // A read-out onto one output: lanes over rows (see `column_avx512`), the rest of
            // the rows by the general tiles.
            let done = if n == 1 && a.cs == 1 {
                // SAFETY: the features were detected; `check` validated the shapes.
                unsafe { x86::column_avx512(m, k, a, b, c) }
            } else {
                0
            };
            if done == m {
                return;
            }
            let rest = Strided {
                data: &a.data[done * a.rs..],
                ..a
            };
            // SAFETY: as above; rows done.. of A and C are the same rows, shifted.
            return unsafe { x86::mul_acc_avx512(m - done, k, n, rest, b, &mut c[done * n..]) };
        }
        if simd() == Simd::Avx2 {
            // SAFETY: the features were detected; `check` validated the shapes.
            return unsafe { x86::mul_acc_avx2(m, k, n, a, b, c) };
        }
    }
    portable::mul_acc(m, k, n, a, b, c)
}

/// The bounds every unchecked read of the kernels relies on; false when there is nothing to do.
fn check(m: usize, k: usize, n: usize, a: Strided<'_>, b: &[f32], c: &[f32]) -> bool {
    assert!(c.len() >= m * n, "mul_acc: C too short");
    assert!(b.len() >= k * n, "mul_acc: B too short");
    if m == 0 || n == 0 || k == 0 {
        return false;
    }
    assert!(
        (m - 1) * a.rs + (k - 1) * a.cs < a.data.len(),
        "mul_acc: A too short"
    );
    true
}

/// Terms summed per visit of a C block: 256 rows of B (at most 64 KB of a 64-wide panel) stay in
/// L1/L2 while every row tile of A passes over them.
const K_BLOCK: usize = 256;

/// Defines an element-wise function that runs at the widest SIMD level this CPU has. Each
/// element's arithmetic is exactly rounded (fma included), so the level changes the speed and
/// never the bits.
macro_rules! elementwise {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,fma")]
                fn avx512($($arg: $ty),*) $body
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $body
                match $crate::tanh::kernels::simd() {
                    // SAFETY: `simd` reports only detected features.
                    $crate::tanh::kernels::Simd::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::tanh::kernels::Simd::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::tanh::kernels::Simd::Portable => {}
                }
            }
            $body
        }
    };
}

elementwise! {
    /// `x <- tanh(x)` element-wise, by the rational approximation Eigen and ONNX Runtime use
    /// (Eigen's `generic_fast_tanh_float`: clamp to +-7.9053111, odd degree-13 over even
    /// degree-6 polynomial; below 4e-4 in magnitude tanh(x) = x to f32 precision). Its error is
    /// a few ulp (test `tanh_is_within_a_few_ulp`); the backward pass uses 1 - h^2 of the stored
    /// h, as before.
    pub fn tanh_in_place(x: &mut [f32]) {
        x.iter_mut().for_each(|v| *v = tanh_one(*v));
    }
}

elementwise! {
    /// `dpre = dh * (1 - h^2)`: back through tanh, given its output h.
    pub fn tanh_backward(dpre: &mut [f32], dh: &[f32], h: &[f32]) {
        for ((d, &g), &v) in dpre.iter_mut().zip(dh).zip(h) {
            *d = g * (1.0 - v * v);
        }
    }
}

/// One element of [`tanh_in_place`]; every operation is exactly rounded (fma included), so
/// the vector and scalar paths agree bit for bit.
#[inline(always)]
#[expect(
    clippy::excessive_precision,
    reason = "Eigen's published coefficients, kept digit for digit so they can be checked"
)]
pub fn tanh_one(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311_107_635_498;
    const TINY: f32 = 0.0004;
    let v = x.clamp(-CLAMP, CLAMP);
    let v2 = v * v;
    let mut p = v2.mul_add(-2.760_768_477_423_55e-16, 2.000_187_904_824_77e-13);
    p = p.mul_add(v2, -8.604_671_522_137_35e-11);
    p = p.mul_add(v2, 5.122_297_090_371_14e-8);
    p = p.mul_add(v2, 1.485_722_357_179_79e-5);
    p = p.mul_add(v2, 6.372_619_288_754_36e-4);
    p = p.mul_add(v2, 4.893_524_558_917_86e-3);
    p *= v;
    let mut q = v2.mul_add(1.198_258_394_667_02e-6, 1.185_347_056_866_54e-4);
    q = q.mul_add(v2, 2.268_434_632_439_00e-3);
    q = q.mul_add(v2, 4.893_525_185_543_85e-3);
    if x.abs() < TINY { x } else { p / q }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn naive(m: usize, k: usize, n: usize, a: Strided<'_>, b: &[f32], c: &mut [f32]) {
        for i in 0..m {
            for j in 0..n {
                let mut v = c[i * n + j];
                for kk in 0..k {
                    v = a.data[i * a.rs + kk * a.cs].mul_add(b[kk * n + j], v);
                }
                c[i * n + j] = v;
            }
        }
    }

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn every_path_gives_the_bits_of_the_naive_chain() {
        // Shapes with row and column remainders, K above one block, A plain and transposed.
        for &(m, k, n) in &[
            (7, 5, 3),
            (64, 50, 50),
            (9, 300, 37),
            (50, 600, 2),
            (1, 1, 1),
            (13, 7, 130),
            (5, 3, 64),
            (64, 128, 1),
            (37, 45, 1),
            (16, 16, 1),
            (33, 7, 1),
            (16, 300, 1),
        ] {
            let a = random(m * k, 1);
            let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
            let b = random(k * n, 2);
            let c0 = random(m * n, 3);
            let mut want = c0.clone();
            naive(m, k, n, Strided::rows(&a, k), &b, &mut want);
            let mut got = c0.clone();
            mul_acc(m, k, n, Strided::rows(&a, k), &b, &mut got);
            assert_eq!(got, want, "{m}x{k}x{n}");
            let mut got_t = c0.clone();
            mul_acc(m, k, n, Strided::t(&at, m), &b, &mut got_t);
            assert_eq!(got_t, want, "{m}x{k}x{n} transposed A");
            // The portable body at several tile sizes, and each intrinsic path this machine
            // has, agree with the dispatched path.
            type Body = fn(usize, usize, usize, Strided<'_>, &[f32], &mut [f32]);
            let bodies: [Body; 4] = [
                portable::mul_acc_body::<4, 16>,
                portable::mul_acc_body::<4, 32>,
                portable::mul_acc_body::<1, 8>,
                portable::mul_acc_body::<3, 64>,
            ];
            for body in bodies {
                let mut got_b = c0.clone();
                body(m, k, n, Strided::rows(&a, k), &b, &mut got_b);
                assert_eq!(got_b, want, "{m}x{k}x{n} portable");
            }
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    let mut got_x = c0.clone();
                    // SAFETY: detected; shapes valid.
                    unsafe { x86::mul_acc_avx512(m, k, n, Strided::t(&at, m), &b, &mut got_x) };
                    assert_eq!(got_x, want, "{m}x{k}x{n} AVX-512");
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    let mut got_x = c0.clone();
                    // SAFETY: detected; shapes valid.
                    unsafe { x86::mul_acc_avx2(m, k, n, Strided::rows(&a, k), &b, &mut got_x) };
                    assert_eq!(got_x, want, "{m}x{k}x{n} AVX2");
                }
            }
        }
    }

    #[test]
    fn tanh_is_within_a_few_ulp() {
        let mut worst_abs = 0.0f64;
        let mut worst_rel = 0.0f64;
        let xs: Vec<f32> = (-2_000_000..=2_000_000).map(|i| i as f32 * 5e-6).collect();
        let mut ys = xs.clone();
        tanh_in_place(&mut ys);
        for (&x, &y) in xs.iter().zip(&ys) {
            let want = (x as f64).tanh();
            worst_abs = worst_abs.max((y as f64 - want).abs());
            if want != 0.0 {
                worst_rel = worst_rel.max(((y as f64 - want) / want).abs());
            }
            assert_eq!(
                y.to_bits(),
                tanh_one(x).to_bits(),
                "vector and scalar paths differ"
            );
        }
        assert!(worst_abs < 4e-7, "worst absolute error {worst_abs}");
        assert!(worst_rel < 1e-6, "worst relative error {worst_rel}");
        let mut big = [20.0f32, -20.0, 1e30, f32::INFINITY, f32::NAN, 0.0, -0.0];
        tanh_in_place(&mut big);
        assert!((big[0] - 1.0).abs() < 1e-6 && (big[1] + 1.0).abs() < 1e-6);
        assert!((big[2] - 1.0).abs() < 1e-6 && (big[3] - 1.0).abs() < 1e-6);
        assert!(big[4].is_nan());
        assert_eq!(big[5].to_bits(), 0.0f32.to_bits());
        assert_eq!(big[6].to_bits(), (-0.0f32).to_bits());
    }
}
