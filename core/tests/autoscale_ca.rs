//! Golden tests of the Cluster Autoscaler (`drydock_core::autoscale::ca`) on small clusters
//! whose outcome is computed by hand in the comments (kubernetes-semantics.md §2).

use std::collections::BTreeMap;

use drydock_core::autoscale::ca::{
    BackoffInfo, CaAction, CaConfig, CaConfigError, CaNodeInfo, CaNodeState, CaPlan, CaView,
    ClusterAutoscaler, Expander, NodeGroup, NodeTemplate, PriorityRule, UnschedulablePod,
    UpcomingNode, estimate,
};
use drydock_core::rng::SplitMix64;
use drydock_core::{
    BoundPod, Cluster, GpuModel, GpuRequest, GroupId, NodeId, PodId, PodRequest, PodSpec, Pool,
    PoolId, SimDuration, SimTime,
};

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000)
}

fn template(cpu: u64, mem: u64, gpus: u32) -> NodeTemplate {
    NodeTemplate {
        cpu_milli: cpu,
        memory_mib: mem,
        gpus,
        gpu_model: (gpus > 0).then_some(GpuModel(0)),
        ..Default::default()
    }
}

fn group(name: &str, min: u32, max: u32, t: NodeTemplate) -> NodeGroup {
    NodeGroup {
        name: name.into(),
        pool: PoolId(0),
        min_size: min,
        max_size: max,
        template: t,
        price_per_node_hour: 1.0,
        priority: None,
    }
}

fn spec(cpu: u64, mem: u64, gpus: u32) -> PodSpec {
    PodSpec::new(PodRequest {
        cpu_milli: cpu,
        memory_mib: mem,
        gpu: GpuRequest::whole(gpus),
    })
}

/// A cluster the tests edit: nodes with their autoscaler view and the specs of bound pods.
#[derive(Default)]
struct World {
    cluster: Cluster,
    infos: Vec<CaNodeInfo>,
    upcoming: Vec<UpcomingNode>,
    specs: BTreeMap<PodId, PodSpec>,
    next_pod: u64,
}

impl World {
    fn new() -> Self {
        World {
            cluster: Cluster {
                pools: vec![Pool {
                    name: "pool".into(),
                    price_per_node_hour: 1.0,
                }],
                nodes: Vec::new(),
                gpu_models: vec!["A100".into()],
            },
            next_pod: 1000,
            ..Default::default()
        }
    }

    /// Adds a ready node of `groups[g]`'s shape; returns its index.
    fn node(&mut self, groups: &[NodeGroup], g: usize) -> usize {
        let i = self.cluster.nodes.len();
        let n = groups[g]
            .template
            .build(format!("{}-{i}", groups[g].name), PoolId(0));
        self.cluster.nodes.push(n);
        self.infos.push(CaNodeInfo {
            group: Some(g),
            state: CaNodeState::Ready,
        });
        i
    }

    /// Binds a pod of `spec` on node `i` (on its default devices).
    fn bind(&mut self, i: usize, spec: PodSpec) -> PodId {
        let id = PodId(self.next_pod);
        self.next_pod += 1;
        let devices = self.cluster.nodes[i]
            .default_devices(spec.request.gpu)
            .expect("test pod fits");
        self.cluster
            .bind(
                NodeId(i as u32),
                BoundPod {
                    pod: id,
                    group: GroupId(0),
                    priority: spec.priority,
                    request: spec.request,
                    devices,
                    bound_at_us: 0,
                },
            )
            .expect("test pod fits");
        self.specs.insert(id, spec);
        id
    }

    fn run(
        &self,
        ca: &mut ClusterAutoscaler,
        cfg: &CaConfig,
        groups: &[NodeGroup],
        pending: &[UnschedulablePod<'_>],
        t: u64,
        seed: u64,
    ) -> CaPlan {
        let specs = &self.specs;
        let lookup = move |id: PodId| specs.get(&id);
        let view = CaView {
            cluster: &self.cluster,
            nodes: &self.infos,
            upcoming: &self.upcoming,
            unschedulable: pending,
            pod_spec: &lookup,
        };
        ca.run_once(cfg, groups, &view, secs(t), &mut SplitMix64::new(seed))
    }
}

fn pending(specs: &[PodSpec], since: u64) -> Vec<UnschedulablePod<'_>> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| UnschedulablePod {
            pod: PodId(i as u64),
            spec: s,
            since: secs(since),
        })
        .collect()
}

