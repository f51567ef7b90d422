//! Nodes that come and go: the Cluster Autoscaler's loop (decisions from
//! [`drydock_core::autoscale::ca`]), node provisioning with its delay and stockouts, scale-down
//! drains and deletions, and spot interruptions.
//!
//! A deleted node keeps its slot in [`drydock_core::Cluster::nodes`] (so that node ids stay
//! stable) as an empty husk: no allocatable resources, cordoned, and `Gone` to the autoscaler.
//! Nodes are billed from the scale-up request (the cloud starts the instance then) until their
//! deletion, or until the autoscaler gives up on a node that never came.

use bevy_ecs::prelude::World;
use drydock_core::autoscale::ca::{
    CaAction, CaConfig, CaNodeInfo, CaNodeState, CaView, ClusterAutoscaler, NodeGroup,
    NodeTemplate, UnschedulablePod, UpcomingNode,
};
use drydock_core::cluster::{Taint, TaintEffect};
use drydock_core::{NodeId, PodId, PodSpec, SimDuration, SimTime};
use drydock_scenarios::{DurationDist, Scenario, SpotSpec};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{
    Event, Eviction, Phase, SimState, enqueue, evict, fail_and_restart, job, jobs_on, mark_dirty,
    pod_id, spec_of,
};
use crate::SimError;
use crate::build::{LABEL_GPU_PRODUCT, LABEL_POOL, LABEL_ZONE};
use crate::dist;
use crate::model::{JobStatus, NodeHealth};
use crate::rng::stream;

/// Taint the Cluster Autoscaler puts on a node it is about to delete
/// (`ToBeDeletedByClusterAutoscaler`, kubernetes-semantics.md §2.3 \[unverified\]).
pub const TAINT_TO_BE_DELETED: &str = "ToBeDeletedByClusterAutoscaler";

/// One entry of the report's decision log: a scale decision by the HPA, the Cluster
/// Autoscaler or the cloud (spot interruptions), with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleDecision {
    /// Virtual time in seconds.
    pub time_s: f64,
    /// Who decided: `hpa`, `cluster-autoscaler` or `cloud`.
    pub actor: String,
    /// What was scaled: a service (Deployment) or a pool (node group).
    pub target: String,
    /// Replicas or nodes before.
    pub from: u32,
    /// Replicas or nodes after (requested).
    pub to: u32,
    /// Why, in the decision maker's words (HPA condition reason, CA expander choice...).
    pub reason: String,
}

/// How one pool's nodes are made.
#[derive(Debug, Clone)]
pub(crate) struct PoolKind {
    /// Pool name (for node names).
    name: String,
    /// Node template (allocatable, labels without the zone, taints).
    template: NodeTemplate,
    /// Zones nodes are spread over (round robin by index), empty for none.
    zones: Vec<String>,
    /// Provisioning delay, for autoscaled pools and spot replacements.
    provisioning: DurationDist,
    /// Chance a requested node never arrives.
    stockout: f64,
    /// Most nodes the cloud supplies at once.
    cloud_capacity: Option<u32>,
    /// Spot interruptions.
    spot: Option<SpotSpec>,
    /// Node group index, when the Cluster Autoscaler manages the pool.
    group: Option<usize>,
    /// Next node index (for names).
    next_index: u32,
    /// Nodes that exist or are on their way (for the cloud capacity).
    live: u32,
}

/// A requested node that has not registered.
#[derive(Debug, Clone)]
pub(crate) struct Upcoming {
    id: u64,
    pool: usize,
    name: String,
    requested_at: SimTime,
}

/// Node lifecycle beyond health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    /// Part of the cluster.
    Active,
    /// Cordoned and draining before deletion.
    Deleting,
    /// Deleted (a husk).
    Gone,
}

/// How the nodes of a scenario's pools are made and asked of the cloud: each pool's node
/// template, the Cluster Autoscaler's node groups, and the provisioning delays and stockouts,
/// drawn from the run's `provisioning` stream. The simulator's fleet and the real-cluster
/// driver share it, so that both get the same node names, shapes and delays from the same
/// seed.
#[derive(Debug, Clone)]
pub struct NodeFactory {
    groups: Vec<NodeGroup>,
    pools: Vec<PoolKind>,
    rng: Pcg64,
}

