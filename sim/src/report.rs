//! The run report: `summary.json`, the time series and the per-job table.

use bevy_ecs::prelude::World;
use drydock_core::SimDuration;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::metrics::Sample;
use crate::model::{Job, JobName, JobStatus, Phase};

/// Version of the summary's layout; bumped on any incompatible change.
pub const SUMMARY_VERSION: u32 = 1;

/// Percentiles of a distribution of durations, in seconds (nearest-rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Percentiles {
    /// Number of values.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// Nearest-rank percentiles of `values_us` (microseconds), reported in seconds.
pub fn percentiles(values_us: &[u64]) -> Percentiles {
    if values_us.is_empty() {
        return Percentiles::default();
    }
    let mut v = values_us.to_vec();
    v.sort_unstable();
    let rank = |p: f64| {
        let r = ((p / 100.0) * v.len() as f64).ceil() as usize;
        SimDuration(v[r.clamp(1, v.len()) - 1]).as_secs_f64()
    };
    let sum: u128 = v.iter().map(|&x| x as u128).sum();
    Percentiles {
        count: v.len() as u64,
        mean: (sum as f64 / v.len() as f64) / 1e6,
        p50: rank(50.0),
        p95: rank(95.0),
        p99: rank(99.0),
        max: SimDuration(v[v.len() - 1]).as_secs_f64(),
    }
}

/// Job counts at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobCounts {
    /// Jobs in the scenario.
    pub total: u64,
    /// Jobs that arrived (were submitted) before the end.
    pub submitted: u64,
    /// Finished their work.
    pub completed: u64,
    /// Failed (backoff limit exceeded, or unschedulable at their one attempt).
    pub failed: u64,
    /// Of the failed: unschedulable at their single attempt (arrivals-only traces).
    pub failed_unschedulable: u64,
    /// Failed unschedulable pods by class: sharing, whole-GPU, CPU-only.
    pub failed_by_class: [u64; 3],
    /// Waiting in the queue (or in restart backoff) at the end.
    pub pending: u64,
    /// Running (or stalled, or terminating) at the end.
    pub running: u64,
}

/// GPU usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuReport {
    /// GPU capacity at the end of the run (GPUs).
    pub capacity: f64,
    /// Most GPU capacity at once (GPUs; moves with cluster autoscaling).
    pub capacity_peak: f64,
    /// Time-weighted mean of allocated / capacity over the run (0–1).
    pub allocation_mean: f64,
    /// Peak allocated GPUs.
    pub allocated_peak: f64,
    /// Allocated GPUs at the end.
    pub allocated_end: f64,
    /// Mean over samples of the fragmentation ratio (FGD study definition, 0–1).
    pub fragmentation_mean: f64,
    /// Fragmentation ratio at the end.
    pub fragmentation_end: f64,
    /// Fragmented GPUs at the end (fragmentation amount / 1000).
    pub fragmented_gpus_end: f64,
    /// Arrived GPU requests over capacity (0–∞), for arrivals-only runs.
    pub arrived_over_capacity: f64,
}

/// Failures and their cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailureReport {
    /// Node failures (host causes).
    pub node_failures: u64,
    /// GPU failures (each took its node out).
    pub gpu_failures: u64,
    /// Nodes lost to pool outages.
    pub pool_outage_nodes: u64,
    /// Nodes lost to zone outages.
    pub zone_outage_nodes: u64,
    /// Gang restarts after failures.
    pub restarts: u64,
    /// Jobs preempted.
    pub preemptions: u64,
    /// Permit-wait gang timeouts.
    pub gang_timeouts: u64,
    /// GPU-hours of work lost since the last checkpoint.
    pub lost_work_gpu_hours: f64,
    /// GPU-hours gangs held while stalled, waiting for Kubernetes to evict their pods.
    pub idle_held_gpu_hours: f64,
    /// GPU-hours spent in restart overhead.
    pub restart_overhead_gpu_hours: f64,
    /// Total GPU-hours lost to failures (the three above).
    pub gpu_hours_lost: f64,
    /// GPU-hours of work lost to preemption (work since the last checkpoint).
    pub preemption_lost_gpu_hours: f64,
    /// GPU-hours spent in restart overhead after preemptions.
    pub preemption_restart_overhead_gpu_hours: f64,
}

