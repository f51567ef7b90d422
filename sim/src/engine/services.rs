//! Inference services in the engine: each service is a Deployment whose replica pods are
//! scheduled like any pod (they are jobs of one worker that never finish), start up (image
//! pull, model load), become Ready endpoints of the service's request-level runtime
//! ([`crate::serving::ServiceRuntime`]), and are scaled by the core's HorizontalPodAutoscaler
//! ([`drydock_core::autoscale::hpa::Hpa`]) from metrics scraped at an interval.
//!
//! Deployment semantics (kubernetes-semantics.md §6.4 \[src\]): the controller keeps
//! `spec.replicas` pods that are not being deleted; a pod lost to a node failure or an eviction
//! is replaced by a new pod at once (no backoff, unlike a Job); on scale-down the ReplicaSet
//! deletes unscheduled pods first, then not-ready ones, then the newest Ready ones
//! (`ActivePodsWithRanks` in `pkg/controller/controller_utils.go`). A deleted pod leaves the
//! load balancer at once and keeps its resources for the termination grace period while it
//! drains its requests.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use bevy_ecs::prelude::World;
use drydock_core::autoscale::hpa::Hpa;
use drydock_core::autoscale::hpa::{CPU, HpaInput, HpaPod, MetricSample, MetricSpec, PodPhase};
use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::Scenario;
use drydock_scenarios::serving::autoscaling::{
    METRIC_GPU, METRIC_IN_FLIGHT, METRIC_RPS, METRIC_TOTAL_RPS, ServiceAutoscaling,
};
use rand_pcg::Pcg64;
use sha2::Digest;

use super::fleet::ScaleDecision;
use super::{Event, Phase, SimState, enqueue, mark_dirty, unbind_all};
use crate::SimError;
use crate::dist;
use crate::model::{Job, JobName, JobStatus, SpecId};
use crate::rng::stream;
use crate::serving::{ReplicaCounters, ServiceRuntime};

/// One scrape of a service's replicas.
#[derive(Debug, Clone)]
struct Scrape {
    at: SimTime,
    /// Per Ready replica (job index): its counters.
    replicas: BTreeMap<u32, ReplicaCounters>,
    /// Requests arrived at the service so far.
    arrived: u64,
}

/// A replica pod's timeline.
#[derive(Debug, Clone, Copy, Default)]
struct Replica {
    created: SimTime,
    bound_at: Option<SimTime>,
    ready_at: Option<SimTime>,
    deleting: bool,
}

/// One service's state in the engine.
pub struct ServiceState {
    /// Service name.
    pub name: String,
    /// The request-level runtime.
    pub runtime: ServiceRuntime,
    /// Deployment `spec.replicas`.
    pub desired: u32,
    autoscaling: Option<ServiceAutoscaling>,
    hpa: Hpa,
    spec: SpecId,
    priority: i32,
    gpu_milli: u64,
    slo: drydock_scenarios::SloSpec,
    image_pull: drydock_scenarios::DurationDist,
    model_load: drydock_scenarios::DurationDist,
    /// Replica pods (job index → timeline), not deleted.
    replicas: BTreeMap<u32, Replica>,
    next_name: u32,
    scrapes: VecDeque<Scrape>,
    rng: Pcg64,
    /// Cold-start times (bound to Ready), in µs.
    pub cold_starts_us: Vec<u64>,
    /// Most replicas at once.
    pub peak_replicas: u32,
    /// ∫ replicas dt (µs), for the mean.
    pub replica_us: u128,
    last_change: SimTime,
    /// Per sample: (time, replicas, ready replicas, interval stats).
    pub series: Vec<ServicePoint>,
}

/// One time-series point of a service (a `timeseries.csv` row's service columns).
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePoint {
    /// Deployment `spec.replicas`.
    pub desired: u32,
    /// Replica pods not being deleted.
    pub replicas: u32,
    /// Ready replicas.
    pub ready: u32,
    /// Statistics of the requests since the previous point.
    pub stats: crate::serving::IntervalStats,
}

