//! Step one of loading: the file as written. Every field is optional (required ones are checked
//! in step two, so that all missing fields are reported together) and carries the location of
//! its value. Durations and quantities are kept as text and parsed in step two. These types
//! also generate the JSON schema (their doc comments become its descriptions).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::schema;

/// A 1-based line and column (characters) in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A value with the location of the YAML node it came from (via serde-saphyr's `Spanned`).
#[derive(Debug, Clone)]
pub(crate) struct Sp<T> {
    pub value: T,
    pub pos: Pos,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        let loc = s.referenced;
        let pos = Pos {
            line: usize::try_from(loc.line()).unwrap_or(usize::MAX),
            column: usize::try_from(loc.column()).unwrap_or(usize::MAX),
        };
        Ok(Sp {
            value: s.value,
            pos,
        })
    }
}

/// The location is invisible in the schema: `Sp<T>` has the schema of `T`.
impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// Accepts any YAML scalar (string, integer or float) and keeps its text.
struct ScalarText(&'static str);

impl Visitor<'_> for ScalarText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $schema_name:literal, $expecting:literal, $schema:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub(crate) struct $name(pub String);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(ScalarText($expecting)).map($name)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                $schema_name.into()
            }
            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                $schema(generator)
            }
        }
    };
}

text_type!(
    /// A duration as written (`90s`, `5m`, `1h30m`, or an integer number of seconds).
    DurationText,
    "Duration",
    "a duration like 90s, 5m or 2h",
    schema::duration
);
text_type!(
    /// An expectation as written (`jct_p95 <= 4h`).
    ExpectText,
    "Expectation",
    "an expectation like `jct_p95 <= 4h`",
    schema::expectation
);
text_type!(
    /// A CPU quantity as written (`"96"`, `500m`, `2.5`).
    CpuText,
    "Cpu",
    "a CPU quantity like \"2\", \"2.5\" or \"500m\"",
    schema::cpu
);
text_type!(
    /// A memory quantity as written (`16Gi`, `512Mi`, `1G`, or bytes).
    MemoryText,
    "Memory",
    "a memory quantity like 512Mi or 16Gi",
    schema::memory
);

type Opt<T> = Option<Sp<T>>;

/// A drydock scenario: a cluster, a workload, failures and scheduler settings, in a
/// Kubernetes-like envelope.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    title = "drydock scenario",
    extend("required" = ["apiVersion", "kind", "metadata", "spec"])
)]
pub(crate) struct RawScenario {
    /// Schema version: `drydock/v1alpha1`.
    #[schemars(schema_with = "schema::api_version")]
    pub api_version: Opt<String>,
    /// Always `Scenario`.
    #[schemars(schema_with = "schema::kind")]
    pub kind: Opt<String>,
    /// Name and description.
    pub metadata: Opt<RawMetadata>,
    /// The scenario itself.
    pub spec: Opt<RawSpec>,
}

/// Name and description of the scenario.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["name"]))]
#[schemars(rename = "Metadata")]
pub(crate) struct RawMetadata {
    /// Scenario name (shown in reports).
    pub name: Opt<String>,
    /// Free text.
    pub description: Opt<String>,
}

/// The scenario.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["cluster"]))]
#[schemars(rename = "Spec")]
pub(crate) struct RawSpec {
    /// Master seed of every random stream (overridden by `--seed`). Default 1.
    pub seed: Opt<u64>,
    /// Virtual time at which the run stops even if work remains. Default: run until all work
    /// is done, or 24h when there are services (they receive traffic forever).
    pub duration: Opt<DurationText>,
    /// Time-series sampling interval. Default 5m.
    pub sample_interval: Opt<DurationText>,
    /// Node pools and/or a node list from a trace.
    pub cluster: Opt<RawCluster>,
    /// Scheduler settings.
    pub scheduler: Opt<RawScheduler>,
    /// Node failure detection and eviction timings.
    pub node_lifecycle: Opt<RawNodeLifecycle>,
    /// Training jobs (gangs), each possibly repeated.
    pub training: Option<Vec<Sp<RawTraining>>>,
    /// Workloads imported from trace files.
    pub traces: Option<Vec<Sp<RawTrace>>>,
    /// Inference services: Deployments of replicas serving request traffic.
    pub services: Option<Vec<Sp<crate::serving::raw::RawService>>>,
    /// Scheduled and random failures.
    pub failures: Opt<RawFailures>,
    /// Checks on the run's report, each `METRIC OP VALUE` (`jct_p95 <= 4h`,
    /// `cost_total <= $1200`, `gpu_allocation_mean >= 85%`, `jobs_failed == 0`). `drydock run`
    /// exits with code 3 when one fails.
    pub expect: Option<Vec<Sp<ExpectText>>>,
}

