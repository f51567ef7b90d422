//! Expectations (`spec.expect`): checks on a run's report, such as `jct_p95 <= 4h` or
//! `cost_total <= $1200`, and the vocabulary of metric names they may use.
//!
//! [`METRICS`] is the one list of the named scalar metrics of a run's summary, with their
//! units and descriptions. The simulator's `Summary::metrics()` yields exactly these names, in
//! this order (a test in `drydock-sim` checks it); scenario files are checked against the same
//! list when they are loaded, so an unknown name is an input error before anything runs.
//!
//! An expectation is written `METRIC OP VALUE`:
//!
//! * `METRIC` is a name from [`METRICS`], optionally followed by a label selector
//!   `{key=value, ...}`. Only the inference service metrics have a label, `service`
//!   (`slo_attainment{service=chat} >= 99%`); a selector on another metric is an input error.
//! * `OP` is one of `<`, `<=`, `>`, `>=`, `==`, `!=`.
//! * `VALUE` is written in the metric's unit ([`MetricUnit`]): a duration (`4h`, `90s`,
//!   `1h30m`, or plain seconds) for times, a ratio (`0.85`) or a percentage (`85%`) for
//!   ratios, dollars with or without `$` (`$1200`, `1200.50`), dollars per hour (`$150/h`),
//!   and plain non-negative numbers for counts, GPUs, GPU-hours and hours.
//!
//! ```
//! use drydock_scenarios::expect::{CompareOp, parse_expectation};
//! let e = parse_expectation("jct_p95 <= 4h").expect("valid");
//! assert_eq!((e.metric.as_str(), e.op, e.value), ("jct_p95", CompareOp::Le, 14_400.0));
//! assert!(e.check(3.5 * 3600.0));
//! assert!(!e.check(5.0 * 3600.0));
//! assert_eq!(parse_expectation("gpu_allocation_mean >= 85%").expect("valid").value, 0.85);
//!
//! let err = parse_expectation("jtc_p95 <= 4h").expect_err("unknown metric");
//! assert_eq!(err.rule, "expect-metric");
//! assert!(err.hint.contains("did you mean `jct_p95`?"));
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::closest;
use crate::units::parse_duration;

/// The unit of a summary metric: how expectation values are parsed and how measured values
/// are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricUnit {
    /// A plain count.
    Count,
    /// Seconds (written as durations like `4h` in expectations).
    Seconds,
    /// A ratio between 0 and 1 (written `0.85` or `85%`).
    Ratio,
    /// GPUs.
    Gpus,
    /// GPU-hours.
    GpuHours,
    /// Hours.
    Hours,
    /// US dollars.
    Dollars,
    /// Dollars per hour.
    DollarsPerHour,
}

/// The definition of one named scalar metric of a run's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Name, `snake_case` (for example `jct_p95`).
    pub name: &'static str,
    /// Unit of its value (values are in the unit's base: seconds, ratio 0–1, dollars, ...).
    pub unit: MetricUnit,
    /// One-line description.
    pub help: &'static str,
    /// Label names a selector may use (`name{label=value}`): `service` for the inference
    /// service metrics, none for the others.
    pub labels: &'static [&'static str],
}

const fn service_def(name: &'static str, unit: MetricUnit, help: &'static str) -> MetricDef {
    MetricDef {
        name,
        unit,
        help,
        labels: &["service"],
    }
}

const fn def(name: &'static str, unit: MetricUnit, help: &'static str) -> MetricDef {
    MetricDef {
        name,
        unit,
        help,
        labels: &[],
    }
}

