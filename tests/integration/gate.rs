//! drydock as a CI gate: expectations and exit codes, the JUnit report and the OpenMetrics
//! export, each read back by a real parser (roxmltree for XML; prometheus-parse, a strict
//! reading of the OpenMetrics rules written here, and Prometheus' own `promtool` when it is
//! installed, as `.ci/run` does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn drydock(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(args)
        .env_remove("DRYDOCK_DATA_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("drydock runs")
}

fn run(args: &[&str]) -> Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    drydock(&args)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The built-in `default` scenario with `jct_p95 <= 8h` tightened to `4h` (its p95 is 6h11m).
fn too_strict_default(dir: &Path) -> PathBuf {
    let source = drydock_scenarios::builtin("default")
        .expect("built-in")
        .source;
    assert!(
        source.contains("- jct_p95 <= 8h"),
        "default's checks changed"
    );
    let p = dir.join("strict.yaml");
    std::fs::write(&p, source.replace("- jct_p95 <= 8h", "- jct_p95 <= 4h")).expect("write");
    p
}

#[test]
fn default_scenario_passes_its_expectations_and_exits_0() {
    let o = run(&["run"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("  checks                   7 of 7 passed"),
        "{out}"
    );
    for line in [
        "    PASS  jobs_failed == 0            measured 0",
        "    PASS  jct_p95 <= 8h               measured 6h11m",
        "    PASS  cost_total <= $2000         measured $1830.72",
    ] {
        assert!(out.contains(line), "missing `{line}` in\n{out}");
    }
    assert!(!out.contains("FAIL"), "{out}");
}

#[test]
fn too_strict_copy_of_default_exits_3_naming_the_failing_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let strict = too_strict_default(dir.path());
    let junit = dir.path().join("report.xml");
    let o = run(&["run", path(&strict), "--junit", path(&junit)]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}\n{err}");
    assert!(
        out.contains("  checks                   1 of 7 FAILED"),
        "{out}"
    );
    assert!(
        out.contains("    FAIL  jct_p95 <= 4h               measured 6h11m"),
        "{out}"
    );
    assert!(
        err.contains("error: 1 of 7 expectation(s) failed: jct_p95 <= 4h: measured 6h11m"),
        "{err}"
    );
    // The report is complete even though the gate failed.
    assert!(out.contains("event log sha256"), "{out}");
    let xml = std::fs::read_to_string(&junit).expect("junit written before exiting 3");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let failures: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.parent()?.attribute("name"))
        .collect();
    assert_eq!(failures, ["jct_p95 <= 4h"]);
}

