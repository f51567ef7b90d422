//! `best-fit` (the FGD study's BestFit): least leftover cpu and GPU wins.
//!
//! Source: kubernetes-semantics.md §10.3 \[src\]; `pkg/simulator/plugin/best_fit_score.go` and
//! `NormalizeScore` in `pkg/simulator/plugin/plugin_utils.go` of
//! hkust-adsl/kubernetes-scheduler-simulator.
//!
//! Raw score `⌊100 · (1 − [0.5·(cₙ − c)/128000 + 0.5·(Σᵢ fₙ,ᵢ − k·g)/8000])⌋` (truncated toward
//! zero as Go's `int64()`), then min–max normalised over the cycle's feasible nodes:
//! `(s − s_min) · 100 / (s_max − s_min)` in integers, all 0 when every raw score is equal.
//! Sharing pods get the best-fit device.

use super::dot_prod::{MAX_SPEC_CPU, MAX_SPEC_GPU};
use super::kube_default::MAX_NODE_SCORE;
use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::ids::NodeId;

/// The BestFit policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestFit;

impl NodeScorer for BestFit {
    fn kind(&self) -> PolicyKind {
        PolicyKind::BestFit
    }

    fn score(&self, _ctx: &ScoreContext<'_>, _id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore {
        let r = &pod.request;
        let free = [node.cpu_free as f64, node.gpu_free_milli() as f64];
        let req = [r.cpu_milli as f64, r.gpu.total_milli() as f64];
        let max_spec = [MAX_SPEC_CPU, MAX_SPEC_GPU];
        let mut leftover = 0.0;
        for i in 0..2 {
            if free[i] < req[i] {
                // Upstream reports an error and scores MinNodeScore; the filter prevents it.
                return NodeScore {
                    score: 0,
                    devices: None,
                };
            }
            leftover += (free[i] - req[i]) / max_spec[i] * 0.5;
        }
        let score = (1.0 - leftover) * MAX_NODE_SCORE as f64;
        NodeScore {
            score: score as i64,
            devices: None,
        }
    }

    /// Min–max normalisation to 0–100 (integer); all 0 when the scores are all equal.
    fn normalize(&self, scores: &mut [i64]) {
        let (Some(&lo), Some(&hi)) = (scores.iter().min(), scores.iter().max()) else {
            return;
        };
        let range = hi - lo;
        for s in scores.iter_mut() {
            *s = if range == 0 {
                0
            } else {
                (*s - lo) * MAX_NODE_SCORE / range
            };
        }
    }
}
