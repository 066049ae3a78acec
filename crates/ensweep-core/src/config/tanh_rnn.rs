//! Task-trained discrete-time tanh RNN (Jarne & Laje 2023; Huang et al. 2024/25); see
//! `docs/PAPERS.md` section 3.
//!
//! The task is a sub-table tagged by `name`; each task variant carries only its own knobs, so a
//! key meant for another task is an error rather than a silently ignored setting.

use super::OptimizerConfig;
use serde::{Deserialize, Serialize};

/// Trainer version of the tanh RNN. Bump when its numbers change (3: the deterministic
/// fused-multiply-add product kernels and the rational tanh, docs/RNN.md).
pub const TRAINER_VERSION: &str = "tanh_rnn/3";

/// Everything that defines one tanh-RNN run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TanhRnnConfig {
    /// The temporal task and its parameters.
    pub task: TanhTask,
    /// Number of recurrent units N.
    pub n_hidden: usize,
    /// Initialisation of the recurrent matrix.
    pub rec_init: RecInit,
    /// Gain g of the `normal` initialisation (std g / sqrt(N)); ignored otherwise.
    #[serde(default = "one")]
    pub gain: f64,
    /// Learn a recurrent bias b. Jarne's N = 50 networks have none.
    #[serde(default)]
    pub bias: bool,
    /// Learn a read-out bias c (on by default): the reference's Keras `Dense` read-out keeps its
    /// bias even when the recurrent layer has none, which is what lets the output hold a non-zero
    /// baseline (0.01, 0.045) while h = 0 before the stimulus.
    #[serde(default = "yes")]
    pub readout_bias: bool,
    /// Number of generated training trials (a fixed, seeded set iterated each epoch).
    pub train_trials: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Maximum number of epochs.
    pub epochs: u32,
    /// Stop when the mean training loss of an epoch falls below this (0 disables).
    #[serde(default)]
    pub loss_threshold: f64,
    /// Matched-loss stopping (Huang et al.: 3): once an epoch's loss is below `loss_threshold`,
    /// train this many more epochs before stopping (still capped by `epochs`). 0 stops at once,
    /// as the Keras early stop of Jarne & Laje does.
    #[serde(default)]
    pub patience: u32,
    /// Optimiser (Adam in the references).
    pub optimizer: OptimizerConfig,
    /// Keras-style inverse-time learning-rate decay per update: lr_k = lr / (1 + lr_time_decay k)
    /// (Jarne: 1e-4). Distinct from the decoupled weight decay in `optimizer.decay`.
    #[serde(default)]
    pub lr_time_decay: f64,
    /// Clip each gradient matrix to this Frobenius norm (0 disables).
    #[serde(default)]
    pub clip_norm: f64,
    /// What to measure after training.
    #[serde(default)]
    pub eval: TanhEval,
}

/// Initialisation of the recurrent matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecInit {
    /// Random orthogonal matrix (Keras `Orthogonal`, gain 1).
    Orthogonal,
    /// Normal(0, (g / sqrt(N))^2).
    Normal,
    /// Uniform(-1/sqrt(N), 1/sqrt(N)) (PyTorch default; Huang et al.).
    Uniform,
}

/// A temporal task; one step is 1 ms where the reference defines times in ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum TanhTask {
    /// Two-input AND gate (baseline 0).
    And(GateTask),
    /// Two-input OR gate (baseline 0.01).
    Or(GateTask),
    /// Two-input XOR gate (baseline 0.01).
    Xor(GateTask),
    /// One-input NOT gate (baseline 0.01).
    Not(GateTask),
    /// Set/Reset flip-flop with 20 ms pulses every 120 ms.
    FlipFlop(FlipFlopTask),
    /// Pulse-triggered oscillator ("generator").
    Oscillator(OscillatorTask),
    /// Time pulse / interval reproduction: a bump `mem_gap` ms after the stimulus.
    TimePulse(TimePulseTask),
    /// N-bit flip-flop (Huang et al.): each output holds the last non-zero input of its channel.
    NBitFlipFlop(NBitFlipFlopTask),
    /// Delayed discrimination: sign(f2 - f1) after two pulses separated by a delay.
    DelayedDiscrimination(DelayTask),
    /// Sine-wave generation: a static input encodes f, the output is sin(2 pi f t).
    Sine(SineTask),
}

/// Logic gates (Jarne's `generate_data_set_*`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateTask {
    /// Delay between the stimulus end and the target onset, ms (default 20).
    #[serde(default = "mem_gap")]
    pub mem_gap: u32,
    /// Std of Gaussian input noise (default 0: the 2019 gate generators are noise-free).
    #[serde(default)]
    pub input_noise: f64,
}

