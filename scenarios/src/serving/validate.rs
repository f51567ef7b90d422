//! Step two of loading services: check `spec.services[]` against every rule (all violations
//! collected) and resolve it into [`ServiceSpec`]s with defaults applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use drydock_core::{SimDuration, SimTime};

use super::raw::*;
use super::*;
use crate::error::closest;
use crate::raw::{DurationText, Pos, Sp};
use crate::validate::{Checker, check_dist, check_tolerations};

/// Deepest traffic tree accepted (combinators nested inside each other).
pub(crate) const MAX_TRAFFIC_DEPTH: usize = 16;
/// Largest rate accepted, requests per second (a guard against typos).
const MAX_RATE: f64 = 1e7;
/// Most replicas a service may start with.
const MAX_REPLICAS: i64 = 100_000;
/// Most tokens in a token distribution.
const MAX_TOKENS: i64 = 10_000_000;

const RATE_HINT: &str = "a rate in requests per second, 0 or more (for example `rate: 20`)";

/// Checks `spec.services`. `gpu_models` are the GPU models of the inline pools; when
/// `pools_unknown` (a node trace, or pools with errors) they are not checked.
pub(crate) fn check_services(
    c: &mut Checker<'_>,
    services: &[Sp<RawService>],
    gpu_models: &BTreeSet<&str>,
    pools_unknown: bool,
) -> Vec<ServiceSpec> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
    for (i, s) in services.iter().enumerate() {
        let path = format!("spec.services[{i}]");
        if let Some(spec) = check_service(c, s, &path, gpu_models, pools_unknown, &mut seen) {
            out.push(spec);
        }
    }
    out
}

fn check_service(
    c: &mut Checker<'_>,
    s: &Sp<RawService>,
    path: &str,
    models: &BTreeSet<&str>,
    pools_unknown: bool,
    seen: &mut BTreeMap<String, Pos>,
) -> Option<ServiceSpec> {
    let raw = &s.value;
    let name = c.required_str(
        &raw.name,
        s.pos,
        path,
        "name",
        "every service needs a unique `name`",
    );
    if let Some(n) = &name {
        c.object_name(n, &format!("{path}.name"), "service");
        if let Some(first) = seen.get(&n.value) {
            c.report(
                n.pos,
                "duplicate-service",
                format!("duplicate service name `{}`", n.value),
                Some(format!(
                    "service names must be unique; `{}` is first defined at line {}",
                    n.value, first.line
                )),
            );
        } else {
            seen.insert(n.value.clone(), n.pos);
        }
    }
    let replicas = c
        .int_in(
            &raw.replicas,
            &format!("{path}.replicas"),
            "replicas",
            (0, MAX_REPLICAS),
            "the Deployment's initial replicas, 0 or more",
        )
        .unwrap_or(1);
    let priority = c
        .int_in(
            &raw.priority,
            &format!("{path}.priority"),
            "priority",
            (i64::from(i32::MIN), i64::from(i32::MAX)),
            "a 32-bit pod priority",
        )
        .unwrap_or(0);
    let gpus = c
        .int_in(
            &raw.gpus_per_replica,
            &format!("{path}.gpusPerReplica"),
            "gpus-per-replica",
            (0, 64),
            "a replica pod asks for 0 to 64 whole GPUs",
        )
        .unwrap_or(1);
    let cpu = c.cpu(&raw.cpu, &format!("{path}.cpu")).unwrap_or(1000);
    let memory = c
        .memory(&raw.memory, &format!("{path}.memory"))
        .unwrap_or(4096);
    let mut gpu_models = Vec::new();
    for (k, m) in raw.gpu_models.as_deref().unwrap_or(&[]).iter().enumerate() {
        if m.value.trim().is_empty() {
            c.report(
                m.pos,
                "empty",
                format!("`{path}.gpuModels[{k}]` is empty"),
                Some("name a GPU model, for example `A100`".into()),
            );
            continue;
        }
        if !pools_unknown && !models.contains(m.value.as_str()) {
            let list: Vec<&str> = models.iter().copied().collect();
            let mut hint = if list.is_empty() {
                "no pool has GPUs".to_string()
            } else {
                format!("GPU models in the cluster: {}", list.join(", "))
            };
            if let Some(cand) = closest(&m.value, &list) {
                hint = format!("did you mean `{cand}`? {hint}");
            }
            c.report(
                m.pos,
                "unknown-gpu-model",
                format!("no pool has GPU model `{}`", m.value),
                Some(hint),
            );
        }
        gpu_models.push(m.value.clone());
    }
    let node_selector = c.string_map(&raw.node_selector, &format!("{path}.nodeSelector"));
    let tolerations = check_tolerations(
        c,
        raw.tolerations.as_deref().unwrap_or(&[]),
        &format!("{path}.tolerations"),
    );
    let startup = check_startup(c, raw.startup.as_ref(), path);
    let model = check_model(c, raw, s.pos, path);
    let load_balancing = c
        .choice(
            &raw.load_balancing,
            &format!("{path}.loadBalancing"),
            "load-balancing",
            &[
                ("least-outstanding", LoadBalancing::LeastOutstanding),
                ("round-robin", LoadBalancing::RoundRobin),
            ],
        )
        .unwrap_or(LoadBalancing::LeastOutstanding);
    let queue = check_queue(c, raw.queue.as_ref(), path);
    let slo = check_slo(c, raw.slo.as_ref(), path, &model);
    let traffic = c
        .require(
            &raw.traffic,
            s.pos,
            path,
            "traffic",
            "for example `traffic: {poisson: {rate: 20}}`",
        )
        .and_then(|t| check_traffic(c, &t.value, t.pos, &format!("{path}.traffic"), 0));
    if let (Some(Ok(ServingModel::Llm(llm))), Some(t)) = (&model, &traffic)
        && t.needs_token_distributions()
        && (llm.prompt_tokens.is_none() || llm.output_tokens.is_none())
    {
        let pos = raw.llm.as_ref().map_or(s.pos, |l| l.pos);
        let missing: Vec<&str> = [
            ("promptTokens", llm.prompt_tokens.is_none()),
            ("outputTokens", llm.output_tokens.is_none()),
        ]
        .into_iter()
        .filter_map(|(f, m)| m.then_some(f))
        .collect();
        c.report(
            pos,
            "token-distribution",
            format!(
                "`{path}.llm` has no `{}` but its traffic has sources without token counts",
                missing.join("` or `")
            ),
            Some(
                "give `promptTokens` and `outputTokens` distributions, for example \
                 `{kind: log-normal, median: 1000, p95: 4000}`; only an `azure-llm` replay \
                 carries its own counts"
                    .into(),
            ),
        );
        return None;
    }
    let autoscaling = raw.autoscaling.as_ref().and_then(|a| {
        super::autoscaling::check_autoscaling(c, a, &format!("{path}.autoscaling"), replicas as u32)
    });
    if raw.autoscaling.is_some() && autoscaling.is_none() {
        return None;
    }
    let (name, model, traffic) = (name?, model?.ok()?, traffic?);
    Some(ServiceSpec {
        name: name.value,
        replicas: replicas as u32,
        priority: priority as i32,
        gpus_per_replica: gpus as u32,
        cpu_milli: cpu,
        memory_mib: memory,
        gpu_models,
        node_selector,
        tolerations,
        startup: startup?,
        model,
        load_balancing,
        queue,
        slo: slo?,
        traffic,
        autoscaling,
    })
}

