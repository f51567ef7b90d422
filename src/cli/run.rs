//! `drydock run [SCENARIO]`: run a scenario headless and print its report.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use drydock_sim::Simulation;

use super::{ChecksFailed, InputError};
use crate::{junit, openmetrics, output};

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
    /// Change one scenario field for this run, `PATH=VALUE`, with PATH relative to `spec`
    /// (`scheduler.policy=fgd`, `training[0].work=2h`). Repeatable. The value is YAML, checked
    /// like the file.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Directory that trace paths in the scenario are relative to (default: the
    /// `DRYDOCK_DATA_DIR` environment variable, when set and not empty).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Write summary.json, timeseries.csv, jobs.csv and SVG plots to this directory (must not
    /// exist or be empty, unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Allow --out to write into a non-empty directory, replacing drydock's own files there,
    /// and --junit / --metrics-out to replace an existing file drydock did not write.
    #[arg(long)]
    pub force: bool,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write a JUnit XML report of the scenario's expectations (`spec.expect`) to FILE: one
    /// test case per check. Replaces a JUnit file drydock wrote; any other existing file
    /// needs --force.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the run's time series in the OpenMetrics text format, with timestamps, to FILE
    /// (backfill a Prometheus with `promtool tsdb create-blocks-from openmetrics FILE DIR`).
    /// Replaces a file drydock wrote; any other existing file needs --force.
    #[arg(long, value_name = "FILE")]
    pub metrics_out: Option<PathBuf>,
    /// The wall-clock time (RFC 3339) that virtual time 0 maps to in --metrics-out.
    #[arg(
        long,
        value_name = "RFC3339",
        default_value = openmetrics::DEFAULT_START,
        value_parser = openmetrics::parse_rfc3339,
        requires = "metrics_out"
    )]
    pub metrics_start: i64,
}

/// Loads a scenario by built-in name or path (default: `default`) with `--set` overrides,
/// with the same checks and messages for every subcommand that runs one.
///
/// # Errors
/// Input errors (exit code 2): a bad override, `--set seed=...`, a path given twice, or a
/// scenario that does not load.
pub fn load_scenario(
    scenario: Option<&str>,
    set: &[String],
) -> anyhow::Result<drydock_scenarios::Scenario> {
    let name = scenario.unwrap_or("default");
    let overrides = set
        .iter()
        .map(|s| drydock_scenarios::Override::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, o) in overrides.iter().enumerate() {
        let path = o.path.trim().trim_start_matches("spec.");
        if path == "seed" {
            return Err(InputError::new(
                format!("--set {}: the seed is set with --seed", o.path),
                "pass --seed N instead",
            )
            .into());
        }
        if overrides[..i]
            .iter()
            .any(|p| p.path.trim().trim_start_matches("spec.") == path)
        {
            return Err(InputError::new(
                format!("--set {} is given twice", o.path),
                "give each path once",
            )
            .into());
        }
    }
    Ok(drydock_scenarios::load_with_overrides(name, &overrides)?)
}

