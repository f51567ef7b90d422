//! The validated scenario: what [`crate::load`] returns after parsing, checking and applying
//! defaults. Every field is resolved (no `Option` meaning "use the default"); units are fixed:
//! CPU in millicores, memory in MiB, times as [`SimDuration`]/[`SimTime`] (microseconds),
//! prices in dollars per node-hour.

use std::collections::BTreeMap;
use std::path::PathBuf;

use drydock_core::autoscale::ca::CaConfig;
use drydock_core::{PolicyKind, ResourceWeights, SimDuration, SimTime, TaintEffect, TieBreak};
use serde::Serialize;

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.description` (empty if absent).
    pub description: String,
    /// Where it came from (a path, or `builtin:NAME`), for messages.
    pub source: String,
    /// `spec.seed`: the master seed (overridden by `--seed`). Default 1.
    pub seed: u64,
    /// `spec.duration`: virtual time at which the run stops even if work remains. Default
    /// `None`: run until every job has finished or failed and no event is left (with a hard cap
    /// of 10 years of virtual time). With services the default is 24 h (they never finish).
    pub duration: Option<SimDuration>,
    /// `spec.sampleInterval`: time-series sampling interval. Default 5m.
    pub sample_interval: SimDuration,
    /// `spec.cluster`.
    pub cluster: ClusterSpec,
    /// `spec.scheduler`.
    pub scheduler: SchedulerSpec,
    /// `spec.nodeLifecycle`.
    pub node_lifecycle: NodeLifecycleSpec,
    /// `spec.training`: explicitly listed training jobs (each may repeat `count` times).
    pub training: Vec<TrainingJobSpec>,
    /// `spec.traces`: workloads imported from trace files.
    pub traces: Vec<TraceSpec>,
    /// `spec.services`: inference services, in file order. Default none.
    pub services: Vec<crate::serving::ServiceSpec>,
    /// `spec.failures`.
    pub failures: FailureSpec,
    /// `spec.expect`: checks on the run's report, in file order. Default none.
    pub expect: Vec<crate::expect::Expectation>,
}

/// `spec.cluster`: node pools listed inline and/or a node list from a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSpec {
    /// Inline pools, in file order.
    pub pools: Vec<PoolSpec>,
    /// `spec.cluster.nodeTrace`: nodes read from an Alibaba openb node list (each distinct
    /// `(cpu, memory, gpus, model)` shape becomes one pool named `openb-<model>-<gpus>g` or
    /// `openb-cpu`).
    pub node_trace: Option<NodeTraceSpec>,
    /// `spec.cluster.autoscaler`: Cluster Autoscaler flags, upstream defaults when absent. It
    /// runs only when some pool has [`PoolSpec::autoscaling`].
    pub autoscaler: CaConfig,
}

/// `spec.cluster.pools[].autoscaling`: the pool is a Cluster Autoscaler node group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolAutoscaling {
    /// `minNodes`: default 0.
    pub min_nodes: u32,
    /// `maxNodes`: at least `minNodes` and the pool's initial `nodes`.
    pub max_nodes: u32,
    /// `provisioningTime`: from the scale-up request to the node Ready with its GPUs
    /// allocatable. Default log-normal, median 5 min, p95 10 min (kubernetes-semantics.md §7,
    /// suggested simulator default).
    pub provisioning_time: DurationDist,
    /// `stockoutProbability`: chance that a requested node never arrives (0–1). Default 0.
    pub stockout_probability: f64,
    /// `cloudCapacity`: most nodes of this pool the cloud can supply at once; requests past
    /// it never arrive. Default unlimited.
    pub cloud_capacity: Option<u32>,
    /// `priority` for the `priority` expander. Default none.
    pub priority: Option<i32>,
}

/// `spec.cluster.pools[].spot`: spot nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotSpec {
    /// `meanTimeToInterruption`: mean of the exponential time between interruptions of one
    /// node.
    pub mean_time_to_interruption: SimDuration,
    /// `notice`: time between the interruption notice (node cordoned and drained) and the
    /// node's removal. Default 2 min (AWS EC2 spot interruption notice; kubernetes-semantics.md
    /// §3 \[docs\]).
    pub notice: SimDuration,
}

/// `spec.cluster.pools[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolSpec {
    /// Pool name (unique; nodes are named `<pool>-<index>`, index from 0, zero-padded to the
    /// width of the largest index: use [`crate::node_name`]).
    pub name: String,
    /// Number of nodes.
    pub nodes: u32,
    /// GPU model (for example `A100`); `None` for CPU-only pools.
    pub gpu_model: Option<String>,
    /// GPUs per node (0–64).
    pub gpus_per_node: u32,
    /// GPU memory per device in MiB (reported; not a scheduling dimension).
    pub gpu_memory_mib: u64,
    /// Allocatable CPU per node in millicores.
    pub cpu_milli: u64,
    /// Allocatable memory per node in MiB.
    pub memory_mib: u64,
    /// Node labels (besides those drydock adds: `drydock.io/pool`, `nvidia.com/gpu.product`,
    /// `topology.kubernetes.io/zone`).
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<TaintSpec>,
    /// Zones; nodes are spread over them round robin (label `topology.kubernetes.io/zone`).
    /// Empty: no zone label.
    pub zones: Vec<String>,
    /// Price in dollars per node-hour.
    pub price_per_node_hour: f64,
    /// Cluster Autoscaler node group settings; `None`: a fixed pool.
    pub autoscaling: Option<PoolAutoscaling>,
    /// Spot interruptions; `None`: on-demand nodes.
    pub spot: Option<SpotSpec>,
}

/// A taint as written in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaintSpec {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// A toleration as written in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TolerationSpec {
    /// Key; `None` with `operator: Exists` tolerates everything.
    pub key: Option<String>,
    /// `operator: Exists` (true) or `Equal` (false, the default).
    pub exists: bool,
    /// Value (for `Equal`).
    pub value: String,
    /// Effect; `None` matches all.
    pub effect: Option<TaintEffect>,
}