/// Every named scalar metric of a run's summary, in report order: the vocabulary of
/// expectations and of sweep tables. `Summary::metrics()` in `drydock-sim` yields values for
/// exactly these names, in this order.
pub const METRICS: &[MetricDef] = &[
    def(
        "jobs_submitted",
        MetricUnit::Count,
        "jobs that arrived before the end",
    ),
    def(
        "jobs_completed",
        MetricUnit::Count,
        "jobs that finished their work",
    ),
    def(
        "jobs_failed",
        MetricUnit::Count,
        "jobs that failed (backoff limit, or unschedulable in arrivals-only runs)",
    ),
    def("jobs_pending", MetricUnit::Count, "jobs waiting at the end"),
    def("jobs_running", MetricUnit::Count, "jobs running at the end"),
    def(
        "jct_mean",
        MetricUnit::Seconds,
        "mean job completion time (arrival to completion)",
    ),
    def("jct_p50", MetricUnit::Seconds, "median job completion time"),
    def(
        "jct_p95",
        MetricUnit::Seconds,
        "95th percentile job completion time",
    ),
    def(
        "jct_p99",
        MetricUnit::Seconds,
        "99th percentile job completion time",
    ),
    def(
        "queueing_delay_mean",
        MetricUnit::Seconds,
        "mean queueing delay (arrival to first start)",
    ),
    def(
        "queueing_delay_p50",
        MetricUnit::Seconds,
        "median queueing delay",
    ),
    def(
        "queueing_delay_p95",
        MetricUnit::Seconds,
        "95th percentile queueing delay",
    ),
    def(
        "queueing_delay_p99",
        MetricUnit::Seconds,
        "99th percentile queueing delay",
    ),
    def(
        "gpu_allocation_mean",
        MetricUnit::Ratio,
        "time-weighted mean of allocated over total GPUs",
    ),
    def(
        "gpu_allocated_peak",
        MetricUnit::Gpus,
        "peak allocated GPUs",
    ),
    def(
        "gpu_allocated_end",
        MetricUnit::Gpus,
        "allocated GPUs at the end",
    ),
    def(
        "fragmentation_mean",
        MetricUnit::Ratio,
        "mean GPU fragmentation ratio (FGD study definition)",
    ),
    def(
        "fragmentation_end",
        MetricUnit::Ratio,
        "GPU fragmentation ratio at the end",
    ),
    def(
        "node_failures",
        MetricUnit::Count,
        "node failures (host causes)",
    ),
    def("gpu_failures", MetricUnit::Count, "GPU failures"),
    def(
        "restarts",
        MetricUnit::Count,
        "gang restarts after failures",
    ),
    def("preemptions", MetricUnit::Count, "jobs preempted"),
    def(
        "gpu_hours_lost",
        MetricUnit::GpuHours,
        "GPU-hours lost to failures",
    ),
    def(
        "preemption_gpu_hours_lost",
        MetricUnit::GpuHours,
        "GPU-hours of work lost to preemption",
    ),
    def("node_hours", MetricUnit::Hours, "node-hours over all pools"),
    def("cost_total", MetricUnit::Dollars, "total cost in dollars"),
    def(
        "cost_per_hour",
        MetricUnit::DollarsPerHour,
        "cost in dollars per hour of virtual time",
    ),
    def(
        "virtual_time",
        MetricUnit::Seconds,
        "virtual time at the end of the run",
    ),
    service_def(
        "requests_completed",
        MetricUnit::Count,
        "inference requests completed (all services, or `{service=NAME}`)",
    ),
    service_def(
        "requests_dropped",
        MetricUnit::Count,
        "inference requests dropped: queue full, timeout, replica lost, no endpoint",
    ),
    service_def(
        "slo_attainment",
        MetricUnit::Ratio,
        "fraction of finished requests (completed or dropped) that met the service's SLO",
    ),
    service_def(
        "request_latency_p50",
        MetricUnit::Seconds,
        "median end-to-end request latency (the worst service without a selector)",
    ),
    service_def(
        "request_latency_p95",
        MetricUnit::Seconds,
        "95th percentile end-to-end request latency (the worst service without a selector)",
    ),
    service_def(
        "request_latency_p99",
        MetricUnit::Seconds,
        "99th percentile end-to-end request latency (the worst service without a selector)",
    ),
    service_def(
        "ttft_p95",
        MetricUnit::Seconds,
        "95th percentile time to first token of LLM services (the worst without a selector)",
    ),
    service_def(
        "tpot_p95",
        MetricUnit::Seconds,
        "95th percentile time per output token of LLM services (the worst without a selector)",
    ),
    service_def(
        "replicas_peak",
        MetricUnit::Count,
        "most replica pods of a service at once (the sum over services without a selector)",
    ),
    service_def(
        "cost_per_million_requests",
        MetricUnit::Dollars,
        "the cluster's cost per million completed inference requests",
    ),
];

/// True for the metrics of inference services (they have the `service` label and a value only
/// in runs with services).
pub fn is_service_metric(name: &str) -> bool {
    metric(name).is_some_and(|m| m.labels.contains(&"service"))
}

/// The metric called `name`, if any.
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// The names of [`METRICS`], in order.
pub fn metric_names() -> Vec<&'static str> {
    METRICS.iter().map(|m| m.name).collect()
}

/// Relative tolerance within which a measured value and a threshold count as equal, so that
/// `cost_total <= 1830.72` holds for a measured 1830.7200000000003.
pub const TOLERANCE: f64 = 1e-9;

/// A comparison operator of an expectation. Serialized as its symbol (`"<="`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompareOp {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl CompareOp {
    /// Every operator, two-character ones first (the order in which they are matched).
    pub const ALL: [CompareOp; 6] = [
        CompareOp::Le,
        CompareOp::Ge,
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Gt,
    ];

    /// The operator as written (`<=`).
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        }
    }

    /// Whether `measured OP threshold` holds. Values within a relative [`TOLERANCE`] of each
    /// other count as equal. NaN satisfies no operator (not even `!=`).
    pub fn holds(self, measured: f64, threshold: f64) -> bool {
        if measured.is_nan() || threshold.is_nan() {
            return false;
        }
        let scale = measured.abs().max(threshold.abs()).max(1.0);
        let equal = (measured - threshold).abs() <= TOLERANCE * scale;
        match self {
            CompareOp::Lt => measured < threshold && !equal,
            CompareOp::Le => measured < threshold || equal,
            CompareOp::Gt => measured > threshold && !equal,
            CompareOp::Ge => measured > threshold || equal,
            CompareOp::Eq => equal,
            CompareOp::Ne => !equal,
        }
    }
}

/// One validated expectation of `spec.expect`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// The metric's name (one of [`METRICS`]).
    pub metric: String,
    /// The label selector (`{key=value}`): only `service` on the inference service metrics.
    pub labels: BTreeMap<String, String>,
    /// The comparison.
    pub op: CompareOp,
    /// The threshold in the unit's base (seconds, ratio 0–1, dollars, ...).
    pub value: f64,
    /// The metric's unit.
    pub unit: MetricUnit,
    /// The expectation as written (trimmed), for reports: `jct_p95 <= 4h`.
    pub source_text: String,
}

