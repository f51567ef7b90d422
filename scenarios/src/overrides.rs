//! Overrides: `--set PATH=VALUE` edits of a scenario, applied to the YAML document tree
//! before validation.
//!
//! A path is relative to `spec` (a leading `spec.` is accepted too): `scheduler.policy`,
//! `training[0].work`, `cluster.pools[1].labels.team`, `scheduler.scoringWeights.nvidia.com/gpu`.
//! List items are addressed by index, and the index must exist in the scenario. The value is
//! YAML, read exactly as it would be in the file (`2h`, `fgd`, `0.9`, `[A100, L4]`,
//! `{kind: fixed, value: 1h}`), so it goes through the same validation as the file: units,
//! names and cross-references. Diagnostics about an overridden value point at the `--set`
//! argument; diagnostics about the rest of the scenario point at the original file.
//!
//! Paths are checked against the scenario schema ([`crate::json_schema`]) before anything is
//! loaded: a path that does not exist is a [`ScenarioError::UnknownPath`] listing the nearest
//! valid paths, ranked by edit distance.

use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::MessageFormatter as _;

use crate::error::{Diagnostic, ScenarioError, edit_distance};
use crate::raw::{Pos, Sp};

/// One `PATH=VALUE` override.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Override {
    /// Dotted path relative to `spec` (a leading `spec.` is allowed), with list indices:
    /// `training[0].work`.
    pub path: String,
    /// The value as YAML text (`2h`, `fgd`, `[A100, L4]`).
    pub value: String,
}

impl Override {
    /// An override of `path` with the YAML text `value`.
    pub fn new(path: impl Into<String>, value: impl Into<String>) -> Self {
        Override {
            path: path.into(),
            value: value.into(),
        }
    }

    /// Parses `PATH=VALUE` (split at the first `=`).
    ///
    /// # Errors
    /// [`ScenarioError::BadOverride`] when there is no `=` or the path is empty.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        match text.split_once('=') {
            Some((p, v)) if !p.trim().is_empty() => Ok(Override::new(p.trim(), v)),
            _ => Err(ScenarioError::BadOverride {
                text: text.to_string(),
                message: "expected PATH=VALUE".into(),
                hint: Some(
                    "for example `scheduler.policy=fgd` or `training[0].work=2h`; paths are \
                     relative to `spec`"
                        .into(),
                ),
            }),
        }
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

/// Splits a comma-separated list of YAML values at the commas that are not inside brackets,
/// braces or quotes: `binpack,fgd` gives two values, `[A100, L4],[H100]` gives two lists.
/// Values are trimmed; an empty input gives one empty value.
pub fn split_values(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in list.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                cur.push(c);
            }
            None => match c {
                '"' | '\'' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '[' | '{' => {
                    depth += 1;
                    cur.push(c);
                }
                ']' | '}' => {
                    depth -= 1;
                    cur.push(c);
                }
                ',' if depth <= 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
                _ => cur.push(c),
            },
        }
    }
    out.push(cur.trim().to_string());
    out
}

// ---------------------------------------------------------------------------------------------
// The shape of a scenario's `spec`, from the JSON schema.

/// The shape of a value in the schema.
#[derive(Debug, Clone)]
enum Shape {
    /// A mapping with known keys.
    Object(Vec<(String, Shape)>),
    /// A mapping with free keys (labels, node selectors).
    Map(Box<Shape>),
    /// A list.
    Array(Box<Shape>),
    /// A scalar.
    Scalar,
}

fn spec_shape() -> &'static Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    SHAPE.get_or_init(|| {
        let schema = crate::json_schema();
        let spec = schema
            .pointer("/properties/spec")
            .cloned()
            .unwrap_or_default();
        shape_of(&schema, &spec, 0, &mut Vec::new())
    })
}

/// How many times one schema definition may be open on the path being expanded: recursive
/// definitions (a service's traffic tree) are expanded this deep and no deeper.
const MAX_RECURSION: usize = 3;

