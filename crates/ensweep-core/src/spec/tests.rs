//! Tests of spec parsing, expansion and located errors.

use super::*;
use crate::config::{SasMlpConfig, SasRnnConfig, SyntheticConfig, TanhRnnConfig};
use crate::output::{RunOutput, TrainSink};
use crate::trainer::{TrainError, Trainer};

/// A built-in trainer's kind, version and config without its training (which lives in a crate
/// that depends on this one): enough to parse and expand every committed experiment.
macro_rules! parse_only {
    ($name:ident, $module:ident, $config:ty) => {
        struct $name;
        impl Trainer for $name {
            const KIND: &'static str = stringify!($module);
            const VERSION: &'static str = crate::config::$module::TRAINER_VERSION;
            const DEFAULT_METRIC: &'static str = "none";
            type Config = $config;
            fn train(
                &self,
                _: &Self::Config,
                _: &Cell,
                _: &mut dyn TrainSink,
            ) -> Result<RunOutput, TrainError> {
                Err(TrainError::User("parse-only test trainer".into()))
            }
            fn cost_seconds(&self, _: &Self::Config) -> f64 {
                0.0
            }
        }
    };
}

parse_only!(SasMlp, sas_mlp, SasMlpConfig);
parse_only!(SasRnn, sas_rnn, SasRnnConfig);
parse_only!(TanhRnn, tanh_rnn, TanhRnnConfig);
parse_only!(Synthetic, synthetic, SyntheticConfig);

/// The built-in kinds in the binary's order.
pub(crate) static TRAINERS: Registry = Registry::new(&[&SasMlp, &SasRnn, &TanhRnn, &Synthetic]);

pub(super) const BASE: &str = r#"
[sweep]
name = "t"
seed = 7
seeds = 3

[synthetic]
sleep_ms = 0
"#;

pub(super) fn parse(text: &str) -> Result<Spec, SpecError> {
    Spec::parse(text, Path::new("s.toml"), &TRAINERS)
}

/// Checks that `text` fails with exactly `expect` (one line, with location).
pub(super) fn check_err(text: &str, expect: &str) {
    let err = parse(text)
        .expect_err("spec should be rejected")
        .to_string();
    assert!(!err.contains('\n'), "error must be one line: {err}");
    assert_eq!(err, expect);
}

#[test]
fn grid_zip_seeds_expand_in_order_with_stable_keys() {
    let text = format!("{BASE}\n[grid]\nx = [1.0, 2.0]\nsleep_ms = [0, 5]\n");
    let spec = parse(&text).unwrap();
    assert_eq!(spec.len(), 2 * 2 * 3);
    let cells = spec.cells();
    assert_eq!(cells[0].replicate, 0);
    assert_eq!(cells[2].replicate, 2);
    assert_eq!(cells[0].axes["sleep_ms"], Json::from(0));
    assert_eq!(cells[3].axes["x"], Json::from(2.0));
    let keys: std::collections::BTreeSet<_> = cells.iter().map(|c| &c.key).collect();
    assert_eq!(keys.len(), cells.len());
    // Same text, same keys; a default written out explicitly changes nothing.
    let again = parse(&text.replace("sleep_ms = 0\n", "sleep_ms = 0\nx = 0.0\n")).unwrap();
    assert_eq!(again.cells(), cells);
    assert_eq!(again.spec_hash, spec.spec_hash);
}

#[test]
fn adding_a_seed_keeps_old_keys() {
    let a = parse(BASE).unwrap();
    let b = parse(&BASE.replace("seeds = 3", "seeds = 4")).unwrap();
    let ka: Vec<_> = a.cells().into_iter().map(|c| c.key).collect();
    let kb: Vec<_> = b.cells().into_iter().map(|c| c.key).collect();
    assert_eq!(&kb[..3], &ka[..]);
    assert_eq!(a.identity_lines(), b.identity_lines());
    assert_ne!(a.spec_hash, b.spec_hash);
}

#[test]
fn zip_walks_together_and_random_is_seeded() {
    let text = format!(
        "{BASE}\n[zip]\nx = [1.0, 2.0]\nsleep_ms = [1, 2]\n[random]\nseed = 3\ndraws = 4\nfail_on_seed = {{ int_uniform = [10, 20] }}\n"
    );
    let spec = parse(&text).unwrap();
    assert_eq!(spec.len(), 2 * 4 * 3);
    let c = &spec.cells()[0];
    assert_eq!(
        (c.axes["x"].as_f64(), c.axes["sleep_ms"].as_i64()),
        (Some(1.0), Some(1))
    );
    let draws: Vec<i64> = spec
        .cells()
        .iter()
        .step_by(3)
        .take(4)
        .map(|c| c.axes["fail_on_seed"].as_i64().unwrap())
        .collect();
    assert!(draws.iter().all(|d| (10..=20).contains(d)));
    assert_eq!(parse(&text).unwrap().cells(), spec.cells());
}