fn scale_ups(plan: &CaPlan) -> Vec<(usize, u32, usize)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            CaAction::ScaleUp {
                group,
                delta,
                pods_helped,
                ..
            } => Some((*group, *delta, pods_helped.len())),
            _ => None,
        })
        .collect()
}

fn deletions(plan: &CaPlan) -> Vec<(Vec<NodeId>, bool)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            CaAction::DeleteNodes { nodes, empty, .. } => Some((nodes.clone(), *empty)),
            _ => None,
        })
        .collect()
}

fn with_expander(e: Expander) -> CaConfig {
    CaConfig {
        expander: e,
        ..CaConfig::default()
    }
}

#[test]
fn defaults_are_upstreams() {
    let c = CaConfig::default();
    assert_eq!(c.scan_interval, SimDuration::from_secs(10));
    assert_eq!(c.expander, Expander::LeastWaste);
    assert_eq!(c.max_node_provision_time, SimDuration::from_mins(15));
    assert_eq!(
        (c.initial_backoff, c.max_backoff, c.backoff_reset_timeout),
        (
            SimDuration::from_mins(5),
            SimDuration::from_mins(30),
            SimDuration::from_hours(3)
        )
    );
    assert_eq!((c.max_nodes_total, c.max_nodes_per_scaleup), (0, 1000));
    assert_eq!(c.expendable_pods_priority_cutoff, -10);
    assert_eq!(
        (
            c.scale_down_utilization_threshold,
            c.scale_down_gpu_utilization_threshold
        ),
        (0.5, 0.5)
    );
    assert_eq!(c.scale_down_unneeded_time, SimDuration::from_mins(10));
    assert_eq!(c.scale_down_unready_time, SimDuration::from_mins(20));
    assert_eq!(c.scale_down_delay_after_add, SimDuration::from_mins(10));
    assert_eq!(c.effective_delay_after_delete(), SimDuration::from_secs(10));
    assert_eq!(c.scale_down_delay_after_failure, SimDuration::from_mins(3));
    assert_eq!(
        (c.max_scale_down_parallelism, c.max_drain_parallelism),
        (10, 1)
    );
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn least_waste_picks_the_group_wasting_least() {
    // 3 pods of 2000m / 4096 MiB.
    // small (4000m, 16384 MiB): 2 pods per node → 2 nodes; cpu waste (8000 − 6000)/8000 = 0.25,
    //   memory waste (32768 − 12288)/32768 = 0.625 → 0.875.
    // big (16000m, 65536 MiB): 1 node; cpu (16000 − 6000)/16000 = 0.625, memory
    //   (65536 − 12288)/65536 = 0.8125 → 1.4375.
    // least-waste → small, +2.
    let groups = [
        group("small", 0, 10, template(4000, 16384, 0)),
        group("big", 0, 10, template(16000, 65536, 0)),
    ];
    let specs = vec![spec(2000, 4096, 0); 3];
    let w = World::new();
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &groups,
        &pending(&specs, 0),
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(0, 2, 3)]);
    let CaAction::ScaleUp { reason, .. } = &plan.actions[0] else {
        panic!("expected a scale-up");
    };
    assert!(reason.contains("cpu 25.0%, memory 62.5%"), "{reason}");
}

#[test]
fn most_pods_and_least_nodes_disagree() {
    // 4 pods of 1000m. tiny (2000m): 2 nodes hold all 4. three (3000m, max 1): 1 node holds 3.
    // most-pods → tiny (4 > 3); least-nodes → three (1 < 2).
    let groups = [
        group("tiny", 0, 10, template(2000, 8192, 0)),
        group("three", 0, 1, template(3000, 8192, 0)),
    ];
    let specs = vec![spec(1000, 1024, 0); 4];
    let w = World::new();
    let p = pending(&specs, 0);
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &with_expander(Expander::MostPods),
        &groups,
        &p,
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(0, 2, 4)]);
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &with_expander(Expander::LeastNodes),
        &groups,
        &p,
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(1, 1, 3)]);
}

