//! The HorizontalPodAutoscaler (autoscaling/v2) as a pure decision function.
//!
//! [`Hpa::reconcile`] reproduces one sync of the upstream controller for one HPA:
//! `reconcileAutoscaler` in `pkg/controller/podautoscaler/horizontal.go` and the replica
//! calculator in `pkg/controller/podautoscaler/replica_calculator.go` (kubernetes/kubernetes,
//! kubernetes-semantics.md §1 \[src\]). The caller (the simulator's HPA sync event, or the
//! real-cluster driver) calls it every [`HpaSpec::sync_period`] with the scale target's replica
//! counts and the pods' metric samples, applies [`HpaDecision::desired_replicas`] when
//! [`HpaDecision::write`] is set, and keeps the [`Hpa`] value between calls: it holds the
//! controller's per-HPA memory (recommendations for stabilization, scale events for the rate
//! policies).
//!
//! ## Numbers
//! Upstream computes on `int64` milli-values (`Quantity.MilliValue()`). Every metric value and
//! target given here as `f64` is first rounded to an integer number of thousandths, then the
//! upstream integer arithmetic follows: the utilization percent is
//! `⌊Σ usage × 100 / Σ request⌋` and the average value `⌊Σ values / n⌋` (milli-units), each
//! divided by the target as a float to give the usage ratio `r`. Replica counts are rounded as
//! upstream rounds: `⌈r × n⌉` for proposals, `⌈start × (1 + p/100)⌉` for percent scale-up
//! limits and `start × (1 − p/100)` truncated for percent scale-down limits.

use serde::{Deserialize, Serialize};

use crate::time::{SimDuration, SimTime};

/// The resource name that gets the CPU-only readiness rules of kubernetes-semantics.md §1.3 (4).
pub const CPU: &str = "cpu";

/// What a metric is compared with (`metrics[].*.target`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricTarget {
    /// `type: Utilization`, `averageUtilization`: percent of the pods' requests (Resource
    /// metrics only). 80 means 80 %.
    Utilization(u32),
    /// `type: AverageValue`, `averageValue`: value per pod, in the metric's unit (requests/s,
    /// in-flight requests, ...).
    AverageValue(f64),
    /// `type: Value`, `value`: the total value (Object and External metrics only).
    Value(f64),
}

/// One entry of `spec.metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricSpec {
    /// `type: Resource`: a per-pod resource metric from metrics-server, with a `Utilization`
    /// (percent of the pod's request) or `AverageValue` target. The CPU readiness rules apply
    /// only when `name` is [`CPU`]; any other name (for example a GPU busy fraction) is treated
    /// like memory (kubernetes-semantics.md §1.3 \[src\]).
    Resource {
        /// Resource name (`cpu`, `memory`, `nvidia.com/gpu`, ...).
        name: String,
        /// Target.
        target: MetricTarget,
    },
    /// `type: Pods`: a per-pod custom metric (requests/s per replica, in-flight requests per
    /// replica), `AverageValue` target only.
    Pods {
        /// Metric name.
        name: String,
        /// Target (must be `AverageValue`).
        target: MetricTarget,
    },
    /// `type: Object`: one value describing another object (for example the requests/s of an
    /// Ingress), `Value` or `AverageValue` target.
    Object {
        /// Metric name.
        name: String,
        /// Target (`Value` or `AverageValue`).
        target: MetricTarget,
    },
    /// `type: External`: a value from outside the cluster (the sum of all returned series),
    /// `Value` or `AverageValue` target.
    External {
        /// Metric name.
        name: String,
        /// Target (`Value` or `AverageValue`).
        target: MetricTarget,
    },
}

impl MetricSpec {
    /// The metric's name.
    pub fn name(&self) -> &str {
        match self {
            MetricSpec::Resource { name, .. }
            | MetricSpec::Pods { name, .. }
            | MetricSpec::Object { name, .. }
            | MetricSpec::External { name, .. } => name,
        }
    }

    /// The metric's target.
    pub fn target(&self) -> MetricTarget {
        match self {
            MetricSpec::Resource { target, .. }
            | MetricSpec::Pods { target, .. }
            | MetricSpec::Object { target, .. }
            | MetricSpec::External { target, .. } => *target,
        }
    }

    /// True for Object and External metrics, whose value comes from
    /// [`HpaInput::object_values`] rather than from per-pod samples.
    pub fn is_object(&self) -> bool {
        matches!(
            self,
            MetricSpec::Object { .. } | MetricSpec::External { .. }
        )
    }
}

/// `behavior.*.selectPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectPolicy {
    /// The policy allowing the largest change (the default).
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// `behavior.*.policies[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalingPolicyKind {
    /// An absolute number of pods per period.
    Pods,
    /// A percentage of the replica count at the start of the period.
    Percent,
}

/// One rate-limit policy (`behavior.*.policies[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingPolicy {
    /// Pods or Percent.
    pub kind: ScalingPolicyKind,
    /// Pods, or percent, allowed per period (> 0).
    pub value: u32,
    /// The period (`periodSeconds`, 1 s to 1800 s upstream).
    pub period: SimDuration,
}

impl ScalingPolicy {
    /// `value` pods per `period`.
    pub fn pods(value: u32, period: SimDuration) -> Self {
        ScalingPolicy {
            kind: ScalingPolicyKind::Pods,
            value,
            period,
        }
    }

    /// `value` percent per `period`.
    pub fn percent(value: u32, period: SimDuration) -> Self {
        ScalingPolicy {
            kind: ScalingPolicyKind::Percent,
            value,
            period,
        }
    }
}

