//! A sweep's results: per-variant statistics, the console table, JSON, CSV files and plots.
//! Everything here is a pure function of the plan and the per-run summaries, so the same
//! sweep gives byte-identical output whether it ran locally or on a cluster.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use drydock_scenarios::Override;
use drydock_sim::Summary;
use drydock_sim::report::MetricUnit;
use serde::Serialize;

use super::plan::Plan;
use crate::output::{self, Bar, Panel, format_metric, unit_name};
use crate::stats::Estimate;

/// The metrics plotted in `sweep.svg`.
pub const PLOTTED: [&str; 6] = [
    "jct_p95",
    "queueing_delay_p95",
    "gpu_allocation_mean",
    "fragmentation_mean",
    "gpu_hours_lost",
    "cost_total",
];

/// Statistics of one metric over a variant's seeds.
#[derive(Debug, Clone, Serialize)]
pub struct MetricStats {
    /// Metric name (`jct_p95`).
    pub name: &'static str,
    /// Unit.
    pub unit: MetricUnit,
    /// What it measures.
    pub help: &'static str,
    /// Mean and confidence interval.
    #[serde(flatten)]
    pub estimate: Estimate,
    /// Lower end of the 95 % interval (`null` for one seed).
    pub ci_low: Option<f64>,
    /// Upper end of the 95 % interval (`null` for one seed).
    pub ci_high: Option<f64>,
}

/// One setting of a variant, for JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// Path.
    pub path: String,
    /// Value.
    pub value: String,
}

/// Statistics of one variant.
#[derive(Debug, Clone, Serialize)]
pub struct VariantStats {
    /// 1-based variant number (`v1`, `v2`... in tables).
    pub variant: usize,
    /// The settings.
    pub settings: Vec<Setting>,
    /// Runs that contributed.
    pub runs: usize,
    /// Per metric, in [`Summary::metrics`] order.
    pub metrics: Vec<MetricStats>,
}

/// Per-variant statistics from `results` (indexed by run; `None` for a missing run).
pub fn stats(plan: &Plan, results: &[Option<Summary>]) -> Vec<VariantStats> {
    let seeds = plan.seeds.len();
    plan.variants()
        .iter()
        .enumerate()
        .map(|(v, settings)| {
            let runs: Vec<&Summary> = (0..seeds)
                .filter_map(|s| results.get(v * seeds + s).and_then(Option::as_ref))
                .collect();
            let per_run: Vec<_> = runs.iter().map(|s| s.metrics()).collect();
            let names = metric_list(results);
            let metrics = names
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let values: Vec<f64> = per_run
                        .iter()
                        .map(|ms| ms.get(i).map_or(f64::NAN, |x| x.value))
                        .collect();
                    let estimate = Estimate::of(&values);
                    MetricStats {
                        name: m.name,
                        unit: m.unit,
                        help: m.help,
                        estimate,
                        ci_low: estimate.low(),
                        ci_high: estimate.high(),
                    }
                })
                .collect();
            VariantStats {
                variant: v + 1,
                settings: settings
                    .iter()
                    .map(|o| Setting {
                        path: o.path.clone(),
                        value: o.value.clone(),
                    })
                    .collect(),
                runs: runs.len(),
                metrics,
            }
        })
        .collect()
}

/// The metrics of the sweep's runs (runs with services have the service metrics too), or the
/// plain ones when no run finished.
fn metric_list(results: &[Option<Summary>]) -> Vec<drydock_sim::report::Metric> {
    results
        .iter()
        .flatten()
        .next()
        .map_or_else(|| Summary::default().metrics(), Summary::metrics)
}

