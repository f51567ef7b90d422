//! The fake kubelet: registers fake GPU nodes, keeps them Ready by renewing their Leases from a
//! dedicated task, moves pods bound to them to Running and Ready, and later to Succeeded or
//! Failed when drydock says their work ended, and force-deletes terminating pods
//! (real-cluster.md §3; the reference behaviour is kubernetes-sigs/kwok v0.8.0
//! `kustomize/stage/node/*` and `kustomize/stage/pod/fast/{pod-ready,pod-complete,pod-delete}.yaml`).
//!
//! A failed node is a dead kubelet: its Lease is no longer renewed and its pods are left alone,
//! so the controller-manager's node lifecycle controller marks it NotReady, taints it
//! `node.kubernetes.io/unreachable` and evicts its pods after their `tolerationSeconds`
//! (kubernetes-semantics.md §6.1 \[src\]). It only ever writes objects labelled as its run's.
//!
//! While the API server is unreachable (a restart), Lease renewals and status writes fail and
//! are retried on the next pass. An outage shorter than the controller-manager's
//! `--node-monitor-grace-period` leaves the nodes Ready; after a longer one the
//! controller-manager marks them `Unknown`, and [`FakeKubelet::status_pass`] posts them Ready
//! again, as a kubelet reasserts its node status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drydock_core::SimDuration;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::Clock;
use crate::error::{RealError, status_code};
use crate::names::{
    ANN_STARTUP_DELAY, FIELD_MANAGER_KUBELET, LEASE_NAMESPACE, is_ours, owner_labels,
};
use crate::objects::{FakeNodeSpec, node_capacity, node_object};

/// Timing of the fake kubelet, in wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeletConfig {
    /// `leaseDurationSeconds` of node Leases: 40 s (kubelet default,
    /// `pkg/kubelet/apis/config/v1beta1/defaults.go`, kubernetes-semantics.md §6.1 \[src\]).
    pub lease_duration_s: i32,
    /// Lease renewal period: 10 s, ¼ of the duration (kwok
    /// `pkg/kwok/controllers/node_lease_controller.go`, §6.1 \[2nd\]).
    pub renew_interval: Duration,
    /// How often the pod loop looks at the pods store.
    pub resync: Duration,
    /// Concurrent API requests of each kind of work: registering nodes, renewing Leases, and
    /// pod status writes and force-deletions. kube-rs speaks HTTP/1.1 to the API server, so
    /// each request in flight holds its own connection: this also bounds the connections.
    pub concurrency: usize,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            lease_duration_s: 40,
            renew_interval: Duration::from_secs(10),
            resync: Duration::from_millis(100),
            concurrency: 32,
        }
    }
}

impl KubeletConfig {
    /// The configuration for a controller-manager whose `--node-monitor-grace-period` is
    /// `grace_wall`: Leases last 40 s (or the grace period, if shorter, at least 1 s) and are
    /// renewed four times per grace period, at most every 10 s and at least every 250 ms.
    pub fn for_grace_period(grace_wall: Duration) -> Self {
        let renew = (grace_wall / 4).clamp(Duration::from_millis(250), Duration::from_secs(10));
        KubeletConfig {
            lease_duration_s: (grace_wall.as_secs() as i32).clamp(1, 40),
            renew_interval: renew,
            ..Default::default()
        }
    }
}

/// How a pod's work ended, for [`FakeKubelet::finish_pod`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodOutcome {
    /// Exit code 0: phase `Succeeded`.
    Succeeded,
    /// A non-zero exit code: phase `Failed`.
    Failed(i32),
}

