//! Figures through plotters' SVG backend (no system fonts or C libraries needed: text is
//! emitted as SVG `<text>` and laid out by the browser). Each figure carries the data it was
//! drawn from, written beside it as CSV so a user can re-plot it.

mod bars;
mod heatmap;
mod legend;
mod lines;
mod spectrum;
mod style;

pub use bars::bars;
pub use heatmap::{Matrix, heatmaps};
pub use lines::{Line, LineFigure, Panel, jitter, lines};
pub use spectrum::eigenvalues;

use plotters::drawing::DrawingAreaErrorKind;
use polars::prelude::{DataFrame, PolarsError};

/// A drawn figure and the data behind it.
#[derive(Clone, Debug)]
pub struct Figure {
    /// `lines`, `strip`, `heatmap`, `eigenvalues` or `bars` (what the checker tests it for).
    pub kind: &'static str,
    /// The SVG document.
    pub svg: String,
    /// One row per drawn value.
    pub data: DataFrame,
}

/// Why a figure could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The SVG backend failed to draw (plotters' error, with the backend's I/O error inside).
    #[error("plot: {0}")]
    Draw(#[from] DrawingAreaErrorKind<std::io::Error>),
    /// The table of the drawn values could not be built.
    #[error("plot data: {0}")]
    Data(#[from] PolarsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Line {
        Line {
            name: "a".into(),
            points: vec![(0.0, 1.0), (1.0, 2.0)],
            band: vec![(0.0, 0.5, 1.5), (1.0, 1.5, 2.5)],
            runs: vec![(0.1, 1.2), (0.9, 2.2)],
        }
    }

    #[test]
    fn figures_are_svg_documents_with_their_data() {
        let single = LineFigure {
            title: "t".into(),
            x_desc: "x".into(),
            y_desc: "y".into(),
            panels: vec![Panel {
                title: String::new(),
                lines: vec![line()],
            }],
            ..Default::default()
        };
        let matrix = Matrix {
            title: "g".into(),
            labels: vec!["0".into(), "1".into()],
            values: vec![0.0, 1.0, 1.0, 0.0],
        };
        for (fig, rows) in [
            (lines(&single).unwrap(), 4),
            (heatmaps("h", "m", &[matrix.clone(), matrix]).unwrap(), 8),
            (
                eigenvalues("e", &[("m".into(), vec![(0.5, 0.1), (-0.2, 0.9)])]).unwrap(),
                2,
            ),
            (
                bars("b", "y", &["l1".into()], &[("vip".into(), vec![0.3])]).unwrap(),
                1,
            ),
        ] {
            assert!(
                fig.svg.starts_with("<svg") && fig.svg.contains("</svg>"),
                "{}",
                fig.svg
            );
            assert!(fig.svg.contains("class=\"ensweep-plot\""), "{}", fig.kind);
            assert_eq!(fig.data.height(), rows, "{}", fig.kind);
        }
    }

    /// Every legend and colour bar is marked, and lies beside the plotting areas, not on them.
    #[test]
    fn legends_and_colour_bars_sit_outside_the_plots() {
        let fig = lines(&LineFigure {
            title: "t".into(),
            panels: vec![
                Panel {
                    title: "p".into(),
                    lines: vec![line()],
                },
                Panel {
                    title: "q".into(),
                    lines: vec![line()],
                },
            ],
            ..Default::default()
        })
        .unwrap();
        let heat = heatmaps(
            "h",
            "m",
            &[Matrix {
                title: "g".into(),
                labels: vec!["0".into(), "1".into()],
                values: vec![0.0, 1.0, 2.0, 0.0],
            }],
        )
        .unwrap();
        for (svg, role) in [(&fig.svg, "legend"), (&heat.svg, "colorbar")] {
            let rects = marks(svg);
            let outside = rects.iter().filter(|(r, _)| r == role).collect::<Vec<_>>();
            assert_eq!(outside.len(), 1, "{role}: {svg}");
            for (r, p) in rects.iter().filter(|(r, _)| r == "plot") {
                let o = outside[0].1;
                let apart = o[0] >= p[2] || p[0] >= o[2] || o[1] >= p[3] || p[1] >= o[3];
                assert!(apart, "{role} {o:?} overlaps {r} {p:?}");
            }
        }
    }

    fn marks(svg: &str) -> Vec<(String, [i32; 4])> {
        svg.lines()
            .filter_map(|l| {
                let role = l.split("class=\"ensweep-").nth(1)?.split('"').next()?;
                let num = |k: &str| -> i32 {
                    l.split(&format!(" {k}=\""))
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                let (x, y) = (num("x"), num("y"));
                Some((
                    role.to_string(),
                    [x, y, x + num("width"), y + num("height")],
                ))
            })
            .collect()
    }
}
