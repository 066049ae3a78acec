//! What ensweep needs to know about a trainer, and the registry of the trainers a binary has.
//!
//! A trainer is written once, in its own crate, as an implementation of [`Trainer`]: its kind
//! (the sweep file's section name), its version (part of every cell key), its typed config,
//! how to train one cell, what a cell costs, and which metric `report` compares by default.
//! Every other part of ensweep sees trainers only through a [`Registry`], a list of them that
//! the binary assembles (`ensweep_worker::TRAINERS`): spec parsing validates cells with it, the
//! worker and `ensweep train` train cells with it, `plan` asks it for costs and `report` for
//! the default metric. This crate cannot name the trainer crates (they depend on it), so the
//! registry is handed in as a parameter wherever it is needed.
//!
//! Nothing here runs a trainer by itself: the trait only declares `train`; the I/O and the
//! numerics are in the implementations.

use crate::output::{CheckpointCurve, RunOutput, TrainSink};
use crate::spec::Cell;
use crate::spec::{DecodeError, keypath::decode_table};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One trainer: everything ensweep needs to know about it, written once in its own crate.
///
/// Implement it on a unit struct and add `&ThatStruct` to the binary's registry; nothing else
/// in ensweep names the trainer (ARCHITECTURE.md, "Adding a trainer").
pub trait Trainer: Send + Sync + 'static {
    /// Section name in sweep files and `kind` of every cell (`sas_mlp`, ...).
    const KIND: &'static str;
    /// Version of the trainer's numerics (`sas_mlp/4`). It enters every cell key, so results
    /// of a numerically different trainer are never mistaken for current ones: bump it
    /// whenever the same config would give other numbers.
    const VERSION: &'static str;
    /// The `runs` column that `ensweep report` compares and plots when none is asked for.
    const DEFAULT_METRIC: &'static str;
    /// The typed config. It should deny unknown fields (`#[serde(deny_unknown_fields)]`) so a
    /// misspelt key is an error naming the key, and fill every default in, so a cell's
    /// canonical JSON (and so its key) does not depend on whether a default was written out.
    type Config: Serialize + DeserializeOwned;

    /// Checks that the types cannot express (ranges, combinations); the error names the key.
    /// Called on every cell at parse time, so a bad sweep fails before anything runs.
    fn validate(&self, config: &Self::Config) -> Result<(), InvalidConfig> {
        let _ = config;
        Ok(())
    }

    /// Trains one cell. `cell` gives the run seed (`cell.run_seed()`) and the replicate;
    /// `sink` receives epochs as they finish and says when to stop.
    fn train(
        &self,
        config: &Self::Config,
        cell: &Cell,
        sink: &mut dyn TrainSink,
    ) -> Result<RunOutput, TrainError>;

    /// Rough single-core seconds of one cell of `config`, from its size alone (no data
    /// loaded), calibrated on measured runs: `ensweep plan` adds these up. It needs to be
    /// right within a factor of two, to tell a ten-minute sweep from a ten-hour one.
    fn cost_seconds(&self, config: &Self::Config) -> f64;

    /// The learning curve in one of this trainer's checkpoints (the state it gave its sink to
    /// save), so `ensweep checkpoint` shows a running cell's progress through the trainer's own
    /// decoder rather than a second reader of its format. `None`: the trainer does not
    /// checkpoint, or the bytes are not one of its checkpoints.
    fn checkpoint_curve(&self, _state: &[u8]) -> Option<CheckpointCurve> {
        None
    }

    /// The typed config of a cell of this kind (for tools that adjust a config before
    /// training it directly, like `ensweep bench`).
    fn config_of(&self, cell: &Cell) -> Result<Self::Config, ConfigError> {
        if cell.kind != Self::KIND {
            return Err(ConfigError::WrongKind {
                expected: Self::KIND,
                found: cell.kind.clone(),
            });
        }
        decode(Self::KIND, &cell.config_json)
    }
}

/// A config that its trainer's [`Trainer::validate`] refuses: a range or a combination of
/// values that the config's types cannot express.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {reason}")]
pub struct InvalidConfig {
    /// The key the problem is about, as written in the trainer's section (`steps`,
    /// `optimizer.lr`).
    pub key: String,
    /// What is wrong with its value, as the rest of the sentence (`must be at least 1`).
    pub reason: String,
}

impl InvalidConfig {
    /// The value of `key` is refused because of `reason`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidConfig {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// A [`Trainer`] with its config type erased, so trainers of different config types fit in
/// one list. Implemented for every [`Trainer`]; never implement it by hand.
pub trait DynTrainer: Send + Sync {
    /// [`Trainer::KIND`].
    fn kind(&self) -> &'static str;
    /// [`Trainer::VERSION`].
    fn version(&self) -> &'static str;
    /// [`Trainer::DEFAULT_METRIC`].
    fn default_metric(&self) -> &'static str;
    /// Decodes a sweep file's section strictly, validates it, and returns the typed config
    /// as JSON (every default filled in; the spec sorts its keys to make it canonical).
    /// A failure names the key it is about (`serde_path_to_error`), so the spec can point at
    /// where that key is written.
    fn config_value(&self, table: toml::Table) -> Result<serde_json::Value, DecodeError>;
    /// Decodes the cell's config and trains it.
    fn train_cell(&self, cell: &Cell, sink: &mut dyn TrainSink) -> Result<RunOutput, TrainError>;
    /// Decodes the cell's config and estimates its seconds.
    fn cell_cost_seconds(&self, cell: &Cell) -> Result<f64, ConfigError>;
    /// [`Trainer::checkpoint_curve`].
    fn checkpoint_curve(&self, state: &[u8]) -> Option<CheckpointCurve>;
}

impl<T: Trainer> DynTrainer for T {
    fn kind(&self) -> &'static str {
        T::KIND
    }

