//! Work of a recurrent run estimated from its configuration alone (no data loaded), in
//! floating-point operations (multiply-add = 2). `ensweep plan` divides these by rates measured
//! on the benchmarks (docs/PERFORMANCE.md) to print a time; they need to be right within a
//! factor of two, so element-wise work, noise and the optimiser are left out.

use crate::tasks::{TaskGen, msi::Msi, tanh_task};
use ensweep_core::config::TanhRnnConfig;
use ensweep_core::config::sas_rnn::{SasRnnConfig, SasTask};

/// Shapes of one spike-and-slab training epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SasShape {
    /// Inputs per step (K).
    pub k: f64,
    /// Outputs (O).
    pub o: f64,
    /// Hidden units (N).
    pub n: f64,
    /// Steps per trial (T).
    pub t: f64,
    /// Steps with a loss.
    pub loss_steps: f64,
    /// Trials per batch (B).
    pub b: f64,
    /// Batches per epoch.
    pub batches: f64,
}

impl SasShape {
    /// The shapes `cfg` trains with.
    pub(crate) fn of(cfg: &SasRnnConfig) -> SasShape {
        let n = cfg.n_hidden as f64;
        match &cfg.task {
            SasTask::RowMnist(tk) | SasTask::PixelMnist(tk) => {
                let row = matches!(cfg.task, SasTask::RowMnist(_));
                SasShape {
                    k: if row { 28.0 } else { 1.0 },
                    o: 10.0,
                    n,
                    t: if row { 28.0 } else { 784.0 },
                    loss_steps: 1.0,
                    b: tk.batch_size as f64,
                    batches: tk.batches_per_epoch as f64,
                }
            }
            SasTask::Msi(m) => {
                let task = Msi::new(m, false);
                let t = task.steps() as f64;
                SasShape {
                    k: task.n_in() as f64,
                    o: task.n_out() as f64,
                    n,
                    t,
                    loss_steps: t,
                    b: (m.catch_trials + 24) as f64,
                    batches: 1.0,
                }
            }
        }
    }

    /// One training epoch: per step one mean and one variance product of the rows `[x, r]`
    /// (K + N inputs); the read-out and its gradients at steps with a loss; the recurrent
    /// back-propagation products at T - 1 steps; the mean and variance weight-gradient products
    /// over all T x B rows.
    pub(crate) fn epoch_flops(&self) -> f64 {
        let SasShape {
            k,
            o,
            n,
            t,
            loss_steps,
            b,
            batches,
        } = *self;
        let fwd = t * 2.0 * 2.0 * b * (k + n) * n + loss_steps * 2.0 * 2.0 * b * n * o;
        let bwd_out = loss_steps * 4.0 * 2.0 * b * o * n;
        let bwd_rec = (t - 1.0) * 2.0 * 2.0 * b * n * n;
        let wgrad = 2.0 * 2.0 * n * t * b * (k + n);
        batches * (fwd + bwd_out + bwd_rec + wgrad)
    }
}

/// Floating-point operations of one training epoch of `cfg` (multiply-add = 2): what
/// `ensweep bench rnn-smnist` divides its epoch times by.
pub fn sas_rnn_epoch_flops(cfg: &SasRnnConfig) -> f64 {
    SasShape::of(cfg).epoch_flops()
}

/// The work of one `sas_rnn` cell, all epochs run (no early stop), in two parts because they
/// run at different rates: an evaluation pass also draws the ensemble noise of every unit at
/// every step and copies the net it damages, which the counted products leave out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SasRnnWork {
    /// Training: forward, backward and weight-gradient products of every epoch.
    pub train_flops: f64,
    /// Evaluation: the mean-field forward products of every test pass (during training, after
    /// it, and along the removal and damage curves).
    pub eval_flops: f64,
}