/// `behavior.scaleUp` or `behavior.scaleDown` as written: every field may be unset and is then
/// filled from the defaults of `pkg/apis/autoscaling/v2/defaults.go` (kubernetes-semantics.md
/// §1.5 \[src\]; see [`ResolvedRules`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingRules {
    /// `stabilizationWindowSeconds`.
    pub stabilization_window: Option<SimDuration>,
    /// `selectPolicy`.
    pub select_policy: Option<SelectPolicy>,
    /// `policies`; empty means unset (the defaults apply).
    pub policies: Vec<ScalingPolicy>,
    /// `tolerance` (KEP-4951, alpha in 1.33 behind `HPAConfigurableTolerance`, treated as enabled
    /// when set): the tolerance for this direction instead of [`HpaSpec::tolerance`]
    /// (kubernetes-semantics.md §1.5 \[docs\]).
    pub tolerance: Option<f64>,
}

/// `spec.behavior`. Setting it (even empty) selects normalization path A (kubernetes-semantics.md
/// §1.5); leaving [`HpaSpec::behavior`] at `None` selects the legacy path B (§1.6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Behavior {
    /// `scaleUp` rules.
    pub scale_up: Option<ScalingRules>,
    /// `scaleDown` rules.
    pub scale_down: Option<ScalingRules>,
}

/// Scaling rules with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRules {
    /// Stabilization window.
    pub stabilization_window: SimDuration,
    /// Policy selection.
    pub select_policy: SelectPolicy,
    /// Rate-limit policies.
    pub policies: Vec<ScalingPolicy>,
    /// Per-direction tolerance, if set.
    pub tolerance: Option<f64>,
}

impl ResolvedRules {
    fn fill(from: Option<&ScalingRules>, mut to: ResolvedRules) -> ResolvedRules {
        // copyHPAScalingRules: every set field of `from` overrides the default.
        if let Some(r) = from {
            if let Some(w) = r.stabilization_window {
                to.stabilization_window = w;
            }
            if let Some(p) = r.select_policy {
                to.select_policy = p;
            }
            if !r.policies.is_empty() {
                to.policies = r.policies.clone();
            }
            if r.tolerance.is_some() {
                to.tolerance = r.tolerance;
            }
        }
        to
    }

    /// The longest policy period (the age after which scale events are recycled).
    fn longest_period(&self) -> SimDuration {
        self.policies
            .iter()
            .map(|p| p.period)
            .max()
            .unwrap_or(SimDuration::ZERO)
    }
}

impl Behavior {
    /// `scaleUp` with the defaults of `GenerateHPAScaleUpRules` (`pkg/apis/autoscaling/v2/
    /// defaults.go`, kubernetes-semantics.md §1.5 \[src\]): window 0 s, selectPolicy Max,
    /// policies Pods 4 per 15 s and Percent 100 % per 15 s.
    pub fn resolved_scale_up(&self) -> ResolvedRules {
        let period = SimDuration::from_secs(15);
        ResolvedRules::fill(
            self.scale_up.as_ref(),
            ResolvedRules {
                stabilization_window: SimDuration::ZERO,
                select_policy: SelectPolicy::Max,
                policies: vec![
                    ScalingPolicy::pods(4, period),
                    ScalingPolicy::percent(100, period),
                ],
                tolerance: None,
            },
        )
    }

    /// `scaleDown` with the defaults of `GenerateHPAScaleDownRules`: window = the controller's
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (`flag_window`, 300 s by default;
    /// set by `maybeInitScaleDownStabilizationWindow` in `horizontal.go`), selectPolicy Max,
    /// policy Percent 100 % per 15 s (kubernetes-semantics.md §1.5 \[src\]).
    pub fn resolved_scale_down(&self, flag_window: SimDuration) -> ResolvedRules {
        ResolvedRules::fill(
            self.scale_down.as_ref(),
            ResolvedRules {
                stabilization_window: flag_window,
                select_policy: SelectPolicy::Max,
                policies: vec![ScalingPolicy::percent(100, SimDuration::from_secs(15))],
                tolerance: None,
            },
        )
    }
}

/// One HorizontalPodAutoscaler's spec plus the controller-wide flags that shape it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HpaSpec {
    /// `minReplicas` (default 1; 0 only with an Object or External metric, the alpha
    /// `HPAScaleToZero` gate, kubernetes-semantics.md §1.1 \[src\]).
    pub min_replicas: u32,
    /// `maxReplicas`.
    pub max_replicas: u32,
    /// `metrics`.
    pub metrics: Vec<MetricSpec>,
    /// `behavior`: `Some` selects normalization path A, `None` the legacy path B.
    pub behavior: Option<Behavior>,
    /// `--horizontal-pod-autoscaler-tolerance`, 0.1 (§1.1 \[src\]).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`, 300 s (§1.1 \[src\]).
    pub downscale_stabilization: SimDuration,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`, 300 s (§1.1 \[src\]).
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`, 30 s (§1.1 \[src\]).
    pub initial_readiness_delay: SimDuration,
    /// `--horizontal-pod-autoscaler-sync-period`, 15 s (§1.1 \[src\]): how often the caller
    /// should call [`Hpa::reconcile`]. Not used by the decision itself.
    pub sync_period: SimDuration,
}

impl HpaSpec {
    /// A spec with the given bounds and metrics, no behavior, and the controller defaults:
    /// tolerance 0.1, downscale stabilization 300 s, CPU initialization period 300 s, initial
    /// readiness delay 30 s, sync period 15 s (kubernetes-semantics.md §1.1 \[src\]).
    pub fn new(min_replicas: u32, max_replicas: u32, metrics: Vec<MetricSpec>) -> Self {
        HpaSpec {
            min_replicas,
            max_replicas,
            metrics,
            behavior: None,
            tolerance: 0.1,
            downscale_stabilization: SimDuration::from_secs(300),
            cpu_initialization_period: SimDuration::from_secs(300),
            initial_readiness_delay: SimDuration::from_secs(30),
            sync_period: SimDuration::from_secs(15),
        }
    }

