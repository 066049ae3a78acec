//! Benchmarks behind `ensweep bench rnn-smnist` and `ensweep bench tanh-rnn` (numbers in
//! docs/PERFORMANCE.md, section "Recurrent trainers"). They train through the same entry points
//! sweeps use, with the post-training analyses switched off.

use ensweep_core::config::sas_rnn::SasTask;
use ensweep_core::config::{SasRnnConfig, TanhRnnConfig};
use ensweep_core::output::NullSink;
use ensweep_core::seed::RunSeed;
use ensweep_recurrent::RnnError;
use ensweep_recurrent::sas::data::TaskData;
use ensweep_recurrent::sas::train::train_sas_rnn_threads;
use ensweep_recurrent::tanh::train::train_tanh_rnn;
use std::time::Instant;

/// Result of [`sas_epochs`].
#[derive(Clone, Debug, Default)]
pub struct SasEpochs {
    /// Wall seconds of every epoch (training only: data loading and analyses excluded).
    pub epoch_seconds: Vec<f64>,
    /// Training accuracy of every epoch.
    pub train_acc: Vec<f64>,
    /// Training loss of every epoch.
    pub train_loss: Vec<f64>,
    /// Process CPU seconds (user + system) of the training call, including its final mean-field
    /// test pass.
    pub cpu_seconds: f64,
    /// Floating-point operations of one epoch (multiply-add = 2, counted by `ensweep_recurrent::cost`).
    pub flops_per_epoch: f64,
    /// Mean-field test accuracy after the last epoch (one noise draw).
    pub test_acc_mf: f64,
    /// Seconds to load the data.
    pub load_seconds: f64,
}

/// Trains `epochs` epochs of the spike-and-slab RNN `cfg` with `threads` threads (the analyses
/// off, one mean-field test evaluation at the end) and times every epoch.
pub fn sas_epochs(
    cfg: &SasRnnConfig,
    epochs: u32,
    threads: usize,
    seed: &RunSeed,
) -> Result<SasEpochs, RnnError> {
    let mut cfg = cfg.clone();
    cfg.epochs = epochs;
    cfg.stop_loss = 0.0;
    cfg.eval.removal_fractions.clear();
    cfg.eval.damage_fractions.clear();
    cfg.eval.sampled_nets = 0;
    cfg.eval.per_step_draws = 0;
    cfg.eval.mean_field_draws = 1;
    cfg.eval.probe_trials = 0;
    if let SasTask::RowMnist(t) | SasTask::PixelMnist(t) = &mut cfg.task {
        t.test_every = 0;
    }
    let t0 = Instant::now();
    let data = TaskData::load(&cfg)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let cpu0 = cpu_seconds();
    let out = train_sas_rnn_threads(&cfg, &data, seed, &mut NullSink, threads)?;
    let cpu = cpu_seconds() - cpu0;
    let col = |k: &str| -> Vec<f64> {
        out.epochs
            .iter()
            .map(|e| e.values.get(k).copied().unwrap_or(f64::NAN))
            .collect()
    };
    Ok(SasEpochs {
        epoch_seconds: col("epoch_seconds"),
        train_acc: col("train_acc"),
        train_loss: col("train_loss"),
        cpu_seconds: cpu,
        flops_per_epoch: ensweep_recurrent::cost::sas_rnn_epoch_flops(&cfg),
        test_acc_mf: out.scalars["acc_mf_mean"],
        load_seconds,
    })
}

/// Result of [`tanh_throughput`].
#[derive(Clone, Debug, Default)]
pub struct TanhThroughput {
    /// Training sequences per second (forward + BPTT + Adam), one value per seed.
    pub sequences_per_s: Vec<f64>,
    /// Training seconds per seed.
    pub train_seconds: Vec<f64>,
    /// Epochs run per seed.
    pub epochs: Vec<f64>,
}

/// Trains the tanh RNN `cfg` for exactly `epochs` epochs (no early stop, analyses reduced to a
/// minimum) for `seeds` replicate seeds and reports the training throughput.
pub fn tanh_throughput(
    cfg: &TanhRnnConfig,
    epochs: u32,
    seeds: u64,
) -> Result<TanhThroughput, RnnError> {
    let mut cfg = cfg.clone();
    cfg.epochs = epochs;
    cfg.loss_threshold = 0.0;
    cfg.eval.prune_fractions.clear();
    cfg.eval.random_repeats = 0;
    cfg.eval.test_trials = cfg.eval.test_trials.min(16);
    cfg.eval.probe_trials = cfg.eval.probe_trials.min(2);
    let mut r = TanhThroughput::default();
    for s in 0..seeds {
        let out = train_tanh_rnn(&cfg, &RunSeed::from_u64(s), &mut NullSink)?;
        r.sequences_per_s.push(out.scalars["sequences_per_s"]);
        r.train_seconds.push(out.scalars["train_seconds"]);
        r.epochs.push(out.scalars["epochs_run"]);
    }
    Ok(r)
}

/// User + system CPU seconds of this process (Linux `/proc`; NaN elsewhere).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let after = &stat[stat.rfind(')').map(|i| i + 2).unwrap_or(0)..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The 1-minute load average (Linux `/proc/loadavg`; NaN elsewhere).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