impl Expectation {
    /// Whether a measured value (in the unit's base) satisfies the expectation.
    pub fn check(&self, measured: f64) -> bool {
        self.op.holds(measured, self.value)
    }
}

/// Why an expectation could not be parsed or validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectError {
    /// The rule broken: `expect-syntax`, `expect-operator`, `expect-metric`, `expect-labels`
    /// or `expect-value`.
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Where in the text, in characters from its start.
    pub offset: usize,
}

impl std::fmt::Display for ExpectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: {}", self.rule, self.message)
    }
}

impl std::error::Error for ExpectError {}

const OPERATORS_HINT: &str = "write `METRIC OP VALUE` with OP one of <, <=, >, >=, ==, != (for \
     example `jct_p95 <= 4h` or `jobs_failed == 0`)";

fn valid_metrics_hint() -> String {
    format!("valid metrics: {}", metric_names().join(", "))
}

/// A cursor over the characters of an expectation, tracking the character offset.
struct Cursor<'a> {
    chars: Vec<(usize, char)>,
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            chars: text.char_indices().collect(),
            text,
            i: 0,
        }
    }
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).map(|c| c.1)
    }
    fn peek2(&self) -> Option<char> {
        self.chars.get(self.i + 1).map(|c| c.1)
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }
    /// The text from character `from` to the cursor.
    fn since(&self, from: usize) -> &'a str {
        let start = self.byte(from);
        let end = self.byte(self.i);
        &self.text[start..end]
    }
    /// The rest of the text.
    fn rest(&self) -> &'a str {
        &self.text[self.byte(self.i)..]
    }
    fn byte(&self, char_index: usize) -> usize {
        self.chars.get(char_index).map_or(self.text.len(), |c| c.0)
    }
}

fn err(rule: &'static str, offset: usize, message: String, hint: String) -> ExpectError {
    ExpectError {
        rule,
        message,
        hint,
        offset,
    }
}

/// Parses and validates one expectation, `METRIC[{SELECTOR}] OP VALUE`, against [`METRICS`].
///
/// # Errors
/// An [`ExpectError`] naming the rule broken, with the character offset of the offending part:
/// `expect-syntax` (not of the form `METRIC OP VALUE`, or a malformed selector),
/// `expect-metric` (unknown metric name; the hint names the nearest one and lists all),
/// `expect-labels` (a selector on a metric without those labels), `expect-operator` (an
/// unknown comparison such as `=<` or `=`), `expect-value` (a value that is not written in the
/// metric's unit, is negative, or is a ratio above 1).
pub fn parse_expectation(text: &str) -> Result<Expectation, ExpectError> {
    let mut cur = Cursor::new(text);
    cur.skip_ws();
    if cur.peek().is_none() {
        return Err(err(
            "expect-syntax",
            0,
            "empty expectation".into(),
            OPERATORS_HINT.into(),
        ));
    }
    // The metric name: everything up to a space, a selector or an operator character.
    let name_start = cur.i;
    while cur
        .peek()
        .is_some_and(|c| !(c.is_whitespace() || "{}<>=!≤≥≠".contains(c)))
    {
        cur.i += 1;
    }
    let name = cur.since(name_start);
    if name.is_empty() {
        return Err(err(
            "expect-syntax",
            name_start,
            format!("`{}`: expected a metric name first", text.trim()),
            OPERATORS_HINT.into(),
        ));
    }
    let Some(def) = metric(name) else {
        let names = metric_names();
        let normalized = name.replace(['-', '.', ' '], "_");
        let hint = match closest(&normalized, &names) {
            Some(c) => format!("did you mean `{c}`? {}", valid_metrics_hint()),
            None => valid_metrics_hint(),
        };
        return Err(err(
            "expect-metric",
            name_start,
            format!("unknown metric `{}`", name.escape_debug()),
            hint,
        ));
    };
    cur.skip_ws();
    let labels = if cur.peek() == Some('{') {
        parse_selector(&mut cur, def)?
    } else {
        BTreeMap::new()
    };
    cur.skip_ws();
    let op = parse_op(&mut cur, def)?;
    cur.skip_ws();
    let value_start = cur.i;
    let value_text = cur.rest().trim();
    if value_text.is_empty() {
        return Err(err(
            "expect-syntax",
            value_start,
            format!("`{}`: missing value after `{}`", text.trim(), op.symbol()),
            format!(
                "{} is {}; for example `{} {} {}`",
                def.name,
                unit_phrase(def.unit),
                def.name,
                op.symbol(),
                unit_example(def.unit)
            ),
        ));
    }
    let value = parse_value(def, value_text).map_err(|(message, hint)| {
        err(
            "expect-value",
            value_start,
            format!("`{}`: {message}", text.trim()),
            hint,
        )
    })?;
    Ok(Expectation {
        metric: def.name.to_string(),
        labels,
        op,
        value,
        unit: def.unit,
        source_text: text.trim().to_string(),
    })
}

