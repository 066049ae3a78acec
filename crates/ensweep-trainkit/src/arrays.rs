//! Helpers for the owned `ndarray` buffers of the trainers: reshaping scratch arrays without
//! reallocating when their shape is unchanged, and the element slices that the hand-tuned
//! kernels (GEMM, SIMD) read and write. Arrays allocated here are in standard (row-major)
//! layout, so their slices are the row-major matrices the kernels expect; a view that is not
//! (a transpose, a column block) makes [`std_slice`] panic rather than hand a kernel the wrong
//! elements.

use ndarray::{
    Array, ArrayBase, ArrayView, ArrayViewMut, Axis, Data, DataMut, Dimension, IntoDimension,
    RemoveAxis,
};

/// Gives `a` the shape `dim`, reallocating (zeros) only when the shape changes; the contents
/// are kept otherwise, for callers that overwrite every element they later read. Returns the
/// elements, row-major.
pub fn reshape<A: Clone + Default, D: Dimension>(
    a: &mut Array<A, D>,
    dim: impl IntoDimension<Dim = D>,
) -> &mut [A] {
    let dim = dim.into_dimension();
    if a.raw_dim() != dim {
        *a = Array::from_elem(dim, A::default());
    }
    std_mut(a)
}

/// As [`reshape`], then sets every element to `value`.
pub fn filled<A: Clone + Default, D: Dimension>(
    a: &mut Array<A, D>,
    dim: impl IntoDimension<Dim = D>,
    value: A,
) -> &mut [A] {
    let s = reshape(a, dim);
    s.fill(value);
    s
}

/// Empties `a` (all lengths zero) unless it already is.
pub fn clear<A: Clone + Default, D: Dimension>(a: &mut Array<A, D>) {
    if !a.is_empty() {
        *a = Array::from_elem(D::default(), A::default());
    }
}

/// An empty array (all lengths zero), e.g. for `Default` implementations.
pub fn empty<A: Clone + Default, D: Dimension>() -> Array<A, D> {
    Array::from_elem(D::default(), A::default())
}

/// The elements of a standard-layout array, row-major.
pub fn std_slice<A, S: Data<Elem = A>, D: Dimension>(a: &ArrayBase<S, D>) -> &[A] {
    a.as_slice().expect("array in standard layout")
}

/// The elements of a standard-layout array, row-major, mutable.
pub fn std_mut<A, S: DataMut<Elem = A>, D: Dimension>(a: &mut ArrayBase<S, D>) -> &mut [A] {
    a.as_slice_mut().expect("array in standard layout")
}

/// The elements of a standard-layout view, row-major, for as long as the view's data lives.
pub fn view_slice<A, D: Dimension>(a: ArrayView<'_, A, D>) -> &[A] {
    a.to_slice().expect("view in standard layout")
}

/// The elements of a standard-layout mutable view, row-major.
pub fn view_mut<A, D: Dimension>(a: ArrayViewMut<'_, A, D>) -> &mut [A] {
    a.into_slice().expect("view in standard layout")
}

/// Block `s` (along the first axis) of a standard-layout array, row-major.
pub fn block<A, D: RemoveAxis>(a: &Array<A, D>, s: usize) -> &[A] {
    view_slice(a.index_axis(Axis(0), s))
}

/// Block `s` (along the first axis) of a standard-layout array, row-major, mutable.
pub fn block_mut<A, D: RemoveAxis>(a: &mut Array<A, D>, s: usize) -> &mut [A] {
    view_mut(a.index_axis_mut(Axis(0), s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Array3, s};

    #[test]
    fn reshape_keeps_the_buffer_of_an_unchanged_shape() {
        let mut a: Array2<f32> = empty();
        filled(&mut a, (2, 3), 1.5);
        let p = a.as_ptr();
        reshape(&mut a, (2, 3))[4] = 7.0;
        assert_eq!((a.as_ptr(), a[[1, 1]], a[[0, 0]]), (p, 7.0, 1.5));
        reshape(&mut a, (3, 2));
        assert_eq!((a.dim(), a[[1, 1]]), ((3, 2), 0.0));
        clear(&mut a);
        assert!(a.is_empty());
        let t: Array3<f32> =
            Array3::from_shape_fn((2, 2, 3), |(i, j, k)| (i * 6 + j * 3 + k) as f32);
        assert_eq!(block(&t, 1), &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        assert_eq!(view_slice(t.slice(s![1, 1, 1..])), &[10.0, 11.0]);
    }

    #[test]
    #[should_panic(expected = "standard layout")]
    fn a_transposed_view_is_not_a_row_major_slice() {
        let a = Array2::<f32>::zeros((2, 3));
        view_slice(a.t());
    }
}
