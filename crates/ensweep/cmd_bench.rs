//! `ensweep bench`: benchmarks whose output is recorded in docs/PERFORMANCE.md.
//!
//! `ensweep bench mlp` trains the spike-and-slab MLP under the PRL protocols (the experiment
//! files `experiments/prl2020_mnist.toml` / `prl2022_mnist60k.toml`, compiled in) through the
//! same library entry point sweeps use, and prints accuracy, category fractions, timings and the
//! achieved floating-point rate.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ensweep_core::output::{NullSink, RunOutput};
use ensweep_core::spec::Spec;
use ensweep_core::trainer::Trainer;
use ensweep_meanfield::train;
use ensweep_trainkit::mnist;
use ensweep_worker::TRAINERS;
use std::path::Path;
use std::time::Instant;

/// Arguments of `ensweep bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Spike-and-slab MLP on MNIST under a PRL protocol (training + full evaluation per seed).
    Mlp(MlpArgs),
    /// Spike-and-slab RNN, row-by-row sequential MNIST (experiments/pre2023_smnist_row.toml): s/epoch.
    RnnSmnist(RnnSmnistArgs),
    /// Tanh RNN, Jarne & Laje AND task (experiments/jarne_laje_and_damage.toml): sequences/s.
    TanhRnn(TanhRnnArgs),
    /// The recurrent step's matrix products (`kernel::gemm_rows`): GFLOP/s per CPU and wall second.
    Gemm(crate::bench::gemm::GemmArgs),
    /// Sweep machinery: no-op cells/s through coordinator + 4 workers (gRPC, ledger, Parquet).
    SweepNoop(crate::cmd_run::bench::NoopArgs),
    /// Sweep machinery: sleeping cells on N slots, overhead over the ideal wall time.
    SweepSleep(crate::cmd_run::bench::SleepArgs),
    /// `ensweep query`: a group-by over a large synthetic `runs` table.
    Query(QueryArgs),
    /// Degeneracy metrics of one condition (DSA, d_PIF, CKA, SVCCA over all pairs of nets).
    Diversity(DiversityArgs),
}

/// Which reference protocol.
#[derive(Clone, Copy, ValueEnum)]
enum Protocol {
    /// 10k images, 200 epochs, lr halved every 20, Adam reset per epoch (experiments/prl2020_mnist.toml).
    #[value(name = "2020")]
    P2020,
    /// 60k images, 100 epochs, constant lr, persistent Adam (experiments/prl2022_mnist60k.toml).
    #[value(name = "2022")]
    P2022,
}

#[derive(Args)]
struct MlpArgs {
    /// Reference protocol.
    #[arg(long, value_enum, default_value = "2020")]
    protocol: Protocol,
    /// Replicate seeds to run (default: the experiment file's count).
    #[arg(long)]
    seeds: Option<usize>,
    /// Threads inside each run.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Override the number of epochs (for a quick look; the reference numbers need the default).
    #[arg(long)]
    epochs: Option<u32>,
    /// MNIST directory (default: ENSWEEP_DATA, then data/mnist).
    #[arg(long)]
    data_dir: Option<String>,
    /// Runs of each seed, for the spread of the wall time on a noisy host; every repeat must
    /// reproduce the first run's metrics bit for bit, or the bench fails.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Print every perturbation point (all fractions, not just f = 1) and the evaluation's
    /// timing breakdown.
    #[arg(long)]
    all_perturbations: bool,
}

const PRL2020: &str = include_str!("../../experiments/prl2020_mnist.toml");
const PRL2022: &str = include_str!("../../experiments/prl2022_mnist60k.toml");

/// Runs `ensweep bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Mlp(a) => mlp(a),
        BenchWhat::RnnSmnist(a) => rnn_smnist(a),
        BenchWhat::TanhRnn(a) => tanh_rnn(a),
        BenchWhat::Gemm(a) => crate::bench::gemm::gemm(a),
        BenchWhat::SweepNoop(a) => crate::cmd_run::bench::noop(a),
        BenchWhat::SweepSleep(a) => crate::cmd_run::bench::sleep(a),
        BenchWhat::Query(a) => query(a),
        BenchWhat::Diversity(a) => diversity(a),
    }
}

