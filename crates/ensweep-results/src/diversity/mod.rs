//! Diversity (degeneracy) across seeds within each configuration group of a sweep.
//!
//! For every group (runs sharing all `axis.*` values) and every metric, a seeds x seeds matrix
//! and a summary (mean over distinct pairs, with a bootstrap interval that resamples *seeds*,
//! since pairs sharing a seed are not independent). Inputs come from the tables: trajectories
//! (CKA, dynamics), weights (aligned distance, disagreement of readouts, important-connection
//! overlap) and runs (spread of a behavioural metric such as `ood_loss`; the mean of the
//! trainer's per-net NTK alignment).

pub mod bench;
pub mod dsa;
pub mod feature;
mod lap;
pub mod linalg;
pub mod metrics;
pub mod pif;
mod procrustes;
pub mod svcca;

use crate::frames::{self, Group};
use crate::selection::{GroupSelection, Include, select_groups};
use crate::stats::{Bootstrap, StatsError, mean, std_dev};
use crate::tables::{TablesError, read_table};
use linalg::from_rows;
use metrics::{Net, aligned_weight_distance, disagreement, dynamics_distance, jaccard, linear_cka};
use ndarray::{Array2, Axis, concatenate};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Each run's weight matrices by layer name, by cell key.
type Layers = BTreeMap<String, BTreeMap<String, Array2<f64>>>;

/// Errors of the diversity analysis.
#[derive(Debug, thiserror::Error)]
pub enum DiversityError {
    /// Reading a table failed.
    #[error(transparent)]
    Tables(#[from] TablesError),
    /// A column had an unexpected type or was missing.
    #[error("diversity: {0}")]
    Polars(#[from] PolarsError),
    /// A bootstrap failed.
    #[error("diversity: {0}")]
    Stats(#[from] StatsError),
}

/// Settings of the analysis.
#[derive(Clone, Debug)]
pub struct DiversityOptions {
    /// Delay-embedding lags of the dynamics distance.
    pub delays: usize,
    /// Principal components kept for the dynamics distance.
    pub rank: usize,
    /// Metric of the `runs` table whose spread across seeds is reported.
    pub behaviour_metric: String,
    /// Spike probability at or below which a connection counts as important (`<layer>.pi`
    /// weights hold the spike probability pi; docs/PAPERS.md uses pi <= 0.1 for RNNs).
    pub important_pi: f64,
    /// Bootstrap of the summaries.
    pub bootstrap: Bootstrap,
    /// Which nets are compared (default: those that met their training criterion).
    pub include: Include,
    /// Embedding, DMD rank and optimisation of DSA (`dsa_*` metrics).
    pub dsa: dsa::DsaOptions,
}

impl Default for DiversityOptions {
    fn default() -> Self {
        Self {
            delays: 2,
            rank: 6,
            behaviour_metric: "ood_loss".into(),
            important_pi: 0.1,
            bootstrap: Bootstrap::percentile_bands(),
            include: Include::Criterion,
            dsa: dsa::DsaOptions::default(),
        }
    }
}

/// A seeds x seeds matrix of one metric in one group.
#[derive(Clone, Debug, PartialEq)]
pub struct PairMatrix {
    /// Group label (`axis=value, ...`).
    pub group: String,
    /// Metric name.
    pub metric: String,
    /// Replicate seeds, in matrix order.
    pub seeds: Vec<u64>,
    /// Row-major `seeds.len()^2` values.
    pub values: Vec<f64>,
}

/// Summary of one metric in one group.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Group label.
    pub group: String,
    /// Metric name.
    pub metric: String,
    /// Number of seeds.
    pub n_seeds: usize,
    /// Mean over distinct pairs (or the statistic itself for spread metrics).
    pub mean: f64,
    /// Lower bootstrap bound.
    pub low: f64,
    /// Upper bootstrap bound.
    pub high: f64,
}

/// All matrices and summaries of a sweep.
#[derive(Clone, Debug, Default)]
pub struct Diversity {
    /// Pairwise matrices.
    pub matrices: Vec<PairMatrix>,
    /// Summaries.
    pub summaries: Vec<Summary>,
    /// Per group, how many nets were compared and how many left out (and why).
    pub selection: Vec<GroupSelection>,
}

fn matrix(n: usize, f: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            v[i * n + j] = if j < i { v[j * n + i] } else { f(i, j) };
        }
    }
    v
}

