//! Reference curves for `ensweep report --reference FILE`: a published curve drawn beside the
//! sweep's own in the "metric vs swept hyperparameters" figures, so a reproduction is one picture
//! (docs/REPRODUCTIONS.md). Kept as plain CSV so a reader can check every number against the
//! paper, and so the file names its source in its own comments.

/// A published curve: `metric` as a function of one swept axis.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceCurve {
    /// Legend entry (`# label: ...`, else the file's name).
    pub label: String,
    /// The axis it is drawn against, as swept (`n_hidden`, `task.mem_gap`).
    pub axis: String,
    /// The `runs` column it is comparable with.
    pub metric: String,
    /// (axis value, metric value), in file order.
    pub points: Vec<(f64, f64)>,
}

/// Why a reference file could not be read; names the file and the line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", if *line == 0 { String::new() } else { format!(":{line}") })]
pub struct ReferenceError {
    /// The file (or whatever name the caller gave the text).
    pub file: String,
    /// 1-based line number, 0 for the file as a whole.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// Most points read from one file: a reference curve is a figure's worth of numbers.
const MAX_POINTS: usize = 10_000;

impl ReferenceCurve {
    /// Parses a reference file:
    ///
    /// ```text
    /// # Jarne & Laje 2023, size_at_150_ms.txt
    /// # label: Jarne & Laje 2023
    /// n_hidden,distance_mean
    /// 50,1.71
    /// 100,1.23
    /// ```
    ///
    /// Lines starting with `#` and blank lines are comments; the first other line is the header
    /// `<axis>,<metric>`; every later line two finite numbers.
    pub fn parse(text: &str, source: &str) -> Result<Self, ReferenceError> {
        let err = |line: usize, message: String| ReferenceError {
            file: source.to_string(),
            line,
            message,
        };
        let mut label = None;
        let mut header: Option<(String, String)> = None;
        let mut points = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(l) = comment.trim().strip_prefix("label:") {
                    label = Some(l.trim().to_string());
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 2 {
                return Err(err(
                    i + 1,
                    format!(
                        "expected two comma-separated fields, found {}",
                        fields.len()
                    ),
                ));
            }
            match &header {
                None => {
                    if fields.iter().any(|f| f.is_empty()) {
                        return Err(err(i + 1, "empty column name in the header".into()));
                    }
                    header = Some((fields[0].to_string(), fields[1].to_string()));
                }
                Some(_) => {
                    let num = |f: &str| match f.parse::<f64>() {
                        Ok(v) if v.is_finite() => Ok(v),
                        _ => Err(err(i + 1, format!("`{f}` is not a finite number"))),
                    };
                    if points.len() == MAX_POINTS {
                        return Err(err(i + 1, format!("more than {MAX_POINTS} points")));
                    }
                    points.push((num(fields[0])?, num(fields[1])?));
                }
            }
        }
        let (axis, metric) =
            header.ok_or_else(|| err(0, "no header line `<axis>,<metric>`".into()))?;
        if points.is_empty() {
            return Err(err(0, "no data lines after the header".into()));
        }
        let label = label.unwrap_or_else(|| {
            std::path::Path::new(source)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| source.to_string())
        });
        Ok(Self {
            label,
            axis,
            metric,
            points,
        })
    }

    /// The points whose axis value is one of `categories` (the swept values, as text), placed at
    /// that category's index; the rest cannot be drawn on a categorical axis and are counted in
    /// the caption instead.
    pub(super) fn at_categories(&self, categories: &[String]) -> Vec<(f64, f64)> {
        let swept: Vec<Option<f64>> = categories.iter().map(|c| c.parse().ok()).collect();
        self.points
            .iter()
            .filter_map(|&(x, y)| {
                swept
                    .iter()
                    .position(|s| s.is_some_and(|s| (s - x).abs() <= 1e-9 * x.abs().max(1.0)))
                    .map(|i| (i as f64, y))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_label_header_and_points() {
        let text = "# Jarne & Laje 2023\n# label: J&L 2023\n\nn_hidden, distance_mean\n50,1.71\n100, 1.23\n";
        let r = ReferenceCurve::parse(text, "refs/size.csv").unwrap();
        assert_eq!(r.label, "J&L 2023");
        assert_eq!(
            (r.axis.as_str(), r.metric.as_str()),
            ("n_hidden", "distance_mean")
        );
        assert_eq!(r.points, vec![(50.0, 1.71), (100.0, 1.23)]);
        let unlabelled = ReferenceCurve::parse("a,b\n1,2\n", "refs/size.csv").unwrap();
        assert_eq!(unlabelled.label, "size");
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let e = ReferenceCurve::parse("a,b\n1,2\n3,x\n", "r.csv").unwrap_err();
        assert_eq!(e.to_string(), "r.csv:3: `x` is not a finite number");
        let e = ReferenceCurve::parse("a,b\n1,NaN\n", "r.csv").unwrap_err();
        assert_eq!(e.line, 2);
        let e = ReferenceCurve::parse("a,b,c\n", "r.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv:1: expected two comma-separated fields, found 3"
        );
        let e = ReferenceCurve::parse("# only\n", "r.csv").unwrap_err();
        assert_eq!(e.to_string(), "r.csv: no header line `<axis>,<metric>`");
        let e = ReferenceCurve::parse("a,b\n", "r.csv").unwrap_err();
        assert_eq!(e.to_string(), "r.csv: no data lines after the header");
    }

    #[test]
    fn the_committed_reference_curves_parse() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/reference");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let r = ReferenceCurve::parse(&text, &path.display().to_string()).unwrap();
            assert_eq!(r.label, "Jarne & Laje 2023", "{path:?}");
            assert!(r.points.len() >= 20, "{path:?}");
            n += 1;
        }
        assert!(n >= 2, "{dir:?}");
    }

    #[test]
    fn only_swept_values_are_placed_at_their_category() {
        let r = ReferenceCurve::parse("x,y\n25,0.99\n105,1.75\n150,1.71\n", "r").unwrap();
        let cats: Vec<String> = ["25", "100", "150"].map(String::from).into();
        assert_eq!(r.at_categories(&cats), vec![(0.0, 0.99), (2.0, 1.71)]);
    }
}
