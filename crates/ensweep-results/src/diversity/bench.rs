//! The pairwise-metric benchmark recorded in docs/PERFORMANCE.md (`ensweep bench diversity`):
//! one condition of the degeneracy paper's size (50 nets, hidden 64-128, 1,225 pairs) through
//! DSA, d_PIF, CKA and SVCCA, the per-net work (DMD fits, SVCCA subspaces) done once per net and
//! the pairs spread over rayon's threads.
//!
//! The nets are random tanh RNNs (gain 1.2, so their trajectories are rich), driven on a fixed set
//! of probe inputs; the timings depend on sizes, not on training.

use super::dsa::{self, Dmd, DsaOptions};
use super::linalg::from_rows;
use super::metrics::linear_cka;
use super::{pif, svcca};
use ensweep_core::seed::RunSeed;
use ndarray::{Array2, Axis, concatenate};
use rand::RngExt;
use rayon::prelude::*;
use std::time::Instant;

/// Size of the benchmark.
#[derive(Clone, Copy, Debug)]
pub struct DiversityBenchOptions {
    /// Nets in the condition.
    pub nets: usize,
    /// Hidden units of each net.
    pub hidden: usize,
    /// Probe trials per net.
    pub probes: usize,
    /// Steps per probe trial.
    pub steps: usize,
    /// DSA settings.
    pub dsa: DsaOptions,
    /// Seed of the synthetic nets.
    pub seed: u64,
}

impl Default for DiversityBenchOptions {
    fn default() -> Self {
        Self {
            nets: 50,
            hidden: 128,
            probes: 8,
            steps: 50,
            dsa: DsaOptions {
                n_delays: 2,
                delay_interval: 1,
                rank: 20,
                ..DsaOptions::default()
            },
            seed: 1,
        }
    }
}

/// Wall times of one benchmark run, in seconds.
#[derive(Clone, Debug)]
pub struct DiversityBench {
    /// Distinct pairs compared.
    pub pairs: usize,
    /// Rayon threads used.
    pub threads: usize,
    /// Per-net preparation: DMD fits and SVCCA subspaces.
    pub per_net: f64,
    /// DSA over all pairs.
    pub dsa: f64,
    /// d_PIF over all pairs.
    pub d_pif: f64,
    /// Linear CKA over all pairs.
    pub cka: f64,
    /// SVCCA over all pairs.
    pub svcca: f64,
    /// Mean DSA angle, d_PIF, CKA and SVCCA over pairs (so the work cannot be optimised away and
    /// a reader sees plausible values).
    pub means: [f64; 4],
    /// Every pair's values, pairs (i, j) with i < j in row order: DSA angle, d_PIF, CKA, SVCCA
    /// (to compare two builds or two settings pair by pair).
    pub values: Vec<[f64; 4]>,
}

impl DiversityBench {
    /// Everything, preparation included.
    pub fn total(&self) -> f64 {
        self.per_net + self.dsa + self.d_pif + self.cka + self.svcca
    }
}

/// A random tanh RNN's recurrent matrix and its hidden trajectories on the shared probes.
struct SyntheticNet {
    w_rec: Array2<f64>,
    trials: Vec<Array2<f64>>,
}

fn synthetic_net(o: &DiversityBenchOptions, index: usize, probes: &[Vec<f64>]) -> SyntheticNet {
    let mut rng = RunSeed::from_u64(o.seed).rng_indexed("bench.diversity.net", index as u64);
    let n = o.hidden;
    let gain = 1.2 * (3.0 / n as f64).sqrt();
    let w: Vec<f64> = (0..n * n)
        .map(|_| gain * rng.random_range(-1.0..1.0))
        .collect();
    let w_in: Vec<f64> = (0..n * 2).map(|_| rng.random_range(-1.0..1.0)).collect();
    let trials = probes
        .iter()
        .map(|u| {
            let drive: Vec<f64> = (0..n)
                .map(|i| w_in[2 * i] * u[0] + w_in[2 * i + 1] * u[1])
                .collect();
            let mut h = vec![0.0; n];
            let mut rows = Vec::with_capacity(o.steps * n);
            for _ in 0..o.steps {
                h = (0..n)
                    .map(|i| (drive[i] + (0..n).map(|k| w[i * n + k] * h[k]).sum::<f64>()).tanh())
                    .collect();
                rows.extend_from_slice(&h);
            }
            from_rows(o.steps, n, &rows)
        })
        .collect();
    SyntheticNet {
        w_rec: from_rows(n, n, &w),
        trials,
    }
}