/// Cost of one pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoolCost {
    /// Pool name.
    pub pool: String,
    /// Nodes at the end of the run.
    pub nodes: u64,
    /// Most nodes at once (equal to `nodes` without cluster autoscaling).
    pub peak_nodes: u64,
    /// Node-hours: ∫ nodes dt, nodes billed from the cloud request of a scale-up until
    /// deletion.
    pub node_hours: f64,
    /// Dollars per node-hour.
    pub price_per_node_hour: f64,
    /// Dollars.
    pub cost: f64,
}

/// Cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CostReport {
    /// Node-hours over all pools.
    pub node_hours: f64,
    /// Dollars over all pools.
    pub total: f64,
    /// Dollars per hour of virtual time.
    pub per_hour: f64,
    /// Per pool.
    pub pools: Vec<PoolCost>,
}

/// Requests dropped by an inference service, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DroppedRequests {
    /// The chosen replica's queue was full.
    pub queue_full: u64,
    /// Waited past the queue timeout.
    pub timeout: u64,
    /// Held by a replica that was lost (node failure, eviction, grace period over).
    pub replica_lost: u64,
    /// No Ready replica (the service-level queue was full or timed out).
    pub no_endpoint: u64,
    /// All of the above.
    pub total: u64,
}

/// One inference service over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceReport {
    /// Service name.
    pub name: String,
    /// Requests that arrived.
    pub requests: u64,
    /// Requests that completed.
    pub completed: u64,
    /// Requests dropped, by cause.
    pub dropped: DroppedRequests,
    /// Requests still queued or in service at the end (`requests = completed + dropped +
    /// in_flight`).
    pub in_flight: u64,
    /// End-to-end latency of completed requests, in seconds.
    pub latency: Percentiles,
    /// Time to first token (LLM services), in seconds; empty otherwise.
    pub ttft: Percentiles,
    /// Time per output token (LLM services), in seconds; empty otherwise.
    pub tpot: Percentiles,
    /// Fraction of finished requests (completed or dropped) that met every SLO the service
    /// sets (0–1); 1 when nothing finished.
    pub slo_attainment: f64,
    /// Replicas (Deployment `spec.replicas`) at the end.
    pub replicas_end: u32,
    /// Most replica pods at once.
    pub replicas_peak: u32,
    /// Time-weighted mean of replica pods.
    pub replicas_mean: f64,
    /// Ready replicas at the end.
    pub ready_end: u32,
    /// Cold starts (pod bound to Ready: image pull and model load), in seconds.
    pub cold_start: Percentiles,
    /// GPU-hours the service's replica pods held.
    pub gpu_hours: f64,
    /// The service's end-to-end latency SLO in seconds, if it sets one.
    pub latency_slo_s: Option<f64>,
    /// The cluster's cost per million completed requests of all services, in dollars
    /// (`cost.total / completed requests × 10⁶`; the whole cluster's cost, training included).
    pub cost_per_million_requests: f64,
}

/// Cluster autoscaling and spot interruptions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoscalingReport {
    /// Nodes that registered after a scale-up (or a spot replacement).
    pub nodes_registered: u64,
    /// Nodes deleted (scale-down or spot interruption).
    pub nodes_deleted: u64,
    /// Requested nodes that never came (stockouts) and were given up after
    /// `maxNodeProvisionTime`.
    pub provision_failures: u64,
    /// Time from the scale-up request to the node Ready, of registered nodes.
    pub provisioning_time: Percentiles,
    /// Spot nodes interrupted.
    pub spot_interruptions: u64,
    /// Jobs and replicas evicted by scale-down drains.
    pub scale_down_evictions: u64,
    /// Jobs and replicas evicted by spot interruptions.
    pub spot_evictions: u64,
    /// Every scale decision (HPA, Cluster Autoscaler, cloud), in time order.
    pub decisions: Vec<crate::engine::fleet::ScaleDecision>,
}

impl CostReport {
    /// Totals over `pools` for a run of `hours` of virtual time: node-hours and dollars summed,
    /// dollars per hour the total over `hours` (the pools' current hourly rate for a run of no
    /// length).
    pub fn from_pools(pools: Vec<PoolCost>, hours: f64) -> CostReport {
        let total: f64 = pools.iter().map(|p| p.cost).sum();
        CostReport {
            node_hours: pools.iter().map(|p| p.node_hours).sum(),
            total,
            per_hour: if hours > 0.0 {
                total / hours
            } else {
                pools
                    .iter()
                    .map(|p| p.nodes as f64 * p.price_per_node_hour)
                    .sum()
            },
            pools,
        }
    }
}

