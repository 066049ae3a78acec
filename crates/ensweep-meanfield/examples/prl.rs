//! Runs an experiment file's [sas_mlp] cells (the same run seeds as `ensweep bench mlp`) and
//! prints accuracy, categories, every perturbation point and timings, without building the whole
//! `ensweep` binary:
//! `cargo run --release -p ensweep-meanfield --example prl -- FILE [THREADS] [SEEDS]`.

use ensweep_core::output::NullSink;
use ensweep_core::spec::Spec;
use ensweep_core::trainer::{Registry, Trainer};
use ensweep_meanfield::{SasMlp, train};
use ensweep_trainkit::mnist;
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = args
        .get(1)
        .map_or("experiments/prl2020_mnist.toml", String::as_str);
    let threads: usize = args.get(2).map_or(2, |s| s.parse().expect("threads"));
    let text = std::fs::read_to_string(file).expect("read experiment file");
    // The experiment file's cells, exactly as `ensweep bench mlp` expands them (same run seeds).
    static TRAINERS: Registry = Registry::new(&[&SasMlp]);
    let spec = Spec::parse(&text, Path::new(file), &TRAINERS).expect("experiment file");
    let mut cells = spec.cells();
    if let Some(n) = args.get(3).map(|s| s.parse::<u64>().expect("seeds")) {
        let first = cells[0].clone();
        cells = (0..n)
            .map(|r| {
                let mut c = first.clone();
                c.replicate = r;
                c
            })
            .collect();
    }
    let cfg = SasMlp.config_of(&cells[0]).expect("a sas_mlp experiment");
    let dir = mnist::resolve_data_dir(cfg.data_dir.as_deref()).expect("data");
    let data = mnist::load(&dir, cfg.train_size, cfg.test_size).expect("mnist");
    let prepared = train::Prepared::new(&data);
    let opts = train::TrainOptions { threads };
    for cell in &cells {
        let (r, seed) = (cell.replicate, cell.run_seed());
        let t0 = Instant::now();
        let out = train::train_on(&cfg, &seed, &mut NullSink, &opts, &prepared).expect("train");
        let wall = t0.elapsed().as_secs_f64();
        let s = &out.scalars;
        println!(
            "seed {r}: sampled {:.4} +- {:.4}  mf {:.4} +- {:.4}  train_acc {:.4}  loss {:.4}  train {:.2}s eval {:.2}s wall {:.2}s  {:.0} samples/s  {:.0} GFLOP, {:.1} GFLOP/s",
            s["test_acc_sampled_mean"],
            s["test_acc_sampled_std"],
            s["test_acc_mf_mean"],
            s["test_acc_mf_std"],
            s["train_acc"],
            s["final_train_loss"],
            s["train_seconds"],
            s["eval_seconds"],
            wall,
            s["samples_per_s"],
            s["train_gflop"],
            s["train_gflops_per_s"]
        );
        println!(
            "  eval: accuracy {:.2}s, layer stats+entropy {:.2}s, perturbation {:.2}s",
            s["eval_accuracy_seconds"], s["eval_layers_seconds"], s["eval_perturb_seconds"]
        );
        for l in &out.layers {
            let v = &l.values;
            println!(
                "  {}: exact VIP/UIP/var {:.3}/{:.3}/{:.3}  active {:.3}/{:.3}/{:.3}  tol {:.3}/{:.3}/{:.3}  mean pi {:.3} xi {:.2e} entropy {:.3}",
                l.layer,
                v["vip_frac"],
                v["uip_frac"],
                v["variable_frac"],
                v["vip_frac_active"],
                v["uip_frac_active"],
                v["variable_frac_active"],
                v["vip_frac_tol"],
                v["uip_frac_tol"],
                v["variable_frac_tol"],
                v["mean_pi"],
                v["mean_xi"],
                v.get("entropy").copied().unwrap_or(f64::NAN)
            );
        }
        for p in &out.pruning {
            println!(
                "  perturb {} {} f={} n={} err {:.4} +- {:.4}",
                p.layer,
                p.criterion,
                p.fraction,
                p.count,
                p.values["test_err_mean"],
                p.values["test_err_std"]
            );
        }
    }
}
