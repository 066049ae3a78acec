//! `ensweep checkpoint`: the learning curve so far of a running or cut-off cell, read from its
//! checkpoint file.
//!
//! A long cell (pixel-by-pixel MNIST trains ~5.5 h) writes its epochs to the `epochs` table
//! only when it ends, and `status` shows only its epoch count; its checkpoint, rewritten every
//! minute or so (docs/CHECKPOINTS.md), holds every finished epoch's row. The worker reads the
//! file's header and the trainer that wrote it decodes the rest, so there is one reader of
//! each format.

use crate::exit::CliError;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use ensweep_core::output::CheckpointCurve;
use ensweep_worker::{CheckpointFileError, TRAINERS, read_checkpoint_file};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Arguments of `ensweep checkpoint`.
#[derive(Args)]
pub struct CheckpointArgs {
    /// A checkpoint file: `<sweep dir>/checkpoints/<cell key>.ckpt`.
    pub file: PathBuf,
    /// Print every N-th epoch (and always the last), not every epoch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub every: u32,
}

/// Runs `ensweep checkpoint`.
pub fn run(args: CheckpointArgs) -> anyhow::Result<()> {
    let file = read_checkpoint_file(&args.file).map_err(|e| match e {
        CheckpointFileError::Io { .. } => anyhow::Error::from(e),
        other => CliError::Usage(other.to_string()).into(),
    })?;
    let unreadable = || {
        CliError::Usage(format!(
            "{}: a `{}` checkpoint ({}) that this build cannot read",
            args.file.display(),
            file.kind,
            file.trainer_version
        ))
    };
    let trainer = TRAINERS.get(&file.kind).map_err(|_| unreadable())?;
    let curve = trainer
        .checkpoint_curve(&file.state)
        .ok_or_else(unreadable)?;
    println!(
        "cell {} ({}, {}): {} epochs done, {:.0} s of training",
        file.key, file.kind, file.trainer_version, curve.epochs_done, curve.seconds
    );
    if trainer.version() != file.trainer_version {
        println!(
            "note: written by {}, this build trains {}: the cell will start afresh",
            file.trainer_version,
            trainer.version()
        );
    }
    if !curve.rows.is_empty() {
        println!("{}", table(&curve, args.every));
    }
    Ok(())
}

/// One line per shown epoch, one column per value any row has ("-" where a row lacks it: the
/// test accuracy is measured only every few epochs).
fn table(curve: &CheckpointCurve, every: u32) -> Table {
    let columns: BTreeSet<&str> = curve
        .rows
        .iter()
        .flat_map(|r| r.values.keys().map(String::as_str))
        .collect();
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(std::iter::once("epoch").chain(columns.iter().copied()));
    let last = curve.rows.len() - 1;
    for (i, row) in curve.rows.iter().enumerate() {
        if (i + 1) % every as usize != 0 && i != last {
            continue;
        }
        let cells = columns.iter().map(|c| match row.values.get(*c) {
            // A loss near its 1e-3 stopping threshold needs its digits.
            Some(v) if *v != 0.0 && v.abs() < 1e-2 => format!("{v:.3e}"),
            Some(v) => format!("{v:.4}"),
            None => "-".to_owned(),
        });
        t.add_row(std::iter::once(row.epoch.to_string()).chain(cells));
    }
    t
}
