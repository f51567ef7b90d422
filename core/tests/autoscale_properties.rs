//! Properties of the autoscalers (`drydock_core::autoscale`) on random inputs (proptest via
//! test-strategy). Each property states its invariant in its doc comment.
//!
//! HPA runs: one Pods metric (requests/s per replica, target 100), 1–40 syncs 15 s apart with a
//! random total load each, a random share of the pods pending, behavior unset (path B) or set
//! with random windows, policies and select policies (path A); the caller applies every
//! decision. CA runs: 1–3 node groups of CPU or 8-GPU nodes, each starting within its bounds
//! with random pods (some expendable, some pinned to their node by a node selector), a few
//! unschedulable pods, loops every 10 s for 25 min; the caller adds the nodes of a scale-up as
//! ready nodes and marks deleted nodes `Deleting`.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use test_strategy::proptest;

use drydock_core::autoscale::ca::{
    CaAction, CaConfig, CaNodeInfo, CaNodeState, CaPlan, CaView, ClusterAutoscaler, NodeGroup,
    NodeTemplate, UnschedulablePod,
};
use drydock_core::autoscale::hpa::{
    Behavior, Hpa, HpaDecision, HpaInput, HpaPod, HpaSpec, MetricSample, MetricSpec, MetricTarget,
    PodPhase, ScalingPolicy, ScalingRules, SelectPolicy,
};
use drydock_core::rng::SplitMix64;
use drydock_core::{
    BoundPod, Cluster, GpuModel, GpuRequest, GroupId, Node, NodeId, PodId, PodRequest, PodSpec,
    Pool, PoolId, SimDuration, SimTime,
};

/// Proptest settings: `cases` and the committed regression file
/// `core/proptest-regressions/autoscale_properties.txt`.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/autoscale_properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000)
}

// ---------------------------------------------------------------------------------------------
// HPA

fn rules() -> impl Strategy<Value = Option<ScalingRules>> {
    let policy = (
        any::<bool>(),
        1u32..=200,
        prop::sample::select(vec![15u64, 30, 60]),
    )
        .prop_map(|(pods, value, period)| {
            let period = SimDuration::from_secs(period);
            if pods {
                ScalingPolicy::pods(value.min(10), period)
            } else {
                ScalingPolicy::percent(value, period)
            }
        });
    prop::option::of(
        (
            prop::option::of(prop::sample::select(vec![0u64, 15, 60, 300])),
            prop::option::of(prop::sample::select(vec![
                SelectPolicy::Max,
                SelectPolicy::Min,
                SelectPolicy::Disabled,
            ])),
            prop::collection::vec(policy, 0..3),
        )
            .prop_map(|(window, select, policies)| ScalingRules {
                stabilization_window: window.map(SimDuration::from_secs),
                select_policy: select,
                policies,
                tolerance: None,
            }),
    )
}

fn hpa_spec() -> impl Strategy<Value = HpaSpec> {
    (
        1u32..5,
        0u32..20,
        prop::option::of((rules(), rules())),
        prop::sample::select(vec![0u64, 60, 300]),
    )
        .prop_map(|(min, span, behavior, flag)| HpaSpec {
            behavior: behavior.map(|(scale_up, scale_down)| Behavior {
                scale_up,
                scale_down,
            }),
            downscale_stabilization: SimDuration::from_secs(flag),
            ..HpaSpec::new(
                min,
                min + span,
                vec![MetricSpec::Pods {
                    name: "rps".into(),
                    target: MetricTarget::AverageValue(100.0),
                }],
            )
        })
}

/// Per sync: total load in requests/s and the share (in eighths) of pods pending.
fn loads() -> impl Strategy<Value = Vec<(u32, u32)>> {
    prop::collection::vec((0u32..5000, 0u32..3), 1..40)
}

