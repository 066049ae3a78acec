//! Sweep specs: a TOML file with one trainer section and axes, expanded into cells.
//!
//! A spec names exactly one trainer kind (`[sas_mlp]`, `[synthetic]`, ...) whose table is the
//! *base config*, plus optional axes that override dotted paths inside it:
//!
//! * `[grid]`: every key maps to a list of values; the cells are the cartesian product;
//! * `[zip]`: lists of equal length, walked together (one axis of paired values);
//! * `[random]`: `draws` random points with their own `seed`; every other key maps to
//!   `{ uniform = [lo, hi] }`, `{ log_uniform = [lo, hi] }`, `{ int_uniform = [lo, hi] }`
//!   or `{ choice = [...] }`;
//! * `[sweep].seeds`: the replicate seeds, a count `n` (seeds 0..n) or a list.
//!
//! Post-training stages (pruning and perturbation levels) are part of a trainer's config, so
//! they are part of each cell and can be swept like any other key.
//!
//! Every cell is validated against the trainer's typed config *at parse time*, so an unknown
//! key, a wrong type, an unknown task or an impossible axis value fails before anything runs,
//! with `file:line:column` and the key.
//!
//! Identity: a cell's canonical config is the JSON of its typed config with sorted keys (all
//! defaults filled in, so writing a default explicitly does not change the key). The cell key
//! hashes (kind, canonical config, sweep seed, replicate seed, trainer version).

use crate::config::{self, TrainerConfig};
use crate::seed::RunSeed;
use rand::RngExt;
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A spec that could not be read: one line, with the file and the position when known.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read sweep file {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// Something in the file is wrong; `message` names the key.
    #[error("{path}:{line}:{column}: {message}")]
    At {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Something is wrong that has no single position (e.g. a missing section).
    #[error("{path}: {message}")]
    File {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The `[sweep]` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepSection {
    name: String,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    seeds: Option<Spanned<SeedsSpec>>,
    /// Wall-clock limit of one attempt of a cell, seconds (> 0); workers enforce it.
    #[serde(default)]
    time_limit_s: Option<Spanned<u64>>,
}

/// `seeds = 5` or `seeds = [0, 3, 7]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum SeedsSpec {
    Count(u64),
    List(Vec<u64>),
}

type Axes = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The whole file, as written. Trainer sections are kept as raw tables here and validated
/// through the typed configs per cell, so errors keep their positions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    sweep: SweepSection,
    #[serde(default)]
    sas_mlp: Option<Spanned<toml::Table>>,
    #[serde(default)]
    sas_rnn: Option<Spanned<toml::Table>>,
    #[serde(default)]
    tanh_rnn: Option<Spanned<toml::Table>>,
    #[serde(default)]
    synthetic: Option<Spanned<toml::Table>>,
    #[serde(default)]
    grid: Option<Axes>,
    #[serde(default)]
    zip: Option<Axes>,
    #[serde(default)]
    random: Option<Axes>,
}

/// One axis after parsing: a path inside the trainer section and the values it takes.
#[derive(Clone, Debug)]
struct Axis {
    path: String,
    span: Range<usize>,
    values: Vec<(toml::Value, Range<usize>)>,
}

/// A parsed, validated sweep.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The file it came from.
    pub path: PathBuf,
    /// Sweep name (also its id: results live under a directory of this name).
    pub name: String,
    /// Root of all randomness of the sweep.
    pub sweep_seed: u64,
    /// Trainer kind (section name).
    pub kind: String,
    /// Hash of everything that defines the sweep's cells.
    pub spec_hash: String,
    /// The replicate seeds.
    pub seeds: Vec<u64>,
    /// Wall-clock limit of one attempt of a cell in seconds (`[sweep] time_limit_s`). Not
    /// part of the spec hash: it says how long to wait, not what to compute.
    pub time_limit_s: Option<u64>,
    /// Axis names in expansion order (grid, then zip, then random), for display.
    pub axis_names: Vec<String>,
    base_json: Json,
    cells: Vec<Cell>,
}

/// One unit of work: a full trainer config at one replicate seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Stable identity (hex BLAKE3) of (kind, canonical config, sweep seed, replicate, version).
    pub key: String,
    /// Name of the sweep that expanded it.
    pub sweep: String,
    /// Trainer kind.
    pub kind: String,
    /// Version of the trainer that must run it.
    pub trainer_version: String,
    /// Canonical JSON of the full typed config (sorted keys, defaults filled in).
    pub config_json: String,
    /// Sweep seed.
    pub sweep_seed: u64,
    /// Replicate seed.
    pub replicate: u64,
    /// The swept values of this cell, by axis path (for result columns).
    pub axes: BTreeMap<String, Json>,
}

