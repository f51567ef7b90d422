//! `gpu-packing` (the FGD study's GpuPacking): prefer partly used GPUs, then free GPUs on used
//! nodes, then empty nodes (smaller first).
//!
//! Source: kubernetes-semantics.md §10.3 \[src\]; `pkg/simulator/plugin/gpu_packing_score.go`
//! of hkust-adsl/kubernetes-scheduler-simulator.
//!
//! With `z` the node's fully free GPUs and `Gₙ` its GPU count:
//!
//! 1. `z = Gₙ` (no GPU in use): `max(33 − z, z)`.
//! 2. Otherwise take the first `k` devices with `f ≥ g`, scanning in ascending free share
//!    (lowest index first among equal shares). If `u > 0` of them are fully free:
//!    `max(50 − u, 33)`.
//! 3. If none is: `max(100 − ⌊Σ_chosen ⌊f·100/1000⌋ / 10⌋, 50)`.
//!
//! CPU-only pods score 0. Sharing pods get the best-fit device.

use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;
use crate::resources::MILLI_PER_GPU;

/// The GpuPacking policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct GpuPacking;

/// Upstream `getPackingScore`.
fn packing_score(node: &Node, pod: &PodSpec) -> i64 {
    let gpu = pod.request.gpu;
    if gpu.is_none() {
        return 0;
    }
    let fully_free = node.gpus_fully_free() as i64;
    if fully_free == node.gpu_count() as i64 {
        return (33 - fully_free).max(fully_free);
    }
    // Devices with enough share in ascending free share, lowest index first among equals
    // (upstream's stable sort); fully free devices come last, so this prefers used GPUs.
    let mut wanted = gpu.count;
    let mut fully_free_used = 0i64;
    let mut ratio_sum = 0i64;
    let mut taken = 0u64; // bit mask of devices already taken
    while wanted > 0 {
        let mut pick: Option<(usize, u32)> = None;
        for (i, &f) in node.gpu_free.iter().enumerate() {
            if i < 64 && taken & (1u64 << i) != 0 {
                continue;
            }
            if f >= gpu.milli && pick.is_none_or(|(_, pf)| f < pf) {
                pick = Some((i, f));
            }
        }
        let Some((i, f)) = pick else {
            return 0; // does not fit; the filter has removed such nodes
        };
        if i < 64 {
            taken |= 1u64 << i;
        }
        wanted -= 1;
        if f == MILLI_PER_GPU {
            fully_free_used += 1;
        }
        ratio_sum += f as i64 * 100 / MILLI_PER_GPU as i64;
    }
    if fully_free_used > 0 {
        (50 - fully_free_used).max(33)
    } else {
        (100 - ratio_sum / 10).max(50)
    }
}

impl NodeScorer for GpuPacking {
    fn kind(&self) -> PolicyKind {
        PolicyKind::GpuPacking
    }

    fn score(&self, _ctx: &ScoreContext<'_>, _id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore {
        NodeScore {
            score: packing_score(node, pod),
            devices: None,
        }
    }
}
