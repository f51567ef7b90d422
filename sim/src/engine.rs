//! The event loop and the handlers of each event kind.
//!
//! State lives in a bevy_ecs [`World`]: each job is an entity with a [`Job`], [`JobName`] and
//! [`JobStatus`] component; the cluster model, the scheduler, the event queue, the random
//! streams and the metrics live in the [`SimState`] resource. Each event is handled with
//! targeted world access (one resource scope, one or two entity lookups), which keeps the
//! per-event path cheap.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::path::Path;

use bevy_ecs::prelude::{Entity, Mut, Resource, World};
use drydock_core::cluster::{TAINT_UNREACHABLE, Taint, TaintEffect};
use drydock_core::frag::{TargetWorkload, cluster_fragmentation};
use drydock_core::{
    Cluster, GroupId, NodeId, PendingPod, PodId, PodSpec, Scheduler, SchedulerConfig, SimDuration,
    SimTime, VictimState,
};
use drydock_scenarios::{FailureTarget, GangMode, Scenario};
use rand_pcg::Pcg64;
use sha2::{Digest, Sha256};

use crate::SimError;
use crate::build::{Plan, plan};

pub mod fleet;
pub mod services;
use crate::dist;
use crate::metrics::Metrics;
use crate::model::{FailReason, FailureCause, Job, JobName, JobStatus, NodeHealth, Phase, SpecId};
use crate::progress::{progress_after, wall_time_for};
use crate::queue::EventQueue;
use crate::rng::stream;
use fleet::Fleet;
use services::ServiceState;

/// Hard cap on virtual time when a scenario sets no duration: 10 years.
pub const MAX_VIRTUAL_TIME: SimTime = SimTime(10 * 365 * 24 * 3600 * 1_000_000);

/// Failed-pod recreation backoff of the Job controller: 10 s doubling, capped at 10 min; the
/// first failure has no delay (kubernetes-semantics.md §6.2 \[2nd\]).
pub fn restart_backoff(restarts: u32) -> SimDuration {
    if restarts <= 1 {
        return SimDuration::ZERO;
    }
    let exp = (restarts - 2).min(16);
    SimDuration(SimDuration::from_secs(10).0.saturating_mul(1u64 << exp))
        .min(SimDuration::from_mins(10))
}

/// Everything that can happen, in virtual time. Events are past-tense facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A job was submitted.
    JobArrived(u32),
    /// A scheduling cycle is due.
    SchedulingCycleDue,
    /// A job's work finished (stale if `generation` moved on).
    JobFinished {
        /// Job index.
        job: u32,
        /// Job generation when scheduled.
        generation: u32,
    },
    /// A permit-wait gang's schedule timeout passed.
    GangTimedOut {
        /// Job index.
        job: u32,
        /// Job generation when scheduled.
        generation: u32,
    },
    /// A preempted job's pods finished terminating.
    PodsTerminated {
        /// Job index.
        job: u32,
        /// Job generation when scheduled.
        generation: u32,
    },
    /// A job's restart backoff passed; it goes back to the queue.
    BackoffExpired {
        /// Job index.
        job: u32,
        /// Job generation when scheduled.
        generation: u32,
    },
    /// A node crashed.
    NodeFailed {
        /// The node.
        node: NodeId,
        /// Why.
        cause: FailureCause,
        /// Repair time, if it gets repaired.
        repair: Option<SimDuration>,
    },
    /// The node lifecycle controller marked the node NotReady and tainted it.
    NodeMarkedNotReady {
        /// The node.
        node: NodeId,
        /// Node epoch when scheduled.
        epoch: u32,
    },
    /// `tolerationSeconds` passed: taint-based eviction of the node's pods.
    NodePodsEvicted {
        /// The node.
        node: NodeId,
        /// Node epoch when scheduled.
        epoch: u32,
    },
    /// The node was repaired and is Ready again.
    NodeRepaired {
        /// The node.
        node: NodeId,
        /// Node epoch when scheduled.
        epoch: u32,
    },
    /// The next random failure is due.
    RandomFailureDue,
    /// A time-series sample is due.
    SampleDue,
    /// The Cluster Autoscaler's loop is due.
    AutoscalerScan {
        /// Whether this loop keeps a run without a fixed duration going (pods are waiting
        /// that the autoscaler may still help); otherwise it counts as periodic.
        keeps_alive: bool,
    },
    /// A node requested by a scale-up registered (stale if the autoscaler gave up on it).
    NodeRegistered {
        /// Request id.
        id: u64,
    },
    /// A draining node's deletion is due.
    NodeDeleted {
        /// The node.
        node: NodeId,
    },
    /// A replica pod finished starting up (stale if `generation` moved on).
    ReplicaReady {
        /// Job index of the replica pod.
        job: u32,
        /// Job generation when scheduled.
        generation: u32,
    },
    /// A deleted replica pod's termination grace period is over.
    ReplicaDeleted {
        /// Job index of the replica pod.
        job: u32,
        /// Job generation when scheduled.
        generation: u32,
    },
    /// A service's metrics scrape is due.
    MetricsScrape {
        /// Service index.
        service: u32,
    },
    /// A service's HPA sync is due.
    HpaSync {
        /// Service index.
        service: u32,
    },
    /// The cloud interrupts a spot node (stale if the node's epoch moved on).
    SpotInterrupted {
        /// The node.
        node: NodeId,
        /// Node epoch when scheduled.
        epoch: u32,
    },
}

impl Event {
    fn code(&self) -> u8 {
        match self {
            Event::JobArrived(_) => 1,
            Event::SchedulingCycleDue => 2,
            Event::JobFinished { .. } => 3,
            Event::GangTimedOut { .. } => 4,
            Event::PodsTerminated { .. } => 5,
            Event::BackoffExpired { .. } => 6,
            Event::NodeFailed { .. } => 7,
            Event::NodeMarkedNotReady { .. } => 8,
            Event::NodePodsEvicted { .. } => 9,
            Event::NodeRepaired { .. } => 10,
            Event::RandomFailureDue => 11,
            Event::SampleDue => 12,
            Event::AutoscalerScan { .. } => 13,
            Event::NodeRegistered { .. } => 14,
            Event::NodeDeleted { .. } => 15,
            Event::SpotInterrupted { .. } => 16,
            Event::ReplicaReady { .. } => 17,
            Event::ReplicaDeleted { .. } => 18,
            Event::MetricsScrape { .. } => 19,
            Event::HpaSync { .. } => 20,
        }
    }

    fn ids(&self) -> (u64, u64) {
        match *self {
            Event::JobArrived(j) => (j as u64, 0),
            Event::JobFinished { job, generation }
            | Event::GangTimedOut { job, generation }
            | Event::PodsTerminated { job, generation }
            | Event::BackoffExpired { job, generation }
            | Event::ReplicaReady { job, generation }
            | Event::ReplicaDeleted { job, generation } => (job as u64, generation as u64),
            Event::MetricsScrape { service } | Event::HpaSync { service } => (service as u64, 0),
            Event::NodeFailed { node, .. } => (node.0 as u64, 0),
            Event::NodeMarkedNotReady { node, epoch }
            | Event::NodePodsEvicted { node, epoch }
            | Event::NodeRepaired { node, epoch }
            | Event::SpotInterrupted { node, epoch } => (node.0 as u64, epoch as u64),
            Event::NodeRegistered { id } => (id, 0),
            Event::NodeDeleted { node } => (node.0 as u64, 0),
            Event::AutoscalerScan { keeps_alive } => (keeps_alive as u64, 0),
            _ => (0, 0),
        }
    }
}

