//! Synthetic completed runs with every kind of row, for this crate's tests (compiled only there).
//!
//! Each run is a small tanh RNN with random weights (init scale set by the `init` axis), driven
//! through a fixed AND-gate probe set, so trajectories, spectra-like rows, pruning curves and
//! weights all come from one consistent network per seed. Nothing here claims to be training.

use crate::tables::{CompletedRun, WeightRow};
use ensweep_core::output::{
    EpochRow, LayerRow, PruningRow, RunOutput, SpectrumRow, TrajectoryRow, Values,
};
use ensweep_core::seed::RunSeed;
use rand::RngExt;

/// A small RNN: `w_in` (units x inputs), `w_rec` (units x units), `w_out` (outputs x units),
/// all row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct TinyRnn {
    /// Hidden units.
    pub units: usize,
    /// Input channels.
    pub inputs: usize,
    /// Output channels.
    pub outputs: usize,
    /// Input weights, units x inputs.
    pub w_in: Vec<f64>,
    /// Recurrent weights, units x units.
    pub w_rec: Vec<f64>,
    /// Readout weights, outputs x units.
    pub w_out: Vec<f64>,
}

impl TinyRnn {
    /// Random network with recurrent gain `gain` drawn from the stream `seed.rng("init")`.
    pub fn random(seed: &RunSeed, units: usize, gain: f64) -> Self {
        let mut rng = seed.rng("init");
        let mut draw = |n: usize, scale: f64| -> Vec<f64> {
            (0..n)
                .map(|_| (rng.random::<f64>() * 2.0 - 1.0) * scale * 3f64.sqrt())
                .collect()
        };
        let (inputs, outputs) = (2, 1);
        let w_in = draw(units * inputs, 1.0);
        let w_rec = draw(units * units, gain / (units as f64).sqrt());
        let w_out = draw(outputs * units, 1.0 / (units as f64).sqrt());
        Self {
            units,
            inputs,
            outputs,
            w_in,
            w_rec,
            w_out,
        }
    }

    /// The same network with hidden units relabelled: new unit `i` is old unit `perm[i]`.
    pub fn permuted(&self, perm: &[usize]) -> Self {
        let n = self.units;
        let mut out = self.clone();
        for i in 0..n {
            for k in 0..self.inputs {
                out.w_in[i * self.inputs + k] = self.w_in[perm[i] * self.inputs + k];
            }
            for j in 0..n {
                out.w_rec[i * n + j] = self.w_rec[perm[i] * n + perm[j]];
            }
            for o in 0..self.outputs {
                out.w_out[o * n + i] = self.w_out[o * n + perm[i]];
            }
        }
        out
    }

    /// Hidden states (steps x units, row-major) for a constant input held for `steps` steps.
    pub fn run(&self, input: &[f64], steps: usize) -> Vec<f64> {
        let n = self.units;
        let mut h = vec![0.0; n];
        let mut out = Vec::with_capacity(steps * n);
        for _ in 0..steps {
            let next: Vec<f64> = (0..n)
                .map(|i| {
                    let mut a: f64 = (0..self.inputs)
                        .map(|k| self.w_in[i * self.inputs + k] * input[k])
                        .sum();
                    a += (0..n).map(|j| self.w_rec[i * n + j] * h[j]).sum::<f64>();
                    a.tanh()
                })
                .collect();
            out.extend_from_slice(&next);
            h = next;
        }
        out
    }

    /// The weights as rows of the `weights` table.
    pub fn weight_rows(&self) -> Vec<WeightRow> {
        let row = |layer: &str, rows: usize, cols: usize, v: &[f64]| WeightRow {
            layer: layer.into(),
            rows: rows as u32,
            cols: cols as u32,
            values: v.iter().map(|x| *x as f32).collect(),
        };
        vec![
            row("in", self.units, self.inputs, &self.w_in),
            row("rec", self.units, self.units, &self.w_rec),
            row("out", self.outputs, self.units, &self.w_out),
        ]
    }
}

/// The four AND-gate input conditions used as probes.
pub const AND_PROBES: [(&str, [f64; 2]); 4] = [
    ("00", [0.0, 0.0]),
    ("01", [0.0, 1.0]),
    ("10", [1.0, 0.0]),
    ("11", [1.0, 1.0]),
];

