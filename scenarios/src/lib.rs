//! # drydock-scenarios: scenario files
//!
//! A *scenario* says what to simulate: a cluster (node pools, or a node list from a trace), a
//! workload (training gangs listed inline, and/or jobs imported from public traces), failures
//! (at fixed times, or random with given MTBFs) and the scheduler's settings. This crate reads
//! scenario files, checks them, and hands the simulator a fully resolved [`Scenario`]. It also
//! ships the built-in scenario library, the JSON schema of the format, and readers for the
//! trace files scenarios refer to ([`trace`]).
//!
//! ## Concepts
//! * **Envelope.** A file is Kubernetes-like: `apiVersion: drydock/v1alpha1`, `kind: Scenario`,
//!   `metadata: {name, description}`, `spec: {...}`. Keys are camelCase; unknown keys are
//!   errors.
//! * **Two-step loading.** The YAML is first read (with serde-saphyr) into *raw* types in which
//!   every field is optional and remembers its line and column; then every rule is checked and
//!   the defaults are applied, giving a [`Scenario`] where nothing is left to default. Defaults
//!   are documented on the fields of [`model`].
//! * **Units.** Durations are written `90s`, `5m`, `2h`, `1d`, `250ms`, `1h30m` or as an integer
//!   number of seconds ([`parse_duration`]); CPU and memory use Kubernetes quantities (`"96"`,
//!   `500m`; `16Gi`, `1G`) ([`parse_cpu`], [`parse_memory_mib`]). The validated model holds
//!   microseconds ([`drydock_core::SimDuration`]), millicores and MiB.
//! * **Names.** Nodes of an inline pool are named by [`node_name`]: `<pool>-<index>`, the index
//!   zero-padded to the width of the largest index (`a100-0` … `a100-3`, `v100-000` …
//!   `v100-999`).
//! * **Built-ins.** [`builtins`] lists the scenarios embedded in the binary (`default`,
//!   `training-failures`, `openb-fgd`, `philly`); [`load_named_or_path`] takes either a
//!   built-in name or a file path, as the CLI's `drydock run [SCENARIO]` does.
//! * **Expectations.** `spec.expect` lists checks on the run's report (`jct_p95 <= 4h`,
//!   `cost_total <= $1200`, `gpu_allocation_mean >= 85%`); they are parsed and checked against
//!   the metric vocabulary [`expect::METRICS`] at load time, values in each metric's unit
//!   ([`expect`]).
//! * **Trace paths** (`nodeTrace.path`, `traces[].path`) are relative to the data directory
//!   the caller chooses (`--data-dir`); loading a scenario does not open them. Read them with
//!   [`trace::read_openb_nodes`], [`trace::read_openb_pods`] and [`trace::read_philly`].
//!
//! ## Example
//! ```
//! let yaml = r#"
//! apiVersion: drydock/v1alpha1
//! kind: Scenario
//! metadata: {name: tiny}
//! spec:
//!   cluster:
//!     pools:
//!       - {name: a100, nodes: 2, gpuModel: A100, gpusPerNode: 8, cpu: "96", memory: 1Ti}
//!   training:
//!     - {name: llama, workers: 2, gpusPerWorker: 8, work: 6h, checkpointInterval: 30m}
//! "#;
//! let s = drydock_scenarios::load_str(yaml, "tiny.yaml").expect("valid");
//! assert_eq!(s.cluster.pools[0].memory_mib, 1024 * 1024);
//! assert_eq!(s.training[0].work, drydock_core::SimDuration::from_hours(6));
//!
//! // Every violation is reported, each with file, line and column.
//! let bad = yaml.replace("nodes: 2", "nodes: -2").replace("work: 6h", "work: 6 hours");
//! let err = drydock_scenarios::load_str(&bad, "tiny.yaml").unwrap_err();
//! assert_eq!(err.diagnostics().len(), 2);
//! assert!(err.to_string().contains("tiny.yaml:8:29: error[node-count]"));
//!
//! // The built-in library.
//! let default = drydock_scenarios::load_named_or_path("default").expect("built-in");
//! assert_eq!(default.source, "builtin:default");
//! ```
//!
//! ## Guarantees
//! * **All violations.** Validation reports every rule broken, sorted by position, each as a
//!   [`Diagnostic`] with file, line, column, rule name, message and usually a hint. Syntax and
//!   type errors found while parsing stop the parse, so they come one at a time
//!   ([`ScenarioError::Parse`]).
//! * **No panics** on any input; every error is a [`ScenarioError`], and every
//!   [`ScenarioError`] is an input error (the CLI exits with code 2).
//! * **Determinism.** Loading is a pure function of the text: the same file gives the same
//!   [`Scenario`]. Nothing random happens here; the seed is only carried.
//! * **Schema.** [`json_schema`] is generated from the same types the loader reads; the
//!   committed `scenarios/schema/scenario.schema.json` is checked against it by a test
//!   (regenerate it with `DRYDOCK_BLESS=1 cargo test -p drydock-scenarios`).
#![deny(missing_docs)]

