//! `ensweep coordinator`.

use clap::Args;

/// Arguments of `ensweep coordinator`.
#[derive(Args)]
pub struct CoordinatorArgs {}

/// Runs `ensweep coordinator`.
pub fn run(_args: CoordinatorArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep coordinator` is not built yet")
}
