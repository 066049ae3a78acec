//! Diversity across seeds (seeds x seeds matrices on shared colour scales, then the measures per
//! condition, `degeneracy`) and the eigenvalue spectra of recurrent matrices.

use super::degeneracy;
use super::html::{self, Section};
use super::plots::{self, Matrix};
use super::{Builder, ReportError, optional, selection_sentence, selection_table};
use crate::diversity::{self, DiversityOptions};
use crate::frames;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// Diversity measures quoted in the findings, in order of preference (the field's measures of
/// dynamics, weights and representations).
const HEADLINE: &[&str] = &["dsa_angular", "d_pif", "svcca", "cka", "weight_distance"];

pub(super) fn diversity_section(b: &mut Builder, runs: &DataFrame) -> Result<(), ReportError> {
    let opts = DiversityOptions {
        bootstrap: b.opts.bootstrap,
        include: b.opts.include,
        ..Default::default()
    };
    let d = diversity::analyse(b.dir, &opts)?;
    if d.matrices.is_empty() && d.summaries.is_empty() {
        return Ok(());
    }
    let mut sec = Section::new("Diversity across seeds");
    selection_table(&mut sec, &d.selection, b.opts.include)?;
    sec.text("Seeds x seeds matrices per configuration group, one colour scale per measure: <code>cka</code> and <code>svcca</code> (similarity of hidden trajectories on the probe set, 1 = same up to rotation), <code>dsa_angular</code>/<code>dsa_euclidean</code> (dynamical similarity analysis: delay embedding, DMD operators compared up to an orthogonal change of basis), <code>dynamics_distance</code> (a faster Procrustes shortcut beside DSA), <code>d_pif</code> (permutation-invariant distance of recurrent weights; <code>d_pif_init</code> is the same between the initial weights, the baseline), <code>weight_distance</code>, <code>prediction_disagreement</code>, <code>important_jaccard</code>. Grey diagonal: a net against itself; dark grey: undefined pair. Intervals resample seeds.");
    // Measures in the order the analysis produced them, each with its groups' matrices.
    let mut by_metric: Vec<(&str, Vec<&diversity::PairMatrix>)> = Vec::new();
    for m in &d.matrices {
        match by_metric.iter_mut().find(|(metric, _)| *metric == m.metric) {
            Some((_, group)) => group.push(m),
            None => by_metric.push((m.metric.as_str(), vec![m])),
        }
    }
    for (i, (metric, matrices)) in by_metric.iter().take(b.opts.max_heatmaps).enumerate() {
        let panels: Vec<Matrix> = matrices
            .iter()
            .map(|m| Matrix {
                title: m.group.clone(),
                labels: m.seeds.iter().map(|s| s.to_string()).collect(),
                values: m.values.clone(),
            })
            .collect();
        b.figure(
            &mut sec,
            &format!("diversity_{i}_{}", html::slug(metric)),
            plots::heatmaps(&format!("{metric} between seeds"), metric, &panels),
            &format!("{metric} between every pair of seeds, one panel per group, one colour scale (off-diagonal range)."),
        )?;
    }
    if by_metric.len() > b.opts.max_heatmaps {
        sec.text(&format!(
            "{} more measures in analysis/diversity_pairs.parquet.",
            by_metric.len() - b.opts.max_heatmaps
        ));
    }
    let summary = b.store("diversity_summary", d.summary_frame()?)?;
    b.store("diversity_pairs", d.pairs_frame()?)?;
    sec.frame(&summary);
    b.findings.push(format!(
        "Diversity across seeds analyses {}.",
        selection_sentence(&d.selection)
    ));
    for metric in HEADLINE
        .iter()
        .filter(|m| d.summaries.iter().any(|s| s.metric == **m))
        .take(2)
    {
        let per_group: Vec<String> = d
            .summaries
            .iter()
            .filter(|s| s.metric == *metric)
            .map(|s| {
                format!(
                    "{} {} [{}, {}] ({} nets)",
                    s.group,
                    html::num(s.mean),
                    html::num(s.low),
                    html::num(s.high),
                    s.n_seeds
                )
            })
            .collect();
        b.findings.push(format!(
            "Mean pairwise {metric} with 95% bootstrap interval: {}.",
            per_group.join("; ")
        ));
    }
    b.page.push(sec);
    degeneracy::per_condition(b, runs, &d, &opts.behaviour_metric)
}

pub(super) fn spectra(
    b: &mut Builder,
    group_of: &BTreeMap<String, String>,
) -> Result<(), ReportError> {
    let Some(sp) = optional(b.dir, "spectra")? else {
        return Ok(());
    };
    let mut sec = Section::new("Eigenvalues of recurrent matrices");
    let keys = frames::column_text(&sp, "cell_key")?;
    let mats = frames::column_text(&sp, "matrix")?;
    let (re, im) = (frames::f64s(&sp, "re")?, frames::f64s(&sp, "im")?);
    type Points = Vec<(f64, f64)>;
    let mut by: BTreeMap<&str, BTreeMap<&str, Points>> = BTreeMap::new();
    for i in 0..keys.len() {
        let g = group_of.get(&keys[i]).map(String::as_str).unwrap_or("?");
        by.entry(mats[i].as_str())
            .or_default()
            .entry(g)
            .or_default()
            .push((re[i], im[i]));
    }
    for (mi, (mat, groups)) in by.iter().enumerate() {
        let series: Vec<(String, Vec<(f64, f64)>)> = groups
            .iter()
            .map(|(g, p)| (g.to_string(), p.clone()))
            .collect();
        b.figure(
            &mut sec,
            &format!("spectrum_{mi}_{}", html::slug(mat)),
            plots::eigenvalues(&format!("eigenvalues of {mat}"), &series),
            "All seeds' eigenvalues, one panel per group on shared axes, against the unit circle.",
        )?;
    }
    b.page.push(sec);
    Ok(())
}
