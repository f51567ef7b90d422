//! Metrics collected during a run and the report built from them.

use drydock_core::frag::Fragmentation;
use drydock_core::{Cluster, SimTime};
use serde::Serialize;

use crate::model::{FailureCause, Job, JobStatus};

/// The most samples a time series keeps; past it, the series is thinned and the sampling
/// interval doubled, so memory stays bounded whatever the interval and horizon.
pub const MAX_SAMPLES: usize = 100_000;

/// One row of the time series (`timeseries.csv`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Virtual time in seconds.
    pub time_s: f64,
    /// GPUs allocated (milli-GPU / 1000).
    pub allocated_gpus: f64,
    /// Allocated GPUs over total GPU capacity (0–1).
    pub gpu_allocation: f64,
    /// Pods waiting to be scheduled.
    pub pending_pods: u64,
    /// Jobs waiting in the queue.
    pub pending_jobs: u64,
    /// Jobs with pods bound.
    pub running_jobs: u64,
    /// Nodes up.
    pub ready_nodes: u64,
    /// GPU fragmentation ratio over Ready nodes (FGD study definition, 0–1).
    pub fragmentation: f64,
    /// Jobs arrived so far (cumulative).
    pub jobs_submitted: u64,
    /// Jobs completed so far (cumulative).
    pub jobs_completed: u64,
    /// Jobs failed so far (cumulative).
    pub jobs_failed: u64,
    /// Gang restarts after failures so far (cumulative).
    pub restarts: u64,
    /// Jobs preempted so far (cumulative).
    pub preemptions: u64,
    /// Nodes taken down by failures of any cause so far: host, GPU, pool or zone outage
    /// (cumulative).
    pub node_outages: u64,
    /// Nodes billed now over all pools (provisioning, Ready or down).
    pub nodes: u64,
    /// Dollars spent so far: node-hours times each pool's price (cumulative).
    pub cost_dollars: f64,
    /// Columns after the fixed ones, as `(name, value)`: nodes per pool when nodes come and
    /// go, and each inference service's traffic, replicas, latency and SLO attainment
    /// (filled by [`crate::report::timeseries`]; not serialized with the fixed fields).
    #[serde(skip)]
    pub extra: Vec<(String, f64)>,
    /// Nodes billed per pool (index = pool) at this sample.
    #[serde(skip)]
    pub pool_nodes: Vec<u64>,
}

/// Node time of one pool: nodes that exist now (provisioning, Ready or down; billed from the
/// cloud request until deletion) and the node-time integral.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolMeter {
    /// Pool name.
    pub name: String,
    /// Nodes billed now.
    pub nodes: u64,
    /// Most nodes billed at once.
    pub peak_nodes: u64,
    /// ∫ nodes dt, in node·µs.
    pub node_us: u128,
    /// Dollars per node-hour.
    pub price_per_node_hour: f64,
}

/// Counters and accumulators updated by the engine.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Total GPU capacity in milli-GPU.
    pub capacity_milli: u64,
    /// Most GPU capacity at once, in milli-GPU.
    pub peak_capacity_milli: u64,
    /// ∫ GPU capacity dt, in milli-GPU·µs (capacity changes as the Cluster Autoscaler adds and
    /// removes nodes).
    pub capacity_area: u128,
    /// Node time per pool, for node-hours and cost.
    pub pools: Vec<PoolMeter>,
    /// Allocated milli-GPU now.
    pub alloc_milli: u64,
    /// Peak allocated milli-GPU.
    pub peak_alloc_milli: u64,
    /// ∫ allocated milli-GPU dt, in milli-GPU·µs.
    pub alloc_area: u128,
    /// Time of the last allocation change.
    pub last_change: SimTime,
    /// Arrived GPU requests in milli-GPU (placed or not).
    pub arrived_gpu_milli: u64,
    /// Jobs in flight (arrived, not finished or failed).
    pub in_flight_jobs: u64,
    /// Jobs with at least one pod bound.
    pub bound_jobs: u64,
    /// Completed jobs.
    pub completed: u64,
    /// Failed jobs (backoff limit).
    pub failed_backoff: u64,
    /// Failed jobs (unschedulable, one attempt).
    pub failed_unschedulable: u64,
    /// Failed (unschedulable) pods by class: sharing, whole-GPU, CPU-only.
    pub failed_by_class: [u64; 3],
    /// Job completion times in µs.
    pub jct_us: Vec<u64>,
    /// Queueing delays (arrival to first start) in µs.
    pub queueing_delay_us: Vec<u64>,
    /// Node failures by cause: node, gpu, pool, zone.
    pub failures: [u64; 4],
    /// Restarts after failures.
    pub restarts: u64,
    /// Preemptions (victim jobs).
    pub preemptions: u64,
    /// Jobs evicted by the Cluster Autoscaler's scale-down drains.
    pub scale_down_evictions: u64,
    /// Jobs evicted by spot interruptions.
    pub spot_evictions: u64,
    /// Spot nodes interrupted.
    pub spot_interruptions: u64,
    /// Nodes that registered after a scale-up.
    pub nodes_registered: u64,
    /// Nodes deleted (scale-down or spot).
    pub nodes_deleted: u64,
    /// Requested nodes the autoscaler gave up on (never registered).
    pub provision_failures: u64,
    /// Provisioning times (request to Ready) of registered nodes, in µs.
    pub provisioning_us: Vec<u64>,
    /// Permit-wait gang timeouts.
    pub gang_timeouts: u64,
    /// Work lost since the last checkpoint at failures, in GPU·µs.
    pub lost_work_gpu_us: u128,
    /// Time gangs held GPUs while stalled, in GPU·µs.
    pub idle_held_gpu_us: u128,
    /// Restart overhead, in GPU·µs.
    pub restart_overhead_gpu_us: u128,
    /// Work lost to preemption, in GPU·µs.
    pub preemption_lost_gpu_us: u128,
    /// Restart overhead after preemptions, in GPU·µs.
    pub preemption_overhead_gpu_us: u128,
    /// Time series.
    pub samples: Vec<Sample>,
    /// Sum of fragmentation ratios over samples (for the mean).
    frag_sum: f64,
    /// Latest fragmentation.
    pub last_frag: Fragmentation,
    /// Allocation-vs-arrived curve: per whole percent of arrived GPU (index), the sum of
    /// allocation ratios observed and their count.
    pub alloc_curve: Vec<(f64, u64)>,
    /// Fragmentation-vs-arrived curve: per whole percent of arrived GPU (index), the
    /// fragmentation ratio observed at the first curve point in that bucket (`None` for
    /// buckets no point fell in). Filled by the engine in arrivals-only runs.
    pub frag_curve: Vec<Option<f64>>,
    /// End of the run.
    pub end: SimTime,
    /// The run stopped at the 10-year horizon with work left (no `spec.duration` was set).
    pub horizon_reached: bool,
}

