//! Pairwise diversity metrics between two trained networks of the same configuration.
//!
//! Hidden units have no identity across seeds: a network and any relabelling of its hidden units
//! compute the same function. So weight distances are taken after aligning units (an assignment
//! problem), and representation / dynamics comparisons use measures invariant to orthogonal
//! transforms of the state space (linear CKA; Procrustes-aligned linear operators).

use super::linalg::Mat;
use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

/// Weight matrices of one network, `out x in`, hidden units shared between consecutive layers.
#[derive(Clone, Debug, PartialEq)]
pub enum Net {
    /// A recurrent net: `w_in` (units x inputs), `w_rec` (units x units), `w_out` (outputs x units).
    Rnn {
        /// Input weights.
        w_in: Mat,
        /// Recurrent weights.
        w_rec: Mat,
        /// Readout weights.
        w_out: Mat,
    },
    /// A feed-forward chain `l1, l2, ...`; hidden layer k is the rows of `l(k)`, columns of `l(k+1)`.
    Mlp(Vec<Mat>),
}

impl Net {
    fn matrices(&self) -> Vec<&Mat> {
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

/// Minimum-cost assignment: `perm[i]` is the column matched to row `i` (square cost).
pub fn assignment(cost: &Mat) -> Vec<usize> {
    let n = cost.nrows();
    if n == 0 {
        return Vec::new();
    }
    // kuhn_munkres needs an ordered integer weight; scale to keep ~9 significant digits.
    let max = cost.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-300);
    let scale = 1e9 / max;
    let data: Vec<i64> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| (cost[(i, j)] * scale).round() as i64)
        .collect();
    let m = Matrix::from_vec(n, n, data).expect("square cost matrix");
    kuhn_munkres_min(&m).1
}

fn sq_dist_rows(a: &Mat, i: usize, b: &Mat, j: usize) -> f64 {
    (0..a.ncols())
        .map(|k| (a[(i, k)] - b[(j, k)]).powi(2))
        .sum()
}