/// Settings the engine reads on every event.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Scheduling cycle period.
    pub cycle: SimDuration,
    /// Preemption enabled.
    pub preemption: bool,
    /// Grace period of evicted pods.
    pub termination_grace: SimDuration,
    /// Gang mode.
    pub gang_mode: GangMode,
    /// Gang schedule timeout (permit-wait).
    pub gang_timeout: SimDuration,
    /// `node-monitor-grace-period`.
    pub grace: SimDuration,
    /// `node-monitor-period`.
    pub monitor_period: SimDuration,
    /// `tolerationSeconds` for unreachable/not-ready.
    pub toleration: SimDuration,
    /// Stop time.
    pub end: SimTime,
    /// Time-series sample interval.
    pub sample_interval: SimDuration,
    /// The scenario sets a duration: run until it even when no work is left.
    pub fixed_duration: bool,
}

/// Random failure model, resolved to rates.
#[derive(Debug, Clone)]
pub struct RandomFailureModel {
    /// Per-node rate (failures per second) including its GPUs.
    pub cumulative: Vec<f64>,
    /// Per-node share of that rate due to GPUs.
    pub gpu_share: Vec<f64>,
    /// Total rate.
    pub total_rate: f64,
    /// Repair distribution.
    pub repair: drydock_scenarios::DurationDist,
}

/// Random node and GPU failures (`spec.failures.random`): one Poisson process over the
/// cluster's initial nodes, each node's rate its node rate (1 / `nodeMTBF`) plus its GPUs'
/// (GPUs × 1 / `gpuMTBF`), thinned (a failure drawn for a node already down is dropped),
/// repairs drawn from `repairTime`. Draws come from the run's `failures` and `repair` streams,
/// so the simulator and the real-cluster driver inject the same failures from the same seed.
#[derive(Debug, Clone)]
pub struct RandomFailures {
    model: RandomFailureModel,
    rng_failures: Pcg64,
    rng_repair: Pcg64,
}

/// One random failure ([`RandomFailures::fire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomFailure {
    /// The node that fails.
    pub node: NodeId,
    /// A node failure, or a GPU failure (the node is taken out with it).
    pub cause: FailureCause,
    /// Time until it is repaired.
    pub repair: SimDuration,
}

impl RandomFailures {
    /// The process of `scenario` over `cluster`'s nodes with `seed`'s streams, or `None` when
    /// the scenario has no random failures (or all rates are zero).
    pub fn new(scenario: &Scenario, cluster: &Cluster, seed: u64) -> Option<RandomFailures> {
        let r = scenario.failures.random.as_ref()?;
        let node_rate = r
            .node_mtbf
            .map(|m| 1.0 / m.as_secs_f64().max(1e-9))
            .unwrap_or(0.0);
        let gpu_rate = r
            .gpu_mtbf
            .map(|m| 1.0 / m.as_secs_f64().max(1e-9))
            .unwrap_or(0.0);
        let n = cluster.nodes.len();
        let mut cumulative = Vec::with_capacity(n);
        let mut gpu_share = Vec::with_capacity(n);
        let mut total = 0.0;
        for node in &cluster.nodes {
            let g = gpu_rate * node.gpu_count() as f64;
            let rate = node_rate + g;
            total += rate;
            cumulative.push(total);
            gpu_share.push(if rate > 0.0 { g / rate } else { 0.0 });
        }
        (total > 0.0).then(|| RandomFailures {
            model: RandomFailureModel {
                cumulative,
                gpu_share,
                total_rate: total,
                repair: r.repair_time.clone(),
            },
            rng_failures: stream(seed, "failures"),
            rng_repair: stream(seed, "repair"),
        })
    }

    /// The resolved rates.
    pub fn model(&self) -> &RandomFailureModel {
        &self.model
    }

    /// The time of the next failure after `from` (an exponential gap at the total rate).
    pub fn next_after(&mut self, from: SimTime) -> SimTime {
        let dt = dist::exponential_secs(&mut self.rng_failures, 1.0 / self.model.total_rate);
        from.saturating_add(SimDuration::from_secs_f64(dt))
    }

    /// A failure is due: draws its node (by rate), cause and repair time. `None` when the
    /// node drawn is already down (`up(i)` false): thinning drops it. Call
    /// [`RandomFailures::next_after`] for the next one either way.
    pub fn fire(&mut self, up: impl Fn(usize) -> bool) -> Option<RandomFailure> {
        let m = &self.model;
        let x = drydock_core::rng::unit_f64(&mut self.rng_failures) * m.total_rate;
        let idx = m
            .cumulative
            .partition_point(|&c| c <= x)
            .min(m.cumulative.len() - 1);
        let gpu = drydock_core::rng::unit_f64(&mut self.rng_failures) < m.gpu_share[idx];
        let repair = dist::sample(&m.repair, &mut self.rng_repair);
        up(idx).then_some(RandomFailure {
            node: NodeId(idx as u32),
            cause: if gpu {
                FailureCause::Gpu
            } else {
                FailureCause::Node
            },
            repair,
        })
    }
}

/// The world resource holding [`SimState`], boxed so that taking it out of the world for an
/// event (a resource scope) moves one pointer, not the whole state.
#[derive(Resource)]
pub struct SimBox(pub Box<SimState>);

/// The simulation's state outside the job entities.
pub struct SimState {
    /// Settings.
    pub config: EngineConfig,
    /// The cluster model (shared with the decision core).
    pub cluster: Cluster,
    /// Node health, index = node id.
    pub health: Vec<NodeHealth>,
    /// Zone of each node.
    pub zones: Vec<Option<String>>,
    /// Distinct pod specs.
    pub specs: Vec<PodSpec>,
    /// The scheduler (decision core).
    pub scheduler: Scheduler,
    /// Event queue.
    pub queue: EventQueue<Event>,
    /// Scheduler's random stream (tie-breaks, Random policy).
    pub rng_scheduler: Pcg64,
    /// Job entities, index = job index.
    pub jobs: Vec<Entity>,
    /// Scheduling queue: (priority desc, queued time, job index).
    pub pending: BTreeSet<(Reverse<i32>, SimTime, u32)>,
    /// Whether a scheduling cycle is already queued.
    pub cycle_queued: bool,
    /// Random failures.
    pub random_failures: Option<RandomFailures>,
    /// Metrics.
    pub metrics: Metrics,
    /// Running hash of the event log (every event and every bind decision).
    pub log_hash: Sha256,
    /// Events processed.
    pub events: u64,
    /// Jobs that arrived so far.
    pub arrived: u64,
    /// Jobs in arrival order (time, then job index).
    pub arrival_order: Vec<(SimTime, u32)>,
    /// Index into `arrival_order` of the next job to arrive.
    pub next_arrival: usize,
    /// Some jobs get a single scheduling attempt (an arrivals-only trace).
    pub arrivals_only: bool,
    /// Problems found when building the run that do not stop it (for example jobs that no node
    /// can ever hold), for the front end to show.
    pub warnings: Vec<String>,
    /// Count of events that may let a waiting gang fit: resources released by finished,
    /// evicted or preempted jobs, nodes repaired.
    pub cluster_changes: u64,
    /// Count of permit-wait holds released on timeout.
    pub hold_releases: u64,
    /// Periodic events (samples, random failures) in the queue: when only those are left and
    /// the scenario sets no duration, nothing can change any more and the run ends.
    pub periodic_queued: u64,
    /// Number of bound pods per priority (for the preemption pre-check).
    pub bound_by_priority: std::collections::BTreeMap<i32, u64>,
    /// Node provisioning, the Cluster Autoscaler and spot interruptions; `None` when nodes
    /// never come and go.
    pub fleet: Option<Box<Fleet>>,
    /// Inference services, in scenario order.
    pub services: Vec<ServiceState>,
    /// Every scale decision (HPA, Cluster Autoscaler, cloud), in time order.
    pub decisions: Vec<fleet::ScaleDecision>,
}

