//! The discrete-time tanh RNN `h_t = tanh(W_in x_t + W_rec h_{t-1} + b)`, `y_t = W_out h_t + c`,
//! its masked-MSE loss and exact back-propagation through time.
//!
//! Parameters live in one flat vector (so one optimiser steps them all); activations are kept
//! time-major so each step is one `B x N x N` product and the weight gradients are single
//! products over all `T * B` rows at once. Every product is [`mul_acc`], whose per-element
//! summation order is fixed, so a cell gives the same bits on AVX-512, AVX2 and other CPUs.

use ndarray::Array3;

use super::kernels::{Strided, mul_acc, tanh_backward, tanh_in_place};
use crate::tasks::Batch;

/// Shapes and offsets of the parameters inside the flat vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Inputs.
    pub n_in: usize,
    /// Hidden units.
    pub n: usize,
    /// Outputs.
    pub n_out: usize,
}

impl Layout {
    /// Offset of W_in (`n x n_in`).
    pub fn w_in(&self) -> std::ops::Range<usize> {
        0..self.n * self.n_in
    }
    /// W_rec (`n x n`).
    pub fn w_rec(&self) -> std::ops::Range<usize> {
        let s = self.w_in().end;
        s..s + self.n * self.n
    }
    /// b (`n`).
    pub fn b(&self) -> std::ops::Range<usize> {
        let s = self.w_rec().end;
        s..s + self.n
    }
    /// W_out (`n_out x n`).
    pub fn w_out(&self) -> std::ops::Range<usize> {
        let s = self.b().end;
        s..s + self.n_out * self.n
    }
    /// c (`n_out`).
    pub fn c(&self) -> std::ops::Range<usize> {
        let s = self.w_out().end;
        s..s + self.n_out
    }
    /// Total parameter count.
    pub fn len(&self) -> usize {
        self.c().end
    }
    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Activations of one forward pass, kept for the backward pass, and the transposed weights the
/// product kernel reads (refreshed by every [`forward`]).
#[derive(Clone, Debug, Default)]
pub struct Forward {
    /// Hidden states, axes (step, trial, unit), `T + 1` steps; step 0 is h_{-1} = 0. Standard
    /// (row-major) layout, so the kernels work on its slice.
    pub h: Array3<f32>,
    /// Outputs, axes (step, trial, output).
    pub y: Array3<f32>,
    /// W_in^T, W_rec^T and W_out^T, row-major (muP: U^T, (J / N)^T, (W_out / gamma N)^T).
    pub(super) wt_in: Vec<f32>,
    pub(super) wt_rec: Vec<f32>,
    pub(super) wt_out: Vec<f32>,
    pub(super) bias_rows: Vec<f32>,
    pub(super) c_rows: Vec<f32>,
    /// muP only: the state h before the tanh, `T + 1` steps (`h` then holds tanh of it).
    pub(super) pre: Array3<f32>,
}

/// `out = w^T` for a row-major `rows x cols` matrix `w`.
pub(super) fn transpose_into(w: &[f32], rows: usize, cols: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(rows * cols, 0.0);
    for (i, row) in w.chunks_exact(cols).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[j * rows + i] = v;
        }
    }
}

/// Gives `a` the shape `dim`, reallocating only when the shape changes: every caller overwrites
/// what it reads. Returns its elements in standard layout.
pub(super) fn reshape3(a: &mut Array3<f32>, dim: (usize, usize, usize)) -> &mut [f32] {
    if a.dim() != dim {
        *a = Array3::zeros(dim);
    }
    a.as_slice_mut()
        .expect("owned arrays are in standard layout")
}

/// The elements of an activation array (always standard layout: built by [`reshape3`]).
pub(super) fn standard(a: &Array3<f32>) -> &[f32] {
    a.as_slice().expect("activations are in standard layout")
}

/// Resizes a scratch buffer without clearing it: every caller overwrites what it reads.
pub(super) fn reuse(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    &mut v[..len]
}

/// `row` repeated `b` times in the scratch buffer `buf`: a bias block for the `b` trials of a step.
pub(super) fn repeat_rows<'a>(buf: &'a mut Vec<f32>, row: &[f32], b: usize) -> &'a [f32] {
    let rows = reuse(buf, b * row.len());
    for r in rows.chunks_exact_mut(row.len().max(1)) {
        r.copy_from_slice(row);
    }
    rows
}

