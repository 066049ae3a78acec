//! The scalar type of the numerics: `f32` for training, `f64` for the finite-difference tests.
//!
//! Everything in the forward and backward passes is generic over [`Float`], so the gradient
//! check runs in double precision through exactly the code the trainer runs in single precision.

mod sealed {
    /// Only `f32` and `f64`, the two types the numerics are checked in.
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
