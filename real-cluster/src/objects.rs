//! Kubernetes objects from drydock's model and back: fake GPU nodes, training pods, the
//! [`PodSpec`] the core scheduler reads from a pod, and resource quantities.
//!
//! Everything here is pure: no client, no clock.

use std::collections::BTreeMap;

use drydock_core::{
    Cluster, GpuRequest, MILLI_PER_GPU, PodRequest, PodSpec, Taint, TaintEffect, Toleration,
};
use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, NodeSpec, Pod, PodSpec as KPodSpec, ResourceRequirements, Taint as KTaint,
    Toleration as KToleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::names::{
    ANN_GPU_COUNT, ANN_GPU_MILLI, ANN_PRIORITY, LABEL_FAKE_NODE, LABEL_GPU_PRODUCT, RESOURCE_GPU,
    TAINT_FAKE_NODE, owner_labels,
};

/// Parses a Kubernetes resource quantity (`"96"`, `"500m"`, `"1152Gi"`, `"1e3"`, `"1.5G"`)
/// scaled by `10^scale_exp10` and rounded up to an integer: `parse_quantity("500m", 3)` is
/// 500 (millicores), `parse_quantity("2", 3)` is 2000. Returns `None` for malformed or
/// negative text and for values that overflow `u64`.
///
/// Source: `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go` (suffixes: decimal
/// SI `n u m k M G T P E`, binary `Ki Mi Gi Ti Pi Ei`, exponent `e`/`E`).
pub fn parse_quantity(text: &str, scale_exp10: i32) -> Option<u64> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() || num.starts_with('.') && num.len() == 1 {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    let (base2, exp10): (u32, i32) = match suffix {
        "" => (0, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        e if e.starts_with(['e', 'E']) => (0, e[1..].parse().ok()?),
        _ => return None,
    };
    let v = value * 2f64.powi(base2 as i32) * 10f64.powi(exp10 + scale_exp10);
    if !v.is_finite() || v < 0.0 || v >= u64::MAX as f64 {
        return None;
    }
    // Round up like Quantity.Value()/MilliValue(), tolerating float noise.
    let r = v.round();
    Some(if (v - r).abs() < 1e-6 { r } else { v.ceil() } as u64)
}

/// CPU millicores as a quantity (`"500m"`).
pub fn cpu_quantity(milli: u64) -> Quantity {
    Quantity(format!("{milli}m"))
}

/// Memory in MiB as a quantity (`"4096Mi"`).
pub fn memory_quantity(mib: u64) -> Quantity {
    Quantity(format!("{mib}Mi"))
}

fn taint_effect_name(e: TaintEffect) -> &'static str {
    match e {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    }
}