impl Cell {
    /// The root of this cell's random streams.
    pub fn run_seed(&self) -> RunSeed {
        RunSeed::derive(self.sweep_seed, &self.config_json, self.replicate)
    }

    /// The typed config.
    pub fn config(&self) -> Result<TrainerConfig, config::ConfigError> {
        TrainerConfig::from_json(&self.kind, &self.config_json)
    }

    /// Computes the key of a cell from its parts.
    pub fn compute_key(
        kind: &str,
        config_json: &str,
        sweep_seed: u64,
        replicate: u64,
        trainer_version: &str,
    ) -> String {
        let mut h = blake3::Hasher::new_derive_key("ensweep cell key v1");
        for part in [kind, config_json, trainer_version] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(&sweep_seed.to_le_bytes());
        h.update(&replicate.to_le_bytes());
        h.finalize().to_hex()[..32].to_owned()
    }
}

impl Spec {
    /// Reads and validates a sweep file.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.to_owned(),
            source,
        })?;
        Spec::parse(&text, path)
    }

    /// Validates sweep text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
        let loc = Locator { text, path };
        let file: SpecFile = toml::from_str(text).map_err(|e| loc.toml_error(&e))?;

        let mut sections: Vec<(&str, Spanned<toml::Table>)> = Vec::new();
        if let Some(t) = file.sas_mlp {
            sections.push(("sas_mlp", t));
        }
        if let Some(t) = file.sas_rnn {
            sections.push(("sas_rnn", t));
        }
        if let Some(t) = file.tanh_rnn {
            sections.push(("tanh_rnn", t));
        }
        if let Some(t) = file.synthetic {
            sections.push(("synthetic", t));
        }
        let (kind, base) = match sections.len() {
            1 => sections.pop().expect("one section"),
            0 => {
                return Err(SpecError::File {
                    path: path.to_owned(),
                    message: format!(
                        "no trainer section: add exactly one of {}",
                        config::KINDS
                            .iter()
                            .map(|k| format!("[{k}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            _ => {
                let second = &sections[1];
                return Err(loc.at(
                    second.1.span(),
                    format!(
                        "more than one trainer section ([{}] and [{}]); a sweep trains one kind",
                        sections[0].0, second.0
                    ),
                ));
            }
        };
        let base_span = base.span();
        let base = base.into_inner();

        // The base config alone must be valid, so errors in it point into the section.
        let base_cfg = TrainerConfig::from_toml(kind, base.clone()).map_err(|e| {
            // Errors from `try_into` carry no position; find the key in the section instead.
            loc.value_error(&e, base_span.clone(), kind)
        })?;
        let base_json = canonical(&base_cfg.to_json_value());

        let time_limit_s = match file.sweep.time_limit_s {
            Some(t) if *t.get_ref() == 0 => {
                return Err(loc.at(t.span(), "`sweep.time_limit_s` must be > 0".into()));
            }
            t => t.map(Spanned::into_inner),
        };
        let seeds = match file.sweep.seeds {
            None => vec![0],
            Some(s) => {
                let span = s.span();
                let seeds = match s.into_inner() {
                    SeedsSpec::Count(n) => (0..n).collect::<Vec<_>>(),
                    SeedsSpec::List(l) => l,
                };
                if seeds.is_empty() {
                    return Err(loc.at(
                        span,
                        "`sweep.seeds` is empty: give a count >= 1 or a list".into(),
                    ));
                }
                let mut sorted = seeds.clone();
                sorted.sort_unstable();
                sorted.dedup();
                if sorted.len() != seeds.len() {
                    return Err(loc.at(span, "`sweep.seeds` lists a seed twice".into()));
                }
                seeds
            }
        };

        let grid = parse_list_axes(&loc, file.grid.unwrap_or_default(), "grid")?;
        let zip = parse_list_axes(&loc, file.zip.unwrap_or_default(), "zip")?;
        if let Some(first) = zip.first()
            && let Some(bad) = zip.iter().find(|a| a.values.len() != first.values.len())
        {
            return Err(loc.at(
                bad.span.clone(),
                format!(
                    "zip axis `{}` has {} values but `{}` has {}; zip axes walk together and need equal lengths",
                    bad.path,
                    bad.values.len(),
                    first.path,
                    first.values.len()
                ),
            ));
        }
        let random = parse_random(&loc, file.random.unwrap_or_default())?;

        // One axis path may appear in one place only.
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (section, axes) in [("grid", &grid), ("zip", &zip), ("random", &random.axes)] {
            for axis in axes {
                if let Some(prev) = seen.insert(&axis.path, section) {
                    return Err(loc.at(
                        axis.span.clone(),
                        format!("duplicate axis `{}`: already swept in [{prev}]", axis.path),
                    ));
                }
            }
        }

        // Expand: grid (cartesian) x zip x random draws x seeds; seeds innermost so that the
        // replicates of a config are leased next to each other.
        let mut points: Vec<Vec<(&Axis, usize)>> = vec![Vec::new()];
        for axis in &grid {
            let mut next = Vec::with_capacity(points.len() * axis.values.len());
            for p in &points {
                for i in 0..axis.values.len() {
                    let mut q = p.clone();
                    q.push((axis, i));
                    next.push(q);
                }
            }
            points = next;
        }
        if let Some(first) = zip.first() {
            let mut next = Vec::new();
            for p in &points {
                for i in 0..first.values.len() {
                    let mut q = p.clone();
                    q.extend(zip.iter().map(|a| (a, i)));
                    next.push(q);
                }
            }
            points = next;
        }
        if !random.axes.is_empty() {
            let mut next = Vec::new();
            for p in &points {
                for d in 0..random.draws {
                    let mut q = p.clone();
                    q.extend(random.axes.iter().map(|a| (a, d)));
                    next.push(q);
                }
            }
            points = next;
        }

        let version = config::trainer_version(kind).expect("known kind");
        let mut cells = Vec::with_capacity(points.len() * seeds.len());
        let mut seen_configs: BTreeMap<String, usize> = BTreeMap::new();
        for point in &points {
            let mut table = base.clone();
            let mut axes = BTreeMap::new();
            for (axis, i) in point {
                let (value, _) = &axis.values[*i];
                set_path(&mut table, &axis.path, value.clone());
                axes.insert(axis.path.clone(), toml_to_json(value));
            }
            let cfg = TrainerConfig::from_toml(kind, table).map_err(|e| {
                // Blame the first axis value of this point that the message mentions, or the
                // last overridden one: that is the value that made the config invalid.
                let (axis, i) = point
                    .iter()
                    .find(|(a, _)| {
                        e.message()
                            .contains(a.path.rsplit('.').next().unwrap_or(""))
                    })
                    .or(point.last())
                    .expect("an invalid cell has at least one axis (the base was valid)");
                loc.at(
                    axis.values[*i].1.clone(),
                    format!("axis `{}` value {}: {}", axis.path, i + 1, e.message()),
                )
            })?;
            let config_json = canonical(&cfg.to_json_value()).to_string();
            if let Some(prev) = seen_configs.insert(config_json.clone(), cells.len()) {
                let _ = prev;
                let (axis, i) = point.last().expect("duplicates need axes");
                return Err(loc.at(
                    axis.values[*i].1.clone(),
                    format!(
                        "axis `{}` value {} gives a config that another point of the sweep already has (repeated axis value?)",
                        axis.path,
                        i + 1
                    ),
                ));
            }
            for &replicate in &seeds {
                cells.push(Cell {
                    key: Cell::compute_key(kind, &config_json, file.sweep.seed, replicate, version),
                    sweep: file.sweep.name.clone(),
                    kind: kind.to_owned(),
                    trainer_version: version.to_owned(),
                    config_json: config_json.clone(),
                    sweep_seed: file.sweep.seed,
                    replicate,
                    axes: axes.clone(),
                });
            }
        }

        let mut h = blake3::Hasher::new_derive_key("ensweep spec hash v1");
        h.update(kind.as_bytes());
        h.update(&file.sweep.seed.to_le_bytes());
        for c in &cells {
            h.update(c.key.as_bytes());
        }
        let axis_names = grid
            .iter()
            .chain(&zip)
            .chain(&random.axes)
            .map(|a| a.path.clone())
            .collect();
        Ok(Spec {
            path: path.to_owned(),
            name: file.sweep.name,
            sweep_seed: file.sweep.seed,
            kind: kind.to_owned(),
            spec_hash: h.finalize().to_hex()[..32].to_owned(),
            seeds,
            time_limit_s,
            axis_names,
            base_json,
            cells,
        })
    }

    /// The cells, in expansion order.
    pub fn cells(&self) -> Vec<Cell> {
        self.cells.clone()
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the sweep has no cells (never true for a parsed spec).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Lines that define the sweep apart from its axes and seeds: kind, sweep seed and every
    /// leaf of the base config. Two versions of a sweep are compatible (the newer one may only
    /// add cells) when these lines are equal; a diff of them is what a user needs to see when
    /// an edit is refused.
    pub fn identity_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("kind = {}", self.kind),
            format!("sweep.seed = {}", self.sweep_seed),
        ];
        flatten_json("", &self.base_json, &mut |k, v| {
            lines.push(format!("{}.{k} = {v}", self.kind))
        });
        lines
    }
}

/// Random-search axes and their own generator settings.
struct RandomAxes {
    draws: usize,
    axes: Vec<Axis>,
}

fn parse_random(loc: &Locator, raw: Axes) -> Result<RandomAxes, SpecError> {
    let mut seed = 0u64;
    let mut draws = None;
    let mut specs = Vec::new();
    for (key, value) in raw {
        let (kspan, key) = (key.span(), key.into_inner());
        let (vspan, value) = (value.span(), value.into_inner());
        match key.as_str() {
            "seed" => {
                seed = value.as_integer().filter(|v| *v >= 0).ok_or_else(|| {
                    loc.at(vspan, "`random.seed` must be a non-negative integer".into())
                })? as u64
            }
            "draws" => {
                draws =
                    Some(value.as_integer().filter(|v| *v >= 1).ok_or_else(|| {
                        loc.at(vspan, "`random.draws` must be an integer >= 1".into())
                    })? as usize)
            }
            _ => specs.push((key, kspan, value, vspan)),
        }
    }
    if specs.is_empty() {
        return Ok(RandomAxes {
            draws: 0,
            axes: Vec::new(),
        });
    }
    let draws = draws.ok_or_else(|| SpecError::File {
        path: loc.path.to_owned(),
        message: "[random] needs `draws = N`, the number of random points".into(),
    })?;
    let mut axes = Vec::new();
    for (path, kspan, value, vspan) in specs {
        let bad = || {
            loc.at(
                vspan.clone(),
                format!(
                    "random axis `{path}` must be one of {{ uniform = [lo, hi] }}, {{ log_uniform = [lo, hi] }}, {{ int_uniform = [lo, hi] }}, {{ choice = [...] }}"
                ),
            )
        };
        let table = value.as_table().filter(|t| t.len() == 1).ok_or_else(bad)?;
        let (dist, arg) = table.iter().next().expect("one entry");
        let arr = arg.as_array().ok_or_else(bad)?;
        let num = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        // Each axis draws from its own stream of the random section's seed.
        let mut rng = RunSeed::derive(seed, &path, 0).rng("random-axis");
        let values: Vec<toml::Value> = match dist.as_str() {
            "choice" if !arr.is_empty() => (0..draws)
                .map(|_| arr[rng.random_range(0..arr.len())].clone())
                .collect(),
            "uniform" | "log_uniform" | "int_uniform" if arr.len() == 2 => {
                let (lo, hi) = (num(&arr[0]).ok_or_else(bad)?, num(&arr[1]).ok_or_else(bad)?);
                if lo > hi || (dist == "log_uniform" && lo <= 0.0) {
                    return Err(loc.at(vspan, format!("random axis `{path}`: need 0 < lo <= hi for log_uniform, lo <= hi otherwise")));
                }
                (0..draws)
                    .map(|_| {
                        let u: f64 = rng.random();
                        match dist.as_str() {
                            "uniform" => toml::Value::Float(lo + u * (hi - lo)),
                            "log_uniform" => {
                                toml::Value::Float((lo.ln() + u * (hi.ln() - lo.ln())).exp())
                            }
                            _ => toml::Value::Integer(
                                lo as i64 + rng.random_range(0..=(hi - lo) as i64),
                            ),
                        }
                    })
                    .collect()
            }
            _ => return Err(bad()),
        };
        axes.push(Axis {
            path,
            span: kspan,
            values: values.into_iter().map(|v| (v, vspan.clone())).collect(),
        });
    }
    Ok(RandomAxes { draws, axes })
}

fn parse_list_axes(loc: &Locator, raw: Axes, section: &str) -> Result<Vec<Axis>, SpecError> {
    let mut axes = Vec::new();
    for (key, value) in raw {
        let (kspan, path) = (key.span(), key.into_inner());
        let vspan = value.span();
        let toml::Value::Array(values) = value.into_inner() else {
            return Err(loc.at(
                vspan,
                format!(
                    "{section} axis `{path}` must be a list of values, e.g. `\"{path}\" = [1, 2]`"
                ),
            ));
        };
        if values.is_empty() {
            return Err(loc.at(
                vspan,
                format!("{section} axis `{path}` is empty: give at least one value"),
            ));
        }
        // Values inside an array have no spans of their own; point at the whole list.
        axes.push(Axis {
            path,
            span: kspan,
            values: values.into_iter().map(|v| (v, vspan.clone())).collect(),
        });
    }
    Ok(axes)
}

/// Sets `a.b.c` inside a table, creating intermediate tables.
fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_owned(), value);
            return;
        }
        let entry = cur
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        cur = entry.as_table_mut().expect("table");
    }
}

