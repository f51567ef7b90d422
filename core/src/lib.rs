//! # drydock-core: the decision core
//!
//! Every scheduling decision drydock makes comes from this crate, whether the caller is the
//! discrete-event simulator (`drydock-sim`) or, later, the real-cluster driver. The crate is
//! pure: no I/O, no clock, no async, no global state. Randomness enters only as an explicit
//! `&mut dyn rand_core::Rng` argument.
//!
//! ## Where to start
//! * [`cluster`]: the cluster model ([`Cluster`], [`Node`], [`PodSpec`]) with per-GPU free
//!   shares in milli-GPU, labels, taints and bound pods.
//! * [`policy::scheduler`]: the scheduling framework ([`Scheduler`]) and the placement policies
//!   (`kube-default`, `binpack`, and the six of the FGD study), gangs and preemption. Decisions
//!   are plain values: [`Bind`], [`Preemption`].
//! * [`frag`]: the FGD study's GPU fragmentation measure.
//! * [`autoscale`]: the HorizontalPodAutoscaler ([`Hpa`]) and the Cluster Autoscaler
//!   ([`ClusterAutoscaler`]) as pure decision code, for the simulator and the real-cluster
//!   driver alike.
//!
//! ## Guarantees
//! * Determinism: the same cluster, pod and generator state give the same decision. Maps that
//!   are iterated are `BTreeMap`s; ties are broken by node name or by the caller's generator.
//! * Units: CPU in millicores, memory in MiB, GPU shares in milli-GPU (1000 = one device),
//!   times in microseconds of virtual time.
//!
//! ## Example
//! ```
//! use drydock_core::{Cluster, GpuRequest, PodRequest, PodSpec, PolicyKind, Scheduler,
//!     SchedulerConfig, TargetWorkload};
//! let cluster = Cluster::default();
//! let mut sched = Scheduler::new(SchedulerConfig::for_policy(PolicyKind::Fgd),
//!     TargetWorkload::default());
//! let pod = PodSpec::new(PodRequest { cpu_milli: 4000, memory_mib: 8192,
//!     gpu: GpuRequest::whole(1) });
//! let mut rng = drydock_core::rng::SplitMix64::new(42);
//! // No nodes: the pod is unschedulable.
//! assert!(sched.place(&cluster, &pod, &mut rng).is_err());
//! ```
#![deny(missing_docs)]

pub mod autoscale;
pub mod cluster;
pub mod frag;
pub mod ids;
pub mod policy;
pub mod resources;
pub mod rng;
pub mod time;

pub use autoscale::ca::{
    CaAction, CaConfig, CaNodeInfo, CaNodeState, CaPlan, CaView, ClusterAutoscaler, Expander,
    NodeGroup, NodeTemplate, UnschedulablePod, UpcomingNode,
};
pub use autoscale::hpa::{
    Behavior, Hpa, HpaDecision, HpaInput, HpaPod, HpaReason, HpaSpec, MetricSample, MetricSpec,
    MetricTarget, ScalingPolicy, ScalingRules, SelectPolicy,
};
pub use cluster::{
    BoundPod, Cluster, ClusterError, Node, PodSpec, Pool, Taint, TaintEffect, Toleration, Unfit,
};
pub use frag::{Fragmentation, TargetWorkload, TypicalPod};
pub use ids::{GpuModel, GroupId, NodeId, PodId, PoolId};
pub use policy::scheduler::{
    Bind, NodeScore, NodeScorer, PendingPod, PolicyKind, Preemption, ResourceWeights, Scheduler,
    SchedulerConfig, ScoreContext, TieBreak, Unschedulable, VictimState,
};
pub use resources::{DeviceSet, GpuRequest, MILLI_PER_GPU, PodRequest};
pub use time::{SimDuration, SimTime};