/// The cluster: at least one pool or a node trace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Cluster")]
pub(crate) struct RawCluster {
    /// Node pools. Nodes are named `<pool>-<index>`, the index zero-padded to the width of
    /// the largest index.
    pub pools: Option<Vec<Sp<RawPool>>>,
    /// Nodes read from an Alibaba openb node list.
    pub node_trace: Opt<RawNodeTrace>,
    /// Cluster Autoscaler flags (kubernetes/autoscaler `config/flags/flags.go` defaults). It
    /// manages the pools that have an `autoscaling` section.
    pub autoscaler: Opt<RawClusterAutoscaler>,
}

/// A pool's node-group settings for the Cluster Autoscaler.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["maxNodes"]))]
#[schemars(rename = "PoolAutoscaling")]
pub(crate) struct RawPoolAutoscaling {
    /// Fewest nodes the autoscaler keeps. Default 0.
    #[schemars(range(min = 0))]
    pub min_nodes: Opt<i64>,
    /// Most nodes the autoscaler may reach.
    #[schemars(range(min = 0))]
    pub max_nodes: Opt<i64>,
    /// Time from the scale-up request to the node registering Ready with its GPUs
    /// allocatable. Default log-normal, median 5m, p95 10m (kubernetes-semantics.md §7).
    #[schemars(schema_with = "schema::duration_dist")]
    pub provisioning_time: Opt<RawDist>,
    /// Probability that a requested node never comes (a capacity stockout): the Cluster
    /// Autoscaler gives up on it after `maxNodeProvisionTime` and backs the pool off. Default 0.
    #[schemars(range(min = 0, max = 1))]
    pub stockout_probability: Opt<f64>,
    /// Nodes the cloud can supply for this pool at most: requests past it fail like a
    /// stockout. Default: unlimited.
    #[schemars(range(min = 0))]
    pub cloud_capacity: Opt<i64>,
    /// Priority for the `priority` expander (higher wins). Default: none.
    pub priority: Opt<i64>,
}

/// Spot (preemptible) nodes: cheaper, and taken back by the cloud with a short notice.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["meanTimeToInterruption"]))]
#[schemars(rename = "Spot")]
pub(crate) struct RawSpot {
    /// Mean time between interruptions of one node (exponential).
    pub mean_time_to_interruption: Opt<DurationText>,
    /// Notice before the node is taken back; drydock cordons and drains the node at the notice.
    /// Default 2m (AWS spot interruption notice).
    pub notice: Opt<DurationText>,
}

/// Cluster Autoscaler flags.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ClusterAutoscaler")]
pub(crate) struct RawClusterAutoscaler {
    /// `--scan-interval`. Default 10s.
    pub scan_interval: Opt<DurationText>,
    /// `--expander`: `least-waste` (default), `most-pods`, `least-nodes`, `random` or
    /// `priority`.
    #[schemars(schema_with = "schema::expander")]
    pub expander: Opt<String>,
    /// Rules of the `priority` expander (its ConfigMap): pools whose name matches `pattern` (a
    /// regular expression) get `priority`.
    pub priorities: Option<Vec<Sp<RawPriorityRule>>>,
    /// `--max-node-provision-time`. Default 15m.
    pub max_node_provision_time: Opt<DurationText>,
    /// `--max-nodes-total` (0 = unlimited). Default 0.
    #[schemars(range(min = 0))]
    pub max_nodes_total: Opt<i64>,
    /// `--max-nodes-per-scaleup`. Default 1000.
    #[schemars(range(min = 1))]
    pub max_nodes_per_scale_up: Opt<i64>,
    /// `--expendable-pods-priority-cutoff`: pods below it never trigger a scale-up. Default -10.
    pub expendable_pods_priority_cutoff: Opt<i64>,
    /// `--new-pod-scale-up-delay`. Default 0s.
    pub new_pod_scale_up_delay: Opt<DurationText>,
    /// Backoff of a pool after a failed scale-up.
    pub backoff: Opt<RawCaBackoff>,
    /// Scale-down settings.
    pub scale_down: Opt<RawScaleDown>,
}

