//! SVG figures through plotters' SVG backend (no system fonts or C libraries needed: text is
//! emitted as SVG `<text>` and laid out by the browser).

use plotters::prelude::*;

/// Size of every figure in pixels.
const SIZE: (u32, u32) = (640, 400);

/// A line with an optional band (x, low, high).
#[derive(Clone, Debug, Default)]
pub struct Line {
    /// Legend entry.
    pub name: String,
    /// Points of the line.
    pub points: Vec<(f64, f64)>,
    /// Interval band around it.
    pub band: Vec<(f64, f64, f64)>,
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("plot: {e:?}")
}

fn range(vals: impl Iterator<Item = f64>, pad_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if pad_zero {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Tick labels with as many decimals as the axis' tick spacing needs (plotters' default keeps
/// too few: an axis from 7e-5 to 1e-4 read `0.0001, 0.0001, 0.00008, 0.00008`); scientific
/// notation for very small or large magnitudes.
fn tick_format(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let step = ((hi - lo) / 10.0).abs();
    let magnitude = lo.abs().max(hi.abs());
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10()).ceil().clamp(0.0, 12.0) as usize
    } else {
        3
    };
    let scientific = magnitude != 0.0 && !(1e-3..1e5).contains(&magnitude);
    // Significant digits: enough to tell neighbouring ticks apart.
    let digits = if step > 0.0 && magnitude > 0.0 {
        ((magnitude / step).log10().ceil().clamp(1.0, 12.0)) as usize
    } else {
        3
    };
    move |x: &f64| {
        if scientific {
            format!("{:.*e}", digits.saturating_sub(1), x)
        } else {
            format!("{x:.decimals$}")
        }
    }
}

/// The corner of the plot where the legend covers the fewest points and band edges (a legend
/// box is about 45% of the width and 25% of the height here); ties keep the order below.
fn emptiest_corner(series: &[Line], x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let fx = |v: f64| (v - x.0) / (x.1 - x.0);
    let fy = |v: f64| (v - y.0) / (y.1 - y.0);
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .map(|p| (p.0, p.1))
                .chain(s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]))
        })
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(|(a, b)| (fx(a), fy(b)))
        .collect();
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerLeft, false, false),
        (SeriesLabelPosition::LowerRight, true, false),
    ];
    let covered = |right: bool, upper: bool| {
        points
            .iter()
            .filter(|(a, b)| {
                let in_x = if right { *a >= 0.55 } else { *a <= 0.45 };
                let in_y = if upper { *b >= 0.75 } else { *b <= 0.25 };
                in_x && in_y
            })
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, right, upper)| covered(right, upper))
        .map(|(pos, _, _)| pos)
        .unwrap_or(SeriesLabelPosition::UpperRight)
}

/// Lines with bands; `x_labels` turns integer x positions into category names.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Line],
    x_labels: Option<&[String]>,
) -> Result<String, String> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = range(xs, false);
    let ys = series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
    });
    let (y0, y1) = range(ys, false);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        let fmt = |x: &f64| match x_labels {
            Some(l) => {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < l.len() {
                    l[i as usize].clone()
                } else {
                    String::new()
                }
            }
            None => format!("{x:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
        };
        let mut mesh = chart.configure_mesh();
        let y_fmt = tick_format(y0, y1);
        mesh.x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&fmt)
            .y_label_formatter(&y_fmt);
        if let Some(l) = x_labels {
            mesh.x_labels(l.len() * 2 + 1);
        }
        mesh.draw().map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let band: Vec<&(f64, f64, f64)> = s
                .band
                .iter()
                .filter(|b| b.1.is_finite() && b.2.is_finite())
                .collect();
            if band.len() >= 2 {
                let mut poly: Vec<(f64, f64)> = band.iter().map(|b| (b.0, b.2)).collect();
                poly.extend(band.iter().rev().map(|b| (b.0, b.1)));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        poly,
                        color.mix(0.18).filled(),
                    )))
                    .map_err(err)?;
            } else {
                for b in band {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(b.0, b.1), (b.0, b.2)],
                            color.stroke_width(2),
                        )))
                        .map_err(err)?;
                }
            }
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
        }
        if series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .position(emptiest_corner(series, (x0, x1), (y0, y1)))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Colour of `v` in [0, 1] on a blue-white-red-ish sequential scale (dark = low).