fn mlp(a: MlpArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.repeat >= 1, "--repeat must be at least 1");
    let (text, name) = match a.protocol {
        Protocol::P2020 => (PRL2020, "experiments/prl2020_mnist.toml"),
        Protocol::P2022 => (PRL2022, "experiments/prl2022_mnist60k.toml"),
    };
    let spec =
        Spec::parse(text, Path::new(name), &TRAINERS).context("parsing the built-in protocol")?;
    let mut cells = spec.cells();
    if let Some(n) = a.seeds {
        anyhow::ensure!(n >= 1, "--seeds must be at least 1");
        // Replicates beyond the file's count: same config, further replicate seeds.
        let first = cells[0].clone();
        cells = (0..n as u64)
            .map(|r| {
                let mut c = first.clone();
                c.replicate = r;
                c
            })
            .collect();
    }
    let mut cfg = ensweep_meanfield::SasMlp.config_of(&cells[0])?;
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    if a.data_dir.is_some() {
        cfg.data_dir = a.data_dir.clone();
    }
    let t_load = Instant::now();
    let dir = mnist::resolve_data_dir(cfg.data_dir.as_deref())?;
    let data = mnist::load(&dir, cfg.train_size, cfg.test_size)?;
    let prepared = ensweep_meanfield::data::Prepared::new(&data);
    let load_s = t_load.elapsed().as_secs_f64();
    println!(
        "{name}: {} training / {} test images from {}, {} epochs, batch {}, {} thread(s); data loaded in {load_s:.2} s",
        cfg.train_size,
        cfg.test_size,
        dir.display(),
        cfg.epochs,
        cfg.batch_size,
        a.threads
    );
    let opts = train::TrainOptions { threads: a.threads };
    let mut sampled = Vec::new();
    let mut walls = Vec::new();
    for cell in &cells {
        let mut first: Option<String> = None;
        for r in 0..a.repeat {
            let t0 = Instant::now();
            let out = train::train_on(&cfg, &cell.run_seed(), &mut NullSink, &opts, &prepared)?;
            let wall = t0.elapsed().as_secs_f64();
            walls.push(wall);
            let s = &out.scalars;
            let metrics = fingerprint(&out);
            match &first {
                Some(f) => {
                    anyhow::ensure!(
                        *f == metrics,
                        "seed {} repeat {r} did not reproduce the first run's metrics",
                        cell.replicate
                    );
                    println!(
                        "seed {} repeat {r}: same metrics | train {:.2} s, eval {:.2} s, total {wall:.2} s",
                        cell.replicate, s["train_seconds"], s["eval_seconds"],
                    );
                    continue;
                }
                None => first = Some(metrics),
            }
            print_mlp_run(cell.replicate, wall, &out, a.all_perturbations);
            sampled.push(s["test_acc_sampled_mean"]);
        }
    }
    // Across seeds: the sample std (ddof = 1), as `ensweep report` computes spreads over seeds.
    let m = ensweep_results::stats::mean(&sampled);
    let sd = if sampled.len() > 1 {
        ensweep_results::stats::std_dev(&sampled)
    } else {
        0.0
    };
    walls.sort_by(f64::total_cmp);
    let median = (walls[(walls.len() - 1) / 2] + walls[walls.len() / 2]) / 2.0;
    println!(
        "summary: {} seed(s), sampled-network test accuracy {:.2} ± {:.2} % (mean ± std over seeds); wall per run (training + evaluation, {} runs): min {:.2} s, median {median:.2} s, max {:.2} s",
        sampled.len(),
        100.0 * m,
        100.0 * sd,
        walls.len(),
        walls[0],
        walls[walls.len() - 1],
    );
    Ok(())
}

