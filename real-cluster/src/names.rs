//! Names, labels, annotations and taints drydock puts on the objects it creates, and the
//! ownership test every write goes through.
//!
//! Everything drydock creates carries [`LABEL_MANAGED_BY`]` = `[`MANAGED_BY`] and
//! [`LABEL_RUN`]` = <run id>`; drydock never writes an object that lacks both (see
//! [`is_ours`]).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Well-known label naming the tool that manages an object.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`] on drydock's objects.
pub const MANAGED_BY: &str = "drydock";
/// Label carrying the run id: one `drydock real` invocation (or one test case).
pub const LABEL_RUN: &str = "drydock.io/run";
/// Label marking a fake node served by drydock's fake kubelet (value `true`).
pub const LABEL_FAKE_NODE: &str = "drydock.io/fake-node";
/// Label carrying the node's pool name (the simulator's label, `drydock_sim::build::LABEL_POOL`).
pub const LABEL_POOL: &str = drydock_sim::build::LABEL_POOL;
/// Label carrying the GPU model (NVIDIA GPU feature discovery's name).
pub const LABEL_GPU_PRODUCT: &str = drydock_sim::build::LABEL_GPU_PRODUCT;
/// Well-known zone label.
pub const LABEL_ZONE: &str = drydock_sim::build::LABEL_ZONE;
/// PodGroup label of the coscheduling plugin (kubernetes-sigs/scheduler-plugins
/// `pkg/coscheduling`, kubernetes-semantics.md §5.1 \[src\]): the gang a pod belongs to.
pub const LABEL_POD_GROUP: &str = "scheduling.x-k8s.io/pod-group";
/// drydock's own gang label (same value as [`LABEL_POD_GROUP`]).
pub const LABEL_GANG: &str = "drydock.io/gang";
/// Label carrying the job index (decimal) of a training pod.
pub const LABEL_JOB: &str = "drydock.io/job";
/// Label carrying the attempt (generation, decimal) of a training pod's gang.
pub const LABEL_ATTEMPT: &str = "drydock.io/attempt";
/// Label carrying the worker index (decimal) of a training pod in its gang.
pub const LABEL_WORKER: &str = "drydock.io/worker";
/// Label carrying the Deployment name of an inference service on the Deployment, its
/// ReplicaSets and its replica pods (the Deployment's selector, with [`LABEL_RUN`]).
pub const LABEL_SERVICE: &str = "drydock.io/service";
/// Annotation on a service's Deployment: the service's name as written in the scenario.
pub const ANN_SERVICE_NAME: &str = "drydock.io/service-name";
/// Annotation: the job's name as written in the scenario.
pub const ANN_JOB_NAME: &str = "drydock.io/job-name";
/// Annotation: the gang size (PodGroup `minMember`), decimal.
pub const ANN_GANG_SIZE: &str = "drydock.io/gang-size";
/// Annotation: scenario time (microseconds) the gang entered the scheduling queue.
pub const ANN_QUEUED_AT: &str = "drydock.io/queued-at-us";
/// Annotation: pod priority (decimal `i32`). drydock is the scheduler of its pods, so it reads
/// priority from here rather than from `spec.priority`, which the Priority admission plugin only
/// lets a `PriorityClass` set (a cluster-scoped object drydock does not create).
pub const ANN_PRIORITY: &str = "drydock.io/priority";
/// Annotation: scenario time (microseconds) from binding to Ready that the fake kubelet waits
/// (container start, checkpoint load: the job's restart overhead on a restart).
pub const ANN_STARTUP_DELAY: &str = "drydock.io/startup-delay-us";
/// Annotation: share of each GPU in milli-GPU for GPU-sharing pods (< 1000); such pods request
/// no `nvidia.com/gpu` (Kubernetes counts whole devices only, kubernetes-semantics.md §4.3
/// \[docs\]) and drydock accounts the share itself.
pub const ANN_GPU_MILLI: &str = "drydock.io/gpu-milli";
/// Annotation: number of GPU devices of a GPU-sharing pod.
pub const ANN_GPU_COUNT: &str = "drydock.io/gpu-count";
/// The `spec.schedulerName` of drydock's pods: drydock binds these and only these.
pub const SCHEDULER_NAME: &str = "drydock";
/// Field manager of the fake kubelet's writes.
pub const FIELD_MANAGER_KUBELET: &str = "drydock-fake-kubelet";
/// Field manager of the driver's writes.
pub const FIELD_MANAGER: &str = "drydock";
/// Taint on every fake node; only drydock's pods tolerate it, so nothing else lands there on a
/// shared cluster (real-cluster.md §7).
pub const TAINT_FAKE_NODE: &str = "drydock.io/fake-node";
/// Extended resource name of NVIDIA GPUs.
pub const RESOURCE_GPU: &str = "nvidia.com/gpu";
/// Namespace of node Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// True when `meta` carries drydock's ownership label, and, when `run` is given, that run's
/// label.
pub fn is_ours(meta: &ObjectMeta, run: Option<&str>) -> bool {
    let Some(labels) = &meta.labels else {
        return false;
    };
    labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
        && run.is_none_or(|r| labels.get(LABEL_RUN).map(String::as_str) == Some(r))
}

