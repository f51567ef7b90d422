//! The Cluster Autoscaler as a pure decision function.
//!
//! [`ClusterAutoscaler::run_once`] reproduces one `RunOnce` loop of kubernetes/autoscaler
//! `cluster-autoscaler` (`core/static_autoscaler.go`; kubernetes-semantics.md §2): it reads a
//! [`CaView`] the caller builds from its cluster (the simulator's state, or informers in the
//! real-cluster driver), and returns a [`CaPlan`] of actions the caller applies: add nodes to a
//! group, delete (drain) nodes, give up on nodes that did not come up in time. The controller's
//! memory (per-group backoff, last scale-up / delete / failure times, when each node became
//! unneeded) lives in the [`ClusterAutoscaler`] value kept between loops.
//!
//! ## One loop
//! 1. Backoff entries older than the reset timeout are dropped (`RemoveStaleBackoffData`).
//! 2. Nodes requested more than [`CaConfig::max_node_provision_time`] ago and still not ready
//!    are given up: [`CaAction::ProvisionFailed`], and the group is backed off.
//! 3. Scale-up: unschedulable pods below the expendable cutoff are dropped; pods that fit on a
//!    ready node or on an upcoming node (requested, not ready yet; its group's template stands
//!    in for it) are dropped, so the same pods do not trigger twice; pods younger than
//!    [`CaConfig::new_pod_scale_up_delay`] wait. If every remaining pod is very new (2 s, 30 s
//!    for GPU pods) the loop waits and also skips scale-down. Otherwise each group that is not
//!    backed off and below its max gets an option from the binpacking estimator; the expander
//!    picks one; [`CaAction::ScaleUp`].
//! 4. Scale-down, only when this loop did not scale up: the pods of nodes already being
//!    deleted are placed first (none of this loop's scale-down if they cannot be); then
//!    candidates below the utilization threshold whose pods can all move are unneeded;
//!    unneeded times are tracked; outside the cool-downs,
//!    nodes unneeded for long enough are deleted, empty ones in bulk, non-empty ones one at a
//!    time ([`CaAction::DeleteNodes`]).
//!
//! ## Simplifications (not Kubernetes behaviour)
//! * No gang atomicity: each pending pod is simulated on its own, as upstream without
//!   ProvisioningRequest (§2.1 \[docs\]). A gang may get nodes for some of its pods only.
//! * No DaemonSet pods on templates (give the template its allocatable after DaemonSets), no
//!   PodDisruptionBudgets, no local-storage or system-pod blockers, no scale-down-disabled
//!   annotation, no cluster-health halt (`--max-total-unready-percentage`), no
//!   `--cores-total`/`--memory-total` limits, no `balance-similar-node-groups`, no unremovable
//!   recheck timeout and no cap on the number of non-empty candidates simulated per loop.
//! * A destination node keeps the pods moved onto it for the rest of the loop's scale-down
//!   simulation (upstream forks and reverts the snapshot per candidate and only drops removed
//!   nodes from the destinations), so two candidates never count on the same free space, and a
//!   node that receives moved pods is not itself removed in the same loop. Pods are moved to
//!   nodes that are not candidates first.
//! * Upcoming nodes that registered but are not ready (`NotStarted`) and unregistered ones are
//!   both given up after `max_node_provision_time` (the semantics note asks the whole boot,
//!   driver and device-plugin sequence to fit in it, §2.4).

use std::collections::{BTreeMap, BTreeSet};

use rand_core::Rng;
use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, Node, PodSpec, Taint};
use crate::ids::{GpuModel, NodeId, PodId, PoolId};
use crate::resources::{DeviceSet, MAX_GPUS_PER_NODE, MILLI_PER_GPU};
use crate::rng::uniform_below;
use crate::time::{SimDuration, SimTime};

/// One entry of the priority expander's ConfigMap: node groups whose name matches `pattern`
/// (a regular expression, unanchored as Go's `FindStringIndex`) get `priority`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityRule {
    /// Regular expression matched against the node group name.
    pub pattern: String,
    /// Priority; higher wins.
    pub priority: i32,
}

/// `--expander`: how the scale-up option is chosen among the node groups that can help
/// (kubernetes-semantics.md §2.1 \[src\] for the default, \[docs\] for the options). Remaining
/// ties are broken uniformly at random from the caller's generator (the `random` fallback of
/// upstream's expander chain).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expander {
    /// The option leaving the least idle CPU plus memory, as fractions of the new nodes'
    /// capacity (`expander/waste/waste.go`: `(cap − req)/cap` for cpu plus the same for memory;
    /// GPUs are not counted). The default in current `flags.go` \[src\].
    #[default]
    LeastWaste,
    /// The option scheduling the most pods (`expander/mostpods`).
    MostPods,
    /// The option adding the fewest nodes (`expander/leastnodes`).
    LeastNodes,
    /// A uniformly random option (`expander/random`).
    Random,
    /// The highest priority (`expander/priority`): each group's priority is the highest
    /// `priority` of the rules matching its name, else its [`NodeGroup::priority`]; groups with
    /// neither are never used, as upstream ignores groups missing from the ConfigMap.
    Priority(Vec<PriorityRule>),
}

impl Expander {
    /// The flag value (`least-waste`, `most-pods`, `least-nodes`, `random`, `priority`).
    pub fn name(&self) -> &'static str {
        match self {
            Expander::LeastWaste => "least-waste",
            Expander::MostPods => "most-pods",
            Expander::LeastNodes => "least-nodes",
            Expander::Random => "random",
            Expander::Priority(_) => "priority",
        }
    }
}

