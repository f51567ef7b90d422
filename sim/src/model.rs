//! ECS components of the simulation's entities (jobs) and the plain data they carry.

use bevy_ecs::prelude::Component;
use drydock_core::{DeviceSet, NodeId, SimDuration, SimTime, Unfit};
use serde::Serialize;

use crate::progress::Checkpointing;

/// Index of a pod spec in [`crate::engine::SimState::specs`] (pods of equal shape share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpecId(pub u32);

/// The immutable definition of a job: a gang of `workers` pods (a PodGroup with
/// `minMember = workers`), or a single pod when `workers == 1`.
#[derive(Component, Debug, Clone, Copy)]
pub struct Job {
    /// Dense job index (also its `GroupId`).
    pub index: u32,
    /// Arrival (submission) time.
    pub arrival: SimTime,
    /// Pods in the gang.
    pub workers: u32,
    /// Spec of workers `0..workers-1`.
    pub spec: SpecId,
    /// Spec of the last worker (differs when a trace job's GPUs do not divide evenly).
    pub last_spec: SpecId,
    /// Work at full gang; `None`: never finishes (arrivals-only pods, services).
    pub work: Option<SimDuration>,
    /// Checkpointing, if any.
    pub checkpoint: Option<Checkpointing>,
    /// Time from all workers bound to training progress on a restart.
    pub restart_overhead: SimDuration,
    /// Restarts allowed before the job fails.
    pub backoff_limit: u32,
    /// Pod priority.
    pub priority: i32,
    /// One scheduling attempt only (the FGD study's arrivals-only method): a pod that does not
    /// fit at arrival fails.
    pub one_attempt: bool,
    /// Whole-GPU equivalent the gang holds, in milli-GPU (Σ over pods of count × milli).
    pub gpu_milli: u64,
    /// For a replica pod of an inference service: the service's index. Replica pods are jobs
    /// of one worker that never finish; they are left out of the job statistics.
    pub service: Option<u16>,
}

/// The job's name (`metadata.name` of its PodGroup).
#[derive(Component, Debug, Clone)]
pub struct JobName(pub Box<str>);

/// Lifecycle phase of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Not yet arrived.
    NotArrived,
    /// In the scheduling queue.
    Pending,
    /// Permit-wait gang: some pods hold resources while the rest wait.
    Holding,
    /// All pods bound and the workload running (or in its restart overhead).
    Running,
    /// A pod's node died: the gang is stopped but its pods still hold resources until
    /// Kubernetes evicts them.
    Stalled,
    /// Preempted: pods terminating during their grace period.
    Terminating,
    /// Waiting out the controller's restart backoff before going back to the queue.
    Backoff,
    /// Finished its work.
    Completed,
    /// Gave up: backoff limit exceeded, or unschedulable in one-attempt mode.
    Failed,
}

impl Phase {
    /// True for `Completed` and `Failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Phase::Completed | Phase::Failed)
    }
}

/// Why a job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailReason {
    /// More restarts than `backoffLimit`.
    BackoffLimitExceeded,
    /// Did not fit at its single scheduling attempt.
    Unschedulable,
}

/// The mutable state of a job.
#[derive(Component, Debug, Clone)]
pub struct JobStatus {
    /// Phase.
    pub phase: Phase,
    /// Generation: bumped whenever scheduled events about this job become stale.
    pub generation: u32,
    /// Work saved in checkpoints (or completed, for jobs without checkpoints while running).
    pub done: SimDuration,
    /// When computing starts in the current attempt (after restart overhead).
    pub compute_start: SimTime,
    /// When the pods were bound in the current attempt.
    pub bound_at: SimTime,
    /// Placement of each worker while bound (index = worker), empty when not bound.
    pub bound: Vec<Option<(NodeId, DeviceSet)>>,
    /// When the job last entered the queue.
    pub queued_since: SimTime,
    /// When the job first had all its pods bound.
    pub first_start: Option<SimTime>,
    /// When it completed or failed.
    pub finished: Option<SimTime>,
    /// When it stalled (node failure), while stalled.
    pub stalled_at: Option<SimTime>,
    /// Restarts after failures (counted against `backoffLimit`).
    pub restarts: u32,
    /// Times it was preempted (not counted against `backoffLimit`: a `DisruptionTarget`
    /// condition, kubernetes-semantics.md §6.2).
    pub preemptions: u32,
    /// Victim jobs still terminating for this job's preemption.
    pub awaiting_victims: u32,
    /// The last stop was a preemption (its restart overhead is booked to preemption, not to
    /// failures).
    pub last_stop_preempted: bool,
    /// Nodes nominated for this job's pods by its last preemption (`status.nominatedNodeName`),
    /// until it binds.
    pub nominated: Vec<NodeId>,
    /// The job this one was preempted for, while terminating.
    pub preempted_by: Option<u32>,
    /// Main reason of the last failed scheduling attempt.
    pub last_unschedulable: Option<Unfit>,
    /// Permit-wait: the cluster-change and hold-release counts when the current hold began.
    pub hold_mark: (u64, u64),
    /// Permit-wait: parked after a timeout during which nothing else changed in the cluster;
    /// skipped by scheduling cycles until the cluster-change count moves past this value.
    pub parked_at: Option<u64>,
    /// Why it failed.
    pub fail_reason: Option<FailReason>,
}

impl Default for JobStatus {
    fn default() -> Self {
        JobStatus {
            phase: Phase::NotArrived,
            generation: 0,
            done: SimDuration::ZERO,
            compute_start: SimTime::ZERO,
            bound_at: SimTime::ZERO,
            bound: Vec::new(),
            queued_since: SimTime::ZERO,
            first_start: None,
            finished: None,
            stalled_at: None,
            restarts: 0,
            preemptions: 0,
            awaiting_victims: 0,
            last_stop_preempted: false,
            nominated: Vec::new(),
            preempted_by: None,
            last_unschedulable: None,
            hold_mark: (0, 0),
            parked_at: None,
            fail_reason: None,
        }
    }
}

/// Health of a node as the simulator knows it (the truth, not what Kubernetes sees yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NodeHealth {
    /// False from the crash until repair.
    pub up: bool,
    /// True once the node lifecycle controller has marked it NotReady (tainted).
    pub not_ready: bool,
    /// Bumped on every failure and repair; stale lifecycle events carry an older epoch.
    pub epoch: u32,
    /// When it went down, while down.
    pub down_since: Option<SimTime>,
}

/// Why a node went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureCause {
    /// The node itself (host, kubelet, network).
    Node,
    /// One of its GPUs (the node is taken out with it).
    Gpu,
    /// A pool outage.
    Pool,
    /// A zone outage.
    Zone,
}
