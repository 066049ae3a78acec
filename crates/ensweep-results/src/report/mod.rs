//! `ensweep report`: one self-contained HTML page (figures embedded as SVG data URIs, no
//! scripts, no external assets); beside it every figure as SVG and PNG with the data it was drawn
//! from as CSV (`figures/manifest.json` lists them), and the analysis tables under `analysis/`.
//!
//! Sections appear only when the sweep has the data for them, so the same code serves an MLP
//! sweep (no trajectories) and an RNN sweep (no pi/Xi histograms if the trainer stores none).
//! The page opens with the findings: the headline group comparison with its interval and test.

mod curves;
mod degeneracy;
mod html;
mod matrices;
mod other;
pub mod plots;
mod raster;
mod reference;
pub use raster::RasterError;
pub use reference::{ReferenceCurve, ReferenceError};

use crate::degradation;
use crate::diversity;
use crate::frames::{self, write_analysis};
use crate::selection::{GroupSelection, Include, selection_frame};
use crate::stats::{Bootstrap, mean};
use crate::tables::{TablesError, read_table};
use html::{Page, Section};
use plots::Figure;
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
    #[error("report figure {name}: {source}")]
    Plot {
        /// Figure name.
        name: String,
        /// What went wrong.
        source: plots::PlotError,
    },
    /// Rendering a drawn figure as a PNG failed.
    #[error("report figure {name}: {source}")]
    Raster {
        /// Figure name.
        name: String,
        /// What went wrong.
        source: RasterError,
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
    /// Published curves drawn beside the sweep's in the hyperparameter figures whose axis and
    /// metric they match (`ensweep report --reference FILE`).
    pub references: Vec<ReferenceCurve>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            metric: "test_acc".into(),
            out_dir: None,
            bootstrap: Bootstrap::percentile_bands(),
            max_heatmaps: 24,
            include: Include::Criterion,
            references: Vec::new(),
        }
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct ReportOutput {
    /// The HTML page.
    pub html: PathBuf,
    /// The SVG files (each with a `.png` and a `.csv` beside it).
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

/// One figure of the page, with its caption.
struct Drawn {
    name: String,
    figure: Figure,
    caption: String,
}

struct Builder<'a> {
    dir: &'a Path,
    opts: &'a ReportOptions,
    page: Page,
    figures: Vec<Drawn>,
    tables: Vec<PathBuf>,
    notes: Vec<String>,
    /// Sentences for the "Findings" section at the top, gathered as the sections are built.
    findings: Vec<String>,
}

impl Builder<'_> {
    fn figure(
        &mut self,
        section: &mut Section,
        name: &str,
        figure: Result<Figure, plots::PlotError>,
        caption: &str,
    ) -> Result<(), ReportError> {
        let figure = figure.map_err(|source| ReportError::Plot {
            name: name.to_string(),
            source,
        })?;
        section.figure(name, &figure.svg, caption);
        self.figures.push(Drawn {
            name: name.to_string(),
            figure,
            caption: caption.to_string(),
        });
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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + use<> {
    let path = path.to_path_buf();
    move |source| ReportError::Io { path, source }
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
        findings: Vec::new(),
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

    other::statistics(&mut b, &runs)?;
    curves::learning_curves(&mut b, &group_of)?;
    curves::hyperparameters(&mut b, &runs)?;
    curves::pruning(&mut b)?;
    matrices::diversity_section(&mut b, &runs)?;
    matrices::spectra(&mut b, &group_of)?;
    other::layers(&mut b, &group_of)?;
    if !b.findings.is_empty() {
        let mut findings = Section::new("Findings");
        findings.list(&b.findings);
        b.page.insert(0, findings);
    }

    let out_dir = opts.out_dir.clone().unwrap_or_else(|| dir.join("report"));
    let figures = write_figures(&out_dir.join("figures"), &b.figures)?;
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

/// Writes each figure as SVG, PNG and CSV, and `manifest.json` listing them with their kind
/// and caption; returns the SVG paths.
fn write_figures(fig_dir: &Path, drawn: &[Drawn]) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(fig_dir).map_err(io(fig_dir))?;
    let mut svgs = Vec::new();
    let mut manifest = Vec::new();
    for d in drawn {
        let svg = fig_dir.join(format!("{}.svg", d.name));
        std::fs::write(&svg, &d.figure.svg).map_err(io(&svg))?;
        let png_path = fig_dir.join(format!("{}.png", d.name));
        let png = raster::png(&d.figure.svg).map_err(|source| ReportError::Raster {
            name: d.name.clone(),
            source,
        })?;
        std::fs::write(&png_path, png).map_err(io(&png_path))?;
        let csv = fig_dir.join(format!("{}.csv", d.name));
        let mut file = std::fs::File::create(&csv).map_err(io(&csv))?;
        CsvWriter::new(&mut file).finish(&mut d.figure.data.clone())?;
        manifest.push(serde_json::json!({
            "name": d.name,
            "kind": d.figure.kind,
            "caption": d.caption,
            "svg": format!("{}.svg", d.name),
            "png": format!("{}.png", d.name),
            "csv": format!("{}.csv", d.name),
        }));
        svgs.push(svg);
    }
    let path = fig_dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(&path, text).map_err(io(&path))?;
    Ok(svgs)
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

/// "12 of 20 nets (8 excluded: 8 did not reach the loss threshold)" over all groups.
fn selection_sentence(sel: &[GroupSelection]) -> String {
    let included: usize = sel.iter().map(|g| g.included).sum();
    let excluded: usize = sel.iter().map(|g| g.excluded).sum();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for g in sel {
        for (r, n) in &g.reasons {
            *reasons.entry(r.as_str()).or_default() += n;
        }
    }
    let why: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    if excluded == 0 {
        format!("all {included} nets")
    } else {
        format!(
            "{included} of {} nets ({excluded} excluded: {})",
            included + excluded,
            why.join(", ")
        )
    }
}

#[cfg(test)]
mod tests;
