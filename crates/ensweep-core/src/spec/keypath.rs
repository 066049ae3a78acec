//! Which key a decoding error is about, recorded while serde decodes.
//!
//! `serde_path_to_error` wraps a deserializer and notes the key (or array index) it is in
//! when an error happens, so the place of an error is known exactly instead of being read
//! back out of the error's text. The spec then finds that path in the document's spans
//! (`locate`).

use serde::Deserialize;
use std::fmt;

/// One step of a [`KeyPath`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A key of a table.
    Key(String),
    /// An element of an array (of tables or of values).
    Index(usize),
}

/// Where in a TOML document something is: keys and array indices from the root given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// Whether the path begins with the keys of the dotted `prefix` (`a.b`).
    pub fn starts_with_dotted(&self, prefix: &str) -> bool {
        let keys: Vec<&str> = prefix.split('.').collect();
        keys.len() <= self.0.len()
            && keys
                .iter()
                .zip(&self.0)
                .all(|(k, s)| matches!(s, Segment::Key(key) if key == k))
    }

    /// Whether the path is exactly the dotted `path`.
    pub fn is_dotted(&self, path: &str) -> bool {
        self.starts_with_dotted(path) && path.split('.').count() == self.0.len()
    }

    /// The same path seen from one level up, below the key `root`.
    pub fn under(&self, root: &str) -> KeyPath {
        let mut segments = vec![Segment::Key(root.to_owned())];
        segments.extend(self.0.iter().cloned());
        KeyPath(segments)
    }

    /// The path as serde_path_to_error recorded it, without the steps that are not keys of
    /// the document: the fields `toml::Spanned` decodes through, and map keys that are not
    /// strings (which TOML does not have).
    fn from_tracked(path: &serde_path_to_error::Path) -> KeyPath {
        use serde_path_to_error::Segment as S;
        let mut segments = Vec::new();
        for s in path.iter() {
            match s {
                S::Seq { index } => segments.push(Segment::Index(*index)),
                S::Map { key } if key.starts_with("$__serde_spanned_private") => {}
                // An externally tagged enum's variant is written as a key in TOML.
                S::Map { key } | S::Enum { variant: key } => {
                    segments.push(Segment::Key(key.clone()))
                }
                S::Unknown => break,
            }
        }
        KeyPath(segments)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A value that does not decode into its typed form: the key it is about and what is wrong.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// The failing key, from the root of what was decoded; empty when the error is about the
    /// whole value (a trainer's `validate`, whose message names the keys itself).
    pub path: KeyPath,
    /// What is wrong, one line, in the words of the file (no Rust type names).
    pub message: String,
}

impl DecodeError {
    /// An error about the whole value rather than one key.
    pub fn whole(message: impl fmt::Display) -> DecodeError {
        DecodeError {
            path: KeyPath::default(),
            message: plain(&message.to_string()),
        }
    }
}

/// Decodes `T` from `d`, noting the failing key; the error keeps the deserializer's own error
/// (for its span, when it has one).
pub(crate) fn decode<'de, T, D>(d: D) -> Result<T, (KeyPath, D::Error)>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde_path_to_error::deserialize(d)
        .map_err(|e| (KeyPath::from_tracked(e.path()), e.into_inner()))
}

/// Decodes a trainer section's table into its typed config.
pub(crate) fn decode_table<T: serde::de::DeserializeOwned>(
    table: toml::Table,
) -> Result<T, DecodeError> {
    decode(toml::Value::Table(table)).map_err(|(path, e)| DecodeError {
        path,
        message: plain(e.message()),
    })
}

/// `message` on one line, with the names serde gives Rust types (`struct AdamConfig`,
/// `enum Task`) replaced by what they are in a TOML file: a user never sees a type name.
pub(crate) fn plain(message: &str) -> String {
    // Longest first: `internally tagged enum` before `enum`, `struct variant` before `struct`.
    const NAMED: [(&str, &str); 5] = [
        ("internally tagged enum ", "a table naming its kind"),
        ("struct variant ", "a table"),
        ("tuple struct ", "a list"),
        ("struct ", "a table"),
        ("enum ", "one of the allowed names"),
    ];
    let message = message.trim().replace('\n', " ");
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    'scan: while !rest.is_empty() {
        if out.is_empty() || out.ends_with(' ') {
            for (prefix, instead) in NAMED {
                if let Some(after) = rest.strip_prefix(prefix)
                    && after.starts_with(|c: char| c.is_ascii_uppercase())
                {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                        .unwrap_or(after.len());
                    out.push_str(instead);
                    rest = &after[end..];
                    continue 'scan;
                }
            }
        }
        let mut chars = rest.chars();
        out.extend(chars.next());
        rest = chars.as_str();
    }
    primitives(&out)
}

/// `expected u32` -> `expected a non-negative integer`: serde names Rust's number types.
fn primitives(message: &str) -> String {
    const NUMBERS: [(&str, &str); 12] = [
        ("u8", "a non-negative integer"),
        ("u16", "a non-negative integer"),
        ("u32", "a non-negative integer"),
        ("u64", "a non-negative integer"),
        ("usize", "a non-negative integer"),
        ("i8", "an integer"),
        ("i16", "an integer"),
        ("i32", "an integer"),
        ("i64", "an integer"),
        ("isize", "an integer"),
        ("f32", "a number"),
        ("f64", "a number"),
    ];
    let mut out = message.to_owned();
    for (ty, words) in NUMBERS {
        let from = format!("expected {ty}");
        let mut searched = 0;
        while let Some(i) = out[searched..].find(&from).map(|i| i + searched) {
            let end = i + from.len();
            if out[end..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                searched = end;
                continue;
            }
            out.replace_range(i..end, &format!("expected {words}"));
            searched = i;
        }
    }
    out
}
