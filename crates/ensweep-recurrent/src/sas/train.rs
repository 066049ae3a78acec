//! Training of the spike-and-slab RNN (per-group learning rates and schedules, coupled L2 or
//! decoupled decay, spectral-norm clipping, projection) on sequential MNIST or the MSI task;
//! the analyses that follow are in [`super::analyse`].

use super::backward::{Grads, backward_moments};
use super::checkpoint::Checkpoint;
use super::data::{TaskData, mnist_batch, mnist_batch_into};
use super::eval::{self, Mode};
use super::layer::SasLayer;
use super::model::{Forward, LossKind, NetMoments, SasNet, forward_train, loss};
use crate::RnnError;
use crate::checkpoint::{Position, TrainClock};
use crate::linalg::spectral_norm;
use crate::tasks::msi::{self, Msi};
use crate::tasks::{Batch, Trial};
use ensweep_core::config::optim::ParamGroup;
use ensweep_core::config::sas_rnn::{MRecInit, SasRnnConfig, SasTask};
use ensweep_core::output::{EpochRow, RunOutput, TrainSink, Values};
use ensweep_core::seed::RunSeed;
use ensweep_trainkit::arrays::{std_mut, std_slice};
use ensweep_trainkit::optim::Optimizer;
use ndarray::Array2;
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use std::time::Instant;

fn normal_vec(n: usize, std: f64, rng: &mut Pcg64Mcg) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let e: f64 = StandardNormal.sample(rng);
            (std * e) as f32
        })
        .collect()
}

