//! Step two of loading: check the raw file against every rule, collecting all violations, and
//! resolve it into a [`Scenario`] with every default applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use drydock_core::{PolicyKind, SchedulerConfig, SimDuration, SimTime, TaintEffect, TieBreak};

use crate::error::{Diagnostic, closest};
use crate::model::*;
use crate::raw::*;
use crate::units::{
    CPU_HINT, DURATION_HINT, MEMORY_HINT, parse_cpu, parse_duration, parse_memory_mib,
};
use crate::{API_VERSION, node_name};

mod autoscaling;

/// Most GPUs a node or a pod may have.
const MAX_GPUS: i64 = 64;
/// Most nodes in one pool (a guard against typos that would exhaust memory).
const MAX_POOL_NODES: i64 = 1_000_000;
/// Labels drydock sets itself.
const RESERVED_LABELS: [&str; 3] = [
    "drydock.io/pool",
    "nvidia.com/gpu.product",
    "topology.kubernetes.io/zone",
];

/// Collects diagnostics for one file.
pub(crate) struct Checker<'a> {
    file: &'a str,
    lines: Vec<&'a str>,
    diags: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(file: &'a str, source: &'a str) -> Self {
        Checker {
            file,
            lines: source.lines().collect(),
            diags: Vec::new(),
        }
    }

    /// A diagnostic at `pos` (the source line is attached for the snippet).
    pub(crate) fn diagnostic(
        &self,
        pos: Pos,
        rule: &str,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let (line, column) = if pos.line == 0 {
            (1, 1)
        } else {
            (pos.line, pos.column.max(1))
        };
        Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            rule: rule.to_string(),
            message,
            hint,
            source_line: self.line(line).map(str::to_string),
        }
    }

    /// The text of 1-based line `line`, without its line break.
    pub(crate) fn line(&self, line: usize) -> Option<&'a str> {
        self.lines
            .get(line.checked_sub(1)?)
            .map(|l| l.trim_end_matches('\r'))
    }

    pub(crate) fn report(
        &mut self,
        pos: Pos,
        rule: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let d = self.diagnostic(pos, rule, message.into(), hint);
        self.diags.push(d);
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| (d.line, d.column));
        self.diags
    }

    /// A required field: reports `missing-field` at the parent when absent.
    pub(crate) fn require<'v, T>(
        &mut self,
        v: &'v Option<Sp<T>>,
        parent: Pos,
        path: &str,
        field: &str,
        hint: &str,
    ) -> Option<&'v Sp<T>> {
        if v.is_none() {
            self.report(
                parent,
                "missing-field",
                format!("`{path}` is missing the required field `{field}`"),
                Some(hint.to_string()),
            );
        }
        v.as_ref()
    }

    /// A required, non-empty string.
    pub(crate) fn required_str(
        &mut self,
        v: &Option<Sp<String>>,
        parent: Pos,
        path: &str,
        field: &str,
        hint: &str,
    ) -> Option<Sp<String>> {
        let s = self.require(v, parent, path, field, hint)?;
        if s.value.trim().is_empty() {
            self.report(
                s.pos,
                "empty",
                format!("`{path}.{field}` is empty"),
                Some(hint.to_string()),
            );
            return None;
        }
        Some(s.clone())
    }

    /// An optional duration; `None` when absent or invalid (reported).
    pub(crate) fn duration(
        &mut self,
        v: &Option<Sp<DurationText>>,
        path: &str,
    ) -> Option<Sp<SimDuration>> {
        let t = v.as_ref()?;
        match parse_duration(&t.value.0) {
            Ok(d) => Some(Sp {
                value: d,
                pos: t.pos,
            }),
            Err(e) => {
                self.report(
                    t.pos,
                    "duration",
                    format!("`{path}`: {e}"),
                    Some(DURATION_HINT.into()),
                );
                None
            }
        }
    }

    /// An optional duration with a default.
    pub(crate) fn duration_or(
        &mut self,
        v: &Option<Sp<DurationText>>,
        path: &str,
        default: SimDuration,
    ) -> SimDuration {
        self.duration(v, path).map_or(default, |d| d.value)
    }

    /// An optional duration that must be > 0 when given.
    pub(crate) fn positive_duration(
        &mut self,
        v: &Option<Sp<DurationText>>,
        path: &str,
        rule: &str,
        hint: &str,
    ) -> Option<SimDuration> {
        let d = self.duration(v, path)?;
        if d.value == SimDuration::ZERO {
            self.report(
                d.pos,
                rule,
                format!("`{path}` must be greater than 0"),
                Some(hint.into()),
            );
            return None;
        }
        Some(d.value)
    }

    pub(crate) fn cpu(&mut self, v: &Option<Sp<CpuText>>, path: &str) -> Option<u64> {
        let t = v.as_ref()?;
        match parse_cpu(&t.value.0) {
            Ok(c) => Some(c),
            Err(e) => {
                self.report(
                    t.pos,
                    "quantity",
                    format!("`{path}`: {e}"),
                    Some(CPU_HINT.into()),
                );
                None
            }
        }
    }

    pub(crate) fn memory(&mut self, v: &Option<Sp<MemoryText>>, path: &str) -> Option<u64> {
        let t = v.as_ref()?;
        match parse_memory_mib(&t.value.0) {
            Ok(m) => Some(m),
            Err(e) => {
                self.report(
                    t.pos,
                    "quantity",
                    format!("`{path}`: {e}"),
                    Some(MEMORY_HINT.into()),
                );
                None
            }
        }
    }

    /// An optional integer in `[min, max]`.
    pub(crate) fn int_in(
        &mut self,
        v: &Option<Sp<i64>>,
        path: &str,
        rule: &str,
        (min, max): (i64, i64),
        hint: &str,
    ) -> Option<i64> {
        let n = v.as_ref()?;
        if n.value < min || n.value > max {
            let range = if max == i64::MAX {
                format!("{min} or more")
            } else {
                format!("between {min} and {max}")
            };
            self.report(
                n.pos,
                rule,
                format!("`{path}` is {}; it must be {range}", n.value),
                Some(hint.into()),
            );
            return None;
        }
        Some(n.value)
    }

    /// An optional finite number accepted by `ok`.
    pub(crate) fn number(
        &mut self,
        v: &Option<Sp<f64>>,
        path: &str,
        rule: &str,
        ok: fn(f64) -> bool,
        expected: &str,
        hint: &str,
    ) -> Option<f64> {
        let n = v.as_ref()?;
        if !n.value.is_finite() || !ok(n.value) {
            self.report(
                n.pos,
                rule,
                format!("`{path}` is {}; it must be {expected}", n.value),
                Some(hint.into()),
            );
            return None;
        }
        Some(n.value)
    }

    /// An optional string from a fixed set.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        v: &Option<Sp<String>>,
        path: &str,
        rule: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let s = v.as_ref()?;
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == s.value) {
            return Some(*t);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let mut hint = format!("valid values: {}", names.join(", "));
        if let Some(c) = closest(&s.value, &names) {
            hint = format!("did you mean `{c}`? {hint}");
        }
        self.report(
            s.pos,
            rule,
            format!("`{path}`: unknown value `{}`", s.value),
            Some(hint),
        );
        None
    }

    /// A Kubernetes-style object name (lowercase letters, digits, `-`, `.`).
    pub(crate) fn object_name(&mut self, s: &Sp<String>, path: &str, what: &str) {
        let v = &s.value;
        let ok_chars = v
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        let ok_ends = v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok_chars || !ok_ends || v.len() > 200 {
            self.report(
                s.pos,
                "name",
                format!("`{path}`: `{v}` is not a valid {what} name"),
                Some(
                    "names become Kubernetes object names: use lowercase letters, digits, `-` \
                     and `.`, starting and ending with a letter or digit"
                        .into(),
                ),
            );
        }
    }

    pub(crate) fn string_map(
        &mut self,
        v: &Option<Sp<BTreeMap<String, String>>>,
        path: &str,
    ) -> BTreeMap<String, String> {
        let Some(m) = v else { return BTreeMap::new() };
        for key in m.value.keys() {
            if key.trim().is_empty() {
                self.report(m.pos, "empty", format!("`{path}` has an empty key"), None);
            }
        }
        m.value.clone()
    }
}

