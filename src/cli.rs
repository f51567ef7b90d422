//! Subcommands and the error-to-exit-code mapping shared by all of them.

pub mod compare;
pub mod experiment;
pub mod list;
pub mod run;
pub mod schema;
pub mod sweep;
pub mod validate;

use std::path::Path;

use anyhow::Context;
use drydock_scenarios::{Scenario, ScenarioError};
use drydock_sim::SimError;

/// An input error found by the CLI itself (a flag combination, an output directory that would
/// be overwritten). Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct InputError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl InputError {
    /// An input error with a hint.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// Exit code for an error: 2 for input errors anywhere in the chain, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.downcast_ref::<ScenarioError>().is_some()
            || cause.downcast_ref::<InputError>().is_some()
            || cause
                .downcast_ref::<drydock_scenarios::trace::TraceError>()
                .is_some()
            || cause
                .downcast_ref::<SimError>()
                .is_some_and(SimError::is_input_error)
        {
            return 2;
        }
    }
    1
}

/// The error and its causes, one per line.
pub fn render_error(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str("\n  caused by: ");
            out.push_str(&c);
        }
    }
    out
}

/// Refuses to write into a non-empty directory unless `force`, and refuses a path that is a
/// file. Input error (exit 2) in both cases.
pub fn check_out_dir(out: &Path, force: bool) -> anyhow::Result<()> {
    if out.exists() {
        if !out.is_dir() {
            return Err(InputError::new(
                format!("--out {} exists and is not a directory", out.display()),
                "choose a new directory name",
            )
            .into());
        }
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(InputError::new(
                format!("--out {} is not empty; drydock will not overwrite it", out.display()),
                "choose a new directory, empty this one, or pass --force to replace drydock's files in it",
            )
            .into());
        }
    }
    Ok(())
}

/// Checks that a scenario reading trace files has a data directory, and that the directory
/// exists. Input error (exit 2) otherwise.
pub fn check_data_dir(scenario: &Scenario, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let needs_data = !scenario.traces.is_empty() || scenario.cluster.node_trace.is_some();
    if needs_data && data_dir.is_none() {
        let rel = scenario
            .traces
            .first()
            .map(|t| t.path.clone())
            .or_else(|| scenario.cluster.node_trace.as_ref().map(|n| n.path.clone()))
            .unwrap_or_default();
        return Err(InputError::new(
            format!("scenario `{}` reads trace files (such as {}) but no --data-dir was given", scenario.name, rel.display()),
            "pass --data-dir DIR (or set DRYDOCK_DATA_DIR) pointing at the folder holding the traces; the README says where to get them",
        )
        .into());
    }
    if let Some(dir) = data_dir
        && !dir.is_dir()
    {
        return Err(InputError::new(
            format!("data directory {} does not exist", dir.display()),
            "pass the folder that holds alibaba-openb/ and philly/",
        )
        .into());
    }
    Ok(())
}
