//! `drydock schema`: the JSON Schema of scenario files.

use std::process::ExitCode;

/// Arguments of `drydock schema`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Prints the schema as pretty JSON.
pub fn cmd(_args: &Args) -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&drydock_scenarios::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
