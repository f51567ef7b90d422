//! The metrics pipeline and HorizontalPodAutoscaler loop of one inference service, shared by
//! the simulator's engine (`engine::services`) and the real-cluster driver
//! (`drydock_real_cluster::driver`): both scrape the service's replicas every
//! `scrapeInterval`, and every `hpa.syncPeriod` build the same [`HpaInput`] from the scrapes the
//! HPA can see (those older than `metricLag`) and run the core's
//! [`drydock_core::autoscale::hpa::Hpa::reconcile`] on it.
//!
//! Metrics, as the metrics pipeline exposes them (kubernetes-semantics.md, HPA section):
//! per-pod `requests_per_second` and GPU utilisation are rates over the window between the last
//! two visible scrapes, `in_flight` is the last scrape's gauge, and the external
//! `total_requests_per_second` is the service's arrival rate over that window. Pods are the
//! Deployment's replica pods not being deleted: `Running` once bound, Ready once their cold start
//! is over.

use std::collections::{BTreeMap, VecDeque};

use drydock_core::autoscale::hpa::{
    CPU, Hpa, HpaInput, HpaPod, MetricSample, MetricSpec, PodPhase,
};
use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::serving::autoscaling::{
    METRIC_GPU, METRIC_IN_FLIGHT, METRIC_RPS, METRIC_TOTAL_RPS, ServiceAutoscaling,
};
use rand_pcg::Pcg64;

use crate::engine::fleet::ScaleDecision;
use crate::serving::{ReplicaCounters, ServiceRuntime};

/// One scrape of a service's replicas.
#[derive(Debug, Clone)]
struct Scrape {
    at: SimTime,
    /// Per Ready replica (replica id): its counters.
    replicas: BTreeMap<u32, ReplicaCounters>,
    /// Requests arrived at the service so far.
    arrived: u64,
}

/// A replica pod as the HPA sees it: one of the Deployment's pods not being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaView {
    /// Replica id: the id the service's [`ServiceRuntime`] knows the replica by.
    pub id: u32,
    /// Scenario time the pod was created.
    pub created: SimTime,
    /// Scenario time the pod was bound (its containers started), if it is bound.
    pub bound_at: Option<SimTime>,
    /// Scenario time the pod became Ready, if it is Ready.
    pub ready_at: Option<SimTime>,
}

/// The scrapes and the HPA of one autoscaled service.
#[derive(Debug, Clone)]
pub struct ServiceHpa {
    spec: ServiceAutoscaling,
    hpa: Hpa,
    scrapes: VecDeque<Scrape>,
}

/// A replica's cold start (pod bound to Ready): an image pull then a model load, each drawn
/// from the service's startup distributions with `rng` (the simulator's stream
/// `service/<name>/startup`), in that order.
pub fn draw_cold_start(
    startup: &drydock_scenarios::serving::StartupSpec,
    rng: &mut Pcg64,
) -> SimDuration {
    let pull = crate::dist::sample(&startup.image_pull, rng);
    let load = crate::dist::sample(&startup.model_load, rng);
    SimDuration(pull.0.saturating_add(load.0))
}

impl ServiceHpa {
    /// A service's metrics pipeline and HPA, with no scrape yet.
    pub fn new(spec: ServiceAutoscaling) -> Self {
        ServiceHpa {
            spec,
            hpa: Hpa::new(),
            scrapes: VecDeque::new(),
        }
    }

    /// The service's autoscaling settings.
    pub fn spec(&self) -> &ServiceAutoscaling {
        &self.spec
    }

    /// A metrics scrape at `now`: records the counters of each replica of `ready` (ids, in
    /// order; those `runtime` does not know are skipped) and the service's arrivals. Keeps as
    /// many scrapes as `metricLag` needs, plus three.
    pub fn scrape(
        &mut self,
        now: SimTime,
        runtime: &ServiceRuntime,
        ready: impl IntoIterator<Item = u32>,
    ) {
        let keep = self.spec.metric_lag.0 / self.spec.scrape_interval.0.max(1) + 3;
        let mut replicas = BTreeMap::new();
        for j in ready {
            if let Some(c) = runtime.replica_counters(j) {
                replicas.insert(j, c);
            }
        }
        let arrived = runtime.counters().arrived;
        self.scrapes.push_back(Scrape {
            at: now,
            replicas,
            arrived,
        });
        while self.scrapes.len() as u64 > keep {
            self.scrapes.pop_front();
        }
    }

