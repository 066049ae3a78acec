//! The synthetic trainer: no learning, used to test and benchmark the sweep machinery itself.

use serde::{Deserialize, Serialize};

/// Trainer version of the synthetic kind.
pub const TRAINER_VERSION: &str = "synthetic/1";

/// A cell that does nothing (`noop`) or sleeps, optionally failing on purpose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Milliseconds to sleep; 0 is a no-op.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Any number, swept to make distinct cells; echoed into the metrics.
    #[serde(default)]
    pub x: f64,
    /// Fail (as a user error) when the replicate seed equals this value; for tests.
    #[serde(default)]
    pub fail_on_seed: Option<u64>,
}
