//! What every figure shares: type sizes, colours, axis ranges and tick labels, and the marks
//! that let a checker find plot areas, legends and colour bars in the SVG's geometry.

use plotters::prelude::*;
use plotters::style::RGBAColor;

/// Font family of all text (the browser picks its sans-serif; the PNG uses the embedded font).
pub const FAMILY: &str = "sans-serif";
// plotters writes `font-size` as size / 1.24, so these give ~18, 15, 14 and 14 px.
/// Figure titles.
pub const TITLE: f64 = 22.0;
/// Axis descriptions.
pub const DESC: f64 = 19.0;
/// Tick labels.
pub const TICK: f64 = 17.0;
/// Legend entries and colour-bar labels.
pub const LEGEND: f64 = 17.0;
/// Width of every line or panel-grid figure, legend included (a page column at 1280 px).
pub const WIDTH: u32 = 900;

/// Rows and columns for `n` panels: at most three per row, two by two for four.
pub fn grid(n: usize) -> (usize, usize) {
    let n = n.max(1);
    let cols = if n == 4 { 2 } else { n.min(3) };
    (n.div_ceil(cols), cols)
}

/// Colour of series `i` (Okabe-Ito: distinguishable with the common colour-vision deficiencies).
pub fn colour(i: usize) -> RGBAColor {
    const OKABE_ITO: [(u8, u8, u8); 8] = [
        (0, 114, 178),
        (213, 94, 0),
        (0, 158, 115),
        (204, 121, 167),
        (230, 159, 0),
        (86, 180, 233),
        (0, 0, 0),
        (240, 228, 66),
    ];
    let (r, g, b) = OKABE_ITO[i % OKABE_ITO.len()];
    RGBColor(r, g, b).to_rgba()
}

/// The finite range of `vals`, padded by 5% (or +-0.5 when flat); (0, 1) when none is finite.
pub fn range(vals: impl Iterator<Item = f64>, pad_zero: bool) -> (f64, f64) {
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
pub fn tick_format(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
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

/// Labels for integer positions `0..labels.len()` (offset 0.5 for cell-centred axes).
pub fn category_format(labels: &[String], offset: f64) -> impl Fn(&f64) -> String + '_ {
    move |x: &f64| {
        let i = (x - offset).round();
        if (x - offset - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    }
}

/// A rectangle of the figure in SVG pixels, named for the checker.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    /// `plot` (a plotting area), `legend` or `colorbar`.
    pub role: &'static str,
    /// Left, top, right, bottom in pixels.
    pub rect: (i32, i32, i32, i32),
}

impl Mark {
    /// The mark of an area's pixel range.
    pub fn of<DB: DrawingBackend, CT: CoordTranslate>(
        role: &'static str,
        area: &DrawingArea<DB, CT>,
    ) -> Self {
        let (x, y) = area.get_pixel_range();
        Self {
            role,
            rect: (x.start, y.start, x.end, y.end),
        }
    }
}

/// Appends the marks as invisible `<rect class="ensweep-ROLE">` elements, so that
/// `tests/scripts/check_report.py` can test the drawn geometry against them (is any data point
/// under a legend? does every heatmap carry a colour bar?).
pub fn annotate(svg: &mut String, marks: &[Mark]) {
    let Some(end) = svg.rfind("</svg>") else {
        return;
    };
    let mut tags = String::new();
    for m in marks {
        let (x0, y0, x1, y1) = m.rect;
        tags.push_str(&format!(
            "<rect class=\"ensweep-{}\" x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"none\"/>\n",
            m.role,
            x1 - x0,
            y1 - y0
        ));
    }
    svg.insert_str(end, &tags);
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn marks_land_inside_the_svg_element() {
        let mut svg = String::from("<svg width=\"10\" height=\"10\">\n</svg>\n");
        annotate(
            &mut svg,
            &[Mark {
                role: "legend",
                rect: (1, 2, 5, 9),
            }],
        );
        assert!(
            svg.contains("<rect class=\"ensweep-legend\" x=\"1\" y=\"2\" width=\"4\" height=\"7\""),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
