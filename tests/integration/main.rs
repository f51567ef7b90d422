//! drydock's integration tests: one binary, one module per concern.

mod cli;
mod compare;
mod determinism;
mod experiment;
mod gate;
mod golden;
mod real_cli;
mod real_cluster;
mod sweep;
mod sweep_cluster;
mod tui;