/// The two ownership labels of run `run`.
pub fn owner_labels(run: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_RUN.to_string(), run.to_string()),
    ])
}

/// The label selector matching run `run`'s objects (`app.kubernetes.io/managed-by=drydock,
/// drydock.io/run=<run>`).
pub fn run_selector(run: &str) -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RUN}={run}")
}

/// `name` turned into a DNS-1123 label fragment: lowercase ASCII letters, digits and `-`, no
/// leading or trailing `-`, at most `max` characters; `x` when nothing is left.
pub fn dns_label(name: &str, max: usize) -> String {
    let mut out = String::with_capacity(name.len().min(max));
    for c in name.chars() {
        if out.len() >= max {
            break;
        }
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// The gang (PodGroup) name of attempt `attempt` of job `job` named `job_name`:
/// `<name>-j<job>-a<attempt>`, a valid label value (≤ 63 characters).
pub fn gang_name(job_name: &str, job: u32, attempt: u32) -> String {
    format!("{}-j{job}-a{attempt}", dns_label(job_name, 36))
}

/// The pod name of worker `worker` of a gang: `<gang>-w<worker>`.
pub fn pod_name(gang: &str, worker: u32) -> String {
    format!("{gang}-w{worker}")
}

/// The Kubernetes name of scenario node `node` under `prefix` (`<prefix><node>`, lowercased and
/// made a valid DNS name).
pub fn node_object_name(prefix: &str, node: &str) -> String {
    let mut s = String::new();
    for c in format!("{prefix}{node}").chars() {
        let c = c.to_ascii_lowercase();
        s.push(if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            c
        } else {
            '-'
        });
    }
    s.trim_matches(|c| c == '-' || c == '.')
        .chars()
        .take(253)
        .collect()
}

/// A fresh run id: 8 hexadecimal digits from the process id and the wall clock (unique enough
/// to keep concurrent runs and test cases apart; never used for any decision).
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ ((std::process::id() as u64) << 32);
    // SplitMix64 finaliser: spreads nearby clock values.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    format!("{:08x}", x as u32)
}

/// The Deployment name of scenario service `service` (index `index`): `svc<index>-<name>` as a
/// DNS-1123 label of at most 40 characters, leaving room for the ReplicaSet's and pods'
/// generated suffixes (a pod name must be a DNS-1123 label of at most 63 characters).
pub fn deployment_name(service: &str, index: usize) -> String {
    dns_label(&format!("svc{index}-{service}"), 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_label_keeps_only_valid_characters() {
        assert_eq!(dns_label("Llama_13B v2", 63), "llama-13b-v2");
        assert_eq!(dns_label("--x--", 63), "x");
        assert_eq!(dns_label("___", 63), "x");
        assert_eq!(dns_label("abcdef", 3), "abc");
        assert_eq!(dns_label("ab-cdef", 3), "ab");
    }

    #[test]
    fn gang_and_pod_names_are_valid_label_values() {
        let g = gang_name(&"a".repeat(200), u32::MAX, u32::MAX);
        assert!(g.len() <= 63, "{g}");
        assert_eq!(gang_name("bert-sweep-0", 3, 1), "bert-sweep-0-j3-a1");
        assert_eq!(pod_name("bert-sweep-0-j3-a1", 0), "bert-sweep-0-j3-a1-w0");
    }

    #[test]
    fn ownership_needs_both_labels() {
        let mut meta = ObjectMeta::default();
        assert!(!is_ours(&meta, None));
        meta.labels = Some(owner_labels("abc"));
        assert!(is_ours(&meta, None));
        assert!(is_ours(&meta, Some("abc")));
        assert!(!is_ours(&meta, Some("def")));
        meta.labels = Some(BTreeMap::from([(LABEL_RUN.into(), "abc".into())]));
        assert!(!is_ours(&meta, Some("abc")));
    }

    #[test]
    fn node_names_are_lowercase_dns_names() {
        assert_eq!(node_object_name("dd-1-", "A100_0"), "dd-1-a100-0");
        assert_eq!(node_object_name("", "-x-"), "x");
    }
}
