//! `fgd` (the FGD study's Fragmentation Gradient Descent): place the pod where the node's GPU
//! fragmentation grows least, or shrinks most.
//!
//! Source: kubernetes-semantics.md §10.2–§10.3 \[src\]; `pkg/simulator/plugin/fgd_score.go`,
//! `pkg/utils/frag.go` and `NodeResource.Sub` in `pkg/type/resource.go` of
//! hkust-adsl/kubernetes-scheduler-simulator.
//!
//! With `Fₙ` the node fragmentation against the target workload `M` ([`ScoreContext::workload`],
//! see [`crate::frag`]), `Δ = Fₙ(before) − Fₙ(after placing the pod)` and the score is
//! `⌊100 · σ(Δ / 1000)⌋` with `σ(x) = 1 / (1 + e⁻ˣ)`.
//!
//! * Sharing pods try each device with `f ≥ g` (subtracting `c` from the cpu and `g` from that
//!   device) and keep the best-scoring device, lowest index on ties; that device is returned in
//!   [`NodeScore::devices`] and is the one the pod gets.
//! * Other pods subtract their cpu and take `k` devices with `f ≥ g` in ascending free share,
//!   lowest index among equal shares; for whole-GPU pods these are the lowest-indexed fully free
//!   GPUs, as [`Node::default_devices`] picks. They are returned in [`NodeScore::devices`].
//! * Pods without any request (no cpu, memory or GPU) score 100.
//!
//! # Speed
//! FGD scores every node for every pod, so scoring is the simulator's hot loop. In
//! [`NodeScorer::prepare`] the workload is compiled once (and again only when it changes) into,
//! per node GPU model, groups of accessible GPU specs keyed by `(gₘ, kₘ)` with their cpu
//! requests sorted and popularities prefix-summed. Then, with the node's free shares sorted,
//! `Fₙ = P·Σᵢfᵢ − Σ_{groups with ≥ kₘ devices of f ≥ gₘ} P_fit(cₙ) · Σ_{i: fᵢ ≥ gₘ} fᵢ` is one
//! sweep over the groups (`P` the total popularity, `P_fit(cₙ)` the popularity of the group's
//! specs with `cₘ ≤ cₙ`). Each node's before-state (sorted shares and `Fₙ`) is cached across
//! cycles: `prepare` refreshes the entries of the cycle's feasible nodes that changed, and
//! `score` checks that the entry still describes the node before using it. Each after-state is
//! the cached sorted shares edited in a stack buffer; devices with equal free share are tried
//! once, and `σ` is only evaluated for a device whose `Δ` beats the best so far. Nothing is
//! allocated per score. On the openb GPU cluster (1,213 nodes, 10,733 pods at 130 % load) a
//! whole trace takes about 0.4 s in release mode, a quarter of it the framework's filtering.
//!
//! Without `prepare` for this workload (the check is by address, so a caller driving the
//! scorer by hand must call `prepare` again after replacing the workload), and for nodes with
//! more than 8 GPUs, `score` takes the reference path through
//! [`crate::frag::node_fragmentation_of`]; both paths give the same scores up to float
//! rounding.

use rand_core::Rng;

use super::{NodeScore, NodeScorer, PolicyKind, ScoreContext};
use crate::cluster::{Node, PodSpec};
use crate::frag::{TargetWorkload, TypicalPod, node_fragmentation_of};
use crate::ids::{GpuModel, NodeId};
use crate::resources::{DeviceSet, GpuRequest, MAX_GPUS_PER_NODE};

/// Stack buffer size for a node's free shares.
const BUF: usize = MAX_GPUS_PER_NODE as usize;

/// The FGD policy. Holds the target workload compiled for fast scoring (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Fgd {
    compiled: Compiled,
    /// Address of the [`TargetWorkload`] the last `prepare` checked `compiled` against; 0 before
    /// the first `prepare`.
    prepared_for: usize,
    /// Cached before-state per node id.
    states: Vec<NodeState>,
    /// The feasible nodes of the current cycle (from PreScore).
    feasible: Vec<NodeId>,
}

