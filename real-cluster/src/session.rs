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

/// The reconnect backoff of drydock's watches (the run's reflectors, and the test monitor):
/// 100 ms doubling up to 1 s, back to 100 ms after a success. kube-runtime's default (800 ms
/// doubling up to 30 s, reset only after 2 minutes without errors, as client-go's reflector)
/// spares a struggling API server but leaves the driver's view stale for up to 30 s after an
/// API-server restart; drydock's watches are few and on its own objects.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
}

impl WatchBackoff {
    /// First wait.
    pub const MIN: Duration = Duration::from_millis(100);
    /// Longest wait.
    pub const MAX: Duration = Duration::from_secs(1);
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff { next: Self::MIN }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(d)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

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
            if !p.is_file() {
                return Err(bad(if p.exists() {
                    "not a file".to_string()
                } else {
                    "no such file; `drydock cluster up` prints the path of the one it writes"
                        .to_string()
                }));
            }
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

/// Makes sure `name` is run `run`'s namespace: creates it labelled as the run's, or accepts an
/// existing one labelled as this run's (waiting, up to 60 s, for one being deleted to go).
/// Returns true when it created it.
///
/// # Errors
/// [`RealError::NotOurs`] when it exists and is not drydock's, or is another run's (a run in
/// progress, or one that died before its cleanup); [`RealError::Timeout`] when it is still
/// being deleted after 60 s; API errors.
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
            // Another run's (running, or left by one that died): two runs in one namespace
            // would delete each other's objects at their ends.
            Some(ns) if !is_ours(&ns.metadata, Some(run)) => {
                return Err(RealError::NotOurs {
                    kind: "Namespace",
                    name: name.to_string(),
                    namespace: None,
                });
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
/// there (force-deleted: no kubelet may be left to confirm), its nodes and their Leases, and,
/// when `delete_namespace`, the namespace if this run created it (it carries the run's labels;
/// a namespace another run created is left to that run).
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
            // Only a namespace this run created (labelled with its run id): a drydock
            // namespace another run created, or a live run still uses, stays.
            Ok(Some(ns)) if is_ours(&ns.metadata, Some(run)) => {
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

/// [`cleanup_run`] (namespace included), repeated every second while every error left is
/// transient ([`RealError::is_transient`]: the API server restarting or unreachable), for up to
/// 60 s in all, an attempt the server never answers included. Returns the errors of the last
/// attempt ([`RealError::Timeout`] when the 60 s ran out inside one).
pub async fn cleanup_run_retrying(
    client: &Client,
    server: &str,
    namespace: &str,
    run: &str,
) -> Vec<RealError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        // An API server that accepts connections but never answers (stopped, overloaded)
        // must not hold the cleanup past its deadline.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let errors = match tokio::time::timeout(
            left.max(Duration::from_secs(1)),
            cleanup_run(client, server, namespace, run, true),
        )
        .await
        {
            Ok(errors) => errors,
            Err(_) => {
                return vec![RealError::Timeout(format!(
                    "the API server at {server} did not answer the cleanup of run {run} within 60 s; objects labelled {} may be left",
                    run_selector(run)
                ))];
            }
        };
        if errors.is_empty()
            || !errors.iter().all(RealError::is_transient)
            || tokio::time::Instant::now() >= deadline
        {
            return errors;
        }
        tracing::warn!(error = %errors[0], "cleanup failed; retrying in 1 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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
    /// The spells during which the API server could not be reached or was not ready (an API
    /// server restart), as [`ApiProbe`] saw them, in order.
    pub api_outages: Vec<ApiOutage>,
}

/// A spell during which the API server did not answer or was not ready.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApiOutage {
    /// When it began, in wall seconds since the run started (after the preflight).
    pub start_s: f64,
    /// How long it lasted (wall time), to within [`ApiProbe::INTERVAL`]; for a spell still
    /// going on when the run ended, until then.
    pub duration: Duration,
}

/// Sums the outages' durations.
pub fn total_outage(outages: &[ApiOutage]) -> Duration {
    outages.iter().map(|o| o.duration).sum()
}

/// Asks the API server's `/readyz` every [`ApiProbe::INTERVAL`] (2 s timeout) and records the
/// spells during which it did not answer, answered a 5xx (an API server starting up answers
/// 500 until its post-start hooks are done) or timed out. Any other answer, a 403 included,
/// means the server is up.
pub struct ApiProbe {
    outages: Arc<std::sync::Mutex<Vec<ApiOutage>>>,
    down_since: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    started: std::time::Instant,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApiProbe {
    /// Time between two probes.
    pub const INTERVAL: Duration = Duration::from_millis(250);

    /// Starts probing the server of `client`.
    pub fn start(client: Client) -> Self {
        let outages = Arc::new(std::sync::Mutex::new(Vec::new()));
        let down_since = Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
        let started = std::time::Instant::now();
        let (o, d) = (Arc::clone(&outages), Arc::clone(&down_since));
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Self::INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let up = match http::Request::get("/readyz").body(Vec::new()) {
                    Ok(req) => {
                        match tokio::time::timeout(Duration::from_secs(2), client.request_text(req))
                            .await
                        {
                            Ok(Ok(_)) => true,
                            Ok(Err(kube::Error::Api(s))) => s.code < 500,
                            _ => false,
                        }
                    }
                    Err(_) => true,
                };
                let now = std::time::Instant::now();
                let mut down = d.lock().unwrap_or_else(|p| p.into_inner());
                match (*down, up) {
                    (None, false) => {
                        tracing::warn!("the API server is unreachable or not ready");
                        *down = Some(now);
                    }
                    (Some(since), true) => {
                        *down = None;
                        let outage = ApiOutage {
                            start_s: since.duration_since(started).as_secs_f64(),
                            duration: now.duration_since(since),
                        };
                        tracing::warn!(
                            seconds = outage.duration.as_secs_f64(),
                            "the API server is back"
                        );
                        o.lock().unwrap_or_else(|p| p.into_inner()).push(outage);
                    }
                    _ => {}
                }
            }
        });
        ApiProbe {
            outages,
            down_since,
            started,
            task,
        }
    }

    /// Stops probing and returns the outages seen, one still going on included (until now).
    pub fn stop(self) -> Vec<ApiOutage> {
        self.task.abort();
        let mut out = self
            .outages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(since) = *self.down_since.lock().unwrap_or_else(|p| p.into_inner()) {
            out.push(ApiOutage {
                start_s: since.duration_since(self.started).as_secs_f64(),
                duration: since.elapsed(),
            });
        }
        out
    }
}