fn check_startup(
    c: &mut Checker<'_>,
    s: Option<&Sp<RawStartup>>,
    path: &str,
) -> Option<StartupSpec> {
    let zero = DurationDist::Fixed {
        value: SimDuration::ZERO,
    };
    let Some(s) = s else {
        return Some(StartupSpec {
            image_pull: zero.clone(),
            model_load: zero,
        });
    };
    let one = |c: &mut Checker<'_>, d: &Option<Sp<crate::raw::RawDist>>, field: &str| match d {
        None => Some(zero.clone()),
        Some(d) => check_dist(c, d, &format!("{path}.startup.{field}")),
    };
    let image_pull = one(c, &s.value.image_pull, "imagePull");
    let model_load = one(c, &s.value.model_load, "modelLoad");
    Some(StartupSpec {
        image_pull: image_pull?,
        model_load: model_load?,
    })
}

/// `None`: neither or both models given (reported); `Some(Err(()))`: the model has errors
/// (reported); `Some(Ok(model))`.
fn check_model(
    c: &mut Checker<'_>,
    raw: &RawService,
    pos: Pos,
    path: &str,
) -> Option<Result<ServingModel, ()>> {
    match (&raw.llm, &raw.generic) {
        (None, None) => {
            c.report(
                pos,
                "service-model",
                format!("`{path}` has neither `llm` nor `generic`"),
                Some(
                    "give `llm: {prefillTokensPerSecond: ..., decodeTokensPerSecond: ...}` or \
                     `generic: {serviceTime: {kind: exponential, mean: 80ms}}`"
                        .into(),
                ),
            );
            None
        }
        (Some(_), Some(g)) => {
            c.report(
                g.pos,
                "service-model",
                format!("`{path}` has both `llm` and `generic`"),
                Some("a service is either an LLM server or a generic one; remove one".into()),
            );
            None
        }
        (Some(l), None) => Some(check_llm(c, l, &format!("{path}.llm")).map(ServingModel::Llm)),
        (None, Some(g)) => {
            Some(check_generic(c, g, &format!("{path}.generic")).map(ServingModel::Generic))
        }
    }
}

