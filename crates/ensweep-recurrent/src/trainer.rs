//! The recurrent trainers as ensweep trainers: their entries in the binary's registry.

use crate::{RnnError, cost};
use ensweep_core::config::{SasRnnConfig, TanhRnnConfig, sas_rnn, tanh_rnn};
use ensweep_core::output::{CheckpointCurve, RunOutput, TrainSink};
use ensweep_core::spec::Cell;
use ensweep_core::trainer::{InvalidConfig, TrainError, Trainer};

/// Sustained FLOP/s of `sas_rnn` training on one core while the other core trains too, as in
/// a sweep: row-MNIST epochs of 101 GFLOP in 3.2-3.3 s on the 2-core host (2.35 s with the
/// other core idle), docs/PERFORMANCE.md "Plan estimates".
const SAS_RNN_TRAIN_RATE: f64 = 31e9;
/// The same for `sas_rnn` evaluation passes, counted by their mean-field products: a
/// row-MNIST test pass of 14.3 GFLOP takes 0.67 s (the noise drawn per unit and step, and the
/// damaged copies of the net, are not counted).
const SAS_RNN_EVAL_RATE: f64 = 21e9;
/// Sustained FLOP/s of one `tanh_rnn` cell on one core (the `tanh_rnn/3` kernels; calibrated on
/// whole cells of the main job, docs/PERFORMANCE.md "Plan estimates").
const TANH_RNN_RATE: f64 = 90e9;

/// The spike-and-slab mean-field RNN (`[sas_rnn]`).
pub struct SasRnn;

impl Trainer for SasRnn {
    const KIND: &'static str = "sas_rnn";
    const VERSION: &'static str = sas_rnn::TRAINER_VERSION;
    /// Mean-field test accuracy after training, averaged over its draws.
    const DEFAULT_METRIC: &'static str = "acc_mf_mean";
    type Config = SasRnnConfig;

    fn train(
        &self,
        config: &SasRnnConfig,
        cell: &Cell,
        sink: &mut dyn TrainSink,
    ) -> Result<RunOutput, TrainError> {
        crate::train_sas_rnn(config, &cell.run_seed(), sink).map_err(|e| train_error(e, sink))
    }

    fn cost_seconds(&self, config: &SasRnnConfig) -> f64 {
        let work = cost::sas_rnn_work(config);
        work.train_flops / SAS_RNN_TRAIN_RATE + work.eval_flops / SAS_RNN_EVAL_RATE
    }

    fn checkpoint_curve(&self, state: &[u8]) -> Option<CheckpointCurve> {
        crate::sas::checkpoint::curve(state)
    }
}

/// The task-trained tanh RNN (`[tanh_rnn]`).
pub struct TanhRnn;

impl Trainer for TanhRnn {
    const KIND: &'static str = "tanh_rnn";
    const VERSION: &'static str = tanh_rnn::TRAINER_VERSION;
    /// Mean distance of the outputs from the task's targets on the test trials.
    const DEFAULT_METRIC: &'static str = "distance_mean";
    type Config = TanhRnnConfig;

    fn validate(&self, config: &TanhRnnConfig) -> Result<(), InvalidConfig> {
        config.validate()
    }

    fn train(
        &self,
        config: &TanhRnnConfig,
        cell: &Cell,
        sink: &mut dyn TrainSink,
    ) -> Result<RunOutput, TrainError> {
        crate::train_tanh_rnn(config, &cell.run_seed(), sink).map_err(|e| train_error(e, sink))
    }

    fn cost_seconds(&self, config: &TanhRnnConfig) -> f64 {
        cost::tanh_rnn_flops(config) / TANH_RNN_RATE
    }

    fn checkpoint_curve(&self, state: &[u8]) -> Option<CheckpointCurve> {
        crate::tanh::checkpoint::curve(state)
    }
}

/// A recurrent trainer's failure as ensweep classifies it.
fn train_error(e: RnnError, sink: &dyn TrainSink) -> TrainError {
    if sink.cancelled() {
        return TrainError::Cancelled;
    }
    match e {
        RnnError::Config(m) => TrainError::User(m),
        // Deterministic: the data stay missing however often it is retried. (A diverged run is
        // not an error at all: it is a result with `diverged` = 1 and its non-finite loss.)
        e @ RnnError::Data(_) => TrainError::Data(e.into()),
        RnnError::Cancelled => TrainError::Cancelled,
    }
}
