//! Mean-field forward dynamics of the spike-and-slab RNN and generalised BPTT (docs/PAPERS.md 2.1).
//!
//! Forward, per step s (time t = s + 1), with a = input x_t and r = r_{t-1}:
//! `G = mu_in x + mu_rec r`, `D = sqrt(v_in x^2 + v_rec r^2)`, `u = G + eps D`,
//! `h_t = (1 - alpha) h_{t-1} + alpha u + sqrt(2 alpha) sigma_rec n`, `r_t = relu(h_t)`, and a
//! read-out `y_t = mu_out r_t + eps' sqrt(v_out r_t^2)` at every step (the loss mask decides
//! which steps count). Noise is drawn into the [`Forward`] buffers before the pass, so a
//! finite-difference check can replay the exact same noise.

use super::layer::{Moments, SasLayer};
use crate::kernel::gemm_rows;
use crate::normal::fill_normal;
use crate::tasks::Batch;
use rand_pcg::Pcg64Mcg;

/// The network: three layers and the dynamics constants.
#[derive(Clone, Debug)]
pub struct SasNet {
    /// Input layer `N x K`.
    pub input: SasLayer,
    /// Recurrent layer `N x N`.
    pub rec: SasLayer,
    /// Read-out `O x N`.
    pub out: SasLayer,
    /// Leak dt / tau.
    pub alpha: f32,
    /// Initial state of every unit.
    pub h0: f32,
    /// Private recurrent noise.
    pub sigma_rec: f32,
}

/// Loss function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Softmax cross-entropy on masked steps (targets one-hot), averaged over trials.
    CrossEntropy,
    /// (1 / (2 B T)) sum mask (y - y*)^2.
    Mse,
}

/// The moments of the three layers.
#[derive(Clone, Debug, Default)]
pub struct NetMoments {
    /// Input layer.
    pub input: Moments,
    /// Recurrent layer.
    pub rec: Moments,
    /// Read-out.
    pub out: Moments,
}

impl SasNet {
    /// Mean-field moments of every layer.
    pub fn moments(&self, m: &mut NetMoments) {
        self.input.moments(&mut m.input);
        self.rec.moments(&mut m.rec);
        self.out.moments(&mut m.out);
    }

    /// Weights of one sampled network (variance zero).
    pub fn sample(&self, rng: &mut Pcg64Mcg, m: &mut NetMoments) {
        self.input.sample(rng, &mut m.input);
        self.rec.sample(rng, &mut m.rec);
        self.out.sample(rng, &mut m.out);
    }
}

/// Activations and noise of one pass.
///
/// The input and the previous rates of a step sit side by side in one row, so the input and
/// recurrent products of a step are one GEMM for the means and one for the variances, and the
/// weight gradients of both layers are one GEMM each over all `T x B` rows.
#[derive(Clone, Debug, Default)]
pub struct Forward {
    /// Steps of the last pass.
    pub t: usize,
    /// Trials of the last pass.
    pub b: usize,
    /// Inputs.
    pub k: usize,
    /// Hidden units.
    pub n: usize,
    /// `[(T+1) x B x (K+N)]`: row j of block s is `[x_s, r_s]`, the input of step s and the
    /// rates entering it (r_0 = relu(h0)); block T holds r_T after a zero input.
    pub a: Vec<f32>,
    /// Element-wise squares of `a`.
    pub a2: Vec<f32>,
    /// Unit noise eps, `[T x B x N]`.
    pub eps: Vec<f32>,
    /// Delta, `[T x B x N]`.
    pub d: Vec<f32>,
    /// Private noise n, `[T x B x N]` (empty without recurrent noise).
    pub noise: Vec<f32>,
    /// Read-out noise eps', `[T x B x O]`.
    pub eps_o: Vec<f32>,
    /// Read-out Delta, `[T x B x O]`.
    pub d_o: Vec<f32>,
    /// Outputs, `[T x B x O]` (in training passes only the steps with a loss).
    pub y: Vec<f32>,
    h: Vec<f32>,
    g: Vec<f32>,
    s2: Vec<f32>,
    so: Vec<f32>,
    /// `[mu_in | mu_rec]^T`, `(K+N) x N`.
    w_mu: Vec<f32>,
    /// `[v_in | v_rec]^T` (empty without variance).
    w_v: Vec<f32>,
    /// `mu_out^T`, `N x O`.
    out_mu: Vec<f32>,
    /// `v_out^T` (empty without variance).
    out_v: Vec<f32>,
}

