//! Temporal tasks: generated, seeded trials with inputs, targets and a loss mask.
//!
//! All tasks produce fixed-length trials so that a batch is one time-major block
//! (`[t][b][channel]`), which is what the trainers' per-step GEMMs want.

pub mod huang;
pub mod jarne;
pub mod msi;
pub mod path;

use ensweep_core::config::tanh_rnn::TanhTask;
use ndarray::{ArrayView2, ArrayView3};
use rand_pcg::Pcg64Mcg;

/// One trial, stored step-major (`[t][channel]`).
#[derive(Clone, Debug)]
pub struct Trial {
    /// Inputs, `steps x n_in`.
    pub x: Vec<f32>,
    /// Targets, `steps x n_out`.
    pub y: Vec<f32>,
    /// Loss mask per step, `steps`.
    pub mask: Vec<f32>,
    /// Input-condition label (e.g. `10` for the AND gate with A = 1, B = 0).
    pub condition: String,
}

/// A batch of equally long trials, time-major.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Trials in the batch.
    pub b: usize,
    /// Steps per trial.
    pub t: usize,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
    /// `[t][b][n_in]`.
    pub x: Vec<f32>,
    /// `[t][b][n_out]`.
    pub y: Vec<f32>,
    /// `[t][b]`.
    pub mask: Vec<f32>,
    /// Condition of each trial.
    pub conditions: Vec<String>,
}

impl Batch {
    /// Packs trials (all of length `t`) into a time-major batch.
    pub fn from_trials(trials: &[&Trial], t: usize, n_in: usize, n_out: usize) -> Batch {
        let b = trials.len();
        let mut x = vec![0.0; t * b * n_in];
        let mut y = vec![0.0; t * b * n_out];
        let mut mask = vec![0.0; t * b];
        for (j, tr) in trials.iter().enumerate() {
            for s in 0..t {
                x[(s * b + j) * n_in..(s * b + j + 1) * n_in]
                    .copy_from_slice(&tr.x[s * n_in..(s + 1) * n_in]);
                y[(s * b + j) * n_out..(s * b + j + 1) * n_out]
                    .copy_from_slice(&tr.y[s * n_out..(s + 1) * n_out]);
                mask[s * b + j] = tr.mask[s];
            }
        }
        Batch {
            b,
            t,
            n_in,
            n_out,
            x,
            y,
            mask,
            conditions: trials.iter().map(|t| t.condition.clone()).collect(),
        }
    }

    /// The inputs as an array, axes (step, trial, channel).
    pub fn inputs(&self) -> ArrayView3<'_, f32> {
        ArrayView3::from_shape(
            (self.t, self.b, self.n_in),
            &self.x[..self.t * self.b * self.n_in],
        )
        .expect("inputs are t x b x n_in")
    }

    /// The targets as an array, axes (step, trial, output).
    pub fn targets(&self) -> ArrayView3<'_, f32> {
        ArrayView3::from_shape(
            (self.t, self.b, self.n_out),
            &self.y[..self.t * self.b * self.n_out],
        )
        .expect("targets are t x b x n_out")
    }

    /// The loss mask as an array, axes (step, trial).
    pub fn mask_array(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.t, self.b), &self.mask[..self.t * self.b])
            .expect("mask is t x b")
    }
}

/// A generator of trials of one task.
pub trait TaskGen {
    /// Input channels.
    fn n_in(&self) -> usize;
    /// Output channels.
    fn n_out(&self) -> usize;
    /// Steps per trial.
    fn steps(&self) -> usize;
    /// Number of distinct input conditions (for balanced probe sets).
    fn n_conditions(&self) -> usize;
    /// One trial; `condition` picks the condition (modulo `n_conditions`), `None` draws it.
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial;

    /// `n` trials with random conditions.
    fn trials(&self, rng: &mut Pcg64Mcg, n: usize) -> Vec<Trial> {
        (0..n).map(|_| self.trial(rng, None)).collect()
    }
}

/// The generator of a tanh-RNN task; `ood` gives the out-of-distribution variant (trials twice
/// as long, or twice the delay where the task has a delay).
pub fn tanh_task(task: &TanhTask, ood: bool) -> Box<dyn TaskGen> {
    use jarne::*;
    match task {
        TanhTask::And(g) => Box::new(Gate::new(GateKind::And, g, ood)),
        TanhTask::Or(g) => Box::new(Gate::new(GateKind::Or, g, ood)),
        TanhTask::Xor(g) => Box::new(Gate::new(GateKind::Xor, g, ood)),
        TanhTask::Not(g) => Box::new(Gate::new(GateKind::Not, g, ood)),
        TanhTask::FlipFlop(f) => Box::new(FlipFlop::new(f, ood)),
        TanhTask::Oscillator(o) => Box::new(Oscillator::new(o, ood)),
        TanhTask::TimePulse(p) => Box::new(TimePulse::new(p, ood)),
        TanhTask::NBitFlipFlop(f) => Box::new(huang::NBitFlipFlop::new(f, ood)),
        TanhTask::DelayedDiscrimination(d) => Box::new(huang::DelayedDiscrimination::new(d, ood)),
        TanhTask::Sine(s) => Box::new(huang::Sine::new(s, ood)),
        TanhTask::PathIntegration(p) => Box::new(path::PathIntegration::new(p, ood)),
    }
}

/// Symmetric Hann window of length `m` (scipy `signal.hann`).
pub(crate) fn hann(m: usize) -> Vec<f64> {
    if m == 1 {
        return vec![1.0];
    }
    (0..m)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / (m - 1) as f64).cos())
        .collect()
}

/// Gaussian window of length `m` and standard deviation `std` (scipy `signal.gaussian`).
pub(crate) fn gaussian(m: usize, std: f64) -> Vec<f64> {
    let c = (m as f64 - 1.0) / 2.0;
    (0..m)
        .map(|n| (-0.5 * ((n as f64 - c) / std).powi(2)).exp())
        .collect()
}

/// Convolution of `a` with `w`, cropped to the length of `a` and centred on the full
/// convolution (scipy `signal.convolve(a, w, mode="same")`).
pub(crate) fn convolve_same(a: &[f64], w: &[f64]) -> Vec<f64> {
    let (l, k) = (a.len(), w.len());
    let start = (k - 1) / 2;
    (0..l)
        .map(|i| {
            let f = i + start; // index into the full convolution
            (0..l)
                .filter(|&j| f >= j && f - j < k)
                .map(|j| a[j] * w[f - j])
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convolve_same_matches_hand_computation() {
        // full conv of [1,1,1] with [1,2,3] = [1,3,6,5,3]; same (start 1) = [3,6,5]
        assert_eq!(
            convolve_same(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]),
            vec![3.0, 6.0, 5.0]
        );
        let h = hann(5);
        assert_eq!(h[0], 0.0);
        assert!((h[2] - 1.0).abs() < 1e-12);
        let g = gaussian(3, 1.0);
        assert!((g[1] - 1.0).abs() < 1e-12 && (g[0] - (-0.5f64).exp()).abs() < 1e-12);
    }
}
