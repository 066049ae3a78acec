//! Feature-learning strength ||W_T - W_0||_F (Huang, Singh & Rajan 2024): how far training moved
//! a layer from its initialisation. A lazy (kernel-regime) net barely moves its weights; a rich one
//! moves them a lot, and the paper finds richer learning gives less degenerate solutions.
//!
//! The trainer stores the initial matrix of a layer `L` as `L.init` beside the trained `L`
//! (`rec.init` / `rec`, `in.init` / `in`, `out.init` / `out`).

use super::linalg::MatExt;
use ensweep_core::output::WeightMatrix;
use ndarray::Array2;
use std::collections::BTreeMap;

/// Suffix of the layer name under which a trainer stores a layer's initial weights.
pub const INIT_SUFFIX: &str = ".init";

/// ||W_T - W_0||_F of one layer, or `None` when either matrix is missing or the shapes differ.
pub fn feature_learning_strength(weights: &[WeightMatrix], layer: &str) -> Option<f64> {
    let init_name = format!("{layer}{INIT_SUFFIX}");
    let trained = weights.iter().find(|w| w.layer == layer)?;
    let init = weights.iter().find(|w| w.layer == init_name)?;
    if (trained.rows, trained.cols) != (init.rows, init.cols) {
        return None;
    }
    let sq: f64 = trained
        .values
        .iter()
        .zip(&init.values)
        .map(|(t, i)| (f64::from(*t) - f64::from(*i)).powi(2))
        .sum();
    Some(sq.sqrt())
}

/// The same from a run's layers as the weights table holds them (layer name -> matrix).
pub fn feature_learning_of_layers(
    layers: &BTreeMap<String, Array2<f64>>,
    layer: &str,
) -> Option<f64> {
    let trained = layers.get(layer)?;
    let init = layers.get(&format!("{layer}{INIT_SUFFIX}"))?;
    (trained.shape() == init.shape()).then(|| (trained - init).norm())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diversity::linalg::from_rows;

    fn matrix(layer: &str, values: Vec<f32>) -> WeightMatrix {
        WeightMatrix {
            layer: layer.into(),
            rows: 2,
            cols: 2,
            values,
        }
    }

    #[test]
    fn frobenius_norm_of_the_change() {
        let w = [
            matrix("rec.init", vec![1.0, 0.0, 0.0, 1.0]),
            matrix("rec", vec![4.0, 0.0, 0.0, 5.0]),
        ];
        assert_eq!(feature_learning_strength(&w, "rec"), Some(5.0));
    }

    #[test]
    fn from_the_weights_table_layers() {
        let mut layers = BTreeMap::new();
        layers.insert("rec".to_string(), from_rows(1, 2, &[3.0, 4.0]));
        assert_eq!(feature_learning_of_layers(&layers, "rec"), None);
        layers.insert("rec.init".to_string(), Array2::zeros((1, 2)));
        assert_eq!(feature_learning_of_layers(&layers, "rec"), Some(5.0));
    }

    #[test]
    fn missing_initial_weights_give_none() {
        let w = [matrix("rec", vec![1.0; 4])];
        assert_eq!(feature_learning_strength(&w, "rec"), None);
        assert_eq!(feature_learning_strength(&w, "in"), None);
    }
}