#[test]
fn unknown_metric_is_an_input_error_listing_the_valid_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = drydock_scenarios::builtin("default")
        .expect("built-in")
        .source
        .replace("- jct_p95 <= 8h", "- jct_p59 <= 8h");
    let p = dir.path().join("typo.yaml");
    std::fs::write(&p, source).expect("write");
    let o = run(&["run", path(&p)]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("error[expect-metric]"), "{err}");
    assert!(err.contains("unknown metric `jct_p59`"), "{err}");
    assert!(err.contains("valid metrics: jobs_submitted, "), "{err}");
    assert!(err.contains("cost_total"), "{err}");
    // `drydock validate` finds it too, before anything runs.
    let o = run(&["validate", path(&p)]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn json_output_and_summary_json_carry_the_checks_after_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("results");
    let o = run(&["run", "--format", "json", "--out", path(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let file = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    assert_eq!(stdout, file, "--format json prints summary.json");
    let v: serde_json::Value = serde_json::from_str(&file).expect("json");
    assert_eq!(v["version"], 1, "existing fields unchanged");
    let checks = v["checks"].as_array().expect("checks array");
    assert_eq!(checks.len(), 7);
    assert_eq!(checks[2]["check"], "jct_p95 <= 8h");
    assert_eq!(checks[2]["metric"], "jct_p95");
    assert_eq!(checks[2]["op"], "<=");
    assert_eq!(checks[2]["threshold"], 28_800.0);
    assert_eq!(checks[2]["measured"], 22_260.0);
    assert_eq!(checks[2]["unit"], "seconds");
    assert_eq!(checks[2]["measured_text"], "6h11m");
    assert_eq!(checks[2]["passed"], true);
    // `checks` is the last key: the summary's own layout is unchanged before it.
    let last_key = file
        .lines()
        .rfind(|l| l.starts_with("  \""))
        .expect("top-level keys");
    assert!(last_key.starts_with("  \"checks\": ["), "{last_key}");
    let first = file.lines().nth(1).expect("first key");
    assert!(first.starts_with("  \"version\": 1"), "{first}");
}

/// The attributes every JUnit consumer relies on (the brief's list, a superset of what the
/// Jenkins `junit-10.xsd` requires: `testsuite@name`, `testsuite@tests`, `testcase@name`).
#[test]
fn junit_report_has_the_required_elements_and_attributes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let strict = too_strict_default(dir.path());
    let junit = dir.path().join("reports").join("junit.xml");
    let o = run(&["run", path(&strict), "--junit", path(&junit), "--seed", "7"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o).1);
    let xml = std::fs::read_to_string(&junit).expect("junit written (parent created)");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let int = |n: roxmltree::Node, a: &str| -> u64 {
        n.attribute(a)
            .unwrap_or_else(|| panic!("<{}> lacks {a}", n.tag_name().name()))
            .parse()
            .unwrap_or_else(|e| panic!("{a}: {e}"))
    };
    let suites: Vec<roxmltree::Node> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.tag_name().name(), "testsuite");
    assert_eq!(suite.attribute("name"), Some("default"));
    for a in ["tests", "failures", "errors", "skipped"] {
        assert_eq!(int(suite, a), int_or(root, a, int(suite, a)), "{a}");
    }
    assert_eq!(suite.attribute("time"), Some("0"));
    assert_eq!(root.attribute("time"), Some("0"));
    let cases: Vec<roxmltree::Node> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(int(suite, "tests"), cases.len() as u64);
    assert_eq!(int(suite, "tests"), 7);
    assert_eq!(int(suite, "failures"), 1);
    assert_eq!(int(suite, "errors"), 0);
    let expected: Vec<String> = drydock_scenarios::load(&strict)
        .expect("loads")
        .expect
        .iter()
        .map(|e| e.source_text.clone())
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(names, expected);
    for c in &cases {
        assert_eq!(c.attribute("classname"), Some("drydock.default"));
        assert_eq!(c.attribute("time"), Some("0"));
    }
    let failures: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    let f = failures[0];
    assert_eq!(f.attribute("type"), Some("expectation"));
    assert_eq!(
        f.attribute("message"),
        Some("jct_p95 <= 4h: measured 6h11m")
    );
    assert!(f.text().is_some_and(|t| t.contains("measured: 6h11m")));
    let props: BTreeMap<&str, &str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .filter_map(|n| Some((n.attribute("name")?, n.attribute("value")?)))
        .collect();
    assert_eq!(props.get("seed"), Some(&"7"));
}

fn int_or(n: roxmltree::Node, a: &str, default: u64) -> u64 {
    n.attribute(a)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn report_files_never_silently_replace_a_users_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    for flag in ["--junit", "--metrics-out"] {
        let p = dir.path().join(format!("notes{flag}.txt"));
        std::fs::write(&p, "mine").expect("write");
        let o = run(&["run", flag, path(&p)]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("was not written by drydock"), "{err}");
        assert!(err.contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&p).expect("kept"), "mine");
        // Its own file is replaced on the next run; --force replaces anything.
        let o = run(&["run", flag, path(&p), "--force"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
        let first = std::fs::read(&p).expect("written");
        let o = run(&["run", flag, path(&p)]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
        assert_eq!(
            std::fs::read(&p).expect("rewritten"),
            first,
            "deterministic"
        );
    }
    let o = run(&["run", "--junit", path(dir.path())]);
    assert_eq!(o.status.code(), Some(2), "a directory is refused");
}

#[test]
fn metrics_start_needs_metrics_out_and_a_valid_time() {
    let o = run(&["run", "--metrics-start", "2026-01-01T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("m.om");
    let o = run(&[
        "run",
        "--metrics-out",
        path(&p),
        "--metrics-start",
        "tomorrow",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("RFC 3339"));
    assert!(!p.exists());
}

// ---------------------------------------------------------------------------------------------
// OpenMetrics

/// One sample line: metric name, labels, value, timestamp in milliseconds.
#[derive(Debug)]
struct OmSample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    ts_ms: i64,
}

fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label name `{key}` in `{s}`"));
        }
        if chars.next() != Some('"') {
            return Err(format!("label value of `{key}` not quoted in `{s}`"));
        }
        let mut v = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => v.push('\n'),
                    Some(c @ ('\\' | '"')) => v.push(c),
                    other => return Err(format!("bad escape {other:?} in `{s}`")),
                },
                Some('"') => break,
                Some(c) => v.push(c),
                None => return Err(format!("unterminated label value in `{s}`")),
            }
        }
        if out.insert(key.clone(), v).is_some() {
            return Err(format!("label `{key}` repeated in `{s}`"));
        }
        match chars.next() {
            Some(',') | None => {}
            Some(c) => return Err(format!("unexpected `{c}` after a label in `{s}`")),
        }
    }
    Ok(out)
}

