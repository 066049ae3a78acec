//! Tests of where spec errors point: keys in inline tables, dotted keys, array elements and
//! arrays of tables, found by key path rather than by the text of a message.

use super::tests::{BASE, MLP, check_err, parse};
use super::{KeyPath, Segment, keypath, locate};
use std::path::Path;

/// `MLP` with its `[sas_mlp.optimizer]` table written as `written` under `[sas_mlp]` instead.
fn mlp_with_optimizer(written: &str) -> String {
    MLP.replace(
        "[sas_mlp.optimizer]\nkind = \"adam\"\nlr = \"fast\"\n\n",
        "",
    )
    .replace(
        "batch_size = 10\n",
        &format!("batch_size = 10\n{written}\n"),
    )
}

#[test]
fn inline_table_wrong_type_points_at_the_key_inside_it() {
    check_err(
        &mlp_with_optimizer("optimizer = { kind = \"adam\", lr = \"fast\" }"),
        "s.toml:9:30: key `sas_mlp.optimizer.lr`: invalid type: string \"fast\", expected a number",
    );
}

#[test]
fn dotted_key_wrong_type_points_at_its_last_part() {
    check_err(
        &mlp_with_optimizer("optimizer.kind = \"adam\"\noptimizer.lr = \"fast\""),
        "s.toml:10:11: key `sas_mlp.optimizer.lr`: invalid type: string \"fast\", expected a number",
    );
}

#[test]
fn unknown_key_inside_an_inline_table_points_at_that_key() {
    let err = parse(&mlp_with_optimizer(
        "optimizer = { kind = \"adam\", lr = 0.1, zz = 1 }",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("s.toml:9:40: key `sas_mlp.optimizer.zz`: unknown field `zz`, expected one of `kind`, `lr`,"),
        "{err}"
    );
}

#[test]
fn array_element_errors_point_at_the_element() {
    check_err(
        &MLP.replace("lr = \"fast\"", "lr = 0.1\ndecay_on = [\"pi\", \"q\"]"),
        "s.toml:17:19: key `sas_mlp.optimizer.decay_on[1]`: unknown variant `q`, expected one of `pi`, `m`, `xi`",
    );
}

#[test]
fn spec_errors_name_no_rust_types() {
    check_err(
        &mlp_with_optimizer("optimizer = 3"),
        "s.toml:9:1: key `sas_mlp.optimizer`: invalid type: integer `3`, expected a table",
    );
    let tanh = "[sweep]\nname = \"t\"\n\n[tanh_rnn]\nn_hidden = 10\ntask = 3\n";
    check_err(
        tanh,
        "s.toml:6:1: key `tanh_rnn.task`: invalid type: integer `3`, expected a table naming its kind",
    );
    assert_eq!(
        keypath::plain("expected struct AdamConfig or enum Kind::A, not a struct"),
        "expected a table or one of the allowed names, not a struct"
    );
    assert_eq!(
        keypath::plain("invalid type: string \"x\", expected u32; expected u64s; expected f64"),
        "invalid type: string \"x\", expected a non-negative integer; expected u64s; expected a number"
    );
}

#[test]
fn an_axis_named_inside_the_message_is_not_blamed_for_another_axis() {
    // `x` occurs in "expected": only the error's key path decides which axis is at fault.
    check_err(
        &format!("{BASE}\n[grid]\nx = [1.0, 2.0]\nsleep_ms = [1, -4]\n"),
        "s.toml:12:12: axis `sleep_ms` value 2: invalid value: integer `-4`, expected a non-negative integer",
    );
}

#[test]
fn keys_are_found_in_arrays_of_tables_by_index() {
    let text = "[a]\nx = 1\n[[a.t]]\nlr = 1\n[[a.t]]\nkind = \"b\"\nlr = 2\n";
    let loc = locate::Locator::parse(text, Path::new("s.toml"), &[], &[]).unwrap();
    let path = KeyPath(vec![
        Segment::Key("a".into()),
        Segment::Key("t".into()),
        Segment::Index(1),
        Segment::Key("lr".into()),
    ]);
    assert_eq!(path.to_string(), "a.t[1].lr");
    let span = loc.key_span(&path).unwrap();
    assert_eq!(
        (&text[span.clone()], span.start),
        ("lr", text.rfind("lr").unwrap())
    );
    // A key the file does not write is found as far as it is written.
    let mut missing = path.clone();
    missing.0[3] = Segment::Key("eps".into());
    assert_eq!(
        loc.key_span(&missing),
        Some(text.find("[[a.t]]\nkind").unwrap()..text.find("\nkind").unwrap())
    );
}