/// What later checks need to know about an inline pool.
struct PoolInfo {
    name: String,
    nodes: u32,
    gpus: u32,
    model: Option<String>,
    zones: Vec<String>,
}

/// Validates `raw` into a [`Scenario`], or returns every violation found.
pub(crate) fn validate(
    raw: RawScenario,
    file: &str,
    source_text: &str,
    source: String,
) -> Result<Scenario, Vec<Diagnostic>> {
    let mut c = Checker::new(file, source_text);
    let top = Pos { line: 1, column: 1 };

    match &raw.api_version {
        None => c.report(
            top,
            "api-version",
            "missing `apiVersion`",
            Some(format!("start the file with `apiVersion: {API_VERSION}`")),
        ),
        Some(v) if v.value != API_VERSION => c.report(
            v.pos,
            "api-version",
            format!("unsupported apiVersion `{}`", v.value),
            Some(format!(
                "this version of drydock reads `apiVersion: {API_VERSION}`"
            )),
        ),
        Some(_) => {}
    }
    match &raw.kind {
        None => c.report(
            top,
            "kind",
            "missing `kind`",
            Some("add `kind: Scenario`".into()),
        ),
        Some(v) if v.value != "Scenario" => c.report(
            v.pos,
            "kind",
            format!("unsupported kind `{}`", v.value),
            Some("scenario files have `kind: Scenario`".into()),
        ),
        Some(_) => {}
    }
    let (name, description) = match c.require(
        &raw.metadata,
        top,
        "",
        "metadata",
        "add `metadata: {name: my-scenario}`",
    ) {
        Some(m) => {
            let name = c.required_str(
                &m.value.name,
                m.pos,
                "metadata",
                "name",
                "give the scenario a name",
            );
            let desc = m
                .value
                .description
                .as_ref()
                .map(|d| d.value.clone())
                .unwrap_or_default();
            (name.map(|n| n.value).unwrap_or_default(), desc)
        }
        None => (String::new(), String::new()),
    };
    let Some(spec) = c.require(
        &raw.spec,
        top,
        "",
        "spec",
        "add a `spec:` with at least a `cluster`",
    ) else {
        return Err(c.finish());
    };
    let spec_pos = spec.pos;
    let spec = &spec.value;

    let seed = spec.seed.as_ref().map_or(1, |s| s.value);
    let duration = c.positive_duration(
        &spec.duration,
        "spec.duration",
        "positive-duration",
        "omit `duration` to run until all work is done",
    );
    let sample_interval = c
        .positive_duration(
            &spec.sample_interval,
            "spec.sampleInterval",
            "positive-duration",
            "for example `sampleInterval: 5m`",
        )
        .unwrap_or(SimDuration::from_mins(5));

    let (cluster, pools, pools_complete) = check_cluster(&mut c, spec.cluster.as_ref(), spec_pos);
    let scheduler = check_scheduler(&mut c, spec.scheduler.as_ref());
    let node_lifecycle = check_node_lifecycle(&mut c, spec.node_lifecycle.as_ref());
    let has_trace_nodes = cluster.node_trace.is_some();
    let training = check_training(
        &mut c,
        spec.training.as_deref().unwrap_or(&[]),
        &pools,
        has_trace_nodes || !pools_complete,
    );
    let traces = check_traces(&mut c, spec.traces.as_deref().unwrap_or(&[]));
    let failures = check_failures(
        &mut c,
        spec.failures.as_ref(),
        &pools,
        has_trace_nodes || !pools_complete,
    );
    let gpu_models: BTreeSet<&str> = pools.iter().filter_map(|p| p.model.as_deref()).collect();
    let services = crate::serving::validate::check_services(
        &mut c,
        spec.services.as_deref().unwrap_or(&[]),
        &gpu_models,
        has_trace_nodes || !pools_complete,
    );
    // Services receive traffic forever: without a duration a run with services lasts a day.
    let duration = duration.or_else(|| (!services.is_empty()).then(|| SimDuration::from_hours(24)));
    let expect = crate::expect::check_all(&mut c, spec.expect.as_deref().unwrap_or(&[]));
    // A `{service=NAME}` selector must name a service of this scenario.
    let raw_expect = spec.expect.as_deref().unwrap_or(&[]);
    if raw_expect.len() == expect.len() {
        for (e, raw) in expect.iter().zip(raw_expect) {
            if let Some(name) = e.labels.get("service")
                && !services.iter().any(|s| &s.name == name)
            {
                let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
                c.report(
                    raw.pos,
                    "expect-labels",
                    format!("`{}`: the scenario has no service `{name}`", e.source_text),
                    Some(if names.is_empty() {
                        "the scenario has no services; remove the selector".to_string()
                    } else {
                        format!("services: {}", names.join(", "))
                    }),
                );
            }
        }
    }

    let diags = c.finish();
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Scenario {
        name,
        description,
        source,
        seed,
        duration,
        sample_interval,
        cluster,
        scheduler,
        node_lifecycle,
        training,
        traces,
        services,
        failures,
        expect,
    })
}

