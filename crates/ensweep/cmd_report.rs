//! `ensweep report`.

use clap::Args;

/// Arguments of `ensweep report`.
#[derive(Args)]
pub struct ReportArgs {}

/// Runs `ensweep report`.
pub fn run(_args: ReportArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep report` is not built yet")
}