fn parse_sample(line: &str) -> Result<OmSample, String> {
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i..]),
        None => return Err(format!("sample without labels: `{line}`")),
    };
    let close = rest
        .rfind('}')
        .ok_or_else(|| format!("no `}}` in `{line}`"))?;
    let labels = parse_labels(&rest[1..close])?;
    let mut parts = rest[close + 1..].split(' ');
    if parts.next() != Some("") {
        return Err(format!("expected one space after the labels: `{line}`"));
    }
    let value = parts.next().ok_or("no value")?;
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().map_err(|e| format!("value `{v}`: {e}"))?,
    };
    let ts = parts
        .next()
        .ok_or_else(|| format!("sample without a timestamp: `{line}`"))?;
    if parts.next().is_some() {
        return Err(format!("trailing text: `{line}`"));
    }
    let (secs, millis) = ts
        .split_once('.')
        .ok_or_else(|| format!("timestamp `{ts}` without millisecond precision"))?;
    if millis.len() != 3 {
        return Err(format!("timestamp `{ts}` not in milliseconds"));
    }
    let ts_ms = secs.parse::<i64>().map_err(|e| e.to_string())? * 1000
        + millis.parse::<i64>().map_err(|e| e.to_string())?;
    Ok(OmSample {
        name: name.to_string(),
        labels,
        value,
        ts_ms,
    })
}

