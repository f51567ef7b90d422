//! The real-cluster driver, in the style of a kube-runtime controller: each tick it reads the
//! cluster as last observed ([`ClusterView`]: reflector stores), reconciles the training jobs
//! ([`Workload`]: arrivals, completions, failures, restarts), and every scheduling cycle builds
//! a [`Snapshot`] and runs **the same `drydock_core` scheduler** as the simulator on the pending
//! gangs, applying its decisions through an [`Actuator`] (bind, evict, delete).
//!
//! Decisions follow the simulator's scheduling cycle (`drydock_sim::engine`): gangs in queue
//! order (priority, then time queued, then job index), all or nothing
//! ([`Scheduler::place_gang`]); a gang identical to one that just failed is skipped; a gang
//! asking for more GPU than is free is not tried; unplaceable gangs may preempt
//! ([`Scheduler::preempt`], kubernetes-semantics.md §4.4 \[src\]) and keep their nominated nodes
//! from lower-priority gangs while victims terminate. Scheduled node failures kill the node's
//! kubelet at their time (Kubernetes then marks the node NotReady, taints it and evicts its
//! pods, §6.1 \[src\]); the gang restarts from its last checkpoint when a pod of it dies.
//!
//! The simulator releases a gang's pods in one event (completion, end of a preemption's grace
//! period, eviction); the API shows them go one by one. A cycle that would see a gang partly
//! released waits for the next tick, so that both decide on the same cluster.
//!
//! Inference services ([`crate::services`]): each is a Deployment whose pods the
//! controller-manager makes; the driver queues them as one-pod gangs when it first sees them,
//! binds them in the same cycle (after annotating each with its cold start), feeds their
//! readiness to the service's request-level runtime, and every scrape interval and HPA sync
//! period runs the simulator's metrics pipeline and the core's HPA
//! ([`drydock_sim::service_autoscaling::ServiceHpa`]), writing its decisions through the
//! Deployment's scale subresource.
//!
//! Simplifications, beside the simulator's own: permit-wait gangs are scheduled all or nothing
//! (holding resources needs a Permit stage no API offers); replica pods neither preempt nor are
//! preempted. Random failures (`spec.failures.random`) are
//! drawn by the simulator's own process ([`drydock_sim::engine::RandomFailures`], same seed)
//! and injected as scheduled ones.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drydock_core::frag::{TargetWorkload, cluster_fragmentation};
use drydock_core::{
    GroupId, NodeId, PendingPod, PodSpec, Scheduler, SchedulerConfig, SimDuration, SimTime,
    VictimState,
};
use drydock_scenarios::{FailureTarget, GangMode, Scenario};
use drydock_sim::Summary;
use drydock_sim::build::Plan;
use drydock_sim::model::{FailureCause, SpecId};
use drydock_sim::report::{
    CostReport, FailureReport, GpuReport, JobCounts, SUMMARY_VERSION, percentiles,
};
use k8s_openapi::api::core::v1::Pod;
use rand_pcg::Pcg64;

use crate::actuator::{Actuator, BindOutcome, ClusterView};
use crate::clock::{Clock, TimeScale};
use crate::error::RealError;
use crate::kubelet::PodOutcome;
use crate::names::{ANN_GANG_SIZE, ANN_QUEUED_AT, LABEL_GANG, LABEL_JOB, LABEL_WORKER};
use crate::objects::{FakeNodeSpec, pod_spec_of};
use crate::services::{ServiceRun, service_deployment};
use crate::snapshot::{self, Placement, Snapshot, is_terminal, node_of};
use crate::workload::{JobPhase, PodSettings, Workload};

mod fleet;
use fleet::RealFleet;

/// Settings of a driver run.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverConfig {
    /// Run id (the `drydock.io/run` label of everything the run creates).
    pub run: String,
    /// drydock's namespace.
    pub namespace: String,
    /// Prefix of fake node names (`<prefix><scenario node>`).
    pub node_prefix: String,
    /// Time scale.
    pub scale: TimeScale,
    /// Put drydock's fake-node taint on fake nodes (so only drydock's pods land there).
    pub fake_taint: bool,
    /// Shortest wall time between two ticks.
    pub min_tick: Duration,
    /// How long to wait for the fake nodes to be Ready before the scenario starts.
    pub ready_timeout: Duration,
    /// Concurrent API requests.
    pub concurrency: usize,
    /// Without a scenario duration, the run ends when jobs are left pending and nothing has
    /// been placed, nothing runs and nothing is to come, for this long (wall time) and five
    /// cycles.
    pub quiet_period: Duration,
}

impl DriverConfig {
    /// Defaults for run `run` in `namespace`: node prefix `dd-<run>-`, fake-node taint on,
    /// ticks of at least 20 ms, 120 s for nodes to be Ready, 32 concurrent requests, a quiet
    /// period of 5 s.
    pub fn new(run: impl Into<String>, namespace: impl Into<String>, scale: TimeScale) -> Self {
        let run = run.into();
        DriverConfig {
            node_prefix: format!("dd-{run}-"),
            run,
            namespace: namespace.into(),
            scale,
            fake_taint: true,
            min_tick: Duration::from_millis(20),
            ready_timeout: Duration::from_secs(120),
            concurrency: 32,
            quiet_period: Duration::from_secs(5),
        }
    }
}

/// What the driver saw that a report should mention.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observations {
    /// Binds made.
    pub binds: u64,
    /// Binds answered 409 (already bound).
    pub bind_conflicts: u64,
    /// Binds that failed otherwise.
    pub bind_errors: u64,
    /// Scheduling cycles run.
    pub cycles: u64,
    /// Bound pods found not fitting their node's free resources (an over-commit of
    /// `nvidia.com/gpu`, cpu or memory), by pod name, at most 100.
    pub overcommitted: Vec<String>,
    /// Pods bound more than once (a pod whose node changed), at most 100.
    pub rebound: Vec<String>,
    /// Scheduling cycles put off to the next tick because a gang's pods were seen partly
    /// released (some gone or terminal, some still holding their node).
    pub cycles_deferred: u64,
    /// Ticks that failed with a transient error (the API server unreachable or restarting, a
    /// 5xx, 409 or 429) and were retried after a backoff.
    pub ticks_failed: u64,
    /// Pod operations (mark Succeeded, delete, evict) that failed and were retried on later
    /// ticks until they took effect or the pod was gone.
    pub pod_ops_retried: u64,
    /// Gangs found bound in full through the API without the driver having seen its binds
    /// succeed (a bind whose response was lost, as when the API server dies mid-request).
    pub gangs_adopted: u64,
    /// Every HPA sync run, by service name: scenario time and `spec.replicas` before and after.
    pub hpa_syncs: Vec<(String, crate::services::HpaSync)>,
    /// Scale-subresource writes of HPA decisions that failed (each retried on the next tick).
    pub scale_errors: u64,
    /// Each injected node failure and when the control plane was seen to notice it, in
    /// failure order.
    pub detections: Vec<Detection>,
}

/// When the control plane noticed one injected node failure: the node lifecycle controller
/// marks a node whose Lease is older than its `--node-monitor-grace-period` NotReady and taints
/// it `node.kubernetes.io/unreachable` (`pkg/controller/nodelifecycle`,
/// kubernetes-semantics.md §6.1). The simulator detects it after the scenario's
/// `nodeMonitorGracePeriod`; the controller-manager counts its own in wall seconds, so at a time
/// scale of N it takes N times longer in scenario time unless the flag is divided by N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Node object name.
    pub node: String,
    /// Scenario time of the failure.
    pub failed_at: SimTime,
    /// Scenario time of the first driver tick that saw the node not Ready (missing, without
    /// `Ready=True`, or tainted not-ready or unreachable); `None` if the run ended first or
    /// the node was repaired before.
    pub detected_at: Option<SimTime>,
}

impl Detection {
    /// Scenario time from the failure to its detection, if detected.
    pub fn delay(&self) -> Option<SimDuration> {
        self.detected_at.map(|d| d.since(self.failed_at))
    }
}

/// A pod operation the driver must see through, retried on later ticks when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodOp {
    /// Mark the pod Succeeded (its job completed); done once the pod is terminal or gone.
    Finish,
    /// Delete the pod (grace 0; its gang died); done once it has a `deletionTimestamp`.
    Delete,
    /// Evict the pod (preemption); done once it has a `deletionTimestamp`.
    Evict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeEvent {
    Fail {
        node: NodeId,
        cause: FailureCause,
        repair: Option<SimDuration>,
    },
    Repair {
        node: NodeId,
        epoch: u32,
    },
    /// A random failure is due (`spec.failures.random`): drawn when it fires, as in the
    /// simulator.
    RandomDue,
}

/// Allocation and fragmentation accumulators (the simulator's metrics, observed).
#[derive(Debug, Clone, Default)]
struct Usage {
    capacity_milli: u64,
    alloc_milli: u64,
    peak_milli: u64,
    area: u128,
    last: SimTime,
    frag_sum: f64,
    frag_n: u64,
    frag_last: f64,
    frag_amount_last: f64,
    next_sample: SimTime,
}

/// The driver of one run.
pub struct Driver<A: Actuator, V: ClusterView> {
    scenario: Scenario,
    seed: u64,
    config: DriverConfig,
    actuator: Arc<A>,
    view: V,
    workload: Workload,
    scheduler: Scheduler,
    rng: Pcg64,
    names: Vec<String>,
    up: Vec<bool>,
    epoch: Vec<u32>,
    events: BTreeMap<(SimTime, u64), NodeEvent>,
    event_seq: u64,
    last_event: SimTime,
    placements: BTreeMap<String, Placement>,
    bound_to: BTreeMap<String, String>,
    usage: Usage,
    next_cycle: SimTime,
    idle_cycles: u32,
    idle_since: Option<tokio::time::Instant>,
    settings: PodSettings,
    warnings: Vec<String>,
    obs: Observations,
    duration: Option<SimTime>,
    end: Option<SimTime>,
    /// Jobs whose current gang's pods are not all created yet (a create failed).
    to_create: std::collections::BTreeSet<u32>,
    /// Pods seen of each gang whose pods are still in the view.
    gang_members: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Since when cycles are put off for a partly released gang.
    deferred_since: Option<tokio::time::Instant>,
    /// Pod operations that failed, by pod name, retried on every tick.
    retry_ops: BTreeMap<String, PodOp>,
    /// Since when some node the scenario has up is seen not Ready.
    unready_since: Option<tokio::time::Instant>,
    /// Inference services, in scenario order.
    services: Vec<ServiceRun>,
    /// Node index → index in `obs.detections` of its failure not yet seen by the control
    /// plane.
    undetected: BTreeMap<usize, usize>,
    /// Scale decisions (the HPA's and the Cluster Autoscaler's), in time order.
    decisions: Vec<drydock_sim::engine::fleet::ScaleDecision>,
    /// The Cluster Autoscaler and the nodes it adds and removes, spot interruptions and
    /// replacements, when some pool autoscales or is spot.
    fleet: Option<RealFleet>,
    /// Random node and GPU failures, when the scenario has them.
    random: Option<drydock_sim::engine::RandomFailures>,
    /// Node billing and GPU capacity over scenario time (the simulator's meters).
    meter: drydock_sim::metrics::Metrics,
    /// Pods the last scheduling cycle could not place, with their specs and the time their
    /// gang was queued (the Cluster Autoscaler's unschedulable pods).
    unschedulable: Vec<(drydock_core::PodId, PodSpec, SimTime)>,
    /// Scenario time of the last tick.
    now: SimTime,
}

/// Scheduler configuration and target workload of `scenario` and `plan`, as the simulator
/// builds them (`drydock_sim::engine::build_world`).
pub fn scheduler_for(scenario: &Scenario, plan: &Plan) -> Scheduler {
    let s = &scenario.scheduler;
    let mut config = SchedulerConfig::for_policy(s.policy);
    config.tie_break = s.tie_break;
    config.percentage_of_nodes_to_score = s.percentage_of_nodes_to_score;
    config.weights = s.weights;
    let workload = TargetWorkload::from_pods(
        plan.jobs.iter().flat_map(|j| {
            let spec = &plan.specs[j.spec.0 as usize];
            let last = &plan.specs[j.last_spec.0 as usize];
            (0..j.workers).map(move |w| if w + 1 == j.workers { last } else { spec })
        }),
        s.popularity_threshold,
    );
    Scheduler::new(config, workload)
}

