//! The update phase of a training step, in parallel over row ranges of every layer: the
//! gradient products of the batch, one optimiser step per parameter group, projection onto the
//! valid range and the refresh of the moments the forward kernels read.
//!
//! Each task owns disjoint rows, and each row's gradient sums its chunks in batch order, so the
//! result does not depend on how tasks are spread over threads.

use crate::kernels;
use crate::model::{self, Net, Work};
use crate::padded::padded_width;
use ensweep_core::config::optim::ParamGroup;
use ensweep_trainkit::arrays::view_mut;
use ensweep_trainkit::optim::{Optimizer, StepRule};
use ndarray::{Array2, ArrayViewMut2, Axis};

/// Parameters per task in the update phase (row ranges of a layer).
const TASK_PARAMS: usize = 8192;

/// Optimiser state and gradient scratch of one layer.
pub(crate) struct LayerState {
    /// One optimiser per group, in the order pi, m, Xi.
    pub(crate) opt: [Optimizer; 3],
    /// Gradient products `A` and `B` of the layer (PAPERS.md 1.3), `n_in x n_out` like its
    /// parameters.
    pub(crate) acc_a: Array2<f32>,
    pub(crate) acc_b: Array2<f32>,
}

/// The parameter groups, in the order of [`LayerState::opt`].
pub(crate) const GROUPS: [ParamGroup; 3] = [ParamGroup::Pi, ParamGroup::M, ParamGroup::Xi];

/// One row range of one layer, with disjoint views of everything the update touches.
pub(crate) struct Task<'a> {
    /// The layer.
    pub(crate) l: usize,
    n_in: usize,
    n_out: usize,
    j0: usize,
    j1: usize,
    /// The rows `j0..j1` of the layer's matrices.
    pi: ArrayViewMut2<'a, f32>,
    m: ArrayViewMut2<'a, f32>,
    xi: ArrayViewMut2<'a, f32>,
    mu: ArrayViewMut2<'a, f32>,
    v: ArrayViewMut2<'a, f32>,
    /// The rows' part of the layer's interleaved forward copy of `mu` and `v`.
    fwd: &'a mut [f32],
    acc_a: ArrayViewMut2<'a, f32>,
    acc_b: ArrayViewMut2<'a, f32>,
    /// (first, second) moment pieces per group.
    st: Vec<(&'a mut [f32], &'a mut [f32])>,
}

/// Splits `s` into pieces of `len` elements (the last may be shorter); an empty `s` (an
/// optimiser without that state) gives `pieces` empty slices.
fn pieces<T>(s: &mut [T], len: usize, pieces: usize) -> Vec<&mut [T]> {
    if s.is_empty() {
        return (0..pieces).map(|_| <&mut [T]>::default()).collect();
    }
    s.chunks_mut(len).collect()
}

/// The update phase's tasks: every layer cut into row ranges of about `TASK_PARAMS` parameters.
pub(crate) fn update_tasks<'a>(
    net: &'a mut Net<f32>,
    states: &'a mut [LayerState],
) -> Vec<Task<'a>> {
    let mut tasks = Vec::new();
    for (l, (layer, st)) in net.layers.iter_mut().zip(states.iter_mut()).enumerate() {
        let n_out = layer.n_out;
        let rows = (TASK_PARAMS / n_out).max(1);
        let len = rows * n_out;
        let count = layer.n_in.div_ceil(rows);
        let mut pi = layer.pi.axis_chunks_iter_mut(Axis(0), rows);
        let mut m = layer.m.axis_chunks_iter_mut(Axis(0), rows);
        let mut xi = layer.xi.axis_chunks_iter_mut(Axis(0), rows);
        let mut mu = layer.mu.axis_chunks_iter_mut(Axis(0), rows);
        let mut v = layer.v.axis_chunks_iter_mut(Axis(0), rows);
        let fwd_len = rows * 2 * padded_width(n_out);
        let mut fwd = pieces(layer.fwd.as_mut_slice(), fwd_len, count).into_iter();
        let mut a = st.acc_a.axis_chunks_iter_mut(Axis(0), rows);
        let mut b = st.acc_b.axis_chunks_iter_mut(Axis(0), rows);
        let mut sts: Vec<_> = st
            .opt
            .iter_mut()
            .map(|o| {
                let (fm, sm) = o.state_mut();
                pieces(fm, len, count)
                    .into_iter()
                    .zip(pieces(sm, len, count))
            })
            .collect();
        for t in 0..count {
            let j0 = t * rows;
            tasks.push(Task {
                l,
                n_in: layer.n_in,
                n_out,
                j0,
                j1: (j0 + rows).min(layer.n_in),
                pi: pi.next().expect("piece"),
                m: m.next().expect("piece"),
                xi: xi.next().expect("piece"),
                mu: mu.next().expect("piece"),
                v: v.next().expect("piece"),
                fwd: fwd.next().expect("piece"),
                acc_a: a.next().expect("piece"),
                acc_b: b.next().expect("piece"),
                st: sts.iter_mut().map(|it| it.next().expect("piece")).collect(),
            });
        }
    }
    tasks
}

