//! Column builders: turn rows of named values and JSON leaves into typed polars columns.
//!
//! Trainers may add a metric at any time, so value columns are discovered from the rows of a
//! part; a value missing in one row becomes a null, never a zero, so aggregates stay honest.

use polars::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A Float64 column with one entry per row, null where the row lacks the name.
pub fn value_columns<'a, I>(rows: I, reserved: &[&str]) -> Vec<Column>
where
    I: Iterator<Item = &'a BTreeMap<String, f64>> + Clone,
{
    let names: BTreeSet<&String> = rows.clone().flat_map(|v| v.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let vals: Vec<Option<f64>> = rows.clone().map(|v| v.get(name).copied()).collect();
            Column::new(column_name(name, reserved).into(), vals)
        })
        .collect()
}

/// The column name of a value; prefixed with `value.` when it would shadow a key column.
pub fn column_name(name: &str, reserved: &[&str]) -> String {
    if reserved.contains(&name) || name.starts_with("cfg.") || name.starts_with("axis.") {
        format!("value.{name}")
    } else {
        name.to_string()
    }
}

/// Builds one column from JSON leaves (None: the row lacks the leaf).
///
/// All-integer leaves become Int64, all-number leaves Float64, all-bool Boolean; everything
/// else (strings, arrays, mixed types) becomes String, arrays as compact JSON text so that
/// `WHERE "cfg.hidden" = '[50,50]'` works and the table stays flat.
pub fn json_column(name: &str, vals: &[Option<&Value>]) -> Column {
    let present: Vec<&Value> = vals
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_null())
        .collect();
    fn get<'a>(v: &Option<&'a Value>) -> Option<&'a Value> {
        v.filter(|v| !v.is_null())
    }
    if !present.is_empty() && present.iter().all(|v| v.is_boolean()) {
        let c: Vec<Option<bool>> = vals
            .iter()
            .map(|v| get(v).and_then(Value::as_bool))
            .collect();
        return Column::new(name.into(), c);
    }
    if !present.is_empty() && present.iter().all(|v| v.is_i64()) {
        let c: Vec<Option<i64>> = vals
            .iter()
            .map(|v| get(v).and_then(Value::as_i64))
            .collect();
        return Column::new(name.into(), c);
    }
    if !present.is_empty() && present.iter().all(|v| v.is_number()) {
        let c: Vec<Option<f64>> = vals
            .iter()
            .map(|v| get(v).and_then(Value::as_f64))
            .collect();
        return Column::new(name.into(), c);
    }
    let c: Vec<Option<String>> = vals
        .iter()
        .map(|v| {
            get(v).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
        .collect();
    Column::new(name.into(), c)
}

/// Columns for a set of JSON documents (one per row), named `<prefix><dotted.path>`.
pub fn json_columns(prefix: &str, docs: &[BTreeMap<String, Value>]) -> Vec<Column> {
    let names: BTreeSet<&String> = docs.iter().flat_map(|d| d.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let vals: Vec<Option<&Value>> = docs.iter().map(|d| d.get(name)).collect();
            json_column(&format!("{prefix}{name}"), &vals)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ensweep_core::spec::flatten_json;

    #[test]
    fn json_leaves_get_typed_columns() {
        let a = serde_json::json!({"lr": 0.1, "hidden": [50, 50], "opt": {"kind": "adam", "steps": 3, "on": true}});
        let b = serde_json::json!({"lr": 1, "hidden": [10], "opt": {"kind": "sgd", "steps": 4}});
        let docs: Vec<_> = [a, b]
            .iter()
            .map(|d| {
                let mut m = BTreeMap::new();
                flatten_json("", d, &mut |k, v| {
                    m.insert(k.to_string(), v.clone());
                });
                m
            })
            .collect();
        let cols = json_columns("cfg.", &docs);
        let by: BTreeMap<_, _> = cols.iter().map(|c| (c.name().to_string(), c)).collect();
        assert_eq!(by["cfg.lr"].dtype(), &DataType::Float64);
        assert_eq!(by["cfg.opt.steps"].dtype(), &DataType::Int64);
        assert_eq!(by["cfg.opt.on"].dtype(), &DataType::Boolean);
        assert_eq!(by["cfg.opt.on"].null_count(), 1);
        let hidden = by["cfg.hidden"].str().unwrap();
        assert_eq!(hidden.get(0), Some("[50,50]"));
        assert_eq!(by["cfg.opt.kind"].str().unwrap().get(1), Some("sgd"));
    }
}