/// Converts a TOML value to JSON (dates become strings).
pub fn toml_to_json(v: &toml::Value) -> Json {
    match v {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(a) => Json::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Returns `v` with every object's keys sorted, whatever map type serde_json was built with.
pub fn canonical(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            let sorted: BTreeMap<&String, Json> =
                m.iter().map(|(k, v)| (k, canonical(v))).collect();
            Json::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Json::Array(a) => Json::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Calls `f(dotted.path, value)` for every leaf (arrays are leaves).
pub fn flatten_json(prefix: &str, v: &Json, f: &mut dyn FnMut(&str, &Json)) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&p, v, f);
            }
        }
        leaf => f(prefix, leaf),
    }
}

/// Turns byte spans into `file:line:column` errors.
struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Locator<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        (line, col)
    }

    fn at(&self, span: Range<usize>, message: String) -> SpecError {
        let (line, column) = self.line_col(span.start);
        SpecError::At {
            path: self.path.to_owned(),
            line,
            column,
            message,
        }
    }

    /// A parse error of the whole file: toml gives the span; add the dotted key it concerns.
    fn toml_error(&self, e: &toml::de::Error) -> SpecError {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let key = self.key_at(span.start);
                let message = match key {
                    Some(k) if !message.contains(&format!("`{k}`")) => {
                        format!("key `{k}`: {message}")
                    }
                    _ => message,
                };
                self.at(span, message)
            }
            None => SpecError::File {
                path: self.path.to_owned(),
                message,
            },
        }
    }

    /// An error from validating a section's table. Such errors carry no span, but toml names
    /// the dotted key path in its text (`in `a.b``) or the message quotes an unknown field;
    /// find where that key is written under the section's headers.
    fn value_error(&self, e: &toml::de::Error, section: Range<usize>, kind: &str) -> SpecError {
        let message = e.message().trim().replace('\n', " ");
        let full = e.to_string();
        let mut path: Vec<String> = full
            .lines()
            .find_map(|l| l.strip_prefix("in `").and_then(|l| l.strip_suffix('`')))
            .map(|p| p.split('.').map(str::to_owned).collect())
            .unwrap_or_default();
        if message.starts_with("unknown field")
            && let Some(field) = message.split('`').nth(1)
        {
            path.push(field.to_owned());
        }
        let mut pos = None;
        // Try `[kind.a.b]` + `c =`, then `[kind.a]` + `b.c =`, ...
        for split in (0..path.len()).rev() {
            let header = std::iter::once(kind.to_owned())
                .chain(path[..split].iter().cloned())
                .collect::<Vec<_>>()
                .join(".");
            let key = path[split..].join(".");
            if let Some(body) = self.table_body(&header)
                && let Some(p) = find_key(&self.text[body.clone()], &key)
            {
                pos = Some(body.start + p);
                break;
            }
        }
        let at = pos.unwrap_or(section.start);
        let key = std::iter::once(kind.to_owned())
            .chain(path)
            .collect::<Vec<_>>()
            .join(".");
        self.at(at..at, format!("key `{key}`: {message}"))
    }

    /// Byte range of the lines under the `[header]` line (up to the next header). TOML allows
    /// each header once, so the first match is the only one.
    fn table_body(&self, header: &str) -> Option<Range<usize>> {
        let mut offset = 0;
        let mut start = None;
        for line in self.text.split_inclusive('\n') {
            let t = line.trim();
            if t.starts_with('[') {
                if start.is_some() {
                    return start.map(|s| s..offset);
                }
                if t.trim_matches(|c| c == '[' || c == ']').trim() == header {
                    start = Some(offset + line.len());
                }
            }
            offset += line.len();
        }
        start.map(|s| s..self.text.len())
    }

    /// The dotted key written on the line containing `offset` (`table.key` when under a
    /// `[table]` header).
    fn key_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let line = &self.text[line_start..line_end];
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            return Some(
                trimmed
                    .trim_matches(|c| c == '[' || c == ']')
                    .trim()
                    .to_owned(),
            );
        }
        let key = line.split('=').next()?.trim().trim_matches('"');
        if key.is_empty() || !line.contains('=') {
            return None;
        }
        let header = self.text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|h| h.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
        Some(match header {
            Some(h) => format!("{h}.{key}"),
            None => key.to_owned(),
        })
    }
}

