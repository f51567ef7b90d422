//! Live test: a `drydock real` run survives an API-server restart.
//!
//! It starts its **own** local control plane in a temporary directory (never the shared test
//! cluster other tests use, whose API server it would kill), runs a small training scenario
//! through [`session::run`] and, once gangs are bound and running, kills the kube-apiserver
//! process with SIGKILL. `drydock-cp up` restarts it on the same port against the same
//! in-process etcd; meanwhile the run's watches are cut, its requests fail, Lease renewals
//! fail and scenario time goes on. The test checks, through the API (`ApiMonitor`), that the
//! run ends as an undisturbed one does: the same jobs complete as in the simulator, every pod
//! of a completed gang was seen Succeeded, no pod was bound twice, no gang partly bound, no GPU
//! over-committed; that the nodes stayed Ready (the outage is shorter than the
//! controller-manager's 50 s node monitor grace period); that the report tells the API server
//! was unreachable; and that the run's objects are gone afterwards. The control plane is
//! stopped at the end, also when an assertion fails (its logs are then kept and their path
//! printed).
//!
//! Run with `cargo test --release -p drydock-real-cluster --test real_restart`; it needs Go
//! (or a built `drydock-cp`, see `drydock_real_cluster::controlplane`).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use drydock_real_cluster::clock::TimeScale;
use drydock_real_cluster::controlplane::{self, UpOptions};
use drydock_real_cluster::names::{LEASE_NAMESPACE, new_run_id, run_selector};
use drydock_real_cluster::session::{self, RealOptions, RealReport};
use drydock_real_cluster::testing::{kill_component, monitor::ApiMonitor, monitor::Observed};
use drydock_sim::model::Phase;
use futures::FutureExt as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Api;
use kube::api::ListParams;

const SERVER: &str = "restart test cluster";