/// Apply the seed and build a world.
pub(crate) fn build_world(
    scenario: &Scenario,
    data_dir: Option<&Path>,
    seed: u64,
) -> Result<World, SimError> {
    let Plan {
        cluster,
        zones,
        specs,
        jobs,
        service_specs,
    } = plan(scenario, data_dir, seed)?;
    let s = &scenario.scheduler;
    let mut sched_config = SchedulerConfig::for_policy(s.policy);
    sched_config.tie_break = s.tie_break;
    sched_config.percentage_of_nodes_to_score = s.percentage_of_nodes_to_score;
    sched_config.weights = s.weights;
    let workload = TargetWorkload::from_pods(
        jobs.iter().flat_map(|j| {
            let spec = &specs[j.spec.0 as usize];
            let last = &specs[j.last_spec.0 as usize];
            (0..j.workers).map(move |w| if w + 1 == j.workers { last } else { spec })
        }),
        s.popularity_threshold,
    );
    let scheduler = Scheduler::new(sched_config, workload);
    let end = scenario
        .duration
        .map(|d| SimTime(d.0))
        .unwrap_or(MAX_VIRTUAL_TIME)
        .min(MAX_VIRTUAL_TIME);
    let config = EngineConfig {
        cycle: if s.cycle.0 == 0 {
            SimDuration(1)
        } else {
            s.cycle
        },
        preemption: s.preemption,
        termination_grace: s.termination_grace_period,
        gang_mode: s.gang_mode,
        gang_timeout: s.gang_schedule_timeout,
        grace: scenario.node_lifecycle.node_monitor_grace_period,
        monitor_period: scenario.node_lifecycle.node_monitor_period,
        toleration: scenario.node_lifecycle.toleration_seconds,
        end,
        fixed_duration: scenario.duration.is_some(),
        sample_interval: if scenario.sample_interval.0 == 0 {
            SimDuration::from_mins(5)
        } else {
            scenario.sample_interval
        },
    };
    let n = cluster.nodes.len();
    let health = vec![
        NodeHealth {
            up: true,
            not_ready: false,
            epoch: 0,
            down_since: None
        };
        n
    ];
    let mut random_failures = RandomFailures::new(scenario, &cluster, seed);
    let metrics = Metrics::new(&cluster);

    let arrivals_only = jobs.iter().any(|j| j.one_attempt);
    let fleet = Fleet::new(scenario, &cluster, seed).map(Box::new);
    let growth = fleet
        .as_ref()
        .map(|f| f.growth(&cluster))
        .unwrap_or_default();
    let mut warnings = never_schedulable(&cluster, &growth, &specs, &jobs);
    // A service whose replicas fit nowhere is an input error, said before the run.
    for (svc, &sid) in scenario.services.iter().zip(&service_specs) {
        let spec = &specs[sid.0 as usize];
        let templates = growth.iter().filter(|(_, k)| *k > 0).map(|(n, _)| n);
        let mut first = None;
        let fits = cluster
            .nodes
            .iter()
            .chain(templates)
            .any(|n| match n.filter(spec) {
                Ok(()) => true,
                Err(r) => {
                    first.get_or_insert(r);
                    false
                }
            });
        if !fits {
            return Err(SimError::Input(format!(
                "service `{}` can never run: no node of any pool can hold a replica ({} cpu, {} MiB, {} GPU){}; give it a pool it fits (GPU model, node selector, taints) or raise a pool's maxNodes",
                svc.name,
                spec.request.cpu_milli as f64 / 1000.0,
                spec.request.memory_mib,
                spec.request.gpu.count,
                first
                    .map(|r| format!(": {}", r.message()))
                    .unwrap_or_default()
            )));
        }
    }
    warnings.dedup();
    let service_gpu: Vec<u64> = service_specs
        .iter()
        .map(|s| specs[s.0 as usize].request.gpu.total_milli())
        .collect();
    let services = services::build(scenario, &service_specs, &service_gpu, data_dir, seed)?;
    let mut world = World::new();
    let mut job_entities = Vec::with_capacity(jobs.len());
    let mut arrival_order: Vec<(SimTime, u32)> = Vec::with_capacity(jobs.len());
    let mut queue = EventQueue::new();
    for (i, j) in jobs.into_iter().enumerate() {
        let spec = &specs[j.spec.0 as usize];
        let last = &specs[j.last_spec.0 as usize];
        let gpu_milli = spec.request.gpu.total_milli() * (j.workers as u64 - 1)
            + last.request.gpu.total_milli();
        let job = Job {
            index: i as u32,
            arrival: j.arrival,
            workers: j.workers,
            spec: j.spec,
            last_spec: j.last_spec,
            work: j.work,
            checkpoint: j.checkpoint,
            restart_overhead: j.restart_overhead,
            backoff_limit: j.backoff_limit,
            priority: j.priority,
            one_attempt: j.one_attempt,
            gpu_milli,
            service: None,
        };
        let e = world
            .spawn((job, JobName(j.name.into_boxed_str()), JobStatus::default()))
            .id();
        job_entities.push(e);
        arrival_order.push((j.arrival, i as u32));
    }
    // Arrivals are fed lazily, one pending event at a time, so the event queue stays small
    // even with millions of jobs. Jobs arriving at the same instant are handled by one event.
    arrival_order.sort_unstable();
    if let Some(&(at, j)) = arrival_order.first()
        && at <= end
    {
        queue
            .push(at, Event::JobArrived(j))
            .map_err(SimError::from)?;
    }
    // Scheduled failures, in file order.
    for f in &scenario.failures.scheduled {
        let (nodes, cause): (Vec<NodeId>, FailureCause) = match &f.target {
            FailureTarget::Node { name } => (
                find_nodes(&cluster, |n| &n.name == name),
                FailureCause::Node,
            ),
            FailureTarget::Gpu { node, .. } => {
                (find_nodes(&cluster, |n| &n.name == node), FailureCause::Gpu)
            }
            FailureTarget::Pool { name } => (
                find_nodes(&cluster, |n| cluster.pools[n.pool.0 as usize].name == *name),
                FailureCause::Pool,
            ),
            FailureTarget::Zone { name } => {
                let ids = (0..n)
                    .filter(|&i| zones[i].as_deref() == Some(name.as_str()))
                    .map(|i| NodeId(i as u32))
                    .collect();
                (ids, FailureCause::Zone)
            }
        };
        if nodes.is_empty() {
            return Err(SimError::Input(format!(
                "failure at {}: no node matches {:?}",
                SimDuration(f.at.0),
                f.target
            )));
        }
        for node in nodes {
            queue
                .push(
                    f.at,
                    Event::NodeFailed {
                        node,
                        cause,
                        repair: f.repair_after,
                    },
                )
                .map_err(SimError::from)?;
        }
    }
    let mut periodic_queued = 1; // the first sample
    if let (Some(process), Some(r)) = (random_failures.as_mut(), &scenario.failures.random) {
        let at = process.next_after(r.start);
        if at <= end {
            queue
                .push(at, Event::RandomFailureDue)
                .map_err(SimError::from)?;
            periodic_queued += 1;
        }
    }
    queue
        .push(SimTime::ZERO, Event::SampleDue)
        .map_err(SimError::from)?;

    let mut log_hash = Sha256::new();
    log_hash.update(b"drydock-event-log v1\n");
    log_hash.update(seed.to_le_bytes());
    world.insert_resource(SimBox(Box::new(SimState {
        config,
        cluster,
        health,
        zones,
        specs,
        scheduler,
        queue,
        rng_scheduler: stream(seed, "scheduler"),
        jobs: job_entities,
        pending: BTreeSet::new(),
        cycle_queued: false,
        random_failures,
        metrics,
        log_hash,
        events: 0,
        arrived: 0,
        arrival_order,
        next_arrival: 0,
        bound_by_priority: Default::default(),
        periodic_queued,
        arrivals_only,
        warnings,
        cluster_changes: 0,
        hold_releases: 0,
        fleet,
        services,
        decisions: Vec::new(),
    })));
    world.resource_scope(|world, mut st: Mut<SimBox>| {
        let st = &mut *st.0;
        services::start(world, st)?;
        fleet::schedule_initial_spot(st)?;
        if st.fleet.as_deref().is_some_and(Fleet::autoscales) {
            fleet::queue_scan(st, SimTime::ZERO)?;
        }
        Ok::<(), SimError>(())
    })?;
    Ok(world)
}

