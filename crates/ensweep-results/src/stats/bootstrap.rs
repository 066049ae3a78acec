//! Seeded bootstrap confidence intervals: percentile and BCa, optionally stratified by group.
//!
//! Stratified resampling keeps each group's size fixed (resampling seeds within each
//! configuration), which is what an aggregate over several configurations needs: a plain
//! bootstrap would let one configuration dominate a resample by chance. The random stream comes
//! from `RunSeed::from_u64(seed).rng("bootstrap")`, so an interval is a pure function of its
//! inputs and seed.

use super::{StatsError, mean, percentile_sorted};
use ensweep_core::seed::RunSeed;
use rand::RngExt;
use statrs::distribution::{ContinuousCDF, Normal};
use std::collections::BTreeMap;

/// How the interval is read off the bootstrap distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CiMethod {
    /// Plain percentiles of the bootstrap distribution.
    Percentile,
    /// Bias-corrected and accelerated (Efron 1987): corrects for skew and median bias, the
    /// better choice for small, skewed seed samples.
    Bca,
}

/// Bootstrap settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples.
    pub resamples: usize,
    /// Confidence level, e.g. 0.95.
    pub confidence: f64,
    /// Seed of the resampling stream.
    pub seed: u64,
    /// Interval method.
    pub method: CiMethod,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self {
            resamples: 2000,
            confidence: 0.95,
            seed: 0,
            method: CiMethod::Bca,
        }
    }
}

impl Bootstrap {
    /// 1,000 percentile resamples at 95 %, seed 0: the bands and intervals of the analyses
    /// and the report (cheap enough for a band at every curve point).
    pub fn percentile_bands() -> Self {
        Self {
            resamples: 1000,
            confidence: 0.95,
            seed: 0,
            method: CiMethod::Percentile,
        }
    }
}

/// A point estimate with its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The statistic on the original sample.
    pub estimate: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Bootstrap {
    /// Interval of `stat` over `data` (one stratum).
    pub fn ci<F: Fn(&[f64]) -> f64>(&self, data: &[f64], stat: F) -> Result<Interval, StatsError> {
        let strata = vec![0usize; data.len()];
        self.ci_stratified(data, &strata, stat)
    }

    /// Interval of the mean, the most common case.
    pub fn ci_mean(&self, data: &[f64]) -> Result<Interval, StatsError> {
        self.ci(data, mean)
    }

    /// Interval of `stat` over `data`, resampling within each stratum (`strata[i]` is the
    /// group label of `data[i]`). The statistic sees the resample in stratum order.
    pub fn ci_stratified<F: Fn(&[f64]) -> f64>(
        &self,
        data: &[f64],
        strata: &[usize],
        stat: F,
    ) -> Result<Interval, StatsError> {
        if data.len() != strata.len() {
            return Err(StatsError::LengthMismatch {
                what: "bootstrap strata",
                left: data.len(),
                right: strata.len(),
            });
        }
        if data.len() < 2 {
            return Err(StatsError::TooFew {
                what: "bootstrap",
                need: 2,
                got: data.len(),
            });
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) || self.resamples < 10 {
            return Err(StatsError::Invalid(format!(
                "bootstrap: confidence {} must be in (0, 1) and resamples {} >= 10",
                self.confidence, self.resamples
            )));
        }
        if data.iter().any(|v| v.is_nan()) {
            return Err(StatsError::Invalid("bootstrap: data contains NaN".into()));
        }
        let mut groups: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for (v, s) in data.iter().zip(strata) {
            groups.entry(*s).or_default().push(*v);
        }
        let ordered: Vec<f64> = groups.values().flatten().copied().collect();
        let estimate = stat(&ordered);
        let mut rng = RunSeed::from_u64(self.seed).rng("bootstrap");
        let mut buf = Vec::with_capacity(data.len());
        let mut dist = Vec::with_capacity(self.resamples);
        for _ in 0..self.resamples {
            buf.clear();
            for g in groups.values() {
                for _ in 0..g.len() {
                    buf.push(g[rng.random_range(0..g.len())]);
                }
            }
            dist.push(stat(&buf));
        }
        dist.sort_by(f64::total_cmp);
        let alpha = (1.0 - self.confidence) / 2.0;
        let (qlo, qhi) = match self.method {
            CiMethod::Percentile => (alpha, 1.0 - alpha),
            CiMethod::Bca => bca_levels(&dist, estimate, &ordered, &stat, alpha),
        };
        Ok(Interval {
            estimate,
            low: percentile_sorted(&dist, qlo),
            high: percentile_sorted(&dist, qhi),
        })
    }
}