/// One task of the update phase: the row range's gradient products over the batch's chunks,
/// then its parameters' update.
pub(crate) fn run_update(
    t: Task<'_>,
    works: &[Work<f32>],
    rules: &[[StepRule; 3]],
    decays: &[f32; 3],
    lr: f32,
    k: f32,
) {
    let Task {
        l,
        n_in,
        n_out,
        j0,
        j1,
        pi,
        m,
        xi,
        mu,
        v,
        fwd,
        acc_a,
        acc_b,
        mut st,
    } = t;
    debug_assert_eq!(pi.nrows(), j1 - j0);
    let (acc_a, acc_b) = (view_mut(acc_a), view_mut(acc_b));
    model::accumulate_products(works, l, (n_in, n_out), j0, j1, acc_a, acc_b);
    update_params(
        n_out,
        view_mut(pi),
        view_mut(m),
        view_mut(xi),
        view_mut(mu),
        view_mut(v),
        fwd,
        acc_a,
        acc_b,
        &mut st,
        &rules[l],
        decays,
        lr,
        k,
    );
}

kernels::dispatch_plain!(#[expect(clippy::too_many_arguments, reason = "a kernel: flat slices, no structs in the hot loop")] fn update_params(n_out: usize, pi: &mut [f32], m: &mut [f32], xi: &mut [f32], mu: &mut [f32], v: &mut [f32], fwd: &mut [f32], acc_a: &[f32], acc_b: &[f32], st: &mut [(&mut [f32], &mut [f32])], rules: &[StepRule; 3], decays: &[f32; 3], lr: f32, k: f32) => update_params_body);

/// Gradients from the products, one optimiser step per group, projection and moment refresh,
/// row by row (each row's temporaries stay in L1). The arguments are the row-major slices of
/// the task's rows: pi, m, Xi, the moments mu and v, the interleaved forward copy, A and B.
/// Each is its own `&mut`/`&` argument, not an array of slices: only a function's direct
/// reference arguments carry LLVM's no-alias facts, and without them this loop ran 76 % more
/// instructions (callgrind, docs/PERFORMANCE.md "ndarray in the spike-and-slab trainers").
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel body: flat slices, no structs in the hot loop"
)]
fn update_params_body(
    n_out: usize,
    pi: &mut [f32],
    m: &mut [f32],
    xi: &mut [f32],
    mu: &mut [f32],
    v: &mut [f32],
    fwd: &mut [f32],
    acc_a: &[f32],
    acc_b: &[f32],
    st: &mut [(&mut [f32], &mut [f32])],
    rules: &[StepRule; 3],
    decays: &[f32; 3],
    lr: f32,
    k: f32,
) {
    let mut g = vec![0.0f32; 3 * n_out];
    let p = padded_width(n_out);
    for r in 0..pi.len() / n_out {
        let rg = r * n_out..(r + 1) * n_out;
        let (g_pi, rest) = g.split_at_mut(n_out);
        let (g_m, g_xi) = rest.split_at_mut(n_out);
        model::param_grads(
            k,
            &pi[rg.clone()],
            &m[rg.clone()],
            &xi[rg.clone()],
            &acc_a[rg.clone()],
            &acc_b[rg.clone()],
            g_pi,
            g_m,
            g_xi,
        );
        let params: [&mut [f32]; 3] =
            [&mut pi[rg.clone()], &mut m[rg.clone()], &mut xi[rg.clone()]];
        for (gi, (p, gr)) in params.into_iter().zip([&*g_pi, &*g_m, &*g_xi]).enumerate() {
            let (fm, sm) = &mut st[gi];
            let fm = if fm.is_empty() {
                &mut [][..]
            } else {
                &mut fm[rg.clone()]
            };
            let sm = if sm.is_empty() {
                &mut [][..]
            } else {
                &mut sm[rg.clone()]
            };
            rules[gi].apply(p, gr, fm, sm, lr, decays[gi]);
        }
        let (pi, m, xi) = (&mut pi[rg.clone()], &m[rg.clone()], &mut xi[rg.clone()]);
        let (mu, v) = (&mut mu[rg.clone()], &mut v[rg]);
        // The forward kernels' interleaved copy is written in the same pass (a separate
        // row copy compiles to two `memmove` calls per row, 8 M per run).
        let (pv_mu, pv_v) = fwd[r * 2 * p..(r + 1) * 2 * p].split_at_mut(p);
        for i in 0..n_out {
            pi[i] = pi[i].clamp(0.0, 1.0);
            xi[i] = xi[i].max(0.0);
            (mu[i], v[i]) = model::moments(pi[i], m[i], xi[i]);
            (pv_mu[i], pv_v[i]) = (mu[i], v[i]);
        }
    }
}