#[test]
fn node_selector_limits_the_groups() {
    // 2 pods select zone=a, 1 selects nothing (1000m each). zone-a helps 3, zone-b helps 1.
    let mut a = template(4000, 16384, 0);
    a.labels.insert("zone".into(), "a".into());
    let mut b = template(16000, 65536, 0);
    b.labels.insert("zone".into(), "b".into());
    let groups = [group("zone-b", 0, 10, b), group("zone-a", 0, 10, a)];
    let mut zoned = spec(1000, 1024, 0);
    zoned.node_selector.insert("zone".into(), "a".into());
    let specs = vec![zoned.clone(), zoned, spec(1000, 1024, 0)];
    let plan = World::new().run(
        &mut ClusterAutoscaler::new(),
        &with_expander(Expander::MostPods),
        &groups,
        &pending(&specs, 0),
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(1, 1, 3)]);
}

#[test]
fn priority_expander_prefers_the_highest_matching_pattern() {
    let mut groups = vec![
        group("cpu-small", 0, 10, template(4000, 16384, 0)),
        group("gpu-big", 0, 10, template(16000, 65536, 0)),
        group("other", 0, 10, template(8000, 32768, 0)),
    ];
    let rules = vec![
        PriorityRule {
            pattern: "^cpu-.*".into(),
            priority: 5,
        },
        PriorityRule {
            pattern: "gpu".into(),
            priority: 10,
        },
    ];
    let cfg = with_expander(Expander::Priority(rules.clone()));
    let specs = vec![spec(1000, 1024, 0)];
    let w = World::new();
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &cfg,
        &groups,
        &pending(&specs, 0),
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(1, 1, 1)]);
    // A group no rule matches is used only through its own priority.
    groups[2].priority = Some(50);
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &cfg,
        &groups,
        &pending(&specs, 0),
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(2, 1, 1)]);
    // An invalid pattern is reported by validate.
    let bad = with_expander(Expander::Priority(vec![PriorityRule {
        pattern: "(".into(),
        priority: 1,
    }]));
    assert!(matches!(bad.validate(), Err(CaConfigError::Pattern { .. })));
}

#[test]
fn ties_are_broken_by_the_generator() {
    // Two identical groups: least-waste ties; the seed decides, deterministically.
    let groups = [
        group("a", 0, 10, template(4000, 16384, 0)),
        group("b", 0, 10, template(4000, 16384, 0)),
    ];
    let specs = vec![spec(1000, 1024, 0)];
    let p = pending(&specs, 0);
    let w = World::new();
    let pick = |seed| {
        scale_ups(&w.run(
            &mut ClusterAutoscaler::new(),
            &CaConfig::default(),
            &groups,
            &p,
            60,
            seed,
        ))[0]
            .0
    };
    let picks: Vec<usize> = (0..32).map(pick).collect();
    assert!(picks.contains(&0) && picks.contains(&1), "{picks:?}");
    assert_eq!(picks, (0..32).map(pick).collect::<Vec<_>>());
}

#[test]
fn binpacking_estimator_counts_nodes() {
    // Template: 8 GPUs. 3 pods of 4 GPUs (8000m: sorted first) and 5 pods of 2 GPUs.
    // 4-GPU pods: n1 gets 2, n2 gets 1. 2-GPU pods: first-fit on opened nodes: 2 on n2 (4 free);
    // the third opens n3 and the last 3 go there. 3 nodes, all 8 pods (22 GPUs ≤ 24).
    let t = template(64000, 524288, 8).build("t", PoolId(0));
    let big = spec(8000, 8192, 4);
    let small = spec(2000, 2048, 2);
    let specs: Vec<PodSpec> = (0..5)
        .map(|_| small.clone())
        .chain((0..3).map(|_| big.clone()))
        .collect();
    let p = pending(&specs, 0);
    let refs: Vec<&UnschedulablePod<'_>> = p.iter().collect();
    let (nodes, pods) = estimate(&t, &refs, 1000);
    assert_eq!(nodes, 3);
    assert_eq!(pods.len(), 8);
    // The big pods are placed first (decreasing cpu/allocatable + memory/allocatable).
    assert_eq!(&pods[..3], &[PodId(5), PodId(6), PodId(7)]);
    // With a limit of 2 nodes: the 3 big pods and 2 small ones (on n2) fit; the third small
    // pod would need a third node.
    let (nodes, pods) = estimate(&t, &refs, 2);
    assert_eq!((nodes, pods.len()), (2, 5));
}

