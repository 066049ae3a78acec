//! Applying overrides: to the typed file (validated next, with spans) and to a plain copy of
//! the document (rendered as the effective text a coordinator stores).

use super::{SetKeyError, Target, overlaps};
use crate::spec::SpecError;
use crate::spec::expand::set_path;
use crate::spec::file::{SeedsSpec, SpecFile};
use crate::spec::locate::Locator;
use serde::de::DeserializeOwned;
use toml::Spanned;

/// The document with the overrides applied, or `None` when there were none (the effective text
/// is then the file's own text, byte for byte).
pub(in crate::spec) struct Rendered(Option<toml::Table>);

/// Applies `loc.sets` in order to the file and to `base` (its trainer section, kind `kind`).
///
/// Overridden values carry the override's span ([`Locator::set_span`]), so every check that
/// follows blames the `--set` rather than a line of the file.
pub(in crate::spec) fn apply(
    loc: &Locator,
    file: &mut SpecFile,
    kind: &str,
    base: &mut toml::Table,
) -> Result<Rendered, SpecError> {
    if loc.sets.is_empty() {
        return Ok(Rendered(None));
    }
    let mut doc: toml::Table = loc.text.parse().map_err(|e| loc.toml_error(&e))?;
    for (i, set) in loc.sets.iter().enumerate() {
        let span = loc.set_span(i);
        let fail = |e: SetKeyError| loc.at(span.clone(), e.to_string());
        let value = set.value().clone();
        match set.target(kind, loc.kinds).map_err(fail)? {
            Target::Sweep(field) => {
                sweep_field(file, &field, &value, span.clone()).map_err(fail)?;
                section(&mut doc, "sweep").insert(field, value);
            }
            Target::Axis(name, key) => {
                let axes = match name {
                    "grid" => &mut file.grid,
                    "zip" => &mut file.zip,
                    _ => &mut file.random,
                }
                .get_or_insert_default();
                let spanned_key = Spanned::new(span.clone(), key.clone());
                // Remove first: a map keeps an equal key's old span on insert.
                axes.remove(&spanned_key);
                axes.insert(spanned_key, Spanned::new(span.clone(), value.clone()));
                section(&mut doc, name).insert(key, value);
            }
            Target::Trainer(path) => {
                let path = path.join(".");
                set_path(base, &path, value.clone());
                set_path(section(&mut doc, kind), &path, value);
            }
        }
    }
    check_axes(loc, file, kind)?;
    Ok(Rendered(Some(doc)))
}

impl Rendered {
    /// The effective spec as TOML text: the file's text when nothing was overridden, else the
    /// overridden document under a comment that names the file and the overrides.
    pub(in crate::spec) fn text(self, loc: &Locator) -> Result<String, SpecError> {
        let Some(doc) = self.0 else {
            return Ok(loc.text.to_owned());
        };
        let body = toml::to_string(&doc).map_err(|e| SpecError::File {
            path: loc.path.to_owned(),
            message: format!("cannot write the overridden spec: {e}"),
        })?;
        let mut out = format!(
            "# {} with overrides (ensweep --set):\n",
            loc.path.display().to_string().escape_debug()
        );
        for set in loc.sets {
            out.push_str(&format!("#   --set {}\n", set.to_string().escape_debug()));
        }
        out.push('\n');
        out.push_str(&body);
        Ok(out)
    }
}

/// The table `name` of the document, created when the file has none.
fn section<'a>(doc: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    let entry = doc
        .entry(name.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    entry.as_table_mut().expect("a table")
}

/// Sets one key of `[sweep]` in the typed file.
fn sweep_field(
    file: &mut SpecFile,
    field: &str,
    value: &toml::Value,
    span: std::ops::Range<usize>,
) -> Result<(), SetKeyError> {
    let s = &mut file.sweep;
    match field {
        "name" => s.name = Spanned::new(span, typed(field, value)?),
        "seed" => s.seed = typed(field, value)?,
        "seeds" => s.seeds = Some(Spanned::new(span, typed::<SeedsSpec>(field, value)?)),
        "time_limit_s" => s.time_limit_s = Some(Spanned::new(span, typed(field, value)?)),
        other => return Err(SetKeyError::NoSweepKey(other.to_owned())),
    }
    Ok(())
}

/// A `[sweep]` value of the type the file format gives it.
fn typed<T: DeserializeOwned>(field: &str, value: &toml::Value) -> Result<T, SetKeyError> {
    value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| SetKeyError::SweepValue {
            field: field.to_owned(),
            message: crate::spec::keypath::plain(e.message()),
        })
}

/// Refuses an override of a trainer key that an axis sweeps (the axis would silently win) and
/// an axis override whose path another axis section already sweeps.
fn check_axes(loc: &Locator, file: &SpecFile, kind: &str) -> Result<(), SpecError> {
    let mut swept: Vec<(&str, &str)> = Vec::new();
    for (name, axes) in [
        ("grid", &file.grid),
        ("zip", &file.zip),
        ("random", &file.random),
    ] {
        for key in axes.iter().flat_map(|a| a.keys()) {
            let key = key.get_ref().as_str();
            if !(name == "random" && matches!(key, "draws" | "seed")) {
                swept.push((name, key));
            }
        }
    }
    for (i, set) in loc.sets.iter().enumerate() {
        let problem = match set.target(kind, loc.kinds) {
            Ok(Target::Trainer(path)) => swept
                .iter()
                .find(|(_, axis)| overlaps(&path, &split(axis)))
                .map(|(name, axis)| {
                    format!(
                        "`{kind}.{}` is swept by the [{name}] axis `{axis}`, which sets it in every cell; \
                         change the axis instead, e.g. `--set {name}.{axis}=[...]`",
                        path.join(".")
                    )
                }),
            Ok(Target::Axis(name, key)) => swept
                .iter()
                .find(|(other, axis)| *other != name && *axis == key)
                .map(|(other, _)| {
                    format!("axis `{key}` is already swept in [{other}]; a path is swept in one section only")
                }),
            _ => None,
        };
        if let Some(message) = problem {
            return Err(loc.at(loc.set_span(i), message));
        }
    }
    Ok(())
}

fn split(path: &str) -> Vec<String> {
    path.split('.').map(str::to_owned).collect()
}