/// Everything a run computed except its timings, printed exactly (shortest round-trip floats),
/// to check that repeats reproduce it.
fn fingerprint(out: &RunOutput) -> String {
    let scalars: Vec<_> = out
        .scalars
        .iter()
        .filter(|(k, _)| {
            k.starts_with("test_acc") || k.starts_with("train_acc") || k.ends_with("loss")
        })
        .collect();
    let layers: Vec<_> = out.layers.iter().map(|l| (&l.layer, &l.values)).collect();
    let pruning: Vec<_> = out
        .pruning
        .iter()
        .map(|p| (&p.layer, &p.criterion, p.fraction, p.count, &p.values))
        .collect();
    format!("{scalars:?} {layers:?} {pruning:?}")
}

/// One run's summary: accuracy, timings, categories per layer, perturbation at f = 1 (at every
/// fraction, with the evaluation's timings, when `all_perturbations`).
fn print_mlp_run(replicate: u64, wall: f64, out: &RunOutput, all_perturbations: bool) {
    let s = &out.scalars;
    println!(
        "seed {replicate}: test acc sampled {:.2} ± {:.2} %, mean-field {:.2} ± {:.2} %, train acc {:.2} %, loss {:.4} | train {:.2} s, eval {:.2} s, total {wall:.2} s | {:.0} samples/s, {:.1} GFLOP/s",
        100.0 * s["test_acc_sampled_mean"],
        100.0 * s["test_acc_sampled_std"],
        100.0 * s["test_acc_mf_mean"],
        100.0 * s["test_acc_mf_std"],
        100.0 * s["train_acc"],
        s["final_train_loss"],
        s["train_seconds"],
        s["eval_seconds"],
        s["samples_per_s"],
        s["train_gflops_per_s"],
    );
    if all_perturbations {
        println!(
            "  eval: accuracy {:.2} s, layer statistics and entropy {:.2} s, perturbation {:.2} s",
            s["eval_accuracy_seconds"], s["eval_layers_seconds"], s["eval_perturb_seconds"]
        );
    }
    for l in &out.layers {
        let v = &l.values;
        println!(
            "  {}: VIP/UIP/variable exact {:.1}/{:.1}/{:.1} %, over active inputs {:.1}/{:.1}/{:.1} %, tolerant {:.1}/{:.1}/{:.1} %; mean pi {:.3}, mean Xi {:.2e}, entropy {:.3}",
            l.layer,
            100.0 * v["vip_frac"],
            100.0 * v["uip_frac"],
            100.0 * v["variable_frac"],
            100.0 * v["vip_frac_active"],
            100.0 * v["uip_frac_active"],
            100.0 * v["variable_frac_active"],
            100.0 * v["vip_frac_tol"],
            100.0 * v["uip_frac_tol"],
            100.0 * v["variable_frac_tol"],
            v["mean_pi"],
            v["mean_xi"],
            v.get("entropy").copied().unwrap_or(f64::NAN),
        );
    }
    for p in out
        .pruning
        .iter()
        .filter(|p| all_perturbations || p.fraction == 1.0)
    {
        println!(
            "  perturb {} {:<8} f={:.1} ({} connections): test error {:.2} ± {:.2} %",
            p.layer,
            p.criterion,
            p.fraction,
            p.count,
            100.0 * p.values["test_err_mean"],
            100.0 * p.values["test_err_std"],
        );
    }
}

// ---- recurrent trainers (docs/PERFORMANCE.md, "Recurrent trainers") ----

const SMNIST_ROW: &str = include_str!("../../experiments/pre2023_smnist_row.toml");
const JARNE_AND: &str = include_str!("../../experiments/jarne_laje_and_damage.toml");

#[derive(Args)]
struct RnnSmnistArgs {
    /// Epochs to time (each 200 batches of 128 under the reference protocol).
    #[arg(long, default_value_t = 3)]
    epochs: u32,
    /// Threads (results are identical for any thread count).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// MNIST directory (default: ENSWEEP_DATA, then data/mnist).
    #[arg(long)]
    data_dir: Option<String>,
}