fn taint_effects() -> [(&'static str, TaintEffect); 3] {
    [
        ("NoSchedule", TaintEffect::NoSchedule),
        ("PreferNoSchedule", TaintEffect::PreferNoSchedule),
        ("NoExecute", TaintEffect::NoExecute),
    ]
}

/// Checks `spec.cluster`; returns the resolved cluster, what later checks need about the
/// pools, and whether every pool was complete enough to resolve node names against.
fn check_cluster(
    c: &mut Checker<'_>,
    cluster: Option<&Sp<RawCluster>>,
    spec_pos: Pos,
) -> (ClusterSpec, Vec<PoolInfo>, bool) {
    let mut out = ClusterSpec {
        pools: Vec::new(),
        node_trace: None,
        autoscaler: Default::default(),
    };
    let mut infos = Vec::new();
    let mut complete = true;
    let Some(cluster) = cluster else {
        c.report(
            spec_pos,
            "no-nodes",
            "the scenario has no cluster",
            Some("add `cluster:` with `pools:` (or a `nodeTrace:`)".into()),
        );
        return (out, infos, false);
    };
    let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
    for (i, p) in cluster
        .value
        .pools
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let path = format!("spec.cluster.pools[{i}]");
        let raw = &p.value;
        let name = c.required_str(
            &raw.name,
            p.pos,
            &path,
            "name",
            "every pool needs a unique `name`",
        );
        if let Some(n) = &name {
            c.object_name(n, &format!("{path}.name"), "pool");
            if let Some(first) = seen.get(&n.value) {
                c.report(
                    n.pos,
                    "duplicate-pool",
                    format!("duplicate pool name `{}`", n.value),
                    Some(format!(
                        "pool names must be unique; `{}` is first defined at line {}",
                        n.value, first.line
                    )),
                );
            } else {
                seen.insert(n.value.clone(), n.pos);
            }
        }
        let nodes_default = match (&raw.nodes, &raw.autoscaling) {
            // An autoscaled pool starts at its minimum unless told otherwise.
            (None, Some(a)) => Some(a.value.min_nodes.as_ref().map_or(0, |m| m.value.max(0))),
            _ => None,
        };
        let nodes = if let Some(n) = nodes_default {
            Some(n)
        } else {
            c.require(
                &raw.nodes,
                p.pos,
                &path,
                "nodes",
                "give the number of nodes, for example `nodes: 4`",
            )
            .and_then(|_| {
                c.int_in(
                    &raw.nodes,
                    &format!("{path}.nodes"),
                    "node-count",
                    (0, MAX_POOL_NODES),
                    "a pool has 0 or more nodes",
                )
            })
        };
        let autoscaling = raw.autoscaling.as_ref().and_then(|a| {
            let initial = nodes.map(|n| (n as u32, raw.nodes.as_ref().map_or(a.pos, |x| x.pos)));
            autoscaling::check_pool_autoscaling(c, a, &format!("{path}.autoscaling"), initial)
        });
        let spot = raw
            .spot
            .as_ref()
            .and_then(|s| autoscaling::check_spot(c, s, &format!("{path}.spot")));
        let gpus = c
            .int_in(
                &raw.gpus_per_node,
                &format!("{path}.gpusPerNode"),
                "gpus-per-node",
                (0, MAX_GPUS),
                "a node has 0 to 64 GPUs",
            )
            .unwrap_or(0);
        let model = raw
            .gpu_model
            .as_ref()
            .map(|m| m.value.trim().to_string())
            .filter(|m| !m.is_empty());
        match (&raw.gpu_model, gpus > 0) {
            (None, true) => c.report(
                raw.gpus_per_node.as_ref().map_or(p.pos, |g| g.pos),
                "gpu-model",
                format!("`{path}` has {gpus} GPUs per node but no `gpuModel`"),
                Some(
                    "name the GPU model, for example `gpuModel: A100`; jobs select GPUs by model"
                        .into(),
                ),
            ),
            (Some(m), true) if model.is_none() => c.report(
                m.pos,
                "gpu-model",
                format!("`{path}.gpuModel` is empty"),
                Some("for example `gpuModel: A100`".into()),
            ),
            (Some(m), false) if raw.gpus_per_node.as_ref().is_none_or(|g| g.value == 0) => c
                .report(
                    m.pos,
                    "gpu-model",
                    format!("`{path}` has a `gpuModel` but no GPUs"),
                    Some("set `gpusPerNode`, or remove `gpuModel` for a CPU-only pool".into()),
                ),
            _ => {}
        }
        let gpu_memory = c
            .memory(&raw.gpu_memory, &format!("{path}.gpuMemory"))
            .unwrap_or(0);
        let cpu = c
            .require(
                &raw.cpu,
                p.pos,
                &path,
                "cpu",
                "give the allocatable CPU per node, for example `cpu: \"96\"`",
            )
            .and_then(|_| c.cpu(&raw.cpu, &format!("{path}.cpu")));
        let memory = c
            .require(
                &raw.memory,
                p.pos,
                &path,
                "memory",
                "give the allocatable memory per node, for example `memory: 1Ti`",
            )
            .and_then(|_| c.memory(&raw.memory, &format!("{path}.memory")));
        let price = c
            .number(
                &raw.price_per_node_hour,
                &format!("{path}.pricePerNodeHour"),
                "price",
                |x| x >= 0.0,
                "0 or more",
                "a price in dollars per node-hour, for example 32.77",
            )
            .unwrap_or(0.0);
        let labels = c.string_map(&raw.labels, &format!("{path}.labels"));
        if let Some(l) = &raw.labels {
            for key in l
                .value
                .keys()
                .filter(|k| RESERVED_LABELS.contains(&k.as_str()))
            {
                c.report(
                    l.pos,
                    "reserved-label",
                    format!("`{path}.labels` sets `{key}`, which drydock sets itself"),
                    Some(
                        "remove it: drydock labels nodes with their pool, GPU model and zone"
                            .into(),
                    ),
                );
            }
        }
        let mut taints = Vec::new();
        for (j, t) in raw.taints.as_deref().unwrap_or(&[]).iter().enumerate() {
            let tpath = format!("{path}.taints[{j}]");
            let key = c.required_str(&t.value.key, t.pos, &tpath, "key", "a taint needs a `key`");
            let effect = c
                .require(
                    &t.value.effect,
                    t.pos,
                    &tpath,
                    "effect",
                    "one of NoSchedule, PreferNoSchedule, NoExecute",
                )
                .and_then(|_| {
                    c.choice(
                        &t.value.effect,
                        &format!("{tpath}.effect"),
                        "taint-effect",
                        &taint_effects(),
                    )
                });
            let value = t
                .value
                .value
                .as_ref()
                .map(|v| v.value.clone())
                .unwrap_or_default();
            if let (Some(key), Some(effect)) = (key, effect) {
                taints.push(TaintSpec {
                    key: key.value,
                    value,
                    effect,
                });
            }
        }
        let mut zones = Vec::new();
        for (j, z) in raw.zones.as_deref().unwrap_or(&[]).iter().enumerate() {
            if z.value.trim().is_empty() {
                c.report(
                    z.pos,
                    "empty",
                    format!("`{path}.zones[{j}]` is empty"),
                    None,
                );
            } else {
                zones.push(z.value.clone());
            }
        }
        match (name, nodes, cpu, memory) {
            (Some(name), Some(nodes), Some(cpu), Some(memory)) => {
                let nodes = nodes as u32;
                infos.push(PoolInfo {
                    name: name.value.clone(),
                    nodes,
                    gpus: gpus as u32,
                    model: model.clone(),
                    zones: zones.clone(),
                });
                out.pools.push(PoolSpec {
                    name: name.value,
                    nodes,
                    gpu_model: if gpus > 0 { model } else { None },
                    gpus_per_node: gpus as u32,
                    gpu_memory_mib: gpu_memory,
                    cpu_milli: cpu,
                    memory_mib: memory,
                    labels,
                    taints,
                    zones,
                    price_per_node_hour: price,
                    autoscaling,
                    spot,
                });
            }
            (Some(name), Some(nodes), _, _) => {
                // Enough to resolve node names in failures; the other errors are reported.
                infos.push(PoolInfo {
                    name: name.value,
                    nodes: nodes as u32,
                    gpus: gpus as u32,
                    model,
                    zones,
                });
            }
            _ => complete = false,
        }
    }
    if let Some(t) = &cluster.value.node_trace {
        let path = "spec.cluster.nodeTrace";
        let file = c.required_str(&t.value.path, t.pos, path, "path", "a node list relative to the data directory, for example alibaba-openb/openb_node_list_gpu_node.csv");
        let per_gpu = c
            .number(
                &t.value.price_per_gpu_hour,
                &format!("{path}.pricePerGpuHour"),
                "price",
                |x| x >= 0.0,
                "0 or more",
                "dollars per GPU-hour",
            )
            .unwrap_or(0.0);
        let cpu_node = c
            .number(
                &t.value.cpu_node_price_per_hour,
                &format!("{path}.cpuNodePricePerHour"),
                "price",
                |x| x >= 0.0,
                "0 or more",
                "dollars per node-hour",
            )
            .unwrap_or(0.0);
        if let Some(file) = file {
            out.node_trace = Some(NodeTraceSpec {
                path: PathBuf::from(file.value),
                price_per_gpu_hour: per_gpu,
                cpu_node_price_per_hour: cpu_node,
            });
        }
    }
    let any_group = cluster
        .value
        .pools
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|p| p.value.autoscaling.is_some());
    out.autoscaler = autoscaling::check_autoscaler(c, cluster.value.autoscaler.as_ref(), any_group);
    let no_pools = cluster.value.pools.as_ref().is_none_or(|p| p.is_empty());
    if no_pools && cluster.value.node_trace.is_none() {
        c.report(
            cluster.pos,
            "no-nodes",
            "the cluster has no pools and no node trace",
            Some("add at least one pool under `cluster.pools`, or a `cluster.nodeTrace`".into()),
        );
    }
    (out, infos, complete)
}