impl std::fmt::Debug for ServiceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceState")
            .field("name", &self.name)
            .field("desired", &self.desired)
            .field("replicas", &self.replicas.len())
            .finish()
    }
}

impl ServiceState {
    /// Replica pods not being deleted.
    pub fn replica_count(&self) -> u32 {
        self.replicas.values().filter(|r| !r.deleting).count() as u32
    }

    /// Ready replica pods not being deleted.
    pub fn ready_count(&self) -> u32 {
        self.replicas
            .values()
            .filter(|r| !r.deleting && r.ready_at.is_some())
            .count() as u32
    }

    /// The service's end-to-end latency SLO, if it sets one.
    pub fn latency_slo(&self) -> Option<SimDuration> {
        self.slo.latency
    }

    /// GPU time the replica pods held so far, in milli-GPU·µs / 1000 (GPU·µs), counting every
    /// replica pod (pending ones too: an approximation that overstates while pods wait).
    pub fn gpu_us(&self) -> u128 {
        self.replica_us * self.gpu_milli as u128 / 1000
    }

    fn account(&mut self, now: SimTime) {
        let dt = now.0.saturating_sub(self.last_change.0) as u128;
        self.replica_us += dt * self.replica_count() as u128;
        self.last_change = self.last_change.max(now);
    }
}

/// Builds the services of `scenario`; `spec_of_service[i]` is the interned pod spec of service
/// `i`'s replicas.
///
/// # Errors
/// As [`ServiceRuntime::from_spec`] (trace files).
pub(crate) fn build(
    scenario: &Scenario,
    specs: &[SpecId],
    gpu_milli: &[u64],
    data_dir: Option<&Path>,
    seed: u64,
) -> Result<Vec<ServiceState>, SimError> {
    scenario
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(ServiceState {
                name: s.name.clone(),
                runtime: ServiceRuntime::from_spec(s, data_dir, seed)?,
                desired: s.replicas,
                autoscaling: s.autoscaling.clone(),
                hpa: Hpa::new(),
                spec: specs[i],
                priority: s.priority,
                gpu_milli: gpu_milli[i],
                slo: s.slo,
                image_pull: s.startup.image_pull.clone(),
                model_load: s.startup.model_load.clone(),
                replicas: BTreeMap::new(),
                next_name: 0,
                scrapes: VecDeque::new(),
                rng: stream(seed, &format!("service/{}/startup", s.name)),
                cold_starts_us: Vec::new(),
                peak_replicas: 0,
                replica_us: 0,
                last_change: SimTime::ZERO,
                series: Vec::new(),
            })
        })
        .collect()
}

/// Creates the initial replicas and queues each service's first HPA sync and scrape.
pub(crate) fn start(world: &mut World, st: &mut SimState) -> Result<(), SimError> {
    for s in 0..st.services.len() {
        reconcile(world, st, s, SimTime::ZERO)?;
        if let Some(a) = &st.services[s].autoscaling {
            let (sync, scrape) = (a.hpa.sync_period, a.scrape_interval);
            st.queue.push(
                SimTime(scrape.0),
                Event::MetricsScrape { service: s as u32 },
            )?;
            st.queue
                .push(SimTime(sync.0), Event::HpaSync { service: s as u32 })?;
        }
    }
    Ok(())
}

/// Advances every service's requests to `now` (before the engine handles an event at `now`).
pub(crate) fn advance(st: &mut SimState, now: SimTime) {
    for s in &mut st.services {
        s.runtime.advance_to(now);
    }
}

