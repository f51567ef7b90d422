//! Properties of the scheduling framework and every placement policy on random small clusters
//! (proptest via test-strategy). Each property states its invariant in its doc comment.
//!
//! Generated shapes: 1–5 nodes with 0, 1, 2, 4 or 8 GPUs of model A100, V100 or none, a few
//! cordoned, pre-loaded with random pods of priority 0–3 bound through [`Cluster::bind`]; pods
//! are CPU-only, sharing (`g` < 1000, often 250 or 500 so that shares collide) or whole-GPU
//! (1–4 devices). Pods with `count > 1` and `g < 1000` are excluded: no pod class of the FGD
//! study has them (kubernetes-semantics.md §10.1).

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;
use test_strategy::proptest;

use drydock_core::rng::SplitMix64;
use drydock_core::{
    BoundPod, Cluster, GpuModel, GpuRequest, GroupId, MILLI_PER_GPU, Node, NodeId, PendingPod,
    PodId, PodRequest, PodSpec, PolicyKind, Pool, PoolId, Scheduler, SchedulerConfig,
    TargetWorkload,
};

/// Proptest settings: `cases` and the committed regression file
/// `core/proptest-regressions/properties.txt` (cargo runs tests from the package root).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn gpu_request() -> impl Strategy<Value = GpuRequest> {
    prop_oneof![
        2 => Just(GpuRequest::NONE),
        2 => select(vec![250u32, 500]).prop_map(GpuRequest::shared),
        2 => (1u32..1000).prop_map(GpuRequest::shared),
        3 => (1u32..=4).prop_map(GpuRequest::whole),
    ]
}

fn pod_spec() -> impl Strategy<Value = PodSpec> {
    (
        gpu_request(),
        (0u64..=16).prop_map(|x| x * 500),
        (0u64..=8).prop_map(|x| x * 1024),
        0i32..4,
        prop_oneof![6 => Just(vec![]), 1 => Just(vec![GpuModel(0)]), 1 => Just(vec![GpuModel(1)])],
    )
        .prop_map(|(gpu, cpu, mem, priority, models)| {
            let mut p = PodSpec::new(PodRequest {
                cpu_milli: cpu,
                memory_mib: mem,
                gpu,
            });
            p.priority = priority;
            p.gpu_models = models;
            p
        })
}

#[derive(Debug, Clone)]
struct NodeShape {
    gpus: usize,
    model: u16,
    cpu: u64,
    mem: u64,
    cordoned: bool,
    name: u8,
}

fn node_shape() -> impl Strategy<Value = NodeShape> {
    (
        select(vec![0usize, 1, 2, 4, 8]),
        0u16..3,
        (2u64..=32).prop_map(|x| x * 2000),
        (8u64..=64).prop_map(|x| x * 1024),
        prop::bool::weighted(0.05),
        any::<u8>(),
    )
        .prop_map(|(gpus, model, cpu, mem, cordoned, name)| NodeShape {
            gpus,
            model,
            cpu,
            mem,
            cordoned,
            name,
        })
}

/// A cluster of the given shapes, loaded by binding `preload` (pod, node index, start time)
/// wherever the pod's resources fit (on its default devices).
fn build(shapes: &[NodeShape], preload: &[(PodSpec, usize, u64)]) -> Cluster {
    let mut c = Cluster {
        pools: vec![Pool {
            name: "pool".into(),
            price_per_node_hour: 1.0,
        }],
        nodes: Vec::new(),
        gpu_models: vec!["A100".into(), "V100".into()],
    };
    for (i, s) in shapes.iter().enumerate() {
        c.nodes.push(Node {
            // Random prefixes make the node-name order differ from the id order.
            name: format!("n{:03}-{i}", s.name),
            pool: PoolId(0),
            gpu_model: (s.gpus > 0 && s.model < 2).then_some(GpuModel(s.model)),
            cpu_allocatable: s.cpu,
            memory_allocatable: s.mem,
            cpu_free: s.cpu,
            memory_free: s.mem,
            gpu_free: vec![MILLI_PER_GPU; s.gpus],
            labels: Default::default(),
            taints: Vec::new(),
            unschedulable: s.cordoned,
            pods: Vec::new(),
        });
    }
    for (k, (p, n, t)) in preload.iter().enumerate() {
        let n = n % c.nodes.len();
        let node = &c.nodes[n];
        if node.fits_resources(&p.request).is_err() {
            continue;
        }
        let Some(devices) = node.default_devices(p.request.gpu) else {
            continue;
        };
        let bound = BoundPod {
            pod: PodId(1_000_000 + k as u64),
            group: GroupId(1_000_000 + k as u32),
            priority: p.priority,
            request: p.request,
            devices,
            bound_at_us: *t,
        };
        c.bind(NodeId(n as u32), bound)
            .expect("fits_resources said it fits");
    }
    c
}