fn setting_text(settings: &[Override]) -> String {
    if settings.is_empty() {
        "the scenario as written".into()
    } else {
        settings
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// The console table: a header, the variants' settings, then one row per metric and one
/// column per variant (four variants per block), each cell `mean ± half-width`.
pub fn table(plan: &Plan, stats: &[VariantStats]) -> String {
    let variants = plan.variants();
    let runs: usize = stats.iter().map(|v| v.runs).sum();
    let mut o = String::new();
    let _ = writeln!(o, "drydock sweep: {} ({})", plan.name, plan.origin);
    let _ = writeln!(
        o,
        "{} variant{} x {} seed{} ({}) = {} run{}",
        variants.len(),
        if variants.len() == 1 { "" } else { "s" },
        plan.seeds.len(),
        if plan.seeds.len() == 1 { "" } else { "s" },
        plan.seeds_text,
        runs,
        if runs == 1 { "" } else { "s" }
    );
    if plan.seeds.len() > 1 {
        let _ = writeln!(
            o,
            "each cell: mean ± half-width of the two-sided 95% confidence interval over seeds (Student t, n-1 degrees of freedom)"
        );
    } else {
        let _ = writeln!(
            o,
            "each cell: the value of the one run (one seed: no interval)"
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "variants");
    for (v, s) in variants.iter().enumerate() {
        let n = stats.get(v).map_or(0, |s| s.runs);
        let missing = if n < plan.seeds.len() {
            format!("  ({n} of {} runs)", plan.seeds.len())
        } else {
            String::new()
        };
        let _ = writeln!(o, "  v{:<3} {}{missing}", v + 1, setting_text(s));
    }
    let names: Vec<&MetricStats> = stats
        .first()
        .map(|s| s.metrics.iter().collect())
        .unwrap_or_default();
    let name_w = names.iter().map(|m| m.name.len()).max().unwrap_or(6).max(6);
    for chunk in stats.chunks(4) {
        let _ = writeln!(o);
        let headers: Vec<String> = chunk
            .iter()
            .map(|v| {
                let label = variants
                    .get(v.variant - 1)
                    .map(|s| plan.label(s))
                    .unwrap_or_default();
                truncate(&format!("v{} {}", v.variant, label), 26)
            })
            .collect();
        let cells: Vec<Vec<String>> = chunk
            .iter()
            .map(|v| {
                v.metrics
                    .iter()
                    .map(|m| {
                        if m.estimate.n == 0 {
                            return "-".into();
                        }
                        let mean = format_metric(m.unit, m.estimate.mean, false);
                        match m.estimate.half_width {
                            Some(h) => format!("{mean} ± {}", format_metric(m.unit, h, true)),
                            None => mean,
                        }
                    })
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = headers
            .iter()
            .zip(&cells)
            .map(|(h, c)| {
                c.iter()
                    .map(|s| width(s))
                    .chain([width(h)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut line = format!("{:<name_w$}", "metric");
        for (h, w) in headers.iter().zip(&widths) {
            line.push_str("  ");
            line.push_str(h);
            line.push_str(&" ".repeat(w - width(h)));
        }
        let _ = writeln!(o, "{}", line.trim_end());
        for (r, m) in names.iter().enumerate() {
            let mut line = format!("{:<name_w$}", m.name);
            for (c, w) in cells.iter().zip(&widths) {
                let cell = c.get(r).map(String::as_str).unwrap_or("-");
                line.push_str("  ");
                line.push_str(cell);
                line.push_str(&" ".repeat(w - width(cell)));
            }
            let _ = writeln!(o, "{}", line.trim_end());
        }
    }
    o
}

/// The results as JSON (for `--format json`).
pub fn json(plan: &Plan, stats: &[VariantStats]) -> serde_json::Value {
    serde_json::json!({
        "scenario": plan.name,
        "source": plan.origin,
        "seeds": plan.seeds,
        "variants": stats,
    })
}

/// A float for CSV: shortest exact representation (deterministic).
fn num(v: f64) -> String {
    format!("{v}")
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

/// Writes `sweep.csv` (one row per run), `summary.csv` (one row per variant and metric) and
/// `sweep.svg` (bar charts with 95 % intervals of the key metrics) to `out`.
///
/// # Errors
/// I/O errors, with the path.
pub fn write_out(
    out: &Path,
    plan: &Plan,
    results: &[Option<Summary>],
    stats: &[VariantStats],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let variants = plan.variants();
    let paths: Vec<&str> = plan.sets.iter().map(|s| s.path.as_str()).collect();
    let names = metric_list(results);

    let p = out.join("sweep.csv");
    let mut w =
        csv::Writer::from_path(&p).with_context(|| format!("cannot write {}", p.display()))?;
    let mut header: Vec<String> = vec!["variant".into()];
    header.extend(paths.iter().map(|s| s.to_string()));
    header.push("seed".into());
    header.extend(names.iter().map(|m| m.name.to_string()));
    w.write_record(&header)?;
    for run in plan.runs() {
        let Some(Some(s)) = results.get(run.index) else {
            continue;
        };
        let mut rec: Vec<String> = vec![(run.variant + 1).to_string()];
        rec.extend(variants[run.variant].iter().map(|o| o.value.clone()));
        rec.push(run.seed.to_string());
        rec.extend(
            names
                .iter()
                .map(|m| num(s.metric_value(m.name).unwrap_or(f64::NAN))),
        );
        w.write_record(&rec)?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", p.display()))?;

    let p = out.join("summary.csv");
    let mut w =
        csv::Writer::from_path(&p).with_context(|| format!("cannot write {}", p.display()))?;
    let mut header: Vec<String> = vec!["variant".into()];
    header.extend(paths.iter().map(|s| s.to_string()));
    header.extend(
        [
            "metric", "unit", "n", "mean", "std_dev", "ci_low", "ci_high",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    w.write_record(&header)?;
    for v in stats {
        for m in &v.metrics {
            let mut rec: Vec<String> = vec![v.variant.to_string()];
            rec.extend(v.settings.iter().map(|s| s.value.clone()));
            rec.push(m.name.to_string());
            rec.push(unit_name(m.unit).to_string());
            rec.push(m.estimate.n.to_string());
            rec.push(num(m.estimate.mean));
            rec.push(num(m.estimate.std_dev));
            rec.push(opt(m.ci_low));
            rec.push(opt(m.ci_high));
            w.write_record(&rec)?;
        }
    }
    w.flush()
        .with_context(|| format!("cannot write {}", p.display()))?;

    let panels: Vec<Panel> = PLOTTED
        .iter()
        .filter_map(|name| {
            let help = names.iter().find(|m| m.name == *name)?;
            let (scale, y_label) = match help.unit {
                MetricUnit::Seconds => (1.0 / 3600.0, "hours"),
                MetricUnit::Ratio => (100.0, "%"),
                MetricUnit::GpuHours => (1.0, "GPU-hours"),
                MetricUnit::Dollars => (1.0, "dollars"),
                MetricUnit::Gpus => (1.0, "GPUs"),
                MetricUnit::Hours => (1.0, "hours"),
                MetricUnit::DollarsPerHour => (1.0, "dollars per hour"),
                MetricUnit::Count => (1.0, "count"),
            };
            let bars = stats
                .iter()
                .filter_map(|v| {
                    let m = v.metrics.iter().find(|m| m.name == *name)?;
                    (m.estimate.n > 0).then(|| Bar {
                        label: format!("v{}", v.variant),
                        value: m.estimate.mean,
                        interval: m.ci_low.zip(m.ci_high),
                    })
                })
                .collect();
            Some(Panel {
                title: (*name).to_string(),
                y_label: y_label.to_string(),
                scale,
                bars,
            })
        })
        .collect();
    output::bar_panels(
        &out.join("sweep.svg"),
        &format!(
            "{}: mean and 95% interval over {} seeds",
            plan.name,
            plan.seeds.len()
        ),
        &panels,
    )
    .with_context(|| format!("cannot write {}", out.join("sweep.svg").display()))?;
    Ok(())
}
