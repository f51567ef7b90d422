//! `drydock sweep --on-kubernetes` and `drydock sweep collect JOB` against a live API server
//! with a controller-manager (the local control plane, started if needed, or
//! `$DRYDOCK_TEST_KUBECONFIG`: see `drydock_real_cluster::testing`). Each test uses its own
//! namespace and removes it (and its fake node) at the end, even when an assertion fails.
//!
//! The local control plane has no kubelet, so the collect test plays one: a fake Node whose
//! InternalIP is 127.0.0.1 and whose kubelet port is a TLS server of the test, Job pods bound
//! to it through `pods/binding`, each pod's run executed with `drydock sweep-worker` on the
//! ConfigMap's files, the pod marked Succeeded, and its output served at
//! `/containerLogs/{namespace}/{pod}/{container}`, where the API server's `pods/log` proxy
//! reads it (it does not verify a kubelet's certificate when started without
//! `--kubelet-certificate-authority`; the server certificate is the cluster's own).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drydock_real_cluster::objects::FakeNodeSpec;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// The brief's sweep: 2 variants x 3 seeds = 6 runs.
fn sweep_args() -> Vec<&'static str> {
    vec![
        "sweep",
        "default",
        "--seeds",
        "1..3",
        "--set",
        "scheduler.policy=binpack,fgd",
    ]
}

/// Runs the `drydock` binary (off the async runtime's threads).
async fn drydock(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(&args)
            .env_remove("DRYDOCK_DATA_DIR")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .output()
            .expect("drydock runs")
    })
    .await
    .expect("join")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sweep_args()` plus `--on-kubernetes --namespace NS` and `extra`.
fn submit_args(ns: &str, extra: &[&str]) -> Vec<String> {
    let mut a = strings(&sweep_args());
    a.extend(strings(&["--on-kubernetes", "--namespace", ns]));
    a.extend(strings(extra));
    a
}

/// The test cluster's kubeconfig and a client to it.
async fn cluster() -> (Client, PathBuf) {
    let kc = drydock_real_cluster::testing::test_kubeconfig()
        .await
        .expect("a test cluster (see drydock_real_cluster::testing)");
    let client = drydock_real_cluster::controlplane::client_from_kubeconfig(&kc)
        .await
        .expect("client");
    (client, kc)
}

/// A copy of kubeconfig `kc` in `dir` with one more context, `as-<user>`, that impersonates
/// `user` (the admin may): a user with no permissions but those the test grants.
fn kubeconfig_as(kc: &Path, dir: &Path, user: &str) -> PathBuf {
    let text = std::fs::read_to_string(kc).expect("read kubeconfig");
    let mut v: serde_json::Value = serde_saphyr::from_str(&text).expect("kubeconfig yaml");
    let current = v["current-context"]
        .as_str()
        .expect("current-context")
        .to_string();
    let ctx = v["contexts"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == current.as_str()))
        .expect("current context")
        .clone();
    let user_name = ctx["context"]["user"].as_str().expect("user").to_string();
    let mut u = v["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["name"] == user_name.as_str()))
        .expect("user")
        .clone();
    u["name"] = format!("as-{user}").into();
    u["user"]["as"] = user.into();
    let mut c = ctx;
    c["name"] = format!("as-{user}").into();
    c["context"]["user"] = format!("as-{user}").into();
    v["users"].as_array_mut().expect("users").push(u);
    v["contexts"].as_array_mut().expect("contexts").push(c);
    let path = dir.join(format!("kubeconfig-{user}"));
    std::fs::write(&path, serde_saphyr::to_string(&v).expect("yaml")).expect("write kubeconfig");
    path
}

/// The Role the README gives for sweeps (its `kind: Role` YAML block), so that the tests
/// check the documented permissions are enough.
fn readme_role() -> k8s_openapi::api::rbac::v1::Role {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n")
        .expect("the README's sweep Role")
        + "```yaml\n".len();
    let end = start + readme[start..].find("```").expect("end of block");
    serde_saphyr::from_str(&readme[start..end]).expect("a Role")
}