fn cluster_with(preload: std::ops::Range<usize>) -> impl Strategy<Value = Cluster> {
    (
        prop::collection::vec(node_shape(), 1..=5),
        prop::collection::vec((pod_spec(), 0usize..5, 0u64..1000), preload),
    )
        .prop_map(|(shapes, preload)| build(&shapes, &preload))
}

/// A cluster with 0–23 pods tried for preloading.
fn cluster() -> impl Strategy<Value = Cluster> {
    cluster_with(0..24)
}

/// A fuller cluster (8–47 pods tried), where preemption is often needed.
fn full_cluster() -> impl Strategy<Value = Cluster> {
    cluster_with(8..48)
}

/// The target workload of a random trace (threshold 0.95).
fn workload() -> impl Strategy<Value = TargetWorkload> {
    prop::collection::vec(pod_spec(), 0..12)
        .prop_map(|pods| TargetWorkload::from_pods(pods.iter(), 0.95))
}

/// Accounting invariants of every node: free shares within 0–1000 and free + held = capacity
/// for each device, cpu and memory.
fn check_accounting(c: &Cluster) -> Result<(), TestCaseError> {
    for n in &c.nodes {
        let mut held = vec![0u32; n.gpu_free.len()];
        let (mut cpu, mut mem) = (0u64, 0u64);
        for b in &n.pods {
            prop_assert_eq!(
                b.devices.len(),
                b.request.gpu.count,
                "{}: device count",
                n.name
            );
            for d in b.devices.iter() {
                held[d as usize] += b.request.gpu.milli;
            }
            cpu += b.request.cpu_milli;
            mem += b.request.memory_mib;
        }
        for (d, (&f, &h)) in n.gpu_free.iter().zip(&held).enumerate() {
            prop_assert!(f <= MILLI_PER_GPU, "{} device {d} free {f}", n.name);
            prop_assert_eq!(
                f + h,
                MILLI_PER_GPU,
                "{} device {} over-allocated",
                &n.name,
                d
            );
        }
        prop_assert_eq!(n.cpu_free + cpu, n.cpu_allocatable);
        prop_assert_eq!(n.memory_free + mem, n.memory_allocatable);
    }
    Ok(())
}

fn bound(pod: u64, p: &PodSpec, devices: drydock_core::DeviceSet) -> BoundPod {
    BoundPod {
        pod: PodId(pod),
        group: GroupId(pod as u32),
        priority: p.priority,
        request: p.request,
        devices,
        bound_at_us: 5000,
    }
}

/// For every policy and a sequence of random pods placed and bound one after another:
/// `Scheduler::place` returns a node that passes `Node::filter` and devices for which
/// `Cluster::bind` succeeds, so no resource is ever over-allocated and no device's shares
/// exceed 1000; it fails only when no node passes the filter.
#[proptest(config(96))]
fn place_returns_a_feasible_node_and_bindable_devices(
    #[strategy(cluster())] cluster: Cluster,
    #[strategy(prop::collection::vec(pod_spec(), 1..10))] pods: Vec<PodSpec>,
    #[strategy(workload())] workload: TargetWorkload,
    seed: u64,
) {
    check_accounting(&cluster)?;
    for policy in PolicyKind::ALL {
        let mut c = cluster.clone();
        let mut s = Scheduler::new(SchedulerConfig::for_policy(policy), workload.clone());
        let mut rng = SplitMix64::new(seed);
        for (k, p) in pods.iter().enumerate() {
            match s.place(&c, p, &mut rng) {
                Ok((node, devices)) => {
                    let n = &c.nodes[node.0 as usize];
                    prop_assert_eq!(n.filter(p), Ok(()), "{:?} chose an infeasible node", policy);
                    let r = c.bind(node, bound(k as u64, p, devices));
                    prop_assert!(r.is_ok(), "{:?}: bind failed: {:?}", policy, r);
                    check_accounting(&c)?;
                }
                Err(u) => {
                    prop_assert!(
                        c.nodes.iter().all(|n| n.filter(p).is_err()),
                        "{:?} failed although a node fits: {}",
                        policy,
                        u
                    );
                    prop_assert_eq!(u.nodes as usize, c.nodes.len());
                    let rejected: u32 = u.reasons.values().sum();
                    prop_assert_eq!(rejected as usize, c.nodes.len());
                }
            }
        }
    }
}

