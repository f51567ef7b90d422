//! A watcher of one run's pods, nodes and Deployments that checks, at every state the API server reports,
//! the invariants drydock's scheduler must keep on a real cluster: no node's `nvidia.com/gpu`
//! over-committed, each pod bound at most once, gangs bound all or nothing. Live tests start
//! one before a run and read what it [`Observed`] after.
//!
//! It reads only the API (two kube-runtime watchers, one of the namespace's pods and one of the
//! run's nodes), never drydock's own bookkeeping, so it also catches what the driver believes
//! wrongly. A watch delivers each object's successive states in the order the API server
//! committed them, so the per-node sums it computes after each pod event are states the
//! cluster really was in, not a mix of moments.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};

use crate::names::{
    ANN_GANG_SIZE, LABEL_ATTEMPT, LABEL_GANG, LABEL_JOB, LABEL_WORKER, RESOURCE_GPU, run_selector,
};
use crate::objects::parse_quantity;
use crate::snapshot::{is_terminal, node_of};

/// What the monitor saw of one pod name (all its incarnations: drydock never reuses a name, so
/// more than one UID is itself worth reporting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSeen {
    /// Job index (label `drydock.io/job`).
    pub job: Option<u32>,
    /// Worker index (label `drydock.io/worker`).
    pub worker: Option<u32>,
    /// Attempt (label `drydock.io/attempt`).
    pub attempt: Option<u32>,
    /// Gang (label `drydock.io/gang`).
    pub gang: Option<String>,
    /// Gang size (annotation `drydock.io/gang-size`).
    pub gang_size: Option<u32>,
    /// `nvidia.com/gpu` requested over its containers.
    pub gpus: u64,
    /// Every (UID, node) binding seen, in order: one entry per bind.
    pub binds: Vec<(String, String)>,
    /// Last phase seen.
    pub phase: Option<String>,
    /// True once seen `Succeeded`.
    pub succeeded: bool,
    /// True once seen `Failed`.
    pub failed: bool,
    /// When first seen with a `deletionTimestamp`.
    pub deleting_since: Option<Instant>,
    /// When first seen.
    pub first_seen: Instant,
    /// When first seen bound.
    pub bound_at: Option<Instant>,
    /// When first seen `Succeeded` or `Failed`.
    pub terminal_at: Option<Instant>,
    /// When seen deleted.
    pub gone_at: Option<Instant>,
}

impl PodSeen {
    /// The node it was (first) bound to.
    pub fn node(&self) -> Option<&str> {
        self.binds.first().map(|(_, n)| n.as_str())
    }
}

/// What the monitor saw of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSeen {
    /// Allocatable `nvidia.com/gpu`, last seen.
    pub gpus: Option<u64>,
    /// When first seen tainted `node.kubernetes.io/unreachable` or `not-ready` with effect
    /// NoExecute (the taint that makes the controller-manager evict its pods) after having been
    /// seen without it.
    pub unreachable_since: Option<Instant>,
    /// Seen once without a NoExecute `unreachable`/`not-ready` taint.
    pub was_ready: bool,
    /// Most GPUs requested at once by live pods bound to it.
    pub max_gpus_used: u64,
    /// Seen cordoned (`spec.unschedulable`).
    pub cordoned: bool,
    /// Seen deleted.
    pub deleted: bool,
}

/// A moment at which a node's live pods requested more GPUs than it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overcommit {
    /// Node name.
    pub node: String,
    /// GPUs requested by its live pods.
    pub used: u64,
    /// Its allocatable GPUs.
    pub allocatable: u64,
    /// The live pods bound to it then.
    pub pods: Vec<String>,
}

/// What the monitor saw of one Deployment (an inference service).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentSeen {
    /// Every `spec.replicas` seen, in order, consecutive repeats dropped: the creation's
    /// value, then each write (the HPA's, through the scale subresource).
    pub spec_replicas: Vec<i32>,
    /// Most `status.replicas` (pods the ReplicaSets own) seen at once.
    pub max_status_replicas: i32,
    /// Least `status.replicas` seen once the Deployment had reported a status.
    pub min_status_replicas: Option<i32>,
}

