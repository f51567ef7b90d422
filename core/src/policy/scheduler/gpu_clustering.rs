//! `gpu-clustering` (the FGD study's GpuClustering): keep GPU pods of one kind together.
//!
//! Source: kubernetes-semantics.md §10.3 \[src\]; `pkg/simulator/plugin/gpu_clustering_score.go`
//! of hkust-adsl/kubernetes-scheduler-simulator.
//!
//! Each GPU pod has a kind: `share` (one device, `g < 1000`) or `k-gpu` for `k` whole GPUs.
//! With base `b = 25 · (8000 − Σᵢ fₙ,ᵢ) / 8000` in integers (0–25; truncated toward zero as in
//! Go, which only matters for nodes with more than 8 GPUs), the score is
//!
//! * `75 + b` when the node's GPU pods are all of the pod's kind,
//! * `50 + b` when they include the pod's kind and others,
//! * `25 + b` when the node has no GPU pod,
//! * `b` when it has only other kinds.
//!
//! CPU-only pods score 0 everywhere. Sharing pods get the best-fit device.

use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;
use crate::resources::GpuRequest;

/// The kind (upstream "GPU affinity" tag) of a GPU request: `(1, 0)` for `share`, otherwise
/// `(count, milli)`, which is `k-gpu` for whole-GPU pods. `None` for CPU-only pods.
fn kind_of(gpu: GpuRequest) -> Option<(u32, u32)> {
    if gpu.is_none() {
        None
    } else if gpu.is_sharing() {
        Some((1, 0))
    } else {
        Some((gpu.count, gpu.milli))
    }
}

/// The GpuClustering policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct GpuClustering;

impl NodeScorer for GpuClustering {
    fn kind(&self) -> PolicyKind {
        PolicyKind::GpuClustering
    }

    fn score(&self, _ctx: &ScoreContext<'_>, _id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore {
        let Some(kind) = kind_of(pod.request.gpu) else {
            return NodeScore {
                score: 0,
                devices: None,
            };
        };
        let mut same = false;
        let mut other = false;
        for b in &node.pods {
            match kind_of(b.request.gpu) {
                Some(k) if k == kind => same = true,
                Some(_) => other = true,
                None => {}
            }
        }
        let base = 25 * (8000 - node.gpu_free_milli() as i64) / 8000;
        let score = match (same, other) {
            (true, false) => 75 + base,
            (true, true) => 50 + base,
            (false, false) => 25 + base,
            (false, true) => base,
        };
        NodeScore {
            score,
            devices: None,
        }
    }
}