/// `place_gang` without holding partial gangs either binds every pod of the gang (each bind
/// present in the cluster, accounting intact) or leaves the cluster exactly equal to before.
/// With `hold_partial`, a failed gang keeps exactly `placed` binds, and unbinding them restores
/// the cluster.
#[proptest(config(256))]
fn place_gang_is_all_or_nothing(
    #[strategy(cluster())] cluster: Cluster,
    #[strategy(prop::collection::vec(pod_spec(), 1..6))] gang: Vec<PodSpec>,
    #[strategy(select(PolicyKind::ALL.to_vec()))] policy: PolicyKind,
    #[strategy(workload())] workload: TargetWorkload,
    hold_partial: bool,
    seed: u64,
) {
    let pending: Vec<PendingPod<'_>> = gang
        .iter()
        .enumerate()
        .map(|(i, spec)| PendingPod {
            pod: PodId(i as u64),
            spec,
        })
        .collect();
    let mut s = Scheduler::new(SchedulerConfig::for_policy(policy), workload);
    let mut rng = SplitMix64::new(seed);
    let mut c = cluster.clone();
    match s.place_gang(&mut c, GroupId(77), &pending, 9000, hold_partial, &mut rng) {
        Ok(binds) => {
            prop_assert_eq!(binds.len(), gang.len());
            for b in &binds {
                let n = &c.nodes[b.node.0 as usize];
                let held = n.pods.iter().find(|x| x.pod == b.pod);
                prop_assert!(
                    held.is_some_and(|x| x.devices == b.devices && x.group == GroupId(77))
                );
            }
            check_accounting(&c)?;
        }
        Err((u, held)) => {
            prop_assert_eq!(u.gang_size as usize, gang.len());
            prop_assert!((u.placed as usize) < gang.len());
            if hold_partial {
                prop_assert_eq!(held.len(), u.placed as usize);
                check_accounting(&c)?;
                for b in held.iter().rev() {
                    prop_assert!(c.unbind(b.node, b.pod).is_ok());
                }
            } else {
                prop_assert!(held.is_empty());
            }
            prop_assert_eq!(&c, &cluster);
        }
    }
}

/// `preempt` leaves the cluster exactly unchanged. When it returns a preemption: there is at
/// least one victim, each victim is bound (once) where named and has a lower priority than the
/// preemptor, one node is nominated per gang pod, and after unbinding the victims the whole
/// gang fits: a fresh `place_gang` (all or nothing) succeeds.
///
/// The gang is homogeneous (one spec, 1–4 pods): for identical pods, greedy placement fits the
/// gang whenever any assignment does (each placement lowers exactly one node's remaining
/// capacity by one), so the check does not depend on the placement policy. For mixed gangs a
/// greedy policy may pick an order that does not fit even though the nominated one does.
#[proptest(config(256))]
fn preempt_is_pure_and_its_victims_make_room(
    #[strategy(full_cluster())] cluster: Cluster,
    #[strategy(pod_spec())] spec: PodSpec,
    #[strategy(1usize..=4)] gang_size: usize,
    #[strategy(1i32..7)] priority: i32,
    #[strategy(select(PolicyKind::ALL.to_vec()))] policy: PolicyKind,
    seed: u64,
) {
    let mut spec = spec;
    spec.priority = priority;
    let pending: Vec<PendingPod<'_>> = (0..gang_size)
        .map(|i| PendingPod {
            pod: PodId(i as u64),
            spec: &spec,
        })
        .collect();
    let mut s = Scheduler::new(
        SchedulerConfig::for_policy(policy),
        TargetWorkload::default(),
    );
    let mut c = cluster.clone();
    let preemption = s.preempt(&mut c, GroupId(55), &pending, 9000);
    prop_assert_eq!(&c, &cluster, "preempt changed the cluster");
    let Some(p) = preemption else { return Ok(()) };
    prop_assert!(!p.victims.is_empty());
    prop_assert_eq!(p.nominated.len(), gang_size);
    let mut after = cluster.clone();
    for &(node, pod) in &p.victims {
        let victim = after.unbind(node, pod);
        prop_assert!(
            victim.is_ok(),
            "victim {pod} not on {node} (or named twice)"
        );
        let victim = victim.expect("checked");
        prop_assert!(
            victim.priority < priority,
            "victim priority {} ≥ {}",
            victim.priority,
            priority
        );
    }
    let mut rng = SplitMix64::new(seed);
    let placed = s.place_gang(&mut after, GroupId(55), &pending, 9000, false, &mut rng);
    prop_assert!(
        placed.is_ok(),
        "gang does not fit after evicting the victims: {:?}",
        placed.err()
    );
}
