//! Optimisers over flat `f32` parameter slices: Adam, RMSprop and SGD with decoupled decay.
//!
//! Shared by every ensweep trainer (the recurrent trainers reuse it), so it knows nothing about
//! layers: a trainer keeps one [`Optimizer`] per parameter group and calls [`Optimizer::step`]
//! with that group's learning rate and decay. The update rules copy the reference code of the
//! spike-and-slab papers exactly (docs/PAPERS.md 1.5, 2.2, 2.4), including where the guards sit.

use ensweep_core::config::optim::{OptimizerConfig, OptimizerKind};
use serde::{Deserialize, Serialize};

/// Moment state of one parameter vector.
#[derive(Clone, Debug)]
pub struct Optimizer {
    kind: OptimizerKind,
    beta1: f32,
    beta2: f32,
    eps: f32,
    /// First moment (Adam only).
    m: Vec<f32>,
    /// Second moment (Adam, RMSprop).
    v: Vec<f32>,
    /// Steps since the last reset: Adam's bias-correction counter.
    t: i32,
}

/// Added inside Adam's square root, as in the reference code (`sqrt(s_hat + 1e-30) + eps`); it
/// keeps the update finite when a gradient has been exactly zero since the last reset.
const ADAM_SQRT_GUARD: f32 = 1e-30;

impl Optimizer {
    /// Zeroed state for `n_params` parameters.
    pub fn new(cfg: &OptimizerConfig, n_params: usize) -> Self {
        let needs_m = cfg.kind == OptimizerKind::Adam;
        let needs_v = cfg.kind != OptimizerKind::Sgd;
        Optimizer {
            kind: cfg.kind,
            beta1: cfg.beta1 as f32,
            beta2: cfg.beta2 as f32,
            eps: cfg.eps as f32,
            m: vec![0.0; if needs_m { n_params } else { 0 }],
            v: vec![0.0; if needs_v { n_params } else { 0 }],
            t: 0,
        }
    }

    /// Forgets the moment estimates and the bias-correction counter (the 2020 reference code
    /// does this at the start of every epoch).
    pub fn reset(&mut self) {
        self.m.fill(0.0);
        self.v.fill(0.0);
        self.t = 0;
    }

    /// What training has changed: the moments and the step counter (a checkpoint keeps these;
    /// the rule's constants come from the config again).
    pub fn state(&self) -> OptimizerState {
        OptimizerState {
            m: self.m.clone(),
            v: self.v.clone(),
            t: self.t,
        }
    }

    /// Whether `state` has this optimiser's lengths (what [`Optimizer::restore`] requires).
    pub fn fits(&self, state: &OptimizerState) -> bool {
        state.m.len() == self.m.len() && state.v.len() == self.v.len()
    }

    /// Puts back a [`Optimizer::state`] of an optimiser built from the same config and size.
    /// Refuses (and keeps its own state) if the moment vectors have other lengths.
    pub fn restore(&mut self, state: OptimizerState) -> Result<(), StateMismatch> {
        if !self.fits(&state) {
            return Err(StateMismatch);
        }
        self.m = state.m;
        self.v = state.v;
        self.t = state.t;
        Ok(())
    }

    /// Number of parameters this state was built for (0 for SGD, which keeps none).
    pub fn len(&self) -> usize {
        self.m.len().max(self.v.len())
    }

    /// Whether the optimiser keeps no per-parameter state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One update, `theta -= lr * (direction(g) + decay * theta)`; pass `decay = 0` for a group
    /// that is not decayed.
    ///
    /// * Adam: `direction = m_hat / (sqrt(v_hat + 1e-30) + eps)` with bias correction;
    /// * RMSprop: `v = beta2 v + (1 - beta2) g^2`, `direction = g / sqrt(v + eps)` (eps inside
    ///   the root, as in the recurrent reference code);
    /// * SGD: `direction = g`.
    ///
    /// # Panics
    /// If `params` and `grads` differ in length or do not match the state.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32, decay: f32) {
        let rule = self.begin_step();
        let (m, v) = self.state_mut();
        rule.apply(params, grads, m, v, lr, decay);
    }

    /// Starts one step (advances the bias-correction counter) and returns its rule, for callers
    /// that update the parameters in pieces (e.g. row ranges on several threads) with
    /// [`StepRule::apply`] on the matching pieces of [`Optimizer::state_mut`].
    pub fn begin_step(&mut self) -> StepRule {
        self.t += 1;
        StepRule {
            kind: self.kind,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            c1: 1.0 / (1.0 - self.beta1.powi(self.t)),
            c2: 1.0 / (1.0 - self.beta2.powi(self.t)),
        }
    }

    /// The moment vectors (first, second); empty where the rule keeps none.
    pub fn state_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.m, &mut self.v)
    }
}