/// A rule of the `priority` expander.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["pattern", "priority"]))]
#[schemars(rename = "PriorityRule")]
pub(crate) struct RawPriorityRule {
    /// Regular expression matched against pool names.
    pub pattern: Opt<String>,
    /// Priority (higher wins).
    pub priority: Opt<i64>,
}

/// Backoff of a node group after a failed scale-up.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "CaBackoff")]
pub(crate) struct RawCaBackoff {
    /// First backoff. Default 5m.
    pub initial: Opt<DurationText>,
    /// Longest backoff. Default 30m.
    pub max: Opt<DurationText>,
    /// Forget failures older than this. Default 3h.
    pub reset_after: Opt<DurationText>,
}

/// Cluster Autoscaler scale-down flags.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ScaleDown")]
pub(crate) struct RawScaleDown {
    /// `--scale-down-enabled`. Default true.
    pub enabled: Opt<bool>,
    /// `--scale-down-utilization-threshold` (CPU and memory nodes). Default 0.5.
    #[schemars(range(min = 0, max = 1))]
    pub utilization_threshold: Opt<f64>,
    /// `--scale-down-gpu-utilization-threshold` (GPU nodes, judged on GPUs only). Default 0.5.
    #[schemars(range(min = 0, max = 1))]
    pub gpu_utilization_threshold: Opt<f64>,
    /// `--scale-down-unneeded-time`. Default 10m.
    pub unneeded_time: Opt<DurationText>,
    /// `--scale-down-unready-time`. Default 20m.
    pub unready_time: Opt<DurationText>,
    /// `--scale-down-delay-after-add`. Default 10m.
    pub delay_after_add: Opt<DurationText>,
    /// `--scale-down-delay-after-delete` (0 = one scan interval). Default 0s.
    pub delay_after_delete: Opt<DurationText>,
    /// `--scale-down-delay-after-failure`. Default 3m.
    pub delay_after_failure: Opt<DurationText>,
    /// `--max-scale-down-parallelism`. Default 10.
    #[schemars(range(min = 1))]
    pub max_parallelism: Opt<i64>,
    /// `--max-drain-parallelism`. Default 1.
    #[schemars(range(min = 1))]
    pub max_drain_parallelism: Opt<i64>,
}

/// A pool of identical nodes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["name", "nodes", "cpu", "memory"]))]
#[schemars(rename = "Pool")]
pub(crate) struct RawPool {
    /// Unique pool name (lowercase letters, digits, `-` and `.`).
    pub name: Opt<String>,
    /// Number of nodes (0 or more).
    #[schemars(range(min = 0, max = 1_000_000))]
    pub nodes: Opt<i64>,
    /// GPU model (for example `A100`); required when `gpusPerNode` > 0.
    pub gpu_model: Opt<String>,
    /// GPUs per node (0–64). Default 0.
    #[schemars(range(min = 0, max = 64))]
    pub gpus_per_node: Opt<i64>,
    /// Memory per GPU device (reported only). Default 0.
    pub gpu_memory: Opt<MemoryText>,
    /// Allocatable CPU per node (`"96"`, `500m`).
    pub cpu: Opt<CpuText>,
    /// Allocatable memory per node (`1Ti`, `512Gi`).
    pub memory: Opt<MemoryText>,
    /// Price in dollars per node-hour. Default 0.
    #[schemars(range(min = 0))]
    pub price_per_node_hour: Opt<f64>,
    /// Extra node labels.
    pub labels: Opt<BTreeMap<String, String>>,
    /// Node taints.
    pub taints: Option<Vec<Sp<RawTaint>>>,
    /// Zones; nodes are spread over them round robin.
    pub zones: Option<Vec<Sp<String>>>,
    /// Make the pool a Cluster Autoscaler node group: `nodes` is then its initial size.
    pub autoscaling: Opt<RawPoolAutoscaling>,
    /// Spot nodes: interrupted at random with a notice (the autoscaler replaces them).
    pub spot: Opt<RawSpot>,
}

