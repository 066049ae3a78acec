//! Neural-tangent-kernel alignment between a net's initial and trained parameters, the
//! feature-learning measure of Huang, Singh & Rajan (docs/DEGENERACY.md):
//! `KA = Tr(K_T K_0) / (||K_T||_F ||K_0||_F)` with `K = J J^T`, where `J` holds one row per
//! (probe trial, time step, output) and one column per parameter. KA = 1 means the tangent
//! features did not turn (lazy training); lower means the net learned features.
//!
//! Each Jacobian row comes from the model's own backward pass ([`Param::backward`]) with a loss
//! whose output gradient is one-hot, so the measure follows the run's parametrisation (standard
//! or muP).

use super::model::{Backward, Forward, Layout, LearnBias};
use super::mup::Param;
use crate::tasks::{Batch, TaskGen, Trial};
use ensweep_core::seed::RunSeed;

/// Probe trials of the kernel (conditions 0, 1, 2, ... in turn, so a gate sees each input once).
pub const PROBE_TRIALS: usize = 4;
/// Time steps per probe trial, evenly spaced, the last step included.
pub const PROBE_STEPS: usize = 8;
/// Name of the probe stream, drawn from the fixed probe root so every replicate (and the initial
/// and trained parameters of one net) sees the same probe trials.
pub const PROBE_STREAM: &str = "ntk_probe";

/// The kernel's probe set: [`PROBE_TRIALS`] trials of `task` from the stream [`PROBE_STREAM`]
/// of `root`.
pub fn probe_trials(task: &dyn TaskGen, root: &RunSeed) -> Vec<Trial> {
    let mut rng = root.rng(PROBE_STREAM);
    (0..PROBE_TRIALS)
        .map(|i| task.trial(&mut rng, Some(i)))
        .collect()
}

/// The probed steps of a `t`-step trial: `PROBE_STEPS` evenly spaced, ending at `t - 1`.
pub fn probe_steps(t: usize) -> Vec<usize> {
    let k = PROBE_STEPS.min(t);
    let mut s: Vec<usize> = (1..=k).map(|i| i * t / k - 1).collect();
    s.dedup();
    s
}

/// The first `t` steps of a trial.
fn truncated(tr: &Trial, t: usize, n_in: usize, n_out: usize) -> Trial {
    Trial {
        x: tr.x[..t * n_in].to_vec(),
        y: tr.y[..t * n_out].to_vec(),
        mask: tr.mask[..t].to_vec(),
        condition: tr.condition.clone(),
    }
}

/// The Jacobian of the outputs at the last step of `batch` (one trial) with respect to every
/// parameter, one row per output, from the parametrisation's own backward pass with a one-hot
/// output gradient.
///
/// The loss is the masked MSE of `model::loss`: with the mask on the last step only and the
/// target equal to the output except `target_o = y_o - 1`, its output gradient is
/// `(2 / n_out) (y_o - target_o)` on output `o` and exactly 0 elsewhere; the row is the gradient
/// divided by that factor (computed with the same f32 operations).
fn last_step_rows(
    param: Param,
    p: &[f32],
    l: Layout,
    batch: &mut Batch,
    learn: LearnBias,
    ws: &mut (Forward, Backward),
) -> Vec<Vec<f32>> {
    let (t, k) = (batch.t, l.n_out);
    param.forward(p, l, batch, &mut ws.0);
    let y =
        ws.0.y
            .as_slice()
            .expect("activations are in standard layout");
    let last: Vec<f32> = y[(t - 1) * k..t * k].to_vec();
    batch.mask.iter_mut().for_each(|m| *m = 0.0);
    batch.mask[t - 1] = 1.0;
    let scale = (2.0 / k as f64) as f32;
    (0..k)
        .map(|o| {
            let target = &mut batch.y[(t - 1) * k..t * k];
            target.copy_from_slice(&last);
            target[o] = last[o] - 1.0;
            let unit = scale * (last[o] - target[o]);
            let mut g = vec![0.0f32; l.len()];
            param.backward(p, l, batch, &ws.0, learn, &mut ws.1, &mut g);
            g.iter_mut().for_each(|v| *v /= unit);
            g
        })
        .collect()
}

/// The Jacobian `J` (rows: probe trial x probed step x output; columns: parameters) at `p`.
pub fn jacobian(
    param: Param,
    p: &[f32],
    l: Layout,
    probes: &[Trial],
    steps: &[usize],
    learn: LearnBias,
) -> Vec<Vec<f32>> {
    let mut ws = (Forward::default(), Backward::default());
    let mut rows = Vec::with_capacity(probes.len() * steps.len() * l.n_out);
    for tr in probes {
        for &s in steps {
            let cut = truncated(tr, s + 1, l.n_in, l.n_out);
            let mut batch = Batch::from_trials(&[&cut], s + 1, l.n_in, l.n_out);
            rows.extend(last_step_rows(param, p, l, &mut batch, learn, &mut ws));
        }
    }
    rows
}

/// `K = J J^T` in f64 (symmetric, row-major).
pub fn kernel(j: &[Vec<f32>]) -> Vec<f64> {
    let m = j.len();
    let mut k = vec![0.0f64; m * m];
    for a in 0..m {
        for b in a..m {
            let v: f64 = j[a]
                .iter()
                .zip(&j[b])
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            k[a * m + b] = v;
            k[b * m + a] = v;
        }
    }
    k
}

