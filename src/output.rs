//! Rendering of a run's results: the summary table, CSV files and SVG plots.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use drydock_scenarios::Scenario;
use drydock_sim::check::CheckResult;
use drydock_sim::metrics::Sample;
use drydock_sim::report::{MetricUnit, Percentiles};
use drydock_sim::{JobRow, Summary};
use plotters::prelude::*;
use serde::Serialize;

/// What `--format json` prints and `summary.json` holds: the summary's fields, then `checks`
/// (the scenario's expectations with their measured values; empty without `spec.expect`).
#[derive(Debug, Serialize)]
pub struct RunReport<'a> {
    /// The summary, flattened: its fields come first, in their order.
    #[serde(flatten)]
    pub summary: &'a Summary,
    /// One result per expectation, in file order.
    pub checks: &'a [CheckResult],
}

/// The files `drydock run --out DIR` writes.
pub const OUT_FILES: [&str; 6] = [
    "summary.json",
    "timeseries.csv",
    "jobs.csv",
    "allocation.svg",
    "queue.svg",
    "services.svg",
];

/// A duration for humans: two units, the second zero-padded so `3h00m` and `3h30m` cannot be
/// confused (`45s`, `12m05s`, `3h00m`, `2d04h`); below a second, milliseconds.
pub fn dur(secs: f64) -> String {
    if secs <= 0.0 {
        return "0s".into();
    }
    if secs < 1.0 {
        return format!("{:.0}ms", secs * 1000.0);
    }
    let s = secs.round() as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else {
        format!("{sec}s")
    }
}

/// A request latency: milliseconds below 1 s, seconds with two decimals below a minute, then
/// as [`dur`].
pub fn lat(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0}ms", (secs * 1000.0).max(0.0))
    } else if secs < 60.0 {
        format!("{secs:.2}s")
    } else {
        dur(secs)
    }
}

fn lat_line(p: &Percentiles) -> String {
    if p.count == 0 {
        return "-".into();
    }
    format!(
        "p50 {}  p95 {}  p99 {}  mean {}  (n={})",
        lat(p.p50),
        lat(p.p95),
        lat(p.p99),
        lat(p.mean),
        p.count
    )
}

fn pct_line(p: &Percentiles) -> String {
    if p.count == 0 {
        return "-".into();
    }
    format!(
        "p50 {}  p95 {}  p99 {}  mean {}  (n={})",
        dur(p.p50),
        dur(p.p95),
        dur(p.p99),
        dur(p.mean),
        p.count
    )
}

