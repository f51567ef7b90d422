//! Autoscaling decisions: the HorizontalPodAutoscaler ([`hpa`]) and the Cluster Autoscaler
//! ([`ca`]) as pure functions of a view the caller builds, so that the simulator and the
//! real-cluster driver run the very same code.
//!
//! * [`hpa::Hpa::reconcile`] is called once per HPA every sync period (15 s by default,
//!   [`hpa::HpaSpec::sync_period`]). It reproduces `pkg/controller/podautoscaler/horizontal.go`
//!   and `replica_calculator.go` of kubernetes/kubernetes (kubernetes-semantics.md §1 \[src\]):
//!   per-metric proposals with tolerance, the handling of missing, pending and not-ready pods,
//!   and both normalization paths (with and without `spec.behavior`).
//! * [`ca::ClusterAutoscaler::run_once`] is called every scan interval (10 s by default,
//!   [`ca::CaConfig::scan_interval`]). It reproduces the scale-up (binpacking estimator,
//!   expanders, backoff) and the scale-down (utilization, movable pods, unneeded time, cool-downs)
//!   of kubernetes/autoscaler `cluster-autoscaler` (kubernetes-semantics.md §2).
//!
//! Both keep their controller state in the struct (recommendation and scale-event history for
//! the HPA; backoff, cool-down times and unneeded-since times for the CA) and return plain
//! decision values: the caller applies them. Time is virtual ([`crate::SimTime`], integer
//! microseconds); randomness (the `random` expander and expander ties) comes only from the
//! `&mut dyn rand_core::Rng` the caller passes; every map that is iterated is a `BTreeMap`.

//!
//! ## Example
//! ```
//! use drydock_core::autoscale::hpa::{
//!     Hpa, HpaInput, HpaPod, HpaSpec, MetricSample, MetricSpec, MetricTarget, PodPhase,
//! };
//! use drydock_core::{SimDuration, SimTime};
//! // Target 100 requests/s per replica; 10 replicas each serving 150 requests/s.
//! let spec = HpaSpec::new(1, 50, vec![MetricSpec::Pods {
//!     name: "requests_per_second".into(),
//!     target: MetricTarget::AverageValue(100.0),
//! }]);
//! let pod = HpaPod {
//!     phase: PodPhase::Running,
//!     deleting: false,
//!     ready: Some(true),
//!     start_time: Some(SimTime::ZERO),
//!     last_ready_transition: SimTime::ZERO,
//!     samples: vec![Some(MetricSample {
//!         value: 150.0,
//!         timestamp: SimTime::ZERO,
//!         window: SimDuration::from_secs(30),
//!     })],
//!     requests: Vec::new(),
//! };
//! let pods = vec![pod; 10];
//! let mut hpa = Hpa::new();
//! let d = hpa.reconcile(&spec, &HpaInput {
//!     now: SimTime::ZERO,
//!     spec_replicas: 10,
//!     status_replicas: 10,
//!     pods: &pods,
//!     object_values: &[],
//! });
//! // ⌈1.5 × 10⌉ = 15.
//! assert_eq!((d.desired_replicas, d.write), (15, true));
//! ```

pub mod ca;
pub mod hpa;
