//! Hypothesis tests for seed ensembles: Welch's t (unequal variances), Mann-Whitney U
//! (independent groups, no normality) and Wilcoxon signed-rank (paired by seed: the same seed
//! under two treatments, e.g. two pruning criteria applied to one trained network).

use super::{StatsError, mean, rank_with_ties, variance};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Outcome of a two-sided test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestResult {
    /// Test statistic (t; U1 of the first sample; min(W+, W-)).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Degrees of freedom where the test has them (Welch), else NaN.
    pub df: f64,
}

fn need(what: &'static str, n: usize, got: usize) -> Result<(), StatsError> {
    if got < n {
        return Err(StatsError::TooFew { what, need: n, got });
    }
    Ok(())
}

fn normal_sf(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// Welch's two-sample t-test (as `scipy.stats.ttest_ind(a, b, equal_var=False)`).
pub fn welch_t(a: &[f64], b: &[f64]) -> Result<TestResult, StatsError> {
    need("welch_t", 2, a.len().min(b.len()))?;
    let (va, vb) = (variance(a) / a.len() as f64, variance(b) / b.len() as f64);
    let t = (mean(a) - mean(b)) / (va + vb).sqrt();
    let df =
        (va + vb).powi(2) / (va * va / (a.len() as f64 - 1.0) + vb * vb / (b.len() as f64 - 1.0));
    let dist =
        StudentsT::new(0.0, 1.0, df).map_err(|e| StatsError::Invalid(format!("welch_t: {e}")))?;
    Ok(TestResult {
        statistic: t,
        p_value: (2.0 * dist.sf(t.abs())).min(1.0),
        df,
    })
}

/// Mann-Whitney U, normal approximation with tie correction (as `scipy.stats.mannwhitneyu(...,
/// method="asymptotic")`); `continuity` applies the 0.5 continuity correction.
pub fn mann_whitney_u(a: &[f64], b: &[f64], continuity: bool) -> Result<TestResult, StatsError> {
    need("mann_whitney_u", 1, a.len().min(b.len()))?;
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let all: Vec<f64> = a.iter().chain(b).copied().collect();
    let (ranks, ties) = rank_with_ties(&all);
    let r1: f64 = ranks[..a.len()].iter().sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let u = u1.max(n1 * n2 - u1);
    let n = n1 + n2;
    let tie: f64 = ties.iter().map(|&t| (t as f64).powi(3) - t as f64).sum();
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - tie / (n * (n - 1.0)))).sqrt();
    let mut num = u - n1 * n2 / 2.0;
    if continuity {
        num -= 0.5;
    }
    let p = if s > 0.0 {
        (2.0 * normal_sf(num / s)).min(1.0)
    } else {
        1.0
    };
    Ok(TestResult {
        statistic: u1,
        p_value: p,
        df: f64::NAN,
    })
}

/// Wilcoxon signed-rank test on paired samples, zero differences dropped (`zero_method="wilcox"`).
///
/// With no ties and at most 50 non-zero pairs the p-value is exact (the null distribution of
/// W+ by dynamic programming), otherwise the tie-corrected normal approximation is used, with
/// an optional continuity correction. Same choices as scipy's `method="auto"`.
pub fn wilcoxon_signed_rank(
    x: &[f64],
    y: &[f64],
    continuity: bool,
) -> Result<TestResult, StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            what: "wilcoxon_signed_rank",
            left: x.len(),
            right: y.len(),
        });
    }
    let d: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(a, b)| a - b)
        .filter(|d| *d != 0.0)
        .collect();
    need("wilcoxon_signed_rank (non-zero differences)", 1, d.len())?;
    let abs: Vec<f64> = d.iter().map(|v| v.abs()).collect();
    let (ranks, ties) = rank_with_ties(&abs);
    let r_plus: f64 = d
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let n = d.len() as f64;
    let r_minus = n * (n + 1.0) / 2.0 - r_plus;
    let w = r_plus.min(r_minus);
    let p = if ties.is_empty() && d.len() <= 50 {
        exact_signed_rank_p(d.len(), w)
    } else {
        let mn = n * (n + 1.0) / 4.0;
        let tie: f64 = ties.iter().map(|&t| (t as f64).powi(3) - t as f64).sum();
        let se = (n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - tie / 48.0).sqrt();
        let mut dev = r_plus - mn;
        if continuity {
            dev -= 0.5 * dev.signum();
        }
        (2.0 * normal_sf(dev.abs() / se)).min(1.0)
    };
    Ok(TestResult {
        statistic: w,
        p_value: p,
        df: f64::NAN,
    })
}