/// Parses `{key=value, key="quoted value"}` at the cursor and checks the keys against the
/// metric's labels.
fn parse_selector(
    cur: &mut Cursor<'_>,
    def: &MetricDef,
) -> Result<BTreeMap<String, String>, ExpectError> {
    let open = cur.i;
    cur.bump();
    let syntax_hint = "a label selector is written `{key=value}` or `{key=\"value\", other=value}`";
    let mut labels = BTreeMap::new();
    let mut first_key: Option<(usize, String)> = None;
    loop {
        cur.skip_ws();
        match cur.peek() {
            None => {
                return Err(err(
                    "expect-syntax",
                    open,
                    "unclosed `{` in the label selector".into(),
                    syntax_hint.into(),
                ));
            }
            Some('}') => {
                cur.bump();
                break;
            }
            Some(_) => {}
        }
        let key_start = cur.i;
        while cur
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            cur.i += 1;
        }
        let key = cur.since(key_start).to_string();
        if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(err(
                "expect-syntax",
                key_start,
                "expected a label name in the selector".into(),
                syntax_hint.into(),
            ));
        }
        cur.skip_ws();
        let op_at = cur.i;
        match (cur.peek(), cur.peek2()) {
            (Some('='), Some('~')) | (Some('!'), Some('=' | '~')) => {
                return Err(err(
                    "expect-syntax",
                    op_at,
                    format!("only `{key}=value` label matchers are supported"),
                    syntax_hint.into(),
                ));
            }
            (Some('='), _) => {
                cur.bump();
            }
            _ => {
                return Err(err(
                    "expect-syntax",
                    op_at,
                    format!("expected `=` after the label name `{key}`"),
                    syntax_hint.into(),
                ));
            }
        }
        cur.skip_ws();
        let value = if cur.peek() == Some('"') {
            let quote_at = cur.i;
            cur.bump();
            let mut v = String::new();
            loop {
                match cur.bump() {
                    None => {
                        return Err(err(
                            "expect-syntax",
                            quote_at,
                            "unclosed `\"` in the label selector".into(),
                            syntax_hint.into(),
                        ));
                    }
                    Some('"') => break,
                    Some('\\') => match cur.bump() {
                        Some(c) => v.push(c),
                        None => {
                            return Err(err(
                                "expect-syntax",
                                quote_at,
                                "unclosed `\"` in the label selector".into(),
                                syntax_hint.into(),
                            ));
                        }
                    },
                    Some(c) => v.push(c),
                }
            }
            v
        } else {
            let v_start = cur.i;
            while cur
                .peek()
                .is_some_and(|c| !(c.is_whitespace() || c == ',' || c == '}' || c == '"'))
            {
                cur.i += 1;
            }
            cur.since(v_start).to_string()
        };
        if value.is_empty() {
            return Err(err(
                "expect-syntax",
                cur.i,
                format!("missing value for the label `{key}`"),
                syntax_hint.into(),
            ));
        }
        if first_key.is_none() {
            first_key = Some((key_start, key.clone()));
        }
        labels.insert(key, value);
        cur.skip_ws();
        match cur.peek() {
            Some(',') => {
                cur.bump();
            }
            Some('}') => {}
            None => {
                return Err(err(
                    "expect-syntax",
                    open,
                    "unclosed `{` in the label selector".into(),
                    syntax_hint.into(),
                ));
            }
            Some(c) => {
                return Err(err(
                    "expect-syntax",
                    cur.i,
                    format!("unexpected `{c}` in the label selector"),
                    syntax_hint.into(),
                ));
            }
        }
    }
    if let Some((at, key)) = first_key {
        if def.labels.is_empty() {
            let with_labels: Vec<&str> = METRICS
                .iter()
                .filter(|m| !m.labels.is_empty())
                .map(|m| m.name)
                .collect();
            let which = if with_labels.is_empty() {
                "no metric has labels yet (per-service metrics come with inference services)"
                    .to_string()
            } else {
                format!("metrics with labels: {}", with_labels.join(", "))
            };
            return Err(err(
                "expect-labels",
                open,
                format!("metric `{}` has no labels", def.name),
                format!(
                    "remove the selector `{}`; {which}; {}",
                    cur.since(open),
                    valid_metrics_hint()
                ),
            ));
        }
        if let Some(bad) = labels.keys().find(|k| !def.labels.contains(&k.as_str())) {
            let at = if *bad == key { at } else { open };
            return Err(err(
                "expect-labels",
                at,
                format!("metric `{}` has no label `{bad}`", def.name),
                format!("labels of `{}`: {}", def.name, def.labels.join(", ")),
            ));
        }
    }
    Ok(labels)
}

/// Parses the comparison operator at the cursor; common misspellings get a suggestion.
fn parse_op(cur: &mut Cursor<'_>, def: &MetricDef) -> Result<CompareOp, ExpectError> {
    let at = cur.i;
    let rest = cur.rest();
    if rest.is_empty() {
        return Err(err(
            "expect-syntax",
            at,
            format!("`{}`: missing comparison after the metric", def.name),
            OPERATORS_HINT.into(),
        ));
    }
    let found: String = rest
        .chars()
        .take_while(|c| !(c.is_whitespace() || c.is_ascii_alphanumeric() || *c == '$'))
        .collect();
    let typo = |fix: &str| {
        err(
            "expect-operator",
            at,
            format!("unknown comparison `{found}`"),
            format!("did you mean `{fix}`? {OPERATORS_HINT}"),
        )
    };
    // Misspellings first, so that `=<` is not read as `=` and `<>` not as `<`.
    for (wrong, fix) in [("=<", "<="), ("=>", ">="), ("<>", "!="), ("===", "==")] {
        if rest.starts_with(wrong) {
            return Err(typo(fix));
        }
    }
    for op in CompareOp::ALL {
        if rest.starts_with(op.symbol()) {
            cur.i += op.symbol().chars().count();
            return Ok(op);
        }
    }
    for (wrong, fix) in [("≤", "<="), ("≥", ">="), ("≠", "!="), ("=", "==")] {
        if rest.starts_with(wrong) {
            return Err(typo(fix));
        }
    }
    let shown = if found.is_empty() {
        rest.split_whitespace().next().unwrap_or(rest).to_string()
    } else {
        found
    };
    Err(err(
        "expect-operator",
        at,
        format!(
            "expected a comparison after `{}`, found `{shown}`",
            def.name
        ),
        OPERATORS_HINT.into(),
    ))
}

