//! Curves of results: learning curves, the final metric against each swept axis, and pruning.

use super::plots::{self, Line, LineFigure, Panel};
use super::{Builder, ReportError, band, html, optional, selection_sentence, selection_table};
use super::{ReferenceCurve, html::Section, value_columns};
use crate::degradation::{self, DegradationOptions};
use crate::frames;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Per-epoch columns that are schedules or clocks, not results: the same for every group (a
/// learning-rate schedule) or a property of the machine (cumulative wall time).
const NOT_RESULTS: &[&str] = &["lr", "seconds", "wall_seconds", "sequences_per_s"];

/// More groups than this get one panel each instead of overlapping curves in one panel.
const MAX_OVERLAID: usize = 3;

/// One line per group (overlaid), or one panel per group, whichever stays readable.
fn by_group(lines: Vec<Line>) -> Vec<Panel> {
    if lines.len() <= MAX_OVERLAID {
        return vec![Panel {
            title: String::new(),
            lines,
        }];
    }
    lines
        .into_iter()
        .map(|l| Panel {
            title: l.name.clone(),
            lines: vec![Line {
                name: String::new(),
                ..l
            }],
        })
        .collect()
}

pub(super) fn learning_curves(
    b: &mut Builder,
    group_of: &BTreeMap<String, String>,
) -> Result<(), ReportError> {
    let Some(epochs) = optional(b.dir, "epochs")? else {
        return Ok(());
    };
    let mut sec = Section::new("Learning curves");
    let keys = frames::column_text(&epochs, "cell_key")?;
    let ep = frames::f64s(&epochs, "epoch")?;
    let metrics: Vec<String> = value_columns(&epochs, &["cell_key", "epoch"])
        .into_iter()
        .filter(|m| !NOT_RESULTS.contains(&m.as_str()))
        .take(6)
        .collect();
    for (mi, metric) in metrics.iter().enumerate() {
        let vals = frames::f64s(&epochs, metric)?;
        let mut by: BTreeMap<&str, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
        for i in 0..keys.len() {
            if let Some(g) = group_of.get(&keys[i])
                && vals[i].is_finite()
            {
                by.entry(g.as_str())
                    .or_default()
                    .entry(ep[i] as u64)
                    .or_default()
                    .push(vals[i]);
            }
        }
        let lines: Vec<Line> = by
            .iter()
            .map(|(g, per)| {
                let stats: Vec<(f64, (f64, f64, f64))> = per
                    .iter()
                    .map(|(e, ys)| (*e as f64, band(&b.opts.bootstrap, ys)))
                    .collect();
                Line {
                    name: g.to_string(),
                    points: stats.iter().map(|(x, s)| (*x, s.0)).collect(),
                    band: stats.iter().map(|(x, s)| (*x, s.1, s.2)).collect(),
                    runs: Vec::new(),
                }
            })
            .collect();
        let fig = LineFigure {
            title: format!("{metric} per epoch"),
            x_desc: "epoch".into(),
            y_desc: metric.clone(),
            panels: by_group(lines),
            ..Default::default()
        };
        b.figure(
            &mut sec,
            &format!("learning_{mi}_{}", html::slug(metric)),
            plots::lines(&fig),
            &format!("Mean {metric} over seeds per group, with a 95% bootstrap band. A net contributes until it stops, so late epochs average fewer nets."),
        )?;
    }
    if !sec.is_empty() {
        b.page.push(sec);
    }
    Ok(())
}

pub(super) fn hyperparameters(b: &mut Builder, runs: &DataFrame) -> Result<(), ReportError> {
    let axes = frames::axis_columns(runs);
    if axes.is_empty() || runs.column(&b.opts.metric).is_err() {
        return Ok(());
    }
    let mut sec = Section::new(&format!("{} vs swept hyperparameters", b.opts.metric));
    let vals = frames::f64s(runs, &b.opts.metric)?;
    for (ai, axis) in axes.iter().enumerate() {
        let text = frames::column_text(runs, axis)?;
        let numeric = runs.column(axis)?.dtype().is_primitive_numeric();
        let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (t, v) in text.iter().zip(&vals) {
            by.entry(t.clone()).or_default().push(*v);
        }
        let mut cats: Vec<String> = by.keys().cloned().collect();
        if numeric {
            cats.sort_by(|a, b| {
                a.parse::<f64>()
                    .unwrap_or(0.0)
                    .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
            });
        }
        let finite =
            |c: &String| -> Vec<f64> { by[c].iter().copied().filter(|v| v.is_finite()).collect() };
        let stats: Vec<(f64, f64, f64)> = cats
            .iter()
            .map(|c| band(&b.opts.bootstrap, &finite(c)))
            .collect();
        let runs_drawn: Vec<(f64, f64)> = cats
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                by[c]
                    .iter()
                    .enumerate()
                    .map(move |(k, v)| (i as f64 + plots::jitter(k), *v))
            })
            .collect();
        let name = &axis["axis.".len()..];
        let refs: Vec<&ReferenceCurve> = b
            .opts
            .references
            .iter()
            .filter(|r| r.axis == name && r.metric == b.opts.metric)
            .collect();
        let line = Line {
            name: if refs.is_empty() {
                String::new()
            } else {
                "ensweep: mean, 95% CI".into()
            },
            points: stats
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, s.0))
                .collect(),
            band: stats
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, s.1, s.2))
                .collect(),
            runs: runs_drawn,
        };
        let mut lines = vec![line];
        let mut ref_notes = Vec::new();
        for r in &refs {
            let points = r.at_categories(&cats);
            ref_notes.push(format!(
                " {} (line without band): {} of its {} points, those at swept values.",
                r.label,
                points.len(),
                r.points.len()
            ));
            lines.push(Line {
                name: r.label.clone(),
                points,
                ..Line::default()
            });
        }
        let fig = LineFigure {
            title: format!("{} vs {name}", b.opts.metric),
            x_desc: name.to_string(),
            y_desc: b.opts.metric.clone(),
            panels: vec![Panel {
                title: String::new(),
                lines,
            }],
            categories: Some(cats),
            ordered: numeric,
        };
        let caption = format!(
            "Every run's {} (dots) at each value of {name}, other axes pooled; mean with 95% bootstrap interval{}.{}",
            b.opts.metric,
            if numeric { " joined in axis order" } else { "" },
            ref_notes.concat()
        );
        b.figure(
            &mut sec,
            &format!("hyper_{ai}_{}", html::slug(name)),
            plots::lines(&fig),
            &caption,
        )?;
    }
    b.page.push(sec);
    Ok(())
}

