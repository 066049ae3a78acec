//! Writes a synthetic sweep (2 initialisations x SEEDS seeds, every table filled) and its report,
//! for looking at the report and for tests/scripts/check_report.py:
//!
//! `cargo run -p ensweep-results --example report_preview -- DIR [SEEDS]` -> DIR/report/index.html

use ensweep_results::report::{ReportOptions, write_report};
use ensweep_results::synthetic;
use ensweep_results::tables::{write_part, write_weights_part};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: report_preview DIR [SEEDS]")?);
    let seeds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let runs = synthetic::sweep("and_task", &[("small", 0.6), ("large", 1.4)], seeds, 8);
    for (part, chunk) in runs.chunks(seeds as usize).enumerate() {
        let completed: Vec<_> = chunk.iter().map(|(r, _)| r.clone()).collect();
        write_part(&dir, part as u64, &completed)?;
        let w: Vec<_> = chunk
            .iter()
            .map(|(r, w)| (r.cell_key.clone(), w.clone()))
            .collect();
        write_weights_part(&dir, part as u64, &w)?;
    }
    let out = write_report(&dir, &ReportOptions::default())?;
    println!("{} ({} figures)", out.html.display(), out.figures.len());
    Ok(())
}