/// A node taint.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["key", "effect"]))]
#[schemars(rename = "Taint")]
pub(crate) struct RawTaint {
    /// Key.
    pub key: Opt<String>,
    /// Value. Default empty.
    pub value: Opt<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[schemars(schema_with = "schema::taint_effect")]
    pub effect: Opt<String>,
}

/// A pod toleration.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Toleration")]
pub(crate) struct RawToleration {
    /// Taint key; absent with `operator: Exists` tolerates every taint.
    pub key: Opt<String>,
    /// `Equal` (default) or `Exists`.
    #[schemars(schema_with = "schema::toleration_operator")]
    #[serde(default)]
    pub operator: Opt<String>,
    /// Value compared by `Equal`.
    pub value: Opt<String>,
    /// Effect to match; absent matches all.
    #[schemars(schema_with = "schema::taint_effect")]
    #[serde(default)]
    pub effect: Opt<String>,
}

/// Nodes from an Alibaba openb node list (`sn,cpu_milli,memory_mib,gpu,model`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["path"]))]
#[schemars(rename = "NodeTrace")]
pub(crate) struct RawNodeTrace {
    /// Path relative to the data directory.
    pub path: Opt<String>,
    /// Dollars per GPU-hour for GPU nodes. Default 0.
    #[schemars(range(min = 0))]
    pub price_per_gpu_hour: Opt<f64>,
    /// Dollars per node-hour for CPU-only nodes. Default 0.
    #[schemars(range(min = 0))]
    pub cpu_node_price_per_hour: Opt<f64>,
}

/// Scheduler settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Scheduler")]
pub(crate) struct RawScheduler {
    /// Placement policy. Default `kube-default`.
    #[schemars(schema_with = "schema::policy")]
    #[serde(default)]
    pub policy: Opt<String>,
    /// Tie-break between equal top scores. Default: `random` for `kube-default` and
    /// `binpack`, `node-name` for the others.
    #[schemars(schema_with = "schema::tie_break")]
    #[serde(default)]
    pub tie_break: Opt<String>,
    /// Percentage of feasible nodes to score (0–100; 0 = upstream's adaptive rule). Default:
    /// adaptive for `kube-default` and `binpack`, 100 for the others.
    #[schemars(range(min = 0, max = 100))]
    pub percentage_of_nodes_to_score: Opt<i64>,
    /// NodeResourcesFit weights. Default cpu 1, memory 1, `nvidia.com/gpu` 0 (1 for binpack).
    pub scoring_weights: Opt<RawWeights>,
    /// Scheduling cycle period. Default 1s.
    pub cycle: Opt<DurationText>,
    /// Priority preemption. Default true.
    pub preemption: Opt<bool>,
    /// How long an evicted pod keeps its resources. Default 30s.
    pub termination_grace_period: Opt<DurationText>,
    /// Gang scheduling settings.
    pub gang: Opt<RawGang>,
    /// FGD target-workload popularity threshold (0–1]. Default 0.95.
    #[schemars(range(min = 0, max = 1))]
    pub popularity_threshold: Opt<f64>,
}

/// NodeResourcesFit resource weights (0–100 each).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Weights")]
pub(crate) struct RawWeights {
    /// Weight of cpu.
    #[schemars(range(min = 0, max = 100))]
    pub cpu: Opt<i64>,
    /// Weight of memory.
    #[schemars(range(min = 0, max = 100))]
    pub memory: Opt<i64>,
    /// Weight of GPUs.
    #[serde(rename = "nvidia.com/gpu")]
    #[schemars(range(min = 0, max = 100))]
    pub gpu: Opt<i64>,
}

