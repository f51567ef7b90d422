//! The cluster model every decision reads: nodes with their allocatable resources, per-GPU free
//! shares, labels, taints and bound pods.
//!
//! The same [`Cluster`] value is maintained by the simulator (from its events) and, later, by the
//! real-cluster driver (from informers). Policies read it; the scheduler *assumes* its own
//! bindings into it, the way kube-scheduler's cache assumes a pod before the bind call returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{GpuModel, GroupId, NodeId, PodId, PoolId};
use crate::resources::{DeviceSet, GpuRequest, MILLI_PER_GPU, PodRequest};

/// Effect of a taint (`spec.taints[].effect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaintEffect {
    /// New pods that do not tolerate the taint are not scheduled onto the node.
    NoSchedule,
    /// The scheduler tries to avoid the node (a scoring preference only).
    PreferNoSchedule,
    /// Like `NoSchedule`, and running pods that do not tolerate it are evicted.
    NoExecute,
}

/// A node taint (`key=value:effect`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Taint {
    /// Taint key, for example `node.kubernetes.io/unreachable`.
    pub key: String,
    /// Taint value (may be empty).
    pub value: String,
    /// Taint effect.
    pub effect: TaintEffect,
}

/// The taint the node lifecycle controller puts on a node whose kubelet stopped reporting
/// (kubernetes-semantics.md §6.1 \[src\]).
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint the node lifecycle controller puts on a node whose kubelet reports `Ready=False`.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint `kubectl cordon` is equivalent to (`spec.unschedulable: true`).
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// A pod toleration (`spec.tolerations[]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Toleration {
    /// Taint key to match; `None` with `operator: Exists` matches every taint.
    pub key: Option<String>,
    /// `Equal` (the default) compares the value; `Exists` ignores it.
    pub exists: bool,
    /// Value compared when `exists` is false.
    pub value: String,
    /// Effect to match; `None` matches all effects.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// True when this toleration tolerates `taint` (upstream `Toleration.ToleratesTaint`).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if let Some(effect) = self.effect
            && effect != taint.effect
        {
            return false;
        }
        match &self.key {
            None => self.exists,
            Some(key) if key != &taint.key => false,
            Some(_) => self.exists || self.value == taint.value,
        }
    }
}

/// What the scheduler needs to know of a pod to place it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodSpec {
    /// Resource requests.
    pub request: PodRequest,
    /// Pod priority (`PriorityClass` value); higher may preempt lower.
    pub priority: i32,
    /// Allowed GPU models (`gpu_spec` in the Alibaba trace, or a node selector on the GPU-model
    /// label); empty means any model.
    pub gpu_models: Vec<GpuModel>,
    /// Node selector: every pair must be among the node's labels.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
}

impl PodSpec {
    /// A pod with the given requests, priority 0, no constraints.
    pub fn new(request: PodRequest) -> Self {
        PodSpec {
            request,
            priority: 0,
            gpu_models: Vec::new(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
        }
    }

    /// True when every `NoSchedule`/`NoExecute` taint in `taints` is tolerated (upstream
    /// TaintToleration filter).
    pub fn tolerates_all(&self, taints: &[Taint]) -> bool {
        taints.iter().all(|t| {
            t.effect == TaintEffect::PreferNoSchedule
                || self.tolerations.iter().any(|tol| tol.tolerates(t))
        })
    }
}

/// A pod bound to a node, as the node's accounting sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundPod {
    /// The pod.
    pub pod: PodId,
    /// Its gang (PodGroup) or single-pod workload.
    pub group: GroupId,
    /// Priority, for preemption.
    pub priority: i32,
    /// Requests it holds on the node.
    pub request: PodRequest,
    /// GPU devices it holds.
    pub devices: DeviceSet,
    /// Virtual time it was bound, in microseconds (for preemption's "latest start" rule).
    pub bound_at_us: u64,
}

/// A node pool: nodes of one shape and price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// Pool name.
    pub name: String,
    /// Price per node-hour in dollars.
    pub price_per_node_hour: f64,
}

