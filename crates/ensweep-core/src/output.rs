//! What a training run hands back: the rows of the result tables.
//!
//! Trainers fill a [`RunOutput`]; the coordinator stores it in the ledger and the results crate
//! turns it into Parquet tables (`runs`, `epochs`, `layers`, `pruning`, `spectra`,
//! `trajectories`). Rows carry a few fixed key columns plus an ordered map of named values, so a
//! trainer can add a metric without a schema migration: a new name becomes a new column.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named scalar values; ordered so that serialisation and column order are stable.
pub type Values = BTreeMap<String, f64>;

/// Everything one run produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// One row in the `runs` table: final metrics (accuracy, loss, distances, timings ...).
    pub scalars: Values,
    /// Learning curves, one row per epoch (or evaluation step).
    pub epochs: Vec<EpochRow>,
    /// Per-layer statistics: connection categories, parameter summaries, entropy.
    pub layers: Vec<LayerRow>,
    /// Points of pruning / perturbation curves.
    pub pruning: Vec<PruningRow>,
    /// Eigenvalues of recurrent matrices.
    pub spectra: Vec<SpectrumRow>,
    /// Hidden-state trajectories on a fixed probe set, for diversity analyses across seeds.
    pub trajectories: Vec<TrajectoryRow>,
    /// Final weight matrices, for weight-space diversity (hidden-unit alignment across seeds)
    /// and, for spike-and-slab nets, overlaps of important-connection sets.
    #[serde(default)]
    pub weights: Vec<WeightMatrix>,
}

/// One trained weight matrix, row-major `rows x cols` (`out x in`).
///
/// Layer names follow the trainers: `in`, `rec`, `out` for RNNs (hidden units are the rows of
/// `in` and `rec`, the columns of `rec` and `out`); `l1`, `l2`, ... for MLPs (hidden layer k's
/// units are the rows of `lk` and the columns of `l(k+1)`). Spike-and-slab nets store the
/// posterior mean `m` under the plain name and the spike probability under `<name>.pi`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WeightMatrix {
    /// Layer name.
    pub layer: String,
    /// Rows (output units).
    pub rows: u32,
    /// Columns (input units).
    pub cols: u32,
    /// `rows * cols` values, row-major.
    pub values: Vec<f32>,
}

impl WeightMatrix {
    /// A matrix from row-major values; `values.len()` must be `rows * cols`.
    pub fn new(layer: &str, rows: usize, cols: usize, values: Vec<f32>) -> Self {
        debug_assert_eq!(values.len(), rows * cols, "weight matrix {layer}");
        Self {
            layer: layer.to_string(),
            rows: rows as u32,
            cols: cols as u32,
            values,
        }
    }
}

/// One point of a learning curve.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// Zero-based epoch (or training step for step-based trainers).
    pub epoch: u32,
    /// e.g. `train_loss`, `train_acc`, `test_acc`, `lr`, `seconds`.
    pub values: Values,
}

/// Where a checkpointed run stands, read back from its checkpoint: a long cell writes its
/// learning curve to the tables only when it ends, but its checkpoint holds every finished
/// epoch's row (`ensweep checkpoint`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckpointCurve {
    /// Epochs finished.
    pub epochs_done: u32,
    /// Training seconds of the run so far, every attempt included.
    pub seconds: f64,
    /// The finished epochs' rows.
    pub rows: Vec<EpochRow>,
}

/// Statistics of one weight layer (`l1`, `l2`, ... for MLPs; `in`, `rec`, `out` for RNNs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// Layer name.
    pub layer: String,
    /// e.g. `vip_frac`, `uip_frac`, `variable_frac`, `mean_pi`, `entropy`.
    pub values: Values,
}

/// One point of a pruning or perturbation curve.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PruningRow {
    /// Layer the damage was applied to (`all` when applied everywhere).
    pub layer: String,
    /// How connections were chosen: `vip`, `variable`, `uip_on`, `magnitude`, `random`, ...
    pub criterion: String,
    /// Fraction removed, relative to the criterion's reference set.
    pub fraction: f64,
    /// Number of connections touched.
    pub count: u64,
    /// e.g. `test_err` mean and std over repeats, or `distance`.
    pub values: Values,
}

/// One eigenvalue of a matrix.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpectrumRow {
    /// Which matrix: `rec_init`, `rec_trained`, `rec_mean` ...
    pub matrix: String,
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

/// Hidden states of one probe trial, stored as a flat row-major `steps x units` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryRow {
    /// Index of the probe trial in the fixed, seeded probe set.
    pub probe: u32,
    /// Input condition label of the probe (task specific, e.g. `10` for the AND gate).
    pub condition: String,
    /// Number of time steps.
    pub steps: u32,
    /// Number of hidden units.
    pub units: u32,
    /// `steps * units` values, row-major (time outer).
    pub states: Vec<f32>,
}

/// Receives progress from a trainer while it runs.
///
/// The CLI drives a progress bar from it, the worker forwards it to the coordinator, tests
/// collect it. Trainers call it synchronously between epochs; it must be cheap.
pub trait TrainSink {
    /// Called after every epoch with its learning-curve row.
    fn on_epoch(&mut self, _row: &EpochRow, _epochs_total: u32) {}
    /// Whether the run should stop early (lease revoked, shutdown). Checked once per epoch.
    fn cancelled(&self) -> bool {
        false
    }
    /// The state a previous attempt at this cell saved with [`TrainSink::save_checkpoint`], to
    /// resume from; `None` starts from the beginning. Asked once, before the first epoch, by
    /// the trainers that can resume (docs/CHECKPOINTS.md); the bytes are the trainer's own.
    fn resume_state(&mut self) -> Option<Vec<u8>> {
        None
    }
    /// The trainer accepted the state of [`TrainSink::resume_state`] and goes on after
    /// `epochs_done` epochs (a state it cannot use, it ignores, and starts afresh).
    fn resumed(&mut self, _epochs_done: u32) {}
    /// Whether the trainer should hand its state to [`TrainSink::save_checkpoint`] now; asked
    /// after every epoch. Serialising costs a copy of the parameters, so the sink decides how
    /// often (the worker: once a minute at most).
    fn checkpoint_due(&mut self) -> bool {
        false
    }
    /// The trainer's state after `epochs_done` epochs. A run resumed from it gives the same
    /// numbers as one that never stopped (every random stream is drawn per epoch).
    fn save_checkpoint(&mut self, _epochs_done: u32, _state: Vec<u8>) {}
}

/// A sink that ignores everything.
pub struct NullSink;
impl TrainSink for NullSink {}
