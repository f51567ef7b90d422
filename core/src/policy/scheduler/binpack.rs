//! `binpack`: NodeResourcesFit with the MostAllocated strategy, the usual kube-scheduler fix
//! for GPU fragmentation (kubernetes-semantics.md §4.2 \[src\], §4.3 \[docs\];
//! `pkg/scheduler/framework/plugins/noderesources/{fit.go,resource_allocation.go,
//! most_allocated.go}` of kubernetes/kubernetes).
//!
//! Per resource with allocatable `a` and requested `q` (bound requests plus the incoming pod):
//! `q × 100 / a` in integers with `q` capped at `a`; the node score is the integer weighted mean
//! `Σ wᵣ sᵣ / Σ wᵣ` over cpu, memory and `nvidia.com/gpu` with [`ScoreContext::weights`]
//! (gpu = 1 by default for this profile). Resources with 0 allocatable are skipped, and GPUs
//! are skipped for pods that request none (upstream bypasses unrequested extended resources).
//! GPUs are counted per whole device in milli-GPU. No BalancedAllocation.

use super::kube_default::{fit_score, most_requested_score};
use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;

/// The `binpack` profile: MostAllocated only. Ties are broken at random by the framework.
#[derive(Debug, Clone, Copy, Default)]
pub struct Binpack;

impl NodeScorer for Binpack {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Binpack
    }

    fn score(&self, ctx: &ScoreContext<'_>, _id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore {
        NodeScore {
            score: fit_score(ctx.weights, node, pod, most_requested_score),
            devices: None,
        }
    }
}
