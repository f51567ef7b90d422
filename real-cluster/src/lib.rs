//! drydock's real-cluster mode (kubernetes-semantics.md and `real-cluster.md` in the design
//! notes): a local Kubernetes control plane built from upstream Go modules
//! (`real-cluster/controlplane/`), a fake kubelet serving fake GPU nodes, and the driver that runs
//! `drydock-core`'s scheduler and autoscalers against a real API server through kube-rs.

pub mod actuator;
pub mod clock;
pub mod driver;
pub mod error;
pub mod kubelet;
pub mod names;
pub mod objects;
pub mod session;
pub mod snapshot;
pub mod workload;

pub use clock::{Clock, ScaledClock, TimeScale};
pub use error::RealError;

#[cfg(test)]
mod mock_tests;