/// Distinct pairs (i, j), i < j, in row order.
fn pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect()
}

/// `f` over all distinct pairs, computed in parallel; returns (seconds, values).
fn timed_pairs(n: usize, f: impl Fn(usize, usize) -> f64 + Sync) -> (f64, Vec<f64>) {
    let t0 = Instant::now();
    let values = pairs(n).par_iter().map(|(i, j)| f(*i, *j)).collect();
    (t0.elapsed().as_secs_f64(), values)
}

fn mean_of(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Runs the benchmark.
pub fn bench_diversity(o: &DiversityBenchOptions) -> DiversityBench {
    let mut rng = RunSeed::from_u64(o.seed).rng("bench.diversity.probes");
    let probes: Vec<Vec<f64>> = (0..o.probes)
        .map(|_| vec![rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)])
        .collect();
    let nets: Vec<SyntheticNet> = (0..o.nets)
        .into_par_iter()
        .map(|k| synthetic_net(o, k, &probes))
        .collect();
    let t0 = Instant::now();
    let fits: Vec<Option<Dmd>> = nets
        .par_iter()
        .map(|n| dsa::fit_dmd(&n.trials, &o.dsa).ok())
        .collect();
    let stacked: Vec<Array2<f64>> = nets
        .iter()
        .map(|n| {
            let views: Vec<_> = n.trials.iter().map(|t| t.view()).collect();
            concatenate(Axis(0), &views).expect("equal widths")
        })
        .collect();
    let subspaces: Vec<Array2<f64>> = stacked
        .par_iter()
        .map(|x| svcca::whitened_subspace(x, svcca::KEEP_VARIANCE))
        .collect();
    let per_net = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let d = dsa::pairwise(&fits, &o.dsa);
    let dsa_s = t1.elapsed().as_secs_f64();
    let n = o.nets;
    let dsa_v: Vec<f64> = pairs(n).iter().map(|p| d[*p].angular).collect();
    let (pif_s, pif_v) = timed_pairs(n, |i, j| pif::d_pif(&nets[i].w_rec, &nets[j].w_rec));
    let (cka_s, cka_v) = timed_pairs(n, |i, j| linear_cka(&stacked[i], &stacked[j]));
    let (svcca_s, svcca_v) = timed_pairs(n, |i, j| {
        svcca::svcca_prepared(&subspaces[i], &subspaces[j])
    });
    let values = (0..dsa_v.len())
        .map(|k| [dsa_v[k], pif_v[k], cka_v[k], svcca_v[k]])
        .collect();
    DiversityBench {
        pairs: dsa_v.len(),
        threads: rayon::current_num_threads(),
        per_net,
        dsa: dsa_s,
        d_pif: pif_s,
        cka: cka_s,
        svcca: svcca_s,
        means: [dsa_v, pif_v, cka_v, svcca_v].map(|v| mean_of(&v)),
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_benchmark_runs_every_metric() {
        let o = DiversityBenchOptions {
            nets: 3,
            hidden: 8,
            probes: 4,
            steps: 12,
            dsa: DsaOptions {
                rank: 4,
                ..DsaOptions::default()
            },
            seed: 3,
        };
        let b = bench_diversity(&o);
        assert_eq!(b.pairs, 3);
        let [dsa, pif, cka, svcca] = b.means;
        assert!(dsa > 0.0 && pif > 0.0, "{:?}", b.means);
        assert!(cka > 0.0 && cka <= 1.0 + 1e-9 && svcca > 0.0 && svcca <= 1.0 + 1e-9);
        assert!(b.total() >= b.dsa);
    }
}
