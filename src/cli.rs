//! Subcommands and the error-to-exit-code mapping shared by all of them.

pub mod list;
pub mod run;
pub mod schema;
pub mod validate;

use drydock_scenarios::ScenarioError;
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

/// One or more of the scenario's expectations (`spec.expect`) failed. The run itself went
/// fine and every output was written. Exit code 3.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} of {total} expectation(s) failed: {}",
    failed.len(),
    failed.join("; ")
)]
pub struct ChecksFailed {
    /// Each failed check with its measured value (`jct_p95 <= 4h: measured 6h11m`).
    pub failed: Vec<String>,
    /// Number of checks.
    pub total: usize,
}

/// Exit code for an error: 3 when expectations failed, 2 for input errors anywhere in the
/// chain, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain()
        .any(|c| c.downcast_ref::<ChecksFailed>().is_some())
    {
        return 3;
    }
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
