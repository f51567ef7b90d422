//! The public API: loading entry points, defaults, scheduler defaults per policy, node names.

use std::collections::BTreeMap;

use drydock_core::{PolicyKind, ResourceWeights, SimDuration, SimTime, TaintEffect, TieBreak};
use drydock_scenarios::*;

const HEAD: &str = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: t}\n";

fn scenario(spec: &str) -> Result<Scenario, ScenarioError> {
    load_str(&format!("{HEAD}spec:\n{spec}"), "t.yaml")
}

const POOL: &str = "  cluster:\n    pools:\n      - {name: a100, nodes: 4, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 1Ti}\n";

#[test]
fn a_minimal_scenario_gets_every_documented_default() {
    let s = scenario(&format!(
        "{POOL}  training:\n    - {{name: j, work: 1h}}\n  traces:\n    - {{format: philly, path: p.csv}}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "t");
    assert_eq!(s.description, "");
    assert_eq!(s.source, "t.yaml");
    assert_eq!(s.seed, 1);
    assert_eq!(s.duration, None);
    assert_eq!(s.sample_interval, SimDuration::from_mins(5));

    let p = &s.cluster.pools[0];
    assert_eq!(
        (
            p.gpu_memory_mib,
            p.cpu_milli,
            p.memory_mib,
            p.price_per_node_hour
        ),
        (0, 96_000, 1024 * 1024, 0.0)
    );
    assert!(p.labels.is_empty() && p.taints.is_empty() && p.zones.is_empty());
    assert_eq!(s.cluster.node_trace, None);

    let sch = &s.scheduler;
    assert_eq!(sch.policy, PolicyKind::KubeDefault);
    assert_eq!(sch.tie_break, TieBreak::Random);
    assert_eq!(sch.percentage_of_nodes_to_score, None);
    assert_eq!(
        sch.weights,
        ResourceWeights {
            cpu: 1,
            memory: 1,
            gpu: 0
        }
    );
    assert_eq!(sch.cycle, SimDuration::from_secs(1));
    assert!(sch.preemption);
    assert_eq!(sch.termination_grace_period, SimDuration::from_secs(30));
    assert_eq!(sch.gang_schedule_timeout, SimDuration::from_secs(60));
    assert_eq!(sch.gang_mode, GangMode::AllOrNothing);
    assert_eq!(sch.popularity_threshold, 0.95);

    let nl = &s.node_lifecycle;
    assert_eq!(nl.node_monitor_grace_period, SimDuration::from_secs(50));
    assert_eq!(nl.node_monitor_period, SimDuration::from_secs(5));
    assert_eq!(nl.toleration_seconds, SimDuration::from_secs(300));

    let j = &s.training[0];
    assert_eq!(
        *j,
        TrainingJobSpec {
            name: "j".into(),
            arrival: SimTime::ZERO,
            count: 1,
            interval: SimDuration::ZERO,
            workers: 1,
            gpus_per_worker: 1,
            cpu_milli: 1000,
            memory_mib: 4096,
            gpu_models: vec![],
            node_selector: BTreeMap::new(),
            tolerations: vec![],
            work: SimDuration::from_hours(1),
            checkpoint_interval: None,
            checkpoint_cost: SimDuration::ZERO,
            restart_overhead: SimDuration::ZERO,
            backoff_limit: 6,
            priority: 0,
        }
    );

    let t = &s.traces[0];
    assert_eq!(
        *t,
        TraceSpec {
            format: TraceFormat::Philly,
            path: "p.csv".into(),
            mode: TraceMode::Replay,
            start: SimDuration::ZERO,
            end: None,
            limit: None,
            sample: 1.0,
            time_scale: 1.0,
            shuffle: false,
            inflate_to: None,
            inter_arrival: SimDuration::from_secs(1),
            gpus_per_worker: 8,
            cpu_per_gpu_milli: 4000,
            memory_per_gpu_mib: 32768,
            checkpoint_interval: None,
            checkpoint_cost: SimDuration::ZERO,
            restart_overhead: SimDuration::ZERO,
            backoff_limit: 6,
            priority: 0,
        }
    );
    assert_eq!(s.failures, FailureSpec::default());
}

#[test]
fn scheduler_defaults_follow_the_policy_and_explicit_values_win() {
    let fgd = scenario(&format!("{POOL}  scheduler: {{policy: fgd}}\n")).expect("valid");
    assert_eq!(fgd.scheduler.tie_break, TieBreak::NodeName);
    assert_eq!(fgd.scheduler.percentage_of_nodes_to_score, Some(100));
    let binpack = scenario(&format!("{POOL}  scheduler: {{policy: binpack}}\n")).expect("valid");
    assert_eq!(
        binpack.scheduler.weights,
        ResourceWeights {
            cpu: 1,
            memory: 1,
            gpu: 1
        }
    );
    assert_eq!(binpack.scheduler.percentage_of_nodes_to_score, None);
    let custom = scenario(&format!(
        "{POOL}  scheduler:\n    policy: binpack\n    tieBreak: node-name\n    percentageOfNodesToScore: 0\n    scoringWeights: {{cpu: 2, nvidia.com/gpu: 5}}\n    cycle: 500ms\n    preemption: false\n    terminationGracePeriod: 0s\n    gang: {{scheduleTimeout: 2m, mode: permit-wait}}\n    popularityThreshold: 0.9\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let s = &custom.scheduler;
    assert_eq!(s.tie_break, TieBreak::NodeName);
    assert_eq!(s.percentage_of_nodes_to_score, None, "0 means adaptive");
    assert_eq!(
        s.weights,
        ResourceWeights {
            cpu: 2,
            memory: 1,
            gpu: 5
        }
    );
    assert_eq!(s.cycle, SimDuration(500_000));
    assert!(!s.preemption);
    assert_eq!(s.termination_grace_period, SimDuration::ZERO);
    assert_eq!(s.gang_schedule_timeout, SimDuration::from_mins(2));
    assert_eq!(s.gang_mode, GangMode::PermitWait);
    assert_eq!(s.popularity_threshold, 0.9);
    let fifty = scenario(&format!(
        "{POOL}  scheduler: {{percentageOfNodesToScore: 50}}\n"
    ))
    .expect("valid");
    assert_eq!(fifty.scheduler.percentage_of_nodes_to_score, Some(50));
}

#[test]
fn the_full_format_resolves_every_field() {
    let s = scenario(
        r#"  seed: 42
  duration: 12h
  sampleInterval: 90
  cluster:
    pools:
      - {name: a100, nodes: 11, gpuModel: A100, gpusPerNode: 8, gpuMemory: 80Gi, cpu: "96", memory: 1Ti, pricePerNodeHour: 32.77, labels: {k: v}, taints: [{key: k, value: v, effect: NoSchedule}], zones: [us-a, us-b]}
      - {name: cpu, nodes: 0, cpu: 500m, memory: 1G}
    nodeTrace: {path: alibaba-openb/openb_node_list_gpu_node.csv, pricePerGpuHour: 2.0, cpuNodePricePerHour: 0.5}
  nodeLifecycle: {nodeMonitorGracePeriod: 40s, nodeMonitorPeriod: 5s, tolerationSeconds: 1m}
  training:
    - {name: llama, arrival: 1h30m, count: 3, interval: 10m, workers: 2, gpusPerWorker: 8, cpu: "32", memory: 256Gi, gpuModels: [A100], nodeSelector: {team: a}, tolerations: [{key: k, operator: Exists, effect: NoSchedule}, {operator: Exists}, {key: k, value: v}], work: 6h, checkpointInterval: 30m, checkpointCost: 1m, restartOverhead: 5m, backoffLimit: 3, priority: 100}
  traces:
    - {format: alibaba-openb, path: a.csv, mode: arrivals-only, start: 0s, end: 30d, limit: 1000, sample: 0.5, timeScale: 2, shuffle: false, inflateTo: 1.3, interArrival: 2s, checkpointInterval: 1h, checkpointCost: 30s, restartOverhead: 2m, backoffLimit: 1, priority: -5}
  failures:
    scheduled:
      - {at: 2h, node: a100-01, repairAfter: 1h}
      - {at: 3h, gpu: {node: a100-10, index: 7}}
      - {at: 4h, pool: a100}
      - {at: 5h, zone: us-a, repairAfter: 30m}
    random:
      nodeMtbf: 264d
      gpuMtbf: 2100d
      repairTime: {kind: uniform, min: 1h, max: 2h}
      start: 1d
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.seed, 42);
    assert_eq!(s.duration, Some(SimDuration::from_hours(12)));
    assert_eq!(s.sample_interval, SimDuration::from_secs(90));
    let p = &s.cluster.pools[0];
    assert_eq!(p.gpu_memory_mib, 80 * 1024);
    assert_eq!(p.labels.get("k").map(String::as_str), Some("v"));
    assert_eq!(p.taints[0].effect, TaintEffect::NoSchedule);
    assert_eq!(p.zones, ["us-a", "us-b"]);
    let cpu = &s.cluster.pools[1];
    assert_eq!(
        (
            cpu.nodes,
            cpu.cpu_milli,
            cpu.memory_mib,
            cpu.gpu_model.as_deref()
        ),
        (0, 500, 954, None)
    );
    let nt = s.cluster.node_trace.as_ref().expect("node trace");
    assert_eq!(
        (nt.price_per_gpu_hour, nt.cpu_node_price_per_hour),
        (2.0, 0.5)
    );
    assert_eq!(
        s.node_lifecycle.toleration_seconds,
        SimDuration::from_mins(1)
    );
    let j = &s.training[0];
    assert_eq!(j.arrival, SimTime(5_400_000_000));
    assert_eq!(
        (
            j.count,
            j.workers,
            j.gpus_per_worker,
            j.backoff_limit,
            j.priority
        ),
        (3, 2, 8, 3, 100)
    );
    assert_eq!(j.checkpoint_interval, Some(SimDuration::from_mins(30)));
    assert_eq!(j.tolerations.len(), 3);
    assert!(j.tolerations[0].exists && j.tolerations[0].key.as_deref() == Some("k"));
    assert!(
        j.tolerations[1].exists
            && j.tolerations[1].key.is_none()
            && j.tolerations[1].effect.is_none()
    );
    assert!(!j.tolerations[2].exists && j.tolerations[2].value == "v");
    let t = &s.traces[0];
    assert_eq!(
        (t.mode, t.shuffle, t.inflate_to, t.limit, t.priority),
        (TraceMode::ArrivalsOnly, false, Some(1.3), Some(1000), -5)
    );
    assert_eq!(t.end, Some(SimDuration::from_hours(30 * 24)));
    let f = &s.failures.scheduled;
    assert_eq!(
        f[0].target,
        FailureTarget::Node {
            name: "a100-01".into()
        }
    );
    assert_eq!(
        f[1].target,
        FailureTarget::Gpu {
            node: "a100-10".into(),
            index: 7
        }
    );
    assert_eq!(
        f[2].target,
        FailureTarget::Pool {
            name: "a100".into()
        }
    );
    assert_eq!(
        f[3].target,
        FailureTarget::Zone {
            name: "us-a".into()
        }
    );
    let r = s.failures.random.as_ref().expect("random");
    assert_eq!(
        r.repair_time,
        DurationDist::Uniform {
            min: SimDuration::from_hours(1),
            max: SimDuration::from_hours(2)
        }
    );
    assert_eq!(r.start, SimTime(86_400_000_000));
}

#[test]
fn arrivals_only_traces_shuffle_by_default() {
    let s = scenario(&format!(
        "{POOL}  traces:\n    - {{format: alibaba-openb, path: a.csv, mode: arrivals-only}}\n"
    ))
    .expect("valid");
    assert!(s.traces[0].shuffle);
}

#[test]
fn failure_node_names_use_the_padded_pool_naming() {
    let pool = "  cluster:\n    pools:\n      - {name: p, nodes: 11, cpu: \"1\", memory: 1Gi}\n";
    assert!(
        scenario(&format!(
            "{pool}  failures: {{scheduled: [{{at: 1h, node: p-05}}]}}\n"
        ))
        .is_ok()
    );
    assert_eq!(node_name("p", 5, 11), "p-05");
    let err = scenario(&format!(
        "{pool}  failures: {{scheduled: [{{at: 1h, node: p-5}}]}}\n"
    ))
    .expect_err("p-5 is not a node name when there are 11 nodes");
    assert!(
        err.to_string()
            .contains("hint: nodes are named <pool>-<index>: p-00 … p-10"),
        "{err}"
    );
}

#[test]
fn failure_targets_are_not_checked_against_trace_nodes() {
    let s = scenario(
        "  cluster:\n    nodeTrace: {path: n.csv}\n  failures: {scheduled: [{at: 1h, node: openb-node-0001}, {at: 2h, pool: openb-v100m16-8g}]}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.failures.scheduled.len(), 2);
}

#[test]
fn load_names_a_missing_file() {
    let err = load(std::path::Path::new("/no/such/scenario.yaml")).expect_err("missing");
    assert!(matches!(err, ScenarioError::Io { .. }));
    assert!(err.to_string().contains("/no/such/scenario.yaml"), "{err}");
    assert!(err.diagnostics().is_empty());
}

#[test]
fn load_named_or_path_takes_builtins_then_paths_and_lists_builtins_otherwise() {
    assert_eq!(
        load_named_or_path("philly").expect("builtin").name,
        "philly"
    );
    let path = crate::crate_dir().join("library").join("default.yaml");
    let from_path = load_named_or_path(path.to_str().expect("utf-8")).expect("path");
    assert_eq!(from_path.source, path.display().to_string());
    let err = load_named_or_path("no-such-scenario").expect_err("unknown");
    let ScenarioError::UnknownScenario { name, available } = &err else {
        panic!("expected UnknownScenario, got {err}")
    };
    assert_eq!(name, "no-such-scenario");
    assert_eq!(
        available,
        &[
            "default",
            "training-failures",
            "openb-fgd",
            "philly",
            "llm-spike",
            "diurnal-inference",
            "mixed-cluster"
        ]
    );
    assert!(err.to_string().contains(
        "built-in scenarios: default, training-failures, openb-fgd, philly, llm-spike, \
         diurnal-inference, mixed-cluster"
    ));
}

#[test]
fn loading_the_same_text_twice_gives_the_same_scenario() {
    let b = builtin("training-failures").expect("builtin");
    assert_eq!(
        load_str(b.source, "a").expect("valid"),
        load_str(b.source, "a").expect("valid")
    );
}

#[test]
fn unit_parsers_are_public_for_the_cli() {
    assert_eq!(parse_duration("1h30m"), Ok(SimDuration::from_mins(90)));
    assert_eq!(parse_cpu("500m"), Ok(500));
    assert_eq!(parse_memory_mib("16Gi"), Ok(16384));
    assert!(
        parse_duration("soon")
            .expect_err("must fail")
            .contains("expected a duration like 90s, 5m or 2h")
    );
}
