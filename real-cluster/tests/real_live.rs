//! Live tests against a real API server with a controller-manager (the local control plane of
//! `drydock cluster up`, or any cluster): run with
//! `cargo test -p drydock-real-cluster --test real_live` (against `$DRYDOCK_TEST_KUBECONFIG`, or the
//! local control plane, started if needed: see `drydock_real_cluster::testing`).
//! Each test uses its own run id, namespace and node-name prefix and removes what it created.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drydock_real_cluster::clock::{ScaledClock, TimeScale};
use drydock_real_cluster::driver::node_ready;
use drydock_real_cluster::kubelet::{FakeKubelet, KubeletConfig};
use drydock_real_cluster::names::{LABEL_GANG, new_run_id, run_selector};
use drydock_real_cluster::objects::{FakeNodeSpec, parse_quantity};
use drydock_real_cluster::session::{self, RealOptions};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;

const SERVER: &str = "test cluster";

async fn client() -> kube::Client {
    // The cluster of $DRYDOCK_TEST_KUBECONFIG, or the local control plane, started if needed.
    drydock_real_cluster::testing::test_client()
        .await
        .expect("a test cluster (see drydock_real_cluster::testing)")
}

fn node_spec(name: &str, gpus: u32) -> FakeNodeSpec {
    FakeNodeSpec {
        name: name.to_string(),
        scenario_name: name.to_string(),
        gpus,
        cpu_milli: 96_000,
        memory_mib: 512 * 1024,
        max_pods: 110,
        labels: BTreeMap::new(),
        taints: vec![drydock_real_cluster::objects::fake_node_taint()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_fake_nodes_become_ready_and_lose_the_not_ready_taint() {
    let client = client().await;
    let run = new_run_id();
    let kubelet = Arc::new(FakeKubelet::new(
        client.clone(),
        SERVER,
        run.clone(),
        KubeletConfig::default(),
        Arc::new(ScaledClock::start(TimeScale::REAL_TIME)),
    ));
    let names: Vec<String> = (0..3).map(|i| format!("dd-{run}-n{i}")).collect();
    let specs: Vec<FakeNodeSpec> = names.iter().map(|n| node_spec(n, 8)).collect();
    kubelet
        .register_all(&specs)
        .await
        .expect("nodes registered");
    let leases = tokio::spawn(Arc::clone(&kubelet).lease_loop());
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let ready = loop {
        let list = nodes
            .list(&ListParams::default().labels(&run_selector(&run)))
            .await
            .expect("list nodes");
        let ready: Vec<&Node> = list.items.iter().filter(|n| node_ready(n)).collect();
        if ready.len() == names.len() || tokio::time::Instant::now() > deadline {
            break list.items;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let lease = Api::<Lease>::namespaced(client.clone(), "kube-node-lease")
        .get_opt(&names[0])
        .await
        .expect("get lease");
    leases.abort();
    let errors = session::cleanup_run(&client, SERVER, "default", &run, false).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ready.len(), 3);
    for n in &ready {
        assert!(
            node_ready(n),
            "{:?} Ready without the not-ready taint",
            n.metadata.name
        );
        let alloc = n
            .status
            .as_ref()
            .and_then(|s| s.allocatable.clone())
            .unwrap_or_default();
        assert_eq!(
            alloc
                .get("nvidia.com/gpu")
                .and_then(|q| parse_quantity(&q.0, 0)),
            Some(8)
        );
    }
    let lease = lease.expect("the node has a lease");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some(names[0].as_str())
    );
}

/// What a watcher of the namespace saw: every node each pod was bound to, and the most GPUs
/// requested by non-terminal pods on one node at once.
#[derive(Debug, Default)]
struct Seen {
    nodes_of: BTreeMap<String, Vec<String>>,
    gang_of: BTreeMap<String, String>,
    max_gpus_on_node: BTreeMap<String, u64>,
    /// Gangs observed with some but not all pods bound while the gang's size is known.
    partial_gangs: Vec<String>,
}

fn monitor(
    client: kube::Client,
    ns: String,
    seen: Arc<Mutex<Seen>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client, &ns);
        loop {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                let mut per_node: BTreeMap<String, u64> = BTreeMap::new();
                let mut gangs: BTreeMap<String, (u32, u32)> = BTreeMap::new();
                let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                for p in &list.items {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    let gang = p
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(LABEL_GANG))
                        .cloned()
                        .unwrap_or_default();
                    s.gang_of.insert(name.clone(), gang.clone());
                    let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
                    let g = gangs.entry(gang).or_default();
                    g.0 += 1;
                    let phase = p.status.as_ref().and_then(|s| s.phase.clone());
                    let terminal = matches!(phase.as_deref(), Some("Succeeded" | "Failed"));
                    if let Some(n) = node {
                        g.1 += 1;
                        let v = s.nodes_of.entry(name.clone()).or_default();
                        if !v.contains(&n) {
                            v.push(n.clone());
                        }
                        if !terminal {
                            let gpus: u64 = p
                                .spec
                                .iter()
                                .flat_map(|s| s.containers.iter())
                                .filter_map(|c| {
                                    c.resources
                                        .as_ref()?
                                        .requests
                                        .as_ref()?
                                        .get("nvidia.com/gpu")
                                })
                                .filter_map(|q| parse_quantity(&q.0, 0))
                                .sum();
                            *per_node.entry(n).or_default() += gpus;
                        }
                    }
                }
                for (n, g) in per_node {
                    let m = s.max_gpus_on_node.entry(n).or_default();
                    *m = (*m).max(g);
                }
                for (gang, (total, bound)) in gangs {
                    // A gang's pods are created together; seen partly bound only while binding.
                    if bound > 0 && bound < total && !s.partial_gangs.contains(&gang) {
                        s.partial_gangs.push(gang);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

fn scenario(body: &str) -> drydock_scenarios::Scenario {
    let yaml = format!(
        "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {{name: live}}\nspec:\n  cluster:\n    pools:\n      - {{name: a, nodes: 2, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 512Gi}}\n{body}"
    );
    drydock_scenarios::load_str(&yaml, "live.yaml").expect("valid scenario")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_gangs_bind_all_or_nothing_without_overcommit() {
    let client = client().await;
    let run = new_run_id();
    let ns = format!("drydock-{run}");
    // 2 nodes of 8 GPUs: `fits` (2 x 8) runs 2 min; `toobig` (3 x 8) never fits; `small`
    // (1 x 4) waits for `fits`. At 60x the run takes a few seconds.
    let s = scenario(
        "  duration: 6m\n  training:\n    - {name: fits, arrival: 0s, workers: 2, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 2m}\n    - {name: toobig, arrival: 0s, workers: 3, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 1m}\n    - {name: small, arrival: 10s, workers: 1, gpusPerWorker: 4, cpu: \"8\", memory: 8Gi, work: 1m}\n",
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watch = monitor(client.clone(), ns.clone(), Arc::clone(&seen));
    let mut opts = RealOptions::new(TimeScale::new(60.0).expect("scale"));
    opts.run = Some(run.clone());
    opts.namespace = Some(ns.clone());
    let report = session::run(client.clone(), SERVER, &s, &opts, std::future::pending())
        .await
        .expect("run");
    watch.abort();
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(
        report.summary.jobs.completed, 2,
        "{:?}",
        report.summary.jobs
    );
    assert_eq!(report.summary.jobs.pending, 1);
    for (pod, nodes) in &seen.nodes_of {
        assert_eq!(nodes.len(), 1, "{pod} bound once: {nodes:?}");
        assert!(
            !seen.gang_of[pod].starts_with("toobig"),
            "{pod} of the gang that cannot fit"
        );
    }
    assert!(seen.nodes_of.len() >= 3, "{:?}", seen.nodes_of);
    for (node, gpus) in &seen.max_gpus_on_node {
        assert!(*gpus <= 8, "{node} over-committed: {gpus} GPUs");
    }
    assert!(report.observations.overcommitted.is_empty());
    assert!(report.observations.rebound.is_empty());
    assert!(
        report.cleanup_errors.is_empty(),
        "{:?}",
        report.cleanup_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_failed_node_gets_its_pods_replaced() {
    let client = client().await;
    let run = new_run_id();
    let ns = format!("drydock-{run}");
    // best-fit breaks ties by node name, so the job lands on a-0, which dies at 5 min. The
    // controller-manager marks it NotReady after its grace period (wall time), the pods
    // tolerate `unreachable` for 1 s, then the gang restarts on a-1.
    let s = scenario(
        "  scheduler: {policy: best-fit}\n  nodeLifecycle: {tolerationSeconds: 1s}\n  training:\n    - {name: j, arrival: 0s, workers: 1, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 20m, checkpointInterval: 2m}\n  failures:\n    scheduled:\n      - {at: 5m, node: a-0}\n",
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watch = monitor(client.clone(), ns.clone(), Arc::clone(&seen));
    let mut opts = RealOptions::new(TimeScale::new(60.0).expect("scale"));
    opts.run = Some(run.clone());
    opts.namespace = Some(ns.clone());
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        session::run(client.clone(), SERVER, &s, &opts, std::future::pending()),
    )
    .await
    .expect("finishes within 5 min")
    .expect("run");
    watch.abort();
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(report.summary.failures.node_failures, 1);
    assert_eq!(
        report.summary.failures.restarts, 1,
        "{:?}",
        report.summary.failures
    );
    assert_eq!(report.summary.jobs.completed, 1);
    let a0 = format!("dd-{run}-a-0");
    let a1 = format!("dd-{run}-a-1");
    assert_eq!(seen.nodes_of.get("j-j0-a0-w0"), Some(&vec![a0]));
    assert_eq!(seen.nodes_of.get("j-j0-a1-w0"), Some(&vec![a1]));
    assert!(
        report.cleanup_errors.is_empty(),
        "{:?}",
        report.cleanup_errors
    );
}
