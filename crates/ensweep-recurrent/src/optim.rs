//! Stand-in optimisers with the interface of `ensweep_meanfield::optim` (Adam, RMSprop, SGD
//! over a flat parameter slice with decoupled decay).
//!
//! Kept local because the meanfield crate's optimisers were not available when this crate was
//! written; the signatures match, so switching is a one-line `use` change.

use ensweep_core::config::optim::{OptimizerConfig, OptimizerKind};

/// First/second-moment state of one parameter vector.
#[derive(Clone, Debug)]
pub struct Optimizer {
    kind: OptimizerKind,
    beta1: f32,
    beta2: f32,
    eps: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Optimizer {
    /// State for `n` parameters.
    pub fn new(cfg: &OptimizerConfig, n: usize) -> Self {
        Optimizer {
            kind: cfg.kind,
            beta1: cfg.beta1 as f32,
            beta2: cfg.beta2 as f32,
            eps: cfg.eps as f32,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// Forgets the moment estimates and the bias-correction counter.
    pub fn reset(&mut self) {
        self.m.iter_mut().for_each(|x| *x = 0.0);
        self.v.iter_mut().for_each(|x| *x = 0.0);
        self.t = 0;
    }

    /// One update: `params -= lr * direction(grads) + lr * decay * params`.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32, decay: f32) {
        self.t += 1;
        match self.kind {
            OptimizerKind::Adam => {
                let (b1, b2) = (self.beta1, self.beta2);
                let c1 = 1.0 - b1.powi(self.t);
                let c2 = 1.0 - b2.powi(self.t);
                for i in 0..params.len() {
                    let g = grads[i];
                    self.m[i] = b1 * self.m[i] + (1.0 - b1) * g;
                    self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g;
                    let mh = self.m[i] / c1;
                    let vh = self.v[i] / c2;
                    params[i] -= lr * (mh / (vh.sqrt() + self.eps) + decay * params[i]);
                }
            }
            OptimizerKind::Rmsprop => {
                let b = self.beta2;
                for i in 0..params.len() {
                    let g = grads[i];
                    self.v[i] = b * self.v[i] + (1.0 - b) * g * g;
                    params[i] -= lr * (g / (self.v[i] + self.eps).sqrt() + decay * params[i]);
                }
            }
            OptimizerKind::Sgd => {
                for i in 0..params.len() {
                    params[i] -= lr * (grads[i] + decay * params[i]);
                }
            }
        }
    }
}
