//! Evaluation of a trained spike-and-slab MLP: test accuracy of the mean-field net and of
//! sampled deterministic networks, connection categories, ensemble entropy and the
//! target-perturbation experiments (docs/PAPERS.md 1.6-1.9).

use crate::data::Prepared;
use crate::kernels::{self, NormalState};
use crate::model::{self, Layer, Mode, Net, SparseCols, SparseRows, Work};
use crate::pool::for_each;
use ensweep_core::config::sas_mlp::SasMlpConfig;
use ensweep_core::output::{LayerRow, PruningRow, RunOutput, Values, WeightMatrix};
use ensweep_core::seed::RunSeed;
use ensweep_trainkit::arrays::{reshape, std_mut, std_slice, view_mut, view_slice};
use ensweep_trainkit::stats::mean_std;
use ndarray::{Array2, ArrayView2, s};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::sync::Mutex;

/// Examples per evaluation chunk.
const EVAL_CHUNK: usize = 250;

/// Correct answers of `net` on the first `n` rows of `x`, in chunks (parallel inside `pool`).
/// In [`Mode::MeanField`] chunk `c` draws its noise from stream `eval-noise/(draw * 4096 + c)`.
#[expect(
    clippy::too_many_arguments,
    reason = "the shared body of both accuracy modes: net, data, seed, draw and pool as they are"
)]
fn count_correct(
    net: &Net<f32>,
    x: &SparseRows<f32>,
    y: &[u8],
    n: usize,
    mode: Mode,
    seed: &RunSeed,
    draw: u64,
    pool: Option<&rayon::ThreadPool>,
) -> usize {
    let n_chunks = n.div_ceil(EVAL_CHUNK);
    let one = |w: &mut Work<f32>, c: usize| -> usize {
        let (s, e) = (c * EVAL_CHUNK, ((c + 1) * EVAL_CHUNK).min(n));
        let rows: Vec<(&[u32], &[f32])> = (s..e).map(|i| x.row(i)).collect();
        let mut st =
            NormalState::from_rng(&mut seed.rng_indexed("eval-noise", draw * 4096 + c as u64));
        model::forward_rows(net, w, &rows, mode, Some(&y[s..e]), &mut |eps| {
            kernels::fill_normals(&mut st, eps)
        });
        w.correct
    };
    match pool {
        Some(p) => p.install(|| {
            (0..n_chunks)
                .into_par_iter()
                .map_init(|| Work::new(net, EVAL_CHUNK), |w, c| one(w, c))
                .sum()
        }),
        None => {
            let mut w = Work::new(net, EVAL_CHUNK);
            (0..n_chunks).map(|c| one(&mut w, c)).sum()
        }
    }
}

/// Test accuracy of the mean-field net with one noise draw (`draw` selects the stream).
pub fn mean_field_accuracy(
    net: &Net<f32>,
    x: &SparseRows<f32>,
    y: &[u8],
    n: usize,
    seed: &RunSeed,
    draw: u64,
    pool: Option<&rayon::ThreadPool>,
) -> f64 {
    let n = n.min(y.len());
    count_correct(net, x, y, n, Mode::MeanField, seed, draw, pool) as f64 / n as f64
}

/// Accuracy of a deterministic network (weights in `mu`).
pub fn deterministic_accuracy(
    net: &Net<f32>,
    x: &SparseRows<f32>,
    y: &[u8],
    pool: Option<&rayon::ThreadPool>,
) -> f64 {
    let n = y.len();
    let seed = RunSeed::from_u64(0); // unused: no noise in deterministic mode
    count_correct(net, x, y, n, Mode::Deterministic, &seed, 0, pool) as f64 / n as f64
}

