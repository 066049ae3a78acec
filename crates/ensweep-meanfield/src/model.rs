//! The spike-and-slab network: layers of (pi, m, Xi), the mean-field forward pass and the exact
//! backward pass (gBP) for a chunk of examples.
//!
//! Equations: science.md 1.1-1.4. Parameters are stored input-major (`[n_in][n_out]`) so that an
//! input unit's outgoing connections are one contiguous row (see `kernels`). Everything is generic
//! over [`Float`] so that the finite-difference test runs this very code in `f64`.

use crate::float::Float;
use crate::kernels;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// One fully connected spike-and-slab layer: per connection `P(w) = pi delta(w) + (1-pi) N(m, Xi)`.
#[derive(Clone, Debug)]
pub struct Layer<F> {
    /// Fan-in.
    pub n_in: usize,
    /// Fan-out.
    pub n_out: usize,
    /// Spike probability, `[n_in][n_out]`, kept in `[0, 1]` by projection.
    pub pi: Vec<F>,
    /// Slab mean.
    pub m: Vec<F>,
    /// Slab variance, kept `>= 0` by projection.
    pub xi: Vec<F>,
    /// Cached mean `mu = (1-pi) m`.
    pub mu: Vec<F>,
    /// Cached variance `v = (1-pi)(Xi + pi m^2)`.
    pub v: Vec<F>,
}

/// The moments of one connection: `mu = (1-pi) m`, `v = (1-pi) Xi + pi (1-pi) m^2`.
#[inline(always)]
pub fn moments<F: Float>(pi: F, m: F, xi: F) -> (F, F) {
    let q = F::one() - pi;
    (q * m, q * (xi + pi * m * m))
}

impl<F: Float> Layer<F> {
    /// A layer from explicit parameters (`[n_in][n_out]` each); computes the moments.
    pub fn from_params(n_in: usize, n_out: usize, pi: Vec<F>, m: Vec<F>, xi: Vec<F>) -> Self {
        assert!(pi.len() == n_in * n_out && m.len() == pi.len() && xi.len() == pi.len());
        let mut l = Layer {
            n_in,
            n_out,
            pi,
            m,
            xi,
            mu: vec![F::zero(); n_in * n_out],
            v: vec![F::zero(); n_in * n_out],
        };
        l.refresh();
        l
    }

    /// Reference initialisation: pi ~ U(0, pi_max) (exactly 0 when pi_max = 0), Xi ~ U(0, xi_max),
    /// m ~ N(0, m_std^2).
    pub fn init(
        n_in: usize,
        n_out: usize,
        pi_max: f64,
        xi_max: f64,
        m_std: f64,
        rng: &mut impl rand::Rng,
    ) -> Self {
        let n = n_in * n_out;
        let mut u = |hi: f64| -> Vec<F> {
            (0..n)
                .map(|_| {
                    if hi == 0.0 {
                        F::zero()
                    } else {
                        F::of(rng.random::<f64>() * hi)
                    }
                })
                .collect()
        };
        let pi = u(pi_max);
        let xi = u(xi_max);
        let m = (0..n)
            .map(|_| {
                let e: f64 = StandardNormal.sample(rng);
                F::of(m_std * e)
            })
            .collect::<Vec<F>>();
        Self::from_params(n_in, n_out, pi, m, xi)
    }

    /// Recomputes the cached moments from (pi, m, Xi).
    pub fn refresh(&mut self) {
        for i in 0..self.pi.len() {
            (self.mu[i], self.v[i]) = moments(self.pi[i], self.m[i], self.xi[i]);
        }
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.pi.len()
    }

    /// Whether the layer has no connection.
    pub fn is_empty(&self) -> bool {
        self.pi.is_empty()
    }
}

/// A stack of layers; hidden units are ReLU, the output is a softmax.
#[derive(Clone, Debug)]
pub struct Net<F> {
    /// Layers from input to output.
    pub layers: Vec<Layer<F>>,
    /// Divide pre-activations by sqrt(fan-in) (the reference code does).
    pub fan_in_scaling: bool,
}

impl<F: Float> Net<F> {
    /// The pre-activation scale of layer `l`.
    pub fn scale(&self, l: usize) -> F {
        if self.fan_in_scaling {
            F::one() / F::of(self.layers[l].n_in as f64).sqrt()
        } else {
            F::one()
        }
    }