    /// Checks the rules the API server's validation enforces that the algorithm relies on.
    ///
    /// # Errors
    /// The first [`HpaSpecError`] found: no metric, `maxReplicas` below 1 or below
    /// `minReplicas`, `minReplicas: 0` without an Object or External metric, a target kind the
    /// metric type does not accept, a target below 0.001 or not finite, a negative or
    /// non-finite tolerance, a policy with value 0 or period 0.
    pub fn validate(&self) -> Result<(), HpaSpecError> {
        if self.metrics.is_empty() {
            return Err(HpaSpecError::NoMetrics);
        }
        if self.max_replicas < 1 || self.max_replicas < self.min_replicas {
            return Err(HpaSpecError::Bounds {
                min: self.min_replicas,
                max: self.max_replicas,
            });
        }
        if self.min_replicas == 0 && !self.metrics.iter().any(MetricSpec::is_object) {
            return Err(HpaSpecError::ScaleToZeroNeedsObjectMetric);
        }
        for (i, m) in self.metrics.iter().enumerate() {
            let ok = match (m, m.target()) {
                (MetricSpec::Resource { .. }, MetricTarget::Value(_)) => false,
                (MetricSpec::Pods { .. }, t) => matches!(t, MetricTarget::AverageValue(_)),
                (MetricSpec::Object { .. } | MetricSpec::External { .. }, t) => {
                    !matches!(t, MetricTarget::Utilization(_))
                }
                _ => true,
            };
            if !ok {
                return Err(HpaSpecError::TargetKind { metric: i });
            }
            let positive = match m.target() {
                MetricTarget::Utilization(u) => u > 0,
                // At least one milli-unit, as a Quantity target must be.
                MetricTarget::AverageValue(v) | MetricTarget::Value(v) => {
                    v.is_finite() && milli(v) >= 1
                }
            };
            if !positive {
                return Err(HpaSpecError::Target { metric: i });
            }
        }
        let tol_ok = |t: f64| t.is_finite() && t >= 0.0;
        if !tol_ok(self.tolerance) {
            return Err(HpaSpecError::Tolerance);
        }
        if let Some(b) = &self.behavior {
            for r in [&b.scale_up, &b.scale_down].into_iter().flatten() {
                if r.tolerance.is_some_and(|t| !tol_ok(t)) {
                    return Err(HpaSpecError::Tolerance);
                }
                if r.policies.iter().any(|p| p.value == 0 || p.period.0 == 0) {
                    return Err(HpaSpecError::Policy);
                }
            }
        }
        Ok(())
    }

    fn tolerances(&self) -> Tolerances {
        // tolerancesForHpa in horizontal.go: the per-direction behavior tolerance overrides the
        // cluster-wide flag.
        let mut t = Tolerances {
            down: self.tolerance,
            up: self.tolerance,
        };
        if let Some(b) = &self.behavior {
            if let Some(v) = b.scale_down.as_ref().and_then(|r| r.tolerance) {
                t.down = v;
            }
            if let Some(v) = b.scale_up.as_ref().and_then(|r| r.tolerance) {
                t.up = v;
            }
        }
        t
    }
}

/// A spec the API server would reject. Found by [`HpaSpec::validate`]; the scenario loader
/// reports it, [`Hpa::reconcile`] never panics on it either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HpaSpecError {
    /// `metrics` is empty.
    #[error("an HPA needs at least one metric")]
    NoMetrics,
    /// `maxReplicas` is 0 or below `minReplicas`.
    #[error("maxReplicas {max} must be at least 1 and at least minReplicas {min}")]
    Bounds {
        /// minReplicas.
        min: u32,
        /// maxReplicas.
        max: u32,
    },
    /// `minReplicas: 0` without any Object or External metric.
    #[error("minReplicas 0 needs an Object or External metric (HPAScaleToZero)")]
    ScaleToZeroNeedsObjectMetric,
    /// The target type is not allowed for this metric type (index into `metrics`).
    #[error("metric {metric}: target type not allowed for this metric type")]
    TargetKind {
        /// Index into `metrics`.
        metric: usize,
    },
    /// The target is below one thousandth, negative or not finite (index into `metrics`).
    #[error("metric {metric}: target must be positive")]
    Target {
        /// Index into `metrics`.
        metric: usize,
    },
    /// A tolerance is negative or not finite.
    #[error("tolerance must be a finite number >= 0")]
    Tolerance,
    /// A scaling policy has value 0 or period 0.
    #[error("scaling policies need a value and a period above 0")]
    Policy,
}

/// Pod phase (`status.phase`) as the HPA sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    /// Not running yet (waiting for a node, pulling the image).
    Pending,
    /// Running (ready or not).
    Running,
    /// Failed: dropped from every computation.
    Failed,
}

/// One metric sample of one pod, as metrics-server or a custom-metrics adapter returns it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// The value in the metric's unit (for a Resource metric the pod's usage, in the same unit
    /// as its request in [`HpaPod::requests`]).
    pub value: f64,
    /// When the sample was taken (the end of its window).
    pub timestamp: SimTime,
    /// The window it averages over.
    pub window: SimDuration,
}

/// One pod matched by the scale target's selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HpaPod {
    /// Phase.
    pub phase: PodPhase,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The `Ready` condition: `None` when the pod has none yet.
    pub ready: Option<bool>,
    /// `status.startTime`, `None` before the kubelet accepted the pod.
    pub start_time: Option<SimTime>,
    /// `lastTransitionTime` of the `Ready` condition.
    pub last_ready_transition: SimTime,
    /// One entry per entry of [`HpaSpec::metrics`] (same index): the pod's sample of that
    /// Resource or Pods metric, `None` when the metric has no sample for this pod (missing).
    /// Entries for Object and External metrics are ignored; a short vector reads as missing.
    pub samples: Vec<Option<MetricSample>>,
    /// Requests by resource name (`cpu` in cores, or any unit matching the samples), used by
    /// `Utilization` targets. A pod without the request makes that metric fail, as a container
    /// without a request does upstream.
    pub requests: Vec<(String, f64)>,
}

impl HpaPod {
    fn request(&self, resource: &str) -> Option<f64> {
        self.requests
            .iter()
            .find(|(n, _)| n == resource)
            .map(|(_, v)| *v)
    }

