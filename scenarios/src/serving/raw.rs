//! Step one of loading services: the file as written (see [`crate::raw`] for the conventions:
//! every field optional and located, units kept as text).

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use crate::raw::{CpuText, DurationText, MemoryText, RawDist, RawToleration, Sp};
use crate::schema;

type Opt<T> = Option<Sp<T>>;

/// An inference service: a Deployment of replicas serving requests.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["name", "traffic"]))]
#[schemars(rename = "Service")]
pub(crate) struct RawService {
    /// Unique service name (lowercase letters, digits, `-` and `.`).
    pub name: Opt<String>,
    /// Initial Deployment replicas (0 or more). Default 1.
    #[schemars(range(min = 0, max = 100_000))]
    pub replicas: Opt<i64>,
    /// Pod priority (PriorityClass value). Default 0.
    #[schemars(range(min = -2_147_483_648_i64, max = 2_147_483_647))]
    pub priority: Opt<i64>,
    /// Whole GPUs per replica pod (0–64). Default 1.
    #[schemars(range(min = 0, max = 64))]
    pub gpus_per_replica: Opt<i64>,
    /// CPU per replica pod. Default 1.
    pub cpu: Opt<CpuText>,
    /// Memory per replica pod. Default 4Gi.
    pub memory: Opt<MemoryText>,
    /// Allowed GPU models; empty = any.
    pub gpu_models: Option<Vec<Sp<String>>>,
    /// Extra node selector.
    pub node_selector: Opt<BTreeMap<String, String>>,
    /// Tolerations.
    pub tolerations: Option<Vec<Sp<RawToleration>>>,
    /// Time from the pod being bound to Ready: image pull, then model load.
    pub startup: Opt<RawStartup>,
    /// An LLM server with continuous batching (give `llm` or `generic`).
    pub llm: Opt<RawLlm>,
    /// A generic server: a service time and a concurrency limit (give `llm` or `generic`).
    pub generic: Opt<RawGeneric>,
    /// `least-outstanding` (default) or `round-robin`.
    #[schemars(schema_with = "load_balancing_schema")]
    #[serde(default)]
    pub load_balancing: Opt<String>,
    /// Per-replica waiting queue.
    pub queue: Opt<RawQueue>,
    /// Latency objectives.
    pub slo: Opt<RawSlo>,
    /// The arrivals: one traffic source or combinator.
    pub traffic: Opt<Box<RawTraffic>>,
    /// A HorizontalPodAutoscaler (autoscaling/v2) on the service's Deployment.
    pub autoscaling: Opt<super::autoscaling::RawAutoscaling>,
}

/// Replica startup phases, each a duration distribution.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Startup")]
pub(crate) struct RawStartup {
    /// Image pull time. Default 0s.
    #[schemars(schema_with = "schema::duration_dist")]
    pub image_pull: Opt<RawDist>,
    /// Model load time. Default 0s.
    #[schemars(schema_with = "schema::duration_dist")]
    pub model_load: Opt<RawDist>,
}

/// LLM serving with continuous batching.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["prefillTokensPerSecond", "decodeTokensPerSecond"]))]
#[schemars(rename = "Llm")]
pub(crate) struct RawLlm {
    /// Most concurrent sequences per replica (1 or more). Default 256.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_num_seqs: Opt<i64>,
    /// Prompt tokens per second one replica prefills (> 0).
    #[schemars(range(min = 0))]
    pub prefill_tokens_per_second: Opt<f64>,
    /// Output tokens per second one replica decodes across all its sequences (> 0).
    #[schemars(range(min = 0))]
    pub decode_tokens_per_second: Opt<f64>,
    /// Single-sequence decode speed in tokens per second (> 0). Default: no cap.
    #[schemars(range(min = 0))]
    pub max_decode_tokens_per_second_per_sequence: Opt<f64>,
    /// Prompt tokens of synthetic requests.
    #[schemars(schema_with = "token_dist_schema")]
    pub prompt_tokens: Opt<RawTokenDist>,
    /// Output tokens of synthetic requests.
    #[schemars(schema_with = "token_dist_schema")]
    pub output_tokens: Opt<RawTokenDist>,
}