/// Grants `user` the README's sweep Role in `ns`.
async fn grant_sweep_role(client: &Client, ns: &str, user: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let role = readme_role();
    let name = role.metadata.name.clone().expect("role name");
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("create role");
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
    }))
    .expect("rolebinding");
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("create rolebinding");
}

/// Removes the test's namespace (after freeing and force-deleting its pods, which no kubelet
/// would finish) and node when dropped, on a runtime of its own so that it also runs after a
/// failed assertion.
struct Cleanup {
    kubeconfig: PathBuf,
    namespace: String,
    node: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let kc = self.kubeconfig.clone();
        let ns = self.namespace.clone();
        let node = self.node.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let Ok(client) =
                    drydock_real_cluster::controlplane::client_from_kubeconfig(&kc).await
                else {
                    return;
                };
                // The Job controller's `job-tracking` finalizer would keep pods that no
                // kubelet ran (and so the namespace) around: remove it.
                let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
                let strip = serde_json::json!({"metadata": {"finalizers": null}});
                for p in pods
                    .list(&ListParams::default())
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default()
                {
                    let name = p.metadata.name.unwrap_or_default();
                    let _ = pods
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&strip))
                        .await;
                }
                let _ = pods
                    .delete_collection(
                        &DeleteParams::default().grace_period(0),
                        &ListParams::default(),
                    )
                    .await;
                let _ = Api::<Namespace>::all(client.clone())
                    .delete(&ns, &DeleteParams::default())
                    .await;
                if let Some(n) = node {
                    let _ = Api::<Node>::all(client)
                        .delete(&n, &DeleteParams::default())
                        .await;
                }
            });
        });
        let _ = done.join();
    }
}

/// A fresh namespace `drydock-sweep-<tag>-<pid>` labelled as a test's.
async fn namespace(client: &Client, kc: &Path, tag: &str) -> (String, Cleanup) {
    let name = format!("drydock-sweep-{tag}-{}", std::process::id());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "drydock-test"}}
    }))
    .expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let cleanup = Cleanup {
        kubeconfig: kc.to_path_buf(),
        namespace: name.clone(),
        node: None,
    };
    (name, cleanup)
}

/// Polls `f` every 200 ms until it returns `Some`, panicking after `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < limit, "{what}: not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Job name in the `drydock sweep collect JOB ...` line of a submission's output.
fn job_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("drydock sweep collect "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no collect command in {text}"))
        .to_string()
}

/// The completion indexes of the Job's pods.
async fn pod_indexes(client: &Client, ns: &str, job: &str) -> BTreeSet<usize> {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .expect("list pods")
        .items
        .iter()
        .filter_map(|p| {
            p.metadata
                .annotations
                .as_ref()?
                .get(COMPLETION_INDEX)?
                .parse()
                .ok()
        })
        .collect()
}

fn label<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

