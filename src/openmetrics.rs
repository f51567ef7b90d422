//! The run's time series in the OpenMetrics text format (`drydock run --metrics-out FILE`),
//! with timestamps, for backfilling a Prometheus:
//! `promtool tsdb create-blocks-from openmetrics FILE DIR`.
//!
//! Virtual time `t` is mapped onto wall-clock time `start + t` (`--metrics-start`, RFC 3339,
//! default 2026-01-01T00:00:00Z); timestamps are written in seconds with millisecond
//! precision. Every series carries the labels `scenario` and `seed`. The names follow
//! Prometheus' conventions: a `drydock_` prefix, base units in the name (`_seconds`,
//! `_ratio`, `_dollars`), `_total` on counters. README.md lists them all.
//!
//! The format's rules that matter here: the samples of one metric family are contiguous
//! (each family is written whole, one after the other); timestamps increase strictly within a
//! series (samples are taken at increasing virtual times; of two samples less than 2 ms
//! apart only the later is written, so readers that round `seconds × 1000` keep them apart); a histogram point is written as its buckets in `le`
//! order, then `_count` and `_sum`, all with the same timestamp; counters and histogram
//! buckets never decrease; the file ends with `# EOF`.

use std::io::{self, Write};

use drydock_sim::metrics::Sample;
use drydock_sim::model::Phase;
use drydock_sim::{JobRow, Summary};

/// The default `--metrics-start`: virtual time 0 is 2026-01-01T00:00:00Z.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00Z";

/// Upper bounds (seconds) of the buckets of the duration histograms; `+Inf` follows.
pub const BUCKETS: [f64; 11] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259_200.0, 604_800.0,
];

/// Whether `head` (the start of an existing file) is an OpenMetrics export that drydock
/// wrote, which a run may overwrite without `--force`: it starts with the metadata of a
/// `drydock_` metric family.
pub fn is_drydock_export(head: &[u8]) -> bool {
    head.starts_with(b"# TYPE drydock_") || head.starts_with(b"# HELP drydock_")
}

/// How a family's value is read from a sample.
enum Series {
    Gauge(fn(&Sample) -> f64),
    Counter(fn(&Sample) -> f64),
}

/// One metric family of the time series: name (without `_total` for counters), unit (which
/// must end the name) and help.
struct Family {
    name: &'static str,
    unit: Option<&'static str>,
    help: &'static str,
    series: Series,
}

/// The gauges and counters read from the samples, in file order.
fn families() -> Vec<Family> {
    use Series::*;
    let f = |name, unit, help, series| Family {
        name,
        unit,
        help,
        series,
    };
    vec![
        f(
            "drydock_gpu_allocated",
            None,
            "GPUs allocated to pods (fractional with GPU sharing).",
            Gauge(|s| s.allocated_gpus),
        ),
        f(
            "drydock_gpu_allocation_ratio",
            Some("ratio"),
            "Allocated GPUs over the cluster's GPU capacity (0-1).",
            Gauge(|s| s.gpu_allocation),
        ),
        f(
            "drydock_gpu_fragmentation_ratio",
            Some("ratio"),
            "GPU fragmentation ratio over Ready nodes (FGD study definition, 0-1).",
            Gauge(|s| s.fragmentation),
        ),
        f(
            "drydock_ready_nodes",
            None,
            "Nodes that are up (Ready).",
            Gauge(|s| s.ready_nodes as f64),
        ),
        f(
            "drydock_pending_pods",
            None,
            "Pods waiting to be scheduled.",
            Gauge(|s| s.pending_pods as f64),
        ),
        f(
            "drydock_pending_jobs",
            None,
            "Jobs waiting in the scheduling queue.",
            Gauge(|s| s.pending_jobs as f64),
        ),
        f(
            "drydock_running_jobs",
            None,
            "Jobs with pods bound.",
            Gauge(|s| s.running_jobs as f64),
        ),
        f(
            "drydock_jobs_submitted",
            None,
            "Jobs that have arrived.",
            Counter(|s| s.jobs_submitted as f64),
        ),
        f(
            "drydock_jobs_completed",
            None,
            "Jobs that finished their work.",
            Counter(|s| s.jobs_completed as f64),
        ),
        f(
            "drydock_jobs_failed",
            None,
            "Jobs that failed (backoff limit, or unschedulable in arrivals-only runs).",
            Counter(|s| s.jobs_failed as f64),
        ),
        f(
            "drydock_job_restarts",
            None,
            "Gang restarts after failures.",
            Counter(|s| s.restarts as f64),
        ),
        f(
            "drydock_job_preemptions",
            None,
            "Jobs preempted.",
            Counter(|s| s.preemptions as f64),
        ),
        f(
            "drydock_node_outages",
            None,
            "Nodes taken down by failures of any cause (host, GPU, pool or zone outage).",
            Counter(|s| s.node_outages as f64),
        ),
        f(
            "drydock_nodes",
            None,
            "Nodes billed (provisioning, Ready or down), over all pools.",
            Gauge(|s| s.nodes as f64),
        ),
    ]
}