fn check_scheduler(c: &mut Checker<'_>, s: Option<&Sp<RawScheduler>>) -> SchedulerSpec {
    let path = "spec.scheduler";
    let Some(s) = s else {
        return scheduler_defaults(PolicyKind::KubeDefault);
    };
    let raw = &s.value;
    let policy = match &raw.policy {
        None => PolicyKind::KubeDefault,
        Some(p) => match PolicyKind::from_name(&p.value) {
            Some(k) => k,
            None => {
                let names: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.name()).collect();
                let mut hint = format!("valid policies: {}", names.join(", "));
                if let Some(cand) = closest(&p.value, &names) {
                    hint = format!("did you mean `{cand}`? {hint}");
                }
                c.report(
                    p.pos,
                    "unknown-policy",
                    format!("unknown scheduling policy `{}`", p.value),
                    Some(hint),
                );
                PolicyKind::KubeDefault
            }
        },
    };
    let mut out = scheduler_defaults(policy);
    if let Some(t) = c.choice(
        &raw.tie_break,
        &format!("{path}.tieBreak"),
        "tie-break",
        &[
            ("random", TieBreak::Random),
            ("node-name", TieBreak::NodeName),
        ],
    ) {
        out.tie_break = t;
    }
    if let Some(p) = c.int_in(
        &raw.percentage_of_nodes_to_score,
        &format!("{path}.percentageOfNodesToScore"),
        "percentage",
        (0, 100),
        "0 means upstream's adaptive rule; 100 scores every feasible node",
    ) {
        out.percentage_of_nodes_to_score = if p == 0 { None } else { Some(p as u32) };
    }
    if let Some(w) = &raw.scoring_weights {
        let wpath = format!("{path}.scoringWeights");
        let hint = "weights are integers from 0 (ignored) to 100";
        if let Some(v) = c.int_in(
            &w.value.cpu,
            &format!("{wpath}.cpu"),
            "weight",
            (0, 100),
            hint,
        ) {
            out.weights.cpu = v as u32;
        }
        if let Some(v) = c.int_in(
            &w.value.memory,
            &format!("{wpath}.memory"),
            "weight",
            (0, 100),
            hint,
        ) {
            out.weights.memory = v as u32;
        }
        if let Some(v) = c.int_in(
            &w.value.gpu,
            &format!("{wpath}.nvidia.com/gpu"),
            "weight",
            (0, 100),
            hint,
        ) {
            out.weights.gpu = v as u32;
        }
    }
    if let Some(d) = c.positive_duration(
        &raw.cycle,
        &format!("{path}.cycle"),
        "positive-duration",
        "the scheduling period, for example `cycle: 1s`",
    ) {
        out.cycle = d;
    }
    if let Some(p) = &raw.preemption {
        out.preemption = p.value;
    }
    out.termination_grace_period = c.duration_or(
        &raw.termination_grace_period,
        &format!("{path}.terminationGracePeriod"),
        out.termination_grace_period,
    );
    if let Some(g) = &raw.gang {
        let gpath = format!("{path}.gang");
        out.gang_schedule_timeout = c.duration_or(
            &g.value.schedule_timeout,
            &format!("{gpath}.scheduleTimeout"),
            out.gang_schedule_timeout,
        );
        if let Some(m) = c.choice(
            &g.value.mode,
            &format!("{gpath}.mode"),
            "gang-mode",
            &[
                ("all-or-nothing", GangMode::AllOrNothing),
                ("permit-wait", GangMode::PermitWait),
            ],
        ) {
            out.gang_mode = m;
        }
    }
    if let Some(t) = c.number(
        &raw.popularity_threshold,
        &format!("{path}.popularityThreshold"),
        "popularity-threshold",
        |x| x > 0.0 && x <= 1.0,
        "in (0, 1]",
        "the share of pods FGD's target workload covers, 0.95 in the study",
    ) {
        out.popularity_threshold = t;
    }
    out
}

