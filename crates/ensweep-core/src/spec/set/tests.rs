//! Tests of `--set` overrides: parsing, where they land, and the errors that name them.

use crate::spec::{Override, OverrideError, Spec, SpecError, SpecLimits};
use serde_json::Value as Json;
use std::path::Path;

const BASE: &str = r#"
[sweep]
name = "t"
seed = 7
seeds = 3

[synthetic]
sleep_ms = 0

[grid]
x = [1.0, 2.0]
"#;

fn sets(args: &[&str]) -> Vec<Override> {
    args.iter().map(|a| a.parse().unwrap()).collect()
}

fn parse(text: &str, args: &[&str]) -> Result<Spec, SpecError> {
    Spec::parse_with_overrides(
        text,
        Path::new("s.toml"),
        &SpecLimits::default(),
        &crate::spec::tests::TRAINERS,
        &sets(args),
    )
}

/// The one-line error `args` give on `text`.
fn err(text: &str, args: &[&str]) -> String {
    let e = parse(text, args).expect_err("override should be refused");
    let e = e.to_string();
    assert!(!e.contains('\n'), "error must be one line: {e}");
    e
}

#[test]
fn values_are_toml_with_bare_strings_as_fallback() {
    let v = |a: &str| Override::parse(a).unwrap().value().clone();
    assert_eq!(v("a.b=1"), toml::Value::Integer(1));
    assert_eq!(v("a=1e-3"), toml::Value::Float(1e-3));
    assert_eq!(v("a=true"), toml::Value::Boolean(true));
    assert_eq!(
        v("a=[1, 2]"),
        toml::Value::Array(vec![toml::Value::Integer(1), toml::Value::Integer(2)])
    );
    assert_eq!(v("a=\"x y\""), toml::Value::String("x y".into()));
    assert_eq!(v("a = normal "), toml::Value::String("normal".into()));
    assert_eq!(v("a=data/mnist"), toml::Value::String("data/mnist".into()));
    let table = v("a={ kind = \"adam\", lr = 1e-3 }");
    assert_eq!(table["kind"].as_str(), Some("adam"));
    assert_eq!(Override::parse(" a.b = 1 ").unwrap().to_string(), "a.b=1");
    assert_eq!(Override::parse("a.b=1").unwrap().key(), "a.b");
}

#[test]
fn malformed_arguments_are_refused_before_any_file_is_read() {
    assert_eq!(
        Override::parse("epochs"),
        Err(OverrideError::NoEquals("epochs".into()))
    );
    for bad in ["=1", "a..b=1", "a.=1", "a b=1", "a.\"b\"=1"] {
        assert_eq!(
            Override::parse(bad),
            Err(OverrideError::BadKey(bad.into())),
            "{bad}"
        );
    }
    for bad in ["a=[1, 2", "a={ x = }", "a=\"open", "a="] {
        let e = Override::parse(bad).unwrap_err();
        assert!(matches!(e, OverrideError::BadValue { .. }), "{bad}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("--set {bad:?}: VALUE is not a TOML value"))
        );
    }
}

#[test]
fn trainer_keys_are_set_before_validation_and_change_the_cells() {
    let plain = parse(BASE, &[]).unwrap();
    let long = parse(BASE, &["synthetic.sleep_ms=5"]).unwrap();
    let short = parse(BASE, &["sleep_ms=5"]).unwrap();
    let config: Json = serde_json::from_str(&long.cells()[0].config_json).unwrap();
    assert_eq!(config["sleep_ms"], Json::from(5));
    assert_eq!(short.cells(), long.cells(), "`KEY` alone is a trainer key");
    assert_ne!(long.cells()[0].key, plain.cells()[0].key);
    assert_ne!(long.spec_hash, plain.spec_hash);
    // The coordinator's compatibility check sees the change.
    assert!(
        long.identity_lines()
            .contains(&"synthetic.sleep_ms = 5".to_owned())
    );
    assert!(
        !plain
            .identity_lines()
            .contains(&"synthetic.sleep_ms = 5".to_owned())
    );
    // A key the file does not write is created; later overrides win.
    let added = parse(BASE, &["fail_on_seed=2", "fail_on_seed=1"]).unwrap();
    assert!(
        added
            .identity_lines()
            .contains(&"synthetic.fail_on_seed = 1".to_owned())
    );
}