/// A strict reading of the OpenMetrics 1.0 text format as it applies to drydock's export:
/// metadata once per family and before its samples, families contiguous, sample names with
/// the suffixes of their family's type, units as name suffixes, every series labelled with
/// `scenario` and `seed`, strictly increasing timestamps per series, monotone counters,
/// cumulative histogram buckets with `+Inf` equal to `_count`, and `# EOF` last. Returns the
/// families' types and the samples.
fn check_openmetrics(text: &str) -> Result<(BTreeMap<String, String>, Vec<OmSample>), String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the export must end with `# EOF` and a line feed")?;
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut seen_meta: BTreeSet<(String, String)> = BTreeSet::new();
    let mut samples = Vec::new();
    let mut last_ts: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_counter: BTreeMap<String, f64> = BTreeMap::new();
    let mut in_samples = false;
    for (i, line) in body.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() {
            return Err(format!("line {n}: empty lines are not allowed"));
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, family, arg) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default().to_string(),
                parts.next().unwrap_or_default(),
            );
            if current.as_deref() != Some(family.as_str()) {
                if let Some(c) = current.take() {
                    closed.insert(c);
                }
                if closed.contains(&family) {
                    return Err(format!("line {n}: family {family} appears twice"));
                }
                current = Some(family.clone());
                in_samples = false;
            } else if in_samples {
                return Err(format!("line {n}: metadata after samples of {family}"));
            }
            if !seen_meta.insert((family.clone(), kind.to_string())) {
                return Err(format!("line {n}: second # {kind} for {family}"));
            }
            match kind {
                "TYPE" => {
                    if !["gauge", "counter", "histogram"].contains(&arg) {
                        return Err(format!("line {n}: unexpected type {arg}"));
                    }
                    types.insert(family, arg.to_string());
                }
                "UNIT" => {
                    if !family.ends_with(&format!("_{arg}")) {
                        return Err(format!("line {n}: unit {arg} is not a suffix of {family}"));
                    }
                }
                "HELP" => {
                    if arg.is_empty() {
                        return Err(format!("line {n}: empty help"));
                    }
                }
                other => return Err(format!("line {n}: unknown metadata `# {other}`")),
            }
            continue;
        }
        let s = parse_sample(line).map_err(|e| format!("line {n}: {e}"))?;
        let family = current
            .clone()
            .ok_or_else(|| format!("line {n}: sample before any # TYPE"))?;
        in_samples = true;
        let ty = types
            .get(&family)
            .ok_or_else(|| format!("line {n}: family {family} has no # TYPE"))?;
        let suffix = s.name.strip_prefix(&family).unwrap_or("?");
        let ok = match ty.as_str() {
            "gauge" => suffix.is_empty(),
            "counter" => suffix == "_total",
            _ => ["_bucket", "_count", "_sum"].contains(&suffix),
        };
        if !ok {
            return Err(format!(
                "line {n}: {} does not belong to {ty} {family}",
                s.name
            ));
        }
        if !(s.labels.contains_key("scenario") && s.labels.contains_key("seed")) {
            return Err(format!("line {n}: missing scenario or seed label"));
        }
        if (suffix == "_bucket") != s.labels.contains_key("le") {
            return Err(format!("line {n}: `le` belongs on buckets only"));
        }
        let series = format!("{}{:?}", s.name, s.labels);
        if let Some(prev) = last_ts.insert(series.clone(), s.ts_ms)
            && prev >= s.ts_ms
        {
            return Err(format!("line {n}: timestamps of {series} do not increase"));
        }
        if ty != "gauge"
            && suffix != "_sum"
            && let Some(prev) = last_counter.insert(series.clone(), s.value)
            && s.value < prev
        {
            return Err(format!("line {n}: {series} decreased"));
        }
        samples.push(s);
    }
    // Histogram points: buckets cumulative in `le` order, `+Inf` equal to `_count`.
    for (family, ty) in &types {
        if ty != "histogram" {
            continue;
        }
        let mut by_ts: BTreeMap<i64, Vec<&OmSample>> = BTreeMap::new();
        for s in samples
            .iter()
            .filter(|s| s.name.starts_with(family.as_str()))
        {
            by_ts.entry(s.ts_ms).or_default().push(s);
        }
        for (ts, point) in by_ts {
            let buckets: Vec<(f64, f64)> = point
                .iter()
                .filter(|s| s.name.ends_with("_bucket"))
                .map(|s| {
                    let le = &s.labels["le"];
                    let bound = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap_or(f64::NAN)
                    };
                    (bound, s.value)
                })
                .collect();
            if buckets
                .windows(2)
                .any(|w| !(w[0].0 < w[1].0 && w[0].1 <= w[1].1))
            {
                return Err(format!(
                    "{family} at {ts}: buckets not cumulative in le order"
                ));
            }
            let inf = buckets.last().filter(|b| b.0.is_infinite()).map(|b| b.1);
            let count = point
                .iter()
                .find(|s| s.name.ends_with("_count"))
                .map(|s| s.value);
            if inf.is_none() || inf != count {
                return Err(format!(
                    "{family} at {ts}: +Inf bucket {inf:?} != count {count:?}"
                ));
            }
        }
    }
    Ok((types, samples))
}