/// The scheduler settings used when the file gives none, for `policy`.
pub(crate) fn scheduler_defaults(policy: PolicyKind) -> SchedulerSpec {
    let cfg = SchedulerConfig::for_policy(policy);
    SchedulerSpec {
        policy,
        tie_break: cfg.tie_break,
        percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score,
        weights: cfg.weights,
        cycle: SimDuration::from_secs(1),
        preemption: true,
        termination_grace_period: SimDuration::from_secs(30),
        gang_schedule_timeout: SimDuration::from_secs(60),
        gang_mode: GangMode::AllOrNothing,
        popularity_threshold: 0.95,
    }
}

fn check_node_lifecycle(
    c: &mut Checker<'_>,
    n: Option<&Sp<RawNodeLifecycle>>,
) -> NodeLifecycleSpec {
    let mut out = NodeLifecycleSpec {
        node_monitor_grace_period: SimDuration::from_secs(50),
        node_monitor_period: SimDuration::from_secs(5),
        toleration_seconds: SimDuration::from_secs(300),
    };
    let Some(n) = n else { return out };
    let path = "spec.nodeLifecycle";
    out.node_monitor_grace_period = c.duration_or(
        &n.value.node_monitor_grace_period,
        &format!("{path}.nodeMonitorGracePeriod"),
        out.node_monitor_grace_period,
    );
    if let Some(d) = c.positive_duration(
        &n.value.node_monitor_period,
        &format!("{path}.nodeMonitorPeriod"),
        "positive-duration",
        "how often the node lifecycle controller checks nodes, 5s upstream",
    ) {
        out.node_monitor_period = d;
    }
    out.toleration_seconds = c.duration_or(
        &n.value.toleration_seconds,
        &format!("{path}.tolerationSeconds"),
        out.toleration_seconds,
    );
    out
}

pub(crate) fn check_tolerations(
    c: &mut Checker<'_>,
    list: &[Sp<RawToleration>],
    path: &str,
) -> Vec<TolerationSpec> {
    let mut out = Vec::new();
    for (j, t) in list.iter().enumerate() {
        let tpath = format!("{path}[{j}]");
        let raw = &t.value;
        let exists = c
            .choice(
                &raw.operator,
                &format!("{tpath}.operator"),
                "toleration",
                &[("Equal", false), ("Exists", true)],
            )
            .unwrap_or(false);
        let effect = match &raw.effect {
            Some(_) => c.choice(
                &raw.effect,
                &format!("{tpath}.effect"),
                "taint-effect",
                &taint_effects(),
            ),
            None => None,
        };
        let key = raw
            .key
            .as_ref()
            .map(|k| k.value.clone())
            .filter(|k| !k.is_empty());
        let value = raw
            .value
            .as_ref()
            .map(|v| v.value.clone())
            .unwrap_or_default();
        if exists && !value.is_empty() {
            c.report(
                raw.value.as_ref().map_or(t.pos, |v| v.pos),
                "toleration",
                format!("`{tpath}` has operator Exists and a value"),
                Some("remove `value` (Exists matches any value) or use `operator: Equal`".into()),
            );
        }
        if key.is_none() && !exists {
            c.report(
                t.pos,
                "toleration",
                format!("`{tpath}` has operator Equal but no key"),
                Some(
                    "give a `key`, or use `operator: Exists` without a key to tolerate every taint"
                        .into(),
                ),
            );
        }
        out.push(TolerationSpec {
            key,
            exists,
            value,
            effect,
        });
    }
    out
}

fn check_training(
    c: &mut Checker<'_>,
    jobs: &[Sp<RawTraining>],
    pools: &[PoolInfo],
    pools_unknown: bool,
) -> Vec<TrainingJobSpec> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
    let models: BTreeSet<&str> = pools.iter().filter_map(|p| p.model.as_deref()).collect();
    for (i, j) in jobs.iter().enumerate() {
        let path = format!("spec.training[{i}]");
        let raw = &j.value;
        let name = c.required_str(
            &raw.name,
            j.pos,
            &path,
            "name",
            "every training job needs a unique `name`",
        );
        if let Some(n) = &name {
            c.object_name(n, &format!("{path}.name"), "job");
            if let Some(first) = seen.get(&n.value) {
                c.report(
                    n.pos,
                    "duplicate-job",
                    format!("duplicate training job name `{}`", n.value),
                    Some(format!("job names must be unique (use `count` for copies); `{}` is first defined at line {}", n.value, first.line)),
                );
            } else {
                seen.insert(n.value.clone(), n.pos);
            }
        }
        let arrival = c.duration_or(&raw.arrival, &format!("{path}.arrival"), SimDuration::ZERO);
        let count = c
            .int_in(
                &raw.count,
                &format!("{path}.count"),
                "count",
                (1, 1_000_000),
                "the number of copies of the job, 1 or more",
            )
            .unwrap_or(1);
        let interval = c.duration_or(
            &raw.interval,
            &format!("{path}.interval"),
            SimDuration::ZERO,
        );
        let workers = c
            .int_in(
                &raw.workers,
                &format!("{path}.workers"),
                "workers",
                (1, 65_535),
                "a gang has between 1 and 65535 worker pods",
            )
            .unwrap_or(1);
        let gpus = c
            .int_in(
                &raw.gpus_per_worker,
                &format!("{path}.gpusPerWorker"),
                "gpus-per-worker",
                (0, MAX_GPUS),
                "a worker pod asks for 0 to 64 whole GPUs",
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
                    None,
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
        let work = c
            .require(
                &raw.work,
                j.pos,
                &path,
                "work",
                "the job's run time at full gang, for example `work: 6h`",
            )
            .and_then(|_| {
                c.positive_duration(
                    &raw.work,
                    &format!("{path}.work"),
                    "work",
                    "the job's run time at full gang, for example `work: 6h`",
                )
            });
        let checkpoint_interval = c.positive_duration(
            &raw.checkpoint_interval,
            &format!("{path}.checkpointInterval"),
            "checkpoint-interval",
            "omit `checkpointInterval` for a job that never checkpoints",
        );
        let checkpoint_cost = c.duration_or(
            &raw.checkpoint_cost,
            &format!("{path}.checkpointCost"),
            SimDuration::ZERO,
        );
        let restart_overhead = c.duration_or(
            &raw.restart_overhead,
            &format!("{path}.restartOverhead"),
            SimDuration::ZERO,
        );
        let backoff_limit = c
            .int_in(
                &raw.backoff_limit,
                &format!("{path}.backoffLimit"),
                "backoff-limit",
                (0, i64::from(u32::MAX)),
                "restarts allowed before the job fails, 6 by default",
            )
            .unwrap_or(6);
        let priority = c
            .int_in(
                &raw.priority,
                &format!("{path}.priority"),
                "priority",
                (i64::from(i32::MIN), i64::from(i32::MAX)),
                "a 32-bit pod priority",
            )
            .unwrap_or(0);
        if let (Some(name), Some(work)) = (name, work) {
            out.push(TrainingJobSpec {
                name: name.value,
                arrival: SimTime(arrival.0),
                count: count as u32,
                interval,
                workers: workers as u32,
                gpus_per_worker: gpus as u32,
                cpu_milli: cpu,
                memory_mib: memory,
                gpu_models,
                node_selector,
                tolerations,
                work,
                checkpoint_interval,
                checkpoint_cost,
                restart_overhead,
                backoff_limit: backoff_limit as u32,
                priority: priority as i32,
            });
        }
    }
    out
}