fn shape_of(
    root: &serde_json::Value,
    node: &serde_json::Value,
    depth: usize,
    open: &mut Vec<String>,
) -> Shape {
    use serde_json::Value;
    if depth > 32 {
        return Shape::Scalar;
    }
    if let Some(Value::String(r)) = node.get("$ref") {
        if open.iter().filter(|o| *o == r).count() >= MAX_RECURSION {
            return Shape::Scalar;
        }
        let target = r
            .strip_prefix('#')
            .and_then(|p| root.pointer(p))
            .cloned()
            .unwrap_or_default();
        open.push(r.clone());
        let shape = shape_of(root, &target, depth + 1, open);
        open.pop();
        return shape;
    }
    let mut props: Vec<(String, Shape)> = Vec::new();
    let add_props =
        |obj: &serde_json::Value, props: &mut Vec<(String, Shape)>, open: &mut Vec<String>| {
            if let Some(Value::Object(p)) = obj.get("properties") {
                for (k, v) in p {
                    if !props.iter().any(|(n, _)| n == k) {
                        props.push((k.clone(), shape_of(root, v, depth + 1, open)));
                    }
                }
            }
        };
    add_props(node, &mut props, open);
    for alt in ["oneOf", "anyOf"] {
        if let Some(Value::Array(alts)) = node.get(alt) {
            for a in alts {
                add_props(a, &mut props, open);
            }
        }
    }
    if !props.is_empty() {
        return Shape::Object(props);
    }
    if let Some(items) = node.get("items") {
        return Shape::Array(Box::new(shape_of(root, items, depth + 1, open)));
    }
    if let Some(ap) = node.get("additionalProperties")
        && ap.is_object()
    {
        return Shape::Map(Box::new(shape_of(root, ap, depth + 1, open)));
    }
    Shape::Scalar
}

/// Every path that can be set, relative to `spec`, in schema order: `[]` stands for a list
/// index and `<key>` for a free key (a label name).
///
/// ```
/// let paths = drydock_scenarios::valid_paths();
/// assert!(paths.iter().any(|p| p == "scheduler.policy"));
/// assert!(paths.iter().any(|p| p == "training[].work"));
/// assert!(paths.iter().any(|p| p == "cluster.pools[].labels.<key>"));
/// ```
pub fn valid_paths() -> Vec<String> {
    let mut out = Vec::new();
    collect_paths(spec_shape(), String::new(), &mut out);
    out
}

fn collect_paths(shape: &Shape, prefix: String, out: &mut Vec<String>) {
    match shape {
        Shape::Object(props) => {
            for (k, s) in props {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(p.clone());
                collect_paths(s, p, out);
            }
        }
        Shape::Map(inner) => {
            let p = format!("{prefix}.<key>");
            out.push(p.clone());
            collect_paths(inner, p, out);
        }
        Shape::Array(inner) => collect_paths(inner, format!("{prefix}[]"), out),
        Shape::Scalar => {}
    }
}

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Parses `path` (relative to `spec`) against the schema.
fn parse_path(path: &str) -> Result<Vec<Seg>, ScenarioError> {
    let trimmed = path.trim();
    let rel = trimmed.strip_prefix("spec.").unwrap_or(trimmed);
    let unknown = || ScenarioError::UnknownPath {
        path: path.to_string(),
        nearest: nearest_paths(rel, 5),
    };
    if rel.is_empty() || rel == "spec" {
        return Err(unknown());
    }
    let mut segs = Vec::new();
    let mut shape = spec_shape();
    let mut rest = rel;
    loop {
        match shape {
            Shape::Object(props) => {
                let best = props
                    .iter()
                    .filter(|(k, _)| {
                        rest.strip_prefix(k.as_str())
                            .is_some_and(|r| r.is_empty() || r.starts_with(['.', '[']))
                    })
                    .max_by_key(|(k, _)| k.len());
                let Some((k, s)) = best else {
                    return Err(unknown());
                };
                segs.push(Seg::Key(k.clone()));
                rest = &rest[k.len()..];
                shape = s;
            }
            Shape::Map(inner) => {
                let end = if matches!(**inner, Shape::Scalar) {
                    rest.len()
                } else {
                    rest.find(['.', '[']).unwrap_or(rest.len())
                };
                if end == 0 {
                    return Err(unknown());
                }
                segs.push(Seg::Key(rest[..end].to_string()));
                rest = &rest[end..];
                shape = inner;
            }
            Shape::Array(inner) => {
                let index = rest
                    .strip_prefix('[')
                    .and_then(|r| r.split_once(']'))
                    .and_then(|(n, r)| n.trim().parse::<usize>().ok().map(|n| (n, r)));
                let Some((n, r)) = index else {
                    return Err(unknown());
                };
                segs.push(Seg::Index(n));
                rest = r;
                shape = inner;
            }
            Shape::Scalar => return Err(unknown()),
        }
        if rest.is_empty() {
            return Ok(segs);
        }
        match shape {
            Shape::Array(_) if rest.starts_with('[') => {}
            Shape::Object(_) | Shape::Map(_) if rest.starts_with('.') => rest = &rest[1..],
            _ => return Err(unknown()),
        }
    }
}

