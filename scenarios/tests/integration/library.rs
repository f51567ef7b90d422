//! The built-in scenario library: every `library/*.yaml` is a built-in and loads.

use drydock_scenarios::{builtin, builtins, load, load_named_or_path};

use crate::yaml_files;

#[test]
fn every_library_file_loads() {
    let files = yaml_files("library");
    assert!(
        files.len() >= 4,
        "expected at least 4 library files, found {}",
        files.len()
    );
    for path in files {
        if let Err(e) = load(&path) {
            panic!("{} does not load:\n{e}", path.display());
        }
    }
}

#[test]
fn every_library_file_is_a_builtin_and_every_builtin_is_a_library_file() {
    let mut files: Vec<String> = yaml_files("library")
        .iter()
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut names: Vec<String> = builtins().iter().map(|b| b.name.to_string()).collect();
    names.sort();
    assert_eq!(files, names);
    assert_eq!(builtins()[0].name, "default", "default comes first");
}

#[test]
fn every_builtin_loads_with_its_own_name_and_declares_its_data_needs() {
    for b in builtins() {
        let s = load_named_or_path(b.name).unwrap_or_else(|e| panic!("{}:\n{e}", b.name));
        assert_eq!(s.name, b.name, "metadata.name of {}", b.name);
        assert_eq!(s.source, format!("builtin:{}", b.name));
        let replays = s
            .services
            .iter()
            .any(|v| !v.traffic.trace_paths().is_empty());
        let reads_traces = !s.traces.is_empty() || s.cluster.node_trace.is_some() || replays;
        assert_eq!(reads_traces, b.needs_data, "needs_data of {}", b.name);
        assert!(!b.description.is_empty());
        assert!(
            b.source.starts_with('#'),
            "{} starts with a comment explaining it",
            b.name
        );
        assert!(std::ptr::eq(builtin(b.name).expect("found"), b));
    }
    assert!(builtin("nope").is_none());
}

#[test]
fn default_scenario_has_the_documented_shape() {
    let s = load_named_or_path("default").expect("loads");
    let pools: Vec<(&str, u32, u32)> = s
        .cluster
        .pools
        .iter()
        .map(|p| (p.name.as_str(), p.nodes, p.gpus_per_node))
        .collect();
    assert_eq!(pools, [("a100", 4, 8), ("l4", 4, 4), ("cpu", 2, 0)]);
    assert_eq!(s.cluster.pools[0].price_per_node_hour, 32.77);
    assert_eq!(s.scheduler.policy, drydock_core::PolicyKind::Binpack);
    assert!(s.training.len() >= 10, "about ten gangs");
    assert!(
        s.training.iter().any(|j| j.priority >= 1000),
        "a high-priority job"
    );
    assert!(
        s.training
            .iter()
            .all(|j| j.work > drydock_core::SimDuration::ZERO)
    );
    assert_eq!(s.failures.scheduled.len(), 1);
    let f = &s.failures.scheduled[0];
    assert_eq!(
        f.target,
        drydock_scenarios::FailureTarget::Node {
            name: "a100-1".into()
        }
    );
    assert_eq!(f.at, drydock_core::SimTime(2 * 3600 * 1_000_000));
    assert_eq!(
        f.repair_after,
        Some(drydock_core::SimDuration::from_hours(1))
    );
}

#[test]
fn training_failures_has_a_64_gpu_job_and_random_failures() {
    let s = load_named_or_path("training-failures").expect("loads");
    assert!(
        s.training
            .iter()
            .any(|j| j.workers * j.gpus_per_worker == 64)
    );
    let r = s.failures.random.as_ref().expect("random failures");
    assert!(r.gpu_mtbf.is_some() && r.node_mtbf.is_some());
    assert!(matches!(
        r.repair_time,
        drydock_scenarios::DurationDist::LogNormal { .. }
    ));
    assert!(
        s.failures
            .scheduled
            .iter()
            .any(|f| matches!(f.target, drydock_scenarios::FailureTarget::Zone { .. }))
    );
}
