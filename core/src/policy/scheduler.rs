//! The scheduling framework: filter, score, select a host, pick GPU devices; gangs
//! (all-or-nothing PodGroups) and priority preemption on top.
//!
//! A placement policy is a [`NodeScorer`]: a pure function of (pod, node, read-only cluster)
//! returning a score, in the style of DSLab's placement algorithms. [`Scheduler`] runs the
//! kube-scheduler cycle around it (kubernetes-semantics.md §4.1–§4.2 \[src\]) and returns plain
//! decision values ([`Bind`], [`Preemption`]) that the simulator or a real cluster applies.

mod best_fit;
mod binpack;
mod dot_prod;
mod fgd;
mod gpu_clustering;
mod gpu_packing;
mod kube_default;
mod random;

use std::collections::BTreeMap;

use rand_core::Rng;
use serde::{Deserialize, Serialize};

use crate::cluster::{BoundPod, Cluster, Node, PodSpec, Unfit};
use crate::frag::TargetWorkload;
use crate::ids::{GroupId, NodeId, PodId};
use crate::resources::DeviceSet;
use crate::rng::uniform_below;

pub use best_fit::BestFit;
pub use binpack::Binpack;
pub use dot_prod::DotProd;
pub use fgd::Fgd;
pub use gpu_clustering::GpuClustering;
pub use gpu_packing::GpuPacking;
pub use kube_default::KubeDefault;
pub use random::RandomPolicy;

/// The placement policies drydock ships. Names are those accepted in scenario files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// Upstream kube-scheduler defaults: NodeResourcesFit LeastAllocated (cpu=1, memory=1) plus
    /// NodeResourcesBalancedAllocation, each weight 1 (kubernetes-semantics.md §4.1–§4.2 \[src\]).
    KubeDefault,
    /// NodeResourcesFit MostAllocated over cpu, memory and `nvidia.com/gpu` (§4.3 \[docs\]: the
    /// usual bin-packing fix).
    Binpack,
    /// FGD study: one feasible node drawn uniformly at random (§10.3 \[src\]).
    Random,
    /// FGD study: Tetris-like dot product of free and requested resources (§10.3 \[src\]).
    DotProd,
    /// FGD study: cluster pods of the same GPU kind together (§10.3 \[src\]).
    GpuClustering,
    /// FGD study: prefer partly used GPUs, then used nodes, then empty nodes (§10.3 \[src\]).
    GpuPacking,
    /// FGD study: least leftover cpu and GPU, min–max normalised (§10.3 \[src\]).
    BestFit,
    /// FGD study: fragmentation gradient descent (§10.3 \[src\]).
    Fgd,
}

impl PolicyKind {
    /// Every policy, in documentation order.
    pub const ALL: [PolicyKind; 8] = [
        PolicyKind::KubeDefault,
        PolicyKind::Binpack,
        PolicyKind::Random,
        PolicyKind::DotProd,
        PolicyKind::GpuClustering,
        PolicyKind::GpuPacking,
        PolicyKind::BestFit,
        PolicyKind::Fgd,
    ];

    /// The policy's scenario-file name (`kube-default`, `fgd`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            PolicyKind::KubeDefault => "kube-default",
            PolicyKind::Binpack => "binpack",
            PolicyKind::Random => "random",
            PolicyKind::DotProd => "dot-prod",
            PolicyKind::GpuClustering => "gpu-clustering",
            PolicyKind::GpuPacking => "gpu-packing",
            PolicyKind::BestFit => "best-fit",
            PolicyKind::Fgd => "fgd",
        }
    }

    /// Parses a scenario-file name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// True for the two kube-scheduler profiles, which use upstream's adaptive
    /// `percentageOfNodesToScore` and random tie-break; the FGD study's policies score every node
    /// and break ties by node name (§10.3 \[src\]).
    pub fn is_kube_profile(&self) -> bool {
        matches!(self, PolicyKind::KubeDefault | PolicyKind::Binpack)
    }
}

/// How equal top scores are broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    /// Uniformly at random by reservoir sampling from the caller's seeded stream, as upstream
    /// `selectHost` does (kubernetes-semantics.md §4.2 \[src\]).
    Random,
    /// The lexicographically smallest node name, as the FGD study's fork does (§10.3 \[src\]).
    NodeName,
}

