//! The spike-and-slab network: layers of (pi, m, Xi), the mean-field forward pass and the exact
//! backward pass (gBP) for a chunk of examples.
//!
//! Equations: docs/PAPERS.md 1.1-1.4. Parameters are `ndarray` matrices stored input-major
//! (`n_in x n_out`, standard layout) so that an input unit's outgoing connections are one
//! contiguous row; the kernels (see `kernels`) work on their row-major slices. Everything is
//! generic over [`Float`] so that the finite-difference test runs this very code in `f64`.

use crate::float::Float;
use crate::kernels;
use crate::padded::{self, Aligned, padded_width};
use ensweep_trainkit::arrays::{std_mut, std_slice, view_mut, view_slice};
use ndarray::{Array2, ArrayView2, s};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// One fully connected spike-and-slab layer: per connection `P(w) = pi delta(w) + (1-pi) N(m, Xi)`.
#[derive(Clone, Debug)]
pub struct Layer<F> {
    /// Fan-in.
    pub n_in: usize,
    /// Fan-out.
    pub n_out: usize,
    /// Spike probability, `n_in x n_out`, kept in `[0, 1]` by projection.
    pub pi: Array2<F>,
    /// Slab mean, `n_in x n_out`.
    pub m: Array2<F>,
    /// Slab variance, `n_in x n_out`, kept `>= 0` by projection.
    pub xi: Array2<F>,
    /// Cached mean `mu = (1-pi) m`.
    pub mu: Array2<F>,
    /// Cached variance `v = (1-pi)(Xi + pi m^2)`.
    pub v: Array2<F>,
    /// `mu` and `v` row-interleaved and padded for the forward kernels (a 64-byte aligned
    /// buffer, which an `ndarray` array does not guarantee)
    /// ([`padded::interleave_rows`]: `[n_in][2 padded_width(n_out)]`); kept current by
    /// [`Layer::refresh`] and the training loop's update.
    pub fwd: Aligned<F>,
    /// The transposes of `mu` and `v`, interleaved and padded
    /// ([`padded::interleave_transposed`]: `[n_out][2 padded_width(n_in)]`), for
    /// back-propagation through this layer: set by [`Layer::refresh_transposes`] (the training
    /// loop, for the layers it back-propagates through), emptied by [`Layer::refresh`] so that
    /// it is never stale (back-propagation then transposes on the fly).
    pub bwd: Aligned<F>,
}

/// The moments of one connection: `mu = (1-pi) m`, `v = (1-pi) Xi + pi (1-pi) m^2`.
#[inline(always)]
pub fn moments<F: Float>(pi: F, m: F, xi: F) -> (F, F) {
    let q = F::one() - pi;
    (q * m, q * (xi + pi * m * m))
}

