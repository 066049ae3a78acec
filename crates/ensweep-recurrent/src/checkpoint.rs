//! The byte form of the recurrent trainers' checkpoints (`sas::checkpoint`,
//! `tanh::checkpoint`): bincode, which keeps every f32 and f64 bit for bit, NaN included, and
//! a size limit so a damaged file cannot ask for more memory than a real checkpoint takes.

use ensweep_core::output::{CheckpointCurve, EpochRow};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Training time of a run that may have resumed: the seconds its earlier attempts spent (from
/// the checkpoint) plus this attempt's, so `train_seconds` and the epochs' `seconds` count the
/// whole run.
pub(crate) struct TrainClock {
    earlier: f64,
    start: Instant,
}

impl TrainClock {
    /// Starts counting this attempt, with no earlier time.
    pub fn start() -> Self {
        TrainClock {
            earlier: 0.0,
            start: Instant::now(),
        }
    }

    /// Adds the seconds of the attempts before a checkpoint.
    pub fn resume_at(&mut self, earlier: f64) {
        self.earlier = earlier;
    }

    /// Training seconds so far, earlier attempts included.
    pub fn seconds(&self) -> f64 {
        self.earlier + self.start.elapsed().as_secs_f64()
    }
}

/// Where a run is, in every trainer's checkpoint: its finished epochs.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Position {
    /// Epochs finished; the run goes on with epoch `epochs_done`.
    pub epochs_done: u32,
    /// Training seconds before the checkpoint, so `train_seconds` and the epochs' `seconds`
    /// keep counting the whole run's training time.
    pub seconds: f64,
    /// The learning-curve rows of the finished epochs.
    pub rows: Vec<EpochRow>,
}

impl Position {
    /// Whether a run of `epochs` epochs can go on from here (a row per finished epoch).
    pub fn fits(&self, epochs: u32) -> bool {
        self.epochs_done <= epochs && self.rows.len() == self.epochs_done as usize
    }
}

/// Largest checkpoint decoded (bytes): far above the largest net a config can ask for that
/// trains in reasonable time, far below what would exhaust a worker's memory.
const DECODE_LIMIT: usize = 1 << 30;

/// `value` as bytes.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).expect("plain data encodes")
}

/// A value read back from all of `bytes`, or `None` for bytes that are not exactly one.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let (value, read) = decode_head::<T>(bytes)?;
    (read == bytes.len()).then_some(value)
}

/// A value read back from the start of `bytes`, and how many bytes it took.
fn decode_head<T: DeserializeOwned>(bytes: &[u8]) -> Option<(T, usize)> {
    let config = bincode::config::standard().with_limit::<DECODE_LIMIT>();
    bincode::serde::decode_from_slice(bytes, config).ok()
}

/// The learning curve at the head of a checkpoint of `format`: every recurrent trainer's
/// checkpoint starts with its format number and the [`Position`] (bincode does not frame
/// structs, so those two fields decode alone and the parameters after them are not read).
pub(crate) fn curve(bytes: &[u8], format: u32) -> Option<CheckpointCurve> {
    let ((found, position), _read) = decode_head::<(u32, Position)>(bytes)?;
    let whole = position.rows.len() == position.epochs_done as usize;
    (found == format && whole).then_some(CheckpointCurve {
        epochs_done: position.epochs_done,
        seconds: position.seconds,
        rows: position.rows,
    })
}

/// What the trainers' checkpoint tests share.
#[cfg(test)]
pub(crate) mod testing {
    use ensweep_core::output::{EpochRow, RunOutput, TrainSink};

    /// Saves a checkpoint after every epoch, stops after `stop_after` epochs, offers `resume`.
    #[derive(Default)]
    pub(crate) struct Recorder {
        pub saved: Vec<(u32, Vec<u8>)>,
        pub epochs_seen: usize,
        pub stop_after: Option<usize>,
        pub resume: Option<Vec<u8>>,
        pub resumed_at: Option<u32>,
    }

    impl TrainSink for Recorder {
        fn on_epoch(&mut self, _row: &EpochRow, _epochs_total: u32) {
            self.epochs_seen += 1;
        }
        fn cancelled(&self) -> bool {
            self.stop_after.is_some_and(|n| self.epochs_seen >= n)
        }
        fn resume_state(&mut self) -> Option<Vec<u8>> {
            self.resume.take()
        }
        fn resumed(&mut self, epochs_done: u32) {
            self.resumed_at = Some(epochs_done);
        }
        fn checkpoint_due(&mut self) -> bool {
            true
        }
        fn save_checkpoint(&mut self, epochs_done: u32, state: Vec<u8>) {
            self.saved.push((epochs_done, state));
        }
    }

    /// The output without its wall-clock values (seconds, sequences per second), the only
    /// ones a resumed run may change.
    pub(crate) fn without_timings(mut out: RunOutput) -> RunOutput {
        out.scalars
            .retain(|k, _| !k.contains("seconds") && !k.ends_with("_per_s"));
        for row in &mut out.epochs {
            row.values.retain(|k, _| !k.contains("seconds"));
        }
        out
    }
}
