//! One spike-and-slab weight layer: parameters (pi, m, Xi), their moments, sampling, the
//! chain rule from moment gradients to parameter gradients, projection and categories.

use ensweep_trainkit::arrays::{clear, empty, reshape, std_mut, std_slice, view_mut, view_slice};
use ndarray::{Array2, ArrayView2, Zip};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// A `rows x cols` layer whose every weight has its own spike-and-slab law, or (when not
/// stochastic) a plain weight m (pi = 0, Xi = 0 implied). Every matrix is `rows x cols`
/// (output unit, input unit), in standard layout.
#[derive(Clone, Debug)]
pub struct SasLayer {
    /// Output units.
    pub rows: usize,
    /// Input units.
    pub cols: usize,
    /// Spike probability (absent connection).
    pub pi: Array2<f32>,
    /// Slab mean.
    pub m: Array2<f32>,
    /// Slab variance.
    pub xi: Array2<f32>,
    /// Stochastic (spike-and-slab) or deterministic.
    pub stochastic: bool,
    /// Fixed connectivity mask (1 = allowed); masked weights are forced to m = 0, pi = 1, Xi = 0.
    pub mask: Option<Array2<f32>>,
}

/// Effective first and second moments used by the forward pass, `rows x cols` like the layer.
#[derive(Clone, Debug)]
pub struct Moments {
    /// E[w].
    pub mu: Array2<f32>,
    /// Var[w] (empty, `0 x 0`, when the layer contributes no variance).
    pub v: Array2<f32>,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            mu: empty(),
            v: empty(),
        }
    }
}

impl SasLayer {
    /// Mean and variance of every weight.
    pub fn moments(&self, out: &mut Moments) {
        let dim = self.m.dim();
        reshape(&mut out.mu, dim);
        if !self.stochastic {
            clear(&mut out.v);
            out.mu.assign(&self.m);
            if let Some(mask) = &self.mask {
                out.mu *= mask;
            }
            return;
        }
        reshape(&mut out.v, dim);
        // Zipped slices (they vectorise; a five-way `Zip` does not).
        let (pi, m, xi) = (std_slice(&self.pi), std_slice(&self.m), std_slice(&self.xi));
        let moments = std_mut(&mut out.mu).iter_mut().zip(std_mut(&mut out.v));
        for ((mu, v), ((&p, &m), &x)) in moments.zip(pi.iter().zip(m).zip(xi)) {
            *mu = (1.0 - p) * m;
            *v = ((1.0 - p) * (m * m + x) - *mu * *mu).max(0.0);
        }
    }

    /// One network drawn from the ensemble: keep with probability 1 - pi, then N(m, Xi), drawn
    /// in row-major order.
    pub fn sample(&self, rng: &mut Pcg64Mcg, out: &mut Moments) {
        if !self.stochastic {
            self.moments(out);
            return;
        }
        clear(&mut out.v);
        let params =
            (std_slice(&self.pi).iter()).zip(std_slice(&self.m).iter().zip(std_slice(&self.xi)));
        // Slices, not `ndarray` iterators, which do not fold (callgrind: +51 % here).
        for (w, (&p, (&m, &x))) in reshape(&mut out.mu, self.m.dim()).iter_mut().zip(params) {
            let keep = rng.random::<f32>() >= p;
            *w = if keep {
                let e: f32 = StandardNormal.sample(rng);
                m + x.max(0.0).sqrt() * e
            } else {
                0.0
            };
        }
    }

    /// Parameter gradients from the gradients of the moments (`g_mu`, `g_v`, `rows x cols`
    /// views), written into (`g_pi`, `g_m`, `g_xi`).
    pub fn chain(
        &self,
        g_mu: ArrayView2<'_, f32>,
        g_v: ArrayView2<'_, f32>,
        [g_pi, g_m, g_xi]: &mut [Array2<f32>; 3],
    ) {
        let dim = self.m.dim();
        for g in [&mut *g_pi, &mut *g_m, &mut *g_xi] {
            reshape(g, dim);
        }
        if !self.stochastic {
            g_m.assign(&g_mu);
            if let Some(mask) = &self.mask {
                *g_m *= mask;
            }
            g_pi.fill(0.0);
            g_xi.fill(0.0);
            return;
        }
        // Row by row: the moment gradients of the input and recurrent layers are column
        // blocks of one matrix, whose rows are contiguous.
        let grads = (g_pi.outer_iter_mut().zip(g_m.outer_iter_mut())).zip(g_xi.outer_iter_mut());
        let moments = g_mu.outer_iter().zip(g_v.outer_iter());
        let params = (self.pi.outer_iter().zip(self.m.outer_iter())).zip(self.xi.outer_iter());
        for (((gp, gm), gx), ((dmu, dv), ((p, m), x))) in grads.zip(moments.zip(params)) {
            let (gp, gm, gx) = (view_mut(gp), view_mut(gm), view_mut(gx));
            let (dmu, dv) = (view_slice(dmu), view_slice(dv));
            let (p, m, x) = (view_slice(p), view_slice(m), view_slice(x));
            for i in 0..gp.len() {
                let (p, m, x) = (p[i], m[i], x[i]);
                gm[i] = dmu[i] * (1.0 - p) + dv[i] * 2.0 * p * (1.0 - p) * m;
                gx[i] = dv[i] * (1.0 - p);
                gp[i] = -dmu[i] * m + dv[i] * (-x + (1.0 - 2.0 * p) * m * m);
            }
        }
    }

    /// Projection after an update: pi into [0, 1], Xi >= 0, and the fixed mask re-imposed.
    pub fn project(&mut self) {
        if self.stochastic {
            self.pi.mapv_inplace(|p| p.clamp(0.0, 1.0));
            self.xi.mapv_inplace(|x| x.max(0.0));
        }
        if let Some(mask) = &self.mask {
            let stochastic = self.stochastic;
            Zip::from(mask)
                .and(&mut self.m)
                .and(&mut self.pi)
                .and(&mut self.xi)
                .for_each(|&k, m, pi, xi| {
                    if k == 0.0 {
                        (*m, *pi, *xi) = (0.0, 1.0, 0.0);
                    } else if !stochastic {
                        (*pi, *xi) = (0.0, 0.0);
                    }
                });
        }
    }
}
