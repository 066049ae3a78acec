//! Training and evaluation of the task-trained tanh RNN: Keras-like initialisation, Adam with
//! the reference inverse-time decay, masked MSE, early stop on a loss threshold, then the
//! per-network metrics (distances, OOD, spectra, dynamics class, weight statistics, NTK
//! alignment, damage curves, probe trajectories).

use super::checkpoint::{Checkpoint, Shape};
use super::model::{Backward, Forward, Layout, LearnBias, loss};
use super::mup::Param;
use super::ntk;
use super::reg;
use crate::RnnError;
use crate::checkpoint::{Position, TrainClock};
use crate::linalg::orthogonal;
use crate::metrics::{self, Prune};
use crate::tasks::{Batch, TaskGen, Trial, tanh_task};
use ensweep_core::config::tanh_rnn::{LrPlateau, Parametrization, RecInit, TanhRnnConfig};
use ensweep_core::output::TrainSink;
use ensweep_core::output::{
    EpochRow, LayerRow, PruningRow, RunOutput, TrajectoryRow, Values, WeightMatrix,
};
use ensweep_core::seed::RunSeed;
use ensweep_trainkit::optim::Optimizer;
use ndarray::s;
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};

/// The probe set is drawn from this fixed root, so every replicate sees the same probes.
pub const PROBE_ROOT: u64 = 0x5eed_0f90_be00;

/// Initial parameters. Standard: Glorot-uniform input and read-out kernels (Keras defaults),
/// recurrent matrix per `rec_init`, zero biases. muP: see [`init_mup`].
pub fn init_params(cfg: &TanhRnnConfig, l: Layout, seed: &RunSeed) -> Vec<f32> {
    if cfg.parametrization == Parametrization::Mup {
        return init_mup(cfg, l, seed);
    }
    let mut rng = seed.rng("init");
    let mut p = vec![0.0f32; l.len()];
    let lim_in = (6.0 / (l.n_in + l.n) as f64).sqrt() as f32;
    for v in &mut p[l.w_in()] {
        *v = rng.random_range(-lim_in..lim_in);
    }
    let rec = rec_matrix(cfg, l.n, &mut rng);
    p[l.w_rec()].copy_from_slice(&rec);
    let lim_out = (6.0 / (l.n + l.n_out) as f64).sqrt() as f32;
    for v in &mut p[l.w_out()] {
        *v = rng.random_range(-lim_out..lim_out);
    }
    p
}

/// muP initial parameters (Huang et al.): J = N x the `rec_init` matrix, so J / N is the
/// standard initial W_rec (with `normal`, gain 1: J_ij ~ N(0, N)); U and W_out with standard
/// normal entries, the muP convention of O(1) weights (the read-out's 1 / (gamma N) makes the
/// initial output O(1 / (gamma sqrt N))); zero biases.
fn init_mup(cfg: &TanhRnnConfig, l: Layout, seed: &RunSeed) -> Vec<f32> {
    let mut rng = seed.rng("init");
    let mut p = vec![0.0f32; l.len()];
    for v in &mut p[l.w_in()] {
        *v = StandardNormal.sample(&mut rng);
    }
    let nf = l.n as f32;
    let rec = rec_matrix(cfg, l.n, &mut rng);
    for (v, r) in p[l.w_rec()].iter_mut().zip(rec) {
        *v = r * nf;
    }
    for v in &mut p[l.w_out()] {
        *v = StandardNormal.sample(&mut rng);
    }
    p
}

/// The initial recurrent matrix per `rec_init`.
fn rec_matrix(cfg: &TanhRnnConfig, n: usize, rng: &mut rand_pcg::Pcg64Mcg) -> Vec<f32> {
    match cfg.rec_init {
        RecInit::Orthogonal => orthogonal(n, rng),
        RecInit::Normal => {
            let s = cfg.gain / (n as f64).sqrt();
            (0..n * n)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(rng);
                    (s * e) as f32
                })
                .collect()
        }
        RecInit::Uniform => {
            let a = 1.0 / (n as f32).sqrt();
            (0..n * n).map(|_| rng.random_range(-a..a)).collect()
        }
    }
}

