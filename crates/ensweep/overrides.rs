//! `--set KEY=VALUE`, the one argument every subcommand that reads a sweep file shares.
//!
//! Only the flag lives here; what an override means (where KEY lands, how VALUE is read, which
//! errors it gets) is `ensweep_core::spec::Override`, so `run`, `plan`, `train` and `submit`
//! cannot disagree about it.

use clap::Args;
use ensweep_core::spec::{Override, Spec, SpecLimits};
use std::path::Path;

/// The `--set` overrides of one command line.
#[derive(Args, Clone, Debug, Default)]
pub struct Overrides {
    /// Override a value of the sweep file before it is validated (repeatable; later wins).
    /// KEY is dotted: `tanh_rnn.epochs` or just `epochs` (the trainer section), `sweep.seeds`,
    /// `sweep.name`, `grid.rec_init` (replaces that axis's values). VALUE is TOML (`1`, `1e-3`,
    /// `true`, `[1, 2]`, `"x"`) or a bare string. A key an axis sweeps must be set through
    /// its axis. The result is a different sweep: its cells have other keys.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<Override>,
}

impl Overrides {
    /// Reads the sweep file at `path` with these overrides applied. Its errors already name
    /// the file (and the line, or the override), so they get no context here.
    pub fn load(&self, path: &Path) -> anyhow::Result<Spec> {
        Ok(Spec::load_with_overrides(
            path,
            &SpecLimits::default(),
            &ensweep_worker::TRAINERS,
            &self.sets,
        )?)
    }
}
