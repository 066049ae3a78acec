//! The `ensweep` command line: one binary, one module per subcommand.
//!
//! Each `cmd_*` module owns its clap arguments and its `run` function; this file only
//! dispatches, sets up logging and maps errors to exit codes (`exit`: one code per kind of
//! failure, found from the errors' types). Library crates return typed errors; here they
//! become `anyhow` errors with context.

mod answer;
mod bench;
mod cmd_bench;
mod cmd_checkpoint;
mod cmd_coordinator;
mod cmd_plan;
mod cmd_query;
mod cmd_report;
mod cmd_retry;
mod cmd_run;
mod cmd_status;
mod cmd_submit;
mod cmd_train;
mod cmd_worker;
mod credentials;
mod exit;
mod overrides;
mod progress;

use clap::{Parser, Subcommand};

/// Ensemble sweeps of small neural networks: train many networks across hyperparameter grids
/// and seeds, then ask how different the solutions are and how they degrade under pruning.
#[derive(Parser)]
#[command(name = "ensweep", version, about, long_about = None, after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one network (the first cell of an experiment file) and print a summary.
    Train(cmd_train::TrainArgs),
    /// Print the expansion of a sweep file (cells, axes, cost estimate) without running it.
    Plan(cmd_plan::PlanArgs),
    /// Run a sweep on this machine: an in-process coordinator and local workers.
    Run(cmd_run::RunArgs),
    /// Serve the coordinator over gRPC for workers on other machines.
    Coordinator(cmd_coordinator::CoordinatorArgs),
    /// Lease cells from a coordinator and train them.
    Worker(cmd_worker::WorkerArgs),
    /// Submit a sweep file to a running coordinator.
    Submit(cmd_submit::SubmitArgs),
    /// Show the state of the sweeps of a coordinator.
    Status(cmd_status::StatusArgs),
    /// Re-queue a sweep's failed cells after fixing the cause.
    Retry(cmd_retry::RetryArgs),
    /// Print the learning curve so far of a running or cut-off cell from its checkpoint file.
    Checkpoint(cmd_checkpoint::CheckpointArgs),
    /// Run SQL over the result tables of one or many sweeps.
    Query(cmd_query::QueryArgs),
    /// Write an HTML report with figures and statistics for a sweep directory.
    Report(cmd_report::ReportArgs),
    /// Benchmarks whose output is recorded in docs/PERFORMANCE.md.
    Bench(cmd_bench::BenchArgs),
}

impl Command {
    /// Commands whose output is commonly piped into `head` or `less`, and which own no
    /// sockets a peer could close under them.
    fn prints_for_a_pipe(&self) -> bool {
        matches!(
            self,
            Command::Train(_)
                | Command::Plan(_)
                | Command::Query(_)
                | Command::Checkpoint(_)
                | Command::Report(_)
                | Command::Bench(_)
        )
    }
}

/// Rust ignores SIGPIPE, so `ensweep plan big.toml | head` panicked in `println!` once `head`
/// had read enough. The Unix convention for such commands is to end silently when the reader
/// goes away: restore the default action. Not done for the services (`run`, `coordinator`,
/// `worker`), which keep the ignored signal and handle write errors themselves.
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called at start-up on the main thread before any other thread exists; setting a
    // signal's disposition to its default has no memory effects.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Log filter without `RUST_LOG`: warnings, and the one event a user should see that is not
/// one: a cell resuming from its checkpoint (docs/CHECKPOINTS.md). The SVG rasteriser (usvg)
/// warns of every zero-height bar (`height="0"`, valid SVG that draws nothing: a value that
/// rounds to no pixel) while `report` renders figures; only its errors are worth a user's eye.
const DEFAULT_LOG: &str = "warn,usvg=error,ensweep_worker::attempt=info";

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a batch job's log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` come this way too, on stdout and with success.
            let _ = err.print();
            return if err.use_stderr() {
                exit::Code::Usage
            } else {
                exit::Code::Success
            }
            .exit_code();
        }
    };
    if cli.command.prints_for_a_pipe() {
        exit_quietly_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Train(a) => cmd_train::run(a),
        Command::Plan(a) => cmd_plan::run(a),
        Command::Run(a) => cmd_run::run(a),
        Command::Coordinator(a) => cmd_coordinator::run(a),
        Command::Worker(a) => cmd_worker::run(a),
        Command::Submit(a) => cmd_submit::run(a),
        Command::Status(a) => cmd_status::run(a),
        Command::Retry(a) => cmd_retry::run(a),
        Command::Checkpoint(a) => cmd_checkpoint::run(a),
        Command::Query(a) => cmd_query::run(a),
        Command::Report(a) => cmd_report::run(a),
        Command::Bench(a) => cmd_bench::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: "reading x: line 3: ...".
            eprintln!("error: {err:#}");
            exit::classify(&err).exit_code()
        }
    }
}
