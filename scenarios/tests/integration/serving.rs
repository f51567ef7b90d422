//! Inference services (`spec.services`): resolution with defaults, every field, the traffic
//! tree, and the Azure LLM and timestamps trace readers.

use std::path::PathBuf;

use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::trace::{AzureLlmRequest, TraceError, read_azure_llm, read_timestamps};
use drydock_scenarios::*;

use crate::fixture;

const HEAD: &str = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: t}\nspec:\n  cluster:\n    pools:\n      - {name: a100, nodes: 4, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 1Ti}\n  services:\n";

fn services(yaml: &str) -> Result<Vec<ServiceSpec>, ScenarioError> {
    load_str(&format!("{HEAD}{yaml}"), "t.yaml").map(|s| s.services)
}

fn rules(yaml: &str) -> Vec<(String, usize)> {
    match services(yaml) {
        Ok(_) => panic!("should not load:\n{yaml}"),
        Err(e) => e
            .diagnostics()
            .iter()
            .map(|d| (d.rule.clone(), d.line))
            .collect(),
    }
}

#[test]
fn a_minimal_service_gets_every_documented_default() {
    let s = services(
        "    - name: web\n      generic: {serviceTime: {kind: fixed, value: 100ms}}\n      traffic: {poisson: {rate: 5}}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let zero = DurationDist::Fixed {
        value: SimDuration::ZERO,
    };
    assert_eq!(
        s[0],
        ServiceSpec {
            name: "web".into(),
            replicas: 1,
            priority: 0,
            gpus_per_replica: 1,
            cpu_milli: 1000,
            memory_mib: 4096,
            gpu_models: vec![],
            node_selector: Default::default(),
            tolerations: vec![],
            startup: StartupSpec {
                image_pull: zero.clone(),
                model_load: zero,
            },
            model: ServingModel::Generic(GenericSpec {
                service_time: DurationDist::Fixed {
                    value: SimDuration(100_000)
                },
                concurrency: 1,
            }),
            load_balancing: LoadBalancing::LeastOutstanding,
            queue: QueueSpec {
                capacity: 256,
                timeout: SimDuration::from_secs(30),
            },
            slo: SloSpec::default(),
            traffic: TrafficSpec::Poisson { rate: 5.0 },
            autoscaling: None,
        }
    );
}