#[test]
fn upcoming_nodes_are_not_counted_twice() {
    // One node of g (4000m) requested 60 s ago, not registered. Two pods of 2000m fit on it:
    // no scale-up. A third does not: +1 node for that pod only.
    let groups = [group("g", 0, 10, template(4000, 16384, 0))];
    let mut w = World::new();
    w.upcoming.push(UpcomingNode {
        group: 0,
        name: "g-new-0".into(),
        requested_at: secs(0),
    });
    let two = vec![spec(2000, 1024, 0); 2];
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &groups,
        &pending(&two, 0),
        60,
        1,
    );
    assert!(plan.actions.is_empty(), "{plan:?}");
    let three = vec![spec(2000, 1024, 0); 3];
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &groups,
        &pending(&three, 0),
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(0, 1, 1)]);
}

#[test]
fn registered_gpu_node_without_gpus_yet_counts_as_upcoming() {
    // A GPU node registered with 0 allocatable GPUs (device plugin not up) is NotStarted: its
    // template (8 GPUs) stands in, so a pending 4-GPU pod triggers no second scale-up.
    let groups = [group("gpu", 0, 10, template(64000, 524288, 8))];
    let mut w = World::new();
    let i = w.node(&groups, 0);
    w.cluster.nodes[i].gpu_free.clear();
    w.infos[i].state = CaNodeState::NotStarted {
        requested_at: secs(0),
    };
    let specs = vec![spec(1000, 1024, 4)];
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &groups,
        &pending(&specs, 0),
        120,
        1,
    );
    assert!(plan.actions.is_empty(), "{plan:?}");
}

#[test]
fn group_max_and_max_nodes_total_clamp_the_scale_up() {
    // g: max 3, two full nodes (4000m each); 4 pods of 4000m need 4 nodes; only 3 − 2 = 1.
    let groups = [group("g", 0, 3, template(4000, 16384, 0))];
    let mut w = World::new();
    for _ in 0..2 {
        let i = w.node(&groups, 0);
        w.bind(i, spec(4000, 1024, 0));
    }
    let specs = vec![spec(4000, 1024, 0); 4];
    let p = pending(&specs, 0);
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &groups,
        &p,
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(0, 1, 1)]);
    // max-nodes-total 2 with 2 ready nodes: no scale-up at all.
    let cfg = CaConfig {
        max_nodes_total: 2,
        ..CaConfig::default()
    };
    let plan = w.run(&mut ClusterAutoscaler::new(), &cfg, &groups, &p, 60, 1);
    assert!(scale_ups(&plan).is_empty());
    assert!(
        plan.notes.iter().any(|n| n.contains("max total nodes")),
        "{plan:?}"
    );
    // A group at its max is skipped.
    let full = [group("g", 0, 2, template(4000, 16384, 0))];
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &full,
        &p,
        60,
        1,
    );
    assert!(scale_ups(&plan).is_empty());
}

#[test]
fn expendable_and_very_new_pods_do_not_trigger_scale_up() {
    let groups = [group("g", 0, 10, template(4000, 16384, 0))];
    let w = World::new();
    let mut low = spec(1000, 1024, 0);
    low.priority = -11;
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &groups,
        &pending(&[low], 0),
        60,
        1,
    );
    assert!(plan.actions.is_empty());
    // A GPU pod pending for 20 s waits (30 s buffer); at 30 s it triggers the scale-up.
    let gpu_groups = [group("gpu", 0, 10, template(64000, 524288, 8))];
    let specs = vec![spec(1000, 1024, 1)];
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &gpu_groups,
        &pending(&specs, 40),
        60,
        1,
    );
    assert!(plan.actions.is_empty());
    assert!(plan.notes.iter().any(|n| n.contains("very new")));
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &gpu_groups,
        &pending(&specs, 30),
        60,
        1,
    );
    assert_eq!(scale_ups(&plan), vec![(0, 1, 1)]);
}