/// One point of the allocation-vs-arrived curve (arrivals-only runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Arrived GPU requests as a whole percent of capacity.
    pub arrived_pct: u32,
    /// Mean allocation ratio observed in that bucket (0–1).
    pub allocation: f64,
    /// Number of observations (scheduling cycles) in that bucket.
    #[serde(default)]
    pub samples: u64,
}

/// One point of the fragmentation-vs-arrived curve (arrivals-only runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FragPoint {
    /// Arrived GPU requests as a whole percent of capacity.
    pub arrived_pct: u32,
    /// GPU fragmentation ratio (FGD study definition, 0–1) over Ready nodes, observed right
    /// after the first scheduling attempt whose arrivals reached this bucket.
    pub fragmentation: f64,
}

/// The value of a per-percent curve at each whole percent `0..=max`, by the FGD study's rule
/// (`experiments/analysis/merge_alloc_discrete.py`, kubernetes-semantics.md §10.4): the mean
/// of the observations in the bucket; for an empty bucket, the mean of the observations in
/// the buckets one below and one above; if those are empty too, the previous percent's value
/// (0 before the first observation). `points` are `(percent, mean, observations)`.
///
/// ```
/// use drydock_sim::report::curve_by_percent;
/// let v = curve_by_percent(&[(2, 0.5, 1), (5, 0.7, 3)], 7);
/// assert_eq!(v, [0.0, 0.5, 0.5, 0.5, 0.7, 0.7, 0.7, 0.7]);
/// ```
pub fn curve_by_percent(points: &[(u32, f64, u64)], max: u32) -> Vec<f64> {
    let at = |pct: i64| -> Option<(f64, u64)> {
        points
            .iter()
            .find(|p| i64::from(p.0) == pct && p.2 > 0)
            .map(|p| (p.1, p.2))
    };
    let mut out = Vec::with_capacity(max as usize + 1);
    let mut prev = 0.0;
    for pct in 0..=i64::from(max) {
        let v = match (at(pct), at(pct - 1), at(pct + 1)) {
            (Some((mean, _)), _, _) => mean,
            (None, Some((a, na)), Some((b, nb))) => {
                (a * na as f64 + b * nb as f64) / (na + nb) as f64
            }
            (None, Some((mean, _)), None) | (None, None, Some((mean, _))) => mean,
            (None, None, None) => prev,
        };
        out.push(v);
        prev = v;
    }
    out
}

/// The whole summary (`summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Layout version.
    pub version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Placement policy.
    pub policy: String,
    /// Nodes.
    pub nodes: u64,
    /// Virtual time at the end, in seconds.
    pub virtual_time_s: f64,
    /// Events processed.
    pub events: u64,
    /// Jobs.
    pub jobs: JobCounts,
    /// Job completion time (arrival to completion) of completed jobs.
    pub jct: Percentiles,
    /// Queueing delay (arrival to first start) of started jobs.
    pub queueing_delay: Percentiles,
    /// GPUs.
    pub gpu: GpuReport,
    /// Failures.
    pub failures: FailureReport,
    /// Cost.
    pub cost: CostReport,
    /// Cluster autoscaling, spot interruptions and the scale decision log (empty when nodes
    /// never come and go).
    pub autoscaling: AutoscalingReport,
    /// Inference services, in scenario order (empty without services).
    pub services: Vec<ServiceReport>,
    /// Allocation vs arrived workload, per whole percent (arrivals-only runs; empty otherwise).
    pub allocation_curve: Vec<CurvePoint>,
    /// Fragmentation vs arrived workload, per whole percent (arrivals-only runs; empty
    /// otherwise).
    pub fragmentation_curve: Vec<FragPoint>,
    /// SHA-256 of the event log (every event and every bind decision), hex.
    pub event_log_sha256: String,
    /// True when the run stopped at drydock's 10-year horizon with work left (the scenario set
    /// no `duration`): the report then covers only the first 10 years.
    pub horizon_reached: bool,
}

/// One row of `jobs.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    /// Job name.
    pub name: String,
    /// Workers.
    pub workers: u32,
    /// GPUs over the gang.
    pub gpus: f64,
    /// Priority.
    pub priority: i32,
    /// Arrival in seconds.
    pub arrival_s: f64,
    /// First start in seconds (empty if never started).
    pub start_s: Option<f64>,
    /// Completion or failure in seconds.
    pub end_s: Option<f64>,
    /// Final phase.
    pub phase: Phase,
    /// Restarts after failures.
    pub restarts: u32,
    /// Preemptions.
    pub preemptions: u32,
}

