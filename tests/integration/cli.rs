//! The `drydock` binary: exit codes and error messages for good and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn drydock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(args)
        .env_remove("DRYDOCK_DATA_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("drydock runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write fixture");
    p
}

#[test]
fn run_without_arguments_runs_the_embedded_default() {
    let o = drydock(&["run"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "stderr: {err}");
    assert!(out.contains("drydock run: default"), "{out}");
    assert!(out.contains("job completion time"), "{out}");
    assert!(out.contains("GPU fragmentation"), "{out}");
    assert!(out.contains("cost"), "{out}");
}

#[test]
fn json_format_is_parseable_and_carries_the_event_log_hash() {
    let o = drydock(&["run", "default", "--format", "json", "--seed", "3"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["seed"], 3);
    assert_eq!(v["event_log_sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn unknown_scenario_name_is_an_input_error_listing_the_builtins() {
    let o = drydock(&["run", "no-such-scenario"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("default") && err.contains("openb-fgd"),
        "{err}"
    );
}

#[test]
fn bad_yaml_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: x}\nspec:\n  cluster:\n    pools:\n      - name: a\n        nodes: 2\n        gpusPerNode: 8\n        gpuModel: A100\n        cpu: \"96\"\n        memory: 1Ti\n        pricePerNodeHour: 1\n  training:\n    - name: j\n      work: 5 parsecs\n",
    );
    let o = drydock(&["run", p.to_str().expect("utf8")]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.yaml:16:"), "{err}");
    assert!(err.contains("hint"), "{err}");
}

#[test]
fn trace_scenario_without_data_dir_is_an_input_error_with_a_hint() {
    let o = drydock(&["run", "openb-fgd"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
}

#[test]
fn missing_trace_file_names_the_path_tried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = drydock(&[
        "run",
        "philly",
        "--data-dir",
        dir.path().to_str().expect("utf8"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("philly/philly.csv"), "{err}");
}

#[test]
fn bad_csv_row_is_named_by_its_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("philly")).expect("mkdir");
    write(
        &dir.path().join("philly"),
        "philly.csv",
        "timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,a\n2017-10-09 07:02:55,abc,1,66.0,a\n",
    );
    let o = drydock(&[
        "run",
        "philly",
        "--data-dir",
        dir.path().to_str().expect("utf8"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("row 3"), "{err}");
}

#[test]
fn out_dir_is_never_silently_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "notes.txt", "mine");
    let o = drydock(&["run", "--out", dir.path().to_str().expect("utf8")]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).expect("kept"),
        "mine"
    );
}

#[test]
fn out_dir_receives_summary_timeseries_and_plots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("results");
    let o = drydock(&["run", "--out", out.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    for f in [
        "summary.json",
        "timeseries.csv",
        "jobs.csv",
        "allocation.svg",
        "queue.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).expect("csv");
    assert!(ts.starts_with("time_s,allocated_gpus,gpu_allocation,pending_pods,pending_jobs,running_jobs,ready_nodes,fragmentation,jobs_submitted,jobs_completed,jobs_failed,restarts,preemptions,node_outages,nodes,cost_dollars\n"), "{ts}");
    let svg = std::fs::read_to_string(out.join("allocation.svg")).expect("svg");
    assert!(svg.contains("<svg"));
}

#[test]
fn validate_reports_ok_and_errors_with_exit_codes() {
    let o = drydock(&["validate", "default"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "x.yaml",
        "apiVersion: drydock/v9\nkind: Scenario\n",
    );
    let o = drydock(&["validate", p.to_str().expect("utf8")]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("x.yaml:1:"), "{err}");
}

#[test]
fn schema_is_json() {
    let o = drydock(&["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json schema");
    assert!(v.get("$schema").is_some() || v.get("properties").is_some());
}

#[test]
fn list_shows_the_builtins() {
    let o = drydock(&["list"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    for name in ["default", "training-failures", "openb-fgd", "philly"] {
        assert!(out.contains(name), "{out}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = drydock(&["run", "--seed", "not-a-number"]);
    assert_eq!(o.status.code(), Some(2));
}

fn scenario_with(dir: &Path, name: &str, extra_spec: &str, training: &str) -> PathBuf {
    write(
        dir,
        name,
        &format!(
            "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n{extra_spec}  cluster:\n    pools:\n      - {{name: g, nodes: 1, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 1Ti, pricePerNodeHour: 3600}}\n  training:\n{training}"
        ),
    )
}

#[test]
fn devices_and_directories_are_refused_as_scenario_files() {
    for arg in ["/dev/zero", "/"] {
        let o = drydock(&["validate", arg]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{arg}: {err}");
        assert!(err.contains("not a regular file"), "{arg}: {err}");
    }
}

#[test]
fn duration_is_honoured_exactly_even_without_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = scenario_with(
        dir.path(),
        "d.yaml",
        "  duration: 10s\n",
        "    - {name: j, gpusPerWorker: 1, work: 1h}\n",
    );
    let o = drydock(&["run", p.to_str().expect("utf8"), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["virtual_time_s"], 10.0);
    // One node at $3600/hour for 10 s.
    assert_eq!(v["cost"]["total"], 10.0);
}

#[test]
fn jobs_that_can_never_fit_are_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = scenario_with(
        dir.path(),
        "w.yaml",
        "",
        "    - {name: j, gpusPerWorker: 16, work: 1h}\n",
    );
    let o = drydock(&["run", p.to_str().expect("utf8")]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("1 job can never be scheduled"), "{err}");
    assert!(err.contains("Insufficient nvidia.com/gpu"), "{err}");
    assert!(out.contains("1 pending"), "{out}");
}

#[test]
fn the_ten_year_horizon_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = scenario_with(
        dir.path(),
        "h.yaml",
        "",
        "    - {name: j, gpusPerWorker: 1, work: 20000d}\n",
    );
    let o = drydock(&["run", p.to_str().expect("utf8")]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("10-year horizon"), "{out}");
}

#[test]
fn tiny_sample_intervals_keep_the_time_series_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = scenario_with(
        dir.path(),
        "s.yaml",
        "  sampleInterval: 1ms\n",
        "    - {name: j, gpusPerWorker: 1, work: 2h}\n",
    );
    let out = dir.path().join("out");
    let o = drydock(&[
        "run",
        p.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let rows = std::fs::read_to_string(out.join("timeseries.csv"))
        .expect("csv")
        .lines()
        .count();
    assert!(rows > 1000 && rows <= 100_001, "{rows} rows");
}

#[test]
fn force_never_writes_through_a_symbolic_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let precious = write(dir.path(), "precious.txt", "keep me");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::os::unix::fs::symlink(&precious, out.join("jobs.csv")).expect("symlink");
    let o = drydock(&["run", "--out", out.to_str().expect("utf8"), "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert_eq!(std::fs::read_to_string(&precious).expect("read"), "keep me");
    assert!(
        std::fs::read_to_string(out.join("jobs.csv"))
            .expect("jobs")
            .starts_with("name,")
    );
}

#[test]
fn data_dir_is_only_checked_when_traces_are_read() {
    let o = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["run", "default"])
        .env("DRYDOCK_DATA_DIR", "/nonexistent")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let o = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["run", "philly", "--data-dir", "/etc/hostname"])
        .output()
        .expect("runs");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("is not a directory"), "{err}");
}

#[test]
fn csv_rows_are_numbered_as_lines_with_crlf_and_blank_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("philly")).expect("mkdir");
    write(
        &dir.path().join("philly"),
        "philly.csv",
        "timestamp,duration,num_gpus,gpu_time,cluster\r\n2017-10-09 07:01:55,66.0,1,66.0,a\r\n\r\n\r\n2017-10-09 07:02:55,abc,1,66.0,a\r\n",
    );
    let o = drydock(&[
        "run",
        "philly",
        "--data-dir",
        dir.path().to_str().expect("utf8"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("row 5"), "{err}");
}

#[test]
fn duplicate_node_names_in_a_node_list_are_an_input_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("alibaba-openb");
    std::fs::create_dir_all(&d).expect("mkdir");
    write(
        &d,
        "openb_node_list_gpu_node.csv",
        "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn0,64000,262144,2,P100\n",
    );
    write(
        &d,
        "openb_pod_list_default.csv",
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,1,500\n",
    );
    let o = drydock(&[
        "run",
        "openb-fgd",
        "--data-dir",
        dir.path().to_str().expect("utf8"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("row 3") && err.contains("duplicate node name"),
        "{err}"
    );
}

#[test]
fn inflation_without_gpu_pods_is_an_input_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("alibaba-openb");
    std::fs::create_dir_all(&d).expect("mkdir");
    write(
        &d,
        "openb_node_list_gpu_node.csv",
        "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\n",
    );
    write(
        &d,
        "openb_pod_list_default.csv",
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,0,0\n",
    );
    let o = drydock(&[
        "run",
        "openb-fgd",
        "--data-dir",
        dir.path().to_str().expect("utf8"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("inflateTo needs pods that request GPUs"),
        "{err}"
    );
}

#[test]
fn run_set_changes_one_field_and_rejects_unknown_paths_with_suggestions() {
    let o = drydock(&[
        "run",
        "--set",
        "scheduler.policy=kube-default",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["policy"], "kube-default");
    let o = drydock(&["run", "--set", "schedular.policy=fgd"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("scheduler.policy"), "{err}");
    let o = drydock(&["run", "--set", "scheduler.policy=fastest"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--set") && err.contains("fgd"), "{err}");
}

#[test]
fn reports_may_not_overwrite_the_out_directory_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o");
    let o = drydock(&[
        "run",
        "--out",
        out.to_str().expect("utf8"),
        "--junit",
        out.join("summary.json").to_str().expect("utf8"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("drydock would overwrite it"), "{err}");
}

#[test]
fn run_set_refuses_duplicate_paths_and_the_seed() {
    let o = drydock(&[
        "run",
        "--set",
        "scheduler.policy=fgd",
        "--set",
        "spec.scheduler.policy=binpack",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    assert!(text(&o).1.contains("given twice"));
    let o = drydock(&["run", "--set", "seed=7"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    assert!(text(&o).1.contains("--seed"));
}

#[test]
fn compare_refuses_devices() {
    let o = drydock(&["compare", "/dev/zero", "/dev/zero"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}