/// Cluster Autoscaler flags; each default is upstream's (`config/flags/flags.go`,
/// kubernetes-semantics.md §2 \[src\] unless noted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaConfig {
    /// `--scan-interval`, 10 s: how often the caller runs [`ClusterAutoscaler::run_once`].
    pub scan_interval: SimDuration,
    /// `--expander`, `least-waste`.
    pub expander: Expander,
    /// `--max-node-provision-time`, 15 min: a requested node not ready by then is given up and
    /// its group backed off.
    pub max_node_provision_time: SimDuration,
    /// `--initial-node-group-backoff-duration`, 5 min.
    pub initial_backoff: SimDuration,
    /// `--max-node-group-backoff-duration`, 30 min.
    pub max_backoff: SimDuration,
    /// `--node-group-backoff-reset-timeout`, 3 h: a group whose last failure is older is
    /// forgotten and starts again at the initial backoff.
    pub backoff_reset_timeout: SimDuration,
    /// `--max-nodes-total`, 0 = unlimited: no scale-up once this many nodes are ready, and new
    /// nodes are capped so that registered plus upcoming nodes stay within it.
    pub max_nodes_total: u32,
    /// `--max-nodes-per-scaleup`, 1000: the estimator's node limit per scale-up.
    pub max_nodes_per_scaleup: u32,
    /// `--expendable-pods-priority-cutoff`, −10: pods below it never trigger a scale-up and do
    /// not hold a node on scale-down \[docs\].
    pub expendable_pods_priority_cutoff: i32,
    /// `--new-pod-scale-up-delay`, 0 s: pods unschedulable for less are not considered.
    pub new_pod_scale_up_delay: SimDuration,
    /// `unschedulablePodTimeBuffer`, 2 s (a constant in `static_autoscaler.go` \[src\]): when
    /// every pending pod is younger, the loop waits for more and skips scale-down.
    pub unschedulable_pod_time_buffer: SimDuration,
    /// `unschedulablePodWithGpuTimeBuffer`, 30 s (same file \[src\]): the same wait when the
    /// oldest pending GPU pod is younger.
    pub unschedulable_pod_with_gpu_time_buffer: SimDuration,
    /// `--scale-down-enabled`, true.
    pub scale_down_enabled: bool,
    /// `--scale-down-utilization-threshold`, 0.5: CPU/memory nodes below it are candidates.
    pub scale_down_utilization_threshold: f64,
    /// `--scale-down-gpu-utilization-threshold`, 0.5: GPU nodes below it are candidates.
    pub scale_down_gpu_utilization_threshold: f64,
    /// `--scale-down-unneeded-time`, 10 min.
    pub scale_down_unneeded_time: SimDuration,
    /// `--scale-down-unready-time`, 20 min (for unready candidates).
    pub scale_down_unready_time: SimDuration,
    /// `--scale-down-delay-after-add`, 10 min.
    pub scale_down_delay_after_add: SimDuration,
    /// `--scale-down-delay-after-delete`, 0 = one scan interval.
    pub scale_down_delay_after_delete: SimDuration,
    /// `--scale-down-delay-after-failure`, 3 min.
    pub scale_down_delay_after_failure: SimDuration,
    /// `--max-scale-down-parallelism`, 10 nodes deleted at once (empty and drained).
    pub max_scale_down_parallelism: u32,
    /// `--max-drain-parallelism`, 1 non-empty node drained at once.
    pub max_drain_parallelism: u32,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            scan_interval: SimDuration::from_secs(10),
            expander: Expander::LeastWaste,
            max_node_provision_time: SimDuration::from_mins(15),
            initial_backoff: SimDuration::from_mins(5),
            max_backoff: SimDuration::from_mins(30),
            backoff_reset_timeout: SimDuration::from_hours(3),
            max_nodes_total: 0,
            max_nodes_per_scaleup: 1000,
            expendable_pods_priority_cutoff: -10,
            new_pod_scale_up_delay: SimDuration::ZERO,
            unschedulable_pod_time_buffer: SimDuration::from_secs(2),
            unschedulable_pod_with_gpu_time_buffer: SimDuration::from_secs(30),
            scale_down_enabled: true,
            scale_down_utilization_threshold: 0.5,
            scale_down_gpu_utilization_threshold: 0.5,
            scale_down_unneeded_time: SimDuration::from_mins(10),
            scale_down_unready_time: SimDuration::from_mins(20),
            scale_down_delay_after_add: SimDuration::from_mins(10),
            scale_down_delay_after_delete: SimDuration::ZERO,
            scale_down_delay_after_failure: SimDuration::from_mins(3),
            max_scale_down_parallelism: 10,
            max_drain_parallelism: 1,
        }
    }
}

