//! The spec file as written: its sections, the `seeds` value and the sweep name's rules.

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use toml::Spanned;

/// The `[sweep]` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SweepSection {
    pub name: Spanned<String>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub seeds: Option<Spanned<SeedsSpec>>,
    /// Wall-clock limit of one attempt of a cell, seconds (> 0); workers enforce it.
    #[serde(default)]
    pub time_limit_s: Option<Spanned<u64>>,
}

/// `seeds = 5` or `seeds = [0, 3, 7]`.
///
/// Deserialized by hand rather than as an untagged enum, so a wrong value is answered with
/// what is expected instead of serde's "did not match any variant of untagged enum".
#[derive(Clone, Debug)]
pub(super) enum SeedsSpec {
    Count(u64),
    List(Vec<u64>),
}

impl<'de> Deserialize<'de> for SeedsSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SeedsVisitor)
    }
}

struct SeedsVisitor;

impl<'de> Visitor<'de> for SeedsVisitor {
    type Value = SeedsSpec;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a count of seeds (an integer >= 1) or a list of non-negative integers")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<SeedsSpec, E> {
        Ok(SeedsSpec::Count(n))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<SeedsSpec, E> {
        u64::try_from(n)
            .map(SeedsSpec::Count)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SeedsSpec, A::Error> {
        let mut list = Vec::new();
        while let Some(s) = seq.next_element::<u64>()? {
            list.push(s);
        }
        Ok(SeedsSpec::List(list))
    }
}

/// Axis keys and their values, as written.
pub(super) type Axes = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The whole file, as written.
///
/// Every top-level key other than `sweep`, `grid`, `zip` and `random` is kept in `sections`
/// as a candidate trainer section: which kinds exist is the registry's to say, so the spec
/// checks the names against it (with the key's position) and validates the tables through
/// the typed configs per cell, so errors keep their positions. Top-level keys are plain
/// strings, not `Spanned`: serde_path_to_error records only string keys in an error's path,
/// and a key's span is the document's to give (`Locator::key_span`).
#[derive(Debug)]
pub(super) struct SpecFile {
    pub sweep: SweepSection,
    pub sections: Vec<(String, Spanned<toml::Value>)>,
    pub grid: Option<Axes>,
    pub zip: Option<Axes>,
    pub random: Option<Axes>,
}

impl<'de> Deserialize<'de> for SpecFile {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FileVisitor)
    }
}

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = SpecFile;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(
            "a sweep file: [sweep], one trainer section and optional [grid], [zip], [random]",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpecFile, A::Error> {
        let mut sweep = None;
        let (mut grid, mut zip, mut random) = (None, None, None);
        let mut sections = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "sweep" => sweep = Some(map.next_value()?),
                "grid" => grid = Some(map.next_value()?),
                "zip" => zip = Some(map.next_value()?),
                "random" => random = Some(map.next_value()?),
                _ => sections.push((key, map.next_value()?)),
            }
        }
        Ok(SpecFile {
            sweep: sweep.ok_or_else(|| de::Error::missing_field("sweep"))?,
            sections,
            grid,
            zip,
            random,
        })
    }
}

/// Longest sweep name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Why a sweep name is refused, or `None` when it is acceptable.
///
/// A sweep's name is the name of its results directory, so it must be one plain path
/// component: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`. The first character being alphanumeric
/// rules out `.`, `..`, hidden files and names that look like options; no separator can occur,
/// so the directory always stays under the results root.
pub fn name_problem(name: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!("is longer than {MAX_NAME_LEN} bytes"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must start with a letter or a digit".into());
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Some(format!(
            "contains {bad:?}: use letters, digits, `.`, `_` and `-` only"
        ));
    }
    None
}
