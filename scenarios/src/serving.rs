//! Inference services (`spec.services[]`) and their traffic: the resolved model types.
//!
//! A service is a Kubernetes Deployment of identical replicas, each a pod requesting
//! `gpusPerReplica` GPUs plus CPU and memory, that becomes Ready after an image pull and a
//! model load ([`StartupSpec`]). Requests are simulated one by one by `drydock-sim`'s
//! `serving` module: an LLM model (continuous batching with prefill and decode throughputs,
//! [`LlmSpec`]) or a generic one (a service-time distribution and a concurrency limit,
//! [`GenericSpec`]). Requests are balanced over Ready replicas ([`LoadBalancing`]), wait in a
//! bounded per-replica queue ([`QueueSpec`]) and are judged against an SLO ([`SloSpec`]).
//!
//! Traffic ([`TrafficSpec`]) is a tree: leaves generate arrivals (constant, Poisson, diurnal,
//! steps, Gamma, MMPP, trace replay), combinators compose them (sum, scale, shift, spike).
//! Rates are in requests per second. See [`TrafficSpec`] for the exact semantics of each node.

use std::collections::BTreeMap;
use std::path::PathBuf;

use drydock_core::{SimDuration, SimTime};
use serde::Serialize;

use crate::model::{DurationDist, TolerationSpec};

pub mod autoscaling;
pub(crate) mod raw;
pub(crate) mod validate;

/// `spec.services[]`: an inference service (a Deployment of replicas) and the traffic it
/// receives.
///
/// `autoscaling:` puts a HorizontalPodAutoscaler on the Deployment
/// ([`autoscaling::ServiceAutoscaling`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    /// Service name: unique among services, a Kubernetes object name (DNS-1123: lowercase
    /// letters, digits, `-`, `.`). Replica pods are named by the engine.
    pub name: String,
    /// Initial Deployment replicas (`spec.replicas`). Default 1.
    pub replicas: u32,
    /// Pod priority (a PriorityClass value). Default 0.
    pub priority: i32,
    /// Whole GPUs (`nvidia.com/gpu`) per replica pod (0–64). Default 1.
    pub gpus_per_replica: u32,
    /// CPU per replica pod in millicores. Default 1000.
    pub cpu_milli: u64,
    /// Memory per replica pod in MiB. Default 4096.
    pub memory_mib: u64,
    /// Allowed GPU models (node selector on the GPU model); empty = any.
    pub gpu_models: Vec<String>,
    /// Extra node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: Vec<TolerationSpec>,
    /// Time from the pod being bound to Ready.
    pub startup: StartupSpec,
    /// How a replica serves requests.
    pub model: ServingModel,
    /// How requests are spread over Ready replicas. Default least outstanding requests.
    pub load_balancing: LoadBalancing,
    /// Per-replica waiting queue.
    pub queue: QueueSpec,
    /// Latency objectives.
    pub slo: SloSpec,
    /// The arrivals.
    pub traffic: TrafficSpec,
    /// The HorizontalPodAutoscaler, if any.
    pub autoscaling: Option<autoscaling::ServiceAutoscaling>,
}

/// `startup`: after a replica pod is bound it pulls its image, then loads the model, then is
/// Ready and joins the load balancer. Each phase is drawn independently per pod.
/// Figures in kubernetes-semantics.md §7 \[2nd\]: image pull 30–180 s, weight load 34–84 s
/// for 30B–70B models with standard loaders (ServerlessLLM, OSDI'24).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartupSpec {
    /// `imagePull`: image pull time. Default fixed 0s (image cached).
    pub image_pull: DurationDist,
    /// `modelLoad`: weight download and load plus engine initialisation. Default fixed 0s.
    pub model_load: DurationDist,
}

/// How a replica serves requests: `llm` or `generic` (exactly one in the file).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServingModel {
    /// Continuous batching of token sequences.
    Llm(LlmSpec),
    /// A service time per request and a fixed number of concurrent slots.
    Generic(GenericSpec),
}