/// How a value of `unit` is written, for hints.
fn unit_phrase(unit: MetricUnit) -> &'static str {
    match unit {
        MetricUnit::Count => "a count (a plain number)",
        MetricUnit::Seconds => "a duration (90s, 30m, 4h, 1h30m; a plain number means seconds)",
        MetricUnit::Ratio => "a ratio between 0 and 1 (0.85) or a percentage (85%)",
        MetricUnit::Gpus => "a number of GPUs",
        MetricUnit::GpuHours => "a number of GPU-hours",
        MetricUnit::Hours => "a number of hours",
        MetricUnit::Dollars => "an amount in dollars ($1200 or 1200)",
        MetricUnit::DollarsPerHour => "dollars per hour ($150/h, $150 or 150)",
    }
}

/// An example value of `unit`, for hints.
fn unit_example(unit: MetricUnit) -> &'static str {
    match unit {
        MetricUnit::Count => "0",
        MetricUnit::Seconds => "4h",
        MetricUnit::Ratio => "85%",
        MetricUnit::Gpus => "32",
        MetricUnit::GpuHours => "10",
        MetricUnit::Hours => "120",
        MetricUnit::Dollars => "$1200",
        MetricUnit::DollarsPerHour => "$150/h",
    }
}

/// A plain non-negative decimal number (`12`, `0.5`, `.5`); `None` for anything else
/// (signs, exponents, separators, `inf`, `nan`).
fn plain_number(s: &str) -> Option<f64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    if s.ends_with('.') && frac.is_empty() && s.contains('.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses the value of an expectation on `def` into the unit's base, or returns a message and
/// a hint.
fn parse_value(def: &MetricDef, text: &str) -> Result<f64, (String, String)> {
    let unit = def.unit;
    let hint = || {
        format!(
            "{} is {}; for example `{} <= {}`",
            def.name,
            unit_phrase(unit),
            def.name,
            unit_example(unit)
        )
    };
    if text.starts_with('-') {
        return Err((
            format!("`{text}` is negative; {} is never negative", def.name),
            hint(),
        ));
    }
    let wrong_kind = |what: &str| {
        Err((
            format!(
                "`{text}` is {what}, but {} is {}",
                def.name,
                unit_phrase(unit)
            ),
            hint(),
        ))
    };
    let has_dollar = text.starts_with('$');
    let has_percent = text.ends_with('%');
    let looks_like_duration = text
        .chars()
        .last()
        .is_some_and(|c| matches!(c, 's' | 'm' | 'h' | 'd'))
        && text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && parse_duration(text).is_ok();
    match unit {
        MetricUnit::Seconds => {
            if has_dollar {
                return wrong_kind("an amount of dollars");
            }
            if has_percent {
                return wrong_kind("a percentage");
            }
            parse_duration(text)
                .map(|d| d.as_secs_f64())
                .map_err(|e| (e, hint()))
        }
        MetricUnit::Ratio => {
            if has_dollar {
                return wrong_kind("an amount of dollars");
            }
            if let Some(p) = text.strip_suffix('%') {
                let v = plain_number(p.trim_end())
                    .ok_or_else(|| (format!("`{text}` is not a percentage"), hint()))?;
                if v > 100.0 {
                    return Err((
                        format!("`{text}` is more than 100%"),
                        format!(
                            "{} is a ratio of at most 100%; {}",
                            def.name,
                            unit_phrase(unit)
                        ),
                    ));
                }
                return Ok(v / 100.0);
            }
            if looks_like_duration {
                return wrong_kind("a duration");
            }
            let v =
                plain_number(text).ok_or_else(|| (format!("`{text}` is not a ratio"), hint()))?;
            if v > 1.0 {
                return Err((
                    format!("`{text}` is not a ratio between 0 and 1"),
                    format!(
                        "did you mean `{text}%`? {} is {}",
                        def.name,
                        unit_phrase(unit)
                    ),
                ));
            }
            Ok(v)
        }
        MetricUnit::Dollars | MetricUnit::DollarsPerHour => {
            if has_percent {
                return wrong_kind("a percentage");
            }
            if looks_like_duration {
                return wrong_kind("a duration");
            }
            let mut s = text.strip_prefix('$').unwrap_or(text).trim_start();
            if unit == MetricUnit::DollarsPerHour {
                for suffix in ["/hour", "/h", "/hr"] {
                    if let Some(rest) = s.strip_suffix(suffix) {
                        s = rest.trim_end();
                        break;
                    }
                }
            }
            if s.contains(',') {
                return Err((
                    format!("`{text}` has a thousands separator"),
                    format!("write the amount without separators; {}", hint()),
                ));
            }
            plain_number(s).ok_or_else(|| (format!("`{text}` is not an amount of dollars"), hint()))
        }
        MetricUnit::Count | MetricUnit::Gpus | MetricUnit::GpuHours | MetricUnit::Hours => {
            if has_dollar {
                return wrong_kind("an amount of dollars");
            }
            if has_percent {
                return wrong_kind("a percentage");
            }
            if looks_like_duration {
                return wrong_kind("a duration");
            }
            plain_number(text).ok_or_else(|| (format!("`{text}` is not a number"), hint()))
        }
    }
}

/// Checks every item of `spec.expect`, reporting each bad one at the offending part of its
/// text (its own line and column when the scalar is written on one line).
pub(crate) fn check_all(
    c: &mut crate::validate::Checker<'_>,
    items: &[crate::raw::Sp<crate::raw::ExpectText>],
) -> Vec<Expectation> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = &item.value.0;
        match parse_expectation(text) {
            Ok(e) => out.push(e),
            Err(e) => {
                let pos = locate(c, item.pos, text, e.offset);
                c.report(
                    pos,
                    e.rule,
                    format!("`spec.expect[{i}]`: {}", e.message),
                    Some(e.hint),
                );
            }
        }
    }
    out
}

