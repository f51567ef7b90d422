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

use std::collections::BTreeMap;
use std::path::Path;

use bevy_ecs::prelude::World;
use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::Scenario;
use rand_pcg::Pcg64;
use sha2::Digest;

use super::{Event, Phase, SimState, enqueue, mark_dirty, unbind_all};
use crate::SimError;
use crate::model::{Job, JobName, JobStatus, SpecId};
use crate::rng::stream;
use crate::service_autoscaling::{ReplicaView, ServiceHpa, draw_cold_start};
use crate::serving::ServiceRuntime;

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
    hpa: Option<ServiceHpa>,
    spec: SpecId,
    priority: i32,
    gpu_milli: u64,
    slo: drydock_scenarios::SloSpec,
    startup: drydock_scenarios::serving::StartupSpec,
    /// Replica pods (job index → timeline), not deleted.
    replicas: BTreeMap<u32, Replica>,
    next_name: u32,
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
                hpa: s.autoscaling.clone().map(ServiceHpa::new),
                spec: specs[i],
                priority: s.priority,
                gpu_milli: gpu_milli[i],
                slo: s.slo,
                startup: s.startup.clone(),
                replicas: BTreeMap::new(),
                next_name: 0,
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
        if let Some(a) = st.services[s].hpa.as_ref().map(ServiceHpa::spec) {
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
    let startup = draw_cold_start(&svc.startup, &mut svc.rng);
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

/// A metrics scrape: records each Ready replica's counters
/// ([`ServiceHpa::scrape`]).
pub(crate) fn scrape(st: &mut SimState, s: usize, now: SimTime) -> Result<(), SimError> {
    let svc = &mut st.services[s];
    let Some(hpa) = &mut svc.hpa else {
        return Ok(());
    };
    let interval = hpa.spec().scrape_interval;
    let ready = svc
        .replicas
        .iter()
        .filter(|(_, r)| r.ready_at.is_some())
        .map(|(&j, _)| j);
    hpa.scrape(now, &svc.runtime, ready);
    let at = now.saturating_add(interval);
    if at <= st.config.end {
        st.queue
            .push(at, Event::MetricsScrape { service: s as u32 })?;
    }
    Ok(())
}

/// An HPA sync: the HPA's view of the replica pods and metrics, the core's reconcile
/// ([`ServiceHpa::sync`]), and the new replica count applied.
pub(crate) fn hpa_sync(
    world: &mut World,
    st: &mut SimState,
    s: usize,
    now: SimTime,
) -> Result<(), SimError> {
    let svc = &mut st.services[s];
    let Some(hpa) = &mut svc.hpa else {
        return Ok(());
    };
    let sync_period = hpa.spec().hpa.sync_period;
    let replicas: Vec<ReplicaView> = svc
        .replicas
        .iter()
        .filter(|(_, r)| !r.deleting)
        .map(|(&j, r)| ReplicaView {
            id: j,
            created: r.created,
            bound_at: r.bound_at,
            ready_at: r.ready_at,
        })
        .collect();
    if let Some(d) = hpa.sync(now, &svc.name, svc.desired, &replicas) {
        svc.desired = d.to;
        st.decisions.push(d);
        reconcile(world, st, s, now)?;
    }
    let at = now.saturating_add(sync_period);
    if at <= st.config.end {
        st.queue.push(at, Event::HpaSync { service: s as u32 })?;
    }
    Ok(())
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