/// The human-readable report. Deterministic: contains nothing from the wall clock.
pub fn table(s: &Summary, scenario: &Scenario) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "drydock run: {} (seed {}, policy {}, {} nodes, {} GPUs)",
        s.scenario, s.seed, s.policy, s.nodes, s.gpu.capacity
    );
    if !scenario.description.is_empty() {
        let first = scenario.description.lines().next().unwrap_or_default();
        let _ = writeln!(o, "  {first}");
    }
    let _ = writeln!(
        o,
        "virtual time {}, {} events",
        dur(s.virtual_time_s),
        s.events
    );
    if s.horizon_reached {
        let _ = writeln!(
            o,
            "warning: stopped at drydock's 10-year horizon with work left; set spec.duration to choose the window"
        );
    }
    let _ = writeln!(o);
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "  {k:<24} {v}");
    };
    let j = &s.jobs;
    let training = j.total > 0 || s.services.is_empty();
    if training {
        row(
            "jobs",
            format!(
                "{} submitted, {} completed, {} failed, {} pending, {} running",
                j.submitted, j.completed, j.failed, j.pending, j.running
            ),
        );
        if j.failed_unschedulable > 0 {
            row(
                "  unschedulable",
                format!(
                    "{} (sharing {}, whole-GPU {}, CPU-only {})",
                    j.failed_unschedulable,
                    j.failed_by_class[0],
                    j.failed_by_class[1],
                    j.failed_by_class[2]
                ),
            );
        }
        row("job completion time", pct_line(&s.jct));
        row("queueing delay", pct_line(&s.queueing_delay));
    }
    for v in &s.services {
        let d = &v.dropped;
        row(
            &format!("service {}", v.name),
            format!(
                "{} requests, {} completed, {} dropped (queue full {}, timeout {}, replica lost {}, no endpoint {}), {} in flight",
                v.requests,
                v.completed,
                d.total,
                d.queue_full,
                d.timeout,
                d.replica_lost,
                d.no_endpoint,
                v.in_flight
            ),
        );
        row("  latency", lat_line(&v.latency));
        if v.ttft.count > 0 {
            row("  time to first token", lat_line(&v.ttft));
            row("  time per output token", lat_line(&v.tpot));
        }
        row(
            "  SLO attainment",
            format!("{:.2}%", v.slo_attainment * 100.0),
        );
        row(
            "  replicas",
            format!(
                "{} at the end ({} ready), peak {}, mean {:.1}; cold start {}",
                v.replicas_end,
                v.ready_end,
                v.replicas_peak,
                v.replicas_mean,
                if v.cold_start.count > 0 {
                    format!(
                        "p50 {} p95 {}",
                        lat(v.cold_start.p50),
                        lat(v.cold_start.p95)
                    )
                } else {
                    "-".into()
                }
            ),
        );
        row(
            "  cost per 1M requests",
            format!("${:.2} (whole cluster)", v.cost_per_million_requests),
        );
    }
    let g = &s.gpu;
    row(
        "GPU allocation",
        if g.capacity_peak > g.capacity {
            format!(
                "{:.1}% time-weighted mean, peak {} GPUs (capacity {} at the end, peak {})",
                g.allocation_mean * 100.0,
                g.allocated_peak,
                g.capacity,
                g.capacity_peak
            )
        } else {
            format!(
                "{:.1}% time-weighted mean, peak {} of {} GPUs",
                g.allocation_mean * 100.0,
                g.allocated_peak,
                g.capacity
            )
        },
    );
    if !s.allocation_curve.is_empty() {
        row(
            "  at end",
            format!(
                "{:.1}% allocated with {:.0}% of capacity requested",
                if g.capacity > 0.0 {
                    g.allocated_end / g.capacity * 100.0
                } else {
                    0.0
                },
                g.arrived_over_capacity * 100.0
            ),
        );
    }
    row(
        "GPU fragmentation",
        format!(
            "{:.1}% mean, {:.1}% at end ({:.1} GPUs fragmented)",
            g.fragmentation_mean * 100.0,
            g.fragmentation_end * 100.0,
            g.fragmented_gpus_end
        ),
    );
    let f = &s.failures;
    row(
        "failures",
        format!(
            "{} node, {} GPU, {} nodes in pool outages, {} nodes in zone outages",
            f.node_failures, f.gpu_failures, f.pool_outage_nodes, f.zone_outage_nodes
        ),
    );
    row(
        "restarts",
        format!(
            "{} after failures, {} {}",
            f.restarts,
            f.preemptions,
            if f.preemptions == 1 {
                "preemption"
            } else {
                "preemptions"
            }
        ),
    );
    row(
        "GPU-hours lost",
        format!(
            "{:.1} (work since checkpoint {:.1}, held while stalled {:.1}, restart overhead {:.1})",
            f.gpu_hours_lost,
            f.lost_work_gpu_hours,
            f.idle_held_gpu_hours,
            f.restart_overhead_gpu_hours
        ),
    );
    if f.preemptions > 0 {
        row(
            "  to preemption",
            format!(
                "{:.1} GPU-hours of work, {:.1} of restart overhead",
                f.preemption_lost_gpu_hours, f.preemption_restart_overhead_gpu_hours
            ),
        );
    }
    let a = &s.autoscaling;
    let hpa: Vec<_> = a.decisions.iter().filter(|d| d.actor == "hpa").collect();
    if !hpa.is_empty() {
        row(
            "HPA",
            format!(
                "{} scale-ups, {} scale-downs (every decision with its reason: summary.json)",
                hpa.iter().filter(|d| d.to > d.from).count(),
                hpa.iter().filter(|d| d.to < d.from).count()
            ),
        );
    }
    if a.nodes_registered + a.nodes_deleted + a.provision_failures + a.spot_interruptions > 0
        || a.decisions.iter().any(|d| d.actor != "hpa")
    {
        let ups = a
            .decisions
            .iter()
            .filter(|d| d.actor == "cluster-autoscaler" && d.to > d.from)
            .count();
        let downs = a
            .decisions
            .iter()
            .filter(|d| d.actor == "cluster-autoscaler" && d.to < d.from)
            .count();
        row(
            "cluster autoscaler",
            format!(
                "{ups} scale-ups, {downs} scale-downs; {} nodes added, {} removed, {} never came",
                a.nodes_registered, a.nodes_deleted, a.provision_failures
            ),
        );
        if a.provisioning_time.count > 0 {
            row("  provisioning time", pct_line(&a.provisioning_time));
        }
        if a.spot_interruptions > 0 || a.scale_down_evictions > 0 {
            row(
                "  disruptions",
                format!(
                    "{} spot interruptions ({} workloads evicted), {} evicted by scale-down",
                    a.spot_interruptions, a.spot_evictions, a.scale_down_evictions
                ),
            );
        }
    }
    let c = &s.cost;
    row("node-hours", format!("{:.1}", c.node_hours));
    row("cost", format!("${:.2} (${:.2}/hour)", c.total, c.per_hour));
    for p in &c.pools {
        row(
            &format!("  {}", p.pool),
            if p.peak_nodes == p.nodes {
                format!(
                    "{} nodes, {:.1} node-h x ${:.2} = ${:.2}",
                    p.nodes, p.node_hours, p.price_per_node_hour, p.cost
                )
            } else {
                format!(
                    "{} nodes at the end (peak {}), {:.1} node-h x ${:.2} = ${:.2}",
                    p.nodes, p.peak_nodes, p.node_hours, p.price_per_node_hour, p.cost
                )
            },
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  event log sha256 {}", s.event_log_sha256);
    o
}

/// The checks section of the human-readable report: a count, then one line per check with
/// PASS or FAIL and the measured value in the metric's unit. Empty without checks.
pub fn checks_table(checks: &[CheckResult]) -> String {
    let mut o = String::new();
    if checks.is_empty() {
        return o;
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    let verdict = if failed == 0 {
        format!("{} of {} passed", checks.len(), checks.len())
    } else {
        format!("{failed} of {} FAILED", checks.len())
    };
    let _ = writeln!(o);
    let _ = writeln!(o, "  {:<24} {verdict}", "checks");
    let width = checks
        .iter()
        .map(|c| c.check.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for c in checks {
        let _ = writeln!(
            o,
            "    {}  {:<width$}  measured {}",
            c.verdict(),
            c.check,
            c.measured_text
        );
    }
    o
}

/// Writes `summary.json` (the summary and its checks, as [`RunReport`]), `timeseries.csv`,
/// `jobs.csv`, `allocation.svg` and `queue.svg`.
///
/// # Errors
/// I/O errors, with the path.
pub fn write_all(
    out: &Path,
    s: &Summary,
    checks: &[CheckResult],
    samples: &[Sample],
    jobs: &[JobRow],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // With --force, drydock replaces its own files; a symbolic link in their place is removed
    // first so the write never lands outside the directory.
    for name in OUT_FILES {
        let p = out.join(name);
        if p.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            std::fs::remove_file(&p).with_context(|| format!("cannot replace {}", p.display()))?;
        }
    }
    let p = out.join("summary.json");
    let report = RunReport { summary: s, checks };
    std::fs::write(&p, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", p.display()))?;
    let p = out.join("timeseries.csv");
    std::fs::write(&p, timeseries_csv(samples)?)
        .with_context(|| format!("cannot write {}", p.display()))?;
    let p = out.join("jobs.csv");
    let mut w =
        csv::Writer::from_path(&p).with_context(|| format!("cannot write {}", p.display()))?;
    for r in jobs {
        w.serialize(r)?;
    }
    w.flush()?;
    plot(
        &out.join("allocation.svg"),
        "GPU allocation",
        "allocated GPUs",
        samples,
        |r| r.allocated_gpus,
        Some(s.gpu.capacity),
    )?;
    plot(
        &out.join("queue.svg"),
        "Scheduling queue",
        "pending pods",
        samples,
        |r| r.pending_pods as f64,
        None,
    )?;
    if !s.services.is_empty() {
        plot_services(&out.join("services.svg"), s, samples)?;
    }
    Ok(())
}

/// `timeseries.csv`: the fixed columns of [`Sample`], then its extra columns (nodes per pool,
/// per-service traffic, replicas, latency and SLO attainment), named in the header.
///
/// # Errors
/// Serialization errors (none in practice: every field is a number).
pub fn timeseries_csv(samples: &[Sample]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in samples {
        w.serialize(r)?;
    }
    let fixed = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = String::from_utf8(fixed)?;
    let mut out = String::with_capacity(text.len() * 2);
    for (i, line) in text.lines().enumerate() {
        out.push_str(line);
        // Line 0 is the header; line k holds sample k - 1. Every value is a number, so
        // appending needs no quoting.
        let extra = match i {
            0 => samples
                .first()
                .map(|r| r.extra.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()),
            _ => samples
                .get(i - 1)
                .map(|r| r.extra.iter().map(|(_, v)| v.to_string()).collect()),
        };
        for v in extra.unwrap_or_default() {
            out.push(',');
            out.push_str(&v);
        }
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// `services.svg`: per service, requests per second, ready replicas and p99 latency against
/// the latency SLO, over time (three panels).
fn plot_services(path: &Path, s: &Summary, samples: &[Sample]) -> anyhow::Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    let root = SVGBackend::new(path, (900, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((3, 1));
    let col = |name: &str| -> Vec<(f64, f64)> {
        samples
            .iter()
            .filter_map(|r| {
                r.extra
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| (r.time_s / 3600.0, *v))
            })
            .collect()
    };
    let x_max = samples
        .iter()
        .map(|r| r.time_s / 3600.0)
        .fold(0.0, f64::max)
        .max(1e-3);
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    let specs: [(&str, &str, &str); 3] = [
        ("requests_per_s", "Traffic", "requests/s"),
        ("ready_replicas", "Ready replicas", "replicas"),
        ("latency_p99_s", "p99 latency (dashed: SLO)", "seconds"),
    ];
    for (panel, (suffix, title, y_label)) in panels.iter().zip(specs) {
        let series: Vec<(String, Vec<(f64, f64)>)> = s
            .services
            .iter()
            .map(|v| (v.name.clone(), col(&format!("{}_{suffix}", v.name))))
            .collect();
        let slo_max = if suffix == "latency_p99_s" {
            s.services
                .iter()
                .filter_map(|v| v.latency_slo_s)
                .fold(0.0, f64::max)
        } else {
            0.0
        };
        let y_max = series
            .iter()
            .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
            .fold(slo_max, f64::max)
            .max(1e-3)
            * 1.05;
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("virtual time (hours)")
            .y_desc(y_label)
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (name, pts)) in series.into_iter().enumerate() {
            let c = colors[i % colors.len()];
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
            if suffix == "latency_p99_s"
                && let Some(slo) = s.services[i].latency_slo_s
            {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(0.0, slo), (x_max, slo)],
                        6,
                        4,
                        c.mix(0.7).stroke_width(1),
                    ))
                    .map_err(|e| err(&e))?;
            }
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

fn plot(
    path: &Path,
    title: &str,
    y_label: &str,
    samples: &[Sample],
    y: impl Fn(&Sample) -> f64,
    ceiling: Option<f64>,
) -> anyhow::Result<()> {
    let hours: Vec<(f64, f64)> = samples.iter().map(|r| (r.time_s / 3600.0, y(r))).collect();
    let x_max = hours.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-3);
    let y_max = hours
        .iter()
        .map(|p| p.1)
        .fold(ceiling.unwrap_or(0.0), f64::max)
        .max(1.0)
        * 1.05;
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("virtual time (hours)")
        .y_desc(y_label)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(c) = ceiling {
        chart
            .draw_series(LineSeries::new(vec![(0.0, c), (x_max, c)], RED.mix(0.6)))
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .label("capacity")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    // Step plot: each sample holds until the next.
    let mut steps = Vec::with_capacity(hours.len() * 2);
    for (i, &(x, v)) in hours.iter().enumerate() {
        if i > 0 {
            steps.push((x, hours[i - 1].1));
        }
        steps.push((x, v));
    }
    chart
        .draw_series(LineSeries::new(steps, BLUE.stroke_width(2)))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .label(y_label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// The name of a metric unit as written in CSV files (`seconds`, `ratio`, `gpu-hours`...).
pub fn unit_name(unit: MetricUnit) -> &'static str {
    match unit {
        MetricUnit::Count => "count",
        MetricUnit::Seconds => "seconds",
        MetricUnit::Ratio => "ratio",
        MetricUnit::Gpus => "gpus",
        MetricUnit::GpuHours => "gpu-hours",
        MetricUnit::Hours => "hours",
        MetricUnit::Dollars => "dollars",
        MetricUnit::DollarsPerHour => "dollars-per-hour",
    }
}

/// A metric value for a table: durations as `3h46m`, ratios as percentages, money with `$`.
/// `spread` formats a difference or half-width (no sign, counts with one decimal).
pub fn format_metric(unit: MetricUnit, v: f64, spread: bool) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    match unit {
        MetricUnit::Count => {
            if v.fract() == 0.0 && (!spread || v == 0.0) {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        }
        MetricUnit::Seconds => {
            let f = |x: f64| if x < 60.0 { lat(x) } else { dur(x) };
            if v < 0.0 { format!("-{}", f(-v)) } else { f(v) }
        }
        MetricUnit::Ratio => format!("{:.1}%", v * 100.0),
        MetricUnit::Gpus | MetricUnit::GpuHours | MetricUnit::Hours => format!("{v:.1}"),
        MetricUnit::Dollars => {
            if v < 0.0 {
                format!("-${:.2}", -v)
            } else {
                format!("${v:.2}")
            }
        }
        MetricUnit::DollarsPerHour => {
            if v < 0.0 {
                format!("-${:.2}/h", -v)
            } else {
                format!("${v:.2}/h")
            }
        }
    }
}

/// One bar of a bar chart: a label, a value and an optional interval drawn as an error bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Label under the bar.
    pub label: String,
    /// Height.
    pub value: f64,
    /// Interval (low, high) drawn as an error bar.
    pub interval: Option<(f64, f64)>,
}

/// One panel of [`bar_panels`].
#[derive(Debug, Clone)]
pub struct Panel {
    /// Caption.
    pub title: String,
    /// Y-axis label (with unit).
    pub y_label: String,
    /// Scale applied to values for display (for example 100 for ratios shown as %).
    pub scale: f64,
    /// The bars.
    pub bars: Vec<Bar>,
}

fn plot_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw plot: {e}")
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// A grid of bar charts (two rows) with error bars, written as SVG to `path`.
///
/// # Errors
/// I/O and drawing errors.
pub fn bar_panels(path: &Path, title: &str, panels: &[Panel]) -> anyhow::Result<()> {
    let cols = panels.len().div_ceil(2).max(1);
    let width = (cols as u32 * 380).max(600);
    let root = SVGBackend::new(path, (width, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(plot_err)?;
    let areas = root.split_evenly((2, cols));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        let n = panel.bars.len().max(1);
        let top = panel
            .bars
            .iter()
            .map(|b| b.interval.map_or(b.value, |(_, h)| h.max(b.value)) * panel.scale)
            .fold(0.0, f64::max);
        let bottom = panel
            .bars
            .iter()
            .map(|b| b.interval.map_or(b.value, |(l, _)| l.min(b.value)) * panel.scale)
            .fold(0.0, f64::min);
        let y_max = if top > 0.0 { top * 1.1 } else { 1.0 };
        let y_min = if bottom < 0.0 { bottom * 1.1 } else { 0.0 };
        let labels: Vec<String> = panel.bars.iter().map(|b| b.label.clone()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), y_min..y_max)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(panel.y_label.as_str())
            .draw()
            .map_err(plot_err)?;
        for (i, b) in panel.bars.iter().enumerate() {
            let x = i as f64;
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.35, 0.0), (x + 0.35, b.value * panel.scale)],
                    color.mix(0.8).filled(),
                )))
                .map_err(plot_err)?;
            if let Some((lo, hi)) = b.interval {
                let (lo, hi) = (lo * panel.scale, hi * panel.scale);
                chart
                    .draw_series(
                        [
                            vec![(x, lo), (x, hi)],
                            vec![(x - 0.12, lo), (x + 0.12, lo)],
                            vec![(x - 0.12, hi), (x + 0.12, hi)],
                        ]
                        .into_iter()
                        .map(|pts| PathElement::new(pts, BLACK.stroke_width(2))),
                    )
                    .map_err(plot_err)?;
            }
        }
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// A line chart with one line per series, written as SVG to `path`. X and y ranges are
/// given; series are `(name, points)`.
///
/// # Errors
/// I/O and drawing errors.
pub fn line_chart(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    (x_max, y_max): (f64, f64),
    series: &[(String, Vec<(f64, f64)>)],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(plot_err)?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(plot_err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}
