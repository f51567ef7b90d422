//! `drydock run [SCENARIO]`: run a scenario headless and print its report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use drydock_sim::Simulation;

use crate::output;

/// Output format of the report on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A human-readable table.
    Table,
    /// The summary as JSON (the same as `summary.json`).
    Json,
}

/// Arguments of `drydock run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A built-in scenario name (see `drydock list`) or a scenario file. Default: the embedded
    /// `default` scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// Master seed (overrides `spec.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Directory that trace paths in the scenario are relative to.
    #[arg(long, value_name = "DIR", env = "DRYDOCK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Write summary.json, timeseries.csv, jobs.csv and SVG plots to this directory (must not
    /// exist or be empty, unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Allow --out to write into a non-empty directory, replacing drydock's own files there.
    #[arg(long)]
    pub force: bool,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs the scenario and prints the report.
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    let name = args.scenario.as_deref().unwrap_or("default");
    let scenario = drydock_scenarios::load_named_or_path(name)?;
    super::check_data_dir(&scenario, args.data_dir.as_deref())?;
    if let Some(out) = &args.out {
        super::check_out_dir(out, args.force)?;
    }

    let wall = Instant::now();
    let mut sim = Simulation::new(&scenario, args.data_dir.as_deref(), args.seed)
        .with_context(|| format!("cannot set up scenario `{}`", scenario.name))?;
    let bar = Progress::new(std::io::stdout().is_terminal() && std::io::stderr().is_terminal());
    sim.run(|t| bar.tick(t)).context("simulation failed")?;
    bar.finish();
    let elapsed = wall.elapsed();
    let summary = sim.summary();

    match args.format {
        Format::Table => print!("{}", output::table(&summary, &scenario)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
    }
    if let Some(out) = &args.out {
        output::write_all(out, &summary, &sim.timeseries(), &sim.jobs())
            .with_context(|| format!("cannot write results to {}", out.display()))?;
        if args.format == Format::Table {
            println!("results written to {}", out.display());
        }
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "simulated {} in {:.3} s wall ({:.0} events/s, {:.0}x real time)",
        drydock_core::SimDuration::from_secs_f64(summary.virtual_time_s),
        secs,
        summary.events as f64 / secs,
        summary.virtual_time_s / secs
    );
    Ok(ExitCode::SUCCESS)
}

/// A spinner on stderr that appears only once a run has taken more than a second.
struct Progress {
    enabled: bool,
    start: Instant,
    bar: std::cell::OnceCell<indicatif::ProgressBar>,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            start: Instant::now(),
            bar: std::cell::OnceCell::new(),
        }
    }

    fn tick(&self, t: drydock_core::SimTime) {
        if !self.enabled || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        bar.set_message(format!("virtual time {}", drydock_core::SimDuration(t.0)));
    }

    fn finish(&self) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
    }
}
