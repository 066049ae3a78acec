//! Task-trained tanh RNN: model and BPTT ([`model`]), training and evaluation ([`train`]).

pub mod model;
