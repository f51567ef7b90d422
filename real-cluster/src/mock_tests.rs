//! Client code against a scripted fake API server (`tower_test::mock`, as kube-rs's
//! `kube/src/mock_tests.rs`): each test answers the requests it expects, in order, and fails
//! on any other (1 s timeouts).

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

use crate::actuator::{Actuator, BindOutcome, EvictOutcome, KubeActuator};
use crate::clock::{ScaledClock, TimeScale};
use crate::error::RealError;
use crate::kubelet::{FakeKubelet, KubeletConfig};
use crate::names::owner_labels;
use crate::objects::FakeNodeSpec;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn mock() -> (Client, Handle) {
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(svc, "default"), handle)
}

/// A request seen by the fake server.
struct Seen {
    method: http::Method,
    path: String,
    body: Value,
}

/// Answers the next request with `status` and `body`; returns what was asked.
async fn answer(h: &mut Handle, status: u16, body: Value) -> Seen {
    let (req, send) = tokio::time::timeout(Duration::from_secs(1), h.next_request())
        .await
        .expect("a request within 1 s")
        .expect("the client is still there");
    let method = req.method().clone();
    let path = req.uri().to_string();
    let bytes = req.into_body().collect_bytes().await.unwrap_or_default();
    let body_in = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let resp = Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).expect("json")))
        .expect("response");
    send.send_response(resp);
    Seen {
        method,
        path,
        body: body_in,
    }
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn actuator(client: Client) -> KubeActuator<ScaledClock> {
    let kubelet = Arc::new(FakeKubelet::new(
        client.clone(),
        "https://127.0.0.1:6443",
        "run1",
        KubeletConfig::default(),
        Arc::new(ScaledClock::start(TimeScale::REAL_TIME)),
    ));
    KubeActuator::new(client, "https://127.0.0.1:6443", "run1", kubelet)
}

#[tokio::test]
async fn bind_posts_a_binding_and_treats_409_as_already_bound() {
    let (client, mut h) = mock();
    let a = actuator(client);
    let server = tokio::spawn(async move {
        let seen = answer(
            &mut h,
            201,
            json!({"kind": "Status", "status": "Success", "code": 201}),
        )
        .await;
        assert_eq!(seen.method, http::Method::POST);
        assert_eq!(seen.path, "/api/v1/namespaces/ns/pods/p0/binding?");
        assert_eq!(seen.body["kind"], "Binding");
        assert_eq!(seen.body["metadata"]["name"], "p0");
        assert_eq!(seen.body["target"]["kind"], "Node");
        assert_eq!(seen.body["target"]["name"], "dd-a100-0");
        let seen = answer(
            &mut h,
            409,
            status(
                409,
                "Conflict",
                "pod p0 is already assigned to node \"dd-a100-1\"",
            ),
        )
        .await;
        assert!(seen.path.ends_with("/pods/p0/binding?"));
    });
    assert_eq!(
        a.bind("ns", "p0", "dd-a100-0").await.ok(),
        Some(BindOutcome::Bound)
    );
    assert_eq!(
        a.bind("ns", "p0", "dd-a100-0").await.ok(),
        Some(BindOutcome::AlreadyBound)
    );
    server.await.expect("scenario ran");
}

#[tokio::test]
async fn a_forbidden_bind_names_the_verb_resource_and_manifest() {
    let (client, mut h) = mock();
    let a = actuator(client);
    let server = tokio::spawn(async move {
        answer(
            &mut h,
            403,
            status(
                403,
                "Forbidden",
                "pods \"p0\" is forbidden: User \"dev\" cannot create resource \"pods/binding\" in API group \"\" in the namespace \"ns\"",
            ),
        )
        .await;
    });
    let err = a.bind("ns", "p0", "n").await.expect_err("forbidden");
    server.await.expect("scenario ran");
    let msg = err.to_string();
    assert!(matches!(err, RealError::Forbidden { .. }), "{msg}");
    assert!(
        msg.starts_with("the cluster does not let drydock create pods/binding in namespace ns:"),
        "{msg}"
    );
    assert!(
        msg.contains("kubectl apply -f real-cluster/rbac.yaml"),
        "{msg}"
    );
}

#[tokio::test]
async fn evictions_report_gone_and_blocked_pods() {
    let (client, mut h) = mock();
    let a = actuator(client);
    let server = tokio::spawn(async move {
        let seen = answer(
            &mut h,
            201,
            json!({"kind": "Status", "status": "Success", "code": 201}),
        )
        .await;
        assert_eq!(seen.method, http::Method::POST);
        assert!(
            seen.path
                .starts_with("/api/v1/namespaces/ns/pods/p/eviction"),
            "{}",
            seen.path
        );
        assert_eq!(seen.body["metadata"]["name"], "p");
        answer(&mut h, 404, status(404, "NotFound", "pods \"p\" not found")).await;
        answer(
            &mut h,
            429,
            status(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
            ),
        )
        .await;
    });
    assert_eq!(a.evict("ns", "p").await.ok(), Some(EvictOutcome::Evicted));
    assert_eq!(a.evict("ns", "p").await.ok(), Some(EvictOutcome::Gone));
    assert_eq!(a.evict("ns", "p").await.ok(), Some(EvictOutcome::Blocked));
    server.await.expect("scenario ran");
}

