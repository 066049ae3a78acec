//! Huang et al.'s muP parametrisation of the tanh RNN, and [`Param`], the one entry point
//! that runs either parametrisation.
//!
//! muP (docs/RNN.md): the state h is the pre-activation and r = tanh(h) the rate,
//! `h_{s+1} = (1 - tau) h_s + tau (J r_s / N + U x_s + b)`, `y_s = W_out r_{s+1} / (gamma N) + c`,
//! h_0 = 0. The products are the standard model's [`mul_acc`] on the scaled matrices
//! J / N and W_out / (gamma N), so the same kernels (and their fixed summation order) run;
//! the gradients of the stored J and W_out carry the scales once more.
//!
//! Backward: with delta_s = dL/dh_{s+1} and e_s = tau delta_s (the gradient of the step's
//! drive), `dL/dr_s = (W_out / gamma N)^T dy_s + (J / N)^T e_{s+1}`,
//! `delta_s = (1 - r^2) dL/dr_s + (1 - tau) delta_{s+1}`, and
//! gJ = sum_s e_s^T r_{s-1} / N, gU = sum_s e_s^T x_s, gb = sum_s e_s,
//! gW_out = sum_s dy_s^T r_s / (gamma N).

use super::kernels::{Strided, mul_acc, tanh_backward, tanh_in_place};
use super::model::{
    self, Backward, Forward, Layout, LearnBias, reshape3, reuse, standard, transpose_into,
};
use crate::tasks::Batch;
use ensweep_core::config::tanh_rnn::{Parametrization, TanhRnnConfig};

/// How the parameters enter the dynamics and the read-out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param {
    /// The discrete tanh RNN of [`model`].
    Standard,
    /// muP with feature-learning strength gamma and time constant tau.
    Mup {
        /// Read-out divisor gamma N, learning rate gamma lr.
        gamma: f32,
        /// Update fraction per step.
        tau: f32,
    },
}

impl Param {
    /// The parametrisation `cfg` asks for.
    pub fn of(cfg: &TanhRnnConfig) -> Param {
        match cfg.parametrization {
            Parametrization::Standard => Param::Standard,
            Parametrization::Mup => Param::Mup {
                gamma: cfg.gamma as f32,
                tau: cfg.tau as f32,
            },
        }
    }

    /// Effective recurrent matrix = this x the stored W_rec (1 / N for muP's J).
    pub fn rec_scale(self, n: usize) -> f32 {
        match self {
            Param::Standard => 1.0,
            Param::Mup { .. } => 1.0 / n as f32,
        }
    }

    /// Effective read-out = this x the stored W_out (1 / (gamma N) for muP).
    pub fn out_scale(self, n: usize) -> f32 {
        match self {
            Param::Standard => 1.0,
            Param::Mup { gamma, .. } => 1.0 / (gamma * n as f32),
        }
    }

    /// Factor on the configured learning rate (gamma for muP).
    pub fn lr_scale(self) -> f64 {
        match self {
            Param::Standard => 1.0,
            Param::Mup { gamma, .. } => f64::from(gamma),
        }
    }

    /// Runs the network on a batch; `out.h` holds the rates (standard: the states).
    pub fn forward(self, p: &[f32], l: Layout, batch: &Batch, out: &mut Forward) {
        match self {
            Param::Standard => model::forward(p, l, batch, out),
            Param::Mup { gamma, tau } => forward(p, l, gamma, tau, batch, out),
        }
    }