/// Resource weights for NodeResourcesFit scoring strategies (`scoringStrategy.resources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceWeights {
    /// Weight of cpu.
    pub cpu: u32,
    /// Weight of memory.
    pub memory: u32,
    /// Weight of `nvidia.com/gpu` (0: ignored, as upstream does by default, §4.3 \[docs\]).
    pub gpu: u32,
}

/// Scheduler configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// Placement policy.
    pub policy: PolicyKind,
    /// Tie-break between equal top scores.
    pub tie_break: TieBreak,
    /// `percentageOfNodesToScore`: `None` = upstream's adaptive rule, `Some(100)` = every node.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Resource weights for `kube-default` and `binpack`.
    pub weights: ResourceWeights,
}

impl SchedulerConfig {
    /// The defaults for `policy`: adaptive node sampling and random tie-break for the kube
    /// profiles, every node and name tie-break for the study's policies; weights cpu=1,
    /// memory=1 and gpu=0 for `kube-default` (upstream), gpu=1 for `binpack`.
    pub fn for_policy(policy: PolicyKind) -> Self {
        let kube = policy.is_kube_profile();
        SchedulerConfig {
            policy,
            tie_break: if kube {
                TieBreak::Random
            } else {
                TieBreak::NodeName
            },
            percentage_of_nodes_to_score: if kube { None } else { Some(100) },
            weights: ResourceWeights {
                cpu: 1,
                memory: 1,
                gpu: u32::from(policy == PolicyKind::Binpack),
            },
        }
    }
}

/// Read-only inputs a scorer may use besides the node and the pod.
pub struct ScoreContext<'a> {
    /// The whole cluster (read-only).
    pub cluster: &'a Cluster,
    /// The target workload for fragmentation-aware policies (FGD).
    pub workload: &'a TargetWorkload,
    /// Resource weights for the NodeResourcesFit strategies.
    pub weights: ResourceWeights,
}

/// A node's score for one pod: higher wins. `devices` is the GPU device choice the policy made
/// while scoring (FGD does), or `None` to let [`NodeScorer::select_devices`] choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeScore {
    /// Score (policies use 0–100 per plugin; kube profiles sum weighted plugins).
    pub score: i64,
    /// Devices chosen while scoring, if any.
    pub devices: Option<DeviceSet>,
}

/// A placement policy: one Score plugin plus a GPU device selector.
///
/// Implementations are pure: they read the node, the pod and the context and return a score.
/// The framework only calls `score` on nodes that passed [`Node::filter`].
pub trait NodeScorer: Send + Sync {
    /// The policy this scorer implements.
    fn kind(&self) -> PolicyKind;

    /// PreScore: called once per scheduling attempt with the feasible nodes, in id order. The
    /// Random policy draws its node here. The default does nothing.
    fn prescore(&mut self, _feasible: &[NodeId], _rng: &mut dyn Rng) {}

