//! `--set KEY=VALUE`: overrides of a sweep file's values, applied to the parsed document before
//! the spec is validated.
//!
//! They live here rather than in the command line so that an overridden document goes through
//! exactly the validation, limits and expansion a file does: an override cannot produce a spec
//! the file format could not, and the cells it yields (their keys, the sweep's identity lines)
//! are the effective ones, so a coordinator can never mistake a reduced run for the full one.
//!
//! KEY is a dotted key:
//! * `sweep.name`, `sweep.seed`, `sweep.seeds`, `sweep.time_limit_s`;
//! * `grid.PATH`, `zip.PATH`, `random.PATH` (and `random.draws`, `random.seed`): replaces that
//!   axis's values, or adds the axis;
//! * `KIND.PATH` (the file's trainer section, e.g. `tanh_rnn.epochs`), or `PATH` alone when its
//!   first part names no section (`epochs`, `task.mem_gap`): a key of the trainer section,
//!   created when the file does not write it (the trainer's config must accept it).
//!
//! VALUE is one TOML value (`1`, `1e-3`, `true`, `[1, 2]`, `{ kind = "adam", lr = 1e-3 }`,
//! `"x"`); text that is not one and does not start like a structured value (`[`, `{`, a quote)
//! is taken as a bare string (`normal`, `data/mnist`). A table value replaces the whole table.
//! Later overrides of the same key win.
//!
//! A trainer key that an axis sweeps (or a key inside or around one) is refused: the axis sets
//! it in every cell, so the override would be silently lost. Change the axis instead
//! (`--set grid.rec_init=["normal"]`).

mod apply;
#[cfg(test)]
mod tests;

pub(super) use apply::apply;

use std::fmt;
use std::str::FromStr;

/// One `--set KEY=VALUE`, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    key: Vec<String>,
    value: toml::Value,
    /// `KEY=VALUE` as given (trimmed), for messages.
    text: String,
}

/// A `--set` argument that is not `KEY=VALUE`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OverrideError {
    /// No `=` in the argument.
    #[error("--set {0:?}: expected KEY=VALUE, e.g. `tanh_rnn.epochs=1`")]
    NoEquals(String),
    /// The key is empty or has an empty or unusual part.
    #[error(
        "--set {0:?}: KEY must be dotted parts of letters, digits, `_` and `-` (e.g. `sweep.seeds`)"
    )]
    BadKey(String),
    /// The value starts like a TOML array, table or string but is not one.
    #[error("--set {arg:?}: VALUE is not a TOML value: {message}")]
    BadValue {
        /// The argument.
        arg: String,
        /// What the TOML parser said.
        message: String,
    },
}

/// Where an override lands in the document.
/// Why an override's key cannot be set (the spec error places it at the `--set`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum SetKeyError {
    /// The key is a whole section (`grid`, the trainer's).
    #[error(
        "`{section}` names the whole [{section}] section; set one key inside it, e.g. `{example}`"
    )]
    WholeSection {
        /// The section.
        section: String,
        /// A key that could be set instead.
        example: String,
    },
    /// `sweep` with no key or a nested one.
    #[error(
        "the [sweep] keys are `sweep.name`, `sweep.seed`, `sweep.seeds` and `sweep.time_limit_s`"
    )]
    SweepKey,
    /// A key `[sweep]` does not have.
    #[error("[sweep] has no key `{0}` (it has `name`, `seed`, `seeds`, `time_limit_s`)")]
    NoSweepKey(String),
    /// A `[sweep]` value of the wrong type.
    #[error("key `sweep.{field}`: {message}")]
    SweepValue {
        /// The key inside `[sweep]`.
        field: String,
        /// The decoder's message.
        message: String,
    },
    /// The section of another trainer than the file's.
    #[error("this sweep file trains `{kind}`, so it has no [{other}] section")]
    OtherTrainer {
        /// The file's trainer.
        kind: String,
        /// The section named.
        other: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Target {
    /// A key of `[sweep]`.
    Sweep(String),
    /// An axis (or `draws` / `seed` of `[random]`): section and the axis key as written.
    Axis(&'static str, String),
    /// A path inside the trainer section.
    Trainer(Vec<String>),
}

/// Sections that hold axes.
const AXIS_SECTIONS: [&str; 3] = ["grid", "zip", "random"];

impl Override {
    /// Parses `KEY=VALUE`.
    pub fn parse(arg: &str) -> Result<Override, OverrideError> {
        let arg = arg.trim();
        let (key, raw) = arg
            .split_once('=')
            .ok_or_else(|| OverrideError::NoEquals(arg.to_owned()))?;
        let key: Vec<String> = key.trim().split('.').map(str::to_owned).collect();
        let plain = |p: &String| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !key.iter().all(plain) {
            return Err(OverrideError::BadKey(arg.to_owned()));
        }
        let raw = raw.trim();
        let value = match raw.parse::<toml::Value>() {
            Ok(v) => v,
            Err(_) if !raw.starts_with(['[', '{', '"', '\'']) && !raw.is_empty() => {
                toml::Value::String(raw.to_owned())
            }
            Err(e) => {
                return Err(OverrideError::BadValue {
                    arg: arg.to_owned(),
                    message: e.message().trim().replace('\n', " "),
                });
            }
        };
        Ok(Override {
            text: format!("{}={raw}", key.join(".")),
            key,
            value,
        })
    }

    /// The dotted key.
    pub fn key(&self) -> String {
        self.key.join(".")
    }

    /// The value.
    pub fn value(&self) -> &toml::Value {
        &self.value
    }

    /// Where this override lands in a file whose trainer section is `kind` (`kinds`: every
    /// trainer the spec could name).
    pub(super) fn target(&self, kind: &str, kinds: &[&str]) -> Result<Target, SetKeyError> {
        let (first, rest) = self.key.split_first().expect("a key has a part");
        let whole = |section: &str, example: String| {
            Err(SetKeyError::WholeSection {
                section: section.to_owned(),
                example,
            })
        };
        match first.as_str() {
            "sweep" if rest.len() == 1 => Ok(Target::Sweep(rest[0].clone())),
            "sweep" => Err(SetKeyError::SweepKey),
            s if AXIS_SECTIONS.contains(&s) && rest.is_empty() => {
                whole(s, format!("{s}.KEY=[1, 2]"))
            }
            s if AXIS_SECTIONS.contains(&s) => {
                let section = AXIS_SECTIONS.into_iter().find(|a| *a == s);
                Ok(Target::Axis(section.expect("listed"), rest.join(".")))
            }
            s if s == kind && rest.is_empty() => whole(s, format!("{s}.epochs=1")),
            s if s == kind => Ok(Target::Trainer(rest.to_vec())),
            s if kinds.contains(&s) => Err(SetKeyError::OtherTrainer {
                kind: kind.to_owned(),
                other: s.to_owned(),
            }),
            _ => Ok(Target::Trainer(self.key.clone())),
        }
    }

    /// The path inside the trainer section this override sets, if it sets one.
    pub(super) fn trainer_path(&self, kind: &str, kinds: &[&str]) -> Option<Vec<String>> {
        match self.target(kind, kinds) {
            Ok(Target::Trainer(p)) => Some(p),
            _ => None,
        }
    }
}

impl FromStr for Override {
    type Err = OverrideError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Override::parse(s)
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether one dotted path lies inside the other (or equals it).
pub(super) fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}
