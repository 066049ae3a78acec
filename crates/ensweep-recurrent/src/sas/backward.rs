//! Generalised BPTT of the spike-and-slab RNN (docs/PAPERS.md 2.1): the gradients of the loss
//! with respect to the moments of every layer, back through the steps of [`super::model`]'s
//! forward pass, then through the moments to (pi, m, Xi).

use super::model::{Forward, LossKind, NetMoments, SasNet, step_has_loss, zeros};
use crate::kernel::gemm_rows;
use crate::tasks::Batch;

/// Gradients of the nine parameter groups, and the gradients of the moments they come from.
#[derive(Clone, Debug, Default)]
pub struct Grads {
    /// (pi, m, Xi) of the input layer.
    pub input: [Vec<f32>; 3],
    /// (pi, m, Xi) of the recurrent layer.
    pub rec: [Vec<f32>; 3],
    /// (pi, m, Xi) of the read-out.
    pub out: [Vec<f32>; 3],
    /// dL/d[mu_in | mu_rec], `N x (K+N)`.
    g_mu: Vec<f32>,
    /// dL/d[v_in | v_rec].
    g_v: Vec<f32>,
    /// dL/d mu_out, `O x N`.
    g_mu_out: Vec<f32>,
    /// dL/d v_out.
    g_v_out: Vec<f32>,
    dy: Vec<f32>,
    ds_o: Vec<f32>,
    dr: Vec<f32>,
    dg: Vec<f32>,
    ds: Vec<f32>,
    dh: Vec<f32>,
    tmp: Vec<f32>,
    split_mu: Vec<f32>,
    split_v: Vec<f32>,
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
            g.iter_mut().for_each(|v| *v *= a);
        }
    }

    /// Adds the moment gradients of `other` (a part of the same batch) to these.
    pub fn add_moments(&mut self, other: &Grads) {
        for (g, o) in [
            (&mut self.g_mu, &other.g_mu),
            (&mut self.g_v, &other.g_v),
            (&mut self.g_mu_out, &other.g_mu_out),
            (&mut self.g_v_out, &other.g_v_out),
        ] {
            g.iter_mut().zip(o).for_each(|(x, &y)| *x += y);
        }
    }

    /// Parameter gradients from the moment gradients (the chain rule of every layer).
    pub fn finish(&mut self, net: &SasNet) {
        let (n, k, o) = (net.rec.rows, net.input.cols, net.out.rows);
        let w = k + n;
        let split = |src: &[f32], dst: &mut Vec<f32>, lo: usize, len: usize| {
            dst.clear();
            for row in src.chunks(w) {
                dst.extend_from_slice(&row[lo..lo + len]);
            }
        };
        for (layer, lo, len, out) in [
            (&net.input, 0, k, &mut self.input),
            (&net.rec, k, n, &mut self.rec),
        ] {
            split(&self.g_mu, &mut self.split_mu, lo, len);
            split(&self.g_v, &mut self.split_v, lo, len);
            for v in out.iter_mut() {
                zeros(v, n * len);
            }
            let [gp, gm, gx] = out;
            layer.chain(&self.split_mu, &self.split_v, gp, gm, gx);
        }
        for v in self.out.iter_mut() {
            zeros(v, o * n);
        }
        let [gp, gm, gx] = &mut self.out;
        net.out.chain(&self.g_mu_out, &self.g_v_out, gp, gm, gx);
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
    let (bw, bo) = (b * w, b * o);
    let out_var = !m.out.v.is_empty();
    // dL/dy and the read-out's dL/ds' at the steps with a loss.
    gr.dy.resize(t * bo, 0.0);
    gr.ds_o.resize(t * bo, 0.0);
    zeros(&mut gr.g_mu_out, o * n);
    zeros(&mut gr.g_v_out, o * n);
    for s in (0..t).filter(|&s| step_has_loss(batch, s)) {
        for j in 0..b {
            let mk = batch.mask[s * b + j];
            let base = (s * b + j) * o;
            let y = &f.y[base..base + o];
            let tg = &batch.y[base..base + o];
            let dy = &mut gr.dy[base..base + o];
            if mk == 0.0 {
                dy.fill(0.0);
                continue;
            }
            match kind {
                LossKind::CrossEntropy => {
                    let mx = y.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let z: f32 = y.iter().map(|&v| (v - mx).exp()).sum();
                    let ts: f32 = tg.iter().sum();
                    for c in 0..o {
                        let p = (y[c] - mx).exp() / z;
                        dy[c] = mk * (ts * p - tg[c]) / norm_b as f32;
                    }
                }
                LossKind::Mse => {
                    for c in 0..o {
                        dy[c] = mk * (y[c] - tg[c]) / (norm_b * t) as f32;
                    }
                }
            }
        }
        let blk = s * bo..(s + 1) * bo;
        let rr = (s + 1) * bw + k..(s + 2) * bw;
        let dy = (&gr.dy[blk.clone()], 1, o);
        gemm_rows(
            o,
            b,
            n,
            dy,
            (&f.a[rr.clone()], w),
            true,
            &mut gr.g_mu_out,
            n,
        );
        if out_var {
            for ((q, &dy), (&e, &d)) in gr.ds_o[blk.clone()]
                .iter_mut()
                .zip(&gr.dy[blk.clone()])
                .zip(f.eps_o[blk.clone()].iter().zip(&f.d_o[blk.clone()]))
            {
                *q = if d > 0.0 { dy * e / (2.0 * d) } else { 0.0 };
            }
            let dso = (&gr.ds_o[blk], 1, o);
            gemm_rows(o, b, n, dso, (&f.a2[rr], w), true, &mut gr.g_v_out, n);
        }
    }
}

