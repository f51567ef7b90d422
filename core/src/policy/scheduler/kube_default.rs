//! `kube-default`: upstream kube-scheduler's default resource scoring, NodeResourcesFit with the
//! LeastAllocated strategy plus NodeResourcesBalancedAllocation, each with plugin weight 1.
//!
//! Source: kubernetes-semantics.md §4.1–§4.2 \[src\] and §4.3 \[docs\];
//! `pkg/scheduler/framework/plugins/noderesources/{fit.go,resource_allocation.go,
//! least_allocated.go,balanced_allocation.go}` of kubernetes/kubernetes.
//!
//! * **LeastAllocated**: per resource with allocatable `a` and requested `q` (the node's bound
//!   requests plus the incoming pod's), `(a − q) × 100 / a` in integers, 0 when `q > a`. The
//!   node score is the integer weighted mean `Σ wᵣ sᵣ / Σ wᵣ` over cpu, memory and
//!   `nvidia.com/gpu` with the weights of [`ScoreContext::weights`]. As upstream
//!   (`calculateResourceAllocatableRequest`), a resource with 0 allocatable is skipped, and so is
//!   the extended resource `nvidia.com/gpu` when the pod does not request it. GPUs are counted
//!   per whole device in milli-GPU: `a` = capacity, `q` = used + the pod's `count × milli`.
//! * **BalancedAllocation**: `⌊(1 − σ) × 100⌋` where σ is the population standard deviation of
//!   the requested fractions `q / a` (capped at 1) of cpu and memory; for two resources
//!   `σ = |f₁ − f₂| / 2`. As upstream since the fix of kubernetes/kubernetes#129138, it is
//!   skipped (scores 0) for a best-effort pod, one that requests neither cpu nor memory.
//!
//! Simplification: upstream's LeastAllocated counts a container without requests as 100 mCPU
//! and 200 MiB (`NonZeroRequested`); drydock uses the requests as given.

use super::{NodeScore, NodeScorer, PolicyKind, ResourceWeights, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;

/// `framework.MaxNodeScore`.
pub(super) const MAX_NODE_SCORE: i64 = 100;

/// Upstream `leastRequestedScore`: `(a − q) × 100 / a`, 0 when `q > a` or `a = 0`.
pub(super) fn least_requested_score(requested: u64, allocatable: u64) -> i64 {
    if allocatable == 0 || requested > allocatable {
        return 0;
    }
    ((allocatable - requested).saturating_mul(MAX_NODE_SCORE as u64) / allocatable) as i64
}

/// Upstream `mostRequestedScore`: `q × 100 / a` with `q` capped at `a`, 0 when `a = 0`.
pub(super) fn most_requested_score(requested: u64, allocatable: u64) -> i64 {
    if allocatable == 0 {
        return 0;
    }
    let q = requested.min(allocatable);
    (q.saturating_mul(MAX_NODE_SCORE as u64) / allocatable) as i64
}

/// `(requested including the pod, allocatable)` of cpu on `node`.
fn cpu_usage(node: &Node, pod: &PodSpec) -> (u64, u64) {
    let used = node.cpu_allocatable.saturating_sub(node.cpu_free);
    (
        used.saturating_add(pod.request.cpu_milli),
        node.cpu_allocatable,
    )
}

/// `(requested including the pod, allocatable)` of memory on `node`.
fn memory_usage(node: &Node, pod: &PodSpec) -> (u64, u64) {
    let used = node.memory_allocatable.saturating_sub(node.memory_free);
    (
        used.saturating_add(pod.request.memory_mib),
        node.memory_allocatable,
    )
}

/// NodeResourcesFit's weighted mean of per-resource scores (`resourceAllocationScorer.score`),
/// with `per_resource` the strategy's score function.
pub(super) fn fit_score(
    weights: ResourceWeights,
    node: &Node,
    pod: &PodSpec,
    per_resource: fn(u64, u64) -> i64,
) -> i64 {
    let mut sum = 0i64;
    let mut weight_sum = 0i64;
    let mut add = |weight: u32, (requested, allocatable): (u64, u64)| {
        if allocatable == 0 {
            return; // upstream only fills resources with non-zero allocatable
        }
        sum += per_resource(requested, allocatable) * weight as i64;
        weight_sum += weight as i64;
    };
    add(weights.cpu, cpu_usage(node, pod));
    add(weights.memory, memory_usage(node, pod));
    // An extended resource the pod does not request is bypassed (upstream returns (0, 0)).
    if !pod.request.gpu.is_none() {
        let capacity = node.gpu_capacity_milli();
        let used = capacity.saturating_sub(node.gpu_free_milli());
        add(
            weights.gpu,
            (used.saturating_add(pod.request.gpu.total_milli()), capacity),
        );
    }
    if weight_sum == 0 { 0 } else { sum / weight_sum }
}

/// NodeResourcesBalancedAllocation over cpu and memory (`balancedResourceScorer`).
pub(super) fn balanced_allocation_score(node: &Node, pod: &PodSpec) -> i64 {
    if pod.request.cpu_milli == 0 && pod.request.memory_mib == 0 {
        return 0; // best-effort pod: PreScore returns Skip
    }
    let mut fractions = [0f64; 2];
    let mut n = 0usize;
    for (requested, allocatable) in [cpu_usage(node, pod), memory_usage(node, pod)] {
        if allocatable == 0 {
            continue;
        }
        fractions[n] = (requested as f64 / allocatable as f64).min(1.0);
        n += 1;
    }
    let std = if n == 2 {
        ((fractions[0] - fractions[1]) / 2.0).abs()
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// The `kube-default` profile: LeastAllocated (weight 1) + BalancedAllocation (weight 1). Ties
/// between nodes are broken at random by the framework (§4.2 \[src\]).
#[derive(Debug, Clone, Copy, Default)]
pub struct KubeDefault;

impl NodeScorer for KubeDefault {
    fn kind(&self) -> PolicyKind {
        PolicyKind::KubeDefault
    }

    fn score(&self, ctx: &ScoreContext<'_>, _id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore {
        let fit = fit_score(ctx.weights, node, pod, least_requested_score);
        let balanced = balanced_allocation_score(node, pod);
        NodeScore {
            score: fit + balanced,
            devices: None,
        }
    }
}
