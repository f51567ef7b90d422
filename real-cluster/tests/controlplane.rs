//! The local control plane against a real API server (real-cluster.md §9, spike items 2 and 3):
//! the server reports Kubernetes v1.36.x and answers `/readyz`; a 3-replica Deployment gets its
//! ReplicaSet and 3 Pods (so kube-controller-manager runs); deleting the namespace finishes
//! (namespace controller and garbage collector).
//!
//! Uses `drydock_real_cluster::testing::test_client`: `$DRYDOCK_TEST_KUBECONFIG` if set, else
//! the local control plane, started (and built the first time) on demand.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use drydock_real_cluster::testing::test_client;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};

/// Polls `f` every 250 ms until it returns `Some`, for at most `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if start.elapsed() > limit {
            bail!("{what}: not seen within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A namespace name unique to this test process.
fn namespace_name(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

#[tokio::test]
async fn server_reports_kubernetes_1_36_and_is_ready() -> anyhow::Result<()> {
    let client = test_client().await?;
    let v = client.apiserver_version().await?;
    assert!(
        v.git_version.starts_with("v1.36."),
        "server version {} (drydock-cp is built from k8s.io/kubernetes {})",
        v.git_version,
        drydock_real_cluster::controlplane::kubernetes_version()
    );
    assert_eq!((v.major.as_str(), v.minor.as_str()), ("1", "36"));
    let ready = client
        .request_text(http::Request::get("/readyz").body(Vec::new())?)
        .await?;
    assert_eq!(ready.trim(), "ok");
    Ok(())
}

#[tokio::test]
async fn deployment_gets_replicaset_and_three_pods_then_namespace_deletes() -> anyhow::Result<()> {
    let client = test_client().await?;
    let ns_name = namespace_name("drydock-cp-test");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": { "name": ns_name, "labels": { "app.kubernetes.io/managed-by": "drydock-test" } }
    }))?;
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("create namespace {ns_name}"))?;

    let result = async {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns_name);
        // No scheduler and no kubelet handle this scheduler name: the pods stay Pending, which
        // is enough to see the controllers create them.
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "web" },
            "spec": {
                "replicas": 3,
                "selector": { "matchLabels": { "app": "web" } },
                "template": {
                    "metadata": { "labels": { "app": "web" } },
                    "spec": {
                        "schedulerName": "drydock-test-nobody",
                        "containers": [{ "name": "main", "image": "registry.k8s.io/pause:3.10" }]
                    }
                }
            }
        }))?;
        let created = deployments.create(&PostParams::default(), &d).await?;
        let deploy_uid = created.metadata.uid.context("deployment has no uid")?;

        let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns_name);
        let rs = eventually(
            "a ReplicaSet owned by the Deployment",
            Duration::from_secs(60),
            || async {
                let list = replicasets.list(&ListParams::default()).await?;
                Ok(list.items.into_iter().find(|rs| {
                    rs.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|o| o.kind == "Deployment" && o.uid == deploy_uid)
                }))
            },
        )
        .await?;
        assert_eq!(rs.spec.as_ref().and_then(|s| s.replicas), Some(3));
        let rs_uid = rs.metadata.uid.clone().context("replicaset has no uid")?;

        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns_name);
        let owned = eventually(
            "3 Pods owned by the ReplicaSet",
            Duration::from_secs(60),
            || async {
                let list = pods.list(&ListParams::default().labels("app=web")).await?;
                let owned: Vec<Pod> = list
                    .items
                    .into_iter()
                    .filter(|p| {
                        p.metadata
                            .owner_references
                            .iter()
                            .flatten()
                            .any(|o| o.kind == "ReplicaSet" && o.uid == rs_uid)
                    })
                    .collect();
                Ok((owned.len() >= 3).then_some(owned))
            },
        )
        .await?;
        assert_eq!(owned.len(), 3, "exactly the 3 replicas, no more");
        let mut phases = BTreeMap::new();
        for p in &owned {
            let phase = p
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            *phases.entry(phase).or_insert(0) += 1;
            assert_eq!(
                p.spec.as_ref().and_then(|s| s.node_name.clone()),
                None,
                "nothing binds them"
            );
        }
        assert_eq!(phases, BTreeMap::from([("Pending".to_string(), 3)]));
        anyhow::Ok(())
    }
    .await;

    // Always clean up; then check the namespace really goes away.
    namespaces
        .delete(&ns_name, &DeleteParams::default())
        .await
        .with_context(|| format!("delete namespace {ns_name}"))?;
    result?;
    eventually(
        "the namespace deleted",
        Duration::from_secs(120),
        || async { Ok(namespaces.get_opt(&ns_name).await?.is_none().then_some(())) },
    )
    .await?;
    Ok(())
}