/// Draws one network from the ensemble: each weight is absent with probability pi, otherwise
/// `N(m, Xi)` (exactly `m` when `Xi == 0`), as the reference `sampling` does. The result stores
/// the weights in `mu` (and `m`) with `pi = Xi = v = 0`.
pub fn sample_net(net: &Net<f32>, rng: &mut impl rand::Rng) -> Net<f32> {
    let layers = net
        .layers
        .iter()
        .map(|l| {
            // Row-major order, one connection after the other.
            // Slices, not `ndarray` iterators: their `zip` does not fold (callgrind: +5 M).
            let w: Vec<f32> = (std_slice(&l.pi).iter())
                .zip(std_slice(&l.m))
                .zip(std_slice(&l.xi))
                .map(|((&pi, &m), &xi)| {
                    let keep = rng.random::<f64>() > pi as f64;
                    let val = if xi == 0.0 {
                        m
                    } else {
                        let e: f64 = StandardNormal.sample(rng);
                        (m as f64 + (xi as f64).sqrt() * e) as f32
                    };
                    if keep { val } else { 0.0 }
                })
                .collect();
            let w = Array2::from_shape_vec(l.pi.dim(), w).expect("one weight per connection");
            let z = Array2::zeros(l.pi.dim());
            Layer::from_params(z.clone(), w, z)
        })
        .collect();
    Net {
        layers,
        fan_in_scaling: net.fan_in_scaling,
    }
}

/// Connection category under the exact reference rule (docs/PAPERS.md 1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// `pi == 0 && Xi == 0`: deterministic, always present ("very important").
    Vip,
    /// `pi == 1`: always absent ("unimportant").
    Uip,
    /// Everything else.
    Variable,
}

/// Exact category of one connection.
pub fn category(pi: f32, xi: f32) -> Category {
    if pi == 1.0 {
        Category::Uip
    } else if pi == 0.0 && xi == 0.0 {
        Category::Vip
    } else {
        Category::Variable
    }
}

/// Category with tolerances: VIP when `pi <= tol_pi && Xi <= tol_xi`, UIP when `pi >= 1 - tol_pi`.
pub fn category_tol(pi: f32, xi: f32, tol_pi: f64, tol_xi: f64) -> Category {
    let (pi, xi) = (pi as f64, xi as f64);
    if pi >= 1.0 - tol_pi {
        Category::Uip
    } else if pi <= tol_pi && xi <= tol_xi {
        Category::Vip
    } else {
        Category::Variable
    }
}

/// Category fractions and parameter summaries of one layer. `active` marks the input units to
/// count in the `*_active` columns (all of them when `None`).
pub fn layer_stats(
    layer: &Layer<f32>,
    active: Option<&[bool]>,
    tol_pi: f64,
    tol_xi: f64,
) -> Values {
    let mut v = Values::new();
    // counts[exact/tol][all/active][vip, uip, var]
    let mut counts = [[[0u64; 3]; 2]; 2];
    let mut n_active = 0u64;
    let slot = |c: Category| match c {
        Category::Vip => 0,
        Category::Uip => 1,
        Category::Variable => 2,
    };
    for (j, (pis, xis)) in layer.pi_xi_rows().enumerate() {
        let act = active.is_none_or(|a| a[j]);
        for (&p, &x) in pis.iter().zip(xis) {
            let ce = slot(category(p, x));
            let ct = slot(category_tol(p, x, tol_pi, tol_xi));
            counts[0][0][ce] += 1;
            counts[1][0][ct] += 1;
            if act {
                n_active += 1;
                counts[0][1][ce] += 1;
                counts[1][1][ct] += 1;
            }
        }
    }
    let n = layer.len() as f64;
    for (e, exact) in ["", "_tol"].iter().enumerate() {
        for (a, scope) in ["", "_active"].iter().enumerate() {
            let denom = if a == 0 { n } else { n_active as f64 };
            for (k, name) in ["vip", "uip", "variable"].iter().enumerate() {
                v.insert(
                    format!("{name}_frac{exact}{scope}"),
                    counts[e][a][k] as f64 / denom.max(1.0),
                );
            }
        }
    }
    for (k, name) in ["n_vip", "n_uip", "n_variable"].iter().enumerate() {
        v.insert(name.to_string(), counts[0][0][k] as f64);
    }
    v.insert("n_connections".into(), n);
    v.insert("n_active_connections".into(), n_active as f64);
    let mean = |x: &Array2<f32>, f: fn(f32) -> f32| {
        std_slice(x).iter().map(|&a| f(a) as f64).sum::<f64>() / n
    };
    v.insert("mean_pi".into(), mean(&layer.pi, |a| a));
    v.insert("mean_xi".into(), mean(&layer.xi, |a| a));
    v.insert("mean_abs_m".into(), mean(&layer.m, f32::abs));
    v
}