/// Jobs that can never be scheduled on this cluster even when it is empty and healthy: a pod
/// that no node passes the filters for, or a gang asking for more GPUs than the cluster has.
/// One message per distinct cause, with the number of jobs affected.
fn never_schedulable(
    cluster: &Cluster,
    growth: &[(drydock_core::Node, u32)],
    specs: &[PodSpec],
    jobs: &[crate::build::JobPlan],
) -> Vec<String> {
    let mut unfit_spec: Vec<Option<Option<drydock_core::Unfit>>> = vec![None; specs.len()];
    let mut check = |id: SpecId| -> Option<drydock_core::Unfit> {
        *unfit_spec[id.0 as usize].get_or_insert_with(|| {
            let spec = &specs[id.0 as usize];
            let mut first = None;
            let templates = growth.iter().filter(|(_, k)| *k > 0).map(|(n, _)| n);
            for n in cluster.nodes.iter().chain(templates) {
                match n.filter(spec) {
                    Ok(()) => return None,
                    Err(r) => {
                        first.get_or_insert(r);
                    }
                }
            }
            Some(first.unwrap_or(drydock_core::Unfit::Gpu))
        })
    };
    let capacity = cluster.gpu_capacity_milli()
        + growth
            .iter()
            .map(|(n, k)| n.gpu_capacity_milli() * u64::from(*k))
            .sum::<u64>();
    let mut by_cause: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for j in jobs {
        let spec = &specs[j.spec.0 as usize];
        let last = &specs[j.last_spec.0 as usize];
        let demand = spec.request.gpu.total_milli() * (j.workers as u64 - 1)
            + last.request.gpu.total_milli();
        let cause = if let Some(r) = check(j.spec).or_else(|| check(j.last_spec)) {
            if cluster.nodes.is_empty() && growth.iter().all(|(_, k)| *k == 0) {
                Some("the cluster has no nodes".to_string())
            } else {
                Some(format!(
                    "no node can hold their pods ({} cpu, {} MiB, {} GPU x {} milli): {}",
                    spec.request.cpu_milli as f64 / 1000.0,
                    spec.request.memory_mib,
                    spec.request.gpu.count,
                    spec.request.gpu.milli,
                    r.message()
                ))
            }
        } else if demand > capacity {
            Some(format!(
                "their gangs need {} GPUs but the cluster has {}",
                demand as f64 / 1000.0,
                capacity as f64 / 1000.0
            ))
        } else {
            None
        };
        if let Some(c) = cause {
            *by_cause.entry(c).or_default() += 1;
        }
    }
    by_cause
        .into_iter()
        .map(|(cause, n)| {
            format!(
                "{n} job{} can never be scheduled: {cause}",
                if n == 1 { "" } else { "s" }
            )
        })
        .collect()
}

fn find_nodes(cluster: &Cluster, f: impl Fn(&drydock_core::Node) -> bool) -> Vec<NodeId> {
    cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| f(n))
        .map(|(i, _)| NodeId(i as u32))
        .collect()
}

/// The simulation state of `world`, if it holds one.
pub fn state(world: &World) -> Option<&SimState> {
    world.get_resource::<SimBox>().map(|b| &*b.0)
}

/// The jobs with a pod bound to `node`, each once, in job order.
fn jobs_on(cluster: &Cluster, node: NodeId) -> Vec<u32> {
    let mut jobs: Vec<u32> = cluster
        .node(node)
        .map(|n| n.pods.iter().map(|b| job_of(b.pod)).collect())
        .unwrap_or_default();
    jobs.sort_unstable();
    jobs.dedup();
    jobs
}

/// Pod id of worker `w` of job `j`: the job index in the high bits.
pub fn pod_id(job: u32, worker: u32) -> PodId {
    PodId(((job as u64) << 16) | worker as u64)
}

/// Job index of a pod id made by [`pod_id`].
pub fn job_of(pod: PodId) -> u32 {
    (pod.0 >> 16) as u32
}

/// Processes the next event. Returns its time, or `None` when the run is over.
pub(crate) fn step(world: &mut World) -> Result<Option<SimTime>, SimError> {
    step_until(world, 1, SimTime::MAX).map(|(_, t)| t)
}

/// Processes up to `max_events` events, stopping before any event later than `until`, inside
/// one resource scope (taking the state out of the world once per batch, not per event).
/// Returns the number processed and the time of the last one, or `None` as the time when the
/// run is over.
pub(crate) fn step_until(
    world: &mut World,
    max_events: u64,
    until: SimTime,
) -> Result<(u64, Option<SimTime>), SimError> {
    world.resource_scope(|world, mut st: Mut<SimBox>| {
        let st = &mut *st.0;
        let mut done = 0u64;
        let mut last = st.queue.now();
        while done < max_events {
            let Some(next) = st.queue.peek_time() else {
                return Ok((done, None));
            };
            if next > st.config.end
                || (!st.config.fixed_duration && st.queue.len() as u64 == st.periodic_queued)
            {
                return Ok((done, None));
            }
            if next > until {
                break;
            }
            let Some((now, ev)) = st.queue.pop() else {
                return Ok((done, None));
            };
            if matches!(
                ev,
                Event::SampleDue
                    | Event::RandomFailureDue
                    | Event::SpotInterrupted { .. }
                    | Event::AutoscalerScan { keeps_alive: false }
            ) {
                st.periodic_queued = st.periodic_queued.saturating_sub(1);
            }
            st.events += 1;
            if !st.services.is_empty() {
                services::advance(st, now);
            }
            tracing::trace!(sim_time_us = now.0, event = ?ev, "event");
            let (a, b) = ev.ids();
            st.log_hash.update(now.0.to_le_bytes());
            st.log_hash.update([ev.code()]);
            st.log_hash.update(a.to_le_bytes());
            st.log_hash.update(b.to_le_bytes());
            handle(world, st, now, ev)?;
            done += 1;
            last = now;
        }
        Ok((done, Some(last)))
    })
}

