//! Effect sizes: Hedges' g (standardised mean difference, small-sample corrected), Cliff's
//! delta and the probability of improvement (both rank based, robust to outlying seeds).

use super::{StatsError, mean, variance};
use statrs::function::gamma::ln_gamma;

/// Hedges' g of `a` minus `b`: Cohen's d with pooled SD times the exact correction
/// `J(df) = Γ(df/2) / (sqrt(df/2) Γ((df-1)/2))`, `df = n_a + n_b - 2`.
pub fn hedges_g(a: &[f64], b: &[f64]) -> Result<f64, StatsError> {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    if a.len() < 2 || b.len() < 2 {
        return Err(StatsError::TooFew {
            what: "hedges_g",
            need: 2,
            got: a.len().min(b.len()),
        });
    }
    let df = na + nb - 2.0;
    let sp = (((na - 1.0) * variance(a) + (nb - 1.0) * variance(b)) / df).sqrt();
    let d = (mean(a) - mean(b)) / sp;
    let j = (ln_gamma(df / 2.0) - ln_gamma((df - 1.0) / 2.0)).exp() / (df / 2.0).sqrt();
    Ok(d * j)
}

/// Counts of (a > b, a == b) over all pairs.
fn dominance(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (mut gt, mut eq) = (0.0, 0.0);
    for x in a {
        for y in b {
            if x > y {
                gt += 1.0;
            } else if x == y {
                eq += 1.0;
            }
        }
    }
    (gt, eq)
}

fn check(a: &[f64], b: &[f64], what: &'static str) -> Result<f64, StatsError> {
    if a.is_empty() || b.is_empty() {
        return Err(StatsError::TooFew {
            what,
            need: 1,
            got: 0,
        });
    }
    Ok((a.len() * b.len()) as f64)
}

/// Cliff's delta: P(a > b) - P(a < b) over all pairs, in [-1, 1].
pub fn cliffs_delta(a: &[f64], b: &[f64]) -> Result<f64, StatsError> {
    let n = check(a, b, "cliffs_delta")?;
    let (gt, eq) = dominance(a, b);
    let lt = n - gt - eq;
    Ok((gt - lt) / n)
}

/// Probability of improvement P(a > b) + P(a = b) / 2 (the Mann-Whitney U1 / (n_a n_b)), as in
/// rliable: the chance that a random seed of `a` beats a random seed of `b`.
pub fn probability_of_improvement(a: &[f64], b: &[f64]) -> Result<f64, StatsError> {
    let n = check(a, b, "probability_of_improvement")?;
    let (gt, eq) = dominance(a, b);
    Ok((gt + 0.5 * eq) / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [f64; 10] = [0.81, 0.84, 0.79, 0.90, 0.86, 0.83, 0.88, 0.80, 0.85, 0.87];
    const B: [f64; 12] = [
        0.78, 0.80, 0.82, 0.77, 0.79, 0.81, 0.76, 0.83, 0.80, 0.79, 0.75, 0.84,
    ];

    // Reference: tests/scripts/stats_reference.py (scipy 1.17.1: special.gammaln for J;
    // stats.mannwhitneyu U1 = 102.5 gives delta = 2 U1/(n1 n2) - 1 and PoI = U1/(n1 n2)).
    #[test]
    fn effect_sizes_match_scipy_derived_values() {
        assert!((hedges_g(&A, &B).unwrap() - 1.4634255606629636).abs() < 1e-10);
        assert!((cliffs_delta(&A, &B).unwrap() - 0.7083333333333333).abs() < 1e-12);
        assert!((probability_of_improvement(&A, &B).unwrap() - 0.8541666666666666).abs() < 1e-12);
        assert!(hedges_g(&A, &[1.0]).is_err());
    }
}
