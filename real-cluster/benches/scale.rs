//! `real_scale/*`: the fake kubelet and the binder at scale, against a real API server.
//!
//! Each iteration, in a fresh namespace with a fresh run id and node-name prefix:
//!
//! 1. **nodes Ready**: the fake kubelet registers `N` fake GPU nodes (8 `nvidia.com/gpu`
//!    each; Node, status, Lease) and the bench waits until a watch of the run's Nodes shows all
//!    `N` Ready (`Ready=True`, no not-ready or unreachable taint: `driver::node_ready`);
//! 2. **pods Running**: it creates `M` one-GPU pods with drydock's scheduler name
//!    (`workload::training_pod`, through `KubeActuator::create_pod`), binds each through the
//!    Binding subresource (`KubeActuator::bind`, pod `i` on node `i mod N`), and waits until a
//!    watch of the namespace shows all `M` bound and Running (the fake kubelet's pod loop moves
//!    them, as in `drydock real`).
//!
//! The timed figure is the sum of both phases; each iteration's phases are printed on stderr,
//! and their median, minimum and maximum after each benchmark. Cleanup (deleting the pods, the
//! nodes, their Leases and the namespace, then waiting until they are gone) is not timed.
//!
//! Each iteration also prints the CPU time the control plane's processes and the bench itself
//! used in each phase (from `/proc`), which shows where a phase's time goes.
//!
//! The control plane is the local one of `drydock cluster up` with its default flags, started
//! for the bench in `~/.local/state/drydock/bench-cluster` (unless already running there) and
//! stopped at the end if the bench started it, so no test shares it.
//! `DRYDOCK_BENCH_APISERVER_ARGS` and `DRYDOCK_BENCH_CONTROLLER_MANAGER_ARGS` add
//! (whitespace-separated) flags to its components, for experiments; it then runs in
//! `bench-cluster-custom`, always started afresh. `DRYDOCK_BENCH_SIZES=NODESxPODS,...` replaces
//! the two points. `DRYDOCK_BENCH_KUBECONFIG` names a running
//! cluster to use instead (a disposable one: the bench registers thousands of nodes). Run with
//! `cargo bench -p drydock-real-cluster --bench scale` (see BENCHMARKS.md); each iteration of
//! the large point takes about a minute, so criterion's sample size is its minimum, 10, one
//! iteration per sample, after one warm-up iteration.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode};
use drydock_core::{Cluster, GpuRequest, PodRequest, PodSpec, SimDuration, SimTime};
use drydock_real_cluster::actuator::{Actuator, BindOutcome, KubeActuator};
use drydock_real_cluster::clock::{ScaledClock, TimeScale};
use drydock_real_cluster::controlplane::{self, UpOptions, UpOutcome};
use drydock_real_cluster::driver::node_ready;
use drydock_real_cluster::kubelet::{FakeKubelet, KubeletConfig};
use drydock_real_cluster::names::{
    LABEL_GPU_PRODUCT, LABEL_MANAGED_BY, LEASE_NAMESPACE, MANAGED_BY, new_run_id, owner_labels,
    run_selector,
};
use drydock_real_cluster::objects::{FakeNodeSpec, fake_node_taint};
use drydock_real_cluster::workload::{PodIdentity, PodSettings, training_pod};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::reflector::Store;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// Label on everything the bench creates, so an interrupted bench's leftovers can be found.
const LABEL_BENCH: &str = "drydock.io/bench";
const BENCH: &str = "real-scale";
/// Concurrent create and bind requests of the bench's own "driver".
const CONCURRENCY: usize = 64;
/// Give up on a phase after this long (a broken setup, not a slow one).
const PHASE_TIMEOUT: Duration = Duration::from_secs(900);
const SERVER: &str = "bench cluster";
/// Environment variable naming the kubeconfig of a running cluster to use instead.
const KUBECONFIG_ENV: &str = "DRYDOCK_BENCH_KUBECONFIG";
/// Environment variables with extra kube-apiserver and kube-controller-manager flags
/// (whitespace-separated) for the bench's own control plane, for experiments; with either set,
/// the control plane runs in `bench-cluster-custom` and is always started afresh.
const APISERVER_ARGS_ENV: &str = "DRYDOCK_BENCH_APISERVER_ARGS";
const CONTROLLER_MANAGER_ARGS_ENV: &str = "DRYDOCK_BENCH_CONTROLLER_MANAGER_ARGS";
/// Environment variable replacing the (nodes, pods) points, as `NODESxPODS,...`.
const SIZES_ENV: &str = "DRYDOCK_BENCH_SIZES";

