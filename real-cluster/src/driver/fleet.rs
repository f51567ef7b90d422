//! The Cluster Autoscaler on a real cluster: **the core's loop**
//! ([`drydock_core::autoscale::ca::ClusterAutoscaler::run_once`], the simulator's) run every
//! `scanInterval` of scenario time on a [`CaView`] built from what the API reports, its
//! decisions applied as a cloud provider would: a scale-up asks [`NodeFactory`] (the
//! simulator's, same seed: same names, shapes, provisioning delays and stockouts) for nodes,
//! which the fake kubelet registers when their provisioning delay is over; a scale-down
//! cordons the node through the API, evicts its pods (training gangs requeue, Deployments
//! replace their replicas) and deletes the Node after the termination grace period, as the
//! simulator does (`drydock_sim::engine::fleet`). Nodes are billed from the scale-up request
//! until their deletion, or until the autoscaler gives up on a node that never came.
//!
//! Spot pools: each spot node's interruptions are drawn from the simulator's `spot` stream
//! ([`next_interruption`]); at one, the node is cordoned and drained for the pool's `notice`
//! and then deleted; a pool the autoscaler does not manage asks for a replacement at once, an
//! autoscaled pool gets one from the autoscaler if its pods need it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use drydock_core::autoscale::ca::{
    CaAction, CaConfig, CaNodeInfo, CaNodeState, CaView, ClusterAutoscaler, UnschedulablePod,
    UpcomingNode,
};
use drydock_core::{NodeId, PodId, PodSpec, SimTime};
use drydock_scenarios::Scenario;
use drydock_sim::engine::fleet::{
    NodeFactory, ScaleDecision, autoscaler_can_still_act, next_interruption,
};
use k8s_openapi::api::core::v1::Pod;
use rand_pcg::Pcg64;

use super::{Driver, PodOp, node_ready};
use crate::actuator::{Actuator, ClusterView};
use crate::error::RealError;
use crate::names::LABEL_JOB;
use crate::objects::{FakeNodeSpec, pod_spec_of};
use crate::snapshot::{self, Snapshot, is_terminal, node_of};
use crate::workload::JobPhase;

/// A node a scale-up asked for that has not registered.
#[derive(Debug, Clone)]
struct Upcoming {
    /// Index of its pool in the scenario.
    pool: usize,
    /// Scenario name.
    name: String,
    /// When the scale-up asked for it.
    requested_at: SimTime,
    /// When its provisioning is over; `None` for a node that never comes (a stockout).
    arrives_at: Option<SimTime>,
}

/// Why a node is drained and deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// A Cluster Autoscaler scale-down (or a node it gave up on).
    ScaleDown,
    /// A spot interruption.
    Spot,
}

/// The nodes' side of a real run: the node factory, the Cluster Autoscaler's state between
/// loops, spot interruptions, the nodes on their way, being drained, or gone, and the counters
/// of the report's autoscaling section.
#[derive(Debug)]
pub(super) struct RealFleet {
    cfg: CaConfig,
    factory: NodeFactory,
    ca: ClusterAutoscaler,
    rng: Pcg64,
    rng_spot: Pcg64,
    /// Spot interruptions to come: (time, sequence) → (node index, its epoch when drawn).
    spot_due: BTreeMap<(SimTime, u64), (usize, u32)>,
    spot_seq: u64,
    /// The scenario's duration: interruptions past it are not drawn.
    end: Option<SimTime>,
    upcoming: Vec<Upcoming>,
    /// Node index → scenario time its drain ends and the Node is deleted.
    deleting: BTreeMap<usize, SimTime>,
    /// Nodes deleted (their slots stay, so node ids are stable).
    gone: BTreeSet<usize>,
    /// Nodes a scale-up added that the API has not shown Ready yet → their request time.
    starting: BTreeMap<usize, SimTime>,
    next_scan: SimTime,
    /// Time from each registered node's request to its registration, µs.
    provisioning_us: Vec<u64>,
    nodes_registered: u64,
    nodes_deleted: u64,
    provision_failures: u64,
    /// Jobs and replica pods evicted by scale-down drains.
    scale_down_evictions: u64,
    /// Spot nodes interrupted.
    spot_interruptions: u64,
    /// Jobs and replica pods evicted by spot interruptions.
    spot_evictions: u64,
}

