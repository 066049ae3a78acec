//! Mean-field forward dynamics of the spike-and-slab RNN and generalised BPTT (science.md 2.1).
//!
//! Forward, per step s (time t = s + 1), with a = input x_t and r = r_{t-1}:
//! `G = mu_in x + mu_rec r`, `D = sqrt(v_in x^2 + v_rec r^2)`, `u = G + eps D`,
//! `h_t = (1 - alpha) h_{t-1} + alpha u + sqrt(2 alpha) sigma_rec n`, `r_t = relu(h_t)`, and a
//! read-out `y_t = mu_out r_t + eps' sqrt(v_out r_t^2)` at every step (the loss mask decides
//! which steps count). Noise is drawn into the [`Forward`] buffers before the pass, so a
//! finite-difference check can replay the exact same noise.

use super::layer::{Moments, SasLayer};
use crate::linalg::gemm;
use crate::tasks::Batch;
use rand_distr::{Distribution, StandardNormal};
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
#[derive(Clone, Debug, Default)]
pub struct Forward {
    /// `[(T+1) x B x N]`, block 0 = h(0).
    pub h: Vec<f32>,
    /// relu(h).
    pub r: Vec<f32>,
    /// r^2.
    pub r2: Vec<f32>,
    /// x^2, `[T x B x K]`.
    pub x2: Vec<f32>,
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
    /// Outputs, `[T x B x O]`.
    pub y: Vec<f32>,
}

fn fill_normal(v: &mut Vec<f32>, n: usize, rng: &mut Pcg64Mcg) {
    v.clear();
    v.extend((0..n).map(|_| -> f32 { StandardNormal.sample(rng) }));
}

