//! Training jobs on a real cluster: the gang controller's bookkeeping (a PyTorchJob-style
//! "whole gang restarts from its last checkpoint" model) and the pods of each attempt.
//!
//! The job model is the simulator's (`drydock_sim::engine`): work at full gang, blocking
//! checkpoints ([`drydock_sim::progress`]), a restart overhead, `backoffLimit` and the Job
//! controller's restart backoff ([`drydock_sim::engine::restart_backoff`],
//! kubernetes-semantics.md §6.2 \[2nd\]); preemption does not count against `backoffLimit`
//! (§6.2). Every method here is pure bookkeeping on scenario time; the driver does the I/O.

use std::collections::BTreeMap;

use drydock_core::{Cluster, NodeId, SimDuration, SimTime};
use drydock_sim::build::{JobPlan, Plan};
use drydock_sim::engine::restart_backoff;
use drydock_sim::progress::{progress_after, wall_time_for};
use k8s_openapi::api::core::v1::{Pod, PodSpec as KPodSpec, Toleration as KToleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::clock::TimeScale;
use crate::names::{
    ANN_GANG_SIZE, ANN_JOB_NAME, ANN_PRIORITY, ANN_QUEUED_AT, ANN_STARTUP_DELAY, LABEL_ATTEMPT,
    LABEL_GANG, LABEL_JOB, LABEL_POD_GROUP, LABEL_WORKER, SCHEDULER_NAME, TAINT_FAKE_NODE,
    gang_name, owner_labels, pod_name,
};
use crate::objects::{container, pod_resources, set_constraints};

/// Lifecycle phase of a job on the real cluster (the simulator's `Phase` without permit-wait
/// holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobPhase {
    /// Not yet arrived.
    NotArrived,
    /// Its gang's pods exist and wait for drydock's scheduler.
    Pending,
    /// All pods bound; working (or in its restart overhead) until `finish_at`.
    Running,
    /// A node of the gang died: no progress; the pods wait for Kubernetes to evict them.
    Stalled,
    /// Preempted: its pods are being evicted.
    Terminating,
    /// Waiting out the restart backoff before the next attempt's pods are created.
    Backoff,
    /// Finished its work.
    Completed,
    /// Past `backoffLimit`.
    Failed,
}

impl JobPhase {
    /// True for `Completed` and `Failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobPhase::Completed | JobPhase::Failed)
    }
}

/// The state of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    /// Phase.
    pub phase: JobPhase,
    /// Attempt number (the gang of attempt `a` is `gang_name(name, job, a)`); bumped at each
    /// requeue after a restart or preemption.
    pub attempt: u32,
    /// Work saved in checkpoints (or done).
    pub done: SimDuration,
    /// When computing starts in the current run (after the restart overhead).
    pub compute_start: SimTime,
    /// When the current run finishes its work, while Running.
    pub finish_at: Option<SimTime>,
    /// When the job entered the queue last.
    pub queued_since: SimTime,
    /// When the gang was first fully bound.
    pub first_start: Option<SimTime>,
    /// When it completed or failed.
    pub finished: Option<SimTime>,
    /// When it stalled, while stalled.
    pub stalled_at: Option<SimTime>,
    /// End of the restart backoff, while in backoff.
    pub backoff_until: Option<SimTime>,
    /// Restarts after failures.
    pub restarts: u32,
    /// Preemptions.
    pub preemptions: u32,
    /// The last stop was a preemption.
    pub last_stop_preempted: bool,
    /// Nodes nominated by its last preemption, until it binds.
    pub nominated: Vec<NodeId>,
    /// Victim jobs still terminating for its preemption.
    pub awaiting_victims: u32,
    /// The job it was preempted for, while terminating.
    pub preempted_by: Option<u32>,
    /// Node of each worker of the current attempt, once bound.
    pub placement: Vec<Option<NodeId>>,
    /// Pods of the current attempt observed at least once (a pod seen and then gone was
    /// deleted).
    pub seen: Vec<bool>,
}