pub(super) fn pruning(b: &mut Builder) -> Result<(), ReportError> {
    if optional(b.dir, "pruning")?.is_none() {
        return Ok(());
    }
    let opts = DegradationOptions {
        bootstrap: b.opts.bootstrap,
        include: b.opts.include,
        ..Default::default()
    };
    let d = degradation::analyse(b.dir, &opts)?;
    let mut sec = Section::new("Degradation under pruning");
    selection_table(&mut sec, &d.selection, b.opts.include)?;
    type Curves<'a> = BTreeMap<&'a str, BTreeMap<String, Vec<&'a degradation::CurvePoint>>>;
    let mut by_layer: BTreeMap<&str, Curves> = BTreeMap::new();
    for p in &d.curves {
        by_layer
            .entry(p.layer.as_str())
            .or_default()
            .entry(p.group.as_str())
            .or_default()
            .entry(p.criterion.clone())
            .or_default()
            .push(p);
    }
    for (li, (layer, groups)) in by_layer.iter().enumerate() {
        for (family, x_desc) in criterion_families(groups.values().flat_map(|c| c.keys())) {
            let panels = groups
                .iter()
                .map(|(g, criteria)| Panel {
                    title: g.to_string(),
                    lines: criteria
                        .iter()
                        .filter(|(c, _)| family.contains(c))
                        .map(|(c, pts)| Line {
                            name: c.clone(),
                            points: pts.iter().map(|p| (p.fraction, p.mean)).collect(),
                            band: pts.iter().map(|p| (p.fraction, p.low, p.high)).collect(),
                            runs: Vec::new(),
                        })
                        .collect(),
                })
                .collect();
            let fig = LineFigure {
                title: format!("{} under pruning of {layer}", d.metric),
                x_desc,
                y_desc: d.metric.clone(),
                panels,
                ..Default::default()
            };
            let mut name = format!("pruning_{li}_{}", html::slug(layer));
            if family.len() == 2 && family[1].ends_with(degradation::CONTROL_SUFFIX) {
                name = format!("{name}_{}", html::slug(&family[0]));
            }
            b.figure(
                &mut sec,
                &name,
                plots::lines(&fig),
                "One panel per group, shared axes; mean over seeds with 95% bootstrap bands per pruning criterion.",
            )?;
        }
    }
    let cmp = b.store("degradation_comparisons", d.comparisons_frame()?)?;
    b.store("degradation_curves", d.curves_frame()?)?;
    b.store("degradation_seeds", d.seeds_frame()?)?;
    sec.text(&format!("Paired by seed: AUC(criterion) - AUC(baseline) of <code>{}</code>, Wilcoxon signed-rank, Holm-adjusted over all rows. The baseline is the criterion's matched control <code>X{}</code> where the trainer measured one (as many random connections at each fraction of X's set), else <code>{}</code>.", html::escape(&d.metric), degradation::CONTROL_SUFFIX, html::escape(&DegradationOptions::default().baseline)));
    sec.frame(&cmp);
    crossing_table(b, &mut sec, &d, opts.drop);
    b.findings.push(format!(
        "Degradation under pruning analyses {}.",
        selection_sentence(&d.selection)
    ));
    b.page.push(sec);
    Ok(())
}