    /// Gradient of the masked-MSE [`model::loss`] with respect to every parameter.
    #[expect(
        clippy::too_many_arguments,
        reason = "model::backward's arguments and the parametrisation it dispatches on"
    )]
    pub fn backward(
        self,
        p: &[f32],
        l: Layout,
        batch: &Batch,
        f: &Forward,
        learn: LearnBias,
        ws: &mut Backward,
        g: &mut [f32],
    ) {
        match self {
            Param::Standard => model::backward(p, l, batch, f, learn, ws, g),
            Param::Mup { .. } => {
                let mut dy = Vec::new();
                model::loss_dy(batch, f, &mut dy);
                self.backward_dy(p, l, batch, f, &dy, learn, ws, g);
            }
        }
    }

    /// Gradient of any function of the outputs whose derivative with respect to y is `dy`
    /// (axes step, trial, output), in either parametrisation.
    #[expect(
        clippy::too_many_arguments,
        reason = "the backward pass's inputs, buffers and output; a struct would only rename them"
    )]
    pub fn backward_dy(
        self,
        p: &[f32],
        l: Layout,
        batch: &Batch,
        f: &Forward,
        dy: &[f32],
        learn: LearnBias,
        ws: &mut Backward,
        g: &mut [f32],
    ) {
        match self {
            Param::Standard => model::backward_dy(p, l, batch, f, dy, learn, ws, g),
            Param::Mup { gamma, tau } => backward_dy(p, l, gamma, tau, batch, f, dy, learn, ws, g),
        }
    }
}

/// `out = scale * w` (resized).
fn scaled_into(w: &[f32], scale: f32, out: &mut Vec<f32>) {
    out.clear();
    out.extend(w.iter().map(|&v| v * scale));
}

/// The muP forward pass (see the module docs). `out.pre` holds h, `out.h` holds tanh(h).
fn forward(p: &[f32], l: Layout, gamma: f32, tau: f32, batch: &Batch, out: &mut Forward) {
    let (b, t, n) = (batch.b, batch.t, l.n);
    let (rs, os) = (1.0 / n as f32, 1.0 / (gamma * n as f32));
    transpose_into(&p[l.w_in()], n, l.n_in, &mut out.wt_in);
    transpose_into(&p[l.w_rec()], n, n, &mut out.wt_rec);
    out.wt_rec.iter_mut().for_each(|v| *v *= rs);
    transpose_into(&p[l.w_out()], l.n_out, n, &mut out.wt_out);
    out.wt_out.iter_mut().for_each(|v| *v *= os);
    let r = reshape3(&mut out.h, (t + 1, b, n));
    r[..b * n].fill(0.0);
    let h = reshape3(&mut out.pre, (t + 1, b, n));
    h[..b * n].fill(0.0);
    let y = reshape3(&mut out.y, (t, b, l.n_out));
    let bias_rows = model::repeat_rows(&mut out.bias_rows, &p[l.b()], b);
    let c_rows = model::repeat_rows(&mut out.c_rows, &p[l.c()], b);
    for s in 0..t {
        let (h_prev, h_cur) = h.split_at_mut((s + 1) * b * n);
        let (h_prev, h_cur) = (&h_prev[s * b * n..], &mut h_cur[..b * n]);
        let (r_prev, r_cur) = r.split_at_mut((s + 1) * b * n);
        let (r_prev, r_cur) = (&r_prev[s * b * n..], &mut r_cur[..b * n]);
        // The drive J r / N + U x + b, then the leaky update.
        h_cur.copy_from_slice(bias_rows);
        let x = &batch.x[s * b * l.n_in..(s + 1) * b * l.n_in];
        mul_acc(b, l.n_in, n, Strided::rows(x, l.n_in), &out.wt_in, h_cur);
        mul_acc(b, n, n, Strided::rows(r_prev, n), &out.wt_rec, h_cur);
        for (v, &old) in h_cur.iter_mut().zip(h_prev) {
            *v = (1.0 - tau) * old + tau * *v;
        }
        r_cur.copy_from_slice(h_cur);
        tanh_in_place(r_cur);
        let y_s = &mut y[s * b * l.n_out..(s + 1) * b * l.n_out];
        y_s.copy_from_slice(c_rows);
        mul_acc(b, n, l.n_out, Strided::rows(r_cur, n), &out.wt_out, y_s);
    }
}