/// The Deployment controller: creates or deletes replica pods until `spec.replicas` pods are
/// not being deleted.
fn reconcile(world: &mut World, st: &mut SimState, s: usize, now: SimTime) -> Result<(), SimError> {
    let have = st.services[s].replica_count();
    let want = st.services[s].desired;
    st.services[s].account(now);
    if have < want {
        for _ in have..want {
            create_replica(world, st, s, now);
        }
        mark_dirty(st, now)?;
    } else if have > want {
        // ActivePodsWithRanks: unscheduled first, then not ready, then Ready ones with the
        // shortest time Ready (the newest) first; ties by creation, newer first.
        let mut ranked: Vec<(u8, std::cmp::Reverse<SimTime>, std::cmp::Reverse<u32>, u32)> = st
            .services[s]
            .replicas
            .iter()
            .filter(|(_, r)| !r.deleting)
            .map(|(&j, r)| {
                let rank = if r.bound_at.is_none() {
                    0
                } else if r.ready_at.is_none() {
                    1
                } else {
                    2
                };
                let since = r.ready_at.or(r.bound_at).unwrap_or(r.created);
                (rank, std::cmp::Reverse(since), std::cmp::Reverse(j), j)
            })
            .collect();
        ranked.sort();
        for &(_, _, _, j) in ranked.iter().take((have - want) as usize) {
            delete_replica(world, st, s, j, now)?;
        }
    }
    let svc = &mut st.services[s];
    svc.peak_replicas = svc.peak_replicas.max(svc.replica_count());
    Ok(())
}

fn create_replica(world: &mut World, st: &mut SimState, s: usize, now: SimTime) {
    let j = st.jobs.len() as u32;
    let svc = &mut st.services[s];
    let name = format!("{}-{}", svc.name, svc.next_name);
    svc.next_name += 1;
    let job = Job {
        index: j,
        arrival: now,
        workers: 1,
        spec: svc.spec,
        last_spec: svc.spec,
        work: None,
        checkpoint: None,
        restart_overhead: SimDuration::ZERO,
        backoff_limit: u32::MAX,
        priority: svc.priority,
        one_attempt: false,
        gpu_milli: svc.gpu_milli,
        service: Some(s as u16),
    };
    svc.replicas.insert(
        j,
        Replica {
            created: now,
            ..Default::default()
        },
    );
    let status = JobStatus {
        phase: Phase::Pending,
        ..Default::default()
    };
    let e = world
        .spawn((job, JobName(name.into_boxed_str()), status))
        .id();
    st.jobs.push(e);
    st.arrived += 1;
    st.log_hash.update([0xC1]);
    st.log_hash.update(j.to_le_bytes());
    enqueue(world, st, j, now);
}

fn delete_replica(
    world: &mut World,
    st: &mut SimState,
    s: usize,
    j: u32,
    now: SimTime,
) -> Result<(), SimError> {
    let e = st.jobs[j as usize];
    let Some(mut status) = world.get_mut::<JobStatus>(e) else {
        return Ok(());
    };
    let phase = status.phase;
    if let Some(r) = st.services[s].replicas.get_mut(&j) {
        r.deleting = true;
    }
    st.log_hash.update([0xC2]);
    st.log_hash.update(j.to_le_bytes());
    match phase {
        Phase::Pending => {
            st.pending.remove(&(
                std::cmp::Reverse(st.services[s].priority),
                status.queued_since,
                j,
            ));
            status.phase = Phase::Completed;
            status.finished = Some(now);
            status.generation += 1;
            st.services[s].replicas.remove(&j);
        }
        Phase::Running | Phase::Stalled => {
            status.phase = Phase::Terminating;
            status.generation += 1;
            let generation = status.generation;
            st.services[s].runtime.replica_removed(j, now, true);
            st.queue.push(
                now.saturating_add(st.config.termination_grace),
                Event::ReplicaDeleted { job: j, generation },
            )?;
        }
        // Terminating (evicted) or in backoff: the pod is gone already; do not replace it.
        _ => {
            status.phase = Phase::Completed;
            status.generation += 1;
            unbind_all(world, st, j, now);
            st.services[s].replicas.remove(&j);
        }
    }
    Ok(())
}

