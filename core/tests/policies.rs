//! Hand-computed examples for every placement policy on 2–3-node clusters
//! (kubernetes-semantics.md §4.1–§4.2, §10.2–§10.3, §10.5 item 5), plus the framework's node
//! sampling and the fragmentation measure.
//!
//! Each expected value is worked out in the comment above its assertion.

use std::collections::BTreeMap;

use drydock_core::frag::{fragment_for, node_fragmentation_of};
use drydock_core::policy::scheduler::{num_feasible_nodes_to_find, scorer_for};
use drydock_core::rng::{SplitMix64, uniform_below};
use drydock_core::{
    BoundPod, Cluster, DeviceSet, GpuModel, GpuRequest, GroupId, Node, NodeId, PodId, PodRequest,
    PodSpec, PolicyKind, Pool, PoolId, ResourceWeights, Scheduler, SchedulerConfig, ScoreContext,
    TargetWorkload, TypicalPod,
};

const A100: GpuModel = GpuModel(0);
const V100: GpuModel = GpuModel(1);

/// A node with `cpu` millicores and `mem` MiB allocatable, all free, and one GPU per entry of
/// `gpu_free` with that free share (so `[1000, 500]` is one free GPU and one half-used GPU).
fn node(name: &str, cpu: u64, mem: u64, gpu_free: &[u32]) -> Node {
    Node {
        name: name.to_string(),
        pool: PoolId(0),
        gpu_model: if gpu_free.is_empty() {
            None
        } else {
            Some(A100)
        },
        cpu_allocatable: cpu,
        memory_allocatable: mem,
        cpu_free: cpu,
        memory_free: mem,
        gpu_free: gpu_free.to_vec(),
        labels: BTreeMap::new(),
        taints: Vec::new(),
        unschedulable: false,
        pods: Vec::new(),
    }
}

/// The same node with `cpu_free` / `memory_free` set (as if unlisted pods used the rest).
fn used(mut n: Node, cpu_free: u64, mem_free: u64) -> Node {
    n.cpu_free = cpu_free;
    n.memory_free = mem_free;
    n
}

fn cluster(nodes: Vec<Node>) -> Cluster {
    Cluster {
        pools: vec![Pool {
            name: "pool".into(),
            price_per_node_hour: 1.0,
        }],
        nodes,
        gpu_models: vec!["A100".into(), "V100".into()],
    }
}

fn pod(cpu: u64, mem: u64, gpu: GpuRequest) -> PodSpec {
    PodSpec::new(PodRequest {
        cpu_milli: cpu,
        memory_mib: mem,
        gpu,
    })
}

/// Binds a pod with `gpu` on `devices` of node `n` (cpu and memory 0 unless given).
fn bind(c: &mut Cluster, n: u32, id: u64, cpu: u64, gpu: GpuRequest, devices: &[u32]) {
    let mut set = DeviceSet::EMPTY;
    for &d in devices {
        set.insert(d);
    }
    let bound = BoundPod {
        pod: PodId(id),
        group: GroupId(id as u32),
        priority: 0,
        request: PodRequest {
            cpu_milli: cpu,
            memory_mib: 0,
            gpu,
        },
        devices: set,
        bound_at_us: 0,
    };
    c.bind(NodeId(n), bound).expect("test pod fits");
}

fn devices(ids: &[u32]) -> DeviceSet {
    let mut set = DeviceSet::EMPTY;
    for &d in ids {
        set.insert(d);
    }
    set
}

/// Raw scores of every node (all must pass the filter), after NormalizeScore.
fn scores_with(
    policy: PolicyKind,
    weights: ResourceWeights,
    c: &Cluster,
    p: &PodSpec,
    w: &TargetWorkload,
) -> Vec<i64> {
    let mut scorer = scorer_for(policy);
    let ids: Vec<NodeId> = (0..c.nodes.len() as u32).map(NodeId).collect();
    for n in &c.nodes {
        assert_eq!(n.filter(p), Ok(()), "{} must be feasible", n.name);
    }
    let mut rng = SplitMix64::new(1);
    scorer.prescore(&ids, &mut rng);
    let ctx = ScoreContext {
        cluster: c,
        workload: w,
        weights,
    };
    scorer.prepare(&ctx, p);
    let mut raw: Vec<i64> = ids
        .iter()
        .map(|&id| scorer.score(&ctx, id, &c.nodes[id.0 as usize], p).score)
        .collect();
    scorer.normalize(&mut raw);
    raw
}

fn scores(policy: PolicyKind, c: &Cluster, p: &PodSpec) -> Vec<i64> {
    scores_with(
        policy,
        SchedulerConfig::for_policy(policy).weights,
        c,
        p,
        &TargetWorkload::default(),
    )
}

/// `Scheduler::place` with the policy's default configuration.
fn place_with(policy: PolicyKind, c: &Cluster, p: &PodSpec, w: TargetWorkload) -> (u32, DeviceSet) {
    let mut s = Scheduler::new(SchedulerConfig::for_policy(policy), w);
    let mut rng = SplitMix64::new(7);
    let (n, d) = s.place(c, p, &mut rng).expect("placeable");
    (n.0, d)
}

fn place(policy: PolicyKind, c: &Cluster, p: &PodSpec) -> (u32, DeviceSet) {
    place_with(policy, c, p, TargetWorkload::default())
}

// ---------------------------------------------------------------------------------------------
// Framework: node sampling.