/// One node and its accounting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Node name (`metadata.name`); ties between equal scores go to the smallest name in the FGD
    /// study's policies.
    pub name: String,
    /// Pool the node belongs to.
    pub pool: PoolId,
    /// GPU model, `None` for CPU-only nodes.
    pub gpu_model: Option<GpuModel>,
    /// Allocatable CPU in millicores.
    pub cpu_allocatable: u64,
    /// Allocatable memory in MiB.
    pub memory_allocatable: u64,
    /// Free CPU in millicores (allocatable minus bound requests).
    pub cpu_free: u64,
    /// Free memory in MiB.
    pub memory_free: u64,
    /// Free share of each GPU device in milli-GPU (0..=1000); its length is the node's GPU count.
    pub gpu_free: Vec<u32>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Taints, including those the node lifecycle controller adds.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Pods bound to the node, in binding order.
    pub pods: Vec<BoundPod>,
}

impl Node {
    /// Number of GPU devices.
    pub fn gpu_count(&self) -> u32 {
        self.gpu_free.len() as u32
    }

    /// Sum of free GPU shares in milli-GPU.
    pub fn gpu_free_milli(&self) -> u64 {
        self.gpu_free.iter().map(|&f| f as u64).sum()
    }

    /// GPU capacity in milli-GPU.
    pub fn gpu_capacity_milli(&self) -> u64 {
        self.gpu_free.len() as u64 * MILLI_PER_GPU as u64
    }

    /// Number of fully free GPU devices.
    pub fn gpus_fully_free(&self) -> u32 {
        self.gpu_free
            .iter()
            .filter(|&&f| f == MILLI_PER_GPU)
            .count() as u32
    }

    /// True when some pod holds part of some GPU.
    pub fn has_gpu_in_use(&self) -> bool {
        self.gpu_free.iter().any(|&f| f < MILLI_PER_GPU)
    }

    /// True when the node's GPU model is allowed by `pod` (always true for pods without a GPU
    /// model constraint).
    pub fn model_allowed(&self, pod: &PodSpec) -> bool {
        pod.gpu_models.is_empty() || self.gpu_model.is_some_and(|m| pod.gpu_models.contains(&m))
    }

    /// True when the GPU devices can hold `gpu`: `count` devices each with at least `milli`
    /// free.
    pub fn gpus_fit(&self, gpu: GpuRequest) -> bool {
        if gpu.is_none() {
            return true;
        }
        self.gpu_free.iter().filter(|&&f| f >= gpu.milli).count() as u32 >= gpu.count
    }

    /// The full filter phase for `pod` on this node: unschedulable, node selector, GPU model,
    /// taints, then resource fit (kubernetes-semantics.md §4.1–§4.3 \[src\]). Returns the first
    /// reason the node does not fit.
    pub fn filter(&self, pod: &PodSpec) -> Result<(), Unfit> {
        if self.unschedulable {
            return Err(Unfit::Unschedulable);
        }
        if !pod.node_selector.is_empty()
            && !pod
                .node_selector
                .iter()
                .all(|(k, v)| self.labels.get(k) == Some(v))
        {
            return Err(Unfit::NodeSelector);
        }
        if !pod.request.gpu.is_none() && !self.model_allowed(pod) {
            return Err(Unfit::GpuModel);
        }
        if !self.taints.is_empty() && !pod.tolerates_all(&self.taints) {
            return Err(Unfit::Taint);
        }
        self.fits_resources(&pod.request)
    }

    /// Resource fit only (NodeResourcesFit): cpu, memory and GPU devices.
    pub fn fits_resources(&self, r: &PodRequest) -> Result<(), Unfit> {
        if r.cpu_milli > self.cpu_free {
            return Err(Unfit::Cpu);
        }
        if r.memory_mib > self.memory_free {
            return Err(Unfit::Memory);
        }
        if !self.gpus_fit(r.gpu) {
            return Err(Unfit::Gpu);
        }
        Ok(())
    }

