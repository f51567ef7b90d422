//! `drydock compare A B`: the side-by-side table and its input errors.

use std::path::Path;
use std::process::{Command, Output};

fn drydock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(args)
        .env_remove("DRYDOCK_DATA_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("drydock runs")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn run_to(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend(["--out", p(&out)]);
    let o = drydock(&all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn compare_marks_the_metrics_that_differ() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = run_to(dir.path(), "a", &["default", "--seed", "1"]);
    let b = run_to(dir.path(), "b", &["tests/fixtures/golden.yaml"]);
    let o = drydock(&["compare", p(&a.join("summary.json")), p(&b)]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("A: ") && text.contains("default (seed 1, policy binpack)"),
        "{text}"
    );
    assert!(text.contains("golden (seed 1, policy binpack)"), "{text}");
    let header = text
        .lines()
        .find(|l| l.contains("metric"))
        .unwrap_or_default();
    assert!(
        header.contains("B - A") && header.contains("relative"),
        "{header}"
    );
    // The default scenario has 14 jobs, the golden one 3: marked, -11, -78.6%.
    let jobs = text
        .lines()
        .find(|l| l.contains("jobs_submitted"))
        .unwrap_or_default();
    assert!(jobs.starts_with('*'), "{jobs}");
    assert!(jobs.contains("-11") && jobs.contains("-78.6%"), "{jobs}");
    // No colour when stdout is not a terminal.
    assert!(!text.contains('\x1b'));
    // Ratios change in percentage points.
    let alloc = text
        .lines()
        .find(|l| l.contains("gpu_allocation_mean"))
        .unwrap_or_default();
    assert!(alloc.contains(" pp"), "{alloc}");
}

#[test]
fn a_report_compared_with_itself_has_no_differences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = run_to(dir.path(), "a", &["default"]);
    let o = drydock(&["compare", p(&a), p(&a)]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text.contains("0 of 28 metrics differ (marked *); identical event logs"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with('*')), "{text}");
}

#[test]
fn missing_or_malformed_reports_are_input_errors_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = run_to(dir.path(), "a", &["default"]);
    let missing = dir.path().join("nope.json");
    let o = drydock(&["compare", p(&a), p(&missing)]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(p(&missing)), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{not json").expect("write");
    let o = drydock(&["compare", p(&bad), p(&a)]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(p(&bad)) && err.contains("not a drydock summary"),
        "{err}"
    );

    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"hello\": 1}").expect("write");
    let o = drydock(&["compare", p(&a), p(&other)]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no `version` field"), "{err}");
}
