//! The committed JSON schema equals the generated one.

use crate::crate_dir;

#[test]
fn committed_schema_matches_the_generated_one() {
    let path = crate_dir().join("schema").join("scenario.schema.json");
    let generated = serde_json::to_string_pretty(&drydock_scenarios::json_schema())
        .expect("serialisable")
        + "\n";
    if std::env::var_os("DRYDOCK_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the scenario types; regenerate it with\n    \
         DRYDOCK_BLESS=1 cargo test -p drydock-scenarios committed_schema\nand commit the result",
        path.display()
    );
}

#[test]
fn schema_describes_the_envelope_and_text_values() {
    let schema = drydock_scenarios::json_schema();
    let required = &schema["required"];
    for key in ["apiVersion", "kind", "metadata", "spec"] {
        assert!(
            required
                .as_array()
                .is_some_and(|r| r.iter().any(|v| v == key)),
            "{key} required"
        );
    }
    assert_eq!(
        schema["properties"]["apiVersion"]["const"],
        "drydock/v1alpha1"
    );
    assert_eq!(schema["additionalProperties"], false);
    let text = schema.to_string();
    for needle in [
        "pricePerNodeHour",
        "nvidia.com/gpu",
        "log-normal",
        "arrivals-only",
        "gpu-clustering",
        "1h30m",
    ] {
        assert!(text.contains(needle), "schema lacks {needle}");
    }
}
