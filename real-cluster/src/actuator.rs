//! Where the driver's decisions become API calls: the [`Actuator`] trait (bind, evict, delete,
//! scale, nodes, cordon, pod status), the [`ClusterView`] it reads the cluster from, and two
//! implementations of both: [`KubeActuator`] over kube-rs (with reflector stores as the view)
//! and [`MemCluster`], an in-memory cluster for tests.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, EvictParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use serde_json::json;

use crate::Clock;
use crate::error::{RealError, status_code};
use crate::kubelet::{FakeKubelet, PodOutcome};
use crate::names::is_ours;
use crate::objects::{FakeNodeSpec, core_taint, k_taint, node_capacity, node_object};

/// Result of a bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    /// The Binding was created.
    Bound,
    /// The pod was already bound (HTTP 409): someone else, or an earlier attempt of ours whose
    /// response was lost, bound it. The caller checks where from its view.
    AlreadyBound,
}

/// Result of an eviction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictOutcome {
    /// The Eviction was accepted (the pod gets a `deletionTimestamp` and a `DisruptionTarget`
    /// condition).
    Evicted,
    /// The pod was already gone (404).
    Gone,
    /// A PodDisruptionBudget blocks it for now (429).
    Blocked,
}

/// The side effects of the driver and of the fake kubelet it commands. Every method acts on
/// drydock's own objects only.
pub trait Actuator: Send + Sync {
    /// Creates `pod` (drydock's, in its namespace). A pod of that name that is already this
    /// run's is not an error.
    ///
    /// # Errors
    /// [`RealError::NotOurs`] when a pod of that name exists and is not this run's; API errors.
    fn create_pod(&self, pod: &Pod) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Binds pod `namespace/pod` to `node` (`pods/binding`).
    ///
    /// # Errors
    /// API errors other than 409 (which is [`BindOutcome::AlreadyBound`]).
    fn bind(
        &self,
        namespace: &str,
        pod: &str,
        node: &str,
    ) -> impl Future<Output = Result<BindOutcome, RealError>> + Send;
    /// Evicts pod `namespace/pod` through the Eviction API (preemption).
    ///
    /// # Errors
    /// API errors other than 404 and 429.
    fn evict(
        &self,
        namespace: &str,
        pod: &str,
    ) -> impl Future<Output = Result<EvictOutcome, RealError>> + Send;
    /// Deletes pod `namespace/pod` with `grace_seconds` (`None`: the pod's own grace period).
    /// A pod already gone is not an error.
    ///
    /// # Errors
    /// API errors other than 404.
    fn delete_pod(
        &self,
        namespace: &str,
        pod: &str,
        grace_seconds: Option<i64>,
    ) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Creates Deployment `deployment` (drydock's, in its namespace). A Deployment of that
    /// name that is already this run's is not an error.
    ///
    /// # Errors
    /// [`RealError::NotOurs`] when a Deployment of that name exists and is not this run's; API
    /// errors.
    fn create_deployment(
        &self,
        deployment: &Deployment,
    ) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Deletes Deployment `namespace/name` (background propagation: the garbage collector
    /// removes its ReplicaSets and pods). A Deployment already gone is not an error.
    ///
    /// # Errors
    /// API errors other than 404.
    fn delete_deployment(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Sets the [`crate::names::ANN_STARTUP_DELAY`] annotation of pod `namespace/pod` (a
    /// service replica's cold start, drawn by the driver before it binds the pod) to `delay`
    /// of scenario time.
    ///
    /// # Errors
    /// API errors (404 when the pod is gone).
    fn set_startup_delay(
        &self,
        namespace: &str,
        pod: &str,
        delay: drydock_core::SimDuration,
    ) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Sets the replicas of Deployment `namespace/name` through its scale subresource.
    ///
    /// # Errors
    /// API errors.
    fn scale(
        &self,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Registers a fake node (Node, status, Lease).
    ///
    /// # Errors
    /// [`RealError::NotOurs`] when a node of that name exists and is not this run's; API
    /// errors.
    fn add_node(&self, node: &FakeNodeSpec) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Deletes a fake node (and its Lease). A node already gone is not an error.
    ///
    /// # Errors
    /// API errors.
    fn remove_node(&self, name: &str) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Cordons (`spec.unschedulable = true`) or uncordons a fake node.
    ///
    /// # Errors
    /// API errors.
    fn cordon(
        &self,
        name: &str,
        cordoned: bool,
    ) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Node failure: the node's kubelet dies (Lease no longer renewed).
    fn fail_node(&self, name: &str) -> impl Future<Output = Result<(), RealError>> + Send;
    /// Node repair: the node's kubelet is back and reports Ready.
    ///
    /// # Errors
    /// API errors.
    fn repair_node(&self, name: &str) -> impl Future<Output = Result<(), RealError>> + Send;
    /// The kubelet reports `pod`'s work ended.
    ///
    /// # Errors
    /// API errors other than 404.
    fn finish_pod(
        &self,
        pod: &Pod,
        outcome: PodOutcome,
    ) -> impl Future<Output = Result<(), RealError>> + Send;
}

/// What the driver reads: drydock's fake nodes and its pods, as last observed.
pub trait ClusterView: Send + Sync {
    /// The run's fake nodes.
    fn nodes(&self) -> Vec<Arc<Node>>;
    /// The run's pods.
    fn pods(&self) -> Vec<Arc<Pod>>;
}

/// A view over two kube-runtime reflector stores.
#[derive(Clone)]
pub struct StoreView {
    /// Nodes (label selector: this run).
    pub nodes: Store<Node>,
    /// Pods (drydock's namespace, label selector: this run).
    pub pods: Store<Pod>,
}

impl ClusterView for StoreView {
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.state()
    }
    fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods.state()
    }
}

/// The kube-rs actuator: API calls for the driver, the fake kubelet for node and pod status.
pub struct KubeActuator<C: Clock> {
    client: kube::Client,
    server: String,
    run: String,
    kubelet: Arc<FakeKubelet<C>>,
}

impl<C: Clock> KubeActuator<C> {
    /// An actuator for run `run` on `client` (server URL `server`, for messages), commanding
    /// `kubelet`.
    pub fn new(
        client: kube::Client,
        server: impl Into<String>,
        run: impl Into<String>,
        kubelet: Arc<FakeKubelet<C>>,
    ) -> Self {
        KubeActuator {
            client,
            server: server.into(),
            run: run.into(),
            kubelet,
        }
    }

    /// The fake kubelet.
    pub fn kubelet(&self) -> &Arc<FakeKubelet<C>> {
        &self.kubelet
    }

    fn err(&self, e: kube::Error, verb: &str, resource: &str, ns: Option<&str>) -> RealError {
        RealError::from_kube(e, &self.server, verb, resource, ns)
    }
}

/// The Binding that binds `pod` to `node` (real-cluster.md §4 \[src\]:
/// `kube-client/src/api/subresource.rs`).
pub fn binding(pod: &str, node: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: Some(pod.to_string()),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Node".to_string()),
            name: Some(node.to_string()),
            ..Default::default()
        },
    }
}

impl<C: Clock> Actuator for KubeActuator<C> {
    async fn create_pod(&self, pod: &Pod) -> Result<(), RealError> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        // A fresh namespace on a full cluster may not have its `default` ServiceAccount yet;
        // its admission plugin then refuses pods for a moment.
        let mut tries = 0;
        loop {
            match api.create(&PostParams::default(), pod).await {
                Ok(_) => return Ok(()),
                Err(e) if status_code(&e) == Some(409) => {
                    return match api.get_opt(&name).await {
                        Ok(Some(p)) if is_ours(&p.metadata, Some(&self.run)) => Ok(()),
                        Ok(_) => Err(RealError::NotOurs {
                            kind: "Pod",
                            name,
                            namespace: Some(ns),
                        }),
                        Err(e) => Err(self.err(e, "get", "pods", Some(&ns))),
                    };
                }
                Err(kube::Error::Api(s))
                    if s.code == 403 && s.message.contains("service account") && tries < 50 =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(self.err(e, "create", "pods", Some(&ns))),
            }
        }
    }

