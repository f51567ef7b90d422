//! `spec.expect`: expectations are parsed into typed checks at load time, every bad one is
//! reported at its own place, and the vocabulary is the shared metric table.

use drydock_scenarios::expect::{METRICS, metric};
use drydock_scenarios::{CompareOp, MetricUnit, load_named_or_path, load_str};

const HEAD: &str = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: t}\nspec:\n  cluster:\n    pools:\n      - {name: a100, nodes: 1, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 1Ti}\n";

#[test]
fn expectations_load_as_typed_checks_in_file_order() {
    let yaml = format!(
        "{HEAD}  expect:\n    - jct_p95 <= 4h\n    - cost_total <= $1200\n    - gpu_allocation_mean >= 85%\n    - jobs_failed == 0\n    - 'fragmentation_mean < 0.3'\n    - \"queueing_delay_p99 != 90s\"\n"
    );
    let s = load_str(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, CompareOp, f64, MetricUnit)> = s
        .expect
        .iter()
        .map(|e| (e.metric.as_str(), e.op, e.value, e.unit))
        .collect();
    assert_eq!(
        got,
        [
            ("jct_p95", CompareOp::Le, 14_400.0, MetricUnit::Seconds),
            ("cost_total", CompareOp::Le, 1200.0, MetricUnit::Dollars),
            (
                "gpu_allocation_mean",
                CompareOp::Ge,
                0.85,
                MetricUnit::Ratio
            ),
            ("jobs_failed", CompareOp::Eq, 0.0, MetricUnit::Count),
            ("fragmentation_mean", CompareOp::Lt, 0.3, MetricUnit::Ratio),
            (
                "queueing_delay_p99",
                CompareOp::Ne,
                90.0,
                MetricUnit::Seconds
            ),
        ]
    );
    assert_eq!(s.expect[1].source_text, "cost_total <= $1200");
    assert!(s.expect.iter().all(|e| e.labels.is_empty()));
}

#[test]
fn a_scenario_without_expect_has_none() {
    let s = load_str(HEAD, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.expect.is_empty());
}

#[test]
fn every_bad_expectation_is_reported_at_its_own_place() {
    let yaml = format!(
        "{HEAD}  expect:\n    - jct_p95 <= 4h\n    - jtc_p95 <= 4h\n    - cost_total =< 1200\n    - 'gpu_allocation_mean >= 4h'\n    - \"jct_p95{{service=chat}} < 1h\"\n    - jobs_failed\n"
    );
    let err = load_str(&yaml, "t.yaml").expect_err("invalid");
    let got: Vec<(&str, usize, usize)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.rule.as_str(), d.line, d.column))
        .collect();
    assert_eq!(
        got,
        [
            ("expect-metric", 10, 7),
            ("expect-operator", 11, 18),
            ("expect-value", 12, 31),
            ("expect-labels", 13, 15),
            ("expect-syntax", 14, 18),
        ],
        "{err}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("`spec.expect[1]`: unknown metric `jtc_p95`"),
        "{shown}"
    );
    assert!(
        shown.contains("hint: did you mean `jct_p95`? valid metrics: jobs_submitted"),
        "{shown}"
    );
    assert!(shown.contains("metric `jct_p95` has no labels"), "{shown}");
}

#[test]
fn a_mapping_instead_of_a_string_is_a_type_error() {
    let yaml = format!("{HEAD}  expect:\n    - jct_p95: 4h\n");
    let err = load_str(&yaml, "t.yaml").expect_err("invalid");
    let d = &err.diagnostics()[0];
    assert_eq!((d.rule.as_str(), d.line), ("invalid-type", 9), "{err}");
    assert!(
        err.to_string()
            .contains("expected an expectation like `jct_p95 <= 4h`")
    );
}

#[test]
fn the_vocabulary_has_what_the_issue_names() {
    for name in [
        "jct_p95",
        "cost_total",
        "gpu_allocation_mean",
        "jobs_failed",
        "fragmentation_mean",
    ] {
        assert!(metric(name).is_some(), "{name}");
    }
    // Only the inference service metrics take a label, and it is `service`.
    for m in METRICS {
        assert!(
            m.labels.is_empty() || m.labels == ["service"],
            "{}: {:?}",
            m.name,
            m.labels
        );
    }
    for name in ["slo_attainment", "request_latency_p99", "requests_dropped"] {
        assert_eq!(
            metric(name).map(|m| m.labels),
            Some(&["service"][..]),
            "{name}"
        );
    }
}

#[test]
fn the_default_scenario_carries_expectations() {
    let s = load_named_or_path("default").expect("loads");
    assert!(s.expect.len() >= 4, "{:?}", s.expect);
    assert!(s.expect.iter().any(|e| e.metric == "jobs_failed"));
}
