//! `ensweep plan`: show what a sweep file expands to, without running anything.

use anyhow::Context;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use ensweep_worker::TRAINERS;
use std::path::PathBuf;

/// Arguments of `ensweep plan`.
#[derive(Args)]
pub struct PlanArgs {
    /// The sweep file.
    pub spec: PathBuf,
    #[command(flatten)]
    pub overrides: crate::overrides::Overrides,
    /// How many cells to list (all with --all).
    #[arg(long, default_value_t = 20)]
    pub show: usize,
    /// List every cell.
    #[arg(long)]
    pub all: bool,
    /// Print the cells as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `ensweep plan`.
pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let spec = args.overrides.load(&args.spec).context("planning sweep")?;
    let cells = spec.cells();
    if args.json {
        for c in &cells {
            let line = serde_json::json!({
                "key": c.key, "kind": c.kind, "replicate": c.replicate,
                "axes": c.axes, "config": serde_json::from_str::<serde_json::Value>(&c.config_json)?,
            });
            println!("{line}");
        }
        return Ok(());
    }
    // Each trainer's own estimate from the cell's size, calibrated on the benchmarks in
    // docs/PERFORMANCE.md ("Plan estimates").
    let costs = cells
        .iter()
        .map(|c| TRAINERS.cost_seconds(c))
        .collect::<Result<Vec<f64>, _>>()?;
    let total_cost: f64 = costs.iter().sum();
    println!("sweep      {}  (spec hash {})", spec.name, spec.spec_hash);
    println!("trainer    {} ({})", spec.kind, cells[0].trainer_version);
    println!(
        "cells      {} = {} configs x {} seeds {:?}",
        cells.len(),
        cells.len() / spec.seeds.len(),
        spec.seeds.len(),
        spec.seeds
    );
    if spec.axis_names.is_empty() {
        println!("axes       none");
    } else {
        for name in &spec.axis_names {
            let distinct = natural_order(cells.iter().map(|c| &c.axes[name]));
            println!(
                "axis       {name}: {} values [{}]",
                distinct.len(),
                distinct.join(", ")
            );
        }
    }
    println!(
        "cost       ~{} of CPU in all, one core per cell (rough estimate from the trainer's size)",
        human_seconds(total_cost)
    );

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["#".to_owned(), "key".to_owned(), "seed".to_owned()];
    header.extend(spec.axis_names.iter().cloned());
    header.push("est. time".to_owned());
    table.set_header(header);
    let shown = if args.all {
        cells.len()
    } else {
        args.show.min(cells.len())
    };
    for (i, (c, cost)) in cells.iter().zip(&costs).take(shown).enumerate() {
        let mut row = vec![
            i.to_string(),
            c.key[..12].to_owned(),
            c.replicate.to_string(),
        ];
        row.extend(spec.axis_names.iter().map(|a| c.axes[a].to_string()));
        row.push(human_seconds(*cost));
        table.add_row(row);
    }
    println!("{table}");
    if shown < cells.len() {
        println!(
            "... {} more cells (--all to list them)",
            cells.len() - shown
        );
    }
    Ok(())
}

fn human_seconds(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.1} s")
    } else if s < 5400.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// The distinct values of an axis, rendered, in their natural order: numbers numerically
/// (`50, 60, ..., 500`, not string order), then everything else by its text. Values are made
/// distinct by their text first, so the sort only sees the few distinct ones.
fn natural_order<'a>(values: impl Iterator<Item = &'a serde_json::Value>) -> Vec<String> {
    let by_text: std::collections::BTreeMap<String, &serde_json::Value> =
        values.map(|v| (v.to_string(), v)).collect();
    let mut distinct: Vec<(String, &serde_json::Value)> = by_text.into_iter().collect();
    distinct.sort_by(|(ta, a), (tb, b)| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| ta.cmp(tb)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => ta.cmp(tb),
    });
    distinct.into_iter().map(|(text, _)| text).collect()
}

#[cfg(test)]
mod tests {
    use super::natural_order;
    use serde_json::json;

    #[test]
    fn axis_values_are_listed_in_natural_order() {
        let values = [
            json!(500),
            json!(60),
            json!(50),
            json!(125),
            json!(60),
            json!(2.5),
        ];
        assert_eq!(
            natural_order(values.iter()),
            ["2.5", "50", "60", "125", "500"]
        );
        let words = [json!("b"), json!("a"), json!(1)];
        assert_eq!(natural_order(words.iter()), ["1", "\"a\"", "\"b\""]);
    }
}