    async fn bind(&self, namespace: &str, pod: &str, node: &str) -> Result<BindOutcome, RealError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api
            .create_subresource::<Binding, serde_json::Value>(
                "binding",
                pod,
                &PostParams::default(),
                &binding(pod, node),
            )
            .await
        {
            Ok(_) => Ok(BindOutcome::Bound),
            Err(e) if status_code(&e) == Some(409) => Ok(BindOutcome::AlreadyBound),
            Err(e) => Err(self.err(e, "create", "pods/binding", Some(namespace))),
        }
    }

    async fn evict(&self, namespace: &str, pod: &str) -> Result<EvictOutcome, RealError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.evict(pod, &EvictParams::default()).await {
            Ok(_) => Ok(EvictOutcome::Evicted),
            Err(e) if status_code(&e) == Some(404) => Ok(EvictOutcome::Gone),
            Err(e) if status_code(&e) == Some(429) => Ok(EvictOutcome::Blocked),
            Err(e) => Err(self.err(e, "create", "pods/eviction", Some(namespace))),
        }
    }

    async fn delete_pod(
        &self,
        namespace: &str,
        pod: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), RealError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let dp = DeleteParams {
            grace_period_seconds: grace_seconds.map(|g| g.max(0) as u32),
            ..Default::default()
        };
        match api.delete(pod, &dp).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.err(e, "delete", "pods", Some(namespace))),
        }
    }

    async fn create_deployment(&self, deployment: &Deployment) -> Result<(), RealError> {
        let ns = deployment.metadata.namespace.clone().unwrap_or_default();
        let name = deployment.metadata.name.clone().unwrap_or_default();
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &ns);
        match api.create(&PostParams::default(), deployment).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(409) => match api.get_opt(&name).await {
                Ok(Some(d)) if is_ours(&d.metadata, Some(&self.run)) => Ok(()),
                Ok(_) => Err(RealError::NotOurs {
                    kind: "Deployment",
                    name,
                    namespace: Some(ns),
                }),
                Err(e) => Err(self.err(e, "get", "deployments", Some(&ns))),
            },
            Err(e) => Err(self.err(e, "create", "deployments", Some(&ns))),
        }
    }

    async fn delete_deployment(&self, namespace: &str, name: &str) -> Result<(), RealError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(Some(d)) if is_ours(&d.metadata, Some(&self.run)) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(self.err(e, "get", "deployments", Some(namespace))),
        }
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.err(e, "delete", "deployments", Some(namespace))),
        }
    }

    async fn set_startup_delay(
        &self,
        namespace: &str,
        pod: &str,
        delay: drydock_core::SimDuration,
    ) -> Result<(), RealError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let patch = json!({"metadata": {"annotations": {
            crate::names::ANN_STARTUP_DELAY: delay.0.to_string()
        }}});
        api.patch(
            pod,
            &PatchParams {
                field_manager: Some(crate::names::FIELD_MANAGER.to_string()),
                ..Default::default()
            },
            &Patch::Merge(patch),
        )
        .await
        .map(|_| ())
        .map_err(|e| self.err(e, "patch", "pods", Some(namespace)))
    }

    /// A JSON merge patch of `spec.replicas` on the scale subresource
    /// (`deployments/scale`, the HPA controller's write, kubernetes-semantics.md HPA section):
    /// it carries no `resourceVersion`, so it cannot conflict with the Deployment controller's
    /// status writes; a 409 or a transient error is still retried, up to five times, 100 ms
    /// apart.
    async fn scale(&self, namespace: &str, name: &str, replicas: i32) -> Result<(), RealError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let mut tries = 0;
        loop {
            let r = api
                .patch_scale(
                    name,
                    &PatchParams {
                        field_manager: Some(crate::names::FIELD_MANAGER.to_string()),
                        ..Default::default()
                    },
                    &Patch::Merge(json!({"spec": {"replicas": replicas}})),
                )
                .await;
            match r {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let e = self.err(e, "patch", "deployments/scale", Some(namespace));
                    // Transient includes 409 (a conflict).
                    if tries < 5 && e.is_transient() {
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn add_node(&self, node: &FakeNodeSpec) -> Result<(), RealError> {
        self.kubelet.register(node).await
    }

    async fn remove_node(&self, name: &str) -> Result<(), RealError> {
        self.kubelet.remove(name).await
    }

    async fn cordon(&self, name: &str, cordoned: bool) -> Result<(), RealError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let r = if cordoned {
            api.cordon(name).await
        } else {
            api.uncordon(name).await
        };
        r.map(|_| ())
            .map_err(|e| self.err(e, "patch", "nodes", None))
    }

    async fn fail_node(&self, name: &str) -> Result<(), RealError> {
        self.kubelet.stop_node(name);
        Ok(())
    }

    async fn repair_node(&self, name: &str) -> Result<(), RealError> {
        self.kubelet.restart_node(name).await
    }

    async fn finish_pod(&self, pod: &Pod, outcome: PodOutcome) -> Result<(), RealError> {
        self.kubelet.finish_pod(pod, outcome).await
    }
}

/// One call made to a [`MemCluster`], for tests to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `create_pod(name)`.
    Create(String),
    /// `bind(pod, node)`.
    Bind(String, String),
    /// `evict(pod)`.
    Evict(String),
    /// `delete_pod(pod)`.
    Delete(String),
    /// `scale(deployment, replicas)`.
    Scale(String, i32),
    /// `create_deployment(name)`.
    CreateDeployment(String),
    /// `delete_deployment(name)`.
    DeleteDeployment(String),
    /// `set_startup_delay(pod, µs)`.
    StartupDelay(String, u64),
    /// `add_node(name)`.
    AddNode(String),
    /// `remove_node(name)`.
    RemoveNode(String),
    /// `cordon(name, cordoned)`.
    Cordon(String, bool),
    /// `fail_node(name)`.
    FailNode(String),
    /// `repair_node(name)`.
    RepairNode(String),
    /// `finish_pod(name, succeeded)`.
    Finish(String, bool),
}

