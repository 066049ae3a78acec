//! Seeds x seeds matrices of one metric: one panel per group, all on one colour scale with a
//! labelled colour bar, so values can be read and groups compared. The scale spans the
//! off-diagonal values: the diagonal (a net against itself: distance 0, similarity 1) would
//! otherwise take the whole scale and leave every real pair one colour.

use super::style::{self, DESC, FAMILY, LEGEND, Mark, TICK, TITLE};
use super::{Figure, PlotError};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use polars::prelude::*;

/// One matrix (row-major, `labels.len()` squared values).
#[derive(Clone, Debug)]
pub struct Matrix {
    /// Panel title (the group).
    pub title: String,
    /// Row and column labels (seeds).
    pub labels: Vec<String>,
    /// Values, row-major.
    pub values: Vec<f64>,
}

const PANEL: (u32, u32) = (320, 340);
const BAR_W: u32 = 130;
/// A net compared with itself.
const DIAGONAL: RGBColor = RGBColor(235, 235, 235);
/// A pair whose value is undefined (NaN).
const MISSING: RGBColor = RGBColor(150, 150, 150);

/// Colour of `t` in [0, 1] on a viridis-like scale (dark = low).
fn heat(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let stops = [
        (68.0, 1.0, 84.0),
        (33.0, 145.0, 140.0),
        (253.0, 231.0, 37.0),
    ];
    let (a, b, u) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], (t - 0.5) * 2.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The shared scale: finite off-diagonal values of every panel.
fn scale(panels: &[Matrix]) -> (f64, f64) {
    let off = panels.iter().flat_map(|m| {
        let n = m.labels.len();
        m.values
            .iter()
            .enumerate()
            .filter(move |(k, _)| k / n.max(1) != k % n.max(1))
            .map(|(_, v)| *v)
    });
    let (lo, hi) = off
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Draws the matrices of `metric` on one scale.
pub fn heatmaps(title: &str, metric: &str, panels: &[Matrix]) -> Result<Figure, PlotError> {
    let n = panels.len().max(1);
    let (rows, cols) = style::grid(n);
    let (w, h) = (cols as u32 * PANEL.0 + BAR_W, 50 + rows as u32 * PANEL.1);
    let (lo, hi) = scale(panels);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut marks = Vec::new();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let body = root.titled(title, (FAMILY, TITLE).into_font())?;
        let (grid, bar) = body.split_horizontally(w - BAR_W);
        for (m, area) in panels.iter().zip(grid.split_evenly((rows, cols))) {
            let k = m.labels.len();
            let every = k.div_ceil(10).max(1);
            let shown: Vec<String> = m
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if i % every == 0 {
                        l.clone()
                    } else {
                        String::new()
                    }
                })
                .collect();
            let fmt = style::category_format(&shown, 0.5);
            // Row 0 is drawn at the top (matrix convention), the y axis counts from the bottom.
            let upward: Vec<String> = shown.iter().rev().cloned().collect();
            let y_fmt = style::category_format(&upward, 0.5);
            let mut chart = ChartBuilder::on(&area)
                .caption(&m.title, (FAMILY, DESC).into_font())
                .margin(8)
                .x_label_area_size(44)
                .y_label_area_size(44)
                .build_cartesian_2d(0f64..k as f64, 0f64..k as f64)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(2 * k + 1)
                .y_labels(2 * k + 1)
                .x_label_formatter(&fmt)
                .y_label_formatter(&y_fmt)
                .label_style((FAMILY, TICK))
                .axis_desc_style((FAMILY, DESC))
                .x_desc("seed")
                .y_desc("seed")
                .draw()?;
            let cells = (0..k).flat_map(|i| (0..k).map(move |j| (i, j)));
            chart.draw_series(cells.map(|(i, j)| {
                let v = m.values.get(i * k + j).copied().unwrap_or(f64::NAN);
                let c = if i == j {
                    DIAGONAL
                } else if v.is_finite() {
                    heat((v - lo) / span)
                } else {
                    MISSING
                };
                let (x, y) = (j as f64, (k - 1 - i) as f64);
                Rectangle::new([(x, y), (x + 1.0, y + 1.0)], c.filled())
            }))?;
            marks.push(Mark::of("plot", chart.plotting_area()));
        }
        marks.push(colour_bar(&bar, metric, lo, hi)?);
        root.present()?;
    }
    style::annotate(&mut svg, &marks);
    Ok(Figure {
        kind: "heatmap",
        svg,
        data: frame(panels)?,
    })
}

/// A vertical colour bar with five labelled ticks and the metric's name above it.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    metric: &str,
    lo: f64,
    hi: f64,
) -> Result<Mark, DrawingAreaErrorKind<DB::ErrorType>> {
    let (_, h) = area.dim_in_pixel();
    let (x0, x1, top, bottom) = (16, 40, 40, h as i32 - 60);
    let steps = 64;
    for s in 0..steps {
        let y = bottom - (bottom - top) * (s + 1) / steps;
        let y_next = bottom - (bottom - top) * s / steps;
        let c = heat((s as f64 + 0.5) / steps as f64);
        area.draw(&Rectangle::new([(x0, y), (x1, y_next)], c.filled()))?;
    }
    area.draw(&Rectangle::new([(x0, top), (x1, bottom)], BLACK.mix(0.5)))?;
    let fmt = style::tick_format(lo, hi);
    let label =
        TextStyle::from((FAMILY, LEGEND).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for t in 0..=4 {
        let y = bottom - (bottom - top) * t / 4;
        area.draw(&PathElement::new(vec![(x1, y), (x1 + 5, y)], BLACK))?;
        let v = lo + (hi - lo) * t as f64 / 4.0;
        area.draw(&Text::new(fmt(&v), (x1 + 8, y), label.clone()))?;
    }
    let name =
        TextStyle::from((FAMILY, LEGEND).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    let short: String = metric.chars().take(16).collect();
    area.draw(&Text::new(short, (4, top - 12), name))?;
    let (ax, ay) = area.get_base_pixel();
    Ok(Mark {
        role: "colorbar",
        rect: (ax + x0, ay + top, ax + x1, ay + bottom),
    })
}

fn frame(panels: &[Matrix]) -> PolarsResult<DataFrame> {
    let (mut panel, mut row, mut col, mut value) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for m in panels {
        let k = m.labels.len();
        for i in 0..k {
            for j in 0..k {
                panel.push(m.title.clone());
                row.push(m.labels[i].clone());
                col.push(m.labels[j].clone());
                value.push(m.values.get(i * k + j).copied().unwrap_or(f64::NAN));
            }
        }
    }
    DataFrame::new_infer_height(vec![
        Column::new("panel".into(), panel),
        Column::new("row_seed".into(), row),
        Column::new("col_seed".into(), col),
        Column::new("value".into(), value),
    ])
}