/// Everything the monitor saw.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Pods by name.
    pub pods: BTreeMap<String, PodSeen>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeSeen>,
    /// Over-commits, at most 100.
    pub overcommits: Vec<Overcommit>,
    /// Pod events handled.
    pub pod_events: u64,
    /// Watch errors (the watchers retry with backoff; a relist follows).
    pub watch_errors: u64,
    /// Deployments of the namespace by name.
    pub deployments: BTreeMap<String, DeploymentSeen>,
}

impl Observed {
    /// Pods bound more than once (two binds, whatever their UIDs and nodes), with their binds.
    pub fn bound_twice(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.pods
            .iter()
            .filter(|(_, p)| p.binds.len() > 1)
            .map(|(n, p)| (n.clone(), p.binds.clone()))
            .collect()
    }

    /// Gangs some but not all of whose pods were ever bound, with (bound, size). A gang's pods
    /// are bound by concurrent requests, so the API shows it partly bound for a moment; at the
    /// end of a run each gang must have had all its pods bound or none.
    pub fn partial_gangs(&self) -> Vec<(String, u32, u32)> {
        let mut gangs: BTreeMap<&str, (BTreeSet<u32>, u32, u32)> = BTreeMap::new();
        for p in self.pods.values() {
            let (Some(gang), Some(worker)) = (p.gang.as_deref(), p.worker) else {
                continue;
            };
            let g = gangs.entry(gang).or_default();
            g.2 = g.2.max(p.gang_size.unwrap_or(0));
            g.1 += 1;
            if !p.binds.is_empty() {
                g.0.insert(worker);
            }
        }
        gangs
            .into_iter()
            .filter_map(|(gang, (bound, _, size))| {
                let b = bound.len() as u32;
                (b > 0 && b < size).then(|| (gang.to_string(), b, size))
            })
            .collect()
    }

    /// For each gang whose pods were all bound, the wall time from its first bind to its last
    /// as the watch saw them; the longest first.
    pub fn gang_bind_spans(&self) -> Vec<(String, Duration)> {
        let mut gangs: BTreeMap<&str, (Instant, Instant, u32, u32)> = BTreeMap::new();
        for p in self.pods.values() {
            let (Some(gang), Some(at)) = (p.gang.as_deref(), p.bound_at) else {
                continue;
            };
            let g = gangs
                .entry(gang)
                .or_insert((at, at, 0, p.gang_size.unwrap_or(0)));
            g.0 = g.0.min(at);
            g.1 = g.1.max(at);
            g.2 += 1;
        }
        let mut out: Vec<(String, Duration)> = gangs
            .into_iter()
            .filter(|(_, (_, _, n, size))| n == size)
            .map(|(g, (first, last, _, _))| (g.to_string(), last - first))
            .collect();
        out.sort_by_key(|g| std::cmp::Reverse(g.1));
        out
    }
}

/// A running monitor; [`ApiMonitor::stop`] ends it and returns what it saw.
pub struct ApiMonitor {
    seen: Arc<Mutex<Observed>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn label_u32(p: &Pod, key: &str) -> Option<u32> {
    p.metadata.labels.as_ref()?.get(key)?.parse().ok()
}

fn pod_gpus(p: &Pod) -> u64 {
    p.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(RESOURCE_GPU))
        .filter_map(|q| parse_quantity(&q.0, 0))
        .sum()
}

fn node_noexecute_down(n: &Node) -> bool {
    n.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| {
            t.iter().any(|t| {
                t.effect == "NoExecute"
                    && (t.key == drydock_core::cluster::TAINT_UNREACHABLE
                        || t.key == drydock_core::cluster::TAINT_NOT_READY)
            })
        })
}

/// Live pods: seen, not gone, not terminal. Their GPUs count on their node.
#[derive(Default)]
struct Live {
    pods: BTreeMap<String, (String, u64)>,
}