fn env_args(name: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The cluster the bench runs against, connected on first use.
struct Env {
    rt: Runtime,
    client: Mutex<Option<kube::Client>>,
    /// The state directory of the control plane the bench started, to stop at the end.
    started: Mutex<Option<PathBuf>>,
    /// PID of the local control plane's `drydock-cp up` (for CPU accounting).
    cp_pid: Mutex<Option<u32>>,
}

impl Env {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Env {
            rt,
            client: Mutex::new(None),
            started: Mutex::new(None),
            cp_pid: Mutex::new(None),
        }
    }

    fn client(&self) -> kube::Client {
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.as_ref() {
            return c.clone();
        }
        let client = self.rt.block_on(async {
            let kubeconfig = match std::env::var_os(KUBECONFIG_ENV).filter(|v| !v.is_empty()) {
                Some(p) => {
                    let p = PathBuf::from(p);
                    // A cluster of `drydock cluster up`: its PID is beside the kubeconfig.
                    *self.cp_pid.lock().unwrap_or_else(|e| e.into_inner()) = p
                        .parent()
                        .and_then(|d| std::fs::read_to_string(d.join("drydock-cp.pid")).ok())
                        .and_then(|s| s.trim().parse().ok());
                    p
                }
                None => {
                    let apiserver = env_args(APISERVER_ARGS_ENV);
                    let controller_manager = env_args(CONTROLLER_MANAGER_ARGS_ENV);
                    let custom = !(apiserver.is_empty() && controller_manager.is_empty());
                    let dir = controlplane::state_root()
                        .expect("a state directory ($XDG_STATE_HOME or $HOME)")
                        .join(if custom {
                            "bench-cluster-custom"
                        } else {
                            "bench-cluster"
                        });
                    let mut opts = UpOptions::new(&dir);
                    opts.port = 0;
                    opts.extra_apiserver_args = apiserver;
                    opts.extra_controller_manager_args = controller_manager;
                    let progress = |line: &str| eprintln!("real_scale: {line}");
                    let mut outcome = controlplane::up(&opts, &progress)
                        .await
                        .expect("the local control plane starts (see drydock cluster up)");
                    if custom && matches!(outcome, UpOutcome::AlreadyRunning(_)) {
                        // Its flags are unknown: start it again with these.
                        controlplane::down(&dir, false)
                            .await
                            .expect("stop the custom bench control plane");
                        outcome = controlplane::up(&opts, &progress)
                            .await
                            .expect("the local control plane starts (see drydock cluster up)");
                    }
                    *self.cp_pid.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(outcome.info().pid);
                    if let UpOutcome::Started(info) = &outcome {
                        *self.started.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(info.dir.clone());
                    }
                    outcome.info().kubeconfig.clone()
                }
            };
            let client = controlplane::client_from_kubeconfig(&kubeconfig)
                .await
                .expect("a client to the bench cluster");
            remove_leftovers(&client).await;
            client
        });
        *slot = Some(client.clone());
        client
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let started = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(dir) = started {
            eprintln!(
                "real_scale: stopping the bench control plane in {}",
                dir.display()
            );
            if let Err(e) = self.rt.block_on(controlplane::down(&dir, false)) {
                eprintln!("real_scale: {e}");
            }
        }
    }
}

