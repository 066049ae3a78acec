//! Checks that this crate's experiment files stay runnable: each trainer section deserialises
//! into its typed config, and every grid / zip axis names a field that exists in it.

#[cfg(test)]
mod tests {
    use ensweep_core::config::{SasRnnConfig, TanhRnnConfig};
    use ensweep_core::trainer::Registry;
    use std::path::Path;

    static TRAINERS: Registry = Registry::new(&[&crate::SasRnn, &crate::TanhRnn]);

    fn has_path(v: &serde_json::Value, path: &str) -> bool {
        path.split('.').try_fold(v, |v, k| v.get(k)).is_some()
    }

    #[test]
    fn experiment_files_deserialise_into_the_trainer_configs() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        // Every file of the directory with a recurrent trainer section, so a new file cannot be
        // forgotten here.
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("experiments/")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".toml"))
            .collect();
        files.sort();
        let mut checked = 0;
        for f in &files {
            let text = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
            if !table.contains_key("sas_rnn") && !table.contains_key("tanh_rnn") {
                continue;
            }
            checked += 1;
            let json = if let Some(s) = table.get("sas_rnn") {
                let c: SasRnnConfig = s.clone().try_into().unwrap_or_else(|e| panic!("{f}: {e}"));
                serde_json::to_value(c).unwrap()
            } else {
                let s = table
                    .get("tanh_rnn")
                    .unwrap_or_else(|| panic!("{f}: no trainer section"));
                let c: TanhRnnConfig = s.clone().try_into().unwrap_or_else(|e| panic!("{f}: {e}"));
                serde_json::to_value(c).unwrap()
            };
            // The sweep loader expands every cell into a valid typed config too.
            let spec = ensweep_core::spec::Spec::load(&dir.join(f), &TRAINERS)
                .unwrap_or_else(|e| panic!("{f}: {e}"));
            for cell in spec.cells() {
                // The stored canonical JSON decodes into the typed config again.
                TRAINERS
                    .cost_seconds(&cell)
                    .unwrap_or_else(|e| panic!("{f}: cell {:?}: {e}", cell.axes));
            }
            // An axis names a config field: in the file's section or, for a knob omitted from
            // the canonical config at its default (`task.channels = 1`), in some cell's config.
            let cells: Vec<serde_json::Value> = spec
                .cells()
                .iter()
                .map(|c| serde_json::from_str(&c.config_json).expect("canonical config"))
                .collect();
            for axes in ["grid", "zip"] {
                if let Some(t) = table.get(axes).and_then(|g| g.as_table()) {
                    for key in t.keys() {
                        assert!(
                            has_path(&json, key) || cells.iter().any(|c| has_path(c, key)),
                            "{f}: axis `{key}` is not a config field"
                        );
                    }
                }
            }
        }
        assert!(
            checked >= 11,
            "only {checked} recurrent experiment files found"
        );
    }
}
