//! Grouped bars (per-layer histograms and connection categories), legend beside the axes.

use super::legend::{self, Swatch};
use super::style::{self, DESC, FAMILY, Mark, TICK, TITLE, WIDTH};
use super::{Figure, PlotError};
use plotters::prelude::*;
use polars::prelude::*;

/// One bar per (category, series).
pub fn bars(
    title: &str,
    y_desc: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<Figure, PlotError> {
    let k = series.len().max(1);
    let (_, y1) = style::range(series.iter().flat_map(|s| s.1.iter().copied()), true);
    let names: Vec<String> = series.iter().map(|s| s.0.clone()).collect();
    let legend_w = legend::width(&names);
    let mut marks = Vec::new();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let body = root.titled(title, (FAMILY, TITLE).into_font())?;
        let (plot, legend_area) = body.split_horizontally(WIDTH - legend_w);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .x_label_area_size(52)
            .y_label_area_size(78)
            .build_cartesian_2d(0f64..categories.len() as f64, 0f64..y1)?;
        let fmt = style::category_format(categories, 0.5);
        let y_fmt = style::tick_format(0.0, y1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * categories.len() + 1)
            .x_label_formatter(&fmt)
            .y_label_formatter(&y_fmt)
            .label_style((FAMILY, TICK))
            .axis_desc_style((FAMILY, DESC))
            .light_line_style(BLACK.mix(0.03))
            .bold_line_style(BLACK.mix(0.10))
            .y_desc(y_desc)
            .draw()?;
        let width = 0.8 / k as f64;
        for (si, (_, vals)) in series.iter().enumerate() {
            let colour = style::colour(si);
            chart.draw_series(vals.iter().enumerate().filter(|(_, v)| v.is_finite()).map(
                |(ci, v)| {
                    let x0 = ci as f64 + 0.1 + si as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, *v)], colour.filled())
                },
            ))?;
        }
        marks.push(Mark::of("plot", chart.plotting_area()));
        if legend_w > 0 {
            let entries = legend::entries(&names, Swatch::Block);
            marks.push(legend::draw(&legend_area, 10, &entries)?);
        }
        root.present()?;
    }
    style::annotate(&mut svg, &marks);
    let (mut cat, mut ser, mut val) = (Vec::new(), Vec::new(), Vec::new());
    for (name, vals) in series {
        for (c, v) in categories.iter().zip(vals) {
            cat.push(c.clone());
            ser.push(name.clone());
            val.push(*v);
        }
    }
    let data = DataFrame::new_infer_height(vec![
        Column::new("category".into(), cat),
        Column::new("series".into(), ser),
        Column::new("value".into(), val),
    ])?;
    Ok(Figure {
        kind: "bars",
        svg,
        data,
    })
}