/// Checks that `path` (relative to `spec`, or starting with `spec.`) names a settable field of
/// the scenario schema. It does not check that list indices exist in a given scenario.
///
/// # Errors
/// [`ScenarioError::UnknownPath`] listing the nearest valid paths.
pub fn check_path(path: &str) -> Result<(), ScenarioError> {
    parse_path(path).map(|_| ())
}

/// The `n` valid paths nearest to `path`, ranked by edit distance over the whole path or over
/// its last component (so `policy` finds `scheduler.policy`), with the indices of `path`
/// substituted for `[]`.
fn nearest_paths(path: &str, n: usize) -> Vec<String> {
    let (normal, indices) = normalise(path);
    let last = |p: &str| -> String {
        p.rsplit('.')
            .next()
            .unwrap_or(p)
            .trim_end_matches("[]")
            .to_ascii_lowercase()
    };
    let user_last = last(&normal);
    let user = normal.to_ascii_lowercase();
    let mut ranked: Vec<(usize, String)> = valid_paths()
        .into_iter()
        .filter(|p| !p.ends_with("[]"))
        .map(|p| {
            let full = edit_distance(&user, &p.to_ascii_lowercase());
            let tail = edit_distance(&user_last, &last(&p)) + 1;
            (full.min(tail), p)
        })
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .take(n)
        .map(|(_, p)| {
            let mut it = indices.iter();
            let mut out = String::new();
            for (i, part) in p.split("[]").enumerate() {
                if i > 0 {
                    out.push_str(&format!("[{}]", it.next().copied().unwrap_or(0)));
                }
                out.push_str(part);
            }
            out
        })
        .collect()
}

/// `training[3].work` → (`training[].work`, [3]).
fn normalise(path: &str) -> (String, Vec<usize>) {
    let mut out = String::new();
    let mut indices = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) => {
                if let Ok(n) = after[..close].trim().parse::<usize>() {
                    indices.push(n);
                }
                out.push_str("[]");
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    (out, indices)
}

// ---------------------------------------------------------------------------------------------
// The YAML document tree.

/// Where a node of the tree came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The scenario file, at this position.
    File(Pos),
    /// Override number `index`, at this column of its value (0: the path).
    Override { index: usize, column: usize },
}

#[derive(Debug, Clone)]
enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

#[derive(Debug, Clone)]
struct Node {
    value: Value,
    origin: Origin,
}

impl Node {
    fn from_sp(sp: Sp<Value>) -> Node {
        Node {
            value: sp.value,
            origin: Origin::File(sp.pos),
        }
    }

