//! PNG copies of the SVG figures, for slides and papers. Rendered by resvg with a font compiled
//! into the binary (DejaVu Sans, Bitstream Vera licence, `assets/DejaVuSans-LICENSE.txt`), so
//! the PNGs look the same on a machine without any fonts installed.

use resvg::{tiny_skia, usvg};
use std::sync::{Arc, OnceLock};

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// Pixels per SVG unit: print resolution for a figure ~900 units wide.
const SCALE: f32 = 2.0;

fn options() -> &'static usvg::Options<'static> {
    static OPTIONS: OnceLock<usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        usvg::Options {
            font_family: "DejaVu Sans".into(),
            fontdb: Arc::new(db),
            ..Default::default()
        }
    })
}

/// Why a figure could not be rendered as a PNG.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// The SVG document does not parse.
    #[error("svg: {0}")]
    Svg(#[from] usvg::Error),
    /// The figure has no pixels.
    #[error("png: empty figure {width}x{height}")]
    Empty {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// PNG encoding failed (the encoder's own error type is not public API of the renderer).
    #[error("png: {0}")]
    Encode(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The SVG document rendered as a PNG at twice its size.
pub fn png(svg: &str) -> Result<Vec<u8>, RasterError> {
    let tree = usvg::Tree::from_str(svg, options())?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * SCALE).ceil() as u32,
        (size.height() * SCALE).ceil() as u32,
    );
    let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or(RasterError::Empty {
        width: w,
        height: h,
    })?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| RasterError::Encode(Box::new(e)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_figure_becomes_a_png_with_text() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text x="5" y="25" font-family="sans-serif" font-size="16">seed 7</text></svg>"#;
        let png = super::png(svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let blank =
            super::png(r#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"></svg>"#)
                .unwrap();
        // The text was drawn (a glyph-free render compresses to far fewer bytes).
        assert!(
            png.len() > blank.len() + 200,
            "{} vs {}",
            png.len(),
            blank.len()
        );
    }
}