fn heat(v: f64) -> RGBColor {
    let t = v.clamp(0.0, 1.0);
    // viridis-like endpoints: dark purple -> teal -> yellow
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

/// A seeds x seeds heatmap (row-major `values`), colour scaled to the finite min..max.
pub fn heatmap(title: &str, labels: &[String], values: &[f64]) -> Result<String, String> {
    let n = labels.len();
    let (lo, hi) = range(values.iter().copied(), false);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..n as f64, 0f64..n as f64)
            .map_err(err)?;
        let fmt = |x: &f64| {
            let i = (x - 0.5).round();
            if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(2 * n + 1)
            .y_labels(2 * n + 1)
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .x_desc("seed")
            .y_desc("seed")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                (0..n)
                    .flat_map(|i| (0..n).map(move |j| (i, j)))
                    .map(|(i, j)| {
                        let v = values[i * n + j];
                        let c = if v.is_finite() {
                            heat((v - lo) / span)
                        } else {
                            RGBColor(200, 200, 200)
                        };
                        Rectangle::new(
                            [
                                (j as f64, (n - 1 - i) as f64),
                                (j as f64 + 1.0, (n - i) as f64),
                            ],
                            c.filled(),
                        )
                    }),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    svg.push_str(&format!("<!-- scale {lo:.4} .. {hi:.4} -->"));
    Ok(svg)
}

/// Points in the complex plane with the unit circle drawn for reference.
pub fn eigenvalues(title: &str, series: &[(String, Vec<(f64, f64)>)]) -> Result<String, String> {
    let m = series
        .iter()
        .flat_map(|s| s.1.iter().flat_map(|p| [p.0.abs(), p.1.abs()]))
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(-m..m, -m..m)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Re")
            .y_desc("Im")
            .draw()
            .map_err(err)?;
        let circle: Vec<(f64, f64)> = (0..=200)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / 200.0;
                (a.cos(), a.sin())
            })
            .collect();
        chart
            .draw_series(LineSeries::new(circle, BLACK.mix(0.6)))
            .map_err(err)?
            .label("unit circle")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(
                    pts.iter()
                        .map(|p| Circle::new(*p, 3, color.mix(0.7).filled())),
                )
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 9, y), 3, color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Grouped bars: one bar per (category, series).
pub fn bars(
    title: &str,
    y_desc: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<String, String> {
    let k = series.len().max(1);
    let (_, y1) = range(series.iter().flat_map(|s| s.1.iter().copied()), true);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..categories.len() as f64, 0f64..y1)
            .map_err(err)?;
        let fmt = |x: &f64| {
            let i = (x - 0.5).round();
            if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < categories.len() {
                categories[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * categories.len() + 1)
            .x_label_formatter(&fmt)
            .y_desc(y_desc)
            .draw()
            .map_err(err)?;
        let width = 0.8 / k as f64;
        for (si, (name, vals)) in series.iter().enumerate() {
            let color = Palette99::pick(si).to_rgba();
            chart
                .draw_series(vals.iter().enumerate().filter(|(_, v)| v.is_finite()).map(
                    |(ci, v)| {
                        let x0 = ci as f64 + 0.1 + si as f64 * width;
                        Rectangle::new([(x0, 0.0), (x0 + width, *v)], color.filled())
                    },
                ))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        if series.len() > 1 || series.iter().any(|s| !s.0.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tick_tests {
    use super::{Line, emptiest_corner, tick_format};
    use plotters::prelude::SeriesLabelPosition;

    fn line(points: &[(f64, f64)]) -> Line {
        Line {
            name: "a".into(),
            points: points.to_vec(),
            band: Vec::new(),
        }
    }

    #[test]
    fn the_legend_goes_where_no_point_is() {
        let rising = line(&(0..=10).map(|i| (i as f64, i as f64)).collect::<Vec<_>>());
        let at = emptiest_corner(&[rising], (0.0, 10.0), (0.0, 10.0));
        assert!(matches!(at, SeriesLabelPosition::UpperLeft), "{at:?}");
        let falling = line(
            &(0..=10)
                .map(|i| (i as f64, 10.0 - i as f64))
                .collect::<Vec<_>>(),
        );
        let at = emptiest_corner(&[falling], (0.0, 10.0), (0.0, 10.0));
        assert!(matches!(at, SeriesLabelPosition::UpperRight), "{at:?}");
    }

    #[test]
    fn neighbouring_ticks_read_differently() {
        let f = tick_format(7e-5, 1.02e-4);
        let labels: Vec<String> = [7e-5, 8e-5, 9e-5, 1e-4].iter().map(&f).collect();
        let mut distinct = labels.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "{labels:?}");
        let f = tick_format(0.0, 0.14);
        assert_eq!(f(&0.02), "0.02");
        let f = tick_format(0.0, 60.0);
        assert_eq!(f(&10.0), "10");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_svg_documents() {
        let l = Line {
            name: "a".into(),
            points: vec![(0.0, 1.0), (1.0, 2.0)],
            band: vec![(0.0, 0.5, 1.5), (1.0, 1.5, 2.5)],
        };
        for svg in [
            lines("t", "x", "y", &[l], None).unwrap(),
            heatmap("h", &["0".into(), "1".into()], &[0.0, 1.0, 1.0, 0.0]).unwrap(),
            eigenvalues("e", &[("m".into(), vec![(0.5, 0.1), (-0.2, 0.9)])]).unwrap(),
            bars("b", "y", &["l1".into()], &[("vip".into(), vec![0.3])]).unwrap(),
        ] {
            assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{svg}");
        }
    }
}