impl Forward {
    /// Rates r_s of trial `j` after `s` steps (`s = 0` is the initial state).
    pub fn rates(&self, s: usize, j: usize) -> &[f32] {
        let w = self.k + self.n;
        &self.a[(s * self.b + j) * w + self.k..][..self.n]
    }

    /// Draws all the noise of a pass over `batch` (mean-field mode).
    pub fn draw_noise(&mut self, net: &SasNet, batch: &Batch, rng: &mut Pcg64Mcg) {
        let (t, b, n, o) = (batch.t, batch.b, net.rec.rows, net.out.rows);
        let any_var = net.input.stochastic || net.rec.stochastic;
        self.eps.clear();
        self.eps.resize(t * b * n, 0.0);
        if any_var {
            fill_normal(rng, &mut self.eps);
        }
        self.noise.clear();
        if net.sigma_rec > 0.0 {
            self.noise.resize(t * b * n, 0.0);
            fill_normal(rng, &mut self.noise);
        }
        self.eps_o.clear();
        self.eps_o.resize(t * b * o, 0.0);
        if net.out.stochastic {
            fill_normal(rng, &mut self.eps_o);
        }
    }

    /// No noise at all (deterministic forward, e.g. of a sampled network).
    pub fn zero_noise(&mut self, net: &SasNet, batch: &Batch) {
        let (t, b, n, o) = (batch.t, batch.b, net.rec.rows, net.out.rows);
        self.eps.clear();
        self.eps.resize(t * b * n, 0.0);
        self.noise.clear();
        self.eps_o.clear();
        self.eps_o.resize(t * b * o, 0.0);
    }

    /// The weights of the forward products, transposed so that their rows are contiguous.
    fn pack(&mut self, m: &NetMoments, k: usize, n: usize, o: usize) {
        let w = k + n;
        let has_var = !(m.input.v.is_empty() && m.rec.v.is_empty());
        transpose_into(&mut self.w_mu, &[(&m.input.mu, k), (&m.rec.mu, n)], n, w);
        self.w_v.clear();
        if has_var {
            let zi = vec![0.0; if m.input.v.is_empty() { n * k } else { 0 }];
            let zr = vec![0.0; if m.rec.v.is_empty() { n * n } else { 0 }];
            let vi = if m.input.v.is_empty() {
                &zi
            } else {
                &m.input.v
            };
            let vr = if m.rec.v.is_empty() { &zr } else { &m.rec.v };
            transpose_into(&mut self.w_v, &[(vi, k), (vr, n)], n, w);
        }
        transpose_into(&mut self.out_mu, &[(&m.out.mu, n)], o, n);
        self.out_v.clear();
        if !m.out.v.is_empty() {
            transpose_into(&mut self.out_v, &[(&m.out.v, n)], o, n);
        }
    }
}

/// `dst (w x rows)` = the transpose of the row-major `rows x w` matrix whose columns are the
/// blocks `(matrix, width)` side by side.
fn transpose_into(dst: &mut Vec<f32>, blocks: &[(&Vec<f32>, usize)], rows: usize, w: usize) {
    dst.clear();
    dst.resize(w * rows, 0.0);
    let mut col = 0;
    for &(mat, width) in blocks {
        for i in 0..rows {
            for c in 0..width {
                dst[(col + c) * rows + i] = mat[i * width + c];
            }
        }
        col += width;
    }
}

/// Whether the pass has variance terms (sampled weights have none).
fn m_has_var(w: &Weights<'_>) -> bool {
    match w {
        Weights::Fixed(m) => !(m.input.v.is_empty() && m.rec.v.is_empty()),
        Weights::Resample(..) => false,
    }
}

