//! `ensweep retry`: put a sweep's failed cells back in the queue.
//!
//! User errors (missing data, a config the trainer rejects, a diverged run) are final so that
//! workers do not burn time repeating them; once the user fixed the cause, this re-queues them
//! with a fresh retry budget, optionally only those whose latest failure is of one kind.

use anyhow::Context;
use clap::Args;
use ensweep_proto::v1 as pb;

/// Arguments of `ensweep retry`.
#[derive(Args)]
pub struct RetryArgs {
    /// Sweep name.
    pub sweep: String,
    #[command(flatten)]
    pub remote: crate::credentials::Remote,
    /// Only cells whose latest failure is of this kind: user_error, crashed, timed_out or
    /// lease_expired. Default: every failed cell.
    #[arg(long)]
    pub kind: Option<String>,
}

/// Runs `ensweep retry`.
pub fn run(args: RetryArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut c = crate::cmd_submit::client(&args.remote).await?;
        let resp = c
            .retry_cells(pb::RetryCellsRequest {
                sweep: args.sweep.clone(),
                kind: args.kind.unwrap_or_default(),
            })
            .await
            .map_err(|s| args.remote.error(&s))
            .with_context(|| format!("retrying the failed cells of `{}`", args.sweep))?
            .into_inner();
        crate::answer::print(format_args!(
            "{}: {} failed cells re-queued",
            args.sweep, resp.requeued
        ))
    })
}