/// Each pool's cost from the meters of `m` (closed at the end of the run with
/// [`crate::metrics::Metrics::close`]): nodes now and at peak, node-hours billed (from each scale-up request
/// until the node's deletion), and dollars at the pool's price per node-hour.
pub fn pool_costs(m: &crate::metrics::Metrics) -> Vec<PoolCost> {
    m.pools
        .iter()
        .map(|p| {
            let node_hours = p.node_us as f64 / 3.6e9;
            PoolCost {
                pool: p.name.clone(),
                nodes: p.nodes,
                peak_nodes: p.peak_nodes,
                node_hours,
                price_per_node_hour: p.price_per_node_hour,
                cost: node_hours * p.price_per_node_hour,
            }
        })
        .collect()
}

/// Builds the summary from the world at the end of a run.
pub fn summary(world: &World, scenario: &str, seed: u64) -> Summary {
    let Some(st) = crate::engine::state(world) else {
        return Summary::default();
    };
    let m = &st.metrics;
    let end = m.end;
    let hours = SimDuration(end.0).as_hours_f64();
    let mut jobs = JobCounts {
        total: st.jobs.len() as u64,
        submitted: st.arrived,
        completed: m.completed,
        failed: m.failed_backoff + m.failed_unschedulable,
        failed_unschedulable: m.failed_unschedulable,
        failed_by_class: m.failed_by_class,
        ..Default::default()
    };
    for &e in &st.jobs {
        if world.get::<Job>(e).is_some_and(|j| j.service.is_some()) {
            jobs.total -= 1;
            jobs.submitted = jobs.submitted.saturating_sub(1);
            continue;
        }
        if let Some(s) = world.get::<JobStatus>(e) {
            match s.phase {
                Phase::Pending | Phase::Backoff | Phase::Holding => jobs.pending += 1,
                Phase::Running | Phase::Stalled | Phase::Terminating => jobs.running += 1,
                _ => {}
            }
        }
    }
    let cap = m.capacity_milli as f64;
    let gpu = GpuReport {
        capacity: cap / 1000.0,
        capacity_peak: m.peak_capacity_milli.max(m.capacity_milli) as f64 / 1000.0,
        allocation_mean: if m.capacity_area > 0 {
            m.alloc_area as f64 / m.capacity_area as f64
        } else if cap > 0.0 {
            m.alloc_milli as f64 / cap
        } else {
            0.0
        },
        allocated_peak: m.peak_alloc_milli as f64 / 1000.0,
        allocated_end: m.alloc_milli as f64 / 1000.0,
        fragmentation_mean: m.mean_fragmentation(),
        fragmentation_end: m.last_frag.ratio(),
        fragmented_gpus_end: m.last_frag.amount_milli / 1000.0,
        arrived_over_capacity: if cap > 0.0 {
            m.arrived_gpu_milli as f64 / cap
        } else {
            0.0
        },
    };
    let gh = |x: u128| x as f64 / 1e6 / 3600.0;
    let lost = gh(m.lost_work_gpu_us);
    let idle = gh(m.idle_held_gpu_us);
    let over = gh(m.restart_overhead_gpu_us);
    let failures = FailureReport {
        node_failures: m.failures[0],
        gpu_failures: m.failures[1],
        pool_outage_nodes: m.failures[2],
        zone_outage_nodes: m.failures[3],
        restarts: m.restarts,
        preemptions: m.preemptions,
        gang_timeouts: m.gang_timeouts,
        lost_work_gpu_hours: lost,
        idle_held_gpu_hours: idle,
        restart_overhead_gpu_hours: over,
        gpu_hours_lost: lost + idle + over,
        preemption_lost_gpu_hours: gh(m.preemption_lost_gpu_us),
        preemption_restart_overhead_gpu_hours: gh(m.preemption_overhead_gpu_us),
    };
    let cost = CostReport::from_pools(pool_costs(m), hours);
    let total = cost.total;
    let allocation_curve = if st.arrivals_only {
        m.alloc_curve
            .iter()
            .enumerate()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(i, (sum, n))| CurvePoint {
                arrived_pct: i as u32,
                allocation: sum / *n as f64,
                samples: *n,
            })
            .collect()
    } else {
        Vec::new()
    };
    let fragmentation_curve = if st.arrivals_only {
        m.frag_curve
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.map(|fragmentation| FragPoint {
                    arrived_pct: i as u32,
                    fragmentation,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let digest = st.log_hash.clone().finalize();
    Summary {
        version: SUMMARY_VERSION,
        scenario: scenario.to_string(),
        seed,
        policy: st.scheduler.config().policy.name().to_string(),
        nodes: st.health.iter().filter(|h| h.up).count() as u64,
        virtual_time_s: SimDuration(end.0).as_secs_f64(),
        events: st.events,
        jobs,
        jct: percentiles(&m.jct_us),
        queueing_delay: percentiles(&m.queueing_delay_us),
        gpu,
        failures,
        cost,
        autoscaling: AutoscalingReport {
            nodes_registered: m.nodes_registered,
            nodes_deleted: m.nodes_deleted,
            provision_failures: m.provision_failures,
            provisioning_time: percentiles(&m.provisioning_us),
            spot_interruptions: m.spot_interruptions,
            scale_down_evictions: m.scale_down_evictions,
            spot_evictions: m.spot_evictions,
            decisions: st.decisions.clone(),
        },
        services: service_reports(st, total),
        allocation_curve,
        fragmentation_curve,
        event_log_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        horizon_reached: m.horizon_reached,
    }
}

fn service_reports(st: &crate::engine::SimState, cost_total: f64) -> Vec<ServiceReport> {
    let completed: u64 = st
        .services
        .iter()
        .map(|s| s.runtime.summary().completed)
        .sum();
    st.services
        .iter()
        .map(|svc| {
            service_report(
                &ServiceTally {
                    name: &svc.name,
                    runtime: &svc.runtime,
                    replicas_end: svc.desired,
                    replicas_peak: svc.peak_replicas,
                    replica_us: svc.replica_us,
                    ready_end: svc.ready_count(),
                    cold_starts_us: &svc.cold_starts_us,
                    gpu_us: svc.gpu_us(),
                    latency_slo: svc.latency_slo(),
                },
                st.metrics.end.0,
                cost_total,
                completed,
            )
        })
        .collect()
}

/// One service's replica accounting over a run, beside its request-level runtime: what
/// [`service_report`] needs from the simulator's engine or from the real-cluster driver.
#[derive(Debug, Clone, Copy)]
pub struct ServiceTally<'a> {
    /// Service name.
    pub name: &'a str,
    /// The service's request-level runtime, advanced to the end of the run.
    pub runtime: &'a crate::serving::ServiceRuntime,
    /// Deployment `spec.replicas` at the end.
    pub replicas_end: u32,
    /// Most replica pods at once.
    pub replicas_peak: u32,
    /// ∫ replica pods dt, in pod·µs of scenario time.
    pub replica_us: u128,
    /// Ready replicas at the end.
    pub ready_end: u32,
    /// Cold starts (bound to Ready), in µs.
    pub cold_starts_us: &'a [u64],
    /// GPU time the replica pods held, in GPU·µs.
    pub gpu_us: u128,
    /// The service's end-to-end latency SLO, if it sets one.
    pub latency_slo: Option<SimDuration>,
}

/// A service's report for a run that ended at `end_us` (scenario µs): requests, drops,
/// latency percentiles, SLO attainment and replica statistics from `t`; cost per million
/// requests from the cluster's total cost `cost_total` (dollars) over the `completed_all`
/// requests completed by every service.
pub fn service_report(
    t: &ServiceTally<'_>,
    end_us: u64,
    cost_total: f64,
    completed_all: u64,
) -> ServiceReport {
    let secs = |p: &Option<crate::serving::Percentiles>| -> Percentiles {
        p.as_ref()
            .map(|p| Percentiles {
                count: p.count,
                mean: p.mean.as_secs_f64(),
                p50: p.p50.as_secs_f64(),
                p95: p.p95.as_secs_f64(),
                p99: p.p99.as_secs_f64(),
                max: p.max.as_secs_f64(),
            })
            .unwrap_or_default()
    };
    let end = end_us.max(1) as f64;
    let sum = t.runtime.summary();
    let d = sum.dropped;
    ServiceReport {
        name: t.name.to_string(),
        requests: sum.arrived,
        completed: sum.completed,
        dropped: DroppedRequests {
            queue_full: d.queue_full,
            timeout: d.timeout,
            replica_lost: d.replica_lost,
            no_endpoint: d.no_endpoint,
            total: d.total(),
        },
        in_flight: sum.in_flight,
        latency: secs(&sum.latency),
        ttft: secs(&sum.ttft),
        tpot: secs(&sum.tpot),
        slo_attainment: sum.slo_attainment.unwrap_or(1.0),
        replicas_end: t.replicas_end,
        replicas_peak: t.replicas_peak,
        replicas_mean: t.replica_us as f64 / end,
        ready_end: t.ready_end,
        cold_start: percentiles(t.cold_starts_us),
        gpu_hours: t.gpu_us as f64 / 3.6e9,
        latency_slo_s: t.latency_slo.map(|d| d.as_secs_f64()),
        cost_per_million_requests: if completed_all > 0 {
            cost_total / completed_all as f64 * 1e6
        } else {
            0.0
        },
    }
}

/// The time series. When nodes come and go, each sample gets a `nodes_<pool>` column per
/// pool; each inference service adds `<service>_requests_per_s` (arrivals in the interval
/// before the sample), `_replicas` (Deployment `spec.replicas`), `_ready_replicas`,
/// `_latency_p50_s`, `_latency_p99_s`, `_ttft_p99_s` (0 when no request completed),
/// `_slo_attainment` (1 when none finished) and `_dropped`.
pub fn timeseries(world: &World) -> Vec<Sample> {
    let Some(st) = crate::engine::state(world) else {
        return Vec::new();
    };
    let mut out = st.metrics.samples.clone();
    let pools: Vec<&str> = st.metrics.pools.iter().map(|p| p.name.as_str()).collect();
    for (i, sample) in out.iter_mut().enumerate() {
        if st.fleet.is_some() {
            for (p, name) in pools.iter().enumerate() {
                let n = sample.pool_nodes.get(p).copied().unwrap_or(0);
                sample.extra.push((format!("nodes_{name}"), n as f64));
            }
        }
        for svc in &st.services {
            let Some(pt) = svc.series.get(i) else {
                continue;
            };
            let p = |x: &Option<crate::serving::Percentiles>,
                     f: fn(&crate::serving::Percentiles) -> SimDuration| {
                x.as_ref().map_or(0.0, |x| f(x).as_secs_f64())
            };
            let n = &svc.name;
            let stats = &pt.stats;
            sample.extra.extend([
                (format!("{n}_requests_per_s"), stats.arrival_rate()),
                (format!("{n}_replicas"), f64::from(pt.desired)),
                (format!("{n}_ready_replicas"), f64::from(pt.ready)),
                (format!("{n}_latency_p50_s"), p(&stats.latency, |x| x.p50)),
                (format!("{n}_latency_p99_s"), p(&stats.latency, |x| x.p99)),
                (format!("{n}_ttft_p99_s"), p(&stats.ttft, |x| x.p99)),
                (
                    format!("{n}_slo_attainment"),
                    stats.slo_attainment.unwrap_or(1.0),
                ),
                (format!("{n}_dropped"), stats.dropped.total() as f64),
            ]);
        }
    }
    out
}

/// The per-job table, in job order.
pub fn job_rows(world: &World) -> Vec<JobRow> {
    let Some(st) = crate::engine::state(world) else {
        return Vec::new();
    };
    st.jobs
        .iter()
        .filter_map(|&e| {
            let j = world.get::<Job>(e).filter(|j| j.service.is_none())?;
            let n = world.get::<JobName>(e)?;
            let s = world.get::<JobStatus>(e)?;
            Some(JobRow {
                name: n.0.to_string(),
                workers: j.workers,
                gpus: j.gpu_milli as f64 / 1000.0,
                priority: j.priority,
                arrival_s: j.arrival.as_secs_f64(),
                start_s: s.first_start.map(|t| t.as_secs_f64()),
                end_s: s.finished.map(|t| t.as_secs_f64()),
                phase: s.phase,
                restarts: s.restarts,
                preemptions: s.preemptions,
            })
        })
        .collect()
}

/// The unit of a summary metric: defined with the metric vocabulary in `drydock-scenarios`,
/// which parses expectations at load time.
pub use drydock_scenarios::expect::MetricUnit;

/// One named scalar of a [`Summary`]: the vocabulary shared by sweeps (tables, confidence
/// intervals) and scenario expectations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// Name, `snake_case` (for example `jct_p95`).
    pub name: &'static str,
    /// Value in the unit's base (seconds, ratio 0–1, dollars, ...).
    pub value: f64,
    /// Unit.
    pub unit: MetricUnit,
    /// One-line description.
    pub help: &'static str,
}

