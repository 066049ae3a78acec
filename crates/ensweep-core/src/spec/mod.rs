//! Sweep specs: a TOML file with one trainer section and axes, expanded into cells.
//!
//! A spec names exactly one trainer kind (`[sas_mlp]`, `[synthetic]`, ...: a kind of the
//! [`Registry`] the caller hands in) whose table is the *base config*, plus optional axes that
//! override dotted paths inside it:
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
//! `--set KEY=VALUE` overrides ([`Override`], module `set`) are applied to the parsed file
//! before any of this, so they meet the same checks and errors name the override instead of a
//! line. The spec then describes the *effective* sweep: its cells, keys and identity lines are
//! those of the overridden document, and [`Spec::text`] is what a coordinator stores.
//!
//! Identity: a cell's canonical config is the JSON of its typed config with sorted keys (all
//! defaults filled in, so writing a default explicitly does not change the key). The cell key
//! hashes (kind, canonical config, sweep seed, replicate seed, trainer version).

mod axes;
mod expand;
mod file;
mod json;
pub(crate) mod keypath;
mod limits;
mod locate;
#[cfg(test)]
mod locate_tests;
mod set;
#[cfg(test)]
mod tests;

pub use file::{MAX_NAME_LEN, name_problem};
pub use json::{canonical, flatten_json, toml_to_json};
pub use keypath::{DecodeError, KeyPath, Segment};
pub use limits::{DEFAULT_MAX_CELLS, SpecLimits};
pub use set::{Override, OverrideError};