/// A node asked of the cloud ([`NodeFactory::request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRequest {
    /// Scenario name of the node (`POOL-INDEX`, indices going on from the pool's initial
    /// nodes).
    pub name: String,
    /// Provisioning delay until the node registers Ready; `None` when it never comes (a
    /// stockout, or the pool's `cloudCapacity` is used up): the Cluster Autoscaler gives it up
    /// after `maxNodeProvisionTime`.
    pub arrives_after: Option<SimDuration>,
}

impl NodeFactory {
    /// The factory of `scenario`, whose initial nodes are `cluster`'s (inline pools first, in
    /// file order, as `drydock_sim::build` makes them); provisioning draws come from `seed`'s
    /// `provisioning` stream.
    pub fn new(scenario: &Scenario, cluster: &drydock_core::Cluster, seed: u64) -> NodeFactory {
        let mut groups = Vec::new();
        let mut pools = Vec::new();
        for (i, p) in scenario.cluster.pools.iter().enumerate() {
            // Inline pools come first in the cluster, in file order.
            let pool = drydock_core::PoolId(i as u16);
            let mut labels = p.labels.clone();
            labels.insert(LABEL_POOL.to_string(), p.name.clone());
            if let Some(m) = &p.gpu_model {
                labels.insert(LABEL_GPU_PRODUCT.to_string(), m.clone());
            }
            let template = NodeTemplate {
                cpu_milli: p.cpu_milli,
                memory_mib: p.memory_mib,
                gpus: p.gpus_per_node,
                gpu_model: p.gpu_model.as_deref().and_then(|m| cluster.model(m)),
                labels,
                taints: p
                    .taints
                    .iter()
                    .map(|t| Taint {
                        key: t.key.clone(),
                        value: t.value.clone(),
                        effect: t.effect,
                    })
                    .collect(),
            };
            let group = p.autoscaling.as_ref().map(|a| {
                groups.push(NodeGroup {
                    name: p.name.clone(),
                    pool,
                    min_size: a.min_nodes,
                    max_size: a.max_nodes,
                    template: template.clone(),
                    price_per_node_hour: p.price_per_node_hour,
                    priority: a.priority,
                });
                groups.len() - 1
            });
            let a = p.autoscaling.as_ref();
            pools.push(PoolKind {
                name: p.name.clone(),
                template,
                zones: p.zones.clone(),
                provisioning: a.map_or(
                    DurationDist::LogNormal {
                        median: SimDuration::from_mins(5),
                        p95: SimDuration::from_mins(10),
                    },
                    |a| a.provisioning_time.clone(),
                ),
                stockout: a.map_or(0.0, |a| a.stockout_probability),
                cloud_capacity: a.and_then(|a| a.cloud_capacity),
                spot: p.spot.clone(),
                group,
                next_index: p.nodes,
                live: p.nodes,
            });
        }
        NodeFactory {
            groups,
            pools,
            rng: stream(seed, "provisioning"),
        }
    }

    /// The Cluster Autoscaler's node groups: one per pool with `autoscaling`, in pool order.
    pub fn groups(&self) -> &[NodeGroup] {
        &self.groups
    }

    /// The node group (index into [`NodeFactory::groups`]) that manages `pool`, if any.
    pub fn group_of_pool(&self, pool: usize) -> Option<usize> {
        self.pools.get(pool).and_then(|p| p.group)
    }

    /// Asks the cloud for one node of `pool` (index in the scenario's pools): names it, and
    /// draws whether it is a stockout and its provisioning delay (always both, in that order,
    /// so that the stream stays aligned). `None` for a pool index out of range.
    pub fn request(&mut self, pool: usize) -> Option<NodeRequest> {
        let p = self.pools.get_mut(pool)?;
        let index = p.next_index;
        p.next_index += 1;
        let name = drydock_scenarios::node_name(&p.name, index, index + 1);
        let over_capacity = p.cloud_capacity.is_some_and(|c| p.live >= c);
        p.live += 1;
        let stockout = over_capacity || drydock_core::rng::unit_f64(&mut self.rng) < p.stockout;
        let delay = dist::sample(&p.provisioning, &mut self.rng);
        Some(NodeRequest {
            name,
            arrives_after: (!stockout).then_some(delay),
        })
    }