    /// Lowest-indexed devices able to hold `gpu`: for whole-GPU pods the lowest-indexed fully
    /// free GPUs; for sharing pods the best-fit device (least free share that still fits, lowest
    /// index on ties). Source: kubernetes-semantics.md §10.3 \[src\] (GPU selection step).
    pub fn default_devices(&self, gpu: GpuRequest) -> Option<DeviceSet> {
        if gpu.is_none() {
            return Some(DeviceSet::EMPTY);
        }
        if gpu.is_sharing() {
            return self.best_fit_device(gpu.milli).map(DeviceSet::single);
        }
        let mut set = DeviceSet::EMPTY;
        for (i, &f) in self.gpu_free.iter().enumerate() {
            if set.len() == gpu.count {
                break;
            }
            if f >= gpu.milli {
                set.insert(i as u32);
            }
        }
        (set.len() == gpu.count).then_some(set)
    }

    /// The device with the least free share that still holds `milli`; lowest index on ties.
    pub fn best_fit_device(&self, milli: u32) -> Option<u32> {
        let mut best: Option<(u32, u32)> = None;
        for (i, &f) in self.gpu_free.iter().enumerate() {
            if f >= milli && best.is_none_or(|(_, bf)| f < bf) {
                best = Some((i as u32, f));
            }
        }
        best.map(|(i, _)| i)
    }
}

/// Why a node does not fit a pod: the filter plugin that rejected it. Used for the pending
/// reasons a report or the TUI shows ("0/12 nodes are available: 12 Insufficient
/// nvidia.com/gpu").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Unfit {
    /// The node is cordoned (`spec.unschedulable`).
    Unschedulable,
    /// The node selector does not match the node's labels.
    NodeSelector,
    /// The node's GPU model is not among the pod's allowed models.
    GpuModel,
    /// An untolerated `NoSchedule`/`NoExecute` taint.
    Taint,
    /// Insufficient cpu.
    Cpu,
    /// Insufficient memory.
    Memory,
    /// Insufficient `nvidia.com/gpu` (or no device with enough free share).
    Gpu,
}

impl Unfit {
    /// Every reason, in declaration order (`Unfit::ALL[r as usize] == r`).
    pub const ALL: [Unfit; 7] = [
        Unfit::Unschedulable,
        Unfit::NodeSelector,
        Unfit::GpuModel,
        Unfit::Taint,
        Unfit::Cpu,
        Unfit::Memory,
        Unfit::Gpu,
    ];

    /// The message kube-scheduler prints for this reason.
    pub fn message(&self) -> &'static str {
        match self {
            Unfit::Unschedulable => "node(s) were unschedulable",
            Unfit::NodeSelector => "node(s) didn't match Pod's node affinity/selector",
            Unfit::GpuModel => "node(s) didn't have an allowed GPU model",
            Unfit::Taint => "node(s) had untolerated taint",
            Unfit::Cpu => "Insufficient cpu",
            Unfit::Memory => "Insufficient memory",
            Unfit::Gpu => "Insufficient nvidia.com/gpu",
        }
    }
}

/// Error returned by [`Cluster`] accounting operations. Each one is a logic error of the caller
/// (binding a pod that does not fit, unbinding a pod that is not there); none is resumable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The node id is out of range.
    #[error("no such node {0}")]
    NoSuchNode(NodeId),
    /// A bind would over-allocate a resource of the node.
    #[error("pod {pod} does not fit on {node}: {reason:?}")]
    DoesNotFit {
        /// The pod.
        pod: PodId,
        /// The node.
        node: NodeId,
        /// The first resource that would be over-allocated.
        reason: Unfit,
    },
    /// The pod is not bound to the node.
    #[error("pod {pod} is not bound to {node}")]
    NotBound {
        /// The pod.
        pod: PodId,
        /// The node.
        node: NodeId,
    },
}

