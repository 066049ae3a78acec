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
use ensweep_trainkit::arrays::{
    block, block_mut, clear, empty, filled, reshape, std_mut, std_slice, view_mut, view_slice,
};
use ndarray::{Array2, Array3, ArrayView1, ArrayView2, Axis, s};
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

/// Activations and noise of one pass, all in standard layout (the kernels read their slices).
///
/// The input and the previous rates of a step sit side by side in one row, so the input and
/// recurrent products of a step are one GEMM for the means and one for the variances, and the
/// weight gradients of both layers are one GEMM each over all `T x B` rows.
#[derive(Clone, Debug)]
pub struct Forward {
    /// Steps of the last pass.
    pub t: usize,
    /// Trials of the last pass.
    pub b: usize,
    /// Inputs.
    pub k: usize,
    /// Hidden units.
    pub n: usize,
    /// Axes (step, trial, `[x_s, r_s]`), `T + 1` steps: row j of block s is the input of step s
    /// and the rates entering it (r_0 = relu(h0)); block T holds r_T after a zero input.
    pub a: Array3<f32>,
    /// Element-wise squares of `a`.
    pub a2: Array3<f32>,
    /// Unit noise eps, (step, trial, unit).
    pub eps: Array3<f32>,
    /// Delta, (step, trial, unit).
    pub d: Array3<f32>,
    /// Private noise n, (step, trial, unit) (empty without recurrent noise).
    pub noise: Array3<f32>,
    /// Read-out noise eps', (step, trial, output).
    pub eps_o: Array3<f32>,
    /// Read-out Delta, (step, trial, output).
    pub d_o: Array3<f32>,
    /// Outputs, (step, trial, output) (in training passes only the steps with a loss).
    pub y: Array3<f32>,
    /// Potentials of the current step, (trial, unit).
    h: Array2<f32>,
    /// Mean input G of the current step, (trial, unit).
    g: Array2<f32>,
    /// Input variance S of the current step, (trial, unit).
    s2: Array2<f32>,
    /// Read-out variance of the current step, (trial, output).
    so: Array2<f32>,
    /// `[mu_in | mu_rec]^T`, `(K+N) x N`.
    w_mu: Array2<f32>,
    /// `[v_in | v_rec]^T` (empty without variance).
    w_v: Array2<f32>,
    /// `mu_out^T`, `N x O`.
    out_mu: Array2<f32>,
    /// `v_out^T` (empty without variance).
    out_v: Array2<f32>,
}

impl Default for Forward {
    fn default() -> Self {
        Forward {
            t: 0,
            b: 0,
            k: 0,
            n: 0,
            a: empty(),
            a2: empty(),
            eps: empty(),
            d: empty(),
            noise: empty(),
            eps_o: empty(),
            d_o: empty(),
            y: empty(),
            h: empty(),
            g: empty(),
            s2: empty(),
            so: empty(),
            w_mu: empty(),
            w_v: empty(),
            out_mu: empty(),
            out_v: empty(),
        }
    }
}

