//! The cluster snapshot the core scheduler decides on, built from what the API server last
//! told drydock (reflector stores) plus drydock's own binds not yet observed (kube-scheduler's
//! assumed pods, `pkg/scheduler/internal/cache`, kubernetes-semantics.md §4.1 \[src\]).

use std::collections::BTreeMap;
use std::sync::Arc;

use drydock_core::{
    BoundPod, Cluster, DeviceSet, GroupId, MILLI_PER_GPU, NodeId, PodId, Taint, TaintEffect,
};
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::names::{LABEL_JOB, LABEL_WORKER, RESOURCE_GPU};
use crate::objects::{core_taint, parse_quantity, pod_spec_of};

/// Taint put in the snapshot on a scenario node whose Node object does not exist (deleted, or
/// not registered yet), so nothing is placed there.
pub const TAINT_MISSING: &str = "drydock.io/node-missing";

/// Where drydock bound a pod, kept until the pod is gone: the node and the GPU devices the core
/// chose (the API only counts GPUs; drydock keeps the device choice itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The node's Kubernetes name.
    pub node: String,
    /// GPU devices.
    pub devices: DeviceSet,
    /// Scenario time of the bind, in microseconds.
    pub bound_at_us: u64,
    /// True once a pod of this name was observed bound to `node`.
    pub observed: bool,
}

/// A pod of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// Pod name.
    pub name: String,
    /// Job index (from its [`LABEL_JOB`] label), `None` for pods drydock did not make as part
    /// of a job.
    pub job: Option<u32>,
    /// Node it is bound to, if bound.
    pub node: Option<NodeId>,
}

/// A snapshot: the core's [`Cluster`] with every bound pod accounted, and the pods by id.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The cluster, nodes in scenario order (same [`NodeId`]s as the simulator's).
    pub cluster: Cluster,
    /// Pods by core id.
    pub pods: BTreeMap<PodId, PodRef>,
    /// Pod ids by name.
    pub ids: BTreeMap<String, PodId>,
    /// Bound pods that did not fit their node's free resources when accounted (an
    /// over-commit drydock did not cause, or a bug). Each is left out of the accounting.
    pub overcommitted: Vec<String>,
    /// Nodes whose Node object is missing.
    pub missing_nodes: Vec<NodeId>,
}

/// The core pod id of worker `worker` of job `job` (the simulator's scheme: job index in the
/// high bits, `drydock_sim::engine::pod_id`).
pub fn pod_id(job: u32, worker: u32) -> PodId {
    drydock_sim::engine::pod_id(job, worker)
}

fn label_u32(pod: &Pod, key: &str) -> Option<u32> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .and_then(|v| v.parse().ok())
}