mod builtins;
mod error;
pub mod expect;
pub mod model;
mod overrides;
mod raw;
mod schema;
pub mod serving;
pub mod trace;
mod units;
mod validate;

use std::path::Path;

pub use builtins::{Builtin, builtin, builtins};
pub use error::{Diagnostic, ScenarioError};
pub use expect::{CompareOp, Expectation, MetricUnit, parse_expectation};
pub use model::*;
pub use overrides::{
    Override, check_path, load_str_with_overrides, load_with_overrides, split_values, valid_paths,
};
pub use schema::json_schema;
pub use serving::{
    GenericSpec, LlmSpec, LoadBalancing, QueueSpec, RateStep, ReplayFormat, ReplaySpec,
    ServiceSpec, ServingModel, SloSpec, SpikeSpec, StartupSpec, TokenDist, TrafficSpec,
    spike_multiplier,
};
pub use units::{parse_cpu, parse_duration, parse_memory_mib};

/// The `apiVersion` this version of drydock reads.
pub const API_VERSION: &str = "drydock/v1alpha1";

/// The name of node `index` of a pool of `pool_size` nodes: `<pool>-<index>`, the index
/// zero-padded to the number of digits of the largest index (`pool_size - 1`), so names sort
/// in index order. The simulator and the loader both use this function.
///
/// ```
/// use drydock_scenarios::node_name;
/// assert_eq!(node_name("a100", 3, 4), "a100-3");
/// assert_eq!(node_name("a100", 3, 11), "a100-03");
/// assert_eq!(node_name("v100", 7, 1000), "v100-007");
/// ```
pub fn node_name(pool: &str, index: u32, pool_size: u32) -> String {
    let width = (pool_size.max(1) - 1)
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    format!("{pool}-{index:0width$}")
}

/// Reads and validates the scenario file at `path`. Diagnostics name the file as `path` is
/// written.
///
/// # Errors
/// [`ScenarioError::Io`] if the file cannot be read, [`ScenarioError::Parse`] or
/// [`ScenarioError::Invalid`] if it is not a valid scenario.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = read_scenario_file(path)?;
    let origin = path.display().to_string();
    load_inner(&text, &origin, origin.clone())
}

/// The largest scenario file drydock reads (scenarios are small; traces live in CSV files).
pub const MAX_SCENARIO_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a scenario file: a regular file of at most [`MAX_SCENARIO_BYTES`], in UTF-8.
///
/// # Errors
/// [`ScenarioError::Io`] when the path is missing, not a regular file (a directory, a device
/// such as `/dev/zero`), too large, or not UTF-8 (the message gives the byte offset).
pub fn read_scenario_file(path: &Path) -> Result<String, ScenarioError> {
    let io = |source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (expected a YAML scenario file)",
        )));
    }
    if meta.len() > MAX_SCENARIO_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} bytes is larger than the {} MiB a scenario file may have",
                meta.len(),
                MAX_SCENARIO_BYTES / 1024 / 1024
            ),
        )));
    }
    use std::io::Read as _;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_SCENARIO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    String::from_utf8(bytes).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {}); scenario files are YAML in UTF-8",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

/// Validates a scenario given as text; `origin` names it in diagnostics (as the file) and in
/// [`Scenario::source`].
///
/// # Errors
/// [`ScenarioError::Parse`] or [`ScenarioError::Invalid`] if it is not a valid scenario.
pub fn load_str(source: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    load_inner(source, origin, origin.to_string())
}