#[test]
fn backoff_after_a_failure_and_its_expiry() {
    // Priority prefers a; a stockout at 100 s backs a off for 5 min (until 400 s).
    let mut groups = vec![
        group("a", 0, 10, template(4000, 16384, 0)),
        group("b", 0, 10, template(4000, 16384, 0)),
    ];
    groups[0].priority = Some(10);
    groups[1].priority = Some(1);
    let cfg = with_expander(Expander::Priority(Vec::new()));
    let specs = vec![spec(1000, 1024, 0)];
    let p = pending(&specs, 0);
    let w = World::new();
    let mut ca = ClusterAutoscaler::new();
    assert_eq!(ca.on_scale_up_failed(&cfg, "a", secs(100)), secs(400));
    assert_eq!(
        scale_ups(&w.run(&mut ca, &cfg, &groups, &p, 200, 1)),
        vec![(1, 1, 1)]
    );
    assert_eq!(
        scale_ups(&w.run(&mut ca, &cfg, &groups, &p, 399, 1)),
        vec![(1, 1, 1)]
    );
    // Backed off while until > now: at 400 s it is over.
    assert_eq!(
        scale_ups(&w.run(&mut ca, &cfg, &groups, &p, 400, 1)),
        vec![(0, 1, 1)]
    );
    // A failure after the backoff expired doubles it (600 s); one inside keeps it.
    ca.on_scale_up_failed(&cfg, "a", secs(500));
    assert_eq!(
        ca.backoff("a"),
        Some(BackoffInfo {
            duration: SimDuration::from_mins(10),
            until: secs(1100),
            last_failed: secs(500)
        })
    );
    ca.on_scale_up_failed(&cfg, "a", secs(600));
    assert_eq!(ca.backoff("a").map(|b| b.until), Some(secs(1200)));
    // Capped at 30 min: 20 min after the next expiry, 40 min → 30 min.
    ca.on_scale_up_failed(&cfg, "a", secs(1300));
    assert_eq!(
        ca.backoff("a").map(|b| b.duration),
        Some(SimDuration::from_mins(20))
    );
    ca.on_scale_up_failed(&cfg, "a", secs(2600));
    assert_eq!(
        ca.backoff("a").map(|b| b.duration),
        Some(SimDuration::from_mins(30))
    );
    // 3 h after the last failure the data is dropped: the next failure starts at 5 min again.
    let later = 2600 + 3 * 3600 + 1;
    w.run(&mut ca, &cfg, &groups, &p, later, 1);
    assert_eq!(ca.backoff("a"), None);
    ca.on_scale_up_failed(&cfg, "a", secs(later));
    assert_eq!(
        ca.backoff("a").map(|b| b.duration),
        Some(SimDuration::from_mins(5))
    );
}

#[test]
fn nodes_not_ready_in_time_are_given_up_and_another_group_tried() {
    let mut groups = vec![
        group("a", 0, 10, template(4000, 16384, 0)),
        group("b", 0, 10, template(4000, 16384, 0)),
    ];
    groups[0].priority = Some(10);
    groups[1].priority = Some(1);
    let cfg = with_expander(Expander::Priority(Vec::new()));
    let mut w = World::new();
    w.upcoming.push(UpcomingNode {
        group: 0,
        name: "a-new-0".into(),
        requested_at: secs(0),
    });
    let specs = vec![spec(1000, 1024, 0)];
    let p = pending(&specs, 0);
    let mut ca = ClusterAutoscaler::new();
    // At exactly 15 min the node is still awaited (the pod fits it): nothing to do.
    assert!(w.run(&mut ca, &cfg, &groups, &p, 900, 1).actions.is_empty());
    // Ten seconds later it is given up, a is backed off, and b gets the pod.
    let plan = w.run(&mut ca, &cfg, &groups, &p, 910, 1);
    assert!(matches!(
        &plan.actions[0],
        CaAction::ProvisionFailed { group: 0, nodes, .. } if nodes == &vec!["a-new-0".to_string()]
    ));
    assert_eq!(scale_ups(&plan), vec![(1, 1, 1)]);
    assert!(ca.is_backed_off("a", secs(910)));
}

/// g (4000m, min 0): n0 holds 3000m (75 %, needed), n1 is empty.
fn two_nodes() -> (Vec<NodeGroup>, World) {
    let mut other = template(4000, 16384, 0);
    other.labels.insert("pool".into(), "other".into());
    let groups = vec![
        group("g", 0, 5, template(4000, 16384, 0)),
        group("other", 0, 5, other),
    ];
    let mut w = World::new();
    let n0 = w.node(&groups, 0);
    w.bind(n0, spec(3000, 1024, 0));
    w.node(&groups, 0);
    (groups, w)
}