fn handle(world: &mut World, st: &mut SimState, now: SimTime, ev: Event) -> Result<(), SimError> {
    match ev {
        Event::JobArrived(_) => {
            // Every job arriving now, in job order; then schedule the next arrival.
            while let Some(&(at, j)) = st.arrival_order.get(st.next_arrival) {
                if at > now {
                    if at <= st.config.end {
                        st.queue.push(at, Event::JobArrived(j))?;
                    }
                    break;
                }
                st.next_arrival += 1;
                st.arrived += 1;
                let job = job(world, st, j);
                st.metrics.arrived_gpu_milli += job.gpu_milli;
                enqueue(world, st, j, now);
            }
            mark_dirty(st, now)?;
        }
        Event::SchedulingCycleDue => {
            st.cycle_queued = false;
            scheduling_cycle(world, st, now)?;
        }
        Event::JobFinished { job: j, generation } => {
            let e = st.jobs[j as usize];
            let Some(s) = world.get::<JobStatus>(e) else {
                return Ok(());
            };
            if s.generation != generation || s.phase != Phase::Running {
                return Ok(());
            }
            let job = job(world, st, j);
            unbind_all(world, st, j, now);
            st.cluster_changes += 1;
            if let Some(mut s) = world.get_mut::<JobStatus>(e) {
                s.phase = Phase::Completed;
                s.finished = Some(now);
                s.generation += 1;
                st.metrics.job_completed(&job, &s, now);
            }
            mark_dirty(st, now)?;
        }
        Event::GangTimedOut { job: j, generation } => {
            let e = st.jobs[j as usize];
            let Some(s) = world.get::<JobStatus>(e) else {
                return Ok(());
            };
            if s.generation != generation || s.phase != Phase::Holding {
                return Ok(());
            }
            let unchanged = s.hold_mark == (st.cluster_changes, st.hold_releases);
            unbind_all(world, st, j, now);
            st.hold_releases += 1;
            if let Some(mut s) = world.get_mut::<JobStatus>(e) {
                s.phase = Phase::Pending;
                s.generation += 1;
                // Nothing else changed while it held: retrying now would hold and time out
                // again forever. Park it until the cluster changes.
                s.parked_at = unchanged.then_some(st.cluster_changes);
            }
            st.metrics.gang_timeouts += 1;
            mark_dirty(st, now)?;
        }
        Event::PodsTerminated { job: j, generation } => {
            let e = st.jobs[j as usize];
            let Some(s) = world.get::<JobStatus>(e) else {
                return Ok(());
            };
            if s.generation != generation || s.phase != Phase::Terminating {
                return Ok(());
            }
            let preemptor = s.preempted_by;
            unbind_all(world, st, j, now);
            st.cluster_changes += 1;
            if let Some(mut s) = world.get_mut::<JobStatus>(e) {
                s.preempted_by = None;
                s.generation += 1;
            }
            enqueue(world, st, j, now);
            if let Some(p) = preemptor
                && let Some(mut ps) = world.get_mut::<JobStatus>(st.jobs[p as usize])
            {
                ps.awaiting_victims = ps.awaiting_victims.saturating_sub(1);
            }
            mark_dirty(st, now)?;
        }
        Event::BackoffExpired { job: j, generation } => {
            let e = st.jobs[j as usize];
            let Some(s) = world.get::<JobStatus>(e) else {
                return Ok(());
            };
            if s.generation != generation || s.phase != Phase::Backoff {
                return Ok(());
            }
            enqueue(world, st, j, now);
            mark_dirty(st, now)?;
        }
        Event::NodeFailed {
            node,
            cause,
            repair,
        } => node_failed(world, st, now, node, cause, repair)?,
        Event::NodeMarkedNotReady { node, epoch } => {
            let h = &mut st.health[node.0 as usize];
            if h.epoch != epoch || h.up {
                return Ok(());
            }
            h.not_ready = true;
            let n = &mut st.cluster.nodes[node.0 as usize];
            for effect in [TaintEffect::NoSchedule, TaintEffect::NoExecute] {
                n.taints.push(Taint {
                    key: TAINT_UNREACHABLE.to_string(),
                    value: String::new(),
                    effect,
                });
            }
            st.queue.push(
                now.saturating_add(st.config.toleration),
                Event::NodePodsEvicted { node, epoch },
            )?;
        }
        Event::NodePodsEvicted { node, epoch } => {
            let h = st.health[node.0 as usize];
            if h.epoch != epoch || h.up {
                return Ok(());
            }
            let noexec = Taint {
                key: TAINT_UNREACHABLE.to_string(),
                value: String::new(),
                effect: TaintEffect::NoExecute,
            };
            let victims: Vec<u32> = jobs_on(&st.cluster, node)
                .into_iter()
                .filter(|&j| {
                    let spec = &st.specs[job(world, st, j).spec.0 as usize];
                    !spec.tolerations.iter().any(|t| t.tolerates(&noexec))
                })
                .collect();
            for j in victims {
                fail_and_restart(world, st, j, now)?;
            }
            mark_dirty(st, now)?;
        }
        Event::NodeRepaired { node, epoch } => node_repaired(world, st, now, node, epoch)?,
        Event::RandomFailureDue => {
            let Some(mut process) = st.random_failures.take() else {
                return Ok(());
            };
            let failure = process.fire(|i| st.health.get(i).is_some_and(|h| h.up));
            let at = process.next_after(now);
            st.random_failures = Some(process);
            if let Some(f) = failure {
                node_failed(world, st, now, f.node, f.cause, Some(f.repair))?;
            }
            if at <= st.config.end && (st.config.fixed_duration || has_work_left(st)) {
                st.queue.push(at, Event::RandomFailureDue)?;
                st.periodic_queued += 1;
            }
        }
        Event::AutoscalerScan { .. } => fleet::scan(world, st, now)?,
        Event::ReplicaReady { job, generation } => {
            services::replica_ready(world, st, job, generation, now)
        }
        Event::ReplicaDeleted { job, generation } => {
            services::replica_deleted(world, st, job, generation, now)?
        }
        Event::MetricsScrape { service } => services::scrape(st, service as usize, now)?,
        Event::HpaSync { service } => services::hpa_sync(world, st, service as usize, now)?,
        Event::NodeRegistered { id } => fleet::node_registered(st, id, now)?,
        Event::NodeDeleted { node } => fleet::node_deleted(world, st, node, now)?,
        Event::SpotInterrupted { node, epoch } => {
            fleet::spot_interrupted(world, st, node, epoch, now)?
        }
        Event::SampleDue => {
            sample(world, st, now);
            services::sample(st, now);
            if st.metrics.thin_if_full() {
                services::thin(st);
                st.config.sample_interval =
                    SimDuration(st.config.sample_interval.0.saturating_mul(2));
            }
            let at = now.saturating_add(st.config.sample_interval);
            if at <= st.config.end && (st.config.fixed_duration || has_work_left(st)) {
                st.queue.push(at, Event::SampleDue)?;
                st.periodic_queued += 1;
            }
        }
    }
    Ok(())
}

/// True while some event other than sampling and random failures is queued: the run goes on.
fn has_work_left(st: &SimState) -> bool {
    // Jobs not yet arrived, or jobs still in flight, keep the clock going.
    st.metrics.in_flight() > 0 || st.arrived < st.jobs.len() as u64
}

fn job(world: &World, st: &SimState, j: u32) -> Job {
    // Every job index comes from this state; a missing entity is impossible, so fall back to
    // a harmless default rather than panic.
    world
        .get::<Job>(st.jobs[j as usize])
        .copied()
        .unwrap_or(Job {
            index: j,
            arrival: SimTime::ZERO,
            workers: 0,
            spec: SpecId(0),
            last_spec: SpecId(0),
            work: None,
            checkpoint: None,
            restart_overhead: SimDuration::ZERO,
            backoff_limit: 0,
            priority: 0,
            one_attempt: false,
            gpu_milli: 0,
            service: None,
        })
}

fn enqueue(world: &mut World, st: &mut SimState, j: u32, now: SimTime) {
    let prio = job(world, st, j).priority;
    if let Some(mut s) = world.get_mut::<JobStatus>(st.jobs[j as usize]) {
        if s.phase == Phase::NotArrived {
            st.metrics.in_flight_jobs += 1;
        }
        if matches!(s.phase, Phase::Pending | Phase::Holding) {
            // Already queued: requeue at the back of its priority.
            st.pending.remove(&(Reverse(prio), s.queued_since, j));
        }
        s.phase = Phase::Pending;
        s.queued_since = now;
        st.pending.insert((Reverse(prio), now, j));
    }
}

fn mark_dirty(st: &mut SimState, now: SimTime) -> Result<(), SimError> {
    if st.cycle_queued {
        return Ok(());
    }
    let c = st.config.cycle.0;
    let at = SimTime(now.0.div_ceil(c).saturating_mul(c));
    st.queue.push(at, Event::SchedulingCycleDue)?;
    st.cycle_queued = true;
    Ok(())
}

fn spec_of(job: &Job, w: u32) -> SpecId {
    if w + 1 == job.workers {
        job.last_spec
    } else {
        job.spec
    }
}

fn record_bind(world: &mut World, st: &mut SimState, j: u32, b: drydock_core::Bind, now: SimTime) {
    st.log_hash.update([0xB1]);
    st.log_hash.update(b.pod.0.to_le_bytes());
    st.log_hash.update(b.node.0.to_le_bytes());
    st.log_hash.update(b.devices.0.to_le_bytes());
    let job = job(world, st, j);
    let spec = &st.specs[spec_of(&job, (b.pod.0 & 0xFFFF) as u32).0 as usize];
    st.metrics.pod_bound_at(now, spec.request.gpu.total_milli());
    *st.bound_by_priority.entry(job.priority).or_default() += 1;
    if let Some(mut s) = world.get_mut::<JobStatus>(st.jobs[j as usize]) {
        let w = (b.pod.0 & 0xFFFF) as usize;
        if s.bound.iter().all(|b| b.is_none()) && job.service.is_none() {
            st.metrics.bound_jobs += 1;
        }
        if s.bound.len() < job.workers as usize {
            s.bound.resize(job.workers as usize, None);
        }
        s.bound[w] = Some((b.node, b.devices));
    }
}