    /// A node of `pool` named `name` (from [`NodeFactory::request`]) as it registers: the
    /// pool's template, plus its zone label (zones round robin by the name's index) and that
    /// zone. `None` for a pool index out of range.
    pub fn build(&self, pool: usize, name: &str) -> Option<(drydock_core::Node, Option<String>)> {
        let p = self.pools.get(pool)?;
        let mut node = p.template.build(name, drydock_core::PoolId(pool as u16));
        let index = name
            .rsplit('-')
            .next()
            .and_then(|d| d.parse::<usize>().ok())
            .unwrap_or(0);
        let zone = (!p.zones.is_empty()).then(|| p.zones[index % p.zones.len()].clone());
        if let Some(z) = &zone {
            node.labels.insert(LABEL_ZONE.to_string(), z.clone());
        }
        Some((node, zone))
    }

    /// The spot settings of `pool`, when its nodes are spot instances.
    pub fn spot(&self, pool: usize) -> Option<&SpotSpec> {
        self.pools.get(pool).and_then(|p| p.spot.as_ref())
    }

    /// A node of `pool` is gone (deleted, or given up before it came): it no longer counts
    /// against the pool's `cloudCapacity`.
    pub fn released(&mut self, pool: usize) {
        if let Some(p) = self.pools.get_mut(pool) {
            p.live = p.live.saturating_sub(1);
        }
    }
}

/// The fleet: pools' node-making, the Cluster Autoscaler and its state.
pub struct Fleet {
    cfg: CaConfig,
    factory: NodeFactory,
    ca: ClusterAutoscaler,
    upcoming: Vec<Upcoming>,
    next_upcoming: u64,
    life: Vec<Life>,
    rng_spot: Pcg64,
    rng_ca: Pcg64,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("groups", &self.factory.groups.len())
            .field("upcoming", &self.upcoming.len())
            .finish()
    }
}

impl Fleet {
    /// The fleet of `scenario`, or `None` when no pool autoscales and none is spot (nodes never
    /// come and go).
    pub(crate) fn new(
        scenario: &Scenario,
        cluster: &drydock_core::Cluster,
        seed: u64,
    ) -> Option<Fleet> {
        if !nodes_come_and_go(scenario) {
            return None;
        }
        Some(Fleet {
            cfg: scenario.cluster.autoscaler.clone(),
            factory: NodeFactory::new(scenario, cluster, seed),
            ca: ClusterAutoscaler::new(),
            upcoming: Vec::new(),
            next_upcoming: 0,
            life: vec![Life::Active; cluster.nodes.len()],
            rng_spot: stream(seed, "spot"),
            rng_ca: stream(seed, "cluster-autoscaler"),
        })
    }

    /// True when the Cluster Autoscaler runs (some pool is a node group).
    pub(crate) fn autoscales(&self) -> bool {
        !self.factory.groups.is_empty()
    }

    /// For each node group, a template node and how many more nodes the group may add beyond
    /// the nodes it starts with (for the check of pods that can never be scheduled).
    pub(crate) fn growth(&self, cluster: &drydock_core::Cluster) -> Vec<(drydock_core::Node, u32)> {
        self.factory
            .groups
            .iter()
            .map(|g| {
                let have = cluster.nodes.iter().filter(|n| n.pool == g.pool).count() as u32;
                (
                    g.template.build(format!("{}-template", g.name), g.pool),
                    g.max_size.saturating_sub(have),
                )
            })
            .collect()
    }
}

/// True when nodes of `scenario` come and go during a run: some pool autoscales or is spot.
pub fn nodes_come_and_go(scenario: &Scenario) -> bool {
    scenario
        .cluster
        .pools
        .iter()
        .any(|p| p.autoscaling.is_some() || p.spot.is_some())
}

/// Time from now to a spot node's next interruption: exponential with the pool's
/// `meanTimeToInterruption`, drawn from the run's `spot` stream (`rng`).
pub fn next_interruption(spot: &SpotSpec, rng: &mut Pcg64) -> SimDuration {
    SimDuration::from_secs_f64(dist::exponential_secs(
        rng,
        spot.mean_time_to_interruption.as_secs_f64(),
    ))
}

/// Queues the first spot interruption of every spot node that exists at the start.
pub(crate) fn schedule_initial_spot(st: &mut SimState) -> Result<(), SimError> {
    let n = st.cluster.nodes.len();
    for i in 0..n {
        schedule_spot(st, NodeId(i as u32), SimTime::ZERO)?;
    }
    Ok(())
}

