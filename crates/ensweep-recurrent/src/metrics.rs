//! Metrics shared by every recurrent net: target-output distances, the eigen-spectrum summary
//! and dynamics class, weight statistics, pruning masks and compact trajectories.

use crate::linalg::eigenvalues;
use ensweep_core::output::{SpectrumRow, Values};
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;
use std::collections::BTreeMap;

/// Eigenvalues with modulus above this count as outside the unit circle (an orthogonal matrix
/// has all moduli at 1 up to rounding).
pub const OUTSIDE_TOL: f64 = 1.001;

/// Dynamics class codes stored in the `dynamics_class` scalar.
pub mod dynamics {
    /// Fixed-point solution: dominant eigenvalue real (or none outside the circle) and no
    /// oscillation in the activity.
    pub const FIXED_POINT: f64 = 0.0;
    /// Oscillatory: dominant eigenvalue a complex pair and oscillating activity.
    pub const OSCILLATORY: f64 = 1.0;
    /// Mixed: the eigen criterion and the activity criterion disagree.
    pub const MIXED: f64 = 2.0;
}

/// Scalars (and per-layer values) that hold a yes/no flag as 1/0 rather than a quantity.
pub const FLAGS: &[&str] = &[
    "success",
    "lead_complex",
    "activity_oscillates",
    "stochastic",
    "reached_threshold",
    "matched_loss",
];

/// The word for a categorical value, for people to read: flags as `yes`/`no`,
/// `dynamics_class` and `stop_reason` codes by name. The tables keep the numbers (they sort,
/// filter and average); this is the one place that says what the numbers mean. `None` for
/// quantities and for values that are no code of the category.
pub fn category_word(name: &str, value: f64) -> Option<&'static str> {
    let words: &[&str] = match name {
        "dynamics_class" => &["fixed point", "oscillatory", "mixed"],
        "stop_reason" => &["epoch budget", "loss threshold"],
        n if FLAGS.contains(&n) => &["no", "yes"],
        _ => return None,
    };
    let code = (value.fract() == 0.0 && value >= 0.0).then_some(value as usize)?;
    words.get(code).copied()
}

/// Euclidean distance between target and output over the masked steps of each trial of a
/// time-major batch (`[t][b][k]`): sqrt(sum_t,k mask (y - y*)^2).
pub fn distances(
    y: &[f32],
    target: &[f32],
    mask: &[f32],
    t: usize,
    b: usize,
    k: usize,
) -> Vec<f64> {
    let mut d = vec![0.0f64; b];
    for s in 0..t {
        for (j, dj) in d.iter_mut().enumerate() {
            let m = mask[s * b + j] as f64;
            if m == 0.0 {
                continue;
            }
            for c in 0..k {
                let i = (s * b + j) * k + c;
                let e = (y[i] - target[i]) as f64;
                *dj += m * e * e;
            }
        }
    }
    d.iter().map(|v| v.sqrt()).collect()
}

/// Mean and population standard deviation: the trainers' one helper, named here too because
/// the tanh trainer's analyses call it as `metrics::mean_std`.
pub use ensweep_trainkit::stats::mean_std;

/// Mean of `values` per condition label.
pub fn per_condition(values: &[f64], conditions: &[String]) -> BTreeMap<String, f64> {
    let mut acc: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for (v, c) in values.iter().zip(conditions) {
        let e = acc.entry(c.clone()).or_default();
        e.0 += v;
        e.1 += 1;
    }
    acc.into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect()
}

/// Summary of a spectrum.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectrumSummary {
    /// All eigenvalues (re, im).
    pub eig: Vec<(f64, f64)>,
    /// Count with |lambda| > [`OUTSIDE_TOL`].
    pub outside: usize,
    /// Spectral radius.
    pub radius: f64,
    /// Leading eigenvalue (largest modulus; the member with im >= 0 of a complex pair).
    pub lead: (f64, f64),
    /// Eigenvalue with the largest real part.
    pub max_re: (f64, f64),
    /// Frequency proxy |Im| / (pi |Re|) of the leading eigenvalue (Jarne & Laje).
    pub freq_proxy: f64,
}