/// The points written: samples at millisecond timestamps at least 2 ms apart, so that they
/// stay distinct however a reader rounds `seconds × 1000` (of samples closer than that, the
/// later one is kept).
fn points(samples: &[Sample], start_ms: i64) -> Vec<(i64, &Sample)> {
    let mut out: Vec<(i64, &Sample)> = Vec::with_capacity(samples.len());
    for s in samples {
        let ms = start_ms.saturating_add((s.time_s * 1000.0).round() as i64);
        match out.last_mut() {
            Some(last) if ms <= last.0 + 1 => *last = (ms.max(last.0), s),
            _ => out.push((ms, s)),
        }
    }
    out
}

/// Writes the OpenMetrics export of a run.
///
/// `start_ms` is the wall-clock time (milliseconds since the Unix epoch) that virtual time 0
/// maps to.
///
/// # Errors
/// I/O errors of `out`.
pub fn write(
    out: &mut impl Write,
    summary: &Summary,
    samples: &[Sample],
    jobs: &[JobRow],
    start_ms: i64,
) -> io::Result<()> {
    let labels = format!(
        "scenario=\"{}\",seed=\"{}\"",
        escape_label(&summary.scenario),
        summary.seed
    );
    let points = points(samples, start_ms);

    // Capacity, from the summary (constant over the run).
    family_header(
        out,
        "drydock_gpu_capacity",
        "gauge",
        None,
        "GPU capacity of the cluster.",
    )?;
    for (ms, _) in &points {
        sample_line(
            out,
            "drydock_gpu_capacity",
            &labels,
            summary.gpu.capacity,
            *ms,
        )?;
    }
    for f in families() {
        let (kind, get, sample_name) = match f.series {
            Series::Gauge(g) => ("gauge", g, f.name.to_string()),
            Series::Counter(g) => ("counter", g, format!("{}_total", f.name)),
        };
        family_header(out, f.name, kind, f.unit, f.help)?;
        for (ms, s) in &points {
            sample_line(out, &sample_name, &labels, get(s), *ms)?;
        }
    }

    family_header(
        out,
        "drydock_cost_dollars",
        "counter",
        Some("dollars"),
        "Cost of the cluster's nodes so far (node-hours times the pool's price).",
    )?;
    for (ms, s) in &points {
        sample_line(
            out,
            "drydock_cost_dollars_total",
            &labels,
            s.cost_dollars,
            *ms,
        )?;
    }

    // Duration histograms from the per-job table, observed when the job completes (JCT) or
    // first starts (queueing delay).
    let mut jct: Vec<(f64, f64)> = jobs
        .iter()
        .filter(|j| j.phase == Phase::Completed)
        .filter_map(|j| j.end_s.map(|e| (e, e - j.arrival_s)))
        .collect();
    let mut delay: Vec<(f64, f64)> = jobs
        .iter()
        .filter_map(|j| j.start_s.map(|s| (s, s - j.arrival_s)))
        .collect();
    histogram(
        out,
        "drydock_job_completion_seconds",
        "Job completion time (arrival to completion) of completed jobs.",
        &labels,
        &points,
        &mut jct,
    )?;
    histogram(
        out,
        "drydock_job_queueing_delay_seconds",
        "Queueing delay (arrival to first start) of started jobs.",
        &labels,
        &points,
        &mut delay,
    )?;
    writeln!(out, "# EOF")
}