    fn version(&self) -> &'static str {
        T::VERSION
    }

    fn default_metric(&self) -> &'static str {
        T::DEFAULT_METRIC
    }

    fn config_value(&self, table: toml::Table) -> Result<serde_json::Value, DecodeError> {
        let config: T::Config = decode_table(table)?;
        self.validate(&config).map_err(DecodeError::whole)?;
        Ok(serde_json::to_value(&config).expect("a config serialises to JSON"))
    }

    fn train_cell(&self, cell: &Cell, sink: &mut dyn TrainSink) -> Result<RunOutput, TrainError> {
        let config = self.config_of(cell)?;
        self.train(&config, cell, sink)
    }

    fn cell_cost_seconds(&self, cell: &Cell) -> Result<f64, ConfigError> {
        Ok(self.cost_seconds(&self.config_of(cell)?))
    }

    fn checkpoint_curve(&self, state: &[u8]) -> Option<CheckpointCurve> {
        Trainer::checkpoint_curve(self, state)
    }
}

/// Decodes a stored canonical config of `kind`.
fn decode<C: DeserializeOwned>(kind: &str, json: &str) -> Result<C, ConfigError> {
    serde_json::from_str(json).map_err(|source| ConfigError::Invalid {
        kind: kind.to_owned(),
        source,
    })
}

/// The trainers a binary knows, in the order sweep errors list them.
#[derive(Clone, Copy)]
pub struct Registry {
    trainers: &'static [&'static dyn DynTrainer],
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.kinds()).finish()
    }
}

impl Registry {
    /// A registry of `trainers`, one entry per kind (a test checks each binary's registry:
    /// `Registry::duplicate_kind`).
    pub const fn new(trainers: &'static [&'static dyn DynTrainer]) -> Registry {
        Registry { trainers }
    }

    /// The trainer of `kind`.
    pub fn get(&self, kind: &str) -> Result<&'static dyn DynTrainer, ConfigError> {
        self.trainers
            .iter()
            .copied()
            .find(|t| t.kind() == kind)
            .ok_or_else(|| ConfigError::UnknownKind {
                kind: kind.to_owned(),
                known: self.kinds().collect::<Vec<_>>().join(", "),
            })
    }

    /// The kinds, in registry order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.trainers.iter().map(|t| t.kind())
    }

    /// The trainer versions, in registry order (what a worker declares when it registers).
    pub fn versions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.trainers.iter().map(|t| t.version())
    }

    /// Trains `cell` with the trainer of its kind: the one path from a cell to a trainer, used
    /// by workers and by `ensweep train`.
    pub fn train(&self, cell: &Cell, sink: &mut dyn TrainSink) -> Result<RunOutput, TrainError> {
        self.get(&cell.kind)?.train_cell(cell, sink)
    }

    /// Rough single-core seconds of `cell` ([`Trainer::cost_seconds`]).
    pub fn cost_seconds(&self, cell: &Cell) -> Result<f64, ConfigError> {
        self.get(&cell.kind)?.cell_cost_seconds(cell)
    }

    /// A kind listed twice, if any: the second entry could never be reached.
    pub fn duplicate_kind(&self) -> Option<&'static str> {
        let kinds: Vec<_> = self.kinds().collect();
        kinds
            .iter()
            .enumerate()
            .find(|(i, k)| kinds[..*i].contains(k))
            .map(|(_, k)| *k)
    }
}

/// A trainer config that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The kind is not one this binary knows.
    #[error("unknown trainer kind `{kind}` (known: {known})")]
    UnknownKind {
        /// The kind asked for.
        kind: String,
        /// The registry's kinds, comma-separated.
        known: String,
    },
    /// A cell was handed to the trainer of another kind.
    #[error("a `{found}` cell given to the `{expected}` trainer")]
    WrongKind {
        /// The trainer's kind.
        expected: &'static str,
        /// The cell's kind.
        found: String,
    },
    /// The JSON does not match the kind's config.
    #[error("invalid {kind} config: {source}")]
    Invalid {
        /// Trainer kind.
        kind: String,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
}

/// Why a cell produced no result.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The config does not decode for its kind.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The input cannot be trained and never will be (a bad config, missing data): retrying
    /// would fail again, so the cell fails for good until the user fixes it.
    #[error("{0}")]
    User(String),
    /// The training data is missing or unreadable (MNIST not found where the config and
    /// `ENSWEEP_DATA` point, a truncated file): the user's to fix, so final like `User`, and a
    /// kind of its own so that `ensweep train` can say so in its exit status.
    #[error(transparent)]
    Data(Box<dyn std::error::Error + Send + Sync>),
    /// The sink asked to stop (lease revoked, time limit, worker shutting down).
    #[error("cancelled")]
    Cancelled,
    /// The trainer failed in a way that may not repeat (I/O): worth another attempt.
    #[error("{0}")]
    Environment(String),
}

impl TrainError {
    /// Whether the failure is the input's fault (final) rather than the environment's.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            TrainError::Config(_) | TrainError::User(_) | TrainError::Data(_)
        )
    }
}