    fn sample(&self, metric: usize) -> Option<&MetricSample> {
        self.samples.get(metric).and_then(Option::as_ref)
    }
}

/// What one reconcile reads.
#[derive(Debug, Clone, Copy)]
pub struct HpaInput<'a> {
    /// Virtual time of this sync.
    pub now: SimTime,
    /// The scale target's `spec.replicas` (the "current" replica count).
    pub spec_replicas: u32,
    /// The scale target's `status.replicas` (used by Object and External `AverageValue`).
    pub status_replicas: u32,
    /// The pods the target's selector matches, in any stable order.
    pub pods: &'a [HpaPod],
    /// One entry per entry of [`HpaSpec::metrics`] (same index): the value of an Object metric,
    /// or the sum of all series of an External metric; `None` when it could not be fetched.
    /// Ignored for Resource and Pods metrics; a short slice reads as unavailable.
    pub object_values: &'a [Option<f64>],
}

/// Why a metric gave no proposal. Any of these counts as an invalid metric in the max over
/// metrics (kubernetes-semantics.md §1.2 \[src\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricError {
    /// "no pods returned by selector while calculating replica count".
    NoPods,
    /// "did not receive metrics for targeted pods (pods might be unready)", or the Object or
    /// External value is unavailable.
    NoMetrics,
    /// "missing request for \<resource\>": some pod lacks a request for a `Utilization` metric.
    MissingRequest,
    /// The target type does not fit the metric type, or the target is not positive.
    InvalidTarget,
}

impl std::fmt::Display for MetricError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MetricError::NoPods => "no pods returned by selector",
            MetricError::NoMetrics => "did not receive metrics for targeted pods",
            MetricError::MissingRequest => "missing request for the resource",
            MetricError::InvalidTarget => "invalid metric target",
        })
    }
}

/// One metric's outcome in one reconcile, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricProposal {
    /// The metric's replica proposal, or why there is none.
    pub replicas: Result<u32, MetricError>,
    /// The first-pass current value as `status.currentMetrics` reports it: utilization in
    /// percent for `Utilization` targets, otherwise the (per-pod average or total) value in the
    /// metric's unit. `None` when the metric failed before computing it.
    pub current: Option<f64>,
}

/// The reason attached to a decision: the HPA condition reason upstream would set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HpaReason {
    /// The target has 0 replicas and `minReplicas > 0`: autoscaling is disabled
    /// (`ScalingActive=False`, `ScalingDisabled`), nothing is written.
    ScalingDisabled,
    /// `spec.replicas` is above `maxReplicas`: set to the max without reading metrics.
    AboveMaxReplicas,
    /// `spec.replicas` is below `minReplicas`: set to the min without reading metrics.
    BelowMinReplicas,
    /// All metrics failed, or some failed and the valid ones propose a scale-down: no change.
    FailedGetMetrics,
    /// The recommendation is within bounds and rates and was not changed by stabilization.
    DesiredWithinRange,
    /// Stabilization kept the count up (a higher recommendation in the scale-down window).
    ScaleDownStabilized,
    /// Stabilization kept the count down (a lower recommendation in the scale-up window).
    ScaleUpStabilized,
    /// The scale-up rate limit bound (path A policies, or path B's `max(2 × current, 4)`).
    ScaleUpLimit,
    /// The scale-down rate limit bound (path A policies).
    ScaleDownLimit,
    /// Clamped to `maxReplicas`.
    TooManyReplicas,
    /// Clamped to `minReplicas`.
    TooFewReplicas,
}

impl std::fmt::Display for HpaReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HpaReason::ScalingDisabled => "ScalingDisabled",
            HpaReason::AboveMaxReplicas => "AboveMaxReplicas",
            HpaReason::BelowMinReplicas => "BelowMinReplicas",
            HpaReason::FailedGetMetrics => "FailedGetMetrics",
            HpaReason::DesiredWithinRange => "DesiredWithinRange",
            HpaReason::ScaleDownStabilized => "ScaleDownStabilized",
            HpaReason::ScaleUpStabilized => "ScaleUpStabilized",
            HpaReason::ScaleUpLimit => "ScaleUpLimit",
            HpaReason::ScaleDownLimit => "ScaleDownLimit",
            HpaReason::TooManyReplicas => "TooManyReplicas",
            HpaReason::TooFewReplicas => "TooFewReplicas",
        })
    }
}

/// The outcome of one reconcile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HpaDecision {
    /// The replica count the target should have (equal to `spec.replicas` when nothing
    /// changes).
    pub desired_replicas: u32,
    /// True when the controller writes `scale.spec.replicas` (the count changed).
    pub write: bool,
    /// Why.
    pub reason: HpaReason,
    /// The max over the valid metric proposals before normalization (`None` when metrics were
    /// not read or all failed).
    pub recommendation: Option<u32>,
    /// The stabilized recommendation, before rate limits and bounds (`None` when normalization
    /// did not run).
    pub stabilized: Option<u32>,
    /// One entry per metric, same order as [`HpaSpec::metrics`] (empty when metrics were not
    /// read).
    pub proposals: Vec<MetricProposal>,
}

#[derive(Debug, Clone, Copy)]
struct Tolerances {
    down: f64,
    up: f64,
}

