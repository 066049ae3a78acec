//! Task-trained tanh RNN: model and BPTT ([`model`]), the muP parametrisation and the entry
//! point for either ([`mup`]), W_h penalties ([`reg`]), training and evaluation ([`train`]), the
//! tangent-kernel alignment between initial and trained parameters ([`ntk`]).

pub(crate) mod checkpoint;
pub mod kernels;
pub mod model;
pub mod mup;
pub mod ntk;
pub mod reg;
pub mod train;

#[cfg(test)]
pub(crate) mod tests {
    use super::train::{StopRule, keras_time_decay, train_tanh_rnn};
    use ensweep_core::config::TanhRnnConfig;
    use ensweep_core::output::{NullSink, RunOutput};
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
        let ntk = s["ntk_alignment"];
        assert!(ntk > 0.0 && ntk < 1.0, "ntk_alignment {ntk}");
        // Same seed, same numbers.
        let again = train_tanh_rnn(&cfg(""), &RunSeed::from_u64(1), &mut NullSink).unwrap();
        assert_eq!(again.scalars["distance_mean"], s["distance_mean"]);
    }

    #[test]
    fn time_decay_follows_the_keras_formula() {
        // Keras 2 legacy `decay`: lr * 1 / (1 + decay * iterations), iterations counted before
        // the update; at 1e-4 the rate halves after 10,000 updates.
        assert_eq!(keras_time_decay(1e-4, 1e-4, 0), 1e-4);
        assert!((keras_time_decay(1e-4, 1e-4, 10_000) - 0.5e-4).abs() < 1e-18);
        assert!((keras_time_decay(2e-3, 1e-3, 3) - 2e-3 / 1.003).abs() < 1e-18);
        assert_eq!(keras_time_decay(1e-3, 0.0, 1_000_000), 1e-3);
    }

    #[test]
    fn stop_rule_waits_patience_epochs_after_the_threshold() {
        let mut r = StopRule::new(0.1, 3);
        let losses = [0.5, 0.2, 0.09, 0.2, 0.05, 0.04, 0.03];
        let stops: Vec<bool> = losses
            .iter()
            .enumerate()
            .map(|(e, &v)| r.observe(e as u32, v))
            .collect();
        // Reached at epoch 2 (a later rise does not reset it), stop after epoch 2 + 3.
        assert_eq!(stops, [false, false, false, false, false, true, true]);
        assert_eq!(r.reached_at(), Some(2));
        let mut now = StopRule::new(0.1, 0);
        assert!(!now.observe(0, 0.2) && now.observe(1, 0.05));
        let mut never = StopRule::new(0.0, 0);
        assert!(!never.observe(0, 0.0) && never.reached_at().is_none());
    }

    #[test]
    fn matched_loss_stop_is_recorded_per_net() {
        let c = cfg("loss_threshold = 0.05\npatience = 2");
        let out = train_tanh_rnn(&c, &RunSeed::from_u64(3), &mut NullSink).unwrap();
        let s = &out.scalars;
        let below = out
            .epochs
            .iter()
            .position(|e| e.values["train_loss"] < 0.05)
            .expect("the AND net reaches 0.05 within 8 epochs");
        assert_eq!(s["reached_threshold"], 1.0);
        assert_eq!(s["epochs_trained"], (below + 3).min(8) as f64);
        assert_eq!(
            s["loss_at_stop"],
            out.epochs.last().unwrap().values["train_loss"]
        );
        let init: Vec<&str> = out.weights.iter().map(|w| w.layer.as_str()).collect();
        assert!(init.contains(&"rec.init") && init.contains(&"in.init"));
    }

    #[test]
    fn plateau_schedule_matches_pytorch() {
        use crate::tanh::train::Plateau;
        use ensweep_core::config::tanh_rnn::LrPlateau;
        // Learning-rate multipliers printed by torch 2.15's `ReduceLROnPlateau(factor=0.5,
        // patience=2)` stepped with these losses (near-ties test the 1e-4 relative threshold,
        // the NaN counts as no improvement).
        let losses = [
            1.0,
            0.9,
            0.9,
            0.95,
            0.89999,
            0.9,
            0.5,
            0.5,
            0.49996,
            0.5,
            0.6,
            0.7,
            f64::NAN,
            0.4,
            0.4,
            0.4,
            0.4,
        ];
        let torch = [
            1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125,
            0.125, 0.0625,
        ];
        let mut p = Plateau::new(LrPlateau {
            factor: 0.5,
            patience: 2,
        });
        let got: Vec<f64> = losses
            .iter()
            .map(|&l| {
                p.observe(l);
                p.scale()
            })
            .collect();
        assert_eq!(got, torch);
        // Off: the multiplier stays exactly 1.
        let mut off = Plateau::new(LrPlateau::default());
        losses.iter().for_each(|&l| off.observe(l));
        assert_eq!(off.scale(), 1.0);
    }

    #[test]
    fn plateau_sets_each_epochs_learning_rate_from_the_losses_so_far() {
        use crate::tanh::train::Plateau;
        use ensweep_core::config::tanh_rnn::LrPlateau;
        let pl = LrPlateau {
            factor: 0.5,
            patience: 0,
        };
        let c = cfg("lr_plateau = { factor = 0.5, patience = 0 }");
        let out = train_tanh_rnn(&c, &RunSeed::from_u64(3), &mut NullSink).unwrap();
        // The recorded `lr` of an epoch is the rate of the next one: 1e-3 times the schedule's
        // multiplier after this epoch's loss.
        let mut want = Plateau::new(pl);
        for e in &out.epochs {
            want.observe(e.values["train_loss"]);
            assert_eq!(e.values["lr"], 0.001 * want.scale(), "epoch {}", e.epoch);
        }
        // Off by default: the same seed without the key trains at a constant rate.
        let plain = train_tanh_rnn(&cfg(""), &RunSeed::from_u64(3), &mut NullSink).unwrap();
        assert!(plain.epochs.iter().all(|e| e.values["lr"] == 0.001));
    }

    /// Mean output over the first 40 (pre-stimulus) steps of every probe, rebuilt from the stored
    /// trajectories, read-out weights and read-out bias.
    /// A small time-pulse net, `task_extra` added to its `[task]` table.
    fn pulse_net(readout_bias: bool, task_extra: &str) -> RunOutput {
        let c: TanhRnnConfig = toml::from_str(&format!(
            r#"
            n_hidden = 16
            rec_init = "orthogonal"
            readout_bias = {readout_bias}
            train_trials = 1024
            batch_size = 32
            epochs = 20
            [task]
            name = "time_pulse"
            mem_gap = 5
            length = 100
            {task_extra}
            [optimizer]
            kind = "adam"
            lr = 0.01
            [eval]
            test_trials = 8
            probe_trials = 4
            prune_fractions = []
            "#
        ))
        .unwrap();
        train_tanh_rnn(&c, &RunSeed::from_u64(4), &mut NullSink).unwrap()
    }

    /// Mean read-out of each probe trial over its first 40 steps (before the stimulus).
    fn pre_stimulus_outputs(out: &RunOutput) -> Vec<f32> {
        let w = |name: &str| &out.weights.iter().find(|w| w.layer == name).unwrap().values;
        let (w_out, bias) = (w("out"), w("out.bias")[0]);
        out.trajectories
            .iter()
            .map(|tr| {
                let n = tr.units as usize;
                // Stimulus onset at 50 ms: the first 40 steps are baseline.
                let pre: Vec<f32> = tr.states[..40 * n]
                    .chunks(n)
                    .map(|h| bias + h.iter().zip(w_out).map(|(a, b)| a * b).sum::<f32>())
                    .collect();
                pre.iter().sum::<f32>() / pre.len() as f32
            })
            .collect()
    }

    /// The reference read-out keeps its bias, so a time-pulse net outputs the 0.045 baseline
    /// before the stimulus, where h stays near 0; without the bias no weight can produce it.
    #[test]
    fn time_pulse_net_holds_the_baseline_before_the_stimulus() {
        for mean in pre_stimulus_outputs(&pulse_net(true, "")) {
            assert!((mean - 0.045).abs() < 0.01, "pre-stimulus output {mean}");
        }
        for mean in pre_stimulus_outputs(&pulse_net(false, "")) {
            assert!(mean.abs() < 0.02, "without the read-out bias: {mean}");
        }
    }

    /// `task.baseline` is the level the net learns to hold; `task.test_baseline` changes only
    /// what the evaluation scores against (the same net, a larger distance).
    #[test]
    fn time_pulse_baseline_is_learnt_and_test_baseline_only_scores() {
        let low = pulse_net(true, "baseline = 0.01");
        for mean in pre_stimulus_outputs(&low) {
            assert!((mean - 0.01).abs() < 0.01, "pre-stimulus output {mean}");
        }
        let scored_high = pulse_net(true, "baseline = 0.01\ntest_baseline = 0.045");
        assert_eq!(low.weights, scored_high.weights, "training is the same");
        let d = |o: &RunOutput| o.scalars["distance_mean"];
        // 0.035 over the ~80 baseline steps adds about sqrt(80) * 0.035 = 0.31 in quadrature.
        assert!(
            d(&scored_high) > d(&low) + 0.05,
            "{} vs {}",
            d(&scored_high),
            d(&low)
        );
    }

    /// The same cell trained with the AVX-512, AVX2 and portable kernels gives the same bits
    /// (on a machine with AVX-512 all three run; elsewhere the levels it has).
    #[test]
    fn training_is_bit_identical_at_every_simd_level() {
        use super::kernels::{Simd, limit_simd};
        let mut c = cfg("");
        c.epochs = 1;
        c.train_trials = 128;
        c.eval.prune_fractions = vec![0.0];
        c.eval.random_repeats = 0;
        let run = |level| {
            limit_simd(level);
            let out = train_tanh_rnn(&c, &RunSeed::from_u64(3), &mut NullSink).unwrap();
            limit_simd(Simd::Avx512);
            let mut v: Vec<(String, u64)> = out
                .scalars
                .iter()
                .filter(|(k, _)| !k.contains("seconds") && !k.contains("per_s"))
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect();
            v.sort();
            v.extend(out.spectra.iter().map(|e| ("eig".into(), e.re.to_bits())));
            v
        };
        let best = run(Simd::Avx512);
        assert!(best.len() > 10);
        assert_eq!(run(Simd::Avx2), best, "AVX2 differs");
        assert_eq!(run(Simd::Portable), best, "portable differs");
    }

    /// A 12-unit path-integration net, 3 epochs, `extra` keys at the top level.
    pub(crate) fn small_path_integration(extra: &str) -> TanhRnnConfig {
        toml::from_str(&format!(
            r#"
            n_hidden = 12
            rec_init = "normal"
            bias = true
            train_trials = 64
            batch_size = 16
            epochs = 3
            {extra}
            [task]
            name = "path_integration"
            steps = 20
            [optimizer]
            kind = "adam"
            lr = 0.01
            [eval]
            test_trials = 8
            probe_trials = 2
            prune_fractions = [0.0]
            random_repeats = 1
            "#
        ))
        .unwrap()
    }

    /// muP with a nuclear-norm penalty trains end to end: the penalty is in every epoch row and
    /// shrinks, the stored `rec` / `rec.init` are J / N (entries of order 1 / sqrt(N), not
    /// sqrt(N)), and the trajectories are rates in (-1, 1).
    #[test]
    fn mup_with_a_penalty_trains_and_stores_the_effective_matrices() {
        let c = small_path_integration(
            "parametrization = \"mup\"\ngamma = 0.5\ntau = 0.5\n\
             regularization = { kind = \"nuclear\", lambda = 0.5 }",
        );
        let out = train_tanh_rnn(&c, &RunSeed::from_u64(2), &mut NullSink).unwrap();
        let pen: Vec<f64> = out.epochs.iter().map(|e| e.values["reg_penalty"]).collect();
        assert!(pen.iter().all(|v| v.is_finite() && *v > 0.0), "{pen:?}");
        assert!(pen[2] < pen[0], "the penalty did not shrink: {pen:?}");
        assert!(out.scalars["reg_penalty"] > 0.0 && out.scalars["train_loss"].is_finite());
        // The kernel alignment goes through the muP backward pass too.
        let ka = out.scalars["ntk_alignment"];
        assert!(ka > 0.0 && ka <= 1.0 + 1e-9, "ntk_alignment {ka}");
        let w = |name: &str| &out.weights.iter().find(|w| w.layer == name).unwrap().values;
        let rms = |v: &[f32]| (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        // J / N ~ N(0, 1 / N) at init: rms 1 / sqrt(12) = 0.29.
        let r0 = rms(w("rec.init"));
        assert!((0.2..0.4).contains(&r0), "rms of rec.init {r0}");
        assert!(rms(w("rec")) < 1.0);
        // The trajectories are the rates tanh(h), in (-1, 1).
        let tr = &out.trajectories[0];
        assert!(tr.states.iter().all(|v| v.abs() < 1.0));
        assert!(!out.spectra.is_empty());
    }

    /// An L1 penalty drives the recurrent weights towards zero.
    #[test]
    fn l1_penalty_shrinks_the_recurrent_weights() {
        let l1 = |lambda: f64| {
            let extra = if lambda > 0.0 {
                format!("regularization = {{ kind = \"l1\", lambda = {lambda} }}")
            } else {
                String::new()
            };
            let out = train_tanh_rnn(
                &small_path_integration(&extra),
                &RunSeed::from_u64(5),
                &mut NullSink,
            )
            .unwrap();
            let rec = &out
                .weights
                .iter()
                .find(|w| w.layer == "rec")
                .unwrap()
                .values;
            rec.iter().map(|v| v.abs() as f64).sum::<f64>()
        };
        let (free, penalised) = (l1(0.0), l1(0.05));
        assert!(penalised < 0.9 * free, "sum |W_h|: {free} -> {penalised}");
    }
}
