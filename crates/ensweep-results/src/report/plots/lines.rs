//! Curves with bands, one panel per group where curves would overlap (small multiples with
//! shared axes), and strip plots for categorical axes (every run shown, mean and interval beside).

use super::legend::{self, Swatch};
use super::style::{self, DESC, FAMILY, Mark, TICK, TITLE, WIDTH};
use super::{Figure, PlotError};
use plotters::prelude::*;
use polars::prelude::*;

/// A series: mean points, an interval band, and optionally the individual runs.
#[derive(Clone, Debug, Default)]
pub struct Line {
    /// Legend entry (shared across panels: the same name has the same colour everywhere).
    pub name: String,
    /// Mean (or median) per x.
    pub points: Vec<(f64, f64)>,
    /// Interval per x: (x, low, high).
    pub band: Vec<(f64, f64, f64)>,
    /// Individual runs, drawn as small dots.
    pub runs: Vec<(f64, f64)>,
}

/// One panel of a figure.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    /// Panel title (empty for a single-panel figure).
    pub title: String,
    /// Its series.
    pub lines: Vec<Line>,
}

/// A figure of one or more panels with shared axes.
#[derive(Clone, Debug, Default)]
pub struct LineFigure {
    /// Figure title.
    pub title: String,
    /// x axis description.
    pub x_desc: String,
    /// y axis description.
    pub y_desc: String,
    /// The panels, laid out in rows of at most three.
    pub panels: Vec<Panel>,
    /// Category names for integer x positions.
    pub categories: Option<Vec<String>>,
    /// Whether the categories have a natural order (numeric axis values): a line joins them.
    /// Unordered categories make a strip plot: every run, the mean and its interval, no line.
    pub ordered: bool,
}

impl LineFigure {
    fn connected(&self) -> bool {
        self.categories.is_none() || self.ordered
    }

    fn series_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for l in self.panels.iter().flat_map(|p| &p.lines) {
            if !names.contains(&l.name) {
                names.push(l.name.clone());
            }
        }
        names
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let lines = || self.panels.iter().flat_map(|p| &p.lines);
        let x = match &self.categories {
            Some(c) => (-0.5, c.len() as f64 - 0.5),
            None => style::range(
                lines().flat_map(|l| l.points.iter().chain(&l.runs).map(|p| p.0)),
                false,
            ),
        };
        let y = style::range(
            lines().flat_map(|l| {
                l.points
                    .iter()
                    .chain(&l.runs)
                    .map(|p| p.1)
                    .chain(l.band.iter().flat_map(|b| [b.1, b.2]))
            }),
            false,
        );
        (x, y)
    }

    /// The data behind the figure: one row per plotted mean (with its interval) or run.
    fn frame(&self) -> PolarsResult<DataFrame> {
        let (mut panel, mut series, mut stat) = (Vec::new(), Vec::new(), Vec::new());
        let (mut xs, mut label, mut ys, mut lo, mut hi) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let name_of = style::category_format(self.categories.as_deref().unwrap_or(&[]), 0.0);
        for p in &self.panels {
            for l in &p.lines {
                for (i, &(x, y)) in l.points.iter().enumerate() {
                    let b = l.band.get(i).copied().unwrap_or((x, f64::NAN, f64::NAN));
                    panel.push(p.title.clone());
                    series.push(l.name.clone());
                    stat.push("mean");
                    xs.push(x);
                    label.push(name_of(&x));
                    ys.push(y);
                    lo.push(b.1);
                    hi.push(b.2);
                }
                for &(x, y) in &l.runs {
                    panel.push(p.title.clone());
                    series.push(l.name.clone());
                    stat.push("run");
                    xs.push(x.round());
                    label.push(name_of(&x.round()));
                    ys.push(y);
                    lo.push(f64::NAN);
                    hi.push(f64::NAN);
                }
            }
        }
        let mut cols = vec![
            Column::new("panel".into(), panel),
            Column::new("series".into(), series),
            Column::new("statistic".into(), stat),
            Column::new("x".into(), xs),
        ];
        if self.categories.is_some() {
            cols.push(Column::new("category".into(), label));
        }
        cols.push(Column::new("y".into(), ys));
        cols.push(Column::new("ci_low".into(), lo));
        cols.push(Column::new("ci_high".into(), hi));
        DataFrame::new_infer_height(cols)
    }
}

/// Deterministic horizontal jitter for the `i`-th run of a category (golden-ratio sequence),
/// so strip plots are the same on every render.
pub fn jitter(i: usize) -> f64 {
    ((i as f64 * 0.618_034) % 1.0 - 0.5) * 0.36
}

/// Width of the y tick-label area and the margin around each panel (pixels): what
/// [`label_stride`] subtracts from a panel to get its plotting width.
const Y_LABEL_AREA: u32 = 78;
const PANEL_MARGIN: u32 = 10;

/// Every how many categories a tick is labelled so that the labels do not run into each other
/// in a panel `panel_w` pixels wide (23 interval values of up to 3 digits need every second).
fn label_stride(categories: &[String], panel_w: u32) -> usize {
    // The plotting area is the panel less the y-label area and margins; a digit of the tick
    // font is about 0.6 of its size wide, and labels want a gap of about two digits.
    let plot_w = panel_w
        .saturating_sub(Y_LABEL_AREA + 2 * PANEL_MARGIN)
        .max(1) as f64;
    let widest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1) as f64;
    let label_w = (widest + 2.0) * 0.6 * TICK;
    let per_category = plot_w / categories.len().max(1) as f64;
    ((label_w / per_category).ceil() as usize).max(1)
}