/// Approximate entropy of one spike-and-slab connection (reference `Entropy.py`, docs/PAPERS.md
/// 1.9): the spike is a box of height 0.5e4 on |w| < 1e-4; `draws` Monte-Carlo samples.
pub fn connection_entropy(m: f64, pi: f64, xi: f64, draws: usize, rng: &mut impl rand::Rng) -> f64 {
    if pi == 1.0 || (xi <= 1e-8 && (m == 0.0 || pi == 0.0)) {
        return 0.0;
    }
    if xi <= 1e-8 {
        return -pi * pi.ln() - (1.0 - pi) * (1.0 - pi).ln();
    }
    let sd = xi.sqrt();
    let norm = 1.0 / (2.0 * std::f64::consts::PI * xi).sqrt();
    let pdf0 = norm * (-(m * m) / (2.0 * xi)).exp();
    let a = -pi * (pi + (1.0 - pi) * pdf0 + 1e-6).ln();
    let mut sum = 0.0;
    for _ in 0..draws {
        let r: f64 = StandardNormal.sample(rng);
        let w = r * sd + m;
        let boxv = if w.abs() < 1e-4 { 0.5e4 } else { 0.0 };
        sum += (pi * boxv + (1.0 - pi) * norm * (-r * r / 2.0).exp()).ln();
    }
    -(1.0 - pi) * sum / draws as f64 + a
}

/// Mean connection entropy of a layer; row `j` uses stream `entropy/(layer * 2^20 + j)`.
pub fn layer_entropy(
    layer: &Layer<f32>,
    l: usize,
    seed: &RunSeed,
    pool: Option<&rayon::ThreadPool>,
) -> f64 {
    let total = Mutex::new(vec![0.0f64; layer.n_in]);
    let rows: Vec<usize> = (0..layer.n_in).collect();
    let blocks: Vec<&[usize]> = rows.chunks(64).collect();
    for_each(pool, blocks, |blk| {
        for &j in blk {
            let mut rng = seed.rng_indexed("entropy", ((l as u64) << 20) + j as u64);
            let (m, pi, xi) = (layer.m.row(j), layer.pi.row(j), layer.xi.row(j));
            let s: f64 = (m.iter().zip(&pi).zip(&xi))
                .map(|((&m, &pi), &xi)| {
                    connection_entropy(m as f64, pi as f64, xi as f64, 100, &mut rng)
                })
                .sum();
            total.lock().expect("entropy lock")[j] = s;
        }
    });
    let t = total.into_inner().expect("entropy lock");
    t.iter().sum::<f64>() / layer.len() as f64
}

/// Deterministic forward of all `n` rows through `net`; the pre-activations of every layer
/// (`n x n_out`).
fn forward_all(net: &Net<f32>, x: &SparseRows<f32>, n: usize) -> Vec<Array2<f32>> {
    let mut out: Vec<Array2<f32>> = net
        .layers
        .iter()
        .map(|l| Array2::zeros((n, l.n_out)))
        .collect();
    let mut w = Work::new(net, EVAL_CHUNK);
    for s in (0..n).step_by(EVAL_CHUNK) {
        let e = (s + EVAL_CHUNK).min(n);
        let rows: Vec<(&[u32], &[f32])> = (s..e).map(|i| x.row(i)).collect();
        model::forward_rows(net, &mut w, &rows, Mode::Deterministic, None, &mut |_| {});
        for (o, z) in out.iter_mut().zip(&w.z) {
            o.slice_mut(s![s..e, ..]).assign(&z.slice(s![..e - s, ..]));
        }
    }
    out
}