impl CaConfig {
    /// Checks the values the loop relies on.
    ///
    /// # Errors
    /// [`CaConfigError::Pattern`] for a priority rule that is not a valid regular expression,
    /// [`CaConfigError::Threshold`] for a utilization threshold outside `[0, 1]`,
    /// [`CaConfigError::ScanInterval`] for a zero scan interval.
    pub fn validate(&self) -> Result<(), CaConfigError> {
        if self.scan_interval.0 == 0 {
            return Err(CaConfigError::ScanInterval);
        }
        for t in [
            self.scale_down_utilization_threshold,
            self.scale_down_gpu_utilization_threshold,
        ] {
            if !(0.0..=1.0).contains(&t) {
                return Err(CaConfigError::Threshold(t));
            }
        }
        if let Expander::Priority(rules) = &self.expander {
            for r in rules {
                if let Err(e) = regex::Regex::new(&r.pattern) {
                    return Err(CaConfigError::Pattern {
                        pattern: r.pattern.clone(),
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// `--scale-down-delay-after-delete`, with 0 meaning one scan interval (§2.3 \[src\]).
    pub fn effective_delay_after_delete(&self) -> SimDuration {
        if self.scale_down_delay_after_delete.0 == 0 {
            self.scan_interval
        } else {
            self.scale_down_delay_after_delete
        }
    }
}

/// A configuration [`CaConfig::validate`] rejects. The loop never panics on it either way
/// (an invalid pattern simply matches no group).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CaConfigError {
    /// A priority expander pattern is not a valid regular expression.
    #[error("priority expander pattern {pattern:?} is not a valid regular expression: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The parser's message.
        message: String,
    },
    /// A utilization threshold is outside `[0, 1]`.
    #[error("utilization threshold {0} is outside [0, 1]")]
    Threshold(f64),
    /// The scan interval is zero.
    #[error("scan interval must be above 0")]
    ScanInterval,
}

/// The shape of the nodes a group adds: what CA's template node holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeTemplate {
    /// Allocatable CPU in millicores.
    pub cpu_milli: u64,
    /// Allocatable memory in MiB.
    pub memory_mib: u64,
    /// GPU devices (0 for CPU-only groups; at most 64).
    pub gpus: u32,
    /// GPU model (an id interned in the [`Cluster`]).
    pub gpu_model: Option<GpuModel>,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<Taint>,
}

impl NodeTemplate {
    /// A fresh, empty node of this shape.
    pub fn build(&self, name: impl Into<String>, pool: PoolId) -> Node {
        let gpus = self.gpus.min(MAX_GPUS_PER_NODE) as usize;
        Node {
            name: name.into(),
            pool,
            gpu_model: self.gpu_model,
            cpu_allocatable: self.cpu_milli,
            memory_allocatable: self.memory_mib,
            cpu_free: self.cpu_milli,
            memory_free: self.memory_mib,
            gpu_free: vec![MILLI_PER_GPU; gpus],
            labels: self.labels.clone(),
            taints: self.taints.clone(),
            unschedulable: false,
            pods: Vec::new(),
        }
    }
}

/// A node group (a cloud instance group / node pool) the autoscaler resizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// Group name (what the priority expander's patterns match).
    pub name: String,
    /// The [`Cluster`] pool its nodes belong to.
    pub pool: PoolId,
    /// Minimum size (never crossed by scale-down).
    pub min_size: u32,
    /// Maximum size (never crossed by scale-up).
    pub max_size: u32,
    /// Shape of its nodes.
    pub template: NodeTemplate,
    /// Price per node-hour in dollars (for the report; no expander here uses it).
    pub price_per_node_hour: f64,
    /// Priority for the priority expander when no rule matches the name.
    pub priority: Option<i32>,
}

impl NodeGroup {
    fn has_gpu(&self) -> bool {
        self.template.gpus > 0
    }
}

/// A registered node's lifecycle as the autoscaler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaNodeState {
    /// Ready: holds pods, receives moved pods, may be a scale-down candidate.
    Ready,
    /// Registered after a scale-up but not ready yet (booting, GPU driver or device plugin
    /// still installing: a GPU node with 0 allocatable GPUs counts here, §2.4 \[src\]). Its
    /// group's template stands in for it, and it is given up if not ready by
    /// `requested_at + max_node_provision_time`.
    NotStarted {
        /// When the scale-up requested it.
        requested_at: SimTime,
    },
    /// Was ready, now is not: a scale-down candidate after the unready time, never a
    /// destination.
    Unready,
    /// Being deleted: ignored, but counts against the scale-down parallelism.
    Deleting,
    /// Deleted: no longer part of the cluster (the caller keeps its slot so that node indices
    /// stay stable). Ignored everywhere: not counted in any group's size, never a destination,
    /// never a candidate.
    Gone,
}

/// The autoscaler's view of one node of [`Cluster::nodes`] (same index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaNodeInfo {
    /// Index into the `groups` slice given to [`ClusterAutoscaler::run_once`]; `None` for nodes
    /// no group manages (never added or removed).
    pub group: Option<usize>,
    /// Lifecycle state.
    pub state: CaNodeState,
}

/// A node a scale-up requested that has not registered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpcomingNode {
    /// Index into the `groups` slice.
    pub group: usize,
    /// The name it will have (reported in [`CaAction::ProvisionFailed`]).
    pub name: String,
    /// When it was requested.
    pub requested_at: SimTime,
}

/// A pod the scheduler marked `PodScheduled=False`, reason `Unschedulable`.
#[derive(Debug, Clone, Copy)]
pub struct UnschedulablePod<'a> {
    /// The pod.
    pub pod: PodId,
    /// Its spec (requests, priority, node selector, tolerations, GPU models).
    pub spec: &'a PodSpec,
    /// When it was created or became unschedulable (used for the new-pod delays).
    pub since: SimTime,
}

/// What one loop reads, built by the caller.
#[derive(Clone, Copy)]
pub struct CaView<'a> {
    /// The registered nodes and their bound pods.
    pub cluster: &'a Cluster,
    /// One entry per node of `cluster.nodes` (same index); a node without an entry is an
    /// ungrouped ready node.
    pub nodes: &'a [CaNodeInfo],
    /// Requested nodes that have not registered yet.
    pub upcoming: &'a [UpcomingNode],
    /// Unschedulable pods, in any stable order.
    pub unschedulable: &'a [UnschedulablePod<'a>],
    /// The spec of a bound pod (to simulate moving it with the scheduler's Filter). A pod whose
    /// spec is unknown cannot be moved, so its node is never removed while it holds it.
    pub pod_spec: &'a dyn Fn(PodId) -> Option<&'a PodSpec>,
}

impl std::fmt::Debug for CaView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaView")
            .field("nodes", &self.cluster.nodes.len())
            .field("upcoming", &self.upcoming.len())
            .field("unschedulable", &self.unschedulable.len())
            .finish()
    }
}

impl CaView<'_> {
    fn info(&self, i: usize) -> CaNodeInfo {
        self.nodes.get(i).copied().unwrap_or(CaNodeInfo {
            group: None,
            state: CaNodeState::Ready,
        })
    }
}

/// One action of a loop, for the caller to apply and the report's decision log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CaAction {
    /// Add `delta` nodes to `group` (index into `groups`).
    ScaleUp {
        /// Group index.
        group: usize,
        /// Nodes to add.
        delta: u32,
        /// Pods the estimator placed on the new nodes.
        pods_helped: Vec<PodId>,
        /// Human-readable reason (expander, waste figures, pods).
        reason: String,
    },
    /// Cordon, drain (evict the pods; expendable ones are simply killed) and delete `nodes`.
    DeleteNodes {
        /// Nodes to delete.
        nodes: Vec<NodeId>,
        /// True when the nodes hold no pod that needs moving (bulk-deleted).
        empty: bool,
        /// Human-readable reason (utilization, unneeded since).
        reason: String,
    },
    /// Give up on nodes of `group` not ready `max_node_provision_time` after their request:
    /// delete them; the group is backed off.
    ProvisionFailed {
        /// Group index.
        group: usize,
        /// Node names: [`UpcomingNode::name`] for unregistered ones, [`Node::name`] for
        /// `NotStarted` ones.
        nodes: Vec<String>,
        /// Human-readable reason.
        reason: String,
    },
}

/// The outcome of one loop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaPlan {
    /// Actions, in the order to apply them.
    pub actions: Vec<CaAction>,
    /// Nodes found unneeded in this loop (candidates whose pods can all move), whether or not
    /// they are deleted yet.
    pub unneeded: Vec<NodeId>,
    /// Why nothing happened where something could have (cool-down, backoff, limits).
    pub notes: Vec<String>,
}

/// A group's backoff (`utils/backoff/exponential_backoff.go` \[src\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackoffInfo {
    /// Current backoff length.
    pub duration: SimDuration,
    /// Backed off until this time (exclusive).
    pub until: SimTime,
    /// Time of the last failure.
    pub last_failed: SimTime,
}

