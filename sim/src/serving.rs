//! # Inference services: the request-level runtime
//!
//! [`ServiceRuntime`] simulates one service's requests one by one, engine-agnostic: the engine
//! tells it when replicas become Ready or go away ([`ServiceRuntime::replica_ready`],
//! [`ServiceRuntime::replica_removed`]) and advances it in lock-step with its own clock
//! ([`ServiceRuntime::advance_to`], [`ServiceRuntime::next_event_time`]); the runtime reports
//! counters for autoscaling metrics and statistics for the report.
//!
//! ## Requests
//! Arrivals come from a [`Traffic`] (the service's traffic tree). Each request gets, at
//! arrival and in arrival order, its token counts (LLM: from the trace, or drawn from
//! `promptTokens`/`outputTokens`; at least 1 output token) or its service time (generic),
//! from the runtime's own stream, so the demand sequence does not depend on replica dynamics.
//!
//! ## Load balancing and queues
//! A request goes to one Ready replica: the one with the fewest outstanding (queued plus in
//! service) requests, ties to the lowest replica id, or the next in replica id order for
//! round robin. If the replica has a free slot and nobody waiting, the request starts at once;
//! else it joins the replica's FIFO queue, or is dropped (`queue_full`) when the queue holds
//! `queue.capacity` requests. A queued request that has not started `queue.timeout` after its
//! arrival is dropped (`timeout`); a request that starts exactly at its deadline is served.
//!
//! With no Ready replica at all (before the first one is Ready, or after all are gone), requests
//! wait in a service-level FIFO queue with the same capacity and timeout, like a gateway or
//! Knative's activator buffering for a cold service; drops there count as `no_endpoint`. When a
//! replica becomes Ready the waiting requests are dispatched to it in arrival order.
//!
//! Removing a replica gracefully (scale-down, with a termination grace period) takes it out of
//! the load balancer; what it already holds (queued and in service) is served, then it is gone.
//! Removing it non-gracefully (node failure, preemption, the grace period running out) drops
//! what it holds (`replica_lost`).
//!
//! ## LLM model: continuous batching
//! Iteration-level scheduling as in Orca (Yu et al., OSDI'22) and vLLM (Kwon et al., SOSP'23;
//! `--max-num-seqs`): a replica admits up to `maxNumSeqs` sequences; the rest wait in its
//! queue. An admitted sequence is *prefilled*: its prompt takes
//! `promptTokens / prefillTokensPerSecond` seconds; prefills are served one at a time, FIFO, per
//! replica (a prefill-priority scheduler processing one prompt per step). The end of the
//! prefill gives the first token. The remaining `outputTokens − 1` tokens are *decoded*: all
//! decoding sequences share the replica's decode throughput, each progressing at
//! `min(maxDecodeTokensPerSecondPerSequence, decodeTokensPerSecond / n)` tokens per second with
//! `n` sequences decoding (egalitarian processor sharing with a per-job cap). This is
//! implemented with a virtual-time counter (tokens decoded by any one sequence since the
//! replica's decode batch was last empty, in 2⁻¹⁶-token fixed point) and a min-heap of each
//! sequence's finishing virtual time, so every arrival, prefill completion and decode
//! completion costs O(log n), never O(n).
//!
//! Reported per request: TTFT = first token − arrival (it includes the queue wait and the wait
//! for the prefill server); TPOT = decode time / (outputTokens − 1), for 2 or more output
//! tokens; end-to-end latency = completion − arrival = queue wait + prefill wait + prefill +
//! decode, so TTFT ≤ latency.
//!
//! Limits, stated so they are not mistaken for a model of a real server: prefill and decode run
//! concurrently on separate throughput budgets (prefills do not stall decoding, as with chunked
//! prefill; Sarathi-Serve, OSDI'24); throughputs do not depend on batch composition, context
//! length or KV-cache occupancy; there is no KV-cache capacity limit, preemption or swapping;
//! times are rounded up to whole microseconds.
//!
//! ## Generic model
//! `concurrency` slots per replica; a request holds a slot for its drawn service time.
//!
//! ## Ordering and determinism
//! The runtime's events (arrivals, each replica's next internal event, the service-level
//! queue's next timeout) are processed in `(time, insertion sequence)` order, like the engine's
//! queue. Within one replica at one instant: prefill completion, decode completions, admissions
//! from the queue, then timeouts. Calls from the engine at time `t` (`replica_ready`,
//! `replica_removed`) first process every event strictly before `t`, then take effect before
//! the runtime's own events at `t`. Randomness comes only from the streams given to
//! [`ServiceRuntime::new`] ([`ServiceRuntime::from_spec`] derives them from the master seed as
//! `service/<name>/traffic` and `service/<name>/requests`).

