//! Spike-and-slab mean-field RNN: layers ([`layer`]), dynamics and gBPTT ([`model`]).

pub mod layer;
pub mod model;