/// Runs the syncs, applying each decision; returns (time, current before, decision).
fn hpa_run(spec: &HpaSpec, start: u32, loads: &[(u32, u32)]) -> Vec<(u64, u32, HpaDecision)> {
    let mut hpa = Hpa::new();
    let mut current = start;
    let mut out = Vec::new();
    for (k, &(total, pending_eighths)) in loads.iter().enumerate() {
        let t = 15 * k as u64;
        let n = current as usize;
        let n_pending = n * pending_eighths as usize / 8;
        let per_pod = if n == 0 { 0.0 } else { total as f64 / n as f64 };
        let pods: Vec<HpaPod> = (0..n)
            .map(|i| HpaPod {
                phase: if i < n_pending {
                    PodPhase::Pending
                } else {
                    PodPhase::Running
                },
                deleting: false,
                ready: Some(i >= n_pending),
                start_time: Some(SimTime(0)),
                last_ready_transition: SimTime(0),
                samples: vec![(i >= n_pending).then_some(MetricSample {
                    value: per_pod,
                    timestamp: secs(t),
                    window: SimDuration::from_secs(30),
                })],
                requests: Vec::new(),
            })
            .collect();
        let d = hpa.reconcile(
            spec,
            &HpaInput {
                now: secs(t),
                spec_replicas: current,
                status_replicas: current,
                pods: &pods,
                object_values: &[],
            },
        );
        out.push((t, current, d.clone()));
        current = d.desired_replicas;
    }
    out
}

/// The replica count is always within `[minReplicas, maxReplicas]`, except the documented
/// `ScalingDisabled` case: a target at 0 replicas stays at 0 and nothing is written.
#[proptest(config(256))]
fn hpa_replicas_stay_within_bounds(
    #[strategy(hpa_spec())] spec: HpaSpec,
    #[strategy(0u32..30)] start: u32,
    #[strategy(loads())] loads: Vec<(u32, u32)>,
) {
    for (t, current, d) in hpa_run(&spec, start, &loads) {
        if current == 0 {
            prop_assert_eq!(d.desired_replicas, 0);
            prop_assert!(!d.write);
        } else {
            prop_assert!(
                (spec.min_replicas..=spec.max_replicas).contains(&d.desired_replicas),
                "t = {} current {} → {} ({:?})",
                t,
                current,
                d.desired_replicas,
                d.reason
            );
        }
    }
}

/// No scale-down inside the stabilization window: when a sync lowers the count, the new count
/// is at least the highest recommendation recorded in the scale-down window (path A: records
/// strictly after `now − window`; path B: records at or after it), the first sync's current
/// count included.
#[proptest(config(256))]
fn hpa_never_scales_down_below_the_window_max(
    #[strategy(hpa_spec())] spec: HpaSpec,
    #[strategy(1u32..30)] start: u32,
    #[strategy(loads())] loads: Vec<(u32, u32)>,
) {
    let window = match &spec.behavior {
        Some(b) => {
            b.resolved_scale_down(spec.downscale_stabilization)
                .stabilization_window
        }
        None => spec.downscale_stabilization,
    }
    .0 / 1_000_000;
    let strict = spec.behavior.is_some();
    let mut records: Vec<(u64, u32)> = vec![(0, start)];
    for (t, current, d) in hpa_run(&spec, start, &loads) {
        if d.stabilized.is_some()
            && let Some(raw) = d.recommendation
        {
            records.push((t, raw));
        }
        if d.desired_replicas < current && d.stabilized.is_some() {
            let in_window = |r: &&(u64, u32)| {
                if t < window {
                    true
                } else if strict {
                    r.0 > t - window
                } else {
                    r.0 >= t - window
                }
            };
            let window_max = records.iter().filter(in_window).map(|r| r.1).max();
            prop_assert!(
                window_max.is_none_or(|m| d.desired_replicas >= m.min(current)),
                "t = {} {} → {} below window max {:?}",
                t,
                current,
                d.desired_replicas,
                window_max
            );
        }
    }
}

/// The HPA is a function of its inputs and its history: the same run gives the same decisions.
#[proptest(config(64))]
fn hpa_is_deterministic(
    #[strategy(hpa_spec())] spec: HpaSpec,
    #[strategy(1u32..30)] start: u32,
    #[strategy(loads())] loads: Vec<(u32, u32)>,
) {
    prop_assert_eq!(hpa_run(&spec, start, &loads), hpa_run(&spec, start, &loads));
}

