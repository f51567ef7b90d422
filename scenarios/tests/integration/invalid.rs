//! Every `invalid/*.yaml` file breaks one rule and must fail with the message in its header:
//! line 1 `# expect: SUBSTRING`, line 2 `# at: LINE:COLUMN` (the first diagnostic's location).

use std::fmt::Write as _;

use drydock_scenarios::{ScenarioError, load, load_str};

use crate::{crate_dir, fixture, yaml_files};

struct Expectation {
    substring: String,
    at: String,
}

fn expectation(text: &str) -> Result<Expectation, String> {
    let mut lines = text.lines();
    let substring = lines
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .ok_or("line 1 must be `# expect: SUBSTRING`")?;
    let at = lines
        .next()
        .and_then(|l| l.strip_prefix("# at: "))
        .ok_or("line 2 must be `# at: LINE:COLUMN`")?;
    Ok(Expectation {
        substring: substring.trim().to_string(),
        at: at.trim().to_string(),
    })
}

/// Runs every invalid file and reports all mismatches at once (one named case per file).
#[test]
fn every_invalid_file_fails_with_its_expected_message_and_location() {
    let files = yaml_files("invalid");
    assert!(
        files.len() >= 12,
        "expected at least 12 invalid files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut rendered = String::new();
    for path in &files {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(path).expect("readable");
        let exp = match expectation(&text) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let err = match load(path) {
            Ok(_) => {
                failures.push(format!(
                    "{name}: loaded, but should fail with `{}`",
                    exp.substring
                ));
                continue;
            }
            Err(e) => e,
        };
        let shown = err
            .to_string()
            .replace(&format!("{}/", crate_dir().display()), "");
        let _ = writeln!(rendered, "=== {name}\n{shown}\n");
        if !matches!(
            err,
            ScenarioError::Parse { .. } | ScenarioError::Invalid { .. }
        ) {
            failures.push(format!("{name}: not a located error: {shown}"));
            continue;
        }
        if !shown.contains(&exp.substring) {
            failures.push(format!("{name}: expected `{}` in:\n{shown}", exp.substring));
        }
        let located = format!("invalid/{name}:{}: error[", exp.at);
        if !shown.starts_with(&located) {
            failures.push(format!(
                "{name}: expected the first diagnostic at `{located}`, got:\n{shown}"
            ));
        }
        if err.diagnostics().len() != 1 {
            failures.push(format!(
                "{name}: one rule per file, but {} diagnostics:\n{shown}",
                err.diagnostics().len()
            ));
        }
        if err.diagnostics().iter().any(|d| d.hint.is_none()) {
            failures.push(format!(
                "{name}: every fixture's diagnostic should carry a hint:\n{shown}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} invalid files misbehave:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    insta::assert_snapshot!("invalid_fixtures", rendered);
}

#[test]
fn validation_reports_all_violations_in_file_order() {
    let err = load(&fixture("three-violations.yaml")).expect_err("invalid");
    let ScenarioError::Invalid { diagnostics } = &err else {
        panic!("expected Invalid, got {err}")
    };
    let rules: Vec<(&str, usize)> = diagnostics
        .iter()
        .map(|d| (d.rule.as_str(), d.line))
        .collect();
    assert_eq!(
        rules,
        [("node-count", 8), ("workers", 10), ("p95-median", 14)],
        "{err}"
    );
    let shown = err.to_string();
    for d in diagnostics {
        let header = format!(
            "three-violations.yaml:{}:{}: error[{}]: ",
            d.line, d.column, d.rule
        );
        assert!(shown.contains(&header), "missing `{header}` in:\n{shown}");
    }
    assert_eq!(shown.matches("\n  hint: ").count(), 3);
}

#[test]
fn display_prints_location_rule_message_snippet_and_hint() {
    let yaml = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: x}\nspec:\n  cluster:\n    pools:\n      - {name: a, nodes: 1, cpu: \"1\", memory: 1Gi}\n  scheduler: {policy: fdg}\n";
    let err = load_str(yaml, "x.yaml").expect_err("unknown policy");
    assert_eq!(
        err.to_string(),
        "x.yaml:8:23: error[unknown-policy]: unknown scheduling policy `fdg`\n  |\n8 |   scheduler: {policy: fdg}\n  |                       ^\n  hint: did you mean `fgd`? valid policies: kube-default, binpack, random, dot-prod, gpu-clustering, gpu-packing, best-fit, fgd"
    );
    let d = &err.diagnostics()[0];
    assert_eq!(
        (d.file.as_str(), d.line, d.column, d.rule.as_str()),
        ("x.yaml", 8, 23, "unknown-policy")
    );
}

#[test]
fn parse_errors_are_located_and_list_valid_fields() {
    let yaml =
        "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: x}\nspec:\n  seeed: 3\n";
    let err = load_str(yaml, "x.yaml").expect_err("unknown field");
    assert!(matches!(err, ScenarioError::Parse { .. }));
    let shown = err.to_string();
    assert!(
        shown.starts_with("x.yaml:5:3: error[unknown-field]: unknown field `seeed`"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "hint: did you mean `seed`? valid fields here: seed, duration, sampleInterval, cluster"
        ),
        "{shown}"
    );
}