/// CPU time (user + system, seconds) of the processes that share the machine during an
/// iteration: the control plane's (`drydock-cp up` with the embedded etcd, kube-apiserver,
/// kube-controller-manager) and the bench's own (the fake kubelet and the binder), read from
/// `/proc/<pid>/stat` (Linux only; empty for a cluster the bench did not find).
#[derive(Debug, Clone, Default)]
struct Cpu(Vec<(String, f64)>);

impl Cpu {
    fn now(cp_pid: Option<u32>) -> Cpu {
        let mut v = Vec::new();
        if let Some(t) = proc_cpu("self") {
            v.push(("bench (fake kubelet, binder)".to_string(), t));
        }
        if let Some(pid) = cp_pid {
            if let Some(t) = proc_cpu(&pid.to_string()) {
                v.push(("etcd (drydock-cp up)".to_string(), t));
            }
            for (child, role) in children(pid) {
                if let Some(t) = proc_cpu(&child.to_string()) {
                    v.push((role, t));
                }
            }
        }
        Cpu(v)
    }

    /// `self - before`, per process present in both, as text.
    fn since(&self, before: &Cpu) -> String {
        let mut parts = Vec::new();
        let mut total = 0.0;
        for (name, t) in &self.0 {
            if let Some((_, b)) = before.0.iter().find(|(n, _)| n == name) {
                parts.push(format!("{name} {:.1}", t - b));
                total += t - b;
            }
        }
        format!("{} (sum {total:.1} CPU s)", parts.join(", "))
    }
}

/// utime + stime of `/proc/<pid>/stat`, in seconds (clock ticks of 1/100 s, Linux's
/// `USER_HZ`).
fn proc_cpu(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name in parentheses: state is field 3; utime, stime 14, 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Child processes of `pid` with their role (`drydock-cp`'s first argument).
fn children(pid: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..))
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(pid) {
            continue;
        }
        let role = std::fs::read(format!("/proc/{child}/cmdline"))
            .ok()
            .and_then(|c| {
                c.split(|b| *b == 0)
                    .nth(1)
                    .map(|r| String::from_utf8_lossy(r).into_owned())
            })
            .unwrap_or_else(|| format!("pid {child}"));
        out.push((child, role));
    }
    out.sort();
    out
}

fn node_specs(run: &str, n: usize) -> Vec<FakeNodeSpec> {
    (0..n)
        .map(|i| FakeNodeSpec {
            name: format!("dd-bench-{run}-n{i}"),
            scenario_name: format!("a100-{i}"),
            gpus: 8,
            cpu_milli: 96_000,
            memory_mib: 1152 * 1024,
            max_pods: 110,
            labels: BTreeMap::from([
                (LABEL_GPU_PRODUCT.to_string(), "A100".to_string()),
                (LABEL_BENCH.to_string(), BENCH.to_string()),
            ]),
            taints: vec![fake_node_taint()],
        })
        .collect()
}

/// Pod `i` of the run: a one-GPU training pod, as the driver makes them.
fn bench_pod(settings: &PodSettings, cluster: &Cluster, spec: &PodSpec, i: usize) -> Pod {
    let gang = format!("bench-j{i}-a0");
    let mut pod = training_pod(
        cluster,
        spec,
        PodIdentity {
            job: i as u32,
            job_name: "bench",
            attempt: 0,
            worker: 0,
            gang: &gang,
            gang_size: 1,
            queued_at: SimTime::ZERO,
            startup_delay: SimDuration::ZERO,
        },
        settings,
    );
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_BENCH.to_string(), BENCH.to_string());
    pod
}

/// A reflector of `api` (label selector `selector`) on its own task.
fn reflect<K>(api: Api<K>, selector: &str) -> (Store<K>, JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let stream = reflector(
        writer,
        watcher(api, watcher::Config::default().labels(selector)).default_backoff(),
    );
    let task = tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    (store, task)
}

