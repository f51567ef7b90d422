//! JUnit XML reports of a run's checks (`drydock run --junit FILE`), for CI systems.
//!
//! The layout is the common JUnit one that CI systems display (GitHub Actions reporters,
//! GitLab, Jenkins, Azure Pipelines):
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <!-- drydock junit report: ... -->
//! <testsuites name="drydock" tests="2" failures="1" errors="0" time="0">
//!   <testsuite name="default" tests="2" failures="1" errors="0" skipped="0" time="0">
//!     <properties>
//!       <property name="seed" value="42"/>
//!       ...
//!     </properties>
//!     <testcase classname="drydock.default" name="jobs_failed == 0" time="0"/>
//!     <testcase classname="drydock.default" name="jct_p95 &lt;= 4h" time="0">
//!       <failure message="jct_p95 &lt;= 4h: measured 6h11m" type="expectation">...</failure>
//!     </testcase>
//!   </testsuite>
//! </testsuites>
//! ```
//!
//! Times are 0 (a check takes no time; the report holds nothing from the wall clock, so it is
//! deterministic). The comment after the XML declaration marks the file as drydock's own
//! ([`is_drydock_report`]), so a later run may replace it without `--force`.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use drydock_sim::Summary;
use drydock_sim::check::CheckResult;

/// The text of the comment that marks a JUnit file written by drydock.
pub const MARKER: &str = "drydock junit report";

/// Whether `head` (the start of an existing file) is a JUnit report that drydock wrote, which
/// a run may overwrite without `--force`.
pub fn is_drydock_report(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(head);
    head.trim_start().starts_with("<?xml") && head.contains(&format!("<!-- {MARKER}"))
}

