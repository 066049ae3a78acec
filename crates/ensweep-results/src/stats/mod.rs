//! Statistics for seed ensembles: descriptive summaries, bootstrap intervals, hypothesis tests,
//! effect sizes and multiple-comparison corrections.
//!
//! Seeds are few (5-20 per group), so every comparison reports an interval and an effect size
//! next to its p-value. Each function is checked against scipy / statsmodels reference values
//! (tests/scripts/stats_reference.py).

mod bootstrap;
mod correction;
mod effect;
mod hypothesis;

pub use bootstrap::{Bootstrap, CiMethod, Interval};
pub use correction::{benjamini_hochberg, holm};
pub use effect::{cliffs_delta, hedges_g, probability_of_improvement};
pub use hypothesis::{TestResult, mann_whitney_u, welch_t, wilcoxon_signed_rank};

/// Errors of the statistics functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// Not enough observations for the statistic.
    #[error("{what} needs at least {need} observations, got {got}")]
    TooFew {
        /// Which statistic.
        what: &'static str,
        /// Minimum count.
        need: usize,
        /// Count given.
        got: usize,
    },
    /// Paired inputs (or data and strata) differ in length.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// Which statistic.
        what: &'static str,
        /// First length.
        left: usize,
        /// Second length.
        right: usize,
    },
    /// An argument is out of range (confidence level, resample count, NaN data).
    #[error("{0}")]
    Invalid(String),
}

/// Arithmetic mean (NaN for empty input).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance with Bessel's correction (ddof = 1).
pub fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() as f64 - 1.0)
}

/// Sample standard deviation (ddof = 1).
pub fn std_dev(x: &[f64]) -> f64 {
    variance(x).sqrt()
}

/// Interquartile mean: the mean after cutting `floor(n/4)` values from each end.
///
/// Same convention as `scipy.stats.trim_mean(x, 0.25)`, which rliable uses: robust to the odd
/// diverged seed, yet far less noisy than the median for small ensembles.
pub fn iqm(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let cut = v.len() / 4;
    mean(&v[cut..v.len() - cut])
}

/// Percentile with linear interpolation between order statistics (numpy's default method).
/// `sorted` must be ascending; `q` in [0, 1].
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Average ranks (1-based) with ties sharing the mean of their ranks, plus the tie-group sizes.
pub(crate) fn rank_with_ties(x: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        if j > i {
            ties.push(j - i + 1);
        }
        i = j + 1;
    }
    (ranks, ties)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference: scipy 1.17.1 stats.trim_mean(x, 0.25), tests/scripts/stats_reference.py.
    #[test]
    fn iqm_matches_scipy_trim_mean() {
        let a = [0.81, 0.84, 0.79, 0.90, 0.86, 0.83, 0.88, 0.80, 0.85, 0.87];
        assert!((iqm(&a) - 0.8433333333333334).abs() < 1e-12);
        let skew = [
            0.2, 0.5, 0.3, 1.9, 0.4, 0.25, 3.1, 0.6, 0.35, 0.8, 0.45, 1.2, 0.28, 0.52, 0.9,
        ];
        assert!((iqm(&skew) - 0.5355555555555555).abs() < 1e-12);
    }

    #[test]
    fn ranks_average_ties() {
        let (r, t) = rank_with_ties(&[3.0, 1.0, 3.0, 2.0]);
        assert_eq!(r, vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(t, vec![2]);
        assert_eq!(percentile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
    }
}