impl JobState {
    fn new(workers: u32) -> Self {
        JobState {
            phase: JobPhase::NotArrived,
            attempt: 0,
            done: SimDuration::ZERO,
            compute_start: SimTime::ZERO,
            finish_at: None,
            queued_since: SimTime::ZERO,
            first_start: None,
            finished: None,
            stalled_at: None,
            backoff_until: None,
            restarts: 0,
            preemptions: 0,
            last_stop_preempted: false,
            nominated: Vec::new(),
            awaiting_victims: 0,
            preempted_by: None,
            placement: vec![None; workers as usize],
            seen: vec![false; workers as usize],
        }
    }
}

/// Counters of a real run, in the simulator's units (µs, milli-GPU), from which the report's
/// summary is built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunMetrics {
    /// Jobs arrived.
    pub arrived: u64,
    /// Completed jobs.
    pub completed: u64,
    /// Jobs failed past `backoffLimit`.
    pub failed: u64,
    /// Completion times (arrival to completion), µs.
    pub jct_us: Vec<u64>,
    /// Queueing delays (arrival to first full bind), µs.
    pub queueing_delay_us: Vec<u64>,
    /// Node failures by cause: node, gpu, pool, zone.
    pub failures: [u64; 4],
    /// Gang restarts after failures.
    pub restarts: u64,
    /// Jobs preempted.
    pub preemptions: u64,
    /// Work lost since the last checkpoint at failures, GPU·µs.
    pub lost_work_gpu_us: u128,
    /// GPUs held by stalled gangs, GPU·µs.
    pub idle_held_gpu_us: u128,
    /// Restart overhead after failures, GPU·µs.
    pub restart_overhead_gpu_us: u128,
    /// Work lost to preemption, GPU·µs.
    pub preemption_lost_gpu_us: u128,
    /// Restart overhead after preemptions, GPU·µs.
    pub preemption_overhead_gpu_us: u128,
}

/// Settings of the pods drydock creates.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSettings {
    /// drydock's namespace.
    pub namespace: String,
    /// Run id.
    pub run: String,
    /// Time scale (pod grace periods and `tolerationSeconds` are scenario times divided by it).
    pub scale: TimeScale,
    /// Scenario `terminationGracePeriod` (preempted pods keep their resources that long).
    pub termination_grace: SimDuration,
    /// Scenario `tolerationSeconds` for `unreachable`/`not-ready` NoExecute taints (the pods
    /// carry it scaled, in place of the DefaultTolerationSeconds admission plugin's 300 s,
    /// kubernetes-semantics.md §6.1 \[src\]).
    pub toleration: SimDuration,
}

/// The training jobs of a scenario and their states.
#[derive(Debug)]
pub struct Workload {
    /// The simulator's plan: cluster with empty nodes, pod specs, jobs.
    pub plan: Plan,
    /// State of each job (index = job index).
    pub jobs: Vec<JobState>,
    /// Counters.
    pub metrics: RunMetrics,
    /// Jobs by arrival (time, index).
    arrivals: Vec<(SimTime, u32)>,
    next_arrival: usize,
}

fn gpu_milli(plan: &Plan, j: &JobPlan) -> u64 {
    let spec = &plan.specs[j.spec.0 as usize];
    let last = &plan.specs[j.last_spec.0 as usize];
    spec.request.gpu.total_milli() * (j.workers as u64).saturating_sub(1)
        + last.request.gpu.total_milli()
}

/// Pods of a job are counted in these many GPU·µs per µs: milli-GPU / 1000.
fn gpu_us(us: u64, milli: u64) -> u128 {
    us as u128 * milli as u128 / 1000
}

