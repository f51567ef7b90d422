//! `spec.services[].autoscaling`: a HorizontalPodAutoscaler (autoscaling/v2) on the service's
//! Deployment, and how its metrics are collected. The decisions are
//! [`drydock_core::autoscale::hpa`]'s; this file reads and checks the section.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use drydock_core::SimDuration;
use drydock_core::autoscale::hpa::{
    Behavior, HpaSpec, MetricSpec, MetricTarget, ScalingPolicy, ScalingPolicyKind, ScalingRules,
    SelectPolicy,
};

use crate::raw::{DurationText, Sp};
use crate::validate::Checker;

type Opt<T> = Option<Sp<T>>;

/// Name of the per-replica requests-per-second metric (a Pods metric).
pub const METRIC_RPS: &str = "requests_per_second";
/// Name of the per-replica in-flight requests metric (a Pods metric).
pub const METRIC_IN_FLIGHT: &str = "inflight_requests";
/// Name of the GPU busy-fraction resource metric (a Resource metric on `nvidia.com/gpu`).
pub const METRIC_GPU: &str = "nvidia.com/gpu";
/// Name of the service-wide requests-per-second metric (an External metric).
pub const METRIC_TOTAL_RPS: &str = "service_requests_per_second";

/// `spec.services[].autoscaling`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceAutoscaling {
    /// The HorizontalPodAutoscaler: bounds, metrics (named with the `METRIC_*` constants),
    /// behavior, tolerance and controller timings.
    pub hpa: HpaSpec,
    /// `scrapeInterval`: how often per-replica counters are sampled (metrics-server
    /// `--metric-resolution`, 15 s by default in recent releases \[docs\]). Rates are computed
    /// over the last interval, like Prometheus `rate()`.
    pub scrape_interval: SimDuration,
    /// `metricLag`: how old the newest sample the HPA can read is (adapter and pipeline
    /// delay). Default 0.
    pub metric_lag: SimDuration,
}