/// Gang (PodGroup) scheduling.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Gang")]
pub(crate) struct RawGang {
    /// How long an incomplete gang may wait. Default 60s.
    pub schedule_timeout: Opt<DurationText>,
    /// `all-or-nothing` (default) or `permit-wait`.
    #[schemars(schema_with = "schema::gang_mode")]
    #[serde(default)]
    pub mode: Opt<String>,
}

/// Node lifecycle controller timings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NodeLifecycle")]
pub(crate) struct RawNodeLifecycle {
    /// Default 50s.
    pub node_monitor_grace_period: Opt<DurationText>,
    /// Default 5s.
    pub node_monitor_period: Opt<DurationText>,
    /// Default 300s.
    pub toleration_seconds: Opt<DurationText>,
}

/// A training job: a gang of `workers` pods, possibly repeated `count` times.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["name", "work"]))]
#[schemars(rename = "Training")]
pub(crate) struct RawTraining {
    /// Unique job name; copies are named `<name>-<k>`.
    pub name: Opt<String>,
    /// Arrival of the first copy. Default 0s.
    pub arrival: Opt<DurationText>,
    /// Number of copies (1 or more). Default 1.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub count: Opt<i64>,
    /// Time between copies' arrivals. Default 0s.
    pub interval: Opt<DurationText>,
    /// Gang size (1 or more). Default 1.
    #[schemars(range(min = 1, max = 100_000))]
    pub workers: Opt<i64>,
    /// Whole GPUs per worker (0–64). Default 1.
    #[schemars(range(min = 0, max = 64))]
    pub gpus_per_worker: Opt<i64>,
    /// CPU per worker. Default 1.
    pub cpu: Opt<CpuText>,
    /// Memory per worker. Default 4Gi.
    pub memory: Opt<MemoryText>,
    /// Allowed GPU models; empty = any.
    pub gpu_models: Option<Vec<Sp<String>>>,
    /// Extra node selector.
    pub node_selector: Opt<BTreeMap<String, String>>,
    /// Tolerations.
    pub tolerations: Option<Vec<Sp<RawToleration>>>,
    /// Total work, as run time at full gang (> 0).
    pub work: Opt<DurationText>,
    /// Checkpoint interval of work (> 0). Default: never checkpoints.
    pub checkpoint_interval: Opt<DurationText>,
    /// Time one checkpoint takes. Default 0s.
    pub checkpoint_cost: Opt<DurationText>,
    /// Time from all workers bound to progress. Default 0s.
    pub restart_overhead: Opt<DurationText>,
    /// Restarts allowed before the job fails. Default 6.
    #[schemars(range(min = 0, max = 4_294_967_295_i64))]
    pub backoff_limit: Opt<i64>,
    /// Pod priority. Default 0.
    #[schemars(range(min = -2_147_483_648_i64, max = 2_147_483_647))]
    pub priority: Opt<i64>,
}

