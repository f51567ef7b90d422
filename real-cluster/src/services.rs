//! Inference services on a real cluster: each scenario service is a **Deployment** in the run's
//! namespace ([`service_deployment`]) whose pods the real kube-controller-manager's Deployment
//! and ReplicaSet controllers create and delete (kubernetes-semantics.md §6.4 \[src\]); drydock's
//! scheduler binds them like training pods, the fake kubelet makes them Running and Ready after
//! their cold start, and [`ServiceRun`] keeps the driver's bookkeeping of one service: which pod
//! is which replica of the request-level [`ServiceRuntime`] (the simulator's traffic model), when
//! each was bound and became Ready, and the service's metrics pipeline and HPA
//! ([`ServiceHpa`], the code the simulator's engine runs).
//!
//! Every method here is pure bookkeeping on scenario time; the driver does the I/O.

use std::collections::{BTreeMap, BTreeSet};

use drydock_core::{Cluster, SimDuration, SimTime};
use drydock_scenarios::serving::{ServiceSpec, StartupSpec};
use drydock_sim::engine::fleet::ScaleDecision;
use drydock_sim::model::SpecId;
use drydock_sim::report::{ServiceReport, ServiceTally, service_report};
use drydock_sim::service_autoscaling::{ReplicaView, ServiceHpa, draw_cold_start};
use drydock_sim::serving::ServiceRuntime;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use rand_pcg::Pcg64;

use crate::error::RealError;
use crate::names::{ANN_SERVICE_NAME, LABEL_RUN, LABEL_SERVICE, deployment_name, owner_labels};
use crate::snapshot::{is_terminal, node_of};
use crate::workload::{PodSettings, drydock_pod_spec};

/// The Deployment of scenario service `svc` (index `index`), whose replica pods have the core
/// pod spec `spec`: named [`deployment_name`], labelled as the run's and
/// [`LABEL_SERVICE`]` = <deployment>` (also its selector, with [`LABEL_RUN`]), `spec.replicas`
/// the service's initial replicas, and a pod template with drydock's scheduler name, the
/// service's requests (`nvidia.com/gpu` included), the scenario's constraints and
/// `restartPolicy: Always` (a Deployment's only policy). Each pod's cold start is set on the
/// pod itself ([`crate::names::ANN_STARTUP_DELAY`]) by the driver before it binds it.
pub fn service_deployment(
    cluster: &Cluster,
    spec: &drydock_core::PodSpec,
    svc: &ServiceSpec,
    index: usize,
    settings: &PodSettings,
) -> Deployment {
    let name = deployment_name(&svc.name, index);
    let mut labels = owner_labels(&settings.run);
    labels.insert(LABEL_SERVICE.to_string(), name.clone());
    let selector = BTreeMap::from([
        (LABEL_RUN.to_string(), settings.run.clone()),
        (LABEL_SERVICE.to_string(), name.clone()),
    ]);
    let (pod_spec, annotations) = drydock_pod_spec(cluster, spec, settings, "Always");
    Deployment {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(BTreeMap::from([(
                ANN_SERVICE_NAME.to_string(),
                svc.name.clone(),
            )])),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(svc.replicas as i32),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..Default::default()
            },
            revision_history_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// True when `pod`'s `Ready` condition is `True`.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// One replica pod as the driver tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// Replica id in the service's [`ServiceRuntime`] (first seen, first numbered).
    pub id: u32,
    /// Scenario time the pod was first seen.
    pub created: SimTime,
    /// Scenario time it was bound (by drydock, or first seen bound).
    pub bound_at: Option<SimTime>,
    /// Its cold start, drawn when drydock bound it.
    pub startup: Option<SimDuration>,
    /// Scenario time it was seen Ready (and its cold start over).
    pub ready_at: Option<SimTime>,
    /// Being deleted (scale-down or eviction): out of the load balancer, draining.
    pub deleting: bool,
    /// Stopped serving without being deleted (its node died, or it lost its readiness): it
    /// never serves again.
    pub lost: bool,
}