fn values(pairs: &[(&str, f64)]) -> Values {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A synthetic sweep: one cell per (init, replicate), with all output tables filled, plus the
/// weights of each run (keyed like the runs) for the `weights` table.
pub fn sweep(
    name: &str,
    inits: &[(&str, f64)],
    seeds: u64,
    units: usize,
) -> Vec<(CompletedRun, Vec<WeightRow>)> {
    let mut out = Vec::new();
    for (init, gain) in inits {
        for replicate in 0..seeds {
            let config = format!(r#"{{"init":"{init}","gain":{gain},"units":{units}}}"#);
            let seed = RunSeed::derive(7, &config, replicate);
            let net = TinyRnn::random(&seed, units, *gain);
            let mut noise = seed.rng("metrics");
            let skill = 0.8 + 0.1 * gain.min(1.5) + 0.02 * noise.random::<f64>();
            let steps = 12;
            let trajectories = AND_PROBES
                .iter()
                .enumerate()
                .map(|(p, (cond, input))| TrajectoryRow {
                    probe: p as u32,
                    condition: cond.to_string(),
                    steps: steps as u32,
                    units: units as u32,
                    states: net.run(input, steps).iter().map(|v| *v as f32).collect(),
                })
                .collect();
            let epochs = (0..10)
                .map(|e| EpochRow {
                    epoch: e,
                    values: values(&[
                        ("train_loss", (1.0 - skill) + 1.0 / (e as f64 + 1.0)),
                        ("test_acc", skill * (1.0 - (-(e as f64) / 3.0).exp())),
                    ]),
                })
                .collect();
            let mut pruning = Vec::new();
            for (criterion, speed) in [("vip", 3.0), ("magnitude", 1.5), ("random", 0.6)] {
                for k in 0..=10 {
                    let f = k as f64 / 10.0;
                    let acc = 0.5 + (skill - 0.5) * (-speed * f * f * 4.0).exp()
                        - 0.01 * noise.random::<f64>();
                    pruning.push(PruningRow {
                        layer: "all".into(),
                        criterion: criterion.into(),
                        fraction: f,
                        count: (f * (units * units) as f64).round() as u64,
                        values: values(&[("test_acc", acc)]),
                    });
                }
            }
            let spectra = eigen_proxy(&net.w_rec, units);
            let mut layers = Vec::new();
            for layer in ["in", "rec", "out"] {
                let vip = 0.1 + 0.1 * noise.random::<f64>();
                let uip = 0.2 + 0.1 * noise.random::<f64>();
                let mut v = vec![
                    ("vip_frac", vip),
                    ("uip_frac", uip),
                    ("variable_frac", 1.0 - vip - uip),
                ];
                let hist: Vec<(String, f64)> = (0..10)
                    .flat_map(|b| {
                        let x = (b as f64 + 0.5) / 10.0;
                        [
                            (format!("pi_hist_{b:02}"), 1.0 / (0.05 + x * (1.0 - x))),
                            (format!("xi_hist_{b:02}"), (-(x - 0.3).powi(2) * 20.0).exp()),
                        ]
                    })
                    .collect();
                v.extend(hist.iter().map(|(k, x)| (k.as_str(), *x)));
                layers.push(LayerRow {
                    layer: layer.into(),
                    values: values(&v),
                });
            }
            let ood_loss = 0.3 + 0.2 * noise.random::<f64>() * gain;
            let run = CompletedRun {
                cell_key: format!("{init}-{replicate:03}"),
                sweep: name.into(),
                kind: "synthetic".into(),
                replicate,
                sweep_seed: 7,
                config_json: config,
                axes_json: format!(r#"{{"init":"{init}"}}"#),
                output: RunOutput {
                    scalars: values(&[
                        ("test_acc", skill),
                        ("ood_loss", ood_loss),
                        ("gain", *gain),
                    ]),
                    epochs,
                    layers,
                    pruning,
                    spectra,
                    trajectories,
                    weights: Vec::new(),
                },
                wall_seconds: 0.1,
                worker: "synthetic".into(),
                attempt: 1,
                trainer_version: "synthetic-1".into(),
            };
            out.push((run, net.weight_rows()));
        }
    }
    out
}

/// Gershgorin-style stand-ins for eigenvalues (row centres and radii on a circle): cheap,
/// deterministic points with the right scale for a spectrum plot; not true eigenvalues.
fn eigen_proxy(w: &[f64], n: usize) -> Vec<SpectrumRow> {
    (0..n)
        .map(|i| {
            let r: f64 = (0..n)
                .filter(|j| *j != i)
                .map(|j| w[i * n + j])
                .sum::<f64>();
            let angle = std::f64::consts::TAU * i as f64 / n as f64;
            SpectrumRow {
                matrix: "rec_trained".into(),
                re: w[i * n + i] + r * angle.cos(),
                im: r * angle.sin(),
            }
        })
        .collect()
}
