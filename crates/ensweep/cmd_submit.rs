//! `ensweep submit`.

use clap::Args;

/// Arguments of `ensweep submit`.
#[derive(Args)]
pub struct SubmitArgs {}

/// Runs `ensweep submit`.
pub fn run(_args: SubmitArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ensweep submit` is not built yet")
}