/// One HPA sync as the driver ran it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HpaSync {
    /// Scenario time, in seconds.
    pub time_s: f64,
    /// Deployment `spec.replicas` before.
    pub from: u32,
    /// After (equal to `from` when the HPA did not write).
    pub to: u32,
}

/// The driver's state of one inference service.
#[derive(Debug)]
pub struct ServiceRun {
    /// Scenario service index.
    pub index: usize,
    /// Service name (the scenario's).
    pub name: String,
    /// Deployment name.
    pub deployment: String,
    /// Interned pod spec of its replicas.
    pub spec: SpecId,
    /// The request-level runtime (the simulator's model), advanced in scenario time.
    pub runtime: ServiceRuntime,
    /// Metrics pipeline and HPA, for autoscaled services.
    pub hpa: Option<ServiceHpa>,
    /// Deployment `spec.replicas` as last written (or to write).
    pub desired: u32,
    /// Replica pods seen, by pod name.
    pub replicas: BTreeMap<String, ReplicaState>,
    /// Every HPA sync run.
    pub syncs: Vec<HpaSync>,
    /// A replica count the HPA decided and the scale subresource has not taken yet.
    pub pending_scale: Option<u32>,
    /// True once the Deployment was created.
    pub created: bool,
    /// Cold starts (bound to Ready), in µs of scenario time.
    pub cold_starts_us: Vec<u64>,
    /// Most replica pods (not being deleted) at once.
    pub peak_replicas: u32,
    /// ∫ replica pods dt (µs).
    pub replica_us: u128,
    gpu_milli: u64,
    priority: i32,
    latency_slo: Option<SimDuration>,
    startup: StartupSpec,
    rng: Pcg64,
    next_id: u32,
    last_change: SimTime,
    next_scrape: SimTime,
    next_sync: SimTime,
}

impl ServiceRun {
    /// The state of service `index` (`svc`) of a run with seed `seed`, its replicas having
    /// pod spec `spec` of `gpu_milli` milli-GPU: the simulator's runtime and startup streams.
    ///
    /// # Errors
    /// [`RealError::Input`] when the service's traffic cannot be built (trace files).
    pub fn new(
        svc: &ServiceSpec,
        index: usize,
        spec: SpecId,
        gpu_milli: u64,
        data_dir: Option<&std::path::Path>,
        seed: u64,
    ) -> Result<Self, RealError> {
        let runtime = ServiceRuntime::from_spec(svc, data_dir, seed)
            .map_err(|e| RealError::Input(format!("service `{}`: {e}", svc.name)))?;
        let hpa = svc.autoscaling.clone().map(ServiceHpa::new);
        let (next_scrape, next_sync) = hpa.as_ref().map_or((SimTime::MAX, SimTime::MAX), |h| {
            (
                SimTime(h.spec().scrape_interval.0),
                SimTime(h.spec().hpa.sync_period.0),
            )
        });
        Ok(ServiceRun {
            index,
            name: svc.name.clone(),
            deployment: deployment_name(&svc.name, index),
            spec,
            runtime,
            hpa,
            desired: svc.replicas,
            replicas: BTreeMap::new(),
            syncs: Vec::new(),
            pending_scale: None,
            created: false,
            cold_starts_us: Vec::new(),
            peak_replicas: 0,
            replica_us: 0,
            gpu_milli,
            priority: svc.priority,
            latency_slo: svc.slo.latency,
            startup: svc.startup.clone(),
            rng: drydock_sim::rng::stream(seed, &format!("service/{}/startup", svc.name)),
            next_id: 0,
            last_change: SimTime::ZERO,
            next_scrape,
            next_sync,
        })
    }

