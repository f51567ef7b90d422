//! `dot-prod` (the FGD study's DotProd, Tetris-inspired): the smallest dot product of the node's
//! free resources and the pod's request, both normalised by the largest node spec, wins.
//!
//! Source: kubernetes-semantics.md §10.3 \[src\]; `pkg/simulator/plugin/dot_product_score.go`
//! of hkust-adsl/kubernetes-scheduler-simulator, with the experiments' dimension mode `merge`
//! and normalisation `max`.
//!
//! Node vector `v = (cₙ / 128000, Σᵢ fₙ,ᵢ / 8000)`, pod vector `u = (c / 128000, k·g / 8000)`;
//! score `⌊100 · (1 − (v·u) / 2)⌋` (truncated toward zero, as Go's `int64()`). Nodes with
//! `cₙ < c` score 0. Sharing pods get the best-fit device.

use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;

/// `MaxSpecCpu`: the largest node CPU of the study's cluster, in millicores.
pub(super) const MAX_SPEC_CPU: f64 = 128_000.0;
/// `MaxSpecGpu`: the largest node GPU of the study's cluster (8 GPUs), in milli-GPU.
pub(super) const MAX_SPEC_GPU: f64 = 8_000.0;

/// The DotProd policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct DotProd;

impl NodeScorer for DotProd {
    fn kind(&self) -> PolicyKind {
        PolicyKind::DotProd
    }

    fn score(&self, _ctx: &ScoreContext<'_>, _id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore {
        let r = &pod.request;
        if node.cpu_free < r.cpu_milli {
            return NodeScore {
                score: 0,
                devices: None,
            };
        }
        let v = [
            node.cpu_free as f64 / MAX_SPEC_CPU,
            node.gpu_free_milli() as f64 / MAX_SPEC_GPU,
        ];
        let u = [
            r.cpu_milli as f64 / MAX_SPEC_CPU,
            r.gpu.total_milli() as f64 / MAX_SPEC_GPU,
        ];
        let dot = v[0] * u[0] + v[1] * u[1];
        let score = 1.0 - dot / 2.0;
        NodeScore {
            score: (100.0 * score) as i64,
            devices: None,
        }
    }
}
