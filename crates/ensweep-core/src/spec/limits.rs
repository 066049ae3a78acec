//! Limits that keep a spec from asking for unbounded memory or stack: file size, nesting
//! depth, axis path depth and the number of cells. All are checked before the work they bound
//! (reading, parsing, expanding), so a hostile or mistaken spec is refused quickly.

/// Bounds on what a spec may ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecLimits {
    /// Most cells a sweep may expand to (replicates included).
    pub max_cells: u64,
    /// Largest spec file, in bytes.
    pub max_file_bytes: usize,
    /// Deepest nesting of tables, arrays and dotted key segments (also of an axis path).
    pub max_depth: usize,
}

/// Default of [`SpecLimits::max_cells`]: ten million cells.
pub const DEFAULT_MAX_CELLS: u64 = 10_000_000;

impl Default for SpecLimits {
    fn default() -> Self {
        SpecLimits {
            max_cells: DEFAULT_MAX_CELLS,
            max_file_bytes: 1 << 20,
            max_depth: 32,
        }
    }
}

/// The deepest nesting in TOML `text`: brackets and braces plus the dotted segments of keys.
///
/// The toml crate builds (and drops) nested tables recursively, so a key with thousands of
/// dotted levels would overflow the stack; this scan is iterative and runs before parsing.
/// Quoted strings and keys count as one level whatever dots they contain (an axis path in a
/// quoted key is bounded separately). The estimate may exceed the true depth by one or two,
/// never fall below it.
pub fn nesting_depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut max, mut dots) = (0usize, 0usize, 0usize);
    let mut in_key = true;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => i = skip_string(bytes, i, q),
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' if depth == 0 || in_key => {
                in_key = depth == 0;
                dots = 0;
            }
            b'[' | b'{' => {
                depth += 1;
                in_key = bytes[i] == b'{' || (depth == 1 && in_key);
                dots = 0;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => {
                in_key = true;
                dots = 0;
            }
            b'=' => in_key = false,
            b'.' if in_key => dots += 1,
            _ => {}
        }
        max = max.max(depth + dots);
        i += 1;
    }
    max
}

/// Index of the last byte of the string starting at `start` (quote `q`; triple quotes too).
fn skip_string(bytes: &[u8], start: usize, q: u8) -> usize {
    let triple = bytes[start..].starts_with(&[q, q, q]);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        if bytes[i] == b'\\' && q == b'"' {
            i += 2;
            continue;
        }
        if bytes[i] == q && (!triple || bytes[i..].starts_with(&[q, q, q])) {
            return i + if triple { 2 } else { 0 };
        }
        if bytes[i] == b'\n' && !triple {
            return i - 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The number of cells, `factors` multiplied with overflow checks: `None` above `u64::MAX`.
pub fn cell_count(factors: &[u64]) -> Option<u64> {
    factors.iter().try_fold(1u64, |acc, f| acc.checked_mul(*f))
}