#[test]
fn num_feasible_nodes_to_find_matches_upstream_golden_values() {
    // Fewer than 100 nodes: all of them.
    assert_eq!(num_feasible_nodes_to_find(50, None), 50);
    assert_eq!(num_feasible_nodes_to_find(99, None), 99);
    // 100 nodes: 50 % = 50, raised to the minimum of 100.
    assert_eq!(num_feasible_nodes_to_find(100, None), 100);
    // 200: 49 % = 98 → 100.
    assert_eq!(num_feasible_nodes_to_find(200, None), 100);
    // 1000: 50 − 8 = 42 % → 420.
    assert_eq!(num_feasible_nodes_to_find(1000, None), 420);
    // 1213 (the openb GPU cluster): 50 − 9 = 41 % → ⌊497.33⌋ = 497.
    assert_eq!(num_feasible_nodes_to_find(1213, None), 497);
    // 5000: 50 − 40 = 10 % → 500.
    assert_eq!(num_feasible_nodes_to_find(5000, None), 500);
    // 6000: 50 − 48 = 2 %, floored at 5 % → 300.
    assert_eq!(num_feasible_nodes_to_find(6000, None), 300);
    // An explicit percentage overrides the rule; 0 means adaptive; 100 scores everything.
    assert_eq!(num_feasible_nodes_to_find(1000, Some(100)), 1000);
    assert_eq!(num_feasible_nodes_to_find(1000, Some(0)), 420);
    assert_eq!(num_feasible_nodes_to_find(1000, Some(30)), 300);
    assert_eq!(num_feasible_nodes_to_find(1000, Some(5)), 100);
}

#[test]
fn kube_profile_scores_only_the_sampled_nodes_and_rotates_the_start() {
    // 200 nodes: upstream scores 100 feasible nodes per cycle, starting where the last cycle
    // stopped. Node 150 is the only empty node (the best for LeastAllocated), so the first
    // cycle (nodes 0–99) cannot pick it and the second (nodes 100–199) must.
    let nodes = (0..200)
        .map(|i| {
            let n = node(&format!("n{i:03}"), 8000, 8192, &[]);
            if i == 150 { n } else { used(n, 4000, 4096) }
        })
        .collect();
    let c = cluster(nodes);
    let p = pod(1000, 1024, GpuRequest::NONE);
    let mut s = Scheduler::new(
        SchedulerConfig::for_policy(PolicyKind::KubeDefault),
        TargetWorkload::default(),
    );
    let mut rng = SplitMix64::new(3);
    let (first, _) = s.place(&c, &p, &mut rng).expect("fits");
    assert!(
        first.0 < 100,
        "first cycle sees nodes 0–99 only, got {first}"
    );
    let (second, _) = s.place(&c, &p, &mut rng).expect("fits");
    assert_eq!(second, NodeId(150));
}

// ---------------------------------------------------------------------------------------------
// kube-default and binpack.

#[test]
fn kube_default_least_allocated_plus_balanced_spreads() {
    let c = cluster(vec![
        node("a-empty", 8000, 16384, &[]),
        used(node("b-half", 8000, 16384, &[]), 4000, 8192),
        used(node("c-unbalanced", 8000, 16384, &[]), 8000, 8192),
    ]);
    let p = pod(2000, 4096, GpuRequest::NONE);
    // a: cpu (8000−2000)·100/8000 = 75, mem (16384−4096)·100/16384 = 75 → fit 75;
    //    fractions 0.25 / 0.25 → balanced 100. Total 175.
    // b: cpu q = 6000 → 25, mem q = 12288 → 25 → fit 25; fractions 0.75 / 0.75 → 100. 125.
    // c: cpu 75, mem 25 → fit 50; fractions 0.25 / 0.75 → σ = 0.25 → 75. 125.
    assert_eq!(scores(PolicyKind::KubeDefault, &c, &p), vec![175, 125, 125]);
    assert_eq!(place(PolicyKind::KubeDefault, &c, &p).0, 0);
}

#[test]
fn kube_default_truncates_like_upstream_and_ignores_gpus_by_default() {
    // cpu 3000 allocatable, pod 1000: (2000·100)/3000 = 66 (66.6 truncated);
    // memory 3000, pod 2000: 1000·100/3000 = 33 → fit (66 + 33) / 2 = 49.
    // Fractions 1/3 and 2/3: σ = 1/6 → (1 − 1/6)·100 = 83.3 → 83. Total 132.
    // GPUs have weight 0 in kube-default: the half-used GPU node scores the same.
    let c = cluster(vec![
        node("a", 3000, 3000, &[1000, 1000]),
        node("b", 3000, 3000, &[1000, 0]),
    ]);
    let p = pod(1000, 2000, GpuRequest::whole(1));
    assert_eq!(scores(PolicyKind::KubeDefault, &c, &p), vec![132, 132]);
}

#[test]
fn kube_default_skips_balanced_allocation_for_best_effort_pods() {
    // No cpu or memory request: BalancedAllocation is skipped (0); LeastAllocated of an empty
    // node is 100 and of a half-used node 50.
    let c = cluster(vec![
        node("a", 8000, 8000, &[]),
        used(node("b", 8000, 8000, &[]), 4000, 4000),
    ]);
    let p = pod(0, 0, GpuRequest::NONE);
    assert_eq!(scores(PolicyKind::KubeDefault, &c, &p), vec![100, 50]);
}

