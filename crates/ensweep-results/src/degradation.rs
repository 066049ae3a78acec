//! Degradation under pruning: curves per group with bootstrap bands, per-seed areas under the
//! curve, paired-by-seed comparisons of criteria against `random`, and threshold crossings.
//!
//! Each seed is pruned by every criterion, so criteria are compared *within* a seed (Wilcoxon
//! signed-rank on AUC differences): seed-to-seed variation in the trained network cancels out.
//!
//! A criterion `X` whose sweep also has `X_random` ([`matched_control`]) is compared with that
//! control instead: its fractions count a set of its own (sas_rnn's `important`: fractions of
//! the important set, `random`: of the layer), and `X_random` removes as many random
//! connections at each fraction, so only the two of them share an axis.

use crate::frames::{self, Group};
use crate::selection::{GroupSelection, Include, select_groups};
use crate::stats::{Bootstrap, StatsError, holm, mean, std_dev, wilcoxon_signed_rank};
use crate::tables::{TablesError, read_table};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Errors of the degradation analysis.
#[derive(Debug, thiserror::Error)]
pub enum DegradationError {
    /// Reading a table failed.
    #[error(transparent)]
    Tables(#[from] TablesError),
    /// A column was missing or mistyped.
    #[error("degradation: {0}")]
    Polars(#[from] PolarsError),
    /// A statistic failed.
    #[error("degradation: {0}")]
    Stats(#[from] StatsError),
    /// The pruning table has no usable metric column.
    #[error("degradation: pruning table has no metric column `{0}`")]
    NoMetric(String),
}

/// Settings of the analysis.
#[derive(Clone, Debug)]
pub struct DegradationOptions {
    /// Value column of the pruning table (`None`: `test_acc`, else the first value column).
    pub metric: Option<String>,
    /// Criterion every other criterion is compared with.
    pub baseline: String,
    /// Drop from the unpruned value (fraction 0) that counts as "crossed".
    pub drop: f64,
    /// Bootstrap of bands and intervals.
    pub bootstrap: Bootstrap,
    /// Which nets' curves are used (default: those that met their training criterion).
    pub include: Include,
}

impl Default for DegradationOptions {
    fn default() -> Self {
        Self {
            metric: None,
            baseline: "random".into(),
            drop: 0.1,
            bootstrap: Bootstrap::percentile_bands(),
            include: Include::Criterion,
        }
    }
}

/// One point of a group's mean curve.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    /// Group label.
    pub group: String,
    /// Pruned layer.
    pub layer: String,
    /// Criterion.
    pub criterion: String,
    /// Removed fraction.
    pub fraction: f64,
    /// Seeds at this point.
    pub n: usize,
    /// Mean over seeds.
    pub mean: f64,
    /// Lower bootstrap bound of the mean.
    pub low: f64,
    /// Upper bootstrap bound of the mean.
    pub high: f64,
}

/// Per-seed summary of one curve.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedCurve {
    /// Group label.
    pub group: String,
    /// Pruned layer.
    pub layer: String,
    /// Criterion.
    pub criterion: String,
    /// Replicate seed.
    pub replicate: u64,
    /// Trapezoidal area under the metric-vs-fraction curve.
    pub auc: f64,
    /// Smallest fraction (linearly interpolated) at which the metric has moved `drop` away from
    /// its unpruned value in the bad direction; NaN when it never does.
    pub crossing: f64,
}

/// A criterion compared with the baseline within one group and layer, paired by seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Group label.
    pub group: String,
    /// Pruned layer.
    pub layer: String,
    /// Criterion.
    pub criterion: String,
    /// Baseline criterion: the criterion's matched control where measured, else the option's.
    pub baseline: String,
    /// Seeds with both curves.
    pub n_pairs: usize,
    /// Mean of AUC(criterion) - AUC(baseline).
    pub mean_diff: f64,
    /// Lower bootstrap bound.
    pub low: f64,
    /// Upper bootstrap bound.
    pub high: f64,
    /// Paired effect size d_z = mean / sd of the differences.
    pub effect_dz: f64,
    /// Wilcoxon signed-rank p-value.
    pub p_value: f64,
    /// Holm-adjusted p-value over all comparisons.
    pub p_holm: f64,
}

