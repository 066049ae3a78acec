//! `ensweep train`: train one cell of an experiment file in this process and print a summary.
//!
//! This is the quickest way to try a config: no coordinator, no ledger, no tables. It runs
//! exactly the code a worker runs for the same cell (`TRAINERS.train`), so the
//! numbers are the ones a sweep would store.

use crate::exit::CliError;
use anyhow::Context;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use ensweep_core::output::{EpochRow, RunOutput, TrainSink};
use ensweep_worker::TRAINERS;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `ensweep train`.
#[derive(Args)]
pub struct TrainArgs {
    /// The experiment (sweep) file.
    pub spec: PathBuf,
    #[command(flatten)]
    pub overrides: crate::overrides::Overrides,
    /// Which cell of the expansion to train (see `ensweep plan`); the first by default.
    #[arg(long, default_value_t = 0)]
    pub cell: usize,
    /// Print the full metrics as one JSON object on stdout instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Drives a progress bar from the trainer's epochs.
struct BarSink {
    bar: ProgressBar,
}

impl TrainSink for BarSink {
    fn on_epoch(&mut self, row: &EpochRow, epochs_total: u32) {
        self.bar.set_length(u64::from(epochs_total));
        self.bar.set_position(u64::from(row.epoch) + 1);
        let shown: Vec<String> = ["train_loss", "train_acc", "test_acc", "loss", "lr"]
            .iter()
            .filter_map(|k| row.values.get(*k).map(|v| format!("{k} {v:.4}")))
            .collect();
        self.bar.set_message(shown.join("  "));
    }
}

/// Runs `ensweep train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let spec = args
        .overrides
        .load(&args.spec)
        .context("reading experiment")?;
    let cells = spec.cells();
    let Some(cell) = cells.get(args.cell) else {
        return Err(CliError::Usage(format!(
            "{} has {} cells; --cell {} is out of range",
            spec.path.display(),
            cells.len(),
            args.cell
        ))
        .into());
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1)
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] epoch {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    if !args.json {
        eprintln!(
            "training {} cell {} of {} (key {}, seed {}, {})",
            spec.name,
            args.cell,
            cells.len(),
            &cell.key[..12],
            cell.replicate,
            cell.trainer_version
        );
    }
    let started = Instant::now();
    let mut sink = BarSink { bar: bar.clone() };
    let output = TRAINERS
        .train(cell, &mut sink)
        .with_context(|| format!("training cell {} of {}", args.cell, spec.path.display()))?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    if args.json {
        let doc = serde_json::json!({
            "sweep": spec.name, "cell_key": cell.key, "replicate": cell.replicate,
            "trainer_version": cell.trainer_version, "axes": cell.axes,
            "config": serde_json::from_str::<serde_json::Value>(&cell.config_json)?,
            "wall_seconds": wall, "output": output,
        });
        println!("{doc}");
    } else {
        print_summary(&output, wall);
    }
    Ok(())
}

fn print_summary(out: &RunOutput, wall: f64) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(vec!["metric", "value"]);
    for (k, v) in &out.scalars {
        t.add_row(vec![k.clone(), format_value(k, *v)]);
    }
    t.add_row(vec![
        "wall_seconds (whole command)".to_owned(),
        format!("{wall:.2}"),
    ]);
    println!("{t}");

    if !out.layers.is_empty() {
        // Show the columns people look at first, when the trainer reports them.
        let preferred = [
            "vip_frac",
            "uip_frac",
            "variable_frac",
            "mean_pi",
            "mean_xi",
            "entropy",
        ];
        let present: BTreeSet<&String> = out.layers.iter().flat_map(|l| l.values.keys()).collect();
        let mut cols: Vec<&str> = preferred
            .iter()
            .copied()
            .filter(|c| present.iter().any(|p| p == c))
            .collect();
        if cols.is_empty() {
            cols = present.iter().take(6).map(|s| s.as_str()).collect();
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(
            std::iter::once("layer")
                .chain(cols.iter().copied())
                .collect::<Vec<_>>(),
        );
        for l in &out.layers {
            let mut row = vec![l.layer.clone()];
            row.extend(
                cols.iter()
                    .map(|c| l.values.get(*c).map_or("-".into(), |v| format_value(c, *v))),
            );
            t.add_row(row);
        }
        println!(
            "per layer ({} more columns with --json)",
            present.len().saturating_sub(cols.len())
        );
        println!("{t}");
    }
    if !out.pruning.is_empty() {
        let criteria: BTreeSet<&str> = out.pruning.iter().map(|p| p.criterion.as_str()).collect();
        println!(
            "damage curves: {} points over criteria {:?} (full table with --json, or in a sweep's `pruning` table)",
            out.pruning.len(),
            criteria
        );
    }
}

/// A value as a person reads it: categorical ones as words (`success yes`,
/// `dynamics_class oscillatory`), quantities with 4 significant decimals.
fn format_value(name: &str, v: f64) -> String {
    if let Some(word) = ensweep_recurrent::metrics::category_word(name, v) {
        word.to_owned()
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn categories_print_as_words_quantities_as_numbers() {
        assert_eq!(format_value("success", 1.0), "yes");
        assert_eq!(format_value("dynamics_class", 2.0), "mixed");
        assert_eq!(format_value("train_loss", 1.0), "1.0000");
        assert_eq!(format_value("train_loss", 2e-5), "2.0000e-5");
    }
}
