//! Degeneracy per condition (docs/DEGENERACY.md): each degeneracy measure of Huang, Singh &
//! Rajan against each swept knob, with its bootstrap interval across nets, the baseline a
//! distance must exceed drawn beside it, and how many nets each point stands on.
//!
//! The numbers are the diversity analysis' summaries, not recomputed: a figure's CSV holds the
//! same means and intervals as `analysis/diversity_summary`.

use super::html::{self, Section};
use super::plots::{self, Line, LineFigure, Panel};
use super::{Builder, ReportError};
use crate::diversity::{Diversity, NTK_ALIGNMENT, Summary};
use crate::frames;
use polars::prelude::*;
use std::collections::BTreeMap;

/// A measure drawn against a knob.
struct Measure {
    /// Its metric in the diversity summaries.
    metric: String,
    /// What it is, for the caption.
    what: &'static str,
    /// A baseline drawn beside it: (metric, what it is).
    baseline: Option<(&'static str, &'static str)>,
}

/// The paper's measures, in the order of its levels: dynamics, weights, behaviour, then the
/// representation and feature-learning measures where the sweep has them.
fn measures(behaviour_spread: &str) -> Vec<Measure> {
    let m = |metric: &str, what, baseline| Measure {
        metric: metric.to_string(),
        what,
        baseline,
    };
    vec![
        m(
            "dsa_angular",
            "DSA angular distance between nets (rad), mean over pairs",
            Some(("dsa_null_angular", "within-net null")),
        ),
        m(
            "d_pif",
            "d_PIF between nets' trained recurrent weights, mean over pairs",
            Some(("d_pif_init", "initial weights")),
        ),
        m(
            behaviour_spread,
            "sigma_OOD: std across nets of the loss on out-of-distribution trials",
            None,
        ),
        m(
            "svcca",
            "SVCCA between nets' probe states, mean over pairs",
            None,
        ),
        m(
            "feature_learning_rec",
            "feature-learning strength ||W_T - W_0||_F of the recurrent weights, mean over nets",
            None,
        ),
        m(
            NTK_ALIGNMENT,
            "NTK alignment between initial and trained net (1 = lazy), mean over nets",
            None,
        ),
    ]
}

/// Every group's value of each swept axis (and of `sweep` where the table holds several).
struct Conditions {
    /// Axis names (without `axis.`), `sweep` first where present.
    axes: Vec<String>,
    /// Whether each axis is numeric (its values are ordered).
    numeric: Vec<bool>,
    /// Group label -> values, in `axes` order.
    of_group: BTreeMap<String, Vec<String>>,
}

impl Conditions {
    fn of(runs: &DataFrame) -> PolarsResult<Conditions> {
        let labels = frames::group_labels(runs)?;
        let mut axes = Vec::new();
        let mut numeric = Vec::new();
        let mut texts = Vec::new();
        let sweeps = frames::column_text(runs, "sweep")?;
        if sweeps.iter().any(|s| s != &sweeps[0]) {
            axes.push("sweep".to_string());
            numeric.push(false);
            texts.push(sweeps);
        }
        for a in frames::axis_columns(runs) {
            numeric.push(runs.column(&a)?.dtype().is_primitive_numeric());
            texts.push(frames::column_text(runs, &a)?);
            axes.push(a["axis.".len()..].to_string());
        }
        let of_group = labels
            .into_iter()
            .enumerate()
            .map(|(i, l)| (l, texts.iter().map(|t| t[i].clone()).collect()))
            .collect();
        Ok(Conditions {
            axes,
            numeric,
            of_group,
        })
    }

    /// Distinct values of axis `k`, in numeric order for a numeric axis.
    fn values(&self, k: usize) -> Vec<String> {
        let mut v: Vec<String> = self.of_group.values().map(|g| g[k].clone()).collect();
        v.sort();
        v.dedup();
        if self.numeric[k] {
            v.sort_by(|a, b| {
                let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
                num(a).total_cmp(&num(b))
            });
        }
        v
    }

    /// The other axes' settings of a group, `a=1, b=x` (empty with one axis).
    fn rest(&self, k: usize, values: &[String]) -> String {
        let pairs = self.axes.iter().zip(values).enumerate();
        let parts: Vec<String> = pairs
            .filter(|(i, _)| *i != k)
            .map(|(_, (a, v))| format!("{a}={v}"))
            .collect();
        parts.join(", ")
    }
}

/// One line per panel: `metric`'s summaries at each knob value (index into `cats`).
fn line_of(
    metric: &str,
    name: &str,
    groups: &[(usize, &str)],
    summaries: &BTreeMap<(&str, &str), &Summary>,
) -> Line {
    let mut line = Line {
        name: name.to_string(),
        ..Default::default()
    };
    for &(x, group) in groups {
        if let Some(s) = summaries.get(&(group, metric)) {
            line.points.push((x as f64, s.mean));
            line.band.push((x as f64, s.low, s.high));
        }
    }
    line
}