/// Two-sided exact p-value `2 P(W+ <= w)` for `n` untied ranks.
fn exact_signed_rank_p(n: usize, w: f64) -> f64 {
    let max = n * (n + 1) / 2;
    // counts[s] = number of subsets of {1..n} summing to s
    let mut counts = vec![0f64; max + 1];
    counts[0] = 1.0;
    for k in 1..=n {
        for s in (k..=max).rev() {
            counts[s] += counts[s - k];
        }
    }
    let total = 2f64.powi(n as i32);
    let upto = w.floor() as usize;
    let cdf: f64 = counts[..=upto.min(max)].iter().sum::<f64>() / total;
    (2.0 * cdf).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [f64; 10] = [0.81, 0.84, 0.79, 0.90, 0.86, 0.83, 0.88, 0.80, 0.85, 0.87];
    const B: [f64; 12] = [
        0.78, 0.80, 0.82, 0.77, 0.79, 0.81, 0.76, 0.83, 0.80, 0.79, 0.75, 0.84,
    ];

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    // All references: scipy 1.17.1, tests/scripts/stats_reference.py.
    #[test]
    fn welch_matches_scipy_ttest_ind() {
        let r = welch_t(&A, &B).unwrap();
        close(r.statistic, 3.465195599568991, 1e-10);
        close(r.df, 16.67132356643385, 1e-9);
        close(r.p_value, 0.003030759660102759, 1e-9);
    }

    #[test]
    fn mann_whitney_matches_scipy_asymptotic() {
        let r = mann_whitney_u(&A, &B, true).unwrap();
        close(r.statistic, 102.5, 1e-12);
        close(r.p_value, 0.0054688074611544376, 1e-10);
        let r = mann_whitney_u(&A, &B, false).unwrap();
        close(r.p_value, 0.0049370785869438626, 1e-10);
    }

    #[test]
    fn wilcoxon_exact_matches_scipy() {
        let x = [1.83, 2.10, 1.95, 2.40, 2.02, 1.77, 2.21, 2.05];
        let y = [1.70, 2.15, 1.80, 2.01, 1.99, 1.79, 1.90, 1.86];
        let r = wilcoxon_signed_rank(&x, &y, false).unwrap();
        close(r.statistic, 4.0, 0.0);
        close(r.p_value, 0.0546875, 1e-12);
    }

    #[test]
    fn wilcoxon_approx_with_ties_and_zero_matches_scipy() {
        let x = [3.0, 2.5, 4.0, 3.5, 2.0, 5.0, 3.0, 4.5, 2.5, 3.0, 4.0, 3.5];
        let y = [2.0, 2.5, 3.0, 2.5, 2.5, 4.0, 2.0, 3.5, 2.0, 2.0, 3.5, 4.0];
        let r = wilcoxon_signed_rank(&x, &y, false).unwrap();
        close(r.statistic, 5.0, 0.0);
        close(r.p_value, 0.01002740743087652, 1e-10);
        let r = wilcoxon_signed_rank(&x, &y, true).unwrap();
        close(r.p_value, 0.011441974423335222, 1e-10);
        assert!(wilcoxon_signed_rank(&x, &y[..3], false).is_err());
    }
}
