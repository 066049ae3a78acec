//! Scratch driver: trains one tanh RNN from a TOML trainer section and prints the curve.
use ensweep_core::config::TanhRnnConfig;
use ensweep_core::output::NullSink;
use ensweep_core::seed::RunSeed;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).unwrap();
    let cfg: TanhRnnConfig = toml::from_str(&text).unwrap();
    let seed: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(0);
    let out =
        ensweep_recurrent::train_tanh_rnn(&cfg, &RunSeed::from_u64(seed), &mut NullSink).unwrap();
    for e in &out.epochs {
        println!("epoch {} loss {:.5}", e.epoch, e.values["train_loss"]);
    }
    for (k, v) in &out.scalars {
        println!("{k} = {v:.4}");
    }
    for r in &out.pruning {
        if r.criterion == "magnitude" {
            println!(
                "prune {} {:.2} {:.4}",
                r.criterion, r.fraction, r.values["distance"]
            );
        }
    }
}