impl Workload {
    /// The workload of `plan`, nothing arrived.
    pub fn new(plan: Plan) -> Self {
        let jobs = plan.jobs.iter().map(|j| JobState::new(j.workers)).collect();
        let mut arrivals: Vec<(SimTime, u32)> = plan
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.arrival, i as u32))
            .collect();
        arrivals.sort_unstable();
        Workload {
            plan,
            jobs,
            metrics: RunMetrics::default(),
            arrivals,
            next_arrival: 0,
        }
    }

    /// The plan of job `j`.
    pub fn job(&self, j: u32) -> Option<&JobPlan> {
        self.plan.jobs.get(j as usize)
    }

    /// GPU milli-GPU job `j`'s gang holds.
    pub fn gpu_milli(&self, j: u32) -> u64 {
        self.job(j).map(|p| gpu_milli(&self.plan, p)).unwrap_or(0)
    }

    /// The gang name of job `j`'s current attempt.
    pub fn gang(&self, j: u32) -> String {
        let name = self.job(j).map(|p| p.name.as_str()).unwrap_or("job");
        let attempt = self.jobs.get(j as usize).map(|s| s.attempt).unwrap_or(0);
        gang_name(name, j, attempt)
    }

    /// The next arrival time, if any job has not arrived.
    pub fn next_arrival(&self) -> Option<SimTime> {
        self.arrivals.get(self.next_arrival).map(|&(t, _)| t)
    }

    /// Jobs arriving at or before `now`, in arrival order (time, then index), marked Pending
    /// and queued at `now`. The caller creates their pods.
    pub fn arrive(&mut self, now: SimTime) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(&(t, j)) = self.arrivals.get(self.next_arrival) {
            if t > now {
                break;
            }
            self.next_arrival += 1;
            self.metrics.arrived += 1;
            self.enqueue(j, now);
            out.push(j);
        }
        out
    }

    fn enqueue(&mut self, j: u32, now: SimTime) {
        let workers = self.job(j).map(|p| p.workers).unwrap_or(1) as usize;
        if let Some(s) = self.jobs.get_mut(j as usize) {
            if s.phase != JobPhase::NotArrived {
                s.attempt += 1;
            }
            s.phase = JobPhase::Pending;
            s.queued_since = now;
            s.backoff_until = None;
            s.placement = vec![None; workers];
            s.seen = vec![false; workers];
        }
    }

    /// True when every job completed or failed and none is left to arrive.
    pub fn all_done(&self) -> bool {
        self.next_arrival >= self.arrivals.len() && self.jobs.iter().all(|s| s.phase.is_terminal())
    }

    /// The gang of job `j` got all its pods bound at `now` on `nodes` (index = worker): it
    /// starts, after its restart overhead if it ran before, unless a node is already down
    /// (`down(node)`), in which case it stalls at once (as the simulator's `start_job`).
    pub fn started(
        &mut self,
        j: u32,
        nodes: &[NodeId],
        now: SimTime,
        down: impl Fn(NodeId) -> bool,
    ) {
        let Some(plan) = self.plan.jobs.get(j as usize) else {
            return;
        };
        let milli = gpu_milli(&self.plan, plan);
        let (work, ckpt, overhead_cfg, arrival) = (
            plan.work,
            plan.checkpoint,
            plan.restart_overhead,
            plan.arrival,
        );
        let Some(s) = self.jobs.get_mut(j as usize) else {
            return;
        };
        s.placement = nodes.iter().copied().map(Some).collect();
        s.nominated.clear();
        if s.first_start.is_none() {
            s.first_start = Some(now);
            self.metrics.queueing_delay_us.push(now.since(arrival).0);
        }
        if nodes.iter().any(|&n| down(n)) {
            s.phase = JobPhase::Stalled;
            s.stalled_at = Some(now);
            s.finish_at = None;
            return;
        }
        let overhead = if s.restarts + s.preemptions > 0 {
            overhead_cfg
        } else {
            SimDuration::ZERO
        };
        if overhead.0 > 0 {
            let g = gpu_us(overhead.0, milli);
            if s.last_stop_preempted {
                self.metrics.preemption_overhead_gpu_us += g;
            } else {
                self.metrics.restart_overhead_gpu_us += g;
            }
        }
        s.phase = JobPhase::Running;
        s.compute_start = now.saturating_add(overhead);
        s.finish_at = work.map(|w| {
            let remaining = SimDuration(w.0.saturating_sub(s.done.0));
            s.compute_start
                .saturating_add(wall_time_for(remaining, ckpt))
        });
    }

    /// The startup delay of job `j`'s next pods: its restart overhead once it has run before.
    pub fn startup_delay(&self, j: u32) -> SimDuration {
        match (self.job(j), self.jobs.get(j as usize)) {
            (Some(p), Some(s)) if s.restarts + s.preemptions > 0 => p.restart_overhead,
            _ => SimDuration::ZERO,
        }
    }

    /// Stops progress of job `j` at `now`: `(lost, saved)` work in µs (the simulator's
    /// `stop_progress`).
    fn stop_progress(&mut self, j: u32, now: SimTime) -> (u64, u64) {
        let (Some(p), Some(s)) = (self.plan.jobs.get(j as usize), self.jobs.get(j as usize)) else {
            return (0, 0);
        };
        let Some(work) = p.work else { return (0, 0) };
        let remaining = SimDuration(work.0.saturating_sub(s.done.0));
        if now <= s.compute_start {
            return (0, 0);
        }
        let (worked, saved) = progress_after(now.since(s.compute_start), remaining, p.checkpoint);
        (worked.0 - saved.0, saved.0)
    }

    /// Job `j` finished its work at `now`.
    pub fn completed(&mut self, j: u32, now: SimTime) {
        let arrival = self.job(j).map(|p| p.arrival).unwrap_or_default();
        if let Some(s) = self.jobs.get_mut(j as usize) {
            s.phase = JobPhase::Completed;
            s.finished = Some(now);
            s.finish_at = None;
            self.metrics.completed += 1;
            self.metrics.jct_us.push(now.since(arrival).0);
        }
    }

    /// A node died at `now` under the Running job `j`: it stalls; the work since its last
    /// checkpoint is lost.
    pub fn stall(&mut self, j: u32, now: SimTime) {
        if self.jobs.get(j as usize).map(|s| s.phase) != Some(JobPhase::Running) {
            return;
        }
        let (lost, saved) = self.stop_progress(j, now);
        let milli = self.gpu_milli(j);
        self.metrics.lost_work_gpu_us += gpu_us(lost, milli);
        if let Some(s) = self.jobs.get_mut(j as usize) {
            s.done = SimDuration(s.done.0 + saved);
            s.phase = JobPhase::Stalled;
            s.stalled_at = Some(now);
            s.finish_at = None;
        }
    }

    /// Counts a restart (GPUs held idle since the stall, one more against `backoffLimit`);
    /// returns true when the job failed (the simulator's `book_restart`).
    fn book_restart(&mut self, j: u32, stalled_at: SimTime, now: SimTime) -> bool {
        let milli = self.gpu_milli(j);
        let limit = self.job(j).map(|p| p.backoff_limit).unwrap_or(0);
        self.metrics.idle_held_gpu_us += gpu_us(now.since(stalled_at).0, milli);
        self.metrics.restarts += 1;
        let Some(s) = self.jobs.get_mut(j as usize) else {
            return true;
        };
        s.stalled_at = None;
        s.restarts += 1;
        s.last_stop_preempted = false;
        if s.restarts <= limit {
            return false;
        }
        s.phase = JobPhase::Failed;
        s.finished = Some(now);
        s.finish_at = None;
        self.metrics.failed += 1;
        true
    }

    /// A pod of job `j`'s gang died (evicted from a dead node, deleted, failed) at `now`: the
    /// gang is torn down and, after the Job controller's backoff, requeued to resume from its
    /// last checkpoint; past `backoffLimit` the job fails (the simulator's `fail_and_restart`).
    /// Returns true when the job must be requeued now (the caller creates its pods); false when
    /// it waits out a backoff, failed, or was not running.
    pub fn fail_and_restart(&mut self, j: u32, now: SimTime) -> bool {
        let Some(phase) = self.jobs.get(j as usize).map(|s| s.phase) else {
            return false;
        };
        if !matches!(phase, JobPhase::Running | JobPhase::Stalled) {
            return false;
        }
        if phase == JobPhase::Running {
            let (lost, saved) = self.stop_progress(j, now);
            let milli = self.gpu_milli(j);
            self.metrics.lost_work_gpu_us += gpu_us(lost, milli);
            if let Some(s) = self.jobs.get_mut(j as usize) {
                s.done = SimDuration(s.done.0 + saved);
            }
        }
        let stalled_at = self
            .jobs
            .get(j as usize)
            .and_then(|s| s.stalled_at)
            .unwrap_or(now);
        if self.book_restart(j, stalled_at, now) {
            return false;
        }
        let restarts = self.jobs.get(j as usize).map(|s| s.restarts).unwrap_or(0);
        let delay = restart_backoff(restarts);
        if delay.0 == 0 {
            self.enqueue(j, now);
            true
        } else {
            if let Some(s) = self.jobs.get_mut(j as usize) {
                s.phase = JobPhase::Backoff;
                s.finish_at = None;
                s.backoff_until = Some(now.saturating_add(delay));
            }
            false
        }
    }

    /// Jobs whose backoff ended at or before `now`, requeued at `now` (the caller creates their
    /// pods), in job order.
    pub fn backoff_expired(&mut self, now: SimTime) -> Vec<u32> {
        let due: Vec<u32> = self
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.phase == JobPhase::Backoff && s.backoff_until.is_some_and(|t| t <= now)
            })
            .map(|(i, _)| i as u32)
            .collect();
        for &j in &due {
            self.enqueue(j, now);
        }
        due
    }

    /// Job `j`'s nodes are all up again at `now` while it was stalled and its pods were never
    /// evicted: it restarts in place from its checkpoint (the simulator's `node_repaired`).
    pub fn restart_in_place(&mut self, j: u32, now: SimTime) {
        let Some(s) = self.jobs.get(j as usize) else {
            return;
        };
        if s.phase != JobPhase::Stalled {
            return;
        }
        let stalled_at = s.stalled_at.unwrap_or(now);
        let nodes: Vec<NodeId> = s.placement.iter().flatten().copied().collect();
        if !self.book_restart(j, stalled_at, now) {
            self.started(j, &nodes, now, |_| false);
        }
    }

    /// Job `j` is preempted at `now` for job `by`: progress stops (work since the last
    /// checkpoint is lost), its pods are to be evicted. Returns false if it was not running: a
    /// stalled job waits for Kubernetes to evict its pods from the dead node, as in the
    /// simulator ([`drydock_core::Preemption::gangs_to_evict`]).
    pub fn preempt(&mut self, j: u32, by: u32, now: SimTime) -> bool {
        self.evict(j, Some(by), now)
    }

    /// Running job `j` is evicted at `now` because its node is drained for deletion (a
    /// Cluster Autoscaler scale-down or a spot interruption; `drydock_sim::engine::evict` with
    /// `Eviction::ScaleDown` or `SpotInterruption`): as a preemption, its pods terminate and it
    /// is requeued, but the work since its last checkpoint counts as lost work and its restart
    /// overhead as a restart's. False when it was not running.
    pub fn evict_for_node_removal(&mut self, j: u32, now: SimTime) -> bool {
        self.evict(j, None, now)
    }

    fn evict(&mut self, j: u32, by: Option<u32>, now: SimTime) -> bool {
        let Some(phase) = self.jobs.get(j as usize).map(|s| s.phase) else {
            return false;
        };
        if phase != JobPhase::Running {
            return false;
        }
        let (lost, saved) = self.stop_progress(j, now);
        let milli = self.gpu_milli(j);
        if by.is_some() {
            self.metrics.preemption_lost_gpu_us += gpu_us(lost, milli);
            self.metrics.preemptions += 1;
        } else {
            self.metrics.lost_work_gpu_us += gpu_us(lost, milli);
        }
        if let Some(s) = self.jobs.get_mut(j as usize) {
            s.done = SimDuration(s.done.0 + saved);
            s.phase = JobPhase::Terminating;
            s.preemptions += 1;
            s.last_stop_preempted = by.is_some();
            s.preempted_by = by;
            s.finish_at = None;
        }
        true
    }

    /// The preempted job `j`'s pods are all gone at `now`: it is requeued (the caller creates
    /// its pods) and its preemptor waits for one victim fewer.
    pub fn terminated(&mut self, j: u32, now: SimTime) {
        let by = self.jobs.get(j as usize).and_then(|s| s.preempted_by);
        if let Some(s) = self.jobs.get_mut(j as usize) {
            s.preempted_by = None;
        }
        self.enqueue(j, now);
        if let Some(p) = by
            && let Some(ps) = self.jobs.get_mut(p as usize)
        {
            ps.awaiting_victims = ps.awaiting_victims.saturating_sub(1);
        }
    }

    /// The pods of job `j`'s current attempt, to create at scenario time `now`.
    pub fn gang_pods(&self, j: u32, settings: &PodSettings) -> Vec<Pod> {
        let (Some(plan), Some(state)) = (self.job(j), self.jobs.get(j as usize)) else {
            return Vec::new();
        };
        let gang = self.gang(j);
        let delay = self.startup_delay(j);
        (0..plan.workers)
            .map(|w| {
                let spec_id = if w + 1 == plan.workers {
                    plan.last_spec
                } else {
                    plan.spec
                };
                let spec = &self.plan.specs[spec_id.0 as usize];
                training_pod(
                    &self.plan.cluster,
                    spec,
                    PodIdentity {
                        job: j,
                        job_name: &plan.name,
                        attempt: state.attempt,
                        worker: w,
                        gang: &gang,
                        gang_size: plan.workers,
                        queued_at: state.queued_since,
                        startup_delay: delay,
                    },
                    settings,
                )
            })
            .collect()
    }
}