    /// Number of output classes.
    pub fn n_classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.n_out)
    }
}

/// Sparse rows (CSR): the non-zero entries of a set of activation vectors, column indices sorted.
#[derive(Clone, Debug, Default)]
pub struct SparseRows<F> {
    ptr: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<F>,
}

impl<F: Float> SparseRows<F> {
    /// Empty set of rows.
    pub fn new() -> Self {
        SparseRows {
            ptr: vec![0],
            idx: Vec::new(),
            val: Vec::new(),
        }
    }
    /// Forgets all rows (keeps the allocations).
    pub fn clear(&mut self) {
        self.ptr.truncate(1);
        self.idx.clear();
        self.val.clear();
    }
    /// Appends the non-zeros of a dense row.
    pub fn push_dense(&mut self, row: &[F]) {
        for (j, &x) in row.iter().enumerate() {
            if x != F::zero() {
                self.idx.push(j as u32);
                self.val.push(x);
            }
        }
        self.ptr.push(self.idx.len());
    }
    /// Appends an already sparse row.
    pub fn push_sparse(&mut self, idx: &[u32], val: &[F]) {
        self.idx.extend_from_slice(idx);
        self.val.extend_from_slice(val);
        self.ptr.push(self.idx.len());
    }
    /// Appends `max(row, 0)` (a ReLU layer's output).
    pub fn push_relu(&mut self, row: &[F]) {
        for (j, &x) in row.iter().enumerate() {
            if x > F::zero() {
                self.idx.push(j as u32);
                self.val.push(x);
            }
        }
        self.ptr.push(self.idx.len());
    }
    /// Row `b` as (indices, values).
    #[inline]
    pub fn row(&self, b: usize) -> (&[u32], &[F]) {
        let (s, e) = (self.ptr[b], self.ptr[b + 1]);
        (&self.idx[s..e], &self.val[s..e])
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.ptr.len() - 1
    }
    /// Number of stored non-zeros.
    pub fn nnz(&self) -> usize {
        self.idx.len()
    }
}

/// Buffers of the forward and backward pass of one chunk of examples.
#[derive(Clone, Debug)]
pub struct Work<F> {
    /// Examples in the chunk.
    pub n: usize,
    /// Per layer: its input activations, sparse.
    pub inputs: Vec<SparseRows<F>>,
    /// Per layer: pre-activations `[b][n_out]` (with noise).
    pub z: Vec<Vec<F>>,
    /// Per layer: the noise `eps` drawn for each (example, unit).
    pub eps: Vec<Vec<F>>,
    /// Per layer: `eps / Delta` (0 where `Delta == 0`).
    pub ratio: Vec<Vec<F>>,
    /// Per layer: `dC/dz` of each example (not divided by the batch size).
    pub delta: Vec<Vec<F>>,
    /// Per layer: `s = delta eps / Delta`.
    pub s: Vec<Vec<F>>,
    /// Softmax output `[b][classes]`.
    pub probs: Vec<F>,
    /// Sum of the cross-entropies of the chunk.
    pub loss_sum: f64,
    /// Correctly classified examples (argmax of the output).
    pub correct: usize,
}

/// How the forward pass treats the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Mean-field: `z = (mu.a + eps sqrt(v.(a*a))) / sqrt(N)` with noise eps.
    MeanField,
    /// Deterministic weights `mu` (a sampled network): `z = mu.a / sqrt(N)`.
    Deterministic,
}

impl<F: Float> Work<F> {
    /// Buffers for up to `cap` examples through `net`'s shape.
    pub fn new(net: &Net<F>, cap: usize) -> Self {
        let per = |f: &dyn Fn(&Layer<F>) -> usize| -> Vec<Vec<F>> {
            net.layers
                .iter()
                .map(|l| vec![F::zero(); cap * f(l)])
                .collect()
        };
        Work {
            n: 0,
            inputs: net.layers.iter().map(|_| SparseRows::new()).collect(),
            z: per(&|l| l.n_out),
            eps: per(&|l| l.n_out),
            ratio: per(&|l| l.n_out),
            delta: per(&|l| l.n_out),
            s: per(&|l| l.n_out),
            probs: vec![F::zero(); cap * net.n_classes()],
            loss_sum: 0.0,
            correct: 0,
        }
    }
}