/// Parses a taint effect name; `None` for an unknown one.
pub fn taint_effect(name: &str) -> Option<TaintEffect> {
    match name {
        "NoSchedule" => Some(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
        "NoExecute" => Some(TaintEffect::NoExecute),
        _ => None,
    }
}

/// A core taint as a Kubernetes taint.
pub fn k_taint(t: &Taint) -> KTaint {
    KTaint {
        key: t.key.clone(),
        value: (!t.value.is_empty()).then(|| t.value.clone()),
        effect: taint_effect_name(t.effect).to_string(),
        time_added: None,
    }
}

/// A Kubernetes taint as a core taint; `None` for an unknown effect.
pub fn core_taint(t: &KTaint) -> Option<Taint> {
    Some(Taint {
        key: t.key.clone(),
        value: t.value.clone().unwrap_or_default(),
        effect: taint_effect(&t.effect)?,
    })
}

/// A core toleration as a Kubernetes toleration with `toleration_seconds` (NoExecute only).
pub fn k_toleration(t: &Toleration, toleration_seconds: Option<i64>) -> KToleration {
    KToleration {
        key: t.key.clone(),
        operator: Some(if t.exists { "Exists" } else { "Equal" }.to_string()),
        value: (!t.exists && !t.value.is_empty()).then(|| t.value.clone()),
        effect: t.effect.map(|e| taint_effect_name(e).to_string()),
        toleration_seconds,
    }
}

/// A Kubernetes toleration as a core toleration (an unknown effect tolerates nothing: it
/// becomes a toleration of a key no taint has).
pub fn core_toleration(t: &KToleration) -> Toleration {
    let exists = t.operator.as_deref() == Some("Exists");
    let effect = t.effect.as_deref().filter(|e| !e.is_empty());
    Toleration {
        key: match (effect.map(taint_effect), t.key.as_deref()) {
            (Some(None), _) => Some("drydock.io/unknown-effect".to_string()),
            (_, Some(k)) if !k.is_empty() => Some(k.to_string()),
            _ => None,
        },
        exists,
        value: t.value.clone().unwrap_or_default(),
        effect: effect.and_then(taint_effect),
    }
}

/// A fake GPU node to register: the scenario node's shape under its Kubernetes name.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeNodeSpec {
    /// Kubernetes name (`<prefix><scenario node name>`).
    pub name: String,
    /// The scenario's node name (`a100-0`).
    pub scenario_name: String,
    /// GPUs (`nvidia.com/gpu` capacity and allocatable).
    pub gpus: u32,
    /// Allocatable CPU in millicores.
    pub cpu_milli: u64,
    /// Allocatable memory in MiB.
    pub memory_mib: u64,
    /// Pod capacity (`pods`), 110 as the kubelet's default `maxPods`.
    pub max_pods: u32,
    /// Labels besides the ownership ones (pool, GPU model, zone, the scenario's own).
    pub labels: BTreeMap<String, String>,
    /// Taints (the pool's, plus drydock's fake-node taint when requested).
    pub taints: Vec<Taint>,
}

impl FakeNodeSpec {
    /// The fake node for scenario node `node` named `<prefix><node.name>`; with `fake_taint`,
    /// the [`TAINT_FAKE_NODE`] `NoSchedule` taint is added so only drydock's pods land there.
    pub fn from_core(node: &drydock_core::Node, prefix: &str, fake_taint: bool) -> Self {
        let mut taints = node.taints.clone();
        if fake_taint {
            taints.push(fake_node_taint());
        }
        FakeNodeSpec {
            name: crate::names::node_object_name(prefix, &node.name),
            scenario_name: node.name.clone(),
            gpus: node.gpu_count(),
            cpu_milli: node.cpu_allocatable,
            memory_mib: node.memory_allocatable,
            max_pods: 110,
            labels: node.labels.clone(),
            taints,
        }
    }
}

/// drydock's fake-node taint, `drydock.io/fake-node=true:NoSchedule`.
pub fn fake_node_taint() -> Taint {
    Taint {
        key: TAINT_FAKE_NODE.to_string(),
        value: "true".to_string(),
        effect: TaintEffect::NoSchedule,
    }
}

/// The capacity (= allocatable) map of a fake node: `cpu`, `memory`, `pods`, and
/// `nvidia.com/gpu` when it has GPUs.
pub fn node_capacity(spec: &FakeNodeSpec) -> BTreeMap<String, Quantity> {
    let mut m = BTreeMap::from([
        ("cpu".to_string(), cpu_quantity(spec.cpu_milli)),
        ("memory".to_string(), memory_quantity(spec.memory_mib)),
        ("pods".to_string(), Quantity(spec.max_pods.to_string())),
    ]);
    if spec.gpus > 0 {
        m.insert(RESOURCE_GPU.to_string(), Quantity(spec.gpus.to_string()));
    }
    m
}

/// The Node object of `spec` for run `run` (metadata and spec; the status is written through
/// the status subresource by the fake kubelet).
pub fn node_object(spec: &FakeNodeSpec, run: &str) -> Node {
    let mut labels = spec.labels.clone();
    labels.extend(owner_labels(run));
    labels.insert(LABEL_FAKE_NODE.to_string(), "true".to_string());
    labels.insert("kubernetes.io/hostname".to_string(), spec.name.clone());
    // The kubelet's well-known labels, the deprecated beta ones too: the controller-manager's
    // node lifecycle controller adds those it finds missing (`labelReconcileInfo` in
    // `pkg/controller/nodelifecycle`), a GET and a PATCH per node otherwise.
    for (key, value) in [
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", "amd64"),
    ] {
        labels.insert(key.to_string(), value.to_string());
    }
    labels.insert("type".to_string(), "drydock-fake".to_string());
    Node {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "drydock.io/scenario-node".to_string(),
                spec.scenario_name.clone(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!spec.taints.is_empty()).then(|| spec.taints.iter().map(k_taint).collect()),
            ..Default::default()
        }),
        status: None,
    }
}