impl Summary {
    /// The allocation ratio (0–1) at each whole percent `0..=max` of arrived GPU, by
    /// [`curve_by_percent`] (empty-bucket rule of the FGD study). All zeros for runs that are
    /// not arrivals-only.
    pub fn allocation_by_percent(&self, max: u32) -> Vec<f64> {
        let pts: Vec<(u32, f64, u64)> = self
            .allocation_curve
            .iter()
            .map(|p| (p.arrived_pct, p.allocation, p.samples.max(1)))
            .collect();
        curve_by_percent(&pts, max)
    }

    /// The fragmentation ratio (0–1) at each whole percent `0..=max` of arrived GPU, by
    /// [`curve_by_percent`], each bucket holding one observation.
    pub fn fragmentation_by_percent(&self, max: u32) -> Vec<f64> {
        let pts: Vec<(u32, f64, u64)> = self
            .fragmentation_curve
            .iter()
            .map(|p| (p.arrived_pct, p.fragmentation, 1))
            .collect();
        curve_by_percent(&pts, max)
    }

    /// Every scalar metric of the summary: one per entry of
    /// [`drydock_scenarios::expect::METRICS`], in that order, with its name, unit and help from
    /// there.
    pub fn metrics(&self) -> Vec<Metric> {
        drydock_scenarios::expect::METRICS
            .iter()
            .filter(|d| !self.services.is_empty() || d.labels.is_empty())
            .filter_map(|d| {
                Some(Metric {
                    name: d.name,
                    value: self.metric_value(d.name)?,
                    unit: d.unit,
                    help: d.help,
                })
            })
            .collect()
    }