fn check_traces(c: &mut Checker<'_>, traces: &[Sp<RawTrace>]) -> Vec<TraceSpec> {
    let mut out = Vec::new();
    for (i, t) in traces.iter().enumerate() {
        let path = format!("spec.traces[{i}]");
        let raw = &t.value;
        let format = c
            .require(
                &raw.format,
                t.pos,
                &path,
                "format",
                "`format: alibaba-openb` or `format: philly`",
            )
            .and_then(|_| {
                c.choice(
                    &raw.format,
                    &format!("{path}.format"),
                    "trace-format",
                    &[
                        ("alibaba-openb", TraceFormat::AlibabaOpenb),
                        ("philly", TraceFormat::Philly),
                    ],
                )
            });
        let file = c.required_str(
            &raw.path,
            t.pos,
            &path,
            "path",
            "a trace file relative to the data directory",
        );
        let mode = c
            .choice(
                &raw.mode,
                &format!("{path}.mode"),
                "trace-mode",
                &[
                    ("replay", TraceMode::Replay),
                    ("arrivals-only", TraceMode::ArrivalsOnly),
                ],
            )
            .unwrap_or(TraceMode::Replay);
        let start = c.duration(&raw.start, &format!("{path}.start"));
        let end = c.positive_duration(
            &raw.end,
            &format!("{path}.end"),
            "trace-window",
            "omit `end` to keep the whole trace",
        );
        if let (Some(e), Some(s)) = (end, &start)
            && e <= s.value
        {
            c.report(
                raw.end.as_ref().map_or(t.pos, |x| x.pos),
                "trace-window",
                format!("`{path}.end` ({e}) is not after `start` ({})", s.value),
                Some("the window keeps records submitted in [start, end)".into()),
            );
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
        let sample = c
            .number(
                &raw.sample,
                &format!("{path}.sample"),
                "sample",
                |x| x > 0.0 && x <= 1.0,
                "in (0, 1]",
                "the probability of keeping each record; 1 keeps all",
            )
            .unwrap_or(1.0);
        let time_scale = c
            .number(
                &raw.time_scale,
                &format!("{path}.timeScale"),
                "time-scale",
                |x| x > 0.0,
                "greater than 0",
                "0.5 runs the trace twice as fast, 2 half as fast",
            )
            .unwrap_or(1.0);
        let inflate_to = c.number(
            &raw.inflate_to,
            &format!("{path}.inflateTo"),
            "inflate-to",
            |x| x > 0.0,
            "greater than 0",
            "a fraction of cluster GPU capacity, 1.3 in the FGD study",
        );
        let inter_arrival = c.duration_or(
            &raw.inter_arrival,
            &format!("{path}.interArrival"),
            SimDuration::from_secs(1),
        );
        if mode == TraceMode::Replay {
            let only = [
                ("shuffle", raw.shuffle.as_ref().map(|x| x.pos)),
                ("inflateTo", raw.inflate_to.as_ref().map(|x| x.pos)),
                ("interArrival", raw.inter_arrival.as_ref().map(|x| x.pos)),
            ];
            for (field, pos) in only {
                if let Some(pos) = pos {
                    c.report(
                        pos,
                        "mode-option",
                        format!("`{path}.{field}` applies only to `mode: arrivals-only`"),
                        Some(format!("set `mode: arrivals-only`, or remove `{field}`")),
                    );
                }
            }
        }
        let shuffle = raw
            .shuffle
            .as_ref()
            .map_or(mode == TraceMode::ArrivalsOnly, |s| s.value);
        let gpus_per_worker = c
            .int_in(
                &raw.gpus_per_worker,
                &format!("{path}.gpusPerWorker"),
                "gpus-per-worker",
                (1, MAX_GPUS),
                "GPUs per worker pod, 1 to 64",
            )
            .unwrap_or(8);
        let cpu_per_gpu = c
            .cpu(&raw.cpu_per_gpu, &format!("{path}.cpuPerGpu"))
            .unwrap_or(4000);
        let memory_per_gpu = c
            .memory(&raw.memory_per_gpu, &format!("{path}.memoryPerGpu"))
            .unwrap_or(32768);
        if format == Some(TraceFormat::AlibabaOpenb) {
            let only = [
                ("gpusPerWorker", raw.gpus_per_worker.as_ref().map(|x| x.pos)),
                ("cpuPerGpu", raw.cpu_per_gpu.as_ref().map(|x| x.pos)),
                ("memoryPerGpu", raw.memory_per_gpu.as_ref().map(|x| x.pos)),
            ];
            for (field, pos) in only {
                if let Some(pos) = pos {
                    c.report(
                        pos,
                        "format-option",
                        format!("`{path}.{field}` applies only to `format: philly`"),
                        Some(format!(
                            "openb pods carry their own requests; remove `{field}`"
                        )),
                    );
                }
            }
        }
        let checkpoint_interval = c.positive_duration(
            &raw.checkpoint_interval,
            &format!("{path}.checkpointInterval"),
            "checkpoint-interval",
            "omit `checkpointInterval` for jobs that never checkpoint",
        );
        let checkpoint_cost = c.duration_or(
            &raw.checkpoint_cost,
            &format!("{path}.checkpointCost"),
            SimDuration::ZERO,
        );
        let restart_overhead = c.duration_or(
            &raw.restart_overhead,
            &format!("{path}.restartOverhead"),
            SimDuration::ZERO,
        );
        let backoff_limit = c
            .int_in(
                &raw.backoff_limit,
                &format!("{path}.backoffLimit"),
                "backoff-limit",
                (0, i64::from(u32::MAX)),
                "restarts allowed before a job fails, 6 by default",
            )
            .unwrap_or(6);
        let priority = c
            .int_in(
                &raw.priority,
                &format!("{path}.priority"),
                "priority",
                (i64::from(i32::MIN), i64::from(i32::MAX)),
                "a 32-bit pod priority",
            )
            .unwrap_or(0);
        if let (Some(format), Some(file)) = (format, file) {
            out.push(TraceSpec {
                format,
                path: PathBuf::from(file.value),
                mode,
                start: start.map_or(SimDuration::ZERO, |s| s.value),
                end,
                limit,
                sample,
                time_scale,
                shuffle,
                inflate_to,
                inter_arrival,
                gpus_per_worker: gpus_per_worker as u32,
                cpu_per_gpu_milli: cpu_per_gpu,
                memory_per_gpu_mib: memory_per_gpu,
                checkpoint_interval,
                checkpoint_cost,
                restart_overhead,
                backoff_limit: backoff_limit as u32,
                priority: priority as i32,
            });
        }
    }
    out
}

/// The pool `node` belongs to, if it is a node name of an inline pool.
fn find_node<'p>(pools: &'p [PoolInfo], node: &str) -> Option<&'p PoolInfo> {
    pools.iter().find(|p| {
        node.strip_prefix(p.name.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u32>().ok())
            .is_some_and(|idx| idx < p.nodes && node_name(&p.name, idx, p.nodes) == node)
    })
}

