//! `ensweep status`: show (or follow, or wait on) the sweeps of a coordinator.
//!
//! `--wait` blocks until the sweep is finished (every cell final, every result exported) and
//! `--wait-done N` until N cells are done: scripts and tests wait on the coordinator's own
//! state instead of sleeping.

use clap::Args;
use ensweep_proto::v1 as pb;

/// Arguments of `ensweep status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub remote: crate::credentials::Remote,
    /// Only this sweep.
    #[arg(long)]
    pub sweep: Option<String>,
    /// Keep printing updates.
    #[arg(long)]
    pub follow: bool,
    /// Block until the sweep(s) are finished; print the final state.
    #[arg(long)]
    pub wait: bool,
    /// Block until at least this many cells are done.
    #[arg(long)]
    pub wait_done: Option<u64>,
}

/// One line describing a sweep.
pub fn line(s: &pb::SweepStatus) -> String {
    let f = s.failures.unwrap_or_default();
    format!(
        "{}: {}/{} done, {} pending, {} leased, {} failed, {} cancelled, {} exported, {} orphaned; \
         failures: crashed {}, timed out {}, lease expired {}, preempted {}, user error {}, refused {}{}",
        s.name,
        s.done,
        s.total,
        s.pending,
        s.leased,
        s.failed,
        s.cancelled,
        s.exported,
        s.orphaned,
        f.crashed,
        f.timed_out,
        f.lease_expired,
        f.preempted,
        f.user_error,
        f.refused,
        if s.finished { " [finished]" } else { "" }
    )
}

/// Runs `ensweep status`.
pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut c = crate::cmd_submit::client(&args.remote).await?;
        let waiting = args.wait || args.wait_done.is_some();
        let mut stream = c
            .watch_status(pb::WatchStatusRequest {
                sweep: args.sweep.clone().unwrap_or_default(),
                follow: args.follow || waiting,
            })
            .await
            .map_err(|s| args.remote.error(&s))?
            .into_inner();
        while let Some(msg) = stream.message().await.map_err(|s| args.remote.error(&s))? {
            let done: u64 = msg.sweeps.iter().map(|s| s.done).sum();
            let finished = !msg.sweeps.is_empty() && msg.sweeps.iter().all(|s| s.finished);
            let reached = match (args.wait, args.wait_done) {
                (true, _) => finished,
                (false, Some(n)) => done >= n,
                _ => true,
            };
            if args.follow || !waiting || reached {
                for s in &msg.sweeps {
                    println!("{}", line(s));
                }
                if args.sweep.is_none() {
                    println!("workers: {}", msg.workers);
                }
            }
            if reached && !args.follow {
                return Ok(());
            }
        }
        anyhow::bail!("the coordinator closed the status stream")
    })
}