    /// Pod priority of the replicas.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// True when `pod` is one of this service's replica pods.
    pub fn owns(&self, pod: &Pod) -> bool {
        pod.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SERVICE))
            .is_some_and(|v| *v == self.deployment)
    }

    /// Replica pods not being deleted.
    pub fn replica_count(&self) -> u32 {
        self.replicas.values().filter(|r| !r.deleting).count() as u32
    }

    /// Ready replicas not being deleted.
    pub fn ready_count(&self) -> u32 {
        self.replicas
            .values()
            .filter(|r| !r.deleting && r.ready_at.is_some())
            .count() as u32
    }

    fn account(&mut self, now: SimTime) {
        let dt = now.0.saturating_sub(self.last_change.0) as u128;
        self.replica_us += dt * self.replica_count() as u128;
        self.last_change = self.last_change.max(now);
    }

    /// Draws the cold start of a replica drydock is about to bind (the simulator's draw,
    /// [`draw_cold_start`], one per bind in bind order) and records it.
    pub fn draw_startup(&mut self, pod: &str) -> SimDuration {
        let d = draw_cold_start(&self.startup, &mut self.rng);
        if let Some(r) = self.replicas.get_mut(pod) {
            r.startup = Some(d);
        }
        d
    }

    /// Drydock bound replica pod `pod` at `now`.
    pub fn bound(&mut self, pod: &str, now: SimTime) {
        if let Some(r) = self.replicas.get_mut(pod)
            && r.bound_at.is_none()
        {
            r.bound_at = Some(now);
        }
    }

    /// The replica pods' scenario time of creation, by pod name (for the scheduling queue).
    pub fn created_at(&self, pod: &str) -> Option<(u32, SimTime)> {
        self.replicas.get(pod).map(|r| (r.id, r.created))
    }

    /// Updates the replicas from what the API reports at scenario time `now` (`pods`: the
    /// run's pods; `node_down`: whether a node, by name, is failed): new pods get the next
    /// replica ids (in order of creation timestamp, then name); a pod seen Ready whose cold
    /// start is over joins the runtime's load balancer; a pod being deleted drains
    /// (graceful); a pod on a failed node or no longer Ready stops serving, what it held
    /// lost; a pod gone leaves for good.
    pub fn observe(&mut self, now: SimTime, pods: &[&Pod], node_down: impl Fn(&str) -> bool) {
        self.account(now);
        let mut mine: Vec<&Pod> = pods
            .iter()
            .copied()
            .filter(|p| self.owns(p) && !is_terminal(p))
            .collect();
        mine.sort_by(|a, b| {
            let key = |p: &Pod| {
                (
                    p.metadata.creation_timestamp.clone().map(|t| t.0),
                    p.metadata.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let mut seen = BTreeSet::new();
        for p in mine {
            let Some(name) = p.metadata.name.clone() else {
                continue;
            };
            let deleting = p.metadata.deletion_timestamp.is_some();
            if !self.replicas.contains_key(&name) {
                if deleting {
                    continue;
                }
                let id = self.next_id;
                self.next_id += 1;
                self.replicas.insert(
                    name.clone(),
                    ReplicaState {
                        id,
                        created: now,
                        bound_at: None,
                        startup: None,
                        ready_at: None,
                        deleting: false,
                        lost: false,
                    },
                );
            }
            seen.insert(name.clone());
            let Some(r) = self.replicas.get_mut(&name) else {
                continue;
            };
            let node = node_of(p);
            if deleting && !r.deleting {
                r.deleting = true;
                self.runtime.replica_removed(r.id, now, true);
                r.ready_at = None;
                continue;
            }
            if r.deleting {
                continue;
            }
            if r.bound_at.is_none() && !r.lost && node.is_some() {
                r.bound_at = Some(now);
            }
            let down = node.is_some_and(&node_down);
            if r.ready_at.is_some() && !r.lost && (down || !pod_ready(p)) {
                r.lost = true;
                // As the simulator's lost replica: neither Ready nor running.
                r.ready_at = None;
                r.bound_at = None;
                self.runtime.replica_removed(r.id, now, false);
                continue;
            }
            if r.ready_at.is_none()
                && !r.lost
                && !down
                && pod_ready(p)
                && let Some(b) = r.bound_at
                && now >= b.saturating_add(r.startup.unwrap_or(SimDuration::ZERO))
            {
                r.ready_at = Some(now);
                self.cold_starts_us.push(now.since(b).0);
                self.runtime.replica_ready(r.id, now);
            }
        }
        let gone: Vec<String> = self
            .replicas
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        for n in gone {
            if let Some(r) = self.replicas.remove(&n) {
                // A deleted pod's grace period is over, or a pod vanished: what it still
                // held is lost.
                self.runtime.replica_removed(r.id, now, false);
            }
        }
        self.peak_replicas = self.peak_replicas.max(self.replica_count());
    }

    /// The replica pods not being deleted, as the HPA sees them, in replica-id order.
    pub fn replica_views(&self) -> Vec<ReplicaView> {
        let mut v: Vec<ReplicaView> = self
            .replicas
            .values()
            .filter(|r| !r.deleting)
            .map(|r| ReplicaView {
                id: r.id,
                created: r.created,
                bound_at: r.bound_at,
                ready_at: r.ready_at,
            })
            .collect();
        v.sort_by_key(|r| r.id);
        v
    }

    /// Runs the scrapes and HPA syncs due by `now` (each at most once per call, then
    /// rescheduled on its grid): returns the HPA's scale decision, if it wrote one, and sets
    /// [`ServiceRun::desired`] and [`ServiceRun::pending_scale`].
    pub fn autoscale(&mut self, now: SimTime) -> Option<ScaleDecision> {
        let hpa = self.hpa.as_mut()?;
        if now >= self.next_scrape {
            let ready: Vec<u32> = {
                let mut v: Vec<u32> = self
                    .replicas
                    .values()
                    .filter(|r| r.ready_at.is_some())
                    .map(|r| r.id)
                    .collect();
                v.sort_unstable();
                v
            };
            hpa.scrape(now, &self.runtime, ready);
            let iv = hpa.spec().scrape_interval.0.max(1);
            while self.next_scrape <= now {
                self.next_scrape = self.next_scrape.saturating_add(SimDuration(iv));
            }
        }
        if now < self.next_sync {
            return None;
        }
        let period = hpa.spec().hpa.sync_period.0.max(1);
        while self.next_sync <= now {
            self.next_sync = self.next_sync.saturating_add(SimDuration(period));
        }
        let views = self.replica_views();
        let hpa = self.hpa.as_mut()?;
        let from = self.desired;
        let decision = hpa.sync(now, &self.name, from, &views);
        let to = decision.as_ref().map_or(from, |d| d.to);
        self.syncs.push(HpaSync {
            time_s: now.as_secs_f64(),
            from,
            to,
        });
        if to != from {
            self.account(now);
            self.desired = to;
            self.pending_scale = Some(to);
        }
        decision
    }

    /// The service's report for a run that ended at `end` (see
    /// [`drydock_sim::report::service_report`]).
    pub fn report(&self, end: SimTime, cost_total: f64, completed_all: u64) -> ServiceReport {
        service_report(
            &ServiceTally {
                name: &self.name,
                runtime: &self.runtime,
                replicas_end: self.desired,
                replicas_peak: self.peak_replicas,
                replica_us: self.replica_us,
                ready_end: self.ready_count(),
                cold_starts_us: &self.cold_starts_us,
                gpu_us: self.replica_us * self.gpu_milli as u128 / 1000,
                latency_slo: self.latency_slo,
            },
            end.0,
            cost_total,
            completed_all,
        )
    }

    /// Closes the replica accounting at `end`.
    pub fn finish(&mut self, end: SimTime) {
        self.runtime.advance_to(end);
        self.account(end);
    }
}
