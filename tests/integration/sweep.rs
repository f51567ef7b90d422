//! `drydock sweep`: expansion, input errors, determinism, output files, the Kubernetes
//! manifests (insta snapshots) and `sweep collect` on the workers' outputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn drydock_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_drydock"));
    c.args(args)
        .current_dir(dir)
        .env_remove("DRYDOCK_DATA_DIR")
        .env_remove("JOB_COMPLETION_INDEX")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("drydock runs")
}

fn drydock(args: &[&str]) -> Output {
    drydock_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, &[])
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", err(o));
    out(o)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn sweep_prints_one_column_per_variant_in_cross_product_order() {
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1..2",
        "--set",
        "scheduler.policy=binpack,fgd",
        "--set",
        "scheduler.preemption=true,false",
    ]);
    let text = ok(&o);
    assert!(
        text.contains("4 variants x 2 seeds (1..2) = 8 runs"),
        "{text}"
    );
    // The last --set varies fastest.
    let legend: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('v') && l.contains("scheduler.policy="))
        .collect();
    assert_eq!(legend.len(), 4, "{text}");
    assert!(legend[0].contains("scheduler.policy=binpack scheduler.preemption=true"));
    assert!(legend[1].contains("scheduler.policy=binpack scheduler.preemption=false"));
    assert!(legend[2].contains("scheduler.policy=fgd scheduler.preemption=true"));
    assert!(legend[3].contains("scheduler.policy=fgd scheduler.preemption=false"));
    let header = text
        .lines()
        .find(|l| l.starts_with("metric"))
        .unwrap_or_default();
    assert!(
        header.contains("v1 binpack, true") && header.contains("v4 fgd, false"),
        "{header}"
    );
    // Every metric of Summary::metrics() has a row.
    for m in drydock_sim::Summary::default().metrics() {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{} ", m.name))),
            "{} missing:\n{text}",
            m.name
        );
    }
    // Preemption off: the default scenario's urgent job preempts nobody.
    let row = text
        .lines()
        .find(|l| l.starts_with("preemptions "))
        .unwrap_or_default();
    let cells: Vec<&str> = row.split("  ").filter(|c| !c.trim().is_empty()).collect();
    assert_eq!(cells[2].trim(), "0 ± 0", "{row}");
}

#[test]
fn a_sweep_is_byte_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |jobs: &str, name: &str| -> (String, Vec<Vec<u8>>) {
        let out_dir = dir.path().join(name);
        let o = drydock(&[
            "sweep",
            "default",
            "--seeds",
            "1..4",
            "--set",
            "scheduler.policy=kube-default,binpack",
            "--jobs",
            jobs,
            "--out",
            path(&out_dir),
        ]);
        let text = ok(&o).replace(path(&out_dir), "OUT");
        let files = ["sweep.csv", "summary.csv", "sweep.svg"]
            .iter()
            .map(|f| std::fs::read(out_dir.join(f)).expect("output file"))
            .collect();
        (text, files)
    };
    let (t1, f1) = run("1", "one");
    let (t2, f2) = run("2", "two");
    let (t3, f3) = run("2", "three");
    assert_eq!(t1, t2);
    assert_eq!(t2, t3);
    assert_eq!(f1, f2);
    assert_eq!(f2, f3);
}

#[test]
fn out_has_one_csv_row_per_run_and_per_variant_metric() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("r");
    ok(&drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1,2,3",
        "--set",
        "scheduler.policy=binpack,fgd",
        "--out",
        path(&out_dir),
    ]));
    let metrics = drydock_sim::Summary::default().metrics();
    let sweep = std::fs::read_to_string(out_dir.join("sweep.csv")).expect("sweep.csv");
    let mut lines = sweep.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("variant,scheduler.policy,seed,jobs_submitted,"),
        "{header}"
    );
    assert_eq!(header.split(',').count(), 3 + metrics.len());
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 6);
    assert!(rows[0].starts_with("1,binpack,1,"));
    assert!(rows[5].starts_with("2,fgd,3,"));

    let summary = std::fs::read_to_string(out_dir.join("summary.csv")).expect("summary.csv");
    let mut lines = summary.lines();
    assert_eq!(
        lines.next(),
        Some("variant,scheduler.policy,metric,unit,n,mean,std_dev,ci_low,ci_high")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * metrics.len());
    let jobs = &rows[0];
    assert_eq!(&jobs[..5], ["1", "binpack", "jobs_submitted", "count", "3"]);
    // Fourteen jobs in every run: the interval is [14, 14].
    assert_eq!(&jobs[5..], ["14", "0", "14", "14"]);
    let svg = std::fs::read_to_string(out_dir.join("sweep.svg")).expect("svg");
    assert!(svg.contains("<svg") && svg.contains("jct_p95") && svg.contains("cost_total"));
}