/// Training and evaluation of one `sas_rnn` cell, all epochs run (no early stop).
pub fn sas_rnn_work(cfg: &SasRnnConfig) -> SasRnnWork {
    let s = SasShape::of(cfg);
    let train_flops = f64::from(cfg.epochs) * s.epoch_flops();
    // A test pass: the forward mean and variance products over the test trials (MSI: 20
    // repeats of the 24 conditions and 6 catch trials, at the test trials' length).
    let (test_trials, test_steps, test_every) = match &cfg.task {
        SasTask::RowMnist(tk) | SasTask::PixelMnist(tk) => {
            (tk.test_size as f64, s.t, tk.test_every)
        }
        SasTask::Msi(m) => (24.0 * 20.0 + 6.0, Msi::new(m, true).steps() as f64, 0),
    };
    let pass = test_steps * 2.0 * 2.0 * test_trials * (s.k + s.n) * s.n;
    let ev = &cfg.eval;
    let during = f64::from(cfg.epochs.checked_div(test_every).unwrap_or(0));
    let passes = during
        + f64::from(ev.mean_field_draws.max(1))
        + f64::from(ev.sampled_nets)
        + f64::from(ev.per_step_draws);
    // The passes of `sas::eval::removal_curve`: the important set and as many random others
    // at each removal fraction, `removal_repeats` times; at each damage fraction one
    // magnitude pass (deterministic) and `removal_repeats` random ones.
    let repeats = f64::from(ev.removal_repeats.max(1));
    let curves = ev.removal_fractions.len() as f64 * 2.0 * repeats
        + ev.damage_fractions.len() as f64 * (1.0 + repeats);
    // The curves run at `eval.analysis_dt_ms` when it is set (MSI): the same trials over
    // dt / analysis_dt times the steps (0.5 ms: 40x).
    let fine = match (&cfg.task, ev.analysis_dt_ms) {
        (SasTask::Msi(m), Some(dt)) if dt > 0.0 => m.dt_ms / dt,
        _ => 1.0,
    };
    SasRnnWork {
        train_flops,
        eval_flops: (passes + fine * curves) * pass,
    }
}

/// Training and evaluation of one `tanh_rnn` cell, all epochs run (no early stop).
pub fn tanh_rnn_flops(cfg: &TanhRnnConfig) -> f64 {
    let task = tanh_task(&cfg.task, false);
    let n = cfg.n_hidden as f64;
    let (n_in, n_out, t) = (task.n_in() as f64, task.n_out() as f64, task.steps() as f64);
    // Per trial and step: input, recurrent and read-out products forward; twice that backward
    // (the gradients of the activations and of the weights).
    let step = 2.0 * n * (n_in + n + n_out);
    let train = f64::from(cfg.epochs) * cfg.train_trials as f64 * t * 3.0 * step;
    let ev = &cfg.eval;
    // Test passes: the trained net, then per pruning fraction three magnitude variants and the
    // random repeats; the out-of-distribution test and the probes.
    let per_fraction = 3.0 + f64::from(ev.random_repeats);
    let passes = 2.0 + ev.prune_fractions.len() as f64 * per_fraction;
    let eval = passes * ev.test_trials as f64 * t * step + ev.probe_trials as f64 * t * step;
    train + eval
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SasRnn, TanhRnn};
    use ensweep_core::spec::{Cell, Spec};
    use ensweep_core::trainer::{Registry, Trainer};

    static TRAINERS: Registry = Registry::new(&[&SasRnn, &TanhRnn]);

    fn first_cell(path: &str) -> Cell {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path);
        let spec = Spec::load(&file, &TRAINERS).expect("experiment parses");
        spec.cells().swap_remove(0)
    }

    #[test]
    fn estimates_match_the_counted_epoch_and_grow_with_the_work() {
        let cfg = SasRnn
            .config_of(&first_cell("experiments/pre2023_smnist_row.toml"))
            .expect("sas_rnn");
        // The documented 101 GFLOP per row-MNIST epoch (N = 100, B = 128, 200 batches).
        let epoch = SasShape::of(&cfg).epoch_flops();
        assert!((epoch / 1e9 - 101.0).abs() < 1.0, "{epoch}");
        let work = sas_rnn_work(&cfg);
        assert_eq!(work.train_flops, f64::from(cfg.epochs) * epoch);
        assert!(work.eval_flops > 0.0);

        // MSI's removal curves at the reference's 0.5 ms cost 40x their 20 ms passes.
        let msi = SasRnn
            .config_of(&first_cell("experiments/pre2023_msi.toml"))
            .expect("sas_rnn");
        assert_eq!(msi.eval.analysis_dt_ms, Some(0.5));
        let mut coarse = msi.clone();
        coarse.eval.analysis_dt_ms = None;
        let (fine, coarse) = (sas_rnn_work(&msi), sas_rnn_work(&coarse));
        assert_eq!(fine.train_flops, coarse.train_flops);
        assert!(fine.eval_flops > 5.0 * coarse.eval_flops);

        let cfg = TanhRnn
            .config_of(&first_cell("experiments/jarne_laje_and_damage.toml"))
            .expect("tanh_rnn");
        let base = tanh_rnn_flops(&cfg);
        let mut twice = cfg.clone();
        twice.train_trials *= 2;
        assert!(base > 0.0 && tanh_rnn_flops(&twice) > 1.8 * base);
    }
}