/// A group of accessible GPU specs with the same per-device share and device count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Group {
    /// `gₘ`.
    milli: u32,
    /// `kₘ`.
    count: u32,
    /// Range of the group's specs in [`Compiled::cpus`] / [`Compiled::cum_p`].
    start: u32,
    end: u32,
}

/// The target workload compiled for one cluster's GPU models.
#[derive(Debug, Clone, Default, PartialEq)]
struct Compiled {
    /// The specs this was compiled from.
    source: Vec<TypicalPod>,
    /// Number of GPU models of the cluster it was compiled for.
    num_models: usize,
    /// `Σₘ pₘ`.
    p_total: f64,
    /// Per node model (index 0: no model; `1 + i`: `GpuModel(i)`), a range of `groups`.
    tables: Vec<(u32, u32)>,
    /// Groups of each table, by ascending `(milli, count)`.
    groups: Vec<Group>,
    /// Cpu requests of each group's specs, ascending.
    cpus: Vec<u64>,
    /// Prefix sums of the popularities, in the order of `cpus`, restarting for each group.
    cum_p: Vec<f64>,
}

impl Compiled {
    fn new(specs: &[TypicalPod], num_models: usize) -> Self {
        let mut c = Compiled {
            source: specs.to_vec(),
            num_models,
            p_total: specs.iter().map(|m| m.popularity).sum(),
            ..Default::default()
        };
        let mut accessible: Vec<(u32, u32, u64, f64)> = Vec::new();
        for t in 0..=num_models {
            let model = (t > 0).then(|| GpuModel((t - 1) as u16));
            accessible.clear();
            for m in specs {
                let access = m.models.is_empty() || model.is_some_and(|x| m.models.contains(&x));
                if !m.gpu.is_none() && access {
                    accessible.push((m.gpu.milli, m.gpu.count, m.cpu_milli, m.popularity));
                }
            }
            accessible.sort_by_key(|a| (a.0, a.1, a.2));
            let first_group = c.groups.len() as u32;
            let mut i = 0;
            while i < accessible.len() {
                let (milli, count) = (accessible[i].0, accessible[i].1);
                let start = c.cpus.len() as u32;
                let mut cum = 0.0;
                while i < accessible.len() && (accessible[i].0, accessible[i].1) == (milli, count) {
                    cum += accessible[i].3;
                    c.cpus.push(accessible[i].2);
                    c.cum_p.push(cum);
                    i += 1;
                }
                c.groups.push(Group {
                    milli,
                    count,
                    start,
                    end: c.cpus.len() as u32,
                });
            }
            c.tables.push((first_group, c.groups.len() as u32));
        }
        c
    }

    /// Popularity of the group's specs whose cpu request fits in `cpu`.
    #[inline]
    fn p_fit(&self, g: &Group, cpu: u64) -> f64 {
        let cpus = &self.cpus[g.start as usize..g.end as usize];
        let n = match cpus.last() {
            Some(&last) if last <= cpu => cpus.len(),
            Some(_) => cpus.partition_point(|&c| c <= cpu),
            None => 0,
        };
        if n == 0 {
            0.0
        } else {
            self.cum_p[g.start as usize + n - 1]
        }
    }

    /// `Fₙ` for free cpu `cpu` and free shares `sorted` (ascending) summing to `total`, with
    /// the groups of `table`.
    #[inline]
    fn fragmentation(&self, table: (u32, u32), cpu: u64, sorted: &[u32], total: u64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let mut j = 0usize;
        let mut below = 0u64;
        let mut usable = 0.0;
        for g in &self.groups[table.0 as usize..table.1 as usize] {
            while j < sorted.len() && sorted[j] < g.milli {
                below += sorted[j] as u64;
                j += 1;
            }
            if (sorted.len() - j) as u64 >= g.count as u64 {
                let p = self.p_fit(g, cpu);
                if p != 0.0 {
                    usable += p * (total - below) as f64;
                }
            }
        }
        self.p_total * total as f64 - usable
    }
}