fn node_names_hint(pools: &[PoolInfo]) -> String {
    let ranges: Vec<String> = pools
        .iter()
        .filter(|p| p.nodes > 0)
        .map(|p| {
            if p.nodes == 1 {
                node_name(&p.name, 0, 1)
            } else {
                format!(
                    "{} … {}",
                    node_name(&p.name, 0, p.nodes),
                    node_name(&p.name, p.nodes - 1, p.nodes)
                )
            }
        })
        .collect();
    if ranges.is_empty() {
        "the cluster's pools have no nodes".to_string()
    } else {
        format!("nodes are named <pool>-<index>: {}", ranges.join(", "))
    }
}

fn check_failures(
    c: &mut Checker<'_>,
    f: Option<&Sp<RawFailures>>,
    pools: &[PoolInfo],
    pools_unknown: bool,
) -> FailureSpec {
    let mut out = FailureSpec::default();
    let Some(f) = f else { return out };
    for (i, s) in f
        .value
        .scheduled
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let path = format!("spec.failures.scheduled[{i}]");
        let raw = &s.value;
        let at = c
            .require(
                &raw.at,
                s.pos,
                &path,
                "at",
                "when the failure happens, for example `at: 2h`",
            )
            .and_then(|_| c.duration(&raw.at, &format!("{path}.at")));
        let repair_after = c
            .duration(&raw.repair_after, &format!("{path}.repairAfter"))
            .map(|d| d.value);
        let given: Vec<(&str, Pos)> = [
            ("node", raw.node.as_ref().map(|x| x.pos)),
            ("gpu", raw.gpu.as_ref().map(|x| x.pos)),
            ("pool", raw.pool.as_ref().map(|x| x.pos)),
            ("zone", raw.zone.as_ref().map(|x| x.pos)),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.map(|p| (k, p)))
        .collect();
        let hint = "give exactly one of `node: NAME`, `gpu: {node: NAME, index: N}`, `pool: NAME` or `zone: NAME`";
        let target = match given.as_slice() {
            [] => {
                c.report(
                    s.pos,
                    "failure-target",
                    format!("`{path}` has no target"),
                    Some(hint.into()),
                );
                None
            }
            [_] => check_target(c, raw, &path, pools, pools_unknown),
            [(first, _), (second, pos), ..] => {
                c.report(
                    *pos,
                    "failure-target",
                    format!("`{path}` has more than one target (`{first}` and `{second}`)"),
                    Some(hint.into()),
                );
                None
            }
        };
        if let (Some(at), Some(target)) = (at, target) {
            out.scheduled.push(ScheduledFailure {
                at: SimTime(at.value.0),
                target,
                repair_after,
            });
        }
    }
    if let Some(r) = &f.value.random {
        let path = "spec.failures.random";
        let raw = &r.value;
        let node_mtbf = c.positive_duration(
            &raw.node_mtbf,
            &format!("{path}.nodeMtbf"),
            "mtbf",
            "a mean time between failures, for example `nodeMtbf: 264d`",
        );
        let gpu_mtbf = c.positive_duration(
            &raw.gpu_mtbf,
            &format!("{path}.gpuMtbf"),
            "mtbf",
            "a mean time between failures, for example `gpuMtbf: 2100d`",
        );
        if raw.node_mtbf.is_none() && raw.gpu_mtbf.is_none() {
            c.report(
                r.pos,
                "mtbf",
                format!("`{path}` has neither `nodeMtbf` nor `gpuMtbf`"),
                Some("give at least one, for example `gpuMtbf: 2100d` (Llama 3 rates, kubernetes-semantics.md §8.1)".into()),
            );
        }
        let repair = c
            .require(
                &raw.repair_time,
                r.pos,
                path,
                "repairTime",
                "for example `repairTime: {kind: log-normal, median: 2h, p95: 8h}`",
            )
            .and_then(|d| check_dist(c, d, &format!("{path}.repairTime")));
        let start = c.duration_or(&raw.start, &format!("{path}.start"), SimDuration::ZERO);
        if let Some(repair_time) = repair {
            out.random = Some(RandomFailures {
                node_mtbf,
                gpu_mtbf,
                repair_time,
                start: SimTime(start.0),
            });
        }
    }
    out
}