#[test]
fn run_seed_depends_on_config_and_replicate_only() {
    let spec = parse(BASE).unwrap();
    let c = spec.cells();
    assert_ne!(c[0].run_seed(), c[1].run_seed());
    assert_eq!(c[0].run_seed(), parse(BASE).unwrap().cells()[0].run_seed());
}

#[test]
fn unknown_key_names_key_file_and_line() {
    check_err(
        &BASE.replace("sleep_ms = 0", "sleep_ms = 0\nsleepms = 3"),
        "s.toml:9:1: key `synthetic.sleepms`: unknown field `sleepms`, expected one of `sleep_ms`, `x`, `fail_on_seed`",
    );
}

#[test]
fn wrong_type_names_key_file_and_line() {
    check_err(
        &BASE.replace("sleep_ms = 0", "sleep_ms = \"fast\""),
        "s.toml:8:1: key `synthetic.sleep_ms`: invalid type: string \"fast\", expected a non-negative integer",
    );
}

#[test]
fn empty_axis_is_rejected() {
    check_err(
        &format!("{BASE}\n[grid]\nx = []\n"),
        "s.toml:11:5: grid axis `x` is empty: give at least one value",
    );
}

#[test]
fn duplicate_axis_is_rejected() {
    check_err(
        &format!("{BASE}\n[grid]\nx = [1.0]\n[zip]\nx = [2.0]\n"),
        "s.toml:13:1: duplicate axis `x`: already swept in [grid]",
    );
    // A key written twice in one table is TOML's own error, with position.
    let err = parse(&format!("{BASE}\n[grid]\nx = [1.0]\nx = [2.0]\n"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("s.toml:12:1: "), "{err}");
    assert!(err.contains("duplicate key"), "{err}");
}

#[test]
fn unknown_trainer_section_and_bad_axis_value_are_rejected() {
    let err = parse(&BASE.replace("[synthetic]", "[synthetik]"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("s.toml:7:2: unknown field `synthetik`"),
        "{err}"
    );
    check_err(
        &format!("{BASE}\n[grid]\nsleep_ms = [1, -4]\n"),
        "s.toml:11:12: axis `sleep_ms` value 2: invalid value: integer `-4`, expected a non-negative integer",
    );
    check_err(
        "[sweep]\nname = \"t\"\n",
        "s.toml: no trainer section: add exactly one of [sas_mlp], [sas_rnn], [tanh_rnn], [synthetic]",
    );
    check_err(
        "synthetic = 3\n[sweep]\nname = \"t\"\n",
        "s.toml:1:13: `synthetic` must be a table (`[synthetic]`)",
    );
    check_err(
        &format!("{BASE}\n[sas_mlp]\ntrain_size = 1\n"),
        "s.toml:7:1: more than one trainer section ([sas_mlp] and [synthetic]); a sweep trains one kind",
    );
}

#[test]
fn unknown_task_names_the_task_key_and_the_known_tasks() {
    let text =
        "[sweep]\nname = \"t\"\n\n[tanh_rnn]\nn_hidden = 10\n\n[tanh_rnn.task]\nname = \"andd\"\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(
        err.starts_with("s.toml:8:1: key `tanh_rnn.task.name`: unknown variant `andd`"),
        "{err}"
    );
    assert!(err.contains("`and`, `or`, `xor`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A spike-and-slab MLP sweep with nested tables under headers; its `lr` is a string.
pub(super) const MLP: &str = r#"[sweep]
name = "m"

[sas_mlp]
train_size = 100
hidden = [10]
epochs = 1
batch_size = 10

[sas_mlp.init]
xi_max = 0.01
m_std = 0.05

[sas_mlp.optimizer]
kind = "adam"
lr = "fast"

[sas_mlp.eval]
mean_field_draws = 1
sampled_nets = 1
"#;

#[test]
fn nested_wrong_type_points_at_the_nested_key() {
    let text = MLP;
    check_err(
        text,
        "s.toml:16:1: key `sas_mlp.optimizer.lr`: invalid type: string \"fast\", expected a number",
    );
    check_err(
        &text
            .replace("kind = \"adam\"", "kind = \"adamw\"")
            .replace("\"fast\"", "0.1"),
        "s.toml:15:1: key `sas_mlp.optimizer.kind`: unknown variant `adamw`, expected one of `adam`, `rmsprop`, `sgd`",
    );
}

/// Every shipped experiment file is a valid sweep (the README promises they run), named after
/// its file, so two files never write into one results directory. (The e2e test
/// `every_experiment_file_trains_its_first_cell_with_a_reduced_budget` runs each one.)
#[test]
fn every_experiment_file_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let spec = Spec::load(&path, &TRAINERS).unwrap_or_else(|e| panic!("{e}"));
            assert!(!spec.is_empty(), "{}", path.display());
            for cell in spec.cells() {
                // The stored canonical JSON decodes into the typed config again.
                TRAINERS.cost_seconds(&cell).unwrap();
            }
            let stem = path.file_stem().and_then(|s| s.to_str());
            assert_eq!(Some(spec.name.as_str()), stem, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 13, "found only {n} experiment files");
}

#[test]
fn sweep_names_that_are_not_one_plain_path_component_are_refused() {
    for bad in ["../x", "/abs", "", "a/.", ".", "..", ".hidden", "-x", "a b"] {
        let text = BASE.replace("name = \"t\"", &format!("name = {bad:?}"));
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.starts_with("s.toml:3:8: sweep name "), "{bad:?}: {err}");
    }
    let long = "a".repeat(MAX_NAME_LEN + 1);
    assert!(name_problem(&long).is_some());
    assert_eq!(name_problem(&long[1..]), None);
    assert_eq!(name_problem("run-2.v1_b"), None);
}

#[test]
fn seeds_that_are_not_a_count_or_a_list_say_what_is_expected() {
    check_err(
        &BASE.replace("seeds = 3", "seeds = \"ten\""),
        "s.toml:5:9: key `sweep.seeds`: invalid type: string \"ten\", expected a count of seeds (an integer >= 1) or a list of non-negative integers",
    );
    let err = parse(&BASE.replace("seeds = 3", "seeds = -2")).unwrap_err();
    assert!(
        err.to_string().contains("expected a count of seeds"),
        "{err}"
    );
}

#[test]
fn huge_seed_counts_are_refused_before_any_seed_is_made() {
    for n in ["9223372036854775807", "1000000000"] {
        check_err(
            &BASE.replace("seeds = 3", &format!("seeds = {n}")),
            &format!("s.toml:5:9: `sweep.seeds` = {n} is above the limit of 10000000 cells"),
        );
    }
}

#[test]
fn a_billion_cells_are_refused_before_expansion() {
    let values = (0..1000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let text = BASE.replace("seeds = 3", "seeds = 1000")
        + &format!("\n[grid]\nsleep_ms = [{values}]\nfail_on_seed = [{values}]\n");
    check_err(
        &text,
        "s.toml: the sweep expands to 1000000000 cells (1000 x 1000 x 1000, seeds last), above the limit of 10000000",
    );
    let small = SpecLimits {
        max_cells: 5,
        ..SpecLimits::default()
    };
    let err = Spec::parse_with(
        BASE.replace("seeds = 3", "seeds = 6").as_str(),
        Path::new("s.toml"),
        &small,
        &TRAINERS,
    );
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("above the limit of 5 cells")
    );
    let draws = format!("{BASE}\n[random]\ndraws = 100000000000\nx = {{ uniform = [0, 1] }}\n");
    let err = parse(&draws).unwrap_err().to_string();
    assert!(
        err.contains("`random.draws` = 100000000000 is above the limit"),
        "{err}"
    );
}

#[test]
fn deep_axis_paths_and_deep_keys_are_refused() {
    let deep = vec!["a"; 20_000].join(".");
    let err = parse(&format!("{BASE}\n[grid]\n\"{deep}\" = [1]\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "s.toml:11:1: grid axis path has 20000 dotted levels; the limit is 32"
    );
    let err = parse(&BASE.replace("sleep_ms = 0", &format!("sleep_ms = 0\n{deep} = 1")));
    let err = err.unwrap_err().to_string();
    assert!(err.starts_with("s.toml: spec nests tables"), "{err}");
    let arrays = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let err = parse(&BASE.replace("sleep_ms = 0", &format!("sleep_ms = {arrays}")));
    assert!(err.unwrap_err().to_string().contains("levels deep"));
}

#[test]
fn files_over_the_size_limit_are_refused_before_parsing() {
    let small = SpecLimits {
        max_file_bytes: 64,
        ..SpecLimits::default()
    };
    let err = Spec::parse_with(BASE, Path::new("s.toml"), &small, &TRAINERS).unwrap_err();
    assert!(err.to_string().contains("larger than 64 bytes"), "{err}");
}
