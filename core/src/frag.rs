//! GPU fragmentation as defined by the FGD study (Weng et al., "Beware of Fragmentation",
//! USENIX ATC'23; `pkg/utils/frag.go` of hkust-adsl/kubernetes-scheduler-simulator).
//! kubernetes-semantics.md §10.2 \[src\].
//!
//! A node's fragmentation is the expected amount of its free GPU (milli-GPU) that a pod drawn
//! from the *target workload* could not use. The cluster's fragmentation is the sum over nodes;
//! the fragmentation ratio divides it by the total free GPU.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, Node, PodSpec};
use crate::ids::GpuModel;
use crate::resources::GpuRequest;

/// One typical pod spec of the target workload `M` with its popularity `pₘ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypicalPod {
    /// CPU request `cₘ` in millicores.
    pub cpu_milli: u64,
    /// GPU request (`kₘ` devices of `gₘ` milli each).
    pub gpu: GpuRequest,
    /// Allowed GPU models `Tₘ` (empty = any), sorted.
    pub models: Vec<GpuModel>,
    /// Popularity `pₘ`; popularities of a workload sum to 1.
    pub popularity: f64,
}

/// The target workload `M`: the most frequent pod specs of a trace covering at least the
/// popularity threshold, renormalised (§10.2 \[src\]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetWorkload {
    /// Typical pods, most frequent first.
    pub specs: Vec<TypicalPod>,
}

/// The popularity threshold used in the study's experiment scripts.
pub const DEFAULT_POPULARITY_THRESHOLD: f64 = 0.95;

impl TargetWorkload {
    /// Builds `M` from a workload's pods: group by `(cₘ, gₘ, kₘ, Tₘ)`, sort by count descending
    /// (ties by spec, for determinism), keep specs one at a time until they cover at least
    /// `threshold` (0–1) of all pods, renormalise. CPU-only specs are included.
    pub fn from_pods<'a>(pods: impl IntoIterator<Item = &'a PodSpec>, threshold: f64) -> Self {
        let mut counts: BTreeMap<(u64, GpuRequest, Vec<GpuModel>), u64> = BTreeMap::new();
        let mut total = 0u64;
        for p in pods {
            let mut models = p.gpu_models.clone();
            models.sort_unstable();
            *counts
                .entry((p.request.cpu_milli, p.request.gpu, models))
                .or_default() += 1;
            total += 1;
        }
        if total == 0 {
            return TargetWorkload::default();
        }
        let mut sorted: Vec<_> = counts.into_iter().collect();
        // Stable sort keeps BTreeMap (spec) order among equal counts.
        sorted.sort_by_key(|s| std::cmp::Reverse(s.1));
        let mut kept = Vec::new();
        let mut covered = 0u64;
        for (spec, count) in sorted {
            if covered as f64 >= threshold * total as f64 {
                break;
            }
            covered += count;
            kept.push((spec, count));
        }
        let specs = kept
            .into_iter()
            .map(|((cpu_milli, gpu, models), count)| TypicalPod {
                cpu_milli,
                gpu,
                models,
                popularity: count as f64 / covered as f64,
            })
            .collect();
        TargetWorkload { specs }
    }

    /// True when there are no typical pods (fragmentation is then 0 everywhere).
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}

/// `Fₙ(m)`: the free GPU (milli-GPU) of a node with free cpu `cpu_free`, free shares `gpu_free`
/// and model `model` that pod spec `m` could not use (§10.2 table \[src\]).
pub fn fragment_for(
    cpu_free: u64,
    gpu_free: &[u32],
    model: Option<GpuModel>,
    m: &TypicalPod,
) -> u64 {
    let total: u64 = gpu_free.iter().map(|&f| f as u64).sum();
    if m.gpu.is_none() {
        return total; // CPU-only pods can use none of it.
    }
    if !m.models.is_empty() && !model.is_some_and(|t| m.models.contains(&t)) {
        return total; // no_access
    }
    let fitting = gpu_free.iter().filter(|&&f| f >= m.gpu.milli).count() as u32;
    let gpu_fits = fitting >= m.gpu.count;
    let cpu_fits = cpu_free >= m.cpu_milli;
    if gpu_fits && cpu_fits {
        // q3_satisfied: only slivers smaller than the request are unusable.
        gpu_free
            .iter()
            .filter(|&&f| f < m.gpu.milli)
            .map(|&f| f as u64)
            .sum()
    } else {
        total
    }
}

/// `Fₙ = Σₘ pₘ · Fₙ(m)` for a node in milli-GPU.
pub fn node_fragmentation(node: &Node, workload: &TargetWorkload) -> f64 {
    node_fragmentation_of(node.cpu_free, &node.gpu_free, node.gpu_model, workload)
}

/// [`node_fragmentation`] for an explicit free-resource state (used to evaluate a hypothetical
/// placement without mutating the node).
pub fn node_fragmentation_of(
    cpu_free: u64,
    gpu_free: &[u32],
    model: Option<GpuModel>,
    workload: &TargetWorkload,
) -> f64 {
    if gpu_free.is_empty() {
        return 0.0;
    }
    workload
        .specs
        .iter()
        .map(|m| m.popularity * fragment_for(cpu_free, gpu_free, model, m) as f64)
        .sum()
}

/// Cluster-wide fragmentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Fragmentation {
    /// `F = Σₙ Fₙ`, in milli-GPU.
    pub amount_milli: f64,
    /// Total free GPU `Σₙ Σᵢ fₙ,ᵢ`, in milli-GPU.
    pub free_milli: u64,
}

impl Fragmentation {
    /// Fragmentation ratio `F / free` (0 when nothing is free).
    pub fn ratio(&self) -> f64 {
        if self.free_milli == 0 {
            0.0
        } else {
            self.amount_milli / self.free_milli as f64
        }
    }
}

/// Fragmentation of the whole cluster over the nodes `include` accepts (for example, only
/// Ready nodes).
pub fn cluster_fragmentation(
    cluster: &Cluster,
    workload: &TargetWorkload,
    mut include: impl FnMut(usize, &Node) -> bool,
) -> Fragmentation {
    let mut f = Fragmentation::default();
    for (i, n) in cluster.nodes.iter().enumerate() {
        if !include(i, n) {
            continue;
        }
        f.amount_milli += node_fragmentation(n, workload);
        f.free_milli += n.gpu_free_milli();
    }
    f
}