/// Examples per block of [`error_from`]: a multiple of the product kernels' example groups,
/// small enough that a block's hidden activations (48 x 100) stay in L1.
const ERROR_BLOCK: usize = 48;

/// Test error of the layers after `l` of the deterministic `net` fed with pre-activations
/// `zt_l` stored unit-major (`n_out x n`, so that a perturbation's updates of one unit touch
/// one contiguous row), computed densely ([`kernels::relu_product`]: a fixed summation order,
/// so the same bits on any CPU). Block by block of [`ERROR_BLOCK`] examples through all the
/// later layers: the whole test set's hidden activations (4 MB per layer, written and read
/// back 31 times per sampled net) never leave the cache. `bufs` is scratch (two buffers,
/// grown as needed and reused across calls).
fn error_from(
    net: &Net<f32>,
    l: usize,
    zt_l: ArrayView2<'_, f32>,
    y: &[u8],
    bufs: &mut [Vec<f32>; 2],
) -> f64 {
    let n = y.len();
    let n_l = net.layers[l].n_out;
    if l + 1 == net.layers.len() {
        // The perturbed layer is the output layer.
        let wrong = (0..n)
            .filter(|&b| {
                let mut best = 0;
                for o in 1..n_l {
                    if zt_l[[o, b]] > zt_l[[best, b]] {
                        best = o;
                    }
                }
                best != y[b] as usize
            })
            .count();
        return wrong as f64 / n as f64;
    }
    let zt_l = view_slice(zt_l);
    let [cur, next] = bufs;
    let mut wrong = 0;
    for e0 in (0..n).step_by(ERROR_BLOCK) {
        let nb = ERROR_BLOCK.min(n - e0);
        let mut width = n_l;
        for (k, layer) in net.layers.iter().enumerate().skip(l + 1) {
            // The first later layer reads the block's columns of `zt_l`, the others the block
            // before them (example-major).
            let (src, strides): (&[f32], _) = if k == l + 1 {
                (&zt_l[e0..], (1, n))
            } else {
                (&cur[..], (width, 1))
            };
            next.resize(nb * layer.n_out, 0.0);
            kernels::relu_product(
                layer.n_out,
                nb,
                width,
                src,
                strides,
                layer.fwd.as_slice(),
                net.scale(k),
                &mut next[..nb * layer.n_out],
            );
            std::mem::swap(cur, next);
            width = layer.n_out;
        }
        wrong += (0..nb)
            .filter(|&b| model::argmax(&cur[b * width..(b + 1) * width]) != y[e0 + b] as usize)
            .count();
    }
    wrong as f64 / n as f64
}

/// Picks `k` distinct elements of `from` uniformly (partial Fisher-Yates).
fn choose<T: Copy>(from: &[T], k: usize, rng: &mut impl rand::Rng) -> Vec<T> {
    let mut v = from.to_vec();
    let k = k.min(v.len());
    for i in 0..k {
        let j = rng.random_range(i..v.len());
        v.swap(i, j);
    }
    v.truncate(k);
    v
}