/// The Cluster Autoscaler's state between loops.
#[derive(Debug, Clone, Default)]
pub struct ClusterAutoscaler {
    backoff: BTreeMap<String, BackoffInfo>,
    last_scale_up: Option<SimTime>,
    last_delete: Option<SimTime>,
    last_scale_down_failure: Option<SimTime>,
    unneeded_since: BTreeMap<String, SimTime>,
    regexes: BTreeMap<String, Option<regex::Regex>>,
}

/// One group's scale-up option.
#[derive(Debug, Clone)]
struct ScaleUpOption {
    group: usize,
    nodes: u32,
    pods: Vec<PodId>,
    cpu_requested: u64,
    memory_requested: u64,
}

/// `a + d > now`, i.e. `now` is still inside the span `[a, a + d)` (Go's `a.Add(d).After(now)`).
fn within(a: SimTime, d: SimDuration, now: SimTime) -> bool {
    a.saturating_add(d) > now
}

/// Assumes `spec` onto `node` if the scheduler's Filter accepts it: subtracts its requests and
/// returns the devices used.
fn assume(node: &mut Node, spec: &PodSpec) -> Option<DeviceSet> {
    node.filter(spec).ok()?;
    let devices = node.default_devices(spec.request.gpu)?;
    node.cpu_free -= spec.request.cpu_milli;
    node.memory_free -= spec.request.memory_mib;
    for d in devices.iter() {
        if let Some(f) = node.gpu_free.get_mut(d as usize) {
            *f -= spec.request.gpu.milli;
        }
    }
    Some(devices)
}

/// A copy of `node` for simulated placements: everything Filter reads, without the bound pods.
fn scratch(node: &Node) -> Node {
    Node {
        name: node.name.clone(),
        pool: node.pool,
        gpu_model: node.gpu_model,
        cpu_allocatable: node.cpu_allocatable,
        memory_allocatable: node.memory_allocatable,
        cpu_free: node.cpu_free,
        memory_free: node.memory_free,
        gpu_free: node.gpu_free.clone(),
        labels: node.labels.clone(),
        taints: node.taints.clone(),
        unschedulable: node.unschedulable,
        pods: Vec::new(),
    }
}

/// Undoes [`assume`].
fn unassume(node: &mut Node, spec: &PodSpec, devices: DeviceSet) {
    node.cpu_free += spec.request.cpu_milli;
    node.memory_free += spec.request.memory_mib;
    for d in devices.iter() {
        if let Some(f) = node.gpu_free.get_mut(d as usize) {
            *f += spec.request.gpu.milli;
        }
    }
}

/// Node utilization as `simulator/utilization/info.go` computes it (kubernetes-semantics.md
/// §2.3 \[src\]): for a node of a GPU group, GPU requests over allocatable GPUs only (0 when no
/// GPU is allocatable); otherwise `max(cpu requests / allocatable, memory requests /
/// allocatable)`. Every bound pod counts.
pub fn node_utilization(node: &Node, gpu_group: bool) -> f64 {
    if gpu_group || node.gpu_count() > 0 {
        let cap = node.gpu_capacity_milli();
        if cap == 0 {
            return 0.0;
        }
        return (cap - node.gpu_free_milli().min(cap)) as f64 / cap as f64;
    }
    let ratio = |alloc: u64, free: u64| {
        if alloc == 0 {
            0.0
        } else {
            alloc.saturating_sub(free) as f64 / alloc as f64
        }
    };
    ratio(node.cpu_allocatable, node.cpu_free).max(ratio(node.memory_allocatable, node.memory_free))
}

impl ClusterAutoscaler {
    /// A fresh autoscaler: no backoff, no cool-down (upstream starts its last scale times an
    /// hour in the past "so as to not start in cooldown mode", `static_autoscaler.go` \[src\]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The group's backoff, if it has one.
    pub fn backoff(&self, group: &str) -> Option<BackoffInfo> {
        self.backoff.get(group).copied()
    }

    /// True when `group` is backed off at `now` (`IsBackedOff`: `until` after `now`).
    pub fn is_backed_off(&self, group: &str, now: SimTime) -> bool {
        self.backoff.get(group).is_some_and(|b| b.until > now)
    }

    /// When `node` (by name) became unneeded, if it is.
    pub fn unneeded_since(&self, node: &str) -> Option<SimTime> {
        self.unneeded_since.get(node).copied()
    }

    /// The time of the last scale-up this autoscaler planned.
    pub fn last_scale_up(&self) -> Option<SimTime> {
        self.last_scale_up
    }

    /// Reports that a scale-up of `group` failed (for example a GPU stockout): the group is
    /// backed off (`Backoff` in `utils/backoff/exponential_backoff.go`, kubernetes-semantics.md
    /// §2.2 \[src\]): the initial duration, doubled up to the max when the previous backoff had
    /// already expired (concurrent failures inside a backoff do not double it), back to the
    /// initial one when the last failure is older than the reset timeout. Returns the time the
    /// group is backed off until. (The semantics note tags the doubling \[unverified\]; the
    /// `2 * backoffInfo.duration` line was checked in the upstream file.)
    pub fn on_scale_up_failed(&mut self, cfg: &CaConfig, group: &str, now: SimTime) -> SimTime {
        let mut duration = cfg.initial_backoff;
        if let Some(b) = self.backoff.get(group) {
            duration = if b.until < now {
                SimDuration(b.duration.0.saturating_mul(2)).min(cfg.max_backoff)
            } else {
                b.duration
            };
            if b.last_failed.saturating_add(cfg.backoff_reset_timeout) < now {
                duration = cfg.initial_backoff;
            }
        }
        let until = now.saturating_add(duration);
        self.backoff.insert(
            group.to_string(),
            BackoffInfo {
                duration,
                until,
                last_failed: now,
            },
        );
        until
    }

    /// Reports that a planned scale-down failed (a drain that did not finish): no scale-down
    /// for [`CaConfig::scale_down_delay_after_failure`] (`lastScaleDownFailTime`).
    pub fn on_scale_down_failed(&mut self, now: SimTime) {
        self.last_scale_down_failure = Some(now);
    }