/// A token-count distribution; which fields apply depends on `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawTokenDist {
    pub kind: Opt<String>,
    pub value: Opt<i64>,
    pub mean: Opt<i64>,
    pub min: Opt<i64>,
    pub max: Opt<i64>,
    pub median: Opt<i64>,
    pub p95: Opt<i64>,
}

/// A generic request/response server.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["serviceTime"]))]
#[schemars(rename = "Generic")]
pub(crate) struct RawGeneric {
    /// Time one request occupies a slot.
    #[schemars(schema_with = "schema::duration_dist")]
    pub service_time: Opt<RawDist>,
    /// Requests served at once per replica (1 or more). Default 1.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub concurrency: Opt<i64>,
}

/// Per-replica waiting queue.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Queue")]
pub(crate) struct RawQueue {
    /// Requests that may wait per replica (0 or more). Default 256.
    #[schemars(range(min = 0, max = 10_000_000))]
    pub capacity: Opt<i64>,
    /// Longest wait before service starts (> 0). Default 30s.
    pub timeout: Opt<DurationText>,
}

/// Latency objectives; each optional.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Slo")]
pub(crate) struct RawSlo {
    /// End-to-end latency objective.
    pub latency: Opt<DurationText>,
    /// Time to first token objective (LLM services).
    pub ttft: Opt<DurationText>,
    /// Time per output token objective (LLM services).
    pub tpot: Opt<DurationText>,
}

/// A traffic source or combinator: exactly one key. Rates are requests per second.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
#[schemars(rename = "Traffic")]
pub(crate) struct RawTraffic {
    /// Evenly spaced arrivals.
    pub constant: Opt<Box<RawRate>>,
    /// Poisson arrivals.
    pub poisson: Opt<Box<RawRate>>,
    /// Sinusoidal rate with Poisson arrivals.
    pub diurnal: Opt<Box<RawDiurnal>>,
    /// Piecewise-constant rate with Poisson arrivals.
    pub steps: Option<Sp<Vec<Sp<RawStep>>>>,
    /// Renewal process with Gamma inter-arrival times (bursty when cv > 1).
    pub gamma: Opt<Box<RawGamma>>,
    /// Two-state Markov-modulated Poisson process.
    pub mmpp: Opt<Box<RawMmpp>>,
    /// Arrivals from a trace file.
    pub replay: Opt<Box<RawReplay>>,
    /// Superposition of sources.
    pub sum: Option<Sp<Vec<Sp<RawTraffic>>>>,
    /// A source with its rate multiplied by a factor.
    pub scale: Opt<Box<RawScale>>,
    /// A source delayed in time.
    pub shift: Opt<Box<RawShift>>,
    /// A source with its rate multiplied by a trapezoidal spike.
    pub spike: Opt<Box<RawSpike>>,
}

/// A rate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["rate"]))]
#[schemars(rename = "Rate")]
pub(crate) struct RawRate {
    /// Requests per second.
    #[schemars(range(min = 0))]
    pub rate: Opt<f64>,
}

/// A sinusoidal rate: `mean + amplitude·cos(2π(t − peak)/period)`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["mean", "amplitude"]))]
#[schemars(rename = "Diurnal")]
pub(crate) struct RawDiurnal {
    /// Mean rate, requests per second.
    #[schemars(range(min = 0))]
    pub mean: Opt<f64>,
    /// Amplitude, requests per second (at most `mean`).
    #[schemars(range(min = 0))]
    pub amplitude: Opt<f64>,
    /// Period. Default 24h.
    pub period: Opt<DurationText>,
    /// Time of the peak within the period. Default 14h.
    pub peak: Opt<DurationText>,
}

/// One step of a piecewise-constant rate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["at", "rate"]))]
#[schemars(rename = "Step")]
pub(crate) struct RawStep {
    /// From this time on...
    pub at: Opt<DurationText>,
    /// ...this rate, requests per second.
    #[schemars(range(min = 0))]
    pub rate: Opt<f64>,
}

/// Gamma renewal arrivals.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["rate", "cv"]))]
#[schemars(rename = "Gamma")]
pub(crate) struct RawGamma {
    /// Requests per second.
    #[schemars(range(min = 0))]
    pub rate: Opt<f64>,
    /// Coefficient of variation of inter-arrival times (> 0; 1 is Poisson).
    #[schemars(range(min = 0))]
    pub cv: Opt<f64>,
}

