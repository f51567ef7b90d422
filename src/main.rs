//! `drydock`: a local-first simulator and testbed for ML workloads on Kubernetes.
//!
//! Subcommands live in [`cli`], one module each with an `Args` struct and a `cmd` function.
//! Exit codes: 0 success, 1 failure, 2 bad input (usage, scenario, trace), 3 a scenario
//! expectation failed.

mod cli;
mod junit;
mod openmetrics;
mod output;
mod stats;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Local-first simulator and testbed for ML workloads on Kubernetes.
///
/// Runs GPU clusters with gang-scheduled training, failures and real public traces in virtual
/// time, deterministically from a seed.
#[derive(Parser, Debug)]
#[command(name = "drydock", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario headless and print its report.
    Run(cli::run::Args),
    /// Run a scenario live in the terminal: watch, pause, step, fail nodes, go back in time.
    Tui(cli::tui::Args),
    /// List the built-in scenarios.
    List(cli::list::Args),
    /// Check scenario files without running them.
    Validate(cli::validate::Args),
    /// Print the JSON Schema of scenario files (for editor completion).
    Schema(cli::schema::Args),
    /// Run a scenario over seeds and settings in parallel (or on a Kubernetes cluster); mean and
    /// 95% interval per variant.
    Sweep(Box<cli::sweep::Args>),
    /// Reproduce a published experiment (`fgd`: the FGD study on the Alibaba openb traces).
    Experiment(cli::experiment::Args),
    /// Compare two run reports (summary.json) side by side.
    Compare(cli::compare::Args),
    /// A local Kubernetes control plane without Docker: up, down, status.
    Cluster(cli::cluster::Args),
    /// Run a scenario on a real Kubernetes cluster (fake GPU nodes, drydock as the scheduler)
    /// and compare it with the simulator.
    Real(cli::real::Args),
    /// Run one run of a sweep rendered with --on-kubernetes (inside the Job's pods).
    #[command(hide = true)]
    SweepWorker(cli::sweep::WorkerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match &cli.command {
        Command::Run(a) => cli::run::cmd(a),
        Command::Tui(a) => cli::tui::cmd(a),
        Command::List(a) => cli::list::cmd(a),
        Command::Validate(a) => cli::validate::cmd(a),
        Command::Schema(a) => cli::schema::cmd(a),
        Command::Sweep(a) => cli::sweep::cmd(a),
        Command::Experiment(a) => cli::experiment::cmd(a),
        Command::Compare(a) => cli::compare::cmd(a),
        Command::Cluster(a) => cli::cluster::cmd(a),
        Command::Real(a) => cli::real::cmd(a),
        Command::SweepWorker(a) => cli::sweep::worker(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::render_error(&e));
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

/// One subscriber for the whole binary: compact, no wall-clock timestamps, to stderr,
/// filtered by `RUST_LOG` (default `warn`, with kube-rs's client quiet: drydock reports each
/// failed request itself, with a hint, and kube-rs would log it a second time). Colour only
/// when stderr is a terminal and `NO_COLOR` is unset.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,kube_client=off"));
    let color = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
        .without_time()
        .compact()
        .with_writer(std::io::stderr)
        .try_init();
}