#[test]
fn sweep_keys_reduce_seeds_rename_and_keep_their_checks() {
    let plain = parse(BASE, &[]).unwrap();
    let one = parse(BASE, &["sweep.seeds=1"]).unwrap();
    assert_eq!(one.len(), 2);
    assert_eq!(
        one.cells()[0],
        plain.cells()[0],
        "fewer seeds keep the cells' keys"
    );
    assert_eq!(one.identity_lines(), plain.identity_lines());
    let listed = parse(BASE, &["sweep.seeds=[4, 9]", "sweep.name=t_smoke"]).unwrap();
    assert_eq!(listed.seeds, vec![4, 9]);
    assert_eq!(listed.name, "t_smoke");
    assert_eq!(
        parse(BASE, &["sweep.time_limit_s=5"]).unwrap().time_limit_s,
        Some(5)
    );
    assert_ne!(
        parse(BASE, &["sweep.seed=8"]).unwrap().spec_hash,
        plain.spec_hash
    );
    assert_eq!(
        err(BASE, &["sweep.seeds=0"]),
        "s.toml: --set sweep.seeds=0: `sweep.seeds` is empty: give a count >= 1 or a list"
    );
    assert_eq!(
        err(BASE, &["sweep.seeds=100000000"]),
        format!(
            "s.toml: --set sweep.seeds=100000000: `sweep.seeds` = 100000000 is above the limit of {} cells",
            SpecLimits::default().max_cells
        )
    );
    assert!(
        err(BASE, &["sweep.name=../x"])
            .starts_with("s.toml: --set sweep.name=../x: sweep name \"../x\" must start with")
    );
    assert_eq!(
        err(BASE, &["sweep.seed=x"]),
        "s.toml: --set sweep.seed=x: key `sweep.seed`: invalid type: string \"x\", expected a non-negative integer"
    );
    assert_eq!(
        err(BASE, &["sweep.seedz=1"]),
        "s.toml: --set sweep.seedz=1: [sweep] has no key `seedz` (it has `name`, `seed`, `seeds`, `time_limit_s`)"
    );
}

#[test]
fn an_unknown_key_names_the_override_not_a_line() {
    let e = err(BASE, &["synthetic.epochz=1"]);
    assert!(
        e.starts_with(
            "s.toml: --set synthetic.epochz=1: key `synthetic.epochz`: unknown field `epochz`"
        ),
        "{e}"
    );
    let e = err(BASE, &["epochz=1"]);
    assert!(
        e.starts_with("s.toml: --set epochz=1: key `synthetic.epochz`: unknown field"),
        "{e}"
    );
    let e = err(BASE, &["sleep_ms=fast"]);
    assert!(
        e.starts_with("s.toml: --set sleep_ms=fast: key `synthetic.sleep_ms`: invalid type"),
        "{e}"
    );
    assert_eq!(
        err(BASE, &["sas_mlp.epochs=1"]),
        "s.toml: --set sas_mlp.epochs=1: this sweep file trains `synthetic`, so it has no [sas_mlp] section"
    );
    assert!(
        err(BASE, &["grid=[1]"])
            .starts_with("s.toml: --set grid=[1]: `grid` names the whole [grid] section")
    );
    // A mistake in the file itself keeps its line, whatever is overridden.
    let bad = BASE.replace("sleep_ms = 0", "sleep_ms = \"slow\"");
    assert!(err(&bad, &["sweep.seeds=1"]).starts_with("s.toml:8:1: key `synthetic.sleep_ms`"));
}

#[test]
fn a_swept_key_is_refused_and_its_axis_can_be_replaced() {
    assert_eq!(
        err(BASE, &["x=3.0"]),
        "s.toml: --set x=3.0: `synthetic.x` is swept by the [grid] axis `x`, which sets it in every cell; \
         change the axis instead, e.g. `--set grid.x=[...]`"
    );
    let one = parse(BASE, &["grid.x=[3.0]", "sweep.seeds=1"]).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one.cells()[0].axes["x"], Json::from(3.0));
    let added = parse(BASE, &["grid.sleep_ms=[1, 2]"]).unwrap();
    assert_eq!(added.len(), 2 * 2 * 3);
    assert_eq!(
        err(BASE, &["zip.x=[1.0]"]),
        "s.toml: --set zip.x=[1.0]: axis `x` is already swept in [grid]; a path is swept in one section only"
    );
    assert_eq!(
        err(BASE, &["grid.x=3.0"]),
        "s.toml: --set grid.x=3.0: grid axis `x` must be a list of values, e.g. `\"x\" = [1, 2]`"
    );
    let e = err(BASE, &["grid.nope=[1]"]);
    assert!(
        e.starts_with("s.toml: --set grid.nope=[1]: axis `nope` value 1: unknown field"),
        "{e}"
    );
    let random =
        format!("{BASE}\n[random]\ndraws = 5\nfail_on_seed = {{ int_uniform = [10, 1000000] }}\n");
    assert_eq!(
        parse(&random, &["random.draws=2"]).unwrap().len(),
        2 * 2 * 3
    );
}

#[test]
fn the_effective_text_parses_to_the_same_sweep() {
    let plain = parse(BASE, &[]).unwrap();
    assert_eq!(
        plain.text(),
        BASE,
        "without overrides the file is stored as written"
    );
    let args = ["sleep_ms=4", "sweep.seeds=[1, 5]", "grid.x=[0.5, 1e-3]"];
    let spec = parse(BASE, &args).unwrap();
    let text = spec.text();
    assert!(text.starts_with("# s.toml with overrides (ensweep --set):\n#   --set sleep_ms=4\n"));
    let again = Spec::parse(text, Path::new("s.toml"), &crate::spec::tests::TRAINERS).unwrap();
    assert_eq!(again.cells(), spec.cells());
    assert_eq!(again.spec_hash, spec.spec_hash);
    assert_eq!(again.identity_lines(), spec.identity_lines());
}