// ---------------------------------------------------------------------------------------------
// Cluster Autoscaler

#[derive(Debug, Clone)]
struct GroupShape {
    gpu: bool,
    min: u32,
    span: u32,
    start: u32,
}

#[derive(Debug, Clone)]
struct PodShape {
    cpu: u64,
    gpus: u32,
    expendable: bool,
    pinned: bool,
}

fn group_shape() -> impl Strategy<Value = GroupShape> {
    (any::<bool>(), 0u32..3, 0u32..4, 0u32..5).prop_map(|(gpu, min, span, start)| GroupShape {
        gpu,
        min,
        span,
        start,
    })
}

fn pod_shape() -> impl Strategy<Value = PodShape> {
    (
        (1u64..=12).prop_map(|x| x * 500),
        prop_oneof![3 => Just(0u32), 1 => 1u32..=4],
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(cpu, gpus, expendable, pinned)| PodShape {
            cpu,
            gpus,
            expendable,
            pinned,
        })
}

fn pod_spec(p: &PodShape, host: Option<&str>) -> PodSpec {
    let mut s = PodSpec::new(PodRequest {
        cpu_milli: p.cpu,
        memory_mib: 1024,
        gpu: GpuRequest::whole(p.gpus),
    });
    if p.expendable {
        s.priority = -20;
    }
    if let (true, Some(h)) = (p.pinned, host) {
        s.node_selector.insert("host".into(), h.into());
    }
    s
}

struct CaWorld {
    groups: Vec<NodeGroup>,
    cluster: Cluster,
    infos: Vec<CaNodeInfo>,
    specs: BTreeMap<PodId, PodSpec>,
}

fn ca_world(shapes: &[GroupShape], pods: &[PodShape]) -> CaWorld {
    let groups: Vec<NodeGroup> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| NodeGroup {
            name: format!("g{i}"),
            pool: PoolId(0),
            min_size: s.min,
            max_size: s.min + s.span,
            template: NodeTemplate {
                cpu_milli: 8000,
                memory_mib: 32768,
                gpus: if s.gpu { 8 } else { 0 },
                gpu_model: s.gpu.then_some(GpuModel(0)),
                ..Default::default()
            },
            price_per_node_hour: 1.0,
            priority: None,
        })
        .collect();
    let mut w = CaWorld {
        cluster: Cluster {
            pools: vec![Pool {
                name: "pool".into(),
                price_per_node_hour: 1.0,
            }],
            nodes: Vec::new(),
            gpu_models: vec!["A100".into()],
        },
        infos: Vec::new(),
        specs: BTreeMap::new(),
        groups,
    };
    for (g, s) in shapes.iter().enumerate() {
        for _ in 0..s.start.clamp(s.min, s.min + s.span) {
            add_node(&mut w, g);
        }
    }
    // Bind each pod first-fit on its node index modulo the node count, if it fits there.
    let n = w.cluster.nodes.len();
    for (k, p) in pods.iter().enumerate() {
        if n == 0 {
            break;
        }
        let i = k % n;
        let host = w.cluster.nodes[i].name.clone();
        let spec = pod_spec(p, Some(&host));
        let node = &w.cluster.nodes[i];
        if node.filter(&spec).is_err() {
            continue;
        }
        let Some(devices) = node.default_devices(spec.request.gpu) else {
            continue;
        };
        let id = PodId(k as u64);
        let bound = BoundPod {
            pod: id,
            group: GroupId(0),
            priority: spec.priority,
            request: spec.request,
            devices,
            bound_at_us: 0,
        };
        if w.cluster.bind(NodeId(i as u32), bound).is_ok() {
            w.specs.insert(id, spec);
        }
    }
    w
}

fn add_node(w: &mut CaWorld, g: usize) {
    let i = w.cluster.nodes.len();
    let name = format!("g{g}-n{i}");
    let mut node = w.groups[g].template.build(name.clone(), PoolId(0));
    node.labels.insert("host".into(), name);
    w.cluster.nodes.push(node);
    w.infos.push(CaNodeInfo {
        group: Some(g),
        state: CaNodeState::Ready,
    });
}

