//! Dynamical Similarity Analysis (DSA; Ostrow et al. 2023), the dynamical degeneracy measure of
//! Huang, Singh & Rajan (2024), computed as the reference package `mitchellostrow/DSA` does:
//!
//! 1. each trial's hidden trajectory (steps x units) is delay embedded (Hankel matrix, block 0 the
//!    newest state, then `n_delays - 1` older ones `delay_interval` steps apart);
//! 2. the stacked embedding H = U S V^T is reduced to its leading `rank` right singular vectors V,
//!    and a linear operator A with v_{t+1} = A v_t is fitted by least squares on consecutive rows
//!    of V inside each trial (HAVOK / reduced-rank DMD; the package's `DMD.A_v`);
//! 3. two nets' operators, each scaled to unit Frobenius norm, are compared by Procrustes over
//!    vector fields, min over orthogonal C of ||A_x - C A_y C^T||_F, reported as the Euclidean
//!    residual and as the angle arccos(<A_x, C A_y C^T>) (the package's "euclidean" and
//!    "angular" scores).
//!
//! The package optimises C by Adam on a Cayley parametrisation from two starts (the identity and a
//! transposition, which lies in the other component of O(n)); here the same two starts, plus a
//! few fixed random orthogonal ones (the objective has local optima), are followed by
//! Riemannian gradient ascent with a Cayley retraction and backtracking line search
//! ([`super::procrustes`]), which converges to the same optimum in far fewer steps (tests compare
//! with committed reference values). A start ends when a step gains less than `tolerance`, or
//! (with `abandon_starts`) once it cannot catch the best earlier start at its current rate of
//! climb. The operator is fitted once per net, so a group of n nets costs n fits and n(n-1)/2
//! small r x r optimisations.
//!
//! Null: a net compared with itself on disjoint halves of its trials ([`within_net_null`]); a
//! between-net distance means something only above that band.

use super::linalg::{MatExt, from_nalgebra};
use super::procrustes::{Ascent, Problem};
use ensweep_core::seed::RunSeed;
use nalgebra::DMatrix;
use ndarray::{Array2, Axis, concatenate, s};
use rand::RngExt;

/// Settings of the embedding and the DMD fit (the package's `n_delays`, `delay_interval`, `rank`,
/// `lamb`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DsaOptions {
    /// Copies of the state in the delay embedding (1 = no delays).
    pub n_delays: usize,
    /// Steps between consecutive copies.
    pub delay_interval: usize,
    /// Leading singular directions of the embedding the operator acts on.
    pub rank: usize,
    /// Ridge of the least-squares fit (the package's default in DSA is 0).
    pub ridge: f64,
    /// Cap on the gradient steps of each start of the orthogonal optimisation.
    pub max_iters: usize,
    /// Random orthogonal starts besides the package's two (the objective has local optima).
    pub extra_starts: usize,
    /// A gradient step that raises the aligned cosine by less than this ends a start (0: run
    /// until a step changes it by less than a relative 1e-12).
    pub tolerance: f64,
    /// End a start early once, climbing at its latest rate for the steps it has left, it could
    /// not reach the best cosine of the starts before it.
    pub abandon_starts: bool,
}

impl DsaOptions {
    /// The same embedding and rank with the optimisation run to convergence from many starts:
    /// the reference the defaults' accuracy is measured against (docs/DEGENERACY.md).
    pub fn exhaustive(self) -> Self {
        Self {
            max_iters: 5000,
            extra_starts: 64,
            tolerance: 0.0,
            abandon_starts: false,
            ..self
        }
    }

    fn ascent(&self) -> Ascent {
        Ascent {
            max_iters: self.max_iters,
            tolerance: self.tolerance,
            abandon: self.abandon_starts,
        }
    }
}

impl Default for DsaOptions {
    fn default() -> Self {
        Self {
            n_delays: 2,
            delay_interval: 1,
            rank: 6,
            ridge: 0.0,
            max_iters: 500,
            extra_starts: 8,
            tolerance: 1e-9,
            abandon_starts: true,
        }
    }
}

/// Why an operator could not be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DsaError {
    /// No trial is long enough for the delay embedding plus one step.
    #[error("DSA: trials of {steps} steps are too short for {n_delays} delays {interval} apart")]
    TooShort {
        /// Longest trial.
        steps: usize,
        /// Delays asked for.
        n_delays: usize,
        /// Their interval.
        interval: usize,
    },
    /// Trials disagree on the number of units.
    #[error("DSA: trials have different numbers of units")]
    Units,
    /// The embedding has fewer non-zero singular values than the rank asked for.
    #[error("DSA: the embedding has rank {found}, below the requested rank {rank}")]
    Rank {
        /// Numerical rank of the embedding.
        found: usize,
        /// Requested rank.
        rank: usize,
    },
}

/// A net's fitted linear operator in its reduced delay coordinates (`rank x rank`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dmd {
    /// The operator, v_{t+1} = a v_t.
    pub a: Array2<f64>,
}