impl SpectrumSummary {
    /// Whether the leading eigenvalue is a complex pair (|Im| above 1e-6 relative).
    pub fn lead_is_complex(&self) -> bool {
        self.lead.1.abs() > 1e-6 * (1.0 + self.lead.0.abs())
    }
}

/// Eigen-spectrum of a row-major `n x n` matrix and its summary.
pub fn spectrum(w: &[f32], n: usize) -> SpectrumSummary {
    let eig = eigenvalues(w, n);
    let modulus = |e: &(f64, f64)| e.0.hypot(e.1);
    let outside = eig.iter().filter(|e| modulus(e) > OUTSIDE_TOL).count();
    let lead = eig
        .iter()
        .copied()
        .max_by(|a, b| {
            (modulus(a), a.1)
                .partial_cmp(&(modulus(b), b.1))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or((0.0, 0.0));
    let max_re = eig
        .iter()
        .copied()
        .max_by(|a, b| {
            (a.0, a.1)
                .partial_cmp(&(b.0, b.1))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or((0.0, 0.0));
    let freq_proxy = if lead.0 == 0.0 {
        f64::INFINITY
    } else {
        lead.1.abs() / (std::f64::consts::PI * lead.0.abs())
    };
    SpectrumSummary {
        radius: modulus(&lead),
        eig,
        outside,
        lead,
        max_re,
        freq_proxy,
    }
}

/// Rows of the `spectra` table for one matrix.
pub fn spectrum_rows(name: &str, s: &SpectrumSummary) -> Vec<SpectrumRow> {
    s.eig
        .iter()
        .map(|&(re, im)| SpectrumRow {
            matrix: name.to_string(),
            re,
            im,
        })
        .collect()
}

/// Whether hidden activity oscillates: the projection of the second half of the trajectory on
/// its first principal axis crosses its mean at least 4 times (two full cycles) with an
/// amplitude above 0.01 per unit (so that numerical jitter around a fixed point does not count).
pub fn activity_oscillates(traj: &[f32], steps: usize, units: usize) -> bool {
    if steps < 8 {
        return false;
    }
    let half = &traj[(steps / 2) * units..steps * units];
    let rows = steps - steps / 2;
    let pc = first_pc_scores(half, rows, units);
    let m = pc.iter().sum::<f64>() / rows as f64;
    let scale = pc.iter().map(|v| (v - m).abs()).fold(0.0, f64::max);
    if scale < 0.01 * (units as f64).sqrt() {
        return false;
    }
    let mut crossings = 0;
    for w in pc.windows(2) {
        if (w[0] - m) * (w[1] - m) < 0.0 {
            crossings += 1;
        }
    }
    crossings >= 4
}

/// Scores of the rows of a `rows x cols` matrix on its first principal axis (power iteration on
/// the column covariance).
pub fn first_pc_scores(x: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    let mean: Vec<f64> = (0..cols)
        .map(|j| (0..rows).map(|i| x[i * cols + j] as f64).sum::<f64>() / rows as f64)
        .collect();
    let c = |i: usize, j: usize| x[i * cols + j] as f64 - mean[j];
    let mut v: Vec<f64> = (0..cols).map(|j| 1.0 + 0.01 * j as f64).collect();
    for _ in 0..50 {
        let s: Vec<f64> = (0..rows)
            .map(|i| (0..cols).map(|j| c(i, j) * v[j]).sum())
            .collect();
        let mut nv = vec![0.0; cols];
        for (i, si) in s.iter().enumerate() {
            for (j, nvj) in nv.iter_mut().enumerate() {
                *nvj += c(i, j) * si;
            }
        }
        let norm = nv.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        v = nv.into_iter().map(|a| a / norm).collect();
    }
    (0..rows)
        .map(|i| (0..cols).map(|j| c(i, j) * v[j]).sum())
        .collect()
}

/// Fraction of variance explained by the top `k` principal components of a `rows x cols`
/// activity matrix (eigenvalues of the covariance via nalgebra's symmetric solver).
pub fn pca_explained(x: &[f32], rows: usize, cols: usize, k: usize) -> f64 {
    let mean: Vec<f64> = (0..cols)
        .map(|j| (0..rows).map(|i| x[i * cols + j] as f64).sum::<f64>() / rows.max(1) as f64)
        .collect();
    let mut cov = nalgebra::DMatrix::<f64>::zeros(cols, cols);
    for i in 0..rows {
        for a in 0..cols {
            let da = x[i * cols + a] as f64 - mean[a];
            if da == 0.0 {
                continue;
            }
            for b in a..cols {
                cov[(a, b)] += da * (x[i * cols + b] as f64 - mean[b]);
            }
        }
    }
    for a in 0..cols {
        for b in 0..a {
            cov[(a, b)] = cov[(b, a)];
        }
    }
    let mut ev: Vec<f64> = cov
        .symmetric_eigenvalues()
        .iter()
        .map(|v| v.max(0.0))
        .collect();
    ev.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
    let total: f64 = ev.iter().sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    ev.iter().take(k).sum::<f64>() / total
}

/// Dynamics class from the eigen criterion (the leading eigenvalue lies outside the unit circle
/// and is complex with |arg| >= `min_angle`, i.e. it would rotate fast enough to matter within
/// a trial; callers pass 2 pi * 2 / steps, two cycles per trial) and the activity criterion;
/// see [`dynamics`] for the codes.
pub fn dynamics_class(s: &SpectrumSummary, oscillating_activity: bool, min_angle: f64) -> f64 {
    let angle = s.lead.1.atan2(s.lead.0).abs();
    let eigen_osc = s.radius > OUTSIDE_TOL && s.lead_is_complex() && angle >= min_angle;
    match (eigen_osc, oscillating_activity) {
        (false, false) => dynamics::FIXED_POINT,
        (true, true) => dynamics::OSCILLATORY,
        _ => dynamics::MIXED,
    }
}

/// Mean, std, std * sqrt(N), fractions beyond +-0.001 of a weight matrix.
pub fn weight_stats(w: &[f32], n_cols: usize) -> Values {
    let v: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    let (m, s) = mean_std(&v);
    let mut out = Values::new();
    out.insert("mean".into(), m);
    out.insert("std".into(), s);
    out.insert("std_sqrt_fanin".into(), s * (n_cols as f64).sqrt());
    out.insert("frac_pos".into(), frac(&v, |x| x > 1e-3));
    out.insert("frac_neg".into(), frac(&v, |x| x < -1e-3));
    out
}

fn frac(v: &[f64], f: impl Fn(f64) -> bool) -> f64 {
    v.iter().filter(|&&x| f(x)).count() as f64 / v.len().max(1) as f64
}

/// Frobenius norm of a - b.
pub fn fro_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// How connections are chosen for removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prune {
    /// The fraction of smallest |w| (both signs).
    Magnitude,
    /// Positive weights below the both-sign threshold of the same fraction.
    MagnitudePos,
    /// Negative weights above minus that threshold.
    MagnitudeNeg,
    /// A uniformly random subset of that fraction.
    Random,
}

impl Prune {
    /// Name used in the `pruning` table.
    pub fn name(self) -> &'static str {
        match self {
            Prune::Magnitude => "magnitude",
            Prune::MagnitudePos => "magnitude_pos",
            Prune::MagnitudeNeg => "magnitude_neg",
            Prune::Random => "random",
        }
    }
}

/// Indices of `w` to zero for `fraction` under `criterion` (the threshold rule of Jarne &
/// Laje: entries with |w| below the `fraction` quantile of |w|; one-sign variants keep the
/// threshold of the both-sign rule, so they remove fewer connections).
pub fn prune_indices(w: &[f32], fraction: f64, criterion: Prune, rng: &mut Pcg64Mcg) -> Vec<usize> {
    let count = ((fraction * w.len() as f64).round() as usize).min(w.len());
    if count == 0 {
        return Vec::new();
    }
    match criterion {
        Prune::Random => {
            let mut idx: Vec<usize> = (0..w.len()).collect();
            idx.shuffle(rng);
            idx.truncate(count);
            idx
        }
        _ => {
            let mut idx: Vec<usize> = (0..w.len()).collect();
            idx.sort_by(|&a, &b| {
                w[a].abs()
                    .partial_cmp(&w[b].abs())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            idx.truncate(count);
            match criterion {
                Prune::MagnitudePos => idx.retain(|&i| w[i] > 0.0),
                Prune::MagnitudeNeg => idx.retain(|&i| w[i] < 0.0),
                _ => {}
            }
            idx
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categorical_values_read_as_words_and_quantities_do_not() {
        let word = |n, v| category_word(n, v);
        assert_eq!(word("success", 1.0), Some("yes"));
        assert_eq!(word("stochastic", 0.0), Some("no"));
        assert_eq!(
            word("dynamics_class", dynamics::FIXED_POINT),
            Some("fixed point")
        );
        assert_eq!(
            word("dynamics_class", dynamics::OSCILLATORY),
            Some("oscillatory")
        );
        assert_eq!(word("dynamics_class", dynamics::MIXED), Some("mixed"));
        assert_eq!(word("stop_reason", 1.0), Some("loss threshold"));
        // Not a code of the category (a mean over runs, NaN, out of range): stays a number.
        for v in [0.5, f64::NAN, 3.0, -1.0] {
            assert_eq!(word("dynamics_class", v), None, "{v}");
        }
        assert_eq!(word("train_loss", 1.0), None);
    }
    use rand::SeedableRng;

    #[test]
    fn spectrum_summary_of_scaled_rotation_plus_real_outlier() {
        // block diag: 1.2 * rotation(0.5 rad), and 0.5
        let (c, s) = (1.2 * 0.5f32.cos(), 1.2 * 0.5f32.sin());
        let w = [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 0.5];
        let sum = spectrum(&w, 3);
        assert_eq!(sum.outside, 2);
        assert!((sum.radius - 1.2).abs() < 1e-5);
        assert!(sum.lead.1 > 0.0 && sum.lead_is_complex());
        let want = (0.5f64).tan() / std::f64::consts::PI;
        assert!((sum.freq_proxy - want).abs() < 1e-4);
        assert_eq!(dynamics_class(&sum, true, 0.1), dynamics::OSCILLATORY);
        assert_eq!(dynamics_class(&sum, false, 0.1), dynamics::MIXED);
        assert_eq!(dynamics_class(&sum, false, 0.6), dynamics::FIXED_POINT);
    }

    #[test]
    fn pruning_thresholds_and_counts() {
        let w = [
            0.5f32, -0.01, 0.02, -0.3, 0.001, -0.002, 0.9, -0.8, 0.04, -0.05,
        ];
        let mut rng = Pcg64Mcg::seed_from_u64(0);
        let mut m = prune_indices(&w, 0.4, Prune::Magnitude, &mut rng);
        m.sort();
        assert_eq!(m, vec![1, 2, 4, 5]);
        let mut p = prune_indices(&w, 0.4, Prune::MagnitudePos, &mut rng);
        p.sort();
        assert_eq!(p, vec![2, 4]);
        assert_eq!(prune_indices(&w, 0.4, Prune::Random, &mut rng).len(), 4);
        let d = distances(
            &[1.0, 0.0, 3.0, 0.0],
            &[0.0, 0.0, 0.0, 0.0],
            &[1.0, 1.0, 1.0, 0.0],
            2,
            2,
            1,
        );
        assert!((d[0] - 10f64.sqrt()).abs() < 1e-12 && d[1] == 0.0);
    }

    #[test]
    fn oscillation_detector_and_pca() {
        let (steps, units) = (200, 3);
        let mut osc = vec![0.0f32; steps * units];
        let mut ramp = vec![0.0f32; steps * units];
        for t in 0..steps {
            let ph = t as f32 * 0.3;
            osc[t * 3] = ph.sin();
            osc[t * 3 + 1] = ph.cos() * 0.5;
            ramp[t * 3] = t as f32 * 0.01;
            ramp[t * 3 + 2] = -(t as f32) * 0.02;
        }
        assert!(activity_oscillates(&osc, steps, units));
        assert!(!activity_oscillates(&ramp, steps, units));
        assert!((pca_explained(&ramp, steps, units, 1) - 1.0).abs() < 1e-9);
        assert!((pca_explained(&osc, steps, units, 2) - 1.0).abs() < 1e-9);
    }
}