    /// One loop. See the module documentation for the steps.
    ///
    /// `groups` are the node groups (indices in [`CaNodeInfo::group`] and
    /// [`UpcomingNode::group`] point into it; out-of-range indices are treated as ungrouped);
    /// `rng` breaks expander ties and drives the `random` expander.
    pub fn run_once(
        &mut self,
        cfg: &CaConfig,
        groups: &[NodeGroup],
        view: &CaView<'_>,
        now: SimTime,
        rng: &mut dyn Rng,
    ) -> CaPlan {
        let mut plan = CaPlan::default();
        // RemoveStaleBackoffData.
        self.backoff
            .retain(|_, b| b.last_failed.saturating_add(cfg.backoff_reset_timeout) >= now);

        // Provisioning timeouts: requested_at + max-node-provision-time before now.
        let timed_out =
            |requested: SimTime| requested.saturating_add(cfg.max_node_provision_time) < now;
        let mut failed: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut failed_registered: BTreeSet<usize> = BTreeSet::new();
        let mut failed_upcoming: BTreeSet<usize> = BTreeSet::new();
        for (i, node) in view.cluster.nodes.iter().enumerate() {
            let info = view.info(i);
            if let (Some(g), CaNodeState::NotStarted { requested_at }) = (info.group, info.state)
                && g < groups.len()
                && timed_out(requested_at)
            {
                failed.entry(g).or_default().push(node.name.clone());
                failed_registered.insert(i);
            }
        }
        for (k, u) in view.upcoming.iter().enumerate() {
            if u.group < groups.len() && timed_out(u.requested_at) {
                failed.entry(u.group).or_default().push(u.name.clone());
                failed_upcoming.insert(k);
            }
        }
        for (g, nodes) in failed {
            let until = self.on_scale_up_failed(cfg, &groups[g].name, now);
            plan.actions.push(CaAction::ProvisionFailed {
                group: g,
                reason: format!(
                    "{} node(s) of {} not ready {} after the request; backed off until {}",
                    nodes.len(),
                    groups[g].name,
                    cfg.max_node_provision_time,
                    until
                ),
                nodes,
            });
        }

        // Target sizes: registered nodes not being deleted plus upcoming ones, minus the ones
        // given up above.
        let mut sizes = vec![0u32; groups.len()];
        let mut ready_nodes = 0u32;
        let mut total_nodes = 0u32;
        for i in 0..view.cluster.nodes.len() {
            let info = view.info(i);
            if info.state == CaNodeState::Ready {
                ready_nodes += 1;
            }
            if matches!(info.state, CaNodeState::Deleting | CaNodeState::Gone)
                || failed_registered.contains(&i)
            {
                continue;
            }
            total_nodes += 1;
            if let Some(g) = info.group.filter(|&g| g < groups.len()) {
                sizes[g] += 1;
            }
        }
        for (k, u) in view.upcoming.iter().enumerate() {
            if u.group < groups.len() && !failed_upcoming.contains(&k) {
                sizes[u.group] += 1;
                total_nodes += 1;
            }
        }

        let (scaled_up, skip_scale_down) = self.scale_up(
            cfg,
            groups,
            view,
            now,
            rng,
            &sizes,
            ready_nodes,
            total_nodes,
            &failed_registered,
            &failed_upcoming,
            &mut plan,
        );
        if scaled_up {
            self.last_scale_up = Some(now);
            return plan;
        }
        if cfg.scale_down_enabled {
            self.scale_down(
                cfg,
                groups,
                view,
                now,
                &mut sizes,
                skip_scale_down,
                &mut plan,
            );
        }
        plan
    }