/// `autoscaling` of a service, as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["maxReplicas", "metrics"]))]
#[schemars(rename = "Autoscaling")]
pub(crate) struct RawAutoscaling {
    /// `minReplicas`. Default 1.
    #[schemars(range(min = 0))]
    pub min_replicas: Opt<i64>,
    /// `maxReplicas`.
    #[schemars(range(min = 1))]
    pub max_replicas: Opt<i64>,
    /// Metrics; the HPA takes the largest proposal.
    pub metrics: Option<Vec<Sp<RawMetric>>>,
    /// `behavior` (scale-up and scale-down rules). Absent: the legacy path without behavior.
    pub behavior: Opt<RawBehavior>,
    /// `--horizontal-pod-autoscaler-tolerance`. Default 0.1.
    #[schemars(range(min = 0))]
    pub tolerance: Opt<f64>,
    /// `--horizontal-pod-autoscaler-sync-period`. Default 15s.
    pub sync_period: Opt<DurationText>,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`. Default 5m.
    pub downscale_stabilization: Opt<DurationText>,
    /// Metrics scrape interval. Default 15s.
    pub scrape_interval: Opt<DurationText>,
    /// Age of the newest sample the HPA reads. Default 0s.
    pub metric_lag: Opt<DurationText>,
}

/// One HPA metric.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["type"]))]
#[schemars(rename = "AutoscalingMetric")]
pub(crate) struct RawMetric {
    /// `requests-per-second` (per replica, averageValue), `in-flight` (per replica,
    /// averageValue), `gpu-utilization` (busy fraction of the replica's GPUs,
    /// averageUtilization in percent) or `service-requests-per-second` (the whole service,
    /// an External metric: value or averageValue).
    #[serde(rename = "type")]
    pub kind: Opt<String>,
    /// Target per replica.
    pub average_value: Opt<f64>,
    /// Target in percent (gpu-utilization).
    pub average_utilization: Opt<i64>,
    /// Target total (service-requests-per-second).
    pub value: Opt<f64>,
}

/// `behavior`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Behavior")]
pub(crate) struct RawBehavior {
    /// Scale-up rules. Default: no stabilization, max of 4 pods and 100 % per 15 s.
    pub scale_up: Opt<RawRules>,
    /// Scale-down rules. Default: 300 s stabilization, 100 % per 15 s.
    pub scale_down: Opt<RawRules>,
}

/// `behavior.scaleUp` / `behavior.scaleDown`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ScalingRules")]
pub(crate) struct RawRules {
    /// `stabilizationWindowSeconds` as a duration.
    pub stabilization_window: Opt<DurationText>,
    /// `Max` (default), `Min` or `Disabled`.
    pub select_policy: Opt<String>,
    /// Policies.
    pub policies: Option<Vec<Sp<RawPolicy>>>,
}

/// One scaling policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["type", "value", "period"]))]
#[schemars(rename = "ScalingPolicy")]
pub(crate) struct RawPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub kind: Opt<String>,
    /// Pods, or percent.
    #[schemars(range(min = 1))]
    pub value: Opt<i64>,
    /// `periodSeconds` as a duration.
    pub period: Opt<DurationText>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Rps,
    InFlight,
    Gpu,
    TotalRps,
}

/// Checks `autoscaling` of service `path`, whose Deployment starts with `replicas`.
pub(crate) fn check_autoscaling(
    c: &mut Checker<'_>,
    a: &Sp<RawAutoscaling>,
    path: &str,
    replicas: u32,
) -> Option<ServiceAutoscaling> {
    let raw = &a.value;
    let min = c
        .int_in(
            &raw.min_replicas,
            &format!("{path}.minReplicas"),
            "replicas",
            (1, 100_000),
            "at least 1 (scale to zero needs the alpha HPAScaleToZero gate and is not modelled)",
        )
        .unwrap_or(1) as u32;
    let max = c
        .require(
            &raw.max_replicas,
            a.pos,
            path,
            "maxReplicas",
            "give the most replicas the HPA may set, for example `maxReplicas: 10`",
        )
        .and_then(|_| {
            c.int_in(
                &raw.max_replicas,
                &format!("{path}.maxReplicas"),
                "replicas",
                (1, 100_000),
                "1 or more",
            )
        })
        .map(|m| m as u32);
    if let Some(max) = max
        && min > max
    {
        c.report(
            raw.max_replicas.as_ref().map_or(a.pos, |m| m.pos),
            "replicas",
            format!("`{path}`: minReplicas ({min}) is above maxReplicas ({max})"),
            Some("make `minReplicas` at most `maxReplicas`".into()),
        );
    }
    let _ = replicas;
    let mut metrics = Vec::new();
    let raw_metrics = raw.metrics.as_deref().unwrap_or(&[]);
    if raw.metrics.is_none() || raw_metrics.is_empty() {
        c.report(
            a.pos,
            "missing-field",
            format!("`{path}` needs at least one entry in `metrics`"),
            Some("for example `metrics: [{type: requests-per-second, averageValue: 5}]`".into()),
        );
    }
    for (i, m) in raw_metrics.iter().enumerate() {
        let mpath = format!("{path}.metrics[{i}]");
        let kind = c
            .require(
                &m.value.kind,
                m.pos,
                &mpath,
                "type",
                "requests-per-second, in-flight, gpu-utilization or service-requests-per-second",
            )
            .and_then(|_| {
                c.choice(
                    &m.value.kind,
                    &format!("{mpath}.type"),
                    "metric",
                    &[
                        ("requests-per-second", Kind::Rps),
                        ("in-flight", Kind::InFlight),
                        ("gpu-utilization", Kind::Gpu),
                        ("service-requests-per-second", Kind::TotalRps),
                    ],
                )
            });
        let Some(kind) = kind else { continue };
        let positive = |c: &mut Checker<'_>, v: &Opt<f64>, field: &str| {
            c.number(
                v,
                &format!("{mpath}.{field}"),
                "metric-target",
                |x| x > 0.0,
                "above 0",
                "a target above 0",
            )
        };
        let spec = match kind {
            Kind::Rps | Kind::InFlight => {
                for (f, v) in [
                    (
                        "averageUtilization",
                        m.value.average_utilization.as_ref().map(|x| x.pos),
                    ),
                    ("value", m.value.value.as_ref().map(|x| x.pos)),
                ] {
                    if let Some(pos) = v {
                        c.report(
                            pos,
                            "metric-target",
                            format!("`{mpath}.{f}` does not apply to a per-replica metric"),
                            Some("give `averageValue`".into()),
                        );
                    }
                }
                c.require(
                    &m.value.average_value,
                    m.pos,
                    &mpath,
                    "averageValue",
                    "the target per replica, for example `averageValue: 5`",
                )
                .and_then(|_| positive(c, &m.value.average_value, "averageValue"))
                .map(|v| MetricSpec::Pods {
                    name: if kind == Kind::Rps {
                        METRIC_RPS
                    } else {
                        METRIC_IN_FLIGHT
                    }
                    .to_string(),
                    target: MetricTarget::AverageValue(v),
                })
            }
            Kind::Gpu => c
                .require(
                    &m.value.average_utilization,
                    m.pos,
                    &mpath,
                    "averageUtilization",
                    "the target busy percentage, for example `averageUtilization: 70`",
                )
                .and_then(|_| {
                    c.int_in(
                        &m.value.average_utilization,
                        &format!("{mpath}.averageUtilization"),
                        "metric-target",
                        (1, 100_000),
                        "a percentage above 0",
                    )
                })
                .map(|u| MetricSpec::Resource {
                    name: METRIC_GPU.to_string(),
                    target: MetricTarget::Utilization(u as u32),
                }),
            Kind::TotalRps => match (&m.value.value, &m.value.average_value) {
                (Some(_), None) => {
                    positive(c, &m.value.value, "value").map(|v| MetricSpec::External {
                        name: METRIC_TOTAL_RPS.to_string(),
                        target: MetricTarget::Value(v),
                    })
                }
                (None, Some(_)) => positive(c, &m.value.average_value, "averageValue").map(|v| {
                    MetricSpec::External {
                        name: METRIC_TOTAL_RPS.to_string(),
                        target: MetricTarget::AverageValue(v),
                    }
                }),
                _ => {
                    c.report(
                        m.pos,
                        "metric-target",
                        format!("`{mpath}` needs exactly one of `value` and `averageValue`"),
                        Some("`value` is the service's total requests/s target; `averageValue` its per-replica share".into()),
                    );
                    None
                }
            },
        };
        if let Some(s) = spec {
            metrics.push(s);
        }
    }
    let behavior = raw.behavior.as_ref().map(|b| {
        let bpath = format!("{path}.behavior");
        Behavior {
            scale_up: b
                .value
                .scale_up
                .as_ref()
                .map(|r| check_rules(c, r, &format!("{bpath}.scaleUp"))),
            scale_down: b
                .value
                .scale_down
                .as_ref()
                .map(|r| check_rules(c, r, &format!("{bpath}.scaleDown"))),
        }
    });
    let mut hpa = HpaSpec::new(min, max.unwrap_or(min), metrics);
    hpa.behavior = behavior;
    if let Some(t) = c.number(
        &raw.tolerance,
        &format!("{path}.tolerance"),
        "tolerance",
        |x| (0.0..1.0).contains(&x),
        "between 0 and 1",
        "a fraction, 0.1 by default",
    ) {
        hpa.tolerance = t;
    }
    if let Some(d) = c.positive_duration(
        &raw.sync_period,
        &format!("{path}.syncPeriod"),
        "positive-duration",
        "for example `syncPeriod: 15s`",
    ) {
        hpa.sync_period = d;
    }
    hpa.downscale_stabilization = c.duration_or(
        &raw.downscale_stabilization,
        &format!("{path}.downscaleStabilization"),
        hpa.downscale_stabilization,
    );
    let scrape_interval = c
        .positive_duration(
            &raw.scrape_interval,
            &format!("{path}.scrapeInterval"),
            "positive-duration",
            "for example `scrapeInterval: 15s`",
        )
        .unwrap_or(SimDuration::from_secs(15));
    let metric_lag = c.duration_or(
        &raw.metric_lag,
        &format!("{path}.metricLag"),
        SimDuration::ZERO,
    );
    if let Err(e) = hpa.validate() {
        c.report(a.pos, "autoscaling", format!("`{path}`: {e}"), None);
        return None;
    }
    max?;
    Some(ServiceAutoscaling {
        hpa,
        scrape_interval,
        metric_lag,
    })
}

fn check_rules(c: &mut Checker<'_>, r: &Sp<RawRules>, path: &str) -> ScalingRules {
    let raw = &r.value;
    let stabilization_window = c
        .duration(
            &raw.stabilization_window,
            &format!("{path}.stabilizationWindow"),
        )
        .map(|d| d.value);
    if let Some(w) = stabilization_window
        && w > SimDuration::from_hours(1)
        && let Some(p) = &raw.stabilization_window
    {
        c.report(
            p.pos,
            "stabilization-window",
            format!("`{path}.stabilizationWindow` is {w}; Kubernetes allows at most 1h"),
            Some("use 0s to 1h (stabilizationWindowSeconds ≤ 3600)".into()),
        );
    }
    let select_policy = c.choice(
        &raw.select_policy,
        &format!("{path}.selectPolicy"),
        "select-policy",
        &[
            ("Max", SelectPolicy::Max),
            ("Min", SelectPolicy::Min),
            ("Disabled", SelectPolicy::Disabled),
        ],
    );
    let mut policies = Vec::new();
    for (i, p) in raw.policies.as_deref().unwrap_or(&[]).iter().enumerate() {
        let ppath = format!("{path}.policies[{i}]");
        let kind = c
            .require(&p.value.kind, p.pos, &ppath, "type", "Pods or Percent")
            .and_then(|_| {
                c.choice(
                    &p.value.kind,
                    &format!("{ppath}.type"),
                    "policy",
                    &[
                        ("Pods", ScalingPolicyKind::Pods),
                        ("Percent", ScalingPolicyKind::Percent),
                    ],
                )
            });
        let value = c
            .require(&p.value.value, p.pos, &ppath, "value", "1 or more")
            .and_then(|_| {
                c.int_in(
                    &p.value.value,
                    &format!("{ppath}.value"),
                    "policy",
                    (1, 1_000_000),
                    "1 or more",
                )
            });
        let period = c
            .require(
                &p.value.period,
                p.pos,
                &ppath,
                "period",
                "for example `period: 15s`",
            )
            .and_then(|_| {
                c.positive_duration(
                    &p.value.period,
                    &format!("{ppath}.period"),
                    "policy",
                    "between 1s and 30m (periodSeconds 1–1800)",
                )
            });
        if let Some(d) = period
            && d > SimDuration::from_mins(30)
            && let Some(pp) = &p.value.period
        {
            c.report(
                pp.pos,
                "policy",
                format!("`{ppath}.period` is {d}; Kubernetes allows at most 30m"),
                Some("use 1s to 30m (periodSeconds ≤ 1800)".into()),
            );
        }
        if let (Some(kind), Some(value), Some(period)) = (kind, value, period) {
            policies.push(ScalingPolicy {
                kind,
                value: value as u32,
                period,
            });
        }
    }
    ScalingRules {
        stabilization_window,
        select_policy,
        policies,
        tolerance: None,
    }
}
