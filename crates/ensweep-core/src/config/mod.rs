//! Typed trainer configurations.
//!
//! One module per trainer kind. Every struct denies unknown fields, so a misspelt key in a
//! sweep file is an error that names the key and its line, never a silently ignored setting.
//! Each kind carries a `TRAINER_VERSION`: it enters the cell key, so results computed by an
//! older, numerically different trainer are never mistaken for current ones.

pub mod optim;
pub mod sas_mlp;
pub mod sas_rnn;
pub mod synthetic;
pub mod tanh_rnn;

pub use optim::OptimizerConfig;
pub use sas_mlp::SasMlpConfig;
pub use sas_rnn::SasRnnConfig;
pub use synthetic::SyntheticConfig;
pub use tanh_rnn::TanhRnnConfig;

use serde::Serialize;

/// The trainer kinds a sweep file may name, as their section names.
pub const KINDS: &[&str] = &["sas_mlp", "sas_rnn", "tanh_rnn", "synthetic"];

/// A typed configuration of any trainer kind.
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one config per cell, built once; boxing would only add noise"
)]
pub enum TrainerConfig {
    /// Spike-and-slab mean-field MLP.
    SasMlp(SasMlpConfig),
    /// Spike-and-slab mean-field RNN.
    SasRnn(SasRnnConfig),
    /// Task-trained tanh RNN.
    TanhRnn(TanhRnnConfig),
    /// No-op / sleep cells for testing the sweep machinery.
    Synthetic(SyntheticConfig),
}

/// A trainer config that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The kind is not one ensweep knows.
    #[error("unknown trainer kind `{0}` (known: {known})", known = KINDS.join(", "))]
    UnknownKind(String),
    /// The JSON does not match the kind's struct.
    #[error("invalid {kind} config: {source}")]
    Invalid {
        /// Trainer kind.
        kind: String,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
}

impl TrainerConfig {
    /// Section name of the kind in sweep files (`sas_mlp`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            TrainerConfig::SasMlp(_) => "sas_mlp",
            TrainerConfig::SasRnn(_) => "sas_rnn",
            TrainerConfig::TanhRnn(_) => "tanh_rnn",
            TrainerConfig::Synthetic(_) => "synthetic",
        }
    }

    /// Version of the trainer code that produced results for this config.
    pub fn trainer_version(&self) -> &'static str {
        trainer_version(self.kind()).expect("known kind")
    }

    /// Decodes a config of `kind` from JSON (the canonical form stored with every cell).
    pub fn from_json(kind: &str, json: &str) -> Result<Self, ConfigError> {
        fn parse<T: serde::de::DeserializeOwned>(kind: &str, json: &str) -> Result<T, ConfigError> {
            serde_json::from_str(json).map_err(|source| ConfigError::Invalid {
                kind: kind.to_owned(),
                source,
            })
        }
        Ok(match kind {
            "sas_mlp" => TrainerConfig::SasMlp(parse(kind, json)?),
            "sas_rnn" => TrainerConfig::SasRnn(parse(kind, json)?),
            "tanh_rnn" => TrainerConfig::TanhRnn(parse(kind, json)?),
            "synthetic" => TrainerConfig::Synthetic(parse(kind, json)?),
            other => return Err(ConfigError::UnknownKind(other.to_owned())),
        })
    }

    /// Decodes a config of `kind` from a TOML table (a sweep file's trainer section).
    pub fn from_toml(kind: &str, table: toml::Table) -> Result<Self, toml::de::Error> {
        let value = toml::Value::Table(table);
        Ok(match kind {
            "sas_mlp" => TrainerConfig::SasMlp(value.try_into()?),
            "sas_rnn" => TrainerConfig::SasRnn(value.try_into()?),
            "tanh_rnn" => TrainerConfig::TanhRnn(value.try_into()?),
            "synthetic" => TrainerConfig::Synthetic(value.try_into()?),
            other => {
                use serde::de::Error;
                return Err(toml::de::Error::custom(format!(
                    "unknown trainer kind `{other}`"
                )));
            }
        })
    }

    /// The config as a JSON value (struct field order; see `canonical_json` for the stable form).
    pub fn to_json_value(&self) -> serde_json::Value {
        fn value<T: Serialize>(t: &T) -> serde_json::Value {
            serde_json::to_value(t).expect("configs serialise")
        }
        match self {
            TrainerConfig::SasMlp(c) => value(c),
            TrainerConfig::SasRnn(c) => value(c),
            TrainerConfig::TanhRnn(c) => value(c),
            TrainerConfig::Synthetic(c) => value(c),
        }
    }
}

/// The trainer version of a kind, if the kind exists.
pub fn trainer_version(kind: &str) -> Option<&'static str> {
    match kind {
        "sas_mlp" => Some(sas_mlp::TRAINER_VERSION),
        "sas_rnn" => Some(sas_rnn::TRAINER_VERSION),
        "tanh_rnn" => Some(tanh_rnn::TRAINER_VERSION),
        "synthetic" => Some(synthetic::TRAINER_VERSION),
        _ => None,
    }
}