#[derive(Debug, Default)]
struct State {
    /// Node name → alive (a dead node's kubelet does nothing).
    nodes: BTreeMap<String, NodeEntry>,
    /// Pod uids whose Running transition is scheduled or done.
    started: BTreeSet<String>,
    /// Pod uids being force-deleted.
    deleting: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct NodeEntry {
    alive: bool,
    spec: FakeNodeSpec,
    index: u32,
    /// When its Lease was last created or renewed (when the request was sent).
    renewed: Instant,
}

/// The fake kubelet of one run: the nodes it registered and the pods of its run bound to them.
pub struct FakeKubelet<C: Clock> {
    client: kube::Client,
    server: String,
    run: String,
    config: KubeletConfig,
    clock: Arc<C>,
    state: Mutex<State>,
    /// Permits for pod status writes and force-deletions ([`KubeletConfig::concurrency`]), so
    /// thousands of pods bound at once do not become thousands of requests (and connections)
    /// at once.
    pod_writes: Semaphore,
}

/// Patch parameters of the fake kubelet's writes (field manager [`FIELD_MANAGER_KUBELET`]).
fn kubelet_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER_KUBELET.to_string()),
        ..Default::default()
    }
}

/// Create parameters of the fake kubelet's writes (field manager [`FIELD_MANAGER_KUBELET`]).
fn kubelet_post() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER_KUBELET.to_string()),
        ..Default::default()
    }
}

fn now_time() -> Time {
    Time(Timestamp::now())
}

/// A loopback address for fake node `i` (nothing ever connects to it).
fn fake_ip(prefix: u8, i: u32) -> String {
    format!("127.{prefix}.{}.{}", (i >> 8) & 0xff, i & 0xff)
}

/// The status of a fake node as a merge patch: capacity and allocatable, a `Ready` condition
/// (True, or Unknown when `ready` is false) with fresh heartbeat, `nodeInfo`, addresses.
pub fn node_status_patch(spec: &FakeNodeSpec, index: u32, ready: bool) -> serde_json::Value {
    let now = now_time();
    let cap = node_capacity(spec);
    let cond = |t: &str, status: &str, reason: &str, message: &str| {
        json!({"type": t, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!({
        "status": {
            "capacity": cap,
            "allocatable": cap,
            "phase": "Running",
            "conditions": [
                if ready { cond("Ready", "True", "KubeletReady", "drydock fake kubelet is posting ready status") }
                else { cond("Ready", "Unknown", "NodeStatusUnknown", "drydock fake kubelet stopped") },
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "fake"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "fake"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "fake"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": fake_ip(77, index)},
                {"type": "Hostname", "address": spec.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "architecture": "amd64", "operatingSystem": "linux",
                "bootID": "", "machineID": "", "systemUUID": "",
                "containerRuntimeVersion": "drydock://fake", "kernelVersion": "fake",
                "kubeletVersion": "v1.36.3-drydock-fake", "kubeProxyVersion": "",
                "osImage": "drydock fake node"
            }
        }
    })
}

/// The Node object of `spec` for run `run` with its status ([`node_status_patch`], Ready) set:
/// what [`FakeKubelet::register`] creates.
pub fn node_with_status(spec: &FakeNodeSpec, run: &str, index: u32) -> Node {
    let mut node = node_object(spec, run);
    let status = node_status_patch(spec, index, true)["status"].take();
    // The patch is built from typed values, so it always reads back as a NodeStatus.
    node.status = serde_json::from_value(status).ok();
    node
}

/// True when `node`'s status has a `Ready=True` condition.
fn has_ready_condition(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The status of a pod that started on `node`: Running, all conditions True, its one container
/// running and ready, fake host and pod IPs (kwok `pod-ready` stage).
pub fn pod_running_patch(pod: &Pod, host_ip: &str, pod_ip: &str) -> serde_json::Value {
    let now = now_time();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": now});
    let containers: Vec<serde_json::Value> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            json!({"name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "",
                   "containerID": format!("drydock://{}", c.name), "ready": true, "started": true,
                   "restartCount": 0, "state": {"running": {"startedAt": now}}})
        })
        .collect();
    json!({
        "status": {
            "phase": "Running",
            "startTime": now,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "conditions": [cond("PodScheduled"), cond("Initialized"), cond("ContainersReady"), cond("Ready")],
            "containerStatuses": containers,
        }
    })
}

/// The status of a pod whose work ended: `Succeeded` (exit 0) or `Failed` with the exit code,
/// containers terminated and no longer ready (kwok `pod-complete` stage).
pub fn pod_finished_patch(pod: &Pod, outcome: PodOutcome) -> serde_json::Value {
    let now = now_time();
    let (phase, code, reason) = match outcome {
        PodOutcome::Succeeded => ("Succeeded", 0, "Completed"),
        PodOutcome::Failed(c) => ("Failed", c, "Error"),
    };
    let containers: Vec<serde_json::Value> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            json!({"name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "",
                   "containerID": format!("drydock://{}", c.name), "ready": false, "started": false,
                   "restartCount": 0, "state": {"terminated": {"exitCode": code, "reason": reason,
                   "startedAt": now, "finishedAt": now}}})
        })
        .collect();
    let cond = |t: &str, s: &str| json!({"type": t, "status": s, "lastTransitionTime": now});
    json!({
        "status": {
            "phase": phase,
            "conditions": [cond("PodScheduled", "True"), cond("Initialized", "True"),
                           cond("ContainersReady", "False"), cond("Ready", "False")],
            "containerStatuses": containers,
        }
    })
}

/// The startup delay of `pod` (its [`ANN_STARTUP_DELAY`] annotation, scenario microseconds; 0
/// when absent or malformed).
pub fn startup_delay(pod: &Pod) -> SimDuration {
    SimDuration(
        pod.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANN_STARTUP_DELAY))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    )
}