fn check_target(
    c: &mut Checker<'_>,
    raw: &RawScheduledFailure,
    path: &str,
    pools: &[PoolInfo],
    pools_unknown: bool,
) -> Option<FailureTarget> {
    let unknown_node = |c: &mut Checker<'_>, n: &Sp<String>, field: &str| {
        c.report(
            n.pos,
            "unknown-node",
            format!("`{path}.{field}`: no node named `{}`", n.value),
            Some(node_names_hint(pools)),
        );
    };
    if let Some(n) = &raw.node {
        if !pools_unknown && find_node(pools, &n.value).is_none() {
            unknown_node(c, n, "node");
            return None;
        }
        return Some(FailureTarget::Node {
            name: n.value.clone(),
        });
    }
    if let Some(g) = &raw.gpu {
        let gpath = format!("{path}.gpu");
        let node = c.required_str(
            &g.value.node,
            g.pos,
            &gpath,
            "node",
            "the node whose GPU fails",
        );
        let index = c
            .require(
                &g.value.index,
                g.pos,
                &gpath,
                "index",
                "the GPU's device index, from 0",
            )
            .and_then(|_| {
                c.int_in(
                    &g.value.index,
                    &format!("{gpath}.index"),
                    "gpu-index",
                    (0, MAX_GPUS - 1),
                    "a device index from 0",
                )
            });
        let node = node?;
        let pool = find_node(pools, &node.value);
        if pool.is_none() && !pools_unknown {
            unknown_node(c, &node, "gpu.node");
            return None;
        }
        let index = index?;
        if let (Some(pool), Some(ix)) = (pool, &g.value.index)
            && index >= i64::from(pool.gpus)
        {
            c.report(
                ix.pos,
                "gpu-index",
                format!(
                    "`{gpath}.index` is {index} but node `{}` has {} GPUs",
                    node.value, pool.gpus
                ),
                Some(format!(
                    "device indexes of pool `{}` are 0 to {}",
                    pool.name,
                    i64::from(pool.gpus) - 1
                )),
            );
            return None;
        }
        return Some(FailureTarget::Gpu {
            node: node.value,
            index: index as u32,
        });
    }
    if let Some(p) = &raw.pool {
        if !pools_unknown && !pools.iter().any(|x| x.name == p.value) {
            let names: Vec<&str> = pools.iter().map(|x| x.name.as_str()).collect();
            let mut hint = format!("pools: {}", names.join(", "));
            if let Some(cand) = closest(&p.value, &names) {
                hint = format!("did you mean `{cand}`? {hint}");
            }
            c.report(
                p.pos,
                "unknown-pool",
                format!("`{path}.pool`: no pool named `{}`", p.value),
                Some(hint),
            );
            return None;
        }
        return Some(FailureTarget::Pool {
            name: p.value.clone(),
        });
    }
    if let Some(z) = &raw.zone {
        let zones: BTreeSet<&str> = pools
            .iter()
            .flat_map(|p| p.zones.iter().map(String::as_str))
            .collect();
        if !pools_unknown && !zones.contains(z.value.as_str()) {
            let list: Vec<&str> = zones.iter().copied().collect();
            let hint = if list.is_empty() {
                "no pool lists `zones`".to_string()
            } else {
                format!("zones of the cluster's pools: {}", list.join(", "))
            };
            c.report(
                z.pos,
                "unknown-zone",
                format!("`{path}.zone`: no pool is in zone `{}`", z.value),
                Some(hint),
            );
            return None;
        }
        return Some(FailureTarget::Zone {
            name: z.value.clone(),
        });
    }
    None
}

pub(crate) fn check_dist(c: &mut Checker<'_>, d: &Sp<RawDist>, path: &str) -> Option<DurationDist> {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Fixed,
        Exponential,
        Uniform,
        LogNormal,
    }
    let raw = &d.value;
    let kind = c
        .require(
            &raw.kind,
            d.pos,
            path,
            "kind",
            "one of fixed, exponential, uniform, log-normal",
        )
        .and_then(|_| {
            c.choice(
                &raw.kind,
                &format!("{path}.kind"),
                "distribution",
                &[
                    ("fixed", Kind::Fixed),
                    ("exponential", Kind::Exponential),
                    ("uniform", Kind::Uniform),
                    ("log-normal", Kind::LogNormal),
                ],
            )
        })?;
    let fields: [(&str, &Option<Sp<DurationText>>); 6] = [
        ("value", &raw.value),
        ("mean", &raw.mean),
        ("min", &raw.min),
        ("max", &raw.max),
        ("median", &raw.median),
        ("p95", &raw.p95),
    ];
    let (wanted, kind_name): (&[&str], &str) = match kind {
        Kind::Fixed => (&["value"], "fixed"),
        Kind::Exponential => (&["mean"], "exponential"),
        Kind::Uniform => (&["min", "max"], "uniform"),
        Kind::LogNormal => (&["median", "p95"], "log-normal"),
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
    let get = |c: &mut Checker<'_>, field: &str, v: &Option<Sp<DurationText>>| {
        c.require(
            v,
            d.pos,
            path,
            field,
            &format!("a {kind_name} distribution takes {wanted_list}"),
        )
        .and_then(|_| c.duration(v, &format!("{path}.{field}")))
    };
    let dist = match kind {
        Kind::Fixed => get(c, "value", &raw.value).map(|v| DurationDist::Fixed { value: v.value }),
        Kind::Exponential => {
            let mean = get(c, "mean", &raw.mean)?;
            if mean.value == SimDuration::ZERO {
                c.report(
                    mean.pos,
                    "distribution",
                    format!("`{path}.mean` must be greater than 0"),
                    None,
                );
                return None;
            }
            Some(DurationDist::Exponential { mean: mean.value })
        }
        Kind::Uniform => {
            let (min, max) = (get(c, "min", &raw.min), get(c, "max", &raw.max));
            let (min, max) = (min?, max?);
            if max.value < min.value {
                c.report(
                    max.pos,
                    "distribution",
                    format!(
                        "`{path}.max` ({}) is less than `min` ({})",
                        max.value, min.value
                    ),
                    Some("a uniform distribution needs min ≤ max".into()),
                );
                return None;
            }
            Some(DurationDist::Uniform {
                min: min.value,
                max: max.value,
            })
        }
        Kind::LogNormal => {
            let (median, p95) = (get(c, "median", &raw.median), get(c, "p95", &raw.p95));
            let (median, p95) = (median?, p95?);
            if median.value == SimDuration::ZERO {
                c.report(
                    median.pos,
                    "distribution",
                    format!("`{path}.median` must be greater than 0"),
                    None,
                );
                return None;
            }
            if p95.value < median.value {
                c.report(
                    p95.pos,
                    "p95-median",
                    format!("`{path}.p95` ({}) is less than the median ({})", p95.value, median.value),
                    Some("the 95th percentile of a log-normal is at least its median; p95 = median gives a fixed value".into()),
                );
                return None;
            }
            Some(DurationDist::LogNormal {
                median: median.value,
                p95: p95.value,
            })
        }
    };
    if ok { dist } else { None }
}