/// Polls `done` every 50 ms until it is true; panics after [`PHASE_TIMEOUT`] with `what`.
async fn wait_for(what: &str, mut done: impl FnMut() -> (bool, String)) {
    let start = Instant::now();
    loop {
        let (ok, progress) = done();
        if ok {
            return;
        }
        assert!(
            start.elapsed() < PHASE_TIMEOUT,
            "real_scale: {what} not reached after {PHASE_TIMEOUT:?} ({progress})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Durations of one iteration's phases.
#[derive(Debug, Clone, Copy)]
struct Phases {
    nodes_ready: Duration,
    pods_running: Duration,
}

/// One iteration: `n` nodes Ready, then `m` pods bound and Running; cleanup after.
async fn iteration(client: &kube::Client, cp_pid: Option<u32>, n: usize, m: usize) -> Phases {
    let run = new_run_id();
    let ns = format!("dd-bench-{run}");
    let selector = run_selector(&run);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut labels = owner_labels(&run);
    labels.insert(LABEL_BENCH.to_string(), BENCH.to_string());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(ns.clone()),
                    labels: Some(labels),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("create the namespace");

    let (node_store, node_task) = reflect(Api::<Node>::all(client.clone()), &selector);
    let (pod_store, pod_task) = reflect(Api::<Pod>::namespaced(client.clone(), &ns), &selector);
    node_store.wait_until_ready().await.expect("node watch");
    pod_store.wait_until_ready().await.expect("pod watch");
    let kubelet = Arc::new(FakeKubelet::new(
        client.clone(),
        SERVER,
        run.clone(),
        KubeletConfig::default(),
        Arc::new(ScaledClock::start(TimeScale::REAL_TIME)),
    ));
    let lease_task = tokio::spawn(Arc::clone(&kubelet).lease_loop());
    let pod_loop = tokio::spawn(Arc::clone(&kubelet).pod_loop(pod_store.clone()));
    let actuator = KubeActuator::new(client.clone(), SERVER, run.clone(), Arc::clone(&kubelet));

    let specs = node_specs(&run, n);
    let settings = PodSettings {
        namespace: ns.clone(),
        run: run.clone(),
        scale: TimeScale::REAL_TIME,
        termination_grace: SimDuration::ZERO,
        toleration: SimDuration::from_secs(300),
    };
    let cluster = Cluster::default();
    let pod_spec = PodSpec::new(PodRequest {
        cpu_milli: 1_000,
        memory_mib: 4_096,
        gpu: GpuRequest::whole(1),
    });

    // Phase 1: nodes Ready.
    let cpu0 = Cpu::now(cp_pid);
    let t0 = Instant::now();
    kubelet
        .register_all(&specs)
        .await
        .expect("nodes registered");
    let registered = t0.elapsed();
    wait_for("all nodes Ready", || {
        let nodes = node_store.state();
        let ready = nodes.iter().filter(|n| node_ready(n)).count();
        (ready == n, format!("{ready} of {n} Ready"))
    })
    .await;
    let nodes_ready = t0.elapsed();

    // Phase 2: pods created, bound and Running.
    let cpu1 = Cpu::now(cp_pid);
    let t1 = Instant::now();
    let actuator = &actuator;
    let (settings, cluster, pod_spec, specs, ns) = (&settings, &cluster, &pod_spec, &specs, &ns);
    futures::stream::iter(0..m)
        .map(|i| async move {
            let pod = bench_pod(settings, cluster, pod_spec, i);
            let name = pod.metadata.name.clone().unwrap_or_default();
            actuator.create_pod(&pod).await?;
            let outcome = actuator.bind(ns, &name, &specs[i % n].name).await?;
            assert_eq!(
                outcome,
                BindOutcome::Bound,
                "pod {name} bound by someone else"
            );
            Ok::<_, drydock_real_cluster::RealError>(())
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await
        .expect("pods created and bound");
    let bound = t1.elapsed();
    wait_for("all pods Running", || {
        let pods = pod_store.state();
        let running = pods
            .iter()
            .filter(|p| {
                p.spec.as_ref().is_some_and(|s| s.node_name.is_some())
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
            .count();
        (running == m, format!("{running} of {m} Running"))
    })
    .await;
    let pods_running = t1.elapsed();
    let cpu2 = Cpu::now(cp_pid);
    eprintln!(
        "real_scale/{n}-nodes-{m}-pods: nodes Ready {:.2} s (all registered at {:.2} s), pods Running {:.2} s (all created and bound at {:.2} s), total {:.2} s",
        nodes_ready.as_secs_f64(),
        registered.as_secs_f64(),
        pods_running.as_secs_f64(),
        bound.as_secs_f64(),
        (nodes_ready + pods_running).as_secs_f64()
    );
    eprintln!(
        "real_scale/{n}-nodes-{m}-pods: CPU s, nodes phase: {}; pods phase: {}",
        cpu1.since(&cpu0),
        cpu2.since(&cpu1)
    );

    for t in [node_task, pod_task, lease_task, pod_loop] {
        t.abort();
    }
    let cleaning = Instant::now();
    cleanup(client, ns, &run).await;
    eprintln!(
        "real_scale/{n}-nodes-{m}-pods: cleanup (not timed) {:.2} s",
        cleaning.elapsed().as_secs_f64()
    );
    Phases {
        nodes_ready,
        pods_running,
    }
}

/// Deletes `names` through `api` with `dp`, [`CONCURRENCY`] at a time; a name already gone
/// is fine.
async fn delete_all<K>(api: &Api<K>, names: Vec<String>, dp: &DeleteParams)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    futures::stream::iter(names.iter().map(|n| api.delete(n, dp)))
        .buffer_unordered(CONCURRENCY)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// Names of `api`'s objects matching `lp` (`None` when the list fails).
async fn names<K>(api: &Api<K>, lp: &ListParams) -> Option<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list_metadata(lp).await.ok()?;
    Some(
        list.items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect(),
    )
}

/// Deletes the run's pods (at once: grace period 0, as no kubelet is left to confirm), then its
/// nodes and their Leases, then the namespace, and waits until they are gone. Pods go first,
/// so the controller-manager does not react to nodes vanishing under bound pods; deletes are
/// sent [`CONCURRENCY`] at a time (a `deletecollection` of 10,000 pods runs on one server
/// worker and outlives the request timeout).
async fn cleanup(client: &kube::Client, ns: &str, run: &str) {
    let lp = ListParams::default().labels(&run_selector(run));
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let start = Instant::now();
    let check = |what: &str| {
        assert!(
            start.elapsed() < PHASE_TIMEOUT,
            "real_scale: run {run}'s {what} not deleted after {PHASE_TIMEOUT:?}"
        );
    };
    loop {
        match names(&pods, &lp).await {
            Some(n) if n.is_empty() => break,
            Some(n) => delete_all(&pods, n, &force).await,
            None => tokio::time::sleep(Duration::from_millis(500)).await,
        }
        check("pods");
    }
    loop {
        let (n, l) = (names(&nodes, &lp).await, names(&leases, &lp).await);
        if matches!((&n, &l), (Some(n), Some(l)) if n.is_empty() && l.is_empty()) {
            break;
        }
        delete_all(&nodes, n.unwrap_or_default(), &DeleteParams::default()).await;
        delete_all(&leases, l.unwrap_or_default(), &DeleteParams::default()).await;
        check("nodes and Leases");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(ns, &DeleteParams::default()).await;
    while matches!(namespaces.get_opt(ns).await, Ok(Some(_))) {
        check("namespace");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Removes what an interrupted bench left: its namespaces (with their pods) and nodes.
async fn remove_leftovers(client: &kube::Client) {
    let lp = ListParams::default().labels(&format!(
        "{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_BENCH}={BENCH}"
    ));
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut runs: Vec<(String, String)> = Vec::new();
    let ns_labels = namespaces.list_metadata(&lp).await.map(|l| {
        l.items
            .into_iter()
            .map(|o| o.metadata.labels)
            .collect::<Vec<_>>()
    });
    let node_labels = Api::<Node>::all(client.clone())
        .list_metadata(&lp)
        .await
        .map(|l| {
            l.items
                .into_iter()
                .map(|o| o.metadata.labels)
                .collect::<Vec<_>>()
        });
    for list in [ns_labels, node_labels] {
        for labels in list.into_iter().flatten() {
            let labels = labels.unwrap_or_default();
            if let Some(run) = labels.get(drydock_real_cluster::names::LABEL_RUN) {
                let ns = format!("dd-bench-{run}");
                if !runs.iter().any(|(r, _)| r == run) {
                    runs.push((run.clone(), ns));
                }
            }
        }
    }
    for (run, ns) in runs {
        eprintln!("real_scale: removing leftovers of run {run}");
        cleanup(client, &ns, &run).await;
    }
}

/// The (nodes, pods) points: 500 and 1,000 (quick), 5,000 and 10,000 (the target), or those
/// of `DRYDOCK_BENCH_SIZES` (`NODESxPODS,...`, for experiments).
fn sizes() -> Vec<(usize, usize)> {
    let Ok(text) = std::env::var(SIZES_ENV) else {
        return vec![(500, 1_000), (5_000, 10_000)];
    };
    text.split(',')
        .map(|p| {
            let parsed = p.trim().split_once('x').and_then(|(n, m)| {
                Some((
                    n.trim().parse::<usize>().ok()?,
                    m.trim().parse::<usize>().ok()?,
                ))
            });
            match parsed {
                Some((n, m)) if n > 0 => (n, m),
                _ => panic!("{SIZES_ENV}: {p:?} is not NODESxPODS with NODES > 0"),
            }
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(id: &str, phases: &[Phases]) {
    if phases.is_empty() {
        return;
    }
    let secs = |d: Duration| d.as_secs_f64();
    for (what, v) in [
        (
            "nodes Ready",
            phases.iter().map(|p| p.nodes_ready).collect::<Vec<_>>(),
        ),
        (
            "pods Running",
            phases.iter().map(|p| p.pods_running).collect(),
        ),
        (
            "total",
            phases
                .iter()
                .map(|p| p.nodes_ready + p.pods_running)
                .collect(),
        ),
    ] {
        let (min, max) = (v.iter().min().copied(), v.iter().max().copied());
        eprintln!(
            "real_scale/{id}: {what}: median {:.2} s, min {:.2} s, max {:.2} s over {} iterations",
            secs(median(v)),
            secs(min.unwrap_or_default()),
            secs(max.unwrap_or_default()),
            phases.len()
        );
    }
}

/// `real_scale/{N}-nodes-{M}-pods`: `N` fake GPU nodes Ready, then `M` pods bound and Running,
/// on the local control plane (the module comment gives the steps). The target for 5,000 nodes
/// and 10,000 pods is 60 s (KWOK publishes as many nodes and pods each within 60 s).
fn real_scale(c: &mut Criterion, env: &Env) {
    let mut g = c.benchmark_group("real_scale");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        // One warm-up iteration, then one iteration per sample.
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for (n, m) in sizes() {
        let id = format!("{n}-nodes-{m}-pods");
        let phases: Mutex<Vec<Phases>> = Mutex::new(Vec::new());
        g.bench_function(BenchmarkId::from_parameter(&id), |b| {
            b.iter_custom(|iters| {
                let client = env.client();
                let cp_pid = *env.cp_pid.lock().unwrap_or_else(|p| p.into_inner());
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let p = env.rt.block_on(iteration(&client, cp_pid, n, m));
                    phases.lock().unwrap_or_else(|e| e.into_inner()).push(p);
                    total += p.nodes_ready + p.pods_running;
                }
                total
            });
        });
        report(&id, &phases.lock().unwrap_or_else(|e| e.into_inner()));
    }
    g.finish();
}

fn main() {
    let env = Env::new();
    let mut c = Criterion::default().configure_from_args();
    real_scale(&mut c, &env);
    c.final_summary();
    drop(env);
}
