//! `ensweep plan`.

use clap::Args;

/// Arguments of `ensweep plan`.
#[derive(Args)]
pub struct PlanArgs {}

/// Runs `ensweep plan`.
pub fn run(_args: PlanArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep plan` is not built yet")
}