/// `llm`: an LLM server with continuous batching (iteration-level scheduling, Orca, OSDI'22;
/// vLLM, SOSP'23). A replica holds at most `max_num_seqs` sequences; each is prefilled (which
/// yields its first token), then decoded token by token while sharing the replica's decode
/// throughput with the other decoding sequences. The runtime's module docs
/// (`drydock_sim::serving`) state the exact model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmSpec {
    /// `maxNumSeqs`: most sequences a replica serves at once (vLLM `--max-num-seqs`).
    /// Default 256 (vLLM's `EngineArgs.max_num_seqs` \[unverified\]).
    pub max_num_seqs: u32,
    /// `prefillTokensPerSecond`: prompt tokens per second one replica prefills (> 0).
    pub prefill_tokens_per_second: f64,
    /// `decodeTokensPerSecond`: output tokens per second one replica decodes in total across
    /// its sequences at full batch (> 0).
    pub decode_tokens_per_second: f64,
    /// `maxDecodeTokensPerSecondPerSequence`: single-stream decode speed (> 0). Default: the
    /// aggregate `decode_tokens_per_second` (no per-sequence cap).
    pub max_decode_tokens_per_second_per_sequence: f64,
    /// `promptTokens`: prompt tokens of synthetic requests. Required when the traffic has
    /// sources that carry no token counts (everything but an `azure-llm` replay).
    pub prompt_tokens: Option<TokenDist>,
    /// `outputTokens`: output tokens of synthetic requests (at least 1 is used). Required as
    /// `prompt_tokens` is.
    pub output_tokens: Option<TokenDist>,
}

/// `generic`: a non-LLM service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenericSpec {
    /// `serviceTime`: time one request occupies a slot, drawn per request.
    pub service_time: DurationDist,
    /// `concurrency`: requests a replica serves at once (1 or more). Default 1.
    pub concurrency: u32,
}

/// A distribution of token counts (integers ≥ 0; the runtime uses at least 1 output token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TokenDist {
    /// Always `value`.
    Fixed {
        /// Tokens.
        value: u32,
    },
    /// Uniform integers on `[min, max]`.
    Uniform {
        /// Smallest count.
        min: u32,
        /// Largest count.
        max: u32,
    },
    /// Log-normal given by its median and 95th percentile (p95 ≥ median ≥ 1), rounded to
    /// the nearest integer.
    LogNormal {
        /// Median.
        median: u32,
        /// 95th percentile.
        p95: u32,
    },
    /// Exponential with the given mean (≥ 1), rounded to the nearest integer.
    Exponential {
        /// Mean.
        mean: u32,
    },
}

/// `loadBalancing`: how the service's load balancer picks a Ready replica for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancing {
    /// The Ready replica with the fewest outstanding (queued plus in-service) requests; ties go
    /// to the lowest replica id (Envoy's `LEAST_REQUEST` with full information, as the Gateway
    /// API inference extension's endpoint picker approximates \[unverified\]).
    LeastOutstanding,
    /// Ready replicas in turn, in replica id order (kube-proxy in IPVS `rr` mode, Envoy
    /// `ROUND_ROBIN` \[unverified\]).
    RoundRobin,
}

/// `queue`: each replica's waiting queue (requests not yet admitted to a slot). A request that
/// finds it full, or waits longer than `timeout` before its service starts, is dropped. The
/// same capacity and timeout apply to the service-level queue that holds requests while no
/// replica is Ready (a gateway or activator buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueSpec {
    /// `capacity`: requests that may wait per replica (0 or more). Default 256.
    pub capacity: u32,
    /// `timeout`: longest wait before service starts (> 0). Default 30s.
    pub timeout: SimDuration,
}

/// `slo`: latency objectives. A completed request meets the SLO when every objective set is
/// met (end-to-end latency ≤ `latency`, time to first token ≤ `ttft`, time per output token
/// ≤ `tpot`); a dropped request never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SloSpec {
    /// End-to-end latency objective (arrival to last byte/token). Default none.
    pub latency: Option<SimDuration>,
    /// Time to first token objective (LLM only). Default none.
    pub ttft: Option<SimDuration>,
    /// Time per output token objective (LLM only). Default none.
    pub tpot: Option<SimDuration>,
}