    /// The scale-up half. Returns (scaled up, scale-down disabled for this loop).
    #[allow(clippy::too_many_arguments)]
    fn scale_up(
        &mut self,
        cfg: &CaConfig,
        groups: &[NodeGroup],
        view: &CaView<'_>,
        now: SimTime,
        rng: &mut dyn Rng,
        sizes: &[u32],
        ready_nodes: u32,
        total_nodes: u32,
        failed_registered: &BTreeSet<usize>,
        failed_upcoming: &BTreeSet<usize>,
        plan: &mut CaPlan,
    ) -> (bool, bool) {
        // Expendable pods never trigger a scale-up.
        let mut pending: Vec<UnschedulablePod<'_>> = view
            .unschedulable
            .iter()
            .filter(|p| p.spec.priority >= cfg.expendable_pods_priority_cutoff)
            .copied()
            .collect();
        if pending.is_empty() {
            return (false, false);
        }
        // Filter out pods that fit on ready nodes or on upcoming nodes (templates), most
        // important first, each one assumed so the next sees it.
        pending.sort_by_key(|p| std::cmp::Reverse(p.spec.priority));
        let mut overlay: Vec<Option<Node>> = vec![None; view.cluster.nodes.len()];
        let mut placeholders: Vec<Node> = Vec::new();
        for (i, node) in view.cluster.nodes.iter().enumerate() {
            let info = view.info(i);
            if let (Some(g), CaNodeState::NotStarted { .. }) = (info.group, info.state)
                && g < groups.len()
                && !failed_registered.contains(&i)
            {
                placeholders.push(groups[g].template.build(node.name.clone(), groups[g].pool));
            }
        }
        for (k, u) in view.upcoming.iter().enumerate() {
            if u.group < groups.len() && !failed_upcoming.contains(&k) {
                let g = &groups[u.group];
                placeholders.push(g.template.build(u.name.clone(), g.pool));
            }
        }
        pending.retain(|p| {
            for (i, node) in view.cluster.nodes.iter().enumerate() {
                if view.info(i).state != CaNodeState::Ready {
                    continue;
                }
                if node.filter(p.spec).is_err() {
                    continue;
                }
                let n = overlay[i].get_or_insert_with(|| scratch(node));
                if assume(n, p.spec).is_some() {
                    return false;
                }
            }
            !placeholders.iter_mut().any(|n| assume(n, p.spec).is_some())
        });
        // filterOutYoungPods: --new-pod-scale-up-delay.
        pending.retain(|p| now.since(p.since) >= cfg.new_pod_scale_up_delay);
        if pending.is_empty() {
            return (false, false);
        }
        if cfg.max_nodes_total > 0 && ready_nodes >= cfg.max_nodes_total {
            plan.notes.push(format!(
                "scale-up: max total nodes reached ({ready_nodes} ready, max {})",
                cfg.max_nodes_total
            ));
            return (false, false);
        }
        // allPodsAreNew: wait one loop for more pods (and skip scale-down).
        let oldest = pending.iter().map(|p| p.since).min().unwrap_or(now);
        let oldest_gpu = pending
            .iter()
            .filter(|p| !p.spec.request.gpu.is_none())
            .map(|p| p.since)
            .min();
        if within(oldest, cfg.unschedulable_pod_time_buffer, now)
            || oldest_gpu
                .is_some_and(|t| within(t, cfg.unschedulable_pod_with_gpu_time_buffer, now))
        {
            plan.notes.push(format!(
                "scale-up: {} unschedulable pod(s) are very new, waiting one loop for more",
                pending.len()
            ));
            return (false, true);
        }

        // One option per group.
        let mut options: Vec<ScaleUpOption> = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            if self.is_backed_off(&group.name, now) {
                plan.notes
                    .push(format!("scale-up: group {} is backed off", group.name));
                continue;
            }
            let size = sizes.get(g).copied().unwrap_or(0);
            if size >= group.max_size {
                continue;
            }
            let mut limit = cfg.max_nodes_per_scaleup.min(group.max_size - size);
            if cfg.max_nodes_total > 0 {
                limit = limit.min(cfg.max_nodes_total.saturating_sub(total_nodes));
            }
            if limit == 0 {
                continue;
            }
            let template = group
                .template
                .build(format!("{}-template", group.name), group.pool);
            let fits: Vec<&UnschedulablePod<'_>> = pending
                .iter()
                .filter(|p| template.filter(p.spec).is_ok())
                .collect();
            if fits.is_empty() {
                continue;
            }
            let (nodes, pods) = estimate(&template, &fits, limit);
            if nodes == 0 {
                continue;
            }
            let (mut cpu, mut mem) = (0u64, 0u64);
            for p in fits.iter().filter(|p| pods.contains(&p.pod)) {
                cpu += p.spec.request.cpu_milli;
                mem += p.spec.request.memory_mib;
            }
            options.push(ScaleUpOption {
                group: g,
                nodes,
                pods,
                cpu_requested: cpu,
                memory_requested: mem,
            });
        }
        if options.is_empty() {
            plan.notes.push(format!(
                "scale-up: no node group can help {} unschedulable pod(s)",
                pending.len()
            ));
            return (false, false);
        }
        let Some((best, why)) = self.choose(cfg, groups, &options, rng) else {
            plan.notes
                .push("scale-up: the expander left no option".to_string());
            return (false, false);
        };
        let opt = &options[best];
        let group = &groups[opt.group];
        let pods_list = opt
            .pods
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        plan.actions.push(CaAction::ScaleUp {
            group: opt.group,
            delta: opt.nodes,
            reason: format!(
                "{} unschedulable pod(s) fit {} new node(s) of {} ({}; {} of {} option(s)): {}",
                opt.pods.len(),
                opt.nodes,
                group.name,
                why,
                cfg.expander.name(),
                options.len(),
                pods_list
            ),
            pods_helped: opt.pods.clone(),
        });
        (true, true)
    }

    /// Applies the expander; returns the chosen option's index and a short explanation.
    fn choose(
        &mut self,
        cfg: &CaConfig,
        groups: &[NodeGroup],
        options: &[ScaleUpOption],
        rng: &mut dyn Rng,
    ) -> Option<(usize, String)> {
        let all: Vec<usize> = (0..options.len()).collect();
        let (best, why): (Vec<usize>, Box<dyn Fn(usize) -> String>) = match &cfg.expander {
            Expander::Random => (all, Box::new(|_| "random".to_string())),
            Expander::MostPods => {
                let m = options.iter().map(|o| o.pods.len()).max().unwrap_or(0);
                (
                    all.into_iter()
                        .filter(|&i| options[i].pods.len() == m)
                        .collect(),
                    Box::new(move |_| format!("most pods: {m}")),
                )
            }
            Expander::LeastNodes => {
                let m = options.iter().map(|o| o.nodes).min().unwrap_or(0);
                (
                    all.into_iter().filter(|&i| options[i].nodes == m).collect(),
                    Box::new(move |_| format!("least nodes: {m}")),
                )
            }
            Expander::LeastWaste => {
                let waste: Vec<(f64, f64)> = options
                    .iter()
                    .map(|o| waste(&groups[o.group].template, o))
                    .collect();
                let mut least: Option<f64> = None;
                let mut best = Vec::new();
                for (i, (c, m)) in waste.iter().enumerate() {
                    let score = c + m;
                    match least {
                        Some(l) if score == l => best.push(i),
                        Some(l) if score > l => {}
                        _ => {
                            least = Some(score);
                            best = vec![i];
                        }
                    }
                }
                (
                    best,
                    Box::new(move |i| {
                        let (c, m) = waste[i];
                        format!(
                            "least waste: cpu {:.1}%, memory {:.1}%",
                            c * 100.0,
                            m * 100.0
                        )
                    }),
                )
            }
            Expander::Priority(rules) => {
                let prios: Vec<Option<i32>> = options
                    .iter()
                    .map(|o| self.group_priority(rules, &groups[o.group]))
                    .collect();
                let m = prios.iter().flatten().max().copied();
                match m {
                    None => (Vec::new(), Box::new(|_| String::new())),
                    Some(m) => (
                        all.into_iter().filter(|&i| prios[i] == Some(m)).collect(),
                        Box::new(move |_| format!("priority {m}")),
                    ),
                }
            }
        };
        let pick = match best.len() {
            0 => return None,
            1 => best[0],
            n => best[uniform_below(rng, n as u64) as usize],
        };
        let mut text = why(pick);
        if best.len() > 1 {
            text.push_str(&format!(", random among {} tied", best.len()));
        }
        Some((pick, text))
    }

    /// The priority of `group` under `rules` (cached compiled patterns).
    fn group_priority(&mut self, rules: &[PriorityRule], group: &NodeGroup) -> Option<i32> {
        let mut best: Option<i32> = None;
        for r in rules {
            let re = self
                .regexes
                .entry(r.pattern.clone())
                .or_insert_with(|| regex::Regex::new(&r.pattern).ok());
            if re.as_ref().is_some_and(|re| re.is_match(&group.name)) {
                best = Some(best.map_or(r.priority, |b| b.max(r.priority)));
            }
        }
        best.or(group.priority)
    }

    /// The scale-down half (`scaledown/planner` and `scaledown/unneeded`).
    #[allow(clippy::too_many_arguments)]
    fn scale_down(
        &mut self,
        cfg: &CaConfig,
        groups: &[NodeGroup],
        view: &CaView<'_>,
        now: SimTime,
        sizes: &mut [u32],
        disabled_for_loop: bool,
        plan: &mut CaPlan,
    ) {
        let cluster = view.cluster;
        let cutoff = cfg.expendable_pods_priority_cutoff;
        // Candidates: grouped, ready or unready, below the threshold.
        let mut candidates: Vec<usize> = Vec::new();
        for (i, node) in cluster.nodes.iter().enumerate() {
            let info = view.info(i);
            let Some(g) = info.group.filter(|&g| g < groups.len()) else {
                continue;
            };
            if !matches!(info.state, CaNodeState::Ready | CaNodeState::Unready) {
                continue;
            }
            let gpu = groups[g].has_gpu() || node.gpu_count() > 0;
            let threshold = if gpu {
                cfg.scale_down_gpu_utilization_threshold
            } else {
                cfg.scale_down_utilization_threshold
            };
            if node_utilization(node, gpu) < threshold {
                candidates.push(i);
            }
        }
        // Nodes already unneeded are simulated first.
        candidates.sort_by_key(|&i| !self.unneeded_since.contains_key(&cluster.nodes[i].name));

        // Destinations: ready nodes, those that are not candidates first (in id order), so
        // that pods move to nodes that stay rather than onto other candidates.
        let is_candidate: BTreeSet<usize> = candidates.iter().copied().collect();
        let mut destinations: Vec<usize> = (0..cluster.nodes.len())
            .filter(|&j| view.info(j).state == CaNodeState::Ready)
            .collect();
        destinations.sort_by_key(|j| is_candidate.contains(j));

        let mut overlay: Vec<Option<Node>> = vec![None; cluster.nodes.len()];
        let mut removed: BTreeSet<usize> = BTreeSet::new();
        let mut removable: Vec<(usize, bool)> = Vec::new();
        // Nodes that received moved pods: they must stay.
        let mut received: BTreeSet<usize> = BTreeSet::new();

        // Pods of ongoing deletions are placed first (upstream `injectOngoingActuation`): if
        // they cannot all be rescheduled, this loop does no scale-down.
        for (i, node) in cluster.nodes.iter().enumerate() {
            if view.info(i).state != CaNodeState::Deleting {
                continue;
            }
            for bound in node.pods.iter().filter(|p| p.priority >= cutoff) {
                let placed = (view.pod_spec)(bound.pod).and_then(|spec| {
                    place(cluster, &destinations, &mut overlay, &removed, i, spec)
                });
                match placed {
                    Some((j, _)) => {
                        received.insert(j);
                    }
                    None => {
                        plan.notes.push(format!(
                            "scale-down: {} of node {} being deleted cannot be rescheduled",
                            bound.pod, node.name
                        ));
                        return;
                    }
                }
            }
        }

        for &c in &candidates {
            if received.contains(&c) {
                continue;
            }
            let node = &cluster.nodes[c];
            let to_move: Vec<PodId> = node
                .pods
                .iter()
                .filter(|p| p.priority >= cutoff)
                .map(|p| p.pod)
                .collect();
            if to_move.is_empty() {
                removed.insert(c);
                removable.push((c, true));
                continue;
            }
            let mut moved: Vec<(usize, &PodSpec, DeviceSet)> = Vec::new();
            let mut ok = true;
            for pod in &to_move {
                let Some(spec) = (view.pod_spec)(*pod) else {
                    ok = false;
                    break;
                };
                match place(cluster, &destinations, &mut overlay, &removed, c, spec) {
                    Some((j, d)) => moved.push((j, spec, d)),
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                removed.insert(c);
                removable.push((c, false));
                received.extend(moved.iter().map(|m| m.0));
            } else {
                for (j, spec, d) in moved.into_iter().rev() {
                    if let Some(n) = overlay.get_mut(j).and_then(Option::as_mut) {
                        unassume(n, spec, d);
                    }
                }
            }
        }
        // Unneeded times: kept for nodes still unneeded, started now for new ones.
        let mut since: BTreeMap<String, SimTime> = BTreeMap::new();
        for &(c, _) in &removable {
            let name = &cluster.nodes[c].name;
            let t = self.unneeded_since.get(name).copied().unwrap_or(now);
            since.insert(name.clone(), t);
        }
        self.unneeded_since = since;
        plan.unneeded = removable.iter().map(|&(c, _)| NodeId(c as u32)).collect();

        if disabled_for_loop || removable.is_empty() {
            return;
        }
        let cooldown = [
            (
                self.last_scale_up,
                cfg.scale_down_delay_after_add,
                "scale-up",
            ),
            (
                self.last_scale_down_failure,
                cfg.scale_down_delay_after_failure,
                "failed scale-down",
            ),
            (
                self.last_delete,
                cfg.effective_delay_after_delete(),
                "node deletion",
            ),
        ]
        .into_iter()
        .find(|(t, d, _)| t.is_some_and(|t| within(t, *d, now)));
        if let Some((t, d, what)) = cooldown {
            plan.notes.push(format!(
                "scale-down: in cool-down after the {what} at {} (for {d})",
                t.unwrap_or(now)
            ));
            return;
        }

        // Budgets, minus deletions in progress.
        let (mut empty_in_progress, mut drain_in_progress) = (0u32, 0u32);
        for (i, node) in cluster.nodes.iter().enumerate() {
            if view.info(i).state == CaNodeState::Deleting {
                if node.pods.iter().any(|p| p.priority >= cutoff) {
                    drain_in_progress += 1;
                } else {
                    empty_in_progress += 1;
                }
            }
        }
        let mut budget = cfg
            .max_scale_down_parallelism
            .saturating_sub(empty_in_progress + drain_in_progress);
        let mut drain_budget = cfg.max_drain_parallelism.saturating_sub(drain_in_progress);

        let mut empty_nodes: Vec<NodeId> = Vec::new();
        let mut drain_nodes: Vec<NodeId> = Vec::new();
        // Empty nodes first, then the ones to drain (CropNodes).
        for want_empty in [true, false] {
            for &(c, empty) in &removable {
                if empty != want_empty {
                    continue;
                }
                let node = &cluster.nodes[c];
                let info = view.info(c);
                let Some(g) = info.group.filter(|&g| g < groups.len()) else {
                    continue;
                };
                let unneeded_at = self.unneeded_since.get(&node.name).copied().unwrap_or(now);
                let needed = if info.state == CaNodeState::Ready {
                    cfg.scale_down_unneeded_time
                } else {
                    cfg.scale_down_unready_time
                };
                if within(unneeded_at, needed, now) {
                    continue;
                }
                if sizes[g] <= groups[g].min_size {
                    plan.notes.push(format!(
                        "scale-down: {} is unneeded but {} is at its min size {}",
                        node.name, groups[g].name, groups[g].min_size
                    ));
                    continue;
                }
                if budget == 0 || (!empty && drain_budget == 0) {
                    continue;
                }
                budget -= 1;
                sizes[g] -= 1;
                if empty {
                    empty_nodes.push(NodeId(c as u32));
                } else {
                    drain_budget -= 1;
                    drain_nodes.push(NodeId(c as u32));
                }
            }
        }
        let describe = |id: &NodeId| {
            let node = &cluster.nodes[id.0 as usize];
            let gpu = view
                .info(id.0 as usize)
                .group
                .and_then(|g| groups.get(g))
                .is_some_and(NodeGroup::has_gpu)
                || node.gpu_count() > 0;
            format!(
                "{} ({} utilization {:.0}%, unneeded since {})",
                node.name,
                if gpu { "GPU" } else { "cpu/memory" },
                node_utilization(node, gpu) * 100.0,
                self.unneeded_since.get(&node.name).copied().unwrap_or(now)
            )
        };
        if !empty_nodes.is_empty() {
            let text = empty_nodes
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join(", ");
            plan.actions.push(CaAction::DeleteNodes {
                nodes: empty_nodes,
                empty: true,
                reason: format!("empty and unneeded: {text}"),
            });
        }
        for id in drain_nodes {
            plan.actions.push(CaAction::DeleteNodes {
                reason: format!("unneeded, pods can move: {}", describe(&id)),
                nodes: vec![id],
                empty: false,
            });
        }
        if plan
            .actions
            .iter()
            .any(|a| matches!(a, CaAction::DeleteNodes { .. }))
        {
            self.last_delete = Some(now);
        }
    }
}