/// Whether any trial of `batch` has a loss at step `s`.
pub(super) fn step_has_loss(batch: &Batch, s: usize) -> bool {
    batch.mask[s * batch.b..(s + 1) * batch.b]
        .iter()
        .any(|&m| m != 0.0)
}

/// Where the weights of a pass come from.
enum Weights<'a> {
    Fixed(&'a NetMoments),
    Resample(&'a mut NetMoments, &'a mut Pcg64Mcg),
}

/// Runs the dynamics with the noise already in `f`. With `resample`, the weights are redrawn
/// from the ensemble before every step (the authors' "sampling" test) and `m` is overwritten.
/// The read-out is computed at every step.
pub fn forward(
    net: &SasNet,
    m: &mut NetMoments,
    batch: &Batch,
    f: &mut Forward,
    resample: Option<&mut Pcg64Mcg>,
) {
    let w = match resample {
        Some(rng) => Weights::Resample(m, rng),
        None => Weights::Fixed(m),
    };
    run_forward(net, w, batch, f, true);
}

/// The training pass: as [`forward`] with fixed moments, but the read-out only at the steps
/// where some trial has a loss (all that [`loss`] and [`backward`] read).
pub fn forward_train(net: &SasNet, m: &NetMoments, batch: &Batch, f: &mut Forward) {
    run_forward(net, Weights::Fixed(m), batch, f, false);
}

