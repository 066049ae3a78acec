//! Pairwise diversity metrics between two trained networks of the same configuration.
//!
//! Hidden units have no identity across seeds: a network and any relabelling of its hidden units
//! compute the same function. So weight distances are taken after aligning units (an assignment
//! problem), and representation / dynamics comparisons use measures invariant to orthogonal
//! transforms of the state space (linear CKA; Procrustes-aligned linear operators).

pub use super::lap::assignment;
use super::linalg::MatExt;
use ndarray::{Array2, Axis, concatenate, s};

/// Weight matrices of one network, `out x in`, hidden units shared between consecutive layers.
#[derive(Clone, Debug, PartialEq)]
pub enum Net {
    /// A recurrent net: `w_in` (units x inputs), `w_rec` (units x units), `w_out` (outputs x units).
    Rnn {
        /// Input weights.
        w_in: Array2<f64>,
        /// Recurrent weights.
        w_rec: Array2<f64>,
        /// Readout weights.
        w_out: Array2<f64>,
    },
    /// A feed-forward chain `l1, l2, ...`; hidden layer k is the rows of `l(k)`, columns of `l(k+1)`.
    Mlp(Vec<Array2<f64>>),
}

impl Net {
    fn matrices(&self) -> Vec<&Array2<f64>> {
        match self {
            Net::Rnn { w_in, w_rec, w_out } => vec![w_in, w_rec, w_out],
            Net::Mlp(ls) => ls.iter().collect(),
        }
    }

    fn norm(&self) -> f64 {
        self.matrices()
            .iter()
            .map(|m| m.norm_squared())
            .sum::<f64>()
            .sqrt()
    }

    /// Shapes agree layer by layer.
    pub fn same_shape(&self, other: &Net) -> bool {
        let (a, b) = (self.matrices(), other.matrices());
        a.len() == b.len()
            && std::mem::discriminant(self) == std::mem::discriminant(other)
            && a.iter().zip(&b).all(|(x, y)| x.shape() == y.shape())
    }
}

fn sq_dist_rows(a: &Array2<f64>, i: usize, b: &Array2<f64>, j: usize) -> f64 {
    (0..a.ncols())
        .map(|k| (a[(i, k)] - b[(j, k)]).powi(2))
        .sum()
}

fn sq_dist_cols(a: &Array2<f64>, i: usize, b: &Array2<f64>, j: usize) -> f64 {
    (0..a.nrows())
        .map(|k| (a[(k, i)] - b[(k, j)]).powi(2))
        .sum()
}

