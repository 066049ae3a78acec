//! `ensweep train`.

use clap::Args;

/// Arguments of `ensweep train`.
#[derive(Args)]
pub struct TrainArgs {}

/// Runs `ensweep train`.
pub fn run(_args: TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep train` is not built yet")
}