fn run_forward(net: &SasNet, mut wts: Weights<'_>, batch: &Batch, f: &mut Forward, all: bool) {
    let (t, b, n, k, o) = (batch.t, batch.b, net.rec.rows, net.input.cols, net.out.rows);
    let w = k + n;
    let (bn, bw) = (b * n, b * w);
    (f.t, f.b, f.k, f.n) = (t, b, k, n);
    f.a.resize((t + 1) * bw, 0.0);
    f.a2.resize((t + 1) * bw, 0.0);
    let r0 = net.h0.max(0.0);
    for s in 0..=t {
        for j in 0..b {
            let row = (s * b + j) * w;
            let (x, x2) = (&mut f.a[row..row + k], &mut f.a2[row..row + k]);
            if s < t {
                x.copy_from_slice(&batch.x[(s * b + j) * k..(s * b + j + 1) * k]);
                for (q, &v) in x2.iter_mut().zip(x.iter()) {
                    *q = v * v;
                }
            } else {
                x.fill(0.0);
                x2.fill(0.0);
            }
        }
    }
    for j in 0..b {
        f.a[j * w + k..(j + 1) * w].fill(r0);
        f.a2[j * w + k..(j + 1) * w].fill(r0 * r0);
    }
    if m_has_var(&wts) {
        f.d.resize(t * bn, 0.0); // every entry is written below
    } else {
        zeros(&mut f.d, t * bn);
    }
    f.d_o.resize(t * b * o, 0.0);
    f.y.clear();
    f.y.resize(t * b * o, 0.0);
    f.h.clear();
    f.h.resize(bn, net.h0);
    f.g.resize(bn, 0.0);
    f.s2.resize(bn, 0.0);
    f.so.resize(b * o, 0.0);
    if let Weights::Fixed(m) = &wts {
        f.pack(m, k, n, o);
    }
    let alpha = net.alpha;
    let noise_scale = (2.0 * alpha).sqrt() * net.sigma_rec;
    for s in 0..t {
        if let Weights::Resample(m, rng) = &mut wts {
            net.sample(rng, m);
            f.pack(m, k, n, o);
        }
        let blk = s * bw..(s + 1) * bw;
        gemm_rows(
            b,
            w,
            n,
            (&f.a[blk.clone()], w, 1),
            (&f.w_mu, n),
            false,
            &mut f.g,
            n,
        );
        let has_var = !f.w_v.is_empty();
        if has_var {
            gemm_rows(
                b,
                w,
                n,
                (&f.a2[blk], w, 1),
                (&f.w_v, n),
                false,
                &mut f.s2,
                n,
            );
        }
        // Element-wise update, row by row, written as zipped slices so that it vectorises.
        let next = &mut f.a[(s + 1) * bw..];
        let next2 = &mut f.a2[(s + 1) * bw..];
        for j in 0..b {
            let u = j * n..(j + 1) * n;
            let e = s * bn + j * n..s * bn + (j + 1) * n;
            let g = &mut f.g[u.clone()];
            if has_var {
                let d = &mut f.d[e.clone()];
                for ((dv, gv), (&v, &ep)) in d
                    .iter_mut()
                    .zip(g.iter_mut())
                    .zip(f.s2[u.clone()].iter().zip(&f.eps[e.clone()]))
                {
                    *dv = v.max(0.0).sqrt();
                    *gv += ep * *dv;
                }
            }
            let h = &mut f.h[u];
            for (hv, &gv) in h.iter_mut().zip(g.iter()) {
                *hv = (1.0 - alpha) * *hv + alpha * gv;
            }
            if !f.noise.is_empty() {
                for (hv, &z) in h.iter_mut().zip(&f.noise[e]) {
                    *hv += noise_scale * z;
                }
            }
            let r = &mut next[j * w + k..(j + 1) * w];
            let r2 = &mut next2[j * w + k..(j + 1) * w];
            for ((rv, r2v), &hv) in r.iter_mut().zip(r2.iter_mut()).zip(h.iter()) {
                *rv = hv.max(0.0);
                *r2v = *rv * *rv;
            }
        }
        // Read-out of r_t.
        if !(all || step_has_loss(batch, s)) {
            continue;
        }
        let nb = (s + 1) * bw + k..(s + 2) * bw;
        let ys = &mut f.y[s * b * o..(s + 1) * b * o];
        gemm_rows(
            b,
            n,
            o,
            (&f.a[nb.clone()], w, 1),
            (&f.out_mu, o),
            false,
            ys,
            o,
        );
        if !f.out_v.is_empty() {
            gemm_rows(
                b,
                n,
                o,
                (&f.a2[nb], w, 1),
                (&f.out_v, o),
                false,
                &mut f.so,
                o,
            );
            let d_o = &mut f.d_o[s * b * o..(s + 1) * b * o];
            let e_o = &f.eps_o[s * b * o..(s + 1) * b * o];
            for (((yv, dv), &v), &ep) in ys.iter_mut().zip(d_o).zip(&f.so).zip(e_o) {
                *dv = v.max(0.0).sqrt();
                *yv += ep * *dv;
            }
        }
    }
}

/// Loss of a pass.
pub fn loss(kind: LossKind, batch: &Batch, f: &Forward) -> f64 {
    let (t, b, o) = (batch.t, batch.b, batch.n_out);
    let mut total = 0.0f64;
    for s in 0..t {
        for j in 0..b {
            let mk = batch.mask[s * b + j] as f64;
            if mk == 0.0 {
                continue;
            }
            let y = &f.y[(s * b + j) * o..(s * b + j + 1) * o];
            let tg = &batch.y[(s * b + j) * o..(s * b + j + 1) * o];
            match kind {
                LossKind::CrossEntropy => {
                    let mx = y.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
                    let lse = mx + y.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln();
                    total -= mk
                        * y.iter()
                            .zip(tg)
                            .map(|(&v, &z)| z as f64 * (v as f64 - lse))
                            .sum::<f64>();
                }
                LossKind::Mse => {
                    total += mk
                        * y.iter()
                            .zip(tg)
                            .map(|(&v, &z)| ((v - z) as f64).powi(2))
                            .sum::<f64>();
                }
            }
        }
    }
    match kind {
        LossKind::CrossEntropy => total / b as f64,
        LossKind::Mse => total / (2.0 * b as f64 * t as f64),
    }
}