impl Tolerances {
    /// `isWithin` in `replica_calculator.go`: `1 − down ≤ r ≤ 1 + up`.
    fn within(&self, r: f64) -> bool {
        (1.0 - self.down) <= r && r <= (1.0 + self.up)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Recommendation {
    replicas: u32,
    at: SimTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct ScaleEvent {
    change: u32,
    at: SimTime,
    outdated: bool,
}

/// The controller's memory of one HPA: recommendations (for stabilization) and scale events
/// (for the rate policies), as `HorizontalController.recommendations`, `scaleUpEvents` and
/// `scaleDownEvents` in `horizontal.go` hold them. One value per HPA, kept across syncs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hpa {
    initialized: bool,
    recommendations: Vec<Recommendation>,
    scale_up_events: Vec<ScaleEvent>,
    scale_down_events: Vec<ScaleEvent>,
    last_scale_time: Option<SimTime>,
}

/// Rounds a metric value to milli-units as `Quantity.MilliValue()` does (saturating; NaN is 0).
fn milli(x: f64) -> i64 {
    (x * 1000.0).round() as i64
}

/// Saturating conversion of a replica count computed as a float (`⌈…⌉` already applied).
fn to_replicas(x: f64) -> u32 {
    if x.is_nan() || x <= 0.0 {
        0
    } else if x >= u32::MAX as f64 {
        u32::MAX
    } else {
        x as u32
    }
}

impl Hpa {
    /// A controller that has not seen this HPA yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time of the last sync that changed the replica count (`status.lastScaleTime`).
    pub fn last_scale_time(&self) -> Option<SimTime> {
        self.last_scale_time
    }

    /// One sync of the HPA (kubernetes-semantics.md §1.4 \[src\], `reconcileAutoscaler` in
    /// `horizontal.go`):
    ///
    /// 1. the first sync records `spec.replicas` as a recommendation (`recordInitialRecommendation`);
    /// 2. `spec.replicas == 0` with `minReplicas > 0`: [`HpaReason::ScalingDisabled`], no write;
    /// 3. `spec.replicas` above max or below min: clamp without metrics;
    /// 4. otherwise one proposal per metric (§1.2, §1.3), the max over them with the failure
    ///    rules, then normalization path A (`behavior` set, §1.5) or B (§1.6).
    ///
    /// A scale event is recorded (for path A's policies) whenever the decision changes the count;
    /// the caller is expected to apply it.
    pub fn reconcile(&mut self, spec: &HpaSpec, input: &HpaInput<'_>) -> HpaDecision {
        let now = input.now;
        let current = input.spec_replicas;
        if !self.initialized {
            self.initialized = true;
            self.recommendations.push(Recommendation {
                replicas: current,
                at: now,
            });
        }
        let min = spec.min_replicas;
        let max = spec.max_replicas;
        let mut decision = HpaDecision {
            desired_replicas: current,
            write: false,
            reason: HpaReason::DesiredWithinRange,
            recommendation: None,
            stabilized: None,
            proposals: Vec::new(),
        };
        if current == 0 && min != 0 {
            decision.desired_replicas = 0;
            decision.reason = HpaReason::ScalingDisabled;
            return decision;
        } else if current > max {
            decision.desired_replicas = max;
            decision.reason = HpaReason::AboveMaxReplicas;
        } else if current < min {
            decision.desired_replicas = min;
            decision.reason = HpaReason::BelowMinReplicas;
        } else {
            let tol = spec.tolerances();
            let mut best: Option<u32> = None;
            let mut invalid = 0usize;
            for (i, m) in spec.metrics.iter().enumerate() {
                let p = compute_metric(spec, m, i, input, tol);
                match p.replicas {
                    // computeReplicasForMetrics: `if replicas == 0 || proposal > replicas`.
                    Ok(r) => best = Some(best.map_or(r, |b| b.max(r))),
                    Err(_) => invalid += 1,
                }
                decision.proposals.push(p);
            }
            let metric_desired = best.unwrap_or(0);
            // All invalid, or some invalid and the valid ones say scale down: no change.
            if invalid >= spec.metrics.len() || (invalid > 0 && metric_desired < current) {
                decision.reason = HpaReason::FailedGetMetrics;
                return decision;
            }
            decision.recommendation = best;
            let (desired, stabilized, reason) = match &spec.behavior {
                None => self.normalize_legacy(spec, now, current, metric_desired),
                Some(b) => self.normalize_with_behavior(spec, b, now, current, metric_desired),
            };
            decision.desired_replicas = desired;
            decision.stabilized = Some(stabilized);
            decision.reason = reason;
        }
        if decision.desired_replicas != current {
            decision.write = true;
            self.last_scale_time = Some(now);
            if let Some(b) = &spec.behavior {
                self.store_scale_event(spec, b, now, current, decision.desired_replicas);
            }
        }
        decision
    }

    /// Path B (`normalizeDesiredReplicas`, `stabilizeRecommendation`,
    /// `convertDesiredReplicasWithRules` in `horizontal.go`; kubernetes-semantics.md §1.6 \[src\]).
    fn normalize_legacy(
        &mut self,
        spec: &HpaSpec,
        now: SimTime,
        current: u32,
        raw: u32,
    ) -> (u32, u32, HpaReason) {
        // stabilizeRecommendation: max over raw and the recommendations not older than the
        // window (a record exactly at the cutoff still counts: `Before(cutoff)` is strict).
        let cutoff = now.0.checked_sub(spec.downscale_stabilization.0);
        let mut stabilized = raw;
        let mut old_slot = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if cutoff.is_some_and(|c| rec.at.0 < c) {
                old_slot = Some(i);
            } else if rec.replicas > stabilized {
                stabilized = rec.replicas;
            }
        }
        self.record(old_slot, raw, now);
        let stab_reason = if stabilized != raw {
            HpaReason::ScaleDownStabilized
        } else {
            HpaReason::DesiredWithinRange
        };
        // convertDesiredReplicasWithRules: scale-up limit max(2 × current, 4).
        let scale_up_limit = (2 * current as u64).max(4).min(u32::MAX as u64) as u32;
        let (max_allowed, limit_reason) = if spec.max_replicas > scale_up_limit {
            (scale_up_limit, HpaReason::ScaleUpLimit)
        } else {
            (spec.max_replicas, HpaReason::TooManyReplicas)
        };
        if stabilized < spec.min_replicas {
            (spec.min_replicas, stabilized, HpaReason::TooFewReplicas)
        } else if stabilized > max_allowed {
            (max_allowed, stabilized, limit_reason)
        } else {
            (stabilized, stabilized, stab_reason)
        }
    }

    /// Path A (`normalizeDesiredReplicasWithBehaviors`, `stabilizeRecommendationWithBehaviors`,
    /// `convertDesiredReplicasWithBehaviorRate` in `horizontal.go`; kubernetes-semantics.md §1.5
    /// \[src\]).
    fn normalize_with_behavior(
        &mut self,
        spec: &HpaSpec,
        behavior: &Behavior,
        now: SimTime,
        current: u32,
        raw: u32,
    ) -> (u32, u32, HpaReason) {
        let up_rules = behavior.resolved_scale_up();
        let down_rules = behavior.resolved_scale_down(spec.downscale_stabilization);
        // Records count when strictly after `now − window` (`After(cutoff)`); with a window
        // longer than the run so far every record counts.
        let in_window = |at: SimTime, w: SimDuration| now.0 < w.0 || at.0 > now.0 - w.0;
        let older = |at: SimTime, w: SimDuration| now.0 >= w.0 && at.0 < now.0 - w.0;
        let mut up = raw;
        let mut down = raw;
        let mut old_slot = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if in_window(rec.at, up_rules.stabilization_window) {
                up = up.min(rec.replicas);
            }
            if in_window(rec.at, down_rules.stabilization_window) {
                down = down.max(rec.replicas);
            }
            if older(rec.at, up_rules.stabilization_window)
                && older(rec.at, down_rules.stabilization_window)
            {
                old_slot = Some(i);
            }
        }
        let stabilized = current.max(up).min(down);
        self.record(old_slot, raw, now);
        let stab_reason = if stabilized == raw {
            HpaReason::DesiredWithinRange
        } else if raw >= current {
            HpaReason::ScaleUpStabilized
        } else {
            HpaReason::ScaleDownStabilized
        };

        let cur = current as i64;
        let (lo, hi) = (spec.min_replicas as i64, spec.max_replicas as i64);
        let desired = stabilized as i64;
        if desired > cur {
            let limit = self.scale_up_limit(&up_rules, now, cur).max(cur);
            let (max_allowed, reason) = if hi > limit {
                (limit, HpaReason::ScaleUpLimit)
            } else {
                (hi, HpaReason::TooManyReplicas)
            };
            if desired > max_allowed {
                return (clamp_u32(max_allowed), stabilized, reason);
            }
        } else if desired < cur {
            let limit = self.scale_down_limit(&down_rules, now, cur).min(cur);
            let (min_allowed, reason) = if lo < limit {
                (limit, HpaReason::ScaleDownLimit)
            } else {
                (lo, HpaReason::TooFewReplicas)
            };
            if desired < min_allowed {
                return (clamp_u32(min_allowed), stabilized, reason);
            }
        }
        (stabilized, stabilized, stab_reason)
    }

