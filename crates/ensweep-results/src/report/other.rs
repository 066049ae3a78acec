//! Group comparisons on the final metric (and the headline finding drawn from them), and
//! per-layer statistics of the spike-and-slab trainers.

use super::html::{self, Section};
use super::plots;
use super::{Builder, ReportError, optional, value_columns};
use crate::compare::{GroupComparison, compare_groups, comparisons_frame};
use crate::frames;
use crate::stats::mean;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Comparisons quoted in the findings (those with the smallest adjusted p-values).
const HEADLINE_COMPARISONS: usize = 3;

pub(super) fn statistics(b: &mut Builder, runs: &DataFrame) -> Result<(), ReportError> {
    if runs.column(&b.opts.metric).is_err() {
        return Ok(());
    }
    let c = compare_groups(runs, &b.opts.metric, &b.opts.bootstrap)?;
    if c.is_empty() {
        b.notes
            .push("fewer than two groups with 2+ seeds: no group comparisons".into());
        return Ok(());
    }
    let mut sec = Section::new("Statistical comparisons of groups");
    sec.text(&format!("Every pair of groups on <code>{}</code>: IQM with BCa 95% intervals, Hedges' g, Cliff's delta, probability of improvement P(a &gt; b), Welch and Mann-Whitney p-values, Holm and Benjamini-Hochberg adjustments of the Mann-Whitney p-values. These comparisons count every net, failed ones included: they ask how well each configuration trains, which dropping its failures would hide. The diversity and degradation sections below use only the nets that met their criterion.", html::escape(&b.opts.metric)));
    let df = b.store("group_comparisons", comparisons_frame(&c)?)?;
    sec.frame(&df);
    let mut ranked: Vec<&GroupComparison> = c.iter().collect();
    ranked.sort_by(|x, y| x.p_holm.total_cmp(&y.p_holm));
    for g in ranked.iter().take(HEADLINE_COMPARISONS) {
        b.findings.push(headline(g));
    }
    b.page.push(sec);
    Ok(())
}

/// One comparison in words: both groups' IQM with interval, effect sizes and the test.
fn headline(g: &GroupComparison) -> String {
    let iqm = |v: (f64, f64, f64)| {
        format!(
            "{} [{}, {}]",
            html::num(v.0),
            html::num(v.1),
            html::num(v.2)
        )
    };
    format!(
        "{metric}: {a} {ia} (n = {na}) vs {b} {ib} (n = {nb}) (IQM, 95% BCa interval); Hedges' g = {g_}, P({a} &gt; {b}) = {pi}; Mann-Whitney p = {p} (Holm-adjusted {ph}).",
        metric = g.metric,
        a = g.a,
        b = g.b,
        ia = iqm(g.iqm_a),
        ib = iqm(g.iqm_b),
        na = g.n.0,
        nb = g.n.1,
        g_ = html::num(g.hedges_g),
        pi = html::num(g.prob_improvement),
        p = html::num(g.p_mwu),
        ph = html::num(g.p_holm),
    )
}

pub(super) fn layers(
    b: &mut Builder,
    group_of: &BTreeMap<String, String>,
) -> Result<(), ReportError> {
    let Some(ly) = optional(b.dir, "layers")? else {
        return Ok(());
    };
    let mut sec = Section::new("Per-layer statistics");
    let keys = frames::column_text(&ly, "cell_key")?;
    let names = frames::column_text(&ly, "layer")?;
    let mut layer_order: Vec<String> = names.clone();
    layer_order.sort();
    layer_order.dedup();
    let cols = value_columns(&ly, &["cell_key", "layer"]);
    let mean_by = |col: &str, filter: &dyn Fn(usize) -> bool| -> Result<Vec<f64>, PolarsError> {
        let v = frames::f64s(&ly, col)?;
        Ok(layer_order
            .iter()
            .map(|l| {
                let xs: Vec<f64> = (0..v.len())
                    .filter(|i| &names[*i] == l && filter(*i) && v[*i].is_finite())
                    .map(|i| v[i])
                    .collect();
                if xs.is_empty() { f64::NAN } else { mean(&xs) }
            })
            .collect())
    };
    for (hi, prefix) in ["pi_hist_", "xi_hist_"].iter().enumerate() {
        let bins: Vec<&String> = cols.iter().filter(|c| c.starts_with(prefix)).collect();
        if bins.is_empty() {
            continue;
        }
        let per_bin: Vec<Vec<f64>> = bins
            .iter()
            .map(|c| mean_by(c, &|_| true))
            .collect::<Result<_, _>>()?;
        let series: Vec<(String, Vec<f64>)> = layer_order
            .iter()
            .enumerate()
            .map(|(li, l)| (l.clone(), per_bin.iter().map(|v| v[li]).collect()))
            .collect();
        let cats: Vec<String> = bins.iter().map(|c| c[prefix.len()..].to_string()).collect();
        let what = if hi == 0 { "pi" } else { "Xi" };
        b.figure(
            &mut sec,
            &format!("hist_{what}"),
            plots::bars(
                &format!("{what} histogram per layer"),
                "mean count",
                &cats,
                &series,
            ),
            &format!(
                "Histogram of {what} (bins from the `{prefix}NN` columns), averaged over runs."
            ),
        )?;
    }
    let fracs: Vec<&String> = cols.iter().filter(|c| c.ends_with("_frac")).collect();
    let mut glabels: Vec<&String> = group_of.values().collect();
    glabels.sort();
    glabels.dedup();
    for (gi, g) in glabels
        .iter()
        .enumerate()
        .take(if fracs.is_empty() { 0 } else { 8 })
    {
        let in_group = |i: usize| group_of.get(&keys[i]) == Some(*g);
        let series: Vec<(String, Vec<f64>)> = fracs
            .iter()
            .map(|c| {
                Ok((
                    c.trim_end_matches("_frac").to_string(),
                    mean_by(c, &in_group)?,
                ))
            })
            .collect::<Result<_, PolarsError>>()?;
        b.figure(
            &mut sec,
            &format!("categories_{gi}"),
            plots::bars(
                &format!("connection categories ({g})"),
                "fraction",
                &layer_order,
                &series,
            ),
            "Mean fraction of connections per category and layer.",
        )?;
    }
    // Trainers without spike-and-slab layers (task RNNs) store other per-layer columns; the
    // section is simply absent for them rather than a note about columns that do not apply.
    if !sec.is_empty() {
        b.page.push(sec);
    }
    Ok(())
}