/// Median crossing fraction per group / layer / criterion.
/// The criteria of one layer split by what their fractions count: each criterion `X` with a
/// matched control `X_random` gets a figure of its own with it (fractions of `X`'s set, e.g.
/// sas_rnn's important set), the rest share one (fractions of the layer, or of the criterion's
/// own reference set as the trainer defines it). Drawing `important` at "0.2" beside `random`
/// at "0.2" would put 694 removed connections beside 2,000.
fn criterion_families<'a>(
    criteria: impl Iterator<Item = &'a String>,
) -> Vec<(Vec<String>, String)> {
    let all: std::collections::BTreeSet<&str> = criteria.map(String::as_str).collect();
    let has = |c: &str| all.contains(c);
    let mut rest = Vec::new();
    let mut families = Vec::new();
    for c in &all {
        if degradation::is_matched_control(c, has) {
            continue;
        }
        match degradation::matched_control(c, has) {
            Some(control) => families.push((
                vec![c.to_string(), control],
                format!("fraction of the `{c}` set removed"),
            )),
            None => rest.push(c.to_string()),
        }
    }
    if !rest.is_empty() {
        families.insert(0, (rest, "fraction removed".into()));
    }
    families
}

fn crossing_table(b: &Builder, sec: &mut Section, d: &degradation::Degradation, drop: f64) {
    let mut cross: BTreeMap<(String, String, String), Vec<f64>> = BTreeMap::new();
    for s in &d.seeds {
        cross
            .entry((s.group.clone(), s.layer.clone(), s.criterion.clone()))
            .or_default()
            .push(s.crossing);
    }
    let rows = cross
        .iter()
        .map(|((g, l, c), xs)| {
            let reached: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
            let (m, lo, hi) = band(&b.opts.bootstrap, &reached);
            vec![
                g.clone(),
                l.clone(),
                c.clone(),
                format!("{}/{}", reached.len(), xs.len()),
                html::num(m),
                format!("[{}, {}]", html::num(lo), html::num(hi)),
            ]
        })
        .collect();
    sec.text(&format!(
        "Removed fraction at which {} has moved {drop} from its unpruned value (seeds that reach it).",
        html::escape(&d.metric),
    ));
    sec.table_rows(
        &[
            "group",
            "layer",
            "criterion",
            "reached",
            "mean crossing",
            "95% CI",
        ],
        rows,
    );
}