/// Replaces characters XML 1.0 cannot carry (control characters other than tab) so that a
/// scenario name with escapes still gives a well-formed report.
fn xml_safe(s: &str) -> String {
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

/// Renders the JUnit report of one run: one test suite named after the scenario, one test
/// case per check (`classname` = `drydock.<scenario>`, `name` = the check as written), a
/// `<failure type="expectation">` with the measured value for each failed check.
///
/// # Errors
/// None in practice (the XML is written to memory); an I/O error of the writer is passed on.
pub fn render(summary: &Summary, source: &str, checks: &[CheckResult]) -> std::io::Result<String> {
    let scenario = xml_safe(&summary.scenario);
    let classname = format!("drydock.{scenario}");
    let tests = checks.len().to_string();
    let failures = checks.iter().filter(|c| !c.passed).count().to_string();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    // XML comments may not contain `--`, so the option is not named here.
    w.write_event(Event::Comment(BytesText::from_escaped(format!(
        " {MARKER}: written by `drydock run`, which replaces it on its next run with this file "
    ))))?;
    w.create_element("testsuites")
        .with_attributes([
            ("name", "drydock"),
            ("tests", tests.as_str()),
            ("failures", failures.as_str()),
            ("errors", "0"),
            ("time", "0"),
        ])
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes([
                    ("name", scenario.as_str()),
                    ("tests", tests.as_str()),
                    ("failures", failures.as_str()),
                    ("errors", "0"),
                    ("skipped", "0"),
                    ("time", "0"),
                ])
                .write_inner_content(|w| {
                    let seed = summary.seed.to_string();
                    let source = xml_safe(source);
                    let properties = [
                        ("seed", seed.as_str()),
                        ("scenario.source", source.as_str()),
                        ("policy", summary.policy.as_str()),
                        ("event_log_sha256", summary.event_log_sha256.as_str()),
                        ("drydock.version", env!("CARGO_PKG_VERSION")),
                    ];
                    w.create_element("properties").write_inner_content(|w| {
                        for (name, value) in properties {
                            w.create_element("property")
                                .with_attributes([("name", name), ("value", value)])
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                    for c in checks {
                        testcase(w, &classname, c)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut xml = String::from_utf8_lossy(&w.into_inner()).into_owned();
    xml.push('\n');
    Ok(xml)
}

/// One test suite of a multi-suite report (a sweep variant).
pub struct Suite {
    /// Suite name.
    pub name: String,
    /// `<property>` name/value pairs.
    pub properties: Vec<(String, String)>,
    /// Test cases: the case's name and its check.
    pub cases: Vec<(String, CheckResult)>,
}

/// Renders a report of several suites (`drydock sweep --junit`): one suite per variant, one
/// test case per check and seed plus one per check of the variant's mean.
///
/// # Errors
/// None in practice (the XML is written to memory); an I/O error of the writer is passed on.
pub fn render_suites(scenario: &str, suites: &[Suite]) -> std::io::Result<String> {
    let classname = format!("drydock.{}", xml_safe(scenario));
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failed: usize = suites
        .iter()
        .map(|s| s.cases.iter().filter(|c| !c.1.passed).count())
        .sum();
    let (total, failed) = (total.to_string(), failed.to_string());
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Comment(BytesText::from_escaped(format!(
        " {MARKER}: written by `drydock sweep`, which replaces it on its next run with this file "
    ))))?;
    w.create_element("testsuites")
        .with_attributes([
            ("name", "drydock"),
            ("tests", total.as_str()),
            ("failures", failed.as_str()),
            ("errors", "0"),
            ("time", "0"),
        ])
        .write_inner_content(|w| {
            for suite in suites {
                let tests = suite.cases.len().to_string();
                let failures = suite
                    .cases
                    .iter()
                    .filter(|c| !c.1.passed)
                    .count()
                    .to_string();
                let name = xml_safe(&suite.name);
                w.create_element("testsuite")
                    .with_attributes([
                        ("name", name.as_str()),
                        ("tests", tests.as_str()),
                        ("failures", failures.as_str()),
                        ("errors", "0"),
                        ("skipped", "0"),
                        ("time", "0"),
                    ])
                    .write_inner_content(|w| {
                        w.create_element("properties").write_inner_content(|w| {
                            for (n, v) in &suite.properties {
                                let (n, v) = (xml_safe(n), xml_safe(v));
                                w.create_element("property")
                                    .with_attributes([("name", n.as_str()), ("value", v.as_str())])
                                    .write_empty()?;
                            }
                            Ok(())
                        })?;
                        for (case_name, c) in &suite.cases {
                            let mut c = c.clone();
                            c.check = case_name.clone();
                            testcase(w, &classname, &c)?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    let mut xml = String::from_utf8_lossy(&w.into_inner()).into_owned();
    xml.push('\n');
    Ok(xml)
}

fn testcase<W: std::io::Write>(
    w: &mut Writer<W>,
    classname: &str,
    c: &CheckResult,
) -> std::io::Result<()> {
    let name = xml_safe(&c.check);
    let case = w.create_element("testcase").with_attributes([
        ("classname", classname),
        ("name", name.as_str()),
        ("time", "0"),
    ]);
    if c.passed {
        case.write_empty()?;
        return Ok(());
    }
    let message = xml_safe(&c.describe());
    let measured = c
        .measured
        .map_or_else(|| "none".to_string(), |v| format!("{v}"));
    let body = format!(
        "expected: {}\nmeasured: {} ({} {})\nthreshold: {} {}",
        name,
        xml_safe(&c.measured_text),
        measured,
        base_unit(c),
        c.threshold,
        base_unit(c),
    );
    case.write_inner_content(|w| {
        w.create_element("failure")
            .with_attributes([("message", message.as_str()), ("type", "expectation")])
            .write_text_content(BytesText::new(&body))?;
        Ok(())
    })?;
    Ok(())
}

/// The name of the base unit values of this check are in.
fn base_unit(c: &CheckResult) -> &'static str {
    use drydock_scenarios::MetricUnit::*;
    match c.unit {
        Count => "count",
        Seconds => "seconds",
        Ratio => "ratio",
        Gpus => "GPUs",
        GpuHours => "GPU-hours",
        Hours => "hours",
        Dollars => "dollars",
        DollarsPerHour => "dollars per hour",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_recognised_only_at_the_top_of_an_xml_file() {
        let s = Summary {
            scenario: "x".into(),
            ..Default::default()
        };
        let xml = render(&s, "x.yaml", &[]).expect("renders");
        assert!(is_drydock_report(xml.as_bytes()));
        let comment = xml.split("<!--").nth(1).and_then(|c| c.split("-->").next());
        assert!(comment.is_some_and(|c| !c.contains("--")), "{xml}");
        assert!(!is_drydock_report(b"<?xml version=\"1.0\"?><testsuites/>"));
        assert!(!is_drydock_report(
            b"my notes about the drydock junit report"
        ));
        assert!(!is_drydock_report(b""));
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(xml_safe("a\u{1}b\tc"), "a\u{FFFD}b\tc");
    }
}
