//! Spike-and-slab mean-field RNN: layers ([`layer`]), dynamics ([`model`]), gBPTT
//! ([`backward`]), the data it trains on ([`data`]), training ([`train`]), the analyses after
//! it (`analyse`) and their evaluation tools ([`eval`]).

mod analyse;
pub mod backward;
pub(crate) mod checkpoint;
pub mod data;
pub mod eval;
pub mod layer;
pub mod model;
pub mod train;

#[cfg(test)]
pub(crate) mod tests {
    use super::train::train_sas_rnn;
    use ensweep_core::config::SasRnnConfig;
    use ensweep_core::output::NullSink;
    use ensweep_core::seed::RunSeed;
    use std::path::Path;

    /// The test MNIST directory (the committed subset unless `$ENSWEEP_DATA` says otherwise).
    fn mnist_dir() -> String {
        ensweep_testkit::mnist_dir()
            .to_str()
            .expect("utf-8 path")
            .to_string()
    }

    /// The `[sas_rnn]` section of a committed experiment file.
    pub(crate) fn experiment(file: &str) -> SasRnnConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../experiments")
            .join(file);
        let table: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        table["sas_rnn"].clone().try_into().unwrap()
    }

    /// The MSI file's recipe with `epochs`, `n_hidden` units and the smallest evaluation that
    /// still fills every analysis (one draw, one repeat, two removal fractions, one damage
    /// fraction, `probe_trials` probes, the training step for the removal curves: the 0.5 ms
    /// analysis step has its own test).
    pub(crate) fn small_msi(epochs: u32, n_hidden: usize, probe_trials: usize) -> SasRnnConfig {
        let mut cfg = experiment("pre2023_msi.toml");
        cfg.epochs = epochs;
        cfg.n_hidden = n_hidden;
        cfg.eval.mean_field_draws = 1;
        cfg.eval.sampled_nets = 1;
        cfg.eval.removal_repeats = 1;
        cfg.eval.removal_fractions = vec![0.0, 1.0];
        cfg.eval.damage_fractions = vec![0.1];
        cfg.eval.probe_trials = probe_trials;
        cfg.eval.analysis_dt_ms = None;
        cfg
    }

    /// The row-MNIST file's recipe on the test subset: `epochs`, `n_hidden` units, at most
    /// `batches` per epoch, `test_size` test images, no test during training, the smallest
    /// evaluation (no removal or damage curves).
    pub(crate) fn small_row(
        epochs: u32,
        n_hidden: usize,
        batches: usize,
        test_size: usize,
    ) -> SasRnnConfig {
        let mut cfg = experiment("pre2023_smnist_row.toml");
        cfg.epochs = epochs;
        cfg.n_hidden = n_hidden;
        if let ensweep_core::config::sas_rnn::SasTask::RowMnist(t) = &mut cfg.task {
            t.data_dir = Some(mnist_dir());
            t.batches_per_epoch = batches;
            t.test_size = test_size;
            t.test_every = 0;
        }
        cfg.eval.mean_field_draws = 1;
        cfg.eval.sampled_nets = 1;
        cfg.eval.removal_fractions = vec![];
        cfg.eval.damage_fractions = vec![];
        cfg.eval.probe_trials = 2;
        cfg
    }

    #[test]
    fn msi_protocol_learns_and_fills_every_analysis() {
        let cfg = small_msi(60, 60, 3);
        let out = train_sas_rnn(&cfg, &RunSeed::from_u64(3), &mut NullSink).unwrap();
        let first = out.epochs[0].values["train_loss"];
        let s = &out.scalars;
        assert!(
            s["train_loss"] < 0.7 * first,
            "loss {first} -> {}",
            s["train_loss"]
        );
        for k in [
            "acc_v",
            "acc_a",
            "acc_va",
            "slope_va",
            "p_high_va16",
            "important_frac",
            "pca3_explained",
        ] {
            assert!(s[k].is_finite(), "{k}");
        }
        assert_eq!(out.layers.len(), 3);
        assert_eq!(out.pruning.len(), 2 + 2 + 1 + 1);
        assert_eq!(out.spectra.len(), 2 * 60);
        assert_eq!(out.trajectories.len(), 3);
        assert_eq!(out.trajectories[0].states.len(), 90 * 60);
    }

    /// `eval.analysis_dt_ms` runs the removal curves on the same trained network at a finer
    /// step (4x finer here; the reference's 0.5 ms is 40x, too slow for a unit test) and
    /// leaves training untouched; `sampled_private_noise` changes only the sampled test.
    #[test]
    fn msi_analysis_step_and_sampled_private_noise() {
        use super::data::TaskData;
        use crate::tasks::TaskGen;
        let mut cfg = experiment("pre2023_msi.toml");
        cfg.epochs = 20;
        cfg.n_hidden = 30;
        cfg.eval.mean_field_draws = 1;
        cfg.eval.sampled_nets = 1;
        cfg.eval.per_step_draws = 0;
        cfg.eval.removal_repeats = 1;
        cfg.eval.removal_fractions = vec![0.0];
        cfg.eval.damage_fractions = vec![];
        cfg.eval.probe_trials = 2;
        cfg.eval.analysis_dt_ms = None;
        cfg.eval.sampled_private_noise = false;
        let seed = RunSeed::from_u64(5);
        let base = train_sas_rnn(&cfg, &seed, &mut NullSink).unwrap();
        cfg.eval.analysis_dt_ms = Some(5.0);
        cfg.eval.sampled_private_noise = true;
        let fine = train_sas_rnn(&cfg, &seed, &mut NullSink).unwrap();
        let (a, b) = (&base.scalars, &fine.scalars);
        assert_eq!(a["train_loss"], b["train_loss"], "training must not change");
        assert_eq!(a["acc_mf_mean"], b["acc_mf_mean"]);
        assert_eq!(b["analysis_dt_ms"], 5.0);
        assert!(!a.contains_key("analysis_dt_ms"));
        let removal = |o: &ensweep_core::output::RunOutput| {
            o.pruning
                .iter()
                .find(|r| r.criterion == "important" && r.fraction == 0.0)
                .map(|r| r.values["acc"])
                .expect("removal row")
        };
        assert!((0.0..=1.0).contains(&removal(&fine)));
        // The finer step simulates 4x as many steps of the same test.
        if let ensweep_core::config::sas_rnn::SasTask::Msi(t) = &cfg.task {
            let coarse = crate::tasks::msi::Msi::new(t, true);
            let (n_in, n_out) = (crate::tasks::msi::N_IN, crate::tasks::msi::N_OUT);
            let net = super::train::init_net(&cfg, n_in, n_out, &seed);
            let (data, net) = TaskData::msi_at_dt(&cfg, &net, 5.0).unwrap();
            let TaskData::Msi { test, .. } = &data else {
                unreachable!()
            };
            assert_eq!(test.steps(), 4 * coarse.steps());
            assert!((net.alpha - 0.05).abs() < 1e-7, "alpha {}", net.alpha);
        }
        // An MNIST task has no analysis step.
        let mut row = experiment("pre2023_smnist_row.toml");
        row.eval.analysis_dt_ms = Some(0.5);
        let err = train_sas_rnn(&row, &seed, &mut NullSink).unwrap_err();
        assert!(err.to_string().contains("analysis_dt_ms"), "{err}");
    }

    #[test]
    fn row_mnist_learns_above_chance_in_a_few_batches() {
        // The 1,000-image test subset gives 8 batches of 128 per epoch: 8 epochs are 64 updates.
        let cfg = small_row(8, 48, 30, 500);
        let out = train_sas_rnn(&cfg, &RunSeed::from_u64(1), &mut NullSink).unwrap();
        let s = &out.scalars;
        // Chance is 0.1; ~60 updates of a small net get well above it (full runs: docs/RNN.md).
        assert!(
            s["acc_mf_mean"] > 0.2,
            "mean-field accuracy {}",
            s["acc_mf_mean"]
        );
        assert!(
            s["acc_per_step_mean"] > 0.2,
            "per-step accuracy {}",
            s["acc_per_step_mean"]
        );
        assert_eq!(out.trajectories[0].steps, 28);
    }

    #[test]
    fn results_are_bit_identical_for_any_thread_count() {
        use super::data::TaskData;
        use super::train::train_sas_rnn_threads;
        let mut cfg = experiment("pre2023_smnist_row.toml");
        cfg.epochs = 2;
        cfg.n_hidden = 20;
        if let ensweep_core::config::sas_rnn::SasTask::RowMnist(t) = &mut cfg.task {
            t.data_dir = Some(mnist_dir());
            t.batch_size = 150; // three parts, the last one short
            t.batches_per_epoch = 3;
            t.test_size = 300;
            t.test_every = 0;
        }
        cfg.eval.mean_field_draws = 1;
        cfg.eval.sampled_nets = 0;
        cfg.eval.per_step_draws = 0;
        cfg.eval.removal_fractions = vec![];
        cfg.eval.damage_fractions = vec![];
        cfg.eval.probe_trials = 2;
        let data = TaskData::load(&cfg).unwrap();
        let run = |threads| {
            train_sas_rnn_threads(&cfg, &data, &RunSeed::from_u64(4), &mut NullSink, threads)
                .unwrap()
        };
        let one = run(1);
        for threads in [2, 3] {
            let other = run(threads);
            for (a, b) in one.epochs.iter().zip(&other.epochs) {
                assert_eq!(
                    a.values["train_loss"].to_bits(),
                    b.values["train_loss"].to_bits()
                );
            }
            assert_eq!(
                one.scalars["acc_mf_mean"].to_bits(),
                other.scalars["acc_mf_mean"].to_bits()
            );
            let states = |o: &ensweep_core::output::RunOutput| -> Vec<u32> {
                o.trajectories
                    .iter()
                    .flat_map(|t| t.states.iter().map(|v| v.to_bits()))
                    .collect()
            };
            assert_eq!(states(&one), states(&other), "{threads} threads");
        }
    }
}