fn check_llm(c: &mut Checker<'_>, l: &Sp<RawLlm>, path: &str) -> Result<LlmSpec, ()> {
    let raw = &l.value;
    let max_num_seqs = c
        .int_in(
            &raw.max_num_seqs,
            &format!("{path}.maxNumSeqs"),
            "max-num-seqs",
            (1, 1_000_000),
            "the most sequences a replica batches at once (vLLM --max-num-seqs), 1 or more",
        )
        .unwrap_or(256);
    let positive = |x: f64| x > 0.0 && x <= 1e12;
    let throughput = |c: &mut Checker<'_>, v: &Option<Sp<f64>>, field: &str, required| {
        if required {
            c.require(
                v,
                l.pos,
                path,
                field,
                "tokens per second of one replica, for example 8000 for prefill and 2400 for \
                 decode",
            )?;
        }
        c.number(
            v,
            &format!("{path}.{field}"),
            "throughput",
            positive,
            "greater than 0",
            "tokens per second of one replica",
        )
    };
    let prefill = throughput(
        c,
        &raw.prefill_tokens_per_second,
        "prefillTokensPerSecond",
        true,
    );
    let decode = throughput(
        c,
        &raw.decode_tokens_per_second,
        "decodeTokensPerSecond",
        true,
    );
    let single = throughput(
        c,
        &raw.max_decode_tokens_per_second_per_sequence,
        "maxDecodeTokensPerSecondPerSequence",
        false,
    );
    let prompt = raw
        .prompt_tokens
        .as_ref()
        .map(|d| check_tokens(c, d, &format!("{path}.promptTokens")));
    let output = raw
        .output_tokens
        .as_ref()
        .map(|d| check_tokens(c, d, &format!("{path}.outputTokens")));
    let (Some(prefill), Some(decode)) = (prefill, decode) else {
        return Err(());
    };
    if raw.max_decode_tokens_per_second_per_sequence.is_some() && single.is_none() {
        return Err(());
    }
    let prompt_tokens = match prompt {
        Some(None) => return Err(()),
        Some(Some(d)) => Some(d),
        None => None,
    };
    let output_tokens = match output {
        Some(None) => return Err(()),
        Some(Some(d)) => Some(d),
        None => None,
    };
    Ok(LlmSpec {
        max_num_seqs: max_num_seqs as u32,
        prefill_tokens_per_second: prefill,
        decode_tokens_per_second: decode,
        max_decode_tokens_per_second_per_sequence: single.unwrap_or(decode),
        prompt_tokens,
        output_tokens,
    })
}

fn check_generic(c: &mut Checker<'_>, g: &Sp<RawGeneric>, path: &str) -> Result<GenericSpec, ()> {
    let raw = &g.value;
    let service_time = c
        .require(
            &raw.service_time,
            g.pos,
            path,
            "serviceTime",
            "for example `serviceTime: {kind: exponential, mean: 80ms}`",
        )
        .and_then(|d| check_dist(c, d, &format!("{path}.serviceTime")));
    let concurrency = c.int_in(
        &raw.concurrency,
        &format!("{path}.concurrency"),
        "concurrency",
        (1, 1_000_000),
        "requests one replica serves at once, 1 or more",
    );
    if raw.concurrency.is_some() && concurrency.is_none() {
        return Err(());
    }
    Ok(GenericSpec {
        service_time: service_time.ok_or(())?,
        concurrency: concurrency.unwrap_or(1) as u32,
    })
}