    /// The value of an inference service metric (`slo_attainment`, `request_latency_p99`, ...)
    /// for the service called `service`, or aggregated over all services when `None` (SLO
    /// attainment weighted by finished requests; latencies the worst service's; counts and
    /// replicas summed). `None` without services, or for an unknown service or name.
    pub fn service_metric(&self, name: &str, service: Option<&str>) -> Option<f64> {
        let chosen: Vec<&ServiceReport> = self
            .services
            .iter()
            .filter(|s| service.is_none_or(|n| s.name == n))
            .collect();
        if chosen.is_empty() {
            return None;
        }
        let worst = |f: fn(&ServiceReport) -> f64| chosen.iter().map(|s| f(s)).fold(0.0, f64::max);
        let sum = |f: fn(&ServiceReport) -> f64| chosen.iter().map(|s| f(s)).sum::<f64>();
        Some(match name {
            "requests_completed" => sum(|s| s.completed as f64),
            "requests_dropped" => sum(|s| s.dropped.total as f64),
            "slo_attainment" => {
                let finished = sum(|s| (s.completed + s.dropped.total) as f64);
                if finished > 0.0 {
                    sum(|s| s.slo_attainment * (s.completed + s.dropped.total) as f64) / finished
                } else {
                    1.0
                }
            }
            "request_latency_p50" => worst(|s| s.latency.p50),
            "request_latency_p95" => worst(|s| s.latency.p95),
            "request_latency_p99" => worst(|s| s.latency.p99),
            "ttft_p95" => worst(|s| s.ttft.p95),
            "tpot_p95" => worst(|s| s.tpot.p95),
            "replicas_peak" => sum(|s| f64::from(s.replicas_peak)),
            "cost_per_million_requests" => worst(|s| s.cost_per_million_requests),
            _ => return None,
        })
    }

