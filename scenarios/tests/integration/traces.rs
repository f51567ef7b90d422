//! Trace readers on small fixtures (always) and on the real data sets (when
//! `DRYDOCK_DATA_DIR` points at them).

use std::path::PathBuf;

use drydock_scenarios::trace::{
    OpenbNode, TraceError, read_openb_nodes, read_openb_pods, read_philly,
};

use crate::fixture;

/// Asserts `result` is a row error at `row` whose message contains every `needle`.
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
fn openb_nodes_parse_with_and_without_models() {
    let nodes = read_openb_nodes(&fixture("openb_nodes.csv")).expect("valid");
    assert_eq!(nodes.len(), 4);
    assert_eq!(
        nodes[1],
        OpenbNode {
            name: "node-b".into(),
            cpu_milli: 96_000,
            memory_mib: 786_432,
            gpus: 8,
            model: Some("V100M32".into()),
        }
    );
    assert_eq!((nodes[2].gpus, nodes[2].model.as_deref()), (0, None));
    assert_eq!(nodes[3].model, None, "`nan` is no model");
}

#[test]
fn openb_nodes_with_too_many_gpus_name_the_row() {
    let err = read_openb_nodes(&fixture("openb_nodes_too_many_gpus.csv"));
    assert_row_error(err, 3, &["column `gpu`", "`65`"]);
}

#[test]
fn openb_pods_parse_all_columns() {
    let pods = read_openb_pods(&fixture("openb_pods.csv")).expect("valid");
    assert_eq!(pods.len(), 4);
    assert_eq!(pods[1].gpu_milli, 460);
    assert_eq!(pods[1].gpu_spec, ["V100M16", "V100M32"]);
    assert_eq!(pods[1].creation_time, Some(427_061));
    assert!(pods[2].gpu_spec.is_empty(), "`nan` spec means any");
    assert_eq!((pods[2].num_gpu, pods[2].deletion_time), (0, None));
    assert_eq!(pods[3].num_gpu, 8);
}

#[test]
fn openb_pods_with_only_five_columns_parse() {
    let pods = read_openb_pods(&fixture("openb_pods_5col.csv")).expect("valid");
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p.creation_time.is_none() && p.gpu_spec.is_empty())
    );
}

#[test]
fn openb_pod_errors_name_row_column_and_value() {
    assert_row_error(
        read_openb_pods(&fixture("openb_pods_gpu_milli_over.csv")),
        3,
        &["column `gpu_milli`", "`1200`"],
    );
    assert_row_error(
        read_openb_pods(&fixture("openb_pods_shared_multi_gpu.csv")),
        4,
        &["column `gpu_milli`", "`500`", "2-GPU pod"],
    );
    assert_row_error(
        read_openb_pods(&fixture("openb_pods_bad_number.csv")),
        3,
        &["column `cpu_milli`", "`lots`"],
    );
    assert_row_error(
        read_openb_pods(&fixture("openb_pods_deleted_before_created.csv")),
        2,
        &["column `deletion_time`", "negative duration"],
    );
}

#[test]
fn a_missing_required_column_is_a_header_error() {
    match read_openb_pods(&fixture("openb_pods_missing_column.csv")) {
        Err(e @ TraceError::Header { .. }) => {
            assert!(e.to_string().contains("missing column `gpu_milli`"), "{e}");
        }
        other => panic!("expected a header error, got {other:?}"),
    }
}

#[test]
fn a_missing_file_is_an_open_error_naming_it() {
    match read_philly(&fixture("no-such-file.csv")) {
        Err(e @ TraceError::Open { .. }) => assert!(e.to_string().contains("no-such-file.csv")),
        other => panic!("expected an open error, got {other:?}"),
    }
}

#[test]
fn philly_parses_and_skips_the_trailing_empty_line() {
    let jobs = read_philly(&fixture("philly.csv")).expect("valid");
    assert_eq!(jobs.len(), 3);
    assert_eq!(
        jobs[0].submit_unix_s, 1_507_532_515,
        "2017-10-09 07:01:55 UTC"
    );
    assert_eq!(jobs[0].duration_s, 66.0);
    assert_eq!(jobs[0].cluster, "11cb48");
    assert_eq!(
        jobs[2].num_gpus, 128,
        "Philly jobs may exceed 64 GPUs (they span nodes)"
    );
}

#[test]
fn philly_errors_name_row_column_and_value() {
    assert_row_error(
        read_philly(&fixture("philly_bad_timestamp.csv")),
        4,
        &["column `timestamp`", "`2017-02-30 21:38:32`"],
    );
    assert_row_error(
        read_philly(&fixture("philly_negative_duration.csv")),
        2,
        &["column `duration`", "`-66.0`", "negative"],
    );
    assert_row_error(
        read_philly(&fixture("philly_short_row.csv")),
        3,
        &["3 fields where the header has 5"],
    );
}

/// Reads every real data file; skipped (with a note) unless `DRYDOCK_DATA_DIR` is set.
#[test]
fn real_trace_files_parse_with_the_published_row_counts() {
    let Some(dir) = std::env::var_os("DRYDOCK_DATA_DIR").map(PathBuf::from) else {
        eprintln!("note: DRYDOCK_DATA_DIR is not set; skipping the real trace files");
        return;
    };
    let openb = dir.join("alibaba-openb");
    let all = read_openb_nodes(&openb.join("openb_node_list_all_node.csv")).expect("all nodes");
    assert_eq!(all.len(), 1523);
    let gpu = read_openb_nodes(&openb.join("openb_node_list_gpu_node.csv")).expect("gpu nodes");
    assert_eq!(gpu.len(), 1213);
    assert_eq!(gpu.iter().map(|n| u64::from(n.gpus)).sum::<u64>(), 6212);
    assert!(gpu.iter().all(|n| n.model.is_some()));
    let default = read_openb_pods(&openb.join("openb_pod_list_default.csv")).expect("default pods");
    assert_eq!(default.len(), 8152);
    assert!(default.iter().all(|p| p.creation_time.is_some()));
    let mut others = 0;
    for entry in std::fs::read_dir(&openb).expect("alibaba-openb/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.starts_with("openb_pod_list_") && name.ends_with(".csv") {
            let pods = read_openb_pods(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!pods.is_empty(), "{name}");
            others += 1;
        }
    }
    assert!(others >= 3, "default, gpushare100 and multigpu50 pod lists");
    let multi = read_openb_pods(&openb.join("openb_pod_list_multigpu50.csv")).expect("multigpu50");
    assert_eq!(multi.len(), 9061);
    // 82,249 lines: the header, 82,247 jobs and a final empty line.
    let philly = read_philly(&dir.join("philly").join("philly.csv")).expect("philly");
    assert_eq!(philly.len(), 82_247);
    assert!(
        philly
            .iter()
            .all(|j| j.num_gpus >= 1 && j.duration_s >= 0.0)
    );
}