/// A cumulative histogram over time: at each point, the observations made at or before it.
/// `obs` holds `(time observed in virtual seconds, value)`.
fn histogram(
    out: &mut impl Write,
    name: &str,
    help: &str,
    labels: &str,
    points: &[(i64, &Sample)],
    obs: &mut [(f64, f64)],
) -> io::Result<()> {
    obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    family_header(out, name, "histogram", Some("seconds"), help)?;
    let mut counts = [0u64; BUCKETS.len() + 1];
    let mut sum = 0.0;
    let mut next = 0;
    for (ms, s) in points {
        while let Some(&(at, v)) = obs.get(next) {
            if at > s.time_s {
                break;
            }
            let v = v.max(0.0);
            let bucket = BUCKETS
                .iter()
                .position(|&le| v <= le)
                .unwrap_or(BUCKETS.len());
            counts[bucket] += 1;
            sum += v;
            next += 1;
        }
        let mut cumulative = 0u64;
        for (i, le) in BUCKETS
            .iter()
            .map(|b| canonical(*b))
            .chain(["+Inf".to_string()])
            .enumerate()
        {
            cumulative += counts[i];
            let l = format!("{labels},le=\"{le}\"");
            sample_line(out, &format!("{name}_bucket"), &l, cumulative as f64, *ms)?;
        }
        sample_line(
            out,
            &format!("{name}_count"),
            labels,
            cumulative as f64,
            *ms,
        )?;
        sample_line(out, &format!("{name}_sum"), labels, sum, *ms)?;
    }
    Ok(())
}

fn family_header(
    out: &mut impl Write,
    name: &str,
    kind: &str,
    unit: Option<&str>,
    help: &str,
) -> io::Result<()> {
    writeln!(out, "# TYPE {name} {kind}")?;
    if let Some(u) = unit {
        writeln!(out, "# UNIT {name} {u}")?;
    }
    writeln!(out, "# HELP {name} {}", escape_help(help))
}

fn sample_line(
    out: &mut impl Write,
    name: &str,
    labels: &str,
    value: f64,
    ms: i64,
) -> io::Result<()> {
    writeln!(
        out,
        "{name}{{{labels}}} {} {}.{:03}",
        number(value),
        ms.div_euclid(1000),
        ms.rem_euclid(1000)
    )
}

/// A sample value: the shortest decimal that reads back as the same `f64` (never an
/// exponent), `NaN`, `+Inf` or `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v}")
    }
}