/// The export's latest point per series in the Prometheus text format 0.0.4 (no timestamps,
/// counters named with `_total`, no `# UNIT`/`# EOF`), for `promtool check metrics`, whose
/// linter reads that format only.
fn latest_as_text_format(text: &str) -> String {
    let mut out = String::new();
    let mut series: Vec<(String, String)> = Vec::new();
    let mut kind = String::new();
    let flush = |series: &mut Vec<(String, String)>, out: &mut String| {
        for (k, v) in series.drain(..) {
            out.push_str(&format!("{k} {v}\n"));
        }
    };
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            flush(&mut series, &mut out);
            let (name, k) = rest.split_once(' ').expect("type line");
            kind = k.to_string();
            let name = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("help line");
            let name = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            out.push_str(&format!("# HELP {name} {help}\n"));
        } else {
            let close = line.rfind('}').expect("labels");
            let key = line[..=close].to_string();
            let value = line[close + 2..]
                .split(' ')
                .next()
                .expect("value")
                .to_string();
            match series.iter_mut().find(|(k, _)| *k == key) {
                Some(s) => s.1 = value,
                None => series.push((key, value)),
            }
        }
    }
    flush(&mut series, &mut out);
    out
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    if found.is_none() && std::env::var_os("DRYDOCK_REQUIRE_PROMTOOL").is_some_and(|v| v == "1") {
        panic!(
            "DRYDOCK_REQUIRE_PROMTOOL=1 but promtool is not on PATH (apt-get install prometheus)"
        );
    }
    found
}

fn export(dir: &Path, scenario: &str, extra: &[&str]) -> (PathBuf, String) {
    let p = dir.join(format!("{scenario}.om"));
    let mut args = vec!["run", scenario, "--metrics-out", path(&p)];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let t = std::fs::read_to_string(&p).expect("export written");
    (p, t)
}

