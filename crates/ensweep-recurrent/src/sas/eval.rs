//! Evaluation of a trained spike-and-slab RNN: the three evaluation modes, the MSI
//! psychometric matrix and logistic slopes, connection categories, removal curves and the
//! fixed probe set.

use super::data::{TaskData, mnist_batch};
use super::layer::SasLayer;
use super::model::{Forward, NetMoments, SasNet, forward};
use crate::metrics;
use crate::tanh::train::PROBE_ROOT;
use crate::tasks::msi::{self, Msi};
use crate::tasks::{Batch, TaskGen, Trial};
use ensweep_core::output::{PruningRow, Values};
use ensweep_core::seed::RunSeed;
use ensweep_trainkit::arrays::{std_mut, std_slice};
use ensweep_trainkit::stats::mean_std;
use ndarray::{Array3, ArrayView1, Axis};
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;

/// How weights are treated at test time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Mean-field forward with fresh unit noise (the reference's "mean-field" accuracy).
    MeanField,
    /// One network sampled from the ensemble per evaluation pass, deterministic forward.
    SampledNet,
    /// Weights re-sampled at every time step (the reference's "sampling" test).
    PerStep,
    /// As `SampledNet`, but the private recurrent noise (`sigma_rec`) stays on, as in the
    /// reference's sampled MSI test (`eval.sampled_private_noise`).
    SampledNetPrivateNoise,
}

/// Result of one evaluation pass.
#[derive(Clone, Debug, Default)]
pub struct Score {
    /// Test accuracy (MNIST) or mean P(correct) over the 24 MSI conditions.
    pub accuracy: f64,
    /// MSI: P(high | modality, rate), modalities v, a, va x rates 9..16.
    pub psychometric: Option<[[f64; 8]; 3]>,
    /// MSI: mean output on catch trials at the decision time.
    pub catch_output: Option<f64>,
}

/// Trials whose last-step argmax of the outputs `y` (step, trial, output) equals the label's.
pub fn correct_last(batch: &Batch, y: &Array3<f32>) -> usize {
    let last = batch.t - 1;
    let arg = |v: ArrayView1<'_, f32>| {
        v.iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |a, (i, &x)| if x > a.1 { (i, x) } else { a },
            )
            .0
    };
    let targets = batch.targets();
    let (outputs, targets) = (
        y.index_axis(Axis(0), last),
        targets.index_axis(Axis(0), last),
    );
    outputs
        .outer_iter()
        .zip(targets.outer_iter())
        .filter(|(yv, tv)| arg(yv.view()) == arg(tv.view()))
        .count()
}

fn run(
    net: &SasNet,
    batch: &Batch,
    mode: Mode,
    rng: &mut Pcg64Mcg,
    mom: &mut NetMoments,
    f: &mut Forward,
) {
    match mode {
        Mode::MeanField => {
            f.draw_noise(net, batch, rng);
            net.moments(mom);
            forward(net, mom, batch, f, None);
        }
        Mode::SampledNet => {
            f.zero_noise(net, batch);
            forward(net, mom, batch, f, None);
        }
        Mode::PerStep => {
            f.zero_noise(net, batch);
            forward(net, mom, batch, f, Some(rng));
        }
        Mode::SampledNetPrivateNoise => {
            f.private_noise_only(net, batch, rng);
            forward(net, mom, batch, f, None);
        }
    }
}

/// One evaluation pass over the test data. `f` holds the pass's buffers: a caller that scores
/// many times passes the same one, so that each pass reuses the memory of the last instead of
/// faulting in fresh pages (an MSI pass at dt 0.5 ms fills ~5 GB; fresh buffers made page
/// faults 40 % of such a run's CPU time, docs/PERFORMANCE.md). The numbers do not depend on it.
pub fn score(
    net: &SasNet,
    data: &TaskData,
    mode: Mode,
    rng: &mut Pcg64Mcg,
    f: &mut Forward,
) -> Score {
    let mut mom = NetMoments::default();
    if matches!(mode, Mode::SampledNet | Mode::SampledNetPrivateNoise) {
        net.sample(rng, &mut mom);
    }
    match data {
        TaskData::Mnist { test, row, .. } => {
            let chunk = if *row { 1000 } else { 100 };
            let idx: Vec<usize> = (0..test.len()).collect();
            let mut correct = 0;
            for c in idx.chunks(chunk) {
                let batch = mnist_batch(test, c, *row);
                run(net, &batch, mode, rng, &mut mom, f);
                correct += correct_last(&batch, &f.y);
            }
            Score {
                accuracy: correct as f64 / test.len().max(1) as f64,
                ..Score::default()
            }
        }
        TaskData::Msi { test, .. } => msi_score(net, test, mode, rng, &mut mom, f),
    }
}