/// Kernel alignment `Tr(A B) / (||A||_F ||B||_F)` of two symmetric kernels of the same size;
/// in [0, 1] for positive semi-definite ones, NaN when either is zero.
pub fn alignment(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        f64::NAN
    } else {
        dot / (na * nb)
    }
}

/// NTK alignment between parameters `p0` and `p` on the probe set of `task`.
pub fn ntk_alignment(
    param: Param,
    task: &dyn TaskGen,
    l: Layout,
    p0: &[f32],
    p: &[f32],
    learn: LearnBias,
    root: &RunSeed,
) -> f64 {
    let probes = probe_trials(task, root);
    let steps = probe_steps(task.steps());
    let k0 = kernel(&jacobian(param, p0, l, &probes, &steps, learn));
    let kt = kernel(&jacobian(param, p, l, &probes, &steps, learn));
    alignment(&kt, &k0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tanh::model::forward;
    use crate::tasks::jarne::{Gate, GateKind};
    use ensweep_core::config::tanh_rnn::GateTask;
    use rand::{RngExt, SeedableRng};

    const LEARN: LearnBias = LearnBias {
        rec: true,
        readout: true,
    };

    /// The XOR gate, 6 hidden units, random parameters.
    fn setup(seed: u64) -> (Gate, Layout, Vec<f32>) {
        let task = Gate::new(
            GateKind::Xor,
            &GateTask {
                mem_gap: 2,
                input_noise: 0.1,
            },
            false,
        );
        let l = Layout {
            n_in: 2,
            n: 6,
            n_out: 1,
        };
        (task, l, random_params(l, seed))
    }

    fn random_params(l: Layout, seed: u64) -> Vec<f32> {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        (0..l.len())
            .map(|_| rng.random_range(-0.7f32..0.7))
            .collect()
    }

    /// Output `o` at the last step of a `t`-step prefix of `tr` under `p`.
    fn output(p: &[f32], l: Layout, tr: &Trial, t: usize, o: usize) -> f64 {
        let cut = truncated(tr, t, l.n_in, l.n_out);
        let batch = Batch::from_trials(&[&cut], t, l.n_in, l.n_out);
        let mut f = Forward::default();
        forward(p, l, &batch, &mut f);
        f64::from(f.y[[t - 1, 0, o]])
    }

    /// Every row of a two-output net (so the one-hot picks the right output) against central
    /// differences of that output, on a random 30-step trial probed at step 20.
    #[test]
    fn a_jacobian_row_matches_finite_differences_of_the_output() {
        let l = Layout {
            n_in: 2,
            n: 5,
            n_out: 2,
        };
        let mut p = random_params(l, 3);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(9);
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let tr = Trial {
            x: draw(30 * 2),
            y: draw(30 * 2),
            mask: vec![1.0; 30],
            condition: String::new(),
        };
        let t = 21;
        let j = jacobian(
            Param::Standard,
            &p,
            l,
            std::slice::from_ref(&tr),
            &[t - 1],
            LEARN,
        );
        assert_eq!((j.len(), j[0].len()), (2, l.len()));
        let h = 1e-3f32;
        let mut worst = 0.0f64;
        for i in 0..l.len() {
            let orig = p[i];
            for (o, row) in j.iter().enumerate() {
                p[i] = orig + h;
                let up = output(&p, l, &tr, t, o);
                p[i] = orig - h;
                let down = output(&p, l, &tr, t, o);
                p[i] = orig;
                let fd = (up - down) / (2.0 * f64::from(h));
                let a = f64::from(row[i]);
                worst = worst.max((fd - a).abs() / (fd.abs() + a.abs() + 1e-3));
            }
        }
        assert!(worst < 1e-2, "worst relative error {worst}");
        // Each read-out bias enters its own output with slope 1 and the other with 0.
        let c = l.c().start;
        assert_eq!(
            (j[0][c], j[0][c + 1], j[1][c], j[1][c + 1]),
            (1.0, 0.0, 0.0, 1.0)
        );
    }

    #[test]
    fn identical_parameters_align_perfectly() {
        let (task, l, p) = setup(4);
        let a = ntk_alignment(
            Param::Standard,
            &task,
            l,
            &p,
            &p,
            LEARN,
            &RunSeed::from_u64(1),
        );
        assert!((a - 1.0).abs() < 1e-12, "alignment {a}");
    }

    #[test]
    fn alignment_of_different_parameters_is_in_the_unit_interval() {
        let (task, l, p0) = setup(5);
        let (_, _, p1) = setup(6);
        let a = ntk_alignment(
            Param::Standard,
            &task,
            l,
            &p0,
            &p1,
            LEARN,
            &RunSeed::from_u64(1),
        );
        assert!(a > 0.0 && a < 1.0, "alignment {a}");
        // Scaling a kernel does not change its alignment; the bounds hold for PSD kernels.
        let k = kernel(&jacobian(
            Param::Standard,
            &p0,
            l,
            &probe_trials(&task, &RunSeed::from_u64(1)),
            &probe_steps(task.steps()),
            LEARN,
        ));
        let k3: Vec<f64> = k.iter().map(|v| 3.0 * v).collect();
        assert!((alignment(&k, &k3) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn probe_steps_are_spread_and_end_at_the_last_step() {
        assert_eq!(probe_steps(16), vec![1, 3, 5, 7, 9, 11, 13, 15]);
        assert_eq!(probe_steps(3), vec![0, 1, 2]);
        assert_eq!(*probe_steps(210).last().unwrap(), 209);
    }
}