/// 3 nodes of 8 GPUs; six gangs. At 120x a scenario minute is half a wall second: the API
/// server is killed when j1 and j2 run (scenario time about 0-1 min) and restarted 4 s later
/// (`restart_backoff`), so j3's arrival (2 min), j1's completion (4 min) and j4's arrival
/// (5 min) fall in the outage; the controller-manager is killed after that (and restarted 4 s
/// later). The run takes about 10 s plus the outage.
const SCENARIO: &str = "apiVersion: drydock/v1alpha1
kind: Scenario
metadata: {name: restart}
spec:
  cluster:
    pools:
      - {name: a, nodes: 3, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 512Gi}
  training:
    - {name: j1, arrival: 0s, workers: 2, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 4m}
    - {name: j2, arrival: 0s, workers: 1, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 6m}
    - {name: j3, arrival: 2m, workers: 2, gpusPerWorker: 4, cpu: \"8\", memory: 8Gi, work: 4m}
    - {name: j4, arrival: 5m, workers: 1, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 3m}
    - {name: j5, arrival: 8m, workers: 2, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 3m}
    - {name: j6, arrival: 10m, workers: 1, gpusPerWorker: 4, cpu: \"8\", memory: 8Gi, work: 2m}
";

/// The jobs the simulator completes for `s`.
fn sim_completed(s: &drydock_scenarios::Scenario) -> BTreeSet<String> {
    let mut sim = drydock_sim::Simulation::new(s, None, None).expect("valid scenario");
    while sim.step().expect("simulates").is_some() {}
    sim.jobs()
        .into_iter()
        .filter(|r| r.phase == Phase::Completed)
        .map(|r| r.name)
        .collect()
}

/// What the killer task did: the API server's killed and restarted PIDs, the
/// controller-manager's.
struct Kill {
    killed: u32,
    restarted: u32,
    kcm_killed: u32,
    kcm_restarted: u32,
}

/// Waits (up to 120 s) until `drydock-cp up` records a process of `name` other than `killed`,
/// restarted once; returns its PID.
async fn wait_restarted(dir: &Path, name: &str, killed: u32) -> anyhow::Result<u32> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(c) = controlplane::components(dir)
            .into_iter()
            .find(|c| c.name == name && c.pid != killed)
        {
            anyhow::ensure!(c.restarts == 1, "{name} restarts recorded: {}", c.restarts);
            return Ok(c.pid);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{name} (pid {killed}) not restarted after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `min_bound` pods are seen bound and Running, then kills the API server, waits
/// for `drydock-cp up` to restart it and for it to be ready, then kills the controller-manager
/// and waits for its restart.
async fn kill_apiserver_when_bound(
    dir: &Path,
    watch: &ApiMonitor,
    min_bound: usize,
) -> anyhow::Result<Kill> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let seen = watch.observed();
        let running = seen
            .pods
            .values()
            .filter(|p| !p.binds.is_empty() && p.phase.as_deref() == Some("Running"))
            .count();
        if running >= min_bound {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no {min_bound} pods bound and Running after 180 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = kill_component(dir, "kube-apiserver")?;
    let restarted = wait_restarted(dir, "kube-apiserver", killed).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !controlplane::status(dir).await.is_ready() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "restarted kube-apiserver not ready after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kcm_killed = kill_component(dir, "kube-controller-manager")?;
    let kcm_restarted = wait_restarted(dir, "kube-controller-manager", kcm_killed).await?;
    Ok(Kill {
        killed,
        restarted,
        kcm_killed,
        kcm_restarted,
    })
}

/// Lists what is left of run `run`: its pods in `ns`, its nodes and Leases, and whether `ns`
/// still exists and is not being deleted.
async fn leftovers(client: &kube::Client, ns: &str, run: &str) -> Vec<String> {
    let lp = ListParams::default().labels(&run_selector(run));
    let mut left = Vec::new();
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list_metadata(&lp)
        .await
        .expect("list pods");
    left.extend(pods.items.into_iter().filter_map(|p| p.metadata.name));
    let nodes = Api::<Node>::all(client.clone())
        .list_metadata(&lp)
        .await
        .expect("list nodes");
    left.extend(nodes.items.into_iter().filter_map(|n| n.metadata.name));
    let leases = Api::<Lease>::namespaced(client.clone(), LEASE_NAMESPACE)
        .list_metadata(&lp)
        .await
        .expect("list leases");
    left.extend(
        leases
            .items
            .into_iter()
            .filter_map(|l| l.metadata.name.map(|n| format!("lease {n}"))),
    );
    if let Some(n) = Api::<Namespace>::all(client.clone())
        .get_opt(ns)
        .await
        .expect("get namespace")
        && n.metadata.deletion_timestamp.is_none()
    {
        left.push(format!("namespace {ns}"));
    }
    left
}

fn check(
    report: &RealReport,
    seen: &Observed,
    kill: &Kill,
    want_completed: &BTreeSet<String>,
    left: &[String],
    grace: Duration,
) {
    let completed: BTreeSet<String> = report
        .jobs
        .iter()
        .filter(|r| r.phase == Phase::Completed)
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(
        &completed, want_completed,
        "the same jobs complete as in the simulator; report: {:?}",
        report.summary.jobs
    );
    assert_eq!(
        want_completed.len(),
        6,
        "the scenario lets every job complete"
    );
    // The outage hit the driver (j3's pods are created during it) and it retried.
    let o = &report.observations;
    assert!(
        o.ticks_failed > 0 || o.pod_ops_retried > 0,
        "the driver met no failed request: {o:?}"
    );
    // Through the API: every pod of a completed job's last gang reached Succeeded, so none
    // was left Running (and holding its GPUs) because its status write met the outage.
    for job in want_completed {
        let last: Vec<_> = seen
            .pods
            .iter()
            .filter(|(name, _)| name.starts_with(&format!("{job}-")))
            .collect();
        let attempt = last.iter().filter_map(|(_, p)| p.attempt).max();
        for (name, p) in last.iter().filter(|(_, p)| p.attempt == attempt) {
            assert!(
                p.succeeded,
                "{name} of completed job {job} never seen Succeeded: {p:?}"
            );
        }
    }
    assert!(seen.bound_twice().is_empty(), "{:?}", seen.bound_twice());
    assert!(
        seen.partial_gangs().is_empty(),
        "{:?}",
        seen.partial_gangs()
    );
    assert!(seen.overcommits.is_empty(), "{:?}", seen.overcommits);
    for (node, n) in &seen.nodes {
        assert!(n.max_gpus_used <= 8, "{node}: {} GPUs", n.max_gpus_used);
    }
    assert!(report.observations.overcommitted.is_empty());
    assert!(report.observations.rebound.is_empty());
    assert!(seen.watch_errors > 0, "the monitor's watches were cut");
    // The report says the API server was away, for about as long as the restart took.
    let outage = session::total_outage(&report.api_outages);
    assert!(
        !report.api_outages.is_empty() && outage > Duration::from_millis(250),
        "{:?}",
        report.api_outages
    );
    assert!(
        outage < Duration::from_secs(120),
        "{:?}",
        report.api_outages
    );
    // Shorter than the node monitor grace period: no node was tainted unreachable.
    if outage + Duration::from_secs(10) < grace {
        for (node, n) in &seen.nodes {
            assert!(
                n.unreachable_since.is_none(),
                "{node} tainted unreachable after a {outage:?} outage"
            );
        }
    }
    assert_ne!(kill.killed, kill.restarted);
    assert_ne!(kill.kcm_killed, kill.kcm_restarted);
    assert!(
        report.cleanup_errors.is_empty(),
        "{:?}",
        report.cleanup_errors
    );
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The API server restarts within the controller-manager's node monitor grace period (50 s,
/// upstream's): the nodes stay Ready throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_run_survives_an_api_server_restart() {
    restart_case(Duration::from_secs(50)).await;
}

/// The API server is away longer than the controller-manager's node monitor grace period
/// (3 s here): once back, the controller-manager marks every node `Unknown` (and, all of them
/// being down, evicts nothing); the fake kubelet posts them Ready again and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_run_survives_an_api_server_outage_longer_than_the_node_grace_period() {
    restart_case(Duration::from_secs(3)).await;
}

/// Runs the scenario on a control plane of its own whose controller-manager has node monitor
/// grace period `grace`, killing its API server and then its controller-manager mid-run.
async fn restart_case(grace: Duration) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cluster");
    let mut opts = UpOptions::new(&dir);
    opts.port = 0;
    opts.node_monitor_grace_period = grace;
    opts.node_monitor_period = Duration::from_secs(1).min(grace);
    // The API server stays down 4 s (8 scenario minutes) before it is restarted, then takes a
    // few seconds to be ready: j3's arrival and j1's completion fall in the outage.
    opts.restart_backoff = Duration::from_secs(4);
    let progress = |line: &str| eprintln!("restart test cluster: {line}");
    let info = controlplane::up(&opts, &progress)
        .await
        .expect("the restart test's own control plane starts")
        .info()
        .clone();
    let body = async {
        let client = controlplane::client_from_kubeconfig(&info.kubeconfig)
            .await
            .expect("client");
        let scenario = drydock_scenarios::load_str(SCENARIO, "restart.yaml").expect("scenario");
        let want = sim_completed(&scenario);
        let run = new_run_id();
        let ns = format!("drydock-{run}");
        let watch = ApiMonitor::start(client.clone(), &ns, &run);
        let mut ro = RealOptions::new(TimeScale::new(120.0).expect("scale"));
        ro.run = Some(run.clone());
        ro.namespace = Some(ns.clone());
        let real = tokio::time::timeout(
            Duration::from_secs(400),
            session::run(
                client.clone(),
                SERVER,
                &scenario,
                &ro,
                std::future::pending(),
            ),
        );
        // j1 and j2 (3 pods) bound and Running: the API server dies mid-run.
        let killer = kill_apiserver_when_bound(&dir, &watch, 3);
        let (report, kill) = tokio::join!(real, killer);
        let report = report
            .expect("the run finishes within 400 s")
            .expect("the run survives the restart");
        let kill = kill.expect("the API server was killed and restarted");
        // The monitor's watches may lag the run's end by a reconnect: wait until it has seen
        // the cleanup delete every pod.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline
            && watch.observed().pods.values().any(|p| p.gone_at.is_none())
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = watch.stop();
        eprintln!(
            "killed kube-apiserver pid {}, restarted as pid {}; kube-controller-manager pid {} -> {}; outages {:?}; observations {:?}",
            kill.killed,
            kill.restarted,
            kill.kcm_killed,
            kill.kcm_restarted,
            report.api_outages,
            report.observations
        );
        let left = leftovers(&client, &ns, &run).await;
        check(&report, &seen, &kill, &want, &left, grace);
        let st = controlplane::status(&dir).await;
        assert!(st.is_ready(), "{st:?}");
        let api = st
            .components
            .iter()
            .find(|c| c.name == "kube-apiserver")
            .expect("status lists the API server");
        assert_eq!((api.pid, api.restarts), (kill.restarted, 1));
        let kcm = st
            .components
            .iter()
            .find(|c| c.name == "kube-controller-manager")
            .expect("status lists the controller-manager");
        assert_eq!((kcm.pid, kcm.restarts), (kill.kcm_restarted, 1));
    };
    let outcome = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    let keep_logs = outcome.is_err();
    let down = controlplane::down(&dir, keep_logs).await;
    if keep_logs {
        let logs = tmp.keep().join("cluster/logs");
        eprintln!("control plane logs kept in {}", logs.display());
    }
    assert!(
        matches!(down, Ok(controlplane::DownOutcome::Stopped { .. })),
        "{down:?}"
    );
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A component that keeps crashing is not restarted forever: after 5 restarts within 2 minutes
/// `drydock-cp up` stops the whole control plane, says why in its log, and `down` finds
/// nothing running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_crash_looping_component_stops_the_control_plane() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cluster");
    let mut opts = UpOptions::new(&dir);
    opts.port = 0;
    opts.restart_backoff = Duration::from_millis(10);
    let progress = |line: &str| eprintln!("crash-loop test cluster: {line}");
    let info = controlplane::up(&opts, &progress)
        .await
        .expect("the crash-loop test's own control plane starts")
        .info()
        .clone();
    let body = async {
        let mut pid = None;
        for round in 1..=6u32 {
            let killed = kill_component(&dir, "kube-controller-manager").expect("kill");
            if let Some(p) = pid {
                assert_eq!(killed, p, "the restarted process is the one listed");
            }
            if round == 6 {
                break;
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            pid = loop {
                if let Some(c) = controlplane::components(&dir)
                    .into_iter()
                    .find(|c| c.name == "kube-controller-manager" && c.pid != killed)
                {
                    assert_eq!(c.restarts, round);
                    break Some(c.pid);
                }
                assert!(tokio::time::Instant::now() < deadline, "round {round}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
        }
        // The sixth exit within 2 minutes: drydock-cp up gives up and stops everything.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while controlplane::status(&dir).await.process.is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "drydock-cp up still running after a crash loop"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let log = std::fs::read_to_string(&info.log).expect("drydock-cp log");
        assert!(
            log.contains("kube-controller-manager") && log.contains("keeps crashing"),
            "{log}"
        );
        assert!(controlplane::components(&dir).is_empty());
    };
    let outcome = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    let down = controlplane::down(&dir, false).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert!(
        matches!(down, Ok(controlplane::DownOutcome::NotRunning)),
        "{down:?}"
    );
}
