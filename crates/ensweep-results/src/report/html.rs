//! A minimal HTML page builder: sections of text, figures (SVG embedded as base64 data URIs so
//! the page is one self-contained file, with links to the PNG, SVG and CSV beside it) and
//! tables. No scripts, so no console errors to hide.

use polars::prelude::*;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A file-name-safe slug.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Number formatting for tables: 4 significant-ish digits, `-` for NaN.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// One section of the page.
pub struct Section {
    title: String,
    body: Vec<String>,
}

impl Section {
    /// An empty section.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_string(),
            body: Vec::new(),
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// A paragraph of (trusted) HTML.
    pub fn text(&mut self, html: &str) {
        self.body.push(format!("<p>{html}</p>"));
    }

    /// A bulleted list of (trusted) HTML items.
    pub fn list(&mut self, items: &[String]) {
        let lis: String = items.iter().map(|i| format!("<li>{i}</li>")).collect();
        self.body.push(format!("<ul class=\"findings\">{lis}</ul>"));
    }

    /// An embedded SVG figure, with links to its files under `figures/`.
    pub fn figure(&mut self, name: &str, svg: &str, caption: &str) {
        let n = escape(name);
        self.body.push(format!(
            "<figure id=\"{n}\"><img alt=\"{n}\" src=\"data:image/svg+xml;base64,{}\"><figcaption>{} <span class=\"files\"><a href=\"figures/{n}.png\">PNG</a> \u{b7} <a href=\"figures/{n}.svg\">SVG</a> \u{b7} <a href=\"figures/{n}.csv\">data (CSV)</a></span></figcaption></figure>",
            base64(svg.as_bytes()),
            escape(caption)
        ));
    }

    /// A table from pre-formatted cells.
    pub fn table_rows(&mut self, header: &[&str], rows: Vec<Vec<String>>) {
        let mut s = String::from("<table><thead><tr>");
        for h in header {
            s.push_str(&format!("<th>{}</th>", escape(h)));
        }
        s.push_str("</tr></thead><tbody>");
        for r in rows {
            s.push_str("<tr>");
            for c in r {
                s.push_str(&format!("<td>{}</td>", escape(&c)));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
        self.body.push(s);
    }

    /// A table from a frame.
    pub fn frame(&mut self, df: &DataFrame) {
        let header: Vec<&str> = df
            .get_column_names()
            .into_iter()
            .map(|n| n.as_str())
            .collect();
        let rows = (0..df.height())
            .map(|i| {
                df.columns()
                    .iter()
                    .map(|c| match c.get(i) {
                        Ok(AnyValue::Float64(v)) => num(v),
                        Ok(AnyValue::Float32(v)) => num(v as f64),
                        Ok(AnyValue::String(s)) => s.to_string(),
                        Ok(AnyValue::StringOwned(s)) => s.to_string(),
                        Ok(AnyValue::Null) => "-".to_string(),
                        Ok(v) => v.to_string(),
                        Err(e) => e.to_string(),
                    })
                    .collect()
            })
            .collect();
        self.table_rows(&header, rows);
    }
}

/// The page.
pub struct Page {
    title: String,
    sections: Vec<Section>,
    notes: Vec<String>,
}

impl Page {
    /// An empty page.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_string(),
            sections: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Appends a section.
    pub fn push(&mut self, s: Section) {
        self.sections.push(s);
    }

    /// Inserts a section at `index` (the findings go first, once every section has run).
    pub fn insert(&mut self, index: usize, s: Section) {
        self.sections.insert(index.min(self.sections.len()), s);
    }

    /// A note shown at the end (skipped sections).
    pub fn note(&mut self, n: &str) {
        self.notes.push(n.to_string());
    }

    /// The complete HTML document.
    pub fn render(&self) -> String {
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body><h1>{t}</h1><nav><ul>",
            t = escape(&self.title)
        );
        for (i, sec) in self.sections.iter().enumerate() {
            s.push_str(&format!(
                "<li><a href=\"#s{i}\">{}</a></li>",
                escape(&sec.title)
            ));
        }
        s.push_str("</ul></nav>");
        for (i, sec) in self.sections.iter().enumerate() {
            s.push_str(&format!(
                "<section id=\"s{i}\"><h2>{}</h2>",
                escape(&sec.title)
            ));
            for b in &sec.body {
                s.push_str(b);
                s.push('\n');
            }
            s.push_str("</section>");
        }
        if !self.notes.is_empty() {
            s.push_str("<section><h2>Notes</h2><ul>");
            for n in &self.notes {
                s.push_str(&format!("<li>{}</li>", escape(n)));
            }
            s.push_str("</ul></section>");
        }
        s.push_str("</body></html>\n");
        s
    }
}

/// Body text at 16 px, figures as wide as the column (up to their drawn size), tables that
/// scroll within themselves rather than widen the page.
const CSS: &str = "body{font-family:sans-serif;font-size:16px;line-height:1.45;max-width:1120px;margin:2em auto;padding:0 1em;color:#222}\
figure{display:block;margin:1.2em 0}figure img{display:block;width:100%;max-width:1000px;height:auto;border:1px solid #ddd}\
figcaption{font-size:.95em;color:#444;max-width:1000px;margin-top:.3em}.files{white-space:nowrap;font-size:.9em}\
ul.findings li{margin:.4em 0}table{border-collapse:collapse;font-size:.9em;margin:1em 0;display:block;max-width:100%;overflow-x:auto}\
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}th{background:#f3f3f3}code{background:#f3f3f3}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(escape("<a&b>"), "&lt;a&amp;b&gt;");
        assert_eq!(num(f64::NAN), "-");
    }
}