fn uniform_vec(n: usize, max: f64, rng: &mut Pcg64Mcg) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if max > 0.0 {
                rng.random_range(0.0..max) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Initial network (docs/PAPERS.md 2.2-2.4); the MSI task adds its fixed input mask.
pub fn init_net(cfg: &SasRnnConfig, n_in: usize, n_out: usize, seed: &RunSeed) -> SasNet {
    let mut rng = seed.rng("init");
    let n = cfg.n_hidden;
    let i = &cfg.init;
    let matrix = |(rows, cols): (usize, usize), v: Vec<f32>| {
        Array2::from_shape_vec((rows, cols), v).expect("rows x cols values")
    };
    let layer =
        |dim: (usize, usize), m: Vec<f32>, xi_max: f64, stochastic: bool, rng: &mut Pcg64Mcg| {
            let len = dim.0 * dim.1;
            let (pi, xi) = if stochastic {
                let pi = uniform_vec(len, i.pi_max, rng);
                (pi, uniform_vec(len, xi_max, rng))
            } else {
                (vec![0.0; len], vec![0.0; len])
            };
            SasLayer {
                rows: dim.0,
                cols: dim.1,
                pi: matrix(dim, pi),
                m: matrix(dim, m),
                xi: matrix(dim, xi),
                stochastic,
                mask: None,
            }
        };
    let m_in = normal_vec(n * n_in, i.m_in_std, &mut rng);
    let m_rec = match i.m_rec {
        MRecInit::Identity => Array2::eye(n).into_raw_vec_and_offset().0,
        MRecInit::Normal => normal_vec(n * n, i.m_rec_std, &mut rng),
    };
    let m_out = normal_vec(n_out * n, i.m_out_std, &mut rng);
    let mut input = layer((n, n_in), m_in, i.xi_in_max, cfg.stochastic.input, &mut rng);
    let rec = layer((n, n), m_rec, i.xi_rec_max, cfg.stochastic.rec, &mut rng);
    let out = layer(
        (n_out, n),
        m_out,
        i.xi_out_max,
        cfg.stochastic.out,
        &mut rng,
    );
    if matches!(cfg.task, SasTask::Msi(_)) {
        input.mask = Some(msi_input_mask(n, n_in));
        input.project();
    }
    SasNet {
        input,
        rec,
        out,
        alpha: cfg.alpha as f32,
        h0: cfg.h0 as f32,
        sigma_rec: cfg.sigma_rec as f32,
    }
}

/// The MSI task's fixed input mask, `n x n_in`: the units in thirds get no visual (channels
/// 0, 2) / no auditory (1, 3) / only the start cue.
fn msi_input_mask(n: usize, n_in: usize) -> Array2<f32> {
    let mut mask = Array2::ones((n, n_in));
    for (u, mut row) in mask.outer_iter_mut().enumerate() {
        let blocked: &[usize] = match (u * 3) / n {
            0 => &[0, 2],
            1 => &[1, 3],
            _ => &[0, 1, 2, 3],
        };
        for &c in blocked {
            row[c] = 0.0;
        }
    }
    mask
}

/// One optimiser per (layer, group), in the order in/rec/out x pi/m/Xi.
struct Optimisers(Vec<Optimizer>);

fn group_lr(cfg: &SasRnnConfig, layer: usize, group: usize) -> f64 {
    let g = &cfg.group_lr;
    let o = [
        [g.pi_in, g.m_in, g.xi_in],
        [g.pi_rec, g.m_rec, g.xi_rec],
        [g.pi_out, g.m_out, g.xi_out],
    ][layer][group];
    o.unwrap_or(cfg.optimizer.lr)
}

const GROUPS: [ParamGroup; 3] = [ParamGroup::Pi, ParamGroup::M, ParamGroup::Xi];

fn layers_mut(net: &mut SasNet) -> [&mut SasLayer; 3] {
    [&mut net.input, &mut net.rec, &mut net.out]
}

/// Clip each gradient matrix to spectral norm <= c (cheap Frobenius pre-check: ||G||_2 <= ||G||_F).
fn clip_spectral(g: &mut [f32], rows: usize, cols: usize, c: f32) {
    let fro = g.iter().map(|v| v * v).sum::<f32>().sqrt();
    if fro <= c {
        return;
    }
    let s = spectral_norm(g, rows, cols);
    if s > c {
        g.iter_mut().for_each(|v| *v *= c / s);
    }
}

fn update(cfg: &SasRnnConfig, net: &mut SasNet, gr: &mut Grads, opt: &mut Optimisers, epoch: u32) {
    let sched = {
        let e = epoch + cfg.schedule_offset;
        e.checked_div(cfg.optimizer.halve_every)
            .map_or(1.0, |k| 0.5f64.powi(k as i32))
    };
    let grads = [&mut gr.input, &mut gr.rec, &mut gr.out];
    for (li, (layer, lg)) in layers_mut(net).into_iter().zip(grads).enumerate() {
        for gi in 0..3 {
            if !layer.stochastic && gi != 1 {
                continue;
            }
            let scheduled =
                cfg.schedule_groups.is_empty() || cfg.schedule_groups.contains(&GROUPS[gi]);
            let lr = group_lr(cfg, li, gi) * if scheduled { sched } else { 1.0 };
            if lr == 0.0 {
                continue;
            }
            let params = match gi {
                0 => &mut layer.pi,
                1 => &mut layer.m,
                _ => &mut layer.xi,
            };
            let g = &mut lg[gi];
            if cfg.l2 != 0.0 && cfg.l2_on.contains(&GROUPS[gi]) {
                let l2 = cfg.l2 as f32;
                for (gv, &p) in std_mut(g).iter_mut().zip(std_slice(params)) {
                    *gv += l2 * p;
                }
            }
            if cfg.clip_spectral > 0.0 {
                clip_spectral(std_mut(g), layer.rows, layer.cols, cfg.clip_spectral as f32);
            }
            let decay = if cfg.optimizer.decays(GROUPS[gi]) {
                cfg.optimizer.decay
            } else {
                0.0
            };
            opt.0[li * 3 + gi].step(std_mut(params), std_slice(g), lr as f32, decay as f32);
        }
        layer.project();
    }
}

/// Trains one spike-and-slab RNN and analyses it.
pub fn train_sas_rnn(
    cfg: &SasRnnConfig,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
) -> Result<RunOutput, RnnError> {
    check_analysis_dt(cfg)?; // before loading data a wrong setting could not use
    let data = TaskData::load(cfg)?;
    train_sas_rnn_on(cfg, &data, seed, sink)
}

/// As [`train_sas_rnn`] with the data already loaded (benchmarks and tests reuse it).
pub fn train_sas_rnn_on(
    cfg: &SasRnnConfig,
    data: &TaskData,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
) -> Result<RunOutput, RnnError> {
    train_sas_rnn_threads(cfg, data, seed, sink, 1)
}

/// Trials per part of a mini-batch. Every mini-batch is cut into parts of this size (fixed,
/// whatever the thread count); each part runs forward and back through time on its own with
/// its own noise stream, and the parts' gradients are summed in part order, so results are
/// bit-identical for any number of threads.
pub const PART: usize = 64;

/// One part of a mini-batch and its buffers.
#[derive(Default)]
struct Part {
    batch: Option<Batch>,
    f: Forward,
    gr: Grads,
    loss: f64,
    correct: usize,
}

/// Runs `job(part index, part)` for every part, on up to `threads` threads (contiguous groups
/// of parts; the calling thread takes the first group).
fn run_parts(parts: &mut [Part], threads: usize, job: &(dyn Fn(usize, &mut Part) + Sync)) {
    let per = parts.len().div_ceil(threads.max(1)).max(1);
    if per >= parts.len() {
        parts.iter_mut().enumerate().for_each(|(i, p)| job(i, p));
        return;
    }
    std::thread::scope(|sc| {
        let mut groups = parts.chunks_mut(per).enumerate();
        let first = groups.next();
        for (gi, g) in groups {
            sc.spawn(move || {
                for (o, p) in g.iter_mut().enumerate() {
                    job(gi * per + o, p);
                }
            });
        }
        if let Some((_, g)) = first {
            for (o, p) in g.iter_mut().enumerate() {
                job(o, p);
            }
        }
    });
}

/// `eval.analysis_dt_ms` is an MSI setting, positive, and keeps the analysis leak rate
/// alpha * analysis_dt / dt in (0, 1].
fn check_analysis_dt(cfg: &SasRnnConfig) -> Result<(), RnnError> {
    let Some(dt) = cfg.eval.analysis_dt_ms else {
        return Ok(());
    };
    let SasTask::Msi(task) = &cfg.task else {
        return Err(RnnError::Config(
            "eval.analysis_dt_ms applies to the msi task only".into(),
        ));
    };
    let alpha = cfg.alpha * dt / task.dt_ms;
    if !(dt > 0.0 && alpha > 0.0 && alpha <= 1.0) {
        return Err(RnnError::Config(format!(
            "eval.analysis_dt_ms = {dt} must be > 0 and give a leak rate alpha * {dt} / {} in (0, 1]",
            task.dt_ms
        )));
    }
    Ok(())
}

/// As [`train_sas_rnn_on`], running the parts of every mini-batch (see [`PART`]) on up to
/// `threads` threads. The results do not depend on `threads`.
pub fn train_sas_rnn_threads(
    cfg: &SasRnnConfig,
    data: &TaskData,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
    threads: usize,
) -> Result<RunOutput, RnnError> {
    if cfg.n_hidden == 0 || !(cfg.alpha > 0.0 && cfg.alpha <= 1.0) {
        return Err(RnnError::Config(
            "n_hidden > 0 and 0 < alpha <= 1 required".into(),
        ));
    }
    check_analysis_dt(cfg)?;
    let (n_in, n_out) = data.dims();
    let net = init_net(cfg, n_in, n_out, seed);
    let net0 = net.clone();
    let sizes = [
        n_in * cfg.n_hidden,
        cfg.n_hidden * cfg.n_hidden,
        n_out * cfg.n_hidden,
    ];
    let mut run = Run {
        cfg,
        data,
        seed,
        kind: data.loss_kind(),
        threads: threads.max(1),
        net,
        opt: Optimisers(
            (0..9)
                .map(|i| Optimizer::new(&cfg.optimizer, sizes[i / 3]))
                .collect(),
        ),
        mom: NetMoments::default(),
        parts: Vec::new(),
    };
    let mut out = RunOutput::default();
    let mut clock = TrainClock::start();
    let mut first_epoch = 0;
    let resumed = (sink.resume_state())
        .and_then(|b| Checkpoint::decode(&b))
        .and_then(|c| c.restore(&mut run.net, &mut run.opt.0, cfg.epochs));
    if let Some(p) = resumed {
        clock.resume_at(p.seconds);
        (first_epoch, out.epochs) = (p.epochs_done, p.rows);
        sink.resumed(first_epoch);
    }
    let last_loss = out.epochs.last().and_then(|r| r.values.get("train_loss"));
    let mut last_loss = last_loss.copied().unwrap_or(f64::NAN);
    let mut epochs_run = first_epoch;
    let mut stop_reason = 0.0;
    let mut diverged_at = None;
    for epoch in first_epoch..cfg.epochs {
        if sink.cancelled() {
            return Err(RnnError::Cancelled);
        }
        let ep_start = Instant::now();
        let sums = run.epoch(epoch);
        last_loss = sums.loss / sums.trials.max(1) as f64;
        epochs_run = epoch + 1;
        let row = run.epoch_row(epoch, &sums, ep_start, clock.seconds());
        sink.on_epoch(&row, cfg.epochs);
        out.epochs.push(row);
        if !last_loss.is_finite() {
            // A result, not an error: the same seed diverges again on any retry.
            diverged_at = Some(epoch);
            break;
        }
        if cfg.stop_loss > 0.0 && epoch >= cfg.stop_min_epoch && last_loss <= cfg.stop_loss {
            stop_reason = 1.0;
            break;
        }
        // Also after the last epoch: the analysis that follows can take minutes.
        if sink.checkpoint_due() {
            let position = Position {
                epochs_done: epochs_run,
                seconds: clock.seconds(),
                rows: out.epochs.clone(),
            };
            let ckpt = Checkpoint::capture(&run.net, &run.opt.0, position);
            sink.save_checkpoint(epochs_run, ckpt.encode());
        }
    }
    let secs = clock.seconds();
    let s = &mut out.scalars;
    s.insert("train_loss".into(), last_loss);
    s.insert("epochs_run".into(), epochs_run as f64);
    s.insert("stop_reason".into(), stop_reason);
    s.insert("train_seconds".into(), secs);
    s.insert("seconds_per_epoch".into(), secs / epochs_run.max(1) as f64);
    s.insert(
        "diverged".into(),
        f64::from(u8::from(diverged_at.is_some())),
    );
    if let Some(epoch) = diverged_at {
        // Non-finite parameters: no evaluation or spectrum means anything.
        s.insert("diverged_epoch".into(), epoch as f64);
        return Ok(out);
    }
    super::analyse::analyse(cfg, data, seed, &net0, &run.net, &mut out);
    Ok(out)
}

/// What one training run carries from step to step: its inputs, the network, its moments, the
/// optimisers and the buffers of the batch parts.
struct Run<'a> {
    cfg: &'a SasRnnConfig,
    data: &'a TaskData,
    seed: &'a RunSeed,
    kind: LossKind,
    threads: usize,
    net: SasNet,
    opt: Optimisers,
    mom: NetMoments,
    parts: Vec<Part>,
}