fn check_tokens(c: &mut Checker<'_>, d: &Sp<RawTokenDist>, path: &str) -> Option<TokenDist> {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Fixed,
        Uniform,
        LogNormal,
        Exponential,
    }
    let raw = &d.value;
    let kind = c
        .require(
            &raw.kind,
            d.pos,
            path,
            "kind",
            "one of fixed, uniform, log-normal, exponential",
        )
        .and_then(|_| {
            c.choice(
                &raw.kind,
                &format!("{path}.kind"),
                "distribution",
                &[
                    ("fixed", Kind::Fixed),
                    ("uniform", Kind::Uniform),
                    ("log-normal", Kind::LogNormal),
                    ("exponential", Kind::Exponential),
                ],
            )
        })?;
    let fields: [(&str, &Option<Sp<i64>>); 6] = [
        ("value", &raw.value),
        ("mean", &raw.mean),
        ("min", &raw.min),
        ("max", &raw.max),
        ("median", &raw.median),
        ("p95", &raw.p95),
    ];
    let (wanted, kind_name): (&[&str], &str) = match kind {
        Kind::Fixed => (&["value"], "fixed"),
        Kind::Uniform => (&["min", "max"], "uniform"),
        Kind::LogNormal => (&["median", "p95"], "log-normal"),
        Kind::Exponential => (&["mean"], "exponential"),
    };
    let wanted_list = wanted
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    let mut ok = true;
    for (field, v) in fields {
        if let Some(v) = v
            && !wanted.contains(&field)
        {
            c.report(
                v.pos,
                "distribution",
                format!("`{path}.{field}` does not apply to kind {kind_name}"),
                Some(format!("a {kind_name} distribution takes {wanted_list}")),
            );
            ok = false;
        }
    }
    let get = |c: &mut Checker<'_>, field: &str, v: &Option<Sp<i64>>, min: i64| {
        c.require(
            v,
            d.pos,
            path,
            field,
            &format!("a {kind_name} distribution takes {wanted_list}"),
        )?;
        c.int_in(
            v,
            &format!("{path}.{field}"),
            "token-count",
            (min, MAX_TOKENS),
            "a number of tokens",
        )
        .map(|n| (n as u32, v.as_ref().map_or(d.pos, |x| x.pos)))
    };
    let dist = match kind {
        Kind::Fixed => get(c, "value", &raw.value, 0).map(|(v, _)| TokenDist::Fixed { value: v }),
        Kind::Exponential => {
            get(c, "mean", &raw.mean, 1).map(|(m, _)| TokenDist::Exponential { mean: m })
        }
        Kind::Uniform => {
            let (min, max) = (get(c, "min", &raw.min, 0), get(c, "max", &raw.max, 0));
            let ((min, _), (max, max_pos)) = (min?, max?);
            if max < min {
                c.report(
                    max_pos,
                    "distribution",
                    format!("`{path}.max` ({max}) is less than `min` ({min})"),
                    Some("a uniform distribution needs min ≤ max".into()),
                );
                return None;
            }
            Some(TokenDist::Uniform { min, max })
        }
        Kind::LogNormal => {
            let (median, p95) = (get(c, "median", &raw.median, 1), get(c, "p95", &raw.p95, 1));
            let ((median, _), (p95, p95_pos)) = (median?, p95?);
            if p95 < median {
                c.report(
                    p95_pos,
                    "p95-median",
                    format!("`{path}.p95` ({p95}) is less than the median ({median})"),
                    Some(
                        "the 95th percentile of a log-normal is at least its median; p95 = \
                         median gives a fixed value"
                            .into(),
                    ),
                );
                return None;
            }
            Some(TokenDist::LogNormal { median, p95 })
        }
    };
    if ok { dist } else { None }
}

fn check_queue(c: &mut Checker<'_>, q: Option<&Sp<RawQueue>>, path: &str) -> QueueSpec {
    let mut out = QueueSpec {
        capacity: 256,
        timeout: SimDuration::from_secs(30),
    };
    let Some(q) = q else { return out };
    if let Some(cap) = c.int_in(
        &q.value.capacity,
        &format!("{path}.queue.capacity"),
        "queue-capacity",
        (0, 10_000_000),
        "requests that may wait per replica; 0 drops every request that finds all slots busy",
    ) {
        out.capacity = cap as u32;
    }
    if let Some(t) = c.positive_duration(
        &q.value.timeout,
        &format!("{path}.queue.timeout"),
        "positive-duration",
        "the longest a request waits before its service starts, for example `timeout: 30s`",
    ) {
        out.timeout = t;
    }
    out
}