#[derive(Debug, Default)]
struct Mem {
    nodes: BTreeMap<String, Node>,
    pods: BTreeMap<String, Pod>,
    calls: Vec<Call>,
    next_uid: u64,
    bind_count: BTreeMap<String, u32>,
    failing_binds: BTreeSet<String>,
    failing_creates: u32,
    failing_finishes: u32,
    failing_binds_after: BTreeSet<String>,
    /// Deployments: name → (object, `spec.replicas`).
    deployments: BTreeMap<String, (Deployment, i32)>,
    next_replica: u64,
}

impl Mem {
    /// The Deployment and ReplicaSet controllers, instantly: each Deployment gets
    /// `spec.replicas` pods (`<deployment>-<n>`, from its template), deleting unbound pods
    /// first, then the newest.
    fn reconcile_deployments(&mut self) {
        let deployments: Vec<(String, Deployment, i32)> = self
            .deployments
            .iter()
            .map(|(n, (d, r))| (n.clone(), d.clone(), *r))
            .collect();
        for (name, d, replicas) in deployments {
            let mine = |p: &Pod| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(crate::names::LABEL_SERVICE))
                    == Some(&name)
            };
            let mut have: Vec<(bool, u64, String)> = self
                .pods
                .values()
                .filter(|p| mine(p))
                .map(|p| {
                    let n = p.metadata.name.clone().unwrap_or_default();
                    let k = n
                        .rsplit('-')
                        .next()
                        .and_then(|k| k.parse().ok())
                        .unwrap_or(0);
                    let bound = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
                    (bound, k, n)
                })
                .collect();
            let want = replicas.max(0) as usize;
            if have.len() > want {
                // Unbound first, then the newest.
                have.sort_by_key(|(bound, k, _)| (*bound, std::cmp::Reverse(*k)));
                for (_, _, n) in have.iter().take(have.len() - want) {
                    self.pods.remove(n);
                }
            }
            for _ in have.len()..want {
                let Some(t) = d.spec.as_ref().map(|s| s.template.clone()) else {
                    break;
                };
                self.next_replica += 1;
                self.next_uid += 1;
                let pod_name = format!("{name}-{}", self.next_replica);
                let mut meta = t.metadata.unwrap_or_default();
                meta.name = Some(pod_name.clone());
                meta.namespace = d.metadata.namespace.clone();
                meta.uid = Some(format!("uid-{}", self.next_uid));
                meta.creation_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
                let mut p = Pod {
                    metadata: meta,
                    spec: t.spec,
                    status: None,
                };
                mem_phase(&mut p, "Pending");
                self.pods.insert(pod_name, p);
            }
        }
    }
}

