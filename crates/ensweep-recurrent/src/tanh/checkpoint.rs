//! A tanh RNN run's state between two epochs, so that a cut-off cell (the size sweep's
//! 500-unit nets train for half an hour) resumes at its last checkpoint (docs/CHECKPOINTS.md).
//!
//! The training trials are drawn again from their own stream and every epoch's shuffle from
//! `shuffle/<epoch>`; but each shuffle permutes the previous epoch's order in place, so the
//! order is state, like the parameters, the optimiser's moments, the update counter (Keras
//! time decay), the stopping rule's first epoch below the threshold and the plateau schedule.

use crate::checkpoint::Position;
use ensweep_trainkit::optim::{Optimizer, OptimizerState};
use serde::{Deserialize, Serialize};

/// Bumped whenever [`Checkpoint`]'s layout changes: a checkpoint of another format is ignored.
const FORMAT: u32 = 1;

/// The learning curve in a checkpoint of this format (`ensweep checkpoint`).
pub(crate) fn curve(bytes: &[u8]) -> Option<ensweep_core::output::CheckpointCurve> {
    crate::checkpoint::curve(bytes, FORMAT)
}

/// What a run has after `epochs_done` epochs.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Checkpoint {
    format: u32,
    /// Epochs, seconds and rows so far.
    pub position: Position,
    /// The flat parameter vector.
    pub params: Vec<f32>,
    /// The optimiser's moments and step counter.
    pub optimizer: OptimizerState,
    /// Updates so far (the Keras time decay's iteration count).
    pub updates: u64,
    /// The training trials' order after the last shuffle.
    pub order: Vec<u64>,
    /// The stopping rule's first epoch below its threshold.
    pub reached_at: Option<u32>,
    /// The plateau schedule: best loss, epochs without improvement, scale.
    pub plateau: (f64, u32, f64),
}

/// What a checkpoint must match to be resumed: the run's sizes.
pub(super) struct Shape<'a> {
    pub params: usize,
    pub optimizer: &'a Optimizer,
    pub trials: usize,
    pub epochs: u32,
}

impl Checkpoint {
    /// A checkpoint of the given state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        position: Position,
        params: &[f32],
        optimizer: &Optimizer,
        updates: u64,
        order: &[usize],
        reached_at: Option<u32>,
        plateau: (f64, u32, f64),
    ) -> Self {
        Checkpoint {
            format: FORMAT,
            position,
            params: params.to_vec(),
            optimizer: optimizer.state(),
            updates,
            order: order.iter().map(|&i| i as u64).collect(),
            reached_at,
            plateau,
        }
    }

    /// The checkpoint as bytes.
    pub fn encode(&self) -> Vec<u8> {
        crate::checkpoint::encode(self)
    }

    /// A checkpoint read back that fits `shape`, or `None`: bytes of another format, or of a
    /// run of other sizes, or an order that is not a permutation of the trials (it indexes
    /// them) are ignored and the cell starts afresh.
    pub fn decode(bytes: &[u8], shape: &Shape) -> Option<Self> {
        let c = crate::checkpoint::decode::<Checkpoint>(bytes).filter(|c| c.format == FORMAT)?;
        let fits = c.params.len() == shape.params
            && shape.optimizer.fits(&c.optimizer)
            && c.position.fits(shape.epochs)
            && is_permutation(&c.order, shape.trials);
        fits.then_some(c)
    }

    /// The order as indices.
    pub fn order(&self) -> Vec<usize> {
        self.order.iter().map(|&i| i as usize).collect()
    }
}

/// Whether `order` holds each of `0..n` exactly once.
fn is_permutation(order: &[u64], n: usize) -> bool {
    let mut seen = vec![false; n];
    order.len() == n
        && order.iter().all(|&i| {
            let slot = seen.get_mut(i as usize);
            slot.is_some_and(|s| !std::mem::replace(s, true))
        })
}

#[cfg(test)]
mod tests {
    use super::is_permutation;
    use crate::checkpoint::testing::{Recorder, without_timings};
    use crate::tanh::train::train_tanh_rnn;
    use ensweep_core::config::TanhRnnConfig;
    use ensweep_core::seed::RunSeed;

    /// A small net with every piece of carried state in use: the Keras time decay (update
    /// counter), a plateau schedule, and a stopping rule that waits `patience` epochs after
    /// the loss first falls below its threshold.
    fn small() -> TanhRnnConfig {
        crate::tanh::tests::small_path_integration(
            "loss_threshold = 0.5\npatience = 2\nlr_time_decay = 1e-3\n\
             lr_plateau = { factor = 0.5, patience = 0 }",
        )
    }

    /// The learning curve at the head of each saved checkpoint (`ensweep checkpoint`).
    #[test]
    fn the_learning_curve_reads_from_the_head_of_a_checkpoint() {
        let mut rec = Recorder::default();
        let out = train_tanh_rnn(&small(), &RunSeed::from_u64(5), &mut rec).unwrap();
        assert!(!rec.saved.is_empty());
        for (epochs_done, state) in &rec.saved {
            let c = super::curve(state).expect("a checkpoint of this format");
            assert_eq!(c.epochs_done, *epochs_done);
            assert_eq!(c.rows[..], out.epochs[..*epochs_done as usize]);
        }
        assert_eq!(super::curve(&rec.saved[0].1[..3]), None, "truncated");
    }

    #[test]
    fn a_resumed_run_gives_the_numbers_of_one_that_never_stopped() {
        let cfg = small();
        let seed = RunSeed::from_u64(5);
        let mut straight = Recorder::default();
        let whole = without_timings(train_tanh_rnn(&cfg, &seed, &mut straight).unwrap());
        assert_eq!(whole.scalars["epochs_run"], 3.0, "{:?}", whole.scalars);
        for cut_at in [1, 2] {
            let mut cut = Recorder {
                stop_after: Some(cut_at),
                ..Recorder::default()
            };
            assert!(train_tanh_rnn(&cfg, &seed, &mut cut).is_err());
            let mut again = Recorder {
                resume: Some(cut.saved.pop().expect("a checkpoint").1),
                ..Recorder::default()
            };
            let resumed = without_timings(train_tanh_rnn(&cfg, &seed, &mut again).unwrap());
            assert_eq!(again.resumed_at, Some(cut_at as u32));
            assert_eq!(resumed, whole, "cut after epoch {cut_at}");
        }
        // A checkpoint of a net of another size is ignored.
        let mut wider = cfg.clone();
        wider.n_hidden += 1;
        let mut other = Recorder {
            resume: Some(straight.saved[0].1.clone()),
            ..Recorder::default()
        };
        train_tanh_rnn(&wider, &seed, &mut other).unwrap();
        assert_eq!(other.resumed_at, None);
    }

    #[test]
    fn only_permutations_are_orders() {
        assert!(is_permutation(&[2, 0, 1], 3));
        assert!(!is_permutation(&[2, 0, 0], 3), "a repeat");
        assert!(!is_permutation(&[0, 1, 3], 3), "out of range");
        assert!(!is_permutation(&[0, 1], 3), "too short");
    }
}
