//! Generalised BPTT of the spike-and-slab RNN (docs/PAPERS.md 2.1): the gradients of the loss
//! with respect to the moments of every layer, back through the steps of [`super::model`]'s
//! forward pass, then through the moments to (pi, m, Xi).

use super::model::{Forward, LossKind, NetMoments, SasNet, step_has_loss};
use crate::kernel::gemm_rows;
use crate::tasks::Batch;
use ensweep_trainkit::arrays::{
    block, block_mut, empty, filled, reshape, std_mut, std_slice, view_mut, view_slice,
};
use ndarray::{Array2, Array3, ArrayViewMut1, Axis, s};

/// Gradients of the nine parameter groups, and the gradients of the moments they come from
/// (all in standard layout: the kernels write their slices).
#[derive(Clone, Debug)]
pub struct Grads {
    /// (pi, m, Xi) of the input layer, each `N x K`.
    pub input: [Array2<f32>; 3],
    /// (pi, m, Xi) of the recurrent layer, each `N x N`.
    pub rec: [Array2<f32>; 3],
    /// (pi, m, Xi) of the read-out, each `O x N`.
    pub out: [Array2<f32>; 3],
    /// dL/d[mu_in | mu_rec], `N x (K+N)`.
    g_mu: Array2<f32>,
    /// dL/d[v_in | v_rec].
    g_v: Array2<f32>,
    /// dL/d mu_out, `O x N`.
    g_mu_out: Array2<f32>,
    /// dL/d v_out.
    g_v_out: Array2<f32>,
    /// dL/dy, (step, trial, output).
    dy: Array3<f32>,
    /// The read-out's dL/dS', (step, trial, output).
    ds_o: Array3<f32>,
    /// dL/dr of the current step, (trial, unit).
    dr: Array2<f32>,
    /// dG of the current and the next step, (parity of the step, trial, unit).
    dg: Array3<f32>,
    /// dS, as `dg`.
    ds: Array3<f32>,
    /// dL/dh carried back through time, (trial, unit).
    dh: Array2<f32>,
    /// Scratch of a product, (trial, unit).
    tmp: Array2<f32>,
}

impl Default for Grads {
    fn default() -> Self {
        Grads {
            input: [empty(), empty(), empty()],
            rec: [empty(), empty(), empty()],
            out: [empty(), empty(), empty()],
            g_mu: empty(),
            g_v: empty(),
            g_mu_out: empty(),
            g_v_out: empty(),
            dy: empty(),
            ds_o: empty(),
            dr: empty(),
            dg: empty(),
            ds: empty(),
            dh: empty(),
            tmp: empty(),
        }
    }
}

impl Grads {
    /// Multiplies every parameter gradient by `a`.
    pub fn scale(&mut self, a: f32) {
        for g in self
            .input
            .iter_mut()
            .chain(self.rec.iter_mut())
            .chain(self.out.iter_mut())
        {
            *g *= a;
        }
    }

    /// Adds the moment gradients of `other` (a part of the same batch) to these.
    pub fn add_moments(&mut self, other: &Grads) {
        self.g_mu += &other.g_mu;
        self.g_v += &other.g_v;
        self.g_mu_out += &other.g_mu_out;
        self.g_v_out += &other.g_v_out;
    }

    /// Parameter gradients from the moment gradients (the chain rule of every layer); the
    /// moment gradients of the input and recurrent layers are the two column blocks of
    /// `g_mu` and `g_v`.
    pub fn finish(&mut self, net: &SasNet) {
        let k = net.input.cols;
        let (g_mu, g_v) = (&self.g_mu, &self.g_v);
        let (mu_in, v_in) = (g_mu.slice(s![.., ..k]), g_v.slice(s![.., ..k]));
        net.input.chain(mu_in, v_in, &mut self.input);
        let (mu_rec, v_rec) = (g_mu.slice(s![.., k..]), g_v.slice(s![.., k..]));
        net.rec.chain(mu_rec, v_rec, &mut self.rec);
        net.out
            .chain(self.g_mu_out.view(), self.g_v_out.view(), &mut self.out);
    }
}

/// Generalised BPTT: gradients of [`loss`] with respect to (pi, m, Xi) of every layer.
pub fn backward(
    net: &SasNet,
    m: &NetMoments,
    kind: LossKind,
    batch: &Batch,
    f: &Forward,
    gr: &mut Grads,
) {
    backward_moments(net, m, kind, batch, f, gr, batch.b);
    gr.finish(net);
}

/// The moment gradients of the loss of a batch of `norm_b` trials, of which `batch` (already
/// run through `f`) is a part: summing [`Grads::add_moments`] over the parts and calling
/// [`Grads::finish`] gives the gradient of the whole batch.
pub fn backward_moments(
    net: &SasNet,
    m: &NetMoments,
    kind: LossKind,
    batch: &Batch,
    f: &Forward,
    gr: &mut Grads,
    norm_b: usize,
) {
    readout_backward(net, m, kind, batch, f, gr, norm_b);
    backward_through_time(net, m, batch, f, gr);
}