/// `spec.cluster.nodeTrace`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeTraceSpec {
    /// Path relative to the data directory.
    pub path: PathBuf,
    /// Price per node-hour for GPU nodes, per GPU (dollars per GPU-hour × GPUs). Default 0.
    pub price_per_gpu_hour: f64,
    /// Price per node-hour of CPU-only nodes. Default 0.
    pub cpu_node_price_per_hour: f64,
}

/// `spec.scheduler`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchedulerSpec {
    /// `policy`: default `kube-default`.
    pub policy: PolicyKind,
    /// `tieBreak`: default per policy (random for kube profiles, node-name for study ones).
    pub tie_break: TieBreak,
    /// `percentageOfNodesToScore`: default adaptive (`None`) for kube profiles, 100 for study
    /// ones.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// `scoringWeights` (`cpu`, `memory`, `nvidia.com/gpu`): default cpu=1, memory=1, gpu=0
    /// (gpu=1 for binpack).
    pub weights: ResourceWeights,
    /// `cycle`: scheduling cycle period. Default 1s (Volcano `--schedule-period`,
    /// kubernetes-semantics.md §5.2 \[src\]).
    pub cycle: SimDuration,
    /// `preemption`: whether priority preemption is enabled. Default true.
    pub preemption: bool,
    /// `terminationGracePeriod`: how long an evicted (preempted) pod keeps its resources.
    /// Default 30s (§4.4 \[src\]).
    pub termination_grace_period: SimDuration,
    /// `gang.scheduleTimeout`: default 60s (coscheduling `permitWaitingTimeSeconds`, §5.1 \[src\]).
    pub gang_schedule_timeout: SimDuration,
    /// `gang.mode`: default all-or-nothing.
    pub gang_mode: GangMode,
    /// `popularityThreshold`: threshold for FGD's target workload. Default 0.95 (§10.2 \[src\]).
    pub popularity_threshold: f64,
}

