//! `ensweep report`: one self-contained HTML page (figures embedded as SVG data URIs, no
//! scripts, no external assets) plus the SVG files and the analysis tables it was built from.
//!
//! Sections appear only when the sweep has the data for them, so the same code serves an MLP
//! sweep (no trajectories) and an RNN sweep (no pi/Xi histograms if the trainer stores none).

mod html;
pub mod plots;

use crate::compare::{compare_groups, comparisons_frame};
use crate::degradation::{self, DegradationOptions};
use crate::diversity::{self, DiversityOptions};
use crate::frames::{self, write_analysis};
use crate::selection::{GroupSelection, Include, selection_frame};
use crate::stats::{Bootstrap, mean};
use crate::tables::{TablesError, read_table};
use html::{Page, Section};
use plots::Line;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors of report generation.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the tables failed.
    #[error(transparent)]
    Tables(#[from] TablesError),
    /// A frame operation failed.
    #[error("report: {0}")]
    Polars(#[from] PolarsError),
    /// Diversity analysis failed.
    #[error(transparent)]
    Diversity(#[from] diversity::DiversityError),
    /// Degradation analysis failed.
    #[error(transparent)]
    Degradation(#[from] degradation::DegradationError),
    /// Drawing a figure failed.
    #[error("report figure {name}: {message}")]
    Plot {
        /// Figure name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// Writing files failed.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Report settings.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Final metric of `runs` for hyperparameter plots and group comparisons.
    pub metric: String,
    /// Output directory (default `<sweep_dir>/report`).
    pub out_dir: Option<PathBuf>,
    /// Bootstrap of bands and intervals.
    pub bootstrap: Bootstrap,
    /// Most diversity heatmaps drawn (the tables hold all).
    pub max_heatmaps: usize,
    /// Which nets the diversity and degradation analyses use (default: those that met their
    /// training criterion, see [`crate::selection`]).
    pub include: Include,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            metric: "test_acc".into(),
            out_dir: None,
            bootstrap: Bootstrap::percentile_bands(),
            max_heatmaps: 24,
            include: Include::Criterion,
        }
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct ReportOutput {
    /// The HTML page.
    pub html: PathBuf,
    /// The SVG files.
    pub figures: Vec<PathBuf>,
    /// Analysis tables written under `<sweep_dir>/analysis/`.
    pub tables: Vec<PathBuf>,
    /// Sections skipped and why.
    pub notes: Vec<String>,
}

fn optional(dir: &Path, table: &str) -> Result<Option<DataFrame>, ReportError> {
    match read_table(dir, table) {
        Ok(df) => Ok(Some(df)),
        Err(TablesError::Empty { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

struct Builder<'a> {
    dir: &'a Path,
    opts: &'a ReportOptions,
    page: Page,
    figures: Vec<(String, String)>,
    tables: Vec<PathBuf>,
    notes: Vec<String>,
}

impl Builder<'_> {
    fn figure(
        &mut self,
        section: &mut Section,
        name: &str,
        svg: Result<String, String>,
        caption: &str,
    ) -> Result<(), ReportError> {
        let svg = svg.map_err(|message| ReportError::Plot {
            name: name.to_string(),
            message,
        })?;
        section.figure(name, &svg, caption);
        self.figures.push((name.to_string(), svg));
        Ok(())
    }

    fn store(&mut self, name: &str, mut df: DataFrame) -> Result<DataFrame, ReportError> {
        write_analysis(self.dir, name, &mut df).map_err(|source| ReportError::Io {
            path: self.dir.join("analysis").join(name),
            source,
        })?;
        self.tables
            .push(self.dir.join("analysis").join(format!("{name}.parquet")));
        Ok(df)
    }
}

/// Writes the report of the sweep in `dir`.
pub fn write_report(dir: &Path, opts: &ReportOptions) -> Result<ReportOutput, ReportError> {
    let runs = read_table(dir, "runs")?;
    let labels = frames::group_labels(&runs)?;
    let keys = frames::column_text(&runs, "cell_key")?;
    let group_of: BTreeMap<String, String> =
        keys.iter().cloned().zip(labels.iter().cloned()).collect();
    let sweeps = frames::column_text(&runs, "sweep")?;
    let mut sweep_names: Vec<String> = sweeps.clone();
    sweep_names.sort();
    sweep_names.dedup();
    let groups = frames::groups(&runs)?;
    let title = format!("ensweep report: {}", sweep_names.join(", "));
    let mut b = Builder {
        dir,
        opts,
        page: Page::new(&title),
        figures: Vec::new(),
        tables: Vec::new(),
        notes: Vec::new(),
    };
    let mut overview = Section::new("Overview");
    overview.text(&format!(
        "{} runs in {} configuration groups; final metric <code>{}</code>.",
        runs.height(),
        groups.len(),
        html::escape(&opts.metric)
    ));
    let counts: Vec<(String, usize)> = groups
        .iter()
        .map(|g| (g.label.clone(), g.members.len()))
        .collect();
    overview.table_rows(
        &["group", "seeds"],
        counts
            .iter()
            .map(|(g, n)| vec![g.clone(), n.to_string()])
            .collect(),
    );
    b.page.push(overview);

    learning_curves(&mut b, &group_of)?;
    hyperparameters(&mut b, &runs)?;
    pruning(&mut b)?;
    diversity_section(&mut b)?;
    spectra(&mut b, &group_of)?;
    layers(&mut b, &group_of)?;
    statistics(&mut b, &runs)?;

    let out_dir = opts.out_dir.clone().unwrap_or_else(|| dir.join("report"));
    let fig_dir = out_dir.join("figures");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(&fig_dir).map_err(io(&fig_dir))?;
    let mut figures = Vec::new();
    for (name, svg) in &b.figures {
        let p = fig_dir.join(format!("{name}.svg"));
        std::fs::write(&p, svg).map_err(io(&p))?;
        figures.push(p);
    }
    for n in &b.notes {
        b.page.note(n);
    }
    let html_path = out_dir.join("index.html");
    std::fs::write(&html_path, b.page.render()).map_err(io(&html_path))?;
    Ok(ReportOutput {
        html: html_path,
        figures,
        tables: b.tables,
        notes: b.notes,
    })
}

/// Mean and bootstrap band of `ys` (band NaN for fewer than 2 values).
fn band(boot: &Bootstrap, ys: &[f64]) -> (f64, f64, f64) {
    if ys.len() < 2 {
        return (mean(ys), f64::NAN, f64::NAN);
    }
    match boot.ci_mean(ys) {
        Ok(i) => (i.estimate, i.low, i.high),
        Err(_) => (mean(ys), f64::NAN, f64::NAN),
    }
}

fn value_columns(df: &DataFrame, fixed: &[&str]) -> Vec<String> {
    df.columns()
        .iter()
        .filter(|c| !fixed.contains(&c.name().as_str()) && c.dtype().is_primitive_numeric())
        .map(|c| c.name().to_string())
        .collect()
}

fn learning_curves(
    b: &mut Builder,
    group_of: &BTreeMap<String, String>,
) -> Result<(), ReportError> {
    let Some(epochs) = optional(b.dir, "epochs")? else {
        b.notes
            .push("no epochs table: learning curves skipped".into());
        return Ok(());
    };
    let mut sec = Section::new("Learning curves");
    let keys = frames::column_text(&epochs, "cell_key")?;
    let ep = frames::f64s(&epochs, "epoch")?;
    for (mi, metric) in value_columns(&epochs, &["cell_key", "epoch"])
        .iter()
        .take(6)
        .enumerate()
    {
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
                }
            })
            .collect();
        let svg = plots::lines(
            &format!("{metric} per epoch"),
            "epoch",
            metric,
            &lines,
            None,
        );
        b.figure(
            &mut sec,
            &format!("learning_{mi}_{}", html::slug(metric)),
            svg,
            &format!("Mean {metric} over seeds per group, with a 95% bootstrap band."),
        )?;
    }
    b.page.push(sec);
    Ok(())
}

fn hyperparameters(b: &mut Builder, runs: &DataFrame) -> Result<(), ReportError> {
    let axes = frames::axis_columns(runs);
    if axes.is_empty() || runs.column(&b.opts.metric).is_err() {
        b.notes.push(format!(
            "no axes or no `{}` column in runs: hyperparameter plots skipped",
            b.opts.metric
        ));
        return Ok(());
    }
    let mut sec = Section::new(&format!("{} vs swept hyperparameters", b.opts.metric));
    let vals = frames::f64s(runs, &b.opts.metric)?;
    for (ai, axis) in axes.iter().enumerate() {
        let text = frames::column_text(runs, axis)?;
        let numeric = runs.column(axis)?.dtype().is_primitive_numeric();
        let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (t, v) in text.iter().zip(&vals) {
            if v.is_finite() {
                by.entry(t.clone()).or_default().push(*v);
            }
        }
        let mut cats: Vec<String> = by.keys().cloned().collect();
        if numeric {
            cats.sort_by(|a, b| {
                a.parse::<f64>()
                    .unwrap_or(0.0)
                    .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
            });
        }
        let stats: Vec<(f64, f64, f64)> = cats
            .iter()
            .map(|c| band(&b.opts.bootstrap, &by[c]))
            .collect();
        let line = Line {
            name: String::new(),
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
        };
        let name = &axis["axis.".len()..];
        let svg = plots::lines(
            &format!("{} vs {name}", b.opts.metric),
            name,
            &b.opts.metric,
            &[line],
            Some(&cats),
        );
        b.figure(&mut sec, &format!("hyper_{ai}_{}", html::slug(name)), svg, &format!("Mean {} over all runs at each value of {name} (other axes pooled), 95% bootstrap band.", b.opts.metric))?;
    }
    b.page.push(sec);
    Ok(())
}

fn pruning(b: &mut Builder) -> Result<(), ReportError> {
    if optional(b.dir, "pruning")?.is_none() {
        b.notes.push("no pruning table: degradation skipped".into());
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
    let mut by_layer: BTreeMap<&str, BTreeMap<(String, String), Vec<&degradation::CurvePoint>>> =
        BTreeMap::new();
    for p in &d.curves {
        by_layer
            .entry(p.layer.as_str())
            .or_default()
            .entry((p.group.clone(), p.criterion.clone()))
            .or_default()
            .push(p);
    }
    for (li, (layer, curves)) in by_layer.iter().enumerate() {
        let lines: Vec<Line> = curves
            .iter()
            .map(|((g, c), pts)| Line {
                name: format!("{g} / {c}"),
                points: pts.iter().map(|p| (p.fraction, p.mean)).collect(),
                band: pts.iter().map(|p| (p.fraction, p.low, p.high)).collect(),
            })
            .collect();
        let svg = plots::lines(
            &format!("{} under pruning of {layer}", d.metric),
            "fraction removed",
            &d.metric,
            &lines,
            None,
        );
        b.figure(
            &mut sec,
            &format!("pruning_{li}_{}", html::slug(layer)),
            svg,
            "Mean over seeds with 95% bootstrap bands, per group and criterion.",
        )?;
    }
    let cmp = b.store("degradation_comparisons", d.comparisons_frame()?)?;
    b.store("degradation_curves", d.curves_frame()?)?;
    let seeds = b.store("degradation_seeds", d.seeds_frame()?)?;
    sec.text(&format!("Paired by seed: AUC(criterion) - AUC({}) of <code>{}</code>, Wilcoxon signed-rank, Holm-adjusted over all rows.", html::escape(&DegradationOptions::default().baseline), html::escape(&d.metric)));
    sec.frame(&cmp);
    // Crossing summary: median crossing fraction per group / layer / criterion.
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
        "Removed fraction at which {} has moved {} from its unpruned value (seeds that reach it).",
        html::escape(&d.metric),
        opts.drop
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
    let _ = seeds;
    b.page.push(sec);
    Ok(())
}

/// States which nets an analysis used: per group, included and excluded counts and why.
fn selection_table(
    sec: &mut Section,
    sel: &[GroupSelection],
    include: Include,
) -> Result<(), ReportError> {
    sec.text(match include {
        Include::Criterion => "Only nets that met their training criterion are analysed (<code>reached_threshold</code> for matched-loss runs, else <code>success</code>); <code>ensweep report --all-nets</code> includes every net.",
        Include::All => "Every net is analysed, whether or not it met its training criterion (<code>--all-nets</code>).",
    });
    sec.frame(&selection_frame(sel)?);
    Ok(())
}

fn diversity_section(b: &mut Builder) -> Result<(), ReportError> {
    let opts = DiversityOptions {
        bootstrap: b.opts.bootstrap,
        include: b.opts.include,
        ..Default::default()
    };
    let d = diversity::analyse(b.dir, &opts)?;
    if d.matrices.is_empty() && d.summaries.is_empty() {
        b.notes
            .push("no trajectories, weights or behavioural metric: diversity skipped".into());
        return Ok(());
    }
    let mut sec = Section::new("Diversity across seeds");
    selection_table(&mut sec, &d.selection, b.opts.include)?;
    sec.text("Seeds x seeds matrices per configuration group: <code>cka</code> (linear CKA of hidden trajectories on the probe set, 1 = same up to rotation), <code>dynamics_distance</code> (DSA-style: delay embedding, Procrustes-aligned linear operators), <code>weight_distance</code> (relative distance after aligning hidden units by an assignment solver), <code>prediction_disagreement</code>, <code>important_jaccard</code>. Intervals resample seeds.");
    for (i, m) in d.matrices.iter().take(b.opts.max_heatmaps).enumerate() {
        let labels: Vec<String> = m.seeds.iter().map(|s| s.to_string()).collect();
        let svg = plots::heatmap(&format!("{} ({})", m.metric, m.group), &labels, &m.values);
        b.figure(
            &mut sec,
            &format!("diversity_{i}_{}", html::slug(&m.metric)),
            svg,
            &format!("{} between seeds, group {}", m.metric, m.group),
        )?;
    }
    if d.matrices.len() > b.opts.max_heatmaps {
        sec.text(&format!(
            "{} more matrices in analysis/diversity_pairs.parquet.",
            d.matrices.len() - b.opts.max_heatmaps
        ));
    }
    let summary = b.store("diversity_summary", d.summary_frame()?)?;
    b.store("diversity_pairs", d.pairs_frame()?)?;
    sec.frame(&summary);
    b.page.push(sec);
    Ok(())
}

fn spectra(b: &mut Builder, group_of: &BTreeMap<String, String>) -> Result<(), ReportError> {
    let Some(sp) = optional(b.dir, "spectra")? else {
        b.notes
            .push("no spectra table: eigenvalue plots skipped".into());
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
        let svg = plots::eigenvalues(&format!("eigenvalues of {mat}"), &series);
        b.figure(
            &mut sec,
            &format!("spectrum_{mi}_{}", html::slug(mat)),
            svg,
            "All seeds' eigenvalues per group, against the unit circle.",
        )?;
    }
    b.page.push(sec);
    Ok(())
}

fn layers(b: &mut Builder, group_of: &BTreeMap<String, String>) -> Result<(), ReportError> {
    let Some(ly) = optional(b.dir, "layers")? else {
        b.notes
            .push("no layers table: per-layer plots skipped".into());
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
        let svg = plots::bars(
            &format!("{what} histogram per layer"),
            "mean count",
            &cats,
            &series,
        );
        b.figure(
            &mut sec,
            &format!("hist_{what}"),
            svg,
            &format!(
                "Histogram of {what} (bins from the `{prefix}NN` columns), averaged over runs."
            ),
        )?;
    }
    let fracs: Vec<&String> = cols.iter().filter(|c| c.ends_with("_frac")).collect();
    if !fracs.is_empty() {
        let mut glabels: Vec<&String> = group_of.values().collect();
        glabels.sort();
        glabels.dedup();
        for (gi, g) in glabels.iter().enumerate().take(8) {
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
            let svg = plots::bars(
                &format!("connection categories ({g})"),
                "fraction",
                &layer_order,
                &series,
            );
            b.figure(
                &mut sec,
                &format!("categories_{gi}"),
                svg,
                "Mean fraction of connections per category and layer.",
            )?;
        }
    }
    if sec.is_empty() {
        b.notes
            .push("layers table has no *_frac or pi/xi histogram columns".into());
        return Ok(());
    }
    b.page.push(sec);
    Ok(())
}

fn statistics(b: &mut Builder, runs: &DataFrame) -> Result<(), ReportError> {
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
    sec.text(&format!("Every pair of groups on <code>{}</code>: IQM with BCa 95% intervals, Hedges' g, Cliff's delta, probability of improvement P(a &gt; b), Welch and Mann-Whitney p-values, Holm and Benjamini-Hochberg adjustments of the Mann-Whitney p-values.", html::escape(&b.opts.metric)));
    let df = b.store("group_comparisons", comparisons_frame(&c)?)?;
    sec.frame(&df);
    b.page.push(sec);
    Ok(())
}

#[cfg(test)]
mod tests;
