//! `drydock real SCENARIO`: run a scenario on a real Kubernetes cluster (fake GPU nodes, drydock
//! as the scheduler), then print its report beside the simulator's for the same scenario and
//! seed.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use drydock_core::SimDuration;
use drydock_real_cluster::session::{self, RealOptions};
use drydock_real_cluster::{RealError, TimeScale};
use drydock_sim::Simulation;

use super::InputError;
use crate::output;

/// Arguments of `drydock real`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A built-in scenario name (see `drydock list`) or a scenario file. Default: the embedded
    /// `default` scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// The cluster's kubeconfig (default: `KUBECONFIG`, then `~/.kube/config`). `drydock
    /// cluster up` writes one for the local control plane.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// How many times faster than the scenario's clock the wall clock runs: scenario time t
    /// happens t/N after the start (60: an hour of scenario in a minute).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 60.0,
        allow_negative_numbers = true
    )]
    pub time_scale: f64,
    /// Directory that trace paths in the scenario are relative to (default: the
    /// `DRYDOCK_DATA_DIR` environment variable, when set and not empty).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Master seed (overrides `spec.seed`); the simulator's run beside uses the same.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Change one scenario field for this run, `PATH=VALUE` (as `drydock run --set`).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Allow a kubeconfig whose server is not on this machine (loopback). drydock creates fake
    /// nodes (tainted so that only its own pods land there) and pods in its own namespace, and
    /// removes them at the end.
    #[arg(long)]
    pub allow_remote: bool,
    /// drydock's namespace (default `drydock-<run id>`). An existing namespace must carry
    /// drydock's label; it is deleted at the end if this run created it.
    #[arg(long, value_name = "NS", allow_hyphen_values = true)]
    pub namespace: Option<String>,
    /// Write the real run's `summary.json` and `jobs.csv` to DIR/real/ and the simulator's
    /// outputs to DIR/sim/ (compare them later with `drydock compare DIR/sim DIR/real`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Allow --out to write into a non-empty directory.
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for the fake nodes to become Ready.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub ready_timeout: u64,
}

/// An error of the real-cluster crate, as an input error (exit code 2) when it is one.
pub(crate) fn real_error(e: RealError) -> anyhow::Error {
    if e.is_input_error() {
        InputError {
            message: e.to_string(),
            hint: None,
        }
        .into()
    } else {
        e.into()
    }
}