fn spec() -> FakeNodeSpec {
    FakeNodeSpec {
        name: "dd-a100-0".into(),
        scenario_name: "a100-0".into(),
        gpus: 8,
        cpu_milli: 96_000,
        memory_mib: 1024,
        max_pods: 110,
        labels: Default::default(),
        taints: vec![],
    }
}

#[tokio::test]
async fn a_node_that_is_not_ours_is_refused_and_left_alone() {
    let (client, mut h) = mock();
    let a = actuator(client);
    let server = tokio::spawn(async move {
        let seen = answer(
            &mut h,
            409,
            status(409, "AlreadyExists", "nodes \"dd-a100-0\" already exists"),
        )
        .await;
        assert_eq!(seen.method, http::Method::POST);
        let foreign = Node {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("dd-a100-0".into()),
                labels: Some([("team".to_string(), "ml".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let seen = answer(&mut h, 200, serde_json::to_value(&foreign).expect("json")).await;
        assert_eq!(seen.method, http::Method::GET);
        assert_eq!(seen.path, "/api/v1/nodes/dd-a100-0");
        // No other request may follow: nothing is patched, no Lease is made.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), h.next_request())
                .await
                .map(|r| r.is_none())
                .unwrap_or(true),
            "no write after the refusal"
        );
    });
    let err = a.add_node(&spec()).await.expect_err("refused");
    assert!(
        matches!(&err, RealError::NotOurs { kind: "Node", name, .. } if name == "dd-a100-0"),
        "{err}"
    );
    assert!(err.is_input_error());
    drop(a);
    server.await.expect("scenario ran");
}

#[tokio::test]
async fn registering_a_node_creates_it_with_its_status_and_a_lease() {
    let (client, mut h) = mock();
    let a = actuator(client);
    let server = tokio::spawn(async move {
        // The Node is created with its status in one request; the server keeps it.
        let (seen_method, seen_body) = {
            let (req, send) = tokio::time::timeout(Duration::from_secs(1), h.next_request())
                .await
                .expect("a request within 1 s")
                .expect("the client is still there");
            let method = req.method().clone();
            let bytes = req.into_body().collect_bytes().await.unwrap_or_default();
            let mut body: Value = serde_json::from_slice(&bytes).expect("json body");
            body["metadata"]["uid"] = json!("u-1");
            send.send_response(
                Response::builder()
                    .status(StatusCode::CREATED)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).expect("json")))
                    .expect("response"),
            );
            (method, body)
        };
        assert_eq!(seen_method, http::Method::POST);
        assert_eq!(seen_body["metadata"]["labels"]["drydock.io/run"], "run1");
        assert_eq!(
            seen_body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "drydock"
        );
        assert_eq!(seen_body["status"]["allocatable"]["nvidia.com/gpu"], "8");
        assert_eq!(seen_body["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(seen_body["status"]["conditions"][0]["status"], "True");
        // No status patch: straight to the Lease.
        let seen = answer(&mut h, 201, json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "dd-a100-0"}})).await;
        assert_eq!(seen.method, http::Method::POST);
        assert_eq!(
            seen.path,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases?&fieldManager=drydock-fake-kubelet"
        );
        assert_eq!(seen.body["spec"]["holderIdentity"], "dd-a100-0");
        assert_eq!(seen.body["spec"]["leaseDurationSeconds"], 40);
        assert_eq!(seen.body["metadata"]["ownerReferences"][0]["uid"], "u-1");
    });
    a.add_node(&spec()).await.expect("registered");
    server.await.expect("scenario ran");
    assert_eq!(a.kubelet().alive_nodes(), vec!["dd-a100-0".to_string()]);
}