//!
//! ## Example
//! ```
//! use drydock_core::SimTime;
//! use drydock_sim::serving::ServiceRuntime;
//!
//! let yaml = r#"
//! apiVersion: drydock/v1alpha1
//! kind: Scenario
//! metadata: {name: example}
//! spec:
//!   cluster:
//!     pools: [{name: a100, nodes: 2, gpuModel: A100, gpusPerNode: 8, cpu: "96", memory: 1Ti}]
//!   services:
//!     - name: chat
//!       llm:
//!         maxNumSeqs: 64
//!         prefillTokensPerSecond: 8000
//!         decodeTokensPerSecond: 2400
//!         maxDecodeTokensPerSecondPerSequence: 60
//!         promptTokens: {kind: log-normal, median: 1000, p95: 4000}
//!         outputTokens: {kind: log-normal, median: 200, p95: 800}
//!       slo: {latency: 20s}
//!       traffic: {poisson: {rate: 10}}
//! "#;
//! let scenario = drydock_scenarios::load_str(yaml, "example.yaml").expect("valid");
//! let mut rt = ServiceRuntime::from_spec(&scenario.services[0], None, 42).expect("builds");
//! for replica in 0..2 {
//!     rt.replica_ready(replica, SimTime::ZERO);
//! }
//! rt.advance_to(SimTime(600_000_000)); // ten minutes
//! let c = rt.counters();
//! assert_eq!(c.arrived, c.completed + c.dropped.total() + c.in_flight);
//! let s = rt.summary();
//! println!("p99 latency {:?}, SLO attainment {:?}", s.latency.map(|p| p.p99), s.slo_attainment);
//! ```

pub mod stats;
pub mod traffic;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::path::Path;

use drydock_core::rng::uniform_below;
use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::{
    DurationDist, LoadBalancing, ServiceSpec, ServingModel, SloSpec, TokenDist,
};
use rand_pcg::Pcg64;
use serde::Serialize;

pub use stats::{DropCause, DropCounts, IntervalStats, Percentiles, ServiceSummary};
pub use traffic::{Arrival, Traffic};

use crate::SimError;
use crate::dist::{exponential_secs, standard_normal};
use stats::{Window, percentiles};

/// Fixed-point units per decoded token in the processor-sharing virtual time.
const VSCALE: f64 = 65_536.0;
/// Largest token count drawn from a distribution.
const MAX_TOKENS: f64 = 10_000_000.0;
/// Heap target of the next arrival.
const ARRIVAL: u32 = u32::MAX;
/// Heap target of the service-level queue's next timeout.
const GATEWAY: u32 = u32::MAX - 1;

/// Cumulative counters of a service ([`ServiceRuntime::counters`]). At every moment
/// `arrived = completed + dropped.total() + in_flight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ServiceCounters {
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests that completed.
    pub completed: u64,
    /// Requests dropped, by cause.
    pub dropped: DropCounts,
    /// Requests queued (at a replica or the service-level queue) or in service.
    pub in_flight: u64,
    /// Requests waiting in the service-level queue (no Ready replica).
    pub waiting_for_endpoint: u64,
    /// Completed requests that met the SLO.
    pub slo_met: u64,
    /// Ready replicas (in the load balancer).
    pub ready_replicas: u32,
    /// Replicas still serving after a graceful removal.
    pub draining_replicas: u32,
}

/// Cumulative counters of one replica ([`ServiceRuntime::replica_counters`]), from which the
/// engine derives HPA metrics (requests per second per replica from `completed` or `arrived`
/// deltas, in-flight requests, GPU busy fraction from `busy` deltas) with its scrape interval
/// and lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ReplicaCounters {
    /// Requests sent to this replica by the load balancer.
    pub arrived: u64,
    /// Requests it completed.
    pub completed: u64,
    /// Time with at least one request in service (admitted), up to the runtime's current time.
    pub busy: SimDuration,
    /// Requests queued or in service now.
    pub in_flight: u64,
}

/// One completed request, recorded when [`ServiceRuntime::record_requests`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// Arrival time.
    pub arrival: SimTime,
    /// Service start (admission to a slot).
    pub start: SimTime,
    /// First token (LLM: end of prefill; generic: `None`).
    pub first_token: Option<SimTime>,
    /// Completion.
    pub completion: SimTime,
    /// Replica id that served it.
    pub replica: u32,
    /// Prompt tokens (0 for generic services).
    pub prompt_tokens: u32,
    /// Output tokens (0 for generic services).
    pub output_tokens: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Request {
    arrival: SimTime,
    deadline: SimTime,
    start: SimTime,
    first_token: SimTime,
    prompt: u32,
    output: u32,
    service: SimDuration,
}

/// The per-replica serving parameters.
#[derive(Debug, Clone)]
enum Model {
    Llm {
        /// Prompt tokens per second.
        prefill_rate: f64,
        single: f64,
        aggregate: f64,
        prompt: Option<Tokens>,
        output: Option<Tokens>,
    },
    Generic {
        service_time: DurationDist,
    },
}

#[derive(Debug)]
enum Engine {
    Llm {
        prefill_fifo: VecDeque<u32>,
        prefilling: Option<(u32, SimTime)>,
        /// `(finishing virtual time, sequence number, request)`.
        decode: BinaryHeap<Reverse<(u64, u64, u32)>>,
        v: u64,
        v_at: SimTime,
    },
    Generic {
        running: BinaryHeap<Reverse<(SimTime, u64, u32)>>,
    },
}