    /// Records `raw` at `now`, reusing the slot of an outdated record when there is one.
    fn record(&mut self, old_slot: Option<usize>, raw: u32, now: SimTime) {
        let rec = Recommendation {
            replicas: raw,
            at: now,
        };
        match old_slot.and_then(|i| self.recommendations.get_mut(i)) {
            Some(slot) => *slot = rec,
            None => self.recommendations.push(rec),
        }
    }

    /// Replicas changed by `events` strictly within the last `period` (`getReplicasChangePerPeriod`).
    fn change_in_period(events: &[ScaleEvent], now: SimTime, period: SimDuration) -> i64 {
        events
            .iter()
            .filter(|e| now.0 < period.0 || e.at.0 > now.0 - period.0)
            .map(|e| e.change as i64)
            .sum()
    }

    /// `calculateScaleUpLimitWithScalingRules`.
    fn scale_up_limit(&self, rules: &ResolvedRules, now: SimTime, current: i64) -> i64 {
        let select: fn(i64, i64) -> i64 = match rules.select_policy {
            SelectPolicy::Disabled => return current,
            SelectPolicy::Min => i64::min,
            SelectPolicy::Max => i64::max,
        };
        let mut result: Option<i64> = None;
        for p in &rules.policies {
            let added = Self::change_in_period(&self.scale_up_events, now, p.period);
            let removed = Self::change_in_period(&self.scale_down_events, now, p.period);
            let start = current - added + removed;
            let proposed = match p.kind {
                ScalingPolicyKind::Pods => start + p.value as i64,
                ScalingPolicyKind::Percent => {
                    (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as i64
                }
            };
            result = Some(result.map_or(proposed, |r| select(r, proposed)));
        }
        // No policy at all: upstream starts from MinInt32/MaxInt32; the final clamp to
        // `current` (Max) or the max replicas (Min) gives the same outcome.
        result.unwrap_or(match rules.select_policy {
            SelectPolicy::Min => i64::MAX,
            _ => i64::MIN,
        })
    }

    /// `calculateScaleDownLimitWithBehaviors`.
    fn scale_down_limit(&self, rules: &ResolvedRules, now: SimTime, current: i64) -> i64 {
        let select: fn(i64, i64) -> i64 = match rules.select_policy {
            SelectPolicy::Disabled => return current,
            SelectPolicy::Min => i64::max,
            SelectPolicy::Max => i64::min,
        };
        let mut result: Option<i64> = None;
        for p in &rules.policies {
            let added = Self::change_in_period(&self.scale_up_events, now, p.period);
            let removed = Self::change_in_period(&self.scale_down_events, now, p.period);
            let start = current - added + removed;
            let proposed = match p.kind {
                ScalingPolicyKind::Pods => start - p.value as i64,
                // int32(float64(start) * (1 - value/100)): truncation toward zero.
                ScalingPolicyKind::Percent => {
                    (start as f64 * (1.0 - p.value as f64 / 100.0)).trunc() as i64
                }
            };
            result = Some(result.map_or(proposed, |r| select(r, proposed)));
        }
        result.unwrap_or(match rules.select_policy {
            SelectPolicy::Min => i64::MIN,
            _ => i64::MAX,
        })
    }

    /// `storeScaleEvent`: events older than the direction's longest policy period are marked
    /// outdated and their slot reused.
    fn store_scale_event(
        &mut self,
        spec: &HpaSpec,
        behavior: &Behavior,
        now: SimTime,
        prev: u32,
        new: u32,
    ) {
        let (events, rules, change) = if new > prev {
            (
                &mut self.scale_up_events,
                behavior.resolved_scale_up(),
                new - prev,
            )
        } else {
            (
                &mut self.scale_down_events,
                behavior.resolved_scale_down(spec.downscale_stabilization),
                prev - new,
            )
        };
        let longest = rules.longest_period();
        let mut slot = None;
        for (i, e) in events.iter_mut().enumerate() {
            if now.0 >= longest.0 && e.at.0 < now.0 - longest.0 {
                e.outdated = true;
            }
            if e.outdated {
                slot = Some(i);
            }
        }
        let event = ScaleEvent {
            change,
            at: now,
            outdated: false,
        };
        match slot.and_then(|i| events.get_mut(i)) {
            Some(s) => *s = event,
            None => events.push(event),
        }
    }
}

fn clamp_u32(x: i64) -> u32 {
    x.clamp(0, u32::MAX as i64) as u32
}

/// One metric's proposal (`computeReplicasForMetric` and the replica calculator).
fn compute_metric(
    spec: &HpaSpec,
    metric: &MetricSpec,
    index: usize,
    input: &HpaInput<'_>,
    tol: Tolerances,
) -> MetricProposal {
    let fail = |e| MetricProposal {
        replicas: Err(e),
        current: None,
    };
    let current = input.spec_replicas;
    match (metric, metric.target()) {
        (MetricSpec::Resource { name, .. }, MetricTarget::Utilization(u)) if u > 0 => {
            resource_utilization(spec, name, index, u, input, tol)
        }
        (MetricSpec::Resource { name, .. }, MetricTarget::AverageValue(v))
        | (MetricSpec::Pods { name, .. }, MetricTarget::AverageValue(v))
            if v > 0.0 && v.is_finite() =>
        {
            let is_cpu = matches!(metric, MetricSpec::Resource { .. }) && name == CPU;
            plain_metric(spec, is_cpu, index, milli(v), input, tol)
        }
        (MetricSpec::Object { .. } | MetricSpec::External { .. }, t) => {
            let Some(value) = input.object_values.get(index).copied().flatten() else {
                return fail(MetricError::NoMetrics);
            };
            let usage = milli(value);
            match t {
                MetricTarget::Value(v) if v > 0.0 && v.is_finite() => {
                    // GetObjectMetricReplicas / GetExternalMetricReplicas.
                    let ratio = usage as f64 / milli(v) as f64;
                    let replicas = if current != 0 {
                        if tol.within(ratio) {
                            current
                        } else {
                            if input.pods.is_empty() {
                                return fail(MetricError::NoPods);
                            }
                            let ready = input
                                .pods
                                .iter()
                                .filter(|p| p.phase == PodPhase::Running && p.ready == Some(true))
                                .count();
                            to_replicas((ratio * ready as f64).ceil())
                        }
                    } else {
                        to_replicas(ratio.ceil())
                    };
                    MetricProposal {
                        replicas: Ok(replicas),
                        current: Some(usage as f64 / 1000.0),
                    }
                }
                MetricTarget::AverageValue(v) if v > 0.0 && v.is_finite() => {
                    // GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas: the
                    // tolerance test divides by status.replicas.
                    let target = milli(v) as f64;
                    let status = input.status_replicas;
                    let ratio = usage as f64 / (target * status as f64);
                    let replicas = if tol.within(ratio) {
                        status
                    } else {
                        to_replicas((usage as f64 / target).ceil())
                    };
                    MetricProposal {
                        replicas: Ok(replicas),
                        current: Some((usage as f64 / status as f64).ceil() / 1000.0),
                    }
                }
                _ => fail(MetricError::InvalidTarget),
            }
        }
        _ => fail(MetricError::InvalidTarget),
    }
}

/// How `groupPods` classifies a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// Deleting or Failed: dropped.
    Ignored,
    /// Pending, or (CPU only) not yet ready: set aside.
    Unready,
    /// No sample.
    Missing,
    /// Counted in the first pass.
    Ready,
}

