//! `ensweep worker`.

use clap::Args;

/// Arguments of `ensweep worker`.
#[derive(Args)]
pub struct WorkerArgs {}

/// Runs `ensweep worker`.
pub fn run(_args: WorkerArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep worker` is not built yet")
}