fn msi_score(
    net: &SasNet,
    test: &Msi,
    mode: Mode,
    rng: &mut Pcg64Mcg,
    mom: &mut NetMoments,
    f: &mut Forward,
) -> Score {
    const REPEATS: usize = 20;
    let mut trials: Vec<Trial> = (0..24 * REPEATS)
        .map(|i| test.trial(rng, Some(i % 24)))
        .collect();
    let catch = test.catch_trials();
    trials.extend((0..6).map(|_| catch.trial(rng, None)));
    let refs: Vec<&Trial> = trials.iter().collect();
    let batch = Batch::from_trials(&refs, test.steps(), msi::N_IN, msi::N_OUT);
    run(net, &batch, mode, rng, mom, f);
    let s = test.decision_end();
    let mut high = [[0.0f64; 8]; 3];
    let mut catch_sum = 0.0;
    for (j, y) in f.y.index_axis(Axis(0), s).outer_iter().enumerate() {
        if j >= 24 * REPEATS {
            catch_sum += (y[0] + y[1]) as f64 / 2.0;
            continue;
        }
        let c = j % 24;
        if y[0] > y[1] {
            high[c / 8][c % 8] += 1.0 / REPEATS as f64;
        }
    }
    let acc = (0..24)
        .map(|c| {
            let p = high[c / 8][c % 8];
            if msi::RATES[c % 8] as f64 > 12.5 {
                p
            } else {
                1.0 - p
            }
        })
        .sum::<f64>()
        / 24.0;
    Score {
        accuracy: acc,
        psychometric: Some(high),
        catch_output: Some(catch_sum / 6.0),
    }
}

/// Slope (per Hz) of a logistic P(high) = sigma(a + b f) fitted by maximum likelihood to the
/// eight rates, each observed `n` times, with a tiny ridge (1e-3 b^2) that keeps the slope
/// finite when the data are perfectly separable.
pub fn logistic_slope(p: &[f64; 8], n: f64) -> f64 {
    let n = n * 20.0;
    let fs: Vec<f64> = msi::RATES.iter().map(|&r| r as f64 - 12.5).collect();
    let (mut a, mut b) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, -2e-3 * b, 0.0, -2e-3, 0.0);
        for (f, &pk) in fs.iter().zip(p) {
            let q = 1.0 / (1.0 + (-(a + b * f)).exp());
            let w = n * q * (1.0 - q);
            ga += n * (pk - q);
            gb += n * (pk - q) * f;
            haa -= w;
            hab -= w * f;
            hbb -= w * f * f;
        }
        hbb += hab * 0.0;
        let hbb_full = hbb + -2e-3;
        let det = haa * hbb_full - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb_full * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    b
}

/// Connection categories and parameter summaries of a layer.
pub fn categories(l: &SasLayer) -> Values {
    let len = l.m.len().max(1) as f64;
    let mut v = Values::new();
    // Slices: `ndarray`'s iterators do not fold (callgrind: 3x here).
    let (pi, m, xi) = (std_slice(&l.pi), std_slice(&l.m), std_slice(&l.xi));
    let pairs = || pi.iter().zip(xi);
    let frac =
        |f: &dyn Fn(f32, f32) -> bool| pairs().filter(|&(&p, &x)| f(p, x)).count() as f64 / len;
    v.insert(
        "mean_abs_m".into(),
        m.iter().map(|x| x.abs() as f64).sum::<f64>() / len,
    );
    v.insert("stochastic".into(), if l.stochastic { 1.0 } else { 0.0 });
    if l.stochastic {
        let vip = frac(&|p, x| p == 0.0 && x == 0.0);
        let uip = frac(&|p, _| p == 1.0);
        v.insert("pi0_frac".into(), frac(&|p, _| p == 0.0));
        v.insert("xi0_frac".into(), frac(&|_, x| x == 0.0));
        v.insert("vip_frac".into(), vip);
        v.insert("uip_frac".into(), uip);
        v.insert("variable_frac".into(), 1.0 - vip - uip);
        v.insert(
            "mean_pi".into(),
            pi.iter().map(|&x| x as f64).sum::<f64>() / len,
        );
        v.insert(
            "mean_xi".into(),
            xi.iter().map(|&x| x as f64).sum::<f64>() / len,
        );
    }
    v
}

/// `k` distinct elements of `from`, uniformly at random.
fn pick(from: &[usize], k: usize, rng: &mut Pcg64Mcg) -> Vec<usize> {
    let mut v = from.to_vec();
    v.shuffle(rng);
    v.truncate(k);
    v
}

/// Removes the recurrent connections `idx` (row-major positions): spike probability 1, or
/// weight 0 in a deterministic layer.
fn remove(net: &mut SasNet, idx: &[usize]) {
    let (params, value) = if net.rec.stochastic {
        (std_mut(&mut net.rec.pi), 1.0)
    } else {
        (std_mut(&mut net.rec.m), 0.0)
    };
    for &i in idx {
        params[i] = value;
    }
}