/// Forward pass of the chunk whose first-layer inputs are already in `w.inputs[0]`.
///
/// `noise` fills each layer's `eps` buffer (`n * n_out` standard normals) in
/// [`Mode::MeanField`]; it is not called in [`Mode::Deterministic`]. When `labels` is given, the
/// loss and the number of correct answers are accumulated into `w`.
pub fn forward<F: Float>(
    net: &Net<F>,
    w: &mut Work<F>,
    mode: Mode,
    labels: Option<&[u8]>,
    noise: &mut dyn FnMut(&mut [F]),
) {
    let n = w.inputs[0].rows();
    w.n = n;
    let depth = net.layers.len();
    for (l, layer) in net.layers.iter().enumerate() {
        let n_out = layer.n_out;
        let scale = net.scale(l);
        let (before, after) = w.inputs.split_at_mut(l + 1);
        let input = &before[l];
        let z = &mut w.z[l][..n * n_out];
        let ratio = &mut w.ratio[l][..n * n_out];
        match mode {
            Mode::MeanField => {
                let eps = &mut w.eps[l][..n * n_out];
                noise(eps);
                for b in 0..n {
                    let (idx, val) = input.row(b);
                    let zr = &mut z[b * n_out..(b + 1) * n_out];
                    let rr = &mut ratio[b * n_out..(b + 1) * n_out];
                    kernels::gather_rows(n_out, idx, val, &layer.mu, Some(&layer.v), zr, rr);
                    let er = &eps[b * n_out..(b + 1) * n_out];
                    for o in 0..n_out {
                        let delta = rr[o].sqrt();
                        zr[o] = (zr[o] + er[o] * delta) * scale;
                        rr[o] = if delta > F::zero() {
                            er[o] / delta
                        } else {
                            F::zero()
                        };
                    }
                }
            }
            Mode::Deterministic => {
                for b in 0..n {
                    let (idx, val) = input.row(b);
                    let zr = &mut z[b * n_out..(b + 1) * n_out];
                    kernels::gather_rows(n_out, idx, val, &layer.mu, None, zr, &mut []);
                    zr.iter_mut().for_each(|x| *x = *x * scale);
                }
                ratio.fill(F::zero());
            }
        }
        if l + 1 < depth {
            let next = &mut after[0];
            next.clear();
            for b in 0..n {
                next.push_relu(&z[b * n_out..(b + 1) * n_out]);
            }
        }
    }
    // Softmax, loss, accuracy.
    let k = net.n_classes();
    let z = &w.z[depth - 1];
    w.loss_sum = 0.0;
    w.correct = 0;
    for b in 0..n {
        let zr = &z[b * k..(b + 1) * k];
        let pr = &mut w.probs[b * k..(b + 1) * k];
        let mx = zr.iter().fold(F::neg_infinity(), |a, &x| a.max(x));
        let mut sum = F::zero();
        for (p, &x) in pr.iter_mut().zip(zr) {
            *p = (x - mx).exp();
            sum = sum + *p;
        }
        pr.iter_mut().for_each(|p| *p = *p / sum);
        if let Some(labels) = labels {
            let y = labels[b] as usize;
            // log-softmax, exact even when the probability underflows.
            w.loss_sum -= (zr[y] - mx).to64() - sum.to64().ln();
            if argmax(zr) == y {
                w.correct += 1;
            }
        }
    }
}