/// Runs the network on a batch.
///
/// Each step's pre-activation is built in place as bias, then the input terms, then the
/// recurrent terms (one fused multiply-add chain per unit, see [`mul_acc`]), while the step's
/// rows are in cache.
pub fn forward(p: &[f32], l: Layout, batch: &Batch, out: &mut Forward) {
    let (b, t, n) = (batch.b, batch.t, l.n);
    transpose_into(&p[l.w_in()], n, l.n_in, &mut out.wt_in);
    transpose_into(&p[l.w_rec()], n, n, &mut out.wt_rec);
    transpose_into(&p[l.w_out()], l.n_out, n, &mut out.wt_out);
    let h = reshape3(&mut out.h, (t + 1, b, n));
    h[..b * n].fill(0.0);
    let y = reshape3(&mut out.y, (t, b, l.n_out));
    // The bias and the read-out bias repeated for every trial of a step: one block copy per
    // step instead of one small copy per row.
    let bias_rows = repeat_rows(&mut out.bias_rows, &p[l.b()], b);
    let c_rows = repeat_rows(&mut out.c_rows, &p[l.c()], b);
    for s in 0..t {
        let (prev, cur) = h.split_at_mut((s + 1) * b * n);
        let prev = &prev[s * b * n..];
        let cur = &mut cur[..b * n];
        cur.copy_from_slice(bias_rows);
        let x = &batch.x[s * b * l.n_in..(s + 1) * b * l.n_in];
        mul_acc(b, l.n_in, n, Strided::rows(x, l.n_in), &out.wt_in, cur);
        mul_acc(b, n, n, Strided::rows(prev, n), &out.wt_rec, cur);
        tanh_in_place(cur);
        let y_s = &mut y[s * b * l.n_out..(s + 1) * b * l.n_out];
        y_s.copy_from_slice(c_rows);
        mul_acc(b, n, l.n_out, Strided::rows(cur, n), &out.wt_out, y_s);
    }
}

/// Masked mean squared error: sum over masked steps and outputs, divided by
/// (number of masked trial-steps x outputs), i.e. the mean over the steps that count.
pub fn loss(batch: &Batch, f: &Forward) -> f64 {
    let k = batch.n_out;
    let fy = standard(&f.y);
    let denom = batch.mask.iter().map(|&m| m as f64).sum::<f64>() * k as f64;
    if denom == 0.0 {
        return 0.0;
    }
    let mut s = 0.0f64;
    for (i, &m) in batch.mask.iter().enumerate() {
        if m != 0.0 {
            for j in 0..k {
                let d = (fy[i * k + j] - batch.y[i * k + j]) as f64;
                s += m as f64 * d * d;
            }
        }
    }
    s / denom
}

/// Scratch buffers of the backward pass, reused across batches.
#[derive(Clone, Debug, Default)]
pub struct Backward {
    dy: Vec<f32>,
    pub(super) dpre: Vec<f32>,
    pub(super) dh: Vec<f32>,
    pub(super) dpre_next: Vec<f32>,
    pub(super) g_in_t: Vec<f32>,
    /// muP only: dL/dh of the current and the next step, and the scaled J / N and
    /// W_out / (gamma N) the backward products read.
    pub(super) delta: Vec<f32>,
    pub(super) delta_next: Vec<f32>,
    pub(super) j_hat: Vec<f32>,
    pub(super) w_hat: Vec<f32>,
}

/// Which biases are learned. The two are separate because the reference's read-out keeps its
/// bias when the recurrent layer has none (a tied flag cannot express the reference model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnBias {
    /// The recurrent bias b.
    pub rec: bool,
    /// The read-out bias c.
    pub readout: bool,
}

/// Gradient of [`loss`] with respect to every parameter, written into `g` (overwritten).
/// A bias that is not learned gets a zero gradient (so it stays at its init).
pub fn backward(
    p: &[f32],
    l: Layout,
    batch: &Batch,
    f: &Forward,
    learn: LearnBias,
    ws: &mut Backward,
    g: &mut [f32],
) {
    let mut dy = std::mem::take(&mut ws.dy);
    loss_dy(batch, f, &mut dy);
    backward_dy(p, l, batch, f, &dy, learn, ws, g);
    ws.dy = dy;
}