#[test]
fn openmetrics_export_follows_the_format_rules_and_matches_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, om) = export(dir.path(), "default", &[]);
    let (types, samples) = check_openmetrics(&om).unwrap_or_else(|e| panic!("{e}"));
    let expected_types = [
        ("drydock_gpu_capacity", "gauge"),
        ("drydock_gpu_allocated", "gauge"),
        ("drydock_gpu_allocation_ratio", "gauge"),
        ("drydock_gpu_fragmentation_ratio", "gauge"),
        ("drydock_ready_nodes", "gauge"),
        ("drydock_pending_pods", "gauge"),
        ("drydock_pending_jobs", "gauge"),
        ("drydock_running_jobs", "gauge"),
        ("drydock_jobs_submitted", "counter"),
        ("drydock_jobs_completed", "counter"),
        ("drydock_jobs_failed", "counter"),
        ("drydock_job_restarts", "counter"),
        ("drydock_job_preemptions", "counter"),
        ("drydock_node_outages", "counter"),
        ("drydock_nodes", "gauge"),
        ("drydock_cost_dollars", "counter"),
        ("drydock_job_completion_seconds", "histogram"),
        ("drydock_job_queueing_delay_seconds", "histogram"),
    ];
    let got: BTreeMap<&str, &str> = types
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, expected_types.into_iter().collect::<BTreeMap<_, _>>());
    assert!(
        samples
            .iter()
            .all(|s| s.labels["scenario"] == "default" && s.labels["seed"] == "42")
    );

    // Virtual time 0 is 2026-01-01T00:00:00Z; the run lasts 12 h.
    let first = samples.iter().map(|s| s.ts_ms).min().expect("samples");
    let last = samples.iter().map(|s| s.ts_ms).max().expect("samples");
    assert_eq!(first, 1_767_225_600_000);
    assert_eq!(last - first, 12 * 3600 * 1000);

    // The last points agree with the run's summary.
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["run", "--format", "json"]).stdout).expect("json");
    let final_value = |name: &str| {
        samples
            .iter()
            .filter(|s| s.name == name && !s.labels.contains_key("le"))
            .max_by_key(|s| s.ts_ms)
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(
        final_value("drydock_gpu_capacity"),
        v["gpu"]["capacity"].as_f64().expect("f64")
    );
    assert_eq!(
        final_value("drydock_jobs_submitted_total"),
        v["jobs"]["submitted"].as_f64().expect("f64")
    );
    assert_eq!(
        final_value("drydock_jobs_completed_total"),
        v["jobs"]["completed"].as_f64().expect("f64")
    );
    assert_eq!(
        final_value("drydock_jobs_failed_total"),
        v["jobs"]["failed"].as_f64().expect("f64")
    );
    assert_eq!(
        final_value("drydock_job_restarts_total"),
        v["failures"]["restarts"].as_f64().expect("f64")
    );
    assert_eq!(
        final_value("drydock_job_preemptions_total"),
        v["failures"]["preemptions"].as_f64().expect("f64")
    );
    assert_eq!(final_value("drydock_node_outages_total"), 1.0);
    assert_eq!(
        final_value("drydock_job_completion_seconds_count"),
        v["jct"]["count"].as_f64().expect("f64")
    );
    let cost = final_value("drydock_cost_dollars_total");
    assert!(
        (cost - v["cost"]["total"].as_f64().expect("f64")).abs() < 1e-6,
        "{cost}"
    );
    let jct_sum = final_value("drydock_job_completion_seconds_sum");
    let jct_mean = v["jct"]["mean"].as_f64().expect("f64");
    assert!((jct_sum / 14.0 - jct_mean).abs() < 1e-6, "{jct_sum}");

    // The export is deterministic, and --metrics-start moves every timestamp.
    let (_, again) = export(dir.path(), "default", &[]);
    assert_eq!(om, again);
    let (_, shifted) = export(
        dir.path(),
        "default",
        &["--metrics-start", "2026-01-01T01:00:00+01:00"],
    );
    assert_eq!(om, shifted, "the same instant written with an offset");
    let (_, later) = export(
        dir.path(),
        "default",
        &["--metrics-start", "2026-06-01T00:00:00.5Z"],
    );
    let (_, later_samples) = check_openmetrics(&later).unwrap_or_else(|e| panic!("{e}"));
    let later_first = later_samples
        .iter()
        .map(|s| s.ts_ms)
        .min()
        .expect("samples");
    assert_eq!(later_first, 1_780_272_000_500);
}

/// prometheus-parse reads the Prometheus text format: it keeps OpenMetrics' float timestamps
/// out (they fall back to the scrape time) and sees counters' `_total` samples as untyped,
/// but it must read every family's help and every sample's value and labels.
#[test]
fn openmetrics_export_is_read_by_prometheus_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, om) = export(dir.path(), "training-failures", &["--seed", "3"]);
    let lines = om.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("parses");
    for family in [
        "drydock_gpu_allocated",
        "drydock_jobs_completed",
        "drydock_job_completion_seconds",
        "drydock_cost_dollars",
    ] {
        assert!(scrape.docs.contains_key(family), "no help for {family}");
    }
    let capacity: Vec<&prometheus_parse::Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "drydock_gpu_capacity")
        .collect();
    assert!(!capacity.is_empty());
    for s in &capacity {
        assert_eq!(s.labels.get("scenario"), Some("training-failures"));
        assert_eq!(s.labels.get("seed"), Some("3"));
        assert!(matches!(s.value, prometheus_parse::Value::Gauge(v) if v == 256.0));
    }
    let histogram = scrape
        .samples
        .iter()
        .find(|s| s.metric == "drydock_job_completion_seconds")
        .expect("histogram read");
    assert!(matches!(&histogram.value, prometheus_parse::Value::Histogram(b) if !b.is_empty()));
    // Every sample line was read (histogram buckets fold into one sample per series).
    let sample_lines = om
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket{"))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines + 2,
        "two histogram series"
    );
}