/// Traffic: a tree of arrival sources. Rates are requests per second; times are virtual time
/// from the start of the run.
///
/// Combinators that change a rate (`scale`, `spike`) apply a *rate multiplier* `m(t)` to every
/// source below them (multipliers of nested combinators multiply): a Poisson-type source
/// (`poisson`, `diurnal`, `steps`, `mmpp`) then has intensity `m(t)·λ(t)`, exactly, by
/// thinning; a renewal source (`constant`, `gamma`) runs its inter-arrival clock `m(t)` times
/// faster; a `replay` keeps each record with probability `m(t)` when `m(t) < 1` and adds
/// `m(t) − 1` copies in expectation when `m(t) > 1` (the record itself plus ⌊m − 1⌋ copies and
/// one more with probability frac(m − 1), placed uniformly at random between the record and
/// the next one, carrying the record's token counts), so the trace keeps its clock and its
/// rate is multiplied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrafficSpec {
    /// `constant: {rate}`: evenly spaced arrivals at `1/rate`, `2/rate`, ... seconds.
    Constant {
        /// Requests per second (> 0).
        rate: f64,
    },
    /// `poisson: {rate}`: a Poisson process (exponential inter-arrival times).
    Poisson {
        /// Requests per second (≥ 0).
        rate: f64,
    },
    /// `diurnal: {mean, amplitude, period, peak}`: a non-homogeneous Poisson process with
    /// rate `mean + amplitude·cos(2π(t − peak)/period)`.
    Diurnal {
        /// Mean rate, requests per second (≥ 0).
        mean: f64,
        /// Amplitude, requests per second (0 ≤ amplitude ≤ mean).
        amplitude: f64,
        /// Period (> 0). Default 24h.
        period: SimDuration,
        /// Time of the peak within the period. Default 14h.
        peak: SimDuration,
    },
    /// `steps: [{at, rate}, ...]`: a Poisson process whose rate is piecewise constant: 0 until
    /// the first step, then each step's rate from its `at` on (steps sorted by `at`).
    Steps {
        /// The steps, strictly increasing in `at`.
        steps: Vec<RateStep>,
    },
    /// `gamma: {rate, cv}`: a renewal process with Gamma inter-arrival times of mean `1/rate`
    /// and coefficient of variation `cv` (shape `1/cv²`); `cv > 1` is bursty, `cv = 1` is
    /// Poisson.
    Gamma {
        /// Requests per second (> 0).
        rate: f64,
        /// Coefficient of variation of inter-arrival times (> 0).
        cv: f64,
    },
    /// `mmpp: {rates: [r1, r2], meanDurations: [d1, d2]}`: a two-state Markov-modulated Poisson
    /// process: Poisson at `r1` for an exponential time of mean `d1`, then at `r2` for mean
    /// `d2`, and so on, starting in state 1.
    Mmpp {
        /// Rate in each state, requests per second (≥ 0).
        rates: [f64; 2],
        /// Mean sojourn time in each state (> 0).
        mean_durations: [SimDuration; 2],
    },
    /// `replay: {...}`: arrivals read from a trace file.
    Replay(ReplaySpec),
    /// `sum: [...]`: the superposition of the listed sources.
    Sum(Vec<TrafficSpec>),
    /// `scale: {factor, of}`: `of` with its rate multiplied by `factor`.
    Scale {
        /// Rate multiplier (≥ 0).
        factor: f64,
        /// The source scaled.
        of: Box<TrafficSpec>,
    },
    /// `shift: {by, of}`: `of` delayed by `by` (its time 0 is at `by`).
    Shift {
        /// Delay.
        by: SimDuration,
        /// The source delayed.
        of: Box<TrafficSpec>,
    },
    /// `spike: {at, rampUp, hold, rampDown, multiplier, of}`: `of` with its rate multiplied by
    /// a trapezoid: 1 before `at`, rising linearly to `multiplier` over `ramp_up`, held for
    /// `hold`, falling linearly back to 1 over `ramp_down`.
    Spike(SpikeSpec),
}

/// One step of [`TrafficSpec::Steps`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateStep {
    /// From this time on...
    pub at: SimTime,
    /// ...the rate is this many requests per second (≥ 0).
    pub rate: f64,
}

/// [`TrafficSpec::Spike`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpikeSpec {
    /// Start of the ramp up.
    pub at: SimTime,
    /// Ramp up time. Default 0s.
    pub ramp_up: SimDuration,
    /// Time at the full multiplier (> 0 unless a ramp is given).
    pub hold: SimDuration,
    /// Ramp down time. Default 0s.
    pub ramp_down: SimDuration,
    /// Rate multiplier at the top (≥ 0; 5 for a 5x spike, 0.5 for a dip).
    pub multiplier: f64,
    /// The source multiplied.
    pub of: Box<TrafficSpec>,
}

impl SpikeSpec {
    /// The multiplier at time `t` (1 outside the spike).
    pub fn multiplier_at(&self, t: SimTime) -> f64 {
        spike_multiplier(
            t,
            self.at,
            self.ramp_up,
            self.hold,
            self.ramp_down,
            self.multiplier,
        )
    }
}

