//! The training loop: seeded shuffling, mini-batches split into fixed chunks of examples,
//! mean-field forward + gBP per chunk (in parallel), then per-row-range accumulation of the
//! gradient products, optimiser step, projection and moment refresh (in parallel).
//!
//! Results do not depend on the number of threads: the noise of each chunk comes from its own
//! named stream, and every gradient element is summed over the examples in batch order by
//! exactly one task, whatever the partition.

use crate::data::Prepared;
use crate::error::MlpError;
use crate::eval;
use crate::kernels::{self, NormalState};
use crate::model::{self, Layer, Mode, Net, Work};
use crate::pool::{for_each, in_pool, make_pool};
use crate::update::{GROUPS, LayerState, run_update, update_tasks};
use ensweep_core::config::sas_mlp::SasMlpConfig;
use ensweep_core::output::{EpochRow, RunOutput, TrainSink, Values};
use ensweep_core::seed::RunSeed;
use ensweep_trainkit::mnist::{self, PIXELS};
use ensweep_trainkit::optim::{Optimizer, StepRule};
use ndarray::Array2;
use rand::seq::SliceRandom;
use std::time::Instant;

/// Examples per chunk: the unit of parallel work and of noise streams in the forward pass.
pub const CHUNK: usize = 50;

/// How to run (not what to compute: results are identical for any value).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Threads inside the run; 1 runs everything on the calling thread (sweeps run one cell
    /// per core).
    pub threads: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { threads: 1 }
    }
}

/// A trained network and its learning curves.
pub struct Trained {
    /// The trained hyper-parameters.
    pub net: Net<f32>,
    /// One row per epoch.
    pub epochs: Vec<EpochRow>,
    /// Wall time of the training loop (s).
    pub train_seconds: f64,
    /// Examples processed (epochs x training-set size).
    pub samples: u64,
    /// Mean loss of the last epoch.
    pub final_train_loss: f64,
    /// Mean-field accuracy on the batches of the last epoch.
    pub final_train_acc: f64,
    /// Floating-point operations executed by the training loop (see [`executed_flops`]).
    pub flops: f64,
}

/// Trains the spike-and-slab MLP of `cfg` and evaluates it: the ensweep trainer entry point
/// (single-threaded; see [`train_with`]).
pub fn train(
    cfg: &SasMlpConfig,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
) -> Result<RunOutput, MlpError> {
    train_with(cfg, seed, sink, &TrainOptions::default())
}

/// [`train`] with explicit run options (threads).
pub fn train_with(
    cfg: &SasMlpConfig,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
    opts: &TrainOptions,
) -> Result<RunOutput, MlpError> {
    validate(cfg)?;
    let dir = mnist::resolve_data_dir(cfg.data_dir.as_deref())?;
    let data = prepared(&dir, cfg.train_size, cfg.test_size)?;
    train_on(cfg, seed, sink, opts, &data)
}

/// Data sets the process keeps prepared (most recently used last).
const DATA_CACHE: usize = 4;

/// The prepared data of `dir` for the given sizes, from a small process-wide cache: a worker
/// runs many cells on the same data, and reading + decompressing MNIST costs ~0.5 s per cell.
pub fn prepared(
    dir: &std::path::Path,
    train_n: usize,
    test_n: usize,
) -> Result<std::sync::Arc<Prepared>, MlpError> {
    use std::sync::{Arc, Mutex};
    type Key = (std::path::PathBuf, usize, usize);
    static CACHE: Mutex<Vec<(Key, Arc<Prepared>)>> = Mutex::new(Vec::new());
    let key: Key = (
        std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        train_n,
        test_n,
    );
    {
        let mut cache = CACHE.lock().expect("data cache");
        if let Some(i) = cache.iter().position(|(k, _)| *k == key) {
            let hit = cache.remove(i);
            let data = Arc::clone(&hit.1);
            cache.push(hit);
            return Ok(data);
        }
    }
    let data = Arc::new(Prepared::new(&mnist::load(dir, train_n, test_n)?));
    let mut cache = CACHE.lock().expect("data cache");
    if cache.len() >= DATA_CACHE {
        cache.remove(0);
    }
    cache.push((key, Arc::clone(&data)));
    Ok(data)
}

