//! `drydock list`: the built-in scenarios.

use std::process::ExitCode;

/// Arguments of `drydock list`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Prints one line per built-in scenario.
pub fn cmd(_args: &Args) -> anyhow::Result<ExitCode> {
    let builtins = drydock_scenarios::builtins();
    let width = builtins.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in builtins {
        let data = if b.needs_data {
            "  (needs --data-dir)"
        } else {
            ""
        };
        println!("{:width$}  {}{}", b.name, b.description, data);
    }
    Ok(ExitCode::SUCCESS)
}
