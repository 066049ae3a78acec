//! Turns byte spans and the toml crate's errors into one-line `file:line:column` errors.

use super::SpecError;
use super::set::Override;
use std::ops::Range;
use std::path::Path;

/// Turns byte spans into `file:line:column` errors, or into errors naming a `--set`.
pub(super) struct Locator<'a> {
    pub text: &'a str,
    pub path: &'a Path,
    /// The `--set` overrides applied to the file, in order.
    pub sets: &'a [Override],
    /// The trainer kinds of the registry the spec is parsed for (an override naming another
    /// trainer's section is refused with its own message).
    pub kinds: &'a [&'static str],
}

impl Locator<'_> {
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

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        (line, col)
    }

    pub fn at(&self, span: Range<usize>, message: String) -> SpecError {
        if let Some(set) = self.set_at(span.start) {
            return SpecError::Set {
                path: self.path.to_owned(),
                set: set.to_string(),
                message,
            };
        }
        let (line, column) = self.line_col(span.start);
        SpecError::At {
            path: self.path.to_owned(),
            line,
            column,
            message,
        }
    }

    /// A parse error of the whole file: toml gives the span; add the dotted key it concerns.
    pub fn toml_error(&self, e: &toml::de::Error) -> SpecError {
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
    pub fn value_error(&self, e: &toml::de::Error, section: Range<usize>, kind: &str) -> SpecError {
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
        let key = std::iter::once(kind)
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(".");
        // A key that an override set (or a table it lies in, for errors without a deeper
        // path) was not written in the file: blame the last override of it.
        let from_set = self.sets.iter().rev().find(|s| {
            s.trainer_path(kind, self.kinds)
                .is_some_and(|p| path.starts_with(&p) || (!path.is_empty() && p.starts_with(&path)))
        });
        if let Some(set) = from_set {
            return SpecError::Set {
                path: self.path.to_owned(),
                set: set.to_string(),
                message: format!("key `{key}`: {message}"),
            };
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