impl Metrics {
    /// Empty metrics for `cluster`.
    pub fn new(cluster: &Cluster) -> Self {
        let mut pools: Vec<PoolMeter> = cluster
            .pools
            .iter()
            .map(|p| PoolMeter {
                name: p.name.clone(),
                price_per_node_hour: p.price_per_node_hour,
                ..Default::default()
            })
            .collect();
        for n in &cluster.nodes {
            if let Some(p) = pools.get_mut(n.pool.0 as usize) {
                p.nodes += 1;
                p.peak_nodes = p.nodes;
            }
        }
        Metrics {
            capacity_milli: cluster.gpu_capacity_milli(),
            peak_capacity_milli: cluster.gpu_capacity_milli(),
            pools,
            ..Default::default()
        }
    }

    /// Jobs in flight.
    pub fn in_flight(&self) -> u64 {
        self.in_flight_jobs
    }

    fn advance(&mut self, now: SimTime) {
        let dt = now.0.saturating_sub(self.last_change.0);
        if dt > 0 {
            self.alloc_area += self.alloc_milli as u128 * dt as u128;
            self.capacity_area += self.capacity_milli as u128 * dt as u128;
            for p in &mut self.pools {
                p.node_us += p.nodes as u128 * dt as u128;
            }
        }
        self.last_change = self.last_change.max(now);
    }

    /// A node of `pool` starts being billed at `now` (the cloud request of a scale-up).
    pub fn node_billed(&mut self, now: SimTime, pool: usize) {
        self.advance(now);
        if let Some(p) = self.pools.get_mut(pool) {
            p.nodes += 1;
            p.peak_nodes = p.peak_nodes.max(p.nodes);
        }
    }

    /// A node of `pool` stops being billed at `now` (deleted, or its provisioning failed).
    pub fn node_unbilled(&mut self, now: SimTime, pool: usize) {
        self.advance(now);
        if let Some(p) = self.pools.get_mut(pool) {
            p.nodes = p.nodes.saturating_sub(1);
        }
    }

    /// GPU capacity changes by `delta_milli` at `now` (a node registered or was deleted).
    pub fn capacity_changed(&mut self, now: SimTime, delta_milli: i64) {
        self.advance(now);
        self.capacity_milli = self.capacity_milli.saturating_add_signed(delta_milli);
        self.peak_capacity_milli = self.peak_capacity_milli.max(self.capacity_milli);
    }

    /// A pod holding `milli` GPU was bound at `now`.
    pub fn pod_bound_at(&mut self, now: SimTime, milli: u64) {
        self.advance(now);
        self.alloc_milli += milli;
        self.peak_alloc_milli = self.peak_alloc_milli.max(self.alloc_milli);
    }

    /// A pod holding `milli` GPU was unbound at `now`.
    pub fn pod_unbound_at(&mut self, now: SimTime, milli: u64) {
        self.advance(now);
        self.alloc_milli = self.alloc_milli.saturating_sub(milli);
    }

    /// A job completed.
    pub fn job_completed(&mut self, job: &Job, _s: &JobStatus, now: SimTime) {
        self.completed += 1;
        self.in_flight_jobs = self.in_flight_jobs.saturating_sub(1);
        self.jct_us.push(now.since(job.arrival).0);
    }

