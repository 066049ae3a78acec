//! Where something is written in the spec, for one-line `file:line:column` errors.
//!
//! The file is parsed once into toml's `DeTable`, which keeps the span of every key and value
//! whether it is written under a `[header]`, in an inline table, as a dotted key or in an
//! array of tables. An error's key path (recorded while decoding, see `keypath`) is walked
//! through that tree key by key, so the position reported is where the key is written:
//! nothing is found by scanning lines or by reading the text of an error.

use super::SpecError;
use super::keypath::{self, DecodeError, KeyPath, Segment};
use super::set::Override;
use serde::Deserialize;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The parsed document of a spec, with the spans of its keys and values, and the `--set`
/// overrides applied to it (an error in an overridden value names the override, not a line).
pub(super) struct Locator<'a> {
    pub text: &'a str,
    pub path: &'a Path,
    doc: Spanned<DeTable<'a>>,
    /// The `--set` overrides applied to the file, in order.
    pub sets: &'a [Override],
    /// The trainer kinds of the registry the spec is parsed for (an override naming another
    /// trainer's section is refused with its own message).
    pub kinds: &'a [&'static str],
}

impl<'a> Locator<'a> {
    /// Parses `text`. A syntax error (not TOML, a key written twice) is located by the span
    /// toml gives it.
    pub fn parse(
        text: &'a str,
        path: &'a Path,
        sets: &'a [Override],
        kinds: &'a [&'static str],
    ) -> Result<Locator<'a>, SpecError> {
        let doc = DeTable::parse(text).map_err(|e| {
            let message = keypath::plain(e.message());
            match e.span() {
                Some(span) => error_at(text, path, span, message),
                None => SpecError::File {
                    path: path.to_owned(),
                    message,
                },
            }
        })?;
        Ok(Locator {
            text,
            path,
            doc,
            sets,
            kinds,
        })
    }

    /// The span that stands for the `i`-th override: past the end of the text, so it can be
    /// no position in the file, and [`Locator::at`] turns it into an error naming the override.
    pub fn set_span(&self, i: usize) -> Range<usize> {
        let at = self.text.len() + 1 + i;
        at..at
    }

    /// The override a span stands for, if it stands for one.
    fn set_at(&self, offset: usize) -> Option<&Override> {
        let i = offset.checked_sub(self.text.len() + 1)?;
        self.sets.get(i)
    }

    /// An error at the start of `span` (or naming the override the span stands for).
    pub fn at(&self, span: Range<usize>, message: String) -> SpecError {
        if let Some(set) = self.set_at(span.start) {
            return SpecError::Set {
                path: self.path.to_owned(),
                set: set.to_string(),
                message,
            };
        }
        error_at(self.text, self.path, span, message)
    }

    /// An error re-reading the file as a plain table (for the effective text of an
    /// overridden spec; the file already parsed once, so this is not expected).
    pub fn toml_error(&self, e: &toml::de::Error) -> SpecError {
        SpecError::File {
            path: self.path.to_owned(),
            message: keypath::plain(e.message()),
        }
    }

    /// Decodes the whole document as `T`. An error names the failing key and points where
    /// toml says the failing value is (or, when it does not say, at the key).
    pub fn decode<T: Deserialize<'a>>(&self) -> Result<T, SpecError> {
        let de = toml::de::Deserializer::from(self.doc.clone());
        keypath::decode(de).map_err(|(key, e)| {
            let message = keypath::plain(e.message());
            let message = match key.0.is_empty() {
                true => message,
                false => format!("key `{key}`: {message}"),
            };
            match e.span().or_else(|| self.key_span(&key)) {
                Some(span) => self.at(span, message),
                None => SpecError::File {
                    path: self.path.to_owned(),
                    message,
                },
            }
        })
    }

    /// An error from decoding the trainer section `kind` (whose table starts at `section`):
    /// at the failing key, or at the deepest of its parents that the file writes (a missing
    /// or defaulted key's table), named in full from the top of the file.
    pub fn section_error(&self, kind: &str, e: &DecodeError, section: Range<usize>) -> SpecError {
        let key = e.path.under(kind);
        // A key that an override set (or a table it lies in, for errors without a deeper
        // path) is not written in the file: blame the last override of it.
        let path: Vec<String> = e
            .path
            .0
            .iter()
            .map_while(|s| match s {
                Segment::Key(k) => Some(k.clone()),
                Segment::Index(_) => None,
            })
            .collect();
        let from_set = self.sets.iter().rev().find(|s| {
            s.trainer_path(kind, self.kinds)
                .is_some_and(|p| path.starts_with(&p) || (!path.is_empty() && p.starts_with(&path)))
        });
        if let Some(set) = from_set {
            return SpecError::Set {
                path: self.path.to_owned(),
                set: set.to_string(),
                message: format!("key `{key}`: {}", e.message),
            };
        }
        let at = self.key_span(&key).unwrap_or(section);
        self.at(at, format!("key `{key}`: {}", e.message))
    }

    /// The span of the key at `path` as written (of the element, for an array index), or of
    /// the deepest parent that is written when the rest is not in the file; `None` when not
    /// even the first key is.
    pub fn key_span(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut here: Option<&Spanned<DeValue>> = None;
        let mut span = None;
        for segment in &path.0 {
            let next = match segment {
                Segment::Key(key) => match here {
                    None => Some(self.doc.get_ref()),
                    Some(v) => v.get_ref().as_table(),
                }
                .and_then(|t| t.iter().find(|(k, _)| k.get_ref().as_ref() == key.as_str()))
                .map(|(k, v)| (k.span(), v)),
                Segment::Index(i) => here
                    .and_then(|v| v.get_ref().as_array())
                    .and_then(|a| a.get(*i))
                    .map(|v| (v.span(), v)),
            };
            let Some((at, value)) = next else { break };
            span = Some(at);
            here = Some(value);
        }
        span
    }
}

/// `file:line:column: message` for the start of `span` in `text`.
fn error_at(text: &str, path: &Path, span: Range<usize>, message: String) -> SpecError {
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    SpecError::At {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}