fn group_size(w: &CaWorld, g: usize) -> u32 {
    w.infos
        .iter()
        .filter(|i| i.group == Some(g) && i.state != CaNodeState::Deleting)
        .count() as u32
}

/// Runs 25 minutes of loops, applying the plans; checks `check` on each plan before applying.
fn ca_run(
    shapes: &[GroupShape],
    pods: &[PodShape],
    pending: &[PodShape],
    seed: u64,
    mut check: impl FnMut(&CaWorld, &CaPlan) -> Result<(), TestCaseError>,
) -> Result<Vec<CaPlan>, TestCaseError> {
    let mut w = ca_world(shapes, pods);
    let pending_specs: Vec<PodSpec> = pending.iter().map(|p| pod_spec(p, None)).collect();
    let unschedulable: Vec<UnschedulablePod<'_>> = pending_specs
        .iter()
        .enumerate()
        .map(|(i, s)| UnschedulablePod {
            pod: PodId(10_000 + i as u64),
            spec: s,
            since: SimTime(0),
        })
        .collect();
    let cfg = CaConfig {
        scale_down_unneeded_time: SimDuration::from_mins(2),
        scale_down_delay_after_add: SimDuration::from_mins(3),
        ..CaConfig::default()
    };
    let mut ca = ClusterAutoscaler::new();
    let mut rng = SplitMix64::new(seed);
    let mut plans = Vec::new();
    for t in (0..=1500).step_by(10) {
        let plan = {
            let specs = &w.specs;
            let lookup = move |id: PodId| specs.get(&id);
            let view = CaView {
                cluster: &w.cluster,
                nodes: &w.infos,
                upcoming: &[],
                // The pending pods stay pending for the first 5 minutes, then are gone.
                unschedulable: if t < 300 { &unschedulable } else { &[] },
                pod_spec: &lookup,
            };
            ca.run_once(&cfg, &w.groups, &view, secs(t), &mut rng)
        };
        check(&w, &plan)?;
        for a in &plan.actions {
            match a {
                CaAction::ScaleUp { group, delta, .. } => {
                    for _ in 0..*delta {
                        add_node(&mut w, *group);
                    }
                }
                CaAction::DeleteNodes { nodes, .. } => {
                    for n in nodes {
                        w.infos[n.0 as usize].state = CaNodeState::Deleting;
                    }
                }
                CaAction::ProvisionFailed { .. } => {}
            }
        }
        plans.push(plan);
    }
    Ok(plans)
}

/// Scale-ups never take a group above its max, deletions never take it below its min.
#[proptest(config(64))]
fn ca_respects_group_bounds(
    #[strategy(prop::collection::vec(group_shape(), 1..4))] shapes: Vec<GroupShape>,
    #[strategy(prop::collection::vec(pod_shape(), 0..16))] pods: Vec<PodShape>,
    #[strategy(prop::collection::vec(pod_shape(), 0..6))] pending: Vec<PodShape>,
    seed: u64,
) {
    ca_run(&shapes, &pods, &pending, seed, |w, plan| {
        let mut deleted = vec![0u32; w.groups.len()];
        for a in &plan.actions {
            match a {
                CaAction::ScaleUp { group, delta, .. } => {
                    prop_assert!(*delta > 0);
                    prop_assert!(group_size(w, *group) + delta <= w.groups[*group].max_size);
                }
                CaAction::DeleteNodes { nodes, .. } => {
                    for n in nodes {
                        if let Some(g) = w.infos[n.0 as usize].group {
                            deleted[g] += 1;
                        }
                    }
                }
                CaAction::ProvisionFailed { .. } => {}
            }
        }
        for (g, d) in deleted.iter().enumerate() {
            if *d > 0 {
                prop_assert!(group_size(w, g) - d >= w.groups[g].min_size);
            }
        }
        Ok(())
    })?;
}

