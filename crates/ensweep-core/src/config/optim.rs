//! Optimiser settings shared by all trainers.

use serde::{Deserialize, Serialize};

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (Kingma & Ba) with bias correction.
    Adam,
    /// RMSprop with a running mean of squared gradients.
    Rmsprop,
    /// Plain stochastic gradient descent.
    Sgd,
}

/// A parameter group of a spike-and-slab layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamGroup {
    /// Spike probability.
    Pi,
    /// Slab mean.
    M,
    /// Slab variance.
    Xi,
}

/// Optimiser, learning-rate schedule and decay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Update rule.
    pub kind: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// Halve the learning rate every this many epochs; 0 keeps it constant.
    #[serde(default)]
    pub halve_every: u32,
    /// Reset the moment estimates and the bias-correction counter at the start of every epoch
    /// (the 2020 reference code does this).
    #[serde(default)]
    pub reset_each_epoch: bool,
    /// Decoupled decay: `lr * decay * theta` is added to the step of the groups in `decay_on`.
    #[serde(default)]
    pub decay: f64,
    /// Which parameter groups the decay applies to.
    #[serde(default)]
    pub decay_on: Vec<ParamGroup>,
    /// Adam beta1.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// Adam beta2 / RMSprop decay of the squared-gradient average.
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Denominator guard.
    #[serde(default = "default_eps")]
    pub eps: f64,
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

impl OptimizerConfig {
    /// Learning rate in (zero-based) `epoch` under the step-halving schedule.
    pub fn lr_at(&self, epoch: u32) -> f64 {
        match epoch.checked_div(self.halve_every) {
            None => self.lr,
            Some(halvings) => self.lr * 0.5f64.powi(halvings as i32),
        }
    }

    /// Whether decay applies to `group`.
    pub fn decays(&self, group: ParamGroup) -> bool {
        self.decay != 0.0 && self.decay_on.contains(&group)
    }
}