fn check_slo(
    c: &mut Checker<'_>,
    s: Option<&Sp<RawSlo>>,
    path: &str,
    model: &Option<Result<ServingModel, ()>>,
) -> Option<SloSpec> {
    let Some(s) = s else {
        return Some(SloSpec::default());
    };
    let hint = "a latency objective, for example `latency: 5s`";
    let latency = c.positive_duration(
        &s.value.latency,
        &format!("{path}.slo.latency"),
        "slo",
        hint,
    );
    let ttft = c.positive_duration(&s.value.ttft, &format!("{path}.slo.ttft"), "slo", hint);
    let tpot = c.positive_duration(&s.value.tpot, &format!("{path}.slo.tpot"), "slo", hint);
    let mut ok = true;
    if let Some(Ok(ServingModel::Generic(_))) = model {
        for (field, v) in [("ttft", &s.value.ttft), ("tpot", &s.value.tpot)] {
            if let Some(v) = v {
                c.report(
                    v.pos,
                    "slo",
                    format!("`{path}.slo.{field}` applies only to `llm` services"),
                    Some("a generic service has no tokens; use `latency`".into()),
                );
                ok = false;
            }
        }
    }
    let given_bad = [&s.value.latency, &s.value.ttft, &s.value.tpot]
        .iter()
        .zip([latency, ttft, tpot])
        .any(|(raw, v)| raw.is_some() && v.is_none());
    if given_bad || !ok {
        return None;
    }
    Some(SloSpec {
        latency,
        ttft,
        tpot,
    })
}

/// A required rate in `[0, MAX_RATE]` (or `(0, MAX_RATE]` when `positive`).
fn rate(
    c: &mut Checker<'_>,
    v: &Option<Sp<f64>>,
    parent: Pos,
    path: &str,
    field: &str,
    positive: bool,
) -> Option<f64> {
    c.require(v, parent, path, field, RATE_HINT)?;
    let (ok, expected): (fn(f64) -> bool, &str) = if positive {
        (
            |x| x > 0.0 && x <= MAX_RATE,
            "greater than 0 and at most 10,000,000",
        )
    } else {
        (
            |x| (0.0..=MAX_RATE).contains(&x),
            "between 0 and 10,000,000",
        )
    };
    c.number(
        v,
        &format!("{path}.{field}"),
        "rate",
        ok,
        expected,
        RATE_HINT,
    )
}

fn required_duration(
    c: &mut Checker<'_>,
    v: &Option<Sp<DurationText>>,
    parent: Pos,
    path: &str,
    field: &str,
    hint: &str,
) -> Option<SimDuration> {
    c.require(v, parent, path, field, hint)?;
    c.duration(v, &format!("{path}.{field}")).map(|d| d.value)
}

const TRAFFIC_KINDS: &str = "constant, poisson, diurnal, steps, gamma, mmpp, replay, sum, scale, \
     shift or spike";