/// The full analysis.
#[derive(Clone, Debug, Default)]
pub struct Degradation {
    /// Metric analysed.
    pub metric: String,
    /// Whether larger metric values are better (accuracy) or worse (error, loss).
    pub higher_is_better: bool,
    /// Mean curves with bands.
    pub curves: Vec<CurvePoint>,
    /// Per-seed AUCs and crossings.
    pub seeds: Vec<SeedCurve>,
    /// Criterion-vs-baseline comparisons.
    pub comparisons: Vec<Comparison>,
    /// Per group, how many nets' curves were used and how many left out (and why).
    pub selection: Vec<GroupSelection>,
}

/// Name suffix of a matched random control (`important` -> `important_random`).
pub const CONTROL_SUFFIX: &str = "_random";

/// The matched control of `criterion` if the sweep (`has`) measured one: `X_random` for `X`.
pub fn matched_control(criterion: &str, has: impl Fn(&str) -> bool) -> Option<String> {
    let control = format!("{criterion}{CONTROL_SUFFIX}");
    has(&control).then_some(control)
}

/// Whether `criterion` is itself the matched control of another measured criterion.
pub fn is_matched_control(criterion: &str, has: impl Fn(&str) -> bool) -> bool {
    criterion
        .strip_suffix(CONTROL_SUFFIX)
        .is_some_and(|of| !of.is_empty() && has(of))
}

