//! Live tests against a real API server with a controller-manager (the local control plane of
//! `drydock cluster up`, or any cluster): run with
//! `cargo test -p drydock-real-cluster --test real_live` (against `$DRYDOCK_TEST_KUBECONFIG`, or the
//! local control plane, started if needed: see `drydock_real_cluster::testing`).
//! Each test uses its own run id, namespace and node-name prefix and removes what it created.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drydock_real_cluster::clock::{ScaledClock, TimeScale};
use drydock_real_cluster::driver::node_ready;
use drydock_real_cluster::kubelet::{FakeKubelet, KubeletConfig};
use drydock_real_cluster::names::{new_run_id, run_selector};
use drydock_real_cluster::objects::{FakeNodeSpec, parse_quantity};
use drydock_real_cluster::session::{self, RealOptions};
use drydock_real_cluster::testing::monitor::ApiMonitor;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
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
    let watch = ApiMonitor::start(client.clone(), &ns, &run);
    let mut opts = RealOptions::new(TimeScale::new(60.0).expect("scale"));
    opts.run = Some(run.clone());
    opts.namespace = Some(ns.clone());
    let report = session::run(client.clone(), SERVER, &s, &opts, std::future::pending())
        .await
        .expect("run");
    let seen = watch.stop();
    assert_eq!(
        report.summary.jobs.completed, 2,
        "{:?}",
        report.summary.jobs
    );
    assert_eq!(report.summary.jobs.pending, 1);
    assert!(seen.bound_twice().is_empty(), "{:?}", seen.bound_twice());
    assert!(
        seen.partial_gangs().is_empty(),
        "{:?}",
        seen.partial_gangs()
    );
    let bound: Vec<&String> = seen
        .pods
        .iter()
        .filter(|(_, p)| !p.binds.is_empty())
        .map(|(n, _)| n)
        .collect();
    for pod in &bound {
        assert!(
            !pod.starts_with("toobig"),
            "{pod} of the gang that cannot fit"
        );
    }
    assert!(bound.len() >= 3, "{bound:?}");
    assert!(seen.overcommits.is_empty(), "{:?}", seen.overcommits);
    for (node, n) in &seen.nodes {
        assert!(
            n.max_gpus_used <= 8,
            "{node} over-committed: {} GPUs",
            n.max_gpus_used
        );
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
    let watch = ApiMonitor::start(client.clone(), &ns, &run);
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
    let seen = watch.stop();
    assert_eq!(report.summary.failures.node_failures, 1);
    // The controller-manager noticed the failure after its grace period (wall seconds, so
    // minutes of scenario time at 60×), and the report says when.
    let d = &report.observations.detections;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].failed_at.0, 300_000_000, "{d:?}");
    assert!(
        d[0].delay().is_some_and(|x| x.0 > 0),
        "noticed after some delay: {d:?}"
    );
    assert_eq!(
        report.summary.failures.restarts, 1,
        "{:?}",
        report.summary.failures
    );
    assert_eq!(report.summary.jobs.completed, 1);
    let a0 = format!("dd-{run}-a-0");
    let a1 = format!("dd-{run}-a-1");
    let node_of = |pod: &str| {
        seen.pods
            .get(pod)
            .and_then(|p| p.node())
            .map(str::to_string)
    };
    assert_eq!(node_of("j-j0-a0-w0"), Some(a0.clone()));
    assert_eq!(node_of("j-j0-a1-w0"), Some(a1));
    assert!(seen.bound_twice().is_empty(), "{:?}", seen.bound_twice());
    assert!(
        seen.nodes
            .get(&a0)
            .is_some_and(|n| n.unreachable_since.is_some()),
        "{a0} seen tainted unreachable"
    );
    assert!(
        report.cleanup_errors.is_empty(),
        "{:?}",
        report.cleanup_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_service_is_scaled_up_then_down_by_the_hpa_within_its_bounds() {
    let client = client().await;
    let run = new_run_id();
    let ns = format!("drydock-{run}");
    // One service, 1 GPU per replica, 1 to 4 replicas at 10 req/s each; traffic steps from
    // 5 req/s to 60 req/s at 2 min and back to 5 at 6 min. At 60x the run takes 12 s of wall
    // time after the nodes are Ready.
    let s = scenario(
        "  duration: 12m\n  services:\n    - name: web\n      replicas: 1\n      gpusPerReplica: 1\n      cpu: \"2\"\n      memory: 4Gi\n      startup: {imagePull: {kind: fixed, value: 10s}, modelLoad: {kind: fixed, value: 20s}}\n      generic: {serviceTime: {kind: exponential, mean: 200ms}, concurrency: 4}\n      queue: {capacity: 64, timeout: 10s}\n      traffic:\n        steps: [{at: 0s, rate: 5}, {at: 2m, rate: 60}, {at: 6m, rate: 5}]\n      autoscaling:\n        minReplicas: 1\n        maxReplicas: 4\n        metrics: [{type: requests-per-second, averageValue: 10}]\n        behavior: {scaleDown: {stabilizationWindow: 1m}}\n",
    );
    let watch = ApiMonitor::start(client.clone(), &ns, &run);
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
    let seen = watch.stop();
    // Through the API: the Deployment's replicas stayed within [1, 4], went up, and came
    // back down (the HPA's writes through the scale subresource).
    let dep = seen
        .deployments
        .get("svc0-web")
        .expect("the Deployment was seen");
    assert!(
        dep.spec_replicas.iter().all(|r| (1..=4).contains(r)),
        "{dep:?}"
    );
    let peak = dep.spec_replicas.iter().copied().max().unwrap_or(0);
    assert!(peak >= 2, "scaled up: {dep:?}");
    assert_eq!(dep.spec_replicas.first(), Some(&1), "{dep:?}");
    assert_eq!(
        dep.spec_replicas.last(),
        Some(&1),
        "scaled back down: {dep:?}"
    );
    assert!(dep.max_status_replicas <= 4, "{dep:?}");
    // The ReplicaSet's pods were bound by drydock, each once, GPUs never over-committed.
    let replicas: Vec<(&String, &drydock_real_cluster::testing::monitor::PodSeen)> = seen
        .pods
        .iter()
        .filter(|(n, _)| n.starts_with("svc0-web-"))
        .collect();
    assert!(replicas.len() >= 2, "{:?}", seen.pods.keys());
    assert!(replicas.iter().any(|(_, p)| !p.binds.is_empty()));
    assert!(seen.bound_twice().is_empty(), "{:?}", seen.bound_twice());
    assert!(seen.overcommits.is_empty(), "{:?}", seen.overcommits);
    // The report: the HPA's decisions, up then down, and the service's requests served.
    let decisions = &report.summary.autoscaling.decisions;
    assert!(
        decisions.iter().any(|d| d.to > d.from) && decisions.iter().any(|d| d.to < d.from),
        "{decisions:?}"
    );
    assert!(!report.observations.hpa_syncs.is_empty());
    let svc = &report.summary.services[0];
    assert!(svc.completed > 0, "{svc:?}");
    assert_eq!(svc.replicas_end, 1);
    assert!(
        svc.cold_start.count > 0 && svc.cold_start.p50 >= 30.0,
        "{svc:?}"
    );
    assert!(
        report.cleanup_errors.is_empty(),
        "{:?}",
        report.cleanup_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_the_cluster_autoscaler_adds_nodes_for_pending_gangs_and_removes_them_when_empty() {
    let client = client().await;
    let run = new_run_id();
    let ns = format!("drydock-{run}");
    // One pool of 1 to 3 nodes (8 GPUs each, provisioned in 2 min) and three whole-node jobs
    // of 20 min: the autoscaler asks for two nodes at its first loop after the 30 s GPU-pod
    // buffer, they register at about 2.5 min, and after 5 min unneeded the two nodes the
    // finished jobs leave empty are deleted. At 90x the run takes 20 s of wall time.
    let s = drydock_scenarios::load_str(
        "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: live-ca}\nspec:\n  duration: 30m\n  cluster:\n    pools:\n      - name: gpu\n        nodes: 1\n        gpuModel: A100\n        gpusPerNode: 8\n        cpu: \"96\"\n        memory: 512Gi\n        pricePerNodeHour: 10\n        autoscaling: {minNodes: 1, maxNodes: 3, provisioningTime: {kind: fixed, value: 2m}}\n    autoscaler:\n      scaleDown: {unneededTime: 5m, delayAfterAdd: 5m}\n  training:\n    - {name: j, count: 3, arrival: 0s, workers: 1, gpusPerWorker: 8, cpu: \"8\", memory: 8Gi, work: 20m}\n",
        "live-ca.yaml",
    )
    .expect("valid scenario");
    let mut sim = drydock_sim::Simulation::new(&s, None, None).expect("sim");
    sim.run(|_| {}).expect("runs");
    let want = sim.summary();
    let watch = ApiMonitor::start(client.clone(), &ns, &run);
    let mut opts = RealOptions::new(TimeScale::new(90.0).expect("scale"));
    opts.run = Some(run.clone());
    opts.namespace = Some(ns.clone());
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        session::run(client.clone(), SERVER, &s, &opts, std::future::pending()),
    )
    .await
    .expect("finishes within 5 min")
    .expect("run");
    let seen = watch.stop();
    // The report agrees with the simulator's: jobs, nodes, decisions (up to a minute late: a
    // loop runs at the first tick at or after its time, and a new node is usable once the
    // node lifecycle controller has seen it Ready, up to its 1 s monitor period of wall time
    // later, so jobs there start and end a little later), cost within 2 %.
    let (got, a) = (&report.summary, &report.summary.autoscaling);
    assert_eq!(got.jobs.completed, 3);
    assert_eq!(a.nodes_registered, want.autoscaling.nodes_registered);
    assert_eq!(a.nodes_deleted, want.autoscaling.nodes_deleted);
    let ca = |d: &[drydock_sim::engine::fleet::ScaleDecision]| -> Vec<(f64, u32, u32)> {
        d.iter()
            .filter(|x| x.actor == "cluster-autoscaler")
            .map(|x| (x.time_s, x.from, x.to))
            .collect()
    };
    let (g, w) = (ca(&a.decisions), ca(&want.autoscaling.decisions));
    assert_eq!(g.len(), w.len(), "{g:?} vs {w:?}");
    for ((gt, gf, gto), (wt, wf, wto)) in g.iter().zip(&w) {
        assert_eq!((gf, gto), (wf, wto), "{g:?} vs {w:?}");
        assert!(*gt >= *wt && *gt <= *wt + 60.0, "{g:?} vs {w:?}");
    }
    // Through the API: three nodes, the two added ones Ready; two of the three cordoned
    // (drained) before their deletion, as many as the scale-downs.
    let added: Vec<(&String, &drydock_real_cluster::testing::monitor::NodeSeen)> = seen
        .nodes
        .iter()
        .filter(|(n, _)| n.ends_with("gpu-1") || n.ends_with("gpu-2"))
        .collect();
    assert_eq!(added.len(), 2, "{:?}", seen.nodes.keys());
    assert_eq!(seen.nodes.len(), 3, "{:?}", seen.nodes.keys());
    for (name, n) in &added {
        assert!(n.was_ready, "{name} became Ready");
    }
    let drained: Vec<&String> = seen
        .nodes
        .iter()
        .filter(|(_, n)| n.cordoned && n.deleted)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(drained.len(), 2, "{:?}", seen.nodes);
    // Every job ran on its own node: the added nodes got pods.
    for (name, _) in &added {
        assert!(
            seen.pods.values().any(|p| p.node() == Some(name.as_str())),
            "a pod ran on {name}"
        );
    }
    assert!(seen.bound_twice().is_empty(), "{:?}", seen.bound_twice());
    assert!(seen.overcommits.is_empty(), "{:?}", seen.overcommits);
    assert!(
        (got.cost.total - want.cost.total).abs() < 0.02 * want.cost.total,
        "{} vs {}",
        got.cost.total,
        want.cost.total
    );
    assert!(
        report.cleanup_errors.is_empty(),
        "{:?}",
        report.cleanup_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cleanup_deletes_only_the_namespace_its_own_run_created() {
    use k8s_openapi::api::core::v1::Namespace;
    let client = client().await;
    let (first, second) = (new_run_id(), new_run_id());
    let ns = format!("drydock-shared-{first}");
    // The first run creates the namespace; a second run given the same `--namespace` is
    // refused (its pods and the first run's would be each other's to delete), and its cleanup
    // leaves the namespace, which the first run still uses.
    assert!(
        session::ensure_namespace(&client, SERVER, &ns, &first)
            .await
            .expect("created")
    );
    assert!(
        !session::ensure_namespace(&client, SERVER, &ns, &first)
            .await
            .expect("the same run may ask again")
    );
    let refused = session::ensure_namespace(&client, SERVER, &ns, &second).await;
    assert!(
        matches!(
            refused,
            Err(drydock_real_cluster::error::RealError::NotOurs {
                kind: "Namespace",
                ..
            })
        ),
        "{refused:?}"
    );
    let errors = session::cleanup_run(&client, SERVER, &ns, &second, true).await;
    assert!(errors.is_empty(), "{errors:?}");
    let api: Api<Namespace> = Api::all(client.clone());
    let kept = api.get_opt(&ns).await.expect("get").expect("still there");
    assert!(
        kept.metadata.deletion_timestamp.is_none(),
        "another run's cleanup must not delete it"
    );
    // The run that created it deletes it.
    let errors = session::cleanup_run(&client, SERVER, &ns, &first, true).await;
    assert!(errors.is_empty(), "{errors:?}");
    let gone = api.get_opt(&ns).await.expect("get");
    assert!(
        gone.is_none_or(|n| n.metadata.deletion_timestamp.is_some()),
        "deleted by its own run"
    );
}
