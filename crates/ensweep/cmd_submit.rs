//! `ensweep submit`: send a sweep file to a running coordinator.
//!
//! The file is validated here first (errors name file, line and column), then its text is sent;
//! the coordinator expands it itself. Submitting a known sweep again queues only cells it has
//! never seen (more seeds, more axis values); an edit that would change or drop known cells is
//! refused with a diff.

use anyhow::Context;
use clap::Args;
use ensweep_core::spec::Spec;
use ensweep_proto::v1 as pb;
use std::path::PathBuf;

/// Arguments of `ensweep submit`.
#[derive(Args)]
pub struct SubmitArgs {
    /// The sweep file.
    pub spec: PathBuf,
    /// Coordinator address, e.g. `http://127.0.0.1:50051`.
    #[arg(long)]
    pub coordinator: String,
}

/// A gRPC client for `url` (`host:port` gets `http://`).
pub async fn client(
    url: &str,
) -> anyhow::Result<pb::coordinator_client::CoordinatorClient<tonic::transport::Channel>> {
    let url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    pb::coordinator_client::CoordinatorClient::connect(url.clone())
        .await
        .with_context(|| format!("connecting to the coordinator at {url}"))
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
    let spec = Spec::load(&args.spec)?;
    let text = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("reading {}", args.spec.display()))?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut c = client(&args.coordinator).await?;
        let resp = c
            .submit_sweep(pb::SubmitSweepRequest {
                spec_text: text,
                spec_path: args.spec.display().to_string(),
            })
            .await
            .map_err(|s| anyhow::anyhow!("{}", s.message()))
            .with_context(|| format!("submitting sweep `{}`", spec.name))?
            .into_inner();
        println!("{}", describe(&resp));
        Ok(())
    })
}
