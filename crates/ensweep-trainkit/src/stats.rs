//! The one statistics helper the trainers use for their `*_std` columns, so that a `_std`
//! means the same thing whichever trainer wrote it (docs/SCHEMA.md, "Standard deviations").
//!
//! Every trainer `_std` is the spread of the repeats *inside one run* (noise draws, sampled
//! networks, perturbation repeats, test trials): the population standard deviation of the values
//! at hand (ddof = 0), the spread of exactly these repeats rather than an estimate for a wider
//! population. Spreads *across seeds* are `ensweep-results`' business (`stats::std_dev`, the
//! sample standard deviation, with bootstrap intervals).

/// Mean and population standard deviation (ddof = 0) of `v`: `(NaN, NaN)` for no values,
/// a standard deviation of 0 for one.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_std_with_its_edge_cases() {
        // numpy: np.std([2, 4, 4, 4, 5, 5, 7, 9]) == 2.0 (ddof = 0).
        assert_eq!(
            mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
            (5.0, 2.0)
        );
        assert_eq!(mean_std(&[0.25]), (0.25, 0.0));
        let (m, s) = mean_std(&[]);
        assert!(m.is_nan() && s.is_nan());
    }
}
