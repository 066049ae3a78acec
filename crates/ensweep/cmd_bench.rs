//! `ensweep bench`.

use clap::Args;

/// Arguments of `ensweep bench`.
#[derive(Args)]
pub struct BenchArgs {}

/// Runs `ensweep bench`.
pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep bench` is not built yet")
}
