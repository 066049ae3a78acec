//! `ensweep submit`: send a sweep file to a running coordinator.
//!
//! The file is validated here first (errors name file, line and column), then its text is sent;
//! the coordinator expands it itself. Submitting a known sweep again queues only cells it has
//! never seen (more seeds, more axis values); an edit that would change or drop known cells is
//! refused with a diff.

use anyhow::Context;
use clap::Args;
use ensweep_proto::v1 as pb;
use std::path::PathBuf;

/// Arguments of `ensweep submit`.
#[derive(Args)]
pub struct SubmitArgs {
    /// The sweep file.
    pub spec: PathBuf,
    #[command(flatten)]
    pub overrides: crate::overrides::Overrides,
    #[command(flatten)]
    pub remote: crate::credentials::Remote,
}

/// A gRPC client connected now, with this caller's token (the one helper every client
/// command uses).
pub async fn client(
    remote: &crate::credentials::Remote,
) -> anyhow::Result<ensweep_worker::rpc::Client> {
    Ok(remote.connection()?.connect().await?)
}

/// Describes a submission outcome in one line.
pub fn describe(resp: &pb::SubmitSweepResponse) -> String {
    let what = match pb::SubmitOutcome::try_from(resp.outcome) {
        Ok(pb::SubmitOutcome::Created) => "created",
        Ok(pb::SubmitOutcome::Extended) => "extended",
        _ => "unchanged",
    };
    format!(
        "sweep `{}` {what}: {} cells, {} queued now, {} already done",
        resp.sweep, resp.total_cells, resp.new_cells, resp.already_done
    )
}

/// Runs `ensweep submit`.
pub fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let spec = args.overrides.load(&args.spec)?;
    // The effective spec (overrides applied): the coordinator parses and stores this text.
    let text = spec.text().to_owned();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut c = client(&args.remote).await?;
        let resp = c
            .submit_sweep(pb::SubmitSweepRequest {
                spec_text: text,
                spec_path: args.spec.display().to_string(),
            })
            .await
            .map_err(|s| args.remote.error(&s))
            .with_context(|| format!("submitting sweep `{}`", spec.name))?
            .into_inner();
        crate::answer::print(describe(&resp))
    })
}