impl RealFleet {
    /// The fleet of `scenario` whose initial nodes are `cluster`'s, or `None` when no pool
    /// autoscales and none is spot. The first interruption of each initial spot node is drawn
    /// here, in node order, as the simulator draws them.
    pub(super) fn new(
        scenario: &Scenario,
        cluster: &drydock_core::Cluster,
        seed: u64,
    ) -> Option<RealFleet> {
        if !drydock_sim::engine::fleet::nodes_come_and_go(scenario) {
            return None;
        }
        let factory = NodeFactory::new(scenario, cluster, seed);
        let cfg = scenario.cluster.autoscaler.clone();
        let mut f = RealFleet {
            next_scan: SimTime(cfg.scan_interval.0.max(1)),
            cfg,
            factory,
            ca: ClusterAutoscaler::new(),
            rng: drydock_sim::rng::stream(seed, "cluster-autoscaler"),
            rng_spot: drydock_sim::rng::stream(seed, "spot"),
            spot_due: BTreeMap::new(),
            spot_seq: 0,
            end: scenario.duration.map(|d| SimTime(d.0)),
            upcoming: Vec::new(),
            deleting: BTreeMap::new(),
            gone: BTreeSet::new(),
            starting: BTreeMap::new(),
            provisioning_us: Vec::new(),
            nodes_registered: 0,
            nodes_deleted: 0,
            provision_failures: 0,
            scale_down_evictions: 0,
            spot_interruptions: 0,
            spot_evictions: 0,
        };
        for (i, n) in cluster.nodes.iter().enumerate() {
            f.schedule_spot(i, n.pool.0 as usize, 0, SimTime::ZERO);
        }
        Some(f)
    }

    /// Draws the next interruption of node `i` (of `pool`, at `epoch`) after `now`, if its pool
    /// is spot and the time is within the run.
    fn schedule_spot(&mut self, i: usize, pool: usize, epoch: u32, now: SimTime) {
        let Some(spot) = self.factory.spot(pool) else {
            return;
        };
        let at = now.saturating_add(next_interruption(spot, &mut self.rng_spot));
        if self.end.is_none_or(|e| at <= e) {
            self.spot_due.insert((at, self.spot_seq), (i, epoch));
            self.spot_seq += 1;
        }
    }

    /// True when the Cluster Autoscaler runs (some pool is a node group).
    fn autoscales(&self) -> bool {
        !self.factory.groups().is_empty()
    }

    /// True when node `i` was deleted by a scale-down.
    pub(super) fn is_gone(&self, i: usize) -> bool {
        self.gone.contains(&i)
    }

    /// The report's autoscaling counters (decisions are the driver's).
    pub(super) fn report(&self) -> drydock_sim::report::AutoscalingReport {
        drydock_sim::report::AutoscalingReport {
            nodes_registered: self.nodes_registered,
            nodes_deleted: self.nodes_deleted,
            provision_failures: self.provision_failures,
            provisioning_time: drydock_sim::report::percentiles(&self.provisioning_us),
            spot_interruptions: self.spot_interruptions,
            scale_down_evictions: self.scale_down_evictions,
            spot_evictions: self.spot_evictions,
            decisions: Vec::new(),
        }
    }
}

impl<A: Actuator, V: ClusterView> Driver<A, V> {
    /// The nodes' part of a tick at scenario time `now`: nodes whose provisioning is over
    /// register, drained nodes whose grace period is over are deleted.
    ///
    /// # Errors
    /// API errors registering or deleting a node (retried on the next tick).
    pub(super) async fn fleet_tick(
        &mut self,
        now: SimTime,
        pods: &BTreeMap<String, Arc<Pod>>,
    ) -> Result<(), RealError> {
        if self.fleet.is_none() {
            return Ok(());
        }
        self.register_due(now).await?;
        self.delete_due(now, pods).await?;
        self.interrupt_due(now, pods).await;
        Ok(())
    }