/// `dL/dy` of one trial at one step (`mk` its mask, `y` its outputs, `tg` its targets).
fn output_error(
    kind: LossKind,
    (mk, norm): (f32, f32),
    y: &[f32],
    tg: &[f32],
    mut dy: ArrayViewMut1<'_, f32>,
) {
    match kind {
        LossKind::CrossEntropy => {
            let mx = y.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let z: f32 = y.iter().map(|&v| (v - mx).exp()).sum();
            let ts: f32 = tg.iter().sum();
            for ((d, &yv), &tv) in dy.iter_mut().zip(y).zip(tg) {
                let p = (yv - mx).exp() / z;
                *d = mk * (ts * p - tv) / norm;
            }
        }
        LossKind::Mse => {
            for ((d, &yv), &tv) in dy.iter_mut().zip(y).zip(tg) {
                *d = mk * (yv - tv) / norm;
            }
        }
    }
}

/// The steps with a loss: `dL/dy` (into `gr.dy`), the read-out's `dL/ds'` (into `gr.ds_o`) and
/// the read-out's weight gradients.
fn readout_backward(
    net: &SasNet,
    m: &NetMoments,
    kind: LossKind,
    batch: &Batch,
    f: &Forward,
    gr: &mut Grads,
    norm_b: usize,
) {
    let (t, b, n, k, o) = (batch.t, batch.b, net.rec.rows, net.input.cols, net.out.rows);
    let w = k + n;
    let out_var = !m.out.v.is_empty();
    let norm = match kind {
        LossKind::CrossEntropy => norm_b as f32,
        LossKind::Mse => (norm_b * t) as f32,
    };
    let (mask, targets) = (batch.mask_array(), batch.targets());
    reshape(&mut gr.dy, (t, b, o)); // written (and read) only at the steps with a loss
    reshape(&mut gr.ds_o, (t, b, o));
    filled(&mut gr.g_mu_out, (o, n), 0.0);
    filled(&mut gr.g_v_out, (o, n), 0.0);
    for s in (0..t).filter(|&s| step_has_loss(batch, s)) {
        for (j, mut dy) in gr
            .dy
            .index_axis_mut(Axis(0), s)
            .outer_iter_mut()
            .enumerate()
        {
            let mk = mask[[s, j]];
            if mk == 0.0 {
                dy.fill(0.0);
                continue;
            }
            let y = view_slice(f.y.slice(s![s, j, ..]));
            let tg = view_slice(targets.slice(s![s, j, ..]));
            output_error(kind, (mk, norm), y, tg, dy);
        }
        let rates = (&block(&f.a, s + 1)[k..], w);
        let dy = (block(&gr.dy, s), 1, o);
        gemm_rows(o, b, n, dy, rates, true, std_mut(&mut gr.g_mu_out), n);
        if out_var {
            let ds_o = block_mut(&mut gr.ds_o, s);
            let (dy, e_o, d_o) = (block(&gr.dy, s), block(&f.eps_o, s), block(&f.d_o, s));
            for ((q, &dy), (&e, &d)) in ds_o.iter_mut().zip(dy).zip(e_o.iter().zip(d_o)) {
                *q = if d > 0.0 { dy * e / (2.0 * d) } else { 0.0 };
            }
            let rates2 = (&block(&f.a2, s + 1)[k..], w);
            let dso = (block(&gr.ds_o, s), 1, o);
            gemm_rows(o, b, n, dso, rates2, true, std_mut(&mut gr.g_v_out), n);
        }
    }
}

/// Back through time from the last step: `dL/dr`, `dL/dh`, `dG`, `dS` per step and the weight
/// gradients of the input and recurrent layers.
fn backward_through_time(net: &SasNet, m: &NetMoments, batch: &Batch, f: &Forward, gr: &mut Grads) {
    let (t, b, n, k) = (batch.t, batch.b, net.rec.rows, net.input.cols);
    let w = k + n;
    let in_var = !(m.input.v.is_empty() && m.rec.v.is_empty());
    // The weight gradients of the input and recurrent layers (rows [x_s, r_s]) are accumulated
    // step by step while dG_s, dS_s and the rows are in cache.
    reshape(&mut gr.dg, (2, b, n));
    reshape(&mut gr.ds, (2, b, n));
    reshape(&mut gr.dr, (b, n));
    reshape(&mut gr.tmp, (b, n));
    filled(&mut gr.dh, (b, n), 0.0);
    filled(&mut gr.g_mu, (n, w), 0.0);
    filled(&mut gr.g_v, (n, w), 0.0);
    for s in (0..t).rev() {
        // dG, dS of step s go to half `cur` of their buffers; step s + 1's are in the other.
        let cur = s % 2;
        rate_error(m, batch, f, gr, s);
        step_error(net.alpha, f, gr, s, cur);
        let rows = (block(&f.a, s), w); // [x_s, r_s]
        let dg = (block(&gr.dg, cur), 1, n);
        gemm_rows(n, b, w, dg, rows, true, std_mut(&mut gr.g_mu), w);
        if in_var {
            let (rows2, ds) = ((block(&f.a2, s), w), (block(&gr.ds, cur), 1, n));
            gemm_rows(n, b, w, ds, rows2, true, std_mut(&mut gr.g_v), w);
        }
    }
}

