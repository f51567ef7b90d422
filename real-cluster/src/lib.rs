//! drydock's real-cluster mode (kubernetes-semantics.md and `real-cluster.md` in the design
//! notes): a local Kubernetes control plane built from upstream Go modules
//! (`real-cluster/controlplane/`), a fake kubelet serving fake GPU nodes, and the driver that runs
//! `drydock-core`'s scheduler and autoscalers against a real API server through kube-rs.
//!
//! ## Where to start
//! * [`controlplane`] builds and runs the local control plane (`drydock cluster up`);
//!   [`testing::test_client`] gives tests a client to it.
//! * [`session::run`] runs a whole scenario on a cluster: namespace, reflectors, fake kubelet,
//!   driver, cleanup (what `drydock real` calls). [`session::connect`] refuses a remote server
//!   unless allowed.
//! * [`driver::Driver`] is the controller: each tick it reconciles the training jobs
//!   ([`workload`]) and, each scheduling cycle, builds a [`snapshot`] of the cluster and calls
//!   the same `drydock_core::Scheduler` as the simulator, applying its decisions through an
//!   [`actuator::Actuator`].
//! * [`kubelet::FakeKubelet`] registers fake GPU nodes, renews their Leases from its own task,
//!   and moves drydock's pods to Running, Succeeded or Failed.
//! * [`actuator::KubeActuator`] is the kube-rs implementation; [`actuator::MemCluster`] an
//!   in-memory cluster for tests.
//! * [`objects`] turns drydock's model into Kubernetes objects and back; [`names`] holds the
//!   labels, annotations and the ownership test every write goes through.
//!
//! ## Ownership
//! drydock creates and changes only objects labelled `app.kubernetes.io/managed-by=drydock`
//! and `drydock.io/run=<run>` ([`names::is_ours`]); anything else of the same name in its way
//! is refused with [`RealError::NotOurs`]. Fake nodes carry the taint
//! `drydock.io/fake-node=true:NoSchedule`, which only drydock's pods tolerate.
//!
//! ## Time
//! Scenario time runs `N` times faster on the wall clock ([`clock::TimeScale`]); Kubernetes
//! durations drydock sets on its pods (`tolerationSeconds`, `terminationGracePeriodSeconds`)
//! are the scenario's divided by `N`. Tests pause tokio's clock.

pub mod actuator;
pub mod clock;
pub mod controlplane;
pub mod driver;
pub mod error;
pub mod kubelet;
pub mod names;
pub mod objects;
pub mod services;
pub mod session;
pub mod snapshot;
pub mod testing;
pub mod workload;

pub use clock::{Clock, ScaledClock, TimeScale};
pub use error::RealError;

#[cfg(test)]
mod mock_tests;