/// Two-state Markov-modulated Poisson process.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["rates", "meanDurations"]))]
#[schemars(rename = "Mmpp")]
pub(crate) struct RawMmpp {
    /// Rate in each of the two states, requests per second.
    #[schemars(length(min = 2, max = 2))]
    pub rates: Option<Sp<Vec<Sp<f64>>>>,
    /// Mean time in each of the two states.
    #[schemars(length(min = 2, max = 2))]
    pub mean_durations: Option<Sp<Vec<Sp<DurationText>>>>,
}

/// Arrivals replayed from a trace file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["format", "path"]))]
#[schemars(rename = "Replay")]
pub(crate) struct RawReplay {
    /// `azure-llm` or `timestamps`.
    #[schemars(schema_with = "replay_format_schema")]
    pub format: Opt<String>,
    /// Path relative to the data directory.
    pub path: Opt<String>,
    /// Keep records at or after this trace time. Default 0s.
    pub start: Opt<DurationText>,
    /// Keep records before this trace time. Default: no end.
    pub end: Opt<DurationText>,
    /// Keep at most this many records. Default: all.
    #[schemars(range(min = 1))]
    pub limit: Opt<i64>,
    /// Multiplies inter-arrival times (> 0). Default 1.
    #[schemars(range(min = 0))]
    pub time_scale: Opt<f64>,
    /// Play the trace again when it ends. Default false.
    pub repeat: Opt<bool>,
}

/// A source with its rate multiplied.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["factor", "of"]))]
#[schemars(rename = "Scale")]
pub(crate) struct RawScale {
    /// Rate multiplier (≥ 0).
    #[schemars(range(min = 0))]
    pub factor: Opt<f64>,
    /// The source.
    pub of: Opt<Box<RawTraffic>>,
}

/// A source delayed in time.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["by", "of"]))]
#[schemars(rename = "Shift")]
pub(crate) struct RawShift {
    /// Delay.
    pub by: Opt<DurationText>,
    /// The source.
    pub of: Opt<Box<RawTraffic>>,
}

/// A trapezoidal rate spike over a source.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("required" = ["at", "multiplier", "of"]))]
#[schemars(rename = "Spike")]
pub(crate) struct RawSpike {
    /// Start of the ramp up.
    pub at: Opt<DurationText>,
    /// Ramp up time. Default 0s.
    pub ramp_up: Opt<DurationText>,
    /// Time at the full multiplier. Default 0s.
    pub hold: Opt<DurationText>,
    /// Ramp down time. Default 0s.
    pub ramp_down: Opt<DurationText>,
    /// Rate multiplier at the top (≥ 0; 5 for a 5x spike).
    #[schemars(range(min = 0))]
    pub multiplier: Opt<f64>,
    /// The source multiplied.
    pub of: Opt<Box<RawTraffic>>,
}

fn load_balancing_schema(_: &mut SchemaGenerator) -> Schema {
    crate::raw::string_enum(
        &["least-outstanding", "round-robin"],
        "Load balancing over Ready replicas. Default least-outstanding.",
    )
}

fn replay_format_schema(_: &mut SchemaGenerator) -> Schema {
    crate::raw::string_enum(&["azure-llm", "timestamps"], "Trace file format.")
}

fn token_dist_schema(_: &mut SchemaGenerator) -> Schema {
    let n = serde_json::json!({ "type": "integer", "minimum": 0 });
    let variant = |kind: &str, fields: &[&str]| {
        let mut props = serde_json::Map::new();
        props.insert("kind".into(), serde_json::json!({ "const": kind }));
        for f in fields {
            props.insert((*f).into(), n.clone());
        }
        let mut required = vec!["kind"];
        required.extend_from_slice(fields);
        serde_json::json!({
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false
        })
    };
    json_schema!({
        "description": "A token-count distribution: fixed (value), uniform (min, max), \
            log-normal (median, p95) or exponential (mean).",
        "oneOf": [
            variant("fixed", &["value"]),
            variant("uniform", &["min", "max"]),
            variant("log-normal", &["median", "p95"]),
            variant("exponential", &["mean"]),
        ]
    })
}