/// Flip-flop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlipFlopTask {
    /// Number of Set/Reset pulses per trial (default 8).
    #[serde(default = "eight")]
    pub pulses: u32,
    /// Delay between a pulse end and the output switch, ms (default 20).
    #[serde(default = "mem_gap")]
    pub mem_gap: u32,
    /// Input noise std (default 0.1).
    #[serde(default = "tenth")]
    pub input_noise: f64,
}

/// Oscillator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OscillatorTask {
    /// Delay parameter of the trial length, ms (default 200: with 20 the 40 ms oscillation
    /// window holds exactly two periods and the authors' target is identically ~0).
    #[serde(default = "two_hundred")]
    pub mem_gap: u32,
    /// Input noise std (default 0.1).
    #[serde(default = "tenth")]
    pub input_noise: f64,
}

/// Time pulse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimePulseTask {
    /// Interval between the stimulus end and the response bump, ms (default 20).
    #[serde(default = "mem_gap")]
    pub mem_gap: u32,
    /// Std of the noise on input and target (default 0.03).
    #[serde(default = "noise_003")]
    pub noise: f64,
    /// Trial length, ms (default 300); grown automatically when the bump would not fit.
    #[serde(default = "len_300")]
    pub length: u32,
}

/// N-bit flip-flop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NBitFlipFlopTask {
    /// Number of channels / bits (default 3).
    #[serde(default = "three")]
    pub bits: u32,
    /// Per-step probability that a channel emits a +-1 pulse (default 0.05).
    #[serde(default = "p_switch")]
    pub p_switch: f64,
    /// Steps per trial (default 100).
    #[serde(default = "hundred")]
    pub steps: u32,
}

/// Delayed discrimination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayTask {
    /// Shortest delay between the pulses, steps (default 5).
    #[serde(default = "five")]
    pub delay_min: u32,
    /// Longest delay between the pulses, steps (default 20).
    #[serde(default = "twenty")]
    pub delay_max: u32,
}

/// Sine-wave generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SineTask {
    /// Number of evenly spaced training frequencies in [f_min, f_max] (default 10).
    #[serde(default = "ten")]
    pub n_freq: u32,
    /// Lowest frequency, cycles per `steps` trial (default 1).
    #[serde(default = "one")]
    pub f_min: f64,
    /// Highest frequency, cycles per trial (default 5).
    #[serde(default = "five_f")]
    pub f_max: f64,
    /// Steps per trial (default 100).
    #[serde(default = "hundred")]
    pub steps: u32,
}

/// Post-training evaluation of a tanh RNN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TanhEval {
    /// Generated test trials (a fresh seeded set).
    #[serde(default = "test_trials")]
    pub test_trials: usize,
    /// Probe trials whose hidden trajectories are stored (same seed for every replicate).
    #[serde(default = "probe_trials")]
    pub probe_trials: usize,
    /// A run is a success when its mean target-output distance is below this.
    #[serde(default = "success_distance")]
    pub success_distance: f64,
    /// Removed fractions of the recurrent connections for the damage curves; empty skips them.
    #[serde(default = "prune_fractions")]
    pub prune_fractions: Vec<f64>,
    /// Random-removal repeats averaged per fraction.
    #[serde(default = "five")]
    pub random_repeats: u32,
}

impl Default for TanhEval {
    fn default() -> Self {
        TanhEval {
            test_trials: test_trials(),
            probe_trials: probe_trials(),
            success_distance: success_distance(),
            prune_fractions: prune_fractions(),
            random_repeats: 5,
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn mem_gap() -> u32 {
    20
}
fn two_hundred() -> u32 {
    200
}
fn eight() -> u32 {
    8
}
fn tenth() -> f64 {
    0.1
}
fn noise_003() -> f64 {
    0.03
}
fn len_300() -> u32 {
    300
}
fn three() -> u32 {
    3
}
fn p_switch() -> f64 {
    0.05
}
fn hundred() -> u32 {
    100
}
fn five() -> u32 {
    5
}
fn twenty() -> u32 {
    20
}
fn ten() -> u32 {
    10
}
fn five_f() -> f64 {
    5.0
}
fn test_trials() -> usize {
    200
}
fn probe_trials() -> usize {
    8
}
fn success_distance() -> f64 {
    1.0
}
fn prune_fractions() -> Vec<f64> {
    vec![
        0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.20, 0.26, 0.36,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_table_is_tagged_and_strict() {
        let ok: TanhTask = toml::from_str("name = \"and\"\nmem_gap = 30").unwrap();
        assert_eq!(
            ok,
            TanhTask::And(GateTask {
                mem_gap: 30,
                input_noise: 0.0
            })
        );
        let bad = toml::from_str::<TanhTask>("name = \"and\"\nbits = 3");
        assert!(bad.is_err(), "a key of another task must be rejected");
    }
}
