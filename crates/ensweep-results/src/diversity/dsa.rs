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
//! Riemannian gradient ascent with a Cayley retraction and backtracking line search,
//! which converges to the same optimum in far fewer steps (tests compare with committed reference
//! values). The operator is fitted once per net, so a group of n nets costs n fits and n(n-1)/2
//! small r x r optimisations.
//!
//! Null: a net compared with itself on disjoint halves of its trials ([`within_net_null`]); a
//! between-net distance means something only above that band.

use super::linalg::Mat;
use ensweep_core::seed::RunSeed;
use nalgebra::DMatrix;
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
    pub a: DMatrix<f64>,
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
pub fn hankel(x: &Mat, n_delays: usize, interval: usize) -> Mat {
    let span = (n_delays - 1) * interval;
    let rows = x.nrows().saturating_sub(span);
    let u = x.ncols();
    Mat::from_fn(rows, u * n_delays, |s, c| {
        let (block, unit) = (c / u, c % u);
        x[(s + span - block * interval, unit)]
    })
}

/// Fits the reduced-rank operator of a net from its trials (one matrix per trial, steps x units).
pub fn fit_dmd(trials: &[Mat], opts: &DsaOptions) -> Result<Dmd, DsaError> {
    let units = trials.first().map_or(0, Mat::ncols);
    if trials.iter().any(|t| t.ncols() != units) {
        return Err(DsaError::Units);
    }
    let n_delays = opts.n_delays.max(1);
    let embedded: Vec<Mat> = trials
        .iter()
        .map(|t| hankel(t, n_delays, opts.delay_interval))
        .filter(|h| h.nrows() >= 2)
        .collect();
    if embedded.is_empty() {
        return Err(DsaError::TooShort {
            steps: trials.iter().map(Mat::nrows).max().unwrap_or(0),
            n_delays,
            interval: opts.delay_interval,
        });
    }
    let h = embedded
        .iter()
        .skip(1)
        .fold(embedded[0].clone(), |acc, e| acc.stack(e))
        .to_nalgebra();
    let v = right_singular_vectors(&h, opts.rank)?;
    let (minus, plus) = consecutive_rows(&v, embedded.iter().map(Mat::nrows));
    let r = v.ncols();
    let gram = minus.transpose() * &minus + DMatrix::identity(r, r) * opts.ridge;
    let rhs = minus.transpose() * &plus;
    // A^T = (Vm^T Vm + ridge I)^-1 Vm^T Vp; the Cholesky factor exists as V has full column rank.
    let at = gram
        .cholesky()
        .map(|c| c.solve(&rhs))
        .unwrap_or_else(|| pseudo_solve(&minus, &plus));
    Ok(Dmd { a: at.transpose() })
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
fn right_singular_vectors(h: &DMatrix<f64>, rank: usize) -> Result<DMatrix<f64>, DsaError> {
    let gram = h.transpose() * h;
    let eig = nalgebra::SymmetricEigen::new(gram);
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|x, y| eig.eigenvalues[*y].total_cmp(&eig.eigenvalues[*x]));
    let top = eig.eigenvalues[order[0]].max(0.0);
    let found = order
        .iter()
        .take_while(|i| eig.eigenvalues[**i] > GRAM_TOL * top)
        .count()
        .min(h.nrows());
    let rank = rank.max(1);
    if found < rank {
        return Err(DsaError::Rank { found, rank });
    }
    let u = DMatrix::from_fn(h.ncols(), rank, |i, j| {
        eig.eigenvectors[(i, order[j])] / eig.eigenvalues[order[j]].sqrt()
    });
    let mut v = h * u;
    // Sign convention: each column's largest entry positive. Nets whose embeddings differ by an
    // orthogonal map then get identical operators, not ones differing by a sign flip that the
    // orthogonal optimisation would have to find from the identity.
    for mut col in v.column_iter_mut() {
        let peak = col
            .iter()
            .copied()
            .fold(0.0, |m: f64, x| if x.abs() > m.abs() { x } else { m });
        if peak < 0.0 {
            col.neg_mut();
        }
    }
    Ok(v)
}

/// Rows t and t + 1 of V within each trial (never across a trial boundary).
fn consecutive_rows(
    v: &DMatrix<f64>,
    lengths: impl Iterator<Item = usize>,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let (mut now, mut next) = (Vec::new(), Vec::new());
    let mut start = 0;
    for len in lengths {
        for s in start..start + len - 1 {
            now.push(s);
            next.push(s + 1);
        }
        start += len;
    }
    let pick = |rows: &[usize]| DMatrix::from_fn(rows.len(), v.ncols(), |i, j| v[(rows[i], j)]);
    (pick(&now), pick(&next))
}