#[test]
fn unneeded_node_is_removed_after_the_unneeded_time_and_not_before() {
    let (groups, w) = two_nodes();
    let cfg = CaConfig::default();
    let mut ca = ClusterAutoscaler::new();
    for t in (0..600).step_by(10) {
        let plan = w.run(&mut ca, &cfg, &groups, &[], t, 1);
        assert_eq!(plan.unneeded, vec![NodeId(1)], "t = {t}");
        assert!(deletions(&plan).is_empty(), "t = {t}");
    }
    assert_eq!(ca.unneeded_since("g-1"), Some(secs(0)));
    // Unneeded since 0 s, 10 min later: deleted in bulk as an empty node.
    let plan = w.run(&mut ca, &cfg, &groups, &[], 600, 1);
    assert_eq!(deletions(&plan), vec![(vec![NodeId(1)], true)]);
}

#[test]
fn no_scale_down_within_ten_minutes_of_a_scale_up() {
    let (groups, w) = two_nodes();
    let cfg = CaConfig::default();
    let mut ca = ClusterAutoscaler::new();
    for t in (0..300).step_by(10) {
        w.run(&mut ca, &cfg, &groups, &[], t, 1);
    }
    // At 300 s a pod selecting pool=other (pending since 290 s) makes CA add a node of other.
    let mut selective = spec(1000, 1024, 0);
    selective
        .node_selector
        .insert("pool".into(), "other".into());
    let specs = vec![selective];
    let plan = w.run(&mut ca, &cfg, &groups, &pending(&specs, 290), 300, 1);
    assert_eq!(scale_ups(&plan), vec![(1, 1, 1)]);
    // n1 has been unneeded since 0 s, but the scale-up at 300 s holds scale-down until 900 s.
    for t in (310..900).step_by(10) {
        let plan = w.run(&mut ca, &cfg, &groups, &[], t, 1);
        assert!(deletions(&plan).is_empty(), "t = {t}");
    }
    assert_eq!(ca.unneeded_since("g-1"), Some(secs(0)));
    let plan = w.run(&mut ca, &cfg, &groups, &[], 900, 1);
    assert_eq!(deletions(&plan), vec![(vec![NodeId(1)], true)]);
}

#[test]
fn gpu_nodes_are_judged_on_gpus_only() {
    // gpu group: 8 GPUs, 64000m. n0: one pod of 1 GPU and 57600m (GPU 1/8 = 12.5 %, cpu 90 %):
    // a candidate, and its pod fits n1 (4 GPUs and 1000m used: GPU 50 %, not a candidate).
    // cpu group: n2 at 90 % cpu is not a candidate.
    let groups = vec![
        group("gpu", 0, 5, template(64000, 524288, 8)),
        group("cpu", 0, 5, template(64000, 524288, 0)),
    ];
    let mut w = World::new();
    let n0 = w.node(&groups, 0);
    w.bind(n0, spec(57600, 1024, 1));
    let n1 = w.node(&groups, 0);
    w.bind(n1, spec(1000, 1024, 4));
    let n2 = w.node(&groups, 1);
    w.bind(n2, spec(57600, 1024, 0));
    let plan = w.run(
        &mut ClusterAutoscaler::new(),
        &CaConfig::default(),
        &groups,
        &[],
        0,
        1,
    );
    assert_eq!(plan.unneeded, vec![NodeId(0)]);
    // It is drained (non-empty) 10 min later.
    let mut ca = ClusterAutoscaler::new();
    w.run(&mut ca, &CaConfig::default(), &groups, &[], 0, 1);
    let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], 600, 1);
    assert_eq!(deletions(&plan), vec![(vec![NodeId(0)], false)]);
}

#[test]
fn node_whose_pod_cannot_move_is_kept() {
    // n0's pod selects host=n0, a label only n0 has: n0 is never unneeded; n1 (empty) goes.
    let groups = vec![group("g", 0, 5, template(4000, 16384, 0))];
    let mut w = World::new();
    let n0 = w.node(&groups, 0);
    w.cluster.nodes[n0]
        .labels
        .insert("host".into(), "n0".into());
    let mut pinned = spec(500, 512, 0);
    pinned.node_selector.insert("host".into(), "n0".into());
    w.bind(n0, pinned);
    w.node(&groups, 0);
    let mut ca = ClusterAutoscaler::new();
    let mut deleted = Vec::new();
    for t in (0..=1800).step_by(10) {
        let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], t, 1);
        assert!(!plan.unneeded.contains(&NodeId(0)));
        for (nodes, empty) in deletions(&plan) {
            for n in &nodes {
                w.infos[n.0 as usize].state = CaNodeState::Deleting;
            }
            deleted.push((nodes, empty));
        }
    }
    assert_eq!(deleted, vec![(vec![NodeId(1)], true)]);
}

