//! The one place where a [`RunOutput`] crosses the wire: conversions to and from the protobuf
//! message `ensweep.v1.RunOutput`, and the checks a result passes before anyone stores it.
//!
//! This lives in core (which may depend on the generated `ensweep-proto` messages, never the
//! other way round) so the worker that encodes, the coordinator that validates and stores, and
//! the exporter that decodes all share it. Protobuf doubles carry NaN and ±Inf natively: a
//! diverged run is sent, stored and exported as it ended, never turned into `null`.

use crate::output::{
    EpochRow, LayerRow, PruningRow, RunOutput, SpectrumRow, TrajectoryRow, Values, WeightMatrix,
};
use ensweep_proto::v1 as pb;
use prost::Message;
use std::collections::HashMap;

/// Default largest encoded result the coordinator accepts (`--max-result-bytes`).
pub const DEFAULT_MAX_RESULT_BYTES: usize = 16 << 20;
/// Longest metric, layer, criterion or condition name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Why a result was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    /// The encoded result is larger than the configured limit.
    #[error("result is {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// Encoded size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a `RunOutput` message.
    #[error("result does not decode as a RunOutput: {0}")]
    Decode(String),
    /// A completion carried no result at all.
    #[error("result is missing")]
    Missing,
    /// A name is empty or too long.
    #[error("{what} name {name:?} is empty or longer than 256 bytes")]
    BadName {
        /// Which kind of name.
        what: &'static str,
        /// The name, cut to the limit.
        name: String,
    },
    /// A flat block's length does not match its declared dimensions.
    #[error("{what} {name:?}: {a} x {b} declared but {len} values")]
    Dims {
        /// `weights` or `trajectory`.
        what: &'static str,
        /// Layer name or probe condition.
        name: String,
        /// Rows or steps.
        a: u32,
        /// Columns or units.
        b: u32,
        /// Values carried.
        len: usize,
    },
}

/// Encodes a trainer's output for `CellResult.output` (the worker's side).
pub fn to_wire(out: &RunOutput) -> pb::RunOutput {
    pb::RunOutput {
        scalars: values_to_wire(&out.scalars),
        epochs: out
            .epochs
            .iter()
            .map(|r| pb::EpochRow {
                epoch: r.epoch,
                values: values_to_wire(&r.values),
            })
            .collect(),
        layers: out
            .layers
            .iter()
            .map(|r| pb::LayerRow {
                layer: r.layer.clone(),
                values: values_to_wire(&r.values),
            })
            .collect(),
        pruning: out.pruning.iter().map(pruning_to_wire).collect(),
        spectra: out
            .spectra
            .iter()
            .map(|r| pb::SpectrumRow {
                matrix: r.matrix.clone(),
                re: r.re,
                im: r.im,
            })
            .collect(),
        trajectories: out.trajectories.iter().map(trajectory_to_wire).collect(),
        weights: out
            .weights
            .iter()
            .map(|w| pb::WeightMatrix {
                layer: w.layer.clone(),
                rows: w.rows,
                cols: w.cols,
                values: w.values.clone(),
            })
            .collect(),
    }
}

fn values_to_wire(v: &Values) -> HashMap<String, f64> {
    v.iter().map(|(k, x)| (k.clone(), *x)).collect()
}

fn pruning_to_wire(r: &PruningRow) -> pb::PruningRow {
    pb::PruningRow {
        layer: r.layer.clone(),
        criterion: r.criterion.clone(),
        fraction: r.fraction,
        count: r.count,
        values: values_to_wire(&r.values),
    }
}

fn trajectory_to_wire(r: &TrajectoryRow) -> pb::TrajectoryRow {
    pb::TrajectoryRow {
        probe: r.probe,
        condition: r.condition.clone(),
        steps: r.steps,
        units: r.units,
        states: r.states.clone(),
    }
}