#[derive(Args)]
struct TanhRnnArgs {
    /// Epochs per seed (no early stop), each `train_trials` sequences.
    #[arg(long, default_value_t = 3)]
    epochs: u32,
    /// Replicate seeds.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Cap the kernels' instruction set (the numbers are the same at every level; only the
    /// speed differs), to measure an AVX2 or a plain worker on an AVX-512 machine.
    #[arg(long, value_enum, default_value_t = SimdArg::Best)]
    simd: SimdArg,
}

/// `--simd` of `bench tanh-rnn`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum SimdArg {
    /// The best this CPU has.
    Best,
    /// AVX2 + FMA.
    Avx2,
    /// No intrinsics.
    Portable,
}

fn rnn_smnist(a: RnnSmnistArgs) -> anyhow::Result<()> {
    let name = "experiments/pre2023_smnist_row.toml";
    let spec = Spec::parse(SMNIST_ROW, Path::new(name), &TRAINERS)
        .context("parsing the built-in protocol")?;
    let cell = spec.cells()[0].clone();
    let mut cfg = ensweep_recurrent::SasRnn.config_of(&cell)?;
    if let Some(d) = &a.data_dir {
        let (ensweep_core::config::sas_rnn::SasTask::RowMnist(t)
        | ensweep_core::config::sas_rnn::SasTask::PixelMnist(t)) = &mut cfg.task
        else {
            anyhow::bail!("{name} is not an MNIST task");
        };
        t.data_dir = Some(d.clone());
    }
    let load0 = crate::bench::rnn::load_average();
    let r = crate::bench::rnn::sas_epochs(&cfg, a.epochs, a.threads, &cell.run_seed())?;
    let load1 = crate::bench::rnn::load_average();
    println!(
        "{name}: N = {}, {} epoch(s), {} thread(s), data loaded in {:.2} s, {:.1} GFLOP per epoch",
        cfg.n_hidden,
        a.epochs,
        a.threads,
        r.load_seconds,
        r.flops_per_epoch / 1e9
    );
    for (i, s) in r.epoch_seconds.iter().enumerate() {
        println!(
            "epoch {i}: {s:.3} s ({:.1} GFLOP/s), train loss {:.4}, train acc {:.2} %",
            r.flops_per_epoch / 1e9 / s,
            r.train_loss[i],
            100.0 * r.train_acc[i]
        );
    }
    let total: f64 = r.epoch_seconds.iter().sum();
    let best = r
        .epoch_seconds
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    let mean = total / r.epoch_seconds.len().max(1) as f64;
    println!(
        "summary: mean {mean:.3} s/epoch, best {best:.3} s/epoch ({:.1} GFLOP/s at the mean), process CPU {:.2} s (training + one 10k test pass) for {total:.2} s of training, mean-field test acc {:.2} %, load average {load0:.2} -> {load1:.2}",
        r.flops_per_epoch / 1e9 / mean,
        r.cpu_seconds,
        100.0 * r.test_acc_mf
    );
    Ok(())
}