/// The target-perturbation experiments (docs/PAPERS.md 1.8) on every layer.
///
/// For repeat `r` a network is sampled (stream `perturb/(2^40 + r)`); then for each layer and
/// criterion one uniformly random order of the criterion's connections is drawn (stream
/// `perturb/<layer, criterion, r>`) and fraction `f` perturbs its first `round(f n)` entries, so
/// the subsets of one repeat are nested (a random removal order, as in a degradation curve; each
/// subset on its own is a uniform draw). `vip` removes round(f #VIP) VIP connections, `variable`
/// removes the same number of variable ones, `uip_on` gives round(f #UIP) UIP connections a
/// N(0,1) weight. Removing a connection of a sampled net is the same as setting its pi to 1
/// before sampling. Only the perturbed layer's pre-activations are updated (incrementally, from
/// the cached unperturbed ones) and the layers after it recomputed. Test error: mean and
/// population std over the repeats (docs/SCHEMA.md).
pub fn perturbation(
    cfg: &SasMlpConfig,
    seed: &RunSeed,
    net: &Net<f32>,
    data: &Prepared,
    pool: Option<&rayon::ThreadPool>,
) -> Vec<PruningRow> {
    let fracs = &cfg.eval.perturb_fractions;
    let repeats = cfg.eval.perturb_repeats.max(1) as usize;
    if fracs.is_empty() {
        return Vec::new();
    }
    let n = cfg.test_size.min(data.test_y.len());
    let plan = PerturbPlan::new(net, fracs);
    // errors[layer][criterion][fraction][repeat]
    let errors = Mutex::new(vec![
        vec![vec![vec![0.0f64; repeats]; fracs.len()]; 3];
        net.layers.len()
    ]);
    let mut test_cols = SparseCols::default();
    let ids: Vec<usize> = (0..n).collect();
    test_cols.build_from(&data.test_x, &ids, net.layers[0].n_in);
    let reps: Vec<usize> = (0..repeats).collect();
    for_each(pool, reps, |r| {
        let local = perturb_repeat(&plan, seed, net, data, &test_cols, n, r);
        let mut all = errors.lock().expect("perturbation lock");
        for (l, per_l) in local.iter().enumerate() {
            for (crit, per_c) in per_l.iter().enumerate() {
                for (fi, &e) in per_c.iter().enumerate() {
                    all[l][crit][fi][r] = e;
                }
            }
        }
    });
    let errors = errors.into_inner().expect("perturbation lock");
    plan.rows(&errors)
}

/// The criteria of [`perturbation`], in the order of its error arrays.
const CRITERIA: [&str; 3] = ["vip", "variable", "uip_on"];

/// What every repeat of [`perturbation`] shares: the connections of each category per layer and
/// the fractions in the order they are applied.
struct PerturbPlan<'a> {
    fracs: &'a [f64],
    /// Per layer, the connections (input unit, output unit) of each category (exact rule), in
    /// the order vip, variable, uip; each list in row-major order.
    lists: Vec<[Vec<[usize; 2]>; 3]>,
    /// Indices of `fracs` in ascending order of the fraction (results are stored at their
    /// original positions).
    by_size: Vec<usize>,
}

impl<'a> PerturbPlan<'a> {
    fn new(net: &Net<f32>, fracs: &'a [f64]) -> Self {
        let lists = net
            .layers
            .iter()
            .map(|l| {
                let mut c: [Vec<[usize; 2]>; 3] = Default::default();
                for (j, (pis, xis)) in l.pi_xi_rows().enumerate() {
                    for (o, (&pi, &xi)) in pis.iter().zip(xis).enumerate() {
                        let k = match category(pi, xi) {
                            Category::Vip => 0,
                            Category::Variable => 1,
                            Category::Uip => 2,
                        };
                        c[k].push([j, o]);
                    }
                }
                c
            })
            .collect();
        let mut by_size: Vec<usize> = (0..fracs.len()).collect();
        by_size.sort_by(|&a, &b| fracs[a].total_cmp(&fracs[b]));
        PerturbPlan {
            fracs,
            lists,
            by_size,
        }
    }

    /// Connections that criterion `crit` perturbs in layer `l` at fraction `f`: a fraction of
    /// the VIP count for `vip` and `variable` (capped by the variable ones there: the reference
    /// would loop forever drawing more distinct connections than exist), of the UIP count for
    /// `uip_on`. Floored, as the reference's `int(f * len(...))`; see [`floor_count`].
    fn count(&self, l: usize, crit: usize, f: f64) -> usize {
        let lists = &self.lists[l];
        let n_vip = lists[0].len();
        match crit {
            0 => floor_count(f, n_vip),
            1 => floor_count(f, n_vip).min(lists[1].len()),
            _ => floor_count(f, lists[2].len()),
        }
    }

