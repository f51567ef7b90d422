//! TODO(helper): implement.

use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;

/// Placeholder being implemented.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestFit;

impl NodeScorer for BestFit {
    fn kind(&self) -> PolicyKind {
        PolicyKind::BestFit
    }
    fn score(&self, _ctx: &ScoreContext<'_>, _id: NodeId, _node: &Node, _pod: &PodSpec) -> NodeScore {
        NodeScore { score: 0, devices: None }
    }
}