/// How gangs hold resources while incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GangMode {
    /// Volcano `gang`: tentative placements of an incomplete gang are discarded in the same
    /// cycle (§5.2 \[src\]).
    AllOrNothing,
    /// Coscheduling Permit: pods that fit are held (reserving their resources) until the rest
    /// of the gang fits or `scheduleTimeout` passes, then all are released (§5.1 \[src\]).
    PermitWait,
}

/// `spec.nodeLifecycle`: node failure detection and eviction (kubernetes-semantics.md §6.1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeLifecycleSpec {
    /// `nodeMonitorGracePeriod`: default 50s (Kubernetes ≥ 1.32; 40s before) \[src\].
    pub node_monitor_grace_period: SimDuration,
    /// `nodeMonitorPeriod`: default 5s \[src\].
    pub node_monitor_period: SimDuration,
    /// `tolerationSeconds` added by DefaultTolerationSeconds for `unreachable`/`not-ready`
    /// NoExecute taints: default 300s \[src\].
    pub toleration_seconds: SimDuration,
}

/// A probability distribution of durations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DurationDist {
    /// Always the same value.
    Fixed {
        /// The value.
        value: SimDuration,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean.
        mean: SimDuration,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower bound.
        min: SimDuration,
        /// Upper bound.
        max: SimDuration,
    },
    /// Log-normal given by its median and 95th percentile (p95 ≥ median).
    LogNormal {
        /// Median.
        median: SimDuration,
        /// 95th percentile.
        p95: SimDuration,
    },
}

/// `spec.training[]`: a training job (a gang of `workers` pods, PodGroup `minMember =
/// workers`), possibly repeated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingJobSpec {
    /// Name; repeated jobs are named `<name>-<k>`.
    pub name: String,
    /// Arrival time of the first copy.
    pub arrival: SimTime,
    /// Number of copies (default 1).
    pub count: u32,
    /// Interval between copies' arrivals (default 0).
    pub interval: SimDuration,
    /// Gang size (workers, each a pod). Default 1.
    pub workers: u32,
    /// Whole GPUs per worker (`nvidia.com/gpu`). Default 1.
    pub gpus_per_worker: u32,
    /// CPU per worker in millicores. Default 1000.
    pub cpu_milli: u64,
    /// Memory per worker in MiB. Default 4096.
    pub memory_mib: u64,
    /// Allowed GPU models (node selector on the GPU model); empty = any.
    pub gpu_models: Vec<String>,
    /// Extra node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: Vec<TolerationSpec>,
    /// Total work as run time at full gang.
    pub work: SimDuration,
    /// Checkpoint interval (of work). `None`: never checkpoints (a failure restarts from zero).
    pub checkpoint_interval: Option<SimDuration>,
    /// Time one checkpoint takes (blocking; progress pauses). Default 0.
    pub checkpoint_cost: SimDuration,
    /// Time from all workers bound to training progress (container start, checkpoint load,
    /// NCCL init). Default 0.
    pub restart_overhead: SimDuration,
    /// Restarts allowed before the job is marked failed. Default 6 (Job `backoffLimit`,
    /// kubernetes-semantics.md §6.2 \[src\]).
    pub backoff_limit: u32,
    /// Pod priority. Default 0.
    pub priority: i32,
}

/// Which trace format a [`TraceSpec`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// Alibaba openb pod list (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,...`).
    AlibabaOpenb,
    /// Philly as preprocessed by Pollux (`timestamp,duration,num_gpus,gpu_time,cluster`).
    Philly,
}

/// How trace workloads arrive and leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceMode {
    /// Arrivals at the trace's submission times (shifted so the first is at 0, then scaled by
    /// `time_scale`), running for the trace's duration.
    Replay,
    /// The FGD study's method (kubernetes-semantics.md §10.4 \[src\]): pods arrive one every
    /// `inter_arrival`, never leave, get one scheduling attempt (a pod that does not fit is
    /// counted failed), optionally shuffled by the seed and inflated by resampling.
    ArrivalsOnly,
}