/// Resource requests of a pod: `cpu`, `memory`, and `nvidia.com/gpu` for whole-GPU requests.
/// GPU-sharing requests (less than a whole device) carry [`ANN_GPU_MILLI`] and
/// [`ANN_GPU_COUNT`] annotations instead (returned second), since Kubernetes counts whole
/// devices only (kubernetes-semantics.md §4.3 \[docs\]).
pub fn pod_resources(r: &PodRequest) -> (ResourceRequirements, BTreeMap<String, String>) {
    let mut requests = BTreeMap::from([
        ("cpu".to_string(), cpu_quantity(r.cpu_milli)),
        ("memory".to_string(), memory_quantity(r.memory_mib)),
    ]);
    let mut limits = BTreeMap::new();
    let mut ann = BTreeMap::new();
    if !r.gpu.is_none() {
        if r.gpu.milli >= MILLI_PER_GPU {
            let q = Quantity(r.gpu.count.to_string());
            requests.insert(RESOURCE_GPU.to_string(), q.clone());
            limits.insert(RESOURCE_GPU.to_string(), q);
        } else {
            ann.insert(ANN_GPU_MILLI.to_string(), r.gpu.milli.to_string());
            ann.insert(ANN_GPU_COUNT.to_string(), r.gpu.count.to_string());
        }
    }
    (
        ResourceRequirements {
            requests: Some(requests),
            limits: (!limits.is_empty()).then_some(limits),
            ..Default::default()
        },
        ann,
    )
}

/// Fills `pod_spec`'s scheduling constraints from `spec`: node selector, GPU models as a
/// required node affinity on [`LABEL_GPU_PRODUCT`] (for GPU pods only, as the core filter
/// checks models only for them), and tolerations (`extra` appended, for drydock's own taints).
pub fn set_constraints(
    pod_spec: &mut KPodSpec,
    spec: &PodSpec,
    cluster: &Cluster,
    extra: Vec<KToleration>,
) {
    pod_spec.node_selector = (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone());
    if !spec.gpu_models.is_empty() && !spec.request.gpu.is_none() {
        let values = spec
            .gpu_models
            .iter()
            .filter_map(|m| cluster.gpu_models.get(m.0 as usize).cloned())
            .collect();
        pod_spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: LABEL_GPU_PRODUCT.to_string(),
                            operator: "In".to_string(),
                            values: Some(values),
                        }]),
                        match_fields: None,
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let mut tolerations: Vec<KToleration> = spec
        .tolerations
        .iter()
        .map(|t| k_toleration(t, None))
        .collect();
    tolerations.extend(extra);
    pod_spec.tolerations = (!tolerations.is_empty()).then_some(tolerations);
}

/// A minimal pod spec with one container (`worker`, an image that is never pulled: no kubelet
/// runs it) holding `resources`.
pub fn container(resources: ResourceRequirements) -> Container {
    Container {
        name: "worker".to_string(),
        image: Some("drydock.invalid/fake-workload:none".to_string()),
        resources: Some(resources),
        ..Default::default()
    }
}