/// Loads a built-in scenario by name (see [`builtins`]), or else the file at path `arg`.
/// Built-ins get the source `builtin:NAME`.
///
/// # Errors
/// [`ScenarioError::UnknownScenario`] (listing the built-ins) if `arg` is neither a built-in
/// name nor an existing file; otherwise as [`load`].
pub fn load_named_or_path(arg: &str) -> Result<Scenario, ScenarioError> {
    if let Some(b) = builtin(arg) {
        let origin = format!("builtin:{}", b.name);
        return load_inner(b.source, &origin, origin.clone());
    }
    let path = Path::new(arg);
    if path.exists() {
        return load(path);
    }
    Err(unknown_scenario(arg))
}

/// The text of a built-in scenario (by name) or of the scenario file at path `arg`, and its
/// origin as diagnostics name it (`builtin:NAME` or the path as written).
///
/// # Errors
/// [`ScenarioError::UnknownScenario`] if `arg` is neither a built-in name nor an existing
/// file; [`ScenarioError::Io`] if the file cannot be read.
pub fn source_text(arg: &str) -> Result<(String, String), ScenarioError> {
    if let Some(b) = builtin(arg) {
        return Ok((b.source.to_string(), format!("builtin:{}", b.name)));
    }
    let path = Path::new(arg);
    if !path.exists() {
        return Err(unknown_scenario(arg));
    }
    let text = read_scenario_file(path)?;
    Ok((text, path.display().to_string()))
}

fn unknown_scenario(arg: &str) -> ScenarioError {
    ScenarioError::UnknownScenario {
        name: arg.to_string(),
        available: builtins().iter().map(|b| b.name.to_string()).collect(),
    }
}

fn load_inner(text: &str, origin: &str, source: String) -> Result<Scenario, ScenarioError> {
    let raw: raw::RawScenario = serde_saphyr::from_str(text).map_err(|e| ScenarioError::Parse {
        diagnostics: vec![parse_diagnostic(&e, origin, text)],
    })?;
    if raw.api_version.is_none()
        && raw.kind.is_none()
        && raw.metadata.is_none()
        && raw.spec.is_none()
    {
        let d = validate::Checker::new(origin, text).diagnostic(
            raw::Pos { line: 1, column: 1 },
            "empty-file",
            "the file holds no scenario".into(),
            Some(format!(
                "a scenario starts with `apiVersion: {API_VERSION}` and `kind: Scenario`; see \
                 `drydock schema` or the built-in scenarios for examples"
            )),
        );
        return Err(ScenarioError::Invalid {
            diagnostics: vec![d],
        });
    }
    validate::validate(raw, origin, text, source)
        .map_err(|diagnostics| ScenarioError::Invalid { diagnostics })
}