use crate::seed::RunSeed;
use crate::trainer::{DynTrainer, Registry};
use axes::SweepAxes;
use file::{SeedsSpec, SpecFile};
use locate::Locator;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A spec that could not be read: one line, with the file and the position when known.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read sweep file {path}")]
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
    /// A `--set` override is wrong, or the value it put in the document is: it has no line in
    /// the file, so the error names the override instead.
    #[error("{path}: --set {set}: {message}")]
    Set {
        /// File the override applied to.
        path: PathBuf,
        /// The override, `KEY=VALUE`.
        set: String,
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
    text: String,
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
    /// Reads and validates a sweep file for the `trainers` under the default [`SpecLimits`].
    pub fn load(path: &Path, trainers: &Registry) -> Result<Spec, SpecError> {
        Spec::load_with(path, &SpecLimits::default(), trainers)
    }

    /// Reads and validates a sweep file; the size limit is checked before reading it whole.
    pub fn load_with(
        path: &Path,
        limits: &SpecLimits,
        trainers: &Registry,
    ) -> Result<Spec, SpecError> {
        Spec::load_with_overrides(path, limits, trainers, &[])
    }

    /// Reads a sweep file, applies `sets` (`--set KEY=VALUE`, in order) to it and validates the
    /// result for the `trainers`.
    pub fn load_with_overrides(
        path: &Path,
        limits: &SpecLimits,
        trainers: &Registry,
        sets: &[Override],
    ) -> Result<Spec, SpecError> {
        use std::io::Read;
        let io = |source| SpecError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        let cap = u64::try_from(limits.max_file_bytes).unwrap_or(u64::MAX);
        file.take(cap.saturating_add(1))
            .read_to_string(&mut text)
            .map_err(io)?;
        Spec::parse_with_overrides(&text, path, limits, trainers, sets)
    }

    /// Validates sweep text for the `trainers` under the default [`SpecLimits`]; `path` is
    /// used in messages only.
    pub fn parse(text: &str, path: &Path, trainers: &Registry) -> Result<Spec, SpecError> {
        Spec::parse_with(text, path, &SpecLimits::default(), trainers)
    }

    /// Validates sweep text: limits first, then the file's shape, the base config, seeds and
    /// axes, the cell count, and finally every cell against the trainer's typed config.
    /// `trainers` says which trainer sections exist and how to decode them.
    pub fn parse_with(
        text: &str,
        path: &Path,
        limits: &SpecLimits,
        trainers: &Registry,
    ) -> Result<Spec, SpecError> {
        Spec::parse_with_overrides(text, path, limits, trainers, &[])
    }

    /// [`Spec::parse_with`] with `sets` applied to the parsed file before anything is checked.
    pub fn parse_with_overrides(
        text: &str,
        path: &Path,
        limits: &SpecLimits,
        trainers: &Registry,
        sets: &[Override],
    ) -> Result<Spec, SpecError> {
        check_text(text, path, limits)?;
        let kinds: Vec<&'static str> = trainers.kinds().collect();
        let loc = Locator::parse(text, path, sets, &kinds)?;
        let mut file: SpecFile = loc.decode()?;
        let (trainer, base_span, mut base) = trainer_section(&loc, &mut file, trainers)?;
        let kind = trainer.kind();
        let rendered = set::apply(&loc, &mut file, kind, &mut base)?;
        let name = file.sweep.name.clone();
        if let Some(problem) = name_problem(name.get_ref()) {
            return Err(loc.at(
                name.span(),
                format!("sweep name {:?} {problem}", name.get_ref()),
            ));
        }
        // The base config alone must be valid, so errors in it point into the section.
        let base_cfg = trainer
            .config_value(base.clone())
            .map_err(|e| loc.section_error(kind, &e, base_span))?;
        let time_limit_s = match file.sweep.time_limit_s.take() {
            Some(t) if *t.get_ref() == 0 => {
                return Err(loc.at(t.span(), "`sweep.time_limit_s` must be > 0".into()));
            }
            t => t.map(Spanned::into_inner),
        };
        let seeds = parse_seeds(&loc, file.sweep.seeds.take(), limits)?;
        let axes = SweepAxes::parse(&loc, &mut file, limits)?;
        check_cell_count(&loc, &axes, seeds.len(), limits)?;
        let sweep_seed = file.sweep.seed;
        let cells = expand::cells(&loc, trainer, &base, &axes, &seeds, (&name, sweep_seed))?;
        Ok(Spec {
            path: path.to_owned(),
            name: name.into_inner(),
            sweep_seed,
            kind: kind.to_owned(),
            spec_hash: spec_hash(kind, sweep_seed, &cells),
            seeds,
            time_limit_s,
            axis_names: axes.iter().map(|a| a.path.clone()).collect(),
            base_json: canonical(&base_cfg),
            cells,
            text: rendered.text(&loc)?,
        })
    }

    /// The effective spec as TOML: the file's text as read, or with overrides, the overridden
    /// document (under a comment naming them). This is what a coordinator is sent and stores;
    /// parsed again it gives the same cells.
    pub fn text(&self) -> &str {
        &self.text
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

/// Refuses text over the size limit or nested deeper than the depth limit, before parsing.
fn check_text(text: &str, path: &Path, limits: &SpecLimits) -> Result<(), SpecError> {
    let file_error = |message| SpecError::File {
        path: path.to_owned(),
        message,
    };
    if text.len() > limits.max_file_bytes {
        return Err(file_error(format!(
            "spec is larger than {} bytes; a sweep file describes axes, it does not list cells",
            limits.max_file_bytes
        )));
    }
    let depth = limits::nesting_depth(text);
    if depth > limits.max_depth {
        return Err(file_error(format!(
            "spec nests tables, arrays or dotted keys {depth} levels deep; the limit is {}",
            limits.max_depth
        )));
    }
    Ok(())
}

/// The one trainer section of the file: its trainer, span and table. Sections are checked
/// against the registry here (serde cannot: the kinds are the registry's), in registry order.
fn trainer_section(
    loc: &Locator,
    file: &mut SpecFile,
    trainers: &Registry,
) -> Result<(&'static dyn DynTrainer, Range<usize>, toml::Table), SpecError> {
    let kinds = || {
        trainers
            .kinds()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut sections = Vec::new();
    for (key, value) in std::mem::take(&mut file.sections) {
        let Ok(trainer) = trainers.get(&key) else {
            let at = loc.key_span(&KeyPath(vec![Segment::Key(key.clone())]));
            return Err(loc.at(
                at.unwrap_or_else(|| value.span()),
                format!(
                    "unknown field `{key}`, expected `sweep`, `grid`, `zip`, `random` or a trainer section: {}",
                    kinds()
                ),
            ));
        };
        let span = value.span();
        let toml::Value::Table(table) = value.into_inner() else {
            return Err(loc.at(
                span,
                format!("`{0}` must be a table (`[{0}]`)", trainer.kind()),
            ));
        };
        sections.push((trainer, span, table));
    }
    let order = |t: &dyn DynTrainer| trainers.kinds().position(|k| k == t.kind());
    sections.sort_by_key(|(t, ..)| order(*t));
    match sections.len() {
        1 => Ok(sections.pop().expect("one section")),
        0 => Err(SpecError::File {
            path: loc.path.to_owned(),
            message: format!(
                "no trainer section: add exactly one of {}",
                trainers
                    .kinds()
                    .map(|k| format!("[{k}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        _ => Err(loc.at(
            sections[1].1.clone(),
            format!(
                "more than one trainer section ([{}] and [{}]); a sweep trains one kind",
                sections[0].0.kind(),
                sections[1].0.kind()
            ),
        )),
    }
}

/// The replicate seeds: `0..n` for a count (refused above the cell limit before any is
/// made), or the list as written; never empty, never a seed twice.
fn parse_seeds(
    loc: &Locator,
    seeds: Option<Spanned<SeedsSpec>>,
    limits: &SpecLimits,
) -> Result<Vec<u64>, SpecError> {
    let Some(seeds) = seeds else {
        return Ok(vec![0]);
    };
    let span = seeds.span();
    let seeds = match seeds.into_inner() {
        SeedsSpec::Count(n) if n > limits.max_cells => {
            return Err(loc.at(
                span,
                format!(
                    "`sweep.seeds` = {n} is above the limit of {} cells",
                    limits.max_cells
                ),
            ));
        }
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
    Ok(seeds)
}

/// Refuses a sweep whose cell count (checked arithmetic) is above the limit, before expansion.
fn check_cell_count(
    loc: &Locator,
    axes: &SweepAxes,
    n_seeds: usize,
    limits: &SpecLimits,
) -> Result<(), SpecError> {
    let mut factors = axes.factors();
    factors.push(n_seeds as u64);
    let count = limits::cell_count(&factors);
    if count.is_some_and(|n| n <= limits.max_cells) {
        return Ok(());
    }
    let shown = factors
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" x ");
    let total = count.map_or_else(|| "more than 2^64".to_owned(), |n| n.to_string());
    Err(SpecError::File {
        path: loc.path.to_owned(),
        message: format!(
            "the sweep expands to {total} cells ({shown}, seeds last), above the limit of {}",
            limits.max_cells
        ),
    })
}

/// Hash of everything that defines the sweep's cells.
fn spec_hash(kind: &str, sweep_seed: u64, cells: &[Cell]) -> String {
    let mut h = blake3::Hasher::new_derive_key("ensweep spec hash v1");
    h.update(kind.as_bytes());
    h.update(&sweep_seed.to_le_bytes());
    for c in cells {
        h.update(c.key.as_bytes());
    }
    h.finalize().to_hex()[..32].to_owned()
}