impl Observed {
    fn pod_event(&mut self, live: &mut Live, p: &Pod, deleted: bool) {
        let Some(name) = p.metadata.name.clone() else {
            return;
        };
        let now = Instant::now();
        self.pod_events += 1;
        let uid = p.metadata.uid.clone().unwrap_or_default();
        let seen = self.pods.entry(name.clone()).or_insert_with(|| PodSeen {
            job: label_u32(p, LABEL_JOB),
            worker: label_u32(p, LABEL_WORKER),
            attempt: label_u32(p, LABEL_ATTEMPT),
            gang: p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_GANG))
                .cloned(),
            gang_size: p
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANN_GANG_SIZE))
                .and_then(|v| v.parse().ok()),
            gpus: pod_gpus(p),
            binds: Vec::new(),
            phase: None,
            succeeded: false,
            failed: false,
            deleting_since: None,
            first_seen: now,
            bound_at: None,
            terminal_at: None,
            gone_at: None,
        });
        if let Some(node) = node_of(p)
            && !seen
                .binds
                .iter()
                .any(|(u, n)| *u == uid && n.as_str() == node)
        {
            seen.binds.push((uid, node.to_string()));
            seen.bound_at.get_or_insert(now);
        }
        let phase = p.status.as_ref().and_then(|s| s.phase.clone());
        seen.succeeded |= phase.as_deref() == Some("Succeeded");
        seen.failed |= phase.as_deref() == Some("Failed");
        if seen.succeeded || seen.failed {
            seen.terminal_at.get_or_insert(now);
        }
        seen.phase = phase;
        if p.metadata.deletion_timestamp.is_some() {
            seen.deleting_since.get_or_insert(now);
        }
        if deleted {
            seen.gone_at = Some(now);
        }
        let gpus = seen.gpus;
        // Accounting as kube-scheduler's: a bound pod holds its requests until it is terminal
        // or gone (terminating pods included).
        let before = live.pods.remove(&name).map(|(n, _)| n);
        if !deleted
            && !is_terminal(p)
            && let Some(node) = node_of(p)
        {
            live.pods.insert(name.clone(), (node.to_string(), gpus));
        }
        let after = live.pods.get(&name).map(|(n, _)| n.clone());
        if let Some(node) = after
            && before.as_deref() != Some(node.as_str())
        {
            self.check_node(live, &node);
        }
    }

    fn check_node(&mut self, live: &Live, node: &str) {
        let pods: Vec<(&String, u64)> = live
            .pods
            .iter()
            .filter(|(_, (n, _))| n == node)
            .map(|(name, (_, g))| (name, *g))
            .collect();
        let used: u64 = pods.iter().map(|(_, g)| g).sum();
        let entry = self.nodes.entry(node.to_string()).or_default();
        entry.max_gpus_used = entry.max_gpus_used.max(used);
        if let Some(alloc) = entry.gpus
            && used > alloc
            && self.overcommits.len() < 100
        {
            self.overcommits.push(Overcommit {
                node: node.to_string(),
                used,
                allocatable: alloc,
                pods: pods.iter().map(|(n, _)| (*n).clone()).collect(),
            });
        }
    }

    fn deployment_event(&mut self, d: &Deployment) {
        let Some(name) = d.metadata.name.clone() else {
            return;
        };
        let e = self.deployments.entry(name).or_default();
        if let Some(r) = d.spec.as_ref().and_then(|s| s.replicas)
            && e.spec_replicas.last() != Some(&r)
        {
            e.spec_replicas.push(r);
        }
        if let Some(r) = d.status.as_ref().and_then(|s| s.replicas) {
            e.max_status_replicas = e.max_status_replicas.max(r);
            e.min_status_replicas = Some(e.min_status_replicas.map_or(r, |m| m.min(r)));
        }
    }

    fn node_event(&mut self, n: &Node) {
        let Some(name) = n.metadata.name.clone() else {
            return;
        };
        let entry = self.nodes.entry(name).or_default();
        if let Some(g) = n
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(RESOURCE_GPU))
            .and_then(|q| parse_quantity(&q.0, 0))
        {
            entry.gpus = Some(g);
        }
        if node_noexecute_down(n) {
            if entry.was_ready {
                entry.unreachable_since.get_or_insert_with(Instant::now);
            }
        } else if crate::driver::node_ready(n) {
            entry.was_ready = true;
        }
        if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
            entry.cordoned = true;
        }
    }
}