/// Draws the figure.
pub fn lines(fig: &LineFigure) -> Result<Figure, PlotError> {
    let names = fig.series_names();
    let labelled: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
    let legend_w = legend::width(&labelled);
    let n = fig.panels.len().max(1);
    let (rows, cols) = style::grid(n);
    let panel_h = if n == 1 { 460 } else { 320 };
    let height = 50 + rows as u32 * panel_h;
    let ((x0, x1), (y0, y1)) = fig.ranges();
    let mut marks = Vec::new();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let body = root.titled(&fig.title, (FAMILY, TITLE).into_font())?;
        let (plots, legend_area) = body.split_horizontally(WIDTH - legend_w);
        let stride = fig
            .categories
            .as_deref()
            .map_or(1, |c| label_stride(c, (WIDTH - legend_w) / cols as u32));
        let x_fmt = |x: &f64| match &fig.categories {
            Some(c) if (x.round() as usize).is_multiple_of(stride) => {
                style::category_format(c, 0.0)(x)
            }
            Some(_) => String::new(),
            None => style::tick_format(x0, x1)(x),
        };
        let y_fmt = style::tick_format(y0, y1);
        for (panel, area) in fig.panels.iter().zip(plots.split_evenly((rows, cols))) {
            let mut chart = ChartBuilder::on(&area)
                .caption(&panel.title, (FAMILY, DESC).into_font())
                .margin(PANEL_MARGIN)
                .x_label_area_size(52)
                .y_label_area_size(Y_LABEL_AREA)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            let mut mesh = chart.configure_mesh();
            mesh.x_desc(&fig.x_desc)
                .y_desc(&fig.y_desc)
                .label_style((FAMILY, TICK))
                .axis_desc_style((FAMILY, DESC))
                .light_line_style(BLACK.mix(0.03))
                .bold_line_style(BLACK.mix(0.10))
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt);
            if let Some(c) = &fig.categories {
                mesh.x_labels(c.len() + 1).disable_x_mesh();
            }
            mesh.draw()?;
            for line in &panel.lines {
                let i = names.iter().position(|n| *n == line.name).unwrap_or(0);
                draw_line(&mut chart, line, style::colour(i), fig.connected())?;
            }
            marks.push(Mark::of("plot", chart.plotting_area()));
        }
        if legend_w > 0 {
            let entries = legend::entries(&names, Swatch::Line);
            let top = if n == 1 { 10 } else { 40 };
            marks.push(legend::draw(&legend_area, top, &entries)?);
        }
        root.present()?;
    }
    style::annotate(&mut svg, &marks);
    Ok(Figure {
        kind: if fig.connected() { "lines" } else { "strip" },
        svg,
        data: fig.frame()?,
    })
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// One series: a band and a line (`connect`), or interval bars and mean ticks (strip plot);
/// then the individual runs as small dots.
fn draw_line(
    chart: &mut Chart,
    line: &Line,
    colour: plotters::style::RGBAColor,
    connect: bool,
) -> Result<(), PlotError> {
    let band: Vec<&(f64, f64, f64)> = line
        .band
        .iter()
        .filter(|b| b.1.is_finite() && b.2.is_finite())
        .collect();
    let pts: Vec<(f64, f64)> = line
        .points
        .iter()
        .copied()
        .filter(|p| p.1.is_finite())
        .collect();
    if connect && band.len() >= 2 {
        let mut poly: Vec<(f64, f64)> = band.iter().map(|b| (b.0, b.2)).collect();
        poly.extend(band.iter().rev().map(|b| (b.0, b.1)));
        chart.draw_series(std::iter::once(Polygon::new(
            poly,
            colour.mix(0.18).filled(),
        )))?;
    } else {
        chart.draw_series(
            band.iter()
                .map(|b| PathElement::new(vec![(b.0, b.1), (b.0, b.2)], colour.stroke_width(3))),
        )?;
    }
    if connect {
        chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
    } else {
        chart.draw_series(pts.iter().map(|p| {
            PathElement::new(
                vec![(p.0 - 0.22, p.1), (p.0 + 0.22, p.1)],
                colour.stroke_width(3),
            )
        }))?;
    }
    chart.draw_series(
        line.runs
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|p| Circle::new(*p, 4, colour.mix(0.55).filled())),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::label_stride;

    #[test]
    fn crowded_category_labels_are_thinned_and_sparse_ones_kept() {
        let cats = |v: &[u32]| -> Vec<String> { v.iter().map(u32::to_string).collect() };
        // The interval sweep: 23 values up to 170 beside a legend.
        let intervals = cats(&[
            25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100, 110, 120, 130, 140,
            150, 160, 170,
        ]);
        let stride = label_stride(&intervals, 670);
        assert!(stride >= 2, "{stride}");
        // Labels that remain are at least as far apart as a label is wide.
        let per_category = (670.0 - 98.0) / 23.0;
        assert!(stride as f64 * per_category >= 5.0 * 0.6 * super::TICK);
        assert_eq!(label_stride(&cats(&[50, 100, 200, 300, 500]), 670), 1);
        assert_eq!(label_stride(&cats(&[1, 2]), 900), 1);
    }
}
