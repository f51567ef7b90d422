//! Test support for tests that need a real Kubernetes API server.
//!
//! Call [`test_client`] at the start of each such test. With `DRYDOCK_TEST_KUBECONFIG` set (as
//! `.ci/run` does after `drydock cluster up`), it connects there. Otherwise it brings up the
//! local control plane ([`crate::controlplane`]) itself, in a per-user state directory shared
//! by every test binary ([`test_state_dir`]); the start is guarded by a file lock so parallel
//! test binaries start only one, and later calls (and later `cargo test` runs) reuse it. So
//! `cargo test --workspace --release` works on a fresh machine with Go installed and no other
//! setup; the first run pays the cold build of `drydock-cp` (about 15 minutes on 2 cores).
//!
//! The self-started control plane keeps running after the tests, for the next run. Stop it with
//! `drydock cluster down --dir ~/.local/state/drydock/test-cluster` (the path
//! [`test_state_dir`] returns).
//!
//! Tests share one cluster: give each test its own namespace (and, for cluster-scoped objects
//! such as Nodes, a unique name prefix and label), and delete what it created.
//!
//! [`monitor::ApiMonitor`] watches a run's pods and nodes through the API and checks drydock's
//! invariants (no GPU over-commit, each pod bound once, gangs all or nothing) at every state it
//! sees.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::controlplane::{self, UpOptions, UpOutcome};

pub mod monitor;

/// Environment variable naming the kubeconfig of the cluster tests run against.
pub const TEST_KUBECONFIG_ENV: &str = "DRYDOCK_TEST_KUBECONFIG";

/// The state directory of the self-started test control plane:
/// [`controlplane::state_root`]`/test-cluster` (`~/.local/state/drydock/test-cluster`).
///
/// # Errors
/// When neither `$XDG_STATE_HOME` nor `$HOME` is set.
pub fn test_state_dir() -> anyhow::Result<PathBuf> {
    Ok(controlplane::state_root()?.join("test-cluster"))
}

/// The kubeconfig of the cluster tests run against: `$DRYDOCK_TEST_KUBECONFIG` if set and not
/// empty, else the local control plane's in [`test_state_dir`] (`kubeconfig` there), started
/// (and built, the first time) if it is not running. The self-started API server listens on a
/// free port of 127.0.0.1 and uses upstream defaults for its timers (node monitor grace period
/// 50 s, pod eviction after 300 s). For tests that run the `drydock` binary with
/// `--kubeconfig`.
///
/// # Errors
/// When the local control plane cannot be built or started (no Go toolchain, build failure,
/// timeout: the message names the log to read).
pub async fn test_kubeconfig() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(TEST_KUBECONFIG_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = test_state_dir()?;
    let mut opts = UpOptions::new(&dir);
    opts.port = 0;
    let progress = |line: &str| eprintln!("drydock test cluster: {line}");
    let outcome = controlplane::up(&opts, &progress).await.with_context(|| {
        format!(
            "starting the local test control plane in {} (set {TEST_KUBECONFIG_ENV} to use another cluster)",
            dir.display()
        )
    })?;
    if let UpOutcome::Started(info) = &outcome {
        eprintln!(
            "drydock test cluster: started (pid {}); it keeps running for later tests; stop it with `drydock cluster down --dir {}`",
            info.pid,
            info.dir.display()
        );
    }
    Ok(outcome.info().kubeconfig.clone())
}

/// A kube-rs client for tests, to the cluster of [`test_kubeconfig`] (started if needed).
///
/// Build a new client in each test (each `#[tokio::test]` has its own runtime); the call is
/// cheap once the control plane runs.
///
/// # Errors
/// As [`test_kubeconfig`], and when the kubeconfig cannot be loaded.
pub async fn test_client() -> anyhow::Result<kube::Client> {
    let kubeconfig = test_kubeconfig().await?;
    controlplane::client_from_kubeconfig(&kubeconfig)
        .await
        .with_context(|| format!("connecting to the test cluster of {}", kubeconfig.display()))
}
