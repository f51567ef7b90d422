//! `drydock tui [SCENARIO]`: run a scenario live in the terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::InputError;

/// Arguments of `drydock tui`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A built-in scenario name (see `drydock list`) or a scenario file. Default: the embedded
    /// `default` scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// Master seed (overrides `spec.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Change one scenario field for this run, `PATH=VALUE`, as in `drydock run`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Directory that trace paths in the scenario are relative to (default: the
    /// `DRYDOCK_DATA_DIR` environment variable, when set and not empty).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A/B view: run the scenario a second time, same seed, with this one setting changed
    /// (`scheduler.policy=fgd`), side by side and in step.
    #[arg(long, value_name = "PATH=VALUE")]
    pub compare: Option<String>,
}

/// Loads the scenario exactly as `drydock run` does, then runs the terminal UI.
///
/// # Errors
/// The same input errors as `drydock run` (exit code 2); an input error when stdout is not a
/// terminal; terminal I/O errors (exit code 1).
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    let scenario = super::run::load_scenario(args.scenario.as_deref(), &args.set)?;
    let data_dir = super::resolve_data_dir(args.data_dir.as_deref(), &scenario)?;
    let scenario_b = match &args.compare {
        Some(c) => {
            let mut set = args.set.clone();
            set.push(c.clone());
            Some((
                super::run::load_scenario(args.scenario.as_deref(), &set)
                    .with_context(|| format!("--compare {c}"))?,
                c.clone(),
            ))
        }
        None => None,
    };
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(InputError::new(
            "drydock tui needs an interactive terminal, but stdin or stdout is not one",
            "run it in a terminal; for a headless run use `drydock run`",
        )
        .into());
    }
    let name = scenario.name.clone();
    let driver = drydock_tui::Driver::new(scenario, data_dir.clone(), args.seed)
        .with_context(|| format!("cannot set up scenario `{name}`"))?;
    let compare = match scenario_b {
        Some((b, label)) => Some(drydock_tui::Compare {
            driver: drydock_tui::Driver::new(b, data_dir.clone(), args.seed).with_context(
                || format!("cannot set up scenario `{name}` with --compare {label}"),
            )?,
            label_a: "base".to_string(),
            label_b: label,
        }),
        None => None,
    };
    drydock_tui::run(driver, compare).context("terminal error")?;
    Ok(ExitCode::SUCCESS)
}