impl Forward {
    /// Draws all the noise of a pass over `batch` (mean-field mode).
    pub fn draw_noise(&mut self, net: &SasNet, batch: &Batch, rng: &mut Pcg64Mcg) {
        let (t, b, n, o) = (batch.t, batch.b, net.rec.rows, net.out.rows);
        let any_var = net.input.stochastic || net.rec.stochastic;
        if any_var {
            fill_normal(&mut self.eps, t * b * n, rng);
        } else {
            self.eps.clear();
            self.eps.resize(t * b * n, 0.0);
        }
        if net.sigma_rec > 0.0 {
            fill_normal(&mut self.noise, t * b * n, rng);
        } else {
            self.noise.clear();
        }
        if net.out.stochastic {
            fill_normal(&mut self.eps_o, t * b * o, rng);
        } else {
            self.eps_o.clear();
            self.eps_o.resize(t * b * o, 0.0);
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
}

fn sqrt_guard(v: f32) -> f32 {
    if v > 0.0 { v.sqrt() } else { 0.0 }
}

/// Runs the dynamics with the noise already in `f`. With `resample`, the weights are redrawn
/// from the ensemble before every step (the authors' "sampling" test) and `m` is overwritten.
pub fn forward(
    net: &SasNet,
    m: &mut NetMoments,
    batch: &Batch,
    f: &mut Forward,
    mut resample: Option<&mut Pcg64Mcg>,
) {
    let (t, b, n, k, o) = (batch.t, batch.b, net.rec.rows, net.input.cols, net.out.rows);
    let bn = b * n;
    f.h.clear();
    f.h.resize((t + 1) * bn, net.h0);
    f.r.clear();
    f.r.resize((t + 1) * bn, net.h0.max(0.0));
    f.r2.clear();
    f.r2.extend(f.r.iter().map(|v| v * v));
    f.x2.clear();
    f.x2.extend(batch.x.iter().map(|v| v * v));
    f.d.clear();
    f.d.resize(t * bn, 0.0);
    f.d_o.clear();
    f.d_o.resize(t * b * o, 0.0);
    f.y.clear();
    f.y.resize(t * b * o, 0.0);
    let mut g = vec![0.0f32; bn];
    let mut s2 = vec![0.0f32; bn];
    let mut so = vec![0.0f32; b * o];
    let alpha = net.alpha;
    let noise_scale = (2.0 * alpha).sqrt() * net.sigma_rec;
    for s in 0..t {
        if let Some(rng) = resample.as_deref_mut() {
            net.sample(rng, m);
        }
        let x = &batch.x[s * b * k..(s + 1) * b * k];
        let x2 = &f.x2[s * b * k..(s + 1) * b * k];
        let prev = s * bn..(s + 1) * bn;
        gemm(b, k, n, 1.0, x, false, &m.input.mu, true, 0.0, &mut g);
        gemm(
            b,
            n,
            n,
            1.0,
            &f.r[prev.clone()],
            false,
            &m.rec.mu,
            true,
            1.0,
            &mut g,
        );
        let has_var = !m.input.v.is_empty() || !m.rec.v.is_empty();
        if has_var {
            s2.iter_mut().for_each(|v| *v = 0.0);
            if !m.input.v.is_empty() {
                gemm(b, k, n, 1.0, x2, false, &m.input.v, true, 0.0, &mut s2);
            }
            if !m.rec.v.is_empty() {
                gemm(
                    b,
                    n,
                    n,
                    1.0,
                    &f.r2[prev.clone()],
                    false,
                    &m.rec.v,
                    true,
                    1.0,
                    &mut s2,
                );
            }
        }
        let cur = (s + 1) * bn;
        // Element-wise update, written as zipped slices so that it vectorises.
        let d = &mut f.d[s * bn..cur];
        if has_var {
            for (dv, &v) in d.iter_mut().zip(&s2) {
                *dv = sqrt_guard(v);
            }
            for ((gv, &e), &dv) in g.iter_mut().zip(&f.eps[s * bn..cur]).zip(d.iter()) {
                *gv += e * dv;
            }
        }
        let (h_prev, h_cur) = f.h.split_at_mut(cur);
        let (h_prev, h_cur) = (&h_prev[s * bn..], &mut h_cur[..bn]);
        for ((hc, &hp), &u) in h_cur.iter_mut().zip(h_prev).zip(&g) {
            *hc = (1.0 - alpha) * hp + alpha * u;
        }
        if !f.noise.is_empty() {
            for (hc, &z) in h_cur.iter_mut().zip(&f.noise[s * bn..cur]) {
                *hc += noise_scale * z;
            }
        }
        for ((r, r2), &h) in f.r[cur..cur + bn]
            .iter_mut()
            .zip(&mut f.r2[cur..cur + bn])
            .zip(h_cur.iter())
        {
            *r = h.max(0.0);
            *r2 = *r * *r;
        }
        // Read-out of r_t.
        let ys = &mut f.y[s * b * o..(s + 1) * b * o];
        gemm(
            b,
            n,
            o,
            1.0,
            &f.r[cur..cur + bn],
            false,
            &m.out.mu,
            true,
            0.0,
            ys,
        );
        if !m.out.v.is_empty() {
            gemm(
                b,
                n,
                o,
                1.0,
                &f.r2[cur..cur + bn],
                false,
                &m.out.v,
                true,
                0.0,
                &mut so,
            );
            for i in 0..b * o {
                let d = sqrt_guard(so[i]);
                f.d_o[s * b * o + i] = d;
                ys[i] += f.eps_o[s * b * o + i] * d;
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

/// Gradients of the nine parameter groups.
#[derive(Clone, Debug, Default)]
pub struct Grads {
    /// (pi, m, Xi) of the input layer.
    pub input: [Vec<f32>; 3],
    /// (pi, m, Xi) of the recurrent layer.
    pub rec: [Vec<f32>; 3],
    /// (pi, m, Xi) of the read-out.
    pub out: [Vec<f32>; 3],
    dy: Vec<f32>,
    ds_o: Vec<f32>,
    dr: Vec<f32>,
    dg: Vec<f32>,
    ds: Vec<f32>,
    dh_next: Vec<f32>,
    tmp: Vec<f32>,
    g_mu: Vec<f32>,
    g_v: Vec<f32>,
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

    /// Adds `a` times the parameter gradients of `other`.
    pub fn add_scaled(&mut self, other: &Grads, a: f32) {
        let mine = self
            .input
            .iter_mut()
            .chain(self.rec.iter_mut())
            .chain(self.out.iter_mut());
        let theirs = other
            .input
            .iter()
            .chain(other.rec.iter())
            .chain(other.out.iter());
        for (g, o) in mine.zip(theirs) {
            g.iter_mut().zip(o).for_each(|(x, &y)| *x += a * y);
        }
    }
}

fn zeros(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
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
    let (t, b, n, k, o) = (batch.t, batch.b, net.rec.rows, net.input.cols, net.out.rows);
    let bn = b * n;
    // dL/dy.
    zeros(&mut gr.dy, t * b * o);
    for s in 0..t {
        for j in 0..b {
            let mk = batch.mask[s * b + j];
            if mk == 0.0 {
                continue;
            }
            let base = (s * b + j) * o;
            let y = &f.y[base..base + o];
            let tg = &batch.y[base..base + o];
            match kind {
                LossKind::CrossEntropy => {
                    let mx = y.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let z: f32 = y.iter().map(|&v| (v - mx).exp()).sum();
                    let ts: f32 = tg.iter().sum();
                    for c in 0..o {
                        let p = (y[c] - mx).exp() / z;
                        gr.dy[base + c] = mk * (ts * p - tg[c]) / b as f32;
                    }
                }
                LossKind::Mse => {
                    for c in 0..o {
                        gr.dy[base + c] = mk * (y[c] - tg[c]) / (b * t) as f32;
                    }
                }
            }
        }
    }
    // Read-out layer over all steps at once (rows = T*B, activity r_1..r_T).
    let r_all = &f.r[bn..];
    let r2_all = &f.r2[bn..];
    zeros(&mut gr.g_mu, o * n);
    zeros(&mut gr.g_v, o * n);
    gemm(
        o,
        t * b,
        n,
        1.0,
        &gr.dy,
        true,
        r_all,
        false,
        0.0,
        &mut gr.g_mu,
    );
    zeros(&mut gr.dr, t * bn);
    gemm(
        t * b,
        o,
        n,
        1.0,
        &gr.dy,
        false,
        &m.out.mu,
        false,
        0.0,
        &mut gr.dr,
    );
    if !m.out.v.is_empty() {
        zeros(&mut gr.ds_o, t * b * o);
        for i in 0..t * b * o {
            if f.d_o[i] > 0.0 {
                gr.ds_o[i] = gr.dy[i] * f.eps_o[i] / (2.0 * f.d_o[i]);
            }
        }
        gemm(
            o,
            t * b,
            n,
            1.0,
            &gr.ds_o,
            true,
            r2_all,
            false,
            0.0,
            &mut gr.g_v,
        );
        zeros(&mut gr.tmp, t * bn);
        gemm(
            t * b,
            o,
            n,
            1.0,
            &gr.ds_o,
            false,
            &m.out.v,
            false,
            0.0,
            &mut gr.tmp,
        );
        for ((d, &r), &tm) in gr.dr.iter_mut().zip(r_all).zip(&gr.tmp) {
            *d += 2.0 * r * tm;
        }
    }
    for v in gr.out.iter_mut() {
        zeros(v, o * n);
    }
    let [gp, gm, gx] = &mut gr.out;
    net.out.chain(&gr.g_mu, &gr.g_v, gp, gm, gx);

    // Back through time.
    zeros(&mut gr.dg, t * bn);
    zeros(&mut gr.ds, t * bn);
    zeros(&mut gr.dh_next, bn);
    zeros(&mut gr.tmp, bn);
    let alpha = net.alpha;
    let rec_var = !m.rec.v.is_empty();
    for s in (0..t).rev() {
        let blk = s * bn..(s + 1) * bn;
        if s + 1 < t {
            let nb = (s + 1) * bn..(s + 2) * bn;
            gemm(
                b,
                n,
                n,
                1.0,
                &gr.dg[nb.clone()],
                false,
                &m.rec.mu,
                false,
                1.0,
                &mut gr.dr[blk.clone()],
            );
            if rec_var {
                gemm(
                    b,
                    n,
                    n,
                    1.0,
                    &gr.ds[nb],
                    false,
                    &m.rec.v,
                    false,
                    0.0,
                    &mut gr.tmp,
                );
                let r_now = &f.r[(s + 1) * bn..(s + 2) * bn];
                for ((d, &r), &tm) in gr.dr[blk.clone()].iter_mut().zip(r_now).zip(&gr.tmp) {
                    *d += 2.0 * r * tm;
                }
            }
        }
        let h_now = &f.h[(s + 1) * bn..(s + 2) * bn];
        let dr = &gr.dr[blk.clone()];
        for (((dhn, dg), &h), &r) in gr
            .dh_next
            .iter_mut()
            .zip(&mut gr.dg[blk.clone()])
            .zip(h_now)
            .zip(dr)
        {
            let relu_d = if h > 0.0 { 1.0 } else { 0.0 };
            *dhn = r * relu_d + (1.0 - alpha) * *dhn;
            *dg = alpha * *dhn;
        }
        for (((ds, &dg), &d), &e) in gr.ds[blk.clone()]
            .iter_mut()
            .zip(&gr.dg[blk.clone()])
            .zip(&f.d[blk.clone()])
            .zip(&f.eps[blk])
        {
            *ds = if d > 0.0 { dg * e / (2.0 * d) } else { 0.0 };
        }
    }
    // Recurrent layer: activity r_0 .. r_{T-1}.
    zeros(&mut gr.g_mu, n * n);
    zeros(&mut gr.g_v, n * n);
    gemm(
        n,
        t * b,
        n,
        1.0,
        &gr.dg,
        true,
        &f.r[..t * bn],
        false,
        0.0,
        &mut gr.g_mu,
    );
    if rec_var {
        gemm(
            n,
            t * b,
            n,
            1.0,
            &gr.ds,
            true,
            &f.r2[..t * bn],
            false,
            0.0,
            &mut gr.g_v,
        );
    }
    for v in gr.rec.iter_mut() {
        zeros(v, n * n);
    }
    let [gp, gm, gx] = &mut gr.rec;
    net.rec.chain(&gr.g_mu, &gr.g_v, gp, gm, gx);
    // Input layer.
    zeros(&mut gr.g_mu, n * k);
    zeros(&mut gr.g_v, n * k);
    gemm(
        n,
        t * b,
        k,
        1.0,
        &gr.dg,
        true,
        &batch.x,
        false,
        0.0,
        &mut gr.g_mu,
    );
    if !m.input.v.is_empty() {
        gemm(
            n,
            t * b,
            k,
            1.0,
            &gr.ds,
            true,
            &f.x2,
            false,
            0.0,
            &mut gr.g_v,
        );
    }
    for v in gr.input.iter_mut() {
        zeros(v, n * k);
    }
    let [gp, gm, gx] = &mut gr.input;
    net.input.chain(&gr.g_mu, &gr.g_v, gp, gm, gx);
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn check(kind: LossKind, input_stochastic: bool, sigma_rec: f32) {
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let (n, k, o, t, b) = (6, 3, 2, 7, 4);
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
}
