//! Subcommands and the error-to-exit-code mapping shared by all of them.

pub mod cluster;
pub mod compare;
pub mod experiment;
pub mod list;
pub mod real;
pub mod run;
pub mod schema;
pub mod sweep;
pub mod tui;
pub mod validate;

use std::path::{Path, PathBuf};

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

/// The data directory: `--data-dir`, else `DRYDOCK_DATA_DIR` when set and not empty. Checked
/// only when the scenario reads trace files.
///
/// # Errors
/// [`InputError`] when traces are needed and no directory is given, or it is not a directory.
pub fn resolve_data_dir(
    flag: Option<&Path>,
    scenario: &Scenario,
) -> anyhow::Result<Option<PathBuf>> {
    let needs_data = !scenario.traces.is_empty() || scenario.cluster.node_trace.is_some();
    let dir = flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("DRYDOCK_DATA_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if !needs_data {
        return Ok(dir);
    }
    let Some(dir) = dir else {
        let rel = scenario
            .traces
            .first()
            .map(|t| t.path.clone())
            .or_else(|| scenario.cluster.node_trace.as_ref().map(|n| n.path.clone()))
            .unwrap_or_default();
        return Err(InputError::new(
            format!(
                "scenario `{}` reads trace files (such as {}) but no --data-dir was given",
                scenario.name,
                rel.display()
            ),
            "pass --data-dir DIR (or set DRYDOCK_DATA_DIR) pointing at the folder holding the traces; the README says where to get them",
        )
        .into());
    };
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(InputError::new(
            format!("data directory {} {what}", dir.display()),
            "pass the folder that holds alibaba-openb/ and philly/",
        )
        .into());
    }
    Ok(Some(dir))
}

/// Makes sure results can be written to `out` before the run starts: refuses a path that is a
/// file, and a non-empty directory unless `force`; creates the directory if needed.
///
/// # Errors
/// [`InputError`] (exit code 2) for each of those cases, or when the directory cannot be
/// created.
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
            .map_err(|e| {
                InputError::new(
                    format!("cannot read --out {}: {e}", out.display()),
                    "choose a directory you can write to",
                )
            })?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(InputError::new(
                format!("--out {} is not empty; drydock will not overwrite it", out.display()),
                "choose a new directory, empty this one, or pass --force to replace drydock's files in it",
            )
            .into());
        }
    } else if out.symlink_metadata().is_ok() {
        return Err(InputError::new(
            format!("--out {} is a dangling symbolic link", out.display()),
            "choose a new directory name",
        )
        .into());
    }
    std::fs::create_dir_all(out).map_err(|e| {
        InputError::new(
            format!("cannot create --out {}: {e}", out.display()),
            "choose a directory you can write to",
        )
    })?;
    // Probe that the directory is writable now rather than after a long run.
    let probe = out.join(".drydock-write-test");
    std::fs::write(&probe, b"").map_err(|e| {
        InputError::new(
            format!("cannot write to --out {}: {e}", out.display()),
            "choose a directory you can write to",
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Checks that the data directory the scenario needs is given and exists.
///
/// # Errors
/// As [`resolve_data_dir`].
pub fn check_data_dir(scenario: &Scenario, data_dir: Option<&Path>) -> anyhow::Result<()> {
    resolve_data_dir(data_dir, scenario).map(|_| ())
}