/// Sums over an epoch's trials.
#[derive(Default)]
struct Sums {
    /// Loss summed over trials.
    loss: f64,
    /// Trials whose last-step read-out was right (cross-entropy tasks).
    correct: usize,
    /// Trials.
    trials: usize,
}

impl Run<'_> {
    /// One epoch of mini-batches (stream `batches/<epoch>`).
    fn epoch(&mut self, epoch: u32) -> Sums {
        if self.cfg.optimizer.reset_each_epoch {
            self.opt.0.iter_mut().for_each(|o| o.reset());
        }
        let mut batch_rng = self.seed.rng_indexed("batches", epoch as u64);
        let (mnist_idx, msi_batches) = epoch_batches(self.cfg, self.data, &mut batch_rng);
        let batch_lists: Vec<&[usize]> = match &self.cfg.task {
            SasTask::RowMnist(t) | SasTask::PixelMnist(t) => mnist_idx
                .chunks(t.batch_size.max(1))
                .take(t.batches_per_epoch)
                .collect(),
            SasTask::Msi(_) => vec![&[][..]],
        };
        let mut sums = Sums::default();
        for (bi, list) in batch_lists.iter().enumerate() {
            self.step(epoch, bi, list, &msi_batches, &mut sums);
        }
        sums
    }

    /// One mini-batch `bi` (MNIST images `list`, or the MSI parts): forward and gBPTT of its
    /// parts in parallel (part `pi` draws its noise from `noise/<epoch>/<bi>/<pi>`), the parts'
    /// gradients summed in part order, one update. The parts' losses are added to the epoch's
    /// `sums` one by one, in part order (not as a per-step subtotal: that would change the
    /// rounding of the epoch's loss).
    fn step(
        &mut self,
        epoch: u32,
        bi: usize,
        list: &[usize],
        msi_batches: &[Batch],
        sums: &mut Sums,
    ) {
        let Run {
            cfg,
            data,
            seed,
            kind,
            threads,
            net,
            opt,
            mom,
            parts,
        } = self;
        let (data, seed, kind) = (*data, *seed, *kind);
        let n_parts = match data {
            TaskData::Mnist { .. } => list.len().div_ceil(PART),
            TaskData::Msi { .. } => msi_batches.len(),
        };
        if parts.len() < n_parts {
            parts.resize_with(n_parts, Part::default);
        }
        let total_b = match data {
            TaskData::Mnist { .. } => list.len(),
            TaskData::Msi { .. } => msi_batches.iter().map(|b| b.b).sum(),
        };
        net.moments(mom);
        let (net_r, mom_r) = (&*net, &*mom);
        run_parts(&mut parts[..n_parts], *threads, &|pi, p: &mut Part| {
            let batch: &Batch = match data {
                TaskData::Mnist { train, row, .. } => {
                    let idx = &list[pi * PART..((pi + 1) * PART).min(list.len())];
                    let b = p.batch.get_or_insert_with(|| mnist_batch(train, &[], *row));
                    mnist_batch_into(b, train, idx, *row);
                    b
                }
                TaskData::Msi { .. } => &msi_batches[pi],
            };
            let mut rng = seed.rng(&format!("noise/{epoch}/{bi}/{pi}"));
            p.f.draw_noise(net_r, batch, &mut rng);
            forward_train(net_r, mom_r, batch, &mut p.f);
            backward_moments(net_r, mom_r, kind, batch, &p.f, &mut p.gr, total_b);
            p.loss = loss(kind, batch, &p.f) * batch.b as f64;
            p.correct = if kind == LossKind::CrossEntropy {
                eval::correct_last(batch, &p.f.y)
            } else {
                0
            };
        });
        let (first, rest) = parts[..n_parts].split_first_mut().expect("one part");
        for p in rest.iter() {
            first.gr.add_moments(&p.gr);
        }
        for p in std::iter::once(&*first).chain(rest.iter()) {
            sums.loss += p.loss;
            sums.correct += p.correct;
        }
        sums.trials += total_b;
        first.gr.finish(net);
        update(cfg, net, &mut first.gr, opt, epoch);
    }

    /// The epoch's row: training loss and accuracy, timings, and the mean-field test accuracy
    /// every `test_every` epochs (stream `test_noise/<epoch>`).
    fn epoch_row(&self, epoch: u32, sums: &Sums, ep_start: Instant, seconds: f64) -> EpochRow {
        let mut v = Values::new();
        v.insert("train_loss".into(), sums.loss / sums.trials.max(1) as f64);
        if self.kind == LossKind::CrossEntropy {
            v.insert(
                "train_acc".into(),
                sums.correct as f64 / sums.trials.max(1) as f64,
            );
        }
        v.insert("epoch_seconds".into(), ep_start.elapsed().as_secs_f64());
        v.insert("seconds".into(), seconds);
        let test_every = match &self.cfg.task {
            SasTask::RowMnist(t) | SasTask::PixelMnist(t) => t.test_every,
            SasTask::Msi(_) => 0,
        };
        if test_every > 0 && (epoch + 1).is_multiple_of(test_every) {
            let mut r = self.seed.rng_indexed("test_noise", epoch as u64);
            v.insert(
                "test_acc_mf".into(),
                eval::score(
                    &self.net,
                    self.data,
                    Mode::MeanField,
                    &mut r,
                    &mut Forward::default(),
                )
                .accuracy,
            );
        }
        EpochRow { epoch, values: v }
    }
}

