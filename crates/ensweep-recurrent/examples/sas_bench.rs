//! Benchmark of the spike-and-slab RNN training epoch (row-by-row protocol by default): loads
//! the data once, trains `EPOCHS` epochs with the analyses switched off and prints the
//! per-epoch wall time.
//!
//! `cargo run --release -p ensweep-recurrent --example sas_bench -- experiments/pre2023_smnist_row.toml EPOCHS [THREADS]`
use ensweep_core::config::SasRnnConfig;
use ensweep_core::output::NullSink;
use ensweep_core::seed::RunSeed;
use ensweep_recurrent::sas::train::{TaskData, train_sas_rnn_threads};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("experiment file");
    let table: toml::Table = toml::from_str(&text).expect("toml");
    let mut cfg: SasRnnConfig = table["sas_rnn"]
        .clone()
        .try_into()
        .expect("sas_rnn section");
    cfg.epochs = args.get(2).map(|s| s.parse().expect("epochs")).unwrap_or(3);
    let threads: usize = args
        .get(3)
        .map(|s| s.parse().expect("threads"))
        .unwrap_or(1);
    cfg.eval.removal_fractions.clear();
    cfg.eval.damage_fractions.clear();
    cfg.eval.sampled_nets = 0;
    cfg.eval.per_step_draws = 0;
    cfg.eval.mean_field_draws = 1;
    cfg.eval.probe_trials = 0;
    if let ensweep_core::config::sas_rnn::SasTask::RowMnist(t) = &mut cfg.task {
        t.test_every = 0;
    }
    let data = TaskData::load(&cfg).expect("data");
    let cpu0 = cpu_seconds();
    let t0 = std::time::Instant::now();
    let out = train_sas_rnn_threads(&cfg, &data, &RunSeed::from_u64(0), &mut NullSink, threads)
        .expect("run");
    let train_wall: f64 = out.epochs.iter().map(|e| e.values["epoch_seconds"]).sum();
    println!(
        "total wall {:.2} s (training {:.2} s), process CPU {:.2} s: the CPU time is the better estimate of an unloaded machine when others share the cores",
        t0.elapsed().as_secs_f64(),
        train_wall,
        cpu_seconds() - cpu0
    );
    for e in &out.epochs {
        println!(
            "epoch {} seconds {:.3} train_acc {:.4}",
            e.epoch,
            e.values["epoch_seconds"],
            e.values.get("train_acc").copied().unwrap_or(f64::NAN)
        );
    }
    println!("test_acc_mf {:.4}", out.scalars["acc_mf_mean"]);
}

/// User + system CPU time of this process (Linux /proc; NaN elsewhere).
fn cpu_seconds() -> f64 {
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
