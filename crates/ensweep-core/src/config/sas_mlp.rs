//! Spike-and-slab mean-field MLP (Li & Huang, PRL 2020); see `docs/PAPERS.md` section 1.

use super::OptimizerConfig;
use serde::{Deserialize, Serialize};

/// Trainer version of the spike-and-slab MLP. Bump when its numbers change (5: the `*_std`
/// columns became population std, the convention of every trainer; 6: perturbation counts
/// floored as the reference's `int(f * n)`, where they were rounded).
pub const TRAINER_VERSION: &str = "sas_mlp/6";

/// Everything that defines one spike-and-slab MLP run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SasMlpConfig {
    /// Directory with the four standard MNIST IDX files (gzip or raw). When absent, the
    /// `ENSWEEP_DATA` environment variable, then `data/mnist` under the working directory.
    #[serde(default)]
    pub data_dir: Option<String>,
    /// Number of training images used, taken from the start of the training set.
    pub train_size: usize,
    /// Number of test images used.
    #[serde(default = "default_test_size")]
    pub test_size: usize,
    /// Hidden layer widths (input 784 and output 10 are implied by MNIST).
    pub hidden: Vec<usize>,
    /// Training epochs.
    pub epochs: u32,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Divide each pre-activation by sqrt(fan-in), as the reference code does.
    #[serde(default = "yes")]
    pub fan_in_scaling: bool,
    /// Initial values of (pi, m, Xi).
    pub init: SasInit,
    /// Optimiser and schedule.
    pub optimizer: OptimizerConfig,
    /// What to measure after training.
    pub eval: SasMlpEval,
}

/// Initialisation of a spike-and-slab layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SasInit {
    /// pi ~ U(0, pi_max); 0 gives pi = 0 exactly.
    #[serde(default)]
    pub pi_max: f64,
    /// Xi ~ U(0, xi_max).
    pub xi_max: f64,
    /// m ~ N(0, m_std^2); the reference uses sqrt(2/784) for every layer.
    pub m_std: f64,
}

/// Post-training evaluation of a spike-and-slab MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SasMlpEval {
    /// Noise draws for the mean-field test accuracy (mean and std are reported).
    pub mean_field_draws: u32,
    /// Sampled deterministic networks for the sampled test accuracy.
    pub sampled_nets: u32,
    /// Tolerances for the tolerant connection categories: VIP when pi <= tol_pi and Xi <= tol_xi,
    /// UIP when pi >= 1 - tol_pi.
    #[serde(default = "default_tol_pi")]
    pub tol_pi: f64,
    /// See `tol_pi`.
    #[serde(default = "default_tol_xi")]
    pub tol_xi: f64,
    /// Removed fractions for the perturbation experiments; empty skips them.
    #[serde(default)]
    pub perturb_fractions: Vec<f64>,
    /// Sampled networks averaged per perturbation point.
    #[serde(default = "default_perturb_repeats")]
    pub perturb_repeats: u32,
    /// Compute the per-layer ensemble entropy.
    #[serde(default)]
    pub entropy: bool,
    /// Evaluate test accuracy after every epoch (costs time); otherwise only at the end.
    #[serde(default)]
    pub test_every_epoch: bool,
}

fn yes() -> bool {
    true
}
fn default_test_size() -> usize {
    10_000
}
fn default_tol_pi() -> f64 {
    0.01
}
fn default_tol_xi() -> f64 {
    1e-4
}
fn default_perturb_repeats() -> u32 {
    10
}
