//! The scalar type of the numerics: `f32` for training, `f64` for the finite-difference tests.
//!
//! Everything in the forward and backward passes is generic over [`Float`], so the gradient
//! check runs in double precision through exactly the code the trainer runs in single precision.

mod sealed {
    /// Only `f32` and `f64`: [`super::gemm`] dispatches on exactly these two.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point type the spike-and-slab numerics run in (sealed: `f32` or `f64`).
pub trait Float:
    sealed::Sealed
    + num_traits::Float
    + Default
    + Send
    + Sync
    + std::fmt::Debug
    + std::iter::Sum
    + 'static
{
    /// Conversion from `f64` (exact for `f64`, rounding for `f32`).
    fn of(x: f64) -> Self;
    /// Conversion to `f64`.
    fn to64(self) -> f64;
}

impl Float for f32 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to64(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to64(self) -> f64 {
        self
    }
}

/// `c = a b + beta c` for strided row/column-major views (`m x k` times `k x n`), dispatched to
/// `matrixmultiply`'s `sgemm`/`dgemm` (runtime-selected AVX2/FMA kernels, no system BLAS).
/// Training no longer uses it (see `kernels`); the perturbation experiments do, for the dense
/// products over the whole test set (10,000 x 100 x 100), where it beat the sparse kernels.
///
/// # Panics
/// If a view would reach outside its slice (strides must be non-negative).
#[allow(clippy::too_many_arguments)]
pub fn gemm<F: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[F],
    (rsa, csa): (usize, usize),
    b: &[F],
    (rsb, csb): (usize, usize),
    beta: F,
    c: &mut [F],
    (rsc, csc): (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    let reach =
        |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs + 1;
    assert!(c.len() >= reach(m, n, rsc, csc), "gemm: c too small");
    if k == 0 {
        c.iter_mut().for_each(|x| *x = *x * beta);
        return;
    }
    assert!(a.len() >= reach(m, k, rsa, csa), "gemm: a too small");
    assert!(b.len() >= reach(k, n, rsb, csb), "gemm: b too small");
    let (rsa, csa, rsb, csb, rsc, csc) = (
        rsa as isize,
        csa as isize,
        rsb as isize,
        csb as isize,
        rsc as isize,
        csc as isize,
    );
    let any = |x: &[F]| x.as_ptr() as *const u8;
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>() {
        // SAFETY: F is f32 (checked above), every view stays inside its slice (asserted above),
        // and `c` is uniquely borrowed.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                any(a) as *const f32,
                rsa,
                csa,
                any(b) as *const f32,
                rsb,
                csb,
                beta.to64() as f32,
                c.as_mut_ptr() as *mut f32,
                rsc,
                csc,
            );
        }
    } else if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f64>() {
        // SAFETY: as above, with F = f64.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                any(a) as *const f64,
                rsa,
                csa,
                any(b) as *const f64,
                rsb,
                csb,
                beta.to64(),
                c.as_mut_ptr() as *mut f64,
                rsc,
                csc,
            );
        }
    } else {
        unreachable!("Float is implemented for f32 and f64 only");
    }
}