/// A workload imported from a trace file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["format", "path"]))]
#[schemars(rename = "Trace")]
pub(crate) struct RawTrace {
    /// `alibaba-openb` or `philly`.
    #[schemars(schema_with = "schema::trace_format")]
    pub format: Opt<String>,
    /// Path relative to the data directory.
    pub path: Opt<String>,
    /// `replay` (default) or `arrivals-only`.
    #[schemars(schema_with = "schema::trace_mode")]
    #[serde(default)]
    pub mode: Opt<String>,
    /// Keep records submitted at or after this trace time. Default 0s.
    pub start: Opt<DurationText>,
    /// Keep records submitted before this trace time. Default: no end.
    pub end: Opt<DurationText>,
    /// Keep at most this many records. Default: all.
    #[schemars(range(min = 1))]
    pub limit: Opt<i64>,
    /// Keep each record with this probability (0–1]. Default 1.
    #[schemars(range(min = 0, max = 1))]
    pub sample: Opt<f64>,
    /// Multiplies inter-arrival times and durations (> 0). Default 1.
    #[schemars(range(min = 0))]
    pub time_scale: Opt<f64>,
    /// Arrivals-only: shuffle pods with the seed. Default true in arrivals-only mode.
    pub shuffle: Opt<bool>,
    /// Arrivals-only: resample until GPU requests reach this fraction of capacity (> 0).
    #[schemars(range(min = 0))]
    pub inflate_to: Opt<f64>,
    /// Arrivals-only: time between arrivals. Default 1s.
    pub inter_arrival: Opt<DurationText>,
    /// Philly: GPUs per worker pod (1–64). Default 8.
    #[schemars(range(min = 1, max = 64))]
    pub gpus_per_worker: Opt<i64>,
    /// Philly: CPU per GPU. Default 4.
    pub cpu_per_gpu: Opt<CpuText>,
    /// Philly: memory per GPU. Default 32Gi.
    pub memory_per_gpu: Opt<MemoryText>,
    /// Checkpoint interval (> 0). Default: never.
    pub checkpoint_interval: Opt<DurationText>,
    /// Checkpoint cost. Default 0s.
    pub checkpoint_cost: Opt<DurationText>,
    /// Restart overhead. Default 0s.
    pub restart_overhead: Opt<DurationText>,
    /// Backoff limit. Default 6.
    #[schemars(range(min = 0, max = 4_294_967_295_i64))]
    pub backoff_limit: Opt<i64>,
    /// Pod priority. Default 0.
    #[schemars(range(min = -2_147_483_648_i64, max = 2_147_483_647))]
    pub priority: Opt<i64>,
}

/// Failures.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Failures")]
pub(crate) struct RawFailures {
    /// Failures at fixed times.
    pub scheduled: Option<Vec<Sp<RawScheduledFailure>>>,
    /// Independent exponential failures.
    pub random: Opt<RawRandom>,
}

/// A failure at a fixed time; exactly one of `node`, `gpu`, `pool`, `zone`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "required" = ["at"],
    "oneOf" = [
        {"required": ["node"]}, {"required": ["gpu"]}, {"required": ["pool"]}, {"required": ["zone"]}
    ]
))]
#[schemars(rename = "ScheduledFailure")]
pub(crate) struct RawScheduledFailure {
    /// When it happens.
    pub at: Opt<DurationText>,
    /// A node name (`<pool>-<index>`).
    pub node: Opt<String>,
    /// One GPU of a node.
    pub gpu: Opt<RawGpuTarget>,
    /// Every node of a pool.
    pub pool: Opt<String>,
    /// Every node of a zone.
    pub zone: Opt<String>,
    /// Time until repaired. Default: never.
    pub repair_after: Opt<DurationText>,
}

/// One GPU of one node.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["node", "index"]))]
#[schemars(rename = "GpuTarget")]
pub(crate) struct RawGpuTarget {
    /// Node name.
    pub node: Opt<String>,
    /// Device index (0-based).
    #[schemars(range(min = 0, max = 63))]
    pub index: Opt<i64>,
}

/// Independent exponential failures of nodes and GPUs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["repairTime"]))]
#[schemars(rename = "Random")]
pub(crate) struct RawRandom {
    /// Mean time between non-GPU failures of one node. Default: none.
    pub node_mtbf: Opt<DurationText>,
    /// Mean time between failures of one GPU. Default: none.
    pub gpu_mtbf: Opt<DurationText>,
    /// Repair time distribution.
    #[schemars(schema_with = "schema::duration_dist")]
    pub repair_time: Opt<RawDist>,
    /// Failures start after this time. Default 0s.
    pub start: Opt<DurationText>,
}

/// A duration distribution; which fields apply depends on `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawDist {
    pub kind: Opt<String>,
    pub value: Opt<DurationText>,
    pub mean: Opt<DurationText>,
    pub min: Opt<DurationText>,
    pub max: Opt<DurationText>,
    pub median: Opt<DurationText>,
    pub p95: Opt<DurationText>,
}

/// The schema of a string with a fixed set of values (used by [`crate::schema`]).
pub(crate) fn string_enum(values: &[&str], description: &str) -> Schema {
    json_schema!({ "type": "string", "enum": values, "description": description })
}