/// The canonical form of a bucket bound: integers keep a `.0` (`60.0`), as OpenMetrics asks
/// for `le` values.
fn canonical(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes HELP text: backslash and line feed.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Parses an RFC 3339 date-time (`2026-01-01T00:00:00Z`, `2026-03-15T08:30:00.250+01:00`)
/// into milliseconds since the Unix epoch. Fractions finer than a millisecond are truncated.
/// Years 1970 to 9999.
///
/// # Errors
/// A message saying what is wrong, for clap to show (exit code 2).
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = |why: &str| {
        format!(
            "`{text}` is not an RFC 3339 date-time ({why}); expected something like {DEFAULT_START} or 2026-03-15T08:30:00+01:00"
        )
    };
    let b = text.trim().as_bytes();
    let digits = |from: usize, n: usize| -> Result<i64, String> {
        let part = b.get(from..from + n).ok_or_else(|| bad("too short"))?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad("expected digits"));
        }
        Ok(part
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let expect = |at: usize, what: &[u8]| -> Result<(), String> {
        match b.get(at) {
            Some(c) if what.contains(c) => Ok(()),
            _ => Err(bad(&format!(
                "expected `{}` at position {}",
                String::from_utf8_lossy(&what[..1]),
                at + 1
            ))),
        }
    };
    let year = digits(0, 4)?;
    expect(4, b"-")?;
    let month = digits(5, 2)?;
    expect(7, b"-")?;
    let day = digits(8, 2)?;
    expect(10, b"Tt ")?;
    let hour = digits(11, 2)?;
    expect(13, b":")?;
    let minute = digits(14, 2)?;
    expect(16, b":")?;
    let second = digits(17, 2)?;
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(bad("expected digits after `.`"));
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let sign = if *sign == b'+' { 1 } else { -1 };
            let h = digits(i + 1, 2)?;
            expect(i + 3, b":")?;
            let m = digits(i + 4, 2)?;
            if h > 23 || m > 59 {
                return Err(bad("offset out of range"));
            }
            i += 6;
            sign * (h * 60 + m)
        }
        _ => {
            return Err(bad(
                "missing time zone: end with Z or an offset like +01:00",
            ));
        }
    };
    if i != b.len() {
        return Err(bad("unexpected text after the time zone"));
    }
    if !(1970..=9999).contains(&year) {
        return Err(bad("the year must be between 1970 and 9999"));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) {
        return Err(bad("month out of range"));
    }
    if day < 1 || day > month_days[(month - 1) as usize] {
        return Err(bad("day out of range"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("time out of range"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    if secs < 0 {
        return Err(bad("before 1970-01-01T00:00:00Z"));
    }
    Ok(secs * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_zones_fractions_and_leap_days() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339(DEFAULT_START), Ok(1_767_225_600_000));
        assert_eq!(
            parse_rfc3339("2026-01-01T01:00:00+01:00"),
            Ok(1_767_225_600_000)
        );
        assert_eq!(
            parse_rfc3339("2025-12-31T23:30:00-00:30"),
            Ok(1_767_225_600_000)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01t00:00:00.25z"),
            Ok(1_767_225_600_250)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01 00:00:00.123999Z"),
            Ok(1_767_225_600_123)
        );
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Ok(951_868_800_000));
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+1:00",
            "2026-01-01T00:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+01:00",
            "yesterday",
            "2026-01-01T00:00:00ü",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_escapes_follow_the_text_format() {
        assert_eq!(number(16.0), "16");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(1e-7), "0.0000001");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(canonical(60.0), "60.0");
        assert_eq!(canonical(0.5), "0.5");
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
    }

    fn sample(t: f64) -> Sample {
        Sample {
            time_s: t,
            allocated_gpus: 0.0,
            gpu_allocation: 0.0,
            pending_pods: 0,
            pending_jobs: 0,
            running_jobs: 0,
            ready_nodes: 0,
            fragmentation: 0.0,
            jobs_submitted: 0,
            jobs_completed: 0,
            jobs_failed: 0,
            restarts: 0,
            preemptions: 0,
            node_outages: 0,
            nodes: 0,
            cost_dollars: 0.0,
            extra: Vec::new(),
            pool_nodes: Vec::new(),
        }
    }

    #[test]
    fn points_have_strictly_increasing_millisecond_timestamps() {
        let samples = [
            sample(0.0),
            sample(0.0004),
            sample(0.001),
            sample(0.003),
            sample(300.0),
        ];
        let p = points(&samples, 1000);
        let ms: Vec<i64> = p.iter().map(|x| x.0).collect();
        assert_eq!(ms, [1001, 1003, 301_000]);
        // Of samples less than 2 ms apart, the later is kept.
        assert_eq!(p[0].1.time_s, 0.001);
    }

    #[test]
    fn marker_is_the_first_family_header() {
        assert!(is_drydock_export(b"# TYPE drydock_gpu_capacity gauge\n"));
        assert!(!is_drydock_export(b"# TYPE node_cpu counter\n"));
        assert!(!is_drydock_export(b"important notes"));
    }
}