#[test]
fn a_single_seed_has_no_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("r");
    let o = drydock(&["sweep", "default", "--seeds", "7", "--out", path(&out_dir)]);
    let text = ok(&o);
    assert!(text.contains("1 variant x 1 seed (7) = 1 run\n"), "{text}");
    assert!(!text.contains('±'), "{text}");
    let summary = std::fs::read_to_string(out_dir.join("summary.csv")).expect("summary.csv");
    let first = summary.lines().nth(1).unwrap_or_default();
    assert_eq!(first, "1,jobs_submitted,count,1,14,0,,", "{summary}");
}

#[test]
fn json_format_carries_means_and_intervals() {
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1..3",
        "--set",
        "scheduler.policy=fgd",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["scenario"], "default");
    assert_eq!(v["seeds"], serde_json::json!([1, 2, 3]));
    let var = &v["variants"][0];
    assert_eq!(var["settings"][0]["path"], "scheduler.policy");
    assert_eq!(var["settings"][0]["value"], "fgd");
    assert_eq!(var["metrics"][0]["name"], "jobs_submitted");
    assert_eq!(var["metrics"][0]["mean"], 14.0);
    assert_eq!(var["metrics"][0]["ci_low"], 14.0);
}

#[test]
fn an_unknown_path_is_an_input_error_listing_the_nearest_paths() {
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1..3",
        "--set",
        "scheduler.polcy=fgd",
    ]);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("no such field"), "{e}");
    assert!(e.contains("nearest valid paths: scheduler.policy"), "{e}");

    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--set",
        "training[2].wrok=1h",
    ]);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("training[2].work"), "{e}");

    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--set",
        "training[99].work=1h",
    ]);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("indices 0 to 9"), "{e}");
}

#[test]
fn override_values_are_validated_like_the_file() {
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--set",
        "training[0].work=2h,5 parsecs",
    ]);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("invalid variant v2 (training[0].work=5 parsecs)"),
        "{e}"
    );
    assert!(e.contains("--set:1:18: error[duration]"), "{e}");
    assert!(e.contains("unknown duration unit `parsecs`"), "{e}");

    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--set",
        "scheduler.policy=fdg",
    ]);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("did you mean `fgd`"), "{e}");

    // A value that breaks a cross-reference elsewhere in the file is reported at the file's
    // line: the scheduled failure names node a100-1, which a one-node pool does not have.
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--set",
        "cluster.pools[0].nodes=1",
    ]);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("builtin:default:"), "{e}");
    assert!(e.contains("a100-1"), "{e}");
}

#[test]
fn seed_syntax_errors_and_flag_misuse_are_input_errors() {
    for (seeds, msg) in [
        ("5..1", "empty"),
        ("1..x", "`x` is not a non-negative integer"),
        ("1,1", "appears twice"),
        ("", "empty item"),
    ] {
        let o = drydock(&["sweep", "default", "--seeds", seeds]);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(2), "{seeds}: {e}");
        assert!(e.contains(msg), "{seeds}: {e}");
    }
    let o = drydock(&["sweep", "default", "--seeds", "1", "--set", "seed=1,2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--seeds"));
    let o = drydock(&["sweep", "default"]);
    assert_eq!(o.status.code(), Some(2), "--seeds is required");
    let o = drydock(&["sweep", "default", "--seeds", "1", "--set", "noequals"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn out_dir_is_never_silently_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--out",
        path(dir.path()),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("not empty"));
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--out",
        path(dir.path()),
        "--force",
    ]);
    ok(&o);
    assert!(dir.path().join("sweep.csv").is_file());
}

fn manifests(extra: &[&str]) -> String {
    let mut args = vec![
        "sweep",
        "tests/fixtures/golden.yaml",
        "--seeds",
        "1..3",
        "--set",
        "scheduler.policy=binpack,fgd",
        "--on-kubernetes",
        "--dry-run",
        "--image",
        "registry.example/drydock:test",
    ];
    args.extend_from_slice(extra);
    ok(&drydock(&args))
}

#[test]
fn kubernetes_manifests_snapshot() {
    insta::assert_snapshot!("indexed_job", manifests(&["--namespace", "sims"]));
    insta::assert_snapshot!(
        "indexed_job_with_data_volume",
        manifests(&["--data-pvc", "traces", "--jobs", "2"])
    );
}

