//! The measurements of `ensweep bench rnn-smnist` / `ensweep bench tanh-rnn` without building
//! the whole binary (same library functions, `ensweep_recurrent::bench`):
//!
//! `cargo run --release -p ensweep-recurrent --example sas_bench -- experiments/pre2023_smnist_row.toml EPOCHS [THREADS]`
//! `cargo run --release -p ensweep-recurrent --example sas_bench -- experiments/jarne_laje_and_damage.toml EPOCHS [SEEDS]`
use ensweep_core::config::{SasRnnConfig, TanhRnnConfig};
use ensweep_core::seed::RunSeed;
use ensweep_recurrent::bench;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("experiment file");
    let table: toml::Table = toml::from_str(&text).expect("toml");
    let epochs: u32 = args.get(2).map(|s| s.parse().expect("epochs")).unwrap_or(3);
    let third: Option<usize> = args.get(3).map(|s| s.parse().expect("threads / seeds"));
    let load0 = bench::load_average();
    if let Some(section) = table.get("tanh_rnn") {
        let cfg: TanhRnnConfig = section.clone().try_into().expect("tanh_rnn section");
        let r = bench::tanh_throughput(&cfg, epochs, third.unwrap_or(3) as u64).expect("run");
        for (s, v) in r.sequences_per_s.iter().enumerate() {
            println!("seed {s}: {v:.0} sequences/s");
        }
    } else {
        let cfg: SasRnnConfig = table["sas_rnn"]
            .clone()
            .try_into()
            .expect("sas_rnn section");
        let threads = third.unwrap_or(1);
        let r = bench::sas_epochs(&cfg, epochs, threads, &RunSeed::from_u64(0)).expect("run");
        for (i, s) in r.epoch_seconds.iter().enumerate() {
            println!(
                "epoch {i}: {s:.3} s ({:.1} GFLOP/s), train acc {:.4}",
                r.flops_per_epoch / 1e9 / s,
                r.train_acc[i]
            );
        }
        println!(
            "{threads} thread(s): process CPU {:.2} s (training + one 10k test pass) for {:.2} s of training; test acc {:.4}",
            r.cpu_seconds,
            r.epoch_seconds.iter().sum::<f64>(),
            r.test_acc_mf
        );
    }
    println!("load average {load0:.2} -> {:.2}", bench::load_average());
}