/// Clears `v` and fills it with `n` zeros (keeping its allocation).
pub(super) fn zeros(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sas::backward::{Grads, backward, backward_moments};
    use crate::tasks::{Batch, Trial};
    use rand::{RngExt, SeedableRng};

    fn layer(rows: usize, cols: usize, rng: &mut Pcg64Mcg, stochastic: bool) -> SasLayer {
        let len = rows * cols;
        SasLayer {
            rows,
            cols,
            pi: (0..len).map(|_| rng.random_range(0.05f32..0.6)).collect(),
            m: (0..len).map(|_| rng.random_range(-0.6f32..0.6)).collect(),
            xi: (0..len).map(|_| rng.random_range(0.05f32..0.4)).collect(),
            stochastic,
            mask: None,
        }
    }

    fn group_mut(p: &mut SasNet, li: usize, gi: usize) -> &mut Vec<f32> {
        let l = match li {
            0 => &mut p.input,
            1 => &mut p.rec,
            _ => &mut p.out,
        };
        match gi {
            0 => &mut l.pi,
            1 => &mut l.m,
            _ => &mut l.xi,
        }
    }

    fn setup(
        kind: LossKind,
        input_stochastic: bool,
        sigma_rec: f32,
        b: usize,
    ) -> (SasNet, Batch, Pcg64Mcg) {
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let (n, k, o, t) = (6, 3, 2, 7);
        let net = SasNet {
            input: layer(n, k, &mut rng, input_stochastic),
            rec: layer(n, n, &mut rng, true),
            out: layer(o, n, &mut rng, true),
            alpha: 0.3,
            h0: 0.1,
            sigma_rec,
        };
        let trials: Vec<Trial> = (0..b)
            .map(|j| {
                let mut y = vec![0.0f32; t * o];
                let mut mask = vec![0.0f32; t];
                for s in 0..t {
                    if kind == LossKind::Mse || s == t - 1 {
                        mask[s] = if s == 2 { 0.0 } else { 1.0 };
                    }
                    if kind == LossKind::Mse {
                        y[s * o] = rng.random_range(-1.0f32..1.0);
                        y[s * o + 1] = 0.5;
                    } else {
                        y[s * o + (j % o)] = 1.0;
                    }
                }
                Trial {
                    x: (0..t * k).map(|_| rng.random_range(0.0f32..1.0)).collect(),
                    y,
                    mask,
                    condition: String::new(),
                }
            })
            .collect();
        let refs: Vec<&Trial> = trials.iter().collect();
        let batch = Batch::from_trials(&refs, t, k, o);
        (net, batch, rng)
    }

    fn check(kind: LossKind, input_stochastic: bool, sigma_rec: f32) {
        let (net, batch, mut rng) = setup(kind, input_stochastic, sigma_rec, 4);
        let (n, k, o) = (net.rec.rows, net.input.cols, net.out.rows);
        let mut f = Forward::default();
        f.draw_noise(&net, &batch, &mut rng);
        let mut mom = NetMoments::default();
        net.moments(&mut mom);
        forward(&net, &mut mom, &batch, &mut f, None);
        let mut g = Grads::default();
        backward(&net, &mom, kind, &batch, &f, &mut g);
        let eval = |net: &SasNet, f: &mut Forward| {
            let mut mm = NetMoments::default();
            net.moments(&mut mm);
            forward(net, &mut mm, &batch, f, None);
            loss(kind, &batch, f)
        };
        let h = 1e-3f32;
        let mut worst = 0.0f64;
        for li in 0..3 {
            for gi in 0..3 {
                if li == 0 && !input_stochastic && gi != 1 {
                    continue;
                }
                let len = [n * k, n * n, o * n][li];
                for i in 0..len {
                    let mut p = net.clone();
                    let orig = group_mut(&mut p, li, gi)[i];
                    group_mut(&mut p, li, gi)[i] = orig + h;
                    let lp = eval(&p, &mut f);
                    group_mut(&mut p, li, gi)[i] = orig - h;
                    let lm = eval(&p, &mut f);
                    let fd = (lp - lm) / (2.0 * h as f64);
                    let an = [&g.input, &g.rec, &g.out][li][gi][i] as f64;
                    let err = (fd - an).abs() / (fd.abs() + an.abs() + 1e-3);
                    if err > worst {
                        worst = err;
                        eprintln!("layer {li} group {gi} idx {i}: fd {fd:.5e} an {an:.5e}");
                    }
                }
            }
        }
        assert!(worst < 1e-2, "{kind:?}: worst relative error {worst}");
    }

    #[test]
    fn gbptt_matches_finite_differences_cross_entropy_all_stochastic() {
        check(LossKind::CrossEntropy, true, 0.0);
    }

    #[test]
    fn gbptt_matches_finite_differences_mse_with_recurrent_noise() {
        check(LossKind::Mse, false, 0.15);
    }

    /// Trials `js` of a batch and of the noise drawn for it.
    fn part(batch: &Batch, f: &Forward, js: std::ops::Range<usize>) -> (Batch, Forward) {
        let (t, b) = (batch.t, batch.b);
        let rows = |v: &[f32], width: usize| -> Vec<f32> {
            (0..t)
                .flat_map(|s| v[(s * b + js.start) * width..(s * b + js.end) * width].to_vec())
                .collect()
        };
        let pb = Batch {
            b: js.len(),
            t,
            n_in: batch.n_in,
            n_out: batch.n_out,
            x: rows(&batch.x, batch.n_in),
            y: rows(&batch.y, batch.n_out),
            mask: rows(&batch.mask, 1),
            conditions: vec![String::new(); js.len()],
        };
        let n = f.eps.len() / (t * b);
        let pf = Forward {
            eps: rows(&f.eps, n),
            noise: if f.noise.is_empty() {
                Vec::new()
            } else {
                rows(&f.noise, n)
            },
            eps_o: rows(&f.eps_o, batch.n_out),
            ..Forward::default()
        };
        (pb, pf)
    }

    /// The training pass (read-out only where there is a loss) gives the same loss as the full
    /// pass, and gradients of parts of a batch, summed, give the batch's gradient.
    #[test]
    fn training_pass_and_batch_parts_agree_with_the_full_batch() {
        for (kind, sigma) in [(LossKind::CrossEntropy, 0.0), (LossKind::Mse, 0.15)] {
            let (net, batch, mut rng) = setup(kind, true, sigma, 5);
            let mut f = Forward::default();
            f.draw_noise(&net, &batch, &mut rng);
            let mut mom = NetMoments::default();
            net.moments(&mut mom);
            let mut full = f.clone();
            forward(&net, &mut mom, &batch, &mut full, None);
            let mut g = Grads::default();
            backward(&net, &mom, kind, &batch, &full, &mut g);
            forward_train(&net, &mom, &batch, &mut f);
            assert_eq!(
                loss(kind, &batch, &f).to_bits(),
                loss(kind, &batch, &full).to_bits()
            );
            let (b0, mut f0) = part(&batch, &f, 0..3);
            let (b1, mut f1) = part(&batch, &f, 3..5);
            forward_train(&net, &mom, &b0, &mut f0);
            forward_train(&net, &mom, &b1, &mut f1);
            let total = loss(kind, &b0, &f0) * 3.0 + loss(kind, &b1, &f1) * 2.0;
            assert!((total / 5.0 - loss(kind, &batch, &f)).abs() < 1e-9);
            let (mut g0, mut g1) = (Grads::default(), Grads::default());
            backward_moments(&net, &mom, kind, &b0, &f0, &mut g0, 5);
            backward_moments(&net, &mom, kind, &b1, &f1, &mut g1, 5);
            g0.add_moments(&g1);
            g0.finish(&net);
            for (a, b) in [&g.input, &g.rec, &g.out]
                .into_iter()
                .flatten()
                .zip([&g0.input, &g0.rec, &g0.out].into_iter().flatten())
            {
                for (x, y) in a.iter().zip(b) {
                    assert!(
                        (x - y).abs() <= 1e-5 * (1.0 + x.abs()),
                        "{kind:?}: {x} vs {y}"
                    );
                }
            }
        }
    }
}