/// The figure of one measure against knob `k`: one panel per setting of the other axes.
fn knob_figure(
    c: &Conditions,
    k: usize,
    m: &Measure,
    summaries: &BTreeMap<(&str, &str), &Summary>,
) -> Option<LineFigure> {
    let cats = c.values(k);
    let mut panels: BTreeMap<String, Vec<(usize, &str)>> = BTreeMap::new();
    for (label, values) in &c.of_group {
        let x = cats.iter().position(|v| *v == values[k])?;
        panels
            .entry(c.rest(k, values))
            .or_default()
            .push((x, label.as_str()));
    }
    let panels: Vec<Panel> = panels
        .into_iter()
        .map(|(title, mut groups)| {
            groups.sort();
            let mut lines = vec![line_of(&m.metric, &m.metric, &groups, summaries)];
            if let Some((base, what)) = m.baseline {
                lines.push(line_of(
                    base,
                    &format!("{base} ({what})"),
                    &groups,
                    summaries,
                ));
            }
            lines.retain(|l| !l.points.is_empty());
            Panel { title, lines }
        })
        .collect();
    if panels.iter().all(|p| p.lines.is_empty()) {
        return None;
    }
    Some(LineFigure {
        title: format!("{} vs {}", m.metric, c.axes[k]),
        x_desc: c.axes[k].clone(),
        y_desc: m.metric.clone(),
        panels,
        categories: Some(cats),
        ordered: c.numeric[k],
    })
}

/// Included and excluded nets of every group, with each group's knob settings.
fn counts_table(sec: &mut Section, c: &Conditions, d: &Diversity) {
    let mut header: Vec<&str> = vec!["group"];
    header.extend(c.axes.iter().map(String::as_str));
    header.extend(["nets included", "nets excluded", "why excluded"]);
    let rows = d
        .selection
        .iter()
        .map(|s| {
            let mut row = vec![s.group.clone()];
            row.extend(c.of_group.get(&s.group).cloned().unwrap_or_default());
            let why: Vec<String> = s.reasons.iter().map(|(r, n)| format!("{r}: {n}")).collect();
            row.extend([
                s.included.to_string(),
                s.excluded.to_string(),
                why.join(", "),
            ]);
            row
        })
        .collect();
    sec.table_rows(&header, rows);
}

/// The "Degeneracy per condition" section: for every axis with two or more values, one figure
/// per measure present. Nothing when no axis varies.
pub(super) fn per_condition(
    b: &mut Builder,
    runs: &DataFrame,
    d: &Diversity,
    behaviour_metric: &str,
) -> Result<(), ReportError> {
    let c = Conditions::of(runs)?;
    let knobs: Vec<usize> = (0..c.axes.len())
        .filter(|&k| c.values(k).len() >= 2)
        .collect();
    if knobs.is_empty() || d.summaries.is_empty() {
        return Ok(());
    }
    let summaries: BTreeMap<(&str, &str), &Summary> = d
        .summaries
        .iter()
        .map(|s| ((s.group.as_str(), s.metric.as_str()), s))
        .collect();
    let mut sec = Section::new("Degeneracy per condition");
    sec.text("Each degeneracy measure against each swept knob, one panel per setting of the other axes: the mean with its 95% bootstrap interval, which resamples nets (pairs sharing a net are not independent). DSA distances are meaningful only above the within-net null (the same net's even against its odd trials), drawn beside them; d_PIF between trained nets is read against d_PIF between their initial weights. Only the nets in the table below enter.");
    counts_table(&mut sec, &c, d);
    let spread = format!("{behaviour_metric}_std");
    for &k in &knobs {
        for m in measures(&spread) {
            let Some(fig) = knob_figure(&c, k, &m, &summaries) else {
                continue;
            };
            let knob = &c.axes[k];
            let drawn = |base: &str| {
                let mut lines = fig.panels.iter().flat_map(|p| &p.lines);
                lines.any(|l| l.name.starts_with(base))
            };
            let baseline = m
                .baseline
                .filter(|(base, _)| drawn(base))
                .map(|(base, what)| format!("; beside it {base}, the {what}"))
                .unwrap_or_default();
            let caption = format!(
                "{} at each value of {knob}, with a 95% bootstrap interval over nets{baseline}.",
                m.what
            );
            b.figure(
                &mut sec,
                &format!("degeneracy_{}_{}", html::slug(knob), html::slug(&m.metric)),
                plots::lines(&fig),
                &caption,
            )?;
        }
    }
    b.page.push(sec);
    Ok(())
}

#[cfg(test)]
#[path = "degeneracy_tests.rs"]
mod tests;