fn unbind_all(world: &mut World, st: &mut SimState, j: u32, now: SimTime) {
    let job = job(world, st, j);
    let Some(mut s) = world.get_mut::<JobStatus>(st.jobs[j as usize]) else {
        return;
    };
    let bound = std::mem::take(&mut s.bound);
    if bound.iter().any(|b| b.is_some()) && job.service.is_none() {
        st.metrics.bound_jobs = st.metrics.bound_jobs.saturating_sub(1);
    }
    for (w, slot) in bound.into_iter().enumerate() {
        if let Some((node, _)) = slot
            && let Ok(b) = st.cluster.unbind(node, pod_id(j, w as u32))
        {
            st.metrics.pod_unbound_at(now, b.request.gpu.total_milli());
            if let Some(c) = st.bound_by_priority.get_mut(&job.priority) {
                *c = c.saturating_sub(1);
            }
        }
    }
}

/// One scheduling cycle: every queued job in queue order (priority, then time queued), each
/// gang all-or-nothing; preemption for those that do not fit.
fn scheduling_cycle(world: &mut World, st: &mut SimState, now: SimTime) -> Result<(), SimError> {
    let queue: Vec<(Reverse<i32>, SimTime, u32)> = st.pending.iter().copied().collect();
    // Shapes that already failed this cycle: identical gangs will fail too.
    let mut failed_shapes: Vec<((SpecId, SpecId, u32), Option<drydock_core::Unfit>)> = Vec::new();
    let hold_partial = st.config.gang_mode == GangMode::PermitWait;
    // Nominated nodes of preemptors: lower-priority pods may not take them while the
    // preemptor waits for its victims (kube-scheduler's nominated-pod accounting,
    // kubernetes-semantics.md §4.4 [src]; drydock keeps the whole node for the preemptor).
    let mut reservations: Vec<(i32, NodeId)> = Vec::new();
    for &(Reverse(prio), _, j) in &queue {
        if let Some(s) = world.get::<JobStatus>(st.jobs[j as usize]) {
            reservations.extend(s.nominated.iter().map(|&n| (prio, n)));
        }
    }
    let mut cordoned: Vec<NodeId> = Vec::new();
    for key in queue {
        let j = key.2;
        let job = job(world, st, j);
        if !reservations.is_empty() {
            for n in cordoned.drain(..) {
                st.cluster.nodes[n.0 as usize].unschedulable = false;
            }
            for &(prio, n) in &reservations {
                let node = &mut st.cluster.nodes[n.0 as usize];
                if prio > job.priority && !node.unschedulable {
                    node.unschedulable = true;
                    cordoned.push(n);
                }
            }
        }
        let e = st.jobs[j as usize];
        let (phase, awaiting, last_reason) = match world.get::<JobStatus>(e) {
            Some(s) if s.parked_at == Some(st.cluster_changes) => continue,
            Some(s) => (s.phase, s.awaiting_victims, s.last_unschedulable),
            None => continue,
        };
        if !matches!(phase, Phase::Pending | Phase::Holding) {
            st.pending.remove(&key);
            continue;
        }
        let shape = (job.spec, job.last_spec, job.workers);
        if phase == Phase::Pending
            && !job.one_attempt
            && let Some(&(_, reason)) = failed_shapes.iter().find(|(s, _)| *s == shape)
        {
            // An identical gang just failed: this one would too, for the same reason.
            if last_reason != reason
                && let Some(mut s) = world.get_mut::<JobStatus>(e)
            {
                s.last_unschedulable = reason;
            }
            continue;
        }
        let bound: Vec<bool> = world
            .get::<JobStatus>(e)
            .map(|s| {
                (0..job.workers as usize)
                    .map(|w| s.bound.get(w).is_some_and(|b| b.is_some()))
                    .collect()
            })
            .unwrap_or_default();
        let specs = &st.specs;
        let pods: Vec<PendingPod<'_>> = (0..job.workers)
            .filter(|&w| !bound[w as usize])
            .map(|w| PendingPod {
                pod: pod_id(j, w),
                spec: &specs[spec_of(&job, w).0 as usize],
            })
            .collect();
        // PreFilter-style shortcut: a gang asking for more GPU than is free in the whole
        // cluster cannot fit, so skip scanning every node for it.
        let demand: u64 = pods.iter().map(|p| p.spec.request.gpu.total_milli()).sum();
        let free = st
            .metrics
            .capacity_milli
            .saturating_sub(st.metrics.alloc_milli);
        let result = if !hold_partial && demand > free {
            let nodes = st.cluster.nodes.len() as u32;
            Err((
                drydock_core::Unschedulable {
                    nodes,
                    reasons: [(drydock_core::Unfit::Gpu, nodes)].into_iter().collect(),
                    placed: 0,
                    gang_size: job.workers,
                },
                Vec::new(),
            ))
        } else {
            st.scheduler.place_gang(
                &mut st.cluster,
                GroupId(j),
                &pods,
                now.0,
                hold_partial,
                &mut st.rng_scheduler,
            )
        };
        drop(pods);
        match result {
            Ok(binds) => {
                st.pending.remove(&key);
                for b in binds {
                    record_bind(world, st, j, b, now);
                }
                start_job(world, st, j, now)?;
            }
            Err((u, held)) => {
                let newly_holding = !held.is_empty() && phase == Phase::Pending;
                for b in held {
                    record_bind(world, st, j, b, now);
                }
                if let Some(mut s) = world.get_mut::<JobStatus>(e) {
                    s.last_unschedulable = u.main_reason();
                }
                if job.one_attempt {
                    st.pending.remove(&key);
                    unbind_all(world, st, j, now);
                    if let Some(mut s) = world.get_mut::<JobStatus>(e) {
                        s.phase = Phase::Failed;
                        s.fail_reason = Some(FailReason::Unschedulable);
                        s.finished = Some(now);
                        st.metrics.job_failed(&job, &s);
                    }
                    continue;
                }
                if newly_holding {
                    if let Some(mut s) = world.get_mut::<JobStatus>(e) {
                        s.phase = Phase::Holding;
                        s.hold_mark = (st.cluster_changes, st.hold_releases);
                        s.parked_at = None;
                        s.generation += 1;
                        let generation = s.generation;
                        st.queue.push(
                            now.saturating_add(st.config.gang_timeout),
                            Event::GangTimedOut { job: j, generation },
                        )?;
                    }
                    continue;
                }
                if phase == Phase::Pending {
                    failed_shapes.push((shape, u.main_reason()));
                }
                if st.config.preemption && awaiting == 0 && phase == Phase::Pending {
                    let lower_bound = st
                        .bound_by_priority
                        .range(..job.priority)
                        .any(|(_, &c)| c > 0);
                    if lower_bound {
                        try_preempt(world, st, j, &job, now)?;
                    }
                }
            }
        }
    }
    for n in cordoned {
        st.cluster.nodes[n.0 as usize].unschedulable = false;
    }
    if let Some(bucket) = st.metrics.record_curve_point()
        && st.arrivals_only
    {
        // The fragmentation curve: once per whole percent of arrived GPU (at most ~131
        // computations in the FGD study's runs), over Ready nodes.
        let health = &st.health;
        let frag = cluster_fragmentation(&st.cluster, st.scheduler.workload(), |i, _| health[i].up);
        st.metrics.record_frag_point(bucket, frag.ratio());
    }
    Ok(())
}