fn tanh_rnn(a: TanhRnnArgs) -> anyhow::Result<()> {
    let name = "experiments/jarne_laje_and_damage.toml";
    let spec = Spec::parse(JARNE_AND, Path::new(name), &TRAINERS)
        .context("parsing the built-in protocol")?;
    let cfg = ensweep_recurrent::TanhRnn.config_of(&spec.cells()[0])?;
    use ensweep_recurrent::tanh::kernels::{Simd, limit_simd, simd};
    limit_simd(match a.simd {
        SimdArg::Best => Simd::Avx512,
        SimdArg::Avx2 => Simd::Avx2,
        SimdArg::Portable => Simd::Portable,
    });
    let load0 = crate::bench::rnn::load_average();
    let r = crate::bench::rnn::tanh_throughput(&cfg, a.epochs, a.seeds)?;
    let load1 = crate::bench::rnn::load_average();
    println!(
        "{name}: N = {}, batch {}, {} trials per epoch, {} epoch(s) per seed, one thread, kernels {:?}",
        cfg.n_hidden,
        cfg.batch_size,
        cfg.train_trials,
        a.epochs,
        simd()
    );
    for (s, (v, t)) in r.sequences_per_s.iter().zip(&r.train_seconds).enumerate() {
        println!("seed {s}: {v:.0} sequences/s ({t:.2} s of training)");
    }
    let mut v = r.sequences_per_s.clone();
    v.sort_by(f64::total_cmp);
    println!(
        "summary: median {:.0} sequences/s (min {:.0}, max {:.0}), load average {load0:.2} -> {load1:.2}",
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN),
        v.first().copied().unwrap_or(f64::NAN),
        v.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}

#[derive(Args)]
struct QueryArgs {
    /// Rows of the synthetic `runs` table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Parquet parts it is written in.
    #[arg(long, default_value_t = 10)]
    parts: usize,
    /// Timed repeats of the query.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
}

/// Writes a synthetic `runs` table and times the group-by SQL through the `ensweep query` path.
fn query(a: QueryArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ensweep-bench-query-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let b = crate::bench::query::bench_query(&dir, a.rows, a.parts, a.repeats);
    let _ = std::fs::remove_dir_all(&dir);
    let b = b?;
    let all: Vec<String> = b.query_seconds.iter().map(|s| format!("{s:.3}")).collect();
    println!(
        "query: {} rows in {} parts, {} groups: median {:.3} s (repeats {} s); writing the table {:.2} s",
        b.rows,
        b.parts,
        b.groups,
        b.median(),
        all.join(" / "),
        b.write_seconds
    );
    Ok(())
}

#[derive(Args)]
struct DiversityArgs {
    /// Nets in the condition (all distinct pairs are compared).
    #[arg(long, default_value_t = 50)]
    nets: usize,
    /// Hidden units per net.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// DMD rank of DSA.
    #[arg(long, default_value_t = 20)]
    rank: usize,
    /// Delays of DSA's embedding.
    #[arg(long, default_value_t = 2)]
    delays: usize,
}

/// Times DSA, d_PIF, CKA and SVCCA over all pairs of synthetic nets (threads: RAYON_NUM_THREADS,
/// default all cores).
fn diversity(a: DiversityArgs) -> anyhow::Result<()> {
    use ensweep_results::diversity::bench::{DiversityBenchOptions, bench_diversity};
    anyhow::ensure!(
        a.nets >= 2 && a.hidden >= 1,
        "--nets must be at least 2, --hidden at least 1"
    );
    let d = DiversityBenchOptions::default();
    let o = DiversityBenchOptions {
        nets: a.nets,
        hidden: a.hidden,
        dsa: ensweep_results::diversity::dsa::DsaOptions {
            rank: a.rank,
            n_delays: a.delays,
            ..d.dsa
        },
        ..d
    };
    let b = bench_diversity(&o);
    println!(
        "diversity: {} nets x {} hidden ({} pairs, {} probes x {} steps, DSA rank {} delays {}), {} thread(s): total {:.2} s = per-net fits {:.2} + DSA {:.2} + d_PIF {:.2} + CKA {:.2} + SVCCA {:.2}; means: DSA angle {:.4}, d_PIF {:.5}, CKA {:.4}, SVCCA {:.4}",
        o.nets,
        o.hidden,
        b.pairs,
        o.probes,
        o.steps,
        a.rank,
        a.delays,
        b.threads,
        b.total(),
        b.per_net,
        b.dsa,
        b.d_pif,
        b.cka,
        b.svcca,
        b.means[0],
        b.means[1],
        b.means[2],
        b.means[3]
    );
    Ok(())
}
