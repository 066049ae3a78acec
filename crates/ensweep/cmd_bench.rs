//! `ensweep bench`: benchmarks whose output is recorded in docs/PERFORMANCE.md.
//!
//! `ensweep bench mlp` trains the spike-and-slab MLP under the PRL protocols (the experiment
//! files `experiments/prl2020_mnist.toml` / `prl2022_mnist60k.toml`, compiled in) through the
//! same library entry point sweeps use, and prints accuracy, category fractions, timings and the
//! achieved floating-point rate.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ensweep_core::config::TrainerConfig;
use ensweep_core::output::NullSink;
use ensweep_core::spec::Spec;
use ensweep_meanfield::{mnist, train};
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
    /// Sweep machinery: no-op cells/s through coordinator + 4 workers (gRPC, ledger, Parquet).
    SweepNoop(crate::cmd_run::bench::NoopArgs),
    /// Sweep machinery: sleeping cells on N slots, overhead over the ideal wall time.
    SweepSleep(crate::cmd_run::bench::SleepArgs),
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
    /// MNIST directory (default: ENSWEEP_DATA, ../shared/data/mnist, data/mnist).
    #[arg(long)]
    data_dir: Option<String>,
}

const PRL2020: &str = include_str!("../../experiments/prl2020_mnist.toml");
const PRL2022: &str = include_str!("../../experiments/prl2022_mnist60k.toml");

/// Runs `ensweep bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Mlp(a) => mlp(a),
        BenchWhat::SweepNoop(a) => crate::cmd_run::bench::noop(a),
        BenchWhat::SweepSleep(a) => crate::cmd_run::bench::sleep(a),
    }
}

fn mlp(a: MlpArgs) -> anyhow::Result<()> {
    let (text, name) = match a.protocol {
        Protocol::P2020 => (PRL2020, "experiments/prl2020_mnist.toml"),
        Protocol::P2022 => (PRL2022, "experiments/prl2022_mnist60k.toml"),
    };
    let spec = Spec::parse(text, Path::new(name)).context("parsing the built-in protocol")?;
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
    let TrainerConfig::SasMlp(mut cfg) = cells[0].config()? else {
        anyhow::bail!("{name} is not a sas_mlp experiment");
    };
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    if a.data_dir.is_some() {
        cfg.data_dir = a.data_dir.clone();
    }
    let t_load = Instant::now();
    let dir = mnist::resolve_data_dir(cfg.data_dir.as_deref())?;
    let data = mnist::load(&dir, cfg.train_size, cfg.test_size)?;
    let prepared = train::Prepared::new(&data);
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
        let t0 = Instant::now();
        let out = train::train_on(&cfg, &cell.run_seed(), &mut NullSink, &opts, &prepared)?;
        let wall = t0.elapsed().as_secs_f64();
        let s = &out.scalars;
        println!(
            "seed {}: test acc sampled {:.2} ± {:.2} %, mean-field {:.2} ± {:.2} %, train acc {:.2} %, loss {:.4} | train {:.2} s, eval {:.2} s, total {wall:.2} s | {:.0} samples/s, {:.1} GFLOP/s",
            cell.replicate,
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
        for p in out.pruning.iter().filter(|p| p.fraction == 1.0) {
            println!(
                "  perturb {} {:<8} f=1.0 ({} connections): test error {:.2} ± {:.2} %",
                p.layer,
                p.criterion,
                p.count,
                100.0 * p.values["test_err_mean"],
                100.0 * p.values["test_err_std"],
            );
        }
        sampled.push(s["test_acc_sampled_mean"]);
        walls.push(wall);
    }
    let (m, sd) = train::mean_std(&sampled);
    let (w, _) = train::mean_std(&walls);
    println!(
        "summary: {} seed(s), sampled-network test accuracy {:.2} ± {:.2} % (mean ± std over seeds), mean wall per run {w:.2} s",
        sampled.len(),
        100.0 * m,
        100.0 * sd
    );
    Ok(())
}