/// Runs the scenario, prints the report with its checks and writes the requested files.
///
/// # Errors
/// Input errors (exit code 2) for a bad scenario, data directory or output path; run and I/O
/// errors (exit code 1); [`ChecksFailed`] (exit code 3) when an expectation failed, after
/// every output was written.
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    let scenario = load_scenario(args.scenario.as_deref(), &args.set)?;
    let data_dir = super::resolve_data_dir(args.data_dir.as_deref(), &scenario)?;
    if let Some(out) = &args.out {
        super::check_out_dir(out, args.force)?;
    }
    for p in args.junit.iter().chain(args.metrics_out.iter()) {
        if let Some(out) = &args.out {
            check_not_in_out(p, out, &output::OUT_FILES)?;
        }
    }
    if let Some(p) = &args.junit {
        check_report_file(p, "--junit", junit::is_drydock_report, args.force)?;
    }
    if let Some(p) = &args.metrics_out {
        check_report_file(
            p,
            "--metrics-out",
            openmetrics::is_drydock_export,
            args.force,
        )?;
        if args.junit.as_ref() == Some(p) {
            return Err(InputError::new(
                format!(
                    "--junit and --metrics-out name the same file {}",
                    p.display()
                ),
                "give each report its own file",
            )
            .into());
        }
    }

    let wall = Instant::now();
    let mut sim = Simulation::new(&scenario, data_dir.as_deref(), args.seed)
        .with_context(|| format!("cannot set up scenario `{}`", scenario.name))?;
    for w in sim.warnings() {
        eprintln!("warning: {w}");
    }
    let bar = Progress::new(std::io::stderr().is_terminal());
    sim.run(|t| bar.tick(t)).context("simulation failed")?;
    bar.finish();
    let elapsed = wall.elapsed();
    let summary = sim.summary();
    let checks = drydock_sim::check::evaluate(&scenario.expect, &summary);

    match args.format {
        Format::Table => {
            print!("{}", output::table(&summary, &scenario));
            print!("{}", output::checks_table(&checks));
        }
        Format::Json => {
            let report = output::RunReport {
                summary: &summary,
                checks: &checks,
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    let table = args.format == Format::Table;
    if let Some(out) = &args.out {
        output::write_all(out, &summary, &checks, &sim.timeseries(), &sim.jobs())
            .with_context(|| format!("cannot write results to {}", out.display()))?;
        if table {
            println!("results written to {}", out.display());
        }
    }
    if let Some(p) = &args.junit {
        if checks.is_empty() {
            eprintln!(
                "warning: scenario `{}` has no expectations (spec.expect); the JUnit report has no test cases",
                scenario.name
            );
        }
        let xml = junit::render(&summary, &scenario.source, &checks)
            .context("cannot render the JUnit report")?;
        write_file(p, |w| w.write_all(xml.as_bytes()))?;
        if table {
            println!("JUnit report written to {}", p.display());
        }
    }
    if let Some(p) = &args.metrics_out {
        let (samples, jobs) = (sim.timeseries(), sim.jobs());
        write_file(p, |w| {
            openmetrics::write(w, &summary, &samples, &jobs, args.metrics_start)
        })?;
        if table {
            println!("OpenMetrics time series written to {}", p.display());
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
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.describe())
        .collect();
    if !failed.is_empty() {
        return Err(ChecksFailed {
            failed,
            total: checks.len(),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses a report path (`--junit`, `--metrics-out`) that is one of the files drydock writes
/// into `--out` (`names`), which it would overwrite.
///
/// # Errors
/// [`InputError`] (exit code 2).
pub(crate) fn check_not_in_out(report: &Path, out: &Path, names: &[&str]) -> anyhow::Result<()> {
    let parent = match report.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let same_dir = match (std::fs::canonicalize(&parent), std::fs::canonicalize(out)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let name = report
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if same_dir && names.contains(&name) {
        return Err(InputError::new(
            format!(
                "{} is one of the files --out {} holds; drydock would overwrite it",
                report.display(),
                out.display()
            ),
            "give the report another name or put it elsewhere",
        )
        .into());
    }
    Ok(())
}

/// Refuses to replace an existing file that drydock did not write (as `is_ours` tells from its
/// first bytes) unless `force`, and refuses a directory. An empty file may be replaced.
pub(crate) fn check_report_file(
    path: &Path,
    flag: &str,
    is_ours: fn(&[u8]) -> bool,
    force: bool,
) -> anyhow::Result<()> {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(InputError::new(
                format!("{flag} {}: {e}", path.display()),
                "choose a file drydock can write",
            )
            .into());
        }
    };
    if meta.is_dir() {
        return Err(InputError::new(
            format!("{flag} {} is a directory", path.display()),
            "give a file name, for example report.xml or metrics.om",
        )
        .into());
    }
    if force {
        return Ok(());
    }
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|e| {
            InputError::new(
                format!("{flag} {}: {e}", path.display()),
                "choose a file drydock can read and write",
            )
        })?;
    if head.is_empty() || is_ours(&head) {
        return Ok(());
    }
    Err(InputError::new(
        format!(
            "{flag} {} exists and was not written by drydock; drydock will not overwrite it",
            path.display()
        ),
        "choose another file name, move this file away, or pass --force to replace it",
    )
    .into())
}

/// Writes a report file through a buffer, creating its parent directories.
pub(crate) fn write_file(
    path: &Path,
    body: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    body(&mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("cannot write {}", path.display()))
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