/// The muP backward pass for a given dL/dy (see the module docs).
#[expect(
    clippy::too_many_arguments,
    reason = "the backward pass's inputs, buffers and output; a struct would only rename them"
)]
fn backward_dy(
    p: &[f32],
    l: Layout,
    gamma: f32,
    tau: f32,
    batch: &Batch,
    f: &Forward,
    dy: &[f32],
    learn: LearnBias,
    ws: &mut Backward,
    g: &mut [f32],
) {
    let (b, t, n, k) = (batch.b, batch.t, l.n, l.n_out);
    let (rs, os) = (1.0 / n as f32, 1.0 / (gamma * n as f32));
    g.iter_mut().for_each(|v| *v = 0.0);
    let fr = standard(&f.h);
    let dy = &dy[..t * b * k];
    let rates = &fr[b * n..]; // r_0 .. r_{T-1}
    mul_acc(k, t * b, n, Strided::t(dy, k), rates, &mut g[l.w_out()]);
    g[l.w_out()].iter_mut().for_each(|v| *v *= os);
    if learn.readout {
        let gc = &mut g[l.c()];
        for row in dy.chunks(k) {
            for (a, &v) in gc.iter_mut().zip(row) {
                *a += v;
            }
        }
    }
    scaled_into(&p[l.w_rec()], rs, &mut ws.j_hat);
    scaled_into(&p[l.w_out()], os, &mut ws.w_hat);
    ws.g_in_t.clear();
    ws.g_in_t.resize(l.n_in * n, 0.0);
    let dr = reuse(&mut ws.dh, b * n);
    let mut e_next = std::mem::take(&mut ws.dpre_next);
    let mut e_cur = std::mem::take(&mut ws.dpre);
    let mut d_next = std::mem::take(&mut ws.delta_next);
    let mut d_cur = std::mem::take(&mut ws.delta);
    for v in [&mut e_next, &mut e_cur, &mut d_next, &mut d_cur] {
        v.resize(b * n, 0.0);
    }
    for s in (0..t).rev() {
        let blk = s * b * n..(s + 1) * b * n;
        dr.fill(0.0);
        let dy_s = &dy[s * b * k..(s + 1) * b * k];
        mul_acc(b, k, n, Strided::rows(dy_s, k), &ws.w_hat, dr);
        if s + 1 < t {
            mul_acc(b, n, n, Strided::rows(&e_next, n), &ws.j_hat, dr);
        }
        tanh_backward(&mut d_cur, dr, &rates[blk]);
        if s + 1 < t {
            for (d, &dn) in d_cur.iter_mut().zip(&d_next) {
                *d += (1.0 - tau) * dn;
            }
        }
        for (e, &d) in e_cur.iter_mut().zip(&d_cur) {
            *e = tau * d;
        }
        // gJ / N is built first (sum over steps of e_s^T r_{s-1}), then scaled.
        let r_prev = &fr[s * b * n..(s + 1) * b * n];
        mul_acc(n, b, n, Strided::t(&e_cur, n), r_prev, &mut g[l.w_rec()]);
        let x_s = &batch.x[s * b * l.n_in..(s + 1) * b * l.n_in];
        mul_acc(
            l.n_in,
            b,
            n,
            Strided::t(x_s, l.n_in),
            &e_cur,
            &mut ws.g_in_t,
        );
        if learn.rec {
            model::add_rows(&mut g[l.b()], &e_cur);
        }
        std::mem::swap(&mut e_cur, &mut e_next);
        std::mem::swap(&mut d_cur, &mut d_next);
    }
    (ws.dpre, ws.dpre_next, ws.delta, ws.delta_next) = (e_cur, e_next, d_cur, d_next);
    g[l.w_rec()].iter_mut().for_each(|v| *v *= rs);
    model::scatter_input_gradient(l, &ws.g_in_t, g);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{TaskGen, huang};
    use ensweep_core::config::tanh_rnn::DelayTask;
    use rand::{RngExt, SeedableRng};

    /// A short two-channel delayed-discrimination batch with the auxiliary output (so every
    /// gradient path has several inputs and outputs), 7 units, muP-sized parameters: J with
    /// entries of order sqrt(N), U and W_out of order 1.
    fn problem() -> (Batch, Layout, Vec<f32>) {
        let task = huang::DelayedDiscrimination::new(
            &DelayTask {
                delay_min: 2,
                delay_max: 6,
                channels: 2,
                aux_output: true,
            },
            false,
        );
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(11);
        let trials = task.trials(&mut rng, 3);
        let refs: Vec<_> = trials.iter().collect();
        let batch = Batch::from_trials(&refs, task.steps(), 2, 4);
        let l = Layout {
            n_in: 2,
            n: 7,
            n_out: 4,
        };
        let mut p: Vec<f32> = (0..l.len())
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        p[l.w_rec()]
            .iter_mut()
            .for_each(|v| *v *= 2.0 * 7f32.sqrt());
        (batch, l, p)
    }

    #[test]
    fn mup_gradient_matches_finite_differences_through_time() {
        let param = Param::Mup {
            gamma: 0.5,
            tau: 0.3,
        };
        let learn = LearnBias {
            rec: true,
            readout: true,
        };
        let (batch, l, mut p) = problem();
        let mut f = Forward::default();
        let mut g = vec![0.0; l.len()];
        param.forward(&p, l, &batch, &mut f);
        param.backward(&p, l, &batch, &f, learn, &mut Backward::default(), &mut g);
        let h = 1e-2f32;
        let mut worst = 0.0f64;
        for i in 0..l.len() {
            let orig = p[i];
            // J's entries are sqrt(N) larger, so its step is too (same relative size).
            let step = if l.w_rec().contains(&i) { h * 7.0 } else { h };
            p[i] = orig + step;
            param.forward(&p, l, &batch, &mut f);
            let up = model::loss(&batch, &f);
            p[i] = orig - step;
            param.forward(&p, l, &batch, &mut f);
            let down = model::loss(&batch, &f);
            p[i] = orig;
            let fd = (up - down) / (2.0 * step as f64);
            let err = (fd - g[i] as f64).abs() / (fd.abs() + (g[i] as f64).abs() + 1e-3);
            worst = worst.max(err);
        }
        assert!(worst < 1e-2, "worst relative error {worst}");
        assert!(
            g[l.w_rec()].iter().any(|&v| v.abs() > 1e-5),
            "no recurrent gradient"
        );
    }

    /// The rates are tanh of the leaky state, and the read-out is W_out r / (gamma N) + c.
    #[test]
    fn mup_forward_follows_the_leaky_update() {
        let (batch, l, p) = problem();
        let (gamma, tau) = (2.0f32, 0.25f32);
        let mut f = Forward::default();
        Param::Mup { gamma, tau }.forward(&p, l, &batch, &mut f);
        let n = l.n;
        // Trial 0 by hand, in f64.
        let mut h = vec![0.0f64; n];
        for s in 0..batch.t {
            let x = &batch.x[s * batch.b * 2..s * batch.b * 2 + 2];
            let r: Vec<f64> = h.iter().map(|v| v.tanh()).collect();
            h = (0..n)
                .map(|i| {
                    let drive = p[l.b()][i] as f64
                        + (0..2)
                            .map(|j| p[l.w_in()][i * 2 + j] as f64 * x[j] as f64)
                            .sum::<f64>()
                        + (0..n)
                            .map(|j| p[l.w_rec()][i * n + j] as f64 * r[j] / n as f64)
                            .sum::<f64>();
                    (1.0 - tau as f64) * h[i] + tau as f64 * drive
                })
                .collect();
            for o in 0..4 {
                let want = p[l.c()][o] as f64
                    + (0..n)
                        .map(|j| p[l.w_out()][o * n + j] as f64 * h[j].tanh())
                        .sum::<f64>()
                        / (gamma as f64 * n as f64);
                let got = f.y[[s, 0, o]] as f64;
                assert!(
                    (got - want).abs() < 1e-4,
                    "step {s} output {o}: {got} vs {want}"
                );
            }
        }
    }

    /// `Param::Standard` is the standard model, bit for bit.
    #[test]
    fn standard_param_is_the_standard_model() {
        let (batch, l, p) = problem();
        let learn = LearnBias {
            rec: false,
            readout: true,
        };
        let (mut f1, mut f2) = (Forward::default(), Forward::default());
        let (mut g1, mut g2) = (vec![0.0; l.len()], vec![0.0; l.len()]);
        model::forward(&p, l, &batch, &mut f1);
        model::backward(&p, l, &batch, &f1, learn, &mut Backward::default(), &mut g1);
        Param::Standard.forward(&p, l, &batch, &mut f2);
        Param::Standard.backward(&p, l, &batch, &f2, learn, &mut Backward::default(), &mut g2);
        assert_eq!(f1.y, f2.y);
        assert_eq!(g1, g2);
    }
}