/// Byte offset of `key` written as a key (`key =` at a line start) inside `text`.
fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t
            .strip_prefix(key)
            .or_else(|| t.strip_prefix(&format!("\"{key}\"")))
            && rest.trim_start().starts_with('=')
        {
            return Some(offset + (line.len() - t.len()));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[sweep]
name = "t"
seed = 7
seeds = 3

[synthetic]
sleep_ms = 0
"#;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("s.toml"))
    }

    /// Checks that `text` fails with exactly `expect` (one line, with location).
    fn check_err(text: &str, expect: &str) {
        let err = parse(text)
            .expect_err("spec should be rejected")
            .to_string();
        assert!(!err.contains('\n'), "error must be one line: {err}");
        assert_eq!(err, expect);
    }

    #[test]
    fn grid_zip_seeds_expand_in_order_with_stable_keys() {
        let text = format!("{BASE}\n[grid]\nx = [1.0, 2.0]\nsleep_ms = [0, 5]\n");
        let spec = parse(&text).unwrap();
        assert_eq!(spec.len(), 2 * 2 * 3);
        let cells = spec.cells();
        assert_eq!(cells[0].replicate, 0);
        assert_eq!(cells[2].replicate, 2);
        assert_eq!(cells[0].axes["sleep_ms"], Json::from(0));
        assert_eq!(cells[3].axes["x"], Json::from(2.0));
        let keys: std::collections::BTreeSet<_> = cells.iter().map(|c| &c.key).collect();
        assert_eq!(keys.len(), cells.len());
        // Same text, same keys; a default written out explicitly changes nothing.
        let again = parse(&text.replace("sleep_ms = 0\n", "sleep_ms = 0\nx = 0.0\n")).unwrap();
        assert_eq!(again.cells(), cells);
        assert_eq!(again.spec_hash, spec.spec_hash);
    }

    #[test]
    fn adding_a_seed_keeps_old_keys() {
        let a = parse(BASE).unwrap();
        let b = parse(&BASE.replace("seeds = 3", "seeds = 4")).unwrap();
        let ka: Vec<_> = a.cells().into_iter().map(|c| c.key).collect();
        let kb: Vec<_> = b.cells().into_iter().map(|c| c.key).collect();
        assert_eq!(&kb[..3], &ka[..]);
        assert_eq!(a.identity_lines(), b.identity_lines());
        assert_ne!(a.spec_hash, b.spec_hash);
    }

    #[test]
    fn zip_walks_together_and_random_is_seeded() {
        let text = format!(
            "{BASE}\n[zip]\nx = [1.0, 2.0]\nsleep_ms = [1, 2]\n[random]\nseed = 3\ndraws = 4\nfail_on_seed = {{ int_uniform = [10, 20] }}\n"
        );
        let spec = parse(&text).unwrap();
        assert_eq!(spec.len(), 2 * 4 * 3);
        let c = &spec.cells()[0];
        assert_eq!(
            (c.axes["x"].as_f64(), c.axes["sleep_ms"].as_i64()),
            (Some(1.0), Some(1))
        );
        let draws: Vec<i64> = spec
            .cells()
            .iter()
            .step_by(3)
            .take(4)
            .map(|c| c.axes["fail_on_seed"].as_i64().unwrap())
            .collect();
        assert!(draws.iter().all(|d| (10..=20).contains(d)));
        assert_eq!(parse(&text).unwrap().cells(), spec.cells());
    }

    #[test]
    fn run_seed_depends_on_config_and_replicate_only() {
        let spec = parse(BASE).unwrap();
        let c = spec.cells();
        assert_ne!(c[0].run_seed(), c[1].run_seed());
        assert_eq!(c[0].run_seed(), parse(BASE).unwrap().cells()[0].run_seed());
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        check_err(
            &BASE.replace("sleep_ms = 0", "sleep_ms = 0\nsleepms = 3"),
            "s.toml:9:1: key `synthetic.sleepms`: unknown field `sleepms`, expected one of `sleep_ms`, `x`, `fail_on_seed`",
        );
    }

    #[test]
    fn wrong_type_names_key_file_and_line() {
        check_err(
            &BASE.replace("sleep_ms = 0", "sleep_ms = \"fast\""),
            "s.toml:8:1: key `synthetic.sleep_ms`: invalid type: string \"fast\", expected u64",
        );
    }

    #[test]
    fn empty_axis_is_rejected() {
        check_err(
            &format!("{BASE}\n[grid]\nx = []\n"),
            "s.toml:11:5: grid axis `x` is empty: give at least one value",
        );
    }

    #[test]
    fn duplicate_axis_is_rejected() {
        check_err(
            &format!("{BASE}\n[grid]\nx = [1.0]\n[zip]\nx = [2.0]\n"),
            "s.toml:13:1: duplicate axis `x`: already swept in [grid]",
        );
        // A key written twice in one table is TOML's own error, with position.
        let err = parse(&format!("{BASE}\n[grid]\nx = [1.0]\nx = [2.0]\n"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.toml:12:1: "), "{err}");
        assert!(err.contains("duplicate key"), "{err}");
    }

    #[test]
    fn unknown_trainer_section_and_bad_axis_value_are_rejected() {
        let err = parse(&BASE.replace("[synthetic]", "[synthetik]"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("s.toml:7:2: unknown field `synthetik`"),
            "{err}"
        );
        check_err(
            &format!("{BASE}\n[grid]\nsleep_ms = [1, -4]\n"),
            "s.toml:11:12: axis `sleep_ms` value 2: invalid value: integer `-4`, expected u64",
        );
        check_err(
            "[sweep]\nname = \"t\"\n",
            "s.toml: no trainer section: add exactly one of [sas_mlp], [sas_rnn], [tanh_rnn], [synthetic]",
        );
    }

    #[test]
    fn unknown_task_names_the_task_key_and_the_known_tasks() {
        let text = "[sweep]\nname = \"t\"\n\n[tanh_rnn]\nn_hidden = 10\n\n[tanh_rnn.task]\nname = \"andd\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with("s.toml:8:1: key `tanh_rnn.task.name`: unknown variant `andd`"),
            "{err}"
        );
        assert!(err.contains("`and`, `or`, `xor`"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn nested_wrong_type_points_at_the_nested_key() {
        let text = r#"[sweep]
name = "m"

[sas_mlp]
train_size = 100
hidden = [10]
epochs = 1
batch_size = 10

[sas_mlp.init]
xi_max = 0.01
m_std = 0.05

[sas_mlp.optimizer]
kind = "adam"
lr = "fast"

[sas_mlp.eval]
mean_field_draws = 1
sampled_nets = 1
"#;
        check_err(
            text,
            "s.toml:16:1: key `sas_mlp.optimizer.lr`: invalid type: string \"fast\", expected f64",
        );
        check_err(
            &text
                .replace("kind = \"adam\"", "kind = \"adamw\"")
                .replace("\"fast\"", "0.1"),
            "s.toml:15:1: key `sas_mlp.optimizer.kind`: unknown variant `adamw`, expected one of `adam`, `rmsprop`, `sgd`",
        );
    }

    /// Every shipped experiment file is a valid sweep (the README promises they run).
    #[test]
    fn every_experiment_file_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let spec = Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(!spec.is_empty(), "{}", path.display());
                for cell in spec.cells() {
                    cell.config().unwrap();
                }
                n += 1;
            }
        }
        assert!(n >= 7, "found only {n} experiment files");
    }
}