/// Asserts that every field of `want` is in `got` with the same value (objects may have more
/// fields in `got`; arrays must have the same length).
fn assert_contains(got: &serde_json::Value, want: &serde_json::Value, at: &str) {
    match (got, want) {
        (serde_json::Value::Object(g), serde_json::Value::Object(w)) => {
            for (k, v) in w {
                let sub = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} is missing in {got}"));
                assert_contains(sub, v, &format!("{at}.{k}"));
            }
        }
        (serde_json::Value::Array(g), serde_json::Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: {got} vs {want}");
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert_contains(a, b, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

/// Submitting creates the ConfigMap and the Indexed Job of `--dry-run` with drydock's labels,
/// the Job controller makes one pod per index, a second submission changes nothing, a
/// ConfigMap of the sweep's name that is not drydock's is refused and left as it was, a
/// missing namespace or Job is an input error, and collecting before any run succeeded says
/// how far the Job is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_on_kubernetes_submits_once_and_refuses_objects_not_drydocks() {
    let (client, kc) = cluster().await;
    let kcs = kc.display().to_string();
    let (ns, _cleanup) = namespace(&client, &kc, "submit").await;

    let o = drydock(submit_args(&ns, &["--kubeconfig", &kcs])).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let job = job_of(&text);
    assert!(job.starts_with("drydock-sweep-default-"), "{text}");
    assert!(text.contains("submitted sweep `default` to "), "{text}");
    assert!(
        text.contains(&format!(
            "Job {job} in namespace {ns}, 6 runs (2 variants x 3 seeds), 6 at a time"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\n  drydock sweep collect {job} --namespace {ns} --kubeconfig {kcs}\n"
        )),
        "{text}"
    );

    // The objects are the --dry-run ones, with drydock's labels.
    let dry = drydock(submit_args(&ns, &["--dry-run"])).await;
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&out(&dry)).expect("yaml");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let cm = cms.get(&job).await.expect("the ConfigMap exists");
    let j = jobs.get(&job).await.expect("the Job exists");
    let id = job.rsplit('-').next().expect("id").to_string();
    for meta in [&cm.metadata, &j.metadata] {
        assert_eq!(label(meta, "app.kubernetes.io/managed-by"), Some("drydock"));
        assert_eq!(label(meta, "drydock.io/sweep"), Some(id.as_str()));
        assert_eq!(label(meta, "drydock.io/run"), Some(id.as_str()));
    }
    assert_eq!(
        serde_json::to_value(&cm.data).expect("json"),
        docs[0]["data"]
    );
    let spec = j.spec.as_ref().expect("spec");
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!(spec.completions, Some(6));
    assert_eq!(spec.parallelism, Some(6));
    // The server adds defaults (imagePullPolicy, ...); everything drydock wrote is there.
    assert_contains(
        &serde_json::to_value(&j).expect("json")["spec"],
        &docs[1]["spec"],
        "spec",
    );

    // kube-controller-manager's Job controller makes one pod per index.
    let indexes = eventually("6 pods of the Job", Duration::from_secs(60), || async {
        let got = pod_indexes(&client, &ns, &job).await;
        (got.len() == 6).then_some(got)
    })
    .await;
    assert_eq!(indexes, (0..6).collect::<BTreeSet<_>>());

    // Again: nothing changes.
    let before = cm.metadata.resource_version.clone();
    let o = drydock(submit_args(&ns, &["--kubeconfig", &kcs])).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains(&format!(
            "sweep `default` is already submitted: Job {job} in namespace {ns} (nothing changed)"
        )),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains(&format!("drydock sweep collect {job} --namespace {ns}")));
    assert_eq!(
        cms.get(&job).await.expect("cm").metadata.resource_version,
        before
    );

    // Collecting now: no run has succeeded (no kubelet runs them).
    let o = drydock(strings(&[
        "sweep",
        "collect",
        &job,
        "--namespace",
        &ns,
        "--kubeconfig",
        &kcs,
    ]))
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("0 of 6 runs succeeded, 6 running, 0 failed"),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).contains(&format!("no sweep results in Job {ns}/{job}")),
        "{}",
        err(&o)
    );

    // A ConfigMap of another sweep's name that is not drydock's: refused, untouched.
    let other_args = |extra: &[&str]| {
        let mut a = strings(&[
            "sweep",
            "default",
            "--seeds",
            "1..2",
            "--on-kubernetes",
            "--namespace",
            &ns,
        ]);
        a.extend(strings(extra));
        a
    };
    let dry = drydock(other_args(&["--dry-run"])).await;
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&out(&dry)).expect("yaml");
    let other = docs[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let foreign: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": other, "labels": {"team": "someone-else"}},
        "data": {"mine": "yes"}
    }))
    .expect("configmap");
    let foreign = cms
        .create(&PostParams::default(), &foreign)
        .await
        .expect("create foreign");
    let o = drydock(other_args(&["--kubeconfig", &kcs])).await;
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains(&format!(
            "ConfigMap {ns}/{other} exists and is not drydock's"
        )),
        "{}",
        err(&o)
    );
    let after = cms.get(&other).await.expect("still there");
    assert_eq!(
        after.metadata.resource_version,
        foreign.metadata.resource_version
    );
    assert_eq!(after.data, foreign.data);
    assert!(
        jobs.get_opt(&other).await.expect("get").is_none(),
        "no Job was created"
    );

    // A namespace that does not exist, a Job that does not exist: input errors with hints.
    let missing = format!("{ns}-missing");
    let o = drydock(submit_args(&missing, &["--kubeconfig", &kcs])).await;
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains(&format!("namespace {missing} does not exist")),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).contains(&format!("kubectl create namespace {missing}")),
        "{}",
        err(&o)
    );
    let o = drydock(strings(&[
        "sweep",
        "collect",
        "drydock-sweep-nope-00000000",
        "--namespace",
        &ns,
        "--kubeconfig",
        &kcs,
    ]))
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains(&format!(
            "kubectl get jobs -n {ns} -l app.kubernetes.io/managed-by=drydock,app.kubernetes.io/component=sweep"
        )),
        "{}",
        err(&o)
    );

    // A user without permissions: 403, naming what is missing (exit code 1).
    let tmp = tempfile::tempdir().expect("tempdir");
    let nobody = kubeconfig_as(&kc, tmp.path(), "drydock-test-nobody");
    let nobody = nobody.to_str().expect("utf-8");
    let as_nobody = [
        "--kubeconfig",
        nobody,
        "--context",
        "as-drydock-test-nobody",
    ];
    let o = drydock(submit_args(&ns, &as_nobody)).await;
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains(&format!(
            "the cluster does not let drydock get configmaps in namespace {ns}"
        )),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).contains("get and create on configmaps and jobs"),
        "{}",
        err(&o)
    );
    let mut a = strings(&["sweep", "collect", &job, "--namespace", &ns]);
    a.extend(strings(&as_nobody));
    let o = drydock(a).await;
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains(&format!(
            "the cluster does not let drydock get jobs in namespace {ns}"
        )),
        "{}",
        err(&o)
    );
}