/// `dL/dr` of the rates r_{s+1} (into `gr.dr`): from the read-out at step `s` when it has a
/// loss, and from the recurrent input of step `s + 1`.
fn rate_error(m: &NetMoments, batch: &Batch, f: &Forward, gr: &mut Grads, s: usize) {
    let (t, b, n, o) = (batch.t, batch.b, m.rec.mu.nrows(), m.out.mu.nrows());
    let nxt = 1 - s % 2;
    let mut have = false;
    if step_has_loss(batch, s) {
        let dy = (block(&gr.dy, s), o, 1);
        let mu_out = (std_slice(&m.out.mu), n);
        gemm_rows(b, o, n, dy, mu_out, false, std_mut(&mut gr.dr), n);
        if !m.out.v.is_empty() {
            let (ds_o, v_out) = ((block(&gr.ds_o, s), o, 1), (std_slice(&m.out.v), n));
            gemm_rows(b, o, n, ds_o, v_out, false, std_mut(&mut gr.tmp), n);
            add_2r_tmp(f, gr, s);
        }
        have = true;
    }
    if s + 1 < t {
        let (dgn, mu_rec) = ((block(&gr.dg, nxt), n, 1), (std_slice(&m.rec.mu), n));
        gemm_rows(b, n, n, dgn, mu_rec, have, std_mut(&mut gr.dr), n);
        have = true;
        if !m.rec.v.is_empty() {
            let (dsn, v_rec) = ((block(&gr.ds, nxt), n, 1), (std_slice(&m.rec.v), n));
            gemm_rows(b, n, n, dsn, v_rec, false, std_mut(&mut gr.tmp), n);
            add_2r_tmp(f, gr, s);
        }
    }
    if !have {
        gr.dr.fill(0.0);
    }
}

/// `dL/dh`, `dG` and `dS` of step `s` (into half `cur` of `gr.dg`, `gr.ds`) from `gr.dr`.
fn step_error(alpha: f32, f: &Forward, gr: &mut Grads, s: usize, cur: usize) {
    let rates = f.a.slice(s![s + 1, .., f.k..]);
    {
        let mut dg = gr.dg.index_axis_mut(Axis(0), cur);
        for ((dh, dg), (dr, r)) in gr
            .dh
            .outer_iter_mut()
            .zip(dg.outer_iter_mut())
            .zip(gr.dr.outer_iter().zip(rates.outer_iter()))
        {
            let (dh, dg, dr, r) = (view_mut(dh), view_mut(dg), view_slice(dr), view_slice(r));
            for ((dh, dgv), (&drv, &rv)) in dh.iter_mut().zip(dg.iter_mut()).zip(dr.iter().zip(r)) {
                let relu_d = if rv > 0.0 { drv } else { 0.0 };
                *dh = relu_d + (1.0 - alpha) * *dh;
                *dgv = alpha * *dh;
            }
        }
    }
    let (ds, dg) = (block_mut(&mut gr.ds, cur), block(&gr.dg, cur));
    let (d, e) = (block(&f.d, s), block(&f.eps, s));
    for ((dsv, &dgv), (&dv, &ev)) in ds.iter_mut().zip(dg).zip(d.iter().zip(e)) {
        *dsv = if dv > 0.0 { dgv * ev / (2.0 * dv) } else { 0.0 };
    }
}

/// `dr += 2 r * tmp` with r the rates r_{s+1} (the rate part of the rows of block `s + 1`).
fn add_2r_tmp(f: &Forward, gr: &mut Grads, s: usize) {
    let rates = f.a.slice(s![s + 1, .., f.k..]);
    for ((dr, tmp), r) in gr
        .dr
        .outer_iter_mut()
        .zip(gr.tmp.outer_iter())
        .zip(rates.outer_iter())
    {
        let (dr, tmp, r) = (view_mut(dr), view_slice(tmp), view_slice(r));
        for ((dv, &tv), &rv) in dr.iter_mut().zip(tmp).zip(r) {
            *dv += 2.0 * rv * tv;
        }
    }
}
