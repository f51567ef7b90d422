//! The JSON schema of scenario files, generated from the raw types with schemars, plus the
//! hand-written schemas of the text-valued fields (durations, quantities, names from a fixed
//! set).

use drydock_core::PolicyKind;
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};

use crate::raw::{RawScenario, string_enum};

/// The JSON schema (draft 2020-12) of scenario files, for editor completion and validation.
/// It is generated from the same types the loader reads, so it cannot drift from the loader;
/// the loader still checks more than the schema can say (cross-references, ranges that depend
/// on other fields). The committed copy is `scenarios/schema/scenario.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<RawScenario>();
    let mut value = schema.to_value();
    strip_null(&mut value);
    value
}

/// Removes the `null` alternatives schemars adds for `Option` fields: the loader treats an
/// explicit null like an absent key, so allowing it would only hide a missing value.
fn strip_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(map) = v else {
        if let Value::Array(items) = v {
            items.iter_mut().for_each(strip_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(alts)) = map.get("anyOf") {
        let rest: Vec<Value> = alts
            .iter()
            .filter(|a| a.get("type") != Some(&Value::from("null")))
            .cloned()
            .collect();
        if rest.len() == 1 && rest.len() < alts.len() {
            map.remove("anyOf");
            if let Some(Value::Object(inner)) = rest.into_iter().next() {
                for (k, val) in inner {
                    map.entry(k).or_insert(val);
                }
            }
        }
    }
    map.values_mut().for_each(strip_null);
}

pub(crate) fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A duration: a number and a unit (us, ms, s, m, h, d), combinable as \
            1h30m, or an integer number of seconds.",
        "anyOf": [
            {
                "type": "string",
                "pattern": "^ *([0-9]+(\\.[0-9]+)? *(us|µs|ms|s|m|h|d) *)+$|^ *[0-9]+(\\.[0-9]+)? *$",
                "examples": ["90s", "5m", "2h", "1h30m", "250ms", "30d"]
            },
            { "type": "integer", "minimum": 0 }
        ]
    })
}

pub(crate) fn cpu(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A Kubernetes CPU quantity: cores (\"96\", \"2.5\") or millicores (\"500m\").",
        "anyOf": [
            { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?m?$", "examples": ["96", "500m"] },
            { "type": "number", "minimum": 0 }
        ]
    })
}

pub(crate) fn memory(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A Kubernetes memory quantity: binary (Ki, Mi, Gi, Ti, Pi, Ei) or decimal \
            (k, M, G, T, P, E) suffixes, or plain bytes.",
        "anyOf": [
            {
                "type": "string",
                "pattern": "^[0-9]+(\\.[0-9]+)?([KMGTPE]i|[kMGTPE])?$",
                "examples": ["512Mi", "16Gi", "1Ti"]
            },
            { "type": "integer", "minimum": 0 }
        ]
    })
}

pub(crate) fn expectation(_: &mut SchemaGenerator) -> Schema {
    let names = crate::expect::metric_names();
    json_schema!({
        "description": format!(
            "A check on the run's report: METRIC OP VALUE, with OP one of <, <=, >, >=, ==, != \
             and VALUE in the metric's unit (durations like 4h, ratios like 0.85 or 85%, \
             dollars like $1200). Metrics: {}.",
            names.join(", ")
        ),
        "type": "string",
        "pattern": "^ *[a-z_][a-z0-9_]* *(\\{[^}]*\\})? *(<=|>=|==|!=|<|>) *[^ ].*$",
        "examples": ["jct_p95 <= 4h", "cost_total <= $1200", "gpu_allocation_mean >= 85%", "jobs_failed == 0"]
    })
}

pub(crate) fn api_version(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "const": crate::API_VERSION, "description": "Schema version." })
}

pub(crate) fn kind(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "const": "Scenario" })
}

pub(crate) fn policy(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = PolicyKind::ALL.iter().map(|p| p.name()).collect();
    string_enum(&names, "Placement policy. Default kube-default.")
}

pub(crate) fn tie_break(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        &["random", "node-name"],
        "Tie-break between equal top scores. Default: random for kube-default and binpack, \
         node-name for the others.",
    )
}

pub(crate) fn gang_mode(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        &["all-or-nothing", "permit-wait"],
        "Gang mode. Default all-or-nothing.",
    )
}

pub(crate) fn taint_effect(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        "Taint effect.",
    )
}

pub(crate) fn toleration_operator(_: &mut SchemaGenerator) -> Schema {
    string_enum(&["Equal", "Exists"], "Toleration operator. Default Equal.")
}

pub(crate) fn trace_format(_: &mut SchemaGenerator) -> Schema {
    string_enum(&["alibaba-openb", "philly"], "Trace file format.")
}

pub(crate) fn trace_mode(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        &["replay", "arrivals-only"],
        "How trace workloads arrive. Default replay.",
    )
}

pub(crate) fn duration_dist(generator: &mut SchemaGenerator) -> Schema {
    let d = generator
        .subschema_for::<crate::raw::DurationText>()
        .to_value();
    let variant = |kind: &str, fields: &[&str]| {
        let mut props = serde_json::Map::new();
        props.insert("kind".into(), serde_json::json!({ "const": kind }));
        for f in fields {
            props.insert((*f).into(), d.clone());
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
        "description": "A duration distribution: fixed (value), exponential (mean), uniform \
            (min, max) or log-normal (median, p95).",
        "oneOf": [
            variant("fixed", &["value"]),
            variant("exponential", &["mean"]),
            variant("uniform", &["min", "max"]),
            variant("log-normal", &["median", "p95"]),
        ]
    })
}

pub(crate) fn expander(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        &[
            "least-waste",
            "most-pods",
            "least-nodes",
            "random",
            "priority",
        ],
        "Cluster Autoscaler `--expander`. Default least-waste.",
    )
}