/// Removal of a uniformly random fraction of the important set (`important`) versus the same
/// number of uniformly random other recurrent connections (`important_random`), plus
/// magnitude (smallest |E[w]|) and uniformly random removal of a fraction of all recurrent
/// connections; accuracy is the mean-field score (mean and std over `repeats`).
pub fn removal_curve(
    net: &SasNet,
    data: &TaskData,
    seed: &RunSeed,
    (important, others): (&[usize], &[usize]),
    (imp_fractions, damage_fractions): (&[f64], &[f64]),
    repeats: u32,
) -> Vec<PruningRow> {
    let mut rows = Vec::new();
    let mut mom = NetMoments::default();
    net.moments(&mut mom);
    let mut buffers = Forward::default();
    let total = net.rec.m.len();
    let reps = repeats.max(1);
    for (ci, crit) in ["important", "important_random", "magnitude", "random"]
        .into_iter()
        .enumerate()
    {
        let fractions = if ci < 2 {
            imp_fractions
        } else {
            damage_fractions
        };
        for (fi, &frac) in fractions.iter().enumerate() {
            let k = match ci {
                0 | 1 => (frac * important.len() as f64).round() as usize,
                _ => (frac * total as f64).round() as usize,
            };
            let mut accs = Vec::new();
            for rep in 0..reps {
                let mut rng = seed.rng_indexed(
                    "removal",
                    ((ci as u64) << 16) | ((fi as u64) << 8) | rep as u64,
                );
                let sel: Vec<usize> = match ci {
                    0 => pick(important, k, &mut rng),
                    1 => pick(others, k, &mut rng),
                    2 => metrics::prune_indices(
                        std_slice(&mom.rec.mu),
                        frac,
                        metrics::Prune::Magnitude,
                        &mut rng,
                    ),
                    _ => metrics::prune_indices(
                        std_slice(&mom.rec.mu),
                        frac,
                        metrics::Prune::Random,
                        &mut rng,
                    ),
                };
                let mut damaged = net.clone();
                remove(&mut damaged, &sel);
                let scored = score(&damaged, data, Mode::MeanField, &mut rng, &mut buffers);
                accs.push(scored.accuracy);
                if ci == 2 {
                    break; // deterministic selection: one repeat
                }
            }
            let (m, s) = mean_std(&accs);
            let mut values = Values::new();
            values.insert("acc".into(), m);
            values.insert("acc_std".into(), s);
            rows.push(PruningRow {
                layer: "rec".into(),
                criterion: crit.into(),
                fraction: frac,
                count: k as u64,
                values,
            });
        }
    }
    rows
}

/// The fixed probe set: the first `n` test images, or MSI test trials spread over the 24
/// conditions drawn from a root shared by every replicate.
pub fn probe_batch(data: &TaskData, n: usize) -> (Option<Batch>, usize) {
    if n == 0 {
        return (None, 0);
    }
    match data {
        TaskData::Mnist { test, row, .. } => {
            let idx: Vec<usize> = (0..n.min(test.len())).collect();
            let b = mnist_batch(test, &idx, *row);
            let t = b.t;
            (Some(b), t)
        }
        TaskData::Msi { test, .. } => {
            let mut rng = RunSeed::from_u64(PROBE_ROOT).rng("msi_probe");
            let trials: Vec<Trial> = (0..n)
                .map(|i| test.trial(&mut rng, Some((i * 7) % 24)))
                .collect();
            let refs: Vec<&Trial> = trials.iter().collect();
            (
                Some(Batch::from_trials(
                    &refs,
                    test.steps(),
                    msi::N_IN,
                    msi::N_OUT,
                )),
                test.steps(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sas::tests::small_msi;
    use crate::sas::train::init_net;

    /// A pass's score does not depend on the buffers it is handed: the same draws give the same
    /// bits in fresh buffers and in buffers another mode (another noise layout) just used.
    #[test]
    fn reused_buffers_score_as_fresh_ones() {
        let cfg = small_msi(1, 20, 0);
        let data = TaskData::load(&cfg).unwrap();
        let (n_in, n_out) = data.dims();
        let seed = RunSeed::from_u64(5);
        let net = init_net(&cfg, n_in, n_out, &seed);
        let modes = [
            Mode::MeanField,
            Mode::SampledNet,
            Mode::PerStep,
            Mode::SampledNetPrivateNoise,
        ];
        let bits = |s: &Score| {
            let psy = s.psychometric.unwrap_or_default();
            let mut v = vec![
                s.accuracy.to_bits(),
                s.catch_output.unwrap_or(-1.0).to_bits(),
            ];
            v.extend(psy.iter().flatten().map(|p| p.to_bits()));
            v
        };
        let mut reused = Forward::default();
        for (i, &mode) in modes.iter().enumerate() {
            let stream = |d: u64| seed.rng_indexed("eval_test", d);
            let fresh = score(
                &net,
                &data,
                mode,
                &mut stream(i as u64),
                &mut Forward::default(),
            );
            // The buffers last held another mode's pass over other draws.
            let other = modes[(i + 1) % modes.len()];
            score(&net, &data, other, &mut stream(99), &mut reused);
            let again = score(&net, &data, mode, &mut stream(i as u64), &mut reused);
            assert_eq!(bits(&fresh), bits(&again), "{mode:?}");
        }
    }
}
