//! The data set as the trainer and the evaluation read it: sparse rows of MNIST, prepared once
//! per run (or once per data set, shared by the cells of a worker).

use crate::model::SparseRows;
use ensweep_trainkit::mnist::{Mnist, PIXELS};

/// A data set prepared for training: sparse images and labels.
pub struct Prepared {
    /// Training images, sparse.
    pub train_x: SparseRows<f32>,
    /// Training labels.
    pub train_y: Vec<u8>,
    /// Test images, sparse.
    pub test_x: SparseRows<f32>,
    /// Test labels.
    pub test_y: Vec<u8>,
    /// For each pixel, whether it is non-zero in some training image.
    pub active_inputs: Vec<bool>,
}

impl Prepared {
    /// Sparse copies of `data` (all of it).
    pub fn new(data: &Mnist) -> Self {
        let sparse = |x: &[f32]| {
            let mut s = SparseRows::new();
            x.chunks(PIXELS).for_each(|r| s.push_dense(r));
            s
        };
        let mut active_inputs = vec![false; PIXELS];
        for r in data.train.images.chunks(PIXELS) {
            for (a, &x) in active_inputs.iter_mut().zip(r) {
                *a |= x != 0.0;
            }
        }
        Prepared {
            train_x: sparse(&data.train.images),
            train_y: data.train.labels.clone(),
            test_x: sparse(&data.test.images),
            test_y: data.test.labels.clone(),
            active_inputs,
        }
    }
}