    /// The spot interruptions due at `now`: each live spot node whose interruption is due is
    /// cordoned and drained for its pool's notice, then deleted; a fixed pool asks for a
    /// replacement at once. A node that failed and was repaired since the draw gets a fresh
    /// one (its interruption clock restarts, as in the simulator).
    async fn interrupt_due(&mut self, now: SimTime, pods: &BTreeMap<String, Arc<Pod>>) {
        let list: Vec<Arc<Pod>> = pods.values().cloned().collect();
        loop {
            let Some(mut f) = self.fleet.take() else {
                return;
            };
            let Some((&key, &(i, epoch))) = f.spot_due.iter().next() else {
                self.fleet = Some(f);
                return;
            };
            if key.0 > now {
                self.fleet = Some(f);
                return;
            }
            f.spot_due.remove(&key);
            let live = !f.gone.contains(&i) && !f.deleting.contains_key(&i);
            let pool = self.workload.plan.cluster.nodes[i].pool.0 as usize;
            if live && self.epoch[i] == epoch {
                let before = self.group_size(&f, pool);
                f.spot_interruptions += 1;
                self.drain(&mut f, NodeId(i as u32), &list, now, Removal::Spot)
                    .await;
                let replace = f.factory.group_of_pool(pool).is_none();
                if replace {
                    self.request_node(&mut f, pool, now);
                }
                let name = self.workload.plan.cluster.nodes[i].name.clone();
                tracing::info!(node = %name, "spot interruption");
                self.decisions.push(ScaleDecision {
                    time_s: now.as_secs_f64(),
                    actor: "cloud".into(),
                    target: self.workload.plan.cluster.pools[pool].name.clone(),
                    from: before,
                    to: if replace {
                        before
                    } else {
                        before.saturating_sub(1)
                    },
                    reason: format!(
                        "spot interruption of {name}{}",
                        if replace {
                            "; the node group requests a replacement"
                        } else {
                            "; the Cluster Autoscaler replaces it if its pods need one"
                        }
                    ),
                });
            } else if live {
                f.schedule_spot(i, pool, self.epoch[i], now);
            }
            self.fleet = Some(f);
        }
    }

    /// Asks the cloud for one node of `pool` at `now`: it is billed from now and registers
    /// when its provisioning delay is over (never, for a stockout).
    fn request_node(&mut self, f: &mut RealFleet, pool: usize, now: SimTime) {
        let Some(req) = f.factory.request(pool) else {
            return;
        };
        f.upcoming.push(Upcoming {
            pool,
            name: req.name,
            requested_at: now,
            arrives_at: req.arrives_after.map(|d| now.saturating_add(d)),
        });
        self.meter.node_billed(now, pool);
    }

    /// Runs the Cluster Autoscaler's loop when a scan interval is due at `now` (after the
    /// tick's scheduling cycle, so that it sees the pods that cycle could not place).
    pub(super) async fn scan_if_due(&mut self, now: SimTime) {
        let due = self
            .fleet
            .as_ref()
            .is_some_and(|f| f.autoscales() && now >= f.next_scan);
        if due {
            self.scan(now).await;
            if let Some(f) = self.fleet.as_mut() {
                let si = f.cfg.scan_interval.0.max(1);
                f.next_scan = SimTime((now.0 / si + 1).saturating_mul(si));
            }
        }
    }

    /// Registers the requested nodes whose provisioning delay is over as fake nodes.
    async fn register_due(&mut self, now: SimTime) -> Result<(), RealError> {
        loop {
            let Some(f) = self.fleet.as_mut() else {
                return Ok(());
            };
            let Some(k) = f
                .upcoming
                .iter()
                .position(|u| u.arrives_at.is_some_and(|at| at <= now))
            else {
                return Ok(());
            };
            let u = f.upcoming[k].clone();
            let Some((node, zone)) = f.factory.build(u.pool, &u.name) else {
                f.upcoming.remove(k);
                continue;
            };
            let spec =
                FakeNodeSpec::from_core(&node, &self.config.node_prefix, self.config.fake_taint);
            // A failure leaves it on its way: the next tick registers it.
            self.actuator.add_node(&spec).await?;
            let Some(f) = self.fleet.as_mut() else {
                return Ok(());
            };
            f.upcoming.remove(k);
            let i = self.workload.plan.cluster.nodes.len();
            // Its interruption clock starts when the cloud delivered it.
            f.schedule_spot(i, u.pool, 0, u.arrives_at.unwrap_or(now));
            f.starting.insert(i, u.requested_at);
            f.provisioning_us.push(now.since(u.requested_at).0);
            f.nodes_registered += 1;
            let capacity = node.gpu_capacity_milli();
            self.workload.plan.cluster.nodes.push(node);
            self.workload.plan.zones.push(zone);
            self.names.push(spec.name.clone());
            self.up.push(true);
            self.epoch.push(0);
            self.meter.capacity_changed(now, capacity as i64);
            self.usage.capacity_milli += capacity;
            tracing::info!(node = %spec.name, "node registered after a scale-up");
            self.active();
        }
    }