/// The whole cluster: pools, nodes (indexed by [`NodeId`]) and the GPU model names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Node pools, indexed by [`PoolId`].
    pub pools: Vec<Pool>,
    /// Nodes, indexed by [`NodeId`].
    pub nodes: Vec<Node>,
    /// GPU model names, indexed by [`GpuModel`].
    pub gpu_models: Vec<String>,
}

impl Cluster {
    /// Interns a GPU model name.
    pub fn intern_model(&mut self, name: &str) -> GpuModel {
        if let Some(i) = self.gpu_models.iter().position(|m| m == name) {
            return GpuModel(i as u16);
        }
        self.gpu_models.push(name.to_string());
        GpuModel((self.gpu_models.len() - 1) as u16)
    }

    /// Looks up an interned GPU model by name.
    pub fn model(&self, name: &str) -> Option<GpuModel> {
        self.gpu_models
            .iter()
            .position(|m| m == name)
            .map(|i| GpuModel(i as u16))
    }

    /// The node with id `id`.
    ///
    /// # Errors
    /// [`ClusterError::NoSuchNode`] when `id` is out of range.
    pub fn node(&self, id: NodeId) -> Result<&Node, ClusterError> {
        self.nodes
            .get(id.0 as usize)
            .ok_or(ClusterError::NoSuchNode(id))
    }

    /// Mutable access to node `id`.
    ///
    /// # Errors
    /// [`ClusterError::NoSuchNode`] when `id` is out of range.
    pub fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, ClusterError> {
        self.nodes
            .get_mut(id.0 as usize)
            .ok_or(ClusterError::NoSuchNode(id))
    }

    /// Total GPU capacity in milli-GPU over all nodes.
    pub fn gpu_capacity_milli(&self) -> u64 {
        self.nodes.iter().map(Node::gpu_capacity_milli).sum()
    }

    /// Accounts `pod` as bound to `node` on `devices`: subtracts its requests from the node's
    /// free resources. `devices` must hold exactly `request.gpu.count` devices, each with at least
    /// `request.gpu.milli` free.
    ///
    /// # Errors
    /// [`ClusterError::NoSuchNode`], or [`ClusterError::DoesNotFit`] when any resource would be
    /// over-allocated (the node is left unchanged).
    pub fn bind(&mut self, node: NodeId, bound: BoundPod) -> Result<(), ClusterError> {
        let n = self.node_mut(node)?;
        let r = bound.request;
        let err = |reason| ClusterError::DoesNotFit {
            pod: bound.pod,
            node,
            reason,
        };
        if r.cpu_milli > n.cpu_free {
            return Err(err(Unfit::Cpu));
        }
        if r.memory_mib > n.memory_free {
            return Err(err(Unfit::Memory));
        }
        if bound.devices.len() != r.gpu.count
            || bound
                .devices
                .iter()
                .any(|d| n.gpu_free.get(d as usize).is_none_or(|&f| f < r.gpu.milli))
        {
            return Err(err(Unfit::Gpu));
        }
        n.cpu_free -= r.cpu_milli;
        n.memory_free -= r.memory_mib;
        for d in bound.devices.iter() {
            n.gpu_free[d as usize] -= r.gpu.milli;
        }
        n.pods.push(bound);
        Ok(())
    }

    /// Removes `pod` from `node` and returns its resources to the node.
    ///
    /// # Errors
    /// [`ClusterError::NoSuchNode`] or [`ClusterError::NotBound`].
    pub fn unbind(&mut self, node: NodeId, pod: PodId) -> Result<BoundPod, ClusterError> {
        let n = self.node_mut(node)?;
        let idx = n
            .pods
            .iter()
            .position(|p| p.pod == pod)
            .ok_or(ClusterError::NotBound { pod, node })?;
        let b = n.pods.remove(idx);
        n.cpu_free += b.request.cpu_milli;
        n.memory_free += b.request.memory_mib;
        for d in b.devices.iter() {
            n.gpu_free[d as usize] += b.request.gpu.milli;
        }
        Ok(b)
    }
}