/// The source position of character `offset` of a scalar whose node starts at `start`: exact
/// for plain and quoted scalars written on one line (checked against the source line), else
/// the start of the scalar.
fn locate(
    c: &crate::validate::Checker<'_>,
    start: crate::raw::Pos,
    text: &str,
    offset: usize,
) -> crate::raw::Pos {
    let Some(line) = c.line(start.line) else {
        return start;
    };
    let from: String = line.chars().skip(start.column.saturating_sub(1)).collect();
    let prefix: String = text.chars().take(offset).collect();
    let shift = if from.starts_with(&prefix) {
        Some(0)
    } else if from
        .strip_prefix(['"', '\''])
        .is_some_and(|rest| rest.starts_with(&prefix))
    {
        Some(1)
    } else {
        None
    };
    match shift {
        Some(s) => crate::raw::Pos {
            line: start.line,
            column: start.column + s + offset,
        },
        None => start,
    }
}

impl MetricUnit {
    /// Formats a value of this unit (in its base) for people: `6h11m`, `40.63%`, `$1830.72`,
    /// `$152.56/h`, `48 GPUs`, `4.1 GPU-hours`, `120 h`, `3`.
    pub fn format_value(self, value: f64) -> String {
        if !value.is_finite() {
            return value.to_string();
        }
        match self {
            MetricUnit::Count => trim(value, 2),
            MetricUnit::Seconds => {
                if value <= 0.0 {
                    "0s".into()
                } else if value < 1.0 {
                    format!("{}ms", trim(value * 1000.0, 1))
                } else if value < 60.0 {
                    // Request latencies: hundredths, so a failing check never shows a value
                    // that looks like it passes.
                    format!("{}s", trim(value, 2))
                } else {
                    // Whole seconds above a minute.
                    let secs = value.round().min(u64::MAX as f64 / 1e6) as u64;
                    drydock_core::SimDuration::from_secs(secs).to_string()
                }
            }
            MetricUnit::Ratio => format!("{}%", trim(value * 100.0, 2)),
            MetricUnit::Gpus => format!("{} GPUs", trim(value, 2)),
            MetricUnit::GpuHours => format!("{} GPU-hours", trim(value, 2)),
            MetricUnit::Hours => format!("{} h", trim(value, 2)),
            MetricUnit::Dollars => format!("${value:.2}"),
            MetricUnit::DollarsPerHour => format!("${value:.2}/h"),
        }
    }
}

