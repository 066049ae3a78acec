//! The trainers this build of ensweep knows, and the synthetic trainer.
//!
//! [`TRAINERS`] is the one list of trainer kinds: spec parsing (here and in the coordinator),
//! the worker, `ensweep train`, `plan` and `report` all consult it. Adding a trainer is one
//! line here, after implementing `ensweep_core::trainer::Trainer` in the trainer's own crate.
//!
//! The synthetic trainer lives here: it exists to test and benchmark the sweep machinery, so
//! its no-op path must cost next to nothing.

use ensweep_core::config::{SyntheticConfig, synthetic};
use ensweep_core::output::{RunOutput, TrainSink};
use ensweep_core::spec::Cell;
use ensweep_core::trainer::{Registry, TrainError, Trainer};
use std::io::Write;
use std::time::{Duration, Instant};

/// Every trainer of this build, in the order sweep errors list them.
pub static TRAINERS: Registry = Registry::new(&[
    &ensweep_meanfield::SasMlp,
    &ensweep_recurrent::SasRnn,
    &ensweep_recurrent::TanhRnn,
    &Synthetic,
]);

/// Environment variable naming a file to which the synthetic trainer appends one line per
/// invocation (`<cell key> <replicate> <pid>`): tests count trainer invocations with it.
pub const SYNTHETIC_LOG_ENV: &str = "ENSWEEP_SYNTHETIC_LOG";

/// No learning (`[synthetic]`): sleeps, echoes, fails on request.
pub struct Synthetic;

impl Trainer for Synthetic {
    const KIND: &'static str = "synthetic";
    const VERSION: &'static str = synthetic::TRAINER_VERSION;
    /// The echoed `x`.
    const DEFAULT_METRIC: &'static str = "x";
    type Config = SyntheticConfig;

    fn train(
        &self,
        config: &SyntheticConfig,
        cell: &Cell,
        sink: &mut dyn TrainSink,
    ) -> Result<RunOutput, TrainError> {
        run_synthetic(config, cell, sink)
    }

    /// The sleep; a no-op cell costs nothing.
    fn cost_seconds(&self, config: &SyntheticConfig) -> f64 {
        config.sleep_ms as f64 / 1000.0
    }
}

/// Sleeps `sleep_ms` (checking for cancellation every 100 ms), echoes `x` into the metrics,
/// and fails with a user error on `fail_on_seed`.
fn run_synthetic(
    cfg: &SyntheticConfig,
    cell: &Cell,
    sink: &mut dyn TrainSink,
) -> Result<RunOutput, TrainError> {
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
            return Err(TrainError::Environment(format!(
                "cannot append to {}: {err}",
                path.to_string_lossy()
            )));
        }
    }
    if cfg.fail_on_seed == Some(cell.replicate) {
        return Err(TrainError::User(format!(
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
                return Err(TrainError::Cancelled);
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
        Spec::parse(&text, std::path::Path::new("t.toml"), &TRAINERS)
            .expect("spec")
            .cells()
    }

    #[test]
    fn synthetic_echoes_and_fails_on_its_seed() {
        let cells = cells("fail_on_seed = 1");
        let out = TRAINERS
            .train(&cells[0], &mut NullSink)
            .expect("seed 0 runs");
        assert_eq!(out.scalars["x"], 2.5);
        let err = TRAINERS.train(&cells[1], &mut NullSink).unwrap_err();
        assert!(err.is_user_error(), "{err}");
    }

    #[test]
    fn every_kind_is_listed_once() {
        assert_eq!(TRAINERS.duplicate_kind(), None);
        assert_eq!(
            TRAINERS.kinds().collect::<Vec<_>>(),
            ["sas_mlp", "sas_rnn", "tanh_rnn", "synthetic"]
        );
    }

    /// `plan` prints a non-zero estimate for every committed experiment, with the calibrated
    /// rates: the MLP's 2020 protocol is ~35 s a cell (docs/PERFORMANCE.md "Plan estimates").
    #[test]
    fn every_experiment_has_a_non_zero_cost() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("experiments") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let spec = Spec::load(&path, &TRAINERS).unwrap_or_else(|e| panic!("{e}"));
            for cell in spec.cells() {
                let s = TRAINERS.cost_seconds(&cell).expect("cost");
                assert!(s > 0.0 && s.is_finite(), "{}: {s}", path.display());
            }
            n += 1;
        }
        assert!(n >= 7, "found only {n} experiment files");
    }
}