/// A deleted replica's grace period is over: it releases its resources.
pub(crate) fn replica_deleted(
    world: &mut World,
    st: &mut SimState,
    j: u32,
    generation: u32,
    now: SimTime,
) -> Result<(), SimError> {
    let e = st.jobs[j as usize];
    let Some(mut status) = world.get_mut::<JobStatus>(e) else {
        return Ok(());
    };
    if status.generation != generation || status.phase != Phase::Terminating {
        return Ok(());
    }
    status.phase = Phase::Completed;
    status.finished = Some(now);
    status.generation += 1;
    unbind_all(world, st, j, now);
    if let Some(s) = service_of(world, st, j) {
        // Whatever it still held when the grace period ran out is lost.
        st.services[s].runtime.replica_removed(j, now, false);
        st.services[s].replicas.remove(&j);
    }
    st.cluster_changes += 1;
    mark_dirty(st, now)
}

/// The service a job's pod belongs to, for replica pods.
pub(crate) fn service_of(world: &World, st: &SimState, j: u32) -> Option<usize> {
    world
        .get::<Job>(st.jobs[j as usize])
        .and_then(|jb| jb.service)
        .map(usize::from)
}

/// A replica pod was bound (all of it: it is a one-pod job): its containers start.
pub(crate) fn replica_bound(
    st: &mut SimState,
    s: usize,
    j: u32,
    generation: u32,
    now: SimTime,
) -> Result<(), SimError> {
    let svc = &mut st.services[s];
    let pull = dist::sample(&svc.image_pull, &mut svc.rng);
    let load = dist::sample(&svc.model_load, &mut svc.rng);
    let startup = SimDuration(pull.0.saturating_add(load.0));
    if let Some(r) = svc.replicas.get_mut(&j) {
        r.bound_at = Some(now);
        r.ready_at = None;
    }
    st.queue.push(
        now.saturating_add(startup),
        Event::ReplicaReady { job: j, generation },
    )?;
    Ok(())
}

/// A replica finished starting up: it is Ready and joins the load balancer.
pub(crate) fn replica_ready(
    world: &mut World,
    st: &mut SimState,
    j: u32,
    generation: u32,
    now: SimTime,
) {
    let ok = world
        .get::<JobStatus>(st.jobs[j as usize])
        .is_some_and(|s| s.generation == generation && s.phase == Phase::Running);
    let Some(s) = service_of(world, st, j) else {
        return;
    };
    if !ok {
        return;
    }
    let svc = &mut st.services[s];
    if let Some(r) = svc.replicas.get_mut(&j) {
        r.ready_at = Some(now);
        if let Some(b) = r.bound_at {
            svc.cold_starts_us.push(now.since(b).0);
        }
    }
    svc.runtime.replica_ready(j, now);
}

/// A replica pod stopped serving without being deleted (its node died, it was evicted or
/// preempted): it leaves the load balancer; `graceful` when it drains its requests.
pub(crate) fn replica_lost(st: &mut SimState, s: usize, j: u32, now: SimTime, graceful: bool) {
    let svc = &mut st.services[s];
    if let Some(r) = svc.replicas.get_mut(&j) {
        r.ready_at = None;
        r.bound_at = None;
    }
    svc.runtime.replica_removed(j, now, graceful);
}

/// A metrics scrape: records each Ready replica's counters.
pub(crate) fn scrape(st: &mut SimState, s: usize, now: SimTime) -> Result<(), SimError> {
    let svc = &mut st.services[s];
    let Some(a) = &svc.autoscaling else {
        return Ok(());
    };
    let interval = a.scrape_interval;
    let keep = a.metric_lag.0 / interval.0.max(1) + 3;
    let mut replicas = BTreeMap::new();
    for (&j, r) in &svc.replicas {
        if r.ready_at.is_some()
            && let Some(c) = svc.runtime.replica_counters(j)
        {
            replicas.insert(j, c);
        }
    }
    let arrived = svc.runtime.counters().arrived;
    svc.scrapes.push_back(Scrape {
        at: now,
        replicas,
        arrived,
    });
    while svc.scrapes.len() as u64 > keep {
        svc.scrapes.pop_front();
    }
    let at = now.saturating_add(interval);
    if at <= st.config.end {
        st.queue
            .push(at, Event::MetricsScrape { service: s as u32 })?;
    }
    Ok(())
}