#[tokio::test]
async fn registering_a_node_again_writes_its_status_and_renews_its_lease() {
    let (client, mut h) = mock();
    let a = actuator(client);
    let server = tokio::spawn(async move {
        let ours = json!({"apiVersion": "v1", "kind": "Node",
                          "metadata": {"name": "dd-a100-0", "uid": "u-1", "labels": owner_labels("run1")}});
        let seen = answer(
            &mut h,
            409,
            status(409, "AlreadyExists", "nodes \"dd-a100-0\" already exists"),
        )
        .await;
        assert_eq!(seen.method, http::Method::POST);
        let seen = answer(&mut h, 200, ours.clone()).await;
        assert_eq!(seen.method, http::Method::GET);
        let seen = answer(&mut h, 200, ours).await;
        assert_eq!(seen.method, http::Method::PATCH);
        assert!(
            seen.path.starts_with("/api/v1/nodes/dd-a100-0/status"),
            "{}",
            seen.path
        );
        assert_eq!(seen.body["status"]["allocatable"]["nvidia.com/gpu"], "8");
        assert_eq!(seen.body["status"]["conditions"][0]["status"], "True");
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                           "metadata": {"name": "dd-a100-0", "labels": owner_labels("run1")}});
        let seen = answer(
            &mut h,
            409,
            status(409, "AlreadyExists", "leases \"dd-a100-0\" already exists"),
        )
        .await;
        assert_eq!(seen.method, http::Method::POST);
        let seen = answer(&mut h, 200, lease.clone()).await;
        assert_eq!(seen.method, http::Method::GET);
        assert_eq!(
            seen.path,
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/dd-a100-0"
        );
        let seen = answer(&mut h, 200, lease).await;
        assert_eq!(seen.method, http::Method::PATCH);
        assert!(seen.body["spec"]["renewTime"].is_string(), "{}", seen.body);
    });
    a.add_node(&spec()).await.expect("registered again");
    server.await.expect("scenario ran");
    assert_eq!(a.kubelet().alive_nodes(), vec!["dd-a100-0".to_string()]);
}

#[tokio::test]
async fn a_namespace_that_is_not_ours_is_refused() {
    let (client, mut h) = mock();
    let server = tokio::spawn(async move {
        let ns = Namespace {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("prod".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        answer(&mut h, 200, serde_json::to_value(&ns).expect("json")).await;
    });
    let err = crate::session::ensure_namespace(&client, "https://127.0.0.1", "prod", "r")
        .await
        .expect_err("refused");
    server.await.expect("scenario ran");
    let msg = err.to_string();
    assert!(
        msg.starts_with("Namespace prod exists and is not drydock's"),
        "{msg}"
    );
    assert!(msg.contains("choose another --namespace"), "{msg}");
}

#[tokio::test]
async fn a_401_is_reported_as_rejected_credentials() {
    let (client, mut h) = mock();
    let server = tokio::spawn(async move {
        answer(&mut h, 401, status(401, "Unauthorized", "Unauthorized")).await;
    });
    let err = crate::session::preflight(&client, "https://127.0.0.1:6443", "ns")
        .await
        .expect_err("unauthorized");
    server.await.expect("scenario ran");
    assert!(matches!(err, RealError::Unauthorized { .. }), "{err}");
    assert!(
        err.to_string().contains("rejected drydock's credentials"),
        "{err}"
    );
}

/// Each Lease is renewed `renew_interval` after its own last renewal: nodes registered 5 s
/// apart keep renewing 5 s apart, never all at once.
#[tokio::test(start_paused = true)]
async fn leases_are_renewed_each_on_its_own_schedule() {
    let (client, mut h) = mock();
    let kubelet = Arc::new(FakeKubelet::new(
        client,
        "https://127.0.0.1:6443",
        "run1",
        KubeletConfig::default(),
        Arc::new(ScaledClock::start(TimeScale::REAL_TIME)),
    ));
    let start = tokio::time::Instant::now();
    let renewals = Arc::new(std::sync::Mutex::new(Vec::<(String, Duration)>::new()));
    let seen = Arc::clone(&renewals);
    // A server that accepts everything and echoes the body back (with a uid).
    let server = tokio::spawn(async move {
        while let Some((req, send)) = h.next_request().await {
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let bytes = req.into_body().collect_bytes().await.unwrap_or_default();
            let mut body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if method == http::Method::POST {
                body["metadata"]["uid"] = json!("u-1");
            } else if method == http::Method::PATCH && path.contains("/leases/") {
                let name = path.rsplit('/').next().unwrap_or_default().to_string();
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((name.clone(), start.elapsed()));
                body = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                              "metadata": {"name": name}});
            }
            send.send_response(
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).expect("json")))
                    .expect("response"),
            );
        }
    });
    let named = |name: &str| FakeNodeSpec {
        name: name.into(),
        ..spec()
    };
    kubelet.register(&named("a")).await.expect("a registered");
    tokio::time::sleep(Duration::from_secs(5)).await;
    kubelet.register(&named("b")).await.expect("b registered");
    let leases = tokio::spawn(Arc::clone(&kubelet).lease_loop());
    tokio::time::sleep(Duration::from_millis(26_100)).await;
    leases.abort();
    drop(kubelet);
    server.abort();
    let renewals = renewals.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let at = |n: &str| -> Vec<u64> {
        renewals
            .iter()
            .filter(|(name, _)| name == n)
            .map(|(_, t)| t.as_millis() as u64)
            .collect()
    };
    assert_eq!(at("a"), vec![10_000, 20_000, 30_000], "{renewals:?}");
    assert_eq!(at("b"), vec![15_000, 25_000], "{renewals:?}");
}
