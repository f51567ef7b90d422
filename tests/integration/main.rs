//! drydock's integration tests: one binary, one module per concern.

mod cli;
mod determinism;
mod gate;
mod golden;