    /// Called once per scheduling attempt, after PreScore and before any `score`, with the
    /// context the scores of this attempt will see. Policies may precompute here what does not
    /// depend on the node (FGD compiles the target workload). The default does nothing; a
    /// scorer must still give correct scores when it was not called.
    fn prepare(&mut self, _ctx: &ScoreContext<'_>, _pod: &PodSpec) {}

    /// Scores `node` (id `id`) for `pod`.
    fn score(&self, ctx: &ScoreContext<'_>, id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore;

    /// NormalizeScore: rescales the raw scores of the feasible nodes in place. BestFit min–max
    /// normalises; the default keeps them.
    fn normalize(&self, _scores: &mut [i64]) {}

    /// Picks the devices on the chosen node. `hint` is the choice made while scoring. The default
    /// takes the hint, or the lowest-indexed fully free GPUs for whole-GPU pods and the best-fit
    /// device for sharing pods (kubernetes-semantics.md §10.3 \[src\]).
    fn select_devices(
        &self,
        node: &Node,
        pod: &PodSpec,
        hint: Option<DeviceSet>,
        _rng: &mut dyn Rng,
    ) -> Option<DeviceSet> {
        hint.or_else(|| node.default_devices(pod.request.gpu))
    }
}

/// Builds the scorer for `kind`.
pub fn scorer_for(kind: PolicyKind) -> Box<dyn NodeScorer> {
    match kind {
        PolicyKind::KubeDefault => Box::new(KubeDefault),
        PolicyKind::Binpack => Box::new(Binpack),
        PolicyKind::Random => Box::new(RandomPolicy::default()),
        PolicyKind::DotProd => Box::new(DotProd),
        PolicyKind::GpuClustering => Box::new(GpuClustering),
        PolicyKind::GpuPacking => Box::new(GpuPacking),
        PolicyKind::BestFit => Box::new(BestFit),
        PolicyKind::Fgd => Box::new(Fgd::default()),
    }
}

/// Decision: bind `pod` to `node` on `devices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// The pod.
    pub pod: PodId,
    /// The chosen node.
    pub node: NodeId,
    /// The GPU devices it gets on that node.
    pub devices: DeviceSet,
}

/// Decision: evict `victims` so that the preemptor fits; the preemptor is nominated to
/// `nominated` (one node per pod of the gang) and scheduled in a later cycle, where it may land
/// elsewhere (kubernetes-semantics.md §4.4 \[src\]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preemption {
    /// Pods to evict, with the node each is on, in eviction order.
    pub victims: Vec<(NodeId, PodId)>,
    /// Nominated node per preemptor pod.
    pub nominated: Vec<NodeId>,
}

/// What a gang holding pods on nodes is doing, as far as evicting it for a preemption goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VictimState {
    /// Its pods run (or start): evicting them stops the gang, and their resources come free
    /// after the termination grace period, when the kubelet confirms.
    Running,
    /// A node under it died and Kubernetes has not evicted its pods yet: deleting them now
    /// frees nothing, as the dead node's kubelet never confirms (kubernetes-semantics.md §6.1
    /// \[docs\]); the node lifecycle controller's eviction will release the gang.
    Stalled,
    /// Anything else: already terminating, pending, holding pods of an incomplete gang, done.
    Other,
}

impl Preemption {
    /// The gangs to evict for this decision, each once, in id order: those of the victims
    /// (`group_of` each victim pod, `None` for a pod of no gang) that are
    /// [`VictimState::Running`]. A victim's gang in any other state is left alone: a stalled
    /// gang waits for the node lifecycle controller, and a terminating one is already going.
    /// The preemptor waits for the gangs returned to terminate before preempting again; it
    /// keeps [`Preemption::nominated_nodes`] from lower-priority gangs meanwhile
    /// (kubernetes-semantics.md §4.4 \[src\]).
    pub fn gangs_to_evict(
        &self,
        group_of: impl Fn(PodId) -> Option<GroupId>,
        state: impl Fn(GroupId) -> VictimState,
    ) -> Vec<GroupId> {
        let mut groups: Vec<GroupId> = self
            .victims
            .iter()
            .filter_map(|&(_, pod)| group_of(pod))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups.retain(|&g| state(g) == VictimState::Running);
        groups
    }

    /// The nominated nodes, sorted, each once.
    pub fn nominated_nodes(&self) -> Vec<NodeId> {
        let mut n = self.nominated.clone();
        n.sort_unstable();
        n.dedup();
        n
    }
}

/// Why a pod or gang could not be placed: how many nodes each filter rejected, in the style of
/// "0/12 nodes are available: 8 Insufficient nvidia.com/gpu, 4 node(s) had untolerated taint".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unschedulable {
    /// Nodes considered.
    pub nodes: u32,
    /// For the first pod that did not fit, nodes rejected per reason.
    pub reasons: BTreeMap<Unfit, u32>,
    /// Pods of the gang that could be placed before one did not fit.
    pub placed: u32,
    /// Pods in the gang.
    pub gang_size: u32,
}

impl std::fmt::Display for Unschedulable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0/{} nodes are available", self.nodes)?;
        let mut first = true;
        for (reason, count) in &self.reasons {
            write!(
                f,
                "{} {} {}",
                if first { ":" } else { "," },
                count,
                reason.message()
            )?;
            first = false;
        }
        if self.gang_size > 1 {
            write!(
                f,
                " (gang: {}/{} pods placeable)",
                self.placed, self.gang_size
            )?;
        }
        Ok(())
    }
}