/// An in-memory cluster with an instant fake kubelet, an instant node lifecycle controller and
/// instant Deployment and ReplicaSet controllers, for tests of the driver without an API
/// server: a bound pod is Running and Ready at once; an evicted or
/// deleted pod is gone at once; a failed node is tainted `node.kubernetes.io/unreachable`
/// (NoSchedule and NoExecute) and its pods are evicted at once (grace period and
/// `tolerationSeconds` of 0); a repaired node loses the taints. It records every call.
#[derive(Debug, Default)]
pub struct MemCluster {
    inner: Mutex<Mem>,
}

impl MemCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Mem) -> T) -> T {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.with(|m| m.calls.clone())
    }

    /// Number of successful binds of pod `name` (a pod is bound at most once).
    pub fn binds_of(&self, name: &str) -> u32 {
        self.with(|m| m.bind_count.get(name).copied().unwrap_or(0))
    }

    /// Makes binds of pod `name` fail with a server error (to test partial gang binds).
    pub fn fail_binds_of(&self, name: &str) {
        self.with(|m| m.failing_binds.insert(name.to_string()));
    }

    /// Makes the next `n` pod creations fail with a transient error (an API server restart).
    pub fn fail_next_creates(&self, n: u32) {
        self.with(|m| m.failing_creates = n);
    }

    /// Makes the next `n` pod status writes (`finish_pod`) fail with a transient error (an
    /// API server restart).
    pub fn fail_next_finishes(&self, n: u32) {
        self.with(|m| m.failing_finishes = n);
    }

    /// Makes binds of pod `name` take effect but answer with a transient error, as a bind
    /// whose response is lost when the API server dies mid-request.
    pub fn lose_bind_responses_of(&self, name: &str) {
        self.with(|m| m.failing_binds_after.insert(name.to_string()));
    }

    /// Lets binds of pod `name` succeed again.
    pub fn allow_binds_of(&self, name: &str) {
        self.with(|m| m.failing_binds.remove(name));
    }

    /// Inserts (or replaces) a pod as if someone else created it.
    pub fn put_pod(&self, pod: Pod) {
        self.with(|m| {
            let name = pod.metadata.name.clone().unwrap_or_default();
            m.pods.insert(name, pod);
        });
    }

    /// A pod by name.
    pub fn pod(&self, name: &str) -> Option<Pod> {
        self.with(|m| m.pods.get(name).cloned())
    }

    /// Deletes a pod as if the controller-manager or a user did.
    pub fn remove_pod(&self, name: &str) {
        self.with(|m| m.pods.remove(name));
    }
}

