//! Cache-line-aligned, padded, interleaved copies of the matrices the hot loops read row by row.
//!
//! A 100-unit row of `f32` is 400 bytes: at any start address most of its 64-byte vector loads
//! straddle two cache lines, and with rows back to back no start address stays aligned. The
//! kernels therefore read rows padded to a multiple of 16 elements (64 bytes of `f32`) from
//! buffers that start on a 64-byte boundary, and the two matrices used together (`mu` with `v`,
//! `delta` with `s`) sit side by side in one row: one walk over the index list touches one
//! contiguous, aligned run of cache lines per row.

use crate::float::Float;
use ensweep_trainkit::arrays::view_slice;
use ndarray::ArrayView2;

/// Elements per padding unit: 64 bytes of `f32` (one AVX-512 register, one cache line).
pub const LANE_BLOCK: usize = 16;

/// `n` rounded up to a multiple of [`LANE_BLOCK`].
pub fn padded_width(n: usize) -> usize {
    n.div_ceil(LANE_BLOCK) * LANE_BLOCK
}

/// A zero-initialised buffer whose first element sits on a 64-byte boundary.
#[derive(Debug, Default)]
pub struct Aligned<F> {
    buf: Vec<F>,
    off: usize,
    len: usize,
}

impl<F: Copy + Default> Aligned<F> {
    /// `len` default values (zeros for the float types).
    pub fn zeros(len: usize) -> Self {
        let spare = 64 / std::mem::size_of::<F>();
        let buf = vec![F::default(); len + spare];
        let addr = buf.as_ptr() as usize;
        let off = (64 - addr % 64) % 64 / std::mem::size_of::<F>();
        Aligned { buf, off, len }
    }

    /// The elements.
    #[inline]
    pub fn as_slice(&self) -> &[F] {
        &self.buf[self.off..self.off + self.len]
    }

    /// The elements, mutably.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [F] {
        &mut self.buf[self.off..self.off + self.len]
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<F: Clone> Clone for Aligned<F> {
    /// A fresh allocation has its own alignment offset, so the data is placed anew.
    fn clone(&self) -> Self {
        let Some(fill) = self.buf.first() else {
            return Aligned {
                buf: Vec::new(),
                off: 0,
                len: 0,
            };
        };
        let spare = 64 / std::mem::size_of::<F>();
        // The capacity is reserved up front, so the address computed here stays valid.
        let mut buf = Vec::with_capacity(self.len + spare);
        let off = (64 - buf.as_ptr() as usize % 64) % 64 / std::mem::size_of::<F>();
        buf.extend(std::iter::repeat_n(fill.clone(), off));
        buf.extend_from_slice(&self.buf[self.off..self.off + self.len]);
        buf.resize(self.len + spare, fill.clone());
        Aligned {
            buf,
            off,
            len: self.len,
        }
    }
}

/// Writes rows of `a` and `b` (`rows x cols` each) side by side into `out`
/// (`rows x 2 padded_width(cols)`, row-major): row `r` is `a[r]`, zeros, `b[r]`, zeros.
pub fn interleave_rows<F: Float>(a: ArrayView2<'_, F>, b: ArrayView2<'_, F>, out: &mut [F]) {
    let cols = a.ncols();
    let p = padded_width(cols);
    for ((o, ar), br) in out.chunks_exact_mut(2 * p).zip(a.rows()).zip(b.rows()) {
        o[..cols].copy_from_slice(view_slice(ar));
        o[p..p + cols].copy_from_slice(view_slice(br));
    }
}

/// Like [`interleave_rows`] for the transposes: row `c` of `out` is column `c` of `a`, then
/// column `c` of `b` (`a`, `b`: `rows x cols`; `out`: `cols x 2 padded_width(rows)`).
pub fn interleave_transposed<F: Float>(a: ArrayView2<'_, F>, b: ArrayView2<'_, F>, out: &mut [F]) {
    let (rows, cols) = a.dim();
    let p = padded_width(rows);
    // Indexing of the row-major slices (borrowed, not copied, for standard layouts): the
    // column iterators of `ndarray` ran 5x the instructions of this loop (callgrind).
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let a = a.as_slice().expect("standard layout");
    let b = b.as_slice().expect("standard layout");
    for (c, o) in out.chunks_exact_mut(2 * p).enumerate().take(cols) {
        for r in 0..rows {
            o[r] = a[r * cols + c];
            o[p + r] = b[r * cols + c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_rows_interleaved() {
        for len in [0, 1, 17, 1000] {
            let a = Aligned::<f32>::zeros(len);
            assert_eq!(a.as_slice().as_ptr() as usize % 64, 0);
            assert_eq!(a.clone().as_slice().as_ptr() as usize % 64, 0);
            assert_eq!(a.len(), len);
        }
        let a = ndarray::array![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = ndarray::array![[7.0f64, 8.0, 9.0], [10.0, 11.0, 12.0]];
        let mut out = vec![-1.0; 2 * 32];
        interleave_rows(a.view(), b.view(), &mut out);
        assert_eq!(&out[..3], &[1.0, 2.0, 3.0]);
        assert_eq!(&out[16..19], &[7.0, 8.0, 9.0]);
        assert_eq!(&out[32..35], &[4.0, 5.0, 6.0]);
        assert_eq!(&out[48..51], &[10.0, 11.0, 12.0]);
        let mut t = vec![-1.0; 3 * 32];
        interleave_transposed(a.view(), b.view(), &mut t);
        assert_eq!((&t[..2], &t[16..18]), (&[1.0, 4.0][..], &[7.0, 10.0][..]));
        assert_eq!(
            (&t[64..66], &t[80..82]),
            (&[3.0, 6.0][..], &[9.0, 12.0][..])
        );
    }
}
