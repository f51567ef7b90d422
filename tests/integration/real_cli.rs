//! `drydock real`: input errors and an unreachable cluster, without a cluster.

use std::path::Path;
use std::process::{Command, Output};

fn drydock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(args)
        .env_remove("DRYDOCK_DATA_DIR")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("drydock runs")
}

fn kubeconfig(dir: &Path, server: &str) -> String {
    let p = dir.join("kubeconfig");
    std::fs::write(
        &p,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {{server: \"{server}\", insecure-skip-tls-verify: true}}\n  name: c\ncontexts:\n- context: {{cluster: c, user: u}}\n  name: x\ncurrent-context: x\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .expect("write kubeconfig");
    p.display().to_string()
}

#[test]
fn real_refuses_a_remote_server_without_allow_remote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = kubeconfig(dir.path(), "https://10.20.30.40:6443");
    let o = drydock(&["real", "default", "--kubeconfig", &kc]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("https://10.20.30.40:6443/ is not on this machine"),
        "{err}"
    );
    assert!(err.contains("--allow-remote"), "{err}");
}

#[test]
fn real_reports_an_unreachable_cluster_with_exit_code_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Port 1 on loopback: nothing listens there.
    let kc = kubeconfig(dir.path(), "https://127.0.0.1:1");
    let o = drydock(&["real", "default", "--kubeconfig", &kc]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach the API server at https://127.0.0.1:1/"),
        "{err}"
    );
}

#[test]
fn real_rejects_bad_input_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope").display().to_string();
    for (args, needle) in [
        (vec!["real", "default", "--time-scale", "0"], "--time-scale"),
        (
            vec!["real", "default", "--kubeconfig", missing.as_str()],
            "cannot use kubeconfig",
        ),
        (
            vec!["real", "default", "--namespace", "Bad_NS"],
            "not a valid namespace name",
        ),
        (vec!["real", "no-such-scenario"], "no-such-scenario"),
    ] {
        let o = drydock(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