/// [`train_with`] on already loaded data (benchmarks load MNIST once for many seeds).
pub fn train_on(
    cfg: &SasMlpConfig,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
    opts: &TrainOptions,
    data: &Prepared,
) -> Result<RunOutput, MlpError> {
    let pool = make_pool(opts.threads)?;
    let trained = fit(cfg, seed, sink, pool.as_ref(), data)?;
    let t0 = Instant::now();
    let mut out = eval::evaluate(cfg, seed, &trained.net, data, pool.as_ref());
    let eval_seconds = t0.elapsed().as_secs_f64();
    let s = &mut out.scalars;
    s.insert("train_acc".into(), trained.final_train_acc);
    s.insert("final_train_loss".into(), trained.final_train_loss);
    s.insert("train_seconds".into(), trained.train_seconds);
    s.insert("eval_seconds".into(), eval_seconds);
    s.insert(
        "samples_per_s".into(),
        trained.samples as f64 / trained.train_seconds.max(1e-9),
    );
    s.insert("epochs_run".into(), trained.epochs.len() as f64);
    let flops = trained.flops;
    s.insert("train_gflop".into(), flops * 1e-9);
    s.insert(
        "train_gflops_per_s".into(),
        flops * 1e-9 / trained.train_seconds.max(1e-9),
    );
    s.insert("threads".into(), opts.threads as f64);
    out.epochs = trained.epochs;
    Ok(out)
}

/// Floating-point operations the training loop executed (multiply-add = 2; element-wise work
/// not counted), from the non-zero inputs it actually met: every layer does its two forward
/// products (`mu.a`, `v.(a*a)`) and two gradient products (`A = a^T delta`,
/// `B = (a*a)^T s`) over the non-zero entries of its input only (`8 nnz n_out`: MNIST pixels
/// are ~81 % zeros, ReLU outputs about half); every layer after the first also back-propagates
/// densely (`4 n_in n_out` per example). All parameter gradients are element-wise combinations
/// of A and B (docs/PAPERS.md 1.3), so no other matrix product is needed.
pub fn executed_flops(sizes: &[usize], nnz_per_layer: &[u64], examples: u64) -> f64 {
    sizes
        .windows(2)
        .zip(nnz_per_layer)
        .enumerate()
        .map(|(l, (w, &nnz))| {
            let products = 8.0 * nnz as f64 * w[1] as f64;
            let backprop = if l > 0 {
                4.0 * (w[0] * w[1]) as f64 * examples as f64
            } else {
                0.0
            };
            products + backprop
        })
        .sum()
}

/// Checks what serde cannot.
pub fn validate(cfg: &SasMlpConfig) -> Result<(), MlpError> {
    let bad = |m: &str| Err(MlpError::Config(m.to_string()));
    if cfg.train_size == 0 || cfg.train_size > 60_000 {
        return bad("train_size must be in 1..=60000");
    }
    if cfg.test_size == 0 || cfg.test_size > 10_000 {
        return bad("test_size must be in 1..=10000");
    }
    if cfg.batch_size == 0 || cfg.batch_size > 1 << 20 {
        return bad("batch_size must be positive");
    }
    if cfg.hidden.contains(&0) {
        return bad("hidden widths must be positive");
    }
    if !(0.0..=1.0).contains(&cfg.init.pi_max) || cfg.init.xi_max < 0.0 || cfg.init.m_std < 0.0 {
        return bad("init needs pi_max in [0,1], xi_max >= 0, m_std >= 0");
    }
    if cfg.optimizer.lr.is_nan() || cfg.optimizer.lr <= 0.0 {
        return bad("optimizer.lr must be positive");
    }
    Ok(())
}

/// The network of `cfg` at initialisation (stream "init").
pub fn init_net(cfg: &SasMlpConfig, seed: &RunSeed) -> Net<f32> {
    let mut rng = seed.rng("init");
    let mut sizes = vec![PIXELS];
    sizes.extend(&cfg.hidden);
    sizes.push(mnist::CLASSES);
    let layers = sizes
        .windows(2)
        .map(|w| {
            Layer::init(
                w[0],
                w[1],
                cfg.init.pi_max,
                cfg.init.xi_max,
                cfg.init.m_std,
                &mut rng,
            )
        })
        .collect();
    Net {
        layers,
        fan_in_scaling: cfg.fan_in_scaling,
    }
}