/// `spec.traces[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSpec {
    /// Format.
    pub format: TraceFormat,
    /// Path relative to the data directory.
    pub path: PathBuf,
    /// Mode. Default replay.
    pub mode: TraceMode,
    /// Keep only records submitted at or after this trace time (relative to the trace's first
    /// submission). Default 0.
    pub start: SimDuration,
    /// Keep only records submitted before this trace time. Default none.
    pub end: Option<SimDuration>,
    /// Keep at most this many records (after windowing). Default none.
    pub limit: Option<u64>,
    /// Keep each record with this probability, drawn from the seeded `trace-sample` stream
    /// (0–1). Default 1.
    pub sample: f64,
    /// Multiplies inter-arrival times and durations (0.5 = twice as fast). Default 1.
    pub time_scale: f64,
    /// Arrivals-only: shuffle pod order with the seed. Default true in arrivals-only mode.
    pub shuffle: bool,
    /// Arrivals-only: resample pods until arrived GPU requests reach this fraction of cluster
    /// GPU capacity (1.3 in the study). Default none (no inflation).
    pub inflate_to: Option<f64>,
    /// Arrivals-only: spacing of arrivals. Default 1s.
    pub inter_arrival: SimDuration,
    /// Philly: GPUs per worker pod; a job of `n` GPUs becomes `ceil(n / g)` pods (the last may
    /// be smaller) forming one gang. Default 8.
    pub gpus_per_worker: u32,
    /// Philly: CPU per GPU in millicores for worker pods. Default 4000.
    pub cpu_per_gpu_milli: u64,
    /// Philly: memory per GPU in MiB. Default 32768.
    pub memory_per_gpu_mib: u64,
    /// Checkpoint interval applied to trace jobs (Philly). Default none.
    pub checkpoint_interval: Option<SimDuration>,
    /// Checkpoint cost. Default 0.
    pub checkpoint_cost: SimDuration,
    /// Restart overhead. Default 0.
    pub restart_overhead: SimDuration,
    /// Backoff limit for trace jobs. Default 6.
    pub backoff_limit: u32,
    /// Priority of trace pods. Default 0.
    pub priority: i32,
}

/// `spec.failures`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FailureSpec {
    /// Scheduled failures, in file order.
    pub scheduled: Vec<ScheduledFailure>,
    /// Random failures; `None` for none.
    pub random: Option<RandomFailures>,
}

/// What a scheduled failure hits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "target", rename_all = "kebab-case")]
pub enum FailureTarget {
    /// One node crashes (kubelet and workload gone).
    Node {
        /// Node name (`<pool>-<index>` or a trace node's name).
        name: String,
    },
    /// One GPU of a node fails; the node is taken out (drained and repaired) with it.
    Gpu {
        /// Node name.
        node: String,
        /// Device index.
        index: u32,
    },
    /// Every node of a pool goes down.
    Pool {
        /// Pool name.
        name: String,
    },
    /// Every node in a zone goes down.
    Zone {
        /// Zone name.
        name: String,
    },
}

/// `spec.failures.scheduled[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledFailure {
    /// When it happens.
    pub at: SimTime,
    /// What fails.
    pub target: FailureTarget,
    /// Time until the nodes are repaired and Ready again; `None`: never.
    pub repair_after: Option<SimDuration>,
}

/// `spec.failures.random`: independent exponential failures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RandomFailures {
    /// Mean time between failures of one node from non-GPU causes; `None`: none.
    pub node_mtbf: Option<SimDuration>,
    /// Mean time between failures of one GPU (a GPU failure takes its node out); `None`: none.
    pub gpu_mtbf: Option<SimDuration>,
    /// Repair time distribution.
    pub repair_time: DurationDist,
    /// Random failures start after this time. Default 0.
    pub start: SimTime,
}
