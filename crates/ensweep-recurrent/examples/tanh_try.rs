//! Driver for the documented measurements: trains the `[tanh_rnn]` section of an experiment
//! file for the given replicate seeds and prints per-seed scalars and the mean damage curves.
//!
//! `cargo run --release -p ensweep-recurrent --example tanh_try -- experiments/X.toml 0 1 2`
use ensweep_core::config::TanhRnnConfig;
use ensweep_core::output::NullSink;
use ensweep_core::seed::RunSeed;
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("experiment file");
    let table: toml::Table = toml::from_str(&text).expect("toml");
    let section = table["tanh_rnn"].clone();
    let cfg: TanhRnnConfig = section.try_into().expect("tanh_rnn section");
    let seeds: Vec<u64> = args[2..].iter().map(|s| s.parse().expect("seed")).collect();
    let mut curves: BTreeMap<(String, u64), Vec<f64>> = BTreeMap::new();
    let mut failed = 0;
    for &seed in &seeds {
        let run = RunSeed::derive(2023, &args[1], seed);
        let out = ensweep_recurrent::train_tanh_rnn(&cfg, &run, &mut NullSink).expect("run");
        let s = &out.scalars;
        println!(
            "seed {seed}: epochs {} loss {:.2e} distance {:.3} ood {:.3} eig_out {} lead {:.3}{:+.3}i class {} seq/s {:.0}",
            s["epochs_run"],
            s["train_loss"],
            s["distance_mean"],
            s["ood_distance_mean"],
            s["eig_outside"],
            s["lead_re"],
            s["lead_im"],
            s["dynamics_class"],
            s["sequences_per_s"]
        );
        if s["success"] != 1.0 {
            failed += 1;
            continue; // damage curves are averaged over the networks that learned the task
        }
        for r in &out.pruning {
            curves
                .entry((r.criterion.clone(), (r.fraction * 1000.0).round() as u64))
                .or_default()
                .push(r.values["distance"]);
        }
    }
    println!(
        "criterion fraction mean_distance min max (over the {} of {} nets with success = 1)",
        seeds.len() - failed,
        seeds.len()
    );
    for ((c, f), v) in &curves {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        println!("{c} {:.3} {m:.3} {lo:.3} {hi:.3}", *f as f64 / 1000.0);
    }
}