/// Keras' legacy inverse-time decay (`optimizer.decay`), applied per update: the rate of the
/// update that follows `iterations` earlier ones is `lr0 / (1 + decay * iterations)`. Kept here
/// as a schedule of the tanh trainer, not of the shared optimiser, because only the Jarne & Laje
/// recipe uses it.
pub fn keras_time_decay(lr0: f64, decay: f64, iterations: u64) -> f64 {
    lr0 / (1.0 + decay * iterations as f64)
}

/// Matched-loss stopping (Huang et al.): the first epoch whose mean training loss is below the
/// threshold marks the criterion reached; training goes on for `patience` more epochs. A zero
/// threshold never stops early.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StopRule {
    threshold: f64,
    patience: u32,
    reached_at: Option<u32>,
}

impl StopRule {
    /// A rule for a loss threshold (0 disables) and a patience in epochs.
    pub fn new(threshold: f64, patience: u32) -> Self {
        StopRule {
            threshold,
            patience,
            reached_at: None,
        }
    }

    /// The rule of a resumed run, which first went below the threshold at `reached_at`.
    pub fn resumed(threshold: f64, patience: u32, reached_at: Option<u32>) -> Self {
        StopRule {
            reached_at,
            ..StopRule::new(threshold, patience)
        }
    }

    /// Records the mean loss of `epoch`; true when training should stop after it.
    pub fn observe(&mut self, epoch: u32, loss: f64) -> bool {
        if self.reached_at.is_none() && self.threshold > 0.0 && loss < self.threshold {
            self.reached_at = Some(epoch);
        }
        self.reached_at
            .is_some_and(|e| epoch >= e.saturating_add(self.patience))
    }

    /// The epoch at which the loss first fell below the threshold.
    pub fn reached_at(&self) -> Option<u32> {
        self.reached_at
    }
}

/// PyTorch's `ReduceLROnPlateau` (mode `min`, relative threshold 1e-4, no cooldown, no floor)
/// on the epoch's mean training loss: the factor the learning rate is multiplied by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plateau {
    cfg: LrPlateau,
    best: f64,
    bad_epochs: u32,
    scale: f64,
}

impl Plateau {
    /// PyTorch's default `threshold` in its default `rel` mode.
    const THRESHOLD: f64 = 1e-4;

    /// A schedule at scale 1.
    pub fn new(cfg: LrPlateau) -> Self {
        Plateau {
            cfg,
            best: f64::INFINITY,
            bad_epochs: 0,
            scale: 1.0,
        }
    }

    /// The schedule of a resumed run: its [`Plateau::state`] at the checkpoint.
    pub fn resumed(cfg: LrPlateau, (best, bad_epochs, scale): (f64, u32, f64)) -> Self {
        Plateau {
            cfg,
            best,
            bad_epochs,
            scale,
        }
    }

    /// Best loss, epochs without improvement, scale: what a checkpoint keeps.
    pub fn state(&self) -> (f64, u32, f64) {
        (self.best, self.bad_epochs, self.scale)
    }

