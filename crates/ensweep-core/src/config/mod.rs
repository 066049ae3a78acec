//! Typed configurations of the built-in trainers.
//!
//! One module per trainer kind. Every struct denies unknown fields, so a misspelt key in a
//! sweep file is an error that names the key and its line, never a silently ignored setting.
//! Each kind carries a `TRAINER_VERSION`: it enters the cell key, so results computed by an
//! older, numerically different trainer are never mistaken for current ones. Which kinds exist
//! is not decided here: a trainer's crate implements `trainer::Trainer` with one of these
//! configs (or a config of its own) and the binary's registry lists it.

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
