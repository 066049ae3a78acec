//! Task-trained tanh RNN: model and BPTT ([`model`]), training and evaluation ([`train`]).

pub mod model;
pub mod train;

#[cfg(test)]
mod tests {
    use super::train::train_tanh_rnn;
    use ensweep_core::config::TanhRnnConfig;
    use ensweep_core::output::NullSink;
    use ensweep_core::seed::RunSeed;

    fn cfg(extra: &str) -> TanhRnnConfig {
        toml::from_str(&format!(
            r#"
            n_hidden = 50
            rec_init = "orthogonal"
            train_trials = 1024
            batch_size = 32
            epochs = 8
            clip_norm = 1.0
            {extra}
            [task]
            name = "and"
            [optimizer]
            kind = "adam"
            lr = 0.001
            [eval]
            test_trials = 40
            probe_trials = 4
            prune_fractions = [0.0, 0.5]
            random_repeats = 2
            "#
        ))
        .unwrap()
    }

    #[test]
    fn and_gate_is_learned_and_every_table_is_filled() {
        let out = train_tanh_rnn(&cfg(""), &RunSeed::from_u64(1), &mut NullSink).unwrap();
        let s = &out.scalars;
        let first = out.epochs[0].values["train_loss"];
        assert!(
            s["train_loss"] < 0.2 * first,
            "loss {first} -> {}",
            s["train_loss"]
        );
        assert!(s["distance_mean"] < 1.5, "distance {}", s["distance_mean"]);
        assert!(s.contains_key("distance_cond_11") && s.contains_key("ood_distance_mean"));
        assert_eq!(out.spectra.len(), 2 * 50);
        assert_eq!(out.trajectories.len(), 4);
        assert_eq!(out.trajectories[0].states.len(), 210 * 50);
        assert_eq!(out.pruning.len(), 4 * 2);
        let zero = out
            .pruning
            .iter()
            .find(|r| r.criterion == "magnitude" && r.fraction == 0.0)
            .unwrap();
        assert!((zero.values["distance"] - s["distance_mean"]).abs() < 1e-9);
        let half = out
            .pruning
            .iter()
            .find(|r| r.criterion == "magnitude" && r.fraction == 0.5)
            .unwrap();
        assert_eq!(half.count, 50 * 50 / 2);
        assert_eq!(out.layers.len(), 3);
        // Same seed, same numbers.
        let again = train_tanh_rnn(&cfg(""), &RunSeed::from_u64(1), &mut NullSink).unwrap();
        assert_eq!(again.scalars["distance_mean"], s["distance_mean"]);
    }
}