impl<C: Clock> FakeKubelet<C> {
    /// A fake kubelet for run `run` talking to `client` (whose server URL is `server`, for
    /// messages), with scenario time from `clock`.
    pub fn new(
        client: kube::Client,
        server: impl Into<String>,
        run: impl Into<String>,
        config: KubeletConfig,
        clock: Arc<C>,
    ) -> Self {
        FakeKubelet {
            client,
            server: server.into(),
            run: run.into(),
            clock,
            pod_writes: Semaphore::new(config.concurrency.max(1)),
            config,
            state: Mutex::new(State::default()),
        }
    }

    fn err(&self, e: kube::Error, verb: &str, resource: &str, ns: Option<&str>) -> RealError {
        RealError::from_kube(e, &self.server, verb, resource, ns)
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut g = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Names of the nodes registered and alive.
    pub fn alive_nodes(&self) -> Vec<String> {
        self.with_state(|s| {
            s.nodes
                .iter()
                .filter(|(_, e)| e.alive)
                .map(|(n, _)| n.clone())
                .collect()
        })
    }

    /// Registers a fake node: creates the Node with its status (GPUs, Ready) in one request,
    /// as the kubelet does (`registerWithAPIServer` posts the Node with the status it computed;
    /// the API server keeps the status of a new Node), and its Lease in `kube-node-lease` with
    /// an owner reference to the Node. A Node that already exists and is this run's (a
    /// re-registration) gets a fresh Ready status through the status subresource instead.
    ///
    /// # Errors
    /// [`RealError::NotOurs`] when a Node or Lease of that name exists and is not this run's;
    /// API errors ([`RealError::Forbidden`] for missing permissions).
    pub async fn register(&self, spec: &FakeNodeSpec) -> Result<(), RealError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let index = self.with_state(|s| {
            let i = s.nodes.len() as u32;
            s.nodes.get(&spec.name).map(|e| e.index).unwrap_or(i)
        });
        let sent = Instant::now();
        let created = nodes
            .create(&kubelet_post(), &node_with_status(spec, &self.run, index))
            .await;
        let (node, status_written) = match created {
            // A server that dropped the status on create gets it through the subresource.
            Ok(n) => {
                let ready = has_ready_condition(&n);
                (n, ready)
            }
            Err(e) if status_code(&e) == Some(409) => match nodes.get_opt(&spec.name).await {
                Ok(Some(n)) if is_ours(&n.metadata, Some(&self.run)) => (n, false),
                Ok(Some(_)) => {
                    return Err(RealError::NotOurs {
                        kind: "Node",
                        name: spec.name.clone(),
                        namespace: None,
                    });
                }
                // Deleted since: report the conflict; the caller may register again.
                Ok(None) => return Err(self.err(e, "create", "nodes", None)),
                Err(e) => return Err(self.err(e, "get", "nodes", None)),
            },
            Err(e) => return Err(self.err(e, "create", "nodes", None)),
        };
        if !status_written {
            nodes
                .patch_status(
                    &spec.name,
                    &kubelet_params(),
                    &Patch::Merge(node_status_patch(spec, index, true)),
                )
                .await
                .map_err(|e| self.err(e, "patch", "nodes/status", None))?;
        }
        self.ensure_lease(&node).await?;
        self.with_state(|s| {
            s.nodes.insert(
                spec.name.clone(),
                NodeEntry {
                    alive: true,
                    spec: spec.clone(),
                    index,
                    renewed: sent,
                },
            );
        });
        Ok(())
    }