/// Procrustes over vector fields between two fitted operators, both scaled to unit norm.
pub fn dsa_distance(x: &Dmd, y: &Dmd, opts: &DsaOptions) -> DsaScore {
    let (a, b) = (unit(&x.a), unit(&y.a));
    if a.shape() != b.shape() {
        return DsaScore {
            angular: f64::NAN,
            euclidean: f64::NAN,
        };
    }
    let n = a.nrows();
    let mut swap = DMatrix::identity(n, n);
    if n > 1 {
        swap.swap_rows(0, 1);
    }
    let best = [DMatrix::identity(n, n), swap]
        .into_iter()
        .chain(random_orthogonal(n, opts.extra_starts))
        .map(|c| aligned_cosine(&a, &b, c, opts.max_iters))
        .fold(f64::NEG_INFINITY, f64::max)
        .clamp(-1.0, 1.0);
    DsaScore {
        angular: best.acos(),
        euclidean: (2.0 - 2.0 * best).max(0.0).sqrt(),
    }
}

/// `count` orthogonal matrices, the Q factors of Gaussian-like matrices from a fixed stream (the
/// same starts for every pair, so results are reproducible).
fn random_orthogonal(n: usize, count: usize) -> impl Iterator<Item = DMatrix<f64>> {
    let mut rng = RunSeed::from_u64(0).rng("dsa.starts");
    (0..count).map(move |_| {
        let m = DMatrix::from_fn(n, n, |_, _| {
            (0..4).map(|_| rng.random_range(-1.0..1.0)).sum::<f64>()
        });
        m.qr().q()
    })
}

fn unit(m: &DMatrix<f64>) -> DMatrix<f64> {
    let n = m.norm();
    if n > 0.0 { m / n } else { m.clone() }
}

/// <A, C B C^T>, the quantity maximised over orthogonal C.
fn cosine(a: &DMatrix<f64>, b: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    a.dot(&(c * b * c.transpose()))
}

/// Riemannian gradient ascent of <A, C B C^T> on O(n) from `c`, Cayley retraction and Armijo
/// backtracking; returns the cosine reached.
fn aligned_cosine(a: &DMatrix<f64>, b: &DMatrix<f64>, mut c: DMatrix<f64>, iters: usize) -> f64 {
    let n = a.nrows();
    let id = DMatrix::<f64>::identity(n, n);
    let mut f = cosine(a, b, &c);
    let mut step: f64 = 1.0;
    for _ in 0..iters {
        let g = a * &c * b.transpose() + a.transpose() * &c * b;
        let gct = &g * c.transpose();
        // Skew direction W: C(t) = cay(tW) C has slope <G C^T, W> = |W|^2 / 2 at t = 0.
        let w = &gct - gct.transpose();
        let slope = w.norm_squared() / 2.0;
        if slope < 1e-24 {
            break;
        }
        step = (step * 2.0).min(1e3);
        let mut moved = false;
        while step > 1e-14 {
            let half = &w * (step / 2.0);
            let Some(cay) = (&id - &half).lu().solve(&(&id + &half)) else {
                step /= 2.0;
                continue;
            };
            let candidate = cay * &c;
            let fc = cosine(a, b, &candidate);
            if fc >= f + 1e-4 * step * slope {
                // Converged when a step no longer changes the cosine by a relative 1e-12.
                moved = fc - f > 1e-12 * f.abs().max(1e-300);
                (c, f) = (candidate, fc);
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    f
}

/// DSA between every pair of nets (row-major `n x n`, symmetric, 0 on the diagonal; NaN where a
/// net has no fit), pairs spread over rayon's threads.
pub fn pairwise(fits: &[Option<Dmd>], opts: &DsaOptions) -> Vec<DsaScore> {
    use rayon::prelude::*;
    let n = fits.len();
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let undefined = DsaScore {
        angular: f64::NAN,
        euclidean: f64::NAN,
    };
    let scores: Vec<DsaScore> = pairs
        .par_iter()
        .map(|(i, j)| match (&fits[*i], &fits[*j]) {
            (Some(x), Some(y)) => dsa_distance(x, y, opts),
            _ => undefined,
        })
        .collect();
    let zero = DsaScore {
        angular: 0.0,
        euclidean: 0.0,
    };
    let mut out = vec![zero; n * n];
    for ((i, j), s) in pairs.iter().zip(scores) {
        out[i * n + j] = s;
        out[j * n + i] = s;
    }
    out
}

/// The within-network null: the net's operator fitted on its even-numbered trials against the
/// one fitted on its odd-numbered trials. Needs at least two trials.
pub fn within_net_null(trials: &[Mat], opts: &DsaOptions) -> Result<DsaScore, DsaError> {
    let half = |parity: usize| -> Vec<Mat> {
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