fn schedule_spot(st: &mut SimState, node: NodeId, now: SimTime) -> Result<(), SimError> {
    let Some(fleet) = st.fleet.as_deref_mut() else {
        return Ok(());
    };
    let pool = st.cluster.nodes[node.0 as usize].pool.0 as usize;
    let Some(spot) = fleet.factory.pools.get(pool).and_then(|p| p.spot.clone()) else {
        return Ok(());
    };
    let at = now.saturating_add(next_interruption(&spot, &mut fleet.rng_spot));
    if at <= st.config.end {
        let epoch = st.health[node.0 as usize].epoch;
        st.queue.push(at, Event::SpotInterrupted { node, epoch })?;
        // Interruptions alone do not keep a finished run going.
        st.periodic_queued += 1;
    }
    Ok(())
}

/// Whether the autoscaler may still change something for the pods waiting now: nodes are on
/// their way, a group is backed off, or some pending pod is too new for it to have acted on.
/// While true its loop keeps a run without a fixed duration alive.
pub(crate) fn can_still_act(st: &SimState, now: SimTime) -> bool {
    let Some(f) = st.fleet.as_deref() else {
        return false;
    };
    f.autoscales()
        && autoscaler_can_still_act(
            &f.cfg,
            &f.ca,
            &f.factory.groups,
            !f.upcoming.is_empty() || f.life.contains(&Life::Deleting),
            st.pending.iter().map(|&(_, since, _)| since),
            now,
        )
}

/// The rule behind the simulator's keep-alive check (`can_still_act`), shared with the
/// real-cluster driver: with pods waiting (`pending_since`, when each was queued), the Cluster
/// Autoscaler (`ca`, flags `cfg`, node groups `groups`) may still change something when nodes
/// are on their way or being drained (`nodes_in_flight`), a group is backed off, or some pod is
/// too new for it to have acted on (within the GPU-pod buffer or new-pod delay plus two scan
/// intervals). False with no pod waiting.
pub fn autoscaler_can_still_act(
    cfg: &CaConfig,
    ca: &ClusterAutoscaler,
    groups: &[NodeGroup],
    nodes_in_flight: bool,
    pending_since: impl Iterator<Item = SimTime>,
    now: SimTime,
) -> bool {
    let mut pending_since = pending_since.peekable();
    if pending_since.peek().is_none() {
        return false;
    }
    if nodes_in_flight || groups.iter().any(|g| ca.is_backed_off(&g.name, now)) {
        return true;
    }
    let fresh = cfg
        .unschedulable_pod_with_gpu_time_buffer
        .max(cfg.new_pod_scale_up_delay)
        .0
        .saturating_add(cfg.scan_interval.0.saturating_mul(2));
    pending_since.any(|since| now.since(since).0 <= fresh)
}

/// Queues the next Cluster Autoscaler loop.
pub(crate) fn queue_scan(st: &mut SimState, now: SimTime) -> Result<(), SimError> {
    let Some(f) = st.fleet.as_deref() else {
        return Ok(());
    };
    let at = now.saturating_add(f.cfg.scan_interval);
    if at > st.config.end {
        return Ok(());
    }
    let keeps_alive = st.config.fixed_duration || can_still_act(st, at);
    st.queue.push(at, Event::AutoscalerScan { keeps_alive })?;
    if !keeps_alive {
        st.periodic_queued += 1;
    }
    Ok(())
}

/// One Cluster Autoscaler loop: builds the view, runs the core's decision and applies it.
pub(crate) fn scan(world: &mut World, st: &mut SimState, now: SimTime) -> Result<(), SimError> {
    let Some(mut fleet) = st.fleet.take() else {
        return Ok(());
    };
    let result = scan_with(world, st, &mut fleet, now);
    st.fleet = Some(fleet);
    result?;
    queue_scan(st, now)
}