    /// Deletes the drained nodes whose termination grace period is over: pods still bound
    /// there are deleted (grace 0; their gangs fail and restart, as the simulator kills what a
    /// deleted node still runs), then the Node and its Lease.
    async fn delete_due(
        &mut self,
        now: SimTime,
        pods: &BTreeMap<String, Arc<Pod>>,
    ) -> Result<(), RealError> {
        let due: Vec<usize> = self.fleet.as_ref().map_or(Vec::new(), |f| {
            f.deleting
                .iter()
                .filter(|&(_, &at)| at <= now)
                .map(|(&i, _)| i)
                .collect()
        });
        for i in due {
            let name = self.names[i].clone();
            for (pod, p) in pods {
                if node_of(p) == Some(name.as_str())
                    && !is_terminal(p)
                    && let Err(e) = self
                        .actuator
                        .delete_pod(&self.config.namespace, pod, Some(0))
                        .await
                {
                    tracing::warn!(pod = %pod, error = %e, "cannot delete pod; retrying on the next tick");
                    self.retry_ops.insert(pod.clone(), PodOp::Delete);
                }
            }
            self.actuator.remove_node(&name).await?;
            let Some(f) = self.fleet.as_mut() else {
                return Ok(());
            };
            f.deleting.remove(&i);
            f.gone.insert(i);
            f.starting.remove(&i);
            f.nodes_deleted += 1;
            let n = &mut self.workload.plan.cluster.nodes[i];
            let capacity = n.gpu_capacity_milli();
            let pool = n.pool.0 as usize;
            f.factory.released(pool);
            // The slot stays, an empty husk, so that node ids do not move.
            n.cpu_allocatable = 0;
            n.memory_allocatable = 0;
            n.cpu_free = 0;
            n.memory_free = 0;
            n.gpu_free.clear();
            n.unschedulable = true;
            self.up[i] = false;
            self.epoch[i] += 1;
            self.meter.capacity_changed(now, -(capacity as i64));
            self.meter.node_unbilled(now, pool);
            self.usage.capacity_milli = self.usage.capacity_milli.saturating_sub(capacity);
            self.last_event = self.last_event.max(now);
            tracing::info!(node = %name, "node deleted by a scale-down");
            self.active();
        }
        Ok(())
    }

    /// The snapshot of the cluster as `nodes` and `pods` show it (and drydock's binds not seen
    /// yet), with the nodes being drained unschedulable (the cordon may not be seen in the API
    /// yet).
    pub(super) fn snapshot(
        &mut self,
        nodes: &[Arc<k8s_openapi::api::core::v1::Node>],
        pods: &[Arc<Pod>],
    ) -> Snapshot {
        let mut snap = snapshot::build(
            &self.workload.plan.cluster,
            &self.names,
            nodes,
            pods,
            &mut self.placements,
        );
        if let Some(f) = &self.fleet {
            for &i in f.deleting.keys() {
                if let Some(n) = snap.cluster.nodes.get_mut(i) {
                    n.unschedulable = true;
                }
            }
        }
        snap
    }