/// `groupPods` in `replica_calculator.go` (kubernetes-semantics.md §1.3 \[src\]).
fn group_pod(spec: &HpaSpec, pod: &HpaPod, index: usize, is_cpu: bool, now: SimTime) -> Group {
    if pod.deleting || pod.phase == PodPhase::Failed {
        return Group::Ignored;
    }
    if pod.phase == PodPhase::Pending {
        return Group::Unready;
    }
    let Some(sample) = pod.sample(index) else {
        return Group::Missing;
    };
    if is_cpu {
        let unready = match (pod.ready, pod.start_time) {
            (None, _) | (_, None) => true,
            (Some(ready), Some(start)) => {
                let transition = pod.last_ready_transition;
                if start.saturating_add(spec.cpu_initialization_period) > now {
                    // Within the initialization period: unready, or the sample's window began
                    // before the last readiness transition.
                    !ready || sample.timestamp < transition.saturating_add(sample.window)
                } else {
                    // Past it: unready and never became ready after the initial delay.
                    !ready && start.saturating_add(spec.initial_readiness_delay) > transition
                }
            }
        };
        if unready {
            return Group::Unready;
        }
    }
    Group::Ready
}

/// `GetResourceReplicas` (Resource metric, `Utilization` target).
fn resource_utilization(
    spec: &HpaSpec,
    resource: &str,
    index: usize,
    target_pct: u32,
    input: &HpaInput<'_>,
    tol: Tolerances,
) -> MetricProposal {
    let fail = |e| MetricProposal {
        replicas: Err(e),
        current: None,
    };
    let current = input.spec_replicas;
    if input.pods.is_empty() {
        return fail(MetricError::NoPods);
    }
    let is_cpu = resource == CPU;
    // (usage, request) of every pod in the computation, in milli-units.
    let mut metrics: Vec<(i64, i64)> = Vec::with_capacity(input.pods.len());
    let mut ready_count = 0u64;
    let mut unready: Vec<i64> = Vec::new();
    let mut missing: Vec<i64> = Vec::new();
    let mut requests_ok = true;
    for pod in input.pods {
        // calculateRequests runs over every pod the selector matches.
        let request = pod.request(resource).map(milli);
        if request.is_none() {
            requests_ok = false;
        }
        let req = request.unwrap_or(0);
        match group_pod(spec, pod, index, is_cpu, input.now) {
            Group::Ignored => {}
            Group::Unready => unready.push(req),
            Group::Missing => missing.push(req),
            Group::Ready => {
                ready_count += 1;
                let usage = pod.sample(index).map_or(0, |s| milli(s.value));
                metrics.push((usage, req));
            }
        }
    }
    if metrics.is_empty() {
        return fail(MetricError::NoMetrics);
    }
    if !requests_ok {
        return fail(MetricError::MissingRequest);
    }
    let Some((ratio, utilization)) = utilization_ratio(&metrics, target_pct) else {
        return fail(MetricError::NoMetrics);
    };
    let report = Some(utilization as f64);
    let scale_up_with_unready = !unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && missing.is_empty() {
        let replicas = if tol.within(ratio) {
            current
        } else {
            to_replicas((ratio * ready_count as f64).ceil())
        };
        return MetricProposal {
            replicas: Ok(replicas),
            current: report,
        };
    }
    if ratio < 1.0 {
        // Scale-down: missing pods count as 100 % of their request, or the target when above.
        let fallback = target_pct.max(100) as i64;
        metrics.extend(missing.iter().map(|&r| (r * fallback / 100, r)));
    } else if ratio > 1.0 {
        metrics.extend(missing.iter().map(|&r| (0, r)));
    }
    if scale_up_with_unready {
        metrics.extend(unready.iter().map(|&r| (0, r)));
    }
    let Some((new_ratio, _)) = utilization_ratio(&metrics, target_pct) else {
        return fail(MetricError::NoMetrics);
    };
    let replicas = second_pass(ratio, new_ratio, metrics.len(), current, tol);
    MetricProposal {
        replicas: Ok(replicas),
        current: report,
    }
}