#[derive(Debug)]
struct Replica {
    id: u32,
    draining: bool,
    queue: VecDeque<u32>,
    admitted: u32,
    engine: Engine,
    arrived: u64,
    completed: u64,
    busy_us: u64,
    busy_since: SimTime,
    scheduled: Option<(SimTime, u64)>,
}

/// What happened to a request inside a replica.
enum Outcome {
    Completed,
    TimedOut,
}

/// Everything a replica needs to know about the service.
struct Params {
    slots: u32,
    capacity: u32,
    timeout: SimDuration,
    model: Model,
}

impl Replica {
    fn in_flight(&self) -> u64 {
        self.queue.len() as u64 + u64::from(self.admitted)
    }

    /// Per-sequence decode rate with `n` sequences decoding, tokens per second.
    fn decode_rate(single: f64, aggregate: f64, n: usize) -> f64 {
        single.min(aggregate / n.max(1) as f64)
    }

    /// Microseconds (rounded up) to advance the virtual time by `need` units at `rate`.
    fn decode_us(need: u64, rate: f64) -> u64 {
        let us = (need as f64 * 1e6 / (rate * VSCALE)).ceil();
        if us.is_finite() && us >= 0.0 {
            us as u64
        } else {
            u64::MAX
        }
    }

    /// Virtual-time units gained in `us` microseconds at `rate` (rounded down).
    fn decode_units(us: u64, rate: f64) -> u64 {
        (us as f64 * rate * VSCALE / 1e6).floor() as u64
    }

    /// Starts `req` in a slot at `t`.
    fn admit(&mut self, req: u32, t: SimTime, reqs: &mut [Request], p: &Params, seq: &mut u64) {
        if self.admitted == 0 {
            self.busy_since = t;
        }
        self.admitted += 1;
        let r = &mut reqs[req as usize];
        r.start = t;
        match (&mut self.engine, &p.model) {
            (
                Engine::Llm {
                    prefill_fifo,
                    prefilling,
                    ..
                },
                Model::Llm { prefill_rate, .. },
            ) => {
                prefill_fifo.push_back(req);
                if prefilling.is_none() {
                    Self::start_prefill(prefill_fifo, prefilling, t, reqs, *prefill_rate);
                }
            }
            (Engine::Generic { running }, _) => {
                *seq += 1;
                running.push(Reverse((t.saturating_add(r.service), *seq, req)));
            }
            _ => {}
        }
    }

    fn start_prefill(
        fifo: &mut VecDeque<u32>,
        prefilling: &mut Option<(u32, SimTime)>,
        t: SimTime,
        reqs: &[Request],
        prefill_rate: f64,
    ) {
        if let Some(next) = fifo.pop_front() {
            let prompt = f64::from(reqs[next as usize].prompt);
            let us = (prompt * 1e6 / prefill_rate).ceil();
            let us = if us.is_finite() { us as u64 } else { u64::MAX };
            *prefilling = Some((next, t.saturating_add(SimDuration(us))));
        }
    }

    /// The time of this replica's next internal event.
    fn next_time(&self, p: &Params, reqs: &[Request]) -> Option<SimTime> {
        let timeout = self.queue.front().map(|&q| reqs[q as usize].deadline);
        let own = match (&self.engine, &p.model) {
            (
                Engine::Llm {
                    prefilling,
                    decode,
                    v,
                    v_at,
                    ..
                },
                Model::Llm {
                    single, aggregate, ..
                },
            ) => {
                let pre = prefilling.map(|(_, t)| t);
                let dec = decode.peek().map(|Reverse((vfin, _, _))| {
                    let rate = Self::decode_rate(*single, *aggregate, decode.len());
                    let dt = Self::decode_us(vfin.saturating_sub(*v), rate);
                    v_at.saturating_add(SimDuration(dt))
                });
                min_opt(pre, dec)
            }
            (Engine::Generic { running }, _) => running.peek().map(|Reverse((t, _, _))| *t),
            _ => None,
        };
        min_opt(own, timeout)
    }

    /// Moves the decode virtual time to `t` at the current batch size.
    fn advance_v(engine: &mut Engine, t: SimTime, single: f64, aggregate: f64) {
        if let Engine::Llm {
            decode, v, v_at, ..
        } = engine
        {
            if decode.is_empty() {
                *v = 0;
            } else {
                let rate = Self::decode_rate(single, aggregate, decode.len());
                *v = v.saturating_add(Self::decode_units(t.since(*v_at).0, rate));
            }
            *v_at = t;
        }
    }