#[test]
fn binpack_most_allocated_packs() {
    let c = cluster(vec![
        node("a-empty", 8000, 16384, &[]),
        used(node("b-half", 8000, 16384, &[]), 4000, 8192),
    ]);
    let p = pod(2000, 4096, GpuRequest::NONE);
    // a: cpu 2000·100/8000 = 25, mem 25 → 25 (the pod requests no GPU: GPU not scored).
    // b: cpu 6000 → 75, mem 75 → 75.
    assert_eq!(scores(PolicyKind::Binpack, &c, &p), vec![25, 75]);
    assert_eq!(place(PolicyKind::Binpack, &c, &p).0, 1);
}

#[test]
fn binpack_weights_gpus_when_the_pod_requests_them() {
    let mut c = cluster(vec![
        node("x-free", 16000, 65536, &[1000, 1000, 1000, 1000]),
        node("y-used", 16000, 65536, &[1000, 1000, 1000, 1000]),
    ]);
    bind(&mut c, 1, 1, 0, GpuRequest::whole(2), &[0, 1]);
    let p = pod(1000, 1024, GpuRequest::whole(1));
    // x: cpu 1000·100/16000 = 6, mem 1024·100/65536 = 1, gpu 1000·100/4000 = 25
    //    → (6 + 1 + 25) / 3 = 10.
    // y: gpu (2000 + 1000)·100/4000 = 75 → (6 + 1 + 75) / 3 = 27.
    assert_eq!(scores(PolicyKind::Binpack, &c, &p), vec![10, 27]);
    assert_eq!(place(PolicyKind::Binpack, &c, &p), (1, devices(&[2])));
    // A full resource scores 100: cpu q = 0 → 0, memory q = 1000 of 1000 → 100; (0 + 100) / 2.
    let c = cluster(vec![used(node("z", 1000, 1000, &[]), 1000, 0)]);
    let p = pod(0, 0, GpuRequest::NONE);
    assert_eq!(scores(PolicyKind::Binpack, &c, &p), vec![50]);
}

// ---------------------------------------------------------------------------------------------
// Random.

#[test]
fn random_draws_one_feasible_node_with_the_callers_stream() {
    let c = cluster(vec![
        node("a", 8000, 8192, &[1000]),
        node("b", 8000, 8192, &[]), // infeasible for a GPU pod
        node("c", 8000, 8192, &[1000]),
        node("d", 8000, 8192, &[1000]),
    ]);
    let p = pod(1000, 1024, GpuRequest::whole(1));
    let feasible = [0u32, 2, 3];
    let mut seen = [false; 4];
    for seed in 0..64 {
        let mut s = Scheduler::new(
            SchedulerConfig::for_policy(PolicyKind::Random),
            TargetWorkload::default(),
        );
        let mut rng = SplitMix64::new(seed);
        let mut expected = SplitMix64::new(seed);
        let want = feasible[uniform_below(&mut expected, 3) as usize];
        let (n, d) = s.place(&c, &p, &mut rng).expect("fits");
        assert_eq!(n.0, want, "seed {seed}");
        assert_eq!(d, devices(&[0]));
        seen[n.0 as usize] = true;
    }
    assert_eq!(
        seen,
        [true, false, true, true],
        "every feasible node is drawn, never b"
    );
}

#[test]
fn random_scores_100_for_the_drawn_node_and_0_for_the_others() {
    let c = cluster(vec![
        node("a", 8000, 8192, &[]),
        node("b", 8000, 8192, &[]),
        node("c", 8000, 8192, &[]),
    ]);
    let p = pod(1000, 1024, GpuRequest::NONE);
    let mut scorer = scorer_for(PolicyKind::Random);
    let ids = [NodeId(0), NodeId(1), NodeId(2)];
    let mut rng = SplitMix64::new(11);
    let mut expected = SplitMix64::new(11);
    let want = uniform_below(&mut expected, 3) as usize;
    scorer.prescore(&ids, &mut rng);
    let w = TargetWorkload::default();
    let ctx = ScoreContext {
        cluster: &c,
        workload: &w,
        weights: SchedulerConfig::for_policy(PolicyKind::Random).weights,
    };
    let s: Vec<i64> = ids
        .iter()
        .map(|&id| scorer.score(&ctx, id, &c.nodes[id.0 as usize], &p).score)
        .collect();
    let mut want_scores = vec![0; 3];
    want_scores[want] = 100;
    assert_eq!(s, want_scores);
}

#[test]
fn random_picks_a_uniform_device_among_those_that_fit_for_sharing_pods() {
    // Devices 1 and 3 have ≥ 600 free. With one node, PreScore draws uniform_below(1) (no
    // draw), then reservoir sampling draws once at the second candidate.
    let c = cluster(vec![node("a", 8000, 8192, &[500, 1000, 200, 700])]);
    let p = pod(1000, 1024, GpuRequest::shared(600));
    let mut seen = [0u32; 4];
    for seed in 0..64 {
        let mut s = Scheduler::new(
            SchedulerConfig::for_policy(PolicyKind::Random),
            TargetWorkload::default(),
        );
        let mut rng = SplitMix64::new(seed);
        let mut expected = SplitMix64::new(seed);
        let want = if uniform_below(&mut expected, 2) == 0 {
            3
        } else {
            1
        };
        let (_, d) = s.place(&c, &p, &mut rng).expect("fits");
        assert_eq!(d, devices(&[want]), "seed {seed}");
        seen[want as usize] += 1;
    }
    assert!(
        seen[1] > 10 && seen[3] > 10,
        "both devices are drawn: {seen:?}"
    );
    // Whole-GPU pods get the lowest-indexed fully free GPUs.
    let c = cluster(vec![node("a", 8000, 8192, &[500, 1000, 1000, 1000])]);
    let p = pod(1000, 1024, GpuRequest::whole(2));
    assert_eq!(place(PolicyKind::Random, &c, &p).1, devices(&[1, 2]));
}