/// Places `spec` on the first destination (other than `from` and the removed nodes) whose
/// simulated state passes the scheduler's Filter; the placement stays in `overlay`.
fn place(
    cluster: &Cluster,
    destinations: &[usize],
    overlay: &mut [Option<Node>],
    removed: &BTreeSet<usize>,
    from: usize,
    spec: &PodSpec,
) -> Option<(usize, DeviceSet)> {
    for &j in destinations {
        if j == from || removed.contains(&j) {
            continue;
        }
        let dest = cluster.nodes.get(j)?;
        let slot = overlay.get_mut(j)?;
        if slot.as_ref().unwrap_or(dest).filter(spec).is_err() {
            continue;
        }
        let n = slot.get_or_insert_with(|| scratch(dest));
        if let Some(d) = assume(n, spec) {
            return Some((j, d));
        }
    }
    None
}

/// `(wasted cpu, wasted memory)` fractions of an option (`expander/waste/waste.go` \[src\]);
/// a zero capacity counts as no waste.
fn waste(template: &NodeTemplate, o: &ScaleUpOption) -> (f64, f64) {
    let frac = |per_node: u64, requested: u64| {
        let avail = per_node as f64 * o.nodes as f64;
        if avail == 0.0 {
            0.0
        } else {
            (avail - requested as f64) / avail
        }
    };
    (
        frac(template.cpu_milli, o.cpu_requested),
        frac(template.memory_mib, o.memory_requested),
    )
}