/// Mean over distinct pairs with a bootstrap interval over seeds.
fn summarise(m: &PairMatrix, boot: &Bootstrap) -> Result<Option<Summary>, StatsError> {
    let n = m.seeds.len();
    if n < 2 {
        return Ok(None);
    }
    let pair_mean = |idx: &[f64]| {
        let (mut s, mut c) = (0.0, 0.0);
        for (a, i) in idx.iter().enumerate() {
            for j in &idx[a + 1..] {
                if i != j {
                    let v = m.values[*i as usize * n + *j as usize];
                    if v.is_finite() {
                        s += v;
                        c += 1.0;
                    }
                }
            }
        }
        if c == 0.0 { f64::NAN } else { s / c }
    };
    let idx: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let est = pair_mean(&idx);
    if !est.is_finite() {
        return Ok(None);
    }
    let iv = if n >= 3 {
        boot.ci(&idx, |r| {
            let v = pair_mean(r);
            if v.is_finite() { v } else { est }
        })?
    } else {
        crate::stats::Interval {
            estimate: est,
            low: f64::NAN,
            high: f64::NAN,
        }
    };
    Ok(Some(Summary {
        group: m.group.clone(),
        metric: m.metric.clone(),
        n_seeds: n,
        mean: est,
        low: iv.low,
        high: iv.high,
    }))
}

/// Hidden trajectories of each run: one `steps x units` matrix per probe, ordered by probe.
fn trajectories(df: &DataFrame) -> Result<BTreeMap<String, Vec<Array2<f64>>>, PolarsError> {
    let df = df.sort(["cell_key", "probe"], Default::default())?;
    let keys = df.column("cell_key")?.str()?;
    let steps = df.column("steps")?.u32()?;
    let units = df.column("units")?.u32()?;
    let states = df.column("states")?.list()?;
    let mut out: BTreeMap<String, Vec<Array2<f64>>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(k), Some(s), Some(u), Some(v)) = (
            keys.get(i),
            steps.get(i),
            units.get(i),
            states.get_as_series(i),
        ) else {
            continue;
        };
        let vals: Vec<f64> = v.f32()?.into_no_null_iter().map(f64::from).collect();
        if vals.len() != (s * u) as usize {
            continue;
        }
        out.entry(k.to_string())
            .or_default()
            .push(from_rows(s as usize, u as usize, &vals));
    }
    Ok(out)
}

/// Weight matrices of each run by layer name.
fn weights(df: &DataFrame) -> Result<Layers, PolarsError> {
    let keys = df.column("cell_key")?.str()?;
    let layers = df.column("layer")?.str()?;
    let rows = df.column("rows")?.u32()?;
    let cols = df.column("cols")?.u32()?;
    let values = df.column("values")?.list()?;
    let mut out: Layers = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(k), Some(l), Some(r), Some(c), Some(v)) = (
            keys.get(i),
            layers.get(i),
            rows.get(i),
            cols.get(i),
            values.get_as_series(i),
        ) else {
            continue;
        };
        let vals: Vec<f64> = v.f32()?.into_no_null_iter().map(f64::from).collect();
        if vals.len() == (r * c) as usize {
            out.entry(k.to_string())
                .or_default()
                .insert(l.to_string(), from_rows(r as usize, c as usize, &vals));
        }
    }
    Ok(out)
}