/// `GetResourceUtilizationRatio`: `(⌊Σ usage × 100 / Σ request⌋ / target, utilization %)`;
/// `None` when the requests sum to 0 ("no metrics returned matched known pods").
fn utilization_ratio(metrics: &[(i64, i64)], target_pct: u32) -> Option<(f64, i64)> {
    let usage: i128 = metrics.iter().map(|m| m.0 as i128).sum();
    let requests: i128 = metrics.iter().map(|m| m.1 as i128).sum();
    if requests == 0 {
        return None;
    }
    let pct = (usage * 100 / requests).clamp(i32::MIN as i128, i32::MAX as i128) as i64;
    Some((pct as f64 / target_pct as f64, pct))
}

/// `GetMetricUsageRatio`: `(⌊Σ values / n⌋ / target, ⌊Σ values / n⌋)` in milli-units.
fn usage_ratio(values: &[i64], target: i64) -> (f64, i64) {
    let total: i128 = values.iter().map(|&v| v as i128).sum();
    let avg = if values.is_empty() {
        0
    } else {
        (total / values.len() as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
    };
    (avg as f64 / target as f64, avg)
}

/// The conservative second pass shared by both per-pod paths (kubernetes-semantics.md §1.3
/// (6–7)).
fn second_pass(ratio: f64, new_ratio: f64, n: usize, current: u32, tol: Tolerances) -> u32 {
    if tol.within(new_ratio) || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0)
    {
        return current;
    }
    let new = to_replicas((new_ratio * n as f64).ceil());
    if (new_ratio < 1.0 && new > current) || (new_ratio > 1.0 && new < current) {
        return current;
    }
    new
}

/// `calcPlainMetricReplicas` (Pods metrics and Resource metrics with an `AverageValue` target).
fn plain_metric(
    spec: &HpaSpec,
    is_cpu: bool,
    index: usize,
    target: i64,
    input: &HpaInput<'_>,
    tol: Tolerances,
) -> MetricProposal {
    let fail = |e| MetricProposal {
        replicas: Err(e),
        current: None,
    };
    let current = input.spec_replicas;
    if input.pods.is_empty() {
        return fail(MetricError::NoPods);
    }
    let mut values: Vec<i64> = Vec::with_capacity(input.pods.len());
    let (mut unready, mut missing) = (0usize, 0usize);
    for pod in input.pods {
        match group_pod(spec, pod, index, is_cpu, input.now) {
            Group::Ignored => {}
            Group::Unready => unready += 1,
            Group::Missing => missing += 1,
            Group::Ready => values.push(pod.sample(index).map_or(0, |s| milli(s.value))),
        }
    }
    if values.is_empty() {
        return fail(MetricError::NoMetrics);
    }
    let ready_count = values.len();
    let (ratio, usage) = usage_ratio(&values, target);
    let report = Some(usage as f64 / 1000.0);
    let scale_up_with_unready = unready > 0 && ratio > 1.0;
    if !scale_up_with_unready && missing == 0 {
        let replicas = if tol.within(ratio) {
            current
        } else {
            to_replicas((ratio * ready_count as f64).ceil())
        };
        return MetricProposal {
            replicas: Ok(replicas),
            current: report,
        };
    }
    if ratio < 1.0 {
        // Scale-down: missing pods count as exactly the target.
        values.extend(std::iter::repeat_n(target, missing));
    } else if ratio > 1.0 {
        values.extend(std::iter::repeat_n(0, missing));
    }
    if scale_up_with_unready {
        values.extend(std::iter::repeat_n(0, unready));
    }
    let (new_ratio, _) = usage_ratio(&values, target);
    let replicas = second_pass(ratio, new_ratio, values.len(), current, tol);
    MetricProposal {
        replicas: Ok(replicas),
        current: report,
    }
}