#[test]
fn group_min_size_is_respected() {
    // Two empty nodes. min 2: none removed. min 1: exactly one.
    for (min, expected) in [(2u32, 0usize), (1, 1)] {
        let groups = vec![group("g", min, 5, template(4000, 16384, 0))];
        let mut w = World::new();
        w.node(&groups, 0);
        w.node(&groups, 0);
        let mut ca = ClusterAutoscaler::new();
        let mut removed = 0;
        for t in (0..=1200).step_by(10) {
            let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], t, 1);
            for (nodes, _) in deletions(&plan) {
                removed += nodes.len();
                for n in nodes {
                    w.infos[n.0 as usize].state = CaNodeState::Deleting;
                }
            }
        }
        assert_eq!(removed, expected, "min {min}");
    }
}

#[test]
fn expendable_pods_do_not_hold_a_node() {
    let groups = vec![group("g", 0, 5, template(4000, 16384, 0))];
    let mut w = World::new();
    let n0 = w.node(&groups, 0);
    let mut low = spec(1000, 1024, 0);
    low.priority = -20;
    w.bind(n0, low);
    let mut ca = ClusterAutoscaler::new();
    w.run(&mut ca, &CaConfig::default(), &groups, &[], 0, 1);
    let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], 600, 1);
    assert_eq!(deletions(&plan), vec![(vec![NodeId(0)], true)]);
}

#[test]
fn non_empty_nodes_are_drained_one_at_a_time() {
    // n0 and n1 each hold 1000m (25 %), n2 is a large node (16000m, 75 % used) that takes both
    // pods. Empty: none. At 600 s only one non-empty node is drained (max-drain-parallelism 1).
    let groups = vec![
        group("g", 0, 5, template(4000, 16384, 0)),
        group("big", 0, 5, template(16000, 65536, 0)),
    ];
    let mut w = World::new();
    for _ in 0..2 {
        let i = w.node(&groups, 0);
        w.bind(i, spec(1000, 1024, 0));
    }
    let n2 = w.node(&groups, 1);
    w.bind(n2, spec(12000, 1024, 0));
    let mut ca = ClusterAutoscaler::new();
    let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], 0, 1);
    assert_eq!(plan.unneeded, vec![NodeId(0), NodeId(1)]);
    let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], 600, 1);
    assert_eq!(deletions(&plan), vec![(vec![NodeId(0)], false)]);
    // The caller starts draining n0; at the next loop the drain budget is used up.
    w.infos[0].state = CaNodeState::Deleting;
    let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], 610, 1);
    assert!(deletions(&plan).is_empty());
}

#[test]
fn pods_of_ongoing_deletions_come_first() {
    // n0 (big, being deleted) still holds a 5000m pod that fits no other node; n1 (4000m) is
    // empty and would be unneeded: upstream stops scale-down for the loop when the pods of
    // ongoing deletions cannot be rescheduled.
    let groups = vec![
        group("big", 0, 5, template(8000, 16384, 0)),
        group("g", 0, 5, template(4000, 16384, 0)),
    ];
    let mut w = World::new();
    let n0 = w.node(&groups, 0);
    w.bind(n0, spec(5000, 1024, 0));
    w.infos[n0].state = CaNodeState::Deleting;
    w.node(&groups, 1);
    let mut ca = ClusterAutoscaler::new();
    let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], 0, 1);
    assert!(plan.unneeded.is_empty());
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("cannot be rescheduled")),
        "{plan:?}"
    );
    // With a 3000m pod instead, it lands on n1, which therefore stays.
    let mut w = World::new();
    let n0 = w.node(&groups, 0);
    w.bind(n0, spec(3000, 1024, 0));
    w.infos[n0].state = CaNodeState::Deleting;
    w.node(&groups, 1);
    let plan = w.run(&mut ca, &CaConfig::default(), &groups, &[], 0, 1);
    assert!(plan.unneeded.is_empty(), "{plan:?}");
}