    /// One pruning row per (layer, criterion, fraction): mean and std of the repeats' errors.
    fn rows(&self, errors: &[Vec<Vec<Vec<f64>>>]) -> Vec<PruningRow> {
        let mut rows = Vec::new();
        for (l, per_l) in errors.iter().enumerate() {
            for (crit, per_c) in per_l.iter().enumerate() {
                for (fi, errs) in per_c.iter().enumerate() {
                    let (mean, std) = mean_std(errs);
                    let mut values = Values::new();
                    values.insert("test_err_mean".into(), mean);
                    values.insert("test_err_std".into(), std);
                    rows.push(PruningRow {
                        layer: format!("l{}", l + 1),
                        criterion: CRITERIA[crit].to_string(),
                        fraction: self.fracs[fi],
                        count: self.count(l, crit, self.fracs[fi]) as u64,
                        values,
                    });
                }
            }
        }
        rows
    }
}

/// `floor(f * n)`, the reference's `int(f * len(...))` (docs/PAPERS.md 1.8). The reference
/// generates its fractions as `0.1 * i`, we read them as written (`0.7`); the two differ in the
/// last bit, enough for `0.7 * 90` to give 62.999... and so 62 where the reference counts 63.
/// The 1e-9 guard absorbs that: for every `i` in 0..=10 and `n` up to 200,000 it gives the
/// reference's count (checked exhaustively in the test below).
fn floor_count(f: f64, n: usize) -> usize {
    (f * n as f64 + 1e-9).floor() as usize
}