/// Builds a [`Net`] from named layers: `in`/`rec`/`out` or `l1`, `l2`, ...
pub fn net_from_layers(layers: &BTreeMap<String, Array2<f64>>) -> Option<Net> {
    if let (Some(i), Some(r), Some(o)) = (layers.get("in"), layers.get("rec"), layers.get("out")) {
        return Some(Net::Rnn {
            w_in: i.clone(),
            w_rec: r.clone(),
            w_out: o.clone(),
        });
    }
    let chain: Vec<Array2<f64>> = (1..)
        .map_while(|k| layers.get(&format!("l{k}")).cloned())
        .collect();
    (!chain.is_empty()).then_some(Net::Mlp(chain))
}

/// Readout decisions `sign(w_out h_T)` on every probe (first output), for disagreement.
fn predictions(net: &Net, trajs: &[Array2<f64>]) -> Option<Vec<i64>> {
    let Net::Rnn { w_out, .. } = net else {
        return None;
    };
    trajs
        .iter()
        .map(|t| {
            if t.ncols() != w_out.ncols() || t.nrows() == 0 {
                return None;
            }
            let y = w_out.row(0).dot(&t.row(t.nrows() - 1));
            Some(i64::from(y > 0.0))
        })
        .collect()
}

/// Important-connection masks from `<layer>.pi` matrices (in stored unit order: hidden units are
/// not re-aligned here, so the overlap is a lower bound for RNN/MLP hidden layers).
fn important_mask(layers: &BTreeMap<String, Array2<f64>>, threshold: f64) -> Vec<bool> {
    layers
        .iter()
        .filter(|(k, _)| k.ends_with(".pi"))
        .flat_map(|(_, m)| m.iter().map(|v| *v <= threshold).collect::<Vec<_>>())
        .collect()
}