/// Who a training pod is.
#[derive(Debug, Clone, Copy)]
pub struct PodIdentity<'a> {
    /// Job index.
    pub job: u32,
    /// Job name from the scenario.
    pub job_name: &'a str,
    /// Attempt.
    pub attempt: u32,
    /// Worker index.
    pub worker: u32,
    /// Gang (PodGroup) name.
    pub gang: &'a str,
    /// Gang size.
    pub gang_size: u32,
    /// Scenario time queued.
    pub queued_at: SimTime,
    /// Startup delay (scenario time).
    pub startup_delay: SimDuration,
}

/// The spec shared by drydock's pods (training pods and service replica pods) for the core pod
/// spec `spec`: one container with the requests, drydock's scheduler name, `restartPolicy`
/// `restart_policy`, the scenario's node selector, GPU models and tolerations plus drydock's
/// fake-node taint and the `unreachable`/`not-ready` NoExecute taints for the scenario's
/// `tolerationSeconds` scaled, and the scenario's termination grace period scaled; with the
/// annotations it needs (priority, GPU share).
pub fn drydock_pod_spec(
    cluster: &Cluster,
    spec: &drydock_core::PodSpec,
    settings: &PodSettings,
    restart_policy: &str,
) -> (KPodSpec, BTreeMap<String, String>) {
    let (resources, mut annotations) = pod_resources(&spec.request);
    annotations.insert(ANN_PRIORITY.to_string(), spec.priority.to_string());
    let toleration_s = settings.scale.wall_secs_ceil(settings.toleration, 0);
    let mut extra = vec![KToleration {
        key: Some(TAINT_FAKE_NODE.to_string()),
        operator: Some("Exists".to_string()),
        effect: Some("NoSchedule".to_string()),
        ..Default::default()
    }];
    for key in [
        drydock_core::cluster::TAINT_UNREACHABLE,
        drydock_core::cluster::TAINT_NOT_READY,
    ] {
        extra.push(KToleration {
            key: Some(key.to_string()),
            operator: Some("Exists".to_string()),
            effect: Some("NoExecute".to_string()),
            toleration_seconds: Some(toleration_s),
            ..Default::default()
        });
    }
    let mut pod_spec = KPodSpec {
        containers: vec![container(resources)],
        scheduler_name: Some(SCHEDULER_NAME.to_string()),
        restart_policy: Some(restart_policy.to_string()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(
            settings.scale.wall_secs_ceil(settings.termination_grace, 0),
        ),
        ..Default::default()
    };
    set_constraints(&mut pod_spec, spec, cluster, extra);
    (pod_spec, annotations)
}

/// A training pod: drydock's scheduler name, labels (ownership, run, PodGroup and gang, job,
/// attempt, worker), annotations (job name, gang size, queue time, priority, startup delay,
/// GPU share), one container with the requests, the scenario's node selector, GPU models and
/// tolerations plus drydock's fake-node taint and the `unreachable`/`not-ready` NoExecute
/// taints for the scenario's `tolerationSeconds` scaled, `restartPolicy: Never`, and the
/// scenario's termination grace period scaled.
pub fn training_pod(
    cluster: &Cluster,
    spec: &drydock_core::PodSpec,
    id: PodIdentity<'_>,
    settings: &PodSettings,
) -> Pod {
    let mut labels = owner_labels(&settings.run);
    labels.insert(LABEL_POD_GROUP.to_string(), id.gang.to_string());
    labels.insert(LABEL_GANG.to_string(), id.gang.to_string());
    labels.insert(LABEL_JOB.to_string(), id.job.to_string());
    labels.insert(LABEL_ATTEMPT.to_string(), id.attempt.to_string());
    labels.insert(LABEL_WORKER.to_string(), id.worker.to_string());
    let (pod_spec, mut annotations) = drydock_pod_spec(cluster, spec, settings, "Never");
    annotations.extend([
        (ANN_JOB_NAME.to_string(), id.job_name.to_string()),
        (ANN_GANG_SIZE.to_string(), id.gang_size.to_string()),
        (ANN_QUEUED_AT.to_string(), id.queued_at.0.to_string()),
        (
            ANN_STARTUP_DELAY.to_string(),
            id.startup_delay.0.to_string(),
        ),
    ]);
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(id.gang, id.worker)),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

/// The pods of a gang as observed: for each worker, the pod if it exists.
pub fn gang_members<'a>(
    pods: &'a BTreeMap<String, std::sync::Arc<Pod>>,
    gang: &str,
    workers: u32,
) -> Vec<Option<&'a Pod>> {
    (0..workers)
        .map(|w| pods.get(&pod_name(gang, w)).map(|p| &**p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_core::{GpuRequest, PodRequest, PodSpec};
    use drydock_sim::model::SpecId;
    use drydock_sim::progress::Checkpointing;

    const H: u64 = 3_600_000_000;
    const M: u64 = 60_000_000;

    fn plan(work_h: u64, ckpt_m: u64, overhead_m: u64, backoff_limit: u32) -> Plan {
        let mut p = Plan::default();
        p.specs.push(PodSpec::new(PodRequest {
            cpu_milli: 1000,
            memory_mib: 1024,
            gpu: GpuRequest::whole(8),
        }));
        p.jobs.push(JobPlan {
            name: "llama".into(),
            arrival: SimTime(0),
            workers: 2,
            spec: SpecId(0),
            last_spec: SpecId(0),
            work: Some(SimDuration(work_h * H)),
            checkpoint: Some(Checkpointing {
                interval: SimDuration(ckpt_m * M),
                cost: SimDuration::ZERO,
            }),
            restart_overhead: SimDuration(overhead_m * M),
            backoff_limit,
            priority: 0,
            one_attempt: false,
        });
        p
    }

    #[test]
    fn a_failure_loses_work_since_the_last_checkpoint_and_restarts_with_overhead() {
        // 6 h of work, checkpoints every 30 min (free), 5 min restart overhead.
        let mut w = Workload::new(plan(6, 30, 5, 6));
        assert_eq!(w.arrive(SimTime(0)), vec![0]);
        w.started(0, &[NodeId(0), NodeId(1)], SimTime(10 * M), |_| false);
        assert_eq!(w.jobs[0].finish_at, Some(SimTime(10 * M + 6 * H)));
        assert_eq!(w.metrics.queueing_delay_us, vec![10 * M]);
        // Node dies 2 h 10 min after start: 2 h saved, 10 min lost (16 GPUs).
        w.stall(0, SimTime(10 * M + 2 * H + 10 * M));
        assert_eq!(w.jobs[0].done, SimDuration(2 * H));
        assert_eq!(w.metrics.lost_work_gpu_us, (10 * M) as u128 * 16);
        // Evicted 6 min later: restart 1, no backoff for the first.
        assert!(w.fail_and_restart(0, SimTime(2 * H + 26 * M)));
        assert_eq!(w.jobs[0].phase, JobPhase::Pending);
        assert_eq!(w.jobs[0].attempt, 1);
        assert_eq!(w.metrics.idle_held_gpu_us, (6 * M) as u128 * 16);
        assert_eq!(w.startup_delay(0), SimDuration(5 * M));
        // Bound again at 3 h: 5 min overhead, then the remaining 4 h.
        w.started(0, &[NodeId(0), NodeId(1)], SimTime(3 * H), |_| false);
        assert_eq!(w.jobs[0].finish_at, Some(SimTime(3 * H + 5 * M + 4 * H)));
        assert_eq!(w.metrics.restart_overhead_gpu_us, (5 * M) as u128 * 16);
        w.completed(0, SimTime(7 * H + 5 * M));
        assert_eq!(w.metrics.jct_us, vec![7 * H + 5 * M]);
        assert!(w.all_done());
    }

    #[test]
    fn the_second_restart_waits_for_the_backoff_and_the_limit_fails_the_job() {
        let mut w = Workload::new(plan(6, 30, 0, 1));
        w.arrive(SimTime(0));
        w.started(0, &[NodeId(0), NodeId(1)], SimTime(0), |_| false);
        assert!(w.fail_and_restart(0, SimTime(H)));
        w.started(0, &[NodeId(0), NodeId(1)], SimTime(H), |_| false);
        // Second failure: restarts = 2 > backoffLimit 1.
        assert!(!w.fail_and_restart(0, SimTime(2 * H)));
        assert_eq!(w.jobs[0].phase, JobPhase::Failed);
        assert_eq!(w.metrics.failed, 1);
        let mut w = Workload::new(plan(6, 30, 0, 6));
        w.arrive(SimTime(0));
        w.started(0, &[NodeId(0)], SimTime(0), |_| false);
        w.fail_and_restart(0, SimTime(H));
        w.started(0, &[NodeId(0)], SimTime(H), |_| false);
        assert!(!w.fail_and_restart(0, SimTime(2 * H)));
        assert_eq!(w.jobs[0].backoff_until, Some(SimTime(2 * H + 10_000_000)));
        assert!(w.backoff_expired(SimTime(2 * H)).is_empty());
        assert_eq!(w.backoff_expired(SimTime(2 * H + 10_000_000)), vec![0]);
        assert_eq!(w.jobs[0].attempt, 2);
    }

    #[test]
    fn preemption_is_not_a_restart_and_requeues_after_termination() {
        let mut w = Workload::new(plan(6, 30, 5, 0));
        w.arrive(SimTime(0));
        w.started(0, &[NodeId(0), NodeId(1)], SimTime(0), |_| false);
        assert!(w.preempt(0, 7, SimTime(45 * M)));
        assert_eq!(w.jobs[0].done, SimDuration(30 * M));
        assert_eq!(w.metrics.preemption_lost_gpu_us, (15 * M) as u128 * 16);
        assert_eq!(w.jobs[0].restarts, 0);
        w.terminated(0, SimTime(46 * M));
        assert_eq!(w.jobs[0].phase, JobPhase::Pending);
        assert_eq!(w.startup_delay(0), SimDuration(5 * M));
    }

    #[test]
    fn a_stalled_job_is_not_preempted() {
        let mut w = Workload::new(plan(6, 30, 5, 0));
        w.arrive(SimTime(0));
        w.started(0, &[NodeId(0), NodeId(1)], SimTime(0), |_| false);
        w.stall(0, SimTime(10 * M));
        // Its pods stay on the dead node until Kubernetes evicts them, as in the simulator.
        assert!(!w.preempt(0, 7, SimTime(11 * M)));
        assert_eq!(w.jobs[0].phase, JobPhase::Stalled);
        assert_eq!(w.metrics.preemptions, 0);
        assert_eq!(w.jobs[0].preemptions, 0);
    }

    #[test]
    fn training_pods_carry_the_gang_and_scaled_timeouts() {
        let mut w = Workload::new(plan(1, 30, 0, 6));
        w.arrive(SimTime(0));
        let settings = PodSettings {
            namespace: "ns".into(),
            run: "r1".into(),
            scale: TimeScale::new(60.0).expect("valid"),
            termination_grace: SimDuration::from_secs(30),
            toleration: SimDuration::from_secs(300),
        };
        let pods = w.gang_pods(0, &settings);
        assert_eq!(pods.len(), 2);
        let p = &pods[1];
        assert_eq!(p.metadata.name.as_deref(), Some("llama-j0-a0-w1"));
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels[LABEL_POD_GROUP], "llama-j0-a0");
        assert_eq!(labels[LABEL_WORKER], "1");
        let spec = p.spec.clone().unwrap_or_default();
        assert_eq!(spec.scheduler_name.as_deref(), Some(SCHEDULER_NAME));
        assert_eq!(spec.termination_grace_period_seconds, Some(1));
        let tol = spec.tolerations.unwrap_or_default();
        assert!(tol.iter().any(|t| t.key.as_deref()
            == Some(drydock_core::cluster::TAINT_UNREACHABLE)
            && t.toleration_seconds == Some(5)));
        let req = &spec.containers[0].resources.clone().unwrap_or_default();
        assert_eq!(
            req.limits.clone().unwrap_or_default()["nvidia.com/gpu"].0,
            "8"
        );
    }
}