/// Turns a serde-saphyr error into a located diagnostic with a rule name and a hint.
fn parse_diagnostic(err: &serde_saphyr::Error, file: &str, text: &str) -> Diagnostic {
    use serde_saphyr::{DefaultMessageFormatter, Error, MessageFormatter};

    let mut inner = err.without_snippet();
    while let Error::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let pos = err
        .location()
        .map(|l| raw::Pos {
            line: usize::try_from(l.line()).unwrap_or(0),
            column: usize::try_from(l.column()).unwrap_or(0),
        })
        .unwrap_or_default();
    let found = || match token_at(text, pos) {
        Some(t) if t.starts_with('{') => ", found a mapping".to_string(),
        Some(t) if t.starts_with('[') => ", found a list".to_string(),
        Some(t) => format!(", found `{t}`"),
        None => String::new(),
    };
    let type_hint = "check the value's type; quote text that looks like a number or a boolean";
    let (rule, message, hint): (&str, String, Option<String>) = match inner {
        Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let mut hint = format!("valid fields here: {}", expected.join(", "));
            if let Some(c) = error::closest(field, expected) {
                hint = format!("did you mean `{c}`? {hint}");
            }
            (
                "unknown-field",
                format!("unknown field `{field}`"),
                Some(hint),
            )
        }
        Error::SerdeMissingField { field, .. } => (
            "missing-field",
            format!("missing required field `{field}`"),
            None,
        ),
        Error::InvalidScalar { ty, .. } => (
            "invalid-type",
            format!("expected {}{}", describe_type(ty), found()),
            Some(type_hint.into()),
        ),
        Error::InvalidBooleanStrict { .. } => (
            "invalid-type",
            format!("expected true or false{}", found()),
            Some(type_hint.into()),
        ),
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => (
            "invalid-type",
            format!("expected {expected}, found {unexpected}"),
            Some(type_hint.into()),
        ),
        Error::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => (
            "invalid-value",
            format!("expected {expected}, found {unexpected}"),
            Some(type_hint.into()),
        ),
        Error::Unexpected { expected, .. } => {
            let (what, hint) = match *expected {
                "sequence start" => ("a list", "write a list: one `- item` per line, or `[a, b]`"),
                "mapping start" => ("a mapping", "write `key: value` pairs, or `{key: value}`"),
                "string scalar" => ("a string", type_hint),
                other => (other, type_hint),
            };
            (
                "invalid-type",
                format!("expected {what}{}", found()),
                Some(hint.into()),
            )
        }
        Error::NullIntoString { .. } => (
            "invalid-type",
            "expected a string, found nothing (null)".into(),
            Some("write a value after the colon, or remove the key".into()),
        ),
        Error::DuplicateMappingKey { key, .. } => (
            "duplicate-key",
            match key {
                Some(k) => format!("duplicate key `{k}`"),
                None => "duplicate key".into(),
            },
            Some("each key may appear only once in a mapping".into()),
        ),
        Error::MultipleDocuments { .. } => (
            "yaml-syntax",
            "more than one YAML document".into(),
            Some("a scenario file holds one document; remove the `---` separators".into()),
        ),
        Error::Eof { .. } => (
            "yaml-syntax",
            "unexpected end of file".into(),
            Some(format!(
                "a scenario starts with `apiVersion: {API_VERSION}`"
            )),
        ),
        other => (
            "yaml-syntax",
            DefaultMessageFormatter.format_message(other).into_owned(),
            Some("check the indentation and quoting around this position".into()),
        ),
    };
    validate::Checker::new(file, text).diagnostic(pos, rule, message, hint)
}

/// A human description of a Rust scalar type named in a parse error.
fn describe_type(ty: &str) -> &'static str {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        "char" => "a single character",
        _ => "a different value",
    }
}

/// The scalar written at `pos`, for "found `...`" in messages.
fn token_at(text: &str, pos: raw::Pos) -> Option<String> {
    let line = text.lines().nth(pos.line.checked_sub(1)?)?;
    let rest: String = line.chars().skip(pos.column.checked_sub(1)?).collect();
    let rest = rest.trim();
    let token = if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = rest[1..].find(q).map_or(rest.len(), |i| i + 2);
        &rest[..end]
    } else {
        let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
        let t = &rest[..end];
        t.find(" #").map_or(t, |i| &t[..i]).trim()
    };
    if token.is_empty() {
        return None;
    }
    let mut out: String = token.chars().take(40).collect();
    if token.chars().count() > 40 {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_padded_to_the_largest_index() {
        assert_eq!(node_name("p", 0, 0), "p-0");
        assert_eq!(node_name("p", 0, 1), "p-0");
        assert_eq!(node_name("p", 9, 10), "p-9");
        assert_eq!(node_name("p", 0, 11), "p-00");
        assert_eq!(node_name("p", 10, 11), "p-10");
        assert_eq!(node_name("p", 5, 101), "p-005");
        assert_eq!(node_name("p", 5, u32::MAX), "p-0000000005");
    }

    #[test]
    fn token_at_extracts_scalars() {
        let text = "a: 1\nseed: abc # comment\nx: {y: zz, w: 1}\nq: \"a, b\" # c\n";
        assert_eq!(
            token_at(text, raw::Pos { line: 2, column: 7 }).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_at(text, raw::Pos { line: 3, column: 8 }).as_deref(),
            Some("zz")
        );
        assert_eq!(
            token_at(text, raw::Pos { line: 4, column: 4 }).as_deref(),
            Some("\"a, b\"")
        );
        assert_eq!(token_at(text, raw::Pos { line: 9, column: 1 }), None);
        assert_eq!(token_at(text, raw::Pos { line: 0, column: 0 }), None);
    }
}