fn mem_phase(pod: &mut Pod, phase: &str) {
    pod.status.get_or_insert_with(PodStatus::default).phase = Some(phase.to_string());
}

impl ClusterView for MemCluster {
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.with(|m| m.nodes.values().cloned().map(Arc::new).collect())
    }
    fn pods(&self) -> Vec<Arc<Pod>> {
        self.with(|m| m.pods.values().cloned().map(Arc::new).collect())
    }
}

impl Actuator for MemCluster {
    async fn create_pod(&self, pod: &Pod) -> Result<(), RealError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        self.with(|m| {
            m.calls.push(Call::Create(name.clone()));
            if m.failing_creates > 0 {
                m.failing_creates -= 1;
                return Err(RealError::Timeout(format!(
                    "create of {name} timed out (test)"
                )));
            }
            if let Some(p) = m.pods.get(&name) {
                return if is_ours(&p.metadata, None) {
                    Ok(())
                } else {
                    Err(RealError::NotOurs {
                        kind: "Pod",
                        name: name.clone(),
                        namespace: pod.metadata.namespace.clone(),
                    })
                };
            }
            let mut p = pod.clone();
            m.next_uid += 1;
            p.metadata.uid = Some(format!("uid-{}", m.next_uid));
            p.metadata.creation_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
            mem_phase(&mut p, "Pending");
            m.pods.insert(name, p);
            Ok(())
        })
    }

    async fn bind(
        &self,
        _namespace: &str,
        pod: &str,
        node: &str,
    ) -> Result<BindOutcome, RealError> {
        self.with(|m| {
            m.calls.push(Call::Bind(pod.to_string(), node.to_string()));
            if m.failing_binds.contains(pod) {
                return Err(RealError::Timeout(format!("bind of {pod} failed (test)")));
            }
            let Some(p) = m.pods.get_mut(pod) else {
                return Err(RealError::Input(format!("no pod {pod}")));
            };
            let spec = p.spec.get_or_insert_with(Default::default);
            if spec.node_name.is_some() {
                return Ok(BindOutcome::AlreadyBound);
            }
            spec.node_name = Some(node.to_string());
            mem_phase(p, "Running");
            p.status.get_or_insert_with(PodStatus::default).conditions =
                Some(vec![k8s_openapi::api::core::v1::PodCondition {
                    type_: "Ready".to_string(),
                    status: "True".to_string(),
                    ..Default::default()
                }]);
            *m.bind_count.entry(pod.to_string()).or_default() += 1;
            if m.failing_binds_after.remove(pod) {
                return Err(RealError::Timeout(format!(
                    "bind of {pod}: connection reset (test)"
                )));
            }
            Ok(BindOutcome::Bound)
        })
    }

    async fn evict(&self, _namespace: &str, pod: &str) -> Result<EvictOutcome, RealError> {
        self.with(|m| {
            m.calls.push(Call::Evict(pod.to_string()));
            let out = match m.pods.remove(pod) {
                Some(_) => EvictOutcome::Evicted,
                None => EvictOutcome::Gone,
            };
            m.reconcile_deployments();
            Ok(out)
        })
    }

    async fn delete_pod(
        &self,
        _namespace: &str,
        pod: &str,
        _grace_seconds: Option<i64>,
    ) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::Delete(pod.to_string()));
            m.pods.remove(pod);
            m.reconcile_deployments();
            Ok(())
        })
    }

    async fn create_deployment(&self, deployment: &Deployment) -> Result<(), RealError> {
        let name = deployment.metadata.name.clone().unwrap_or_default();
        self.with(|m| {
            m.calls.push(Call::CreateDeployment(name.clone()));
            let replicas = deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            m.deployments
                .entry(name)
                .or_insert_with(|| (deployment.clone(), replicas));
            m.reconcile_deployments();
            Ok(())
        })
    }

    async fn delete_deployment(&self, _namespace: &str, name: &str) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::DeleteDeployment(name.to_string()));
            if m.deployments.remove(name).is_some() {
                m.pods.retain(|_, p| {
                    p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(crate::names::LABEL_SERVICE))
                        .map(String::as_str)
                        != Some(name)
                });
            }
            Ok(())
        })
    }

    async fn set_startup_delay(
        &self,
        _namespace: &str,
        pod: &str,
        delay: drydock_core::SimDuration,
    ) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::StartupDelay(pod.to_string(), delay.0));
            let Some(p) = m.pods.get_mut(pod) else {
                return Err(RealError::Input(format!("no pod {pod}")));
            };
            p.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(
                    crate::names::ANN_STARTUP_DELAY.to_string(),
                    delay.0.to_string(),
                );
            Ok(())
        })
    }

    async fn scale(&self, _namespace: &str, name: &str, replicas: i32) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::Scale(name.to_string(), replicas));
            if let Some(d) = m.deployments.get_mut(name) {
                d.1 = replicas;
            }
            m.reconcile_deployments();
        });
        Ok(())
    }

    async fn add_node(&self, node: &FakeNodeSpec) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::AddNode(node.name.clone()));
            if let Some(n) = m.nodes.get(&node.name)
                && !is_ours(&n.metadata, None)
            {
                return Err(RealError::NotOurs {
                    kind: "Node",
                    name: node.name.clone(),
                    namespace: None,
                });
            }
            let mut n = node_object(node, "mem");
            let cap = node_capacity(node);
            n.status = Some(k8s_openapi::api::core::v1::NodeStatus {
                capacity: Some(cap.clone()),
                allocatable: Some(cap),
                conditions: Some(vec![k8s_openapi::api::core::v1::NodeCondition {
                    type_: "Ready".to_string(),
                    status: "True".to_string(),
                    ..Default::default()
                }]),
                ..Default::default()
            });
            m.nodes.insert(node.name.clone(), n);
            Ok(())
        })
    }

    async fn remove_node(&self, name: &str) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::RemoveNode(name.to_string()));
            m.nodes.remove(name);
            // PodGC: pods of a deleted node go too.
            m.pods
                .retain(|_, p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some(name));
            Ok(())
        })
    }

    async fn cordon(&self, name: &str, cordoned: bool) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::Cordon(name.to_string(), cordoned));
            if let Some(n) = m.nodes.get_mut(name) {
                n.spec.get_or_insert_with(Default::default).unschedulable = Some(cordoned);
            }
            Ok(())
        })
    }

    async fn fail_node(&self, name: &str) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::FailNode(name.to_string()));
            if let Some(n) = m.nodes.get_mut(name) {
                let taints = n
                    .spec
                    .get_or_insert_with(Default::default)
                    .taints
                    .get_or_insert_with(Vec::new);
                for effect in [
                    drydock_core::TaintEffect::NoSchedule,
                    drydock_core::TaintEffect::NoExecute,
                ] {
                    taints.push(k_taint(&drydock_core::Taint {
                        key: drydock_core::cluster::TAINT_UNREACHABLE.to_string(),
                        value: String::new(),
                        effect,
                    }));
                }
            }
            m.pods.retain(|_, p| {
                let on = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name);
                let done = matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                );
                !on || done
            });
            m.reconcile_deployments();
            Ok(())
        })
    }

    async fn repair_node(&self, name: &str) -> Result<(), RealError> {
        self.with(|m| {
            m.calls.push(Call::RepairNode(name.to_string()));
            if let Some(n) = m.nodes.get_mut(name)
                && let Some(t) = n.spec.as_mut().and_then(|s| s.taints.as_mut())
            {
                t.retain(|t| {
                    core_taint(t).is_none_or(|t| t.key != drydock_core::cluster::TAINT_UNREACHABLE)
                });
            }
            Ok(())
        })
    }

    async fn finish_pod(&self, pod: &Pod, outcome: PodOutcome) -> Result<(), RealError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        self.with(|m| {
            m.calls
                .push(Call::Finish(name.clone(), outcome == PodOutcome::Succeeded));
            if m.failing_finishes > 0 {
                m.failing_finishes -= 1;
                return Err(RealError::Timeout(format!(
                    "status write of {name} timed out (test)"
                )));
            }
            if let Some(p) = m.pods.get_mut(&name) {
                mem_phase(
                    p,
                    match outcome {
                        PodOutcome::Succeeded => "Succeeded",
                        PodOutcome::Failed(_) => "Failed",
                    },
                );
            }
            Ok(())
        })
    }
}