    /// Processes everything due at `t`; finished requests go to `out`.
    fn process(
        &mut self,
        t: SimTime,
        reqs: &mut [Request],
        p: &Params,
        seq: &mut u64,
        out: &mut Vec<(u32, Outcome)>,
    ) {
        loop {
            let mut progressed = false;
            let mut freed: u32 = 0;
            match (&mut self.engine, &p.model) {
                (
                    engine @ Engine::Llm { .. },
                    Model::Llm {
                        prefill_rate,
                        single,
                        aggregate,
                        ..
                    },
                ) => {
                    // Prefill completion.
                    let done = match engine {
                        Engine::Llm { prefilling, .. } => {
                            prefilling.filter(|(_, at)| *at <= t).map(|(r, _)| r)
                        }
                        Engine::Generic { .. } => None,
                    };
                    if let Some(req) = done {
                        progressed = true;
                        reqs[req as usize].first_token = t;
                        let output = reqs[req as usize].output;
                        if output <= 1 {
                            out.push((req, Outcome::Completed));
                            freed += 1;
                        } else {
                            Self::advance_v(engine, t, *single, *aggregate);
                            if let Engine::Llm { decode, v, .. } = engine {
                                *seq += 1;
                                let w = (f64::from(output - 1) * VSCALE) as u64;
                                decode.push(Reverse((v.saturating_add(w), *seq, req)));
                            }
                        }
                        if let Engine::Llm {
                            prefill_fifo,
                            prefilling,
                            ..
                        } = engine
                        {
                            *prefilling = None;
                            Self::start_prefill(prefill_fifo, prefilling, t, reqs, *prefill_rate);
                        }
                    }
                    // Decode completions.
                    let due = match engine {
                        Engine::Llm {
                            decode, v, v_at, ..
                        } => decode.peek().is_some_and(|Reverse((vfin, _, _))| {
                            let rate = Self::decode_rate(*single, *aggregate, decode.len());
                            let dt = Self::decode_us(vfin.saturating_sub(*v), rate);
                            v_at.saturating_add(SimDuration(dt)) <= t
                        }),
                        Engine::Generic { .. } => false,
                    };
                    if due {
                        Self::advance_v(engine, t, *single, *aggregate);
                        if let Engine::Llm { decode, v, .. } = engine {
                            if let Some(Reverse((vfin, _, _))) = decode.peek() {
                                *v = (*v).max(*vfin);
                            }
                            while let Some(&Reverse((vfin, _, req))) = decode.peek() {
                                if vfin > *v {
                                    break;
                                }
                                decode.pop();
                                out.push((req, Outcome::Completed));
                                freed += 1;
                            }
                            if decode.is_empty() {
                                *v = 0;
                            }
                        }
                        progressed = true;
                    }
                }
                (Engine::Generic { running }, _) => {
                    while let Some(&Reverse((at, _, req))) = running.peek() {
                        if at > t {
                            break;
                        }
                        running.pop();
                        out.push((req, Outcome::Completed));
                        freed += 1;
                        progressed = true;
                    }
                }
                _ => {}
            }
            if freed > 0 {
                self.admitted -= freed;
                self.completed += u64::from(freed);
                if self.admitted == 0 {
                    self.busy_us += t.since(self.busy_since).0;
                }
            }
            // Admissions from the queue.
            while self.admitted < p.slots {
                let Some(req) = self.queue.pop_front() else {
                    break;
                };
                self.admit(req, t, reqs, p, seq);
                progressed = true;
            }
            // Timeouts of requests still waiting.
            while let Some(&req) = self.queue.front() {
                if reqs[req as usize].deadline > t {
                    break;
                }
                self.queue.pop_front();
                out.push((req, Outcome::TimedOut));
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    /// Every request the replica holds (queued, waiting for prefill, prefilling, decoding,
    /// running), emptied.
    fn take_all(&mut self, t: SimTime) -> Vec<u32> {
        let mut all: Vec<u32> = self.queue.drain(..).collect();
        match &mut self.engine {
            Engine::Llm {
                prefill_fifo,
                prefilling,
                decode,
                v,
                ..
            } => {
                all.extend(prefill_fifo.drain(..));
                all.extend(prefilling.take().map(|(r, _)| r));
                let mut d: Vec<(u64, u32)> =
                    decode.drain().map(|Reverse((_, s, r))| (s, r)).collect();
                d.sort_unstable();
                all.extend(d.into_iter().map(|(_, r)| r));
                *v = 0;
            }
            Engine::Generic { running } => {
                let mut d: Vec<(u64, u32)> =
                    running.drain().map(|Reverse((_, s, r))| (s, r)).collect();
                d.sort_unstable();
                all.extend(d.into_iter().map(|(_, r)| r));
            }
        }
        if self.admitted > 0 {
            self.busy_us += t.since(self.busy_since).0;
        }
        self.admitted = 0;
        all
    }
}

fn min_opt(a: Option<SimTime>, b: Option<SimTime>) -> Option<SimTime> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The request-level simulator of one service (see the module docs for the model).
pub struct ServiceRuntime {
    name: String,
    params: Params,
    slo: SloSpec,
    lb: LoadBalancing,
    traffic: Traffic,
    rng: Pcg64,
    now: SimTime,
    requests: Vec<Request>,
    free_requests: Vec<u32>,
    replicas: Vec<Option<Replica>>,
    free_slots: Vec<usize>,
    by_id: BTreeMap<u32, usize>,
    /// Slots of Ready replicas, in replica id order.
    ready: Vec<usize>,
    rr_next: u32,
    gateway: VecDeque<u32>,
    gateway_scheduled: Option<(SimTime, u64)>,
    arrival_scheduled: Option<(SimTime, u64)>,
    /// `(time, sequence, target)`: target is a replica slot, [`ARRIVAL`] or [`GATEWAY`].
    heap: BinaryHeap<Reverse<(SimTime, u64, u32)>>,
    seq: u64,
    in_flight: u64,
    interval: Window,
    total: Window,
    interval_start: SimTime,
    log: Option<Vec<RequestRecord>>,
    outcomes: Vec<(u32, Outcome)>,
}

impl std::fmt::Debug for ServiceRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRuntime")
            .field("name", &self.name)
            .field("now", &self.now)
            .field("counters", &self.counters())
            .finish()
    }
}

impl ServiceRuntime {
    /// A runtime for `spec` fed by `traffic`; `rng` draws the requests' token counts or
    /// service times. No replica is Ready yet: requests wait in the service-level queue until
    /// [`ServiceRuntime::replica_ready`].
    ///
    /// # Errors
    /// [`SimError::Input`] when an LLM service has traffic without token counts and no
    /// `promptTokens`/`outputTokens` (the loader already refuses this).
    pub fn new(spec: &ServiceSpec, traffic: Traffic, rng: Pcg64) -> Result<Self, SimError> {
        let (slots, model) = match &spec.model {
            ServingModel::Llm(l) => {
                if spec.traffic.needs_token_distributions()
                    && (l.prompt_tokens.is_none() || l.output_tokens.is_none())
                {
                    return Err(SimError::Input(format!(
                        "service `{}`: traffic without token counts needs `promptTokens` and \
                         `outputTokens`",
                        spec.name
                    )));
                }
                (
                    l.max_num_seqs.max(1),
                    Model::Llm {
                        prefill_rate: l.prefill_tokens_per_second,
                        single: l.max_decode_tokens_per_second_per_sequence,
                        aggregate: l.decode_tokens_per_second,
                        prompt: l.prompt_tokens.map(Tokens::new),
                        output: l.output_tokens.map(Tokens::new),
                    },
                )
            }
            ServingModel::Generic(g) => (
                g.concurrency.max(1),
                Model::Generic {
                    service_time: g.service_time.clone(),
                },
            ),
        };
        let mut rt = ServiceRuntime {
            name: spec.name.clone(),
            params: Params {
                slots,
                capacity: spec.queue.capacity,
                timeout: spec.queue.timeout,
                model,
            },
            slo: spec.slo,
            lb: spec.load_balancing,
            traffic,
            rng,
            now: SimTime::ZERO,
            requests: Vec::new(),
            free_requests: Vec::new(),
            replicas: Vec::new(),
            free_slots: Vec::new(),
            by_id: BTreeMap::new(),
            ready: Vec::new(),
            rr_next: 0,
            gateway: VecDeque::new(),
            gateway_scheduled: None,
            arrival_scheduled: None,
            heap: BinaryHeap::new(),
            seq: 0,
            in_flight: 0,
            interval: Window::default(),
            total: Window::default(),
            interval_start: SimTime::ZERO,
            log: None,
            outcomes: Vec::new(),
        };
        rt.schedule_arrival();
        Ok(rt)
    }