/// Pod logs served by the test's fake kubelet, by pod name, and the paths it was asked for.
#[derive(Default)]
struct Served {
    logs: Mutex<BTreeMap<String, String>>,
    requests: Mutex<Vec<String>>,
}

/// A TLS server on 127.0.0.1 answering `GET /containerLogs/{ns}/{pod}/{container}` with the
/// pod's log from `served` (404 when unknown): the part of a kubelet the API server's
/// `pods/log` proxy uses. Returns its port.
async fn serve_logs(pki: &Path, served: Arc<Served>) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.join("apiserver.crt"))
            .expect("apiserver.crt")
            .collect::<Result<_, _>>()
            .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(pki.join("apiserver.key")).expect("apiserver.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let served = Arc::clone(&served);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let target = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                served.requests.lock().expect("lock").push(target.clone());
                let path = target.split('?').next().unwrap_or_default();
                let parts: Vec<&str> = path.split('/').collect();
                let body = match parts.as_slice() {
                    ["", "containerLogs", _ns, pod, _container] => {
                        served.logs.lock().expect("lock").get(*pod).cloned()
                    }
                    _ => None,
                };
                let response = match body {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                        b.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    }
                };
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// Registers fake node `name` (no taints, Ready) whose kubelet is 127.0.0.1:`port`.
async fn fake_node(client: &Client, name: &str, port: u16) {
    let spec = FakeNodeSpec {
        name: name.to_string(),
        scenario_name: name.to_string(),
        gpus: 0,
        cpu_milli: 64_000,
        memory_mib: 256 * 1024,
        max_pods: 110,
        labels: BTreeMap::new(),
        taints: Vec::new(),
    };
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &drydock_real_cluster::objects::node_object(&spec, "sweep-test"),
        )
        .await
        .expect("create node");
    let mut status = drydock_real_cluster::kubelet::node_status_patch(&spec, 0, true);
    status["status"]["addresses"] =
        serde_json::json!([{"type": "InternalIP", "address": "127.0.0.1"}]);
    status["status"]["daemonEndpoints"] = serde_json::json!({"kubeletEndpoint": {"Port": port}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("node status");
}

/// The test's kubelet for the pods of one Job.
struct Kubelet {
    client: Client,
    ns: String,
    job: String,
    node: String,
    /// Where the pods' logs go.
    served: Arc<Served>,
    /// Only runs of an index below this are run.
    gate: Arc<AtomicUsize>,
    /// Runs done so far.
    done_count: Arc<AtomicUsize>,
    /// Set to stop.
    stop: Arc<AtomicBool>,
}

/// Binds the Job's pods to the node, runs the run of each bound pod whose index is below the
/// gate with `drydock sweep-worker` on the ConfigMap's files, keeps its output as the pod's
/// log and marks the pod Succeeded, until stopped.
async fn play_kubelet(k: Kubelet) {
    let Kubelet {
        client,
        ns,
        job,
        node,
        served,
        gate,
        done_count,
        stop,
    } = k;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let config = tempfile::tempdir().expect("tempdir");
    let mut mounted = false;
    let mut done: BTreeSet<String> = BTreeSet::new();
    while !stop.load(Ordering::SeqCst) {
        let list = match pods
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
        {
            Ok(l) => l.items,
            Err(_) => Vec::new(),
        };
        for pod in list {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let index: Option<usize> = pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(COMPLETION_INDEX))
                .and_then(|v| v.parse().ok());
            let Some(index) = index else { continue };
            if pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_none()
            {
                pods.create_subresource::<k8s_openapi::api::core::v1::Binding, serde_json::Value>(
                    "binding",
                    &name,
                    &PostParams::default(),
                    &drydock_real_cluster::actuator::binding(&name, &node),
                )
                .await
                .expect("bind");
                continue;
            }
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            if done.contains(&name) || phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            if index >= gate.load(Ordering::SeqCst) {
                continue;
            }
            if !mounted {
                let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
                    .get(&job)
                    .await
                    .expect("the sweep's ConfigMap");
                for (k, v) in cm.data.unwrap_or_default() {
                    std::fs::write(config.path().join(k), v).expect("write key");
                }
                mounted = true;
            }
            let args = strings(&[
                "sweep-worker",
                "--config",
                config.path().to_str().expect("utf-8"),
                "--index",
                &index.to_string(),
            ]);
            let o = drydock(args).await;
            assert_eq!(o.status.code(), Some(0), "worker {index}: {}", err(&o));
            // Like a container's log: the worker's stderr, if any, then its stdout.
            served
                .logs
                .lock()
                .expect("lock")
                .insert(name.clone(), format!("{}{}", err(&o), out(&o)));
            let patch = drydock_real_cluster::kubelet::pod_finished_patch(
                &pod,
                drydock_real_cluster::kubelet::PodOutcome::Succeeded,
            );
            pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .expect("pod status");
            done.insert(name);
            done_count.store(done.len(), Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The whole path with the test as the kubelet: `--wait` submits and waits while the first
/// four runs succeed; `collect` then reports 4 of 6 and refuses without `--allow-missing`;
/// once every run succeeded the Job completes, `--wait` prints the local sweep's table, and
/// `collect JOB` prints it too, read through the API server's `pods/log`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_collect_reads_the_pods_logs_through_the_api_server() {
    let (client, kc) = cluster().await;
    let kcs = kc.display().to_string();
    let pki = kc.parent().expect("dir").join("pki");
    if !pki.join("apiserver.key").is_file() {
        eprintln!(
            "skipped: no pki/ beside {} (this test needs the local control plane's certificates and a loopback API server)",
            kc.display()
        );
        return;
    }
    let local = drydock(strings(&sweep_args())).await;
    assert_eq!(local.status.code(), Some(0), "{}", err(&local));
    let local = out(&local);

    let (ns, mut cleanup) = namespace(&client, &kc, "collect").await;
    let served = Arc::new(Served::default());
    let port = serve_logs(&pki, Arc::clone(&served)).await;
    let node = format!("dd-sweep-kubelet-{}", std::process::id());
    fake_node(&client, &node, port).await;
    cleanup.node = Some(node.clone());

    // Submit and collect as a user with only the README's Role.
    grant_sweep_role(&client, &ns, "drydock-test-sweeper").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let sweeper = kubeconfig_as(&kc, tmp.path(), "drydock-test-sweeper");
    let sweeper = sweeper.to_str().expect("utf-8");
    let as_sweeper = [
        "--kubeconfig",
        sweeper,
        "--context",
        "as-drydock-test-sweeper",
    ];

    // Submit and wait, in the background.
    let started = Instant::now();
    let mut wait_args = as_sweeper.to_vec();
    wait_args.push("--wait");
    let waiting = tokio::spawn(drydock(submit_args(&ns, &wait_args)));
    let job = eventually("the Job", Duration::from_secs(60), || async {
        Api::<Job>::namespaced(client.clone(), &ns)
            .list(&ListParams::default().labels("drydock.io/sweep"))
            .await
            .ok()?
            .items
            .first()?
            .metadata
            .name
            .clone()
    })
    .await;

    let gate = Arc::new(AtomicUsize::new(4));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let kubelet = tokio::spawn(play_kubelet(Kubelet {
        client: client.clone(),
        ns: ns.clone(),
        job: job.clone(),
        node: node.clone(),
        served: Arc::clone(&served),
        gate: Arc::clone(&gate),
        done_count: Arc::clone(&done),
        stop: Arc::clone(&stop),
    }));
    eventually("4 runs done", Duration::from_secs(120), || async {
        (done.load(Ordering::SeqCst) >= 4).then_some(())
    })
    .await;
    let collect = strings(&[
        "sweep",
        "collect",
        &job,
        "--namespace",
        &ns,
        "--kubeconfig",
        &kcs,
    ]);
    // The Job controller may take a moment to see the pods' new phase; the pods say it now.
    let o = drydock(collect.clone()).await;
    assert_eq!(o.status.code(), Some(2), "{}\n{}", out(&o), err(&o));
    assert!(
        err(&o).contains("4 of 6 runs succeeded, 2 running, 0 failed"),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).contains("2 of 6 runs have no result (indices 4, 5)"),
        "{}",
        err(&o)
    );
    let mut partial = collect.clone();
    partial.push("--allow-missing".into());
    let o = drydock(partial).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("(1 of 3 runs)"), "{}", out(&o));
    assert!(
        !waiting.is_finished(),
        "--wait returned before the Job finished"
    );

    // The rest: the Job completes and --wait reports.
    gate.store(usize::MAX, Ordering::SeqCst);
    let waited = tokio::time::timeout(Duration::from_secs(120), waiting)
        .await
        .expect("--wait returns once the Job completes")
        .expect("join");
    stop.store(true, Ordering::SeqCst);
    kubelet.await.expect("kubelet");
    eprintln!(
        "submit, 6 runs and --wait: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(waited.status.code(), Some(0), "{}", err(&waited));
    assert!(
        err(&waited).contains(&format!(
            "  drydock sweep collect {job} --namespace {ns} --kubeconfig {sweeper} --context as-drydock-test-sweeper\n"
        )),
        "{}",
        err(&waited)
    );
    assert!(
        err(&waited).contains(&format!("Job {ns}/{job}: 6 of 6 runs succeeded")),
        "{}",
        err(&waited)
    );
    assert_eq!(out(&waited), local);

    let j = Api::<Job>::namespaced(client.clone(), &ns)
        .get(&job)
        .await
        .expect("job");
    assert!(
        j.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs
                .iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")),
        "{:?}",
        j.status
    );
    let o = drydock(collect).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), local);
    let requests = served.requests.lock().expect("lock").clone();
    assert!(
        requests.iter().any(
            |r| r.starts_with(&format!("/containerLogs/{ns}/{job}-")) && r.contains("/drydock")
        ),
        "{requests:?}"
    );
}