/// The [`PodSpec`] the core scheduler sees for `pod`: requests summed over containers (cpu,
/// memory, `nvidia.com/gpu`, or the GPU-sharing annotations), priority from
/// [`ANN_PRIORITY`] (else `spec.priority`, else 0), node selector, GPU models from a required
/// node affinity `In` on [`LABEL_GPU_PRODUCT`] (models are interned into `cluster`), and
/// tolerations. Malformed quantities count as 0.
pub fn pod_spec_of(pod: &Pod, cluster: &mut Cluster) -> PodSpec {
    let mut req = PodRequest {
        cpu_milli: 0,
        memory_mib: 0,
        gpu: GpuRequest::NONE,
    };
    let mut gpus = 0u64;
    let empty = KPodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    for c in &spec.containers {
        let Some(r) = c.resources.as_ref() else {
            continue;
        };
        let get = |name: &str| {
            r.requests
                .as_ref()
                .and_then(|m| m.get(name))
                .or_else(|| r.limits.as_ref().and_then(|m| m.get(name)))
        };
        if let Some(q) = get("cpu") {
            req.cpu_milli += parse_quantity(&q.0, 3).unwrap_or(0);
        }
        if let Some(q) = get("memory") {
            req.memory_mib += parse_quantity(&q.0, 0).unwrap_or(0).div_ceil(1 << 20);
        }
        if let Some(q) = get(RESOURCE_GPU) {
            gpus += parse_quantity(&q.0, 0).unwrap_or(0);
        }
    }
    let ann = pod.metadata.annotations.as_ref();
    let ann_u32 = |k: &str| {
        ann.and_then(|a| a.get(k))
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    req.gpu = match (ann_u32(ANN_GPU_MILLI), ann_u32(ANN_GPU_COUNT)) {
        (Some(milli), count) if gpus == 0 && milli > 0 && milli < MILLI_PER_GPU => GpuRequest {
            count: count.unwrap_or(1).clamp(1, 64),
            milli,
        },
        _ => GpuRequest::whole(gpus.min(64) as u32),
    };
    let priority = ann
        .and_then(|a| a.get(ANN_PRIORITY))
        .and_then(|v| v.trim().parse::<i32>().ok())
        .or(spec.priority)
        .unwrap_or(0);
    let mut out = PodSpec::new(req);
    out.priority = priority;
    out.node_selector = spec.node_selector.clone().unwrap_or_default();
    out.tolerations = spec
        .tolerations
        .iter()
        .flatten()
        .map(core_toleration)
        .collect();
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    if let Some(t) = terms {
        for term in &t.node_selector_terms {
            for e in term.match_expressions.iter().flatten() {
                if e.key == LABEL_GPU_PRODUCT && e.operator == "In" {
                    for v in e.values.iter().flatten() {
                        let m = cluster.intern_model(v);
                        if !out.gpu_models.contains(&m) {
                            out.gpu_models.push(m);
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantities_parse_like_the_apiserver() {
        assert_eq!(parse_quantity("96", 3), Some(96_000));
        assert_eq!(parse_quantity("500m", 3), Some(500));
        assert_eq!(parse_quantity("1.5", 3), Some(1500));
        assert_eq!(parse_quantity("1152Gi", 0), Some(1152 << 30));
        assert_eq!(parse_quantity("4096Mi", 0), Some(4096 << 20));
        assert_eq!(parse_quantity("1e3", 0), Some(1000));
        assert_eq!(parse_quantity("2k", 0), Some(2000));
        assert_eq!(parse_quantity("1m", 0), Some(1), "rounds up");
        for bad in ["", "abc", "-1", "1Xi", "1e", "."] {
            assert_eq!(parse_quantity(bad, 0), None, "{bad}");
        }
    }

    #[test]
    fn node_objects_carry_gpus_labels_taints_and_ownership() {
        let mut cluster = Cluster::default();
        let model = cluster.intern_model("A100");
        let node = drydock_core::Node {
            name: "a100-0".into(),
            pool: drydock_core::PoolId(0),
            gpu_model: Some(model),
            cpu_allocatable: 96_000,
            memory_allocatable: 1152 * 1024,
            cpu_free: 96_000,
            memory_free: 1152 * 1024,
            gpu_free: vec![1000; 8],
            labels: BTreeMap::from([(LABEL_GPU_PRODUCT.to_string(), "A100".to_string())]),
            taints: vec![],
            unschedulable: false,
            pods: vec![],
        };
        let spec = FakeNodeSpec::from_core(&node, "dd-x-", true);
        assert_eq!(spec.name, "dd-x-a100-0");
        let cap = node_capacity(&spec);
        assert_eq!(cap.get(RESOURCE_GPU), Some(&Quantity("8".into())));
        assert_eq!(cap.get("cpu"), Some(&Quantity("96000m".into())));
        let obj = node_object(&spec, "run1");
        assert!(crate::names::is_ours(&obj.metadata, Some("run1")));
        let labels = obj.metadata.labels.clone().unwrap_or_default();
        for (stable, beta) in [
            ("kubernetes.io/os", "beta.kubernetes.io/os"),
            ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
        ] {
            assert_eq!(
                labels.get(stable),
                labels.get(beta),
                "{beta} matches {stable}"
            );
            assert!(labels.contains_key(beta));
        }
        let taints = obj.spec.and_then(|s| s.taints).unwrap_or_default();
        assert_eq!(taints.len(), 1);
        assert_eq!(taints[0].key, TAINT_FAKE_NODE);
        assert_eq!(taints[0].effect, "NoSchedule");
    }

    fn pod_of(spec: &PodSpec, cluster: &Cluster) -> Pod {
        let (res, ann) = pod_resources(&spec.request);
        let mut ann = ann;
        ann.insert(ANN_PRIORITY.to_string(), spec.priority.to_string());
        let mut ks = KPodSpec {
            containers: vec![container(res)],
            ..Default::default()
        };
        set_constraints(&mut ks, spec, cluster, Vec::new());
        Pod {
            metadata: ObjectMeta {
                annotations: Some(ann),
                ..Default::default()
            },
            spec: Some(ks),
            status: None,
        }
    }

    fn arb_toleration() -> impl Strategy<Value = Toleration> {
        (
            proptest::option::of("[a-z]{1,5}"),
            any::<bool>(),
            "[a-z]{0,3}",
            proptest::option::of(prop_oneof![
                Just(TaintEffect::NoSchedule),
                Just(TaintEffect::PreferNoSchedule),
                Just(TaintEffect::NoExecute)
            ]),
        )
            .prop_map(|(key, exists, value, effect)| {
                // `Equal` with no key is not valid Kubernetes; keep the shapes the API takes.
                let exists = exists || key.is_none();
                Toleration {
                    key,
                    exists,
                    value: if exists { String::new() } else { value },
                    effect,
                }
            })
    }

    proptest! {
        /// A pod spec written as a Kubernetes pod reads back as the same spec: requests,
        /// priority, node selector, GPU models and tolerations survive the round trip.
        #[test]
        fn pod_spec_round_trips_through_a_pod(
            cpu in 0u64..200_000,
            mem in 0u64..2_000_000,
            gpu_count in 0u32..9,
            milli in prop_oneof![Just(1000u32), 1u32..1000],
            priority in any::<i32>(),
            selector in proptest::collection::btree_map("[a-z]{1,4}", "[a-z0-9]{0,4}", 0..3),
            models in proptest::collection::vec(prop_oneof![Just("A100"), Just("L4"), Just("H100")], 0..3),
            tolerations in proptest::collection::vec(arb_toleration(), 0..3),
        ) {
            let mut cluster = Cluster::default();
            let gpu = if gpu_count == 0 { GpuRequest::NONE } else { GpuRequest { count: gpu_count, milli } };
            let mut spec = PodSpec::new(PodRequest { cpu_milli: cpu, memory_mib: mem, gpu });
            spec.priority = priority;
            spec.node_selector = selector;
            for m in models {
                let id = cluster.intern_model(m);
                if !spec.gpu_models.contains(&id) { spec.gpu_models.push(id); }
            }
            spec.tolerations = tolerations;
            let pod = pod_of(&spec, &cluster);
            let mut back = pod_spec_of(&pod, &mut cluster);
            if spec.request.gpu.is_none() {
                // Models only matter (and are only written) for GPU pods.
                back.gpu_models = spec.gpu_models.clone();
            }
            prop_assert_eq!(back, spec);
        }

        /// Whatever text a quantity holds, parsing never panics.
        #[test]
        fn parse_quantity_never_panics(s in "\\PC{0,12}", e in -9i32..9) {
            let _ = parse_quantity(&s, e);
        }
    }
}
