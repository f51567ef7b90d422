//! Evaluation of a scenario's expectations (`spec.expect`) against a run's [`Summary`].
//!
//! Expectations are parsed and validated when the scenario is loaded
//! ([`drydock_scenarios::expect`]); here each is compared with the measured value of its metric
//! ([`Summary::metric_value`]), giving one [`CheckResult`] per expectation, in file order.

use drydock_scenarios::expect::{CompareOp, Expectation, MetricUnit};
use serde::Serialize;

use crate::report::{Metric, Summary};

/// The outcome of one expectation on one run (or on a mean over runs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The expectation as written (`jct_p95 <= 4h`): the name of the check in reports.
    pub check: String,
    /// The metric's name.
    pub metric: String,
    /// The comparison.
    pub op: CompareOp,
    /// The threshold, in the unit's base (seconds, ratio 0–1, dollars, ...).
    pub threshold: f64,
    /// The measured value in the unit's base; `None` when the report has no such metric
    /// (a label selector on a metric without labels; validation rules this out).
    pub measured: Option<f64>,
    /// The metric's unit.
    pub unit: MetricUnit,
    /// The measured value formatted in its unit (`6h11m`, `40.6%`, `$1830.72`), or
    /// `not measured`.
    pub measured_text: String,
    /// Whether the expectation holds.
    pub passed: bool,
}

impl CheckResult {
    /// `PASS` or `FAIL`.
    pub fn verdict(&self) -> &'static str {
        if self.passed { "PASS" } else { "FAIL" }
    }

    /// One line for people: `jct_p95 <= 4h: measured 6h11m`.
    pub fn describe(&self) -> String {
        format!("{}: measured {}", self.check, self.measured_text)
    }
}

/// Evaluates every expectation against the summary of a run, in order.
pub fn evaluate(expectations: &[Expectation], summary: &Summary) -> Vec<CheckResult> {
    expectations
        .iter()
        .map(|e| {
            let measured = match e.labels.get("service") {
                None if e.labels.is_empty() => summary.metric_value(&e.metric),
                Some(name) if e.labels.len() == 1 => {
                    summary.service_metric(&e.metric, Some(name.as_str()))
                }
                _ => None,
            };
            result(e, measured)
        })
        .collect()
}

/// Evaluates every expectation against a list of metric values (for example means over the
/// runs of a sweep); a metric missing from the list is `not measured` and fails.
pub fn evaluate_metrics(expectations: &[Expectation], metrics: &[Metric]) -> Vec<CheckResult> {
    expectations
        .iter()
        .map(|e| {
            let measured = metrics
                .iter()
                .find(|m| m.name == e.metric && e.labels.is_empty())
                .map(|m| m.value);
            result(e, measured)
        })
        .collect()
}

fn result(e: &Expectation, measured: Option<f64>) -> CheckResult {
    CheckResult {
        check: e.source_text.clone(),
        metric: e.metric.clone(),
        op: e.op,
        threshold: e.value,
        measured,
        unit: e.unit,
        measured_text: measured
            .map_or_else(|| "not measured".to_string(), |v| e.unit.format_value(v)),
        passed: measured.is_some_and(|v| e.check(v)),
    }
}

/// True when every check passed (also when there are none).
pub fn all_passed(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_scenarios::parse_expectation;

    fn summary() -> Summary {
        let mut s = Summary::default();
        s.jct.p95 = 22_260.0;
        s.cost.total = 1830.72;
        s.gpu.allocation_mean = 0.406;
        s.jobs.failed = 0;
        s
    }

    fn run(texts: &[&str]) -> Vec<CheckResult> {
        let exps: Vec<Expectation> = texts
            .iter()
            .map(|t| parse_expectation(t).expect("valid"))
            .collect();
        evaluate(&exps, &summary())
    }

    #[test]
    fn checks_compare_the_measured_value_in_the_metric_unit() {
        let r = run(&[
            "jct_p95 <= 4h",
            "jct_p95 <= 7h",
            "cost_total <= $1200",
            "cost_total < 2000",
            "gpu_allocation_mean >= 85%",
            "gpu_allocation_mean >= 0.4",
            "jobs_failed == 0",
            "jobs_failed != 0",
        ]);
        let verdicts: Vec<(&str, bool)> = r.iter().map(|c| (c.check.as_str(), c.passed)).collect();
        assert_eq!(
            verdicts,
            [
                ("jct_p95 <= 4h", false),
                ("jct_p95 <= 7h", true),
                ("cost_total <= $1200", false),
                ("cost_total < 2000", true),
                ("gpu_allocation_mean >= 85%", false),
                ("gpu_allocation_mean >= 0.4", true),
                ("jobs_failed == 0", true),
                ("jobs_failed != 0", false),
            ]
        );
        assert_eq!(r[0].measured, Some(22_260.0));
        assert_eq!(r[0].threshold, 14_400.0);
        assert_eq!(r[0].measured_text, "6h11m");
        assert_eq!(r[0].describe(), "jct_p95 <= 4h: measured 6h11m");
        assert_eq!(r[0].verdict(), "FAIL");
        assert_eq!(r[2].measured_text, "$1830.72");
        assert_eq!(r[4].measured_text, "40.6%");
        assert!(!all_passed(&r));
        assert!(all_passed(&r[1..2]));
        assert!(all_passed(&[]));
    }

    #[test]
    fn evaluation_against_metric_lists_matches_the_summary() {
        let exps: Vec<Expectation> = ["jct_p95 <= 4h", "cost_total < 2000"]
            .iter()
            .map(|t| parse_expectation(t).expect("valid"))
            .collect();
        let s = summary();
        assert_eq!(evaluate_metrics(&exps, &s.metrics()), evaluate(&exps, &s));
        let none = evaluate_metrics(&exps, &[]);
        assert!(none.iter().all(|c| !c.passed && c.measured.is_none()));
        assert_eq!(none[0].measured_text, "not measured");
    }

    #[test]
    fn results_serialize_with_the_operator_symbol() {
        let r = run(&["jobs_failed == 0"]);
        let v = serde_json::to_value(&r[0]).expect("json");
        assert_eq!(v["op"], "==");
        assert_eq!(v["unit"], "count");
        assert_eq!(v["passed"], true);
        assert_eq!(v["check"], "jobs_failed == 0");
    }
}