/// The epoch's mini-batches, from the batch stream: MNIST image indices in shuffled order
/// (batches are built inside the parts), or the MSI trials, drawn in order and cut into parts.
fn epoch_batches(
    cfg: &SasRnnConfig,
    data: &TaskData,
    batch_rng: &mut Pcg64Mcg,
) -> (Vec<usize>, Vec<Batch>) {
    match data {
        TaskData::Mnist { train, .. } => {
            let mut idx: Vec<usize> = (0..train.len()).collect();
            idx.shuffle(batch_rng);
            (idx, Vec::new())
        }
        TaskData::Msi { train: msi_gen, .. } => {
            let SasTask::Msi(m) = &cfg.task else {
                unreachable!()
            };
            let trials = msi::training_batch(msi_gen, m.catch_trials, batch_rng);
            let refs: Vec<&Trial> = trials.iter().collect();
            let parts = refs
                .chunks(PART)
                .map(|p| Batch::from_trials(p, gen_steps(msi_gen), msi::N_IN, msi::N_OUT))
                .collect();
            (Vec::new(), parts)
        }
    }
}

fn gen_steps(g: &Msi) -> usize {
    use crate::tasks::TaskGen;
    g.steps()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msi_input_mask_blocks_channels_per_unit_third() {
        let table: toml::Table = toml::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../experiments/pre2023_msi.toml"
            ))
            .unwrap(),
        )
        .unwrap();
        let cfg: SasRnnConfig = table["sas_rnn"].clone().try_into().unwrap();
        let net = init_net(&cfg, msi::N_IN, msi::N_OUT, &RunSeed::from_u64(0));
        let w = |u: usize, c: usize| net.input.m[[u, c]];
        assert!(w(0, 0) == 0.0 && w(0, 2) == 0.0 && w(0, 1) != 0.0 && w(0, 4) != 0.0);
        assert!(w(50, 1) == 0.0 && w(50, 3) == 0.0 && w(50, 0) != 0.0);
        assert!((0..4).all(|c| w(149, c) == 0.0) && w(149, 4) != 0.0);
        assert_eq!(net.input.pi[[0, 0]], 1.0);
        assert_eq!(net.input.pi[[0, 1]], 0.0);
    }
}