/// Prometheus' own tools: the OpenMetrics backfill parser must accept the export whole, and
/// the linter must accept its names. Skipped when promtool is absent (`.ci/run` installs it
/// and sets DRYDOCK_REQUIRE_PROMTOOL=1).
#[test]
fn openmetrics_export_is_accepted_by_promtool() {
    let Some(promtool) = promtool() else {
        eprintln!("promtool not installed: skipping (apt-get install prometheus)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    for scenario in ["default", "training-failures"] {
        let (file, om) = export(dir.path(), scenario, &[]);
        let blocks = dir.path().join(format!("{scenario}-tsdb"));
        let o = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(&blocks)
            .output()
            .expect("promtool runs");
        assert!(
            o.status.success(),
            "promtool rejected the export of {scenario}:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(&promtool)
            .args(["tsdb", "list"])
            .arg(&blocks)
            .output()
            .expect("promtool runs");
        let listing = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && listing.lines().count() >= 2,
            "{listing}"
        );

        let lint = latest_as_text_format(&om);
        let mut child = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool runs");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(lint.as_bytes()).expect("write");
        }
        let o = child.wait_with_output().expect("promtool ends");
        assert!(
            o.status.success(),
            "promtool check metrics:\n{}{}\n{lint}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn the_strict_reader_rejects_what_openmetrics_forbids() {
    let head = "# TYPE drydock_x gauge\n# HELP drydock_x X.\n";
    let s = |v: &str, ts: &str| format!("drydock_x{{scenario=\"s\",seed=\"1\"}} {v} {ts}\n");
    let ok = format!("{head}{}{}# EOF\n", s("1", "10.000"), s("2", "11.000"));
    assert!(check_openmetrics(&ok).is_ok());
    for (what, bad) in [
        ("no EOF", format!("{head}{}", s("1", "10.000"))),
        ("time goes back", format!("{head}{}{}# EOF\n", s("1", "11.000"), s("2", "10.000"))),
        ("no timestamp", format!("{head}drydock_x{{scenario=\"s\",seed=\"1\"}} 1\n# EOF\n")),
        (
            "family split",
            format!(
                "{head}{}# TYPE drydock_y gauge\n# HELP drydock_y Y.\n{}# EOF\n",
                s("1", "10.000"),
                s("2", "11.000")
            ),
        ),
        (
            "counter without _total",
            "# TYPE drydock_c counter\n# HELP drydock_c C.\ndrydock_c{scenario=\"s\",seed=\"1\"} 1 1.000\n# EOF\n".to_string(),
        ),
        (
            "unit not a suffix",
            "# TYPE drydock_g gauge\n# UNIT drydock_g seconds\n# HELP drydock_g G.\n# EOF\n".to_string(),
        ),
    ] {
        assert!(check_openmetrics(&bad).is_err(), "{what} accepted");
    }
}

/// README.md documents every exported metric and every expectation metric by name.
#[test]
fn readme_documents_every_metric_name() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, om) = export(dir.path(), "default", &[]);
    let (types, _) = check_openmetrics(&om).unwrap_or_else(|e| panic!("{e}"));
    for (family, ty) in &types {
        let documented = if ty == "counter" {
            format!("`{family}_total`")
        } else {
            format!("`{family}`")
        };
        assert!(readme.contains(&documented), "README lacks {documented}");
    }
    for m in drydock_scenarios::expect::METRICS {
        assert!(
            readme.contains(&format!("`{}`", m.name)),
            "README lacks `{}`",
            m.name
        );
    }
    assert!(readme.contains("promtool tsdb create-blocks-from openmetrics"));
}
