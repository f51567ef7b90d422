//! Errors and diagnostics of scenario loading.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a scenario file, located at the value (or the mapping) it concerns.
///
/// Displayed as `FILE:LINE:COLUMN: error[RULE]: MESSAGE`, then the source line with a caret
/// under the column (when known), then `  hint: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name (a path, `builtin:NAME`, or the `origin` given to [`crate::load_str`]).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// The rule broken, in kebab-case (`duplicate-pool`, `unknown-field`, `duration`, ...).
    pub rule: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, if there is something useful to say.
    pub hint: Option<String>,
    /// The text of the source line `line` (without its line break), for the snippet; `None`
    /// when unknown.
    pub source_line: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error[{}]: {}",
            self.file, self.line, self.column, self.rule, self.message
        )?;
        if let Some(src) = &self.source_line {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let src = sanitize(src);
            let caret_pad: String = src
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{number} | {src}\n{pad} | {caret_pad}^")?;
        }
        if let Some(hint) = &self.hint {
            for line in hint.lines() {
                write!(f, "\n  hint: {line}")?;
            }
        }
        Ok(())
    }
}

/// Replaces control characters (other than tabs) so a hostile file cannot drive the terminal.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// A scenario could not be loaded. Every variant is an input error: the CLI reports it and
/// exits with code 2; nothing is retried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The scenario file does not exist or cannot be read.
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        /// The path tried.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed YAML for the scenario schema: a syntax error, an unknown
    /// field, a value of the wrong type. Parsing stops at the first such error, so there is
    /// usually one diagnostic.
    #[error("{}", DiagnosticList(diagnostics))]
    Parse {
        /// The problems found (usually one).
        diagnostics: Vec<Diagnostic>,
    },
    /// The file parsed but breaks one or more rules (bad durations or quantities, duplicate
    /// names, out-of-range numbers, references to unknown pools or nodes...). Every violation
    /// found is reported, in file order.
    #[error("{}", DiagnosticList(diagnostics))]
    Invalid {
        /// All violations, sorted by position.
        diagnostics: Vec<Diagnostic>,
    },
    /// [`crate::load_named_or_path`] got something that is neither a built-in scenario name
    /// nor an existing file.
    #[error(
        "`{name}` is neither a built-in scenario nor an existing file; built-in scenarios: {}",
        available.join(", ")
    )]
    UnknownScenario {
        /// What was asked for.
        name: String,
        /// The built-in scenario names.
        available: Vec<String>,
    },
    /// An override (`--set PATH=VALUE`) names a path that is not a field of the scenario
    /// schema. Input error; fatal.
    #[error(
        "`--set {path}`: no such field in a scenario's spec{}\n  hint: paths are relative to `spec`; `drydock schema` lists every field",
        if nearest.is_empty() { String::new() } else { format!("; the nearest valid paths: {}", nearest.join(", ")) }
    )]
    UnknownPath {
        /// The path as given.
        path: String,
        /// The nearest valid paths, nearest first.
        nearest: Vec<String>,
    },
    /// An override is malformed (no `=`) or addresses a list item the scenario does not have.
    /// Input error; fatal.
    #[error("`--set {text}`: {message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    BadOverride {
        /// The override as given.
        text: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
}

impl ScenarioError {
    /// The located diagnostics of a [`ScenarioError::Parse`] or [`ScenarioError::Invalid`]
    /// error; empty for the other variants.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Parse { diagnostics } | ScenarioError::Invalid { diagnostics } => {
                diagnostics
            }
            _ => &[],
        }
    }
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Edit distance between two short strings counting insertions, deletions, substitutions and
/// swaps of adjacent characters (optimal string alignment), for "did you mean" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word` if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_display_has_location_snippet_and_hint() {
        let d = Diagnostic {
            file: "x.yaml".into(),
            line: 3,
            column: 14,
            rule: "node-count".into(),
            message: "bad".into(),
            hint: Some("fix it".into()),
            source_line: Some("      nodes: -1".into()),
        };
        assert_eq!(
            d.to_string(),
            "x.yaml:3:14: error[node-count]: bad\n  |\n3 |       nodes: -1\n  |              ^\n  hint: fix it"
        );
    }

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(closest("nodez", &["name", "nodes"]), Some("nodes"));
        assert_eq!(closest("bin-pack", &["binpack", "fgd"]), Some("binpack"));
        assert_eq!(closest("zzz", &["binpack", "fgd"]), None);
        assert_eq!(closest("fdg", &["binpack", "fgd"]), Some("fgd"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
