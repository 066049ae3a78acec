//! A spike-and-slab RNN run's state between two epochs, so that a cell that was cut off (a
//! killed worker, a revoked lease, a wall-time limit) resumes at its last checkpoint instead of
//! at epoch 0: pixel-by-pixel MNIST trains for hours in one cell (docs/CHECKPOINTS.md).
//!
//! Every random stream of training is drawn per epoch (`batches/<epoch>`,
//! `noise/<epoch>/<batch>/<part>`, `test_noise/<epoch>`), and the initial network is
//! recomputed from its own stream, so the parameters, the optimisers' moments and the epochs'
//! rows are all a resumed run needs to give the numbers of a run that never stopped.

use super::layer::SasLayer;
use super::model::SasNet;
use crate::checkpoint::Position;
use ensweep_trainkit::arrays::{std_mut, std_slice};
use ensweep_trainkit::optim::{Optimizer, OptimizerState};
use serde::{Deserialize, Serialize};

/// Bumped whenever [`Checkpoint`]'s layout changes: a checkpoint of another format is ignored
/// (the cell starts afresh), never misread.
const FORMAT: u32 = 1;

/// The learning curve in a checkpoint of this format (`ensweep checkpoint`).
pub(crate) fn curve(bytes: &[u8]) -> Option<ensweep_core::output::CheckpointCurve> {
    crate::checkpoint::curve(bytes, FORMAT)
}

/// What a run has after `epochs_done` epochs.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Checkpoint {
    format: u32,
    /// Epochs, seconds and rows so far (the same bytes as the three fields it replaced in
    /// format 1: bincode does not frame structs).
    pub position: Position,
    /// `in`, `rec`, `out`: (pi, m, Xi) of each, row-major.
    layers: Vec<[Vec<f32>; 3]>,
    /// The optimisers, in the trainer's order.
    optimisers: Vec<OptimizerState>,
}

impl Checkpoint {
    /// The state of `net` and `optimisers` after `epochs_done` epochs.
    pub fn capture(net: &SasNet, optimisers: &[Optimizer], position: Position) -> Self {
        let layer = |l: &SasLayer| {
            [
                std_slice(&l.pi).to_vec(),
                std_slice(&l.m).to_vec(),
                std_slice(&l.xi).to_vec(),
            ]
        };
        Checkpoint {
            format: FORMAT,
            position,
            layers: vec![layer(&net.input), layer(&net.rec), layer(&net.out)],
            optimisers: optimisers.iter().map(Optimizer::state).collect(),
        }
    }

    /// The checkpoint as bytes.
    pub fn encode(&self) -> Vec<u8> {
        crate::checkpoint::encode(self)
    }