#[test]
fn the_full_service_format_resolves_every_field() {
    let s = services(
        r#"    - name: chat
      replicas: 2
      priority: 100
      gpusPerReplica: 2
      cpu: "8"
      memory: 64Gi
      gpuModels: [A100]
      nodeSelector: {team: ml}
      tolerations: [{key: gpu, operator: Exists}]
      startup:
        imagePull: {kind: log-normal, median: 60s, p95: 180s}
        modelLoad: {kind: uniform, min: 30s, max: 90s}
      llm:
        maxNumSeqs: 64
        prefillTokensPerSecond: 8000
        decodeTokensPerSecond: 2400
        maxDecodeTokensPerSecondPerSequence: 60
        promptTokens: {kind: log-normal, median: 1000, p95: 4000}
        outputTokens: {kind: uniform, min: 10, max: 400}
      loadBalancing: round-robin
      queue: {capacity: 0, timeout: 20s}
      slo: {latency: 5s, ttft: 1s, tpot: 100ms}
      autoscaling: {minReplicas: 1, maxReplicas: 8, metrics: [{type: requests-per-second, averageValue: 5}], behavior: {scaleDown: {policies: []}}}
      traffic:
        spike:
          at: 2h
          rampUp: 5m
          hold: 20m
          rampDown: 5m
          multiplier: 5
          of:
            sum:
              - diurnal: {mean: 20, amplitude: 10, period: 12h, peak: 30h}
              - steps: [{at: 0s, rate: 1}, {at: 1h, rate: 3}]
              - gamma: {rate: 2, cv: 3}
              - mmpp: {rates: [1, 10], meanDurations: [10m, 1m]}
              - scale: {factor: 0.5, of: {replay: {format: azure-llm, path: azure-llm/AzureLLMInferenceTrace_conv.csv, start: 10m, end: 50m, limit: 100, timeScale: 2, repeat: true}}}
              - shift: {by: 1h, of: {constant: {rate: 0.5}}}
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let c = &s[0];
    assert_eq!(
        (
            c.replicas,
            c.priority,
            c.gpus_per_replica,
            c.cpu_milli,
            c.memory_mib
        ),
        (2, 100, 2, 8000, 65536)
    );
    assert_eq!(c.gpu_models, ["A100"]);
    assert_eq!(c.node_selector.get("team").map(String::as_str), Some("ml"));
    assert!(c.tolerations[0].exists);
    assert_eq!(
        c.startup.model_load,
        DurationDist::Uniform {
            min: SimDuration::from_secs(30),
            max: SimDuration::from_secs(90)
        }
    );
    assert_eq!(
        c.model,
        ServingModel::Llm(LlmSpec {
            max_num_seqs: 64,
            prefill_tokens_per_second: 8000.0,
            decode_tokens_per_second: 2400.0,
            max_decode_tokens_per_second_per_sequence: 60.0,
            prompt_tokens: Some(TokenDist::LogNormal {
                median: 1000,
                p95: 4000
            }),
            output_tokens: Some(TokenDist::Uniform { min: 10, max: 400 }),
        })
    );
    assert_eq!(c.load_balancing, LoadBalancing::RoundRobin);
    assert_eq!(
        c.queue,
        QueueSpec {
            capacity: 0,
            timeout: SimDuration::from_secs(20)
        }
    );
    assert_eq!(
        c.slo,
        SloSpec {
            latency: Some(SimDuration::from_secs(5)),
            ttft: Some(SimDuration::from_secs(1)),
            tpot: Some(SimDuration(100_000)),
        }
    );
    let TrafficSpec::Spike(spike) = &c.traffic else {
        panic!("{:?}", c.traffic)
    };
    assert_eq!(spike.at, SimTime(7_200_000_000));
    assert_eq!(
        (spike.ramp_up, spike.hold, spike.ramp_down, spike.multiplier),
        (
            SimDuration::from_mins(5),
            SimDuration::from_mins(20),
            SimDuration::from_mins(5),
            5.0
        )
    );
    let TrafficSpec::Sum(parts) = &*spike.of else {
        panic!("{:?}", spike.of)
    };
    assert_eq!(
        parts[0],
        TrafficSpec::Diurnal {
            mean: 20.0,
            amplitude: 10.0,
            period: SimDuration::from_hours(12),
            peak: SimDuration::from_hours(6),
        },
        "the peak is taken modulo the period"
    );
    assert_eq!(
        parts[1],
        TrafficSpec::Steps {
            steps: vec![
                RateStep {
                    at: SimTime::ZERO,
                    rate: 1.0
                },
                RateStep {
                    at: SimTime(3_600_000_000),
                    rate: 3.0
                }
            ]
        }
    );
    assert_eq!(parts[2], TrafficSpec::Gamma { rate: 2.0, cv: 3.0 });
    assert_eq!(
        parts[3],
        TrafficSpec::Mmpp {
            rates: [1.0, 10.0],
            mean_durations: [SimDuration::from_mins(10), SimDuration::from_mins(1)]
        }
    );
    assert_eq!(
        parts[4],
        TrafficSpec::Scale {
            factor: 0.5,
            of: Box::new(TrafficSpec::Replay(ReplaySpec {
                format: ReplayFormat::AzureLlm,
                path: PathBuf::from("azure-llm/AzureLLMInferenceTrace_conv.csv"),
                start: SimDuration::from_mins(10),
                end: Some(SimDuration::from_mins(50)),
                limit: Some(100),
                time_scale: 2.0,
                repeat: true,
            }))
        }
    );
    assert_eq!(
        parts[5],
        TrafficSpec::Shift {
            by: SimDuration::from_hours(1),
            of: Box::new(TrafficSpec::Constant { rate: 0.5 })
        }
    );
    assert!(c.traffic.needs_token_distributions());
    assert_eq!(
        c.traffic.trace_paths(),
        [std::path::Path::new(
            "azure-llm/AzureLLMInferenceTrace_conv.csv"
        )]
    );
}

#[test]
fn an_azure_replay_needs_no_token_distributions_but_synthetic_traffic_does() {
    let llm = "      llm: {prefillTokensPerSecond: 8000, decodeTokensPerSecond: 2400}\n";
    let ok = services(&format!(
        "    - name: chat\n{llm}      traffic: {{replay: {{format: azure-llm, path: a.csv}}}}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let ServingModel::Llm(l) = &ok[0].model else {
        panic!()
    };
    assert_eq!(l.max_num_seqs, 256);
    assert_eq!(l.max_decode_tokens_per_second_per_sequence, 2400.0);
    assert!(!ok[0].traffic.needs_token_distributions());
    assert_eq!(
        rules(&format!(
            "    - name: chat\n{llm}      traffic: {{sum: [{{replay: {{format: azure-llm, path: a.csv}}}}, {{poisson: {{rate: 1}}}}]}}\n"
        )),
        [("token-distribution".to_string(), 10)]
    );
}

#[test]
fn every_service_violation_is_reported_at_once() {
    let got = rules(
        r#"    - name: Chat
      replicas: -1
      gpuModels: [A10O]
      llm: {prefillTokensPerSecond: 0, decodeTokensPerSecond: 2400, promptTokens: {kind: fixed, value: 5}, outputTokens: {kind: log-normal, median: 50, p95: 10}}
      loadBalancing: random
      queue: {timeout: 0s}
      traffic:
        sum:
          - poisson: {rate: -1}
          - {constant: {rate: 1}, poisson: {rate: 2}}
          - diurnal: {mean: 1, amplitude: 2}
          - steps: [{at: 1h, rate: 1}, {at: 30m, rate: 2}]
          - mmpp: {rates: [1], meanDurations: [1m, 0s]}
          - spike: {at: 1h, multiplier: 2, of: {poisson: {rate: 1}}}
          - {}
    - name: Chat
      generic: {serviceTime: {kind: fixed, value: 1s}}
      slo: {ttft: 1s}
      traffic: {scale: {factor: 2}}
"#,
    );
    let names: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "name",
            "replicas",
            "unknown-gpu-model",
            "throughput",
            "p95-median",
            "load-balancing",
            "positive-duration",
            "rate",
            "traffic-kind",
            "amplitude",
            "steps",
            "mmpp",
            "positive-duration",
            "spike",
            "traffic-kind",
            "name",
            "duplicate-service",
            "slo",
            "missing-field",
        ],
        "{got:?}"
    );
}