    /// [`ServiceRuntime::new`] with the traffic built from the spec, trace files read relative
    /// to `data_dir`, and the streams `service/<name>/traffic` and `service/<name>/requests`
    /// of master seed `seed`.
    ///
    /// # Errors
    /// As [`Traffic::new`] and [`ServiceRuntime::new`].
    pub fn from_spec(
        spec: &ServiceSpec,
        data_dir: Option<&Path>,
        seed: u64,
    ) -> Result<Self, SimError> {
        let traffic = Traffic::new(
            &spec.traffic,
            data_dir,
            crate::rng::stream(seed, &format!("service/{}/traffic", spec.name)),
        )?;
        ServiceRuntime::new(
            spec,
            traffic,
            crate::rng::stream(seed, &format!("service/{}/requests", spec.name)),
        )
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time the runtime has been advanced to.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Keeps a [`RequestRecord`] of every completed request from now on (for tests and
    /// request-level output); off by default.
    pub fn record_requests(&mut self, on: bool) {
        self.log = if on { Some(Vec::new()) } else { None };
    }

    /// The records kept since the last call (see [`ServiceRuntime::record_requests`]).
    pub fn take_request_log(&mut self) -> Vec<RequestRecord> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Processes every arrival, completion and timeout strictly before `t`, in `(time,
    /// insertion)` order, and sets the current time to `t` (never backwards).
    pub fn advance_to(&mut self, t: SimTime) {
        loop {
            self.clean();
            let Some(&Reverse((at, _, target))) = self.heap.peek() else {
                break;
            };
            if at >= t {
                break;
            }
            self.heap.pop();
            self.now = self.now.max(at);
            match target {
                ARRIVAL => {
                    self.arrival_scheduled = None;
                    self.on_arrival(at);
                }
                GATEWAY => {
                    self.gateway_scheduled = None;
                    self.expire_gateway(at);
                }
                slot => {
                    let slot = slot as usize;
                    if let Some(r) = self.replicas.get_mut(slot).and_then(Option::as_mut) {
                        r.scheduled = None;
                    }
                    self.on_replica(slot, at);
                }
            }
        }
        self.now = self.now.max(t);
    }

    /// The time of the runtime's next event, if any (arrivals never end for most traffic).
    pub fn next_event_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Replica `replica` (an id chosen by the engine) is Ready at `now` and joins the load
    /// balancer; requests waiting for an endpoint are dispatched. A replica already known is
    /// left as it is.
    pub fn replica_ready(&mut self, replica: u32, now: SimTime) {
        self.advance_to(now);
        if self.by_id.contains_key(&replica) {
            return;
        }
        let r = Replica {
            id: replica,
            draining: false,
            queue: VecDeque::new(),
            admitted: 0,
            engine: match self.params.model {
                Model::Llm { .. } => Engine::Llm {
                    prefill_fifo: VecDeque::new(),
                    prefilling: None,
                    decode: BinaryHeap::new(),
                    v: 0,
                    v_at: now,
                },
                Model::Generic { .. } => Engine::Generic {
                    running: BinaryHeap::new(),
                },
            },
            arrived: 0,
            completed: 0,
            busy_us: 0,
            busy_since: now,
            scheduled: None,
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.replicas[s] = Some(r);
                s
            }
            None => {
                self.replicas.push(Some(r));
                self.replicas.len() - 1
            }
        };
        self.by_id.insert(replica, slot);
        let at = self
            .ready
            .partition_point(|&s| self.replica_id(s) < replica);
        self.ready.insert(at, slot);
        while let Some(req) = self.gateway.pop_front() {
            self.dispatch(req, now);
        }
        self.schedule_gateway();
        self.clean();
    }

    /// Replica `replica` leaves at `now`. Graceful (scale-down within the termination grace
    /// period): it gets no new requests and serves what it holds, then is gone. Not graceful
    /// (node failure, preemption): what it holds is dropped as `replica_lost`. Unknown ids are
    /// ignored.
    pub fn replica_removed(&mut self, replica: u32, now: SimTime, graceful: bool) {
        self.advance_to(now);
        let Some(&slot) = self.by_id.get(&replica) else {
            return;
        };
        self.ready.retain(|&s| s != slot);
        let Some(r) = self.replicas[slot].as_mut() else {
            return;
        };
        if graceful {
            r.draining = true;
            if r.in_flight() == 0 {
                self.free_slot(slot);
            }
        } else {
            let lost = r.take_all(now);
            for req in lost {
                self.drop_request(req, DropCause::ReplicaLost);
            }
            self.free_slot(slot);
        }
        self.clean();
    }

    /// Multiplies the rate of the whole traffic by `multiplier` during `[at, at + duration)`
    /// (the TUI's spike key). See [`Traffic::inject_spike`]. A spike starting before the
    /// current time starts now (the past is not rewritten).
    pub fn inject_spike(&mut self, at: SimTime, multiplier: f64, duration: SimDuration) {
        let start = at.max(self.now);
        let duration = SimDuration(duration.0.saturating_sub(start.0 - at.0));
        self.traffic.inject_spike(start, multiplier, duration);
        self.arrival_scheduled = None;
        self.schedule_arrival();
        self.clean();
    }

    /// Cumulative counters.
    pub fn counters(&self) -> ServiceCounters {
        let mut dropped = self.total.dropped;
        let d = self.interval.dropped;
        dropped.queue_full += d.queue_full;
        dropped.timeout += d.timeout;
        dropped.replica_lost += d.replica_lost;
        dropped.no_endpoint += d.no_endpoint;
        let draining = self
            .replicas
            .iter()
            .flatten()
            .filter(|r| r.draining)
            .count() as u32;
        ServiceCounters {
            arrived: self.total.arrived + self.interval.arrived,
            completed: self.total.completed + self.interval.completed,
            dropped,
            in_flight: self.in_flight,
            waiting_for_endpoint: self.gateway.len() as u64,
            slo_met: self.total.slo_met + self.interval.slo_met,
            ready_replicas: self.ready.len() as u32,
            draining_replicas: draining,
        }
    }

    /// Counters of replica `replica` (Ready or draining); `None` once it is gone or if never
    /// known.
    pub fn replica_counters(&self, replica: u32) -> Option<ReplicaCounters> {
        let slot = *self.by_id.get(&replica)?;
        let r = self.replicas.get(slot)?.as_ref()?;
        let busy = r.busy_us
            + if r.admitted > 0 {
                self.now.since(r.busy_since).0
            } else {
                0
            };
        Some(ReplicaCounters {
            arrived: r.arrived,
            completed: r.completed,
            busy: SimDuration(busy),
            in_flight: r.in_flight(),
        })
    }

    /// The ids of the Ready replicas, in id order.
    pub fn ready_replicas(&self) -> Vec<u32> {
        self.ready.iter().map(|&s| self.replica_id(s)).collect()
    }

    /// Statistics since the previous call (or the start), ending at the current time.
    pub fn take_interval_stats(&mut self) -> IntervalStats {
        let w = &self.interval;
        let out = IntervalStats {
            start: self.interval_start,
            end: self.now,
            arrived: w.arrived,
            completed: w.completed,
            dropped: w.dropped,
            slo_met: w.slo_met,
            slo_attainment: w.attainment(),
            latency: percentiles(&w.latency),
            ttft: percentiles(&w.ttft),
            tpot: percentiles(&w.tpot),
            prompt_tokens: w.prompt_tokens,
            output_tokens: w.output_tokens,
            in_flight: self.in_flight,
            ready_replicas: self.ready.len() as u32,
        };
        self.total.merge(&self.interval);
        self.interval.reset();
        self.interval_start = self.now;
        out
    }

    /// Whole-run statistics up to the current time.
    pub fn summary(&self) -> ServiceSummary {
        let mut all = self.total.clone();
        all.merge(&self.interval);
        ServiceSummary {
            name: self.name.clone(),
            arrived: all.arrived,
            completed: all.completed,
            dropped: all.dropped,
            in_flight: self.in_flight,
            slo_met: all.slo_met,
            slo_attainment: all.attainment(),
            latency: percentiles(&all.latency),
            ttft: percentiles(&all.ttft),
            tpot: percentiles(&all.tpot),
            prompt_tokens: all.prompt_tokens,
            output_tokens: all.output_tokens,
        }
    }

    // --- internals -------------------------------------------------------------------------

    fn replica_id(&self, slot: usize) -> u32 {
        self.replicas
            .get(slot)
            .and_then(Option::as_ref)
            .map_or(u32::MAX, |r| r.id)
    }

    fn push(&mut self, at: SimTime, target: u32) -> (SimTime, u64) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, target)));
        (at, self.seq)
    }

    /// Pops stale heap entries so the top is always live.
    fn clean(&mut self) {
        while let Some(&Reverse((at, seq, target))) = self.heap.peek() {
            let live = match target {
                ARRIVAL => self.arrival_scheduled == Some((at, seq)),
                GATEWAY => self.gateway_scheduled == Some((at, seq)),
                slot => self
                    .replicas
                    .get(slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|r| r.scheduled == Some((at, seq))),
            };
            if live {
                break;
            }
            self.heap.pop();
        }
    }

    fn schedule_arrival(&mut self) {
        let next = self.traffic.peek_time();
        if next != self.arrival_scheduled.map(|s| s.0) {
            self.arrival_scheduled = next.map(|t| self.push(t, ARRIVAL));
        }
    }

    fn schedule_gateway(&mut self) {
        let next = self
            .gateway
            .front()
            .map(|&r| self.requests[r as usize].deadline);
        if next != self.gateway_scheduled.map(|s| s.0) {
            self.gateway_scheduled = next.map(|t| self.push(t, GATEWAY));
        }
    }

    fn schedule_replica(&mut self, slot: usize) {
        let Some(r) = self.replicas.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let next = r.next_time(&self.params, &self.requests);
        let current = r.scheduled;
        if next != current.map(|s| s.0) {
            let s = next.map(|t| self.push(t, slot as u32));
            if let Some(r) = self.replicas[slot].as_mut() {
                r.scheduled = s;
            }
        }
    }

    fn free_slot(&mut self, slot: usize) {
        if let Some(r) = self.replicas[slot].take() {
            self.by_id.remove(&r.id);
            self.free_slots.push(slot);
        }
    }

    fn on_arrival(&mut self, at: SimTime) {
        let Some(a) = self.traffic.next_arrival() else {
            return;
        };
        let req = self.new_request(a);
        self.interval.arrived += 1;
        self.in_flight += 1;
        self.dispatch(req, at);
        self.schedule_arrival();
    }

    fn new_request(&mut self, a: Arrival) -> u32 {
        let mut r = Request {
            arrival: a.time,
            deadline: a.time.saturating_add(self.params.timeout),
            ..Request::default()
        };
        match &self.params.model {
            Model::Llm { prompt, output, .. } => {
                let (p, o) = match a.tokens {
                    Some(t) => t,
                    None => (
                        prompt.map_or(0, |d| d.draw(&mut self.rng)),
                        output.map_or(1, |d| d.draw(&mut self.rng)),
                    ),
                };
                r.prompt = p;
                r.output = o.max(1);
            }
            Model::Generic { service_time } => {
                r.service = crate::dist::sample(service_time, &mut self.rng);
            }
        }
        match self.free_requests.pop() {
            Some(i) => {
                self.requests[i as usize] = r;
                i
            }
            None => {
                self.requests.push(r);
                (self.requests.len() - 1) as u32
            }
        }
    }

    /// Sends `req` to a Ready replica, or to the service-level queue when there is none.
    fn dispatch(&mut self, req: u32, t: SimTime) {
        let Some(slot) = self.pick() else {
            if self.gateway.len() >= self.params.capacity as usize {
                self.drop_request(req, DropCause::NoEndpoint);
            } else {
                self.gateway.push_back(req);
                self.schedule_gateway();
            }
            return;
        };
        let Some(r) = self.replicas[slot].as_mut() else {
            return;
        };
        r.arrived += 1;
        if r.admitted < self.params.slots && r.queue.is_empty() {
            r.admit(req, t, &mut self.requests, &self.params, &mut self.seq);
        } else if r.queue.len() < self.params.capacity as usize {
            r.queue.push_back(req);
        } else {
            self.drop_request(req, DropCause::QueueFull);
            return;
        }
        self.schedule_replica(slot);
    }

    /// The Ready replica that gets the next request.
    fn pick(&mut self) -> Option<usize> {
        if self.ready.is_empty() {
            return None;
        }
        match self.lb {
            LoadBalancing::LeastOutstanding => {
                let mut best: Option<(u64, usize)> = None;
                for &s in &self.ready {
                    let load = self.replicas[s]
                        .as_ref()
                        .map_or(u64::MAX, Replica::in_flight);
                    if best.is_none_or(|(b, _)| load < b) {
                        best = Some((load, s));
                    }
                }
                best.map(|(_, s)| s)
            }
            LoadBalancing::RoundRobin => {
                let i = self
                    .ready
                    .partition_point(|&s| self.replica_id(s) < self.rr_next);
                let slot = self.ready[if i < self.ready.len() { i } else { 0 }];
                self.rr_next = self.replica_id(slot).wrapping_add(1);
                Some(slot)
            }
        }
    }

    fn on_replica(&mut self, slot: usize, t: SimTime) {
        let mut out = std::mem::take(&mut self.outcomes);
        if let Some(r) = self.replicas[slot].as_mut() {
            r.process(t, &mut self.requests, &self.params, &mut self.seq, &mut out);
        }
        let id = self.replica_id(slot);
        for (req, outcome) in out.drain(..) {
            match outcome {
                Outcome::Completed => self.complete(req, id, t),
                Outcome::TimedOut => self.drop_request(req, DropCause::Timeout),
            }
        }
        self.outcomes = out;
        let gone = self.replicas[slot]
            .as_ref()
            .is_some_and(|r| r.draining && r.in_flight() == 0);
        if gone {
            self.free_slot(slot);
        } else {
            self.schedule_replica(slot);
        }
    }

    fn expire_gateway(&mut self, t: SimTime) {
        while let Some(&req) = self.gateway.front() {
            if self.requests[req as usize].deadline > t {
                break;
            }
            self.gateway.pop_front();
            self.drop_request(req, DropCause::NoEndpoint);
        }
        self.schedule_gateway();
    }

    fn complete(&mut self, req: u32, replica: u32, t: SimTime) {
        let r = self.requests[req as usize];
        let latency = t.since(r.arrival);
        let w = &mut self.interval;
        w.completed += 1;
        stats::record(&mut w.latency, latency.0);
        let mut met = self.slo.latency.is_none_or(|l| latency <= l);
        let first_token = match self.params.model {
            Model::Llm { .. } => {
                let ttft = r.first_token.since(r.arrival);
                stats::record(&mut w.ttft, ttft.0);
                met &= self.slo.ttft.is_none_or(|l| ttft <= l);
                if r.output >= 2 {
                    let n = u64::from(r.output - 1);
                    let tpot = SimDuration((t.since(r.first_token).0 + n / 2) / n);
                    stats::record(&mut w.tpot, tpot.0);
                    met &= self.slo.tpot.is_none_or(|l| tpot <= l);
                }
                w.prompt_tokens += u64::from(r.prompt);
                w.output_tokens += u64::from(r.output);
                Some(r.first_token)
            }
            Model::Generic { .. } => None,
        };
        if met {
            w.slo_met += 1;
        }
        if let Some(log) = self.log.as_mut() {
            log.push(RequestRecord {
                arrival: r.arrival,
                start: r.start,
                first_token,
                completion: t,
                replica,
                prompt_tokens: r.prompt,
                output_tokens: r.output,
            });
        }
        self.in_flight -= 1;
        self.free_requests.push(req);
    }

    fn drop_request(&mut self, req: u32, cause: DropCause) {
        self.interval.dropped.add(cause);
        self.in_flight -= 1;
        self.free_requests.push(req);
    }
}

