//! Eigenvalues in the complex plane, one panel per group on shared axes with the unit circle:
//! the region just outside the circle (the modes that sustain activity) stays visible.

use super::style::{self, DESC, FAMILY, Mark, TICK, TITLE};
use super::{Figure, PlotError};
use plotters::prelude::*;
use polars::prelude::*;

/// Draws `(group, eigenvalues)` panels.
pub fn eigenvalues(title: &str, groups: &[(String, Vec<(f64, f64)>)]) -> Result<Figure, PlotError> {
    let m = groups
        .iter()
        .flat_map(|g| g.1.iter().flat_map(|p| [p.0.abs(), p.1.abs()]))
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max)
        * 1.1;
    let n = groups.len().max(1);
    let (rows, cols) = style::grid(n);
    let side = 400u32;
    let (w, h) = (cols as u32 * side, 50 + rows as u32 * (side + 20));
    let mut marks = Vec::new();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let body = root.titled(title, (FAMILY, TITLE).into_font())?;
        let fmt = style::tick_format(-m, m);
        let circle: Vec<(f64, f64)> = (0..=200)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / 200.0;
                (a.cos(), a.sin())
            })
            .collect();
        for (gi, ((name, pts), area)) in groups
            .iter()
            .zip(body.split_evenly((rows, cols)))
            .enumerate()
        {
            let colour = style::colour(gi);
            let mut chart = ChartBuilder::on(&area)
                .caption(name, (FAMILY, DESC).into_font())
                .margin(10)
                .x_label_area_size(48)
                .y_label_area_size(60)
                .build_cartesian_2d(-m..m, -m..m)?;
            chart
                .configure_mesh()
                .x_desc("Re")
                .y_desc("Im")
                .label_style((FAMILY, TICK))
                .axis_desc_style((FAMILY, DESC))
                .light_line_style(BLACK.mix(0.03))
                .bold_line_style(BLACK.mix(0.10))
                .x_label_formatter(&fmt)
                .y_label_formatter(&fmt)
                .draw()?;
            chart.draw_series(LineSeries::new(circle.clone(), BLACK.mix(0.6)))?;
            chart.draw_series(
                pts.iter()
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .map(|p| Circle::new(*p, 3, colour.mix(0.6).filled())),
            )?;
            marks.push(Mark::of("plot", chart.plotting_area()));
        }
        root.present()?;
    }
    style::annotate(&mut svg, &marks);
    let (mut group, mut re, mut im) = (Vec::new(), Vec::new(), Vec::new());
    for (g, pts) in groups {
        for p in pts {
            group.push(g.clone());
            re.push(p.0);
            im.push(p.1);
        }
    }
    let data = DataFrame::new_infer_height(vec![
        Column::new("panel".into(), group),
        Column::new("re".into(), re),
        Column::new("im".into(), im),
    ])?;
    Ok(Figure {
        kind: "eigenvalues",
        svg,
        data,
    })
}
