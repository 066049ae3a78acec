//! Running one cell: the single dispatch from a trainer config to its trainer.
//!
//! Every trainer is synchronous and single-threaded; the worker calls [`execute_cell`] on a
//! blocking thread, one per slot. The synthetic trainer lives here: it exists to test and
//! benchmark the sweep machinery, so its no-op path must cost next to nothing.

use ensweep_core::config::{SyntheticConfig, TrainerConfig};
use ensweep_core::output::{RunOutput, TrainSink};
use ensweep_core::spec::Cell;
use std::io::Write;
use std::time::{Duration, Instant};

/// Environment variable naming a file to which the synthetic trainer appends one line per
/// invocation (`<cell key> <replicate> <pid>`): tests count trainer invocations with it.
pub const SYNTHETIC_LOG_ENV: &str = "ENSWEEP_SYNTHETIC_LOG";

/// Why a cell produced no result.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The config does not decode for its kind.
    #[error(transparent)]
    Config(#[from] ensweep_core::config::ConfigError),
    /// The trainer rejected its input (deterministic: retrying would fail again).
    #[error("{0}")]
    User(String),
    /// The sink asked to stop (lease revoked or worker shutting down).
    #[error("cancelled")]
    Cancelled,
    /// The trainer failed in a way that may not repeat (I/O, data files).
    #[error("{0}")]
    Trainer(String),
}

impl ExecError {
    /// Whether the failure is the input's fault (final) rather than the environment's.
    pub fn is_user_error(&self) -> bool {
        matches!(self, ExecError::Config(_) | ExecError::User(_))
    }
}

/// Runs `cell` with the trainer its config names.
pub fn execute_cell(cell: &Cell, sink: &mut dyn TrainSink) -> Result<RunOutput, ExecError> {
    match cell.config()? {
        TrainerConfig::Synthetic(cfg) => synthetic(&cfg, cell, sink),
        TrainerConfig::SasMlp(cfg) => ensweep_meanfield::train(&cfg, &cell.run_seed(), sink)
            .map_err(|e| match e {
                ensweep_meanfield::MlpError::Cancelled { .. } => ExecError::Cancelled,
                ensweep_meanfield::MlpError::Config(m) => ExecError::User(m),
                // Missing or unreadable MNIST is the installation's fault and fails the same
                // way on every retry: the user fixes it, then runs `ensweep retry`.
                e @ ensweep_meanfield::MlpError::Data(_) => ExecError::User(e.to_string()),
                other => ExecError::Trainer(other.to_string()),
            }),
        TrainerConfig::TanhRnn(cfg) => {
            ensweep_recurrent::train_tanh_rnn(&cfg, &cell.run_seed(), sink)
                .map_err(|e| rnn_error(e, sink))
        }
        TrainerConfig::SasRnn(cfg) => {
            ensweep_recurrent::train_sas_rnn(&cfg, &cell.run_seed(), sink)
                .map_err(|e| rnn_error(e, sink))
        }
    }
}

fn rnn_error(e: ensweep_recurrent::RnnError, sink: &dyn TrainSink) -> ExecError {
    use ensweep_recurrent::RnnError;
    if sink.cancelled() {
        return ExecError::Cancelled;
    }
    match e {
        RnnError::Config(m) => ExecError::User(m),
        // Deterministic: the data stay missing however often it is retried. (A diverged run is
        // not an error at all: it is a result with `diverged` = 1 and its non-finite loss.)
        e @ RnnError::Data(_) => ExecError::User(e.to_string()),
        RnnError::Cancelled => ExecError::Cancelled,
    }
}

/// Sleeps `sleep_ms` (checking for cancellation every 100 ms), echoes `x` into the metrics,
/// and fails with a user error on `fail_on_seed`.
fn synthetic(
    cfg: &SyntheticConfig,
    cell: &Cell,
    sink: &mut dyn TrainSink,
) -> Result<RunOutput, ExecError> {
    if let Some(path) = std::env::var_os(SYNTHETIC_LOG_ENV) {
        let line = format!("{} {} {}\n", cell.key, cell.replicate, std::process::id());
        // One write of a short line on an O_APPEND file: lines of concurrent slots and
        // processes never interleave.
        let res = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(err) = res {
            return Err(ExecError::Trainer(format!(
                "cannot append to {}: {err}",
                path.to_string_lossy()
            )));
        }
    }
    if cfg.fail_on_seed == Some(cell.replicate) {
        return Err(ExecError::User(format!(
            "synthetic failure on seed {}",
            cell.replicate
        )));
    }
    if cfg.sleep_ms > 0 {
        let end = Instant::now() + Duration::from_millis(cfg.sleep_ms);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if sink.cancelled() {
                return Err(ExecError::Cancelled);
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
    let mut out = RunOutput::default();
    out.scalars.insert("x".into(), cfg.x);
    out.scalars
        .insert("replicate".into(), cell.replicate as f64);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ensweep_core::output::NullSink;
    use ensweep_core::spec::Spec;

    fn cells(fail_on: &str) -> Vec<Cell> {
        let text = format!("[sweep]\nname = \"t\"\nseeds = 2\n[synthetic]\nx = 2.5\n{fail_on}\n");
        Spec::parse(&text, std::path::Path::new("t.toml"))
            .expect("spec")
            .cells()
    }

    #[test]
    fn synthetic_echoes_and_fails_on_its_seed() {
        let cells = cells("fail_on_seed = 1");
        let out = execute_cell(&cells[0], &mut NullSink).expect("seed 0 runs");
        assert_eq!(out.scalars["x"], 2.5);
        let err = execute_cell(&cells[1], &mut NullSink).unwrap_err();
        assert!(err.is_user_error(), "{err}");
    }
}
