//! Driver for the documented measurements: trains the `[sas_rnn]` section of an experiment
//! file for one replicate seed (optionally overriding the epoch count) and prints the curve,
//! the scalars and the removal curves.
//!
//! `cargo run --release -p ensweep-recurrent --example sas_try -- experiments/X.toml SEED [EPOCHS [THREADS]]`
//! (the results do not depend on THREADS, default 1).
use ensweep_core::config::SasRnnConfig;
use ensweep_core::output::{EpochRow, TrainSink};
use ensweep_core::seed::RunSeed;

struct Print;
impl TrainSink for Print {
    fn on_epoch(&mut self, row: &EpochRow, total: u32) {
        let v: Vec<String> = row
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v:.4}"))
            .collect();
        println!("epoch {}/{total} {}", row.epoch, v.join(" "));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("experiment file");
    let table: toml::Table = toml::from_str(&text).expect("toml");
    let mut cfg: SasRnnConfig = table["sas_rnn"]
        .clone()
        .try_into()
        .expect("sas_rnn section");
    let seed: u64 = args.get(2).map(|s| s.parse().expect("seed")).unwrap_or(0);
    if let Some(e) = args.get(3) {
        cfg.epochs = e.parse().expect("epochs");
    }
    let threads: usize = args
        .get(4)
        .map(|s| s.parse().expect("threads"))
        .unwrap_or(1);
    let data = ensweep_recurrent::sas::train::TaskData::load(&cfg).expect("data");
    let out = ensweep_recurrent::sas::train::train_sas_rnn_threads(
        &cfg,
        &data,
        &RunSeed::derive(2023, &args[1], seed),
        &mut Print,
        threads,
    )
    .expect("run");
    for (k, v) in &out.scalars {
        println!("{k} = {v:.4}");
    }
    for l in &out.layers {
        println!("layer {} {:?}", l.layer, l.values);
    }
    for r in &out.pruning {
        println!(
            "removal {} {:.2} n={} acc={:.4} sd={:.4}",
            r.criterion, r.fraction, r.count, r.values["acc"], r.values["acc_std"]
        );
    }
}