fn scan_with(
    world: &mut World,
    st: &mut SimState,
    fleet: &mut Fleet,
    now: SimTime,
) -> Result<(), SimError> {
    let infos: Vec<CaNodeInfo> = (0..st.cluster.nodes.len())
        .map(|i| {
            let node = &st.cluster.nodes[i];
            let group = fleet
                .factory
                .pools
                .get(node.pool.0 as usize)
                .and_then(|p| p.group);
            let state = match fleet.life.get(i) {
                Some(Life::Gone) => CaNodeState::Gone,
                Some(Life::Deleting) => CaNodeState::Deleting,
                _ if !st.health[i].up => CaNodeState::Unready,
                _ => CaNodeState::Ready,
            };
            CaNodeInfo { group, state }
        })
        .collect();
    let upcoming: Vec<UpcomingNode> = fleet
        .upcoming
        .iter()
        .filter_map(|u| {
            fleet.factory.pools[u.pool].group.map(|g| UpcomingNode {
                group: g,
                name: u.name.clone(),
                requested_at: u.requested_at,
            })
        })
        .collect();
    // Unschedulable pods: the unbound pods of queued jobs that failed a scheduling attempt.
    let mut waiting: Vec<(PodId, usize, SimTime)> = Vec::new();
    for &(_, since, j) in &st.pending {
        let jb = job(world, st, j);
        let Some(s) = world.get::<JobStatus>(st.jobs[j as usize]) else {
            continue;
        };
        if s.phase != Phase::Pending || s.last_unschedulable.is_none() {
            continue;
        }
        for w in 0..jb.workers {
            if s.bound.get(w as usize).is_some_and(|b| b.is_some()) {
                continue;
            }
            waiting.push((pod_id(j, w), spec_of(&jb, w).0 as usize, since));
        }
    }
    let specs = &st.specs;
    let unschedulable: Vec<UnschedulablePod<'_>> = waiting
        .iter()
        .map(|&(pod, spec, since)| UnschedulablePod {
            pod,
            spec: &specs[spec],
            since,
        })
        .collect();
    // Bound pods' specs, for the scale-down simulation.
    let pod_spec = |pod: PodId| -> Option<&PodSpec> {
        let j = super::job_of(pod);
        let e = *st.jobs.get(j as usize)?;
        let jb = world.get::<crate::model::Job>(e)?;
        specs.get(spec_of(jb, (pod.0 & 0xFFFF) as u32).0 as usize)
    };
    let view = CaView {
        cluster: &st.cluster,
        nodes: &infos,
        upcoming: &upcoming,
        unschedulable: &unschedulable,
        pod_spec: &pod_spec,
    };
    let plan = fleet.ca.run_once(
        &fleet.cfg,
        &fleet.factory.groups,
        &view,
        now,
        &mut fleet.rng_ca,
    );
    drop(unschedulable);
    for action in plan.actions {
        match action {
            CaAction::ScaleUp {
                group,
                delta,
                reason,
                ..
            } => {
                let pool = fleet.factory.groups[group].pool.0 as usize;
                let before = group_size(st, fleet, pool);
                for _ in 0..delta {
                    request_node(st, fleet, pool, now)?;
                }
                st.decisions.push(ScaleDecision {
                    time_s: now.as_secs_f64(),
                    actor: "cluster-autoscaler".into(),
                    target: fleet.factory.groups[group].name.clone(),
                    from: before,
                    to: before + delta,
                    reason,
                });
            }
            CaAction::ProvisionFailed {
                group,
                nodes,
                reason,
            } => {
                let pool = fleet.factory.groups[group].pool.0 as usize;
                let before = group_size(st, fleet, pool);
                let mut given_up = 0;
                for name in &nodes {
                    if let Some(k) = fleet.upcoming.iter().position(|u| &u.name == name) {
                        let u = fleet.upcoming.remove(k);
                        st.metrics.node_unbilled(now, u.pool);
                        fleet.factory.released(u.pool);
                        given_up += 1;
                    }
                }
                st.metrics.provision_failures += given_up;
                st.decisions.push(ScaleDecision {
                    time_s: now.as_secs_f64(),
                    actor: "cluster-autoscaler".into(),
                    target: fleet.factory.groups[group].name.clone(),
                    from: before,
                    to: before.saturating_sub(given_up as u32),
                    reason,
                });
            }
            CaAction::DeleteNodes { nodes, reason, .. } => {
                let mut by_pool: std::collections::BTreeMap<usize, u32> = Default::default();
                for n in &nodes {
                    let pool = st.cluster.nodes[n.0 as usize].pool.0 as usize;
                    *by_pool.entry(pool).or_default() += 1;
                }
                let mut sizes = Vec::new();
                for (&pool, &k) in &by_pool {
                    sizes.push((pool, group_size(st, fleet, pool), k));
                }
                for n in nodes {
                    drain_and_delete(world, st, fleet, n, now, Eviction::ScaleDown)?;
                }
                for (pool, before, k) in sizes {
                    let name = st.cluster.pools[pool].name.clone();
                    st.decisions.push(ScaleDecision {
                        time_s: now.as_secs_f64(),
                        actor: "cluster-autoscaler".into(),
                        target: name,
                        from: before,
                        to: before.saturating_sub(k),
                        reason: reason.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Nodes of `pool` that exist (not deleted or being deleted) plus those on their way.
fn group_size(st: &SimState, fleet: &Fleet, pool: usize) -> u32 {
    let registered = st
        .cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| n.pool.0 as usize == pool && fleet.life[*i] == Life::Active)
        .count();
    let upcoming = fleet.upcoming.iter().filter(|u| u.pool == pool).count();
    (registered + upcoming) as u32
}

/// Asks the cloud for one node of `pool`: it is billed from now and registers after the
/// pool's provisioning delay, unless it is a stockout (it then never comes).
fn request_node(
    st: &mut SimState,
    fleet: &mut Fleet,
    pool: usize,
    now: SimTime,
) -> Result<(), SimError> {
    let Some(req) = fleet.factory.request(pool) else {
        return Ok(());
    };
    let id = fleet.next_upcoming;
    fleet.next_upcoming += 1;
    fleet.upcoming.push(Upcoming {
        id,
        pool,
        name: req.name,
        requested_at: now,
    });
    st.metrics.node_billed(now, pool);
    if let Some(delay) = req.arrives_after {
        let at = now.saturating_add(delay);
        if at <= st.config.end {
            st.queue.push(at, Event::NodeRegistered { id })?;
        }
    }
    Ok(())
}

/// A requested node registered: it joins the cluster Ready.
pub(crate) fn node_registered(st: &mut SimState, id: u64, now: SimTime) -> Result<(), SimError> {
    let Some(mut fleet) = st.fleet.take() else {
        return Ok(());
    };
    let r = register(st, &mut fleet, id, now);
    st.fleet = Some(fleet);
    r
}

fn register(st: &mut SimState, fleet: &mut Fleet, id: u64, now: SimTime) -> Result<(), SimError> {
    // Given up by the autoscaler already: nothing registers.
    let Some(k) = fleet.upcoming.iter().position(|u| u.id == id) else {
        return Ok(());
    };
    let u = fleet.upcoming.remove(k);
    let Some((node, zone)) = fleet.factory.build(u.pool, &u.name) else {
        return Ok(());
    };
    let capacity = node.gpu_capacity_milli() as i64;
    let id = NodeId(st.cluster.nodes.len() as u32);
    st.cluster.nodes.push(node);
    st.zones.push(zone);
    st.health.push(NodeHealth {
        up: true,
        not_ready: false,
        epoch: 0,
        down_since: None,
    });
    fleet.life.push(Life::Active);
    st.metrics.capacity_changed(now, capacity);
    st.metrics.nodes_registered += 1;
    st.metrics.provisioning_us.push(now.since(u.requested_at).0);
    st.cluster_changes += 1;
    st.log_hash.update([0xA1]);
    st.log_hash.update(id.0.to_le_bytes());
    mark_dirty(st, now)?;
    // Put it back before scheduling its interruptions (they read the fleet).
    if let Some(spot) = fleet.factory.spot(u.pool).cloned() {
        let at = now.saturating_add(next_interruption(&spot, &mut fleet.rng_spot));
        if at <= st.config.end {
            st.queue
                .push(at, Event::SpotInterrupted { node: id, epoch: 0 })?;
            st.periodic_queued += 1;
        }
    }
    Ok(())
}

/// Cordons `node`, evicts its pods (they terminate during their grace period and go back to
/// the queue) and deletes it once they are gone.
fn drain_and_delete(
    world: &mut World,
    st: &mut SimState,
    fleet: &mut Fleet,
    node: NodeId,
    now: SimTime,
    cause: Eviction,
) -> Result<(), SimError> {
    let i = node.0 as usize;
    if fleet.life.get(i) != Some(&Life::Active) {
        return Ok(());
    }
    fleet.life[i] = Life::Deleting;
    let n = &mut st.cluster.nodes[i];
    n.unschedulable = true;
    n.taints.push(Taint {
        key: TAINT_TO_BE_DELETED.to_string(),
        value: String::new(),
        effect: TaintEffect::NoSchedule,
    });
    for j in jobs_on(&st.cluster, node) {
        if st.health[i].up {
            evict(world, st, j, now, cause)?;
        }
    }
    let grace = match cause {
        Eviction::SpotInterruption => fleet.factory.pools[st.cluster.nodes[i].pool.0 as usize]
            .spot
            .as_ref()
            .map_or(st.config.termination_grace, |s| s.notice),
        _ => st.config.termination_grace,
    };
    st.queue
        .push(now.saturating_add(grace), Event::NodeDeleted { node })?;
    Ok(())
}

/// A draining node's time is up: whatever still runs there is killed, and the node is gone.
pub(crate) fn node_deleted(
    world: &mut World,
    st: &mut SimState,
    node: NodeId,
    now: SimTime,
) -> Result<(), SimError> {
    let Some(mut fleet) = st.fleet.take() else {
        return Ok(());
    };
    let r = delete(world, st, &mut fleet, node, now);
    st.fleet = Some(fleet);
    r
}

fn delete(
    world: &mut World,
    st: &mut SimState,
    fleet: &mut Fleet,
    node: NodeId,
    now: SimTime,
) -> Result<(), SimError> {
    let i = node.0 as usize;
    if fleet.life.get(i) != Some(&Life::Deleting) {
        return Ok(());
    }
    // Pods still there (their grace outlasted the drain, or they stalled on a dead node)
    // are lost with the node.
    for j in jobs_on(&st.cluster, node) {
        fail_and_restart(world, st, j, now)?;
        let e = st.jobs[j as usize];
        if world
            .get::<JobStatus>(e)
            .is_some_and(|s| s.phase == Phase::Terminating)
        {
            super::unbind_all(world, st, j, now);
            enqueue(world, st, j, now);
        }
    }
    fleet.life[i] = Life::Gone;
    let pool = st.cluster.nodes[i].pool.0 as usize;
    fleet.factory.released(pool);
    let n = &mut st.cluster.nodes[i];
    let capacity = n.gpu_capacity_milli() as i64;
    n.cpu_allocatable = 0;
    n.memory_allocatable = 0;
    n.cpu_free = 0;
    n.memory_free = 0;
    n.gpu_free.clear();
    n.unschedulable = true;
    let h = &mut st.health[i];
    h.up = false;
    h.epoch += 1;
    st.metrics.capacity_changed(now, -capacity);
    st.metrics.node_unbilled(now, pool);
    st.metrics.nodes_deleted += 1;
    st.cluster_changes += 1;
    st.log_hash.update([0xA2]);
    st.log_hash.update(node.0.to_le_bytes());
    mark_dirty(st, now)
}

/// The cloud takes a spot node back: the node is cordoned and drained at the notice and
/// deleted when it ends. A pool the autoscaler manages gets its replacement from the
/// autoscaler (the evicted pods are unschedulable); a fixed pool's node group requests a
/// replacement at once.
pub(crate) fn spot_interrupted(
    world: &mut World,
    st: &mut SimState,
    node: NodeId,
    epoch: u32,
    now: SimTime,
) -> Result<(), SimError> {
    let Some(mut fleet) = st.fleet.take() else {
        return Ok(());
    };
    let i = node.0 as usize;
    let r = if fleet.life.get(i) == Some(&Life::Active) && st.health[i].epoch == epoch {
        let pool = st.cluster.nodes[i].pool.0 as usize;
        let before = group_size(st, &fleet, pool);
        st.metrics.spot_interruptions += 1;
        let mut r = drain_and_delete(world, st, &mut fleet, node, now, Eviction::SpotInterruption);
        let replace = fleet.factory.pools[pool].group.is_none();
        if r.is_ok() && replace {
            r = request_node(st, &mut fleet, pool, now);
        }
        st.decisions.push(ScaleDecision {
            time_s: now.as_secs_f64(),
            actor: "cloud".into(),
            target: st.cluster.pools[pool].name.clone(),
            from: before,
            to: if replace {
                before
            } else {
                before.saturating_sub(1)
            },
            reason: format!(
                "spot interruption of {}{}",
                st.cluster.nodes[i].name,
                if replace {
                    "; the node group requests a replacement"
                } else {
                    "; the Cluster Autoscaler replaces it if its pods need one"
                }
            ),
        });
        r
    } else if st.health[i].epoch != epoch && fleet.life.get(i) == Some(&Life::Active) {
        // The node failed and was repaired since: its interruption clock restarts.
        st.fleet = Some(fleet);
        return schedule_spot(st, node, now);
    } else {
        Ok(())
    };
    st.fleet = Some(fleet);
    r
}