    /// A job failed.
    pub fn job_failed(&mut self, job: &Job, s: &JobStatus) {
        self.in_flight_jobs = self.in_flight_jobs.saturating_sub(1);
        match s.fail_reason {
            Some(crate::model::FailReason::Unschedulable) => {
                self.failed_unschedulable += 1;
                // Class of the (single) pod, as the study books failed pods.
                let class = if job.gpu_milli == 0 {
                    2
                } else if job.gpu_milli < 1000 && job.workers == 1 {
                    0
                } else {
                    1
                };
                self.failed_by_class[class] += 1;
            }
            _ => self.failed_backoff += 1,
        }
    }

    /// A node failed.
    pub fn failure(&mut self, cause: FailureCause) {
        let i = match cause {
            FailureCause::Node => 0,
            FailureCause::Gpu => 1,
            FailureCause::Pool => 2,
            FailureCause::Zone => 3,
        };
        self.failures[i] += 1;
    }

    /// Records the allocation against arrived GPU after a scheduling attempt. Returns the
    /// bucket (whole percent of arrived GPU over capacity) when this is the first point in it,
    /// so the caller can record the fragmentation there ([`Metrics::record_frag_point`]).
    pub fn record_curve_point(&mut self) -> Option<usize> {
        if self.capacity_milli == 0 {
            return None;
        }
        let pct = (self.arrived_gpu_milli as f64 * 100.0 / self.capacity_milli as f64).round();
        let idx = pct.clamp(0.0, 1000.0) as usize;
        if self.alloc_curve.len() <= idx {
            self.alloc_curve.resize(idx + 1, (0.0, 0));
        }
        let ratio = self.alloc_milli as f64 / self.capacity_milli as f64;
        self.alloc_curve[idx].0 += ratio;
        self.alloc_curve[idx].1 += 1;
        (self.alloc_curve[idx].1 == 1).then_some(idx)
    }

    /// Records the fragmentation ratio (0–1) observed at the first curve point of `bucket`.
    pub fn record_frag_point(&mut self, bucket: usize, ratio: f64) {
        if self.frag_curve.len() <= bucket {
            self.frag_curve.resize(bucket + 1, None);
        }
        self.frag_curve[bucket] = Some(ratio);
    }

    /// Takes a time-series sample.
    pub fn sample(
        &mut self,
        now: SimTime,
        frag: Fragmentation,
        pending_pods: u64,
        pending_jobs: u64,
        ready_nodes: u64,
    ) {
        let alloc = if self.capacity_milli == 0 {
            0.0
        } else {
            self.alloc_milli as f64 / self.capacity_milli as f64
        };
        self.advance(now);
        let ratio = frag.ratio();
        let failed = self.failed_backoff + self.failed_unschedulable;
        self.frag_sum += ratio;
        self.last_frag = frag;
        // Replace a sample at the same instant (the closing sample may coincide).
        if self
            .samples
            .last()
            .is_some_and(|s| s.time_s == now.as_secs_f64())
            && let Some(s) = self.samples.pop()
        {
            self.frag_sum -= s.fragmentation;
        }
        self.samples.push(Sample {
            time_s: now.as_secs_f64(),
            allocated_gpus: self.alloc_milli as f64 / 1000.0,
            gpu_allocation: alloc,
            pending_pods,
            pending_jobs,
            running_jobs: self.bound_jobs,
            ready_nodes,
            fragmentation: ratio,
            jobs_submitted: self.in_flight_jobs + self.completed + failed,
            jobs_completed: self.completed,
            jobs_failed: failed,
            restarts: self.restarts,
            preemptions: self.preemptions,
            node_outages: self.failures.iter().sum(),
            nodes: self.pools.iter().map(|p| p.nodes).sum(),
            cost_dollars: self.cost_so_far(),
            extra: Vec::new(),
            pool_nodes: self.pools.iter().map(|p| p.nodes).collect(),
        });
    }

    /// Keeps the time series bounded: once it holds [`MAX_SAMPLES`] samples, every other one is
    /// dropped and the caller doubles its sampling interval. Returns true when it thinned.
    pub fn thin_if_full(&mut self) -> bool {
        if self.samples.len() < MAX_SAMPLES {
            return false;
        }
        let mut i = 0usize;
        self.samples.retain(|_| {
            i += 1;
            (i - 1).is_multiple_of(2)
        });
        self.frag_sum = self.samples.iter().map(|s| s.fragmentation).sum();
        true
    }

    /// Mean fragmentation ratio over samples.
    pub fn mean_fragmentation(&self) -> f64 {
        if self.samples.is_empty() {
            0.0
        } else {
            self.frag_sum / self.samples.len() as f64
        }
    }

    /// Dollars spent up to the last accounted instant: Σ over pools of node-hours × price.
    pub fn cost_so_far(&self) -> f64 {
        self.pools
            .iter()
            .map(|p| p.node_us as f64 / 3.6e9 * p.price_per_node_hour)
            .sum()
    }

    /// Closes the books at the end of the run.
    pub fn close(&mut self, now: SimTime) {
        self.advance(now);
        self.end = now;
    }
}
