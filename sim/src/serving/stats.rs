//! Counters and latency statistics of a service: per interval (for `timeseries.csv` rows) and
//! for the whole run.
//!
//! Latencies are recorded in microseconds in HdrHistograms (the `hdrhistogram` crate) with 3
//! significant digits: a reported quantile is within 0.1 % of the exact order statistic
//! (it is the highest value equivalent to it at that precision), and recording is O(1) and
//! deterministic.

use drydock_core::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Requests dropped, by cause (cumulative or per interval, depending on where it appears).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DropCounts {
    /// The chosen replica's queue was full on arrival.
    pub queue_full: u64,
    /// Waited in a replica's queue past the queue timeout.
    pub timeout: u64,
    /// Queued or in service on a replica that was lost (node failure, preemption, a
    /// non-graceful removal).
    pub replica_lost: u64,
    /// No Ready replica: the service-level queue was full, or the request waited there past
    /// the timeout.
    pub no_endpoint: u64,
}

impl DropCounts {
    /// All drops.
    pub fn total(&self) -> u64 {
        self.queue_full + self.timeout + self.replica_lost + self.no_endpoint
    }

    pub(crate) fn add(&mut self, cause: DropCause) {
        match cause {
            DropCause::QueueFull => self.queue_full += 1,
            DropCause::Timeout => self.timeout += 1,
            DropCause::ReplicaLost => self.replica_lost += 1,
            DropCause::NoEndpoint => self.no_endpoint += 1,
        }
    }

    fn merge(&mut self, other: &DropCounts) {
        self.queue_full += other.queue_full;
        self.timeout += other.timeout;
        self.replica_lost += other.replica_lost;
        self.no_endpoint += other.no_endpoint;
    }
}

/// Why a request was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropCause {
    /// See [`DropCounts::queue_full`].
    QueueFull,
    /// See [`DropCounts::timeout`].
    Timeout,
    /// See [`DropCounts::replica_lost`].
    ReplicaLost,
    /// See [`DropCounts::no_endpoint`].
    NoEndpoint,
}

/// Quantiles of a latency distribution (each within 0.1 %, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: SimDuration,
    /// 95th percentile.
    pub p95: SimDuration,
    /// 99th percentile.
    pub p99: SimDuration,
    /// Largest value.
    pub max: SimDuration,
    /// Mean (of the histogram's bucket values).
    pub mean: SimDuration,
}

/// One interval's statistics ([`crate::serving::ServiceRuntime::take_interval_stats`]): the
/// requests that arrived, completed and were dropped in `[start, end)`, and the latencies of
/// those that completed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalStats {
    /// Start of the interval (the previous call, or 0).
    pub start: SimTime,
    /// End of the interval (the runtime's current time).
    pub end: SimTime,
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests that completed.
    pub completed: u64,
    /// Requests dropped, by cause.
    pub dropped: DropCounts,
    /// Completed requests that met the SLO.
    pub slo_met: u64,
    /// `slo_met / (completed + dropped)`; `None` when nothing finished.
    pub slo_attainment: Option<f64>,
    /// End-to-end latency of completed requests.
    pub latency: Option<Percentiles>,
    /// Time to first token of completed requests (LLM services).
    pub ttft: Option<Percentiles>,
    /// Time per output token of completed requests with 2 or more output tokens (LLM).
    pub tpot: Option<Percentiles>,
    /// Prompt tokens of completed requests (LLM).
    pub prompt_tokens: u64,
    /// Output tokens of completed requests (LLM).
    pub output_tokens: u64,
    /// Requests queued or in service at `end`.
    pub in_flight: u64,
    /// Ready replicas at `end`.
    pub ready_replicas: u32,
}

impl IntervalStats {
    /// Arrivals per second over the interval (0 for an empty interval).
    pub fn arrival_rate(&self) -> f64 {
        let secs = self.end.since(self.start).as_secs_f64();
        if secs > 0.0 {
            self.arrived as f64 / secs
        } else {
            0.0
        }
    }
}

/// Whole-run statistics of a service ([`crate::serving::ServiceRuntime::summary`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSummary {
    /// Service name.
    pub name: String,
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests that completed.
    pub completed: u64,
    /// Requests dropped, by cause.
    pub dropped: DropCounts,
    /// Requests still queued or in service (`arrived = completed + dropped + in_flight`).
    pub in_flight: u64,
    /// Completed requests that met the SLO.
    pub slo_met: u64,
    /// `slo_met / (completed + dropped)`; `None` when nothing finished.
    pub slo_attainment: Option<f64>,
    /// End-to-end latency.
    pub latency: Option<Percentiles>,
    /// Time to first token (LLM services).
    pub ttft: Option<Percentiles>,
    /// Time per output token (LLM services).
    pub tpot: Option<Percentiles>,
    /// Prompt tokens of completed requests.
    pub prompt_tokens: u64,
    /// Output tokens of completed requests.
    pub output_tokens: u64,
}

/// Histograms and counters of one accumulation period.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub latency: Histogram<u64>,
    pub ttft: Histogram<u64>,
    pub tpot: Histogram<u64>,
    pub arrived: u64,
    pub completed: u64,
    pub dropped: DropCounts,
    pub slo_met: u64,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
}

fn histogram() -> Histogram<u64> {
    // Auto-resizing; `new` fails only for more than 5 significant digits.
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

impl Default for Window {
    fn default() -> Self {
        Window {
            latency: histogram(),
            ttft: histogram(),
            tpot: histogram(),
            arrived: 0,
            completed: 0,
            dropped: DropCounts::default(),
            slo_met: 0,
            prompt_tokens: 0,
            output_tokens: 0,
        }
    }
}

impl Window {
    pub fn reset(&mut self) {
        self.latency.reset();
        self.ttft.reset();
        self.tpot.reset();
        self.arrived = 0;
        self.completed = 0;
        self.dropped = DropCounts::default();
        self.slo_met = 0;
        self.prompt_tokens = 0;
        self.output_tokens = 0;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Window) {
        // Adding auto-resizing histograms never fails.
        let _ = self.latency.add(&other.latency);
        let _ = self.ttft.add(&other.ttft);
        let _ = self.tpot.add(&other.tpot);
        self.arrived += other.arrived;
        self.completed += other.completed;
        self.dropped.merge(&other.dropped);
        self.slo_met += other.slo_met;
        self.prompt_tokens += other.prompt_tokens;
        self.output_tokens += other.output_tokens;
    }

    pub fn attainment(&self) -> Option<f64> {
        let finished = self.completed + self.dropped.total();
        (finished > 0).then(|| self.slo_met as f64 / finished as f64)
    }
}

/// Records `v` (µs), growing the histogram as needed.
pub(crate) fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// The quantiles of `h`; `None` when empty.
pub(crate) fn percentiles(h: &Histogram<u64>) -> Option<Percentiles> {
    if h.is_empty() {
        return None;
    }
    let q = |x: f64| SimDuration(h.value_at_quantile(x));
    Some(Percentiles {
        count: h.len(),
        p50: q(0.5),
        p95: q(0.95),
        p99: q(0.99),
        max: SimDuration(h.max()),
        mean: SimDuration(h.mean().round() as u64),
    })
}