fn try_preempt(
    world: &mut World,
    st: &mut SimState,
    j: u32,
    job: &Job,
    now: SimTime,
) -> Result<(), SimError> {
    let specs = &st.specs;
    let pods: Vec<PendingPod<'_>> = (0..job.workers)
        .map(|w| PendingPod {
            pod: pod_id(j, w),
            spec: &specs[spec_of(job, w).0 as usize],
        })
        .collect();
    let decision = st
        .scheduler
        .preempt(&mut st.cluster, GroupId(j), &pods, now.0);
    drop(pods);
    let Some(p) = decision else { return Ok(()) };
    // The same rule as the real-cluster driver's: only running gangs are evicted.
    let victim_jobs = p.gangs_to_evict(
        |pod| Some(GroupId(job_of(pod))),
        |g| {
            let phase = st
                .jobs
                .get(g.0 as usize)
                .and_then(|&e| world.get::<JobStatus>(e))
                .map(|s| s.phase);
            match phase {
                Some(Phase::Running) => VictimState::Running,
                Some(Phase::Stalled) => VictimState::Stalled,
                _ => VictimState::Other,
            }
        },
    );
    let mut count = 0;
    for GroupId(v) in victim_jobs {
        if evict(world, st, v, now, Eviction::Preemption { by: j })? {
            count += 1;
        }
    }
    if let Some(mut s) = world.get_mut::<JobStatus>(st.jobs[j as usize]) {
        s.awaiting_victims += count;
        s.nominated = p.nominated_nodes();
    }
    Ok(())
}

/// Why a job's pods are evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// Preempted by job `by` (DefaultPreemption).
    Preemption {
        /// The preemptor.
        by: u32,
    },
    /// Drained by the Cluster Autoscaler's scale-down.
    ScaleDown,
    /// Drained at a spot interruption notice.
    SpotInterruption,
}

/// Evicts job `v`'s pods: a running gang stops (work since its last checkpoint is lost), its
/// pods terminate during the termination grace period, then it goes back to the queue
/// (`PodsTerminated`). A permit-wait gang holding part of its pods releases them at once.
/// Returns true when the job started terminating.
pub(crate) fn evict(
    world: &mut World,
    st: &mut SimState,
    v: u32,
    now: SimTime,
    cause: Eviction,
) -> Result<bool, SimError> {
    let ve = st.jobs[v as usize];
    let vjob = self::job(world, st, v);
    let Some(mut s) = world.get_mut::<JobStatus>(ve) else {
        return Ok(false);
    };
    match s.phase {
        Phase::Running => {
            // Progress stops at the eviction; work since the last checkpoint is lost.
            let (lost, saved) = stop_progress(&vjob, &mut s, now);
            let gpu_us = lost as u128 * vjob.gpu_milli as u128 / 1000;
            if matches!(cause, Eviction::Preemption { .. }) {
                st.metrics.preemption_lost_gpu_us += gpu_us;
            } else {
                st.metrics.lost_work_gpu_us += gpu_us;
            }
            s.done = SimDuration(s.done.0 + saved);
        }
        Phase::Holding if !matches!(cause, Eviction::Preemption { .. }) => {
            unbind_all(world, st, v, now);
            st.cluster_changes += 1;
            if let Some(mut s) = world.get_mut::<JobStatus>(ve) {
                s.generation += 1;
            }
            enqueue(world, st, v, now);
            return Ok(false);
        }
        Phase::Terminating | Phase::Holding | Phase::Pending => return Ok(false),
        _ => {}
    }
    if matches!(s.phase, Phase::Stalled | Phase::Backoff) || s.phase.is_terminal() {
        return Ok(false);
    }
    s.phase = Phase::Terminating;
    s.preemptions += 1;
    s.generation += 1;
    let generation = s.generation;
    if let Some(svc) = vjob.service {
        services::replica_lost(st, usize::from(svc), v, now, true);
    }
    match cause {
        Eviction::Preemption { by } => {
            s.last_stop_preempted = true;
            s.preempted_by = Some(by);
            st.metrics.preemptions += 1;
        }
        Eviction::ScaleDown => {
            s.last_stop_preempted = false;
            st.metrics.scale_down_evictions += 1;
        }
        Eviction::SpotInterruption => {
            s.last_stop_preempted = false;
            st.metrics.spot_evictions += 1;
        }
    }
    st.log_hash.update([0xE1]);
    st.log_hash.update(v.to_le_bytes());
    st.queue.push(
        now.saturating_add(st.config.termination_grace),
        Event::PodsTerminated { job: v, generation },
    )?;
    Ok(true)
}

/// Stops progress of a running job at `now`: returns (lost work µs, newly saved work µs).
fn stop_progress(job: &Job, s: &mut JobStatus, now: SimTime) -> (u64, u64) {
    let Some(work) = job.work else { return (0, 0) };
    let remaining = SimDuration(work.0.saturating_sub(s.done.0));
    if now <= s.compute_start {
        return (0, 0);
    }
    let elapsed = now.since(s.compute_start);
    let (worked, saved) = progress_after(elapsed, remaining, job.checkpoint);
    (worked.0 - saved.0, saved.0)
}

fn start_job(world: &mut World, st: &mut SimState, j: u32, now: SimTime) -> Result<(), SimError> {
    let job = job(world, st, j);
    let e = st.jobs[j as usize];
    let Some(mut s) = world.get_mut::<JobStatus>(e) else {
        return Ok(());
    };
    s.generation += 1;
    s.bound_at = now;
    s.nominated.clear();
    if s.first_start.is_none() {
        s.first_start = Some(now);
        if job.service.is_none() {
            st.metrics.queueing_delay_us.push(now.since(job.arrival).0);
        }
    }
    // A pod bound to a node that is down (but not yet marked NotReady) never starts.
    let on_dead_node = s
        .bound
        .iter()
        .flatten()
        .any(|(n, _)| !st.health[n.0 as usize].up);
    if on_dead_node {
        s.phase = Phase::Stalled;
        s.stalled_at = Some(now);
        return Ok(());
    }
    let overhead = if s.restarts + s.preemptions > 0 {
        job.restart_overhead
    } else {
        SimDuration::ZERO
    };
    if overhead.0 > 0 {
        let gpu_us = overhead.0 as u128 * job.gpu_milli as u128 / 1000;
        if s.last_stop_preempted {
            st.metrics.preemption_overhead_gpu_us += gpu_us;
        } else {
            st.metrics.restart_overhead_gpu_us += gpu_us;
        }
    }
    s.phase = Phase::Running;
    s.compute_start = now.saturating_add(overhead);
    if let Some(svc) = job.service {
        let generation = s.generation;
        return services::replica_bound(st, usize::from(svc), j, generation, now);
    }
    if let Some(work) = job.work {
        let remaining = SimDuration(work.0.saturating_sub(s.done.0));
        let at = s
            .compute_start
            .saturating_add(wall_time_for(remaining, job.checkpoint));
        let generation = s.generation;
        st.queue
            .push(at, Event::JobFinished { job: j, generation })?;
    }
    Ok(())
}

fn node_failed(
    world: &mut World,
    st: &mut SimState,
    now: SimTime,
    node: NodeId,
    cause: FailureCause,
    repair: Option<SimDuration>,
) -> Result<(), SimError> {
    let i = node.0 as usize;
    if !st.health[i].up {
        return Ok(());
    }
    st.metrics.failure(cause);
    let h = &mut st.health[i];
    h.up = false;
    h.epoch += 1;
    h.down_since = Some(now);
    let epoch = h.epoch;
    for j in jobs_on(&st.cluster, node) {
        let jb = job(world, st, j);
        let e = st.jobs[j as usize];
        let Some(mut s) = world.get_mut::<JobStatus>(e) else {
            continue;
        };
        // Only running gangs stall. A permit-wait gang holding a pod on the dead node keeps
        // waiting (the scheduler does not know yet); its timeout or the node's eviction
        // releases it.
        if s.phase == Phase::Running {
            let (lost, saved) = stop_progress(&jb, &mut s, now);
            st.metrics.lost_work_gpu_us += lost as u128 * jb.gpu_milli as u128 / 1000;
            s.done = SimDuration(s.done.0 + saved);
            s.phase = Phase::Stalled;
            s.stalled_at = Some(now);
            s.generation += 1;
            if let Some(svc) = jb.service {
                // The server died with its node: what it held is lost.
                services::replica_lost(st, usize::from(svc), j, now, false);
            }
        }
    }
    // Detection: the first node-monitor tick at or after the grace period.
    let p = st.config.monitor_period.0.max(1);
    let detect = SimTime(
        now.saturating_add(st.config.grace)
            .0
            .div_ceil(p)
            .saturating_mul(p),
    );
    st.queue
        .push(detect, Event::NodeMarkedNotReady { node, epoch })?;
    if let Some(r) = repair {
        st.queue
            .push(now.saturating_add(r), Event::NodeRepaired { node, epoch })?;
    }
    Ok(())
}

