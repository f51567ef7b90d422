//! `drydock compare A B`: two run reports side by side.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use drydock_sim::Summary;
use drydock_sim::report::MetricUnit;

use super::InputError;
use crate::output::format_metric;

/// Arguments of `drydock compare`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The first report: a `summary.json` (or the `--out` directory holding one).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The second report.
    #[arg(value_name = "B")]
    pub b: PathBuf,
}

/// Reads a `summary.json` written by `drydock run --out` (or printed by `--format json`).
///
/// # Errors
/// [`InputError`] naming the path if it is missing, unreadable or not a drydock summary.
pub fn read_summary(path: &Path) -> anyhow::Result<Summary> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    // A summary is small; refuse devices, pipes and huge files rather than read them whole.
    const MAX_SUMMARY_BYTES: u64 = 64 * 1024 * 1024;
    let bad = |why: String| {
        InputError::new(
            format!("cannot read {}: {why}", file.display()),
            "pass the summary.json written by `drydock run --out DIR` (or DIR itself)",
        )
    };
    let meta = std::fs::metadata(&file).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()).into());
    }
    if meta.len() > MAX_SUMMARY_BYTES {
        return Err(bad(format!("{} bytes is too large for a summary", meta.len())).into());
    }
    let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
    let not_summary = |why: String| {
        InputError::new(
            format!("{} is not a drydock summary: {why}", file.display()),
            "pass the summary.json written by `drydock run --out DIR` (or DIR itself)",
        )
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not_summary(e.to_string()))?;
    for key in ["version", "scenario", "seed", "jobs", "gpu"] {
        if value.get(key).is_none() {
            return Err(not_summary(format!("no `{key}` field")).into());
        }
    }
    let summary: Summary = serde_json::from_value(value).map_err(|e| not_summary(e.to_string()))?;
    if summary.version > drydock_sim::report::SUMMARY_VERSION {
        return Err(not_summary(format!(
            "layout version {} is newer than this drydock reads ({})",
            summary.version,
            drydock_sim::report::SUMMARY_VERSION
        ))
        .into());
    }
    Ok(summary)
}

/// Values closer than this (relative to the larger magnitude) count as equal.
const TOLERANCE: f64 = 1e-9;

fn differs(a: f64, b: f64) -> bool {
    let scale = a.abs().max(b.abs());
    (a - b).abs() > TOLERANCE * scale.max(1e-12)
}

/// The comparison table. `color` highlights changed rows (bold yellow marker).
pub fn table(a: &Summary, b: &Summary, a_name: &str, b_name: &str, color: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "A: {a_name}: {} (seed {}, policy {})",
        a.scenario, a.seed, a.policy
    );
    let _ = writeln!(
        o,
        "B: {b_name}: {} (seed {}, policy {})",
        b.scenario, b.seed, b.policy
    );
    let _ = writeln!(o);
    let ma = a.metrics();
    let mb = b.metrics();
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut changed = 0;
    for (x, y) in ma.iter().zip(&mb) {
        let d = y.value - x.value;
        // A difference below the precision the table shows (a millisecond on a 6-hour
        // completion time) is not marked: both columns would read the same.
        let diff = differs(x.value, y.value)
            && format_metric(x.unit, x.value, false) != format_metric(y.unit, y.value, false);
        if diff {
            changed += 1;
        }
        let sign = if d > 0.0 { "+" } else { "-" };
        let abs = match (diff, x.unit) {
            (false, _) => "0".to_string(),
            // A change of a ratio is shown in percentage points.
            (true, MetricUnit::Ratio) => format!("{sign}{:.1} pp", d.abs() * 100.0),
            (true, unit) => format!("{sign}{}", format_metric(unit, d.abs(), true)),
        };
        let rel = if !diff {
            String::new()
        } else if x.value == 0.0 {
            "new".into()
        } else {
            format!("{:+.1}%", d / x.value.abs() * 100.0)
        };
        rows.push([
            if diff { "*".into() } else { String::new() },
            x.name.to_string(),
            format_metric(x.unit, x.value, false),
            format_metric(y.unit, y.value, false),
            abs,
            rel,
        ]);
    }
    let head = ["", "metric", "A", "B", "B - A", "relative"];
    let mut w = [0usize; 6];
    for r in rows
        .iter()
        .map(|r| r.each_ref().map(|s| s.as_str()))
        .chain([head])
    {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: [&str; 6]| -> String {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i >= 2 {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
                s.push(' ');
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(o, "{}", line(head));
    for r in &rows {
        let text = line(r.each_ref().map(|s| s.as_str()));
        if color && !r[0].is_empty() {
            let _ = writeln!(o, "\x1b[1;33m{text}\x1b[0m");
        } else {
            let _ = writeln!(o, "{text}");
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{changed} of {} metrics differ (marked *){}",
        rows.len(),
        if a.event_log_sha256 == b.event_log_sha256 && !a.event_log_sha256.is_empty() {
            "; identical event logs"
        } else {
            ""
        }
    );
    o
}

/// Prints the comparison. Exit code 0 whether or not the reports differ.
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    let a = read_summary(&args.a)?;
    let b = read_summary(&args.b)?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!(
        "{}",
        table(
            &a,
            &b,
            &args.a.display().to_string(),
            &args.b.display().to_string(),
            color
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_reports_have_no_marks() {
        let s = Summary::default();
        let t = table(&s, &s, "a", "b", false);
        assert!(t.contains("0 of 28 metrics differ"), "{t}");
        assert!(!t.contains('*') || t.contains("(marked *)"));
    }

    #[test]
    fn differences_are_marked_with_absolute_and_relative_change() {
        let a = Summary::default();
        let mut b = Summary::default();
        b.jobs.completed = 3;
        b.gpu.allocation_mean = 0.25;
        b.jct.p95 = 7200.0;
        let mut a2 = a.clone();
        a2.jct.p95 = 3600.0;
        a2.gpu.allocation_mean = 0.2;
        let t = table(&a2, &b, "a", "b", false);
        let row = |name: &str| {
            t.lines()
                .find(|l| l.split_whitespace().any(|w| w == name))
                .unwrap_or_default()
                .to_string()
        };
        assert!(row("jct_p95").starts_with('*'), "{t}");
        assert!(row("jct_p95").contains("+1h"), "{t}");
        assert!(row("jct_p95").contains("+100.0%"), "{t}");
        assert!(row("gpu_allocation_mean").contains("+5.0 pp"), "{t}");
        assert!(row("gpu_allocation_mean").contains("+25.0%"), "{t}");
        assert!(row("jobs_completed").contains("new"), "{t}");
        assert!(!row("jobs_failed").starts_with('*'), "{t}");
        assert!(t.contains("3 of 28 metrics differ"), "{t}");
        let colored = table(&a2, &b, "a", "b", true);
        assert!(colored.contains("\x1b[1;33m"));
    }

    #[test]
    fn a_difference_below_the_shown_precision_is_not_marked() {
        // 6h11m against 6h11m and a millisecond: both columns read the same.
        let mut a = Summary::default();
        a.jct.p95 = 22_260.0;
        let mut b = a.clone();
        b.jct.p95 = 22_260.001;
        let t = table(&a, &b, "a", "b", false);
        assert!(t.contains("0 of 28 metrics differ"), "{t}");
        // A difference the table shows is.
        b.jct.p95 = 22_320.0;
        let t = table(&a, &b, "a", "b", false);
        assert!(t.contains("1 of 28 metrics differ"), "{t}");
    }
}