    /// Re-labels a node parsed from an override's value text.
    fn into_override(mut self, index: usize) -> Node {
        fn walk(n: &mut Node, index: usize) {
            let column = match n.origin {
                Origin::File(p) if p.line <= 1 => p.column,
                _ => 1,
            };
            n.origin = Origin::Override { index, column };
            match &mut n.value {
                Value::Seq(items) => items.iter_mut().for_each(|i| walk(i, index)),
                Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| walk(v, index)),
                _ => {}
            }
        }
        walk(&mut self, index);
        self
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Sp<Value>>()? {
            items.push(Node::from_sp(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Sp<Value>>()?;
            entries.push((key.0, Node::from_sp(value)));
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key: any scalar, as text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Str(s) => Ok(Key(s)),
            Value::Int(i) => Ok(Key(i.to_string())),
            Value::Bool(b) => Ok(Key(b.to_string())),
            Value::Float(f) => Ok(Key(f.to_string())),
            Value::Null => Ok(Key("null".into())),
            _ => Err(de::Error::custom("a mapping key must be a scalar")),
        }
    }
}

/// Applies override `index` (already parsed into `segs` and `value`) to the document `root`.
fn apply(
    root: &mut Node,
    ov: &Override,
    index: usize,
    segs: &[Seg],
    value: Node,
) -> Result<(), ScenarioError> {
    let created = Origin::Override { index, column: 0 };
    let bad = |message: String, hint: Option<String>| ScenarioError::BadOverride {
        text: ov.to_string(),
        message,
        hint,
    };
    let mut cur = root;
    let mut shown = String::from("spec");
    let all: Vec<Seg> = std::iter::once(Seg::Key("spec".into()))
        .chain(segs.iter().cloned())
        .collect();
    let mut value = Some(value);
    for (i, seg) in all.iter().enumerate() {
        let last = i + 1 == all.len();
        match seg {
            Seg::Key(k) => {
                if matches!(cur.value, Value::Null) {
                    cur.value = Value::Map(Vec::new());
                }
                let Value::Map(entries) = &mut cur.value else {
                    return Err(bad(
                        format!("`{shown}` is not a mapping in the scenario"),
                        None,
                    ));
                };
                let pos = match entries.iter().position(|(name, _)| name == k) {
                    Some(p) => p,
                    None => {
                        entries.push((
                            k.clone(),
                            Node {
                                value: Value::Null,
                                origin: created,
                            },
                        ));
                        entries.len() - 1
                    }
                };
                if last {
                    if let Some(v) = value.take() {
                        entries[pos].1 = v;
                    }
                    return Ok(());
                }
                if i > 0 {
                    shown.push('.');
                    shown.push_str(k);
                }
                cur = &mut entries[pos].1;
            }
            Seg::Index(n) => {
                let len = match &cur.value {
                    Value::Seq(items) => items.len(),
                    _ => 0,
                };
                if *n >= len {
                    let hint = if len == 0 {
                        format!("the scenario has no `{shown}` items to change")
                    } else {
                        format!(
                            "the scenario has {len} item{} in `{shown}` (indices 0 to {})",
                            if len == 1 { "" } else { "s" },
                            len - 1
                        )
                    };
                    return Err(bad(format!("`{shown}[{n}]` does not exist"), Some(hint)));
                }
                let Value::Seq(items) = &mut cur.value else {
                    return Err(bad(format!("`{shown}` is not a list"), None));
                };
                shown.push_str(&format!("[{n}]"));
                if last {
                    if let Some(v) = value.take() {
                        items[*n] = v;
                    }
                    return Ok(());
                }
                cur = &mut items[*n];
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Emitting the edited tree as YAML, remembering where each node went.

struct Emitter {
    out: String,
    line: usize,
    /// Generated position → origin, in emission (= position) order.
    map: Vec<(Pos, Origin)>,
}

impl Emitter {
    fn record(&mut self, column: usize, origin: Origin) {
        self.map.push((
            Pos {
                line: self.line,
                column,
            },
            origin,
        ));
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.line += 1;
    }

    fn scalar(v: &Value) -> Option<String> {
        Some(match v {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) if f.is_nan() => ".nan".into(),
            Value::Float(f) if f.is_infinite() => {
                if *f > 0.0 {
                    ".inf".into()
                } else {
                    "-.inf".into()
                }
            }
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
            Value::Seq(items) if items.is_empty() => "[]".into(),
            Value::Map(entries) if entries.is_empty() => "{}".into(),
            _ => return None,
        })
    }

    /// A mapping whose first entry goes on the current line after `lead` (already written,
    /// `lead_width` characters) and whose other entries are indented by `indent`.
    fn map(&mut self, entries: &[(String, Node)], indent: usize, lead_width: usize) {
        for (i, (k, v)) in entries.iter().enumerate() {
            let mut width = lead_width;
            if i > 0 {
                self.newline();
                self.out.push_str(&" ".repeat(indent));
                width = indent;
            }
            let key = serde_json::to_string(k).unwrap_or_else(|_| "\"\"".into());
            self.out.push_str(&key);
            self.out.push(':');
            width += key.chars().count() + 1;
            self.value(v, indent, width);
        }
    }

    /// The value of a key, after `key:` (the line is `width` characters so far).
    fn value(&mut self, v: &Node, indent: usize, width: usize) {
        if let Some(s) = Self::scalar(&v.value) {
            self.out.push(' ');
            self.record(width + 2, v.origin);
            self.out.push_str(&s);
            return;
        }
        match &v.value {
            Value::Map(entries) => {
                self.newline();
                let inner = indent + 2;
                self.out.push_str(&" ".repeat(inner));
                self.record(inner + 1, v.origin);
                self.map(entries, inner, inner);
            }
            Value::Seq(items) => {
                for item in items {
                    self.newline();
                    let inner = indent + 2;
                    self.out.push_str(&" ".repeat(inner));
                    self.out.push_str("- ");
                    self.record(inner + 3, item.origin);
                    match &item.value {
                        Value::Map(entries) if !entries.is_empty() => {
                            self.map(entries, inner + 2, inner + 2);
                        }
                        other => {
                            let s = Self::scalar(other).unwrap_or_else(|| flow(other));
                            self.out.push_str(&s);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A non-scalar value in JSON flow style (which is YAML), for lists of lists.
fn flow(v: &Value) -> String {
    match v {
        Value::Seq(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| flow(&i.value))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, n)| format!(
                    "{}: {}",
                    serde_json::to_string(k).unwrap_or_default(),
                    flow(&n.value)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => Emitter::scalar(other).unwrap_or_default(),
    }
}

fn emit(root: &Node) -> Emitter {
    let mut e = Emitter {
        out: String::new(),
        line: 1,
        map: vec![(Pos { line: 1, column: 1 }, root.origin)],
    };
    if let Value::Map(entries) = &root.value {
        e.map(entries, 0, 0);
    }
    e.out.push('\n');
    e
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// Loads a built-in scenario by name or a scenario file (as
/// [`crate::load_named_or_path`]) with `overrides` applied, in order.
///
/// # Errors
/// As [`crate::load_named_or_path`]; [`ScenarioError::UnknownPath`] for a path that is not in
/// the schema, [`ScenarioError::BadOverride`] for a malformed value or a list index that does
/// not exist; [`ScenarioError::Parse`] or [`ScenarioError::Invalid`] when an overridden value
/// breaks a rule, with diagnostics pointing at the `--set` argument (file `--set`).
pub fn load_with_overrides(
    arg: &str,
    overrides: &[Override],
) -> Result<crate::Scenario, ScenarioError> {
    if overrides.is_empty() {
        return crate::load_named_or_path(arg);
    }
    let (text, origin) = crate::source_text(arg)?;
    load_str_with_overrides(&text, &origin, overrides)
}

/// [`crate::load_str`] with `overrides` applied, in order; `origin` names the text in
/// diagnostics and becomes [`crate::Scenario::source`].
///
/// # Errors
/// As [`load_with_overrides`].
pub fn load_str_with_overrides(
    text: &str,
    origin: &str,
    overrides: &[Override],
) -> Result<crate::Scenario, ScenarioError> {
    if overrides.is_empty() {
        return crate::load_str(text, origin);
    }
    // Check every path and value first, so the user sees path errors before file errors.
    let mut parsed = Vec::with_capacity(overrides.len());
    for (i, ov) in overrides.iter().enumerate() {
        let segs = parse_path(&ov.path)?;
        parsed.push((segs, parse_value(ov, i)?));
    }
    let root = match serde_saphyr::from_str::<Sp<Value>>(text) {
        Ok(sp) if matches!(sp.value, Value::Map(_)) => Node::from_sp(sp),
        // Not a mapping, or not YAML: the normal loader says why.
        _ => return crate::load_str(text, origin),
    };
    let mut root = root;
    for (i, (segs, value)) in parsed.into_iter().enumerate() {
        apply(&mut root, &overrides[i], i, &segs, value)?;
    }
    let emitted = emit(&root);
    crate::load_str(&emitted.out, origin)
        .map_err(|e| remap(e, &emitted.map, text, origin, overrides))
}

/// Parses an override's value as YAML.
fn parse_value(ov: &Override, index: usize) -> Result<Node, ScenarioError> {
    if ov.value.trim().is_empty() {
        return Ok(Node {
            value: Value::Str(String::new()),
            origin: Origin::Override { index, column: 1 },
        });
    }
    match serde_saphyr::from_str::<Sp<Value>>(&ov.value) {
        Ok(sp) => Ok(Node::from_sp(sp).into_override(index)),
        Err(e) => {
            let column = e
                .location()
                .map(|l| usize::try_from(l.column()).unwrap_or(1))
                .unwrap_or(1);
            let message = serde_saphyr::DefaultMessageFormatter
                .format_message(e.without_snippet())
                .into_owned();
            Err(ScenarioError::Parse {
                diagnostics: vec![override_diagnostic(
                    ov,
                    column,
                    "yaml-syntax",
                    format!("the value is not valid YAML: {message}"),
                    Some(
                        "quote text with special characters, for example `--set 'x=\"a: b\"'`"
                            .into(),
                    ),
                )],
            })
        }
    }
}

fn override_diagnostic(
    ov: &Override,
    value_column: usize,
    rule: &str,
    message: String,
    hint: Option<String>,
) -> Diagnostic {
    let column = if value_column == 0 {
        1
    } else {
        ov.path.chars().count() + 1 + value_column
    };
    Diagnostic {
        file: "--set".into(),
        line: 1,
        column,
        rule: rule.into(),
        message,
        hint,
        source_line: Some(ov.to_string()),
    }
}

/// Points each diagnostic found in the generated text back at the scenario file or at the
/// `--set` argument the offending value came from.
fn remap(
    err: ScenarioError,
    map: &[(Pos, Origin)],
    text: &str,
    origin: &str,
    overrides: &[Override],
) -> ScenarioError {
    let lines: Vec<&str> = text.lines().collect();
    let fix = |d: Diagnostic| -> Diagnostic {
        let at = Pos {
            line: d.line,
            column: d.column,
        };
        let found = map
            .iter()
            .find(|(p, _)| *p == at)
            .or_else(|| map.iter().rev().find(|(p, _)| *p <= at))
            .map(|(_, o)| *o);
        match found {
            Some(Origin::Override { index, column }) => match overrides.get(index) {
                Some(ov) => override_diagnostic(ov, column, &d.rule, d.message, d.hint),
                None => d,
            },
            Some(Origin::File(p)) => {
                let line = p.line.max(1);
                Diagnostic {
                    file: origin.to_string(),
                    line,
                    column: p.column.max(1),
                    source_line: lines
                        .get(line - 1)
                        .map(|l| l.trim_end_matches('\r').to_string()),
                    ..d
                }
            }
            None => d,
        }
    };
    let fix_all = |ds: Vec<Diagnostic>| -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = ds.into_iter().map(fix).collect();
        // File diagnostics in file order, then those about overrides.
        out.sort_by(|a, b| {
            (a.file == "--set", a.line, a.column).cmp(&(b.file == "--set", b.line, b.column))
        });
        out
    };
    match err {
        ScenarioError::Parse { diagnostics } => ScenarioError::Parse {
            diagnostics: fix_all(diagnostics),
        },
        ScenarioError::Invalid { diagnostics } => ScenarioError::Invalid {
            diagnostics: fix_all(diagnostics),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "\
apiVersion: drydock/v1alpha1
kind: Scenario
metadata: {name: t}
spec:
  cluster:
    pools:
      - {name: a100, nodes: 2, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 1Ti}
  scheduler:
    policy: binpack
  training:
    - {name: llama, workers: 2, gpusPerWorker: 8, work: 6h}
    - name: bert
      work: 1h
";

    fn ov(s: &str) -> Override {
        Override::parse(s).expect("override")
    }

    #[test]
    fn values_split_at_top_level_commas_only() {
        assert_eq!(split_values("a,b, c"), ["a", "b", "c"]);
        assert_eq!(split_values("[A100, L4],[H100]"), ["[A100, L4]", "[H100]"]);
        assert_eq!(split_values("\"a,b\",c"), ["\"a,b\"", "c"]);
        assert_eq!(
            split_values("{kind: fixed, value: 1h}"),
            ["{kind: fixed, value: 1h}"]
        );
        assert_eq!(split_values(""), [""]);
    }

    #[test]
    fn override_parse_needs_an_equals_sign() {
        assert_eq!(ov("a.b=c=d"), Override::new("a.b", "c=d"));
        assert!(matches!(
            Override::parse("scheduler.policy"),
            Err(ScenarioError::BadOverride { .. })
        ));
        assert!(Override::parse("=x").is_err());
    }

    #[test]
    fn paths_follow_the_schema() {
        for p in [
            "seed",
            "spec.seed",
            "scheduler.policy",
            "training[0].work",
            "training[12].gpuModels",
            "cluster.pools[0].labels.team",
            "cluster.pools[0].labels.example.com/team",
            "scheduler.scoringWeights.nvidia.com/gpu",
            "failures.random.repairTime.kind",
            "failures.random.repairTime.median",
            "scheduler",
        ] {
            assert!(check_path(p).is_ok(), "{p}");
        }
        for p in [
            "policy",
            "training.work",
            "training[x].work",
            "scheduler.policy.name",
            "spec",
            "",
            "training[0]work",
            "cluster.pools[0].labels.",
        ] {
            assert!(check_path(p).is_err(), "{p}");
        }
    }

    #[test]
    fn unknown_paths_list_the_nearest_valid_ones() {
        let near = |p: &str| match check_path(p) {
            Err(ScenarioError::UnknownPath { nearest, .. }) => nearest,
            other => panic!("{other:?}"),
        };
        assert_eq!(near("scheduler.polcy")[0], "scheduler.policy");
        assert_eq!(near("policy")[0], "scheduler.policy");
        assert_eq!(near("training[3].wrok")[0], "training[3].work");
        assert_eq!(near("training.work")[0], "training[0].work");
        assert_eq!(near("seeed")[0], "seed");
        assert_eq!(near("x").len(), 5);
    }

    #[test]
    fn overrides_replace_add_and_validate_values() {
        let s = load_str_with_overrides(
            BASE,
            "t.yaml",
            &[
                ov("scheduler.policy=fgd"),
                ov("training[1].work=2h"),
                ov("spec.scheduler.gang.mode=permit-wait"),
                ov("training[0].gpuModels=[A100]"),
                ov("duration=12h"),
            ],
        )
        .expect("valid");
        assert_eq!(s.scheduler.policy, drydock_core::PolicyKind::Fgd);
        assert_eq!(s.training[1].work, drydock_core::SimDuration::from_hours(2));
        assert_eq!(s.scheduler.gang_mode, crate::GangMode::PermitWait);
        assert_eq!(s.training[0].gpu_models, ["A100"]);
        assert_eq!(s.duration, Some(drydock_core::SimDuration::from_hours(12)));
        assert_eq!(s.source, "t.yaml");
        // Without overrides: identical to the plain loader.
        let plain = crate::load_str(BASE, "t.yaml").expect("valid");
        assert_eq!(
            load_str_with_overrides(BASE, "t.yaml", &[]).expect("valid"),
            plain
        );
    }

    #[test]
    fn bad_override_values_point_at_the_set_argument() {
        let e = load_str_with_overrides(BASE, "t.yaml", &[ov("training[0].work=5 parsecs")])
            .expect_err("invalid");
        let d = &e.diagnostics()[0];
        assert_eq!(d.file, "--set");
        assert_eq!(d.rule, "duration");
        assert_eq!(d.column, "training[0].work=".len() + 1);
        assert!(e.to_string().contains("training[0].work=5 parsecs"), "{e}");

        let e = load_str_with_overrides(BASE, "t.yaml", &[ov("scheduler.policy=fdg")])
            .expect_err("invalid");
        assert!(e.to_string().contains("did you mean `fgd`"), "{e}");
        assert_eq!(e.diagnostics()[0].file, "--set");

        let e = load_str_with_overrides(BASE, "t.yaml", &[ov("scheduler.preemption=maybe")])
            .expect_err("invalid");
        assert_eq!(e.diagnostics()[0].file, "--set", "{e}");

        let e = load_str_with_overrides(BASE, "t.yaml", &[ov("training[5].work=1h")])
            .expect_err("invalid");
        assert!(e.to_string().contains("indices 0 to 1"), "{e}");

        let e = load_str_with_overrides(BASE, "t.yaml", &[ov("training[0].gpuModels=[A100")])
            .expect_err("invalid");
        assert_eq!(e.diagnostics()[0].rule, "yaml-syntax", "{e}");
    }

    #[test]
    fn other_diagnostics_keep_their_place_in_the_file() {
        // Two nodes, then a failure naming a third: the error is in the file (line 9), made
        // visible by the override of the pool size.
        let text = format!("{BASE}  failures:\n    scheduled:\n      - {{at: 1h, node: a100-2}}\n");
        assert!(crate::load_str(&text, "t.yaml").is_err());
        let ok = load_str_with_overrides(&text, "t.yaml", &[ov("cluster.pools[0].nodes=3")]);
        assert!(ok.is_ok(), "{ok:?}");
        let e = load_str_with_overrides(&text, "t.yaml", &[ov("scheduler.policy=fgd")])
            .expect_err("invalid");
        let d = &e.diagnostics()[0];
        assert_eq!((d.file.as_str(), d.line), ("t.yaml", 16), "{e}");
        assert!(
            d.source_line
                .as_deref()
                .is_some_and(|l| l.contains("a100-2"))
        );
    }
}