/// Index of the largest value (first one on ties).
pub fn argmax<F: Float>(x: &[F]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

/// Backward pass (gBP) of the chunk after a [`Mode::MeanField`] forward pass: fills `delta` and
/// `s` of every layer. The output error is `softmax - onehot(label)` per example.
///
/// Hidden layers use ReLU'(z) = 1 for z >= 0, as the reference code does.
pub fn backward<F: Float>(net: &Net<F>, w: &mut Work<F>, labels: &[u8]) {
    let n = w.n;
    let depth = net.layers.len();
    let k = net.n_classes();
    {
        let d = &mut w.delta[depth - 1][..n * k];
        d.copy_from_slice(&w.probs[..n * k]);
        for b in 0..n {
            d[b * k + labels[b] as usize] = d[b * k + labels[b] as usize] - F::one();
        }
    }
    for l in (0..depth).rev() {
        let n_out = net.layers[l].n_out;
        let (d, r) = (&w.delta[l][..n * n_out], &w.ratio[l][..n * n_out]);
        for ((s, &d), &r) in w.s[l][..n * n_out].iter_mut().zip(d).zip(r) {
            *s = d * r;
        }
        if l > 0 {
            let layer = &net.layers[l];
            let n_in = layer.n_in;
            let scale = net.scale(l);
            let (lo, hi) = w.delta.split_at_mut(l);
            let prev = &mut lo[l - 1];
            for b in 0..n {
                kernels::backprop_rows(
                    n_out,
                    &layer.mu,
                    &layer.v,
                    &hi[0][b * n_out..(b + 1) * n_out],
                    &w.s[l][b * n_out..(b + 1) * n_out],
                    &w.z[l - 1][b * n_in..(b + 1) * n_in],
                    scale,
                    &mut prev[b * n_in..(b + 1) * n_in],
                );
            }
        }
    }
}

/// Gradient of the summed loss with respect to the network's inputs (dense `[b][784]`) after
/// [`backward`]: the same recursion as between hidden layers, without the ReLU mask.
pub fn input_gradient<F: Float>(net: &Net<F>, w: &Work<F>, inputs_dense: &[F], out: &mut [F]) {
    let layer = &net.layers[0];
    let (n_in, n_out) = (layer.n_in, layer.n_out);
    let scale = net.scale(0);
    for b in 0..w.n {
        let x = &inputs_dense[b * n_in..(b + 1) * n_in];
        // Inputs are >= 0 in MNIST; the kernel's mask `x >= 0` then keeps every unit, and its
        // `a_j = x_j` term is the input itself.
        debug_assert!(x.iter().all(|&v| v >= F::zero()));
        kernels::backprop_rows(
            n_out,
            &layer.mu,
            &layer.v,
            &w.delta[0][b * n_out..(b + 1) * n_out],
            &w.s[0][b * n_out..(b + 1) * n_out],
            x,
            scale,
            &mut out[b * n_in..(b + 1) * n_in],
        );
    }
}

/// Accumulates `A += a^T delta` and `B += (a*a)^T s` of layer `l` for the input rows `j0..j1`
/// (`acc_*` hold rows `j0..j1` only), over the examples of `w` in order.
pub fn accumulate_products<F: Float>(
    w: &Work<F>,
    l: usize,
    n_out: usize,
    j0: usize,
    j1: usize,
    acc_a: &mut [F],
    acc_b: &mut [F],
) {
    let input = &w.inputs[l];
    for b in 0..w.n {
        let (idx, val) = input.row(b);
        let lo = idx.partition_point(|&j| (j as usize) < j0);
        let hi = lo + idx[lo..].partition_point(|&j| (j as usize) < j1);
        if lo == hi {
            continue;
        }
        kernels::scatter_rows(
            n_out,
            j0,
            &idx[lo..hi],
            &val[lo..hi],
            &w.delta[l][b * n_out..(b + 1) * n_out],
            &w.s[l][b * n_out..(b + 1) * n_out],
            acc_a,
            acc_b,
        );
    }
}

/// Parameter gradients from the products: with `k = 1 / (batch sqrt(N))`,
///
/// * `dC/dm  = k ((1-pi) A + pi mu B)`
/// * `dC/dXi = k (1-pi) B / 2`
/// * `dC/dpi = k (-m A + (-Xi + (1-2pi) m^2) B / 2)`
///
/// (science.md 1.3; all slices element-aligned).
#[allow(clippy::too_many_arguments)]
pub fn param_grads<F: Float>(
    k: F,
    pi: &[F],
    m: &[F],
    xi: &[F],
    acc_a: &[F],
    acc_b: &[F],
    g_pi: &mut [F],
    g_m: &mut [F],
    g_xi: &mut [F],
) {
    let half = F::of(0.5);
    let two = F::of(2.0);
    for i in 0..pi.len() {
        let (p, mm, x, a, b) = (pi[i], m[i], xi[i], acc_a[i], acc_b[i]);
        let q = F::one() - p;
        g_m[i] = k * (q * a + p * q * mm * b);
        g_xi[i] = k * q * b * half;
        g_pi[i] = k * (-mm * a + (-x + (F::one() - two * p) * mm * mm) * b * half);
    }
}

/// Fills `out` with standard normals from `rng`.
pub fn fill_normal<F: Float>(rng: &mut impl rand::Rng, out: &mut [F]) {
    for x in out {
        let e: f64 = StandardNormal.sample(rng);
        *x = F::of(e);
    }
}
