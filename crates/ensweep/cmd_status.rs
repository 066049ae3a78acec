//! `ensweep status`.

use clap::Args;

/// Arguments of `ensweep status`.
#[derive(Args)]
pub struct StatusArgs {}

/// Runs `ensweep status`.
pub fn run(_args: StatusArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep status` is not built yet")
}