// ---------------------------------------------------------------------------------------------
// DotProd.

#[test]
fn dot_prod_prefers_the_smallest_dot_product() {
    let c = cluster(vec![
        used(node("a", 64000, 65536, &[1000, 1000]), 64000, 65536),
        used(
            node("b", 64000, 65536, &[500, 1000, 1000, 1000]),
            16000,
            65536,
        ),
    ]);
    let p = pod(8000, 1024, GpuRequest::shared(500));
    // u = (8000/128000, 500/8000) = (0.0625, 0.0625).
    // a: v = (0.5, 0.25): v·u = 0.046875 → 100·(1 − 0.0234375) = 97.66 → 97.
    // b: v = (0.125, 0.4375): v·u = 0.03515625 → 100·(1 − 0.017578125) = 98.24 → 98.
    assert_eq!(scores(PolicyKind::DotProd, &c, &p), vec![97, 98]);
    // b wins; the sharing pod gets the best-fit device (device 0, exactly 500 free).
    assert_eq!(place(PolicyKind::DotProd, &c, &p), (1, devices(&[0])));
}

#[test]
fn study_policies_break_ties_by_node_name() {
    // Identical nodes score the same under every study policy; "node-a" (id 1) sorts before
    // "node-b" (id 0) and wins.
    let c = cluster(vec![
        node("node-b", 32000, 65536, &[1000, 1000]),
        node("node-a", 32000, 65536, &[1000, 1000]),
    ]);
    let p = pod(4000, 1024, GpuRequest::shared(300));
    let w = TargetWorkload {
        specs: vec![spec(1000, GpuRequest::shared(500), 1.0)],
    };
    for policy in [
        PolicyKind::DotProd,
        PolicyKind::GpuClustering,
        PolicyKind::GpuPacking,
        PolicyKind::BestFit,
        PolicyKind::Fgd,
    ] {
        assert_eq!(place_with(policy, &c, &p, w.clone()).0, 1, "{policy:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// GpuClustering.

#[test]
fn gpu_clustering_four_cases() {
    let g8 = [1000; 8];
    let mut c = cluster(vec![
        node("n1-share-only", 32000, 65536, &g8),
        node("n2-mixed", 32000, 65536, &g8),
        node("n3-no-gpu-pods", 32000, 65536, &g8),
        node("n4-other-kind", 32000, 65536, &g8),
    ]);
    bind(&mut c, 0, 1, 0, GpuRequest::shared(500), &[0]);
    bind(&mut c, 1, 2, 0, GpuRequest::shared(500), &[0]);
    bind(&mut c, 1, 3, 0, GpuRequest::whole(1), &[1]);
    bind(&mut c, 2, 4, 1000, GpuRequest::NONE, &[]); // a CPU-only pod is not a GPU kind
    bind(&mut c, 3, 5, 0, GpuRequest::whole(2), &[0, 1]);
    // Base b = 25·(8000 − Σf)/8000:
    //   n1: Σf = 7500 → 1;  n2: 6500 → 4 (4.69);  n3: 8000 → 0;  n4: 6000 → 6 (6.25).
    // Share pod: n1 only its kind 75 + 1 = 76; n2 its kind and others 50 + 4 = 54;
    //            n3 no GPU pods 25 + 0 = 25; n4 only other kinds 0 + 6 = 6.
    let share = pod(1000, 1024, GpuRequest::shared(250));
    assert_eq!(
        scores(PolicyKind::GpuClustering, &c, &share),
        vec![76, 54, 25, 6]
    );
    // The pod gets the best-fit device: device 0 of n1 (500 free).
    assert_eq!(
        place(PolicyKind::GpuClustering, &c, &share),
        (0, devices(&[0]))
    );
    // A 2-GPU pod: n4 holds only 2-gpu pods → 75 + 6 = 81; n1, n2 only/also other kinds:
    // n1 1, n2 4; n3 25.
    let two = pod(1000, 1024, GpuRequest::whole(2));
    assert_eq!(
        scores(PolicyKind::GpuClustering, &c, &two),
        vec![1, 4, 25, 81]
    );
    assert_eq!(
        place(PolicyKind::GpuClustering, &c, &two),
        (3, devices(&[2, 3]))
    );
    // CPU-only pods score 0 everywhere.
    let cpu = pod(1000, 1024, GpuRequest::NONE);
    assert_eq!(
        scores(PolicyKind::GpuClustering, &c, &cpu),
        vec![0, 0, 0, 0]
    );
}

#[test]
fn gpu_clustering_fixed_8000_makes_small_empty_nodes_look_fuller() {
    // Empty 2-GPU node: b = 25·6000/8000 = 18 → 25 + 18 = 43; empty 8-GPU node: 25.
    let c = cluster(vec![
        node("big", 32000, 65536, &[1000; 8]),
        node("small", 32000, 65536, &[1000, 1000]),
    ]);
    let p = pod(1000, 1024, GpuRequest::whole(1));
    assert_eq!(scores(PolicyKind::GpuClustering, &c, &p), vec![25, 43]);
}

// ---------------------------------------------------------------------------------------------
// GpuPacking.

#[test]
fn gpu_packing_three_cases() {
    let c = cluster(vec![
        node("e8-empty", 32000, 65536, &[1000; 8]),
        node("e2-empty", 32000, 65536, &[1000, 1000]),
        node("u-used-node", 32000, 65536, &[300, 1000, 1000, 1000]),
        node("s-shared-gpu", 32000, 65536, &[800, 600, 1000, 1000]),
    ]);
    let p = pod(1000, 1024, GpuRequest::shared(500));
    // Case 1, empty nodes: z = 8 → max(33 − 8, 8) = 25; z = 2 → max(31, 2) = 31.
    // Case 2, u: the only device with f ≥ 500 in ascending order is a free GPU (u = 1)
    //   → max(50 − 1, 33) = 49.
    // Case 3, s: first fitting device in ascending share is device 1 (600):
    //   ⌊600·100/1000⌋ = 60 → 100 − ⌊60/10⌋ = 94.
    assert_eq!(scores(PolicyKind::GpuPacking, &c, &p), vec![25, 31, 49, 94]);
    // s wins; the best-fit device is device 1 (600).
    assert_eq!(place(PolicyKind::GpuPacking, &c, &p), (3, devices(&[1])));
    // A 2-GPU pod: u takes 2 free GPUs → max(50 − 2, 33) = 48; s too → 48; empty nodes as before.
    let two = pod(1000, 1024, GpuRequest::whole(2));
    assert_eq!(
        scores(PolicyKind::GpuPacking, &c, &two),
        vec![25, 31, 48, 48]
    );
    // Tie between u and s at 48 goes to the smaller name "s-shared-gpu"; it gets devices 2, 3.
    assert_eq!(
        place(PolicyKind::GpuPacking, &c, &two),
        (3, devices(&[2, 3]))
    );
    // CPU-only pods score 0.
    assert_eq!(
        scores(
            PolicyKind::GpuPacking,
            &c,
            &pod(1000, 1024, GpuRequest::NONE)
        ),
        vec![0; 4]
    );
}

#[test]
fn gpu_packing_sums_truncated_ratios_of_the_chosen_devices() {
    // Devices 550 and 700 fit a 500 pod; ascending order takes 550: ⌊55⌋ → 100 − 5 = 95.
    // On [990, 990, 1000]: 990 → 99 → 100 − 9 = 91. Floor at 50 is not reached here.
    let c = cluster(vec![
        node("a", 32000, 65536, &[700, 550]),
        node("b", 32000, 65536, &[990, 990, 1000]),
    ]);
    let p = pod(1000, 1024, GpuRequest::shared(500));
    assert_eq!(scores(PolicyKind::GpuPacking, &c, &p), vec![95, 91]);
}

// ---------------------------------------------------------------------------------------------
// BestFit.

#[test]
fn best_fit_normalises_min_max() {
    let c = cluster(vec![
        used(node("a", 64000, 65536, &[1000, 1000]), 64000, 65536),
        used(
            node("b", 64000, 65536, &[1000, 1000, 1000, 1000]),
            16000,
            65536,
        ),
        used(node("c", 64000, 65536, &[1000]), 32000, 65536),
    ]);
    let p = pod(8000, 1024, GpuRequest::whole(1));
    // Raw 100·(1 − [0.5·(cₙ − c)/128000 + 0.5·(Σf − k·g)/8000]):
    //   a: 0.5·56000/128000 + 0.5·1000/8000 = 0.21875 + 0.0625 = 0.28125 → 71.875 → 71
    //   b: 0.5·8000/128000 + 0.5·3000/8000 = 0.03125 + 0.1875 = 0.21875 → 78.125 → 78
    //   c: 0.5·24000/128000 + 0 = 0.09375 → 90.625 → 90
    // Normalised (s − 71)·100/19: a 0, b ⌊700/19⌋ = 36, c 100.
    assert_eq!(scores(PolicyKind::BestFit, &c, &p), vec![0, 36, 100]);
    assert_eq!(place(PolicyKind::BestFit, &c, &p), (2, devices(&[0])));
}

#[test]
fn best_fit_equal_raw_scores_normalise_to_zero() {
    let c = cluster(vec![
        node("b", 32000, 65536, &[1000]),
        node("a", 32000, 65536, &[1000]),
    ]);
    let p = pod(1000, 1024, GpuRequest::whole(1));
    assert_eq!(scores(PolicyKind::BestFit, &c, &p), vec![0, 0]);
    assert_eq!(
        place(PolicyKind::BestFit, &c, &p).0,
        1,
        "tie goes to the name \"a\""
    );
}

// ---------------------------------------------------------------------------------------------
// FGD.

fn spec(cpu: u64, gpu: GpuRequest, popularity: f64) -> TypicalPod {
    TypicalPod {
        cpu_milli: cpu,
        gpu,
        models: Vec::new(),
        popularity,
    }
}

#[test]
fn fgd_prefers_the_node_whose_fragmentation_grows_least() {
    // M = {1000 mCPU + 500 m share: 0.5, 1000 mCPU + 1 GPU: 0.5}.
    let w = TargetWorkload {
        specs: vec![
            spec(1000, GpuRequest::shared(500), 0.5),
            spec(1000, GpuRequest::whole(1), 0.5),
        ],
    };
    let c = cluster(vec![
        node("a-free", 32000, 65536, &[1000, 1000]),
        node("b-half", 32000, 65536, &[1000, 500]),
    ]);
    let p = pod(1000, 1024, GpuRequest::shared(500));
    // a: before both specs fit and no sliver is unusable: F = 0. After 500 on either device
    //    ([500, 1000]): the share spec still fits everything; the 1-GPU spec cannot use the
    //    500 left → F = 0.5·500 = 250. Δ = −250 → ⌊100·σ(−0.25)⌋ = 43.
    // b: before, the 1-GPU spec cannot use the 500 → F = 250.
    //    On device 1 (500 → 0): [1000, 0] → F = 0, Δ = 250 → ⌊100·σ(0.25)⌋ = 56.
    //    On device 0 (1000 → 500): [500, 500] → no GPU for the 1-GPU spec: F = 0.5·1000 = 500,
    //    Δ = −250 → 43. Device 1 is kept.
    let weights = SchedulerConfig::for_policy(PolicyKind::Fgd).weights;
    assert_eq!(
        scores_with(PolicyKind::Fgd, weights, &c, &p, &w),
        vec![43, 56]
    );
    assert_eq!(place_with(PolicyKind::Fgd, &c, &p, w), (1, devices(&[1])));
}

#[test]
fn fgd_device_choice_for_a_sharing_pod_differs_from_best_fit() {
    // M = {400 m share: 1}. Pod 300 m on [400, 1000]:
    //   device 0 → [100, 1000]: the 100 sliver is unusable, F = 100, Δ = −100 → 47;
    //   device 1 → [400, 700]: F = 0, Δ = 0 → 50. FGD takes device 1; best-fit would take 0.
    let w = TargetWorkload {
        specs: vec![spec(0, GpuRequest::shared(400), 1.0)],
    };
    let c = cluster(vec![node("a", 32000, 65536, &[400, 1000])]);
    let p = pod(1000, 1024, GpuRequest::shared(300));
    assert_eq!(
        place_with(PolicyKind::Fgd, &c, &p, w.clone()),
        (0, devices(&[1]))
    );
    assert_eq!(place(PolicyKind::BestFit, &c, &p), (0, devices(&[0])));
    // The score is the best device's.
    let weights = SchedulerConfig::for_policy(PolicyKind::Fgd).weights;
    assert_eq!(scores_with(PolicyKind::Fgd, weights, &c, &p, &w), vec![50]);
    // Devices with equal shares give equal scores: the lowest index wins.
    let c = cluster(vec![node("a", 32000, 65536, &[400, 1000, 1000])]);
    assert_eq!(place_with(PolicyKind::Fgd, &c, &p, w), (0, devices(&[1])));
    // Equal integer scores from different Δ: the lowest index still wins.
    // M = {400 m share: 0.5, 1 GPU: 0.5}; pod 150 m on [450, 400] (F = 0.5·850 = 425):
    //   device 0 → [300, 400]: F = 0.5·300 + 0.5·700 = 500, Δ = −75 → ⌊48.1⌋ = 48;
    //   device 1 → [450, 250]: F = 0.5·250 + 0.5·700 = 475, Δ = −50 → ⌊48.75⌋ = 48.
    let w = TargetWorkload {
        specs: vec![
            spec(0, GpuRequest::shared(400), 0.5),
            spec(0, GpuRequest::whole(1), 0.5),
        ],
    };
    let c = cluster(vec![node("a", 32000, 65536, &[450, 400])]);
    let p = pod(1000, 1024, GpuRequest::shared(150));
    assert_eq!(scores_with(PolicyKind::Fgd, weights, &c, &p, &w), vec![48]);
    assert_eq!(place_with(PolicyKind::Fgd, &c, &p, w), (0, devices(&[0])));
}

#[test]
fn fgd_steers_cpu_only_pods_away_from_gpu_nodes_that_need_their_cpu() {
    // M = {8000 mCPU + 1 GPU: 1}. A 4000 mCPU pod on the GPU node leaves 4000 mCPU: the spec no
    // longer fits (q4 lack cpu) → F goes 0 → 1000, Δ = −1000 → 26. On the CPU-only node F is 0
    // before and after → 50.
    let w = TargetWorkload {
        specs: vec![spec(8000, GpuRequest::whole(1), 1.0)],
    };
    let c = cluster(vec![
        node("gpu", 8000, 65536, &[1000]),
        node("cpu", 8000, 65536, &[]),
    ]);
    let p = pod(4000, 1024, GpuRequest::NONE);
    let weights = SchedulerConfig::for_policy(PolicyKind::Fgd).weights;
    assert_eq!(
        scores_with(PolicyKind::Fgd, weights, &c, &p, &w),
        vec![26, 50]
    );
    assert_eq!(
        place_with(PolicyKind::Fgd, &c, &p, w),
        (1, DeviceSet::EMPTY)
    );
}

#[test]
fn fgd_whole_gpu_pods_take_the_lowest_indexed_free_gpus_and_empty_pods_score_100() {
    let w = TargetWorkload {
        specs: vec![spec(1000, GpuRequest::shared(500), 1.0)],
    };
    let c = cluster(vec![node("a", 32000, 65536, &[500, 1000, 300, 1000, 1000])]);
    let p = pod(1000, 1024, GpuRequest::whole(2));
    assert_eq!(
        place_with(PolicyKind::Fgd, &c, &p, w.clone()),
        (0, devices(&[1, 3]))
    );
    let weights = SchedulerConfig::for_policy(PolicyKind::Fgd).weights;
    // Pods without requests score 100.
    let empty = pod(0, 0, GpuRequest::NONE);
    assert_eq!(
        scores_with(PolicyKind::Fgd, weights, &c, &empty, &w),
        vec![100]
    );
}

#[test]
fn fgd_without_prepare_gives_the_same_scores() {
    // The compiled fast path (after `prepare`) and the reference path agree.
    let w = TargetWorkload {
        specs: vec![
            spec(1000, GpuRequest::shared(500), 0.4),
            spec(2000, GpuRequest::whole(1), 0.3),
            spec(500, GpuRequest::whole(2), 0.2),
            spec(4000, GpuRequest::NONE, 0.1),
        ],
    };
    let c = cluster(vec![
        node("a", 32000, 65536, &[1000, 500, 250, 1000]),
        used(node("b", 32000, 65536, &[700, 1000]), 1500, 65536),
        node("c", 32000, 65536, &[]),
    ]);
    let weights = SchedulerConfig::for_policy(PolicyKind::Fgd).weights;
    for p in [
        pod(1000, 1024, GpuRequest::shared(200)),
        pod(1000, 1024, GpuRequest::whole(1)),
        pod(1000, 1024, GpuRequest::NONE),
    ] {
        let reference = scorer_for(PolicyKind::Fgd);
        let mut prepared = scorer_for(PolicyKind::Fgd);
        let ctx = ScoreContext {
            cluster: &c,
            workload: &w,
            weights,
        };
        let ids: Vec<NodeId> = (0..3).map(NodeId).collect();
        prepared.prescore(&ids, &mut SplitMix64::new(0));
        prepared.prepare(&ctx, &p);
        for (i, n) in c.nodes.iter().enumerate() {
            if n.filter(&p).is_err() {
                continue;
            }
            let id = NodeId(i as u32);
            assert_eq!(
                prepared.score(&ctx, id, n, &p),
                reference.score(&ctx, id, n, &p),
                "{} {p:?}",
                n.name
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fragmentation (§10.2).

#[test]
fn fragment_for_each_case_of_the_table() {
    let free = [300u32, 1000];
    let share = |k: u32, models: Vec<GpuModel>| TypicalPod {
        cpu_milli: 1000,
        gpu: GpuRequest {
            count: k,
            milli: 500,
        },
        models,
        popularity: 1.0,
    };
    // CPU-only spec (xl_satisfied / xr_lack_cpu): all free GPU, CPU fitting or not.
    let cpu_only = spec(1000, GpuRequest::NONE, 1.0);
    assert_eq!(fragment_for(2000, &free, Some(A100), &cpu_only), 1300);
    assert_eq!(fragment_for(500, &free, Some(A100), &cpu_only), 1300);
    // no_access: the node's model is not allowed, or the node has no model.
    assert_eq!(
        fragment_for(2000, &free, Some(A100), &share(1, vec![V100])),
        1300
    );
    assert_eq!(fragment_for(2000, &free, None, &share(1, vec![V100])), 1300);
    // q3_satisfied: only slivers below gₘ = 500 count: 300. Also with an allowed model.
    assert_eq!(
        fragment_for(2000, &free, Some(A100), &share(1, vec![])),
        300
    );
    assert_eq!(
        fragment_for(2000, &free, Some(A100), &share(1, vec![A100, V100])),
        300
    );
    // q4_lack_cpu: GPUs fit, cpu does not.
    assert_eq!(
        fragment_for(500, &free, Some(A100), &share(1, vec![])),
        1300
    );
    // q2_lack_gpu: two devices of ≥ 500 needed, one available.
    assert_eq!(
        fragment_for(2000, &free, Some(A100), &share(2, vec![])),
        1300
    );
    // q1_lack_both.
    assert_eq!(
        fragment_for(500, &free, Some(A100), &share(2, vec![])),
        1300
    );
    // Fₙ = Σ pₘ Fₙ(m): 0.25·1300 + 0.75·300 = 550; a node without GPUs has 0.
    let w = TargetWorkload {
        specs: vec![
            spec(1000, GpuRequest::NONE, 0.25),
            spec(1000, GpuRequest::shared(500), 0.75),
        ],
    };
    assert_eq!(node_fragmentation_of(2000, &free, Some(A100), &w), 550.0);
    assert_eq!(node_fragmentation_of(2000, &[], None, &w), 0.0);
}

#[test]
fn target_workload_keeps_specs_until_the_threshold_is_covered() {
    // 6 × X, 3 × Y, 1 × Z (10 pods). X's models are given in two orders: same spec.
    let mut x1 = pod(1000, 1, GpuRequest::shared(500));
    x1.gpu_models = vec![V100, A100];
    let mut x2 = x1.clone();
    x2.gpu_models = vec![A100, V100];
    let y = pod(2000, 1, GpuRequest::whole(1));
    let z = pod(4000, 1, GpuRequest::NONE);
    let pods = [&x1, &x2, &x1, &x2, &x1, &x2, &y, &y, &y, &z];
    let specs = |t: f64| {
        TargetWorkload::from_pods(pods.iter().copied(), t)
            .specs
            .into_iter()
            .map(|s| (s.cpu_milli, s.models, s.popularity))
            .collect::<Vec<_>>()
    };
    let ab = vec![A100, V100];
    // 0.6: X alone covers 6/10 ≥ 0.6 → only X, renormalised to 1.
    assert_eq!(specs(0.6), vec![(1000, ab.clone(), 1.0)]);
    // 0.61 and 0.9: X + Y (9/10) → 6/9, 3/9.
    for t in [0.61, 0.9] {
        assert_eq!(
            specs(t),
            vec![(1000, ab.clone(), 6.0 / 9.0), (2000, vec![], 3.0 / 9.0)]
        );
    }
    // 0.95 (the experiments' threshold): all three.
    assert_eq!(
        specs(0.95),
        vec![
            (1000, ab.clone(), 0.6),
            (2000, vec![], 0.3),
            (4000, vec![], 0.1)
        ]
    );
    // Equal counts keep spec order (smaller cpu first).
    let tie = TargetWorkload::from_pods([&z, &y], 1.0);
    assert_eq!(
        tie.specs.iter().map(|s| s.cpu_milli).collect::<Vec<_>>(),
        vec![2000, 4000]
    );
    // No pods: empty workload.
    assert!(TargetWorkload::from_pods(std::iter::empty(), 0.95).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Preemption.

#[test]
fn preempt_leaves_the_cluster_exactly_as_it_was() {
    // Two priority-0 pods on a node with 2048 MiB: a (1024 MiB, bound first) and b (nothing).
    // A priority-1 pod of 2048 MiB needs a evicted (b is reprieved). preempt assumes the
    // eviction and rolls it back; binding a again would put it after b in `Node::pods`.
    let mut c = cluster(vec![node("n", 8000, 2048, &[])]);
    for (id, mem) in [(1u64, 1024u64), (2, 0)] {
        let bound = BoundPod {
            pod: PodId(id),
            group: GroupId(id as u32),
            priority: 0,
            request: PodRequest {
                cpu_milli: 0,
                memory_mib: mem,
                gpu: GpuRequest::NONE,
            },
            devices: DeviceSet::EMPTY,
            bound_at_us: id,
        };
        c.bind(NodeId(0), bound).expect("fits");
    }
    let before = c.clone();
    let mut p = pod(0, 2048, GpuRequest::NONE);
    p.priority = 1;
    let mut s = Scheduler::new(
        SchedulerConfig::for_policy(PolicyKind::KubeDefault),
        TargetWorkload::default(),
    );
    let pending = [drydock_core::PendingPod {
        pod: PodId(9),
        spec: &p,
    }];
    let preemption = s
        .preempt(&mut c, GroupId(9), &pending, 100)
        .expect("a must be evicted");
    assert_eq!(preemption.victims, vec![(NodeId(0), PodId(1))]);
    assert_eq!(preemption.nominated, vec![NodeId(0)]);
    assert_eq!(c, before);
}

/// A preemption evicts each victim gang once, in id order, and only the running ones: a gang
/// stalled on a dead node (its pods wait for the node lifecycle controller) and a gang already
/// terminating are left alone; pods of no gang are skipped. Nominated nodes come sorted, once.
#[test]
fn preemption_evicts_each_running_victim_gang_once() {
    use drydock_core::{Preemption, VictimState};
    let p = Preemption {
        // Gang 5 has two victim pods, gang 3 one, gang 7 (stalled) one, gang 8 (terminating)
        // one; pod 99 belongs to no gang.
        victims: vec![
            (NodeId(1), PodId(50)),
            (NodeId(0), PodId(30)),
            (NodeId(1), PodId(51)),
            (NodeId(2), PodId(70)),
            (NodeId(2), PodId(80)),
            (NodeId(0), PodId(99)),
        ],
        nominated: vec![NodeId(2), NodeId(1), NodeId(2)],
    };
    let group_of = |pod: PodId| (pod.0 != 99).then_some(GroupId((pod.0 / 10) as u32));
    let state = |g: GroupId| match g.0 {
        7 => VictimState::Stalled,
        8 => VictimState::Other,
        _ => VictimState::Running,
    };
    assert_eq!(
        p.gangs_to_evict(group_of, state),
        vec![GroupId(3), GroupId(5)]
    );
    assert_eq!(p.nominated_nodes(), vec![NodeId(1), NodeId(2)]);
    // Every victim stalled: nothing to evict (the preemptor then waits for no one).
    assert!(
        p.gangs_to_evict(group_of, |_| VictimState::Stalled)
            .is_empty()
    );
}

/// The reason shown for a waiting pod prefers a resource shortage over the nodes that could
/// never hold it (wrong model, selector, taint), however many of those there are.
#[test]
fn main_reason_prefers_resource_shortages() {
    use drydock_core::{Unfit, Unschedulable};
    let u = Unschedulable {
        nodes: 10,
        reasons: [(Unfit::GpuModel, 6), (Unfit::Gpu, 4)]
            .into_iter()
            .collect(),
        placed: 0,
        gang_size: 1,
    };
    assert_eq!(u.main_reason(), Some(Unfit::Gpu));
    let u = Unschedulable {
        nodes: 10,
        reasons: [(Unfit::GpuModel, 6), (Unfit::Taint, 4)]
            .into_iter()
            .collect(),
        placed: 0,
        gang_size: 1,
    };
    assert_eq!(u.main_reason(), Some(Unfit::GpuModel));
    assert_eq!(Unschedulable::default().main_reason(), None);
}
