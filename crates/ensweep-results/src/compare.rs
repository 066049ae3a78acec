//! Pairwise comparisons of configuration groups on a final metric of the `runs` table: Welch's
//! t, Mann-Whitney U, Hedges' g, Cliff's delta, probability of improvement, each group's IQM with
//! a BCa interval, and Holm / Benjamini-Hochberg corrections over all pairs.

use crate::frames;
use crate::stats::{
    Bootstrap, CiMethod, StatsError, benjamini_hochberg, cliffs_delta, hedges_g, holm, iqm,
    mann_whitney_u, probability_of_improvement, welch_t,
};
use polars::prelude::*;
use std::collections::BTreeMap;

/// One group-vs-group comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupComparison {
    /// Metric compared.
    pub metric: String,
    /// First group.
    pub a: String,
    /// Second group.
    pub b: String,
    /// Seeds in a and b.
    pub n: (usize, usize),
    /// IQM of a with its BCa interval (estimate, low, high).
    pub iqm_a: (f64, f64, f64),
    /// IQM of b with its BCa interval.
    pub iqm_b: (f64, f64, f64),
    /// Hedges' g of a - b.
    pub hedges_g: f64,
    /// Cliff's delta of a vs b.
    pub cliffs_delta: f64,
    /// P(a > b).
    pub prob_improvement: f64,
    /// Welch p-value.
    pub p_welch: f64,
    /// Mann-Whitney p-value.
    pub p_mwu: f64,
    /// Holm-adjusted Mann-Whitney p-value.
    pub p_holm: f64,
    /// Benjamini-Hochberg-adjusted Mann-Whitney p-value.
    pub p_bh: f64,
}

/// Compares every pair of groups on `metric` (runs with a value only; groups with < 2 seeds skipped).
pub fn compare_groups(
    runs: &DataFrame,
    metric: &str,
    boot: &Bootstrap,
) -> Result<Vec<GroupComparison>, PolarsError> {
    let values = frames::f64_by_key(runs, metric)?;
    let mut by_group: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for g in frames::groups(runs)? {
        let v: Vec<f64> = g
            .members
            .iter()
            .filter_map(|(_, k)| values.get(k).copied())
            .filter(|v| v.is_finite())
            .collect();
        if v.len() >= 2 {
            by_group.insert(g.label, v);
        }
    }
    let boot = Bootstrap {
        method: CiMethod::Bca,
        ..*boot
    };
    let iqm_ci = |v: &[f64]| -> (f64, f64, f64) {
        match boot.ci(v, iqm) {
            Ok(i) => (i.estimate, i.low, i.high),
            Err(StatsError::TooFew { .. }) | Err(_) => (iqm(v), f64::NAN, f64::NAN),
        }
    };
    let names: Vec<&String> = by_group.keys().collect();
    let mut out = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let (x, y) = (&by_group[*a], &by_group[*b]);
            let nan = f64::NAN;
            out.push(GroupComparison {
                metric: metric.to_string(),
                a: a.to_string(),
                b: b.to_string(),
                n: (x.len(), y.len()),
                iqm_a: iqm_ci(x),
                iqm_b: iqm_ci(y),
                hedges_g: hedges_g(x, y).unwrap_or(nan),
                cliffs_delta: cliffs_delta(x, y).unwrap_or(nan),
                prob_improvement: probability_of_improvement(x, y).unwrap_or(nan),
                p_welch: welch_t(x, y).map(|t| t.p_value).unwrap_or(nan),
                p_mwu: mann_whitney_u(x, y, true).map(|t| t.p_value).unwrap_or(nan),
                p_holm: nan,
                p_bh: nan,
            });
        }
    }
    let ps: Vec<f64> = out.iter().map(|c| c.p_mwu).collect();
    for ((c, h), b) in out.iter_mut().zip(holm(&ps)).zip(benjamini_hochberg(&ps)) {
        c.p_holm = h;
        c.p_bh = b;
    }
    Ok(out)
}

/// The comparisons as a table.
pub fn comparisons_frame(c: &[GroupComparison]) -> PolarsResult<DataFrame> {
    let col = |f: fn(&GroupComparison) -> f64| c.iter().map(f).collect::<Vec<_>>();
    df!(
        "metric" => c.iter().map(|x| x.metric.as_str()).collect::<Vec<_>>(),
        "group_a" => c.iter().map(|x| x.a.as_str()).collect::<Vec<_>>(),
        "group_b" => c.iter().map(|x| x.b.as_str()).collect::<Vec<_>>(),
        "n_a" => c.iter().map(|x| x.n.0 as u64).collect::<Vec<_>>(),
        "n_b" => c.iter().map(|x| x.n.1 as u64).collect::<Vec<_>>(),
        "iqm_a" => col(|x| x.iqm_a.0),
        "iqm_a_low" => col(|x| x.iqm_a.1),
        "iqm_a_high" => col(|x| x.iqm_a.2),
        "iqm_b" => col(|x| x.iqm_b.0),
        "iqm_b_low" => col(|x| x.iqm_b.1),
        "iqm_b_high" => col(|x| x.iqm_b.2),
        "hedges_g" => col(|x| x.hedges_g),
        "cliffs_delta" => col(|x| x.cliffs_delta),
        "prob_improvement" => col(|x| x.prob_improvement),
        "p_welch" => col(|x| x.p_welch),
        "p_mwu" => col(|x| x.p_mwu),
        "p_holm" => col(|x| x.p_holm),
        "p_bh" => col(|x| x.p_bh)
    )
}