/// BCa-adjusted percentile levels: bias `z0` from the share of resamples below the estimate
/// (ties count half, as scipy), acceleration from the jackknife.
fn bca_levels<F: Fn(&[f64]) -> f64>(
    sorted_dist: &[f64],
    estimate: f64,
    data: &[f64],
    stat: &F,
    alpha: f64,
) -> (f64, f64) {
    let normal = Normal::standard();
    let b = sorted_dist.len() as f64;
    let below = sorted_dist.iter().filter(|v| **v < estimate).count() as f64;
    let at_or_below = sorted_dist.iter().filter(|v| **v <= estimate).count() as f64;
    let frac = ((below + at_or_below) / (2.0 * b)).clamp(1.0 / b, 1.0 - 1.0 / b);
    let z0 = normal.inverse_cdf(frac);
    let mut jack = Vec::with_capacity(data.len());
    let mut buf = Vec::with_capacity(data.len());
    for i in 0..data.len() {
        buf.clear();
        buf.extend(
            data.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, v)| *v),
        );
        jack.push(stat(&buf));
    }
    let jm = mean(&jack);
    let num: f64 = jack.iter().map(|t| (jm - t).powi(3)).sum();
    let den: f64 = jack.iter().map(|t| (jm - t).powi(2)).sum::<f64>().powf(1.5);
    let a = if den > 0.0 { num / (6.0 * den) } else { 0.0 };
    let adjust = |z: f64| normal.cdf(z0 + (z0 + z) / (1.0 - a * (z0 + z)));
    let (zl, zh) = (normal.inverse_cdf(alpha), normal.inverse_cdf(1.0 - alpha));
    (adjust(zl), adjust(zh))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKEW: [f64; 15] = [
        0.2, 0.5, 0.3, 1.9, 0.4, 0.25, 3.1, 0.6, 0.35, 0.8, 0.45, 1.2, 0.28, 0.52, 0.9,
    ];

    fn boot(method: CiMethod, seed: u64) -> Bootstrap {
        Bootstrap {
            resamples: 20000,
            confidence: 0.95,
            seed,
            method,
        }
    }

    // Reference: scipy 1.17.1 stats.bootstrap((SKEW,), np.mean, n_resamples=200000,
    // method=..., rng=default_rng(1)), tests/scripts/stats_reference.py:
    // percentile [0.45866666666666667, 1.21], BCa [0.51, 1.3673333333333335].
    // Different random streams, so the endpoints agree to Monte Carlo error (~0.02), not exactly.
    #[test]
    fn intervals_agree_with_scipy_bootstrap() {
        let p = boot(CiMethod::Percentile, 3).ci_mean(&SKEW).unwrap();
        assert!((p.low - 0.45866666666666667).abs() < 0.02, "{p:?}");
        assert!((p.high - 1.21).abs() < 0.03, "{p:?}");
        let b = boot(CiMethod::Bca, 3).ci_mean(&SKEW).unwrap();
        assert!((b.low - 0.51).abs() < 0.02, "{b:?}");
        assert!((b.high - 1.3673333333333335).abs() < 0.04, "{b:?}");
        // BCa shifts the interval right for this right-skewed sample, as scipy's does.
        assert!(b.low > p.low && b.high > p.high);
        assert!((p.estimate - mean(&SKEW)).abs() < 1e-15);
    }

    #[test]
    fn seeded_bootstrap_is_reproducible() {
        let a = boot(CiMethod::Bca, 11).ci_mean(&SKEW).unwrap();
        let b = boot(CiMethod::Bca, 11).ci_mean(&SKEW).unwrap();
        let c = boot(CiMethod::Bca, 12).ci_mean(&SKEW).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn stratified_resampling_keeps_group_sizes() {
        // Two strata with constant values: every stratified resample has the same mean, so the
        // interval collapses to the estimate; an unstratified one would not.
        let data = [1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0];
        let strata = [0, 0, 0, 1, 1, 1, 1];
        let b = boot(CiMethod::Percentile, 1);
        let s = b.ci_stratified(&data, &strata, mean).unwrap();
        assert!((s.low - s.high).abs() < 1e-12 && (s.low - 23.0 / 7.0).abs() < 1e-12);
        let u = b.ci(&data, mean).unwrap();
        assert!(u.high - u.low > 1.0);
        assert!(b.ci_stratified(&data, &strata[..2], mean).is_err());
    }
}