/// The training loop (no evaluation beyond the optional per-epoch test accuracy).
pub fn fit(
    cfg: &SasMlpConfig,
    seed: &RunSeed,
    sink: &mut dyn TrainSink,
    pool: Option<&rayon::ThreadPool>,
    data: &Prepared,
) -> Result<Trained, MlpError> {
    validate(cfg)?;
    let mut net = init_net(cfg, seed);
    // Transposes for the layers back-propagated through (not the first: nothing
    // back-propagates to the inputs), refreshed after every step.
    net.layers[1..]
        .iter_mut()
        .for_each(Layer::refresh_transposes);
    let n_train = cfg.train_size.min(data.train_y.len());
    let bs = cfg.batch_size.min(n_train);
    let chunks_per_batch = bs.div_ceil(CHUNK);
    let mut works: Vec<Work<f32>> = (0..chunks_per_batch)
        .map(|_| Work::new(&net, CHUNK))
        .collect();
    let mut labels: Vec<Vec<u8>> = vec![Vec::with_capacity(CHUNK); chunks_per_batch];
    let mut states: Vec<LayerState> = net
        .layers
        .iter()
        .map(|l| LayerState {
            opt: std::array::from_fn(|_| Optimizer::new(&cfg.optimizer, l.len())),
            acc_a: Array2::zeros(l.pi.dim()),
            acc_b: Array2::zeros(l.pi.dim()),
        })
        .collect();
    let decays: [f32; 3] = GROUPS.map(|g| {
        if cfg.optimizer.decays(g) {
            cfg.optimizer.decay as f32
        } else {
            0.0
        }
    });
    // Fan-in of every layer, for the gradient scale of each update task.
    let in_sizes = sizes_in(cfg);
    let mut order: Vec<usize> = (0..n_train).collect();
    // Non-zero inputs met per layer, for the FLOP count.
    let mut nnz_seen = vec![0u64; net.layers.len()];
    let mut rows: Vec<EpochRow> = Vec::new();
    let started = Instant::now();
    let mut step: u64 = 0;
    let (mut last_loss, mut last_acc) = (f64::NAN, f64::NAN);
    for epoch in 0..cfg.epochs {
        let t_epoch = Instant::now();
        if cfg.optimizer.reset_each_epoch {
            states
                .iter_mut()
                .flat_map(|s| s.opt.iter_mut())
                .for_each(Optimizer::reset);
        }
        let lr = cfg.optimizer.lr_at(epoch) as f32;
        order.shuffle(&mut seed.rng_indexed("shuffle", epoch as u64));
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        // The epoch's steps run on a pool thread: each step's two parallel phases then start
        // from inside the pool instead of waking it from outside and sleeping until it is done
        // (two thread hand-offs per phase, 24,000 context switches per 2020 run).
        in_pool(pool, || {
            for batch in order.chunks(bs) {
                let n_chunks = batch.len().div_ceil(CHUNK);
                // Phase 1: forward + backward per chunk.
                let jobs: Vec<_> = works[..n_chunks]
                    .iter_mut()
                    .zip(labels.iter_mut())
                    .zip(batch.chunks(CHUNK))
                    .enumerate()
                    .collect();
                let net_ref = &net;
                for_each(pool, jobs, |(c, ((w, lab), ex))| {
                    lab.clear();
                    lab.extend(ex.iter().map(|&i| data.train_y[i]));
                    let rows: Vec<(&[u32], &[f32])> =
                        ex.iter().map(|&i| data.train_x.row(i)).collect();
                    let mut st = NormalState::from_rng(
                        &mut seed.rng_indexed("noise", step * 4096 + c as u64),
                    );
                    model::forward_rows(net_ref, w, &rows, Mode::MeanField, Some(lab), &mut |e| {
                        kernels::fill_normals(&mut st, e)
                    });
                    w.cols[0].build_from(&data.train_x, ex, PIXELS);
                    model::backward(net_ref, w, lab);
                });
                for w in &works[..n_chunks] {
                    loss_sum += w.loss_sum;
                    correct += w.correct;
                    for (t, c) in nnz_seen.iter_mut().zip(&w.cols) {
                        *t += c.parts().1.len() as u64;
                    }
                }
                // Phase 2: products, gradients, optimiser, projection.
                let rules: Vec<[StepRule; 3]> = states
                    .iter_mut()
                    .map(|s| [0, 1, 2].map(|g| s.opt[g].begin_step()))
                    .collect();
                let tasks = update_tasks(&mut net, &mut states);
                let works_ref = &works[..n_chunks];
                let nb = batch.len() as f32;
                for_each(pool, tasks, |t| {
                    let k = scale_of(cfg.fan_in_scaling, in_sizes[t.l]) / nb;
                    run_update(t, works_ref, &rules, &decays, lr, k);
                });
                net.layers[1..]
                    .iter_mut()
                    .for_each(Layer::refresh_transposes);
                step += 1;
            }
        });
        last_loss = loss_sum / n_train as f64;
        last_acc = correct as f64 / n_train as f64;
        let mut values = Values::new();
        values.insert("train_loss".into(), last_loss);
        values.insert("train_acc".into(), last_acc);
        values.insert("lr".into(), lr as f64);
        if cfg.eval.test_every_epoch {
            let acc = eval::mean_field_accuracy(
                &net,
                &data.test_x,
                &data.test_y,
                cfg.test_size,
                seed,
                1_000_000 + epoch as u64,
                pool,
            );
            values.insert("test_acc".into(), acc);
        }
        values.insert("seconds".into(), t_epoch.elapsed().as_secs_f64());
        let row = EpochRow { epoch, values };
        sink.on_epoch(&row, cfg.epochs);
        rows.push(row);
        if sink.cancelled() {
            return Err(MlpError::Cancelled { epochs: epoch + 1 });
        }
    }
    Ok(Trained {
        net,
        epochs: rows,
        train_seconds: started.elapsed().as_secs_f64(),
        samples: cfg.epochs as u64 * n_train as u64,
        final_train_loss: last_loss,
        final_train_acc: last_acc,
        flops: {
            let mut sizes = sizes_in(cfg);
            sizes.push(mnist::CLASSES);
            executed_flops(&sizes, &nnz_seen, cfg.epochs as u64 * n_train as u64)
        },
    })
}