/// Runs every diversity metric on a sweep directory.
pub fn analyse(dir: &Path, opts: &DiversityOptions) -> Result<Diversity, DiversityError> {
    let runs = read_table(dir, "runs")?;
    let (groups, selection) = select_groups(&runs, opts.include)?;
    let trajs = match read_table(dir, "trajectories") {
        Ok(df) => trajectories(&df)?,
        Err(TablesError::Empty { .. }) => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    let weights = match read_table(dir, "weights") {
        Ok(df) => weights(&df)?,
        Err(TablesError::Empty { .. }) => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    let scalars = RunScalars {
        behaviour: frames::f64_by_key(&runs, &opts.behaviour_metric)?,
        ntk_alignment: frames::f64_by_key(&runs, NTK_ALIGNMENT)?,
    };
    let mut out = Diversity {
        selection,
        ..Default::default()
    };
    for g in &groups {
        analyse_group(g, &trajs, &weights, &scalars, opts, &mut out)?;
    }
    Ok(out)
}

/// The per-run scalar the tanh trainer records as its NTK kernel alignment between initial and
/// trained parameters (feature-learning strength; lower = more feature learning).
pub const NTK_ALIGNMENT: &str = "ntk_alignment";

/// Per-run scalars of `runs` that the analysis summarises, by cell key.
struct RunScalars {
    /// The behavioural metric whose spread across nets is reported (`ood_loss`).
    behaviour: BTreeMap<String, f64>,
    /// [`NTK_ALIGNMENT`], where the trainer records it.
    ntk_alignment: BTreeMap<String, f64>,
}

fn analyse_group(
    g: &Group,
    trajs: &BTreeMap<String, Vec<Array2<f64>>>,
    weights: &Layers,
    scalars: &RunScalars,
    opts: &DiversityOptions,
    out: &mut Diversity,
) -> Result<(), DiversityError> {
    // Per-net quantities, summarised (mean and bootstrap interval over nets) after the pairs.
    let mut per_net: Vec<(&str, Vec<f64>)> = Vec::new();
    let mut push = |metric: &str,
                    keys: &[&String],
                    seeds: Vec<u64>,
                    f: &dyn Fn(usize, usize) -> f64|
     -> Result<(), DiversityError> {
        let m = PairMatrix {
            group: g.label.clone(),
            metric: metric.to_string(),
            seeds,
            values: matrix(keys.len(), f),
        };
        if let Some(s) = summarise(&m, &opts.bootstrap)? {
            out.summaries.push(s);
        }
        out.matrices.push(m);
        Ok(())
    };
    // Trajectory-based metrics on the runs that have trajectories.
    let with_traj: Vec<(u64, &String)> = g
        .members
        .iter()
        .filter(|(_, k)| trajs.contains_key(k))
        .map(|(s, k)| (*s, k))
        .collect();
    if with_traj.len() >= 2 {
        let keys: Vec<&String> = with_traj.iter().map(|(_, k)| *k).collect();
        let seeds: Vec<u64> = with_traj.iter().map(|(s, _)| *s).collect();
        let stacked: Vec<Array2<f64>> = keys.iter().map(|k| stack_all(&trajs[*k])).collect();
        push("cka", &keys, seeds.clone(), &|i, j| {
            linear_cka(&stacked[i], &stacked[j])
        })?;
        push("svcca", &keys, seeds.clone(), &|i, j| {
            svcca::svcca(&stacked[i], &stacked[j])
        })?;
        push("dynamics_distance", &keys, seeds.clone(), &|i, j| {
            dynamics_distance(&trajs[keys[i]], &trajs[keys[j]], opts.delays, opts.rank)
        })?;
        let fits: Vec<_> = keys
            .iter()
            .map(|k| dsa::fit_dmd(&trajs[*k], &opts.dsa).ok())
            .collect();
        let d = dsa::pairwise(&fits, &opts.dsa);
        push("dsa_angular", &keys, seeds.clone(), &|i, j| {
            d[(i, j)].angular
        })?;
        push("dsa_euclidean", &keys, seeds, &|i, j| d[(i, j)].euclidean)?;
        let null = keys
            .iter()
            .filter_map(|k| dsa::within_net_null(&trajs[*k], &opts.dsa).ok());
        let null: Vec<f64> = null.map(|s| s.angular).collect();
        per_net.push(("dsa_null_angular", null));
    }
    // Weight-based metrics.
    let nets: Vec<(u64, &String, Net)> = g
        .members
        .iter()
        .filter_map(|(s, k)| weights.get(k).and_then(net_from_layers).map(|n| (*s, k, n)))
        .collect();
    if nets.len() >= 2 {
        let keys: Vec<&String> = nets.iter().map(|(_, k, _)| *k).collect();
        let seeds: Vec<u64> = nets.iter().map(|(s, _, _)| *s).collect();
        push("weight_distance", &keys, seeds.clone(), &|i, j| {
            aligned_weight_distance(&nets[i].2, &nets[j].2)
        })?;
        let layers: Vec<_> = keys.iter().map(|k| &weights[*k]).collect();
        if layers.iter().all(|l| l.contains_key(pif::INIT_LAYER)) {
            push("d_pif_init", &keys, seeds.clone(), &|i, j| {
                pif::init_baseline(layers[i], layers[j])
            })?;
        }
        let moved = layers
            .iter()
            .filter_map(|l| feature::feature_learning_of_layers(l, "rec"));
        per_net.push(("feature_learning_rec", moved.collect()));
        if nets.iter().all(|n| matches!(n.2, Net::Rnn { .. })) {
            push("d_pif", &keys, seeds.clone(), &|i, j| {
                pif::d_pif_of_nets(&nets[i].2, &nets[j].2)
            })?;
        }
        let preds: Vec<Option<Vec<i64>>> = nets
            .iter()
            .map(|(_, k, n)| trajs.get(*k).and_then(|t| predictions(n, t)))
            .collect();
        if preds.iter().all(Option::is_some) {
            push("prediction_disagreement", &keys, seeds.clone(), &|i, j| {
                disagreement(
                    preds[i].as_ref().expect("checked"),
                    preds[j].as_ref().expect("checked"),
                )
            })?;
        }
        let masks: Vec<Vec<bool>> = keys
            .iter()
            .map(|k| important_mask(&weights[*k], opts.important_pi))
            .collect();
        if masks
            .iter()
            .all(|m| !m.is_empty() && m.len() == masks[0].len())
        {
            push("important_jaccard", &keys, seeds, &|i, j| {
                jaccard(&masks[i], &masks[j])
            })?;
        }
    }
    // Behavioural spread: std of a per-run metric, with a bootstrap interval of the std.
    let of_members = |by_key: &BTreeMap<String, f64>| -> Vec<f64> {
        let vals = g.members.iter().filter_map(|(_, k)| by_key.get(k));
        vals.copied().collect()
    };
    let spread = format!("{}_std", opts.behaviour_metric);
    let vals = of_members(&scalars.behaviour);
    out.summaries
        .extend(per_net_summary(g, &spread, &vals, opts, std_dev)?);
    per_net.push((NTK_ALIGNMENT, of_members(&scalars.ntk_alignment)));
    for (metric, vals) in per_net {
        out.summaries
            .extend(per_net_summary(g, metric, &vals, opts, mean)?);
    }
    Ok(())
}

/// A statistic of one value per net (finite ones only) with a bootstrap interval over nets;
/// `None` below 3 nets.
fn per_net_summary(
    g: &Group,
    metric: &str,
    vals: &[f64],
    opts: &DiversityOptions,
    stat: fn(&[f64]) -> f64,
) -> Result<Option<Summary>, StatsError> {
    let vals: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    if vals.len() < 3 {
        return Ok(None);
    }
    let iv = opts.bootstrap.ci(&vals, stat)?;
    Ok(Some(Summary {
        group: g.label.clone(),
        metric: metric.to_string(),
        n_seeds: vals.len(),
        mean: iv.estimate,
        low: iv.low,
        high: iv.high,
    }))
}

/// All trials' states, one below the other (samples x units).
fn stack_all(trajs: &[Array2<f64>]) -> Array2<f64> {
    let views: Vec<_> = trajs.iter().map(|t| t.view()).collect();
    concatenate(Axis(0), &views).unwrap_or_else(|_| Array2::zeros((0, 0)))
}

impl Diversity {
    /// Long-format pairs table: group, metric, seed_a, seed_b, value.
    pub fn pairs_frame(&self) -> PolarsResult<DataFrame> {
        let (mut g, mut m, mut a, mut b, mut v) = (vec![], vec![], vec![], vec![], vec![]);
        for pm in &self.matrices {
            let n = pm.seeds.len();
            for i in 0..n {
                for j in 0..n {
                    g.push(pm.group.as_str());
                    m.push(pm.metric.as_str());
                    a.push(pm.seeds[i]);
                    b.push(pm.seeds[j]);
                    v.push(pm.values[i * n + j]);
                }
            }
        }
        df!("group" => g, "metric" => m, "seed_a" => a, "seed_b" => b, "value" => v)
    }

    /// Summary table: group, metric, n_seeds, mean, low, high.
    pub fn summary_frame(&self) -> PolarsResult<DataFrame> {
        let s = &self.summaries;
        df!(
            "group" => s.iter().map(|x| x.group.as_str()).collect::<Vec<_>>(),
            "metric" => s.iter().map(|x| x.metric.as_str()).collect::<Vec<_>>(),
            "n_seeds" => s.iter().map(|x| x.n_seeds as u64).collect::<Vec<_>>(),
            "mean" => s.iter().map(|x| x.mean).collect::<Vec<_>>(),
            "low" => s.iter().map(|x| x.low).collect::<Vec<_>>(),
            "high" => s.iter().map(|x| x.high).collect::<Vec<_>>()
        )
    }
}

#[cfg(test)]
mod tests;