/// dL/dy of [`loss`], axes (step, trial, output), into `dy` (resized).
pub fn loss_dy(batch: &Batch, f: &Forward, dy: &mut Vec<f32>) {
    let k = batch.n_out;
    let denom = batch.mask.iter().map(|&m| m as f64).sum::<f64>() * k as f64;
    let scale = if denom > 0.0 {
        (2.0 / denom) as f32
    } else {
        0.0
    };
    let fy = standard(&f.y);
    let dy = reuse(dy, batch.t * batch.b * k);
    for (i, &m) in batch.mask.iter().enumerate() {
        for j in 0..k {
            dy[i * k + j] = scale * m * (fy[i * k + j] - batch.y[i * k + j]);
        }
    }
}

/// Gradient of any function of the outputs whose derivative with respect to y is `dy` (axes
/// step, trial, output), through the standard model; written into `g` (overwritten).
#[expect(
    clippy::too_many_arguments,
    reason = "the backward pass's inputs, buffers and output; a struct would only rename them"
)]
pub fn backward_dy(
    p: &[f32],
    l: Layout,
    batch: &Batch,
    f: &Forward,
    dy: &[f32],
    learn: LearnBias,
    ws: &mut Backward,
    g: &mut [f32],
) {
    let (b, t, n, k) = (batch.b, batch.t, l.n, l.n_out);
    g.iter_mut().for_each(|v| *v = 0.0);
    let fh = standard(&f.h);
    let dy = &dy[..t * b * k];
    let hs = &fh[b * n..]; // h_0 .. h_{T-1}
    // Read-out gradients over all steps: gW_out = dy^T h.
    mul_acc(k, t * b, n, Strided::t(dy, k), hs, &mut g[l.w_out()]);
    if learn.readout {
        let gc = &mut g[l.c()];
        for row in dy.chunks(k) {
            for (a, &v) in gc.iter_mut().zip(row) {
                *a += v;
            }
        }
    }
    // Back through time. dL/dh_s is built in one step-sized buffer: zero, the read-out terms
    // (dy_s W_out), then the recurrent terms (dpre_{s+1} W_rec). The weight gradients take each
    // step's terms while its rows are in cache, so they sum over steps T-1 down to 0.
    ws.g_in_t.clear();
    ws.g_in_t.resize(l.n_in * n, 0.0);
    let dh = reuse(&mut ws.dh, b * n);
    let mut next = std::mem::take(&mut ws.dpre_next);
    let mut cur = std::mem::take(&mut ws.dpre);
    next.resize(b * n, 0.0);
    cur.resize(b * n, 0.0);
    let w_rec = &p[l.w_rec()];
    for s in (0..t).rev() {
        let blk = s * b * n..(s + 1) * b * n;
        dh.fill(0.0);
        let dy_s = &dy[s * b * k..(s + 1) * b * k];
        mul_acc(b, k, n, Strided::rows(dy_s, k), &p[l.w_out()], dh);
        if s + 1 < t {
            mul_acc(b, n, n, Strided::rows(&next, n), w_rec, dh);
        }
        tanh_backward(&mut cur, dh, &hs[blk]);
        // gW_rec += dpre_s^T h_{s-1}.
        let h_prev = &fh[s * b * n..(s + 1) * b * n];
        mul_acc(n, b, n, Strided::t(&cur, n), h_prev, &mut g[l.w_rec()]);
        // gW_in^T += x_s^T dpre_s (n_in rows, so the kernel's lanes run along the n units).
        let x_s = &batch.x[s * b * l.n_in..(s + 1) * b * l.n_in];
        mul_acc(l.n_in, b, n, Strided::t(x_s, l.n_in), &cur, &mut ws.g_in_t);
        if learn.rec {
            add_rows(&mut g[l.b()], &cur);
        }
        std::mem::swap(&mut cur, &mut next);
    }
    (ws.dpre, ws.dpre_next) = (cur, next);
    scatter_input_gradient(l, &ws.g_in_t, g);
}