/// Relabels `b`'s hidden units so that they match `a`'s, and returns the aligned copy.
///
/// RNN: a unit is described by its incoming input weights, outgoing readout weights, and its
/// recurrent row and column; the recurrent terms depend on the alignment itself, so the
/// assignment is iterated (starting from input/readout features only) until it is stable.
/// MLP: hidden layers are aligned front to back, each on its incoming rows (with the previous
/// layer already aligned) and outgoing columns.
pub fn align(a: &Net, b: &Net) -> Net {
    match (a, b) {
        (
            Net::Rnn { w_in, w_rec, w_out },
            Net::Rnn {
                w_in: bi,
                w_rec: br,
                w_out: bo,
            },
        ) => {
            let n = w_rec.nrows();
            let mut perm: Option<Vec<usize>> = None;
            for _ in 0..20 {
                let cost = Array2::from_shape_fn((n, n), |(i, j)| {
                    let mut c = sq_dist_rows(w_in, i, bi, j) + sq_dist_cols(w_out, i, bo, j);
                    if let Some(p) = &perm {
                        // row i of a vs row j of b with b's columns relabelled by p, and same for columns.
                        c += (0..n)
                            .map(|k| (w_rec[(i, k)] - br[(j, p[k])]).powi(2))
                            .sum::<f64>();
                        c += (0..n)
                            .map(|k| (w_rec[(k, i)] - br[(p[k], j)]).powi(2))
                            .sum::<f64>();
                    } else {
                        c += (w_rec[(i, i)] - br[(j, j)]).powi(2);
                    }
                    c
                });
                let next = assignment(&cost);
                if perm.as_ref() == Some(&next) {
                    break;
                }
                perm = Some(next);
            }
            let p = perm.unwrap_or_default();
            Net::Rnn {
                w_in: Array2::from_shape_fn((n, bi.ncols()), |(i, k)| bi[(p[i], k)]),
                w_rec: Array2::from_shape_fn((n, n), |(i, j)| br[(p[i], p[j])]),
                w_out: Array2::from_shape_fn((bo.nrows(), n), |(o, i)| bo[(o, p[i])]),
            }
        }
        (Net::Mlp(la), Net::Mlp(lb)) => {
            let mut out: Vec<Array2<f64>> = lb.clone();
            for k in 0..la.len().saturating_sub(1) {
                let n = la[k].nrows();
                let (inc_a, inc_b) = (&la[k], &out[k]);
                let (og_a, og_b) = (&la[k + 1], &out[k + 1]);
                let cost = Array2::from_shape_fn((n, n), |(i, j)| {
                    sq_dist_rows(inc_a, i, inc_b, j) + sq_dist_cols(og_a, i, og_b, j)
                });
                let p = assignment(&cost);
                let rows = Array2::from_shape_fn((n, inc_b.ncols()), |(i, c)| inc_b[(p[i], c)]);
                let cols = Array2::from_shape_fn((og_b.nrows(), n), |(r, i)| og_b[(r, p[i])]);
                out[k] = rows;
                out[k + 1] = cols;
            }
            Net::Mlp(out)
        }
        _ => b.clone(),
    }
}

/// Relative weight-space distance after aligning `b`'s hidden units to `a`'s:
/// `||a - P b|| / sqrt((||a||^2 + ||b||^2) / 2)`, 0 for a relabelled copy. NaN if shapes differ.
pub fn aligned_weight_distance(a: &Net, b: &Net) -> f64 {
    if !a.same_shape(b) {
        return f64::NAN;
    }
    let aligned = align(a, b);
    let diff: f64 = a
        .matrices()
        .iter()
        .zip(aligned.matrices())
        .map(|(x, y)| (*x - y).norm_squared())
        .sum();
    let scale = ((a.norm().powi(2) + b.norm().powi(2)) / 2.0).sqrt();
    if scale == 0.0 {
        0.0
    } else {
        diff.sqrt() / scale
    }
}

/// Linear CKA between two representations of the same samples (rows), any widths.
///
/// `||Yc' Xc||_F^2 / (||Xc' Xc||_F ||Yc' Yc||_F)` with column-centred X, Y (Kornblith et al.
/// 2019): 1 for representations equal up to rotation, permutation and isotropic scaling.
pub fn linear_cka(x: &Array2<f64>, y: &Array2<f64>) -> f64 {
    let (xc, yc) = (x.center_columns(), y.center_columns());
    let cross = yc.t().dot(&xc).norm_squared();
    let den = xc.t().dot(&xc).norm() * yc.t().dot(&yc).norm();
    if den == 0.0 { f64::NAN } else { cross / den }
}

/// Delay embedding of each trajectory (steps x units) with `delays` copies, stacked over probes.
/// Returns (current states, next states) for fitting `z_{t+1} = z_t A`.
fn delay_pairs(trajs: &[Array2<f64>], delays: usize) -> (Array2<f64>, Array2<f64>) {
    let units = trajs.first().map(|t| t.ncols()).unwrap_or(0);
    let width = units * delays;
    let mut now = Vec::new();
    let mut next = Vec::new();
    for t in trajs {
        let emb = |s: usize| (0..delays).flat_map(move |d| t.row(s - d).into_iter().copied());
        for s in delays - 1..t.nrows().saturating_sub(1) {
            now.extend(emb(s));
            next.extend(emb(s + 1));
        }
    }
    let rows = now.len() / width.max(1);
    let shaped = |v: Vec<f64>| Array2::from_shape_vec((rows, width), v).expect("whole rows");
    (shaped(now), shaped(next))
}