/// `value` with at most `decimals` decimals, trailing zeros removed.
fn trim(value: f64, decimals: usize) -> String {
    let s = format!("{value:.decimals$}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" { "0".into() } else { t.into() }
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Expectation {
        parse_expectation(text).unwrap_or_else(|e| panic!("{text}: {e}: {}", e.hint))
    }

    fn bad(text: &str) -> ExpectError {
        match parse_expectation(text) {
            Ok(e) => panic!("{text} parsed as {e:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn metric_names_are_unique_snake_case() {
        let mut names = metric_names();
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        assert!(METRICS.iter().all(|m| !m.help.is_empty()));
    }

    #[test]
    fn each_operator_parses_and_compares() {
        let cases = [
            (
                "jobs_failed < 1",
                CompareOp::Lt,
                [(0.0, true), (1.0, false), (2.0, false)],
            ),
            (
                "jobs_failed <= 1",
                CompareOp::Le,
                [(0.0, true), (1.0, true), (2.0, false)],
            ),
            (
                "jobs_failed > 1",
                CompareOp::Gt,
                [(0.0, false), (1.0, false), (2.0, true)],
            ),
            (
                "jobs_failed >= 1",
                CompareOp::Ge,
                [(0.0, false), (1.0, true), (2.0, true)],
            ),
            (
                "jobs_failed == 1",
                CompareOp::Eq,
                [(0.0, false), (1.0, true), (2.0, false)],
            ),
            (
                "jobs_failed != 1",
                CompareOp::Ne,
                [(0.0, true), (1.0, false), (2.0, true)],
            ),
        ];
        for (text, op, checks) in cases {
            let e = ok(text);
            assert_eq!((e.metric.as_str(), e.op, e.value), ("jobs_failed", op, 1.0));
            assert_eq!(e.unit, MetricUnit::Count);
            assert_eq!(e.source_text, text);
            for (measured, expected) in checks {
                assert_eq!(e.check(measured), expected, "{text} with {measured}");
            }
        }
        // Without spaces, and with extra ones.
        assert_eq!(ok("jobs_failed==0").op, CompareOp::Eq);
        assert_eq!(ok("  jct_p95   <=4h ").source_text, "jct_p95   <=4h");
    }

    #[test]
    fn comparisons_tolerate_rounding_and_refuse_nan() {
        let e = ok("cost_total <= 1830.72");
        assert!(e.check(1_830.720_000_000_000_3));
        assert!(!e.check(1830.73));
        let lt = ok("cost_total < 1830.72");
        assert!(!lt.check(1_830.720_000_000_000_3));
        assert!(ok("cost_total == 1830.72").check(1_830.719_999_999_999_7));
        for op in CompareOp::ALL {
            assert!(!op.holds(f64::NAN, 1.0), "{op:?}");
        }
    }

    #[test]
    fn values_are_parsed_in_the_metric_unit() {
        assert_eq!(ok("jct_p95 <= 4h").value, 14_400.0);
        assert_eq!(ok("jct_p95 <= 90s").value, 90.0);
        assert_eq!(ok("jct_p95 <= 1h30m").value, 5_400.0);
        assert_eq!(ok("jct_p95 <= 600").value, 600.0);
        assert_eq!(ok("queueing_delay_p99 < 250ms").value, 0.25);
        assert_eq!(ok("gpu_allocation_mean >= 90%").value, 0.9);
        assert_eq!(ok("gpu_allocation_mean >= 0.85").value, 0.85);
        assert_eq!(ok("fragmentation_mean < 30 %").value, 0.3);
        assert_eq!(ok("cost_total <= $1200").value, 1200.0);
        assert_eq!(ok("cost_total <= 1200").value, 1200.0);
        assert_eq!(ok("cost_total <= $1200.50").value, 1200.5);
        assert_eq!(ok("cost_per_hour <= $150/h").value, 150.0);
        assert_eq!(ok("cost_per_hour <= 150").value, 150.0);
        assert_eq!(ok("gpu_allocated_peak >= 48").value, 48.0);
        assert_eq!(ok("gpu_hours_lost < 4.5").value, 4.5);
        assert_eq!(ok("node_hours <= 120").value, 120.0);
        assert_eq!(ok("jobs_failed == 0").value, 0.0);
        assert_eq!(ok("virtual_time <= 1d").value, 86_400.0);
    }

    #[test]
    fn values_in_the_wrong_unit_are_rejected_with_a_hint() {
        let cases = [
            ("jct_p95 <= 4 parsecs", "unknown duration unit `parsecs`"),
            (
                "jct_p95 <= $100",
                "is an amount of dollars, but jct_p95 is a duration",
            ),
            ("jct_p95 <= 50%", "is a percentage"),
            ("gpu_allocation_mean >= 85", "not a ratio between 0 and 1"),
            ("gpu_allocation_mean >= 185%", "more than 100%"),
            ("gpu_allocation_mean >= 4h", "is a duration"),
            ("gpu_allocation_mean >= high", "is not a ratio"),
            (
                "cost_total <= 4h",
                "is a duration, but cost_total is an amount in dollars",
            ),
            ("cost_total <= 1,200", "thousands separator"),
            ("cost_total <= 12 euros", "is not an amount of dollars"),
            ("jobs_failed == -1", "is negative"),
            ("jobs_failed == 1e3", "is not a number"),
            ("jobs_failed == 10%", "is a percentage"),
            ("jobs_failed == NaN", "is not a number"),
            ("node_hours <= inf", "is not a number"),
        ];
        for (text, needle) in cases {
            let e = bad(text);
            assert_eq!(e.rule, "expect-value", "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
            assert!(!e.hint.is_empty());
        }
        assert!(
            bad("gpu_allocation_mean >= 85")
                .hint
                .starts_with("did you mean `85%`?")
        );
        let e = bad("jct_p95 <= 4 parsecs");
        assert_eq!(e.offset, "jct_p95 <= ".len());
    }

    #[test]
    fn unknown_metrics_suggest_the_nearest_and_list_all() {
        let e = bad("jtc_p95 <= 4h");
        assert_eq!((e.rule, e.offset), ("expect-metric", 0));
        assert_eq!(e.message, "unknown metric `jtc_p95`");
        assert!(
            e.hint
                .starts_with("did you mean `jct_p95`? valid metrics: jobs_submitted, ")
        );
        assert!(e.hint.contains("cost_total"));
        assert!(
            bad("jct-p95 <= 4h")
                .hint
                .starts_with("did you mean `jct_p95`?")
        );
        assert!(
            bad("Cost_Total <= 4")
                .hint
                .starts_with("did you mean `cost_total`?")
        );
        let svc = ok("slo_attainment{service=chat} >= 0.99");
        assert_eq!(svc.labels.get("service").map(String::as_str), Some("chat"));
        let wrong = bad("slo_attainment{zone=a} >= 0.99");
        assert_eq!(wrong.rule, "expect-labels");
    }

    #[test]
    fn selectors_are_parsed_and_rejected_on_metrics_without_labels() {
        for text in [
            "jct_p95{service=chat} <= 4h",
            "jct_p95 {service=\"chat bot\", zone=a} <= 4h",
            "jct_p95{service=chat,} <= 4h",
        ] {
            let e = bad(text);
            assert_eq!(e.rule, "expect-labels", "{text}: {e}");
            assert_eq!(e.message, "metric `jct_p95` has no labels");
            assert!(
                e.hint.contains("valid metrics: jobs_submitted"),
                "{}",
                e.hint
            );
            assert!(
                e.hint.contains("metrics with labels: requests_completed"),
                "{}",
                e.hint
            );
        }
        assert_eq!(bad("jct_p95{service=chat} <= 4h").offset, 7);
        // An empty selector selects nothing and is accepted.
        assert!(ok("jct_p95{} <= 4h").labels.is_empty());
        for (text, needle) in [
            ("jct_p95{service=chat <= 4h", "unexpected `<`"),
            (
                "jct_p95{service <= 4h",
                "expected `=` after the label name `service`",
            ),
            ("jct_p95{service=~ch.*} <= 4h", "only `service=value`"),
            ("jct_p95{service!=chat} <= 4h", "only `service=value`"),
            ("jct_p95{=chat} <= 4h", "expected a label name"),
            (
                "jct_p95{service=} <= 4h",
                "missing value for the label `service`",
            ),
            ("jct_p95{service=\"chat} <= 4h", "unclosed `\"`"),
            ("jct_p95{service=chat", "unclosed `{`"),
        ] {
            let e = bad(text);
            assert_eq!(e.rule, "expect-syntax", "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }

    #[test]
    fn operators_are_checked_with_suggestions() {
        for (text, fix) in [
            ("jct_p95 =< 4h", "<="),
            ("jct_p95 => 4h", ">="),
            ("jct_p95 = 4h", "=="),
            ("jct_p95 === 4h", "=="),
            ("jct_p95 <> 4h", "!="),
            ("jct_p95 ≤ 4h", "<="),
        ] {
            let e = bad(text);
            assert_eq!(e.rule, "expect-operator", "{text}: {e}");
            assert!(
                e.hint.starts_with(&format!("did you mean `{fix}`?")),
                "{text}: {}",
                e.hint
            );
            assert_eq!(e.offset, 8, "{text}");
        }
        let e = bad("jct_p95 is 4h");
        assert_eq!(e.rule, "expect-operator");
        assert!(e.message.contains("found `is`"), "{}", e.message);
    }

    #[test]
    fn incomplete_expectations_are_syntax_errors() {
        for (text, needle) in [
            ("", "empty expectation"),
            ("   ", "empty expectation"),
            ("jct_p95", "missing comparison"),
            ("jct_p95 <=", "missing value after `<=`"),
            ("<= 4h", "expected a metric name first"),
        ] {
            let e = bad(text);
            assert_eq!(e.rule, "expect-syntax", "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn values_are_formatted_in_their_unit() {
        assert_eq!(MetricUnit::Seconds.format_value(22_260.0), "6h11m");
        assert_eq!(MetricUnit::Seconds.format_value(14_400.0), "4h");
        assert_eq!(MetricUnit::Seconds.format_value(0.25), "250ms");
        assert_eq!(MetricUnit::Seconds.format_value(0.0), "0s");
        assert_eq!(MetricUnit::Ratio.format_value(0.4063), "40.63%");
        assert_eq!(MetricUnit::Ratio.format_value(0.85), "85%");
        assert_eq!(MetricUnit::Dollars.format_value(1830.72), "$1830.72");
        assert_eq!(MetricUnit::DollarsPerHour.format_value(152.56), "$152.56/h");
        assert_eq!(MetricUnit::Count.format_value(3.0), "3");
        assert_eq!(MetricUnit::Count.format_value(2.5), "2.5");
        assert_eq!(MetricUnit::Gpus.format_value(48.0), "48 GPUs");
        assert_eq!(MetricUnit::GpuHours.format_value(4.126), "4.13 GPU-hours");
        assert_eq!(MetricUnit::Hours.format_value(120.0), "120 h");
        assert_eq!(MetricUnit::Count.format_value(f64::NAN), "NaN");
    }

    #[test]
    fn parsing_never_panics_on_odd_input() {
        for text in [
            "{",
            "}",
            "{}",
            "jct_p95{",
            "jct_p95{a",
            "jct_p95{a=",
            "jct_p95{a=\"",
            "jct_p95{a=\"\\",
            "jct_p95 <",
            "jct_p95 !",
            "jct_p95 ≠≠",
            "é <= 1",
            "jct_p95 <= é",
            "jct_p95 <= $",
            "cost_per_hour <= /h",
            "gpu_allocation_mean >= %",
            "jct_p95 <= .",
            "jobs_failed == .5",
            "jobs_failed == 5.",
            "\u{0} <= 1",
        ] {
            let _ = parse_expectation(text);
        }
        assert_eq!(ok("jobs_failed == .5").value, 0.5);
        assert!(parse_expectation("jobs_failed == 5.").is_err());
    }
}