/// Nesting is bounded twice: serde-saphyr's 64-level YAML depth budget, then the traffic
/// depth rule. Parsing a nested document needs stack in proportion to its depth (about 25 KiB
/// a level in debug builds), which the 8 MiB main thread has; the test runs on such a thread.
#[test]
fn deeply_nested_traffic_is_refused_not_overflowed() {
    let run = |n: usize| {
        let mut t = "{poisson: {rate: 1}}".to_string();
        for _ in 0..n {
            t = format!("{{scale: {{factor: 1, of: {t}}}}}");
        }
        let yaml = format!(
            "    - name: web\n      generic: {{serviceTime: {{kind: fixed, value: 1s}}}}\n      traffic: {t}\n"
        );
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                services(&yaml)
                    .map(|_| ())
                    .map_err(|e| e.diagnostics().to_vec())
            })
            .expect("spawn")
            .join()
            .expect("no panic")
    };
    let rules_of = |r: Result<(), Vec<Diagnostic>>| -> Vec<String> {
        r.expect_err("refused")
            .iter()
            .map(|d| d.rule.clone())
            .collect()
    };
    assert!(run(15).is_ok(), "15 levels are fine");
    assert_eq!(rules_of(run(16)), ["traffic-depth"]);
    assert!(!rules_of(run(200)).is_empty());
}