/// Every node deleted in a loop can be drained: the non-expendable pods of all the nodes the
/// plan deletes, and of the nodes still being deleted, can be placed together (exhaustive
/// search with the scheduler's Filter) on the ready nodes that remain.
#[proptest(config(64))]
fn ca_never_deletes_a_node_whose_pods_cannot_move(
    #[strategy(prop::collection::vec(group_shape(), 1..4))] shapes: Vec<GroupShape>,
    #[strategy(prop::collection::vec(pod_shape(), 0..16))] pods: Vec<PodShape>,
    #[strategy(prop::collection::vec(pod_shape(), 0..6))] pending: Vec<PodShape>,
    seed: u64,
) {
    ca_run(&shapes, &pods, &pending, seed, |w, plan| {
        let doomed: Vec<usize> = plan
            .actions
            .iter()
            .flat_map(|a| match a {
                CaAction::DeleteNodes { nodes, .. } => nodes.clone(),
                _ => Vec::new(),
            })
            .map(|n| n.0 as usize)
            .collect();
        let mut dest: Vec<Node> = w
            .cluster
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !doomed.contains(i) && w.infos[*i].state == CaNodeState::Ready)
            .map(|(_, n)| n.clone())
            .collect();
        let mut moving: Vec<&PodSpec> = Vec::new();
        if doomed.is_empty() {
            return Ok(());
        }
        // The pods of nodes already being deleted need a place too.
        let deleting = (0..w.infos.len()).filter(|&i| w.infos[i].state == CaNodeState::Deleting);
        for d in doomed.iter().copied().chain(deleting) {
            for bound in &w.cluster.nodes[d].pods {
                if bound.priority < -10 {
                    continue;
                }
                let spec = w.specs.get(&bound.pod);
                prop_assert!(spec.is_some());
                moving.extend(spec);
            }
        }
        // Largest first makes the exhaustive search fail fast.
        moving.sort_by_key(|s| std::cmp::Reverse((s.request.gpu.count, s.request.cpu_milli)));
        let mut steps = 0u32;
        prop_assert!(
            place_all(&moving, &mut dest, &mut steps),
            "pods of {:?} cannot all move ({} searched)",
            doomed,
            steps
        );
        Ok(())
    })?;
}

/// Exhaustive search: can `pods` all be placed on `nodes` (scheduler Filter, default devices)?
fn place_all(pods: &[&PodSpec], nodes: &mut [Node], steps: &mut u32) -> bool {
    let Some((first, rest)) = pods.split_first() else {
        return true;
    };
    for i in 0..nodes.len() {
        *steps += 1;
        if nodes[i].filter(first).is_err() {
            continue;
        }
        let Some(devices) = nodes[i].default_devices(first.request.gpu) else {
            continue;
        };
        let saved = (
            nodes[i].cpu_free,
            nodes[i].memory_free,
            nodes[i].gpu_free.clone(),
        );
        nodes[i].cpu_free -= first.request.cpu_milli;
        nodes[i].memory_free -= first.request.memory_mib;
        for g in devices.iter() {
            nodes[i].gpu_free[g as usize] -= first.request.gpu.milli;
        }
        let ok = place_all(rest, nodes, steps);
        (nodes[i].cpu_free, nodes[i].memory_free, nodes[i].gpu_free) = saved;
        if ok {
            return true;
        }
    }
    false
}

/// The same world and seed give the same plans.
#[proptest(config(32))]
fn ca_is_deterministic_for_a_seed(
    #[strategy(prop::collection::vec(group_shape(), 1..4))] shapes: Vec<GroupShape>,
    #[strategy(prop::collection::vec(pod_shape(), 0..16))] pods: Vec<PodShape>,
    #[strategy(prop::collection::vec(pod_shape(), 0..6))] pending: Vec<PodShape>,
    seed: u64,
) {
    let a = ca_run(&shapes, &pods, &pending, seed, |_, _| Ok(()))?;
    let b = ca_run(&shapes, &pods, &pending, seed, |_, _| Ok(()))?;
    prop_assert_eq!(a, b);
}