/// Both scores of one comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DsaScore {
    /// arccos of the aligned cosine between the unit-norm operators, in [0, pi].
    pub angular: f64,
    /// ||A_x - C A_y C^T||_F between the unit-norm operators, in [0, 2].
    pub euclidean: f64,
}

/// Singular values below this fraction of the largest count as zero (in the pseudo-inverse).
const RANK_TOL: f64 = 1e-10;
/// Gram eigenvalues (squared singular values) below this fraction of the largest count as zero:
/// the eigensolver's rounding is ~1e-16 of the largest, so singular values under ~1e-6 of the
/// largest are not resolved.
const GRAM_TOL: f64 = 1e-12;

/// Delay embedding of one trial: row s is `[x(s + (d-1) tau), ..., x(s + tau), x(s)]`.
pub fn hankel(x: &Array2<f64>, n_delays: usize, interval: usize) -> Array2<f64> {
    let span = (n_delays - 1) * interval;
    let rows = x.nrows().saturating_sub(span);
    let u = x.ncols();
    let mut h = Array2::zeros((rows, u * n_delays));
    for block in 0..n_delays {
        let newest = span - block * interval;
        h.slice_mut(s![.., block * u..(block + 1) * u])
            .assign(&x.slice(s![newest..newest + rows, ..]));
    }
    h
}

/// Fits the reduced-rank operator of a net from its trials (one matrix per trial, steps x units).
pub fn fit_dmd(trials: &[Array2<f64>], opts: &DsaOptions) -> Result<Dmd, DsaError> {
    let units = trials.first().map_or(0, Array2::ncols);
    if trials.iter().any(|t| t.ncols() != units) {
        return Err(DsaError::Units);
    }
    let n_delays = opts.n_delays.max(1);
    let embedded: Vec<Array2<f64>> = trials
        .iter()
        .map(|t| hankel(t, n_delays, opts.delay_interval))
        .filter(|h| h.nrows() >= 2)
        .collect();
    if embedded.is_empty() {
        return Err(DsaError::TooShort {
            steps: trials.iter().map(Array2::nrows).max().unwrap_or(0),
            n_delays,
            interval: opts.delay_interval,
        });
    }
    let views: Vec<_> = embedded.iter().map(|t| t.view()).collect();
    let h = concatenate(Axis(0), &views).expect("equal widths");
    let v = right_singular_vectors(&h, opts.rank)?;
    let (minus, plus) = consecutive_rows(&v, embedded.iter().map(Array2::nrows));
    let r = v.ncols();
    let gram = minus.t().dot(&minus) + Array2::<f64>::eye(r) * opts.ridge;
    let rhs = minus.t().dot(&plus).to_nalgebra();
    // A^T = (Vm^T Vm + ridge I)^-1 Vm^T Vp; the Cholesky factor exists as V has full column rank.
    let at = gram
        .to_nalgebra()
        .cholesky()
        .map(|c| c.solve(&rhs))
        .unwrap_or_else(|| pseudo_solve(&minus.to_nalgebra(), &plus.to_nalgebra()));
    Ok(Dmd {
        a: from_nalgebra(&at)
            .reversed_axes()
            .as_standard_layout()
            .into_owned(),
    })
}

/// Least squares through the SVD when the normal equations are singular.
fn pseudo_solve(minus: &DMatrix<f64>, plus: &DMatrix<f64>) -> DMatrix<f64> {
    minus
        .clone()
        .svd(true, true)
        .solve(plus, RANK_TOL)
        .unwrap_or_else(|_| DMatrix::zeros(minus.ncols(), plus.ncols()))
}

/// The leading `rank` columns of V in H = U S V^T, from the eigenvectors of the (small) Gram
/// matrix H^T H: V = H U S^-1.
fn right_singular_vectors(h: &Array2<f64>, rank: usize) -> Result<Array2<f64>, DsaError> {
    let (vals, vecs) = h.t().dot(h).symmetric_eigen();
    let top = vals[0].max(0.0);
    let found = vals
        .iter()
        .take_while(|l| **l > GRAM_TOL * top)
        .count()
        .min(h.nrows());
    let rank = rank.max(1);
    if found < rank {
        return Err(DsaError::Rank { found, rank });
    }
    let u = Array2::from_shape_fn((h.ncols(), rank), |(i, j)| vecs[(i, j)] / vals[j].sqrt());
    let mut v = h.dot(&u);
    // Sign convention: each column's largest entry positive. Nets whose embeddings differ by an
    // orthogonal map then get identical operators, not ones differing by a sign flip that the
    // orthogonal optimisation would have to find from the identity.
    for mut col in v.columns_mut() {
        let peak = col
            .iter()
            .copied()
            .fold(0.0, |m: f64, x| if x.abs() > m.abs() { x } else { m });
        if peak < 0.0 {
            col.mapv_inplace(|x| -x);
        }
    }
    Ok(v)
}