/// Repeat `r` of [`perturbation`]: samples a network and returns its test errors
/// `[layer][criterion][fraction]`.
fn perturb_repeat(
    plan: &PerturbPlan<'_>,
    seed: &RunSeed,
    net: &Net<f32>,
    data: &Prepared,
    test_cols: &SparseCols<f32>,
    n: usize,
    r: usize,
) -> Vec<Vec<Vec<f64>>> {
    let y = &data.test_y[..n];
    let sampled = sample_net(
        net,
        &mut seed.rng_indexed("perturb", (1u64 << 40) + r as u64),
    );
    let z = forward_all(&sampled, &data.test_x, n);
    let mut bufs: [Vec<f32>; 2] = Default::default();
    let mut zl: Array2<f32> = Array2::zeros((0, 0));
    let mut local = vec![vec![vec![0.0f64; plan.fracs.len()]; 3]; net.layers.len()];
    for (l, layer) in sampled.layers.iter().enumerate() {
        let hidden;
        let inputs = if l == 0 {
            test_cols
        } else {
            hidden = hidden_inputs(&z[l - 1]);
            &hidden
        };
        let zt = unit_major(&z[l]);
        let base_err = error_from(&sampled, l, zt.view(), y, &mut bufs);
        for (crit, curve) in local[l].iter_mut().enumerate() {
            let k_max = plan
                .fracs
                .iter()
                .map(|&f| plan.count(l, crit, f))
                .max()
                .unwrap_or(0);
            let mut rng = seed.rng_indexed("perturb", (((l * 3 + crit) as u64) << 20) + r as u64);
            let order = choose(&plan.lists[l][crit], k_max, &mut rng);
            let new_w: Vec<f32> = order
                .iter()
                .map(|_| {
                    if crit == 2 {
                        let g: f64 = StandardNormal.sample(&mut rng);
                        g as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            reshape(&mut zl, zt.dim());
            std_mut(&mut zl).copy_from_slice(std_slice(&zt));
            let perturbed = Perturbed {
                layer,
                scale: sampled.scale(l),
                inputs,
                order: &order,
                new_w: &new_w,
            };
            let (mut applied, mut err) = (0, base_err);
            for &fi in &plan.by_size {
                let k = plan.count(l, crit, plan.fracs[fi]);
                if k > applied {
                    perturbed.apply(&mut zl, applied..k);
                    applied = k;
                    err = error_from(&sampled, l, zl.view(), y, &mut bufs);
                }
                curve[fi] = err;
            }
        }
    }
    local
}

/// The inputs of a hidden layer unit-major (`ReLU` of the previous layer's pre-activations
/// `z_prev`, `n x width`): an increment then touches only the examples where its input unit is
/// non-zero.
fn hidden_inputs(z_prev: &Array2<f32>) -> SparseCols<f32> {
    let mut act = SparseRows::new();
    for row in z_prev.rows() {
        act.push_relu(view_slice(row));
    }
    let mut cols = SparseCols::default();
    cols.build(&act, z_prev.ncols());
    cols
}

/// A layer's pre-activations (`n x n_out`) unit-major: `n_out x n`, standard layout.
fn unit_major(z: &Array2<f32>) -> Array2<f32> {
    // A plain transpose of the slice (`as_standard_layout` of the transposed view iterates
    // element by element through `ndarray`'s generic iterator: callgrind +0.8 M per run).
    let (n, w) = z.dim();
    let src = std_slice(z);
    let out = (0..w)
        .flat_map(|o| (0..n).map(move |i| src[i * w + o]))
        .collect();
    Array2::from_shape_vec((w, n), out).expect("n_out x n values")
}

/// One criterion's perturbation order in one layer of a sampled net: connection `order[t]` gets
/// the weight `new_w[t]`.
struct Perturbed<'a> {
    layer: &'a Layer<f32>,
    scale: f32,
    /// The layer's inputs unit-major.
    inputs: &'a SparseCols<f32>,
    order: &'a [[usize; 2]],
    new_w: &'a [f32],
}

impl Perturbed<'_> {
    /// Adds the change of the perturbations `range` of the order to the unit-major
    /// pre-activations `zl`. The increment is sorted by (input unit, output unit) and applied
    /// column by column: per element of z the terms are added in increasing input order, as a
    /// row-by-row pass would.
    fn apply(&self, zl: &mut Array2<f32>, range: std::ops::Range<usize>) {
        let mut entries: Vec<(u32, u32, f32)> = range
            .map(|t| {
                let [j, o] = self.order[t];
                let dw = (self.new_w[t] - self.layer.mu[[j, o]]) * self.scale;
                (j as u32, o as u32, dw)
            })
            .filter(|x| x.2 != 0.0)
            .collect();
        entries.sort_unstable_by_key(|x| (x.0, x.1));
        for &(j, o, dw) in &entries {
            let (bs, xs) = self.inputs.col(j as usize);
            let zo = view_mut(zl.row_mut(o as usize));
            for (&b, &x) in bs.iter().zip(xs) {
                zo[b as usize] += dw * x;
            }
        }
    }
}

/// Everything measured after training: accuracies (scalars), per-layer rows, perturbation rows.
pub fn evaluate(
    cfg: &SasMlpConfig,
    seed: &RunSeed,
    net: &Net<f32>,
    data: &Prepared,
    pool: Option<&rayon::ThreadPool>,
) -> RunOutput {
    let mut out = RunOutput::default();
    let t_acc = std::time::Instant::now();
    let n = cfg.test_size.min(data.test_y.len());
    let mf: Vec<f64> = (0..cfg.eval.mean_field_draws as u64)
        .map(|d| mean_field_accuracy(net, &data.test_x, &data.test_y, n, seed, d, pool))
        .collect();
    let sampled: Vec<f64> = (0..cfg.eval.sampled_nets as u64)
        .map(|r| {
            let s = sample_net(net, &mut seed.rng_indexed("sampling", r));
            deterministic_accuracy(&s, &data.test_x, &data.test_y[..n], pool)
        })
        .collect();
    let s = &mut out.scalars;
    let (m, sd) = mean_std(&mf);
    s.insert("test_acc_mf_mean".into(), m);
    s.insert("test_acc_mf_std".into(), sd);
    let (m, sd) = mean_std(&sampled);
    s.insert("test_acc_sampled_mean".into(), m);
    s.insert("test_acc_sampled_std".into(), sd);
    s.insert(
        "eval_accuracy_seconds".into(),
        t_acc.elapsed().as_secs_f64(),
    );
    let t_layers = std::time::Instant::now();
    for (l, layer) in net.layers.iter().enumerate() {
        let active = (l == 0).then_some(&data.active_inputs[..]);
        let mut values = layer_stats(layer, active, cfg.eval.tol_pi, cfg.eval.tol_xi);
        if cfg.eval.entropy {
            values.insert("entropy".into(), layer_entropy(layer, l, seed, pool));
        }
        out.layers.push(LayerRow {
            layer: format!("l{}", l + 1),
            values,
        });
    }
    let t_perturb = std::time::Instant::now();
    out.pruning = perturbation(cfg, seed, net, data, pool);
    let s = &mut out.scalars;
    s.insert(
        "eval_layers_seconds".into(),
        (t_perturb - t_layers).as_secs_f64(),
    );
    s.insert(
        "eval_perturb_seconds".into(),
        t_perturb.elapsed().as_secs_f64(),
    );
    out.weights = weight_matrices(net);
    out
}

/// Mean weights `mu = (1-pi) m` (`l1`, `l2`, ...) and spike probabilities (`l1.pi`, ...) of
/// every layer as `n_out x n_in` matrices, for weight-space diversity across seeds.
pub fn weight_matrices(net: &Net<f32>) -> Vec<WeightMatrix> {
    let transposed = |x: &Array2<f32>| -> Vec<f32> { x.t().iter().copied().collect() };
    let mut out = Vec::with_capacity(2 * net.layers.len());
    for (l, layer) in net.layers.iter().enumerate() {
        let (n_in, n_out) = (layer.n_in, layer.n_out);
        let name = format!("l{}", l + 1);
        let mu = transposed(&layer.mu);
        out.push(WeightMatrix::new(&name, n_out, n_in, mu));
        let pi = transposed(&layer.pi);
        out.push(WeightMatrix::new(&format!("{name}.pi"), n_out, n_in, pi));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn perturbation_counts_are_the_references_floored_counts() {
        // The reference: `for i in range(11): f = 0.1 * i`, then `int(f * len(VIP_loc))`.
        let written = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
        for (i, &f) in written.iter().enumerate() {
            for n in 0..=200_000usize {
                let reference = (0.1 * i as f64 * n as f64) as usize;
                assert_eq!(floor_count(f, n), reference, "f = {f}, n = {n}");
            }
        }
        // Floored, not rounded: 0.25 of 10 VIP is 2 (rounding gave 3), 0.7 of 90 is 63.
        assert_eq!(floor_count(0.25, 10), 2);
        assert_eq!(floor_count(0.7, 90), 63);
    }

    #[test]
    fn blocked_error_matches_a_full_forward_pass() {
        // 30-16-12-5 with wide weights, 101 examples: two full blocks and a short one.
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let layers = [(30, 16), (16, 12), (12, 5)]
            .map(|(i, o)| Layer::init(i, o, 0.3, 0.5, 1.0, &mut rng))
            .into();
        let net = sample_net(
            &Net {
                layers,
                fan_in_scaling: true,
            },
            &mut rng,
        );
        let n = 101;
        let mut x = SparseRows::new();
        for b in 0..n {
            let row: Vec<f32> = (0..30)
                .map(|j| {
                    if (b + j) % 3 == 0 {
                        0.0
                    } else {
                        rng.random::<f32>()
                    }
                })
                .collect();
            x.push_dense(&row);
        }
        let y: Vec<u8> = (0..n).map(|b| (b % 5) as u8).collect();
        let want = 1.0 - deterministic_accuracy(&net, &x, &y, None);
        assert!(
            want > 0.0 && want < 1.0,
            "a test that can tell: error {want}"
        );
        let z = forward_all(&net, &x, n);
        let mut bufs = Default::default();
        for (l, z_l) in z.iter().enumerate() {
            // This layer's pre-activations unit-major, as the perturbation experiments keep them.
            let zt = z_l.t().as_standard_layout().into_owned();
            // One example classified differently would move the error by 1/101.
            let got = error_from(&net, l, zt.view(), &y, &mut bufs);
            assert!((got - want).abs() < 1e-9, "from layer {l}: {got} vs {want}");
        }
    }
}