impl<F: Float> Layer<F> {
    /// A layer from explicit parameters (`n_in x n_out` each); computes the moments.
    pub fn from_params(pi: Array2<F>, m: Array2<F>, xi: Array2<F>) -> Self {
        let (n_in, n_out) = pi.dim();
        assert!(m.dim() == pi.dim() && xi.dim() == pi.dim());
        let mut l = Layer {
            n_in,
            n_out,
            pi,
            m,
            xi,
            mu: Array2::zeros((n_in, n_out)),
            v: Array2::zeros((n_in, n_out)),
            fwd: Aligned::zeros(n_in * 2 * padded_width(n_out)),
            bwd: Aligned::default(),
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
        // Drawn in row-major order, matrix by matrix: pi, Xi, then m. Collected into a `Vec`
        // and then shaped: `from_shape_simple_fn` costs 2.5x the instructions here.
        let dim = (n_in, n_out);
        let shaped = |v: Vec<F>| Array2::from_shape_vec(dim, v).expect("n_in x n_out values");
        let mut u = |hi: f64| -> Array2<F> {
            shaped(
                (0..n_in * n_out)
                    .map(|_| {
                        if hi == 0.0 {
                            F::zero()
                        } else {
                            F::of(rng.random::<f64>() * hi)
                        }
                    })
                    .collect(),
            )
        };
        let pi = u(pi_max);
        let xi = u(xi_max);
        let m = shaped(
            (0..n_in * n_out)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(rng);
                    F::of(m_std * e)
                })
                .collect(),
        );
        Self::from_params(pi, m, xi)
    }

    /// Recomputes the cached moments and their interleaved copy from (pi, m, Xi), and forgets
    /// the transposes (see `bwd`).
    pub fn refresh(&mut self) {
        // Zipped slices (they vectorise; a five-way `Zip` does not).
        let (pi, m, xi) = (std_slice(&self.pi), std_slice(&self.m), std_slice(&self.xi));
        let out = std_mut(&mut self.mu).iter_mut().zip(std_mut(&mut self.v));
        for ((mu, v), ((&p, &m), &x)) in out.zip(pi.iter().zip(m).zip(xi)) {
            (*mu, *v) = moments(p, m, x);
        }
        padded::interleave_rows(self.mu.view(), self.v.view(), self.fwd.as_mut_slice());
        self.bwd = Aligned::default();
    }

    /// Recomputes `bwd` from `mu` and `v` (the training loop calls this after each
    /// step for the layers it back-propagates through).
    pub fn refresh_transposes(&mut self) {
        let len = self.n_out * 2 * padded_width(self.n_in);
        if self.bwd.len() != len {
            self.bwd = Aligned::zeros(len);
        }
        let out = self.bwd.as_mut_slice();
        padded::interleave_transposed(self.mu.view(), self.v.view(), out);
    }

    /// The (pi, Xi) rows of the layer, one per input unit, as slices: loops over every
    /// connection use these rather than `ndarray`'s row or indexed iterators, which do not
    /// fold (callgrind: +28 % in `layer_stats`, +5.9 M per run in the perturbation plan).
    pub fn pi_xi_rows(&self) -> impl Iterator<Item = (&[F], &[F])> {
        let n_out = self.n_out.max(1);
        (std_slice(&self.pi).chunks(n_out)).zip(std_slice(&self.xi).chunks(n_out))
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
#[derive(Clone, Debug)]
pub struct SparseRows<F> {
    ptr: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<F>,
}

impl<F: Float> Default for SparseRows<F> {
    /// No rows (the row pointers start with the leading 0, as [`SparseRows::new`]'s do).
    fn default() -> Self {
        Self::new()
    }
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
    /// Appends `max(row, 0)` (a ReLU layer's output). Branch-free: every entry is written
    /// and the end advances only past positive ones (about half of a hidden layer's units
    /// are on, in no predictable pattern, so a branch would mispredict every other unit).
    pub fn push_relu(&mut self, row: &[F]) {
        let mut len = self.idx.len();
        self.idx.resize(len + row.len(), 0);
        self.val.resize(len + row.len(), F::zero());
        let (idx, val) = (&mut self.idx[..], &mut self.val[..]);
        for (j, &x) in row.iter().enumerate() {
            idx[len] = j as u32;
            val[len] = x;
            len += usize::from(x > F::zero());
        }
        self.idx.truncate(len);
        self.val.truncate(len);
        self.ptr.push(len);
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

/// Pixel-major (CSC) copy of the first-layer inputs of a chunk: for every input unit, the
/// examples where it is non-zero, in example order. Lets the gradient products of the sparse
/// layer run as register-blocked gathers instead of read-modify-write scatters.
#[derive(Clone, Debug, Default)]
pub struct SparseCols<F> {
    ptr: Vec<usize>,
    row: Vec<u32>,
    val: Vec<F>,
    /// Scratch of the counting sort (next free slot per column).
    next: Vec<usize>,
}

impl<F: Float> SparseCols<F> {
    /// Rebuilds from sparse rows with `n_cols` columns (counting sort, stable in the rows).
    pub fn build(&mut self, x: &SparseRows<F>, n_cols: usize) {
        self.build_rows(n_cols, (0..x.rows()).map(|b| x.row(b)));
    }
    /// Rebuilds from rows `ids` of `src` (row `b` of the result is `src` row `ids[b]`), with
    /// `n_cols` columns, without an intermediate row-major copy.
    pub fn build_from(&mut self, src: &SparseRows<F>, ids: &[usize], n_cols: usize) {
        self.build_rows(n_cols, ids.iter().map(|&i| src.row(i)));
    }
    /// Counting sort of the given rows (walked twice: counts, then placement; stable in the
    /// rows).
    fn build_rows<'a>(
        &mut self,
        n_cols: usize,
        rows: impl Iterator<Item = (&'a [u32], &'a [F])> + Clone,
    ) where
        F: 'a,
    {
        self.ptr.clear();
        self.ptr.resize(n_cols + 1, 0);
        let mut nnz = 0;
        for (idx, _) in rows.clone() {
            nnz += idx.len();
            for &j in idx {
                self.ptr[j as usize + 1] += 1;
            }
        }
        for j in 0..n_cols {
            self.ptr[j + 1] += self.ptr[j];
        }
        self.row.resize(nnz, 0);
        self.val.resize(nnz, F::zero());
        let mut next = std::mem::take(&mut self.next);
        next.clear();
        next.extend_from_slice(&self.ptr[..n_cols]);
        for (b, (idx, val)) in rows.enumerate() {
            for (&j, &v) in idx.iter().zip(val) {
                let p = &mut next[j as usize];
                self.row[*p] = b as u32;
                self.val[*p] = v;
                *p += 1;
            }
        }
        self.next = next;
    }
    /// The raw arrays: column pointers, example indices, values.
    pub fn parts(&self) -> (&[usize], &[u32], &[F]) {
        (&self.ptr, &self.row, &self.val)
    }
    /// Column `j` as (example indices, values).
    #[inline]
    pub fn col(&self, j: usize) -> (&[u32], &[F]) {
        let (s, e) = (self.ptr[j], self.ptr[j + 1]);
        (&self.row[s..e], &self.val[s..e])
    }
}

/// Buffers of the forward and backward pass of one chunk of examples.
#[derive(Clone, Debug)]
pub struct Work<F> {
    /// Examples in the chunk.
    pub n: usize,
    /// Per layer: its input activations, sparse. Pixels are ~81 % zeros and ReLU outputs
    /// about half, so every layer's forward and gradient products skip the zeros. Layer 0's is
    /// filled by the caller of [`forward`]; the others by the forward pass.
    pub inputs: Vec<SparseRows<F>>,
    /// Per layer: the same inputs input-unit-major, for the gradient products (layer 0's built
    /// by [`forward`] or the training loop, the others by [`backward`]).
    pub cols: Vec<SparseCols<F>>,
    /// Per layer `l >= 1`: its input activations `a = ReLU(z^{l-1})`, dense `cap x n_in`
    /// (the first `n` rows used).
    pub act: Vec<Array2<F>>,
    /// Scratch of the largest `b x n_in` product (flat: its shape changes with the layer).
    tmp: Vec<F>,
    /// Per-example cursors of the first-layer kernel.
    cursors: Vec<usize>,
    /// Per layer: pre-activations `cap x n_out` (with noise).
    pub z: Vec<Array2<F>>,
    /// Per layer: the noise `eps` drawn for each (example, unit).
    pub eps: Vec<Array2<F>>,
    /// Per layer: `eps / Delta` (0 where `Delta == 0`).
    pub ratio: Vec<Array2<F>>,
    /// Per layer: `dC/dz` of each example (not divided by the batch size).
    pub delta: Vec<Array2<F>>,
    /// Per layer: `s = delta eps / Delta`.
    pub s: Vec<Array2<F>>,
    /// Per layer: `delta` and `s` row-interleaved and padded (`[b][2 padded_width(n_out)]`,
    /// 64-byte aligned), for the gradient products (built by [`backward`]).
    pub ds: Vec<Aligned<F>>,
    /// Softmax output `cap x classes`.
    pub probs: Array2<F>,
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
        let per = |f: &dyn Fn(&Layer<F>) -> usize| -> Vec<Array2<F>> {
            net.layers
                .iter()
                .map(|l| Array2::zeros((cap, f(l))))
                .collect()
        };
        let max_in = net.layers.iter().map(|l| l.n_in).max().unwrap_or(0);
        Work {
            n: 0,
            inputs: net.layers.iter().map(|_| SparseRows::new()).collect(),
            cols: net.layers.iter().map(|_| SparseCols::default()).collect(),
            act: per(&|l| l.n_in),
            tmp: vec![F::zero(); cap * max_in],
            cursors: vec![0; cap],
            z: per(&|l| l.n_out),
            eps: per(&|l| l.n_out),
            ratio: per(&|l| l.n_out),
            delta: per(&|l| l.n_out),
            s: per(&|l| l.n_out),
            ds: net
                .layers
                .iter()
                .map(|l| Aligned::zeros(cap * 2 * padded_width(l.n_out)))
                .collect(),
            probs: Array2::zeros((cap, net.n_classes())),
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
    w.cols[0].build(&w.inputs[0], net.layers[0].n_in);
    let inputs = std::mem::take(&mut w.inputs[0]);
    let rows: Vec<(&[u32], &[F])> = (0..inputs.rows()).map(|b| inputs.row(b)).collect();
    forward_rows(net, w, &rows, mode, labels, noise);
    drop(rows);
    w.inputs[0] = inputs;
}

/// [`forward`] on first-layer inputs given as sparse rows (sorted pixel indices and values of
/// each example of the chunk); neither reads `w.inputs[0]` nor builds `w.cols[0]` (the training
/// loop builds those for the gradient products with [`SparseCols::build_from`]).
pub fn forward_rows<F: Float>(
    net: &Net<F>,
    w: &mut Work<F>,
    rows: &[(&[u32], &[F])],
    mode: Mode,
    labels: Option<&[u8]>,
    noise: &mut dyn FnMut(&mut [F]),
) {
    let n = rows.len();
    w.n = n;
    if w.cursors.len() < n {
        w.cursors.resize(n, 0);
    }
    let depth = net.layers.len();
    for (l, layer) in net.layers.iter().enumerate() {
        let n_out = layer.n_out;
        let scale = net.scale(l);
        let mf = mode == Mode::MeanField;
        let z = first_rows_mut(&mut w.z[l], n);
        let ratio = first_rows_mut(&mut w.ratio[l], n);
        // G = mu.a into z and (mean-field) S = v.(a*a) into ratio.
        let pv = layer.fwd.as_slice();
        if l == 0 {
            kernels::forward_rows(n_out, rows, pv, mf, z, ratio, &mut w.cursors);
        } else {
            let sparse = &mut w.inputs[l];
            sparse.clear();
            for row in w.act[l].slice(s![..n, ..]).rows() {
                sparse.push_relu(view_slice(row));
            }
            let hidden: Vec<(&[u32], &[F])> = (0..n).map(|b| sparse.row(b)).collect();
            kernels::forward_rows(n_out, &hidden, pv, mf, z, ratio, &mut w.cursors);
        }
        let act: &mut [F] = if l + 1 < depth {
            first_rows_mut(&mut w.act[l + 1], n)
        } else {
            &mut []
        };
        if mf {
            let eps = first_rows_mut(&mut w.eps[l], n);
            noise(eps);
            if act.is_empty() {
                kernels::mean_field_finish(z, ratio, eps, scale);
            } else {
                kernels::mean_field_finish_relu(z, ratio, eps, scale, act);
            }
        } else {
            kernels::scaled_relu(z, scale, act);
            ratio.fill(F::zero());
        }
    }
    softmax(w, depth - 1, n, labels);
}

/// Softmax of the output layer `out` into `w.probs`, and the loss and the correct answers
/// when `labels` are given.
fn softmax<F: Float>(w: &mut Work<F>, out: usize, n: usize, labels: Option<&[u8]>) {
    w.loss_sum = 0.0;
    w.correct = 0;
    let rows = w.z[out].outer_iter().zip(w.probs.outer_iter_mut());
    for (b, (zr, pr)) in rows.take(n).enumerate() {
        let (zr, pr) = (view_slice(zr), view_mut(pr));
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
    {
        let mut d = w.delta[depth - 1].slice_mut(s![..n, ..]);
        d.assign(&w.probs.slice(s![..n, ..]));
        for (mut row, &y) in d.outer_iter_mut().zip(labels) {
            row[y as usize] = row[y as usize] - F::one();
        }
    }
    for l in 1..depth {
        w.cols[l].build(&w.inputs[l], net.layers[l].n_in);
    }
    for l in (0..depth).rev() {
        let n_out = net.layers[l].n_out;
        let (d, r) = (first_rows(&w.delta[l], n), first_rows(&w.ratio[l], n));
        let ds = w.ds[l].as_mut_slice();
        kernels::delta_times_ratio(n_out, d, r, first_rows_mut(&mut w.s[l], n), ds);
        if l > 0 {
            let layer = &net.layers[l];
            let (lo, hi) = w.delta.split_at_mut(l);
            backprop_dense(
                layer,
                net.scale(l),
                n,
                (first_rows(&hi[0], n), first_rows(&w.s[l], n)),
                first_rows(&w.act[l], n),
                Some(first_rows(&w.z[l - 1], n)),
                first_rows_mut(&mut lo[l - 1], n),
                &mut w.tmp[..n * layer.n_in],
            );
        }
    }
}

/// The first `n` rows of a standard-layout matrix, row-major.
fn first_rows<F>(a: &Array2<F>, n: usize) -> &[F] {
    view_slice(a.slice(s![..n, ..]))
}

/// The first `n` rows of a standard-layout matrix, row-major, mutable.
fn first_rows_mut<F>(a: &mut Array2<F>, n: usize) -> &mut [F] {
    view_mut(a.slice_mut(s![..n, ..]))
}

/// Error at the input of `layer` for `n` examples:
/// `out = scale (delta mu^T + a * (s v^T))`, masked by `ReLU'(z_prev) = [z_prev >= 0]` when
/// `z_prev` is given (hidden layers), unmasked for the network's inputs. All matrices are the
/// row-major `n`-row slices the kernels take.
#[expect(
    clippy::too_many_arguments,
    reason = "a hot loop over flat slices and sizes, no structs"
)]
fn backprop_dense<F: Float>(
    layer: &Layer<F>,
    scale: F,
    n: usize,
    (delta, s): (&[F], &[F]),
    a_prev: &[F],
    z_prev: Option<&[F]>,
    out: &mut [F],
    tmp: &mut [F],
) {
    let (n_in, n_out) = (layer.n_in, layer.n_out);
    let fresh;
    let pq = if layer.bwd.is_empty() {
        let mut t = Aligned::zeros(n_out * 2 * padded_width(n_in));
        padded::interleave_transposed(layer.mu.view(), layer.v.view(), t.as_mut_slice());
        fresh = t;
        fresh.as_slice()
    } else {
        layer.bwd.as_slice()
    };
    // out = delta mu^T and tmp = s v^T: rows of the transposes, weighted per example.
    kernels::dense_pair(
        kernels::wide_registers(),
        n_in,
        n,
        n_out,
        delta,
        s,
        pq,
        out,
        tmp,
    );
    kernels::backprop_finish(out, tmp, a_prev, z_prev, scale);
}

/// Gradient of the summed loss with respect to the network's inputs (dense `b x 784`, into
/// `out` of the same shape) after [`backward`]: the same recursion as between hidden layers,
/// without the ReLU mask.
pub fn input_gradient<F: Float>(
    net: &Net<F>,
    w: &Work<F>,
    inputs_dense: ArrayView2<'_, F>,
    out: &mut Array2<F>,
) {
    let layer = &net.layers[0];
    let n = w.n;
    let mut tmp = vec![F::zero(); n * layer.n_in];
    backprop_dense(
        layer,
        net.scale(0),
        n,
        (first_rows(&w.delta[0], n), first_rows(&w.s[0], n)),
        view_slice(inputs_dense.slice_move(s![..n, ..])),
        None,
        first_rows_mut(out, n),
        &mut tmp,
    );
}

/// Computes `A = a^T delta` and `B = (a*a)^T s` of layer `l` for the input rows `j0..j1`
/// (`acc_*` hold rows `j0..j1` only, overwritten), over the examples of `works` in order (a batch's chunks),
/// from each chunk's input-unit-major inputs `w.cols[l]` (zeros skipped) and its interleaved
/// `w.ds[l]`.
pub fn accumulate_products<F: Float>(
    works: &[Work<F>],
    l: usize,
    (n_in, n_out): (usize, usize),
    j0: usize,
    j1: usize,
    acc_a: &mut [F],
    acc_b: &mut [F],
) {
    debug_assert!(j1 <= n_in);
    let parts: Vec<kernels::GatherPart<'_, F>> = works
        .iter()
        .map(|w| {
            let (ptr, rows, val) = w.cols[l].parts();
            (ptr, rows, val, w.ds[l].as_slice())
        })
        .collect();
    kernels::gather_cols(
        n_out,
        j0,
        &parts,
        &mut acc_a[..(j1 - j0) * n_out],
        &mut acc_b[..(j1 - j0) * n_out],
    );
}

/// Parameter gradients from the products: with `k = 1 / (batch sqrt(N))`,
///
/// * `dC/dm  = k ((1-pi) A + pi mu B)`
/// * `dC/dXi = k (1-pi) B / 2`
/// * `dC/dpi = k (-m A + (-Xi + (1-2pi) m^2) B / 2)`
///
/// (docs/PAPERS.md 1.3; all slices element-aligned).
#[expect(
    clippy::too_many_arguments,
    reason = "a hot loop over flat slices and sizes, no structs"
)]
#[inline(always)]
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