/// `acc += ` the sum of the rows of `rows` (each `acc.len()` long), in row order: a bias
/// gradient summed over the trials of a step.
pub(super) fn add_rows(acc: &mut [f32], rows: &[f32]) {
    for row in rows.chunks_exact(acc.len()) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// Writes the accumulated `gW_in^T` (`n_in x n`, the layout the product kernel builds) into
/// W_in's place of the gradient (`n x n_in`).
pub(super) fn scatter_input_gradient(l: Layout, g_in_t: &[f32], g: &mut [f32]) {
    for (j, row) in g_in_t.chunks_exact(l.n).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            g[l.w_in().start + i * l.n_in + j] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{Batch, TaskGen, jarne};
    use ensweep_core::config::tanh_rnn::GateTask;
    use rand::{RngExt, SeedableRng};

    /// A short XOR batch (60 steps, so f32 finite differences are accurate enough), a layout
    /// with 7 hidden units and random parameters; one masked-out step checks the mask.
    fn problem() -> (Batch, Layout, Vec<f32>) {
        let task = jarne::Gate::new(
            jarne::GateKind::Xor,
            &GateTask {
                mem_gap: 2,
                input_noise: 0.1,
            },
            false,
        );
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let mut trials = task.trials(&mut rng, 3);
        for tr in &mut trials {
            tr.x.truncate(60 * 2);
            tr.y.truncate(60);
            tr.mask.truncate(60);
            tr.mask[10] = 0.0;
        }
        let refs: Vec<_> = trials.iter().collect();
        let batch = Batch::from_trials(&refs, 60, 2, 1);
        let l = Layout {
            n_in: 2,
            n: 7,
            n_out: 1,
        };
        let p = (0..l.len())
            .map(|_| rng.random_range(-0.6f32..0.6))
            .collect();
        (batch, l, p)
    }

    /// Analytic gradient and central finite differences of every parameter.
    fn gradients(learn: LearnBias) -> (Layout, Vec<f32>, Vec<f64>) {
        let (batch, l, mut p) = problem();
        let mut f = Forward::default();
        let mut g = vec![0.0; l.len()];
        forward(&p, l, &batch, &mut f);
        backward(&p, l, &batch, &f, learn, &mut Backward::default(), &mut g);
        let h = 1e-3f32;
        let fd = (0..l.len())
            .map(|i| {
                let orig = p[i];
                p[i] = orig + h;
                forward(&p, l, &batch, &mut f);
                let lp = loss(&batch, &f);
                p[i] = orig - h;
                forward(&p, l, &batch, &mut f);
                let lm = loss(&batch, &f);
                p[i] = orig;
                (lp - lm) / (2.0 * h as f64)
            })
            .collect();
        (l, g, fd)
    }

    fn worst_error(g: &[f32], fd: &[f64]) -> f64 {
        g.iter()
            .zip(fd)
            .map(|(&a, &d)| (d - a as f64).abs() / (d.abs() + a.abs() as f64 + 1e-3))
            .fold(0.0, f64::max)
    }

    #[test]
    fn gradient_matches_finite_differences_through_time() {
        let (_, g, fd) = gradients(LearnBias {
            rec: true,
            readout: true,
        });
        let worst = worst_error(&g, &fd);
        assert!(worst < 1e-2, "worst relative error {worst}");
    }

    /// The reference model: read-out bias learned, recurrent bias frozen. The read-out bias
    /// gradient (and every weight's) must match finite differences; the frozen bias gets zero.
    #[test]
    fn readout_bias_gradient_matches_finite_differences_without_rec_bias() {
        let (l, g, fd) = gradients(LearnBias {
            rec: false,
            readout: true,
        });
        assert!(g[l.b()].iter().all(|&v| v == 0.0), "frozen bias moved");
        assert!(
            fd[l.c()].iter().all(|v| v.abs() > 1e-4),
            "read-out bias has no gradient"
        );
        // The frozen bias is compared with zero, every learned parameter with its difference.
        let mut fd_learned = fd.clone();
        fd_learned[l.b()].iter_mut().for_each(|v| *v = 0.0);
        let worst = worst_error(&g, &fd_learned);
        assert!(worst < 1e-2, "worst relative error {worst}");
    }
}