/// Leading `rank` principal directions (columns) of the centred rows of `x`.
fn pca_basis(x: &Array2<f64>, rank: usize) -> Array2<f64> {
    let c = x.center_columns();
    let (_, vecs) = c.t().dot(&c).symmetric_eigen();
    vecs.slice(s![.., ..rank.min(vecs.ncols())]).to_owned()
}

/// DSA-style dynamics distance between two networks' hidden trajectories on the same probes.
///
/// Steps: delay-embed each trajectory (`delays` lags), project onto each network's leading
/// `rank` principal components, align the two projected state spaces with orthogonal Procrustes
/// (same probes, same times), fit each network's linear operator `z_{t+1} = z_t A` by least
/// squares, and return `||R' A_x R - A_y||_F / mean(||A_x||, ||A_y||)`. Zero when one network is
/// a relabelling (or any rotation) of the other. Unlike DSA (Ostrow et al. 2023) the rotation is
/// fitted on the states rather than on the operators alone, which makes it closed-form.
pub fn dynamics_distance(x: &[Array2<f64>], y: &[Array2<f64>], delays: usize, rank: usize) -> f64 {
    let (xn, xf) = delay_pairs(x, delays);
    let (yn, yf) = delay_pairs(y, delays);
    if xn.nrows() != yn.nrows() || xn.nrows() == 0 {
        return f64::NAN;
    }
    let both = |a: &Array2<f64>, b: &Array2<f64>| {
        concatenate(Axis(0), &[a.view(), b.view()]).expect("same widths")
    };
    let (bx, by) = (
        pca_basis(&both(&xn, &xf), rank),
        pca_basis(&both(&yn, &yf), rank),
    );
    let r = bx.ncols().min(by.ncols());
    let (bx, by) = (bx.slice(s![.., ..r]), by.slice(s![.., ..r]));
    let (zxn, zxf) = (xn.dot(&bx), xf.dot(&bx));
    let (zyn, zyf) = (yn.dot(&by), yf.dot(&by));
    // Procrustes: R = argmin ||Zx R - Zy|| over orthogonal R is the polar factor of
    // M = Zx' Zy, i.e. M (M'M)^(-1/2) (= U V' of the SVD of M).
    let m = zxn.t().dot(&zyn);
    let mtm = m.t().dot(&m);
    let scale_m = mtm.norm().max(1e-300);
    let rot = m.dot(&mtm.symmetric_fn(|l| {
        if l > 1e-12 * scale_m {
            1.0 / l.sqrt()
        } else {
            0.0
        }
    }));
    let ax = least_squares(&zxn, &zxf);
    let ay = least_squares(&zyn, &zyf);
    let diff = (&rot.t().dot(&ax).dot(&rot) - &ay).norm();
    let scale = (ax.norm() + ay.norm()) / 2.0;
    if scale == 0.0 { 0.0 } else { diff / scale }
}

/// `argmin_A ||X A - Y||_F` through the pseudo-inverse of X'X (rank-deficient safe).
fn least_squares(x: &Array2<f64>, y: &Array2<f64>) -> Array2<f64> {
    let gram = x.t().dot(x);
    let cut = 1e-12 * gram.norm().max(1e-300);
    let pinv = gram.symmetric_fn(|l| if l > cut { 1.0 / l } else { 0.0 });
    pinv.dot(&x.t()).dot(y)
}

/// Jaccard overlap |A ∩ B| / |A ∪ B| of two sets given as membership masks (1 when both empty).
pub fn jaccard(a: &[bool], b: &[bool]) -> f64 {
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// Fraction of positions where two prediction vectors differ.
pub fn disagreement(a: &[i64], b: &[i64]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
}