/// A [`TokenDist`] with its parameters prepared for drawing.
#[derive(Debug, Clone, Copy)]
enum Tokens {
    Fixed(u32),
    Uniform { min: u32, span: u64 },
    LogNormal { mu: f64, sigma: f64 },
    Exponential { mean: f64 },
}

impl Tokens {
    fn new(d: TokenDist) -> Self {
        match d {
            TokenDist::Fixed { value } => Tokens::Fixed(value),
            TokenDist::Uniform { min, max } => Tokens::Uniform {
                min,
                span: u64::from(max.saturating_sub(min)) + 1,
            },
            TokenDist::LogNormal { median, p95 } => {
                let mu = f64::from(median.max(1)).ln();
                let sigma = (f64::from(p95.max(1)).ln() - mu).max(0.0) / 1.644_853_626_951_472_2;
                Tokens::LogNormal { mu, sigma }
            }
            TokenDist::Exponential { mean } => Tokens::Exponential {
                mean: f64::from(mean),
            },
        }
    }

    /// Draws a token count (at most 10,000,000).
    fn draw(self, rng: &mut Pcg64) -> u32 {
        let x = match self {
            Tokens::Fixed(v) => return v,
            Tokens::Uniform { min, span } => return min + uniform_below(rng, span) as u32,
            Tokens::LogNormal { mu, sigma } => (mu + sigma * standard_normal(rng)).exp(),
            Tokens::Exponential { mean } => exponential_secs(rng, mean),
        };
        x.round().clamp(0.0, MAX_TOKENS) as u32
    }
}
