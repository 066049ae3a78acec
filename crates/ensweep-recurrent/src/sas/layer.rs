//! One spike-and-slab weight layer: parameters (pi, m, Xi), their moments, sampling, the
//! chain rule from moment gradients to parameter gradients, projection and categories.

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// A `rows x cols` layer whose every weight has its own spike-and-slab law, or (when not
/// stochastic) a plain weight m (pi = 0, Xi = 0 implied).
#[derive(Clone, Debug)]
pub struct SasLayer {
    /// Output units.
    pub rows: usize,
    /// Input units.
    pub cols: usize,
    /// Spike probability (absent connection).
    pub pi: Vec<f32>,
    /// Slab mean.
    pub m: Vec<f32>,
    /// Slab variance.
    pub xi: Vec<f32>,
    /// Stochastic (spike-and-slab) or deterministic.
    pub stochastic: bool,
    /// Fixed connectivity mask (1 = allowed); masked weights are forced to m = 0, pi = 1, Xi = 0.
    pub mask: Option<Vec<f32>>,
}

/// Effective first and second moments used by the forward pass.
#[derive(Clone, Debug, Default)]
pub struct Moments {
    /// E[w].
    pub mu: Vec<f32>,
    /// Var[w] (empty when the layer contributes no variance).
    pub v: Vec<f32>,
}

impl SasLayer {
    /// Mean and variance of every weight.
    pub fn moments(&self, out: &mut Moments) {
        out.mu.clear();
        out.v.clear();
        if !self.stochastic {
            out.mu.extend_from_slice(&self.m);
            if let Some(mask) = &self.mask {
                out.mu.iter_mut().zip(mask).for_each(|(w, k)| *w *= k);
            }
            return;
        }
        for i in 0..self.m.len() {
            let (p, m, x) = (self.pi[i], self.m[i], self.xi[i]);
            let mu = (1.0 - p) * m;
            out.mu.push(mu);
            out.v.push(((1.0 - p) * (m * m + x) - mu * mu).max(0.0));
        }
    }

    /// One network drawn from the ensemble: keep with probability 1 - pi, then N(m, Xi).
    pub fn sample(&self, rng: &mut Pcg64Mcg, out: &mut Moments) {
        out.v.clear();
        out.mu.clear();
        if !self.stochastic {
            self.moments(out);
            return;
        }
        for i in 0..self.m.len() {
            let keep = rng.random::<f32>() >= self.pi[i];
            let w = if keep {
                let e: f32 = StandardNormal.sample(rng);
                self.m[i] + self.xi[i].max(0.0).sqrt() * e
            } else {
                0.0
            };
            out.mu.push(w);
        }
    }

    /// Parameter gradients from the gradients of the moments (`g_mu`, `g_v`), written into
    /// (`g_pi`, `g_m`, `g_xi`).
    pub fn chain(
        &self,
        g_mu: &[f32],
        g_v: &[f32],
        g_pi: &mut [f32],
        g_m: &mut [f32],
        g_xi: &mut [f32],
    ) {
        if !self.stochastic {
            g_m.copy_from_slice(g_mu);
            if let Some(mask) = &self.mask {
                g_m.iter_mut().zip(mask).for_each(|(g, k)| *g *= k);
            }
            g_pi.iter_mut().for_each(|g| *g = 0.0);
            g_xi.iter_mut().for_each(|g| *g = 0.0);
            return;
        }
        for i in 0..self.m.len() {
            let (p, m, x) = (self.pi[i], self.m[i], self.xi[i]);
            g_m[i] = g_mu[i] * (1.0 - p) + g_v[i] * 2.0 * p * (1.0 - p) * m;
            g_xi[i] = g_v[i] * (1.0 - p);
            g_pi[i] = -g_mu[i] * m + g_v[i] * (-x + (1.0 - 2.0 * p) * m * m);
        }
    }

    /// Projection after an update: pi into [0, 1], Xi >= 0, and the fixed mask re-imposed.
    pub fn project(&mut self) {
        if self.stochastic {
            self.pi.iter_mut().for_each(|p| *p = p.clamp(0.0, 1.0));
            self.xi.iter_mut().for_each(|x| *x = x.max(0.0));
        }
        if let Some(mask) = &self.mask {
            for (i, &k) in mask.iter().enumerate() {
                if k == 0.0 {
                    self.m[i] = 0.0;
                    self.pi[i] = 1.0;
                    self.xi[i] = 0.0;
                } else if !self.stochastic {
                    self.pi[i] = 0.0;
                    self.xi[i] = 0.0;
                }
            }
        }
    }
}