    /// Registers every node of `specs`, `concurrency` at a time.
    ///
    /// # Errors
    /// The first error of [`FakeKubelet::register`]; the nodes registered before it stay
    /// registered (clean them up with [`FakeKubelet::remove`]).
    pub async fn register_all(&self, specs: &[FakeNodeSpec]) -> Result<(), RealError> {
        let mut results = futures::stream::iter(specs.iter().map(|s| self.register(s)))
            .buffer_unordered(self.config.concurrency.max(1));
        while let Some(r) = results.next().await {
            r?;
        }
        Ok(())
    }

    /// Creates `node`'s Lease (owned by the Node, so it is garbage-collected with it), or
    /// renews it if it exists and is this run's.
    async fn ensure_lease(&self, node: &Node) -> Result<(), RealError> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), LEASE_NAMESPACE);
        let now = MicroTime(Timestamp::now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(LEASE_NAMESPACE.to_string()),
                labels: Some(owner_labels(&self.run)),
                owner_references: node.metadata.uid.clone().map(|uid| {
                    vec![OwnerReference {
                        api_version: "v1".to_string(),
                        kind: "Node".to_string(),
                        name: name.clone(),
                        uid,
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(name.clone()),
                lease_duration_seconds: Some(self.config.lease_duration_s),
                renew_time: Some(now),
                ..Default::default()
            }),
        };
        match leases.create(&kubelet_post(), &lease).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(409) => match leases.get_opt(&name).await {
                Ok(Some(existing)) if is_ours(&existing.metadata, Some(&self.run)) => {
                    self.renew(&name).await
                }
                Ok(Some(_)) => Err(RealError::NotOurs {
                    kind: "Lease",
                    name,
                    namespace: Some(LEASE_NAMESPACE.to_string()),
                }),
                Ok(None) => Err(self.err(e, "create", "leases", Some(LEASE_NAMESPACE))),
                Err(e) => Err(self.err(e, "get", "leases", Some(LEASE_NAMESPACE))),
            },
            Err(e) => Err(self.err(e, "create", "leases", Some(LEASE_NAMESPACE))),
        }
    }

    async fn renew(&self, name: &str) -> Result<(), RealError> {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), LEASE_NAMESPACE);
        let patch = json!({"spec": {"renewTime": MicroTime(Timestamp::now()),
                                    "holderIdentity": name,
                                    "leaseDurationSeconds": self.config.lease_duration_s}});
        leases
            .patch(name, &kubelet_params(), &Patch::Merge(patch))
            .await
            .map(|_| ())
            .map_err(|e| self.err(e, "patch", "leases", Some(LEASE_NAMESPACE)))
    }

    /// Renews the Lease of every alive node once, `concurrency` at a time. A Lease that is gone
    /// (404) is recreated. Returns the number of failed renewals (each logged).
    pub async fn renew_all(&self) -> usize {
        self.renew_nodes(self.alive_nodes()).await
    }

    /// Renews the Leases of the alive nodes whose last renewal is at least `renew_interval`
    /// old (or will be within `early`); returns the number of failed renewals.
    async fn renew_due(&self, early: Duration) -> usize {
        let due_before = Instant::now() + early;
        let mut due: Vec<(Instant, String)> = self.with_state(|s| {
            s.nodes
                .iter()
                .filter(|(_, e)| e.alive && e.renewed + self.config.renew_interval <= due_before)
                .map(|(n, e)| (e.renewed, n.clone()))
                .collect()
        });
        // Stalest first: when the API server cannot keep up, the Leases nearest to expiry go
        // first.
        due.sort();
        let due: Vec<String> = due.into_iter().map(|(_, n)| n).collect();
        if due.is_empty() {
            return 0;
        }
        self.renew_nodes(due).await
    }

    async fn renew_nodes(&self, names: Vec<String>) -> usize {
        let mut failed = 0;
        let mut first: Option<RealError> = None;
        let mut results = futures::stream::iter(names.into_iter().map(|n| async move {
            let sent = Instant::now();
            let r = self.renew_or_recreate(&n).await;
            (n, sent, r)
        }))
        .buffer_unordered(self.config.concurrency.max(1));
        while let Some((name, sent, r)) = results.next().await {
            match r {
                Ok(()) => self.with_state(|s| {
                    if let Some(e) = s.nodes.get_mut(&name) {
                        e.renewed = e.renewed.max(sent);
                    }
                }),
                Err(e) => {
                    failed += 1;
                    first.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first {
            tracing::warn!(failed, error = %e, "lease renewals failed");
        }
        failed
    }

    async fn renew_or_recreate(&self, name: &str) -> Result<(), RealError> {
        match self.renew(name).await {
            Err(RealError::Api { source, .. }) if status_code(&source) == Some(404) => {
                let nodes: Api<Node> = Api::all(self.client.clone());
                match nodes.get_opt(name).await {
                    Ok(Some(n)) if is_ours(&n.metadata, Some(&self.run)) => {
                        self.ensure_lease(&n).await
                    }
                    // Gone while its kubelet lives (deleted by someone, or a reset control
                    // plane): a kubelet registers its node again.
                    Ok(None) => {
                        match self.with_state(|s| s.nodes.get(name).map(|e| e.spec.clone())) {
                            Some(spec) => self.register(&spec).await,
                            None => Ok(()),
                        }
                    }
                    Ok(Some(_)) => Ok(()),
                    Err(e) => Err(self.err(e, "get", "nodes", None)),
                }
            }
            r => r,
        }
    }

    /// The Lease renewal loop, to run on its own task ([`tokio::spawn`]) so that a busy driver
    /// never delays heartbeats (real-cluster.md §8). Runs until the task is aborted.
    ///
    /// Each Lease is renewed `renew_interval` after its own last renewal, not all at once: the
    /// loop wakes 20 times per interval and renews the Leases that are due, so nodes registered
    /// over some seconds keep renewing spread over the interval (5,000 nodes renewed every
    /// 10 s make a steady 500 requests per second, not a burst of 5,000). A failed renewal
    /// is retried on the next wake-up.
    pub async fn lease_loop(self: Arc<Self>) {
        let step = (self.config.renew_interval / 20).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(step);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.renew_due(step / 2).await;
        }
    }

    /// One pass of the node status loop over `nodes` (the run's nodes as last observed): each
    /// alive node of this kubelet whose `Ready` condition is not `True` (or is missing) gets a
    /// Ready status posted again. A kubelet reasserts its conditions so: after an API-server
    /// outage longer than the controller-manager's node monitor grace period, the
    /// controller-manager marks every node `Unknown` once it is back, and only the node's
    /// kubelet sets it `True` again. Returns the number of nodes reposted; failures are logged
    /// and retried on the next pass.
    pub async fn status_pass(&self, nodes: &[Arc<Node>]) -> usize {
        let todo: Vec<(String, FakeNodeSpec, u32)> = nodes
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_none())
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                    .is_none_or(|c| c.status != "True")
            })
            .filter_map(|n| {
                let name = n.metadata.name.clone()?;
                self.with_state(|s| {
                    s.nodes
                        .get(&name)
                        .filter(|e| e.alive)
                        .map(|e| (name.clone(), e.spec.clone(), e.index))
                })
            })
            .collect();
        let api: Api<Node> = Api::all(self.client.clone());
        let mut posted = 0;
        for (name, spec, index) in todo {
            match api
                .patch_status(
                    &name,
                    &kubelet_params(),
                    &Patch::Merge(node_status_patch(&spec, index, true)),
                )
                .await
            {
                Ok(_) => posted += 1,
                Err(e) if status_code(&e) == Some(404) => {}
                Err(e) => {
                    tracing::warn!(node = %name, error = %e, "cannot post Ready status; retrying");
                }
            }
        }
        if posted > 0 {
            tracing::info!(
                posted,
                "fake nodes seen not Ready while alive: Ready status posted again"
            );
        }
        posted
    }

    /// The node status loop: a [`FakeKubelet::status_pass`] over `store` every renewal
    /// interval, until the task is aborted.
    pub async fn status_loop(self: Arc<Self>, store: Store<Node>) {
        let mut tick = tokio::time::interval(self.config.renew_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.status_pass(&store.state()).await;
        }
    }

    /// Node failure as a dead kubelet: stops renewing `name`'s Lease and stops acting on its
    /// pods. Returns false if the node is not one of this kubelet's.
    pub fn stop_node(&self, name: &str) -> bool {
        self.with_state(|s| match s.nodes.get_mut(name) {
            Some(e) => {
                e.alive = false;
                true
            }
            None => false,
        })
    }

    /// Repair: the kubelet is back. Posts a Ready status with a fresh heartbeat, renews the
    /// Lease at once and acts on the node's pods again.
    ///
    /// # Errors
    /// API errors of the status patch or the Lease renewal.
    pub async fn restart_node(&self, name: &str) -> Result<(), RealError> {
        let Some(entry) = self.with_state(|s| {
            s.nodes.get_mut(name).map(|e| {
                e.alive = true;
                e.clone()
            })
        }) else {
            return Ok(());
        };
        let nodes: Api<Node> = Api::all(self.client.clone());
        match nodes
            .patch_status(
                name,
                &kubelet_params(),
                &Patch::Merge(node_status_patch(&entry.spec, entry.index, true)),
            )
            .await
        {
            Ok(_) => self.renew_or_recreate(name).await,
            // The node was deleted while down: register it again.
            Err(e) if status_code(&e) == Some(404) => self.register(&entry.spec).await,
            Err(e) => Err(self.err(e, "patch", "nodes/status", None)),
        }
    }

    /// Node failure by deletion, or cleanup: deletes the Node (only if it is this run's) and its
    /// Lease, and forgets it. A node already gone is not an error.
    ///
    /// # Errors
    /// API errors other than 404.
    pub async fn remove(&self, name: &str) -> Result<(), RealError> {
        self.with_state(|s| s.nodes.remove(name));
        let nodes: Api<Node> = Api::all(self.client.clone());
        match nodes.get_opt(name).await {
            Ok(Some(n)) if is_ours(&n.metadata, Some(&self.run)) => {
                match nodes.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if status_code(&e) == Some(404) => {}
                    Err(e) => return Err(self.err(e, "delete", "nodes", None)),
                }
            }
            Ok(_) => {}
            Err(e) => return Err(self.err(e, "get", "nodes", None)),
        }
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), LEASE_NAMESPACE);
        match leases.get_opt(name).await {
            Ok(Some(l)) if is_ours(&l.metadata, Some(&self.run)) => {
                match leases.delete(name, &DeleteParams::default()).await {
                    Ok(_) => Ok(()),
                    Err(e) if status_code(&e) == Some(404) => Ok(()),
                    Err(e) => Err(self.err(e, "delete", "leases", Some(LEASE_NAMESPACE))),
                }
            }
            Ok(_) => Ok(()),
            Err(e) => Err(self.err(e, "get", "leases", Some(LEASE_NAMESPACE))),
        }
    }

    /// Removes every node this kubelet registered (see [`FakeKubelet::remove`]); returns the
    /// errors met, after trying them all.
    pub async fn remove_all(&self) -> Vec<RealError> {
        let names: Vec<String> = self.with_state(|s| s.nodes.keys().cloned().collect());
        futures::stream::iter(names.iter().map(|n| self.remove(n)))
            .buffer_unordered(self.config.concurrency.max(1))
            .filter_map(|r| async move { r.err() })
            .collect()
            .await
    }

    /// Marks `pod` (of this run) finished: `Succeeded` or `Failed` through the status
    /// subresource. A pod that is gone is not an error.
    ///
    /// # Errors
    /// API errors other than 404.
    pub async fn finish_pod(&self, pod: &Pod, outcome: PodOutcome) -> Result<(), RealError> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        if !is_ours(&pod.metadata, Some(&self.run)) {
            return Ok(());
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        match pods
            .patch_status(
                &name,
                &kubelet_params(),
                &Patch::Merge(pod_finished_patch(pod, outcome)),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.err(e, "patch", "pods/status", Some(&ns))),
        }
    }

    /// One pass of the pod loop over `pods` (the run's pods): for each pod of this run on an
    /// alive node, a pod with a `deletionTimestamp` is force-deleted after its
    /// `deletionGracePeriodSeconds` (kwok `pod-delete`), and a bound `Pending` pod is moved to
    /// Running after its startup delay ([`ANN_STARTUP_DELAY`], scenario time on the clock).
    /// Each transition runs on its own task; each pod is handled once.
    pub fn pass(self: &Arc<Self>, pods: &[Arc<Pod>]) {
        enum Work {
            Delete(Arc<Pod>, i64),
            Start(Arc<Pod>, u32, u32),
        }
        // One lock for the whole pass, and no allocation for the pods with nothing to do (the
        // Running ones, nearly all of them at scale): a pass over 10,000 pods every 100 ms
        // must stay cheap.
        let work: Vec<Work> = self.with_state(|s| {
            let mut work = Vec::new();
            for pod in pods {
                let deleting = pod.metadata.deletion_timestamp.is_some();
                let phase = pod.status.as_ref().and_then(|st| st.phase.as_deref());
                if !deleting && !matches!(phase, None | Some("Pending")) {
                    continue;
                }
                let Some(uid) = pod.metadata.uid.as_deref() else {
                    continue;
                };
                if deleting && s.deleting.contains(uid) || !deleting && s.started.contains(uid) {
                    continue;
                }
                let Some(node) = pod.spec.as_ref().and_then(|sp| sp.node_name.as_deref()) else {
                    continue;
                };
                let Some(entry) = s.nodes.get(node).filter(|e| e.alive) else {
                    continue;
                };
                if !is_ours(&pod.metadata, Some(&self.run)) {
                    continue;
                }
                if deleting {
                    s.deleting.insert(uid.to_string());
                    let grace = pod
                        .metadata
                        .deletion_grace_period_seconds
                        .unwrap_or(0)
                        .max(0);
                    work.push(Work::Delete(Arc::clone(pod), grace));
                } else {
                    let index = entry.index;
                    s.started.insert(uid.to_string());
                    work.push(Work::Start(Arc::clone(pod), index, s.started.len() as u32));
                }
            }
            work
        });
        for w in work {
            let me = Arc::clone(self);
            match w {
                Work::Delete(pod, grace) => {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(grace as u64)).await;
                        me.force_delete(&pod).await;
                    });
                }
                Work::Start(pod, index, pod_index) => {
                    let delay = self.clock.wall(startup_delay(&pod));
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        me.start_pod(&pod, index, pod_index).await;
                    });
                }
            }
        }
    }

    async fn start_pod(&self, pod: &Pod, node_index: u32, pod_index: u32) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        // A node that died during the startup delay never starts the pod; forget it so it
        // starts after a repair.
        if !self.with_state(|s| s.nodes.get(&node).is_some_and(|e| e.alive)) {
            self.with_state(|s| {
                if let Some(uid) = &pod.metadata.uid {
                    s.started.remove(uid);
                }
            });
            return;
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let patch = pod_running_patch(pod, &fake_ip(77, node_index), &fake_ip(88, pod_index));
        let Ok(_permit) = self.pod_writes.acquire().await else {
            return;
        };
        match pods
            .patch_status(&name, &kubelet_params(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(status_code(&e), Some(404 | 409 | 422)) => {}
            Err(e) => {
                tracing::warn!(pod = %name, error = %e, "cannot mark pod Running");
                self.with_state(|s| {
                    if let Some(uid) = &pod.metadata.uid {
                        s.started.remove(uid);
                    }
                });
            }
        }
    }

    async fn force_delete(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: pod
                .metadata
                .uid
                .clone()
                .map(|uid| kube::api::Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
            ..Default::default()
        };
        let Ok(_permit) = self.pod_writes.acquire().await else {
            return;
        };
        match pods.delete(&name, &dp).await {
            Ok(_) => {}
            Err(e) if matches!(status_code(&e), Some(404 | 409)) => {}
            Err(e) => {
                tracing::warn!(pod = %name, error = %e, "cannot force-delete pod");
                self.with_state(|s| {
                    if let Some(uid) = &pod.metadata.uid {
                        s.deleting.remove(uid);
                    }
                });
            }
        }
    }

    /// The pod loop: a [`FakeKubelet::pass`] over `store` every `resync`, until the task is
    /// aborted.
    pub async fn pod_loop(self: Arc<Self>, store: Store<Pod>) {
        let mut tick = tokio::time::interval(self.config.resync);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.pass(&store.state());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FakeNodeSpec {
        FakeNodeSpec {
            name: "dd-l4-0".into(),
            scenario_name: "l4-0".into(),
            gpus: 4,
            cpu_milli: 48_000,
            memory_mib: 192 * 1024,
            max_pods: 110,
            labels: BTreeMap::new(),
            taints: vec![],
        }
    }

    #[test]
    fn node_status_advertises_gpus_and_readiness() {
        let p = node_status_patch(&spec(), 300, true);
        let st = &p["status"];
        assert_eq!(st["capacity"]["nvidia.com/gpu"], "4");
        assert_eq!(st["allocatable"]["nvidia.com/gpu"], "4");
        assert_eq!(st["allocatable"]["cpu"], "48000m");
        assert_eq!(st["conditions"][0]["type"], "Ready");
        assert_eq!(st["conditions"][0]["status"], "True");
        assert_eq!(st["addresses"][0]["address"], "127.77.1.44");
        let p = node_status_patch(&spec(), 0, false);
        assert_eq!(p["status"]["conditions"][0]["status"], "Unknown");
    }

    #[test]
    fn lease_timing_follows_the_grace_period() {
        let c = KubeletConfig::for_grace_period(Duration::from_secs(50));
        assert_eq!(c.renew_interval, Duration::from_secs(10));
        assert_eq!(c.lease_duration_s, 40);
        // 50 s at 60x is 833 ms: renew every 250 ms, leases of 1 s.
        let c = KubeletConfig::for_grace_period(Duration::from_millis(833));
        assert_eq!(c.renew_interval, Duration::from_millis(250));
        assert_eq!(c.lease_duration_s, 1);
    }

    #[test]
    fn pod_patches_set_phase_conditions_and_container_states() {
        let pod = Pod {
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                containers: vec![crate::objects::container(Default::default())],
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = pod_running_patch(&pod, "127.77.0.1", "127.88.0.1");
        assert_eq!(r["status"]["phase"], "Running");
        assert_eq!(r["status"]["conditions"][3]["type"], "Ready");
        assert_eq!(r["status"]["containerStatuses"][0]["ready"], true);
        let f = pod_finished_patch(&pod, PodOutcome::Failed(137));
        assert_eq!(f["status"]["phase"], "Failed");
        assert_eq!(
            f["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            137
        );
        let s = pod_finished_patch(&pod, PodOutcome::Succeeded);
        assert_eq!(s["status"]["phase"], "Succeeded");
    }

    #[test]
    fn startup_delay_reads_the_annotation() {
        let mut pod = Pod::default();
        assert_eq!(startup_delay(&pod), SimDuration::ZERO);
        pod.metadata.annotations = Some(BTreeMap::from([(
            ANN_STARTUP_DELAY.to_string(),
            "180000000".to_string(),
        )]));
        assert_eq!(startup_delay(&pod), SimDuration::from_mins(3));
        pod.metadata.annotations = Some(BTreeMap::from([(
            ANN_STARTUP_DELAY.to_string(),
            "-5".to_string(),
        )]));
        assert_eq!(startup_delay(&pod), SimDuration::ZERO);
    }
}
