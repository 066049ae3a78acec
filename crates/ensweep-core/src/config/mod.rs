//! Typed trainer configurations.
//!
//! One module per trainer kind. Every struct denies unknown fields, so a misspelt key in a
//! sweep file is an error that names the key and its line, never a silently ignored setting.
//! Each kind carries a `TRAINER_VERSION`: it enters the cell key, so results computed by an
//! older, numerically different trainer are never mistaken for current ones.

pub mod optim;
pub mod sas_mlp;
pub mod synthetic;

pub use optim::OptimizerConfig;
pub use sas_mlp::SasMlpConfig;
pub use synthetic::SyntheticConfig;