    /// Records an epoch's loss (a NaN never improves, as in PyTorch's comparison).
    pub fn observe(&mut self, loss: f64) {
        if self.cfg.is_off() {
            return;
        }
        if loss < self.best * (1.0 - Self::THRESHOLD) {
            self.best = loss;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs > self.cfg.patience {
            self.scale *= self.cfg.factor;
            self.bad_epochs = 0;
        }
    }

    /// The current multiplier of the learning rate.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

/// Trains one tanh RNN and measures it.
pub fn train_tanh_rnn(
    cfg: &TanhRnnConfig,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
) -> Result<RunOutput, RnnError> {
    cfg.validate()
        .map_err(|e| RnnError::Config(e.to_string()))?;
    let param = Param::of(cfg);
    let task = tanh_task(&cfg.task, false);
    let l = Layout {
        n_in: task.n_in(),
        n: cfg.n_hidden,
        n_out: task.n_out(),
    };
    let p0 = init_params(cfg, l, seed);
    let mut p = p0.clone();
    let train = task.trials(&mut seed.rng("data"), cfg.train_trials);
    let mut opt = Optimizer::new(&cfg.optimizer, l.len());
    let mut out = RunOutput::default();
    let (mut fwd, mut bws) = (Forward::default(), Backward::default());
    let mut g = vec![0.0f32; l.len()];
    let mut clock = TrainClock::start();
    let mut k_updates = 0u64;
    let mut last_loss = f64::NAN;
    let mut stop = StopRule::new(cfg.loss_threshold, cfg.patience);
    let mut stopped_early = false;
    let mut diverged_at: Option<u32> = None;
    let mut plateau = Plateau::new(cfg.lr_plateau);
    let learn = LearnBias {
        rec: cfg.bias,
        readout: cfg.readout_bias,
    };
    // muP trains at gamma x the configured rate (x 1, exact, in the standard model), and the
    // plateau schedule scales it again (x 1, exact, while off).
    let lr_at = |epoch: u32, k: u64, plateau: f64| {
        keras_time_decay(cfg.optimizer.lr_at(epoch), cfg.lr_time_decay, k)
            * param.lr_scale()
            * plateau
    };
    let rec_scale = param.rec_scale(l.n);
    let regularized = !cfg.regularization.is_off();
    let mut epochs_run = 0;
    let mut order: Vec<usize> = (0..train.len()).collect();
    let shape = Shape {
        params: p.len(),
        optimizer: &opt,
        trials: train.len(),
        epochs: cfg.epochs,
    };
    if let Some(c) = sink
        .resume_state()
        .and_then(|b| Checkpoint::decode(&b, &shape))
    {
        order = c.order();
        opt.restore(c.optimizer).expect("checked by decode");
        p = c.params;
        k_updates = c.updates;
        stop = StopRule::resumed(cfg.loss_threshold, cfg.patience, c.reached_at);
        plateau = Plateau::resumed(cfg.lr_plateau, c.plateau);
        epochs_run = c.position.epochs_done;
        clock.resume_at(c.position.seconds);
        out.epochs = c.position.rows;
        last_loss = (out.epochs.last())
            .and_then(|r| r.values.get("train_loss").copied())
            .unwrap_or(f64::NAN);
        sink.resumed(epochs_run);
    }
    let first_epoch = epochs_run;
    for epoch in first_epoch..cfg.epochs {
        if sink.cancelled() {
            return Err(RnnError::Cancelled);
        }
        if cfg.optimizer.reset_each_epoch {
            opt.reset();
        }
        order.shuffle(&mut seed.rng_indexed("shuffle", epoch as u64));
        let (mut sum, mut count, mut penalty) = (0.0, 0usize, 0.0f64);
        for chunk in order.chunks(cfg.batch_size) {
            let refs: Vec<&Trial> = chunk.iter().map(|&i| &train[i]).collect();
            let batch = Batch::from_trials(&refs, task.steps(), l.n_in, l.n_out);
            param.forward(&p, l, &batch, &mut fwd);
            sum += loss(&batch, &fwd) * chunk.len() as f64;
            count += chunk.len();
            param.backward(&p, l, &batch, &fwd, learn, &mut bws, &mut g);
            if regularized {
                let (w, gw) = (&p[l.w_rec()], &mut g[l.w_rec()]);
                penalty += reg::add_penalty(&cfg.regularization, w, l.n, rec_scale, gw);
            }
            if cfg.clip_norm > 0.0 {
                for r in [l.w_in(), l.w_rec(), l.b(), l.w_out(), l.c()] {
                    clip(&mut g[r], cfg.clip_norm as f32);
                }
            }
            let lr = lr_at(epoch, k_updates, plateau.scale());
            opt.step(&mut p, &g, lr as f32, cfg.optimizer.decay as f32);
            k_updates += 1;
        }
        last_loss = sum / count as f64;
        epochs_run = epoch + 1;
        let mut values = Values::new();
        values.insert("train_loss".into(), last_loss);
        if regularized {
            // Mean over the epoch's updates, at the weights each update started from; the
            // stopping rule reads the task loss alone.
            let updates = train.len().div_ceil(cfg.batch_size);
            values.insert("reg_penalty".into(), penalty / updates as f64);
        }
        plateau.observe(last_loss);
        values.insert("lr".into(), lr_at(epoch, k_updates, plateau.scale()));
        values.insert("seconds".into(), clock.seconds());
        let row = EpochRow { epoch, values };
        sink.on_epoch(&row, cfg.epochs);
        out.epochs.push(row);
        if !last_loss.is_finite() {
            // A diverged net is a result, not an error: retrying the same seed diverges again,
            // and which seeds diverge is part of what an ensemble study reports.
            diverged_at = Some(epoch);
            break;
        }
        if stop.observe(epoch, last_loss) {
            stopped_early = true;
            break;
        }
        // Also after the last epoch: the evaluation that follows takes a while at N = 500.
        if sink.checkpoint_due() {
            let position = Position {
                epochs_done: epochs_run,
                seconds: clock.seconds(),
                rows: out.epochs.clone(),
            };
            let ckpt = Checkpoint::new(
                position,
                &p,
                &opt,
                k_updates,
                &order,
                stop.reached_at(),
                plateau.state(),
            );
            sink.save_checkpoint(epochs_run, ckpt.encode());
        }
    }
    let train_secs = clock.seconds();
    let s = &mut out.scalars;
    s.insert("train_loss".into(), last_loss);
    s.insert("epochs_run".into(), epochs_run as f64);
    s.insert("epochs_trained".into(), epochs_run as f64);
    s.insert("stop_reason".into(), f64::from(u8::from(stopped_early)));
    s.insert(
        "reached_threshold".into(),
        f64::from(u8::from(stop.reached_at().is_some())),
    );
    s.insert("loss_at_stop".into(), last_loss);
    // Tells the analyses to judge this net by `reached_threshold` rather than `success`.
    s.insert(
        "matched_loss".into(),
        f64::from(u8::from(cfg.patience > 0 && cfg.loss_threshold > 0.0)),
    );
    s.insert("train_seconds".into(), train_secs);
    s.insert(
        "sequences_per_s".into(),
        (epochs_run as usize * train.len()) as f64 / train_secs.max(1e-9),
    );
    s.insert(
        "diverged".into(),
        f64::from(u8::from(diverged_at.is_some())),
    );
    if let Some(epoch) = diverged_at {
        // Its parameters hold NaN or infinities: no evaluation means anything (and an
        // eigendecomposition of a NaN matrix need not terminate). The loss stays as it ended.
        s.insert("diverged_epoch".into(), f64::from(epoch));
        s.insert("success".into(), 0.0);
        return Ok(out);
    }
    let test_task = tanh_task(&cfg.task.for_test(), false);
    evaluate(cfg, seed, test_task.as_ref(), l, &p0, &p, &mut out);
    if regularized {
        let mut scratch = vec![0.0f32; l.n * l.n];
        let pen = reg::add_penalty(
            &cfg.regularization,
            &p[l.w_rec()],
            l.n,
            rec_scale,
            &mut scratch,
        );
        out.scalars.insert("reg_penalty".into(), pen);
    }
    Ok(out)
}

fn clip(g: &mut [f32], max: f32) {
    let n = g.iter().map(|v| v * v).sum::<f32>().sqrt();
    if n > max {
        g.iter_mut().for_each(|v| *v *= max / n);
    }
}

/// Distances of every test trial under parameters `p`.
fn test_distances(param: Param, p: &[f32], l: Layout, batch: &Batch, f: &mut Forward) -> Vec<f64> {
    param.forward(p, l, batch, f);
    let y = f.y.as_slice().expect("activations are in standard layout");
    metrics::distances(y, &batch.y, &batch.mask, batch.t, batch.b, batch.n_out)
}

fn batch_of(task: &dyn TaskGen, trials: &[Trial]) -> Batch {
    let refs: Vec<&Trial> = trials.iter().collect();
    Batch::from_trials(&refs, task.steps(), task.n_in(), task.n_out())
}

/// The parameters with the recurrent matrix and read-out as the dynamics use them.
fn effective(param: Param, l: Layout, p: &[f32]) -> Vec<f32> {
    let mut e = p.to_vec();
    if param != Param::Standard {
        let (rs, os) = (param.rec_scale(l.n), param.out_scale(l.n));
        e[l.w_rec()].iter_mut().for_each(|v| *v *= rs);
        e[l.w_out()].iter_mut().for_each(|v| *v *= os);
    }
    e
}

fn evaluate(
    cfg: &TanhRnnConfig,
    seed: &RunSeed,
    task: &dyn TaskGen,
    l: Layout,
    p0: &[f32],
    p: &[f32],
    out: &mut RunOutput,
) {
    let ev = &cfg.eval;
    let param = Param::of(cfg);
    // What the analyses read: the effective recurrent matrix and read-out (muP: J / N and
    // W_out / (gamma N)), so spectra and weight distances compare like with like.
    let (pe, p0e) = (effective(param, l, p), effective(param, l, p0));
    let mut f = Forward::default();
    let test = batch_of(
        task,
        &task.trials(&mut seed.rng("test"), ev.test_trials.max(1)),
    );
    let d = test_distances(param, p, l, &test, &mut f);
    let (dm, ds) = metrics::mean_std(&d);
    let s = &mut out.scalars;
    s.insert("distance_mean".into(), dm);
    s.insert("distance_std".into(), ds);
    s.insert(
        "success".into(),
        if dm < ev.success_distance { 1.0 } else { 0.0 },
    );
    s.insert("test_loss".into(), loss(&test, &f));
    // Per-condition distances for tasks with few conditions (gates, pulses, sine, ...).
    if task.n_conditions() <= 32 {
        for (c, v) in metrics::per_condition(&d, &test.conditions) {
            s.insert(format!("distance_cond_{c}"), v);
        }
    }
    let ood_task = tanh_task(&cfg.task.for_test(), true);
    let ood = batch_of(
        ood_task.as_ref(),
        &ood_task.trials(&mut seed.rng("ood"), ev.test_trials.max(1)),
    );
    let (om, os) = metrics::mean_std(&test_distances(param, p, l, &ood, &mut f));
    s.insert("ood_distance_mean".into(), om);
    s.insert("ood_distance_std".into(), os);
    s.insert("ood_loss".into(), loss(&ood, &f));

    // Spectra.
    let n = l.n;
    let s0 = metrics::spectrum(&p0e[l.w_rec()], n);
    let s1 = metrics::spectrum(&pe[l.w_rec()], n);
    out.spectra.extend(metrics::spectrum_rows("rec_init", &s0));
    out.spectra
        .extend(metrics::spectrum_rows("rec_trained", &s1));

    // Probe trajectories.
    let mut prng = RunSeed::from_u64(PROBE_ROOT).rng("probe");
    let probes: Vec<Trial> = (0..ev.probe_trials)
        .map(|i| task.trial(&mut prng, Some(i)))
        .collect();
    let mut osc_votes = 0usize;
    if !probes.is_empty() {
        let pb = batch_of(task, &probes);
        param.forward(p, l, &pb, &mut f);
        let t = pb.t;
        for (j, tr) in probes.iter().enumerate() {
            // Steps 1..=T of trial j (step 0 is the zero initial state), step-major.
            let states: Vec<f32> = f.h.slice(s![1.., j, ..]).iter().copied().collect();
            if metrics::activity_oscillates(&states, t, n) {
                osc_votes += 1;
            }
            out.trajectories.push(TrajectoryRow {
                probe: j as u32,
                condition: tr.condition.clone(),
                steps: t as u32,
                units: n as u32,
                states,
            });
        }
    }
    let oscillating = 2 * osc_votes > probes.len() && !probes.is_empty();
    out.weights = vec![
        WeightMatrix::new("in", n, l.n_in, pe[l.w_in()].to_vec()),
        WeightMatrix::new("rec", n, n, pe[l.w_rec()].to_vec()),
        WeightMatrix::new("out", l.n_out, n, pe[l.w_out()].to_vec()),
        // The initial weights, so ||W_T - W_0||_F and similar feature-learning metrics can be
        // computed from stored results without re-running the initialisation.
        WeightMatrix::new("in.init", n, l.n_in, p0e[l.w_in()].to_vec()),
        WeightMatrix::new("rec.init", n, n, p0e[l.w_rec()].to_vec()),
        WeightMatrix::new("out.init", l.n_out, n, p0e[l.w_out()].to_vec()),
        // The read-out bias (a column), so outputs can be rebuilt from stored trajectories.
        WeightMatrix::new("out.bias", l.n_out, 1, p[l.c()].to_vec()),
    ];
    let s = &mut out.scalars;
    s.insert("eig_outside".into(), s1.outside as f64);
    s.insert("eig_outside_init".into(), s0.outside as f64);
    s.insert("spectral_radius".into(), s1.radius);
    s.insert("spectral_radius_init".into(), s0.radius);
    s.insert("lead_re".into(), s1.lead.0);
    s.insert("lead_im".into(), s1.lead.1);
    s.insert(
        "lead_complex".into(),
        if s1.lead_is_complex() { 1.0 } else { 0.0 },
    );
    s.insert("maxre_re".into(), s1.max_re.0);
    s.insert("maxre_im".into(), s1.max_re.1);
    s.insert("freq_proxy".into(), s1.freq_proxy);
    s.insert(
        "activity_oscillates".into(),
        if oscillating { 1.0 } else { 0.0 },
    );
    s.insert(
        "dynamics_class".into(),
        metrics::dynamics_class(
            &s1,
            oscillating,
            4.0 * std::f64::consts::PI / task.steps() as f64,
        ),
    );
    s.insert(
        "w_change_fro".into(),
        metrics::fro_diff(&pe[l.w_rec()], &p0e[l.w_rec()]),
    );
    let learn = LearnBias {
        rec: cfg.bias,
        readout: cfg.readout_bias,
    };
    let probe_root = RunSeed::from_u64(PROBE_ROOT);
    s.insert(
        "ntk_alignment".into(),
        ntk::ntk_alignment(param, task, l, p0, p, learn, &probe_root),
    );

    // Weight statistics per layer.
    for (name, r, cols) in [
        ("in", l.w_in(), l.n_in),
        ("rec", l.w_rec(), n),
        ("out", l.w_out(), n),
    ] {
        let mut v = metrics::weight_stats(&pe[r.clone()], cols);
        v.insert(
            "change_fro".into(),
            metrics::fro_diff(&pe[r.clone()], &p0e[r]),
        );
        out.layers.push(LayerRow {
            layer: name.into(),
            values: v,
        });
    }

    // Damage curves on the recurrent matrix.
    let crit = [
        Prune::Magnitude,
        Prune::MagnitudePos,
        Prune::MagnitudeNeg,
        Prune::Random,
    ];
    let mut damaged = p.to_vec();
    for c in crit {
        for (fi, &frac) in ev.prune_fractions.iter().enumerate() {
            let reps = if c == Prune::Random {
                ev.random_repeats.max(1)
            } else {
                1
            };
            let (mut dists, mut counts) = (Vec::new(), 0usize);
            let mut per_cond: Vec<f64> = Vec::new();
            let mut conds: Vec<String> = Vec::new();
            for rep in 0..reps {
                let mut rng = seed.rng_indexed("prune", (fi as u64) << 8 | rep as u64);
                let idx = metrics::prune_indices(&pe[l.w_rec()], frac, c, &mut rng);
                damaged.copy_from_slice(p);
                let rec = &mut damaged[l.w_rec()];
                for &i in &idx {
                    rec[i] = 0.0;
                }
                counts += idx.len();
                let d = test_distances(param, &damaged, l, &test, &mut f);
                dists.push(metrics::mean_std(&d).0);
                per_cond.extend_from_slice(&d);
                conds.extend(test.conditions.iter().cloned());
            }
            let (m, sd) = metrics::mean_std(&dists);
            let mut values = Values::new();
            values.insert("distance".into(), m);
            values.insert(
                "distance_std".into(),
                if reps > 1 {
                    sd
                } else {
                    metrics::mean_std(&per_cond).1
                },
            );
            values.insert(
                "removed_frac".into(),
                counts as f64 / reps as f64 / (n * n) as f64,
            );
            if task.n_conditions() <= 4 {
                for (cname, v) in metrics::per_condition(&per_cond, &conds) {
                    values.insert(format!("distance_{cname}"), v);
                }
            }
            out.pruning.push(PruningRow {
                layer: "rec".into(),
                criterion: c.name().into(),
                fraction: frac,
                count: (counts as f64 / reps as f64).round() as u64,
                values,
            });
        }
    }
}
