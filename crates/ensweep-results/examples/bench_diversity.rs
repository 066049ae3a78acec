//! Pairwise degeneracy metrics benchmark (docs/PERFORMANCE.md, "Degeneracy metrics"): the same
//! library function as `ensweep bench diversity`, without building the whole binary.
//!
//! `cargo run -p ensweep-results --example bench_diversity -- [NETS] [HIDDEN] [RANK]`

use ensweep_results::diversity::bench::{DiversityBenchOptions, bench_diversity};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = std::env::args().skip(1);
    let d = DiversityBenchOptions::default();
    let nets: usize = a.next().map(|s| s.parse()).transpose()?.unwrap_or(d.nets);
    let hidden: usize = a.next().map(|s| s.parse()).transpose()?.unwrap_or(d.hidden);
    let rank: usize = a
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(d.dsa.rank);
    let o = DiversityBenchOptions {
        nets,
        hidden,
        dsa: ensweep_results::diversity::dsa::DsaOptions { rank, ..d.dsa },
        ..d
    };
    let b = bench_diversity(&o);
    println!("{o:?}");
    println!("{b:?}");
    println!(
        "total {:.2} s for {} pairs on {} threads",
        b.total(),
        b.pairs,
        b.threads
    );
    Ok(())
}
