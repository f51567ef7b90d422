//! A whole real-cluster run against an API server: connect (refusing a remote server unless
//! allowed), make drydock's namespace, start the reflectors and the fake kubelet's tasks, run
//! the [`Driver`], and clean up everything the run created, on success, on error and on
//! Ctrl-C (real-cluster.md §7).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use drydock_scenarios::Scenario;
use drydock_sim::Summary;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};

use crate::actuator::{KubeActuator, StoreView};
use crate::clock::{ScaledClock, TimeScale};
use crate::driver::{Driver, DriverConfig, Observations};
use crate::error::{RealError, status_code};
use crate::kubelet::{FakeKubelet, KubeletConfig};
use crate::names::{is_ours, new_run_id, owner_labels, run_selector};

/// True when `url`'s host is a loopback address (`127.0.0.0/8`, `::1`) or `localhost`.
pub fn is_loopback(url: &http::Uri) -> bool {
    let Some(host) = url.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A client from `kubeconfig` (else `KUBECONFIG`, `~/.kube/config` or the in-cluster
/// configuration) and its server URL. Refuses a server that is not on loopback unless
/// `allow_remote`. The same as [`connect_to`] with the kubeconfig's current context.
///
/// # Errors
/// [`RealError::Kubeconfig`] for a missing or invalid kubeconfig; [`RealError::Remote`] for a
/// remote server without `allow_remote`.
pub async fn connect(
    kubeconfig: Option<&Path>,
    allow_remote: bool,
) -> Result<(Client, String), RealError> {
    connect_to(kubeconfig, None, allow_remote).await
}

/// A client from `kubeconfig` (else `KUBECONFIG`, `~/.kube/config`, or, when no `context` is
/// named, the in-cluster configuration), using `context` (default: the kubeconfig's current
/// context), and its server URL. Refuses a server that is not on loopback unless
/// `allow_remote`. Connections time out after 5 s.
///
/// # Errors
/// [`RealError::Kubeconfig`] for a missing or invalid kubeconfig or an unknown context;
/// [`RealError::Remote`] for a remote server without `allow_remote`.
pub async fn connect_to(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    allow_remote: bool,
) -> Result<(Client, String), RealError> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let mut config = match (kubeconfig, context) {
        (Some(p), _) => {
            let bad = |message: String| RealError::Kubeconfig {
                path: Some(p.to_path_buf()),
                message,
            };
            let kc = kube::config::Kubeconfig::read_from(p).map_err(|e| bad(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| bad(e.to_string()))?
        }
        (None, Some(_)) => kube::Config::from_kubeconfig(&options).await.map_err(|e| {
            RealError::Kubeconfig {
                path: std::env::var_os("KUBECONFIG").map(PathBuf::from),
                message: format!(
                    "{e}; pass --kubeconfig PATH (drydock cluster up writes one) or set KUBECONFIG"
                ),
            }
        })?,
        (None, None) => kube::Config::infer()
            .await
            .map_err(|e| RealError::Kubeconfig {
                path: std::env::var_os("KUBECONFIG").map(PathBuf::from),
                message: format!(
                    "{e}; pass --kubeconfig PATH (drydock cluster up writes one) or set KUBECONFIG"
                ),
            })?,
    };
    let server = config.cluster_url.to_string();
    if !allow_remote && !is_loopback(&config.cluster_url) {
        return Err(RealError::Remote { server });
    }
    config.connect_timeout = Some(Duration::from_secs(5));
    let client = Client::try_from(config).map_err(|e| RealError::Kubeconfig {
        path: kubeconfig.map(Path::to_path_buf),
        message: e.to_string(),
    })?;
    Ok((client, server))
}

/// Checks that the API server answers and accepts the credentials, and that drydock may list
/// nodes and pods.
///
/// # Errors
/// [`RealError::Unreachable`], [`RealError::Unauthorized`] or [`RealError::Forbidden`].
pub async fn preflight(client: &Client, server: &str, namespace: &str) -> Result<(), RealError> {
    client
        .apiserver_version()
        .await
        .map_err(|e| RealError::from_kube(e, server, "get", "/version", None))?;
    let lp = ListParams::default().limit(1);
    Api::<Node>::all(client.clone())
        .list_metadata(&lp)
        .await
        .map_err(|e| RealError::from_kube(e, server, "list", "nodes", None))?;
    Api::<Pod>::namespaced(client.clone(), namespace)
        .list_metadata(&lp)
        .await
        .map_err(|e| RealError::from_kube(e, server, "list", "pods", Some(namespace)))?;
    Ok(())
}

/// Makes sure `name` is drydock's namespace: creates it labelled as run `run`'s, or accepts an
/// existing one labelled as drydock's. Returns true when it created it.
///
/// # Errors
/// [`RealError::NotOurs`] when it exists and is not drydock's; [`RealError::Timeout`] when it
/// is still being deleted after 60 s; API errors.
pub async fn ensure_namespace(
    client: &Client,
    server: &str,
    name: &str,
    run: &str,
) -> Result<bool, RealError> {
    let api: Api<Namespace> = Api::all(client.clone());
    for _ in 0..600 {
        match api
            .get_opt(name)
            .await
            .map_err(|e| RealError::from_kube(e, server, "get", "namespaces", None))?
        {
            Some(ns) if !is_ours(&ns.metadata, None) => {
                return Err(RealError::NotOurs {
                    kind: "Namespace",
                    name: name.to_string(),
                    namespace: None,
                });
            }
            Some(ns) if ns.metadata.deletion_timestamp.is_some() => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(_) => return Ok(false),
            None => {
                let ns = Namespace {
                    metadata: ObjectMeta {
                        name: Some(name.to_string()),
                        labels: Some(owner_labels(run)),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                return match api.create(&PostParams::default(), &ns).await {
                    Ok(_) => Ok(true),
                    Err(e) if status_code(&e) == Some(409) => continue,
                    Err(e) => Err(RealError::from_kube(
                        e,
                        server,
                        "create",
                        "namespaces",
                        None,
                    )),
                };
            }
        }
    }
    Err(RealError::Timeout(format!(
        "namespace {name} is still being deleted after 60 s"
    )))
}

/// Removes everything of run `run`: its Deployments and ReplicaSets in `namespace`, its pods
/// there (force-deleted: no kubelet may be left to confirm), its nodes and their Leases, and the namespace when `delete_namespace`.
/// Lists through the API (not a cache), touches only objects with the run's labels, tries
/// everything and returns the errors met.
pub async fn cleanup_run(
    client: &Client,
    server: &str,
    namespace: &str,
    run: &str,
    delete_namespace: bool,
) -> Vec<RealError> {
    let mut errors = Vec::new();
    let lp = ListParams::default().labels(&run_selector(run));
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    // Deployments and their ReplicaSets first, so that nothing replaces the pods deleted below
    // (the garbage collector removes whatever they still own).
    for e in
        delete_labelled::<Deployment>(Api::namespaced(client.clone(), namespace), &lp, run).await
    {
        if status_code(&e) != Some(404) {
            errors.push(RealError::from_kube(
                e,
                server,
                "delete",
                "deployments",
                Some(namespace),
            ));
        }
    }
    for e in
        delete_labelled::<ReplicaSet>(Api::namespaced(client.clone(), namespace), &lp, run).await
    {
        if status_code(&e) != Some(404) {
            errors.push(RealError::from_kube(
                e,
                server,
                "delete",
                "replicasets",
                Some(namespace),
            ));
        }
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    match pods.list_metadata(&lp).await {
        Ok(list) => {
            let names: Vec<String> = list
                .items
                .into_iter()
                .filter(|p| is_ours(&p.metadata, Some(run)))
                .filter_map(|p| p.metadata.name)
                .collect();
            let results: Vec<_> =
                futures::stream::iter(names.iter().map(|n| pods.delete(n, &force)))
                    .buffer_unordered(32)
                    .collect()
                    .await;
            for r in results {
                if let Err(e) = r
                    && status_code(&e) != Some(404)
                {
                    errors.push(RealError::from_kube(
                        e,
                        server,
                        "delete",
                        "pods",
                        Some(namespace),
                    ));
                }
            }
        }
        Err(e) if status_code(&e) == Some(404) => {}
        Err(e) => errors.push(RealError::from_kube(
            e,
            server,
            "list",
            "pods",
            Some(namespace),
        )),
    }
    for (kind, api_ns) in [
        ("nodes", None),
        ("leases", Some(crate::names::LEASE_NAMESPACE)),
    ] {
        let result = match api_ns {
            None => delete_labelled::<Node>(Api::all(client.clone()), &lp, run).await,
            Some(ns) => {
                delete_labelled::<k8s_openapi::api::coordination::v1::Lease>(
                    Api::namespaced(client.clone(), ns),
                    &lp,
                    run,
                )
                .await
            }
        };
        for e in result {
            errors.push(RealError::from_kube(e, server, "delete", kind, api_ns));
        }
    }
    if delete_namespace {
        let api: Api<Namespace> = Api::all(client.clone());
        match api.get_opt(namespace).await {
            Ok(Some(ns)) if is_ours(&ns.metadata, None) => {
                if let Err(e) = api.delete(namespace, &DeleteParams::default()).await
                    && status_code(&e) != Some(404)
                {
                    errors.push(RealError::from_kube(
                        e,
                        server,
                        "delete",
                        "namespaces",
                        None,
                    ));
                }
            }
            Ok(_) => {}
            Err(e) => errors.push(RealError::from_kube(e, server, "get", "namespaces", None)),
        }
    }
    errors
}

async fn delete_labelled<K>(api: Api<K>, lp: &ListParams, run: &str) -> Vec<kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut errors = Vec::new();
    match api.list_metadata(lp).await {
        Ok(list) => {
            let names: Vec<String> = list
                .items
                .into_iter()
                .filter(|o| is_ours(&o.metadata, Some(run)))
                .filter_map(|o| o.metadata.name)
                .collect();
            let dp = DeleteParams::default();
            let results: Vec<_> = futures::stream::iter(names.iter().map(|n| api.delete(n, &dp)))
                .buffer_unordered(32)
                .collect()
                .await;
            for r in results {
                if let Err(e) = r
                    && status_code(&e) != Some(404)
                {
                    errors.push(e);
                }
            }
        }
        Err(e) => errors.push(e),
    }
    errors
}

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct RealOptions {
    /// Time scale.
    pub scale: TimeScale,
    /// Seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Directory trace paths are relative to.
    pub data_dir: Option<PathBuf>,
    /// Namespace (default `drydock-<run>`).
    pub namespace: Option<String>,
    /// Run id (default: a fresh one).
    pub run: Option<String>,
    /// Fake node name prefix (default `dd-<run>-`).
    pub node_prefix: Option<String>,
    /// How long to wait for fake nodes to be Ready.
    pub ready_timeout: Duration,
}

impl RealOptions {
    /// Defaults at time scale `scale`.
    pub fn new(scale: TimeScale) -> Self {
        RealOptions {
            scale,
            seed: None,
            data_dir: None,
            namespace: None,
            run: None,
            node_prefix: None,
            ready_timeout: Duration::from_secs(120),
        }
    }
}

/// The outcome of a real run.
#[derive(Debug, Clone)]
pub struct RealReport {
    /// The report in the simulator's layout.
    pub summary: Summary,
    /// The per-job table in the simulator's layout (`jobs.csv`).
    pub jobs: Vec<drydock_sim::JobRow>,
    /// Scenario features real mode does not reproduce.
    pub warnings: Vec<String>,
    /// What the driver observed (binds, conflicts, over-commits).
    pub observations: Observations,
    /// Run id.
    pub run: String,
    /// Namespace used.
    pub namespace: String,
    /// Errors met while cleaning up (objects that may be left behind).
    pub cleanup_errors: Vec<String>,
    /// True when the run was interrupted (Ctrl-C) before the scenario ended.
    pub interrupted: bool,
    /// The wall instant of scenario time 0 (after the fake nodes were Ready), to place what
    /// was observed on the wall clock in scenario time; `None` if the scenario never started.
    pub scenario_start: Option<std::time::Instant>,
}

/// Runs `scenario` on the cluster of `client` (server URL `server`): drydock's namespace,
/// reflectors of the run's nodes and pods (with the watcher's default backoff, so watch
/// disconnects and API server restarts are retried), the fake kubelet's Lease and pod tasks,
/// then [`Driver::setup`], [`Driver::wait_ready`] and [`Driver::run`]. Everything the run
/// created is removed at the end, whatever happened; `cancel` resolving (Ctrl-C) stops the
/// run early, and the report then covers the scenario time reached.
///
/// # Errors
/// [`RealError`]s of the preflight (unreachable, credentials, RBAC), of the namespace (not
/// drydock's), of node registration (a node in the way) or of the run.
pub async fn run(
    client: Client,
    server: &str,
    scenario: &Scenario,
    options: &RealOptions,
    cancel: impl Future<Output = ()>,
) -> Result<RealReport, RealError> {
    let run = options.run.clone().unwrap_or_else(new_run_id);
    let namespace = options
        .namespace
        .clone()
        .unwrap_or_else(|| format!("drydock-{run}"));
    preflight(&client, server, &namespace).await?;
    let _created = ensure_namespace(&client, server, &namespace, &run).await?;

    let selector = run_selector(&run);
    let (node_store, node_writer) = reflector::store::<Node>();
    let (pod_store, pod_writer) = reflector::store::<Pod>();
    let node_watch = reflector(
        node_writer,
        watcher(
            Api::<Node>::all(client.clone()),
            watcher::Config::default().labels(&selector),
        )
        .default_backoff(),
    );
    let pod_watch = reflector(
        pod_writer,
        watcher(
            Api::<Pod>::namespaced(client.clone(), &namespace),
            watcher::Config::default().labels(&selector),
        )
        .default_backoff(),
    );
    let mut tasks = vec![
        tokio::spawn(node_watch.for_each(|e| {
            if let Err(e) = e {
                tracing::debug!(error = %e, "node watch error (retrying)");
            }
            futures::future::ready(())
        })),
        tokio::spawn(pod_watch.for_each(|e| {
            if let Err(e) = e {
                tracing::debug!(error = %e, "pod watch error (retrying)");
            }
            futures::future::ready(())
        })),
    ];
    let grace_wall = options
        .scale
        .wall(scenario.node_lifecycle.node_monitor_grace_period);
    let kubelet = Arc::new(FakeKubelet::new(
        client.clone(),
        server,
        run.clone(),
        KubeletConfig::for_grace_period(grace_wall),
        Arc::new(ScaledClock::start(options.scale)),
    ));
    tasks.push(tokio::spawn(Arc::clone(&kubelet).lease_loop()));
    tasks.push(tokio::spawn(
        Arc::clone(&kubelet).pod_loop(pod_store.clone()),
    ));
    let actuator = Arc::new(KubeActuator::new(
        client.clone(),
        server,
        run.clone(),
        Arc::clone(&kubelet),
    ));
    let mut config = DriverConfig::new(run.clone(), namespace.clone(), options.scale);
    if let Some(p) = &options.node_prefix {
        config.node_prefix = p.clone();
    }
    config.ready_timeout = options.ready_timeout;
    let view = StoreView {
        nodes: node_store.clone(),
        pods: pod_store.clone(),
    };
    let result = match Driver::new(
        scenario,
        options.data_dir.as_deref(),
        options.seed,
        config,
        actuator,
        view,
    ) {
        Ok(mut driver) => {
            let scenario_start = std::cell::Cell::new(None);
            let outcome = {
                let body = async {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(30),
                        futures::future::join(
                            node_store.wait_until_ready(),
                            pod_store.wait_until_ready(),
                        ),
                    )
                    .await;
                    driver.setup().await?;
                    driver.wait_ready().await?;
                    let clock = ScaledClock::start(options.scale);
                    scenario_start.set(Some(tokio::time::Instant::now().into_std()));
                    driver.run(&clock).await
                };
                tokio::select! {
                    r = body => r.map(|_| false),
                    () = cancel => Ok(true),
                }
            };
            let mut cleanup: Vec<String> = driver
                .teardown()
                .await
                .into_iter()
                .map(|e| e.to_string())
                .collect();
            cleanup.extend(
                cleanup_run(&client, server, &namespace, &run, true)
                    .await
                    .into_iter()
                    .map(|e| e.to_string()),
            );
            outcome.map(|interrupted| RealReport {
                summary: driver.summary(),
                jobs: driver.job_rows(),
                warnings: driver.warnings().to_vec(),
                observations: driver.observations().clone(),
                run: run.clone(),
                namespace: namespace.clone(),
                cleanup_errors: cleanup,
                interrupted,
                scenario_start: scenario_start.get(),
            })
        }
        Err(e) => {
            let _ = cleanup_run(&client, server, &namespace, &run, true).await;
            Err(e)
        }
    };
    for t in tasks {
        t.abort();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_are_recognised() {
        for ok in [
            "https://127.0.0.1:6443",
            "https://127.3.2.1",
            "https://localhost:8443",
            "https://[::1]:6443",
        ] {
            let u: http::Uri = ok.parse().expect("uri");
            assert!(is_loopback(&u), "{ok}");
        }
        for remote in [
            "https://10.0.0.1:6443",
            "https://example.com",
            "https://192.168.1.10:6443",
            "https://[2001:db8::1]:6443",
            "https://localhost.example.com",
        ] {
            let u: http::Uri = remote.parse().expect("uri");
            assert!(!is_loopback(&u), "{remote}");
        }
    }
}