impl Forward {
    /// Rates r_s of trial `j` after `s` steps (`s = 0` is the initial state).
    pub fn rates(&self, s: usize, j: usize) -> ArrayView1<'_, f32> {
        self.a.slice(s![s, j, self.k..])
    }

    /// Draws all the noise of a pass over `batch` (mean-field mode).
    pub fn draw_noise(&mut self, net: &SasNet, batch: &Batch, rng: &mut Pcg64Mcg) {
        let (t, b, n, o) = (batch.t, batch.b, net.rec.rows, net.out.rows);
        let any_var = net.input.stochastic || net.rec.stochastic;
        let eps = filled(&mut self.eps, (t, b, n), 0.0);
        if any_var {
            fill_normal(rng, eps);
        }
        clear(&mut self.noise);
        if net.sigma_rec > 0.0 {
            fill_normal(rng, filled(&mut self.noise, (t, b, n), 0.0));
        }
        let eps_o = filled(&mut self.eps_o, (t, b, o), 0.0);
        if net.out.stochastic {
            fill_normal(rng, eps_o);
        }
    }

    /// Only the private recurrent noise (`sigma_rec`), no ensemble noise: a sampled network
    /// run as the reference's sampled MSI test runs it.
    pub fn private_noise_only(&mut self, net: &SasNet, batch: &Batch, rng: &mut Pcg64Mcg) {
        self.zero_noise(net, batch);
        if net.sigma_rec > 0.0 {
            let (t, b, n) = (batch.t, batch.b, net.rec.rows);
            fill_normal(rng, filled(&mut self.noise, (t, b, n), 0.0));
        }
    }

    /// No noise at all (deterministic forward, e.g. of a sampled network).
    pub fn zero_noise(&mut self, net: &SasNet, batch: &Batch) {
        let (t, b, n, o) = (batch.t, batch.b, net.rec.rows, net.out.rows);
        filled(&mut self.eps, (t, b, n), 0.0);
        clear(&mut self.noise);
        filled(&mut self.eps_o, (t, b, o), 0.0);
    }

    /// The weights of the forward products, transposed so that their rows are contiguous.
    fn pack(&mut self, m: &NetMoments) {
        let (input, rec) = (&m.input, &m.rec);
        stack_transposed(&mut self.w_mu, &[input.mu.view(), rec.mu.view()]);
        if input.v.is_empty() && rec.v.is_empty() {
            clear(&mut self.w_v);
        } else {
            // A layer without variance contributes zeros.
            let or_zeros = |l: &Moments| {
                if l.v.is_empty() {
                    Array2::zeros(l.mu.dim())
                } else {
                    l.v.clone()
                }
            };
            let (vi, vr) = (or_zeros(input), or_zeros(rec));
            stack_transposed(&mut self.w_v, &[vi.view(), vr.view()]);
        }
        stack_transposed(&mut self.out_mu, &[m.out.mu.view()]);
        if m.out.v.is_empty() {
            clear(&mut self.out_v);
        } else {
            stack_transposed(&mut self.out_v, &[m.out.v.view()]);
        }
    }

    /// Sizes the buffers of a pass and writes the inputs of every step (and their squares)
    /// and the initial rates into `a` and `a2`.
    fn prepare(&mut self, batch: &Batch, (n, o): (usize, usize), h0: f32, has_var: bool) {
        let (t, b, k) = (batch.t, batch.b, batch.n_in);
        (self.t, self.b, self.k, self.n) = (t, b, k, n);
        reshape(&mut self.a, (t + 1, b, k + n)); // every entry is written below
        reshape(&mut self.a2, (t + 1, b, k + n));
        // Row by row over slices: the inputs and their squares fill the first k columns of
        // every (step, trial) row. (Strided 3-D `assign` and a zipped ndarray iterator cost the
        // evaluation 15 % more instructions than these copies; docs/PERFORMANCE.md.)
        let width = k + n;
        let rows_a = std_mut(&mut self.a).chunks_exact_mut(width);
        let rows_a2 = std_mut(&mut self.a2).chunks_exact_mut(width);
        let xs = batch
            .x
            .chunks_exact(k.max(1))
            .map(Some)
            .chain(std::iter::repeat(None));
        for ((ra, ra2), x) in rows_a.zip(rows_a2).zip(xs).take((t + 1) * b) {
            match x {
                Some(x) if k > 0 => ra[..k].copy_from_slice(x),
                _ => ra[..k].fill(0.0),
            }
            for (q, &v) in ra2[..k].iter_mut().zip(&ra[..k]) {
                *q = v * v;
            }
        }
        let r0 = h0.max(0.0);
        self.a.slice_mut(s![0, .., k..]).fill(r0);
        self.a2.slice_mut(s![0, .., k..]).fill(r0 * r0);
        if has_var {
            reshape(&mut self.d, (t, b, n)); // every entry is written by the pass
        } else {
            filled(&mut self.d, (t, b, n), 0.0);
        }
        reshape(&mut self.d_o, (t, b, o));
        filled(&mut self.y, (t, b, o), 0.0);
        filled(&mut self.h, (b, n), h0);
        reshape(&mut self.g, (b, n));
        reshape(&mut self.s2, (b, n));
        reshape(&mut self.so, (b, o));
    }
}