fn sizes_in(cfg: &SasMlpConfig) -> Vec<usize> {
    let mut v = vec![PIXELS];
    v.extend(&cfg.hidden);
    v
}

fn scale_of(fan_in_scaling: bool, n_in: usize) -> f32 {
    if fan_in_scaling {
        1.0 / (n_in as f32).sqrt()
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ensweep_core::config::optim::{OptimizerConfig, OptimizerKind, ParamGroup};
    use ensweep_core::config::sas_mlp::{SasInit, SasMlpEval};
    use ensweep_core::output::NullSink;

    /// `$ENSWEEP_DATA` when set, else the committed 1,000-image subset.
    fn data_dir() -> String {
        let d = ensweep_testkit::mnist_dir();
        d.to_str().expect("utf-8 path").to_string()
    }

    fn small(train: usize, test: usize, epochs: u32, hidden: Vec<usize>) -> SasMlpConfig {
        SasMlpConfig {
            data_dir: Some(data_dir()),
            train_size: train,
            test_size: test,
            hidden,
            epochs,
            batch_size: 100,
            fan_in_scaling: true,
            init: SasInit {
                pi_max: 0.0,
                xi_max: 0.01,
                m_std: (2.0f64 / 784.0).sqrt(),
            },
            optimizer: OptimizerConfig {
                kind: OptimizerKind::Adam,
                lr: 0.05,
                halve_every: 2,
                reset_each_epoch: true,
                decay: 1e-4,
                decay_on: vec![ParamGroup::M, ParamGroup::Xi],
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            eval: SasMlpEval {
                mean_field_draws: 2,
                sampled_nets: 2,
                tol_pi: 0.01,
                tol_xi: 1e-4,
                perturb_fractions: vec![0.0, 0.5, 1.0],
                perturb_repeats: 2,
                entropy: true,
                test_every_epoch: true,
            },
        }
    }

    /// Timing-independent part of an output.
    fn metrics(o: &RunOutput) -> RunOutput {
        let mut o = o.clone();
        let timing = |k: &str| k.contains("seconds") || k.contains("per_s") || k == "threads";
        o.scalars.retain(|k, _| !timing(k));
        for e in &mut o.epochs {
            e.values.retain(|k, _| !timing(k));
        }
        o
    }

    struct Collect(Vec<u32>, u32);
    impl TrainSink for Collect {
        fn on_epoch(&mut self, row: &EpochRow, _total: u32) {
            self.0.push(row.epoch);
        }
        fn cancelled(&self) -> bool {
            self.0.len() as u32 >= self.1
        }
    }

    #[test]
    fn learns_mnist_and_reports_everything() {
        let cfg = small(1000, 1000, 3, vec![32]);
        let mut sink = Collect(Vec::new(), u32::MAX);
        let out = train(&cfg, &RunSeed::from_u64(1), &mut sink).unwrap();
        assert_eq!(sink.0, vec![0, 1, 2]);
        let s = &out.scalars;
        // Three epochs of 1000 images: 0.65-0.74 over seeds 1-6 (with either noise generator).
        for k in ["test_acc_sampled_mean", "test_acc_mf_mean", "train_acc"] {
            assert!(s[k] > 0.6, "{k} = {} (chance is 0.1)", s[k]);
        }
        // Below the loss of a uniform guess, ln 10 = 2.30.
        let loss = s["final_train_loss"];
        assert!(loss.is_finite() && loss < 2.3, "final train loss {loss}");
        assert_eq!(out.epochs.len(), 3);
        assert!(out.epochs.iter().all(|e| e.values.contains_key("test_acc")));
        assert_eq!(out.layers.len(), 2);
        for l in &out.layers {
            let v = &l.values;
            for suffix in ["", "_tol", "_active"] {
                let sum = v[&format!("vip_frac{suffix}")]
                    + v[&format!("uip_frac{suffix}")]
                    + v[&format!("variable_frac{suffix}")];
                assert!((sum - 1.0).abs() < 1e-9, "{} {suffix}: {sum}", l.layer);
            }
            assert!(v["entropy"].is_finite());
            assert!((0.0..=1.0).contains(&v["mean_pi"]) && v["mean_xi"] >= 0.0);
        }
        // Pixels that are 0 in all 1000 images do not count as active inputs.
        assert!(
            out.layers[0].values["n_active_connections"] < out.layers[0].values["n_connections"]
        );
        // 2 layers x 3 criteria x 3 fractions; fraction 0 is the unperturbed sampled net.
        assert_eq!(out.pruning.len(), 18);
        let base: Vec<f64> = out
            .pruning
            .iter()
            .filter(|p| p.fraction == 0.0)
            .map(|p| p.values["test_err_mean"])
            .collect();
        assert!(base.iter().all(|&b| b == base[0] && b < 0.3), "{base:?}");
        let vip_all = out
            .pruning
            .iter()
            .find(|p| p.layer == "l1" && p.criterion == "vip" && p.fraction == 1.0)
            .unwrap();
        assert_eq!(vip_all.count as f64, out.layers[0].values["n_vip"]);
    }

    #[test]
    fn same_seed_same_numbers_for_any_thread_count() {
        let mut cfg = small(400, 300, 2, vec![16, 8]);
        cfg.eval.test_every_epoch = false;
        let seed = RunSeed::from_u64(7);
        let a = train(&cfg, &seed, &mut NullSink).unwrap();
        let b = train(&cfg, &seed, &mut NullSink).unwrap();
        let opts = TrainOptions { threads: 2 };
        let c = train_with(&cfg, &seed, &mut NullSink, &opts).unwrap();
        assert_eq!(metrics(&a), metrics(&b));
        assert_eq!(metrics(&a), metrics(&c));
        let d = train(&cfg, &RunSeed::from_u64(8), &mut NullSink).unwrap();
        assert_ne!(metrics(&a).scalars, metrics(&d).scalars);
    }

    #[test]
    fn cancellation_stops_after_the_current_epoch() {
        let mut cfg = small(200, 100, 5, vec![8]);
        cfg.eval.test_every_epoch = false;
        let mut sink = Collect(Vec::new(), 2);
        let err = train(&cfg, &RunSeed::from_u64(1), &mut sink).unwrap_err();
        assert!(matches!(err, MlpError::Cancelled { epochs: 2 }), "{err}");
        let mut bad = cfg.clone();
        bad.batch_size = 0;
        assert!(matches!(
            train(&bad, &RunSeed::from_u64(1), &mut NullSink),
            Err(MlpError::Config(_))
        ));
        bad = cfg;
        bad.data_dir = Some("/nonexistent/mnist".into());
        let e = train(&bad, &RunSeed::from_u64(1), &mut NullSink)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/mnist") && e.contains("ENSWEEP_DATA"),
            "{e}"
        );
    }

    #[test]
    fn prepared_data_is_cached_per_directory_and_size() {
        // The other tests of this binary use three other sizes: with four cache slots, nothing
        // they do in parallel can evict this entry between the two calls.
        let dir = std::path::PathBuf::from(data_dir());
        let a = prepared(&dir, 123, 45).unwrap();
        let b = prepared(&dir, 123, 45).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!((a.train_y.len(), a.test_y.len()), (123, 45));
        assert_eq!(a.train_x.rows(), 123);
    }

    #[test]
    fn experiment_files_deserialize() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (file, train_size, epochs) in [
            ("experiments/prl2020_mnist.toml", 10_000, 200),
            ("experiments/prl2022_mnist60k.toml", 60_000, 100),
            ("experiments/prl2022_mnist10k.toml", 10_000, 100),
        ] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let doc: toml::Table = toml::from_str(&text).unwrap();
            let cfg: SasMlpConfig = doc["sas_mlp"].clone().try_into().unwrap();
            validate(&cfg).unwrap();
            assert_eq!(
                (cfg.train_size, cfg.epochs, cfg.batch_size),
                (train_size, epochs, 500)
            );
            assert_eq!(cfg.hidden, vec![100, 100]);
        }
    }
}