    /// A checkpoint read back, or `None` for bytes that are not one of this format.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        crate::checkpoint::decode::<Checkpoint>(bytes).filter(|c| c.format == FORMAT)
    }

    /// Puts the parameters and moments into a freshly initialised `net` and `optimisers` of the
    /// same config and returns where the run is. Checks every length (and that a run of
    /// `epochs` can go on) first, and changes nothing (returning `None`) if one differs: a
    /// checkpoint of another shape is ignored, not half applied.
    pub fn restore(
        self,
        net: &mut SasNet,
        optimisers: &mut [Optimizer],
        epochs: u32,
    ) -> Option<Position> {
        let fits_layer =
            |l: &SasLayer, saved: &[Vec<f32>; 3]| saved.iter().all(|v| v.len() == l.rows * l.cols);
        let fits = self.layers.len() == 3
            && fits_layer(&net.input, &self.layers[0])
            && fits_layer(&net.rec, &self.layers[1])
            && fits_layer(&net.out, &self.layers[2])
            && self.optimisers.len() == optimisers.len()
            && self
                .optimisers
                .iter()
                .zip(optimisers.iter())
                .all(|(s, o)| o.fits(s))
            && self.position.fits(epochs);
        if !fits {
            return None;
        }
        let layers = [&mut net.input, &mut net.rec, &mut net.out];
        for (layer, [pi, m, xi]) in layers.into_iter().zip(self.layers) {
            std_mut(&mut layer.pi).copy_from_slice(&pi);
            std_mut(&mut layer.m).copy_from_slice(&m);
            std_mut(&mut layer.xi).copy_from_slice(&xi);
        }
        for (o, s) in optimisers.iter_mut().zip(self.optimisers) {
            o.restore(s).expect("lengths checked above");
        }
        Some(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::testing::{Recorder, without_timings};
    use crate::sas::train::train_sas_rnn;
    use ensweep_core::config::SasRnnConfig;
    use ensweep_core::output::RunOutput;
    use ensweep_core::seed::RunSeed;

    /// A small MSI net: no data files, a second to train.
    fn small_msi() -> SasRnnConfig {
        crate::sas::tests::small_msi(4, 24, 2)
    }

    fn train(cfg: &SasRnnConfig, sink: &mut Recorder) -> Result<RunOutput, crate::RnnError> {
        train_sas_rnn(cfg, &RunSeed::from_u64(11), sink)
    }

    #[test]
    fn a_resumed_run_gives_the_numbers_of_one_that_never_stopped() {
        let cfg = small_msi();
        let mut straight = Recorder::default();
        let whole = without_timings(train(&cfg, &mut straight).unwrap());
        let epochs: Vec<u32> = straight.saved.iter().map(|(e, _)| *e).collect();
        assert_eq!(epochs, [1, 2, 3, 4], "one checkpoint after every epoch");

        let mut cut = Recorder {
            stop_after: Some(2),
            ..Recorder::default()
        };
        assert!(matches!(
            train(&cfg, &mut cut),
            Err(crate::RnnError::Cancelled)
        ));
        let (epochs_done, state) = cut.saved.pop().expect("a checkpoint before the cut");
        assert_eq!(epochs_done, 2);

        let mut again = Recorder {
            resume: Some(state),
            ..Recorder::default()
        };
        let resumed = without_timings(train(&cfg, &mut again).unwrap());
        assert_eq!(again.resumed_at, Some(2));
        assert_eq!(
            again.epochs_seen, 2,
            "only the epochs after the checkpoint ran"
        );
        assert_eq!(resumed, whole);

        // From the checkpoint after the last epoch only the analysis runs.
        let mut last = Recorder {
            resume: Some(straight.saved.pop().unwrap().1),
            ..Recorder::default()
        };
        let analysed = without_timings(train(&cfg, &mut last).unwrap());
        assert_eq!((last.resumed_at, last.epochs_seen), (Some(4), 0));
        assert_eq!(analysed, whole);
    }

    /// Row MNIST: the per-epoch shuffle, the learning-rate schedule and the per-epoch test.
    #[test]
    fn a_resumed_row_mnist_run_gives_the_same_numbers() {
        let mut cfg = crate::sas::tests::small_row(3, 16, 2, 100);
        cfg.optimizer.halve_every = 1;
        if let ensweep_core::config::sas_rnn::SasTask::RowMnist(t) = &mut cfg.task {
            t.batch_size = 32;
            t.test_every = 1;
        }
        let whole = without_timings(train(&cfg, &mut Recorder::default()).unwrap());
        assert!(
            whole
                .epochs
                .iter()
                .all(|r| r.values.contains_key("test_acc_mf"))
        );
        let mut cut = Recorder {
            stop_after: Some(1),
            ..Recorder::default()
        };
        assert!(train(&cfg, &mut cut).is_err());
        let mut again = Recorder {
            resume: Some(cut.saved.pop().unwrap().1),
            ..Recorder::default()
        };
        assert_eq!(without_timings(train(&cfg, &mut again).unwrap()), whole);
        assert_eq!(again.resumed_at, Some(1));
    }

    /// `ensweep checkpoint` reads the learning curve from the head of every saved checkpoint
    /// and refuses bytes of another format.
    #[test]
    fn the_learning_curve_reads_from_the_head_of_a_checkpoint() {
        let mut rec = Recorder::default();
        let out = train(&small_msi(), &mut rec).unwrap();
        for (epochs_done, state) in &rec.saved {
            let c = super::curve(state).expect("a checkpoint of this format");
            assert_eq!(c.epochs_done, *epochs_done);
            assert_eq!(c.rows[..], out.epochs[..*epochs_done as usize]);
        }
        let mut other = rec.saved[0].1.clone();
        other[0] = 2; // the format number, a one-byte varint
        assert_eq!(super::curve(&other), None);
        assert_eq!(super::curve(b"not a checkpoint"), None);
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_is_ignored() {
        let cfg = small_msi();
        let mut fresh = Recorder::default();
        let whole = without_timings(train(&cfg, &mut fresh).unwrap());
        let state = fresh.saved[1].1.clone();

        let mut wider = cfg.clone();
        wider.n_hidden += 1;
        let mut other_shape = Recorder {
            resume: Some(state.clone()),
            ..Recorder::default()
        };
        train(&wider, &mut other_shape).unwrap();
        assert_eq!(other_shape.resumed_at, None, "another shape starts afresh");

        for bytes in [
            Vec::new(),
            b"not a checkpoint".to_vec(),
            state[..state.len() / 2].to_vec(),
        ] {
            let mut garbage = Recorder {
                resume: Some(bytes),
                ..Recorder::default()
            };
            let out = without_timings(train(&cfg, &mut garbage).unwrap());
            assert_eq!(garbage.resumed_at, None);
            assert_eq!(out, whole, "an unreadable checkpoint changes nothing");
        }
    }

    #[test]
    fn encoding_keeps_every_bit() {
        let cfg = small_msi();
        let net = crate::sas::train::init_net(&cfg, 5, 3, &RunSeed::from_u64(2));
        let mut row = ensweep_core::output::EpochRow::default();
        row.values.insert("train_loss".into(), f64::NAN);
        let opt = Optimizer::new(&cfg.optimizer, 4);
        let position = Position {
            epochs_done: 1,
            seconds: 2.5,
            rows: vec![row],
        };
        let ckpt = Checkpoint::capture(&net, &[opt], position);
        let back = Checkpoint::decode(&ckpt.encode()).unwrap();
        assert!(back.position.rows[0].values["train_loss"].is_nan());
        assert_eq!(back.layers, ckpt.layers);
        assert_eq!(back.optimisers, ckpt.optimisers);
        assert_eq!((back.position.epochs_done, back.position.seconds), (1, 2.5));
    }
}