/// Checks one traffic node (exactly one key) and its children.
fn check_traffic(
    c: &mut Checker<'_>,
    t: &RawTraffic,
    pos: Pos,
    path: &str,
    depth: usize,
) -> Option<TrafficSpec> {
    if depth >= MAX_TRAFFIC_DEPTH {
        c.report(
            pos,
            "traffic-depth",
            format!("`{path}` nests traffic combinators more than {MAX_TRAFFIC_DEPTH} deep"),
            Some("flatten the tree: `sum` takes a list, and nested `scale`s multiply".into()),
        );
        return None;
    }
    let given: Vec<(&str, Pos)> = [
        ("constant", t.constant.as_ref().map(|x| x.pos)),
        ("poisson", t.poisson.as_ref().map(|x| x.pos)),
        ("diurnal", t.diurnal.as_ref().map(|x| x.pos)),
        ("steps", t.steps.as_ref().map(|x| x.pos)),
        ("gamma", t.gamma.as_ref().map(|x| x.pos)),
        ("mmpp", t.mmpp.as_ref().map(|x| x.pos)),
        ("replay", t.replay.as_ref().map(|x| x.pos)),
        ("sum", t.sum.as_ref().map(|x| x.pos)),
        ("scale", t.scale.as_ref().map(|x| x.pos)),
        ("shift", t.shift.as_ref().map(|x| x.pos)),
        ("spike", t.spike.as_ref().map(|x| x.pos)),
    ]
    .into_iter()
    .filter_map(|(k, p)| p.map(|p| (k, p)))
    .collect();
    match given.as_slice() {
        [] => {
            c.report(
                pos,
                "traffic-kind",
                format!("`{path}` names no traffic source"),
                Some(format!("give exactly one of {TRAFFIC_KINDS}")),
            );
            return None;
        }
        [_] => {}
        [(first, _), (second, p2), ..] => {
            c.report(
                *p2,
                "traffic-kind",
                format!("`{path}` has more than one source (`{first}` and `{second}`)"),
                Some(format!(
                    "a traffic node is exactly one of {TRAFFIC_KINDS}; combine sources with \
                     `sum: [...]`"
                )),
            );
            return None;
        }
    }
    if let Some(r) = &t.constant {
        let p = format!("{path}.constant");
        return rate(c, &r.value.rate, r.pos, &p, "rate", true)
            .map(|rate| TrafficSpec::Constant { rate });
    }
    if let Some(r) = &t.poisson {
        let p = format!("{path}.poisson");
        return rate(c, &r.value.rate, r.pos, &p, "rate", false)
            .map(|rate| TrafficSpec::Poisson { rate });
    }
    if let Some(d) = &t.diurnal {
        return check_diurnal(c, d, &format!("{path}.diurnal"));
    }
    if let Some(steps) = &t.steps {
        return check_steps(c, &steps.value, steps.pos, &format!("{path}.steps"));
    }
    if let Some(g) = &t.gamma {
        let p = format!("{path}.gamma");
        let r = rate(c, &g.value.rate, g.pos, &p, "rate", true);
        let cv = c
            .require(
                &g.value.cv,
                g.pos,
                &p,
                "cv",
                "the coefficient of variation of inter-arrival times, for example `cv: 2`",
            )
            .and_then(|_| {
                c.number(
                    &g.value.cv,
                    &format!("{p}.cv"),
                    "cv",
                    |x| x > 0.0 && x <= 100.0,
                    "greater than 0 and at most 100",
                    "1 gives Poisson arrivals; above 1 is burstier",
                )
            });
        return Some(TrafficSpec::Gamma { rate: r?, cv: cv? });
    }
    if let Some(m) = &t.mmpp {
        return check_mmpp(c, m, &format!("{path}.mmpp"));
    }
    if let Some(r) = &t.replay {
        return check_replay(c, r, &format!("{path}.replay")).map(TrafficSpec::Replay);
    }
    if let Some(list) = &t.sum {
        let (list, pos) = (&list.value, list.pos);
        if list.is_empty() {
            c.report(
                pos,
                "traffic-kind",
                format!("`{path}.sum` is empty"),
                Some("list at least one traffic source".into()),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (k, item) in list.iter().enumerate() {
            match check_traffic(
                c,
                &item.value,
                item.pos,
                &format!("{path}.sum[{k}]"),
                depth + 1,
            ) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        return ok.then_some(TrafficSpec::Sum(out));
    }
    if let Some(s) = &t.scale {
        let p = format!("{path}.scale");
        let factor = c
            .require(
                &s.value.factor,
                s.pos,
                &p,
                "factor",
                "a rate multiplier, for example `factor: 2`",
            )
            .and_then(|_| {
                c.number(
                    &s.value.factor,
                    &format!("{p}.factor"),
                    "multiplier",
                    |x| (0.0..=1e6).contains(&x),
                    "between 0 and 1,000,000",
                    "a rate multiplier: 2 doubles the rate, 0.5 halves it",
                )
            });
        let of = child(c, &s.value.of, s.pos, &p, depth);
        return Some(TrafficSpec::Scale {
            factor: factor?,
            of: Box::new(of?),
        });
    }
    if let Some(s) = &t.shift {
        let p = format!("{path}.shift");
        let by = required_duration(
            c,
            &s.value.by,
            s.pos,
            &p,
            "by",
            "a delay, for example `by: 2h`",
        );
        let of = child(c, &s.value.of, s.pos, &p, depth);
        return Some(TrafficSpec::Shift {
            by: by?,
            of: Box::new(of?),
        });
    }
    if let Some(s) = &t.spike {
        return check_spike(c, s, &format!("{path}.spike"), depth);
    }
    None
}

/// The required `of` child of a combinator.
fn child(
    c: &mut Checker<'_>,
    of: &Option<Sp<Box<RawTraffic>>>,
    parent: Pos,
    path: &str,
    depth: usize,
) -> Option<TrafficSpec> {
    let of = c.require(
        of,
        parent,
        path,
        "of",
        "the traffic source it applies to, for example `of: {poisson: {rate: 20}}`",
    )?;
    check_traffic(c, &of.value, of.pos, &format!("{path}.of"), depth + 1)
}

fn check_diurnal(c: &mut Checker<'_>, d: &Sp<Box<RawDiurnal>>, path: &str) -> Option<TrafficSpec> {
    let raw = &d.value;
    let mean = rate(c, &raw.mean, d.pos, path, "mean", false);
    let amplitude = rate(c, &raw.amplitude, d.pos, path, "amplitude", false);
    let period = c
        .positive_duration(
            &raw.period,
            &format!("{path}.period"),
            "positive-duration",
            "the length of one cycle, 24h for a day",
        )
        .unwrap_or(SimDuration::from_hours(24));
    let peak = c
        .duration(&raw.peak, &format!("{path}.peak"))
        .map_or(SimDuration::from_hours(14), |p| p.value);
    let (mean, amplitude) = (mean?, amplitude?);
    if amplitude > mean {
        c.report(
            raw.amplitude.as_ref().map_or(d.pos, |a| a.pos),
            "amplitude",
            format!("`{path}.amplitude` ({amplitude}) is greater than the mean ({mean})"),
            Some("the rate mean ± amplitude must stay 0 or more".into()),
        );
        return None;
    }
    if raw
        .period
        .as_ref()
        .is_some_and(|_| period == SimDuration::ZERO)
    {
        return None;
    }
    Some(TrafficSpec::Diurnal {
        mean,
        amplitude,
        period,
        peak: SimDuration(peak.0 % period.0.max(1)),
    })
}

fn check_steps(
    c: &mut Checker<'_>,
    steps: &[Sp<RawStep>],
    pos: Pos,
    path: &str,
) -> Option<TrafficSpec> {
    if steps.is_empty() {
        c.report(
            pos,
            "steps",
            format!("`{path}` is empty"),
            Some("list the steps, for example `[{at: 0s, rate: 10}, {at: 1h, rate: 40}]`".into()),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    let mut prev: Option<SimDuration> = None;
    for (k, s) in steps.iter().enumerate() {
        let p = format!("{path}[{k}]");
        let at = required_duration(
            c,
            &s.value.at,
            s.pos,
            &p,
            "at",
            "when the step starts, for example `at: 1h`",
        );
        let r = rate(c, &s.value.rate, s.pos, &p, "rate", false);
        match (at, r) {
            (Some(at), Some(rate)) => {
                if let Some(before) = prev
                    && at <= before
                {
                    c.report(
                        s.value.at.as_ref().map_or(s.pos, |a| a.pos),
                        "steps",
                        format!("`{p}.at` ({at}) is not after the previous step ({before})"),
                        Some("list steps in increasing order of `at`".into()),
                    );
                    ok = false;
                }
                prev = Some(at);
                out.push(RateStep {
                    at: SimTime(at.0),
                    rate,
                });
            }
            _ => ok = false,
        }
    }
    ok.then_some(TrafficSpec::Steps { steps: out })
}

fn check_mmpp(c: &mut Checker<'_>, m: &Sp<Box<RawMmpp>>, path: &str) -> Option<TrafficSpec> {
    let raw = &m.value;
    let two_hint = "two values, one per state, for example `rates: [5, 50]`";
    let rates = c.require(&raw.rates, m.pos, path, "rates", two_hint);
    let durs = c.require(
        &raw.mean_durations,
        m.pos,
        path,
        "meanDurations",
        "two mean sojourn times, one per state, for example `meanDurations: [10m, 1m]`",
    );
    let mut ok = true;
    let mut rate_values = [0.0; 2];
    if let Some(r) = rates {
        if r.value.len() != 2 {
            c.report(
                r.pos,
                "mmpp",
                format!("`{path}.rates` has {} values; it needs 2", r.value.len()),
                Some(two_hint.into()),
            );
            ok = false;
        } else {
            for (k, v) in r.value.iter().enumerate() {
                let item = Some(v.clone());
                match c.number(
                    &item,
                    &format!("{path}.rates[{k}]"),
                    "rate",
                    |x| (0.0..=MAX_RATE).contains(&x),
                    "between 0 and 10,000,000",
                    RATE_HINT,
                ) {
                    Some(x) => rate_values[k] = x,
                    None => ok = false,
                }
            }
        }
    } else {
        ok = false;
    }
    let mut dur_values = [SimDuration::ZERO; 2];
    if let Some(d) = durs {
        if d.value.len() != 2 {
            c.report(
                d.pos,
                "mmpp",
                format!(
                    "`{path}.meanDurations` has {} values; it needs 2",
                    d.value.len()
                ),
                Some("two mean sojourn times, for example `meanDurations: [10m, 1m]`".into()),
            );
            ok = false;
        } else {
            for (k, v) in d.value.iter().enumerate() {
                let item = Some(v.clone());
                match c.positive_duration(
                    &item,
                    &format!("{path}.meanDurations[{k}]"),
                    "positive-duration",
                    "a mean time spent in the state, for example 10m",
                ) {
                    Some(x) => dur_values[k] = x,
                    None => ok = false,
                }
            }
        }
    } else {
        ok = false;
    }
    ok.then_some(TrafficSpec::Mmpp {
        rates: rate_values,
        mean_durations: dur_values,
    })
}

fn check_replay(c: &mut Checker<'_>, r: &Sp<Box<RawReplay>>, path: &str) -> Option<ReplaySpec> {
    let raw = &r.value;
    let format = c
        .require(
            &raw.format,
            r.pos,
            path,
            "format",
            "`format: azure-llm` or `format: timestamps`",
        )
        .and_then(|_| {
            c.choice(
                &raw.format,
                &format!("{path}.format"),
                "replay-format",
                &[
                    ("azure-llm", ReplayFormat::AzureLlm),
                    ("timestamps", ReplayFormat::Timestamps),
                ],
            )
        });
    let file = c.required_str(
        &raw.path,
        r.pos,
        path,
        "path",
        "a trace file relative to the data directory, for example \
         azure-llm/AzureLLMInferenceTrace_conv.csv",
    );
    let start = c.duration(&raw.start, &format!("{path}.start"));
    let end = c.positive_duration(
        &raw.end,
        &format!("{path}.end"),
        "trace-window",
        "omit `end` to keep the whole trace",
    );
    let mut ok = true;
    if let (Some(e), Some(s)) = (end, &start)
        && e <= s.value
    {
        c.report(
            raw.end.as_ref().map_or(r.pos, |x| x.pos),
            "trace-window",
            format!("`{path}.end` ({e}) is not after `start` ({})", s.value),
            Some("the window keeps records in [start, end)".into()),
        );
        ok = false;
    }
    if raw.start.is_some() && start.is_none() || raw.end.is_some() && end.is_none() {
        ok = false;
    }
    let limit = c
        .int_in(
            &raw.limit,
            &format!("{path}.limit"),
            "limit",
            (1, i64::MAX),
            "the most records to keep; omit it to keep all",
        )
        .map(|l| l as u64);
    if raw.limit.is_some() && limit.is_none() {
        ok = false;
    }
    let time_scale = c.number(
        &raw.time_scale,
        &format!("{path}.timeScale"),
        "time-scale",
        |x| x > 0.0 && x <= 1e6,
        "greater than 0",
        "0.5 replays the trace twice as fast, 2 half as fast",
    );
    if raw.time_scale.is_some() && time_scale.is_none() {
        ok = false;
    }
    let (format, file) = (format?, file?);
    ok.then(|| ReplaySpec {
        format,
        path: PathBuf::from(file.value),
        start: start.map_or(SimDuration::ZERO, |s| s.value),
        end,
        limit,
        time_scale: time_scale.unwrap_or(1.0),
        repeat: raw.repeat.as_ref().is_some_and(|r| r.value),
    })
}

fn check_spike(
    c: &mut Checker<'_>,
    s: &Sp<Box<RawSpike>>,
    path: &str,
    depth: usize,
) -> Option<TrafficSpec> {
    let raw = &s.value;
    let at = required_duration(
        c,
        &raw.at,
        s.pos,
        path,
        "at",
        "when the spike starts, for example `at: 6h`",
    );
    let ramp_up = c.duration(&raw.ramp_up, &format!("{path}.rampUp"));
    let hold = c.duration(&raw.hold, &format!("{path}.hold"));
    let ramp_down = c.duration(&raw.ramp_down, &format!("{path}.rampDown"));
    let multiplier = c
        .require(
            &raw.multiplier,
            s.pos,
            path,
            "multiplier",
            "the rate multiplier at the top, for example `multiplier: 5` for a 5x spike",
        )
        .and_then(|_| {
            c.number(
                &raw.multiplier,
                &format!("{path}.multiplier"),
                "multiplier",
                |x| (0.0..=1e6).contains(&x),
                "between 0 and 1,000,000",
                "5 for a 5x spike, 0.5 for a dip to half the rate",
            )
        });
    let of = child(c, &raw.of, s.pos, path, depth);
    let bad =
        |v: &Option<Sp<DurationText>>, d: &Option<Sp<SimDuration>>| v.is_some() && d.is_none();
    if bad(&raw.ramp_up, &ramp_up) || bad(&raw.hold, &hold) || bad(&raw.ramp_down, &ramp_down) {
        return None;
    }
    let (ramp_up, hold, ramp_down) = (
        ramp_up.map_or(SimDuration::ZERO, |d| d.value),
        hold.map_or(SimDuration::ZERO, |d| d.value),
        ramp_down.map_or(SimDuration::ZERO, |d| d.value),
    );
    if ramp_up.0.saturating_add(hold.0).saturating_add(ramp_down.0) == 0 {
        c.report(
            s.pos,
            "spike",
            format!("`{path}` lasts no time (`rampUp`, `hold` and `rampDown` are all 0)"),
            Some("give the spike a duration, for example `hold: 30m`".into()),
        );
        return None;
    }
    Some(TrafficSpec::Spike(SpikeSpec {
        at: SimTime(at?.0),
        ramp_up,
        hold,
        ramp_down,
        multiplier: multiplier?,
        of: Box::new(of?),
    }))
}