    /// An HPA sync at `now` for Deployment `target` whose `spec.replicas` is `spec_replicas`
    /// and whose pods not being deleted are `replicas` (in replica-id order): builds the HPA's
    /// input from the visible scrapes, runs the core's reconcile, and returns the scale
    /// decision when the HPA writes a new replica count (`from` = `spec_replicas`), with the
    /// reason and each metric's value and proposal.
    pub fn sync(
        &mut self,
        now: SimTime,
        target: &str,
        spec_replicas: u32,
        replicas: &[ReplicaView],
    ) -> Option<ScaleDecision> {
        let a = &self.spec;
        // The newest scrape the HPA can see, and the one before it (the rate window).
        let visible: Vec<&Scrape> = self
            .scrapes
            .iter()
            .filter(|x| x.at.saturating_add(a.metric_lag) <= now)
            .collect();
        let (last, prev) = match visible.as_slice() {
            [.., p, l] => (Some(*l), Some(*p)),
            [l] => (Some(*l), None),
            [] => (None, None),
        };
        let pods: Vec<HpaPod> = replicas
            .iter()
            .map(|r| HpaPod {
                phase: if r.bound_at.is_some() {
                    PodPhase::Running
                } else {
                    PodPhase::Pending
                },
                deleting: false,
                ready: r.bound_at.map(|_| r.ready_at.is_some()),
                start_time: r.bound_at,
                last_ready_transition: r.ready_at.or(r.bound_at).unwrap_or(r.created),
                samples: a
                    .hpa
                    .metrics
                    .iter()
                    .map(|m| pod_sample(m, r.id, last, prev))
                    .collect(),
                requests: vec![(METRIC_GPU.to_string(), 1.0), (CPU.to_string(), 1.0)],
            })
            .collect();
        let object_values: Vec<Option<f64>> = a
            .hpa
            .metrics
            .iter()
            .map(|m| match (m, last, prev) {
                (MetricSpec::External { name, .. }, Some(l), Some(p))
                    if name == METRIC_TOTAL_RPS =>
                {
                    let dt = l.at.since(p.at).as_secs_f64();
                    (dt > 0.0).then(|| l.arrived.saturating_sub(p.arrived) as f64 / dt)
                }
                _ => None,
            })
            .collect();
        let input = HpaInput {
            now,
            spec_replicas,
            status_replicas: replicas.len() as u32,
            pods: &pods,
            object_values: &object_values,
        };
        let decision = self.hpa.reconcile(&a.hpa, &input);
        if !(decision.write && decision.desired_replicas != spec_replicas) {
            return None;
        }
        let metrics: Vec<String> = a
            .hpa
            .metrics
            .iter()
            .zip(&decision.proposals)
            .map(|(m, p)| match (p.current, &p.replicas) {
                (Some(v), Ok(r)) => format!("{} {:.2} → {r}", m.name(), v),
                (_, Err(e)) => format!("{}: {e}", m.name()),
                (None, Ok(r)) => format!("{} → {r}", m.name()),
            })
            .collect();
        Some(ScaleDecision {
            time_s: now.as_secs_f64(),
            actor: "hpa".into(),
            target: target.to_string(),
            from: spec_replicas,
            to: decision.desired_replicas,
            reason: format!("{} ({})", decision.reason, metrics.join(", ")),
        })
    }
}

/// Replica `j`'s sample of metric `m` from the last two scrapes (rates over their interval).
fn pod_sample(
    m: &MetricSpec,
    j: u32,
    last: Option<&Scrape>,
    prev: Option<&Scrape>,
) -> Option<MetricSample> {
    let l = last?;
    let now = l.replicas.get(&j)?;
    let window = |p: &Scrape| l.at.since(p.at);
    let rate = |f: &dyn Fn(&ReplicaCounters) -> f64| -> Option<(f64, SimDuration)> {
        let p = prev?;
        let before = p.replicas.get(&j)?;
        let w = window(p);
        (w.0 > 0).then(|| ((f(now) - f(before)) / w.as_secs_f64(), w))
    };
    let (value, w) = match m.name() {
        METRIC_RPS => rate(&|c| c.completed as f64)?,
        METRIC_GPU => rate(&|c| c.busy.as_secs_f64())?,
        METRIC_IN_FLIGHT => (now.in_flight as f64, SimDuration::ZERO),
        _ => return None,
    };
    Some(MetricSample {
        value,
        timestamp: l.at,
        window: w,
    })
}
