//! Query benchmark (docs/PERFORMANCE.md, "Query"): writes a ROWS-row runs table in PARTS parts and
//! times the group-by SQL through the `ensweep query` code path.
//!
//! `cargo run --release -p ensweep-results --example bench_query -- [ROWS] [PARTS] [REPEATS]`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = std::env::args().skip(1);
    let rows: usize = a
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let parts: usize = a.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let repeats: usize = a.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let b = ensweep_results::bench::bench_query(dir.path(), rows, parts, repeats)?;
    println!(
        "rows {} parts {} groups {} write {:.3}s",
        b.rows, b.parts, b.groups, b.write_seconds
    );
    println!(
        "query seconds: {:?}",
        b.query_seconds
            .iter()
            .map(|s| format!("{s:.4}"))
            .collect::<Vec<_>>()
    );
    println!("median {:.4}s", b.median());
    Ok(())
}