/// A stalled job's pods were evicted (or it must restart): tear the gang down, count a
/// restart, and requeue after the controller's backoff, or fail past `backoffLimit`.
fn fail_and_restart(
    world: &mut World,
    st: &mut SimState,
    j: u32,
    now: SimTime,
) -> Result<(), SimError> {
    let jb = job(world, st, j);
    let e = st.jobs[j as usize];
    if let Some(svc) = jb.service {
        // A Deployment's pod: the ReplicaSet replaces it at once (no backoff, no limit).
        let live = world
            .get::<JobStatus>(e)
            .is_some_and(|s| matches!(s.phase, Phase::Stalled | Phase::Running | Phase::Holding));
        if !live {
            return Ok(());
        }
        services::replica_lost(st, usize::from(svc), j, now, false);
        unbind_all(world, st, j, now);
        st.cluster_changes += 1;
        if let Some(mut s) = world.get_mut::<JobStatus>(e) {
            s.generation += 1;
            s.stalled_at = None;
        }
        enqueue(world, st, j, now);
        return Ok(());
    }
    if world
        .get::<JobStatus>(e)
        .is_some_and(|s| s.phase == Phase::Holding)
    {
        // Held pods of an incomplete gang were evicted: nothing ran, so no restart is
        // counted; the gang goes back to the queue.
        unbind_all(world, st, j, now);
        st.cluster_changes += 1;
        if let Some(mut s) = world.get_mut::<JobStatus>(e) {
            s.generation += 1;
        }
        enqueue(world, st, j, now);
        return Ok(());
    }
    let stalled_at = match world.get::<JobStatus>(e) {
        Some(s) if matches!(s.phase, Phase::Stalled | Phase::Running | Phase::Holding) => {
            s.stalled_at.unwrap_or(now)
        }
        _ => return Ok(()),
    };
    // Running here means the node died before it started; treat as a restart from the
    // checkpoint too.
    if let Some(mut s) = world.get_mut::<JobStatus>(e)
        && s.phase == Phase::Running
    {
        let (lost, saved) = stop_progress(&jb, &mut s, now);
        st.metrics.lost_work_gpu_us += lost as u128 * jb.gpu_milli as u128 / 1000;
        s.done = SimDuration(s.done.0 + saved);
    }
    unbind_all(world, st, j, now);
    st.cluster_changes += 1;
    let Some(mut s) = world.get_mut::<JobStatus>(e) else {
        return Ok(());
    };
    s.generation += 1;
    if book_restart(&mut s, &mut st.metrics, &jb, stalled_at, now) {
        return Ok(());
    }
    let delay = restart_backoff(s.restarts);
    if delay.0 == 0 {
        enqueue(world, st, j, now);
    } else {
        s.phase = Phase::Backoff;
        let generation = s.generation;
        st.queue.push(
            now.saturating_add(delay),
            Event::BackoffExpired { job: j, generation },
        )?;
    }
    Ok(())
}

/// Books a restart after a failure: the GPUs the gang held idle since it stalled, one more
/// restart against `backoffLimit`, and, past the limit, the job's failure. Returns true when
/// the job failed.
fn book_restart(
    s: &mut JobStatus,
    metrics: &mut Metrics,
    jb: &Job,
    stalled_at: SimTime,
    now: SimTime,
) -> bool {
    metrics.idle_held_gpu_us += now.since(stalled_at).0 as u128 * jb.gpu_milli as u128 / 1000;
    s.stalled_at = None;
    s.restarts += 1;
    s.last_stop_preempted = false;
    metrics.restarts += 1;
    if s.restarts <= jb.backoff_limit {
        return false;
    }
    s.phase = Phase::Failed;
    s.fail_reason = Some(FailReason::BackoffLimitExceeded);
    s.finished = Some(now);
    metrics.job_failed(jb, s);
    true
}

fn node_repaired(
    world: &mut World,
    st: &mut SimState,
    now: SimTime,
    node: NodeId,
    epoch: u32,
) -> Result<(), SimError> {
    let i = node.0 as usize;
    let h = &mut st.health[i];
    if h.epoch != epoch || h.up {
        return Ok(());
    }
    h.up = true;
    h.not_ready = false;
    h.epoch += 1;
    h.down_since = None;
    st.cluster.nodes[i]
        .taints
        .retain(|t| t.key != TAINT_UNREACHABLE);
    st.cluster_changes += 1;
    // Stalled jobs whose pods were never evicted restart in place (the kubelet restarts the
    // containers; the gang re-rendezvouses from its checkpoint) once all their nodes are up.
    for j in jobs_on(&st.cluster, node) {
        let jb = job(world, st, j);
        let e = st.jobs[j as usize];
        let (stalled, all_up, stalled_at) = match world.get::<JobStatus>(e) {
            Some(s) => (
                s.phase == Phase::Stalled,
                s.bound
                    .iter()
                    .flatten()
                    .all(|(n, _)| st.health[n.0 as usize].up),
                s.stalled_at.unwrap_or(now),
            ),
            None => continue,
        };
        if !stalled || !all_up {
            continue;
        }
        let complete = world
            .get::<JobStatus>(e)
            .is_some_and(|s| s.bound.iter().flatten().count() == jb.workers as usize);
        if !complete {
            // A partial permit-wait hold: release and requeue.
            unbind_all(world, st, j, now);
            enqueue(world, st, j, now);
            continue;
        }
        if jb.service.is_some() {
            start_job(world, st, j, now)?;
            continue;
        }
        let failed = world
            .get_mut::<JobStatus>(e)
            .is_some_and(|mut s| book_restart(&mut s, &mut st.metrics, &jb, stalled_at, now));
        if failed {
            unbind_all(world, st, j, now);
            if let Some(mut s) = world.get_mut::<JobStatus>(e) {
                s.generation += 1;
            }
        } else {
            start_job(world, st, j, now)?;
        }
    }
    mark_dirty(st, now)
}

fn sample(world: &World, st: &mut SimState, now: SimTime) {
    let health = &st.health;
    let frag = cluster_fragmentation(&st.cluster, st.scheduler.workload(), |i, _| health[i].up);
    let mut pending_pods = 0u64;
    for &(_, _, j) in &st.pending {
        let job = job(world, st, j);
        let bound = world
            .get::<JobStatus>(st.jobs[j as usize])
            .map(|s| s.bound.iter().flatten().count() as u64)
            .unwrap_or(0);
        pending_pods += job.workers as u64 - bound;
    }
    let ready = st.health.iter().filter(|h| h.up).count() as u64;
    st.metrics
        .sample(now, frag, pending_pods, st.pending.len() as u64, ready);
}

/// Brings the books up to `now` at the end of the run.
pub(crate) fn finish(world: &mut World) -> Option<SimTime> {
    world.resource_scope(|world, mut st: Mut<SimBox>| {
        let st = &mut *st.0;
        // Work was left when the clock reached the end: the 10-year horizon (no duration set)
        // cut the run short.
        let work_left = st.queue.len() as u64 > st.periodic_queued;
        let now = if st.config.fixed_duration || work_left {
            st.config.end.max(st.queue.now())
        } else {
            st.queue.now()
        };
        st.metrics.horizon_reached = !st.config.fixed_duration && work_left;
        services::advance(st, now);
        sample(world, st, now);
        services::sample(st, now);
        st.metrics.close(now);
        Some(now)
    })
}