/// Decodes and validates stored or received bytes (the ledger's `output` BLOB).
pub fn decode(bytes: &[u8], limit: usize) -> Result<RunOutput, WireError> {
    if bytes.len() > limit {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let msg = pb::RunOutput::decode(bytes).map_err(|e| WireError::Decode(e.to_string()))?;
    RunOutput::try_from(msg)
}

/// Checks a received result and returns the bytes to store: the coordinator's gate before any
/// ledger write. `None` (a completion without a result) is refused.
pub fn validate(msg: Option<pb::RunOutput>, limit: usize) -> Result<Vec<u8>, WireError> {
    let msg = msg.ok_or(WireError::Missing)?;
    let len = msg.encoded_len();
    if len > limit {
        return Err(WireError::TooLarge { len, limit });
    }
    let bytes = msg.encode_to_vec();
    RunOutput::try_from(msg)?;
    Ok(bytes)
}

impl TryFrom<pb::RunOutput> for RunOutput {
    type Error = WireError;

    fn try_from(m: pb::RunOutput) -> Result<Self, WireError> {
        Ok(RunOutput {
            scalars: values(m.scalars, "scalar")?,
            epochs: m
                .epochs
                .into_iter()
                .map(|r| {
                    Ok(EpochRow {
                        epoch: r.epoch,
                        values: values(r.values, "epoch value")?,
                    })
                })
                .collect::<Result<_, WireError>>()?,
            layers: m
                .layers
                .into_iter()
                .map(|r| {
                    Ok(LayerRow {
                        layer: name(r.layer, "layer")?,
                        values: values(r.values, "layer value")?,
                    })
                })
                .collect::<Result<_, WireError>>()?,
            pruning: m
                .pruning
                .into_iter()
                .map(pruning)
                .collect::<Result<_, _>>()?,
            spectra: m
                .spectra
                .into_iter()
                .map(|r| {
                    Ok(SpectrumRow {
                        matrix: name(r.matrix, "spectrum matrix")?,
                        re: r.re,
                        im: r.im,
                    })
                })
                .collect::<Result<_, WireError>>()?,
            trajectories: m
                .trajectories
                .into_iter()
                .map(trajectory)
                .collect::<Result<_, _>>()?,
            weights: m
                .weights
                .into_iter()
                .map(weights)
                .collect::<Result<_, _>>()?,
        })
    }
}

fn name(s: String, what: &'static str) -> Result<String, WireError> {
    if s.is_empty() || s.len() > MAX_NAME_LEN {
        let name = s.chars().take(MAX_NAME_LEN).collect();
        return Err(WireError::BadName { what, name });
    }
    Ok(s)
}

fn values(m: HashMap<String, f64>, what: &'static str) -> Result<Values, WireError> {
    m.into_iter()
        .map(|(k, v)| Ok((name(k, what)?, v)))
        .collect()
}

fn pruning(r: pb::PruningRow) -> Result<PruningRow, WireError> {
    Ok(PruningRow {
        layer: name(r.layer, "pruning layer")?,
        criterion: name(r.criterion, "pruning criterion")?,
        fraction: r.fraction,
        count: r.count,
        values: values(r.values, "pruning value")?,
    })
}

fn dims(what: &'static str, name: &str, a: u32, b: u32, len: usize) -> Result<(), WireError> {
    if (a as u64) * (b as u64) != len as u64 {
        return Err(WireError::Dims {
            what,
            name: name.chars().take(MAX_NAME_LEN).collect(),
            a,
            b,
            len,
        });
    }
    Ok(())
}

fn trajectory(r: pb::TrajectoryRow) -> Result<TrajectoryRow, WireError> {
    dims("trajectory", &r.condition, r.steps, r.units, r.states.len())?;
    // A condition label may be empty (tasks without conditions) but stays bounded.
    if r.condition.len() > MAX_NAME_LEN {
        return Err(WireError::BadName {
            what: "trajectory condition",
            name: r.condition.chars().take(MAX_NAME_LEN).collect(),
        });
    }
    Ok(TrajectoryRow {
        probe: r.probe,
        condition: r.condition,
        steps: r.steps,
        units: r.units,
        states: r.states,
    })
}

fn weights(w: pb::WeightMatrix) -> Result<WeightMatrix, WireError> {
    dims("weights", &w.layer, w.rows, w.cols, w.values.len())?;
    Ok(WeightMatrix {
        layer: name(w.layer, "weights layer")?,
        rows: w.rows,
        cols: w.cols,
        values: w.values,
    })
}

#[cfg(test)]
mod tests;
