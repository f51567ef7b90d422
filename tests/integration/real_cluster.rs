//! `drydock cluster up | down | status`: input errors, and a whole lifecycle of a second local
//! control plane in a temporary state directory (the binary is built once and cached; see
//! `drydock_real_cluster::controlplane`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn drydock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(args)
        .env_remove("DRYDOCK_CLUSTER_DIR")
        .output()
        .expect("run drydock")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn status_and_down_of_an_empty_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("none");
    let d = dir.to_str().expect("utf-8 path");
    let o = drydock(&["cluster", "status", "--dir", d]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "stopped is exit 1");
    assert_eq!(
        out,
        format!("cluster: stopped (no control plane running in {d})\n")
    );
    let o = drydock(&["cluster", "down", "--dir", d]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o).0, format!("no control plane running in {d}\n"));
    assert!(!dir.exists(), "down creates nothing");
}

#[test]
fn up_refuses_bad_input_with_exit_code_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().to_str().expect("utf-8 path");
    // A port in use: checked before anything is built or started.
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port().to_string();
    let o = drydock(&["cluster", "up", "--dir", d, "--port", &port]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("port {port} on 127.0.0.1 is in use")),
        "{err}"
    );
    assert!(err.contains("--port"), "says what to do: {err}");

    let o = drydock(&["cluster", "up", "--dir", d, "--node-eviction-rate", "-1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    let o = drydock(&[
        "cluster",
        "up",
        "--dir",
        d,
        "--pod-eviction-timeout",
        "1500ms",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("whole seconds"), "{err}");
    let o = drydock(&[
        "cluster",
        "up",
        "--dir",
        d,
        "--node-monitor-grace-period",
        "soon",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);

    // A directory that is not empty and not drydock's.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "mine").expect("write");
    let f = foreign.to_str().expect("utf-8");
    let o = drydock(&["cluster", "up", "--dir", f, "--port", "0"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is not empty"), "{err}");

    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let o = drydock(&["cluster", "up", "--dir", file.to_str().expect("utf-8")]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is not a directory"), "{err}");
}

fn pid_alive(pid: &str) -> bool {
    // Gone, or a zombie (empty command line) that its parent has not reaped.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Stops the test's control plane even when an assertion fails.
struct Down<'a>(&'a str);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = drydock(&["cluster", "down", "--dir", self.0]);
    }
}

/// The PIDs of the components, from the `drydock-cp up` log ("kube-apiserver started, pid N").
fn component_pids(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).expect("drydock-cp.log");
    text.lines()
        .filter(|l| l.contains(" started, pid "))
        .filter_map(|l| l.split(" started, pid ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn up_status_second_up_down() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cluster");
    let d = dir.to_str().expect("utf-8 path");
    let _down = Down(d);
    let keep = tmp.path().join("cluster/keep.txt");

    let o = drydock(&["cluster", "up", "--dir", d, "--port", "0"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.starts_with("control plane ready: Kubernetes v1.36."),
        "{out}"
    );
    let kubeconfig = dir.join("kubeconfig");
    assert!(
        out.contains(&format!("export KUBECONFIG={}\n", kubeconfig.display())),
        "{out}"
    );
    assert!(kubeconfig.is_file());
    std::fs::write(&keep, "not drydock's").expect("write");
    let pid = std::fs::read_to_string(dir.join("drydock-cp.pid")).expect("pid file");
    let pid = pid.trim().to_string();
    assert!(pid_alive(&pid));
    for log in [
        "drydock-cp",
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
    ] {
        assert!(dir.join(format!("logs/{log}.log")).is_file(), "{log}.log");
    }

    let o = drydock(&["cluster", "status", "--dir", d]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.starts_with(&format!("cluster: running (pid {pid}, up ")),
        "{out}"
    );
    assert!(out.contains("\nserver: v1.36."), "{out}");
    assert!(out.contains("\nnodes: 0\n"), "{out}");

    // Idempotent: says so, exits 0, starts nothing.
    let o = drydock(&["cluster", "up", "--dir", d, "--port", "0"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.starts_with("a control plane is already running in"),
        "{out}"
    );
    assert!(out.contains(&format!("(pid {pid})")), "{out}");

    let children = component_pids(&dir.join("logs/drydock-cp.log"));
    assert_eq!(
        children.len(),
        2,
        "kube-apiserver and kube-controller-manager: {children:?}"
    );
    assert!(children.iter().all(|p| pid_alive(p)));

    let o = drydock(&["cluster", "down", "--dir", d]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    for child in &children {
        assert!(!pid_alive(child), "component {child} still runs");
    }
    assert_eq!(
        out,
        format!("stopped the control plane (pid {pid}) in {d}\n")
    );
    assert!(!pid_alive(&pid), "drydock-cp {pid} still runs");
    for gone in [
        "kubeconfig",
        "drydock-cp.pid",
        "cluster.json",
        "pki",
        "etcd",
        "logs",
    ] {
        assert!(!Path::new(&dir).join(gone).exists(), "{gone} left behind");
    }
    assert!(keep.is_file(), "files drydock did not create stay");

    let o = drydock(&["cluster", "status", "--dir", d]);
    assert_eq!(o.status.code(), Some(1));
}