/// Insertion sort of a short slice.
#[inline]
fn sort_small(v: &mut [u32]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// `⌊100 · σ(Δ / 1000)⌋`. A `|Δ|` below 1e-9 milli-GPU is float noise (a real change is at
/// least one milli-GPU times a popularity) and counts as 0, so that "no change" scores exactly
/// 50 whatever order the fragmentation terms were summed in.
#[inline]
fn sigmoid_score(delta: f64) -> i64 {
    let delta = if delta.abs() < 1e-9 { 0.0 } else { delta };
    let s = 1.0 / (1.0 + (-(delta / 1000.0)).exp());
    (s * 100.0) as i64
}

/// The devices a non-sharing GPU pod takes: `gpu.count` devices with `f ≥ gpu.milli` in
/// ascending free share, lowest index first among equal shares (upstream `NodeResource.Sub`).
fn packed_devices(gpu_free: &[u32], gpu: GpuRequest) -> Option<DeviceSet> {
    let mut set = DeviceSet::EMPTY;
    for _ in 0..gpu.count {
        let mut pick: Option<(usize, u32)> = None;
        for (i, &f) in gpu_free.iter().enumerate().take(BUF) {
            if f >= gpu.milli && !set.contains(i as u32) && pick.is_none_or(|(_, pf)| f < pf) {
                pick = Some((i, f));
            }
        }
        set.insert(pick?.0 as u32);
    }
    Some(set)
}

/// The FGD score of `node` for `pod`, with `frag(cpu, free shares, total free)` evaluating
/// `Fₙ` of a state (the reference path). `buf` is scratch space of at least the node's GPU
/// count.
fn fgd_score_with(
    node: &Node,
    pod: &PodSpec,
    buf: &mut [u32],
    frag: impl Fn(u64, &mut [u32], u64) -> f64,
) -> NodeScore {
    let r = &pod.request;
    if r.cpu_milli == 0 && r.memory_mib == 0 && r.gpu.is_none() {
        return NodeScore {
            score: 100,
            devices: None,
        };
    }
    let free = &node.gpu_free;
    let n = free.len();
    let buf = &mut buf[..n];
    let total: u64 = free.iter().map(|&f| f as u64).sum();
    buf.copy_from_slice(free);
    let before = frag(node.cpu_free, buf, total);
    let cpu_after = node.cpu_free.saturating_sub(r.cpu_milli);
    let gpu = r.gpu;
    if gpu.is_sharing() {
        let mut best: Option<(i64, u32)> = None;
        for (i, &f) in free.iter().enumerate() {
            // Devices with the same free share give the same state: the first one is kept.
            if f < gpu.milli || free[..i].contains(&f) {
                continue;
            }
            buf.copy_from_slice(free);
            buf[i] = f - gpu.milli;
            let after = frag(cpu_after, buf, total - gpu.milli as u64);
            let s = sigmoid_score(before - after);
            if best.is_none_or(|(bs, _)| s > bs) {
                best = Some((s, i as u32));
            }
        }
        return match best {
            Some((score, i)) => NodeScore {
                score,
                devices: Some(DeviceSet::single(i)),
            },
            None => NodeScore {
                score: 0,
                devices: None,
            },
        };
    }
    let Some(devices) = packed_devices(free, gpu) else {
        return NodeScore {
            score: 0,
            devices: None,
        };
    };
    buf.copy_from_slice(free);
    for d in devices.iter() {
        buf[d as usize] -= gpu.milli;
    }
    let after = frag(cpu_after, buf, total - gpu.total_milli());
    NodeScore {
        score: sigmoid_score(before - after),
        devices: Some(devices),
    }
}

/// Most GPUs of a node whose state [`NodeState`] caches; larger nodes take the reference path.
const CACHED_GPUS: usize = 8;

/// A node's state before placement with its fragmentation, cached across scheduling cycles
/// (refreshed in `prepare` when the node changed).
#[derive(Debug, Clone, Copy, PartialEq)]
struct NodeState {
    cpu: u64,
    /// GPU count; `u32::MAX` for an empty entry.
    len: u32,
    /// Index of the compiled table (the node's GPU model).
    table: u32,
    /// Free shares by device index.
    free: [u32; CACHED_GPUS],
    /// Free shares, ascending.
    sorted: [u32; CACHED_GPUS],
    /// `Σᵢ fᵢ`.
    total: u64,
    /// `Fₙ`.
    frag: f64,
}

impl NodeState {
    const EMPTY: NodeState = NodeState {
        cpu: 0,
        len: u32::MAX,
        table: 0,
        free: [0; CACHED_GPUS],
        sorted: [0; CACHED_GPUS],
        total: 0,
        frag: 0.0,
    };

    /// True when this entry describes `node` (with table `table`).
    #[inline]
    fn matches(&self, node: &Node, table: usize) -> bool {
        self.len as usize == node.gpu_free.len()
            && self.cpu == node.cpu_free
            && self.table as usize == table
            && self.free.iter().zip(&node.gpu_free).all(|(a, b)| a == b)
    }

    /// The state of `node`, or `None` when it has more than [`CACHED_GPUS`] GPUs.
    fn of(node: &Node, table: usize, c: &Compiled) -> Option<Self> {
        let n = node.gpu_free.len();
        if n > CACHED_GPUS {
            return None;
        }
        let mut st = NodeState {
            cpu: node.cpu_free,
            len: n as u32,
            table: table as u32,
            ..Self::EMPTY
        };
        st.free[..n].copy_from_slice(&node.gpu_free);
        st.sorted = st.free;
        sort_small(&mut st.sorted[..n]);
        st.total = node.gpu_free.iter().map(|&f| f as u64).sum();
        st.frag = c.fragmentation(c.tables[table], st.cpu, &st.sorted[..n], st.total);
        Some(st)
    }
}

/// The fast path of the FGD score: same decisions as [`fgd_score_with`] but from the cached
/// before-state, evaluating each after-state by editing the sorted free shares in place.
fn fgd_score_fast(c: &Compiled, st: &NodeState, pod: &PodSpec) -> NodeScore {
    let r = &pod.request;
    if r.cpu_milli == 0 && r.memory_mib == 0 && r.gpu.is_none() {
        return NodeScore {
            score: 100,
            devices: None,
        };
    }
    let t = c.tables[st.table as usize];
    let n = st.len as usize;
    let cpu_after = st.cpu.saturating_sub(r.cpu_milli);
    let gpu = r.gpu;
    let free = &st.free[..n];
    if gpu.is_sharing() {
        // (score, Δ, device) of the best device so far.
        let mut best: Option<(i64, f64, u32)> = None;
        for (i, &f) in free.iter().enumerate() {
            if f < gpu.milli || free[..i].contains(&f) {
                continue;
            }
            let mut after = st.sorted;
            // Replace one share `f` by `f − g` and restore the order.
            let mut p = after[..n].iter().rposition(|&x| x == f).unwrap_or(0);
            after[p] = f - gpu.milli;
            while p > 0 && after[p - 1] > after[p] {
                after.swap(p - 1, p);
                p -= 1;
            }
            let delta =
                st.frag - c.fragmentation(t, cpu_after, &after[..n], st.total - gpu.milli as u64);
            // The score is non-decreasing in Δ: a Δ no larger than the best's cannot win.
            if best.is_some_and(|(_, bd, _)| delta <= bd) {
                continue;
            }
            let s = sigmoid_score(delta);
            if best.is_none_or(|(bs, _, _)| s > bs) {
                best = Some((s, delta, i as u32));
            }
        }
        return match best {
            Some((score, _, i)) => NodeScore {
                score,
                devices: Some(DeviceSet::single(i)),
            },
            None => NodeScore {
                score: 0,
                devices: None,
            },
        };
    }
    let Some(devices) = packed_devices(free, gpu) else {
        return NodeScore {
            score: 0,
            devices: None,
        };
    };
    let mut after = st.sorted;
    if !gpu.is_none() {
        // The chosen devices are the `k` smallest shares with `f ≥ g`.
        let q = after[..n].partition_point(|&x| x < gpu.milli);
        for x in &mut after[q..q + gpu.count as usize] {
            *x -= gpu.milli;
        }
        sort_small(&mut after[..n]);
    }
    let delta = st.frag - c.fragmentation(t, cpu_after, &after[..n], st.total - gpu.total_milli());
    NodeScore {
        score: sigmoid_score(delta),
        devices: Some(devices),
    }
}

/// Index of `node`'s table in [`Compiled::tables`].
#[inline]
fn table_of(node: &Node) -> usize {
    node.gpu_model.map_or(0, |m| m.0 as usize + 1)
}

impl NodeScorer for Fgd {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Fgd
    }

    fn prescore(&mut self, feasible: &[NodeId], _rng: &mut dyn Rng) {
        self.feasible.clear();
        self.feasible.extend_from_slice(feasible);
    }

    /// Compiles `ctx.workload` for `ctx.cluster`'s GPU models unless already done, and
    /// refreshes the cached before-state of the feasible nodes that changed.
    fn prepare(&mut self, ctx: &ScoreContext<'_>, _pod: &PodSpec) {
        let num_models = ctx.cluster.gpu_models.len();
        let c = &self.compiled;
        if c.tables.len() != num_models + 1
            || c.num_models != num_models
            || c.source != ctx.workload.specs
        {
            self.compiled = Compiled::new(&ctx.workload.specs, num_models);
            self.states.clear();
        }
        self.prepared_for = ctx.workload as *const TargetWorkload as usize;
        let nodes = &ctx.cluster.nodes;
        self.states.resize(nodes.len(), NodeState::EMPTY);
        for &id in &self.feasible {
            let i = id.0 as usize;
            let Some(node) = nodes.get(i) else { continue };
            let table = table_of(node);
            if table >= self.compiled.tables.len() || self.states[i].matches(node, table) {
                continue;
            }
            self.states[i] = NodeState::of(node, table, &self.compiled).unwrap_or(NodeState::EMPTY);
        }
    }

    fn score(&self, ctx: &ScoreContext<'_>, id: NodeId, node: &Node, pod: &PodSpec) -> NodeScore {
        let table = table_of(node);
        let fast = self.prepared_for == ctx.workload as *const TargetWorkload as usize
            && table < self.compiled.tables.len();
        if fast {
            let c = &self.compiled;
            match self.states.get(id.0 as usize) {
                Some(st) if st.matches(node, table) => return fgd_score_fast(c, st, pod),
                _ => {
                    if let Some(st) = NodeState::of(node, table, c) {
                        return fgd_score_fast(c, &st, pod);
                    }
                }
            }
        }
        // Reference path: no prepared workload, or a node with more than 8 GPUs.
        let mut stack = [0u32; BUF];
        let mut heap;
        let buf: &mut [u32] = if node.gpu_free.len() <= BUF {
            &mut stack
        } else {
            heap = node.gpu_free.clone(); // more devices than a DeviceSet can name
            &mut heap
        };
        if fast {
            let c = &self.compiled;
            let t = c.tables[table];
            fgd_score_with(node, pod, buf, |cpu, free, total| {
                sort_small(free);
                c.fragmentation(t, cpu, free, total)
            })
        } else {
            fgd_score_with(node, pod, buf, |cpu, free, _| {
                node_fragmentation_of(cpu, free, node.gpu_model, ctx.workload)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// The compiled evaluation equals the reference `node_fragmentation_of` on random states.
    #[test]
    fn compiled_fragmentation_matches_reference() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..2000 {
            let num_models = 3;
            let nspecs = 1 + rng.next() % 12;
            let specs: Vec<TypicalPod> = (0..nspecs)
                .map(|_| {
                    let gpu = match rng.next() % 4 {
                        0 => GpuRequest::NONE,
                        1 => GpuRequest::shared(1 + (rng.next() % 999) as u32),
                        _ => GpuRequest::whole(1 + (rng.next() % 4) as u32),
                    };
                    let models = match rng.next() % 3 {
                        0 => vec![GpuModel((rng.next() % 3) as u16)],
                        _ => vec![],
                    };
                    TypicalPod {
                        cpu_milli: (rng.next() % 8) * 1000,
                        gpu,
                        models,
                        popularity: (1 + rng.next() % 100) as f64 / 100.0,
                    }
                })
                .collect();
            let w = TargetWorkload { specs };
            let c = Compiled::new(&w.specs, num_models);
            let g = (rng.next() % 9) as usize;
            let mut free: Vec<u32> = (0..g)
                .map(|_| match rng.next() % 3 {
                    0 => 1000,
                    1 => 0,
                    _ => (rng.next() % 1001) as u32,
                })
                .collect();
            let cpu = (rng.next() % 10) * 1000;
            let model = match rng.next() % 4 {
                0 => None,
                m => Some(GpuModel((m - 1) as u16)),
            };
            let reference = node_fragmentation_of(cpu, &free, model, &w);
            let total = free.iter().map(|&f| f as u64).sum();
            sort_small(&mut free);
            let t = c.tables[model.map_or(0, |m| m.0 as usize + 1)];
            let fast = c.fragmentation(t, cpu, &free, total);
            assert!((fast - reference).abs() < 1e-6, "{fast} vs {reference}");
        }
    }

    /// The fast path and the reference path choose the same score and devices.
    #[test]
    fn fast_score_matches_reference_score() {
        let mut rng = SplitMix64::new(11);
        for _ in 0..3000 {
            let specs: Vec<TypicalPod> = (0..1 + rng.next() % 8)
                .map(|_| TypicalPod {
                    cpu_milli: (rng.next() % 6) * 1000,
                    gpu: match rng.next() % 4 {
                        0 => GpuRequest::NONE,
                        1 => GpuRequest::shared([250, 500, 300][(rng.next() % 3) as usize]),
                        _ => GpuRequest::whole(1 + (rng.next() % 2) as u32),
                    },
                    models: if rng.next().is_multiple_of(4) {
                        vec![GpuModel(0)]
                    } else {
                        vec![]
                    },
                    popularity: (1 + rng.next() % 10) as f64 / 7.0,
                })
                .collect();
            let w = TargetWorkload { specs };
            let c = Compiled::new(&w.specs, 2);
            let g = (rng.next() % 9) as usize;
            let free: Vec<u32> = (0..g)
                .map(|_| [0, 250, 500, 750, 1000][(rng.next() % 5) as usize])
                .collect();
            let node = Node {
                name: "n".into(),
                pool: crate::ids::PoolId(0),
                gpu_model: if g > 0 && rng.next().is_multiple_of(2) {
                    Some(GpuModel(0))
                } else {
                    None
                },
                cpu_allocatable: 8000,
                memory_allocatable: 8000,
                cpu_free: (rng.next() % 9) * 1000,
                memory_free: 8000,
                gpu_free: free,
                labels: Default::default(),
                taints: Vec::new(),
                unschedulable: false,
                pods: Vec::new(),
            };
            let gpu = match rng.next() % 3 {
                0 => GpuRequest::NONE,
                1 => GpuRequest::shared([250, 500, 100][(rng.next() % 3) as usize]),
                _ => GpuRequest::whole(1 + (rng.next() % 2) as u32),
            };
            let pod = PodSpec::new(crate::resources::PodRequest {
                cpu_milli: (rng.next() % 3) * 1000,
                memory_mib: 0,
                gpu,
            });
            if node.fits_resources(&pod.request).is_err() {
                continue;
            }
            let table = table_of(&node);
            let st = NodeState::of(&node, table, &c).expect("at most 8 GPUs");
            let fast = fgd_score_fast(&c, &st, &pod);
            let mut buf = [0u32; BUF];
            let reference = fgd_score_with(&node, &pod, &mut buf, |cpu, f, _| {
                node_fragmentation_of(cpu, f, node.gpu_model, &w)
            });
            assert_eq!(
                fast, reference,
                "{:?} {:?} {:?}",
                node.gpu_free, node.cpu_free, pod.request
            );
        }
    }
}