/// The binpacking estimator (`estimator/binpacking_estimator.go` with the default
/// `DecreasingPodOrderer`, kubernetes-semantics.md §2.1 \[src\]): pods are grouped by identical
/// spec (upstream's equivalence groups), groups are sorted by `cpu/allocatable +
/// memory/allocatable` of the template, largest first (stable: equal scores keep their
/// order), then first-fit onto the nodes opened so far, opening a new template node when none
/// fits. A group stops when its pod does not fit a fresh node, or when `limit` nodes were
/// opened. Returns the nodes that received pods and the pods placed.
pub fn estimate(template: &Node, pods: &[&UnschedulablePod<'_>], limit: u32) -> (u32, Vec<PodId>) {
    // Equivalence groups, in order of first appearance.
    let mut eq: Vec<(&PodSpec, Vec<PodId>)> = Vec::new();
    for p in pods {
        match eq.iter_mut().find(|(s, _)| *s == p.spec) {
            Some((_, v)) => v.push(p.pod),
            None => eq.push((p.spec, vec![p.pod])),
        }
    }
    let score = |s: &PodSpec| {
        let mut x = 0.0;
        if template.cpu_allocatable > 0 {
            x += s.request.cpu_milli as f64 / template.cpu_allocatable as f64;
        }
        if template.memory_allocatable > 0 {
            x += s.request.memory_mib as f64 / template.memory_allocatable as f64;
        }
        x
    };
    eq.sort_by(|a, b| score(b.0).total_cmp(&score(a.0)));

    let mut nodes: Vec<Node> = Vec::new();
    let mut with_pods: Vec<bool> = Vec::new();
    let mut scheduled: Vec<PodId> = Vec::new();
    for (spec, ids) in &eq {
        let mut idx = 0;
        // tryToScheduleOnExistingNodes: any node opened so far.
        while idx < ids.len() {
            let Some(k) = nodes.iter_mut().position(|n| assume(n, spec).is_some()) else {
                break;
            };
            with_pods[k] = true;
            scheduled.push(ids[idx]);
            idx += 1;
        }
        // tryToScheduleOnNewNodes.
        for &id in &ids[idx..] {
            if let Some(last) = nodes.last_mut()
                && assume(last, spec).is_some()
            {
                if let Some(w) = with_pods.last_mut() {
                    *w = true;
                }
                scheduled.push(id);
                continue;
            }
            if with_pods.last() == Some(&false) {
                break;
            }
            if nodes.len() as u32 >= limit {
                break;
            }
            let mut fresh = template.clone();
            fresh.name = format!("{}-{}", template.name, nodes.len());
            let fits = assume(&mut fresh, spec).is_some();
            nodes.push(fresh);
            with_pods.push(fits);
            if !fits {
                break;
            }
            scheduled.push(id);
        }
    }
    (with_pods.iter().filter(|&&w| w).count() as u32, scheduled)
}
