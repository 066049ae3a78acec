//! Legends drawn beside the plotting areas, never on them: a legend inside the axes hid the
//! region that mattered (just outside the unit circle in the spectra, the first epochs of the
//! loss curves), and no corner is reliably empty.

use super::style::{self, FAMILY, LEGEND, Mark};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::RGBAColor;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How a legend entry shows its series.
#[derive(Clone, Copy, Debug)]
pub enum Swatch {
    /// A line (curves).
    Line(RGBAColor),
    /// A filled block (bars).
    Block(RGBAColor),
}

const ROW: i32 = 24;
const PAD: i32 = 10;
/// Approximate advance of one character at the legend's size (DejaVu/Arial at 14 px).
const CHAR: f64 = 8.2;

/// Width in pixels the legend of `names` needs (0 when there is nothing to label).
pub fn width(names: &[String]) -> u32 {
    if names.iter().all(|n| n.is_empty()) {
        return 0;
    }
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    (3 * PAD + 22 + (longest as f64 * CHAR) as i32).clamp(80, 380) as u32
}

/// Draws the legend at the top of `area` and returns its mark.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    top: i32,
    entries: &[(String, Swatch)],
) -> Result<Mark, DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, _) = area.dim_in_pixel();
    let height = 2 * PAD + ROW * entries.len() as i32 - (ROW - 16);
    let (x0, x1) = (PAD / 2, w as i32 - PAD / 2);
    area.draw(&Rectangle::new(
        [(x0, top), (x1, top + height)],
        BLACK.mix(0.35),
    ))?;
    let text =
        TextStyle::from((FAMILY, LEGEND).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (name, swatch)) in entries.iter().enumerate() {
        let y = top + PAD + 8 + ROW * i as i32;
        let x = x0 + PAD;
        match *swatch {
            Swatch::Line(c) => area.draw(&PathElement::new(
                vec![(x, y), (x + 22, y)],
                c.stroke_width(3),
            ))?,
            Swatch::Block(c) => area.draw(&Rectangle::new(
                [(x + 4, y - 6), (x + 18, y + 6)],
                c.filled(),
            ))?,
        }
        area.draw(&Text::new(name.clone(), (x + 30, y), text.clone()))?;
    }
    let (ax, ay) = area.get_base_pixel();
    Ok(Mark {
        role: "legend",
        rect: (ax + x0, ay + top, ax + x1, ay + top + height),
    })
}

/// Legend entries for series names in the colours [`style::colour`] gives them.
pub fn entries(names: &[String], swatch: fn(RGBAColor) -> Swatch) -> Vec<(String, Swatch)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), swatch(style::colour(i))))
        .collect()
}