impl ApiMonitor {
    /// Starts watching the pods and Deployments of `namespace` (which need not exist yet) and
    /// the nodes of run `run`.
    pub fn start(client: kube::Client, namespace: &str, run: &str) -> Self {
        let client_d = client.clone();
        let seen = Arc::new(Mutex::new(Observed::default()));
        let pods = watcher(
            Api::<Pod>::namespaced(client.clone(), namespace),
            watcher::Config::default(),
        )
        .backoff(crate::session::WatchBackoff::default());
        let s = Arc::clone(&seen);
        let pod_task = tokio::spawn(async move {
            let mut live = Live::default();
            // Pods listed by the current (re)list, to find those deleted while disconnected.
            let mut listed: Option<BTreeSet<String>> = None;
            futures::pin_mut!(pods);
            while let Some(ev) = pods.next().await {
                let mut o = s.lock().unwrap_or_else(|p| p.into_inner());
                match ev {
                    Ok(watcher::Event::Apply(p)) => o.pod_event(&mut live, &p, false),
                    Ok(watcher::Event::Delete(p)) => o.pod_event(&mut live, &p, true),
                    Ok(watcher::Event::Init) => listed = Some(BTreeSet::new()),
                    Ok(watcher::Event::InitApply(p)) => {
                        if let (Some(l), Some(n)) = (listed.as_mut(), p.metadata.name.clone()) {
                            l.insert(n);
                        }
                        o.pod_event(&mut live, &p, false);
                    }
                    Ok(watcher::Event::InitDone) => {
                        let listed = listed.take().unwrap_or_default();
                        let gone: Vec<String> = live
                            .pods
                            .keys()
                            .filter(|n| !listed.contains(*n))
                            .cloned()
                            .collect();
                        let now = Instant::now();
                        for n in gone {
                            live.pods.remove(&n);
                            if let Some(p) = o.pods.get_mut(&n) {
                                p.gone_at.get_or_insert(now);
                            }
                        }
                    }
                    Err(_) => o.watch_errors += 1,
                }
            }
        });
        let nodes = watcher(
            Api::<Node>::all(client),
            watcher::Config::default().labels(&run_selector(run)),
        )
        .backoff(crate::session::WatchBackoff::default());
        let s = Arc::clone(&seen);
        let node_task = tokio::spawn(async move {
            futures::pin_mut!(nodes);
            while let Some(ev) = nodes.next().await {
                let mut o = s.lock().unwrap_or_else(|p| p.into_inner());
                match ev {
                    Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => o.node_event(&n),
                    Ok(watcher::Event::Delete(n)) => {
                        if let Some(name) = n.metadata.name {
                            o.nodes.entry(name).or_default().deleted = true;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => o.watch_errors += 1,
                }
            }
        });
        let deployments = watcher(
            Api::<Deployment>::namespaced(client_d, namespace),
            watcher::Config::default(),
        )
        .default_backoff();
        let s = Arc::clone(&seen);
        let deployment_task = tokio::spawn(async move {
            futures::pin_mut!(deployments);
            while let Some(ev) = deployments.next().await {
                let mut o = s.lock().unwrap_or_else(|p| p.into_inner());
                match ev {
                    Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) => {
                        o.deployment_event(&d)
                    }
                    Ok(_) => {}
                    Err(_) => o.watch_errors += 1,
                }
            }
        });
        ApiMonitor {
            seen,
            tasks: vec![pod_task, node_task, deployment_task],
        }
    }

    /// What it saw so far.
    pub fn observed(&self) -> Observed {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops watching and returns what it saw.
    pub fn stop(self) -> Observed {
        for t in &self.tasks {
            t.abort();
        }
        self.observed()
    }
}

impl Drop for ApiMonitor {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