#[test]
fn kubernetes_manifests_are_an_indexed_job_with_one_index_per_run() {
    let text = manifests(&[]);
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("yaml");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"], "ConfigMap");
    assert_eq!(docs[1]["kind"], "Job");
    let spec = &docs[1]["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], 6);
    assert_eq!(spec["parallelism"], 6);
    assert_eq!(
        spec["template"]["spec"]["volumes"][0]["configMap"]["name"],
        docs[0]["metadata"]["name"]
    );
    let scenario = docs[0]["data"]["scenario.yaml"]
        .as_str()
        .unwrap_or_default();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/golden.yaml"
    ))
    .expect("fixture");
    assert_eq!(scenario, fixture);
}

/// A kubeconfig in `dir` whose server is `server` (with a token user).
fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let p = dir.join("kubeconfig");
    std::fs::write(
        &p,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {{server: \"{server}\", insecure-skip-tls-verify: true}}\n  name: c\ncontexts:\n- context: {{cluster: c, user: u}}\n  name: x\ncurrent-context: x\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .expect("write kubeconfig");
    p
}

#[test]
fn submitting_needs_a_usable_kubeconfig_and_trace_scenarios_need_a_volume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    // No kubeconfig anywhere: an input error saying how to name one.
    let o = drydock_in(
        dir.path(),
        &["sweep", "default", "--seeds", "1", "--on-kubernetes"],
        &[("KUBECONFIG", path(&missing)), ("HOME", path(dir.path()))],
    );
    let e = err(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("cannot use kubeconfig"), "{e}");
    assert!(e.contains("--kubeconfig PATH"), "{e}");
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--on-kubernetes",
        "--kubeconfig",
        path(&missing),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("cannot use kubeconfig"), "{}", err(&o));
    // Trace scenarios need their data on a volume.
    let o = drydock(&[
        "sweep",
        "openb-fgd",
        "--seeds",
        "1",
        "--on-kubernetes",
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--data-pvc"));
    // --out needs --wait; cluster flags do not go with --dry-run.
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--on-kubernetes",
        "--out",
        path(&dir.path().join("out")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("--out with --on-kubernetes needs --wait"),
        "{}",
        err(&o)
    );
    let o = drydock(&[
        "sweep",
        "default",
        "--seeds",
        "1",
        "--on-kubernetes",
        "--dry-run",
        "--wait",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// An API server that does not answer is a cluster error (exit code 1) naming the server, for
/// submitting and for collecting a Job.
#[test]
fn an_unreachable_cluster_is_exit_code_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Port 1 on loopback: nothing listens there.
    let kc = kubeconfig(dir.path(), "https://127.0.0.1:1");
    for args in [
        vec![
            "sweep",
            "default",
            "--seeds",
            "1",
            "--on-kubernetes",
            "--kubeconfig",
            path(&kc),
        ],
        vec![
            "sweep",
            "collect",
            "drydock-sweep-x-12345678",
            "--kubeconfig",
            path(&kc),
        ],
    ] {
        let o = drydock_in(dir.path(), &args, &[]);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(
            e.contains("cannot reach the API server at https://127.0.0.1:1/"),
            "{args:?}: {e}"
        );
    }
}

/// `collect`'s argument is a directory when one of that name exists, else a Job name; a path
/// that is neither is an input error, and cluster flags do not go with a directory.
#[test]
fn collect_takes_a_directory_or_a_job_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file.json");
    std::fs::write(&file, "{}").expect("write");
    for (arg, needle) in [
        (path(&file).to_string(), "is not a directory"),
        (
            path(&dir.path().join("gone/")).to_string(),
            "is neither a directory nor a Job name",
        ),
        (
            "Not_A_Job".to_string(),
            "is neither a directory nor a Job name",
        ),
    ] {
        let o = drydock(&["sweep", "collect", &arg]);
        assert_eq!(o.status.code(), Some(2), "{arg}: {}", err(&o));
        assert!(err(&o).contains(needle), "{arg}: {}", err(&o));
    }
    let o = drydock(&["sweep", "collect", path(dir.path()), "--namespace", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("is a directory of saved outputs"),
        "{}",
        err(&o)
    );
}

/// Writes the ConfigMap's files to `dir` as Kubernetes would mount them.
fn mount_configmap(manifests: &str, dir: &Path) {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(manifests).expect("yaml");
    std::fs::create_dir_all(dir).expect("mkdir");
    for key in ["plan.json", "scenario.yaml"] {
        let text = docs[0]["data"][key].as_str().expect("configmap key");
        std::fs::write(dir.join(key), text).expect("write");
    }
}

fn sweep_args() -> Vec<&'static str> {
    vec![
        "sweep",
        "default",
        "--seeds",
        "1..2",
        "--set",
        "scheduler.policy=binpack,fgd",
    ]
}

#[test]
fn collect_rebuilds_the_local_table_from_the_workers_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = sweep_args();
    args.extend(["--on-kubernetes", "--dry-run"]);
    let m = ok(&drydock(&args));
    let config = dir.path().join("config");
    mount_configmap(&m, &config);
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).expect("mkdir");
    for i in 0..4 {
        let idx = i.to_string();
        let o = drydock_in(
            dir.path(),
            &["sweep-worker", "--config", path(&config)],
            &[("JOB_COMPLETION_INDEX", &idx)],
        );
        let line = ok(&o);
        assert_eq!(line.lines().count(), 1, "one line of JSON");
        // Like `kubectl logs` of the pod: stderr lines could be mixed in.
        std::fs::write(
            results.join(format!("{i}.log")),
            format!("warn: noise\n{line}"),
        )
        .expect("write");
    }
    let collected = ok(&drydock(&["sweep", "collect", path(&results)]));
    let local = ok(&drydock(&sweep_args()));
    // The same table and the same checks (the workers ship the expectations).
    assert!(local.contains("checks (spec.expect)"), "{local}");
    assert_eq!(collected, local);

    // A missing index is an error unless --allow-missing.
    std::fs::remove_file(results.join("3.log")).expect("rm");
    let o = drydock(&["sweep", "collect", path(&results)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("indices 3"), "{}", err(&o));
    let partial = ok(&drydock(&[
        "sweep",
        "collect",
        path(&results),
        "--allow-missing",
    ]));
    assert!(partial.contains("(1 of 2 runs)"), "{partial}");

    // An index past the end is an input error.
    let o = drydock_in(
        dir.path(),
        &["sweep-worker", "--config", path(&config), "--index", "4"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("out of range"));
}

#[test]
fn collect_refuses_empty_directories_and_mixed_sweeps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = drydock(&["sweep", "collect", path(dir.path())]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no sweep results"), "{}", err(&o));

    let mk = |name: &str, policy: &str| -> PathBuf {
        let m = ok(&drydock(&[
            "sweep",
            "default",
            "--seeds",
            "1",
            "--set",
            &format!("scheduler.policy={policy}"),
            "--on-kubernetes",
            "--dry-run",
        ]));
        let config = dir.path().join(name);
        mount_configmap(&m, &config);
        config
    };
    let a = mk("a", "binpack");
    let b = mk("b", "fgd");
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).expect("mkdir");
    for (i, c) in [&a, &b].iter().enumerate() {
        let o = drydock_in(
            dir.path(),
            &["sweep-worker", "--config", path(c), "--index", "0"],
            &[],
        );
        std::fs::write(results.join(format!("{i}.json")), ok(&o)).expect("write");
    }
    let o = drydock(&["sweep", "collect", path(&results)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("two different sweeps"), "{}", err(&o));
}

/// A sweep checks the scenario's expectations on every run and on each variant's mean, exits
/// 3 when one fails and writes one JUnit test case per check and seed plus one per mean.
#[test]
fn sweep_applies_expectations_to_every_run_and_the_mean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = drydock_scenarios::builtin("default")
        .expect("builtin")
        .source;
    let strict = src.replace("jct_p95 <= 8h", "jct_p95 <= 1h");
    assert_ne!(
        strict, src,
        "the default scenario's expectation changed; update this test"
    );
    let file = dir.path().join("strict.yaml");
    std::fs::write(&file, strict).expect("write");
    let junit = dir.path().join("report.xml");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args([
            "sweep",
            file.to_str().expect("utf8"),
            "--seeds",
            "1..2",
            "--set",
            "scheduler.policy=binpack,fgd",
        ])
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("FAIL  jct_p95 <= 1h [seed 1]"), "{out}");
    assert!(
        out.contains("FAIL  jct_p95 <= 1h [mean of 2 seeds]"),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit");
    // 2 variants × (7 checks × 2 seeds + 7 checks of the mean) = 42 test cases; the strict
    // check fails in each of its 3 cases per variant.
    assert!(
        xml.contains(r#"<testsuites name="drydock" tests="42" failures="6""#),
        "{xml}"
    );
}