    /// The value of the scalar metric called `name` (see
    /// [`drydock_scenarios::expect::METRICS`]) in its unit's base (seconds, ratio 0–1,
    /// dollars, ...); `None` for a name that is not a metric.
    pub fn metric_value(&self, name: &str) -> Option<f64> {
        Some(match name {
            "jobs_submitted" => self.jobs.submitted as f64,
            "jobs_completed" => self.jobs.completed as f64,
            "jobs_failed" => self.jobs.failed as f64,
            "jobs_pending" => self.jobs.pending as f64,
            "jobs_running" => self.jobs.running as f64,
            "jct_mean" => self.jct.mean,
            "jct_p50" => self.jct.p50,
            "jct_p95" => self.jct.p95,
            "jct_p99" => self.jct.p99,
            "queueing_delay_mean" => self.queueing_delay.mean,
            "queueing_delay_p50" => self.queueing_delay.p50,
            "queueing_delay_p95" => self.queueing_delay.p95,
            "queueing_delay_p99" => self.queueing_delay.p99,
            "gpu_allocation_mean" => self.gpu.allocation_mean,
            "gpu_allocated_peak" => self.gpu.allocated_peak,
            "gpu_allocated_end" => self.gpu.allocated_end,
            "fragmentation_mean" => self.gpu.fragmentation_mean,
            "fragmentation_end" => self.gpu.fragmentation_end,
            "node_failures" => self.failures.node_failures as f64,
            "gpu_failures" => self.failures.gpu_failures as f64,
            "restarts" => self.failures.restarts as f64,
            "preemptions" => self.failures.preemptions as f64,
            "gpu_hours_lost" => self.failures.gpu_hours_lost,
            "preemption_gpu_hours_lost" => self.failures.preemption_lost_gpu_hours,
            "node_hours" => self.cost.node_hours,
            "cost_total" => self.cost.total,
            "cost_per_hour" => self.cost.per_hour,
            "virtual_time" => self.virtual_time_s,
            name if drydock_scenarios::expect::is_service_metric(name) => {
                return self.service_metric(name, None);
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary's metrics are exactly the shared vocabulary, in its order: every name of
    /// `METRICS` has a value, so expectations validated at load time can always be evaluated.
    #[test]
    fn metrics_names_equal_the_shared_table_in_order() {
        let mut s = Summary::default();
        let names: Vec<&str> = s.metrics().iter().map(|m| m.name).collect();
        let plain: Vec<&str> = drydock_scenarios::expect::METRICS
            .iter()
            .filter(|d| d.labels.is_empty())
            .map(|d| d.name)
            .collect();
        assert_eq!(names, plain, "without services, no service metric");
        s.services.push(ServiceReport::default());
        let names: Vec<&str> = s.metrics().iter().map(|m| m.name).collect();
        assert_eq!(names, drydock_scenarios::expect::metric_names());
        for (m, d) in s.metrics().iter().zip(drydock_scenarios::expect::METRICS) {
            assert_eq!((m.unit, m.help), (d.unit, d.help), "{}", m.name);
        }
        assert_eq!(s.metric_value("nope"), None);
    }

    #[test]
    fn metric_values_come_from_the_summary_fields() {
        let mut s = Summary::default();
        s.jct.p95 = 22_260.0;
        s.cost.total = 1830.72;
        s.gpu.allocation_mean = 0.406;
        s.jobs.failed = 2;
        s.virtual_time_s = 43_200.0;
        assert_eq!(s.metric_value("jct_p95"), Some(22_260.0));
        assert_eq!(s.metric_value("cost_total"), Some(1830.72));
        assert_eq!(s.metric_value("gpu_allocation_mean"), Some(0.406));
        assert_eq!(s.metric_value("jobs_failed"), Some(2.0));
        assert_eq!(s.metric_value("virtual_time"), Some(43_200.0));
    }
}

#[cfg(test)]
mod curve_tests {
    use super::*;

    #[test]
    fn empty_buckets_pool_both_neighbours_weighted_by_observations() {
        // Bucket 1 is empty: (0.2 * 1 + 0.5 * 3) / 4 = 0.425.
        let v = curve_by_percent(&[(0, 0.2, 1), (2, 0.5, 3)], 3);
        assert_eq!(v[0], 0.2);
        assert!((v[1] - 0.425).abs() < 1e-12);
        assert_eq!(v[2], 0.5);
        assert_eq!(v[3], 0.5);
    }

    #[test]
    fn a_curve_without_observations_is_zero() {
        assert_eq!(curve_by_percent(&[], 2), [0.0, 0.0, 0.0]);
        let s = Summary::default();
        assert_eq!(s.allocation_by_percent(130).len(), 131);
        assert!(s.fragmentation_by_percent(130).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn summaries_round_trip_through_json() {
        let mut s = Summary::default();
        s.allocation_curve.push(CurvePoint {
            arrived_pct: 3,
            allocation: 0.1 + 0.2,
            samples: 2,
        });
        s.fragmentation_curve.push(FragPoint {
            arrived_pct: 3,
            fragmentation: 1.0 / 3.0,
        });
        s.gpu.allocation_mean = 0.123_456_789_012_345_67;
        let text = serde_json::to_string(&s).expect("serialises");
        let back: Summary = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, s);
    }
}