/// True when `pod` is terminal (`Succeeded` or `Failed`): it no longer holds resources.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The node `pod` is bound to (`spec.nodeName`).
pub fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Builds the snapshot. `base` is the scenario's cluster with empty nodes (the simulator's
/// plan), `names[i]` the Kubernetes name of node `i`. From each Node object: taints,
/// `spec.unschedulable` and allocatable cpu, memory and `nvidia.com/gpu` (GPU devices are
/// resized to the allocatable count); a node without an object is unschedulable and tainted
/// [`TAINT_MISSING`]. Every non-terminal pod bound to a node (or bound by drydock and not yet
/// observed: `placements` not `observed`) is accounted on it, terminating pods included, as
/// kube-scheduler does; devices come from `placements`, else the lowest free ones.
/// `placements` is updated: entries observed bound are marked, entries whose pod is gone are
/// dropped.
pub fn build(
    base: &Cluster,
    names: &[String],
    nodes: &[Arc<Node>],
    pods: &[Arc<Pod>],
    placements: &mut BTreeMap<String, Placement>,
) -> Snapshot {
    let mut cluster = base.clone();
    let by_name: BTreeMap<&str, &Node> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref().map(|name| (name, &**n)))
        .collect();
    let index: BTreeMap<&str, NodeId> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), NodeId(i as u32)))
        .collect();
    let mut missing = Vec::new();
    for (i, node) in cluster.nodes.iter_mut().enumerate() {
        node.pods.clear();
        let Some(obj) = names.get(i).and_then(|n| by_name.get(n.as_str())) else {
            node.unschedulable = true;
            node.taints = vec![Taint {
                key: TAINT_MISSING.to_string(),
                value: String::new(),
                effect: TaintEffect::NoSchedule,
            }];
            missing.push(NodeId(i as u32));
            continue;
        };
        let spec = obj.spec.as_ref();
        node.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        node.taints = spec
            .and_then(|s| s.taints.as_ref())
            .map(|t| t.iter().filter_map(core_taint).collect())
            .unwrap_or_default();
        if let Some(alloc) = obj.status.as_ref().and_then(|s| s.allocatable.as_ref()) {
            if let Some(q) = alloc.get("cpu") {
                node.cpu_allocatable = parse_quantity(&q.0, 3).unwrap_or(0);
            }
            if let Some(q) = alloc.get("memory") {
                node.memory_allocatable = parse_quantity(&q.0, 0).unwrap_or(0) >> 20;
            }
            let gpus = alloc
                .get(RESOURCE_GPU)
                .and_then(|q| parse_quantity(&q.0, 0))
                .unwrap_or(0)
                .min(drydock_core::resources::MAX_GPUS_PER_NODE as u64)
                as usize;
            node.gpu_free = vec![MILLI_PER_GPU; gpus];
        } else {
            // No status yet: nothing is allocatable.
            node.cpu_allocatable = 0;
            node.memory_allocatable = 0;
            node.gpu_free.clear();
        }
        node.cpu_free = node.cpu_allocatable;
        node.memory_free = node.memory_allocatable;
    }

    // Pods: those with a placement first (their devices are known), then the rest by name.
    let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
    let mut bound: Vec<(&Pod, NodeId, Option<DeviceSet>, u64)> = Vec::new();
    let mut unbound: Vec<&Pod> = Vec::new();
    for p in pods {
        let Some(name) = p.metadata.name.as_deref() else {
            continue;
        };
        seen.insert(name, ());
        if is_terminal(p) {
            continue;
        }
        let placement = placements.get_mut(name);
        match (node_of(p), placement) {
            (Some(n), Some(pl)) if pl.node == n => {
                pl.observed = true;
                if let Some(&id) = index.get(n) {
                    bound.push((p, id, Some(pl.devices), pl.bound_at_us));
                }
            }
            (Some(n), _) => {
                if let Some(&id) = index.get(n) {
                    bound.push((p, id, None, 0));
                }
            }
            (None, Some(pl)) if !pl.observed => {
                if let Some(&id) = index.get(pl.node.as_str()) {
                    bound.push((p, id, Some(pl.devices), pl.bound_at_us));
                }
            }
            (None, _) => unbound.push(p),
        }
    }
    placements.retain(|name, _| seen.contains_key(name.as_str()));
    bound.sort_by_key(|(p, _, d, _)| (d.is_none(), p.metadata.name.clone()));

    let mut snap = Snapshot {
        missing_nodes: missing,
        ..Default::default()
    };
    let mut foreign = 1u64 << 48;
    let mut id_of = |p: &Pod| match (label_u32(p, LABEL_JOB), label_u32(p, LABEL_WORKER)) {
        (Some(j), Some(w)) if w < 1 << 16 => pod_id(j, w),
        _ => {
            foreign += 1;
            PodId(foreign)
        }
    };
    for (p, node, devices, at) in bound {
        let name = p.metadata.name.clone().unwrap_or_default();
        let spec = pod_spec_of(p, &mut cluster);
        let id = id_of(p);
        let job = label_u32(p, LABEL_JOB);
        let n = &cluster.nodes[node.0 as usize];
        let devices = devices
            .filter(|d| {
                d.len() == spec.request.gpu.count
                    && d.iter().all(|i| {
                        n.gpu_free
                            .get(i as usize)
                            .is_some_and(|&f| f >= spec.request.gpu.milli)
                    })
            })
            .or_else(|| n.default_devices(spec.request.gpu));
        let ok = devices.is_some_and(|devices| {
            cluster
                .bind(
                    node,
                    BoundPod {
                        pod: id,
                        group: GroupId(job.unwrap_or(u32::MAX)),
                        // Pods drydock did not make are never preemption victims.
                        priority: if job.is_some() {
                            spec.priority
                        } else {
                            i32::MAX
                        },
                        request: spec.request,
                        devices,
                        bound_at_us: at,
                    },
                )
                .is_ok()
        });
        if !ok {
            snap.overcommitted.push(name.clone());
        }
        snap.pods.insert(
            id,
            PodRef {
                name: name.clone(),
                job,
                node: Some(node),
            },
        );
        snap.ids.insert(name, id);
    }
    for p in unbound {
        let name = p.metadata.name.clone().unwrap_or_default();
        let id = id_of(p);
        snap.pods.insert(
            id,
            PodRef {
                name: name.clone(),
                job: label_u32(p, LABEL_JOB),
                node: None,
            },
        );
        snap.ids.insert(name, id);
    }
    snap.cluster = cluster;
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{FakeNodeSpec, container, node_capacity, node_object, pod_resources};
    use drydock_core::{GpuRequest, PodRequest};
    use k8s_openapi::api::core::v1::{NodeStatus, PodSpec as KPodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn base() -> Cluster {
        let mut c = Cluster::default();
        let m = c.intern_model("A100");
        for i in 0..2 {
            c.nodes.push(drydock_core::Node {
                name: format!("a100-{i}"),
                pool: drydock_core::PoolId(0),
                gpu_model: Some(m),
                cpu_allocatable: 96_000,
                memory_allocatable: 1 << 20,
                cpu_free: 96_000,
                memory_free: 1 << 20,
                gpu_free: vec![1000; 8],
                labels: BTreeMap::new(),
                taints: vec![],
                unschedulable: false,
                pods: vec![],
            });
        }
        c
    }

    fn node(c: &Cluster, i: usize) -> Arc<Node> {
        let spec = FakeNodeSpec::from_core(&c.nodes[i], "t-", false);
        let mut n = node_object(&spec, "r");
        let cap = node_capacity(&spec);
        n.status = Some(NodeStatus {
            allocatable: Some(cap.clone()),
            capacity: Some(cap),
            ..Default::default()
        });
        Arc::new(n)
    }

    fn pod(
        name: &str,
        job: u32,
        worker: u32,
        gpus: u32,
        node: Option<&str>,
        phase: &str,
    ) -> Arc<Pod> {
        let (res, _) = pod_resources(&PodRequest {
            cpu_milli: 1000,
            memory_mib: 1024,
            gpu: GpuRequest::whole(gpus),
        });
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(BTreeMap::from([
                    (LABEL_JOB.to_string(), job.to_string()),
                    (LABEL_WORKER.to_string(), worker.to_string()),
                ])),
                ..Default::default()
            },
            spec: Some(KPodSpec {
                containers: vec![container(res)],
                node_name: node.map(str::to_string),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn bound_pods_are_accounted_and_terminal_ones_are_not() {
        let b = base();
        let names = vec!["t-a100-0".to_string(), "t-a100-1".to_string()];
        let nodes = vec![node(&b, 0), node(&b, 1)];
        let pods = vec![
            pod("p0", 0, 0, 4, Some("t-a100-0"), "Running"),
            pod("p1", 1, 0, 2, Some("t-a100-0"), "Succeeded"),
            pod("p2", 2, 0, 8, None, "Pending"),
        ];
        let mut pl = BTreeMap::new();
        let s = build(&b, &names, &nodes, &pods, &mut pl);
        assert_eq!(s.cluster.nodes[0].gpus_fully_free(), 4);
        assert_eq!(s.cluster.nodes[0].cpu_free, 95_000);
        assert_eq!(s.cluster.nodes[1].gpus_fully_free(), 8);
        assert_eq!(s.ids.get("p0"), Some(&pod_id(0, 0)));
        assert_eq!(s.pods[&pod_id(2, 0)].node, None);
        assert!(s.overcommitted.is_empty());
    }

    #[test]
    fn assumed_binds_count_until_observed_and_placements_of_gone_pods_are_dropped() {
        let b = base();
        let names = vec!["t-a100-0".to_string(), "t-a100-1".to_string()];
        let nodes = vec![node(&b, 0), node(&b, 1)];
        let mut pl = BTreeMap::new();
        let mut devices = DeviceSet::EMPTY;
        for d in 4..8 {
            devices.insert(d);
        }
        pl.insert(
            "p2".to_string(),
            Placement {
                node: "t-a100-1".into(),
                devices,
                bound_at_us: 7,
                observed: false,
            },
        );
        pl.insert(
            "gone".to_string(),
            Placement {
                node: "t-a100-1".into(),
                devices: DeviceSet::EMPTY,
                bound_at_us: 0,
                observed: true,
            },
        );
        // The store has not seen the bind of p2 yet.
        let pods = vec![pod("p2", 2, 0, 4, None, "Pending")];
        let s = build(&b, &names, &nodes, &pods, &mut pl);
        let n1 = &s.cluster.nodes[1];
        assert_eq!(n1.gpu_free, vec![1000, 1000, 1000, 1000, 0, 0, 0, 0]);
        assert_eq!(n1.pods[0].bound_at_us, 7);
        assert!(!pl.contains_key("gone"));
        // Now observed.
        let pods = vec![pod("p2", 2, 0, 4, Some("t-a100-1"), "Running")];
        let s = build(&b, &names, &nodes, &pods, &mut pl);
        assert_eq!(s.cluster.nodes[1].gpus_fully_free(), 4);
        assert!(pl["p2"].observed);
    }

    #[test]
    fn missing_nodes_are_unschedulable_and_overcommit_is_reported() {
        let b = base();
        let names = vec!["t-a100-0".to_string(), "t-a100-1".to_string()];
        let nodes = vec![node(&b, 0)];
        let pods = vec![
            pod("a", 0, 0, 8, Some("t-a100-0"), "Running"),
            pod("b", 1, 0, 1, Some("t-a100-0"), "Running"),
        ];
        let s = build(&b, &names, &nodes, &pods, &mut BTreeMap::new());
        assert_eq!(s.missing_nodes, vec![NodeId(1)]);
        assert!(s.cluster.nodes[1].unschedulable);
        assert_eq!(s.overcommitted, vec!["b".to_string()]);
    }
}