/// `dst` = the transpose of the matrix whose columns are the `blocks` side by side (all with
/// the same rows).
fn stack_transposed(dst: &mut Array2<f32>, blocks: &[ArrayView2<'_, f32>]) {
    let rows = blocks.first().map_or(0, |b| b.nrows());
    let width = blocks.iter().map(|b| b.ncols()).sum::<usize>();
    reshape(dst, (width, rows)); // every entry is written below
    let mut col = 0;
    for blk in blocks {
        let cols = col..col + blk.ncols();
        match blk.as_slice() {
            // A plain scalar transpose of a standard-layout block (`assign` of a transposed
            // view walks it through ndarray's strided iterator, several times slower here).
            Some(src) => {
                let out = &mut std_mut(dst)[cols.start * rows..cols.end * rows];
                for (r, row) in src.chunks_exact(blk.ncols().max(1)).enumerate() {
                    for (c, &v) in row.iter().enumerate() {
                        out[c * rows + r] = v;
                    }
                }
            }
            None => dst.slice_mut(s![cols, ..]).assign(&blk.t()),
        }
        col += blk.ncols();
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
    batch.mask_array().row(s).iter().any(|&m| m != 0.0)
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
    let (b, n, k, o) = (batch.b, net.rec.rows, net.input.cols, net.out.rows);
    let w = k + n;
    f.prepare(batch, (n, o), net.h0, m_has_var(&wts));
    if let Weights::Fixed(m) = &wts {
        f.pack(m);
    }
    for s in 0..batch.t {
        if let Weights::Resample(m, rng) = &mut wts {
            net.sample(rng, m);
            f.pack(m);
        }
        let a_s = (block(&f.a, s), w, 1);
        gemm_rows(
            b,
            w,
            n,
            a_s,
            (std_slice(&f.w_mu), n),
            false,
            std_mut(&mut f.g),
            n,
        );
        if !f.w_v.is_empty() {
            let a2_s = (block(&f.a2, s), w, 1);
            let s2 = std_mut(&mut f.s2);
            gemm_rows(b, w, n, a2_s, (std_slice(&f.w_v), n), false, s2, n);
        }
        step_units(net, f, s);
        if all || step_has_loss(batch, s) {
            readout(f, s, (b, n, o));
        }
    }
}

/// The element-wise part of step `s` (its products `g`, `s2` done): Delta, the potentials and
/// the rates `r_{s+1}` (with their squares) into the rows of block `s + 1`.
fn step_units(net: &SasNet, f: &mut Forward, s: usize) {
    let alpha = net.alpha;
    // Zipped slices of (trial, unit) blocks: they vectorise (a many-way `Zip` does not).
    let g = std_mut(&mut f.g);
    if !f.w_v.is_empty() {
        let (d, eps) = (block_mut(&mut f.d, s), block(&f.eps, s));
        for ((dv, gv), (&v, &ep)) in d
            .iter_mut()
            .zip(g.iter_mut())
            .zip(std_slice(&f.s2).iter().zip(eps))
        {
            *dv = v.max(0.0).sqrt();
            *gv += ep * *dv;
        }
    }
    let h = std_mut(&mut f.h);
    for (hv, &gv) in h.iter_mut().zip(&*g) {
        *hv = (1.0 - alpha) * *hv + alpha * gv;
    }
    if !f.noise.is_empty() {
        let noise_scale = (2.0 * alpha).sqrt() * net.sigma_rec;
        for (hv, &z) in h.iter_mut().zip(block(&f.noise, s)) {
            *hv += noise_scale * z;
        }
    }
    // Row by row, as zipped slices so that it vectorises (the rate part of a row is strided).
    let k = f.k;
    let mut rows = f.a.index_axis_mut(Axis(0), s + 1);
    let mut rows2 = f.a2.index_axis_mut(Axis(0), s + 1);
    for ((row, row2), h) in rows
        .outer_iter_mut()
        .zip(rows2.outer_iter_mut())
        .zip(f.h.rows())
    {
        let (r, r2) = (
            view_mut(row.slice_move(s![k..])),
            view_mut(row2.slice_move(s![k..])),
        );
        for ((rv, r2v), &hv) in r.iter_mut().zip(r2.iter_mut()).zip(view_slice(h)) {
            *rv = hv.max(0.0);
            *r2v = *rv * *rv;
        }
    }
}

/// The read-out `y` of r_{s+1} (rows of block `s + 1`) at step `s`.
fn readout(f: &mut Forward, s: usize, (b, n, o): (usize, usize, usize)) {
    let (k, w) = (f.k, f.k + n);
    let ys = block_mut(&mut f.y, s);
    let rates = (&block(&f.a, s + 1)[k..], w, 1);
    gemm_rows(b, n, o, rates, (std_slice(&f.out_mu), o), false, ys, o);
    if f.out_v.is_empty() {
        return;
    }
    let rates2 = (&block(&f.a2, s + 1)[k..], w, 1);
    let so = std_mut(&mut f.so);
    gemm_rows(b, n, o, rates2, (std_slice(&f.out_v), o), false, so, o);
    let d_o = block_mut(&mut f.d_o, s);
    let e_o = block(&f.eps_o, s);
    for (((yv, dv), &v), &ep) in ys.iter_mut().zip(d_o).zip(&*so).zip(e_o) {
        *dv = v.max(0.0).sqrt();
        *yv += ep * *dv;
    }
}

/// Loss of a pass.
pub fn loss(kind: LossKind, batch: &Batch, f: &Forward) -> f64 {
    let (t, b) = (batch.t, batch.b);
    let (mask, targets) = (batch.mask_array(), batch.targets());
    let mut total = 0.0f64;
    for ((&mk, y), tg) in mask
        .iter()
        .zip(f.y.lanes(Axis(2)))
        .zip(targets.lanes(Axis(2)))
    {
        let mk = mk as f64;
        if mk == 0.0 {
            continue;
        }
        match kind {
            LossKind::CrossEntropy => {
                let mx = y.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
                let lse = mx + y.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln();
                total -= mk
                    * y.iter()
                        .zip(&tg)
                        .map(|(&v, &z)| z as f64 * (v as f64 - lse))
                        .sum::<f64>();
            }
            LossKind::Mse => {
                total += mk
                    * y.iter()
                        .zip(&tg)
                        .map(|(&v, &z)| ((v - z) as f64).powi(2))
                        .sum::<f64>();
            }
        }
    }
    match kind {
        LossKind::CrossEntropy => total / b as f64,
        LossKind::Mse => total / (2.0 * b as f64 * t as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sas::backward::{Grads, backward, backward_moments};
    use crate::tasks::{Batch, Trial};
    use rand::{RngExt, SeedableRng};

    fn layer(rows: usize, cols: usize, rng: &mut Pcg64Mcg, stochastic: bool) -> SasLayer {
        let mut draw = |lo: f32, hi: f32| {
            Array2::from_shape_simple_fn((rows, cols), || rng.random_range(lo..hi))
        };
        SasLayer {
            rows,
            cols,
            pi: draw(0.05, 0.6),
            m: draw(-0.6, 0.6),
            xi: draw(0.05, 0.4),
            stochastic,
            mask: None,
        }
    }

    /// Parameter group `gi` (pi, m, Xi) of layer `li` (in, rec, out), flat row-major.
    fn group_mut(p: &mut SasNet, li: usize, gi: usize) -> &mut [f32] {
        let l = match li {
            0 => &mut p.input,
            1 => &mut p.rec,
            _ => &mut p.out,
        };
        std_mut(match gi {
            0 => &mut l.pi,
            1 => &mut l.m,
            _ => &mut l.xi,
        })
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

    /// A sampled network with its private noise kept moves off the noise-free run exactly
    /// when there is private noise, and never draws ensemble noise.
    #[test]
    fn private_noise_only_keeps_sigma_rec_and_nothing_else() {
        for (sigma_rec, differs) in [(0.15f32, true), (0.0, false)] {
            let (net, batch, mut rng) = setup(LossKind::Mse, true, sigma_rec, 3);
            let mut m = NetMoments::default();
            net.sample(&mut rng, &mut m);
            let run = |f: &mut Forward, m: &mut NetMoments| {
                forward(&net, m, &batch, f, None);
                f.y.clone()
            };
            let mut quiet = Forward::default();
            quiet.zero_noise(&net, &batch);
            let y0 = run(&mut quiet, &mut m);
            let mut noisy = Forward::default();
            noisy.private_noise_only(&net, &batch, &mut rng);
            assert!(
                noisy
                    .eps
                    .iter()
                    .chain(noisy.eps_o.iter())
                    .all(|&e| e == 0.0)
            );
            let y1 = run(&mut noisy, &mut m);
            assert_eq!(y1 != y0, differs, "sigma_rec {sigma_rec}");
        }
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
                    let an = std_slice(&[&g.input, &g.rec, &g.out][li][gi])[i] as f64;
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
        let trials = |a: &Array3<f32>| {
            a.slice(s![.., js.clone(), ..])
                .as_standard_layout()
                .to_owned()
        };
        let pf = Forward {
            eps: trials(&f.eps),
            noise: if f.noise.is_empty() {
                f.noise.clone()
            } else {
                trials(&f.noise)
            },
            eps_o: trials(&f.eps_o),
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