    /// Nodes of `pool` that exist (not deleted or being deleted) plus those on their way.
    fn group_size(&self, f: &RealFleet, pool: usize) -> u32 {
        let registered = self
            .workload
            .plan
            .cluster
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| {
                n.pool.0 as usize == pool && !f.gone.contains(i) && !f.deleting.contains_key(i)
            })
            .count();
        let upcoming = f.upcoming.iter().filter(|u| u.pool == pool).count();
        (registered + upcoming) as u32
    }

    /// One loop of the core's Cluster Autoscaler on the cluster as the API reports it, and
    /// its actions applied.
    async fn scan(&mut self, now: SimTime) {
        let Some(mut f) = self.fleet.take() else {
            return;
        };
        let nodes = self.view.nodes();
        let pods = self.view.pods();
        let mut snap = self.snapshot(&nodes, &pods);
        let ready: BTreeSet<&str> = nodes
            .iter()
            .filter(|n| node_ready(n))
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        f.starting
            .retain(|&i, _| !ready.contains(self.names[i].as_str()));
        let infos: Vec<CaNodeInfo> = snap
            .cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let state = if f.gone.contains(&i) {
                    CaNodeState::Gone
                } else if f.deleting.contains_key(&i) {
                    CaNodeState::Deleting
                } else if !self.up[i] {
                    CaNodeState::Unready
                } else if let Some(&requested_at) = f.starting.get(&i) {
                    CaNodeState::NotStarted { requested_at }
                } else {
                    CaNodeState::Ready
                };
                CaNodeInfo {
                    group: f.factory.group_of_pool(n.pool.0 as usize),
                    state,
                }
            })
            .collect();
        let upcoming: Vec<UpcomingNode> = f
            .upcoming
            .iter()
            .filter_map(|u| {
                f.factory.group_of_pool(u.pool).map(|g| UpcomingNode {
                    group: g,
                    name: u.name.clone(),
                    requested_at: u.requested_at,
                })
            })
            .collect();
        // The bound pods' specs, for the scale-down simulation.
        let mut specs: BTreeMap<PodId, PodSpec> = BTreeMap::new();
        for p in &pods {
            if node_of(p).is_none() || is_terminal(p) {
                continue;
            }
            if let Some(&id) = p.metadata.name.as_ref().and_then(|n| snap.ids.get(n)) {
                specs.insert(id, pod_spec_of(p, &mut snap.cluster));
            }
        }
        let unschedulable: Vec<UnschedulablePod<'_>> = self
            .unschedulable
            .iter()
            .map(|(pod, spec, since)| UnschedulablePod {
                pod: *pod,
                spec,
                since: *since,
            })
            .collect();
        let pod_spec = |pod: PodId| specs.get(&pod);
        let view = CaView {
            cluster: &snap.cluster,
            nodes: &infos,
            upcoming: &upcoming,
            unschedulable: &unschedulable,
            pod_spec: &pod_spec,
        };
        let plan =
            f.ca.run_once(&f.cfg, f.factory.groups(), &view, now, &mut f.rng);
        drop(unschedulable);
        for action in plan.actions {
            self.apply_ca_action(&mut f, action, &pods, now).await;
        }
        self.fleet = Some(f);
    }

    async fn apply_ca_action(
        &mut self,
        f: &mut RealFleet,
        action: CaAction,
        pods: &[Arc<Pod>],
        now: SimTime,
    ) {
        let decision = |target: String, from: u32, to: u32, reason: String| ScaleDecision {
            time_s: now.as_secs_f64(),
            actor: "cluster-autoscaler".into(),
            target,
            from,
            to,
            reason,
        };
        match action {
            CaAction::ScaleUp {
                group,
                delta,
                reason,
                ..
            } => {
                let Some(g) = f.factory.groups().get(group) else {
                    return;
                };
                let (pool, target) = (g.pool.0 as usize, g.name.clone());
                let before = self.group_size(f, pool);
                for _ in 0..delta {
                    self.request_node(f, pool, now);
                }
                tracing::info!(group = %target, from = before, to = before + delta, "scale-up");
                self.decisions
                    .push(decision(target, before, before + delta, reason));
                self.active();
            }
            CaAction::ProvisionFailed {
                group,
                nodes,
                reason,
            } => {
                let Some(g) = f.factory.groups().get(group) else {
                    return;
                };
                let (pool, target) = (g.pool.0 as usize, g.name.clone());
                let before = self.group_size(f, pool);
                let mut given_up = 0u32;
                for name in &nodes {
                    if let Some(k) = f.upcoming.iter().position(|u| &u.name == name) {
                        let u = f.upcoming.remove(k);
                        self.meter.node_unbilled(now, u.pool);
                        f.factory.released(u.pool);
                        given_up += 1;
                    } else if let Some(i) = self
                        .workload
                        .plan
                        .cluster
                        .nodes
                        .iter()
                        .position(|n| &n.name == name)
                        && !f.gone.contains(&i)
                    {
                        // Registered but never Ready: deleted like a drained node.
                        f.deleting.entry(i).or_insert(now);
                        given_up += 1;
                    }
                }
                f.provision_failures += u64::from(given_up);
                self.decisions.push(decision(
                    target,
                    before,
                    before.saturating_sub(given_up),
                    reason,
                ));
            }
            CaAction::DeleteNodes { nodes, reason, .. } => {
                let mut by_pool: BTreeMap<usize, (u32, u32)> = BTreeMap::new();
                for n in &nodes {
                    let pool = self.workload.plan.cluster.nodes[n.0 as usize].pool.0 as usize;
                    let before = self.group_size(f, pool);
                    by_pool.entry(pool).or_insert((before, 0)).1 += 1;
                }
                for &n in &nodes {
                    self.drain(f, n, pods, now, Removal::ScaleDown).await;
                }
                for (pool, (before, k)) in by_pool {
                    let name = self.workload.plan.cluster.pools[pool].name.clone();
                    tracing::info!(pool = %name, from = before, to = before.saturating_sub(k), "scale-down");
                    self.decisions.push(decision(
                        name,
                        before,
                        before.saturating_sub(k),
                        reason.clone(),
                    ));
                }
            }
        }
    }

    /// Cordons `node` through the API, evicts its pods (running gangs stop and requeue once
    /// their pods are gone; replica pods are replaced by their Deployment) and schedules its
    /// deletion after the termination grace period (a scale-down) or the pool's notice (a spot
    /// interruption).
    async fn drain(
        &mut self,
        f: &mut RealFleet,
        node: NodeId,
        pods: &[Arc<Pod>],
        now: SimTime,
        cause: Removal,
    ) {
        let i = node.0 as usize;
        if f.gone.contains(&i) || f.deleting.contains_key(&i) {
            return;
        }
        let pool = self.workload.plan.cluster.nodes[i].pool.0 as usize;
        let grace = match cause {
            Removal::Spot => f
                .factory
                .spot(pool)
                .map_or(self.settings.termination_grace, |s| s.notice),
            Removal::ScaleDown => self.settings.termination_grace,
        };
        f.deleting.insert(i, now.saturating_add(grace));
        let name = self.names[i].clone();
        if let Err(e) = self.actuator.cordon(&name, true).await {
            // drydock keeps the node out of its own cycles either way.
            tracing::warn!(node = %name, error = %e, "cannot cordon node");
        }
        let mut jobs: BTreeSet<u32> = BTreeSet::new();
        let mut replicas: Vec<String> = Vec::new();
        for p in pods {
            if node_of(p) != Some(name.as_str())
                || is_terminal(p)
                || p.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let Some(pod) = p.metadata.name.clone() else {
                continue;
            };
            let job = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_JOB))
                .and_then(|v| v.parse::<u32>().ok());
            match job {
                Some(j) if (j as usize) < self.workload.jobs.len() => {
                    jobs.insert(j);
                }
                _ if self.services.iter().any(|s| s.owns(p)) => replicas.push(pod),
                _ => {}
            }
        }
        let ns = self.config.namespace.clone();
        for j in jobs {
            if self.workload.jobs[j as usize].phase != JobPhase::Running
                || !self.workload.evict_for_node_removal(j, now)
            {
                continue;
            }
            match cause {
                Removal::ScaleDown => f.scale_down_evictions += 1,
                Removal::Spot => f.spot_evictions += 1,
            }
            let gang = self.workload.gang(j);
            let workers = self.workload.job(j).map(|p| p.workers).unwrap_or(0);
            for w in 0..workers {
                let pod = crate::names::pod_name(&gang, w);
                if let Err(e) = self.actuator.evict(&ns, &pod).await {
                    tracing::warn!(pod = %pod, error = %e, "eviction failed; retrying on the next tick");
                    self.retry_ops.insert(pod, PodOp::Evict);
                }
            }
        }
        for pod in replicas {
            match cause {
                Removal::ScaleDown => f.scale_down_evictions += 1,
                Removal::Spot => f.spot_evictions += 1,
            }
            if let Err(e) = self.actuator.evict(&ns, &pod).await {
                tracing::warn!(pod = %pod, error = %e, "eviction failed; retrying on the next tick");
                self.retry_ops.insert(pod, PodOp::Evict);
            }
        }
        self.active();
    }

    /// Whether the autoscaler may still change something for the pods waiting now (nodes on
    /// their way or being drained, a group backed off, or a pending pod too new for it to have
    /// acted on): the simulator's rule for keeping a run without a duration going
    /// ([`drydock_sim::engine::fleet::autoscaler_can_still_act`]).
    pub(super) fn fleet_can_still_act(&self, now: SimTime) -> bool {
        let Some(f) = &self.fleet else {
            return false;
        };
        f.autoscales()
            && autoscaler_can_still_act(
                &f.cfg,
                &f.ca,
                f.factory.groups(),
                !f.upcoming.is_empty() || !f.deleting.is_empty(),
                self.unschedulable.iter().map(|&(_, _, since)| since),
                now,
            )
    }
}