/// Runs the scenario on the cluster and prints both reports.
///
/// # Errors
/// Input errors (exit code 2): scenario, data directory, `--time-scale`, `--out`, kubeconfig,
/// a remote server without `--allow-remote`, an object drydock does not own in the way.
/// Cluster errors (exit code 1): unreachable, credentials, missing RBAC permissions.
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    let scenario = super::run::load_scenario(args.scenario.as_deref(), &args.set)?;
    let data_dir = super::resolve_data_dir(args.data_dir.as_deref(), &scenario)?;
    let scale = TimeScale::new(args.time_scale).map_err(|e| {
        InputError::new(
            e.to_string(),
            "60 runs an hour of scenario time in a minute",
        )
    })?;
    if let Some(ns) = &args.namespace
        && drydock_real_cluster::names::dns_label(ns, 63) != *ns
    {
        return Err(InputError::new(
            format!("--namespace {ns} is not a valid namespace name"),
            "use lowercase letters, digits and '-', at most 63 characters",
        )
        .into());
    }
    if let Some(out) = &args.out {
        super::check_out_dir(out, args.force)?;
    }
    // The simulator's run first: it is fast, and its errors are input errors.
    let mut sim = Simulation::new(&scenario, data_dir.as_deref(), args.seed)
        .with_context(|| format!("cannot set up scenario `{}`", scenario.name))?;
    for w in sim.warnings() {
        eprintln!("warning: {w}");
    }
    sim.run(|_| {}).context("simulation failed")?;
    let mut sim_summary = sim.summary();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut options = RealOptions::new(scale);
    options.seed = args.seed;
    options.data_dir = data_dir.clone();
    options.namespace = args.namespace.clone();
    options.ready_timeout = std::time::Duration::from_secs(args.ready_timeout);
    let run = drydock_real_cluster::names::new_run_id();
    options.run = Some(run.clone());
    let report = runtime.block_on(async {
        let (client, server) = session::connect(args.kubeconfig.as_deref(), args.allow_remote)
            .await
            .map_err(real_error)?;
        let horizon = scenario
            .duration
            .map(|d| format!("{} of scenario time, about {} wall", d, output::dur(scale.wall(d).as_secs_f64())))
            .unwrap_or_else(|| "until every job ends".to_string());
        eprintln!(
            "drydock real: scenario `{}` on {server} at {}x ({horizon}); Ctrl-C (or SIGTERM) stops and cleans up",
            scenario.name,
            scale.factor()
        );
        let cancel = async {
            let name = stop_signal().await;
            eprintln!("\n{name}: removing drydock's objects (send it again to exit at once, leaving them)...");
            // A second signal while the cleanup waits on a server that does not answer.
            let selector = drydock_real_cluster::names::run_selector(&run);
            let first = std::time::Instant::now();
            tokio::spawn(async move {
                // `timeout` and some shells signal both the process and its group: copies of
                // the first signal arriving within a second are the same request.
                let name = loop {
                    let name = stop_signal().await;
                    if first.elapsed() >= std::time::Duration::from_secs(1) {
                        break name;
                    }
                };
                eprintln!("{name} again: exiting without cleaning up; objects labelled {selector} (nodes, Leases, pods, the namespace) may be left");
                std::process::exit(130);
            });
        };
        session::run(client, &server, &scenario, &options, cancel)
            .await
            .map_err(real_error)
    })?;

    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if report.interrupted {
        // Compare like with like: the simulator's run, stopped where the real one was.
        let mut cut = scenario.clone();
        cut.duration = Some(SimDuration::from_secs_f64(report.summary.virtual_time_s));
        let mut short = Simulation::new(&cut, data_dir.as_deref(), args.seed)
            .with_context(|| format!("cannot set up scenario `{}`", scenario.name))?;
        short.run(|_| {}).context("simulation failed")?;
        sim_summary = short.summary();
        sim = short;
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    println!(
        "== real cluster (run {}, namespace {}) ==",
        report.run, report.namespace
    );
    print!("{}", output::table(&report.summary, &scenario));
    // The scenario's expectations, measured on the real run (informative: the exit code stays
    // that of the run; `drydock run` is the gate).
    let real_checks = drydock_sim::check::evaluate(&scenario.expect, &report.summary);
    print!("{}", output::checks_table(&real_checks));
    println!();
    println!("== simulator vs real cluster ==");
    if report.interrupted {
        println!(
            "(interrupted at {} of scenario time: the simulator's run is stopped there too)",
            SimDuration::from_secs_f64(report.summary.virtual_time_s)
        );
    }
    print!(
        "{}",
        super::compare::table(
            &sim_summary,
            &report.summary,
            "simulator",
            "real cluster",
            color
        )
    );
    let o = &report.observations;
    println!(
        "real cluster: {} binds ({} already bound), {} failed binds, {} scheduling cycles; {} pods found over-committing their node, {} pods bound twice",
        o.binds,
        o.bind_conflicts,
        o.bind_errors,
        o.cycles,
        o.overcommitted.len(),
        o.rebound.len()
    );
    // A time scale the driver cannot keep up with: each tick covers so much scenario time that
    // decisions come late and the run says little.
    let per_cycle = report.summary.virtual_time_s / o.cycles.max(1) as f64;
    if per_cycle > 600.0 {
        println!(
            "real cluster: warning: {} scheduling cycles over {} of scenario time, one every {} on average: at {}x the driver cannot keep up, so decisions come late; lower --time-scale for results comparable with the simulator",
            o.cycles,
            SimDuration::from_secs_f64(report.summary.virtual_time_s),
            SimDuration::from_secs_f64(per_cycle),
            scale.factor()
        );
    }
    if o.ticks_failed > 0 || o.pod_ops_retried > 0 || o.gangs_adopted > 0 {
        println!(
            "real cluster: {} driver ticks failed and were retried, {} pod operations retried, {} gangs found bound after a lost bind response",
            o.ticks_failed, o.pod_ops_retried, o.gangs_adopted
        );
    }
    if !report.api_outages.is_empty() {
        let spells: Vec<String> = report
            .api_outages
            .iter()
            .map(|a| format!("{:.1}s at {:.1}s", a.duration.as_secs_f64(), a.start_s))
            .collect();
        println!(
            "real cluster: the API server was unreachable or not ready for {:.1}s in all ({}); the run went on",
            drydock_real_cluster::session::total_outage(&report.api_outages).as_secs_f64(),
            spells.join(", ")
        );
    }
    let detected: Vec<String> = o
        .detections
        .iter()
        .map(|d| match d.delay() {
            Some(x) => format!("{} after {x}", d.node),
            None => format!(
                "{} not noticed before it was repaired or the run ended",
                d.node
            ),
        })
        .collect();
    if !detected.is_empty() {
        let grace = scenario.node_lifecycle.node_monitor_grace_period;
        println!(
            "real cluster: node failures noticed by the control plane (scenario time): {}; the simulator notices them after the scenario's nodeMonitorGracePeriod, {grace}",
            detected.join(", ")
        );
        // The controller-manager counts its grace period in wall seconds: at N× it is N times
        // longer in scenario time, which changes what the failure costs.
        let slow = o.detections.iter().any(|d| {
            d.delay()
                .is_none_or(|x| x.0 > grace.0.saturating_mul(2).saturating_add(30_000_000))
        });
        if slow {
            let want = grace.as_secs_f64() / args.time_scale;
            if want >= 1.0 {
                println!(
                    "  the controller-manager's --node-monitor-grace-period is wall time; for the two to agree at --time-scale {}, start the control plane with it near {want:.1}s (the scenario's divided by the time scale), e.g. `drydock cluster up --node-monitor-grace-period {want:.0}s --node-monitor-period 1s`",
                    args.time_scale
                );
            } else {
                // Below a second or two the fake kubelet's Lease renewals and the node
                // monitor's period leave no margin.
                println!(
                    "  the controller-manager's --node-monitor-grace-period is wall time; at --time-scale {} the two would agree only with {want:.2}s, too short for a control plane: run at --time-scale {:.0} or lower with `drydock cluster up --node-monitor-grace-period 2s --node-monitor-period 500ms`",
                    args.time_scale,
                    (grace.as_secs_f64() / 2.0).max(1.0)
                );
            }
        }
    }
    if !report.summary.services.is_empty() {
        let decisions = |s: &drydock_sim::Summary| {
            s.autoscaling
                .decisions
                .iter()
                .filter(|d| d.actor == "hpa")
                .map(|d| format!("{:.0}s {} {}→{}", d.time_s, d.target, d.from, d.to))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "real cluster: {} HPA syncs, {} scale writes retried",
            o.hpa_syncs.len(),
            o.scale_errors
        );
        println!("HPA decisions, simulator:    {}", decisions(&sim_summary));
        println!(
            "HPA decisions, real cluster: {}",
            decisions(&report.summary)
        );
    }
    if let Some(out) = &args.out {
        let real_dir = out.join("real");
        std::fs::create_dir_all(&real_dir)
            .with_context(|| format!("cannot create {}", real_dir.display()))?;
        let json = serde_json::to_string_pretty(&report.summary)?;
        std::fs::write(real_dir.join("summary.json"), json)
            .with_context(|| format!("cannot write {}", real_dir.display()))?;
        let p = real_dir.join("jobs.csv");
        let mut w =
            csv::Writer::from_path(&p).with_context(|| format!("cannot write {}", p.display()))?;
        for r in &report.jobs {
            w.serialize(r)?;
        }
        w.flush()?;
        let sim_dir = out.join("sim");
        let checks = drydock_sim::check::evaluate(&scenario.expect, &sim_summary);
        output::write_all(
            &sim_dir,
            &sim_summary,
            &checks,
            &sim.timeseries(),
            &sim.jobs(),
        )
        .with_context(|| format!("cannot write {}", sim_dir.display()))?;
        println!("results written to {}", out.display());
    }
    for e in &report.cleanup_errors {
        eprintln!("warning: cleanup: {e}");
    }
    if report.interrupted {
        eprintln!(
            "interrupted at {} of scenario time",
            SimDuration::from_secs_f64(report.summary.virtual_time_s)
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C (SIGINT), SIGTERM or SIGHUP (what `kill`, `timeout` and CI runners send,
/// and a closed terminal) and returns the signal's name. Where a handler cannot be installed,
/// waits for Ctrl-C alone.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupted",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "interrupted"
}