/// Back through time from the last step: `dL/dr`, `dL/dh`, `dG`, `dS` per step and the weight
/// gradients of the input and recurrent layers.
fn backward_through_time(net: &SasNet, m: &NetMoments, batch: &Batch, f: &Forward, gr: &mut Grads) {
    let (t, b, n, k, o) = (batch.t, batch.b, net.rec.rows, net.input.cols, net.out.rows);
    let w = k + n;
    let (bn, bw, bo) = (b * n, b * w, b * o);
    let out_var = !m.out.v.is_empty();
    let in_var = !(m.input.v.is_empty() && m.rec.v.is_empty());
    // Back through time; the weight gradients of the input and recurrent layers (rows
    // [x_s, r_s]) are accumulated step by step while dG_s, dS_s and the rows are in cache.
    for v in [&mut gr.dg, &mut gr.ds, &mut gr.dr, &mut gr.tmp] {
        v.resize(2 * bn, 0.0);
    }
    zeros(&mut gr.dh, bn);
    zeros(&mut gr.g_mu, n * w);
    zeros(&mut gr.g_v, n * w);
    let alpha = net.alpha;
    let rec_var = !m.rec.v.is_empty();
    for s in (0..t).rev() {
        let rr = (s + 1) * bw..(s + 2) * bw; // rows [x, r_{s+1}]
        // dG, dS of step s go to half `cur` of their buffers; step s + 1's are in `nxt`.
        let (cur, nxt) = if s % 2 == 0 {
            (0..bn, bn..2 * bn)
        } else {
            (bn..2 * bn, 0..bn)
        };
        let dr = &mut gr.dr[..bn];
        let tmp = &mut gr.tmp[..bn];
        let mut have = false;
        if step_has_loss(batch, s) {
            let blk = s * bo..(s + 1) * bo;
            gemm_rows(
                b,
                o,
                n,
                (&gr.dy[blk.clone()], o, 1),
                (&m.out.mu, n),
                false,
                dr,
                n,
            );
            if out_var {
                gemm_rows(b, o, n, (&gr.ds_o[blk], o, 1), (&m.out.v, n), false, tmp, n);
                add_2r_tmp(dr, &f.a[rr.clone()], tmp, k, n);
            }
            have = true;
        }
        if s + 1 < t {
            let dgn = (&gr.dg[nxt.clone()], n, 1);
            gemm_rows(b, n, n, dgn, (&m.rec.mu, n), have, dr, n);
            have = true;
            if rec_var {
                let dsn = (&gr.ds[nxt], n, 1);
                gemm_rows(b, n, n, dsn, (&m.rec.v, n), false, tmp, n);
                add_2r_tmp(dr, &f.a[rr.clone()], tmp, k, n);
            }
        }
        if !have {
            dr.fill(0.0);
        }
        let blk = s * bn..(s + 1) * bn;
        let (dg, ds) = (&mut gr.dg[cur.clone()], &mut gr.ds[cur]);
        let (d, e) = (&f.d[blk.clone()], &f.eps[blk]);
        for j in 0..b {
            let u = j * n..(j + 1) * n;
            let r = &f.a[rr.start + j * w + k..rr.start + (j + 1) * w];
            for ((dh, dgv), (&drv, &rv)) in gr.dh[u.clone()]
                .iter_mut()
                .zip(dg[u.clone()].iter_mut())
                .zip(dr[u.clone()].iter().zip(r))
            {
                let relu_d = if rv > 0.0 { drv } else { 0.0 };
                *dh = relu_d + (1.0 - alpha) * *dh;
                *dgv = alpha * *dh;
            }
            for ((dsv, &dgv), (&dv, &ev)) in ds[u.clone()]
                .iter_mut()
                .zip(&dg[u.clone()])
                .zip(d[u.clone()].iter().zip(&e[u]))
            {
                *dsv = if dv > 0.0 { dgv * ev / (2.0 * dv) } else { 0.0 };
            }
        }
        let rows = s * bw..(s + 1) * bw; // [x_s, r_s]
        gemm_rows(
            n,
            b,
            w,
            (dg, 1, n),
            (&f.a[rows.clone()], w),
            true,
            &mut gr.g_mu,
            w,
        );
        if in_var {
            gemm_rows(n, b, w, (ds, 1, n), (&f.a2[rows], w), true, &mut gr.g_v, w);
        }
    }
}

/// `dr += 2 r * tmp` where r is the rate block of the rows `a` (`[x, r]`, `k` inputs).
fn add_2r_tmp(dr: &mut [f32], a: &[f32], tmp: &[f32], k: usize, n: usize) {
    let w = k + n;
    for ((d, t), row) in dr.chunks_mut(n).zip(tmp.chunks(n)).zip(a.chunks(w)) {
        for ((dv, &tv), &rv) in d.iter_mut().zip(t).zip(&row[k..]) {
            *dv += 2.0 * rv * tv;
        }
    }
}