/// The multiplier at `t` of a trapezoidal spike starting at `at`: 1 before, linear up to
/// `multiplier` over `ramp_up`, `multiplier` for `hold`, linear back to 1 over `ramp_down`.
pub fn spike_multiplier(
    t: SimTime,
    at: SimTime,
    ramp_up: SimDuration,
    hold: SimDuration,
    ramp_down: SimDuration,
    multiplier: f64,
) -> f64 {
    if t < at {
        return 1.0;
    }
    let x = t.0 - at.0;
    if x < ramp_up.0 {
        return 1.0 + (multiplier - 1.0) * (x as f64 / ramp_up.0 as f64);
    }
    let x = x - ramp_up.0;
    if x < hold.0 {
        return multiplier;
    }
    let x = x - hold.0;
    if x < ramp_down.0 {
        return multiplier + (1.0 - multiplier) * (x as f64 / ramp_down.0 as f64);
    }
    1.0
}

/// `replay`: arrivals from a trace file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplaySpec {
    /// File format.
    pub format: ReplayFormat,
    /// Path relative to the data directory.
    pub path: PathBuf,
    /// Keep records at or after this trace time (relative to the file's first record); the
    /// record at `start` arrives at time 0. Default 0.
    pub start: SimDuration,
    /// Keep records before this trace time. Default: no end.
    pub end: Option<SimDuration>,
    /// Keep at most this many records (after windowing). Default: all.
    pub limit: Option<u64>,
    /// Multiplies inter-arrival times (0.5 = twice as fast). Default 1.
    pub time_scale: f64,
    /// Play the (windowed) trace again when it ends, shifted by its span (`end − start`, or
    /// the last record's time plus the mean inter-arrival time). Default false.
    pub repeat: bool,
}

/// Trace formats a [`ReplaySpec`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayFormat {
    /// Azure LLM inference trace (`TIMESTAMP,ContextTokens,GeneratedTokens`): arrivals with
    /// their prompt and output token counts ([`crate::trace::read_azure_llm`]).
    AzureLlm,
    /// A CSV of arrival times in seconds, one column, optional header
    /// ([`crate::trace::read_timestamps`]).
    Timestamps,
}

impl TrafficSpec {
    /// True when some source below carries no token counts of its own (everything but an
    /// `azure-llm` replay), so an LLM service needs `promptTokens` and `outputTokens`.
    pub fn needs_token_distributions(&self) -> bool {
        match self {
            TrafficSpec::Replay(r) => r.format != ReplayFormat::AzureLlm,
            TrafficSpec::Sum(v) => v.iter().any(TrafficSpec::needs_token_distributions),
            TrafficSpec::Scale { of, .. } | TrafficSpec::Shift { of, .. } => {
                of.needs_token_distributions()
            }
            TrafficSpec::Spike(s) => s.of.needs_token_distributions(),
            _ => true,
        }
    }

    /// The trace files this traffic reads, in tree order (paths relative to the data
    /// directory).
    pub fn trace_paths(&self) -> Vec<&std::path::Path> {
        let mut out = Vec::new();
        self.visit(&mut |t| {
            if let TrafficSpec::Replay(r) = t {
                out.push(r.path.as_path());
            }
        });
        out
    }

    /// Calls `f` on every node, parents before children.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a TrafficSpec)) {
        f(self);
        match self {
            TrafficSpec::Sum(v) => v.iter().for_each(|t| t.visit(f)),
            TrafficSpec::Scale { of, .. } | TrafficSpec::Shift { of, .. } => of.visit(f),
            TrafficSpec::Spike(s) => s.of.visit(f),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_multiplier_is_a_trapezoid() {
        let s = |t: u64| {
            spike_multiplier(
                SimTime(t),
                SimTime(100),
                SimDuration(10),
                SimDuration(20),
                SimDuration(40),
                5.0,
            )
        };
        assert_eq!(s(0), 1.0);
        assert_eq!(s(99), 1.0);
        assert_eq!(s(100), 1.0);
        assert_eq!(s(105), 3.0);
        assert_eq!(s(110), 5.0);
        assert_eq!(s(129), 5.0);
        assert_eq!(s(130), 5.0);
        assert_eq!(s(150), 3.0);
        assert_eq!(s(170), 1.0);
        assert_eq!(s(1_000), 1.0);
    }
}
