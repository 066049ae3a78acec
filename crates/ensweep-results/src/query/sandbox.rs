//! Keeps `ensweep query` inside the sweep directories.
//!
//! polars' SQL engine resolves every table reference with arguments in a FROM clause
//! (`read_parquet('/elsewhere')`, `read_csv`, `read_ipc`, `read_json`) to a scan of that path,
//! and offers no switch to turn this off. A query only ever needs the tables the catalog
//! registered, so any table function call is refused before polars runs the statement.
//!
//! The statement is parsed by the very parser polars uses (same `sqlparser` crate, same
//! dialect and options) and the check walks that syntax tree. Scanning the text instead would
//! be fooled by what the parser accepts and a scanner does not model (comments between the
//! name and `(`, a qualified `read_csv.x(...)`, dollar-quoted strings).

use sqlparser::ast::{TableFactor, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserOptions};
use std::ops::ControlFlow;

/// The table function `sql` calls, if any (as written, e.g. `read_parquet`).
///
/// A statement that does not parse is passed through: polars parses it the same way and
/// reports the syntax error itself.
pub fn table_function(sql: &str) -> Option<String> {
    let options = ParserOptions {
        trailing_commas: true,
        ..Default::default()
    };
    let statements = Parser::new(&GenericDialect)
        .with_options(options)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .ok()?;
    match statements.visit(&mut FindTableFunction) {
        ControlFlow::Break(name) => Some(name),
        ControlFlow::Continue(()) => None,
    }
}

/// Stops at the first table reference that carries arguments.
struct FindTableFunction;

impl Visitor for FindTableFunction {
    type Break = String;

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<String> {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => ControlFlow::Break(name.to_string()),
            TableFactor::TableFunction { expr, .. } => ControlFlow::Break(expr.to_string()),
            TableFactor::Function { name, .. } => ControlFlow::Break(name.to_string()),
            _ => ControlFlow::Continue(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::table_function;

    #[test]
    fn table_functions_are_found_however_written() {
        for sql in [
            "SELECT * FROM read_parquet('/elsewhere/x.parquet')",
            "select * from READ_CSV ('/etc/passwd')",
            "SELECT * FROM runs JOIN \"read_json\"('/x') USING (cell_key)",
            "SELECT * FROM read_parquet /* gap */ ('/x')",
            "SELECT * FROM read_csv.x('/x')",
            "WITH t AS (SELECT * FROM read_ipc('/x')) SELECT * FROM t",
            "SELECT * FROM runs WHERE cell_key IN (SELECT a FROM read_csv('/x'))",
            "SELECT $$'$$ AS s, * FROM read_parquet('/x')",
        ] {
            assert!(table_function(sql).is_some(), "{sql}");
        }
        for sql in [
            "SELECT 'read_csv(' FROM runs",
            "SELECT \"cfg.read_csv\" FROM runs -- read_csv('/x')\n",
            "SELECT read_csv_col FROM runs",
            "SELECT * FROM runs JOIN epochs USING (cell_key)",
            "not sql at all (",
        ] {
            assert_eq!(table_function(sql), None, "{sql}");
        }
    }
}