/// Trapezoidal area under `(x, y)` sorted by x.
pub fn auc(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

/// First fraction at which `y` moves `drop` from `y(first point)` in the bad direction.
pub fn crossing(points: &[(f64, f64)], drop: f64, higher_is_better: bool) -> f64 {
    let Some(&(_, y0)) = points.first() else {
        return f64::NAN;
    };
    let target = if higher_is_better {
        y0 - drop
    } else {
        y0 + drop
    };
    let bad = |y: f64| {
        if higher_is_better {
            y <= target
        } else {
            y >= target
        }
    };
    for w in points.windows(2) {
        let ((x0, ya), (x1, yb)) = (w[0], w[1]);
        if bad(yb) {
            if (yb - ya).abs() < 1e-300 {
                return x1;
            }
            return x0 + (target - ya) / (yb - ya) * (x1 - x0);
        }
    }
    f64::NAN
}

type CurveKey = (String, String, String); // group, layer, criterion

/// Whether larger values of a metric are better: errors, losses and target-output distances
/// are not.
pub fn higher_is_better(metric: &str) -> bool {
    !["err", "loss", "distance"]
        .iter()
        .any(|bad| metric.contains(bad))
}

/// Runs the analysis on a sweep directory.
pub fn analyse(dir: &Path, opts: &DegradationOptions) -> Result<Degradation, DegradationError> {
    let runs = read_table(dir, "runs")?;
    let pruning = read_table(dir, "pruning")?;
    let metric = match &opts.metric {
        Some(m) => m.clone(),
        None => {
            pick_metric(&pruning).ok_or_else(|| DegradationError::NoMetric("test_acc".into()))?
        }
    };
    if pruning.column(&metric).is_err() {
        return Err(DegradationError::NoMetric(metric));
    }
    let higher_is_better = higher_is_better(&metric);
    let (groups, selection) = select_groups(&runs, opts.include)?;
    let member: BTreeMap<&str, (&Group, u64)> = groups
        .iter()
        .flat_map(|g| g.members.iter().map(move |(r, k)| (k.as_str(), (g, *r))))
        .collect();
    let keys = frames::column_text(&pruning, "cell_key")?;
    let layers = frames::column_text(&pruning, "layer")?;
    let crits = frames::column_text(&pruning, "criterion")?;
    let fracs = frames::f64s(&pruning, "fraction")?;
    let vals = frames::f64s(&pruning, &metric)?;
    // (group, layer, criterion) -> replicate -> points
    let mut curves: BTreeMap<CurveKey, BTreeMap<u64, Vec<(f64, f64)>>> = BTreeMap::new();
    for i in 0..pruning.height() {
        let Some((g, rep)) = member.get(keys[i].as_str()) else {
            continue;
        };
        if !vals[i].is_finite() {
            continue;
        }
        curves
            .entry((g.label.clone(), layers[i].clone(), crits[i].clone()))
            .or_default()
            .entry(*rep)
            .or_default()
            .push((fracs[i], vals[i]));
    }
    let mut out = Degradation {
        metric,
        higher_is_better,
        selection,
        ..Default::default()
    };
    for ((group, layer, criterion), per_seed) in &mut curves {
        let mut by_frac: BTreeMap<u64, (f64, Vec<f64>)> = BTreeMap::new();
        for (rep, pts) in per_seed.iter_mut() {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (f, y) in pts.iter() {
                by_frac
                    .entry(f.to_bits())
                    .or_insert((*f, vec![]))
                    .1
                    .push(*y);
            }
            out.seeds.push(SeedCurve {
                group: group.clone(),
                layer: layer.clone(),
                criterion: criterion.clone(),
                replicate: *rep,
                auc: auc(pts),
                crossing: crossing(pts, opts.drop, higher_is_better),
            });
        }
        let mut points: Vec<CurvePoint> = Vec::new();
        for (f, ys) in by_frac.values() {
            let (low, high) = if ys.len() >= 2 {
                let iv = opts.bootstrap.ci_mean(ys)?;
                (iv.low, iv.high)
            } else {
                (f64::NAN, f64::NAN)
            };
            points.push(CurvePoint {
                group: group.clone(),
                layer: layer.clone(),
                criterion: criterion.clone(),
                fraction: *f,
                n: ys.len(),
                mean: mean(ys),
                low,
                high,
            });
        }
        points.sort_by(|a, b| a.fraction.total_cmp(&b.fraction));
        out.curves.extend(points);
    }
    out.comparisons = compare(&out.seeds, opts)?;
    Ok(out)
}

fn pick_metric(pruning: &DataFrame) -> Option<String> {
    let fixed = ["cell_key", "layer", "criterion", "fraction", "count"];
    if pruning.column("test_acc").is_ok() {
        return Some("test_acc".into());
    }
    pruning
        .get_column_names()
        .into_iter()
        .find(|n| !fixed.contains(&n.as_str()))
        .map(|n| n.to_string())
}

/// (group, layer) -> criterion -> replicate -> AUC.
type AucIndex<'a> = BTreeMap<(&'a str, &'a str), BTreeMap<&'a str, BTreeMap<u64, f64>>>;

fn compare(seeds: &[SeedCurve], opts: &DegradationOptions) -> Result<Vec<Comparison>, StatsError> {
    let mut auc_of: AucIndex = BTreeMap::new();
    for s in seeds {
        auc_of
            .entry((s.group.as_str(), s.layer.as_str()))
            .or_default()
            .entry(s.criterion.as_str())
            .or_default()
            .insert(s.replicate, s.auc);
    }
    let mut out = Vec::new();
    for ((group, layer), by_crit) in &auc_of {
        let has = |c: &str| by_crit.contains_key(c);
        for (crit, aucs) in by_crit {
            // A control's fractions count its criterion's set, not the baseline's.
            if *crit == opts.baseline || is_matched_control(crit, has) {
                continue;
            }
            let baseline = matched_control(crit, has).unwrap_or_else(|| opts.baseline.clone());
            let Some(base) = by_crit.get(baseline.as_str()) else {
                continue;
            };
            let (x, y): (Vec<f64>, Vec<f64>) = aucs
                .iter()
                .filter_map(|(r, a)| base.get(r).map(|b| (*a, *b)))
                .unzip();
            if x.len() < 2 {
                continue;
            }
            let diffs: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
            let iv = opts.bootstrap.ci_mean(&diffs)?;
            let p = wilcoxon_signed_rank(&x, &y, false)
                .map(|t| t.p_value)
                .unwrap_or(1.0);
            let sd = std_dev(&diffs);
            out.push(Comparison {
                group: group.to_string(),
                layer: layer.to_string(),
                criterion: crit.to_string(),
                baseline,
                n_pairs: x.len(),
                mean_diff: mean(&diffs),
                low: iv.low,
                high: iv.high,
                effect_dz: if sd > 0.0 {
                    mean(&diffs) / sd
                } else {
                    f64::NAN
                },
                p_value: p,
                p_holm: f64::NAN,
            });
        }
    }
    let adjusted = holm(&out.iter().map(|c| c.p_value).collect::<Vec<_>>());
    for (c, p) in out.iter_mut().zip(adjusted) {
        c.p_holm = p;
    }
    Ok(out)
}

impl Degradation {
    /// Curves table: group, layer, criterion, fraction, n, mean, low, high.
    pub fn curves_frame(&self) -> PolarsResult<DataFrame> {
        let c = &self.curves;
        df!(
            "group" => c.iter().map(|p| p.group.as_str()).collect::<Vec<_>>(),
            "layer" => c.iter().map(|p| p.layer.as_str()).collect::<Vec<_>>(),
            "criterion" => c.iter().map(|p| p.criterion.as_str()).collect::<Vec<_>>(),
            "fraction" => c.iter().map(|p| p.fraction).collect::<Vec<_>>(),
            "n" => c.iter().map(|p| p.n as u64).collect::<Vec<_>>(),
            "mean" => c.iter().map(|p| p.mean).collect::<Vec<_>>(),
            "low" => c.iter().map(|p| p.low).collect::<Vec<_>>(),
            "high" => c.iter().map(|p| p.high).collect::<Vec<_>>()
        )
    }

    /// Per-seed table: group, layer, criterion, replicate, auc, crossing.
    pub fn seeds_frame(&self) -> PolarsResult<DataFrame> {
        let s = &self.seeds;
        df!(
            "group" => s.iter().map(|p| p.group.as_str()).collect::<Vec<_>>(),
            "layer" => s.iter().map(|p| p.layer.as_str()).collect::<Vec<_>>(),
            "criterion" => s.iter().map(|p| p.criterion.as_str()).collect::<Vec<_>>(),
            "replicate" => s.iter().map(|p| p.replicate).collect::<Vec<_>>(),
            "auc" => s.iter().map(|p| p.auc).collect::<Vec<_>>(),
            "crossing" => s.iter().map(|p| p.crossing).collect::<Vec<_>>()
        )
    }

    /// Comparisons table.
    pub fn comparisons_frame(&self) -> PolarsResult<DataFrame> {
        let c = &self.comparisons;
        df!(
            "group" => c.iter().map(|p| p.group.as_str()).collect::<Vec<_>>(),
            "layer" => c.iter().map(|p| p.layer.as_str()).collect::<Vec<_>>(),
            "criterion" => c.iter().map(|p| p.criterion.as_str()).collect::<Vec<_>>(),
            "baseline" => c.iter().map(|p| p.baseline.as_str()).collect::<Vec<_>>(),
            "n_pairs" => c.iter().map(|p| p.n_pairs as u64).collect::<Vec<_>>(),
            "mean_auc_diff" => c.iter().map(|p| p.mean_diff).collect::<Vec<_>>(),
            "low" => c.iter().map(|p| p.low).collect::<Vec<_>>(),
            "high" => c.iter().map(|p| p.high).collect::<Vec<_>>(),
            "effect_dz" => c.iter().map(|p| p.effect_dz).collect::<Vec<_>>(),
            "p_wilcoxon" => c.iter().map(|p| p.p_value).collect::<Vec<_>>(),
            "p_holm" => c.iter().map(|p| p.p_holm).collect::<Vec<_>>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::write_part;
    use ensweep_core::output::PruningRow;

    #[test]
    fn direction_of_metrics() {
        assert!(higher_is_better("test_acc"));
        assert!(!higher_is_better("test_err"));
        assert!(!higher_is_better("distance"));
        assert!(!higher_is_better("ood_loss"));
    }

    #[test]
    fn auc_and_crossing_by_hand() {
        let pts = [(0.0, 1.0), (0.5, 0.8), (1.0, 0.2)];
        assert!((auc(&pts) - (0.45 + 0.25)).abs() < 1e-12);
        // 1.0 -> 0.8 at 0.5 (drop 0.2), 0.8 -> 0.2 over [0.5, 1]: 0.7 reached at 0.5 + 0.1/0.6*0.5.
        assert!((crossing(&pts, 0.3, true) - (0.5 + 0.5 / 6.0)).abs() < 1e-12);
        assert!(crossing(&pts, 0.9, true).is_nan());
        let err = [(0.0, 0.1), (1.0, 0.5)];
        assert!((crossing(&err, 0.2, false) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn important_pruning_hurts_more_than_random_on_synthetic_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let runs: Vec<_> = crate::synthetic::sweep("s", &[("a", 0.8), ("b", 1.4)], 6, 4)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        write_part(dir.path(), 0, &runs).unwrap();
        let d = analyse(dir.path(), &DegradationOptions::default()).unwrap();
        assert_eq!(d.metric, "test_acc");
        assert!(d.higher_is_better);
        // 2 groups x 3 criteria x 11 fractions
        assert_eq!(d.curves.len(), 2 * 3 * 11);
        assert_eq!(d.seeds.len(), 2 * 3 * 6);
        assert_eq!(d.comparisons.len(), 2 * 2);
        for c in &d.comparisons {
            // synthetic vip/magnitude curves fall faster than random: negative AUC difference
            assert!(c.mean_diff < 0.0 && c.high < 0.0, "{c:?}");
            assert!((c.p_value - 0.03125).abs() < 1e-12, "{c:?}"); // exact, n = 6, all negative
            assert!(c.p_holm >= c.p_value);
        }
        let first = &d.curves[0];
        assert!(first.low <= first.mean && first.mean <= first.high);
        let vip = d.seeds.iter().find(|s| s.criterion == "vip").unwrap();
        assert!(vip.crossing > 0.0 && vip.crossing < 1.0, "{vip:?}");
        assert_eq!(d.comparisons_frame().unwrap().height(), 4);
    }

    /// `vip_random` (as many random connections as `vip` removes at each fraction) is the
    /// baseline of `vip`, and is not itself compared with `random`, whose fractions count
    /// another set; `magnitude` keeps `random`.
    #[test]
    fn a_criterion_with_a_matched_control_is_compared_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let runs: Vec<_> = crate::synthetic::sweep("s", &[("a", 0.8)], 6, 4)
            .into_iter()
            .map(|(mut r, _)| {
                let control: Vec<_> = r
                    .output
                    .pruning
                    .iter()
                    .filter(|p| p.criterion == "random")
                    .map(|p| PruningRow {
                        criterion: "vip_random".into(),
                        count: p.count / 2,
                        ..p.clone()
                    })
                    .collect();
                r.output.pruning.extend(control);
                r
            })
            .collect();
        write_part(dir.path(), 0, &runs).unwrap();
        let d = analyse(dir.path(), &DegradationOptions::default()).unwrap();
        let pairs: Vec<(&str, &str)> = d
            .comparisons
            .iter()
            .map(|c| (c.criterion.as_str(), c.baseline.as_str()))
            .collect();
        assert_eq!(pairs, [("magnitude", "random"), ("vip", "vip_random")]);
        assert!(is_matched_control("vip_random", |c| c == "vip"));
        assert!(!is_matched_control("random", |_| true));
        assert!(!is_matched_control("x_random", |c| c == "vip"));
    }
}
