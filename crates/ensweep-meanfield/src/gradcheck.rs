//! Finite-difference checks of the hand-written backward pass (gBP), in `f64`, through the
//! same generic code the trainer runs in `f32`.

use crate::model::{self, Layer, Mode, Net, Work};
use ensweep_trainkit::arrays::{std_mut, std_slice};
use ndarray::{Array2, ArrayView2};
use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// A small net with interior pi (so that every gradient is a true derivative) and its data.
fn setup() -> (Net<f64>, Vec<f64>, Vec<u8>, Vec<Vec<f64>>) {
    let mut rng = Pcg64Mcg::new(42);
    let sizes = [7usize, 6, 5, 4];
    let layers = sizes
        .windows(2)
        .map(|w| {
            let dim = (w[0], w[1]);
            let pi = Array2::from_shape_simple_fn(dim, || 0.1 + 0.8 * rng.random::<f64>());
            let m = Array2::from_shape_simple_fn(dim, || rng.random::<f64>() * 2.0 - 1.0);
            let xi = Array2::from_shape_simple_fn(dim, || 0.05 + 0.3 * rng.random::<f64>());
            Layer::from_params(pi, m, xi)
        })
        .collect();
    let net = Net {
        layers,
        fan_in_scaling: true,
    };
    let n = 3;
    // Non-negative inputs with some exact zeros, as MNIST pixels are.
    let x: Vec<f64> = (0..n * 7)
        .map(|i| {
            if i % 3 == 1 {
                0.0
            } else {
                0.2 + rng.random::<f64>()
            }
        })
        .collect();
    let y = vec![0u8, 3, 2];
    let eps: Vec<Vec<f64>> = sizes[1..]
        .iter()
        .map(|&o| {
            (0..n * o)
                .map(|_| rng.random::<f64>() * 2.0 - 1.0)
                .collect()
        })
        .collect();
    (net, x, y, eps)
}

/// Mean cross-entropy with fixed noise; leaves the work buffers filled.
fn loss(net: &Net<f64>, x: &[f64], y: &[u8], eps: &[Vec<f64>], w: &mut Work<f64>) -> f64 {
    w.inputs[0].clear();
    for r in x.chunks(net.layers[0].n_in) {
        w.inputs[0].push_dense(r);
    }
    let mut l = 0;
    model::forward(net, w, Mode::MeanField, Some(y), &mut |e| {
        e.copy_from_slice(&eps[l][..e.len()]);
        l += 1;
    });
    w.loss_sum / y.len() as f64
}

#[test]
fn backward_matches_finite_differences_for_every_parameter_and_the_inputs() {
    let (net, x, y, eps) = setup();
    let mut w = Work::new(&net, 8);
    let n = y.len();
    loss(&net, &x, &y, &eps, &mut w);
    model::backward(&net, &mut w, &y);
    let h = 1e-6;
    let mut checked = 0;
    for l in 0..net.layers.len() {
        let (n_in, n_out) = (net.layers[l].n_in, net.layers[l].n_out);
        let (mut a, mut b) = (Array2::zeros((n_in, n_out)), Array2::zeros((n_in, n_out)));
        model::accumulate_products(
            std::slice::from_ref(&w),
            l,
            (n_in, n_out),
            0,
            n_in,
            std_mut(&mut a),
            std_mut(&mut b),
        );
        let k = net.scale(l) / n as f64;
        let mut g: [Array2<f64>; 3] = std::array::from_fn(|_| Array2::zeros((n_in, n_out)));
        let ly = &net.layers[l];
        let (a, b) = (std_slice(&a), std_slice(&b));
        let [pi, m, xi] = [&ly.pi, &ly.m, &ly.xi].map(std_slice);
        let [gp, gm, gx] = g.each_mut().map(std_mut);
        model::param_grads(k, pi, m, xi, a, b, gp, gm, gx);
        for group in 0..3 {
            for ((j, o), _) in ly.pi.indexed_iter() {
                let analytic = g[group][[j, o]];
                let at = |delta: f64| {
                    let mut probe = net.clone();
                    let lay = &mut probe.layers[l];
                    [&mut lay.pi, &mut lay.m, &mut lay.xi][group][[j, o]] += delta;
                    lay.refresh();
                    let mut w2 = Work::new(&probe, 8);
                    loss(&probe, &x, &y, &eps, &mut w2)
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                let tol = 1e-6 * (1.0 + numeric.abs());
                assert!(
                    (analytic - numeric).abs() < tol,
                    "layer {l} group {group} connection ({j}, {o}): analytic {analytic} numeric {numeric}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * (7 * 6 + 6 * 5 + 5 * 4));
    // Inputs (summed loss): every pixel, including the zero ones.
    let mut gin = Array2::zeros((n, 7));
    let dense = ArrayView2::from_shape((n, 7), &x[..]).expect("n x 7 inputs");
    model::input_gradient(&net, &w, dense, &mut gin);
    let gin = std_slice(&gin);
    for i in 0..x.len() {
        let at = |delta: f64| {
            let mut x2 = x.clone();
            x2[i] += delta;
            let mut w2 = Work::new(&net, 8);
            loss(&net, &x2, &y, &eps, &mut w2) * n as f64
        };
        // One-sided from the positive side for the zero pixels (the input domain is x >= 0).
        let numeric = if x[i] == 0.0 {
            (at(2.0 * h) - at(h)) / h
        } else {
            (at(h) - at(-h)) / (2.0 * h)
        };
        let tol = 1e-5 * (1.0 + numeric.abs());
        assert!(
            (gin[i] - numeric).abs() < tol,
            "input {i}: analytic {} numeric {numeric}",
            gin[i]
        );
    }
}
