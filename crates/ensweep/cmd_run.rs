//! `ensweep run`.

use clap::Args;

/// Arguments of `ensweep run`.
#[derive(Args)]
pub struct RunArgs {}

/// Runs `ensweep run`.
pub fn run(_args: RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep run` is not built yet")
}