fn find_nodes(plan: &Plan, f: impl Fn(usize, &drydock_core::Node) -> bool) -> Vec<NodeId> {
    plan.cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| f(*i, n))
        .map(|(i, _)| NodeId(i as u32))
        .collect()
}

/// A queued gang in a scheduling cycle.
struct QueuedGang {
    priority: i32,
    queued_at: u64,
    job: u32,
    gang: String,
    /// Unbound pods: (worker, name, spec, core pod id).
    pending: Vec<(u32, String, PodSpec, drydock_core::PodId)>,
    /// For a service replica pod: the service index.
    service: Option<usize>,
}

impl<A: Actuator, V: ClusterView> Driver<A, V> {
    /// A driver for `scenario` (seed `seed`, trace files under `data_dir`) acting through
    /// `actuator` and reading `view`.
    ///
    /// # Errors
    /// [`RealError::Input`] when the scenario's plan cannot be built (trace files, failures
    /// naming no node) or it has more than 65,535 workers in a gang.
    pub fn new(
        scenario: &Scenario,
        data_dir: Option<&std::path::Path>,
        seed: Option<u64>,
        config: DriverConfig,
        actuator: Arc<A>,
        view: V,
    ) -> Result<Self, RealError> {
        let seed = seed.unwrap_or(scenario.seed);
        let plan = drydock_sim::build::plan(scenario, data_dir, seed)
            .map_err(|e| RealError::Input(format!("scenario `{}`: {e}", scenario.name)))?;
        let mut warnings = Vec::new();
        if scenario.scheduler.gang_mode == GangMode::PermitWait {
            warnings.push(
                "gang.mode permit-wait is scheduled all or nothing on a real cluster (no API holds resources for waiting pods)".to_string(),
            );
        }
        if plan.jobs.iter().any(|j| j.one_attempt) {
            warnings.push(
                "arrivals-only trace pods get repeated scheduling attempts on a real cluster"
                    .to_string(),
            );
        }
        let n = plan.cluster.nodes.len();
        let names = plan
            .cluster
            .nodes
            .iter()
            .map(|nd| crate::names::node_object_name(&config.node_prefix, &nd.name))
            .collect();
        let mut events = BTreeMap::new();
        let mut seq = 0u64;
        for f in &scenario.failures.scheduled {
            let (nodes, cause) = match &f.target {
                FailureTarget::Node { name } => (
                    find_nodes(&plan, |_, n| &n.name == name),
                    FailureCause::Node,
                ),
                FailureTarget::Gpu { node, .. } => {
                    (find_nodes(&plan, |_, n| &n.name == node), FailureCause::Gpu)
                }
                FailureTarget::Pool { name } => (
                    find_nodes(&plan, |_, n| {
                        plan.cluster.pools.get(n.pool.0 as usize).map(|p| &p.name) == Some(name)
                    }),
                    FailureCause::Pool,
                ),
                FailureTarget::Zone { name } => (
                    find_nodes(&plan, |i, _| {
                        plan.zones.get(i).and_then(|z| z.as_deref()) == Some(name.as_str())
                    }),
                    FailureCause::Zone,
                ),
            };
            if nodes.is_empty() {
                return Err(RealError::Input(format!(
                    "failure at {}: no node matches {:?}",
                    SimDuration(f.at.0),
                    f.target
                )));
            }
            for node in nodes {
                events.insert(
                    (f.at, seq),
                    NodeEvent::Fail {
                        node,
                        cause,
                        repair: f.repair_after,
                    },
                );
                seq += 1;
            }
        }
        let mut random = drydock_sim::engine::RandomFailures::new(scenario, &plan.cluster, seed);
        if let (Some(process), Some(r)) = (random.as_mut(), &scenario.failures.random) {
            let at = process.next_after(r.start);
            if scenario.duration.is_none_or(|d| at.0 <= d.0) {
                events.insert((at, seq), NodeEvent::RandomDue);
                seq += 1;
            }
        }
        let scheduler = scheduler_for(scenario, &plan);
        let settings = PodSettings {
            namespace: config.namespace.clone(),
            run: config.run.clone(),
            scale: config.scale,
            termination_grace: scenario.scheduler.termination_grace_period,
            toleration: scenario.node_lifecycle.toleration_seconds,
        };
        let usage = Usage {
            capacity_milli: plan.cluster.gpu_capacity_milli(),
            ..Default::default()
        };
        let services = scenario
            .services
            .iter()
            .enumerate()
            .map(|(i, svc)| {
                let spec = plan.service_specs.get(i).copied().ok_or_else(|| {
                    RealError::Input(format!(
                        "service `{}` has no pod spec in the plan",
                        svc.name
                    ))
                })?;
                let gpu_milli = plan
                    .specs
                    .get(spec.0 as usize)
                    .map_or(0, |s| s.request.gpu.total_milli());
                ServiceRun::new(svc, i, spec, gpu_milli, data_dir, seed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Driver {
            duration: scenario.duration.map(|d| SimTime(d.0)),
            end: None,
            to_create: Default::default(),
            gang_members: BTreeMap::new(),
            deferred_since: None,
            retry_ops: BTreeMap::new(),
            unready_since: None,
            services,
            undetected: BTreeMap::new(),
            decisions: Vec::new(),
            fleet: RealFleet::new(scenario, &plan.cluster, seed),
            random,
            meter: drydock_sim::metrics::Metrics::new(&plan.cluster),
            unschedulable: Vec::new(),
            now: SimTime::ZERO,
            scenario: scenario.clone(),
            seed,
            rng: drydock_sim::rng::stream(seed, "scheduler"),
            config,
            actuator,
            view,
            workload: Workload::new(plan),
            scheduler,
            names,
            up: vec![true; n],
            epoch: vec![0; n],
            events,
            event_seq: seq,
            last_event: SimTime::ZERO,
            placements: BTreeMap::new(),
            bound_to: BTreeMap::new(),
            usage,
            next_cycle: SimTime::ZERO,
            idle_cycles: 0,
            idle_since: None,
            settings,
            warnings,
            obs: Observations::default(),
        })
    }

    /// Warnings about scenario features real mode does not reproduce.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What the driver observed.
    pub fn observations(&self) -> &Observations {
        &self.obs
    }

    /// The workload and its states.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// Kubernetes names of the fake nodes, index = node id.
    pub fn node_names(&self) -> &[String] {
        &self.names
    }

    /// The fake nodes to register.
    pub fn fake_nodes(&self) -> Vec<FakeNodeSpec> {
        self.workload
            .plan
            .cluster
            .nodes
            .iter()
            .map(|n| FakeNodeSpec::from_core(n, &self.config.node_prefix, self.config.fake_taint))
            .collect()
    }

    /// Registers the fake nodes, `concurrency` at a time.
    ///
    /// # Errors
    /// The first registration error (nodes registered before it stay; tear down to remove
    /// them).
    pub async fn setup(&self) -> Result<(), RealError> {
        use futures::StreamExt;
        let specs = self.fake_nodes();
        let actuator = &self.actuator;
        let mut results = futures::stream::iter(specs.iter().map(|s| actuator.add_node(s)))
            .buffer_unordered(self.config.concurrency.max(1));
        while let Some(r) = results.next().await {
            r?;
        }
        Ok(())
    }

    /// Records, for each injected failure not yet seen, whether the view now shows its node
    /// not Ready ([`Detection`]).
    fn note_detections(&mut self, now: SimTime) {
        if self.undetected.is_empty() {
            return;
        }
        let nodes = self.view.nodes();
        let by: BTreeMap<&str, &k8s_openapi::api::core::v1::Node> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref().map(|m| (m, &**n)))
            .collect();
        let names = &self.names;
        let detections = &mut self.obs.detections;
        self.undetected.retain(|&i, &mut d| {
            let seen = !by.get(names[i].as_str()).is_some_and(|n| node_ready(n));
            if seen && let Some(x) = detections.get_mut(d) {
                x.detected_at = Some(now);
            }
            !seen
        });
    }

    /// The fake nodes not yet Ready: missing, without `Ready=True`, or still tainted
    /// `node.kubernetes.io/not-ready` or `unreachable` (the node lifecycle controller removes
    /// the taint once it sees the node Ready, real-cluster.md §3.1).
    pub fn not_ready(&self) -> Vec<String> {
        let nodes = self.view.nodes();
        let by: BTreeMap<&str, &k8s_openapi::api::core::v1::Node> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref().map(|m| (m, &**n)))
            .collect();
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.fleet.as_ref().is_some_and(|f| f.is_gone(*i)))
            .filter(|(_, name)| !by.get(name.as_str()).is_some_and(|n| node_ready(n)))
            .map(|(_, name)| name.clone())
            .collect()
    }

    /// Waits (polling every 100 ms) until every fake node is Ready.
    ///
    /// # Errors
    /// [`RealError::Timeout`] naming up to five nodes still not Ready after `ready_timeout`.
    pub async fn wait_ready(&self) -> Result<(), RealError> {
        let deadline = tokio::time::Instant::now() + self.config.ready_timeout;
        loop {
            let left = self.not_ready();
            if left.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RealError::Timeout(format!(
                    "{} of {} fake nodes are not Ready after {:?} (for example {}); is the controller-manager running?",
                    left.len(),
                    self.names.len(),
                    self.config.ready_timeout,
                    left.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs the scenario on `clock` (scenario time 0 = now) until its duration, or until every
    /// job completed or failed and every scheduled failure happened, or until nothing can
    /// change any more (pending jobs that no cycle can place).
    ///
    /// # Errors
    /// API errors the run cannot go on without (forbidden, unreachable after retries, an
    /// object that is not drydock's in the way).
    pub async fn run<C: Clock>(&mut self, clock: &C) -> Result<SimTime, RealError> {
        let cycle = if self.scenario.scheduler.cycle.0 == 0 {
            SimDuration(1)
        } else {
            self.scenario.scheduler.cycle
        };
        // Transient errors (an API server restart, an overloaded server) are retried, after a
        // backoff of 50 ms doubling up to 1 s, for up to two minutes of wall time. Scenario
        // time goes on meanwhile, as it would for a real cluster's workloads.
        let mut failing_since: Option<tokio::time::Instant> = None;
        let mut backoff = Duration::ZERO;
        loop {
            let now = clock.now();
            if let Some(end) = self.duration
                && now >= end
            {
                self.finish(end);
                return Ok(end);
            }
            match self.tick(now, cycle).await {
                Ok(()) => {
                    failing_since = None;
                    backoff = Duration::ZERO;
                }
                Err(e) if e.is_transient() => {
                    let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                    self.obs.ticks_failed += 1;
                    backoff =
                        (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
                    tracing::warn!(error = %e, retry_in = ?backoff, "tick failed; retrying");
                    if since.elapsed() > Duration::from_secs(120) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
            if self.duration.is_none() && self.is_over() {
                let end = self.last_event;
                self.finish(end);
                return Ok(end);
            }
            let wake = clock.wall(cycle).max(self.config.min_tick).max(backoff);
            tokio::time::sleep(wake).await;
        }
    }

    fn is_over(&mut self) -> bool {
        // Random failures alone do not keep a run going (the simulator's periodic events).
        if self.events.values().any(|e| *e != NodeEvent::RandomDue) {
            return false;
        }
        if self.workload.all_done() {
            return true;
        }
        if self.fleet_can_still_act(self.now) {
            return false;
        }
        // Nothing in flight, nothing to come, and cycles place nothing: the pending jobs
        // wait forever (the simulator runs to its 10-year horizon here).
        let busy = self.workload.jobs.iter().any(|s| {
            matches!(
                s.phase,
                JobPhase::Running | JobPhase::Stalled | JobPhase::Terminating | JobPhase::Backoff
            )
        });
        // Wall time too: a gang just created may not be visible in the stores yet.
        let quiet = !busy
            && self.workload.next_arrival().is_none()
            && self.idle_cycles >= 5
            && self
                .idle_since
                .is_some_and(|t| t.elapsed() >= self.config.quiet_period);
        if !quiet {
            return false;
        }
        // A node the scenario has up but the API shows not Ready (after an API-server outage
        // longer than the node monitor grace period, until its kubelet's status is seen again)
        // can still change things, for up to two minutes.
        let unready = self.not_ready().iter().any(|name| {
            self.names
                .iter()
                .position(|n| n == name)
                .is_some_and(|i| self.up[i])
        });
        if !unready {
            self.unready_since = None;
            return true;
        }
        let since = *self
            .unready_since
            .get_or_insert_with(tokio::time::Instant::now);
        since.elapsed() >= Duration::from_secs(120)
    }

    /// One tick at scenario time `now`: observe, apply due failures and repairs, reconcile
    /// jobs, create the pods of arrivals and requeued gangs, and run a scheduling cycle when
    /// one is due.
    ///
    /// # Errors
    /// As [`Driver::run`].
    pub async fn tick(&mut self, now: SimTime, cycle: SimDuration) -> Result<(), RealError> {
        let pods: BTreeMap<String, Arc<Pod>> = self
            .view
            .pods()
            .into_iter()
            .filter_map(|p| p.metadata.name.clone().map(|n| (n, p)))
            .collect();
        self.now = now;
        let retried = self.retry_pod_ops(&pods).await;
        self.apply_node_events(now, &pods).await?;
        self.fleet_tick(now, &pods).await?;
        self.note_detections(now);
        self.reconcile(now, &pods).await?;
        let mut create: Vec<u32> = std::mem::take(&mut self.to_create).into_iter().collect();
        create.extend(self.workload.arrive(now));
        create.extend(self.workload.backoff_expired(now));
        self.create_gangs(&create).await?;
        self.services_tick(now, &pods).await?;
        if now >= self.next_cycle && self.cycle(now).await? {
            let c = cycle.0.max(1);
            self.next_cycle = SimTime((now.0 / c + 1).saturating_mul(c));
        }
        self.scan_if_due(now).await;
        retried
    }

    /// Retries the pod operations that failed on earlier ticks (see [`PodOp`]); an operation
    /// is dropped once the view shows it took effect or the pod is gone. Returns the first
    /// error, after trying them all.
    async fn retry_pod_ops(&mut self, pods: &BTreeMap<String, Arc<Pod>>) -> Result<(), RealError> {
        if self.retry_ops.is_empty() {
            return Ok(());
        }
        let mut first = None;
        let ops = std::mem::take(&mut self.retry_ops);
        for (name, op) in ops {
            let Some(p) = pods.get(&name) else { continue };
            let done = match op {
                PodOp::Finish => is_terminal(p),
                PodOp::Delete | PodOp::Evict => p.metadata.deletion_timestamp.is_some(),
            };
            if done {
                continue;
            }
            self.obs.pod_ops_retried += 1;
            let ns = self.config.namespace.clone();
            let r = match op {
                PodOp::Finish => self.actuator.finish_pod(p, PodOutcome::Succeeded).await,
                PodOp::Delete => self.actuator.delete_pod(&ns, &name, Some(0)).await,
                PodOp::Evict => self.actuator.evict(&ns, &name).await.map(|_| ()),
            };
            if let Err(e) = r {
                self.retry_ops.insert(name, op);
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The services at scenario time `now`: creates their Deployments (once; a transient
    /// failure is retried on the next tick), advances their request runtimes, updates their
    /// replicas from the pods the API reports, runs the scrapes and HPA syncs due, and writes
    /// the HPA's decisions through the Deployments' scale subresource (a failed write is
    /// retried on the next tick).
    async fn services_tick(
        &mut self,
        now: SimTime,
        pods: &BTreeMap<String, Arc<Pod>>,
    ) -> Result<(), RealError> {
        if self.services.is_empty() {
            return Ok(());
        }
        let mut first_err = None;
        for s in 0..self.services.len() {
            if self.services[s].created {
                continue;
            }
            let plan = &self.workload.plan;
            let (Some(spec), Some(svc)) = (
                plan.specs.get(self.services[s].spec.0 as usize),
                self.scenario.services.get(s),
            ) else {
                continue;
            };
            let d = service_deployment(&plan.cluster, spec, svc, s, &self.settings);
            match self.actuator.create_deployment(&d).await {
                Ok(()) => {
                    self.services[s].created = true;
                    self.active();
                }
                Err(e) if e.is_transient() => {
                    first_err.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        let list: Vec<&Pod> = pods.values().map(|p| &**p).collect();
        let down: std::collections::BTreeSet<&str> = self
            .names
            .iter()
            .zip(&self.up)
            .filter(|(_, up)| !**up)
            .map(|(n, _)| n.as_str())
            .collect();
        for svc in &mut self.services {
            svc.runtime.advance_to(now);
            svc.observe(now, &list, |n| down.contains(n));
        }
        for s in 0..self.services.len() {
            let syncs = self.services[s].syncs.len();
            if let Some(d) = self.services[s].autoscale(now) {
                self.decisions.push(d);
            }
            let svc = &self.services[s];
            for sync in &svc.syncs[syncs..] {
                self.obs.hpa_syncs.push((svc.name.clone(), *sync));
            }
            if let Some(r) = svc.pending_scale {
                let deployment = svc.deployment.clone();
                match self
                    .actuator
                    .scale(&self.config.namespace, &deployment, r as i32)
                    .await
                {
                    Ok(()) => self.services[s].pending_scale = None,
                    Err(e) => {
                        self.obs.scale_errors += 1;
                        tracing::warn!(deployment = %deployment, error = %e, "scale failed; retrying");
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The run's inference services.
    pub fn services(&self) -> &[ServiceRun] {
        &self.services
    }

    /// A gang whose release is seen only in part: some of its pods gone or terminal, some
    /// still bound and holding their resources. The simulator releases a gang's pods in one
    /// event (a completion, the end of a preemption's grace period, an eviction); the API shows
    /// the pods go one by one, a few milliseconds apart. Updates the gangs' members seen.
    fn gang_in_release(&mut self, pods: &[Arc<Pod>]) -> Option<String> {
        // Per gang: pods present, terminal, and holding (bound, not terminal).
        let mut present: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
        for p in pods {
            let (Some(name), Some(gang)) = (
                p.metadata.name.as_deref(),
                p.metadata.labels.as_ref().and_then(|l| l.get(LABEL_GANG)),
            ) else {
                continue;
            };
            let terminal = is_terminal(p);
            let holding = !terminal
                && (node_of(p).is_some()
                    || self.placements.get(name).is_some_and(|pl| !pl.observed));
            let e = present.entry(gang.as_str()).or_default();
            e.0 += 1;
            e.1 += usize::from(terminal);
            e.2 += usize::from(holding);
            let members = self.gang_members.entry(gang.clone()).or_default();
            if !members.contains(name) {
                members.insert(name.to_string());
            }
        }
        // Gangs with no pod left are released in full.
        self.gang_members
            .retain(|g, _| present.contains_key(g.as_str()));
        self.gang_members.iter().find_map(|(g, members)| {
            let (n, terminal, holding) = present.get(g.as_str()).copied().unwrap_or_default();
            let released = members.len().saturating_sub(n) + terminal;
            (holding > 0 && released > 0).then(|| g.clone())
        })
    }

    /// Something happened that may let a waiting gang fit (pods created, resources released,
    /// a node changed): the quiet period that ends a run without a duration starts over.
    fn active(&mut self) {
        self.idle_cycles = 0;
        self.idle_since = None;
    }

    /// Creates the pods of the current gang of each job of `jobs`. Jobs whose pods could not
    /// all be created are retried on the next tick; the first error is returned.
    async fn create_gangs(&mut self, jobs: &[u32]) -> Result<(), RealError> {
        if !jobs.is_empty() {
            self.active();
        }
        let mut first_err = None;
        for chunk in jobs.chunks(self.config.concurrency.max(1)) {
            let pods: Vec<(u32, Pod)> = chunk
                .iter()
                .filter(|&&j| {
                    self.workload.jobs.get(j as usize).map(|s| s.phase) == Some(JobPhase::Pending)
                })
                .flat_map(|&j| {
                    self.workload
                        .gang_pods(j, &self.settings)
                        .into_iter()
                        .map(move |p| (j, p))
                })
                .collect();
            let actuator = &self.actuator;
            let results =
                futures::future::join_all(pods.iter().map(|(_, p)| actuator.create_pod(p))).await;
            for ((j, _), r) in pods.iter().zip(results) {
                if let Err(e) = r {
                    self.to_create.insert(*j);
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn apply_node_events(
        &mut self,
        now: SimTime,
        pods: &BTreeMap<String, Arc<Pod>>,
    ) -> Result<(), RealError> {
        while let Some((&(at, seq), &ev)) = self.events.iter().next() {
            if at > now {
                break;
            }
            self.events.remove(&(at, seq));
            if ev != NodeEvent::RandomDue {
                self.last_event = self.last_event.max(at);
            }
            match ev {
                NodeEvent::RandomDue => {
                    let Some(process) = self.random.as_mut() else {
                        continue;
                    };
                    let up = &self.up;
                    let failure = process.fire(|i| up.get(i).copied().unwrap_or(false));
                    let next = process.next_after(at);
                    if let Some(f) = failure {
                        // Handled as a scheduled failure at the same time, next in line.
                        self.events.insert(
                            (at, self.event_seq),
                            NodeEvent::Fail {
                                node: f.node,
                                cause: f.cause,
                                repair: Some(f.repair),
                            },
                        );
                        self.event_seq += 1;
                    }
                    // As the simulator: failures go on while there is work (or to a fixed
                    // duration's end).
                    let work_left = !self.workload.all_done();
                    let within = self.duration.is_none_or(|d| next <= d);
                    if within && (self.duration.is_some() || work_left) {
                        self.events
                            .insert((next, self.event_seq), NodeEvent::RandomDue);
                        self.event_seq += 1;
                    }
                }
                NodeEvent::Fail {
                    node,
                    cause,
                    repair,
                } => {
                    let i = node.0 as usize;
                    if !self.up[i] {
                        continue;
                    }
                    self.up[i] = false;
                    self.epoch[i] += 1;
                    self.workload.metrics.failures[match cause {
                        FailureCause::Node => 0,
                        FailureCause::Gpu => 1,
                        FailureCause::Pool => 2,
                        FailureCause::Zone => 3,
                    }] += 1;
                    self.actuator.fail_node(&self.names[i]).await?;
                    self.undetected.insert(i, self.obs.detections.len());
                    self.obs.detections.push(Detection {
                        node: self.names[i].clone(),
                        failed_at: at,
                        detected_at: None,
                    });
                    for j in 0..self.workload.jobs.len() as u32 {
                        let s = &self.workload.jobs[j as usize];
                        if s.phase == JobPhase::Running && s.placement.contains(&Some(node)) {
                            self.workload.stall(j, at);
                        }
                    }
                    if let Some(r) = repair {
                        let epoch = self.epoch[i];
                        self.events.insert(
                            (at.saturating_add(r), self.event_seq),
                            NodeEvent::Repair { node, epoch },
                        );
                        self.event_seq += 1;
                    }
                }
                NodeEvent::Repair { node, epoch } => {
                    let i = node.0 as usize;
                    if self.up[i] || self.epoch[i] != epoch {
                        continue;
                    }
                    if let Err(e) = self.actuator.repair_node(&self.names[i]).await {
                        // Try again on the next tick.
                        self.events.insert((at, seq), ev);
                        return Err(e);
                    }
                    self.up[i] = true;
                    self.epoch[i] += 1;
                    self.undetected.remove(&i);
                    self.active();
                    for j in 0..self.workload.jobs.len() as u32 {
                        let s = &self.workload.jobs[j as usize];
                        let all_up = s
                            .placement
                            .iter()
                            .all(|n| n.is_none_or(|n| self.up[n.0 as usize]));
                        if s.phase == JobPhase::Stalled
                            && s.placement.contains(&Some(node))
                            && all_up
                            && !self.gang_dead(j, pods)
                        {
                            self.workload.restart_in_place(j, at);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// True when a pod of job `j`'s current gang died: seen and now gone, being deleted, or
    /// Failed.
    fn gang_dead(&self, j: u32, pods: &BTreeMap<String, Arc<Pod>>) -> bool {
        let gang = self.workload.gang(j);
        let s = &self.workload.jobs[j as usize];
        (0..s.seen.len() as u32).any(|w| match pods.get(&crate::names::pod_name(&gang, w)) {
            None => s.seen[w as usize],
            Some(p) => {
                p.metadata.deletion_timestamp.is_some()
                    || p.status.as_ref().and_then(|st| st.phase.as_deref()) == Some("Failed")
            }
        })
    }

    async fn delete_gang(&mut self, gang: &str, workers: u32, pods: &BTreeMap<String, Arc<Pod>>) {
        for w in 0..workers {
            let name = crate::names::pod_name(gang, w);
            if pods.contains_key(&name)
                && let Err(e) = self
                    .actuator
                    .delete_pod(&self.config.namespace, &name, Some(0))
                    .await
            {
                tracing::warn!(pod = %name, error = %e, "cannot delete pod; retrying on the next tick");
                self.retry_ops.insert(name, PodOp::Delete);
            }
        }
    }

    async fn reconcile(
        &mut self,
        now: SimTime,
        pods: &BTreeMap<String, Arc<Pod>>,
    ) -> Result<(), RealError> {
        for j in 0..self.workload.jobs.len() as u32 {
            let gang = self.workload.gang(j);
            let workers = self.workload.jobs[j as usize].seen.len() as u32;
            for w in 0..workers {
                if pods.contains_key(&crate::names::pod_name(&gang, w)) {
                    self.workload.jobs[j as usize].seen[w as usize] = true;
                }
            }
            match self.workload.jobs[j as usize].phase {
                JobPhase::Running | JobPhase::Stalled => {
                    if self.gang_dead(j, pods) {
                        self.delete_gang(&gang, workers, pods).await;
                        self.last_event = now;
                        self.active();
                        if self.workload.fail_and_restart(j, now) {
                            self.create_gangs(&[j]).await?;
                        }
                        continue;
                    }
                    let s = &self.workload.jobs[j as usize];
                    if s.phase == JobPhase::Running
                        && let Some(at) = s.finish_at
                        && at <= now
                    {
                        for w in 0..workers {
                            if let Some(p) = pods.get(&crate::names::pod_name(&gang, w))
                                && let Err(e) =
                                    self.actuator.finish_pod(p, PodOutcome::Succeeded).await
                            {
                                tracing::warn!(error = %e, "cannot mark pod Succeeded; retrying on the next tick");
                                self.retry_ops
                                    .insert(crate::names::pod_name(&gang, w), PodOp::Finish);
                            }
                        }
                        self.workload.completed(j, at);
                        self.last_event = self.last_event.max(at);
                        self.active();
                    }
                }
                JobPhase::Terminating => {
                    let all_gone =
                        (0..workers).all(|w| !pods.contains_key(&crate::names::pod_name(&gang, w)));
                    if all_gone {
                        self.workload.terminated(j, now);
                        self.create_gangs(&[j]).await?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Starts the jobs still Pending whose current gang the API shows bound in full: binds
    /// that took effect although their response was lost (the API server died mid-request, a
    /// connection reset), so no cycle would queue the gang again.
    fn adopt_bound_gangs(&mut self, pods: &[Arc<Pod>], now: SimTime) {
        let by_name: BTreeMap<&str, &Pod> = pods
            .iter()
            .filter_map(|p| p.metadata.name.as_deref().map(|n| (n, &**p)))
            .collect();
        for j in 0..self.workload.jobs.len() as u32 {
            if self.workload.jobs[j as usize].phase != JobPhase::Pending {
                continue;
            }
            let Some(workers) = self.workload.job(j).map(|p| p.workers) else {
                continue;
            };
            let gang = self.workload.gang(j);
            let nodes: Option<Vec<NodeId>> = (0..workers)
                .map(|w| {
                    let p = by_name.get(crate::names::pod_name(&gang, w).as_str())?;
                    if is_terminal(p) || p.metadata.deletion_timestamp.is_some() {
                        return None;
                    }
                    let node = node_of(p)?;
                    self.names
                        .iter()
                        .position(|x| x == node)
                        .map(|i| NodeId(i as u32))
                })
                .collect();
            let Some(nodes) = nodes else { continue };
            tracing::info!(gang = %gang, "gang found bound in full; starting its job");
            self.obs.gangs_adopted += 1;
            let up = self.up.clone();
            self.workload.started(j, &nodes, now, |n| {
                !up.get(n.0 as usize).copied().unwrap_or(false)
            });
            self.active();
        }
    }

    fn pending_gangs(&self, snap: &mut Snapshot, pods: &[Arc<Pod>]) -> Vec<QueuedGang> {
        let mut gangs: BTreeMap<String, QueuedGang> = BTreeMap::new();
        let mut bound_count: BTreeMap<String, u32> = BTreeMap::new();
        for p in pods {
            let Some(labels) = p.metadata.labels.as_ref() else {
                continue;
            };
            let (Some(gang), Some(job), Some(worker)) = (
                labels.get(LABEL_GANG),
                labels.get(LABEL_JOB).and_then(|v| v.parse::<u32>().ok()),
                labels.get(LABEL_WORKER).and_then(|v| v.parse::<u32>().ok()),
            ) else {
                continue;
            };
            // Only the current attempt of a job waiting for the scheduler.
            if self.workload.jobs.get(job as usize).map(|s| s.phase) != Some(JobPhase::Pending)
                || *gang != self.workload.gang(job)
                || is_terminal(p)
                || p.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let name = p.metadata.name.clone().unwrap_or_default();
            let assumed = self.placements.get(&name).is_some_and(|pl| !pl.observed);
            if node_of(p).is_some() || assumed {
                *bound_count.entry(gang.clone()).or_default() += 1;
                continue;
            }
            let ann = p.metadata.annotations.as_ref();
            let queued_at = ann
                .and_then(|a| a.get(ANN_QUEUED_AT))
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX);
            let spec = pod_spec_of(p, &mut snap.cluster);
            let id = snapshot::pod_id(job, worker);
            let g = gangs.entry(gang.clone()).or_insert_with(|| QueuedGang {
                priority: spec.priority,
                queued_at,
                job,
                gang: gang.clone(),
                pending: Vec::new(),
                service: None,
            });
            g.pending.push((worker, name, spec, id));
        }
        let mut out: Vec<QueuedGang> = gangs
            .into_values()
            .filter(|g| {
                let size = self
                    .workload
                    .job(g.job)
                    .map(|p| p.workers)
                    .unwrap_or(u32::MAX);
                // Coscheduling's PreFilter: the whole gang must exist (minMember).
                let annotated = pods
                    .iter()
                    .find(|p| p.metadata.name.as_deref() == g.pending.first().map(|x| x.1.as_str()))
                    .and_then(|p| p.metadata.annotations.as_ref())
                    .and_then(|a| a.get(ANN_GANG_SIZE))
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(size);
                g.pending.len() as u32 + bound_count.get(&g.gang).copied().unwrap_or(0)
                    >= annotated.min(size)
            })
            .collect();
        for g in &mut out {
            g.pending.sort_by_key(|(w, _, _, _)| *w);
        }
        // Service replica pods: one-pod "gangs" queued when first seen, after the jobs known
        // then (the simulator gives each replica the next job index).
        let base = self.workload.jobs.len() as u32;
        for p in pods {
            let Some(s) = self.services.iter().position(|svc| svc.owns(p)) else {
                continue;
            };
            let Some(name) = p.metadata.name.clone() else {
                continue;
            };
            let assumed = self.placements.get(&name).is_some_and(|pl| !pl.observed);
            if node_of(p).is_some()
                || assumed
                || is_terminal(p)
                || p.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let (Some((rid, created)), Some(&id)) =
                (self.services[s].created_at(&name), snap.ids.get(&name))
            else {
                continue;
            };
            let spec = pod_spec_of(p, &mut snap.cluster);
            out.push(QueuedGang {
                priority: spec.priority,
                queued_at: created.0,
                job: base.saturating_add(rid),
                gang: name.clone(),
                pending: vec![(0, name, spec, id)],
                service: Some(s),
            });
        }
        out.sort_by_key(|g| (Reverse(g.priority), g.queued_at, g.job));
        out
    }

    /// Allocated GPUs and fragmentation from the snapshot, integrated over scenario time.
    fn account(&mut self, snap: &Snapshot, now: SimTime) {
        let free: u64 = snap.cluster.nodes.iter().map(|n| n.gpu_free_milli()).sum();
        let cap: u64 = snap
            .cluster
            .nodes
            .iter()
            .map(|n| n.gpu_capacity_milli())
            .sum();
        let alloc = cap.saturating_sub(free);
        let u = &mut self.usage;
        if now > u.last {
            u.area += u.alloc_milli as u128 * now.since(u.last).0 as u128;
            u.last = now;
        }
        u.alloc_milli = alloc;
        u.peak_milli = u.peak_milli.max(alloc);
        if now >= u.next_sample {
            let up = &self.up;
            let f = cluster_fragmentation(&snap.cluster, self.scheduler.workload(), |i, _| {
                up.get(i).copied().unwrap_or(false)
            });
            u.frag_sum += f.ratio();
            u.frag_n += 1;
            u.frag_last = f.ratio();
            u.frag_amount_last = f.amount_milli / 1000.0;
            let iv = if self.scenario.sample_interval.0 == 0 {
                SimDuration::from_mins(5)
            } else {
                self.scenario.sample_interval
            };
            u.next_sample = now.saturating_add(iv);
        }
    }

    /// One scheduling cycle; false when it was put off to the next tick because a gang's
    /// release is seen only in part (for at most two seconds of wall time, in case a pod
    /// never goes).
    async fn cycle(&mut self, now: SimTime) -> Result<bool, RealError> {
        let nodes = self.view.nodes();
        let pods = self.view.pods();
        if let Some(gang) = self.gang_in_release(&pods) {
            let since = *self
                .deferred_since
                .get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() < Duration::from_secs(2) {
                self.obs.cycles_deferred += 1;
                self.active();
                return Ok(false);
            }
            tracing::warn!(gang = %gang, "gang still partly released after 2 s; scheduling anyway");
        }
        self.deferred_since = None;
        self.obs.cycles += 1;
        for p in &pods {
            if let (Some(name), Some(node)) = (p.metadata.name.as_ref(), node_of(p)) {
                match self.bound_to.get(name) {
                    Some(prev) if prev != node => {
                        if self.obs.rebound.len() < 100 {
                            self.obs.rebound.push(name.clone());
                        }
                    }
                    Some(_) => {}
                    None => {
                        self.bound_to.insert(name.clone(), node.to_string());
                    }
                }
            }
        }
        let mut snap = self.snapshot(&nodes, &pods);
        for o in &snap.overcommitted {
            if self.obs.overcommitted.len() < 100 && !self.obs.overcommitted.contains(o) {
                tracing::warn!(pod = %o, "bound pod does not fit its node");
                self.obs.overcommitted.push(o.clone());
            }
        }
        self.account(&snap, now);
        self.adopt_bound_gangs(&pods, now);
        let queue = self.pending_gangs(&mut snap, &pods);
        let mut placed_any = false;
        // Nominated nodes of preemptors, kept from lower-priority gangs (the simulator's rule).
        let reservations: Vec<(i32, NodeId)> = queue
            .iter()
            .flat_map(|g| {
                self.workload
                    .jobs
                    .get(g.job as usize)
                    .map(|s| s.nominated.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(move |&n| (g.priority, n))
            })
            .collect();
        let mut cordoned: Vec<NodeId> = Vec::new();
        let mut failed_shapes: Vec<(SpecId, SpecId, u32)> = Vec::new();
        let mut unschedulable = Vec::new();
        for g in queue {
            for n in cordoned.drain(..) {
                snap.cluster.nodes[n.0 as usize].unschedulable = false;
            }
            for &(prio, n) in &reservations {
                let node = &mut snap.cluster.nodes[n.0 as usize];
                if prio > g.priority && !node.unschedulable {
                    node.unschedulable = true;
                    cordoned.push(n);
                }
            }
            let shape = match g.service {
                Some(s) => (self.services[s].spec, self.services[s].spec, 1),
                None => match self.workload.job(g.job) {
                    Some(plan) => (plan.spec, plan.last_spec, plan.workers),
                    None => continue,
                },
            };
            if failed_shapes.contains(&shape) {
                unschedulable.extend(
                    g.pending
                        .iter()
                        .map(|(_, _, spec, id)| (*id, spec.clone(), SimTime(g.queued_at))),
                );
                continue;
            }
            let pending: Vec<PendingPod<'_>> = g
                .pending
                .iter()
                .map(|(_, _, spec, id)| PendingPod { pod: *id, spec })
                .collect();
            let demand: u64 = pending
                .iter()
                .map(|p| p.spec.request.gpu.total_milli())
                .sum();
            let free: u64 = snap.cluster.nodes.iter().map(|n| n.gpu_free_milli()).sum();
            let result = if demand > free {
                Err(())
            } else {
                self.scheduler
                    .place_gang(
                        &mut snap.cluster,
                        GroupId(g.job),
                        &pending,
                        now.0,
                        false,
                        &mut self.rng,
                    )
                    .map_err(|_| ())
            };
            match result {
                Ok(binds) => {
                    drop(pending);
                    placed_any = true;
                    self.bind_gang(&g, &binds, &mut snap, now).await;
                }
                Err(()) => {
                    failed_shapes.push(shape);
                    unschedulable.extend(
                        g.pending
                            .iter()
                            .map(|(_, _, spec, id)| (*id, spec.clone(), SimTime(g.queued_at))),
                    );
                    if g.service.is_some() {
                        // Replica pods do not preempt (the simulator's services run at their
                        // priority; preemption is for gangs).
                        continue;
                    }
                    let awaiting = self.workload.jobs[g.job as usize].awaiting_victims;
                    let lower_bound = snap
                        .cluster
                        .nodes
                        .iter()
                        .any(|n| n.pods.iter().any(|b| b.priority < g.priority));
                    if self.scenario.scheduler.preemption && awaiting == 0 && lower_bound {
                        let decision = self.scheduler.preempt(
                            &mut snap.cluster,
                            GroupId(g.job),
                            &pending,
                            now.0,
                        );
                        drop(pending);
                        if let Some(p) = decision {
                            self.apply_preemption(g.job, &p, &snap, now).await;
                        }
                    }
                }
            }
        }
        for n in cordoned {
            snap.cluster.nodes[n.0 as usize].unschedulable = false;
        }
        self.unschedulable = unschedulable;
        if placed_any {
            self.active();
        } else {
            self.idle_cycles = self.idle_cycles.saturating_add(1);
            self.idle_since
                .get_or_insert_with(tokio::time::Instant::now);
        }
        Ok(true)
    }

    async fn bind_gang(
        &mut self,
        g: &QueuedGang,
        binds: &[drydock_core::Bind],
        snap: &mut Snapshot,
        now: SimTime,
    ) {
        let ns = self.config.namespace.clone();
        // A replica's cold start is drawn (the simulator's draw at its bind) and set on the
        // pod before the bind, so the fake kubelet sees it when it sees the pod bound.
        let mut skip: Vec<drydock_core::PodId> = Vec::new();
        if let Some(s) = g.service {
            for b in binds {
                let Some((_, name, _, _)) = g.pending.iter().find(|p| p.3 == b.pod) else {
                    continue;
                };
                let delay = self.services[s].draw_startup(name);
                if let Err(e) = self.actuator.set_startup_delay(&ns, name, delay).await {
                    tracing::warn!(pod = %name, error = %e, "cannot set the cold start");
                    skip.push(b.pod);
                }
            }
        }
        let binds: Vec<drydock_core::Bind> = binds
            .iter()
            .filter(|b| !skip.contains(&b.pod))
            .cloned()
            .collect();
        for &pod in &skip {
            if let Some(b) = snap
                .cluster
                .nodes
                .iter()
                .position(|n| n.pods.iter().any(|p| p.pod == pod))
            {
                let _ = snap.cluster.unbind(NodeId(b as u32), pod);
            }
        }
        let calls = binds.iter().map(|b| {
            let name = g
                .pending
                .iter()
                .find(|p| p.3 == b.pod)
                .map(|p| p.1.clone())
                .unwrap_or_default();
            let node = self.names[b.node.0 as usize].clone();
            let actuator = Arc::clone(&self.actuator);
            let ns = ns.clone();
            async move {
                let r = actuator.bind(&ns, &name, &node).await;
                (name, node, r)
            }
        });
        let results = futures::future::join_all(calls).await;
        let mut all_ok = skip.is_empty();
        let mut conflict = false;
        for ((name, node, r), b) in results.into_iter().zip(&binds) {
            match r {
                Ok(outcome) => {
                    if outcome == BindOutcome::AlreadyBound {
                        self.obs.bind_conflicts += 1;
                        conflict = true;
                    } else {
                        self.obs.binds += 1;
                    }
                    if let Some(s) = g.service {
                        self.services[s].bound(&name, now);
                    }
                    self.placements.insert(
                        name,
                        Placement {
                            node,
                            devices: b.devices,
                            bound_at_us: now.0,
                            observed: false,
                        },
                    );
                }
                Err(e) => {
                    all_ok = false;
                    self.obs.bind_errors += 1;
                    tracing::warn!(pod = %name, node = %node, error = %e, "bind failed");
                    let _ = snap.cluster.unbind(b.node, b.pod);
                }
            }
        }
        // After a 409 the pod's node is the one the API says, which the view shows later:
        // the job is started by `adopt_bound_gangs` once it does.
        if !all_ok || conflict || g.service.is_some() {
            return;
        }
        // Every pod of the gang bound now (this cycle's binds, plus any bound before).
        let Some(workers) = self.workload.job(g.job).map(|p| p.workers) else {
            return;
        };
        let gang = self.workload.gang(g.job);
        let mut nodes = Vec::with_capacity(workers as usize);
        for w in 0..workers {
            let name = crate::names::pod_name(&gang, w);
            let node = self
                .placements
                .get(&name)
                .map(|p| p.node.clone())
                .or_else(|| {
                    snap.ids
                        .get(&name)
                        .and_then(|id| snap.pods.get(id))
                        .and_then(|r| r.node)
                        .map(|n| self.names[n.0 as usize].clone())
                });
            match node.and_then(|n| self.names.iter().position(|x| *x == n)) {
                Some(i) => nodes.push(NodeId(i as u32)),
                None => return,
            }
        }
        let up = self.up.clone();
        self.workload.started(g.job, &nodes, now, |n| {
            !up.get(n.0 as usize).copied().unwrap_or(false)
        });
    }

    async fn apply_preemption(
        &mut self,
        preemptor: u32,
        p: &drydock_core::Preemption,
        snap: &Snapshot,
        now: SimTime,
    ) {
        // The simulator's rule: only running gangs are evicted. A gang stalled on a dead node
        // keeps its pods until Kubernetes evicts them (no kubelet would confirm a deletion).
        let victims = p.gangs_to_evict(
            |pod| snap.pods.get(&pod).and_then(|r| r.job).map(GroupId),
            |g| match self.workload.jobs.get(g.0 as usize).map(|s| s.phase) {
                Some(JobPhase::Running) => VictimState::Running,
                Some(JobPhase::Stalled) => VictimState::Stalled,
                _ => VictimState::Other,
            },
        );
        let mut count = 0;
        for GroupId(v) in victims {
            if !self.workload.preempt(v, preemptor, now) {
                continue;
            }
            count += 1;
            let gang = self.workload.gang(v);
            let workers = self.workload.job(v).map(|p| p.workers).unwrap_or(0);
            for w in 0..workers {
                let name = crate::names::pod_name(&gang, w);
                if let Err(e) = self.actuator.evict(&self.config.namespace, &name).await {
                    tracing::warn!(pod = %name, error = %e, "eviction failed; retrying on the next tick");
                    self.retry_ops.insert(name, PodOp::Evict);
                }
            }
        }
        if let Some(s) = self.workload.jobs.get_mut(preemptor as usize) {
            s.awaiting_victims += count;
            s.nominated = p.nominated_nodes();
        }
    }

    /// Closes the books of a run stopped before its end (Ctrl-C, SIGTERM): the report covers
    /// scenario time up to the last tick, nodes still up billed until then. Does nothing for a
    /// run that ended.
    pub fn interrupted(&mut self) {
        if self.end.is_none() {
            let now = self.now.max(self.usage.last);
            self.finish(now);
        }
    }

    fn finish(&mut self, end: SimTime) {
        for svc in &mut self.services {
            svc.finish(end);
        }
        let u = &mut self.usage;
        if end > u.last {
            u.area += u.alloc_milli as u128 * end.since(u.last).0 as u128;
            u.last = end;
        }
        self.meter.close(end);
        self.end = Some(end);
    }

    /// Deletes every pod of the run (grace 0) and every fake node. Errors are logged and
    /// returned after trying everything.
    pub async fn teardown(&self) -> Vec<RealError> {
        let mut errors = Vec::new();
        // Deployments first, so that their ReplicaSets do not replace the pods deleted below.
        for svc in &self.services {
            if let Err(e) = self
                .actuator
                .delete_deployment(&self.config.namespace, &svc.deployment)
                .await
            {
                errors.push(e);
            }
        }
        for p in self.view.pods() {
            if let Some(name) = &p.metadata.name
                && let Err(e) = self
                    .actuator
                    .delete_pod(&self.config.namespace, name, Some(0))
                    .await
            {
                errors.push(e);
            }
        }
        for name in &self.names {
            if let Err(e) = self.actuator.remove_node(name).await {
                errors.push(e);
            }
        }
        errors
    }

    /// The per-job table in the simulator's layout (`jobs.csv`, [`drydock_sim::JobRow`]):
    /// arrival, first start and end in scenario seconds, final phase, restarts, preemptions.
    pub fn job_rows(&self) -> Vec<drydock_sim::JobRow> {
        use drydock_sim::model::Phase;
        let w = &self.workload;
        w.plan
            .jobs
            .iter()
            .zip(&w.jobs)
            .enumerate()
            .map(|(j, (p, s))| drydock_sim::JobRow {
                name: p.name.clone(),
                workers: p.workers,
                gpus: w.gpu_milli(j as u32) as f64 / 1000.0,
                priority: p.priority,
                arrival_s: SimDuration(p.arrival.0).as_secs_f64(),
                start_s: s.first_start.map(|t| SimDuration(t.0).as_secs_f64()),
                end_s: s.finished.map(|t| SimDuration(t.0).as_secs_f64()),
                phase: match s.phase {
                    JobPhase::NotArrived => Phase::NotArrived,
                    JobPhase::Pending => Phase::Pending,
                    JobPhase::Running => Phase::Running,
                    JobPhase::Stalled => Phase::Stalled,
                    JobPhase::Terminating => Phase::Terminating,
                    JobPhase::Backoff => Phase::Backoff,
                    JobPhase::Completed => Phase::Completed,
                    JobPhase::Failed => Phase::Failed,
                },
                restarts: s.restarts,
                preemptions: s.preemptions,
            })
            .collect()
    }

    /// The run's report in the simulator's layout (`summary.json`): job counts, completion
    /// times and queueing delays, GPU allocation and fragmentation as observed through the
    /// API, restarts, preemptions, work lost, cost. `events` counts scheduling cycles; the event-log
    /// hash reads `none (real cluster)`.
    pub fn summary(&self) -> Summary {
        let w = &self.workload;
        let m = &w.metrics;
        let end = self.end.unwrap_or(self.usage.last);
        let hours = SimDuration(end.0).as_hours_f64();
        let mut jobs = JobCounts {
            total: w.jobs.len() as u64,
            submitted: m.arrived,
            completed: m.completed,
            failed: m.failed,
            ..Default::default()
        };
        for s in &w.jobs {
            match s.phase {
                JobPhase::Pending | JobPhase::Backoff => jobs.pending += 1,
                JobPhase::Running | JobPhase::Stalled | JobPhase::Terminating => jobs.running += 1,
                _ => {}
            }
        }
        let u = &self.usage;
        let cap = u.capacity_milli as f64;
        let capacity_area = self.meter.capacity_area;
        let gpu = GpuReport {
            capacity: cap / 1000.0,
            capacity_peak: self.meter.peak_capacity_milli.max(u.capacity_milli) as f64 / 1000.0,
            allocation_mean: if capacity_area > 0 {
                u.area as f64 / capacity_area as f64
            } else if cap > 0.0 {
                u.alloc_milli as f64 / cap
            } else {
                0.0
            },
            allocated_peak: u.peak_milli as f64 / 1000.0,
            allocated_end: u.alloc_milli as f64 / 1000.0,
            fragmentation_mean: if u.frag_n > 0 {
                u.frag_sum / u.frag_n as f64
            } else {
                0.0
            },
            fragmentation_end: u.frag_last,
            fragmented_gpus_end: u.frag_amount_last,
            arrived_over_capacity: 0.0,
        };
        let gh = |x: u128| x as f64 / 1e6 / 3600.0;
        let (lost, idle, over) = (
            gh(m.lost_work_gpu_us),
            gh(m.idle_held_gpu_us),
            gh(m.restart_overhead_gpu_us),
        );
        let failures = FailureReport {
            node_failures: m.failures[0],
            gpu_failures: m.failures[1],
            pool_outage_nodes: m.failures[2],
            zone_outage_nodes: m.failures[3],
            restarts: m.restarts,
            preemptions: m.preemptions,
            gang_timeouts: 0,
            lost_work_gpu_hours: lost,
            idle_held_gpu_hours: idle,
            restart_overhead_gpu_hours: over,
            gpu_hours_lost: lost + idle + over,
            preemption_lost_gpu_hours: gh(m.preemption_lost_gpu_us),
            preemption_restart_overhead_gpu_hours: gh(m.preemption_overhead_gpu_us),
        };
        let cost = CostReport::from_pools(drydock_sim::report::pool_costs(&self.meter), hours);
        let completed_requests: u64 = self
            .services
            .iter()
            .map(|s| s.runtime.summary().completed)
            .sum();
        let services = self
            .services
            .iter()
            .map(|s| s.report(end, cost.total, completed_requests))
            .collect();
        Summary {
            version: SUMMARY_VERSION,
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            policy: self.scheduler.config().policy.name().to_string(),
            // Nodes up at the end (not failed, not deleted), as the simulator counts them.
            nodes: self.up.iter().filter(|&&u| u).count() as u64,
            virtual_time_s: SimDuration(end.0).as_secs_f64(),
            events: self.obs.cycles,
            jobs,
            jct: percentiles(&m.jct_us),
            queueing_delay: percentiles(&m.queueing_delay_us),
            gpu,
            failures,
            cost,
            allocation_curve: Vec::new(),
            fragmentation_curve: Vec::new(),
            event_log_sha256: "none (real cluster)".to_string(),
            horizon_reached: false,
            services,
            autoscaling: drydock_sim::report::AutoscalingReport {
                decisions: self.decisions.clone(),
                ..self
                    .fleet
                    .as_ref()
                    .map_or_else(Default::default, RealFleet::report)
            },
        }
    }
}

/// True when `node` has `Ready=True` and no `not-ready` or `unreachable` taint.
pub fn node_ready(node: &k8s_openapi::api::core::v1::Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| {
            t.iter().any(|t| {
                t.key == drydock_core::cluster::TAINT_NOT_READY
                    || t.key == drydock_core::cluster::TAINT_UNREACHABLE
            })
        });
    ready && !tainted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::{Call, MemCluster};

    const S: u64 = 1_000_000;

    fn scenario(body: &str) -> Scenario {
        let yaml = format!(
            "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  cluster:\n    pools:\n      - {{name: a, nodes: 2, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 512Gi}}\n{body}"
        );
        drydock_scenarios::load_str(&yaml, "test.yaml").expect("valid scenario")
    }

    fn driver(s: &Scenario) -> (Driver<MemCluster, Arc<MemCluster>>, Arc<MemCluster>) {
        let mem = Arc::new(MemCluster::new());
        let config = DriverConfig::new("r1", "ns", TimeScale::REAL_TIME);
        let d =
            Driver::new(s, None, None, config, Arc::clone(&mem), Arc::clone(&mem)).expect("driver");
        (d, mem)
    }

    impl ClusterView for Arc<MemCluster> {
        fn nodes(&self) -> Vec<Arc<k8s_openapi::api::core::v1::Node>> {
            (**self).nodes()
        }
        fn pods(&self) -> Vec<Arc<Pod>> {
            (**self).pods()
        }
    }

    async fn ticks(d: &mut Driver<MemCluster, Arc<MemCluster>>, from_s: u64, to_s: u64) {
        for t in from_s..=to_s {
            d.tick(SimTime(t * S), SimDuration(S)).await.expect("tick");
        }
    }

    fn node_of_pod(mem: &MemCluster, name: &str) -> Option<String> {
        mem.pod(name).and_then(|p| p.spec.and_then(|s| s.node_name))
    }

    #[tokio::test]
    async fn gangs_bind_all_or_nothing_and_each_pod_once() {
        let s = scenario(
            "  training:\n    - {name: fits, arrival: 0s, workers: 2, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 1h}\n    - {name: toobig, arrival: 0s, workers: 3, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 1h}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        assert!(d.not_ready().is_empty());
        ticks(&mut d, 0, 3).await;
        let a = node_of_pod(&mem, "fits-j0-a0-w0");
        let b = node_of_pod(&mem, "fits-j0-a0-w1");
        assert!(a.is_some() && b.is_some() && a != b, "{a:?} {b:?}");
        for w in 0..3 {
            let name = format!("toobig-j1-a0-w{w}");
            assert!(mem.pod(&name).is_some(), "{name} created");
            assert_eq!(node_of_pod(&mem, &name), None, "{name} never bound");
        }
        let binds = mem
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Bind(..)))
            .count();
        assert_eq!(binds, 2, "only the gang that fits is bound, once");
        assert_eq!(mem.binds_of("fits-j0-a0-w0"), 1);
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Running);
        assert_eq!(d.workload().jobs[1].phase, JobPhase::Pending);
    }

    #[tokio::test]
    async fn jobs_complete_when_their_work_ends_and_pods_succeed() {
        let s = scenario(
            "  training:\n    - {name: j, arrival: 0s, workers: 1, gpusPerWorker: 4, work: 10s}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        // The in-memory cluster shows created pods at once: created and bound at t=0, so the
        // work ends at 10 s.
        ticks(&mut d, 0, 9).await;
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Running);
        assert_eq!(d.workload().jobs[0].finish_at, Some(SimTime(10 * S)));
        ticks(&mut d, 10, 10).await;
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Completed);
        assert!(
            mem.calls()
                .contains(&Call::Finish("j-j0-a0-w0".into(), true))
        );
        let pod = mem.pod("j-j0-a0-w0").expect("pod");
        assert_eq!(
            pod.status.and_then(|s| s.phase).as_deref(),
            Some("Succeeded")
        );
        let sum = d.summary();
        assert_eq!(sum.jobs.completed, 1);
        assert_eq!(sum.jct.max, 10.0);
        assert_eq!(sum.queueing_delay.max, 0.0);
    }

    #[tokio::test]
    async fn a_failed_node_gets_its_gang_replaced_elsewhere() {
        let s = scenario(
            "  training:\n    - {name: j, arrival: 0s, workers: 1, gpusPerWorker: 8, work: 1h, checkpointInterval: 1m, restartOverhead: 30s}\n  failures:\n    scheduled:\n      - {at: 5m, node: a-0}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        ticks(&mut d, 0, 2).await;
        let first = node_of_pod(&mem, "j-j0-a0-w0").expect("bound");
        // Make the failure hit the node the job is on.
        assert_eq!(
            first,
            d.node_names()[0],
            "binpack-free default places on the first node"
        );
        ticks(&mut d, 300, 303).await;
        assert!(
            mem.calls()
                .contains(&Call::FailNode(d.node_names()[0].clone()))
        );
        assert!(mem.pod("j-j0-a0-w0").is_none(), "old pod deleted");
        let second = node_of_pod(&mem, "j-j0-a1-w0");
        assert_eq!(second.as_deref(), Some(d.node_names()[1].as_str()));
        let st = &d.workload().jobs[0];
        assert_eq!(
            (st.phase, st.restarts, st.attempt),
            (JobPhase::Running, 1, 1)
        );
        // Failed at exactly 5 min of work with free 1-min checkpoints: all 5 min saved.
        assert_eq!(st.done, SimDuration::from_mins(5));
        let sum = d.summary();
        assert_eq!(sum.failures.restarts, 1);
        assert_eq!(sum.failures.node_failures, 1);
        // The in-memory node lifecycle controller taints the node at once: seen on the
        // failure's own tick.
        assert_eq!(
            d.observations().detections,
            vec![Detection {
                node: d.node_names()[0].clone(),
                failed_at: SimTime(SimDuration::from_secs(300).0),
                detected_at: Some(SimTime(SimDuration::from_secs(300).0)),
            }]
        );
        assert_eq!(
            d.observations().detections[0].delay(),
            Some(SimDuration::ZERO)
        );
    }

    #[tokio::test]
    async fn high_priority_gangs_preempt_and_victims_requeue() {
        let s = scenario(
            "  training:\n    - {name: low, arrival: 0s, workers: 2, gpusPerWorker: 8, work: 1h, checkpointInterval: 10m}\n    - {name: high, arrival: 30s, workers: 1, gpusPerWorker: 8, work: 10m, priority: 100}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        ticks(&mut d, 0, 32).await;
        assert!(mem.calls().contains(&Call::Evict("low-j0-a0-w0".into())));
        assert!(mem.calls().contains(&Call::Evict("low-j0-a0-w1".into())));
        assert!(node_of_pod(&mem, "high-j1-a0-w0").is_some());
        let low = &d.workload().jobs[0];
        assert_eq!(low.preemptions, 1);
        assert_eq!(low.restarts, 0);
        assert_eq!(low.phase, JobPhase::Pending, "requeued, waits for the GPUs");
        assert!(mem.pod("low-j0-a1-w0").is_some());
        assert_eq!(d.summary().failures.preemptions, 1);
    }

    #[tokio::test]
    async fn a_failed_bind_leaves_the_rest_of_the_gang_to_the_next_cycle() {
        let s = scenario(
            "  training:\n    - {name: g, arrival: 0s, workers: 2, gpusPerWorker: 4, work: 1h}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        mem.fail_binds_of("g-j0-a0-w1");
        ticks(&mut d, 0, 2).await;
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Pending);
        // One failed bind per cycle; the worker bound first is never bound again.
        assert_eq!(d.observations().bind_errors, 3);
        assert_eq!(mem.binds_of("g-j0-a0-w0"), 1);
        // The server recovers: the missing worker binds, the gang starts.
        mem.allow_binds_of("g-j0-a0-w1");
        ticks(&mut d, 3, 3).await;
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Running);
        assert_eq!(mem.binds_of("g-j0-a0-w0"), 1);
        assert_eq!(mem.binds_of("g-j0-a0-w1"), 1);
        let n0 = node_of_pod(&mem, "g-j0-a0-w0");
        let n1 = node_of_pod(&mem, "g-j0-a0-w1");
        assert!(n0.is_some() && n1.is_some());
    }

    #[tokio::test]
    async fn the_default_scenario_ends_like_the_simulator_on_the_in_memory_cluster() {
        let s = drydock_scenarios::load_named_or_path("default").expect("built-in");
        let mut sim = drydock_sim::Simulation::new(&s, None, None).expect("sim");
        sim.run(|_| {}).expect("runs");
        let want = sim.summary();
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        let cycle = SimDuration(S);
        // A tick every 10 s of scenario time (the driver's cycles run at its ticks).
        let mut t = 0;
        while t <= 12 * 3600 {
            d.tick(SimTime(t * S), cycle).await.expect("tick");
            t += 10;
        }
        d.finish(SimTime(12 * 3600 * S));
        let got = d.summary();
        assert_eq!(got.jobs.completed, want.jobs.completed, "{:?}", got.jobs);
        assert_eq!(got.jobs.failed, want.jobs.failed);
        assert_eq!(got.failures.node_failures, want.failures.node_failures);
        assert_eq!(got.failures.restarts, want.failures.restarts);
        assert_eq!(got.failures.preemptions, want.failures.preemptions);
        assert!(d.observations().overcommitted.is_empty());
        assert!(d.observations().rebound.is_empty());
        // Every pod bound at most once.
        let mut bound: BTreeMap<String, u32> = BTreeMap::new();
        for c in mem.calls() {
            if let Call::Bind(p, _) = c {
                *bound.entry(p).or_default() += 1;
            }
        }
        assert!(bound.values().all(|&n| n == 1), "{bound:?}");
        // Allocation is within a few points of the simulator's (failure detection is instant
        // here, 5 min 50 s in the simulator).
        assert!(
            (got.gpu.allocation_mean - want.gpu.allocation_mean).abs() < 0.05,
            "{} vs {}",
            got.gpu.allocation_mean,
            want.gpu.allocation_mean
        );
    }

    /// An autoscaled pool (1 to 3 nodes of 8 GPUs, nodes provisioned in 2 min, scale-down
    /// after 5 min unneeded) and three whole-node jobs of 20 min: the Cluster Autoscaler adds
    /// two nodes, the jobs run, and the empty nodes go again.
    pub(crate) const AUTOSCALED_POOL: &str = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: ca}\nspec:\n  duration: 1h\n  cluster:\n    pools:\n      - name: gpu\n        nodes: 1\n        gpuModel: A100\n        gpusPerNode: 8\n        cpu: \"96\"\n        memory: 512Gi\n        pricePerNodeHour: 10\n        autoscaling: {minNodes: 1, maxNodes: 3, provisioningTime: {kind: fixed, value: 2m}}\n    autoscaler:\n      scaleDown: {unneededTime: 5m, delayAfterAdd: 5m}\n  training:\n    - {name: j, count: 3, arrival: 0s, workers: 1, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 20m}\n";

    #[tokio::test]
    async fn the_cluster_autoscaler_adds_and_removes_nodes_like_the_simulator() {
        let s = drydock_scenarios::load_str(AUTOSCALED_POOL, "ca.yaml").expect("valid scenario");
        let mut sim = drydock_sim::Simulation::new(&s, None, None).expect("sim");
        sim.run(|_| {}).expect("runs");
        let want = sim.summary();
        let (mut d, mem) = driver(&s);
        assert!(d.warnings().is_empty(), "{:?}", d.warnings());
        d.setup().await.expect("setup");
        ticks(&mut d, 0, 3600).await;
        d.finish(SimTime(3600 * S));
        let got = d.summary();
        let calls = mem.calls();
        let added: Vec<&String> = calls
            .iter()
            .filter_map(|c| match c {
                Call::AddNode(n) => Some(n),
                _ => None,
            })
            .collect();
        // The initial node, then the two the scale-up asked for, named as the simulator names
        // them.
        assert_eq!(added.len(), 3, "{added:?}");
        assert!(
            added[1].ends_with("gpu-1") && added[2].ends_with("gpu-2"),
            "{added:?}"
        );
        let removed = calls
            .iter()
            .filter(|c| matches!(c, Call::RemoveNode(_)))
            .count();
        assert_eq!(removed, 2, "both added nodes deleted once empty");
        assert_eq!(got.jobs.completed, 3);
        assert_eq!(got.jobs.completed, want.jobs.completed);
        let (g, w) = (&got.autoscaling, &want.autoscaling);
        assert_eq!(g.nodes_registered, w.nodes_registered);
        assert_eq!(g.nodes_deleted, w.nodes_deleted);
        assert_eq!(g.provisioning_time.p50, w.provisioning_time.p50);
        // The same Cluster Autoscaler decisions at the same times (the driver ticks once a
        // second, as the simulator's scan interval is 10 s).
        let ca = |d: &[drydock_sim::engine::fleet::ScaleDecision]| -> Vec<(u64, String, u32, u32)> {
            d.iter()
                .filter(|x| x.actor == "cluster-autoscaler")
                .map(|x| (x.time_s as u64, x.target.clone(), x.from, x.to))
                .collect()
        };
        assert_eq!(ca(&g.decisions), ca(&w.decisions));
        assert_eq!(
            ca(&g.decisions).len(),
            3,
            "one scale-up, two scale-downs: {:?}",
            g.decisions
        );
        // Billed from the scale-up request to the deletion, as in the simulator.
        assert!(
            (got.cost.total - want.cost.total).abs() < 0.01 * want.cost.total,
            "{} vs {}",
            got.cost.total,
            want.cost.total
        );
        assert_eq!(got.cost.pools[0].peak_nodes, 3);
        assert_eq!(got.nodes, 1);
        assert!(d.observations().overcommitted.is_empty());
    }

    #[tokio::test]
    async fn random_failures_are_injected_as_the_simulator_draws_them() {
        // Two nodes failing every 3 h on average (a GPU every 20 days), repaired in 30 min,
        // over 12 h: the same failures at the same times as in the simulator, from the same
        // seed.
        let s = scenario(
            "  duration: 12h\n  failures:\n    random: {nodeMtbf: 3h, gpuMtbf: 20d, repairTime: {kind: fixed, value: 30m}}\n  training:\n    - {name: t, count: 4, arrival: 0s, workers: 1, gpusPerWorker: 4, cpu: \"8\", memory: 8Gi, work: 2h, checkpointInterval: 10m}\n",
        );
        let mut sim = drydock_sim::Simulation::new(&s, None, None).expect("sim");
        sim.run(|_| {}).expect("runs");
        let want = sim.summary();
        let (mut d, mem) = driver(&s);
        assert!(d.warnings().is_empty(), "{:?}", d.warnings());
        d.setup().await.expect("setup");
        let mut t = 0;
        while t <= 12 * 3600 {
            d.tick(SimTime(t * S), SimDuration(S)).await.expect("tick");
            t += 10;
        }
        d.finish(SimTime(12 * 3600 * S));
        let got = d.summary();
        let failed = |f: &drydock_sim::report::FailureReport| f.node_failures + f.gpu_failures;
        assert!(failed(&want.failures) >= 2, "{:?}", want.failures);
        assert_eq!(got.failures.node_failures, want.failures.node_failures);
        assert_eq!(got.failures.gpu_failures, want.failures.gpu_failures);
        // Each failure stopped its node's kubelet, at the simulator's time.
        let stops = mem
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::FailNode(_)))
            .count() as u64;
        assert_eq!(stops, failed(&got.failures));
        assert_eq!(got.jobs.completed, want.jobs.completed);
    }

    /// An on-demand node, a fixed spot pool of 3 and an autoscaled spot pool of 1 to 3 (spot
    /// nodes interrupted every 3 h and 4 h on average), six 3-hour whole-node jobs over 12 h.
    pub(crate) const SPOT_POOLS: &str = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: spot}\nspec:\n  duration: 12h\n  cluster:\n    pools:\n      - {name: od, nodes: 1, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 512Gi, pricePerNodeHour: 30}\n      - name: sp\n        nodes: 3\n        gpuModel: A100\n        gpusPerNode: 8\n        cpu: \"96\"\n        memory: 512Gi\n        pricePerNodeHour: 10\n        spot: {meanTimeToInterruption: 3h, notice: 2m}\n      - name: spa\n        nodes: 1\n        gpuModel: A100\n        gpusPerNode: 8\n        cpu: \"96\"\n        memory: 512Gi\n        pricePerNodeHour: 10\n        spot: {meanTimeToInterruption: 4h}\n        autoscaling: {minNodes: 1, maxNodes: 3, provisioningTime: {kind: fixed, value: 3m}}\n  training:\n    - {name: t, count: 6, arrival: 0s, workers: 1, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 3h, checkpointInterval: 15m}\n";

    #[tokio::test]
    async fn spot_interruptions_drain_and_replace_nodes_like_the_simulator() {
        let s = drydock_scenarios::load_str(SPOT_POOLS, "spot.yaml").expect("valid scenario");
        let mut sim = drydock_sim::Simulation::new(&s, None, None).expect("sim");
        sim.run(|_| {}).expect("runs");
        let want = sim.summary();
        let (mut d, mem) = driver(&s);
        assert!(d.warnings().is_empty(), "{:?}", d.warnings());
        d.setup().await.expect("setup");
        ticks(&mut d, 0, 12 * 3600).await;
        d.finish(SimTime(12 * 3600 * S));
        let got = d.summary();
        let (g, w) = (&got.autoscaling, &want.autoscaling);
        assert!(w.spot_interruptions >= 3, "{w:?}");
        assert_eq!(g.spot_interruptions, w.spot_interruptions);
        assert_eq!(g.spot_evictions, w.spot_evictions);
        assert_eq!(g.nodes_registered, w.nodes_registered);
        assert_eq!(g.nodes_deleted, w.nodes_deleted);
        // The cloud's decisions (interruptions, replacements) as the simulator's, each at the
        // first tick (a second apart here) at or after the simulator's time, or within a
        // minute for nodes the autoscaler added: the in-memory cluster deletes evicted pods at
        // once, so a gang evicted by an interruption is requeued (and its nodes asked for) up to
        // its termination grace period earlier than in the simulator.
        let cloud =
            |d: &[drydock_sim::engine::fleet::ScaleDecision]| -> Vec<(f64, String, u32, u32)> {
                d.iter()
                    .filter(|x| x.actor == "cloud")
                    .map(|x| (x.time_s, x.target.clone(), x.from, x.to))
                    .collect()
            };
        let (gc, wc) = (cloud(&g.decisions), cloud(&w.decisions));
        assert_eq!(gc.len(), wc.len(), "{gc:?} vs {wc:?}");
        for (a, b) in gc.iter().zip(&wc) {
            assert_eq!((&a.1, a.2, a.3), (&b.1, b.2, b.3), "{gc:?} vs {wc:?}");
            assert!((a.0 - b.0).abs() <= 60.0, "{gc:?} vs {wc:?}");
        }
        // Each interrupted node was cordoned, then deleted through the API.
        let calls = mem.calls();
        let cordons = calls
            .iter()
            .filter(|c| matches!(c, Call::Cordon(_, true)))
            .count() as u64;
        assert!(cordons >= g.spot_interruptions, "{cordons}");
        assert_eq!(got.jobs.completed, want.jobs.completed);
        assert!(
            (got.cost.total - want.cost.total).abs() < 0.02 * want.cost.total,
            "{} vs {}",
            got.cost.total,
            want.cost.total
        );
        assert!(d.observations().overcommitted.is_empty());
    }

    #[tokio::test]
    async fn an_interrupted_run_bills_its_nodes_and_counts_allocation_up_to_its_last_tick() {
        // Two nodes of 8 GPUs and one whole-node
        // job; the run is stopped at 30 min of a 2-hour scenario.
        let s = scenario(
            "  duration: 2h\n  training:\n    - {name: t, arrival: 0s, workers: 1, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 1h}\n",
        );
        let (mut d, _mem) = driver(&s);
        d.setup().await.expect("setup");
        ticks(&mut d, 0, 30 * 60).await;
        d.interrupted();
        let got = d.summary();
        assert_eq!(got.virtual_time_s, 1800.0);
        // 2 nodes for half an hour.
        assert!((got.cost.node_hours - 1.0).abs() < 1e-9, "{:?}", got.cost);
        // One node of two busy throughout: half the GPUs.
        assert!(
            (got.gpu.allocation_mean - 0.5).abs() < 0.01,
            "{}",
            got.gpu.allocation_mean
        );
    }

    /// A service with a traffic step: 5 req/s, 60 req/s from 2 min to 6 min, then 5 again;
    /// the HPA (target 10 req/s per pod, 1 to 4 replicas) scales up, then down.
    pub(crate) const STEP_SERVICE: &str = "  duration: 12m\n  services:\n    - name: web\n      replicas: 1\n      gpusPerReplica: 1\n      cpu: \"2\"\n      memory: 4Gi\n      startup: {imagePull: {kind: fixed, value: 10s}, modelLoad: {kind: fixed, value: 20s}}\n      generic: {serviceTime: {kind: exponential, mean: 200ms}, concurrency: 4}\n      queue: {capacity: 64, timeout: 10s}\n      traffic:\n        steps: [{at: 0s, rate: 5}, {at: 2m, rate: 60}, {at: 6m, rate: 5}]\n      autoscaling:\n        minReplicas: 1\n        maxReplicas: 4\n        metrics: [{type: requests-per-second, averageValue: 10}]\n        behavior: {scaleDown: {stabilizationWindow: 1m}}\n";

    #[tokio::test]
    async fn a_service_is_a_deployment_whose_replicas_the_hpa_scales_like_the_simulator() {
        let s = scenario(STEP_SERVICE);
        let mut sim = drydock_sim::Simulation::new(&s, None, None).expect("sim");
        sim.run(|_| {}).expect("runs");
        let want = sim.summary();
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        ticks(&mut d, 0, 12 * 60).await;
        d.finish(SimTime(12 * 60 * S));
        let got = d.summary();
        let calls = mem.calls();
        assert!(calls.contains(&Call::CreateDeployment("svc0-web".into())));
        // Every replica pod got its cold start (10 s + 20 s) before its bind.
        let delays: Vec<u64> = calls
            .iter()
            .filter_map(|c| match c {
                Call::StartupDelay(_, us) => Some(*us),
                _ => None,
            })
            .collect();
        assert!(!delays.is_empty());
        assert!(delays.iter().all(|&us| us == 30 * S), "{delays:?}");
        let scales: Vec<i32> = calls
            .iter()
            .filter_map(|c| match c {
                Call::Scale(_, r) => Some(*r),
                _ => None,
            })
            .collect();
        let peak = scales.iter().copied().max().unwrap_or(0);
        assert!(peak > 1 && peak <= 4, "{scales:?}");
        assert!(scales.iter().all(|&r| (1..=4).contains(&r)), "{scales:?}");
        assert_eq!(scales.last(), Some(&1), "scaled back down: {scales:?}");
        // The same decisions as the simulator's, within one replica at each HPA sync.
        let sim_decisions = &want.autoscaling.decisions;
        let desired_at = |decisions: &[drydock_sim::engine::fleet::ScaleDecision], t: f64| {
            decisions
                .iter()
                .rfind(|x| x.time_s <= t)
                .map_or(1, |x| x.to)
        };
        for (_, sync) in &d.observations().hpa_syncs {
            let sim_r = desired_at(sim_decisions, sync.time_s);
            assert!(
                sync.to.abs_diff(sim_r) <= 1,
                "at {} s: real {} sim {sim_r}",
                sync.time_s,
                sync.to
            );
        }
        assert_eq!(got.services.len(), 1);
        let (g, w) = (&got.services[0], &want.services[0]);
        assert_eq!(g.name, "web");
        assert_eq!(g.requests, w.requests, "same traffic");
        assert!(g.completed > 0);
        assert_eq!(g.replicas_end, 1);
        assert!(!got.autoscaling.decisions.is_empty());
    }

    /// A view that shows some pods as they were (a watch that has not delivered their last
    /// update yet).
    struct LaggingView {
        mem: Arc<MemCluster>,
        stale: std::sync::Mutex<BTreeMap<String, Arc<Pod>>>,
    }

    impl ClusterView for LaggingView {
        fn nodes(&self) -> Vec<Arc<k8s_openapi::api::core::v1::Node>> {
            self.mem.nodes()
        }
        fn pods(&self) -> Vec<Arc<Pod>> {
            let stale = self.stale.lock().expect("lock");
            let mut pods: Vec<Arc<Pod>> = self
                .mem
                .pods()
                .into_iter()
                .filter(|p| {
                    !p.metadata
                        .name
                        .as_ref()
                        .is_some_and(|n| stale.contains_key(n))
                })
                .collect();
            pods.extend(stale.values().cloned());
            pods
        }
    }

    #[tokio::test]
    async fn a_cycle_waits_until_a_completed_gang_is_seen_released_in_full() {
        // `a` holds both nodes until 10 s; `b` waits for a whole node.
        let s = scenario(
            "  training:\n    - {name: a, arrival: 0s, workers: 2, gpusPerWorker: 8, work: 10s}\n    - {name: b, arrival: 1s, workers: 1, gpusPerWorker: 8, work: 1h}\n",
        );
        let mem = Arc::new(MemCluster::new());
        let view = LaggingView {
            mem: Arc::clone(&mem),
            stale: Default::default(),
        };
        let config = DriverConfig::new("r1", "ns", TimeScale::REAL_TIME);
        let mut d = Driver::new(&s, None, None, config, Arc::clone(&mem), view).expect("driver");
        d.setup().await.expect("setup");
        for t in 0..=9 {
            d.tick(SimTime(t * S), SimDuration(S)).await.expect("tick");
        }
        assert_eq!(d.workload().jobs[1].phase, JobPhase::Pending);
        // At 10 s `a` completes and both its pods are marked Succeeded, but the view still
        // shows worker 1 running: the cycle waits rather than place `b` on a half-released
        // cluster (the simulator releases the gang in one event).
        let w1 = mem.pod("a-j0-a0-w1").expect("pod");
        d.view
            .stale
            .lock()
            .expect("lock")
            .insert("a-j0-a0-w1".into(), Arc::new(w1));
        d.tick(SimTime(10 * S), SimDuration(S)).await.expect("tick");
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Completed);
        assert_eq!(d.workload().jobs[1].phase, JobPhase::Pending);
        assert_eq!(node_of_pod(&mem, "b-j1-a0-w0"), None);
        assert_eq!(d.observations().cycles_deferred, 1);
        // The watch catches up: `b` is placed at the next tick.
        d.view.stale.lock().expect("lock").clear();
        d.tick(SimTime(10 * S + 1), SimDuration(S))
            .await
            .expect("tick");
        assert_eq!(d.workload().jobs[1].phase, JobPhase::Running);
        assert!(node_of_pod(&mem, "b-j1-a0-w0").is_some());
    }

    #[tokio::test]
    async fn a_completion_restarts_the_quiet_period_so_waiting_jobs_get_their_turn() {
        // `b` waits for `a`'s GPUs; with no quiet period, only the idle-cycle count keeps the
        // run going while nothing happens.
        let s = scenario(
            "  training:\n    - {name: a, arrival: 0s, workers: 2, gpusPerWorker: 8, work: 20s}\n    - {name: b, arrival: 1s, workers: 1, gpusPerWorker: 8, work: 1h}\n",
        );
        let mem = Arc::new(MemCluster::new());
        let view = LaggingView {
            mem: Arc::clone(&mem),
            stale: Default::default(),
        };
        let mut config = DriverConfig::new("r1", "ns", TimeScale::REAL_TIME);
        config.quiet_period = Duration::ZERO;
        let mut d = Driver::new(&s, None, None, config, Arc::clone(&mem), view).expect("driver");
        d.setup().await.expect("setup");
        for t in 0..=19 {
            d.tick(SimTime(t * S), SimDuration(S)).await.expect("tick");
            assert!(!d.is_over(), "{t} s: `a` runs");
        }
        // `a` completes at 20 s; the watch has not shown its pods Succeeded yet, so this
        // tick's cycle cannot place `b`. That must not end the run.
        for w in ["a-j0-a0-w0", "a-j0-a0-w1"] {
            let p = mem.pod(w).expect("pod");
            d.view
                .stale
                .lock()
                .expect("lock")
                .insert(w.into(), Arc::new(p));
        }
        d.tick(SimTime(20 * S), SimDuration(S)).await.expect("tick");
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Completed);
        assert!(
            !d.is_over(),
            "ended with `b` pending just as `a` released its GPUs"
        );
        d.view.stale.lock().expect("lock").clear();
        d.tick(SimTime(21 * S), SimDuration(S)).await.expect("tick");
        assert_eq!(d.workload().jobs[1].phase, JobPhase::Running);
    }

    #[tokio::test]
    async fn a_completion_whose_status_write_fails_is_retried_until_the_pod_succeeds() {
        let s = scenario(
            "  training:\n    - {name: j, arrival: 0s, workers: 1, gpusPerWorker: 4, work: 10s}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        ticks(&mut d, 0, 9).await;
        // The API server is down when the work ends: the job completes (scenario time goes
        // on), the pod's Succeeded write fails and is retried on later ticks.
        mem.fail_next_finishes(2);
        ticks(&mut d, 10, 10).await;
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Completed);
        assert_eq!(
            mem.pod("j-j0-a0-w0")
                .and_then(|p| p.status)
                .and_then(|s| s.phase)
                .as_deref(),
            Some("Running")
        );
        let err = d
            .tick(SimTime(11 * S), SimDuration(S))
            .await
            .expect_err("the retried status write failed too");
        assert!(err.is_transient(), "{err}");
        ticks(&mut d, 12, 13).await;
        assert_eq!(
            mem.pod("j-j0-a0-w0")
                .and_then(|p| p.status)
                .and_then(|s| s.phase)
                .as_deref(),
            Some("Succeeded")
        );
        let finishes = mem
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Finish(..)))
            .count();
        assert_eq!(
            finishes, 3,
            "two failed writes, one that took effect, none after"
        );
        assert_eq!(d.observations().pod_ops_retried, 2);
        assert_eq!(d.summary().jobs.completed, 1);
    }

    #[tokio::test]
    async fn a_gang_bound_behind_a_lost_response_is_started_once_seen_bound() {
        let s = scenario(
            "  training:\n    - {name: g, arrival: 0s, workers: 2, gpusPerWorker: 4, work: 1h}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        // The bind of worker 1 takes effect but its response is lost.
        mem.lose_bind_responses_of("g-j0-a0-w1");
        ticks(&mut d, 0, 0).await;
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Pending);
        assert_eq!(d.observations().bind_errors, 1);
        // The next cycle sees both pods bound: the job runs, and no pod is bound again.
        ticks(&mut d, 1, 2).await;
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Running);
        assert_eq!(d.observations().gangs_adopted, 1);
        assert_eq!(mem.binds_of("g-j0-a0-w0"), 1);
        assert_eq!(mem.binds_of("g-j0-a0-w1"), 1);
    }

    #[tokio::test]
    async fn pods_whose_creation_failed_are_created_on_the_next_tick() {
        let s = scenario(
            "  training:\n    - {name: g, arrival: 0s, workers: 2, gpusPerWorker: 4, work: 1h}\n",
        );
        let (mut d, mem) = driver(&s);
        d.setup().await.expect("setup");
        mem.fail_next_creates(1);
        let err = d
            .tick(SimTime(0), SimDuration(S))
            .await
            .expect_err("create failed");
        assert!(err.is_transient(), "{err}");
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Pending);
        ticks(&mut d, 1, 1).await;
        assert!(mem.pod("g-j0-a0-w0").is_some() && mem.pod("g-j0-a0-w1").is_some());
        assert_eq!(d.workload().jobs[0].phase, JobPhase::Running);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_duration_the_run_ends_at_the_last_completion_or_when_nothing_can_change() {
        let s = scenario(
            "  training:\n    - {name: ok, arrival: 0s, workers: 1, gpusPerWorker: 8, work: 30m}\n",
        );
        let (mut d, _mem) = driver(&s);
        d.setup().await.expect("setup");
        let clock = crate::clock::ScaledClock::start(TimeScale::new(60.0).expect("scale"));
        let end = d.run(&clock).await.expect("runs");
        assert_eq!(end, SimTime(30 * 60 * S));
        assert_eq!(d.summary().virtual_time_s, 1800.0);
        // A gang that can never fit: the run ends after the quiet period, the job pending.
        let s = scenario(
            "  training:\n    - {name: big, arrival: 0s, workers: 3, gpusPerWorker: 8, work: 30m}\n",
        );
        let (mut d, _mem) = driver(&s);
        d.setup().await.expect("setup");
        let clock = crate::clock::ScaledClock::start(TimeScale::new(60.0).expect("scale"));
        d.run(&clock).await.expect("runs");
        assert_eq!(d.summary().jobs.pending, 1);
    }
}
