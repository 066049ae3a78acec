//! The spike-and-slab MLP as an ensweep trainer: its entry in the binary's registry.

use crate::MlpError;
use ensweep_core::config::{SasMlpConfig, sas_mlp};
use ensweep_core::output::{RunOutput, TrainSink};
use ensweep_core::spec::Cell;
use ensweep_core::trainer::{TrainError, Trainer};

/// Sustained FLOP/s (as counted in [`SasMlp::cost_seconds`]) of one `sas_mlp` cell on one
/// core: the 2020 protocol trains in 35.5 s single-threaded (docs/PERFORMANCE.md "Plan
/// estimates").
const SAS_MLP_RATE: f64 = 80e9;

/// The spike-and-slab mean-field MLP (`[sas_mlp]`).
pub struct SasMlp;

impl Trainer for SasMlp {
    const KIND: &'static str = "sas_mlp";
    const VERSION: &'static str = sas_mlp::TRAINER_VERSION;
    /// Mean-field test accuracy at the end of training, averaged over its draws.
    const DEFAULT_METRIC: &'static str = "test_acc_mf_mean";
    type Config = SasMlpConfig;

    fn train(
        &self,
        config: &SasMlpConfig,
        cell: &Cell,
        sink: &mut dyn TrainSink,
    ) -> Result<RunOutput, TrainError> {
        crate::train(config, &cell.run_seed(), sink).map_err(|e| match e {
            MlpError::Cancelled { .. } => TrainError::Cancelled,
            MlpError::Config(m) => TrainError::User(m),
            // Missing or unreadable MNIST is the installation's fault and fails the same way
            // on every retry: the user fixes it, then runs `ensweep retry`.
            e @ MlpError::Data(_) => TrainError::Data(e.into()),
            other => TrainError::Environment(other.to_string()),
        })
    }

    fn cost_seconds(&self, c: &SasMlpConfig) -> f64 {
        let mut widths = vec![784];
        widths.extend(&c.hidden);
        widths.push(10);
        let weights: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
        let w = weights as f64;
        // ~8 multiply-adds per weight per training sample (mean and variance forward, their
        // backward products); evaluation passes are forward only (a third of that).
        let train = 16.0 * w * c.train_size as f64 * f64::from(c.epochs);
        let ev = &c.eval;
        let passes = f64::from(ev.mean_field_draws.max(1))
            + f64::from(ev.sampled_nets)
            + ev.perturb_fractions.len() as f64 * f64::from(ev.perturb_repeats.max(1));
        let eval = passes * c.test_size as f64 * w * 16.0 / 3.0;
        (train + eval) / SAS_MLP_RATE
    }
}