impl Unschedulable {
    /// The reason to show when one is wanted ("Insufficient nvidia.com/gpu"): the most
    /// frequent resource shortage (cpu, memory, GPU) if any node lacked resources, since the
    /// nodes rejected for their labels, model or taints could never hold the pod anyway; else
    /// the most frequent reason. Ties go to the reason declared first.
    pub fn main_reason(&self) -> Option<Unfit> {
        let resource = |r: &Unfit| matches!(r, Unfit::Cpu | Unfit::Memory | Unfit::Gpu);
        let pick = |only_resources: bool| {
            self.reasons
                .iter()
                .filter(|(r, _)| !only_resources || resource(r))
                .max_by_key(|(r, c)| (**c, std::cmp::Reverse(**r)))
                .map(|(r, _)| *r)
        };
        pick(true).or_else(|| pick(false))
    }
}

/// A pod of a gang to be placed.
#[derive(Debug, Clone, Copy)]
pub struct PendingPod<'a> {
    /// The pod.
    pub pod: PodId,
    /// Its spec.
    pub spec: &'a PodSpec,
}

/// kube-scheduler's `numFeasibleNodesToFind`: with fewer than 100 nodes all are scored;
/// otherwise `max(50 − N/125, 5)` percent of them and at least 100 (`pkg/scheduler/
/// schedule_one.go`, kubernetes-semantics.md §4.1 \[src\]). `percentage` overrides the adaptive
/// rule (0 or `None` = adaptive).
pub fn num_feasible_nodes_to_find(num_nodes: u32, percentage: Option<u32>) -> u32 {
    const MIN_FEASIBLE_NODES_TO_FIND: u32 = 100;
    const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_nodes;
    }
    let pct = match percentage {
        Some(p) if p > 0 => p.min(100) as i64,
        _ => (50 - num_nodes as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND),
    };
    if pct >= 100 {
        return num_nodes;
    }
    let n = (num_nodes as i64 * pct / 100) as u32;
    n.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The scheduler: a policy plus the framework state that survives between cycles (the
/// round-robin start index of node sampling).
pub struct Scheduler {
    config: SchedulerConfig,
    scorer: Box<dyn NodeScorer>,
    workload: TargetWorkload,
    next_start_node_index: usize,
    feasible: Vec<NodeId>,
    scores: Vec<NodeScore>,
    raw: Vec<i64>,
}

impl Scheduler {
    /// A scheduler with `config` and the target workload FGD scores against (pass
    /// [`TargetWorkload::default`] for policies that ignore it).
    pub fn new(config: SchedulerConfig, workload: TargetWorkload) -> Self {
        Scheduler {
            scorer: scorer_for(config.policy),
            config,
            workload,
            next_start_node_index: 0,
            feasible: Vec::new(),
            scores: Vec::new(),
            raw: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// The target workload used by fragmentation-aware scoring.
    pub fn workload(&self) -> &TargetWorkload {
        &self.workload
    }

    /// One scheduling cycle for one pod: filter (stopping once
    /// [`num_feasible_nodes_to_find`] feasible nodes are found, starting at a rotating index),
    /// PreScore, Score, NormalizeScore, select the host (tie-break per config), then pick GPU
    /// devices. Does not modify the cluster.
    ///
    /// # Errors
    /// [`Unschedulable`] with per-reason node counts when no node passes the filters.
    pub fn place(
        &mut self,
        cluster: &Cluster,
        pod: &PodSpec,
        rng: &mut dyn Rng,
    ) -> Result<(NodeId, DeviceSet), Unschedulable> {
        let n = cluster.nodes.len();
        let want =
            num_feasible_nodes_to_find(n as u32, self.config.percentage_of_nodes_to_score) as usize;
        self.feasible.clear();
        // Rejections per filter, indexed by `Unfit as usize` (cheaper than a map per node).
        let mut rejected = [0u32; Unfit::ALL.len()];
        let start = if n == 0 {
            0
        } else {
            self.next_start_node_index % n
        };
        let mut examined = 0usize;
        let mut i = start;
        for _ in 0..n {
            examined += 1;
            match cluster.nodes[i].filter(pod) {
                Ok(()) => {
                    self.feasible.push(NodeId(i as u32));
                    if self.feasible.len() >= want {
                        break;
                    }
                }
                Err(r) => rejected[r as usize] += 1,
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
        if n > 0 {
            self.next_start_node_index = (start + examined) % n;
        }
        if self.feasible.is_empty() {
            let reasons = Unfit::ALL
                .iter()
                .zip(rejected)
                .filter(|(_, c)| *c > 0)
                .map(|(r, c)| (*r, c))
                .collect();
            return Err(Unschedulable {
                nodes: n as u32,
                reasons,
                placed: 0,
                gang_size: 1,
            });
        }
        // Score in node-id order so that scorers with side effects see a stable order. The
        // nodes were found as two ascending runs (from `start` to the end, then from 0), so a
        // rotation sorts them.
        if let Some(split) = self.feasible.windows(2).position(|w| w[1] < w[0]) {
            self.feasible.rotate_left(split + 1);
        }
        self.scorer.prescore(&self.feasible, rng);
        let ctx = ScoreContext {
            cluster,
            workload: &self.workload,
            weights: self.config.weights,
        };
        self.scorer.prepare(&ctx, pod);
        self.scores.clear();
        self.raw.clear();
        for &id in &self.feasible {
            let s = self
                .scorer
                .score(&ctx, id, &cluster.nodes[id.0 as usize], pod);
            self.raw.push(s.score);
            self.scores.push(s);
        }
        self.scorer.normalize(&mut self.raw);
        let best = select_host(
            &self.feasible,
            &self.raw,
            cluster,
            self.config.tie_break,
            rng,
        );
        let node = &cluster.nodes[self.feasible[best].0 as usize];
        let devices = self
            .scorer
            .select_devices(node, pod, self.scores[best].devices, rng)
            .or_else(|| node.default_devices(pod.request.gpu));
        match devices {
            Some(d) => Ok((self.feasible[best], d)),
            // A node that passed the GPU fit filter always has devices; keep it an error
            // rather than a panic.
            None => Err(Unschedulable {
                nodes: n as u32,
                reasons: BTreeMap::from([(Unfit::Gpu, 1)]),
                placed: 0,
                gang_size: 1,
            }),
        }
    }

    /// Places every pod of a gang, all or nothing (coscheduling Permit / Volcano `gang`,
    /// kubernetes-semantics.md §5.1–§5.2 \[src\]). Pods are placed one by one and each placement is
    /// assumed into `cluster` so the next pod sees it.
    ///
    /// On success the binds stay assumed in `cluster` (as kube-scheduler's cache assumes a pod
    /// before binding) and are returned. On failure, if `hold_partial` is false every assumed
    /// pod is rolled back and `cluster` is unchanged; if `hold_partial` is true the pods that did
    /// fit stay assumed (the coscheduling plugin's waiting pods, released on timeout by the
    /// caller) and are returned in the error's companion vector.
    ///
    /// # Errors
    /// `(Unschedulable, held)` where `held` lists the binds kept when `hold_partial` is set.
    pub fn place_gang(
        &mut self,
        cluster: &mut Cluster,
        group: GroupId,
        pods: &[PendingPod<'_>],
        now_us: u64,
        hold_partial: bool,
        rng: &mut dyn Rng,
    ) -> Result<Vec<Bind>, (Unschedulable, Vec<Bind>)> {
        let mut binds: Vec<Bind> = Vec::with_capacity(pods.len());
        for p in pods {
            match self.place(cluster, p.spec, rng) {
                Ok((node, devices)) => {
                    let bound = BoundPod {
                        pod: p.pod,
                        group,
                        priority: p.spec.priority,
                        request: p.spec.request,
                        devices,
                        bound_at_us: now_us,
                    };
                    if let Err(_e) = cluster.bind(node, bound) {
                        // Filter said it fits; a failing bind is a scorer bug. Treat as unfit.
                        let mut u = Unschedulable {
                            nodes: cluster.nodes.len() as u32,
                            ..Default::default()
                        };
                        u.reasons.insert(Unfit::Gpu, 1);
                        return Err(self.fail_gang(cluster, u, binds, pods.len(), hold_partial));
                    }
                    binds.push(Bind {
                        pod: p.pod,
                        node,
                        devices,
                    });
                }
                Err(u) => return Err(self.fail_gang(cluster, u, binds, pods.len(), hold_partial)),
            }
        }
        Ok(binds)
    }

    fn fail_gang(
        &mut self,
        cluster: &mut Cluster,
        mut u: Unschedulable,
        binds: Vec<Bind>,
        gang_size: usize,
        hold_partial: bool,
    ) -> (Unschedulable, Vec<Bind>) {
        u.placed = binds.len() as u32;
        u.gang_size = gang_size as u32;
        if hold_partial {
            return (u, binds);
        }
        for b in binds.iter().rev() {
            // These binds were made just above; unbinding them cannot fail.
            let _ = cluster.unbind(b.node, b.pod);
        }
        (u, Vec::new())
    }

    /// PostFilter DefaultPreemption for a pod or a gang (kubernetes-semantics.md §4.4 \[src\]):
    /// for each pod of the gang, on every node that passes the non-resource filters, remove all
    /// pods of lower priority than the preemptor, check fit, then reprieve as many victims as
    /// possible (most important first); among candidate nodes pick the one with the lowest
    /// highest-victim priority, then the smallest sum of victim priorities, then the fewest
    /// victims, then the latest start among the highest-priority victims, then the first. The
    /// chosen victims and the pod are assumed so the next gang pod sees them; everything is
    /// rolled back before returning, so `cluster` is unchanged.
    ///
    /// Returns `None` when even evicting every lower-priority pod cannot make the whole gang fit
    /// (then nothing should be evicted), or when no victim is needed.
    pub fn preempt(
        &mut self,
        cluster: &mut Cluster,
        group: GroupId,
        pods: &[PendingPod<'_>],
        now_us: u64,
    ) -> Option<Preemption> {
        let mut victims: Vec<(NodeId, BoundPod)> = Vec::new();
        // Nodes as they were before this call first touched them, restored at the end.
        let mut saved: Vec<(NodeId, Node)> = Vec::new();
        let mut nominated = Vec::new();
        let mut ok = true;
        for p in pods {
            let prio = p.spec.priority;
            let mut best: Option<(VictimKey, NodeId, Vec<BoundPod>)> = None;
            for (i, node) in cluster.nodes.iter().enumerate() {
                // Non-resource filters first: preemption cannot fix those.
                match node.filter(p.spec) {
                    Ok(()) => {
                        // Fits without preemption: the pod can go here with no victim.
                        let key = VictimKey::NONE;
                        if best.as_ref().is_none_or(|(k, _, _)| key < *k) {
                            best = Some((key, NodeId(i as u32), Vec::new()));
                        }
                        continue;
                    }
                    Err(Unfit::Cpu | Unfit::Memory | Unfit::Gpu) => {}
                    Err(_) => continue,
                }
                if let Some(v) = select_victims_on_node(node, p.spec, prio) {
                    let key = VictimKey::of(&v);
                    if best.as_ref().is_none_or(|(k, _, _)| key < *k) {
                        best = Some((key, NodeId(i as u32), v));
                    }
                }
            }
            let Some((_, node, vs)) = best else {
                ok = false;
                break;
            };
            if !saved.iter().any(|(id, _)| *id == node) {
                saved.push((node, cluster.nodes[node.0 as usize].clone()));
            }
            for v in vs {
                if cluster.unbind(node, v.pod).is_ok() {
                    victims.push((node, v));
                }
            }
            let Some(devices) = cluster.nodes[node.0 as usize].default_devices(p.spec.request.gpu)
            else {
                ok = false;
                break;
            };
            let bound = BoundPod {
                pod: p.pod,
                group,
                priority: prio,
                request: p.spec.request,
                devices,
                bound_at_us: now_us,
            };
            if cluster.bind(node, bound).is_err() {
                ok = false;
                break;
            }
            nominated.push(node);
        }
        // Roll back by restoring the touched nodes: unbinding the assumed pods and binding the
        // victims again would leave `Node::pods` in a different order.
        for (node, n) in saved {
            cluster.nodes[node.0 as usize] = n;
        }
        if !ok || victims.is_empty() {
            return None;
        }
        Some(Preemption {
            victims: victims.into_iter().map(|(n, v)| (n, v.pod)).collect(),
            nominated,
        })
    }
}

/// Ordering key of a candidate node's victims (smaller is better), §4.4 \[src\] steps 3.2–3.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct VictimKey {
    highest_priority: i64,
    priority_sum: i64,
    count: usize,
    /// Negated latest start among the highest-priority victims (later start is better).
    neg_latest_start: i64,
}

impl VictimKey {
    const NONE: VictimKey = VictimKey {
        highest_priority: i64::MIN,
        priority_sum: 0,
        count: 0,
        neg_latest_start: 0,
    };

    fn of(victims: &[BoundPod]) -> Self {
        let highest = victims
            .iter()
            .map(|v| v.priority as i64)
            .max()
            .unwrap_or(i64::MIN);
        let latest = victims
            .iter()
            .filter(|v| v.priority as i64 == highest)
            .map(|v| v.bound_at_us as i64)
            .max()
            .unwrap_or(0);
        VictimKey {
            highest_priority: highest,
            priority_sum: victims.iter().map(|v| v.priority as i64).sum(),
            count: victims.len(),
            neg_latest_start: -latest,
        }
    }
}

/// Upstream `selectVictimsOnNode`: remove every lower-priority pod, check the preemptor fits,
/// then reprieve victims from the most important (highest priority, earliest start) down while
/// the preemptor still fits. Returns the victims, or `None` if the node cannot fit the pod even
/// with all lower-priority pods gone.
fn select_victims_on_node(node: &Node, pod: &PodSpec, priority: i32) -> Option<Vec<BoundPod>> {
    let mut trial = node.clone();
    let mut candidates: Vec<BoundPod> = node
        .pods
        .iter()
        .filter(|b| b.priority < priority)
        .cloned()
        .collect();
    if candidates.is_empty() {
        return None;
    }
    for c in &candidates {
        release(&mut trial, c);
    }
    trial.fits_resources(&pod.request).ok()?;
    // Most important first: higher priority, then earlier start.
    candidates.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.bound_at_us.cmp(&b.bound_at_us))
    });
    let mut victims = Vec::new();
    for c in candidates {
        reacquire(&mut trial, &c);
        if trial.fits_resources(&pod.request).is_ok() {
            continue; // reprieved
        }
        release(&mut trial, &c);
        victims.push(c);
    }
    Some(victims)
}

fn release(node: &mut Node, b: &BoundPod) {
    node.cpu_free += b.request.cpu_milli;
    node.memory_free += b.request.memory_mib;
    for d in b.devices.iter() {
        if let Some(f) = node.gpu_free.get_mut(d as usize) {
            *f += b.request.gpu.milli;
        }
    }
}

fn reacquire(node: &mut Node, b: &BoundPod) {
    node.cpu_free = node.cpu_free.saturating_sub(b.request.cpu_milli);
    node.memory_free = node.memory_free.saturating_sub(b.request.memory_mib);
    for d in b.devices.iter() {
        if let Some(f) = node.gpu_free.get_mut(d as usize) {
            *f = f.saturating_sub(b.request.gpu.milli);
        }
    }
}

/// Picks the index of the best score. Ties: reservoir sampling over the tied nodes with the
/// caller's stream (upstream `selectHost`), or the smallest node name.
fn select_host(
    feasible: &[NodeId],
    scores: &[i64],
    cluster: &Cluster,
    tie_break: TieBreak,
    rng: &mut dyn Rng,
) -> usize {
    let mut best = 0usize;
    let mut ties = 1u64;
    for i in 1..scores.len() {
        if scores[i] > scores[best] {
            best = i;
            ties = 1;
        } else if scores[i] == scores[best] {
            match tie_break {
                TieBreak::Random => {
                    ties += 1;
                    if uniform_below(rng, ties) == 0 {
                        best = i;
                    }
                }
                TieBreak::NodeName => {
                    let a = &cluster.nodes[feasible[i].0 as usize].name;
                    let b = &cluster.nodes[feasible[best].0 as usize].name;
                    if a < b {
                        best = i;
                    }
                }
            }
        }
    }
    best
}