/// An HPA sync: builds the HPA's view of the pods and metrics, runs the core's reconcile and
/// applies the new replica count.
pub(crate) fn hpa_sync(
    world: &mut World,
    st: &mut SimState,
    s: usize,
    now: SimTime,
) -> Result<(), SimError> {
    let Some(a) = st.services[s].autoscaling.clone() else {
        return Ok(());
    };
    let svc = &st.services[s];
    // The newest scrape the HPA can see, and the one before it (the rate window).
    let visible: Vec<&Scrape> = svc
        .scrapes
        .iter()
        .filter(|x| x.at.saturating_add(a.metric_lag) <= now)
        .collect();
    let (last, prev) = match visible.as_slice() {
        [.., p, l] => (Some(*l), Some(*p)),
        [l] => (Some(*l), None),
        [] => (None, None),
    };
    let mut pods = Vec::new();
    for (&j, r) in &svc.replicas {
        if r.deleting {
            continue;
        }
        let samples: Vec<Option<MetricSample>> = a
            .hpa
            .metrics
            .iter()
            .map(|m| pod_sample(m, j, last, prev))
            .collect();
        pods.push(HpaPod {
            phase: if r.bound_at.is_some() {
                PodPhase::Running
            } else {
                PodPhase::Pending
            },
            deleting: false,
            ready: r.bound_at.map(|_| r.ready_at.is_some()),
            start_time: r.bound_at,
            last_ready_transition: r.ready_at.or(r.bound_at).unwrap_or(r.created),
            samples,
            requests: vec![(METRIC_GPU.to_string(), 1.0), (CPU.to_string(), 1.0)],
        });
    }
    let object_values: Vec<Option<f64>> = a
        .hpa
        .metrics
        .iter()
        .map(|m| match (m, last, prev) {
            (MetricSpec::External { name, .. }, Some(l), Some(p)) if name == METRIC_TOTAL_RPS => {
                let dt = l.at.since(p.at).as_secs_f64();
                (dt > 0.0).then(|| l.arrived.saturating_sub(p.arrived) as f64 / dt)
            }
            _ => None,
        })
        .collect();
    let current = svc.desired;
    let status_replicas = svc.replica_count();
    let input = HpaInput {
        now,
        spec_replicas: current,
        status_replicas,
        pods: &pods,
        object_values: &object_values,
    };
    let svc = &mut st.services[s];
    let decision = svc.hpa.reconcile(&a.hpa, &input);
    if decision.write && decision.desired_replicas != current {
        svc.desired = decision.desired_replicas;
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
        let reason = format!("{} ({})", decision.reason, metrics.join(", "));
        let d = ScaleDecision {
            time_s: now.as_secs_f64(),
            actor: "hpa".into(),
            target: svc.name.clone(),
            from: current,
            to: decision.desired_replicas,
            reason,
        };
        st.decisions.push(d);
        reconcile(world, st, s, now)?;
    }
    let at = now.saturating_add(a.hpa.sync_period);
    if at <= st.config.end {
        st.queue.push(at, Event::HpaSync { service: s as u32 })?;
    }
    Ok(())
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

/// Records a time-series point of every service, aligned with the engine's sample just taken
/// (when that sample replaced one at the same instant, the point is updated in place).
pub(crate) fn sample(st: &mut SimState, now: SimTime) {
    let rows = st.metrics.samples.len();
    for svc in &mut st.services {
        svc.account(now);
        let (desired, replicas, ready) = (svc.desired, svc.replica_count(), svc.ready_count());
        if svc.series.len() >= rows
            && let Some(last) = svc.series.last_mut()
        {
            last.desired = desired;
            last.replicas = replicas;
            last.ready = ready;
            continue;
        }
        let stats = svc.runtime.take_interval_stats();
        svc.series.push(ServicePoint {
            desired,
            replicas,
            ready,
            stats,
        });
    }
}

/// Drops every other point, as [`crate::metrics::Metrics::thin_if_full`] does to the samples.
pub(crate) fn thin(st: &mut SimState) {
    for svc in &mut st.services {
        let mut i = 0usize;
        svc.series.retain(|_| {
            i += 1;
            (i - 1).is_multiple_of(2)
        });
    }
}
