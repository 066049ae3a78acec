//! `ensweep query`.

use clap::Args;

/// Arguments of `ensweep query`.
#[derive(Args)]
pub struct QueryArgs {}

/// Runs `ensweep query`.
pub fn run(_args: QueryArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep query` is not built yet")
}