/// The moments and step counter of an [`Optimizer`], as a checkpoint stores them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// First moment (empty unless Adam).
    pub m: Vec<f32>,
    /// Second moment (empty for SGD).
    pub v: Vec<f32>,
    /// Steps since the last reset.
    pub t: i32,
}

/// An [`OptimizerState`] that does not fit the optimiser it was offered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the optimiser state has other lengths than the optimiser")]
pub struct StateMismatch;

/// The update rule of one step, with its bias corrections fixed.
#[derive(Clone, Copy, Debug)]
pub struct StepRule {
    kind: OptimizerKind,
    beta1: f32,
    beta2: f32,
    eps: f32,
    c1: f32,
    c2: f32,
}

impl StepRule {
    /// Applies the step to `params` with the matching pieces `m`, `v` of the state (see
    /// [`Optimizer::step`] for the rules).
    ///
    /// # Panics
    /// If the lengths do not match.
    #[inline(always)]
    pub fn apply(
        &self,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        lr: f32,
        decay: f32,
    ) {
        assert_eq!(
            params.len(),
            grads.len(),
            "params and grads differ in length"
        );
        match self.kind {
            OptimizerKind::Adam => {
                assert!(
                    m.len() == params.len() && v.len() == params.len(),
                    "optimizer state size"
                );
                let (b1, b2, eps, c1, c2) = (self.beta1, self.beta2, self.eps, self.c1, self.c2);
                for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    let dir = (*m * c1) / ((*v * c2 + ADAM_SQRT_GUARD).sqrt() + eps);
                    *p -= lr * (dir + decay * *p);
                }
            }
            OptimizerKind::Rmsprop => {
                assert_eq!(params.len(), v.len(), "optimizer state size");
                let (b, eps) = (self.beta2, self.eps);
                for ((p, &g), v) in params.iter_mut().zip(grads).zip(v) {
                    *v = b * *v + (1.0 - b) * g * g;
                    *p -= lr * (g / (*v + eps).sqrt() + decay * *p);
                }
            }
            OptimizerKind::Sgd => {
                for (p, &g) in params.iter_mut().zip(grads) {
                    *p -= lr * (g + decay * *p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: OptimizerKind) -> OptimizerConfig {
        OptimizerConfig {
            kind,
            lr: 0.1,
            halve_every: 0,
            reset_each_epoch: false,
            decay: 0.0,
            decay_on: vec![],
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        // With bias correction the first Adam step is lr * g / (|g| + eps) = lr * sign(g).
        let mut o = Optimizer::new(&cfg(OptimizerKind::Adam), 3);
        let mut p = vec![1.0f32, 1.0, 1.0];
        o.step(&mut p, &[0.5, -2.0, 0.0], 0.1, 0.0);
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] - 1.1).abs() < 1e-6 && p[2] == 1.0);
        // Decoupled decay adds lr * decay * theta.
        let mut q = vec![2.0f32];
        let mut o = Optimizer::new(&cfg(OptimizerKind::Adam), 1);
        o.step(&mut q, &[0.0], 0.1, 0.5);
        assert!((q[0] - (2.0 - 0.1 * 0.5 * 2.0)).abs() < 1e-6);
    }

    #[test]
    fn reset_restarts_bias_correction() {
        let mut o = Optimizer::new(&cfg(OptimizerKind::Adam), 1);
        let mut p = vec![0.0f32];
        for _ in 0..5 {
            o.step(&mut p, &[1.0], 0.1, 0.0);
        }
        o.reset();
        let before = p[0];
        o.step(&mut p, &[-3.0], 0.1, 0.0);
        assert!(
            (p[0] - before - 0.1).abs() < 1e-6,
            "after reset the step is lr*sign(g)"
        );
    }

    #[test]
    fn rmsprop_and_sgd_follow_their_rules() {
        let mut c = cfg(OptimizerKind::Rmsprop);
        c.beta2 = 0.9;
        let mut o = Optimizer::new(&c, 1);
        let mut p = vec![1.0f32];
        o.step(&mut p, &[2.0], 0.01, 0.0);
        let v = 0.1f32 * 4.0;
        assert!((p[0] - (1.0 - 0.01 * 2.0 / (v + 1e-8).sqrt())).abs() < 1e-6);
        let mut o = Optimizer::new(&cfg(OptimizerKind::Sgd), 1);
        assert!(o.is_empty());
        let mut p = vec![1.0f32];
        o.step(&mut p, &[2.0], 0.1, 0.1);
        assert!((p[0] - (1.0 - 0.1 * (2.0 + 0.1))).abs() < 1e-6);
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut o = Optimizer::new(&cfg(OptimizerKind::Adam), 2);
        let mut p = vec![3.0f32, -2.0];
        for _ in 0..2000 {
            let g: Vec<f32> = p.iter().map(|x| 2.0 * x).collect();
            o.step(&mut p, &g, 0.01, 0.0);
        }
        assert!(p.iter().all(|x| x.abs() < 1e-2), "{p:?}");
    }
}