fn sq_dist_cols(a: &Mat, i: usize, b: &Mat, j: usize) -> f64 {
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
                let cost = Mat::from_fn(n, n, |i, j| {
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
                w_in: Mat::from_fn(n, bi.ncols(), |i, k| bi[(p[i], k)]),
                w_rec: Mat::from_fn(n, n, |i, j| br[(p[i], p[j])]),
                w_out: Mat::from_fn(bo.nrows(), n, |o, i| bo[(o, p[i])]),
            }
        }
        (Net::Mlp(la), Net::Mlp(lb)) => {
            let mut out: Vec<Mat> = lb.clone();
            for k in 0..la.len().saturating_sub(1) {
                let n = la[k].nrows();
                let (inc_a, inc_b) = (&la[k], &out[k]);
                let (og_a, og_b) = (&la[k + 1], &out[k + 1]);
                let cost = Mat::from_fn(n, n, |i, j| {
                    sq_dist_rows(inc_a, i, inc_b, j) + sq_dist_cols(og_a, i, og_b, j)
                });
                let p = assignment(&cost);
                let rows = Mat::from_fn(n, inc_b.ncols(), |i, c| inc_b[(p[i], c)]);
                let cols = Mat::from_fn(og_b.nrows(), n, |r, i| og_b[(r, p[i])]);
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

fn center_columns(x: &Mat) -> Mat {
    x.center_columns()
}

/// Linear CKA between two representations of the same samples (rows), any widths.
///
/// `||Yc' Xc||_F^2 / (||Xc' Xc||_F ||Yc' Yc||_F)` with column-centred X, Y (Kornblith et al.
/// 2019): 1 for representations equal up to rotation, permutation and isotropic scaling.
pub fn linear_cka(x: &Mat, y: &Mat) -> f64 {
    let (xc, yc) = (center_columns(x), center_columns(y));
    let (xt, yt) = (xc.transpose(), yc.transpose());
    let cross = (&yt * &xc).norm_squared();
    let den = (&xt * &xc).norm() * (&yt * &yc).norm();
    if den == 0.0 { f64::NAN } else { cross / den }
}

/// Delay embedding of each trajectory (steps x units) with `delays` copies, stacked over probes.
/// Returns (current states, next states) for fitting `z_{t+1} = z_t A`.
fn delay_pairs(trajs: &[Mat], delays: usize) -> (Mat, Mat) {
    let units = trajs.first().map(|t| t.ncols()).unwrap_or(0);
    let width = units * delays;
    let mut now = Vec::new();
    let mut next = Vec::new();
    for t in trajs {
        let emb = |s: usize| -> Vec<f64> {
            (0..delays)
                .flat_map(|d| (0..units).map(move |u| (d, u)))
                .map(|(d, u)| t[(s - d, u)])
                .collect()
        };
        for s in delays - 1..t.nrows().saturating_sub(1) {
            now.extend(emb(s));
            next.extend(emb(s + 1));
        }
    }
    let rows = now.len() / width.max(1);
    (
        Mat::from_row_slice(rows, width, &now),
        Mat::from_row_slice(rows, width, &next),
    )
}

/// Leading `rank` principal directions (columns) of the centred rows of `x`.
fn pca_basis(x: &Mat, rank: usize) -> Mat {
    let c = center_columns(x);
    let cov = &c.transpose() * &c;
    let (_, vecs) = cov.symmetric_eigen();
    vecs.columns(0, rank.min(vecs.ncols()))
}

/// DSA-style dynamics distance between two networks' hidden trajectories on the same probes.
///
/// Steps: delay-embed each trajectory (`delays` lags), project onto each network's leading
/// `rank` principal components, align the two projected state spaces with orthogonal Procrustes
/// (same probes, same times), fit each network's linear operator `z_{t+1} = z_t A` by least
/// squares, and return `||R' A_x R - A_y||_F / mean(||A_x||, ||A_y||)`. Zero when one network is
/// a relabelling (or any rotation) of the other. Unlike DSA (Ostrow et al. 2023) the rotation is
/// fitted on the states rather than on the operators alone, which makes it closed-form.
pub fn dynamics_distance(x: &[Mat], y: &[Mat], delays: usize, rank: usize) -> f64 {
    let (xn, xf) = delay_pairs(x, delays);
    let (yn, yf) = delay_pairs(y, delays);
    if xn.nrows() != yn.nrows() || xn.nrows() == 0 {
        return f64::NAN;
    }
    let all_x = xn.stack(&xf);
    let all_y = yn.stack(&yf);
    let (bx, by) = (pca_basis(&all_x, rank), pca_basis(&all_y, rank));
    let r = bx.ncols().min(by.ncols());
    let (bx, by) = (bx.columns(0, r), by.columns(0, r));
    let (zxn, zxf) = (&xn * &bx, &xf * &bx);
    let (zyn, zyf) = (&yn * &by, &yf * &by);
    // Procrustes: R = argmin ||Zx R - Zy|| over orthogonal R is the polar factor of
    // M = Zx' Zy, i.e. M (M'M)^(-1/2) (= U V' of the SVD of M).
    let m = &zxn.transpose() * &zyn;
    let mtm = &m.transpose() * &m;
    let scale_m = mtm.norm().max(1e-300);
    let rot = &m
        * &mtm.symmetric_fn(|l| {
            if l > 1e-12 * scale_m {
                1.0 / l.sqrt()
            } else {
                0.0
            }
        });
    let ax = least_squares(&zxn, &zxf);
    let ay = least_squares(&zyn, &zyf);
    let diff = (&(&(&rot.transpose() * &ax) * &rot) - &ay).norm();
    let scale = (ax.norm() + ay.norm()) / 2.0;
    if scale == 0.0 { 0.0 } else { diff / scale }
}

/// `argmin_A ||X A - Y||_F` through the pseudo-inverse of X'X (rank-deficient safe).
fn least_squares(x: &Mat, y: &Mat) -> Mat {
    let xt = x.transpose();
    let gram = &xt * x;
    let cut = 1e-12 * gram.norm().max(1e-300);
    let pinv = gram.symmetric_fn(|l| if l > cut { 1.0 / l } else { 0.0 });
    &(&pinv * &xt) * y
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