#[test]
fn service_paths_can_be_overridden() {
    for p in [
        "services[0].traffic.poisson.rate",
        "services[0].traffic.spike.of.sum[1].poisson.rate",
        "services[0].llm.maxNumSeqs",
        "services[0].slo.latency",
        "services[0].autoscaling",
    ] {
        assert!(check_path(p).is_ok(), "{p}");
    }
    let yaml = format!(
        "{HEAD}    - name: web\n      generic: {{serviceTime: {{kind: fixed, value: 1s}}}}\n      traffic: {{poisson: {{rate: 1}}}}\n"
    );
    let s = load_str_with_overrides(
        &yaml,
        "t.yaml",
        &[Override::new("services[0].traffic.poisson.rate", "7")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.services[0].traffic, TrafficSpec::Poisson { rate: 7.0 });
}

/// Asserts `result` is a row error at `row` whose message contains every `needle` and a hint.
fn assert_row_error<T: std::fmt::Debug>(result: Result<T, TraceError>, row: u64, needles: &[&str]) {
    match result {
        Err(TraceError::Row {
            row: r, message, ..
        }) => {
            assert_eq!(r, row, "row of: {message}");
            for n in needles {
                assert!(message.contains(n), "`{n}` not in: {message}");
            }
            assert!(message.contains("hint:"), "no hint in: {message}");
        }
        other => panic!("expected a row error at row {row}, got {other:?}"),
    }
}

#[test]
fn azure_llm_rows_become_relative_arrivals_with_tokens() {
    let rows = read_azure_llm(&fixture("azure_llm.csv")).expect("valid");
    assert_eq!(
        rows,
        [
            AzureLlmRequest {
                arrival_us: 0,
                prompt_tokens: 374,
                output_tokens: 44
            },
            AzureLlmRequest {
                arrival_us: 4_314_579,
                prompt_tokens: 396,
                output_tokens: 109
            },
            AzureLlmRequest {
                arrival_us: 4_541_877,
                prompt_tokens: 879,
                output_tokens: 55
            },
            AzureLlmRequest {
                arrival_us: 4_541_877,
                prompt_tokens: 91,
                output_tokens: 16
            },
        ]
    );
    let crlf = read_azure_llm(&fixture("azure_llm_crlf.csv")).expect("CRLF is fine");
    assert_eq!(crlf[..], rows[..2]);
}

#[test]
fn azure_llm_errors_name_row_column_and_value() {
    assert_row_error(
        read_azure_llm(&fixture("azure_llm_unsorted.csv")),
        4,
        &[
            "column `TIMESTAMP`",
            "earlier than the row before it",
            "sort",
        ],
    );
    assert_row_error(
        read_azure_llm(&fixture("azure_llm_bad_tokens.csv")),
        3,
        &["column `ContextTokens`", "`3.5`"],
    );
    assert_row_error(
        read_azure_llm(&fixture("azure_llm_bad_time.csv")),
        3,
        &["column `TIMESTAMP`", "`16/11/2023 18:15:50`"],
    );
    assert!(matches!(
        read_azure_llm(&fixture("timestamps.csv")),
        Err(TraceError::Header { .. })
    ));
    assert!(matches!(
        read_azure_llm(std::path::Path::new("/dev/null")),
        Err(TraceError::Open { .. })
    ));
}

#[test]
fn timestamps_are_seconds_with_an_optional_header() {
    assert_eq!(
        read_timestamps(&fixture("timestamps.csv")).expect("valid"),
        [0, 500_000, 750_000, 29_500_000]
    );
    assert_eq!(
        read_timestamps(&fixture("timestamps_noheader.csv")).expect("valid"),
        [0, 500_000, 2_000_000]
    );
    assert_row_error(
        read_timestamps(&fixture("timestamps_unsorted.csv")),
        3,
        &["`4`", "earlier"],
    );
    assert_row_error(
        read_timestamps(&fixture("timestamps_bad.csv")),
        3,
        &["`abc`", "not a time"],
    );
    assert_row_error(
        read_timestamps(&fixture("azure_llm.csv")),
        1,
        &["3 fields where one is expected"],
    );
}

/// The real trace, when `DRYDOCK_DATA_DIR` points at the data sets.
#[test]
fn the_azure_conversation_trace_reads_when_available() {
    let Some(dir) = std::env::var_os("DRYDOCK_DATA_DIR") else {
        return;
    };
    let path = PathBuf::from(dir).join("azure-llm/AzureLLMInferenceTrace_conv.csv");
    if !path.exists() {
        return;
    }
    let rows = read_azure_llm(&path).expect("valid");
    assert_eq!(rows.len(), 19_366);
    assert_eq!((rows[0].prompt_tokens, rows[0].output_tokens), (374, 44));
    assert!(rows.windows(2).all(|w| w[0].arrival_us <= w[1].arrival_us));
}
