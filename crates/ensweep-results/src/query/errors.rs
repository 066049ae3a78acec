//! Short SQL error messages: polars' first line, the closest column names, and a hint to
//! double-quote dotted names, instead of polars' dump of every table and column.

/// Longest message kept from polars, in characters.
const MAX_MESSAGE: usize = 200;

/// One line for a failed query: what polars said (cut at its list of valid columns), then the
/// quoting hint where it applies, else the registered tables (for an unknown table) or the
/// closest column names to the name polars quotes.
pub fn short_message(polars: &str, tables: &[String], columns: &[String]) -> String {
    let first = polars.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first = first
        .split("; valid columns")
        .next()
        .unwrap_or(first)
        .trim();
    let mut msg: String = first.chars().take(MAX_MESSAGE).collect();
    if msg.len() < first.len() {
        msg.push_str("...");
    }
    let Some(name) = quoted_name(first) else {
        return msg;
    };
    let dotted: Vec<&String> = columns
        .iter()
        .filter(|c| c.starts_with(&format!("{name}.")))
        .collect();
    if let Some(example) = dotted.first() {
        msg.push_str(&format!(
            "; column names with dots must be double-quoted, e.g. \"{example}\""
        ));
        return msg;
    }
    if first.contains("relation '") {
        msg.push_str(&format!("; tables: {}", tables.join(", ")));
        return msg;
    }
    let close = closest(&name, columns, 3);
    if !close.is_empty() {
        let names: Vec<String> = close.iter().map(|c| format!("\"{c}\"")).collect();
        msg.push_str(&format!("; closest columns: {}", names.join(", ")));
    }
    msg
}

/// One line for a panic caught inside polars, with its message when it has one (a panic's
/// payload is a `&str` or a `String` unless someone panicked with another type).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    let what = what.lines().next().unwrap_or("").trim();
    let what: String = what.chars().take(MAX_MESSAGE).collect();
    format!("polars failed on this query (internal error: {what})")
}

/// The first name quoted in a polars message (`'x'`, `"x"` or `` `x` ``).
fn quoted_name(message: &str) -> Option<String> {
    let start = message.find(['\'', '"', '`'])?;
    let quote = message[start..].chars().next()?;
    let rest = &message[start + 1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_owned()).filter(|n| !n.is_empty())
}

/// Up to `n` names within a small edit distance of `name`, closest first.
fn closest<'a>(name: &str, names: &'a [String], n: usize) -> Vec<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .map(|c| {
            (
                edit_distance(&name.to_lowercase(), &c.to_lowercase()),
                c.as_str(),
            )
        })
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<String> {
        [
            "cell_key",
            "cfg.rec_init",
            "cfg.n_hidden",
            "final_loss",
            "sweep",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn unknown_column_gets_the_closest_names() {
        let msg = short_message(
            "unable to find column \"final_los\"; valid columns: [\"a\", \"b\"]\n\nResolved plan:\n...",
            &[],
            &cols(),
        );
        assert_eq!(
            msg,
            "unable to find column \"final_los\"; closest columns: \"final_loss\""
        );
    }

    #[test]
    fn unquoted_dotted_name_gets_the_quoting_hint() {
        let msg = short_message("no table or struct column named 'cfg' found", &[], &cols());
        assert!(
            msg.ends_with("must be double-quoted, e.g. \"cfg.rec_init\""),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn a_panic_becomes_one_line() {
        // What `catch_unwind` hands back for `panic!("bad {}\nmore", 1)` and `panic!("bad")`.
        let formatted: Box<dyn std::any::Any + Send> = Box::new(String::from("bad 1\nmore"));
        assert_eq!(
            panic_message(formatted.as_ref()),
            "polars failed on this query (internal error: bad 1)"
        );
        let literal: Box<dyn std::any::Any + Send> = Box::new("bad");
        assert!(panic_message(literal.as_ref()).ends_with("(internal error: bad)"));
    }

    #[test]
    fn unknown_table_lists_the_tables() {
        let tables = ["runs", "epochs"].map(String::from);
        let msg = short_message("relation 'nope' was not found", &tables, &cols());
        assert_eq!(msg, "relation 'nope' was not found; tables: runs, epochs");
    }
}