/// Runs `scenario` on the cluster of `client` (server URL `server`): drydock's namespace,
/// reflectors of the run's nodes and pods (reconnecting after [`WatchBackoff`], so watch
/// disconnects and API server restarts are survived), the fake kubelet's Lease, pod and node
/// status tasks, an [`ApiProbe`], then [`Driver::setup`], [`Driver::wait_ready`] and
/// [`Driver::run`] (which retries transient errors). Everything the run created is removed at
/// the end, whatever happened ([`cleanup_run_retrying`]); the report lists the API-server
/// outages seen ([`RealReport::api_outages`]); `cancel` resolving (Ctrl-C) stops the
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
    let probe = ApiProbe::start(client.clone());
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
        .backoff(WatchBackoff::default()),
    );
    let pod_watch = reflector(
        pod_writer,
        watcher(
            Api::<Pod>::namespaced(client.clone(), &namespace),
            watcher::Config::default().labels(&selector),
        )
        .backoff(WatchBackoff::default()),
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
    tasks.push(tokio::spawn(
        Arc::clone(&kubelet).status_loop(node_store.clone()),
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
            if matches!(outcome, Ok(true)) {
                driver.interrupted();
            }
            let teardown = driver.teardown().await;
            let left = cleanup_run_retrying(&client, server, &namespace, &run).await;
            // The teardown's errors matter only if the label-based cleanup also failed: when
            // it succeeds, the API has nothing of the run left.
            let cleanup: Vec<String> = if left.is_empty() {
                Vec::new()
            } else {
                teardown
                    .iter()
                    .chain(&left)
                    .map(|e| e.to_string())
                    .collect()
            };
            let api_outages = probe.stop();
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
                api_outages,
            })
        }
        Err(e) => {
            let _ = cleanup_run_retrying(&client, server, &namespace, &run).await;
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