/// Rows t and t + 1 of V within each trial (never across a trial boundary).
fn consecutive_rows(
    v: &Array2<f64>,
    lengths: impl Iterator<Item = usize>,
) -> (Array2<f64>, Array2<f64>) {
    let (mut now, mut next) = (Vec::new(), Vec::new());
    let mut start = 0;
    for len in lengths {
        for s in start..start + len - 1 {
            now.push(s);
            next.push(s + 1);
        }
        start += len;
    }
    (v.select(Axis(0), &now), v.select(Axis(0), &next))
}

/// Procrustes over vector fields between two fitted operators, both scaled to unit norm.
pub fn dsa_distance(x: &Dmd, y: &Dmd, opts: &DsaOptions) -> DsaScore {
    distance_from(x, y, opts, &starts(x.a.nrows(), opts.extra_starts))
}

/// The starts of the orthogonal optimisation (row-major r x r): the identity, a transposition
/// (the other component of O(r)), then `extra` orthogonal matrices, the Q factors of
/// Gaussian-like matrices from a fixed stream (the same starts for every pair, so results are
/// reproducible).
fn starts(r: usize, extra: usize) -> Vec<Array2<f64>> {
    let mut swap = Array2::eye(r);
    if r > 1 {
        swap.swap((0, 0), (1, 0));
        swap.swap((0, 1), (1, 1));
    }
    let mut rng = RunSeed::from_u64(0).rng("dsa.starts");
    let random = (0..extra).map(|_| {
        let m = DMatrix::from_fn(r, r, |_, _| {
            (0..4).map(|_| rng.random_range(-1.0..1.0)).sum::<f64>()
        });
        from_nalgebra(&m.qr().q())
    });
    [Array2::eye(r), swap].into_iter().chain(random).collect()
}

/// The distance from the given starts; the best cosine over starts decides.
fn distance_from(x: &Dmd, y: &Dmd, opts: &DsaOptions, starts: &[Array2<f64>]) -> DsaScore {
    let (a, b) = (unit(&x.a), unit(&y.a));
    if a.dim() != b.dim() || starts.first().is_some_and(|c| c.dim() != a.dim()) {
        return DsaScore {
            angular: f64::NAN,
            euclidean: f64::NAN,
        };
    }
    // Row-major values (`iter` walks the logical order whatever the memory layout).
    let flat = |m: &Array2<f64>| m.iter().copied().collect::<Vec<f64>>();
    let mut problem = Problem::new(a.nrows(), &flat(&a), &flat(&b));
    let ascent = opts.ascent();
    let best = starts
        .iter()
        .fold(f64::NEG_INFINITY, |best, c| {
            best.max(problem.ascend(&flat(c), &ascent, best))
        })
        .clamp(-1.0, 1.0);
    DsaScore {
        angular: best.acos(),
        euclidean: (2.0 - 2.0 * best).max(0.0).sqrt(),
    }
}

fn unit(m: &Array2<f64>) -> Array2<f64> {
    let n = m.norm();
    if n > 0.0 { m / n } else { m.clone() }
}

/// DSA between every pair of nets (`n x n`, symmetric, 0 on the diagonal; NaN where a
/// net has no fit), pairs spread over rayon's threads.
pub fn pairwise(fits: &[Option<Dmd>], opts: &DsaOptions) -> Array2<DsaScore> {
    use rayon::prelude::*;
    let n = fits.len();
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let undefined = DsaScore {
        angular: f64::NAN,
        euclidean: f64::NAN,
    };
    let r = fits
        .iter()
        .flatten()
        .map(|f| f.a.nrows())
        .next()
        .unwrap_or(0);
    let starts = starts(r, opts.extra_starts);
    let scores: Vec<DsaScore> = pairs
        .par_iter()
        .map(|(i, j)| match (&fits[*i], &fits[*j]) {
            (Some(x), Some(y)) => distance_from(x, y, opts, &starts),
            _ => undefined,
        })
        .collect();
    let zero = DsaScore {
        angular: 0.0,
        euclidean: 0.0,
    };
    let mut out = Array2::from_elem((n, n), zero);
    for ((i, j), s) in pairs.iter().zip(scores) {
        out[(*i, *j)] = s;
        out[(*j, *i)] = s;
    }
    out
}

/// The within-network null: the net's operator fitted on its even-numbered trials against the
/// one fitted on its odd-numbered trials. Needs at least two trials.
pub fn within_net_null(trials: &[Array2<f64>], opts: &DsaOptions) -> Result<DsaScore, DsaError> {
    let half = |parity: usize| -> Vec<Array2<f64>> {
        trials
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, t)| t.clone())
            .collect()
    };
    let (even, odd) = (fit_dmd(&half(0), opts)?, fit_dmd(&half(1), opts)?);
    Ok(dsa_distance(&even, &odd, opts))
}

#[cfg(test)]
#[path = "dsa_tests.rs"]
mod tests;
