//! `random` (the FGD study's Random baseline): PreScore draws one feasible node uniformly at
//! random; it scores 100 and every other node 0. Sharing pods get a device drawn uniformly among
//! those with enough free share; whole-GPU pods get the lowest-indexed fully free GPUs.
//!
//! Source: kubernetes-semantics.md §10.3 \[src\]; `pkg/simulator/plugin/random_score.go` of
//! hkust-adsl/kubernetes-scheduler-simulator. The draw uses the caller's seeded stream
//! ([`uniform_below`]) instead of Go's global `rand.Intn`.

use rand_core::Rng;

use super::kube_default::MAX_NODE_SCORE;
use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;
use crate::resources::DeviceSet;
use crate::rng::uniform_below;

/// The Random policy. Holds the node drawn by the last PreScore.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomPolicy {
    /// The feasible node drawn in the current scheduling cycle (`None` before the first draw).
    pub chosen: Option<NodeId>,
}

impl NodeScorer for RandomPolicy {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Random
    }

    fn prescore(&mut self, feasible: &[NodeId], rng: &mut dyn Rng) {
        self.chosen = if feasible.is_empty() {
            None
        } else {
            Some(feasible[uniform_below(rng, feasible.len() as u64) as usize])
        };
    }

    fn score(
        &self,
        _ctx: &ScoreContext<'_>,
        id: NodeId,
        _node: &Node,
        _pod: &PodSpec,
    ) -> NodeScore {
        let score = if self.chosen == Some(id) {
            MAX_NODE_SCORE
        } else {
            0
        };
        NodeScore {
            score,
            devices: None,
        }
    }

    /// Sharing pods: a device drawn uniformly among those with `f ≥ g` (reservoir sampling,
    /// one draw per candidate after the first). Others: [`Node::default_devices`].
    fn select_devices(
        &self,
        node: &Node,
        pod: &PodSpec,
        hint: Option<DeviceSet>,
        rng: &mut dyn Rng,
    ) -> Option<DeviceSet> {
        if hint.is_some() {
            return hint;
        }
        let gpu = pod.request.gpu;
        if !gpu.is_sharing() {
            return node.default_devices(gpu);
        }
        let mut chosen = None;
        let mut seen = 0u64;
        for (i, &f) in node.gpu_free.iter().enumerate() {
            if f < gpu.milli {
                continue;
            }
            seen += 1;
            if uniform_below(rng, seen) == 0 {
                chosen = Some(i as u32);
            }
        }
        chosen.map(DeviceSet::single)
    }
}
